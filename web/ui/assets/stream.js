// stream.js: helpers shared by the pages, and the websocket stream with
// resume (GET /api/v1/stream?since=VERSION). Plain JavaScript, no build step.
(function () {
  'use strict';
  function setState(s, why) {
    const conn = document.getElementById('conn');
    if (!conn) return;
    conn.dataset.state = s;
    conn.textContent = s;
    conn.title = why ? 'websocket stream: ' + why : 'websocket stream';
  }

  // stream(onMessage, {since, topics}) connects and reconnects forever,
  // resuming from the version of the last topology message, so the page
  // misses nothing across a dropped connection (the server replays or
  // sends a fresh snapshot). topics: 'topology,metrics,alerts' (default).
  function stream(onMessage, opts) {
    opts = opts || {};
    let version = opts.since || 0;
    let epoch = '';
    let delay = 250;
    let ws = null;
    let stopped = false;
    let everOpen = false;
    function connect() {
      setState(everOpen ? 'reconnecting' : 'connecting');
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const q = [];
      if (version) q.push('since=' + version);
      if (version && epoch) q.push('epoch=' + epoch);
      if (opts.topics) q.push('topics=' + encodeURIComponent(opts.topics));
      ws = new WebSocket(proto + '//' + location.host + '/api/v1/stream' + (q.length ? '?' + q.join('&') : ''));
      ws.onopen = function () {
        everOpen = true; delay = 250; setState('live');
        if (opts.onOpen) opts.onOpen();
      };
      ws.onmessage = function (ev) {
        let m;
        try { m = JSON.parse(ev.data); } catch (e) { return; }
        if (m.type === 'hello') { epoch = m.epoch; return; }
        if (m.type === 'topology' && m.version) version = m.version;
        try { onMessage(m); } catch (e) { console.error('stream message handler', e); }
      };
      ws.onclose = function (ev) {
        if (stopped) return;
        setState('reconnecting', ev.reason || 'connection lost (' + ev.code + ')');
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 5000);
      };
    }
    connect();
    return {
      close: function () { stopped = true; if (ws) ws.close(); setState('offline'); },
      get version() { return version; },
    };
  }

  // api fetches a JSON document of the API; errors carry the API's message.
  async function api(path, init) {
    const r = await fetch(path, Object.assign({ headers: { 'Accept': 'application/json' } }, init || {}));
    let body = null;
    const text = await r.text();
    if (text) { try { body = JSON.parse(text); } catch (e) { body = null; } }
    if (!r.ok) {
      const err = new Error((body && body.error) || (r.status + ' ' + r.statusText));
      err.status = r.status;
      err.field = body && body.field;
      throw err;
    }
    return body;
  }

  // el builds an element; strings become text nodes (never HTML).
  function el(tag, attrs) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else if (k === 'dataset') Object.assign(e.dataset, v);
        else e.setAttribute(k, v === true ? '' : v);
      }
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === undefined || c === null || c === false) continue;
      if (Array.isArray(c)) c.forEach(function (x) { if (x != null) e.append(x instanceof Node ? x : String(x)); });
      else e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function si(v, unit) {
    if (v === null || v === undefined || !isFinite(v)) return '-';
    const a = Math.abs(v);
    const steps = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
    for (const [d, p] of steps) if (a >= d) return (v / d).toFixed(a / d >= 100 ? 0 : 1) + ' ' + p + unit;
    return (a >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)) + ' ' + unit;
  }
  const fmt = {
    si: si,
    bits: function (bps) { return si(bps, 'b/s'); },
    bytes: function (n) { return si(n, 'B'); },
    count: function (n) { return n === null || n === undefined ? '-' : si(n, '').trim(); },
    rate: function (n) { return si(n, '/s'); },
    speed: function (kbps) { return kbps ? si(kbps * 1000, 'b/s') : '-'; },
    time: function (t) { if (!t) return '-'; const d = new Date(t); return isNaN(d) ? String(t) : d.toISOString().replace('T', ' ').replace('Z', ''); },
    dpid: function (d) { return String(d).replace(/^0+(?=.)/, ''); },
    port: function (n) { return n === 4294967294 ? 'LOCAL' : String(n); },
  };

  window.Satellite = Object.assign(window.Satellite || {}, { stream: stream, setState: setState, api: api, el: el, fmt: fmt });
})();
