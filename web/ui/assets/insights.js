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
  load();
  setInterval(load, 5000);
})();
