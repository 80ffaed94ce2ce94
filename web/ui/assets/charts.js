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

  // the axes' labels are measured, so that none is clipped (100.00 ms,
  // 30.0 kb/s), and the time axis is UTC like every time on the pages,
  // with at least 90 px between its labels so that they never run into
  // each other
  const axisFont = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  let measureCtx = null;
  function textWidth(t) {
    if (!measureCtx) { measureCtx = document.createElement('canvas').getContext('2d'); measureCtx.font = axisFont; }
    return measureCtx.measureText(t).width;
  }
  function yAxisSize(u, values) {
    let w = 0;
    for (const v of values || []) w = Math.max(w, textWidth(String(v)));
    return Math.ceil(w) + 18; // tick and gap
  }
  const pad2 = function (n) { return String(n).padStart(2, '0'); };
  function timeLabels(u, splits, axisIdx, space, incr) {
    return splits.map(function (s) {
      const d = new Date(s * 1000);
      const hm = pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes());
      return incr < 60 ? hm + ':' + pad2(d.getUTCSeconds()) : incr >= 86400 ? (d.getUTCMonth() + 1) + '/' + d.getUTCDate() : hm;
    });
  }
  // seriesLabel is what the legend calls a metric: rx, tx, rx drops
  function seriesLabel(m) { return m.replace(/_(bps|pps)$/, '').replace(/_ms$/, '').replace(/_/g, ' '); }

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
    // the chart's box has 4 px of padding and a border on each side
    const cs = getComputedStyle(box);
    const inner = (box.clientWidth || 600) - (parseFloat(cs.paddingLeft) || 0) - (parseFloat(cs.paddingRight) || 0);
    const width = Math.max(260, Math.floor(inner) - 12);
    const charts = gs.map(function (g) {
      const xs = [], ys = g.metrics.map(function () { return []; });
      for (const p of series.points) {
        xs.push(new Date(p.t).getTime() / 1000);
        g.metrics.forEach(function (m, j) { const v = p.v[idx[m]]; ys[j].push(v == null ? null : v); });
      }
      const el = S.el('div', { class: 'chart', dataset: { key: key, group: g.title } });
      box.append(el);
      const u = new uPlot({
        title: g.title + (opts.label ? ' — ' + opts.label : ''), // compact charts too: which is bits, which packets
        width: width, height: opts.compact ? 140 : 200,
        // rx solid and wider, tx dashed on top: equal rates (a ping's
        // echo and reply) still show both lines
        series: [{ label: 'time (UTC)', value: function (u, v) { return v == null ? '-' : S.fmt.time(new Date(v * 1000)); } }].concat(g.metrics.map(function (m, j) {
          return { label: seriesLabel(m), stroke: palette[j % palette.length], width: j === 0 ? 2.5 : 1.5, dash: j === 0 ? undefined : [6, 3 + j], spanGaps: false,
            value: function (u, v) { return v == null ? '-' : num(g, v); } };
        })),
        axes: [
          { font: axisFont, space: 90, values: timeLabels },
          { font: axisFont, size: yAxisSize, values: function (u, vals) { return vals.map(function (v) { return num(g, v); }); } },
        ],
        scales: { x: { time: true } },
      }, [xs].concat(ys), el);
      el.dataset.points = xs.length;
      live.add(u);
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
      destroy: function () { charts.forEach(function (c) { live.delete(c.u); c.u.destroy(); }); },
      points: series.points.length,
    };
  }

  // live: the charts on the page (the browser tests check their labels)
  const live = new Set();
  S.charts = { view: view, rangeSeconds: rangeSeconds, live: live, textWidth: textWidth };
})();
