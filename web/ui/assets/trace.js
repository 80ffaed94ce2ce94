// trace.js: the Trace form of the topology page. It asks the server why
// FROM can (or cannot) reach TO (POST /api/v1/trace), shows the hops in
// the side panel and draws the path on the graph: the switches crossed
// in orange, the switch that dropped the packet in red.
(function () {
  'use strict';
  const S = window.Satellite;
  const el = S.el;
  const $ = function (id) { return document.getElementById(id); };
  const form = $('trace-form');
  if (!form) return;
  let styled = false;

  function names() {
    const list = $('trace-names');
    Promise.all(['/api/v1/interfaces', '/api/v1/datapaths'].map(function (u) {
      return fetch(u).then(function (r) { return r.ok ? r.json() : []; }).catch(function () { return []; });
    })).then(function (res) {
      const seen = new Set();
      list.replaceChildren();
      for (const x of res[0].concat(res[1])) {
        if (!x || !x.name || seen.has(x.name)) continue;
        seen.add(x.name);
        list.append(el('option', { value: x.name }));
      }
    });
  }

  function open(prefill) {
    form.hidden = false;
    if (prefill && prefill.from) $('trace-from').value = prefill.from;
    if (prefill && prefill.to) $('trace-to').value = prefill.to;
    names();
    $('trace-from').focus();
  }

  function cy() { return window.satellite && window.satellite.cy; }

  function clearPath() {
    const c = cy();
    if (c) c.elements().removeClass('trace-path trace-drop');
  }

  function drawPath(res) {
    const c = cy();
    if (!c) return;
    if (!styled) {
      c.style().selector('node.trace-path').style({ 'background-color': '#e07b00', 'border-width': 3, 'border-color': '#e07b00' })
        .selector('node.trace-drop').style({ 'background-color': '#d62b2b', 'border-width': 3, 'border-color': '#d62b2b' }).update();
      styled = true;
    }
    clearPath();
    for (const h of res.hops || []) c.$id('sw:' + h.dpid).addClass('trace-path');
    if (res.drop) c.$id('sw:' + res.drop.dpid).removeClass('trace-path').addClass('trace-drop');
  }

  function flowText(f) {
    if (!f) return 'no flow matches (table miss)';
    const o = f.owner || {};
    let owner = o.kind + (o.name ? ' ' + o.name : '') + (o.network ? ' in ' + o.network : '');
    return 'priority ' + f.priority + ', ' + (f.match || '(any)') + ' → ' + f.actions + ' [' + owner + ']';
  }

  function show(res) {
    const panel = $('panel'), body = $('panel-body');
    panel.hidden = false;
    body.replaceChildren(el('h2', { text: 'Trace ' + res.request.from + ' → ' + (res.request.to || res.to) }));
    body.append(el('p', { id: 'trace-verdict', class: 'verdict ' + res.verdict, text: res.verdict + ': ' + res.summary }));
    if (res.drop) body.append(el('p', { id: 'trace-drop', class: 'drop', text: 'drop on ' + res.drop.switch + ' table ' + res.drop.table + ': ' + res.drop.reason + (res.drop.object ? ' [' + res.drop.object + ']' : '') }));
    const ol = el('ol', { id: 'trace-hops', class: 'hops' });
    for (const h of res.hops || []) {
      ol.append(el('li', null,
        el('div', { class: 'mono', text: h.switch + ' table ' + h.table + ', in_port ' + h.in_port + (h.in_port_name ? ' (' + h.in_port_name + ')' : '') }),
        el('div', { text: flowText(h.flow) }),
        el('div', { class: 'muted', text: 'next: ' + h.out }),
        h.note ? el('div', { class: 'muted', text: h.note }) : null));
    }
    body.append(el('h3', { text: 'Hops' }), ol);
    if (res.intent) {
      body.append(el('h3', { text: 'Intent' }));
      const d = res.intent.differences || [];
      body.append(el('p', { id: 'trace-intent', text: d.length ? 'intended: ' + res.intent.verdict : 'the switches hold what Satellite intends on this path' }));
      if (d.length) {
        const ul = el('ul', { id: 'trace-differences' });
        for (const x of d) ul.append(el('li', { text: x }));
        body.append(ul);
      }
    }
    if (res.live) {
      body.append(el('h3', { text: 'Live' }), el('p', { id: 'trace-live-result', text: (res.live.agrees ? 'agrees: ' : 'disagrees: ') + (res.live.note || '') }));
      const ul = el('ul');
      for (const x of res.live.observed || []) ul.append(el('li', { text: 'seen entering ' + x }));
      body.append(ul);
    }
    drawPath(res);
  }

  function showError(msg) {
    const panel = $('panel'), body = $('panel-body');
    panel.hidden = false;
    clearPath();
    body.replaceChildren(el('h2', { text: 'Trace' }), el('p', { id: 'trace-error', class: 'drop', text: msg }));
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    const req = { from: $('trace-from').value.trim(), to: $('trace-to').value.trim(), proto: $('trace-proto').value, live: $('trace-live').checked };
    const dport = Number($('trace-dport').value);
    if (dport) req.dport = dport;
    $('trace-run').disabled = true;
    fetch('/api/v1/trace', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req) })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (x) { if (x.ok) show(x.j); else showError(x.j.error || 'trace failed'); })
      .catch(function (e) { showError(String(e)); })
      .finally(function () { $('trace-run').disabled = false; });
  });
  $('trace-toggle').addEventListener('click', function () { if (form.hidden) open(); else form.hidden = true; });

  // the host panel's "trace from here" (topology.js) opens the form
  window.satelliteTrace = { open: open };
})();
