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
    await S.loadNames();
    // a tunnel path's probe series has no port or flow to pick: the page
    // charts every path of the tunnel instead
    if (key.startsWith('probe/')) { await showProbes(); return; }
    try {
      ports = await S.api('/api/v1/metrics/ports');
    } catch (e) {
      msg(e.status === 503 ? 'Statistics collection is not enabled on this server.' : 'Cannot list ports: ' + e.message);
      return;
    }
    const dpids = Array.from(new Set(ports.map(function (p) { return p.dpid; }))).sort();
    const keyDpid = key ? key.split('/')[1] : '';
    const sel = $('m-switch');
    S.learnPorts(ports.map(function (p) { return { dpid: p.dpid, number: p.port, name: p.name }; }));
    sel.replaceChildren.apply(sel, dpids.map(function (d) { return option(d, S.swName(d) + (S.swName(d) !== S.fmt.dpid(d) ? '  (dpid ' + S.fmt.dpid(d) + ')' : ''), d === keyDpid); }));
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
      fs.replaceChildren.apply(fs, [option('', '— busiest flows of ' + S.swName(dpid) + ' —')].concat(flows.map(function (f) {
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
    $('m-title').textContent = p ? 'Port ' + S.fmt.port(p.port) + ' ' + (p.name || '') + ' of ' + S.swName(p.dpid) + (p.speed_kbps ? ' (' + S.fmt.speed(p.speed_kbps) + ')' : '') :
      key.startsWith('flow/') ? 'Flow of ' + S.seriesName(key) : key;
    current = await S.charts.view($('m-charts'), key, { range: range });
    document.body.dataset.charted = key;
  }

  // showProbes charts every path between the two hosts of a probe series
  // (both directions), from GET /api/v1/tunnels; without probes on the
  // server, just the series of the URL.
  let probeViews = [];
  async function showProbes() {
    setURL();
    $('m-pickers').hidden = true;
    $('m-back').hidden = false;
    for (const b of $('m-range').querySelectorAll('button')) b.classList.toggle('active', b.dataset.range === range);
    for (const v of probeViews) v.destroy();
    probeViews = [];
    const parts = key.split('/'); // probe/LOCAL/REMOTE/PATH
    const a = parts[1], b = parts[2];
    let keys = [key];
    try {
      const t = await S.api('/api/v1/tunnels');
      const ks = (t.paths || []).filter(function (p) { return (p.local === a && p.remote === b) || (p.local === b && p.remote === a); })
        .sort(function (x, y) { return x.path - y.path || (x.local === a ? -1 : 1); })
        .map(function (p) { return 'probe/' + p.local + '/' + p.remote + '/' + p.path; });
      if (ks.length) keys = ks;
      if (keys.indexOf(key) < 0) keys.unshift(key);
    } catch (e) { /* probes off: the one series */ }
    $('m-title').textContent = 'Tunnel ' + S.swName(a) + ' ↔ ' + S.swName(b) + ': every path';
    const box = $('m-charts');
    box.replaceChildren();
    for (const k of keys) {
      const sub = S.el('div', { class: 'charts probe-path', dataset: { key: k } });
      box.append(S.el('h3', { class: 'm-sub', text: S.seriesName(k) }), sub);
      probeViews.push(await S.charts.view(sub, k, { range: range }));
    }
    document.body.dataset.charted = key;
  }

  $('m-switch').addEventListener('change', function (ev) { key = ''; switchChanged(ev.target.value, true); });
  $('m-port').addEventListener('change', function (ev) { key = ev.target.value; $('m-flow').value = ''; show(); });
  $('m-flow').addEventListener('change', function (ev) { key = ev.target.value; $('m-port').value = ''; show(); });
  $('m-range').addEventListener('click', function (ev) {
    const r = ev.target.dataset && ev.target.dataset.range;
    if (r) { range = r; if (key.startsWith('probe/')) showProbes(); else show(); }
  });

  S.stream(function (m) {
    if (m.type !== 'metrics' || !current || !$('m-live').checked) return;
    for (const s of (m.ports || []).concat(m.flows || [])) if (s.key === key) current.push(s);
  }, { topics: 'metrics,flows' });

  loadSwitches();
})();
