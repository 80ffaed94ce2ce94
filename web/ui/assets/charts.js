// charts.js: uPlot charts of a metrics series (GET /api/v1/metrics/series)
// with a live tail. Used by the metrics page and the topology page's panel.
(function () {
  'use strict';
  const S = window.Satellite;
  const palette = ['#2f6fde', '#3b9a5a', '#e08a00', '#d62b2b', '#8a63d2', '#0e9aa7'];

  // what to chart for each kind of series: groups of metrics sharing a unit
  const groups = {
    port: [
      { title: 'bits per second', unit: 'b/s', metrics: ['rx_bps', 'tx_bps'] },
      { title: 'packets per second', unit: '/s', metrics: ['rx_pps', 'tx_pps'] },
      { title: 'drops and errors per second', unit: '/s', metrics: ['rx_drops', 'tx_drops', 'rx_errors', 'tx_errors'] },
    ],
    flow: [
      { title: 'bits per second', unit: 'b/s', metrics: ['bps'] },
      { title: 'packets per second', unit: '/s', metrics: ['pps'] },
    ],
    // a tunnel path's probes (probe/LOCAL/REMOTE/PATH): loss is 0..1, up
    // and active 1 or 0
    probe: [
      { title: 'round-trip time', unit: 'ms', digits: 2, metrics: ['rtt_avg_ms', 'rtt_p99_ms', 'jitter_ms'] },
      { title: 'loss and state', unit: '', digits: 2, metrics: ['loss', 'up', 'active'] },
    ],
  };

  // num formats a value of group g: SI prefixes, or fixed digits for
  // small values (sub-millisecond RTTs, loss ratios)
  function num(g, v) {
    if (g.digits != null && v != null && Math.abs(v) < 1000) return v.toFixed(g.digits) + (g.unit ? ' ' + g.unit : '');
    return S.fmt.si(v, g.unit);
  }

  const rangeSeconds = function (r) {
    const m = /^(\d+)([smhd])$/.exec(r || '15m');
    if (!m) return 900;
    return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
  };

  // view draws the charts of one series into box; opts: {range, compact,
  // only: [group titles]}. It returns {push(sample), destroy()}.
  async function view(box, key, opts) {
    opts = opts || {};
    const range = opts.range || '15m';
    box.replaceChildren(S.el('p', { class: 'muted', text: 'loading ' + key + '…' }));
    let series;
    try {
      series = await S.api('/api/v1/metrics/series?key=' + encodeURIComponent(key) + '&from=-' + range);
    } catch (e) {
      box.replaceChildren(S.el('p', { class: 'muted', text: 'no history for ' + key + ': ' + e.message }));
      return { push: function () {}, destroy: function () {} };
    }
    const kind = groups[series.kind] ? series.kind : 'port';
    let gs = groups[kind];
    if (opts.only) gs = gs.filter(function (g) { return opts.only.indexOf(g.title) >= 0; });
    const idx = {};
    series.metrics.forEach(function (m, i) { idx[m] = i; });
    box.replaceChildren();
    const width = Math.max(280, Math.floor(box.clientWidth || 600) - 4);
    const charts = gs.map(function (g) {
      const xs = [], ys = g.metrics.map(function () { return []; });
      for (const p of series.points) {
        xs.push(new Date(p.t).getTime() / 1000);
        g.metrics.forEach(function (m, j) { const v = p.v[idx[m]]; ys[j].push(v == null ? null : v); });
      }
      const el = S.el('div', { class: 'chart', dataset: { key: key, group: g.title } });
      box.append(el);
      const u = new uPlot({
        title: (opts.compact ? '' : g.title) + (opts.label ? (opts.compact ? '' : ' — ') + opts.label : ''),
        width: width, height: opts.compact ? 140 : 200,
        series: [{}].concat(g.metrics.map(function (m, j) {
          return { label: m, stroke: palette[j % palette.length], width: 1.5, spanGaps: false,
            value: function (u, v) { return v == null ? '-' : num(g, v); } };
        })),
        axes: [{}, { size: 64, values: function (u, vals) { return vals.map(function (v) { return num(g, v).replace(' ', ''); }); } }],
        scales: { x: { time: true } },
      }, [xs].concat(ys), el);
      el.dataset.points = xs.length;
      return { g: g, u: u, xs: xs, ys: ys, el: el };
    });
    const span = rangeSeconds(range);
    return {
      // push appends a live sample (a stream metrics entry) to every chart
      push: function (sample) {
        const t = new Date(sample.t).getTime() / 1000;
        for (const c of charts) {
          if (c.xs.length && t <= c.xs[c.xs.length - 1]) continue;
          c.xs.push(t);
          c.g.metrics.forEach(function (m, j) { const v = sample[m]; c.ys[j].push(v == null ? null : v); });
          while (c.xs.length && c.xs[0] < t - span) { c.xs.shift(); c.ys.forEach(function (y) { y.shift(); }); }
          c.u.setData([c.xs].concat(c.ys));
          c.el.dataset.points = c.xs.length;
        }
      },
      destroy: function () { charts.forEach(function (c) { c.u.destroy(); }); },
      points: series.points.length,
    };
  }

  S.charts = { view: view, rangeSeconds: rangeSeconds };
})();
