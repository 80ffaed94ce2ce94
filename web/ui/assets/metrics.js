// metrics.js: pick a switch and a port or flow, see its rates over the
// chosen range (history API), with the live tail from the stream.
(function () {
  'use strict';
  const S = window.Satellite;
  const el = S.el;
  const $ = function (id) { return document.getElementById(id); };
  const params = new URLSearchParams(location.search);
  let key = params.get('key') || '';
  let range = params.get('range') || '15m';
  let current = null; // the chart view
  let ports = [];     // GET /api/v1/metrics/ports

  function msg(t) { $('m-msg').textContent = t || ''; }

  function setURL() {
    const q = new URLSearchParams();
    if (key) q.set('key', key);
    q.set('range', range);
    history.replaceState(null, '', '/ui/metrics?' + q.toString());
  }

  function option(value, text, selected) { return el('option', { value: value, text: text, selected: selected || null }); }

  async function loadSwitches() {
    try {
      ports = await S.api('/api/v1/metrics/ports');
    } catch (e) {
      msg(e.status === 503 ? 'Statistics collection is not enabled on this server.' : 'Cannot list ports: ' + e.message);
      return;
    }
    const dpids = Array.from(new Set(ports.map(function (p) { return p.dpid; }))).sort();
    const keyDpid = key ? key.split('/')[1] : '';
    const sel = $('m-switch');
    sel.replaceChildren.apply(sel, dpids.map(function (d) { return option(d, S.fmt.dpid(d) + '  (' + d + ')', d === keyDpid); }));
    if (!dpids.length) {
      msg('No switch has been polled yet.');
      if (key) await show(); // a tunnel path's series (probe/...) needs no port
      return;
    }
    await switchChanged(keyDpid || dpids[0], !key);
  }

  async function switchChanged(dpid, pickFirst) {
    $('m-switch').value = dpid;
    const mine = ports.filter(function (p) { return p.dpid === dpid; }).sort(function (a, b) { return a.port - b.port; });
    const ps = $('m-port');
    ps.replaceChildren.apply(ps, [option('', '—')].concat(mine.map(function (p) {
      return option(p.key, S.fmt.port(p.port) + ' ' + (p.name || ''), p.key === key);
    })));
    const fs = $('m-flow');
    fs.replaceChildren(option('', 'loading flows…'));
    S.api('/api/v1/metrics/flows?dpid=' + dpid + '&sort=bps&limit=50').then(function (flows) {
      fs.replaceChildren.apply(fs, [option('', '— busiest flows of ' + S.fmt.dpid(dpid) + ' —')].concat(flows.map(function (f) {
        const rate = f.bps == null ? '' : ' (' + S.fmt.bits(f.bps) + ')';
        return option(f.key, f.owner_name + ' t' + f.table + ' p' + f.priority + ' ' + (f.match || '*') + rate, f.key === key);
      })));
    }).catch(function (e) { fs.replaceChildren(option('', 'flows: ' + e.message)); });
    if (pickFirst) {
      const first = mine.find(function (p) { return !p.reserved; }) || mine[0];
      if (first) { key = first.key; ps.value = key; }
    }
    await show();
  }

  async function show() {
    setURL();
    for (const b of $('m-range').querySelectorAll('button')) b.classList.toggle('active', b.dataset.range === range);
    if (current) current.destroy();
    current = null;
    if (!key) { $('m-charts').replaceChildren(); $('m-title').textContent = ''; return; }
    const p = ports.find(function (x) { return x.key === key; });
    $('m-title').textContent = p ? 'Port ' + S.fmt.port(p.port) + ' ' + (p.name || '') + ' of ' + p.dpid + (p.speed_kbps ? ' (' + S.fmt.speed(p.speed_kbps) + ')' : '') :
      key.startsWith('probe/') ? 'Tunnel path ' + key.split('/').slice(1).map(S.fmt.dpid).join(' → ').replace(/ → (\d+)$/, ', path $1') : key;
    current = await S.charts.view($('m-charts'), key, { range: range });
    document.body.dataset.charted = key;
  }

  $('m-switch').addEventListener('change', function (ev) { key = ''; switchChanged(ev.target.value, true); });
  $('m-port').addEventListener('change', function (ev) { key = ev.target.value; $('m-flow').value = ''; show(); });
  $('m-flow').addEventListener('change', function (ev) { key = ev.target.value; $('m-port').value = ''; show(); });
  $('m-range').addEventListener('click', function (ev) {
    const r = ev.target.dataset && ev.target.dataset.range;
    if (r) { range = r; show(); }
  });

  S.stream(function (m) {
    if (m.type !== 'metrics' || !current || !$('m-live').checked) return;
    for (const s of (m.ports || []).concat(m.flows || [])) if (s.key === key) current.push(s);
  }, { topics: 'metrics,flows' });

  loadSwitches();
})();
