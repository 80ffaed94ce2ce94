// insights.js: "what's wrong now", re-read from GET /api/v1/insights every
// 5 s (the server rendered the first list).
(function () {
  'use strict';
  const S = window.Satellite;
  const el = S.el;
  const $ = function (id) { return document.getElementById(id); };

  function render(items) {
    const body = $('i-items').tBodies[0];
    body.replaceChildren.apply(body, items.map(function (it) {
      const obj = it.link ? el('a', { href: it.link, text: it.object }) : it.object;
      return el('tr', { dataset: { kind: it.kind, series: it.series } },
        el('td', { class: 'num', text: it.score.toFixed(1) }),
        el('td', null, obj),
        el('td', { text: it.reason }),
        el('td', null, el('span', { class: 'badge', text: it.kind })),
        el('td', { text: S.fmt.time(it.since).replace(/\.\d+$/, '') }));
    }));
    $('i-count').textContent = String(items.length);
    $('i-empty').hidden = items.length > 0;
  }

  async function load() {
    try {
      const res = await S.api('/api/v1/insights');
      render(res.items || []);
      $('i-status').textContent = '';
    } catch (e) {
      $('i-status').textContent = e.status === 503 ? 'insights are not enabled on this server' : 'could not read the list: ' + e.message;
    }
  }
  // top talkers over a window ending now or at a chosen time
  async function loadTop() {
    const to = $('t-to').value ? new Date($('t-to').value) : null;
    let from = $('t-range').value, toParam = 'now';
    if (to && !isNaN(to)) {
      const back = { '-5m': 5, '-15m': 15, '-1h': 60, '-24h': 1440 }[from] || 15;
      toParam = to.toISOString();
      from = new Date(to.getTime() - back * 60000).toISOString();
    }
    const q = new URLSearchParams({ what: $('t-what').value, by: $('t-by').value, from: from, to: toParam, limit: '10' });
    try {
      const res = await S.api('/api/v1/insights/top?' + q.toString());
      const body = $('t-talkers').tBodies[0];
      body.replaceChildren.apply(body, (res.talkers || []).map(function (t) {
        const obj = t.series ? el('a', { href: '/ui/metrics?key=' + encodeURIComponent(t.series), text: t.object }) : t.object;
        return el('tr', null,
          el('td', { class: 'num', text: S.fmt.bytes(t.bytes) }),
          el('td', { class: 'num', text: S.fmt.count(t.packets) }),
          el('td', { class: 'num', text: S.fmt.bits(t.bps) }),
          el('td', null, obj));
      }));
    } catch (e) {
      $('i-status').textContent = 'top talkers: ' + e.message;
    }
  }
  ['t-what', 't-by', 't-range', 't-to'].forEach(function (id) { $(id).addEventListener('change', loadTop); });
  load();
  loadTop();
  setInterval(function () { load(); if (!$('t-to').value) loadTop(); }, 5000);
})();
