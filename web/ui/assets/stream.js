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

  // fmt.time and fmt.clock are the one time format of every page: UTC,
  // to the second ("2026-12-02 10:45:11 UTC" in tables, "10:45:11 UTC"
  // for "updated at").
  fmt.time = function (t) {
    if (!t) return '-';
    const d = t instanceof Date ? t : new Date(t);
    return isNaN(d) ? String(t) : d.toISOString().slice(0, 19).replace('T', ' ');
  };
  fmt.clock = function (t) { return (t || new Date()).toISOString().slice(11, 19) + ' UTC'; };

  // ---- names: switches and ports as operators call them. A switch is
  // named by its virtual-network datapath (GET /api/v1/datapaths, "h1"),
  // else by its bridge (the LOCAL port's name) when no other switch has
  // the same one, else by its dpid without leading zeros. Ports by their
  // name; interfaces (GET /api/v1/interfaces) by datapath and port name,
  // or by MAC.
  const LOCAL = 4294967294;
  const names = {
    dp: new Map(),      // dpid (16 hex) -> datapath name
    bridge: new Map(),  // dpid -> bridge name (LOCAL port)
    ports: new Map(),   // "dpid/port" -> port name
    ifaces: [],         // vnet interfaces
    loaded: null,
  };
  function dpidKey(d) {
    const s = String(d).toLowerCase().replace(/^0x/, '').replace(/:/g, '');
    return /^[0-9a-f]{1,16}$/.test(s) ? s.padStart(16, '0') : s;
  }
  // learnPorts takes topology ports ({dpid, number, name}).
  function learnPorts(ports) {
    for (const p of ports || []) {
      const k = dpidKey(p.dpid);
      if (p.name) names.ports.set(k + '/' + p.number, p.name);
      if (p.number === LOCAL && p.name) names.bridge.set(k, p.name);
    }
  }
  // loadNames reads the datapath and interface names (once; again with
  // force). Errors (no virtual networks on this server) leave them empty.
  function loadNames(force) {
    if (names.loaded && !force) return names.loaded;
    const get = function (u) { return api(u).catch(function () { return []; }); };
    names.loaded = Promise.all([get('/api/v1/datapaths'), get('/api/v1/interfaces')]).then(function (r) {
      names.dp.clear();
      for (const d of Array.isArray(r[0]) ? r[0] : []) if (d && d.name && d.dpid) names.dp.set(dpidKey(d.dpid), d.name);
      names.ifaces = Array.isArray(r[1]) ? r[1] : [];
      return names;
    });
    return names.loaded;
  }
  function swName(dpid) {
    const k = dpidKey(dpid);
    const n = names.dp.get(k);
    if (n) return n;
    const b = names.bridge.get(k);
    if (b) {
      let dup = false;
      for (const [o, x] of names.bridge) if (x === b && o !== k) { dup = true; break; }
      if (!dup) return b;
    }
    return fmt.dpid(k);
  }
  function portName(dpid, port) {
    if (Number(port) === LOCAL) return 'LOCAL';
    return names.ports.get(dpidKey(dpid) + '/' + port) || String(port);
  }
  // where names a switch's port: "h1/vm1" (or "h1" without a port)
  function where(dpid, port) {
    if (!dpid) return '';
    return swName(dpid) + (port ? '/' + portName(dpid, port) : '');
  }
  // iface finds the virtual-network interface on a port or with a MAC.
  function iface(dpid, port, mac) {
    const dp = swName(dpid), pn = port != null ? portName(dpid, port) : null;
    mac = (mac || '').toLowerCase();
    return names.ifaces.find(function (i) {
      return (i.datapath === dp && ((pn && i.port === pn) || (port != null && i.port_no === Number(port)))) || (mac && (i.mac || '').toLowerCase() === mac);
    }) || null;
  }
  // seriesName names a metrics or alert series: port/DPID/N, flow/DPID/...,
  // switch/DPID, link/DPID/N>DPID/N, probe/LOCAL/REMOTE/PATH.
  function seriesName(key) {
    if (!key) return '';
    const parts = String(key).split('/');
    switch (parts[0]) {
      case 'port': return where(parts[1], parts[2]);
      case 'switch': return swName(parts[1]);
      case 'flow': return swName(parts[1]) + ' flow ' + parts.slice(2).join('/');
      case 'probe': return swName(parts[1]) + ' → ' + swName(parts[2]) + ', path ' + parts[3];
      case 'link': {
        const ends = parts.slice(1).join('/').split('>');
        const end = function (e) { const x = e.split('/'); return where(x[0], x[1]); };
        return ends.length === 2 ? end(ends[0]) + ' ↔ ' + end(ends[1]) : key;
      }
    }
    return key;
  }

  // nameText names the series and dpids in a text from the server (an
  // event's or an alert's message): link/0000000000000001/102>... becomes
  // h1/lnk-h2 ↔ h2/lnk-h1, 0000000000000003 becomes h3
  function nameText(t) {
    if (!t) return t;
    return String(t)
      .replace(/\b(port|switch|link|flow|probe)\/[0-9a-f]{16}[0-9a-zA-Z/>_-]*/g, function (k) { return seriesName(k); })
      .replace(/\b[0-9a-f]{16}\b/g, function (d) { return swName(d); });
  }

  window.Satellite = Object.assign(window.Satellite || {}, {
    nameText: nameText,
    stream: stream, setState: setState, api: api, el: el, fmt: fmt,
    names: names, loadNames: loadNames, learnPorts: learnPorts, swName: swName, portName: portName, where: where, iface: iface, seriesName: seriesName, dpidKey: dpidKey,
  });
})();
