// timeline.js: the history under the topology graph. Drag the slider back
// and the graph shows the fabric as it was then, rebuilt from the journal
// (GET /api/v1/topology?at=...; links that were down are red), with the
// events of that moment (GET /api/v1/events, a minute either side);
// "Live" (or the slider at its right end) goes back to the live graph.
// Hidden when the journal is off.
(function () {
  'use strict';
  const S = window.Satellite;
  const el = S.el;
  const $ = function (id) { return document.getElementById(id); };
  const box = $('timeline');
  if (!box || document.body.dataset.topology !== 'true') return;
  const range = $('tl-range'), when = $('tl-when'), liveBtn = $('tl-live'), list = $('tl-events');
  const sat = function () { return window.satellite; };
  let timer = null;
  let seq = 0; // the newest request wins

  function utc(d) { return d.toISOString().replace(/\.\d+Z$/, 'Z').replace('T', ' '); }
  function timeAt(v) { return new Date(Date.now() + Number(v) * 1000); }

  function label() {
    const v = Number(range.value);
    const ago = -v < 120 ? Math.round(-v) + ' s' : Math.round(-v / 60) + ' min';
    when.textContent = v >= 0 ? 'live' : utc(timeAt(v)) + ' (' + ago + ' ago)';
  }

  async function events(at) {
    const from = new Date(at.getTime() - 60000).toISOString(), to = new Date(at.getTime() + 60000).toISOString();
    let evs = [];
    try {
      evs = await S.api('/api/v1/events?since=' + encodeURIComponent(from) + '&until=' + encodeURIComponent(to) + '&limit=1000');
    } catch (e) { evs = []; }
    // the dozen nearest to the moment, in time order; those after it dimmed
    const t = at.getTime();
    evs = (evs || []).map(function (e) { return { e: e, d: Math.abs(Date.parse(e.time) - t) }; })
      .sort(function (a, b) { return a.d - b.d; }).slice(0, 12).map(function (x) { return x.e; })
      .sort(function (a, b) { return Date.parse(a.time) - Date.parse(b.time); });
    list.replaceChildren();
    for (const e of evs) {
      const li = el('li', { class: 'tl-ev' }, el('span', { class: 'mono' }, utc(new Date(e.time))), ' ',
        el('span', { class: 'badge ' + (e.severity === 'critical' ? 'sev-critical' : e.severity === 'ok' ? 'sev-ok' : '') }, e.kind), ' ', e.message);
      if (Date.parse(e.time) > t) li.classList.add('after');
      list.appendChild(li);
    }
    if (!list.childElementCount) list.appendChild(el('li', { class: 'muted' }, 'no events within a minute of this time'));
  }

  async function show() {
    const my = ++seq;
    const v = Number(range.value);
    if (v >= 0) {
      liveBtn.disabled = true;
      list.replaceChildren();
      label();
      await sat().live();
      box.classList.remove('in-past');
      return;
    }
    const at = timeAt(v);
    try {
      await sat().showAt(at.toISOString());
      if (my !== seq) return;
      box.classList.add('in-past');
      liveBtn.disabled = false;
      label();
      await events(at);
    } catch (e) {
      if (my !== seq) return;
      when.textContent = utc(at) + ': ' + e.message;
    }
  }

  range.addEventListener('input', function () {
    label();
    clearTimeout(timer);
    timer = setTimeout(show, 250);
  });
  liveBtn.addEventListener('click', function () { range.value = 0; clearTimeout(timer); show(); });

  // shown when the journal answers (503 when it is off)
  S.api('/api/v1/events?limit=1').then(function () {
    box.hidden = false;
    label();
    // the graph above gets shorter as the timeline and its event list
    // grow and shrink: cytoscape must be told each time
    const graph = $('graph');
    if (graph && window.ResizeObserver) {
      let pending = false;
      new ResizeObserver(function () {
        if (pending) return;
        pending = true;
        requestAnimationFrame(function () { pending = false; if (sat()) sat().resized(); });
      }).observe(graph);
    }
  }, function () {});

  // for tests: window.satelliteTimeline.show(secondsBack)
  window.satelliteTimeline = {
    show: function (secondsBack) { range.value = -Math.abs(secondsBack); clearTimeout(timer); return show(); },
    live: function () { range.value = 0; clearTimeout(timer); return show(); },
  };
})();
