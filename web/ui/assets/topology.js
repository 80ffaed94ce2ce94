// topology.js: the live topology graph (cytoscape.js), fed by the
// websocket stream. A snapshot redraws everything; deltas change single
// elements, batched every 50 ms, so a link that goes down turns red
// without a reload well within a second.
(function () {
  'use strict';
  const S = window.Satellite;
  const el = S.el, fmt = S.fmt;
  const $ = function (id) { return document.getElementById(id); };

  const state = {
    switches: new Map(), // dpid -> switch
    ports: new Map(),    // "dpid/port" -> port
    links: new Map(),    // "dpid/port>dpid/port" -> directed link
    hosts: new Map(),    // mac -> host
    edges: new Map(),    // pair key -> {id, kind, a, b, dirs: Set of directed keys}
    gone: new Set(),     // dpids of switches that disconnected (drawn grey)
    rates: new Map(),    // "dpid/port" -> the latest port sample of the stream
    version: 0,
    snapshots: 0,
    lastRenderMs: 0,
  };
  const epKey = function (e) { return e.dpid + '/' + e.port; };
  const dirKey = function (l) { return epKey(l.src) + '>' + epKey(l.dst); };
  const pairOf = function (l) {
    const a = epKey(l.src), b = epKey(l.dst);
    return a < b ? { key: a + '|' + b, a: l.src, b: l.dst } : { key: b + '|' + a, a: l.dst, b: l.src };
  };
  const swId = function (dpid) { return 'sw:' + dpid; };
  const hostId = function (mac) { return 'h:' + mac; };
  const edgeState = function (e) { return e.dirs.size >= 2 ? 'up' : e.dirs.size === 1 ? 'degraded' : 'down'; };

  let cy = null;
  // Level of detail: a fabric of more than LOD.switches switches is drawn
  // on a grid without its hosts; the hosts (and attachment edges) of a
  // switch are added once the view is zoomed in to LOD.hostZoom or more
  // with the switch in view, or when the switch is selected or found.
  // 2000 hosts are 4000 of the 7000 elements of a 1000-switch fabric and
  // mere dots at the zoom that fits it.
  const LOD = { switches: 300, hostZoom: 0.6 };
  const big = function () { return state.switches.size > LOD.switches; };
  let lod = false;              // hosts drawn per switch (set per snapshot)
  const hostsDrawn = new Set(); // with lod: dpids whose hosts are in the graph

  const style = [
    { selector: 'node.switch', style: { shape: 'round-rectangle', width: 'data(width)', height: 26, 'background-color': '#2f6fde', label: 'data(label)', color: '#fff', 'font-size': 10, 'text-valign': 'center', 'text-halign': 'center', 'min-zoomed-font-size': 6 } },
    { selector: 'node.switch.gone', style: { 'background-color': '#9aa3ad', 'border-width': 2, 'border-style': 'dashed', 'border-color': '#d62b2b' } },
    { selector: 'node.host', style: { shape: 'ellipse', width: 14, height: 14, 'background-color': '#7d8794', label: 'data(label)', 'font-size': 8, color: '#4b5563', 'text-valign': 'bottom', 'text-margin-y': 3, 'min-zoomed-font-size': 7 } },
    { selector: 'edge', style: { width: 3, 'line-color': '#3b9a5a', 'curve-style': 'bezier' } },
    { selector: 'edge.attach', style: { width: 1, 'line-color': '#b8c0ca' } },
    // tunnels bend away from the straight line (path 1 to one side, path 2
    // to the other) so that they never run behind a switch in between,
    // and carry their path number
    { selector: 'edge.tunnel', style: { width: 1.5, 'line-style': 'dashed', 'line-color': '#8a63d2', opacity: 0.75, 'curve-style': 'unbundled-bezier', 'control-point-distances': 46, 'control-point-weights': 0.5,
      label: 'data(label)', 'font-size': 9, color: '#6b4bb0', 'text-background-color': '#fbfcfd', 'text-background-opacity': 0.9, 'text-background-padding': 1, 'min-zoomed-font-size': 6 } },
    { selector: 'edge.tunnel.path-2', style: { 'control-point-distances': -46 } },
    { selector: 'edge.tunnel.path-3', style: { 'control-point-distances': 80 } },
    { selector: 'edge.tunnel.path-4', style: { 'control-point-distances': -80 } },
    // tunnel probes (GET /api/v1/tunnels): the path traffic takes is
    // thicker, a path the probes or BFD condemned is red
    { selector: 'edge.tunnel.active', style: { width: 4, 'line-style': 'solid', opacity: 1 } },
    { selector: 'edge.tunnel.probe-down', style: { 'line-color': '#d62b2b', 'line-style': 'dashed', opacity: 1 } },
    // utilisation (percent of port speed, the busier end): width and colour
    { selector: 'edge.link[util > 0]', style: { width: 'mapData(util, 0, 100, 3, 12)' } },
    { selector: 'edge.link.direct.warm', style: { 'line-color': '#c9a400' } },
    { selector: 'edge.link.direct.hot', style: { 'line-color': '#e06000' } },
    { selector: 'edge.degraded', style: { 'line-color': '#e08a00', 'line-style': 'dashed', width: 3 } },
    { selector: 'edge.down', style: { 'line-color': '#d62b2b', width: 4, 'line-style': 'solid', opacity: 1 } },
    // a dead tunnel path looks the same whether the page saw it die (its
    // LLDP link down) or loaded it dead (a kept down link or a probe-only
    // edge): red and dashed
    { selector: 'edge.tunnel.down, edge.tunnel.probe-down', style: { 'line-color': '#d62b2b', 'line-style': 'dashed', width: 3, opacity: 1 } },
    { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#f5b800' } },
    { selector: 'edge:selected', style: { 'underlay-color': '#f5b800', 'underlay-opacity': 0.5, 'underlay-padding': 3 } },
    { selector: '.hidden', style: { display: 'none' } },
  ];

  function makeCy() {
    const large = big();
    cy = cytoscape({
      container: $('graph'), elements: [], style: style,
      minZoom: 0.02, maxZoom: 4, boxSelectionEnabled: false,
      textureOnViewport: large, hideEdgesOnViewport: large, pixelRatio: large ? 1 : 'auto',
    });
    cy.on('tap', 'node.switch', function (ev) { showSwitch(ev.target.data('dpid')); });
    cy.on('tap', 'node.host', function (ev) { showHost(ev.target.data('mac')); });
    cy.on('tap', 'edge.link', function (ev) { showLink(ev.target.id(), false); });
    cy.on('tap', 'edge.probe-only', function (ev) { showProbeEdge(ev.target.id(), false); });
    cy.on('tap', function (ev) { if (ev.target === cy) closePanel(); });
    cy.on('dragfree', 'node', saveSoon);
    let viewTimer = null;
    cy.on('viewport', function () {
      if (!lod || viewTimer) return;
      viewTimer = setTimeout(function () { viewTimer = null; drawHostsInView(); }, 100);
    });
    window.satellite.cy = cy;
  }

  // ---- elements

  function switchEl(sw) {
    const label = S.swName(sw.dpid);
    return { group: 'nodes', data: { id: swId(sw.dpid), dpid: sw.dpid, label: label, width: Math.max(44, 7.2 * label.length + 14) }, classes: 'switch' + (state.gone.has(sw.dpid) ? ' gone' : '') };
  }
  // a host is labelled with its interface's name when a virtual network
  // knows it, else with its address
  function hostLabel(h) {
    const i = S.iface(h.dpid, h.port, h.mac);
    const ip = (h.ips && h.ips.length) ? h.ips[0] : h.mac;
    return i ? i.name + ' ' + ip : ip;
  }
  function hostClasses(base) { return base + ($('show-hosts').checked ? '' : ' hidden'); }
  // hostEls are a host's node and its attachment edge.
  function hostEls(h) {
    return [
      { group: 'nodes', data: { id: hostId(h.mac), mac: h.mac, label: hostLabel(h) }, classes: hostClasses('host') },
      { group: 'edges', data: { id: 'at:' + h.mac, source: hostId(h.mac), target: swId(h.dpid) }, classes: hostClasses('attach') },
    ];
  }
  // ringPosition is the place of a switch's i-th host around it.
  function ringPosition(p, i) {
    const a = 0.6 + i * 0.9, r = 36 + 6 * Math.floor(i / 7);
    return { x: p.x + r * Math.cos(a), y: p.y + r * Math.sin(a) };
  }
  function edgeClasses(e) {
    const u = edgeUtil(e);
    const heat = edgeState(e) === 'up' ? (u >= 80 ? ' hot' : u >= 50 ? ' warm' : '') : '';
    return 'link ' + e.kind + ' ' + edgeState(e) + heat + (e.kind === 'tunnel' ? probeClasses(edgeProbes(e)) + ' path-' + pathOf(e) : '') +
      (e.kind === 'tunnel' && !$('show-tunnels').checked ? ' hidden' : '');
  }
  // pathOf is a tunnel's underlay path number: from the probes, else from
  // the name of its port (gre-h2-p1), else 0
  function pathOf(e) {
    for (const end of [e.a, e.b]) { const p = probes.byEnd.get(epKey(end)); if (p) return p.path; }
    for (const end of [e.a, e.b]) {
      const m = /-p(\d+)$/.exec(S.portName(end.dpid, end.port));
      if (m) return Number(m[1]);
    }
    return 0;
  }
  function edgeEl(e) {
    const path = e.kind === 'tunnel' ? pathOf(e) : 0;
    return { group: 'edges', data: { id: e.id, source: swId(e.a.dpid), target: swId(e.b.dpid), kind: e.kind, state: edgeState(e), util: edgeUtil(e), label: path ? 'p' + path : '' }, classes: edgeClasses(e) };
  }
  // edgeUtil is the utilisation of the busier end of a link, in percent
  // of the port speed, from the stream's port rates (0 when unknown).
  function edgeUtil(e) {
    let u = 0;
    for (const end of [e.a, e.b]) {
      const r = state.rates.get(epKey(end));
      if (r) u = Math.max(u, r.rx_util || 0, r.tx_util || 0);
    }
    return Math.round(u * 10) / 10;
  }

  function ensureEdge(l) {
    const p = pairOf(l);
    let e = state.edges.get(p.key);
    if (!e) {
      e = { id: 'ln:' + p.key, kind: l.kind, a: p.a, b: p.b, dirs: new Set() };
      state.edges.set(p.key, e);
    }
    e.kind = l.kind || e.kind;
    return e;
  }

  // ---- snapshot: redraw everything

  async function applySnapshot(snap) {
    const t0 = performance.now();
    await S.loadNames(); // datapath and interface names for the labels (once)
    const previous = state.edges;
    state.switches.clear(); state.ports.clear(); state.links.clear(); state.hosts.clear();
    state.edges = new Map();
    state.gone.clear();
    for (const sw of snap.switches || []) state.switches.set(sw.dpid, sw);
    for (const p of snap.ports || []) state.ports.set(p.dpid + '/' + p.number, p);
    S.learnPorts(snap.ports);
    for (const l of snap.links || []) {
      state.links.set(dirKey(l), l);
      // a down link (kept by the model, state down) draws a red edge
      // while both its switches are there
      if (l.state === 'down') {
        if (state.switches.has(l.src.dpid) && state.switches.has(l.dst.dpid)) ensureEdge(l);
      } else ensureEdge(l).dirs.add(dirKey(l));
    }
    for (const h of snap.hosts || []) state.hosts.set(h.mac, h);
    // links we drew before a resync that are gone now: show them down
    for (const [k, e] of previous) {
      if (!state.edges.has(k) && state.switches.has(e.a.dpid) && state.switches.has(e.b.dpid)) {
        state.edges.set(k, { id: e.id, kind: e.kind, a: e.a, b: e.b, dirs: new Set() });
      }
    }
    const t1 = performance.now();
    if (!cy) makeCy();
    // nodes first, then edges: every chunk below is valid on its own
    const nodes = [], edges = [];
    lod = big();
    hostsDrawn.clear();
    const pos = lod ? gridPositions() : null;
    for (const sw of state.switches.values()) {
      const n = switchEl(sw);
      if (pos) n.position = pos.get(n.data.id);
      nodes.push(n);
    }
    for (const e of state.edges.values()) edges.push(edgeEl(e));
    for (const h of state.hosts.values()) {
      if (lod || !state.switches.has(h.dpid)) continue;
      const he = hostEls(h);
      nodes.push(he[0]);
      edges.push(he[1]);
    }
    const els = nodes.concat(edges);
    const t2 = performance.now();
    if (!pos) {
      cy.batch(function () {
        cy.elements().remove();
        cy.add(els);
      });
    } else {
      // a large fabric is added in slices, yielding between them, so the
      // page never freezes for the whole snapshot (styles are computed
      // per slice instead of all at once on the first frame)
      cy.elements().remove();
      const slice = 600;
      for (let i = 0; i < els.length; i += slice) {
        cy.add(els.slice(i, i + slice)).forEach(function (e) { e.pstyle('display'); });
        await new Promise(function (r) { setTimeout(r, 0); });
      }
    }
    probes.extra = overlayPaths();
    cy.batch(drawProbeEdges);
    const t3 = performance.now();
    if (pos) fitPositions(pos); else if (!restoreLayout()) { layout(true); saveLayout(); }
    bendTunnels();
    lodNote();
    if (lod) drawHostsInView();
    const t4 = performance.now();
    await drawn();
    const t5 = performance.now();
    state.timings = { model: t1 - t0, elements: t2 - t1, add: t3 - t2, layout: t4 - t3, paint: t5 - t4 };
    state.version = snap.version;
    state.snapshots++;
    counts();
    state.lastRenderMs = performance.now() - t0;
    document.body.dataset.ready = 'true';
    document.body.dataset.renderMs = state.lastRenderMs.toFixed(1);
  }

  // drawn resolves once cytoscape has drawn the graph (its next render;
  // at most a second from now).
  function drawn() {
    return new Promise(function (resolve) {
      let done = false;
      const f = function () { if (!done) { done = true; cy.off('render', f); resolve(); } };
      cy.on('render', f);
      setTimeout(f, 1000);
    });
  }

  // ---- deltas

  let addedNodes = false;

  function applyDelta(d) {
    state.version = d.version;
    if (d.switch) {
      const sw = d.switch;
      if (d.op === 'remove') {
        state.switches.delete(sw.dpid);
        state.gone.add(sw.dpid);
        const n = cy.getElementById(swId(sw.dpid));
        if (n.nonempty()) n.addClass('gone');
      } else {
        state.switches.set(sw.dpid, sw);
        state.gone.delete(sw.dpid);
        const n = cy.getElementById(swId(sw.dpid));
        if (n.empty()) { placeNew(cy.add(switchEl(sw))); addedNodes = true; } else n.removeClass('gone');
      }
    }
    if (d.port) {
      const k = d.port.dpid + '/' + d.port.number;
      if (d.op !== 'remove') S.learnPorts([d.port]);
      if (d.op === 'remove') state.ports.delete(k); else state.ports.set(k, d.port);
      if (panelSwitch === d.port.dpid) refreshSoon();
    }
    if (d.link) {
      const l = d.link;
      const e = ensureEdge(l);
      if (d.op === 'remove') { state.links.delete(dirKey(l)); e.dirs.delete(dirKey(l)); } else if (l.state === 'down') { state.links.set(dirKey(l), l); e.dirs.delete(dirKey(l)); } else { state.links.set(dirKey(l), l); e.dirs.add(dirKey(l)); }
      drawEdge(e);
      if (panelLink === e.id) showLink(e.id, true);
    }
    if (d.host) {
      const h = d.host;
      const n = cy.getElementById(hostId(h.mac));
      if (d.op === 'remove') {
        state.hosts.delete(h.mac);
        n.remove();
      } else {
        state.hosts.set(h.mac, h);
        if (!state.switches.has(h.dpid) || cy.getElementById(swId(h.dpid)).empty()) return;
        if (lod && !hostsDrawn.has(h.dpid)) { n.remove(); return; } // its switch's hosts are not drawn
        if (n.empty()) {
          const added = cy.add(hostEls(h));
          placeNew(added.nodes());
          addedNodes = true;
        } else {
          n.data('label', hostLabel(h));
          const at = cy.getElementById('at:' + h.mac);
          if (at.data('target') !== swId(h.dpid)) { // moved
            at.move({ target: swId(h.dpid) });
            placeNew(n);
          }
        }
      }
    }
  }

  function drawEdge(e) {
    const c = cy.getElementById(e.id);
    if (c.empty()) {
      if (cy.getElementById(swId(e.a.dpid)).empty() || cy.getElementById(swId(e.b.dpid)).empty()) return;
      cy.add(edgeEl(e));
      addedNodes = true; // bent and kept with the layout
      return;
    }
    c.data({ state: edgeState(e), util: edgeUtil(e) });
    c.classes(edgeClasses(e));
  }

  // applyRates takes a stream metrics message: port rates colour and
  // widen the links, and refresh an open link panel.
  function applyRates(m) {
    const touched = new Set();
    for (const p of m.ports || []) {
      const k = p.dpid + '/' + p.port;
      state.rates.set(k, p);
      touched.add(k);
      if (panelCharts && panelCharts.key === p.key) panelCharts.view.push(p);
      for (const pc of linkCharts) if (pc.key === p.key) pc.view.push(p);
    }
    if (!cy || loading) return;
    cy.batch(function () {
      for (const e of state.edges.values()) {
        if (touched.has(epKey(e.a)) || touched.has(epKey(e.b))) drawEdge(e);
      }
    });    if (panelLink) showLink(panelLink, true);
  }

  // placeNew puts new nodes next to a neighbour (or in the middle).
  function placeNew(nodes) {
    nodes.forEach(function (n) {
      const nb = n.neighborhood('node').filter(function (x) { return x.id() !== n.id(); });
      const ref = nb.nonempty() ? nb.first().position() : { x: cy.width() / 2, y: cy.height() / 2 };
      n.position({ x: ref.x + (Math.random() - 0.5) * 80, y: ref.y + (Math.random() - 0.5) * 80 });
    });
  }

  // ---- layout

  function layout(initial) {
    const eles = cy.elements().not('.hidden');
    const nodes = eles.nodes();
    if (nodes.length === 0) return;
    if (nodes.length <= 250) {
      eles.layout({
        name: 'cose', animate: false, randomize: !!initial, fit: true, padding: 30, numIter: 1500,
        nodeRepulsion: function (n) { return n.hasClass('host') ? 3000 : 12000; },
        idealEdgeLength: function (e) { return e.hasClass('attach') ? 28 : (e.hasClass('tunnel') ? 160 : 100); },
        edgeElasticity: function (e) { return e.hasClass('tunnel') ? 20 : 100; },
      }).run();
      return;
    }
    // large fabrics: no force simulation (O(n^2)); the grid of gridPositions
    const pos = gridPositions();
    cy.layout({ name: 'preset', positions: function (n) { return pos.get(n.id()) || n.position(); }, fit: false }).run();
    fitPositions(pos);
  }

  // fitPositions fits the viewport to precomputed positions, without the
  // bounding boxes of thousands of labels that cy.fit would measure.
  function fitPositions(pos) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const p of pos.values()) { x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y); }
    if (!isFinite(x0)) return;
    const pad = 40, w = cy.width(), h = cy.height();
    const zoom = Math.min(4, Math.max(0.02, Math.min(w / (x1 - x0 + 2 * pad), h / (y1 - y0 + 2 * pad))));
    cy.viewport({ zoom: zoom, pan: { x: (w - zoom * (x0 + x1)) / 2, y: (h - zoom * (y0 + y1)) / 2 } });
  }

  // gridPositions puts switches on a grid by dpid and hosts in a ring
  // around their switch: O(n), readable at any size.
  function gridPositions() {
    const pos = new Map();
    const dpids = Array.from(state.switches.keys()).sort();
    const cols = Math.max(1, Math.ceil(Math.sqrt(dpids.length)));
    const gap = 120;
    dpids.forEach(function (d, i) { pos.set(swId(d), { x: (i % cols) * gap, y: Math.floor(i / cols) * gap }); });
    const around = new Map();
    for (const h of state.hosts.values()) {
      const p = pos.get(swId(h.dpid));
      if (!p) continue;
      const i = around.get(h.dpid) || 0;
      around.set(h.dpid, i + 1);
      pos.set(hostId(h.mac), ringPosition(p, i));
    }
    return pos;
  }

  // ---- level of detail (large fabrics): hosts per switch, on demand

  // drawHosts adds the hosts of the switches (dpids) that are not drawn
  // yet, in a ring around each switch.
  function drawHosts(dpids) {
    const want = new Set();
    for (const d of dpids) if (!hostsDrawn.has(d) && state.switches.has(d)) want.add(d);
    if (!want.size) return;
    const els = [], around = new Map();
    for (const h of state.hosts.values()) {
      if (!want.has(h.dpid) || cy.getElementById(hostId(h.mac)).nonempty()) continue;
      const sw = cy.getElementById(swId(h.dpid));
      if (sw.empty()) continue;
      const i = around.get(h.dpid) || 0;
      around.set(h.dpid, i + 1);
      const he = hostEls(h);
      he[0].position = ringPosition(sw.position(), i);
      els.push(he[0], he[1]);
    }
    for (const d of want) hostsDrawn.add(d);
    if (els.length) cy.add(els);
  }

  // drawHostsInView draws the hosts of the switches in view once the view
  // is zoomed in to LOD.hostZoom.
  function drawHostsInView() {
    if (!lod || !cy || cy.zoom() < LOD.hostZoom) return;
    const ext = cy.extent(), m = 60, dpids = [];
    for (const d of state.switches.keys()) {
      if (hostsDrawn.has(d)) continue;
      const n = cy.getElementById(swId(d));
      if (n.empty()) continue;
      const p = n.position();
      if (p.x >= ext.x1 - m && p.x <= ext.x2 + m && p.y >= ext.y1 - m && p.y <= ext.y2 + m) dpids.push(d);
    }
    drawHosts(dpids);
  }

  // lodNote says in the legend that hosts appear when zoomed in.
  function lodNote() {
    const note = $('lod-note');
    if (!lod) { if (note) note.remove(); return; }
    if (note) return;
    document.querySelector('.legend').append(el('span', { id: 'lod-note', text: '(more than ' + LOD.switches + ' switches: hosts appear when zoomed in)' }));
  }

  // ---- tunnel probes: GET /api/v1/tunnels, polled every 2 s while the
  // server has probes on. Every path is measured from its near end (its
  // local dpid and tunnel port), so a tunnel link found by LLDP carries
  // the paths of both its ends. A path without such a link (cut before
  // the page loaded) gets an overlay edge of its own (id tp:...).

  const probes = { byEnd: new Map(), extra: new Map(), timer: null, off: false };

  function probeEnd(p) { return p.local + '/' + p.port; }
  function probeKey(p) { return 'probe/' + p.local + '/' + p.remote + '/' + p.path; }
  // pairProbes are the paths between two hosts, both directions, by path
  function pairProbes(a, b) {
    const out = [];
    for (const p of probes.byEnd.values()) if ((p.local === a && p.remote === b) || (p.local === b && p.remote === a)) out.push(p);
    return out.sort(function (x, y) { return x.path - y.path || (x.local < y.local ? -1 : 1); });
  }
  function edgeProbes(e) {
    const out = [];
    for (const end of [e.a, e.b]) { const p = probes.byEnd.get(epKey(end)); if (p) out.push(p); }
    return out;
  }
  function probeClasses(list) {
    if (!list.length) return '';
    const down = list.some(function (p) { return p.state !== 'up' || !p.live; });
    const active = list.some(function (p) { return p.active; });
    return ' probed' + (down ? ' probe-down' : '') + (active ? ' active' : '');
  }

  async function pollTunnels() {
    clearTimeout(probes.timer);
    let t;
    try {
      t = await S.api('/api/v1/tunnels');
    } catch (err) {
      if (err.status === 503) { probes.off = true; return; } // probes are off on this server
      probes.timer = setTimeout(pollTunnels, 10000);
      return;
    }
    applyTunnels(t.paths || []);
    probes.timer = setTimeout(pollTunnels, 2000);
  }

  // overlayPaths groups the paths whose ends no tunnel link has by host
  // pair and path number: the overlay edges.
  function overlayPaths() {
    const linked = new Set();
    for (const e of state.edges.values()) if (e.kind === 'tunnel') { linked.add(epKey(e.a)); linked.add(epKey(e.b)); }
    const extra = new Map();
    for (const p of probes.byEnd.values()) {
      if (linked.has(probeEnd(p))) continue;
      const lo = p.local < p.remote ? p.local : p.remote, hi = p.local < p.remote ? p.remote : p.local;
      const id = 'tp:' + lo + '|' + hi + '|' + p.path;
      let x = extra.get(id);
      if (!x) { x = { id: id, a: { dpid: lo }, b: { dpid: hi }, path: p.path, list: [] }; extra.set(id, x); }
      x.list.push(p);
    }
    return extra;
  }

  function applyTunnels(paths) {
    const byEnd = new Map();
    for (const p of paths) byEnd.set(probeEnd(p), p);
    probes.byEnd = byEnd;
    const old = probes.extra;
    const extra = overlayPaths();
    probes.extra = extra;
    for (const c of probeCharts) {
      const p = byEnd.get(c.end);
      if (p) c.view.push(probeSample(p));
    }
    if (!cy || loading) return;
    cy.batch(function () {
      for (const id of old.keys()) if (!extra.has(id)) cy.getElementById(id).remove();
      drawProbeEdges();
      for (const e of state.edges.values()) if (e.kind === 'tunnel') drawEdge(e);
    });
    if (panelLink) {
      if (panelLink.startsWith('tp:')) showProbeEdge(panelLink, true); else showLink(panelLink, true);
    }
  }

  // drawProbeEdges adds or restyles the overlay edges of paths without a
  // tunnel link.
  function drawProbeEdges() {
    for (const x of probes.extra.values()) {
      if (cy.getElementById(swId(x.a.dpid)).empty() || cy.getElementById(swId(x.b.dpid)).empty()) continue;
      const classes = 'tunnel probe-only path-' + x.path + probeClasses(x.list) + ($('show-tunnels').checked ? '' : ' hidden');
      const c = cy.getElementById(x.id);
      if (c.empty()) cy.add({ group: 'edges', data: { id: x.id, source: swId(x.a.dpid), target: swId(x.b.dpid), kind: 'tunnel', label: 'p' + x.path }, classes: classes });
      else c.classes(classes);
    }
  }

  // probeSample is a path's status as a live sample for its charts.
  function probeSample(p) {
    const known = p.received > 0 && p.loss < 1;
    return { t: new Date().toISOString(), rtt_avg_ms: known ? p.rtt_avg_ms : null, rtt_p99_ms: known ? p.rtt_p99_ms : null,
      jitter_ms: known ? p.jitter_ms : null, loss: p.loss, up: p.state === 'up' ? 1 : 0, active: p.active ? 1 : 0 };
  }

  function pathName(p) {
    return (p.local_name || S.swName(p.local)) + ' → ' + (p.remote_name || S.swName(p.remote)) + ', path ' + p.path;
  }

  // probeTable lists paths with their verdict and measurements.
  function probeTable(list) {
    const ms = function (v, p) { return p.received > 0 && p.loss < 1 && v != null ? v.toFixed(2) : '-'; };
    const rows = list.map(function (p) {
      return el('tr', { dataset: { path: probeKey(p) } },
        el('td', { class: 'nowrap', title: pathName(p), text: (p.local_name || S.swName(p.local)) + '→' + (p.remote_name || S.swName(p.remote)) + ' p' + p.path }),
        el('td', { class: 'state-' + (p.state === 'up' ? 'up' : 'down'), text: p.state + (p.flapping ? ' (flapping)' : ''), title: p.cause || '' }),
        el('td', { class: p.live ? null : 'state-down', text: p.live ? 'live' : 'dead' }),
        el('td', { text: p.active ? 'active' : '' }),
        el('td', { class: 'num', text: ms(p.rtt_avg_ms, p) }),
        el('td', { class: 'num', text: ms(p.rtt_p99_ms, p) }),
        el('td', { class: 'num', text: ms(p.jitter_ms, p) }),
        el('td', { class: 'num', text: (100 * p.loss).toFixed(1) + '%' }),
        el('td', { class: 'num', text: fmt.count(p.received) + ' / ' + fmt.count(p.sent) }));
    });
    return el('table', { class: 'grid', id: 'link-probes' },
      el('thead', null, el('tr', null, ['path', 'probes', 'BFD', 'traffic', 'RTT ms', 'p99', 'jitter', 'loss', 'answered'].map(function (h, i) { return el('th', { class: i >= 4 ? 'num' : null, text: h }); }))),
      el('tbody', null, rows));
  }

  // probeChartsInto adds the history charts of the paths to box, once.
  function probeChartsInto(box, list) {
    if (box.dataset.charted === 'true' || !list.length) return;
    box.dataset.charted = 'true';
    for (const p of list) {
      const b = el('div', { class: 'charts' });
      const key = probeKey(p);
      box.append(el('h3', null, el('a', { href: '/ui/metrics?key=' + encodeURIComponent(key), text: pathName(p) }), ' (15 min)'), b);
      const entry = { key: key, end: probeEnd(p), view: { push: function () {}, destroy: function () {} } };
      probeCharts.push(entry);
      S.charts.view(b, key, { range: '15m', compact: true }).then(function (v) {
        if (probeCharts.indexOf(entry) >= 0) entry.view = v; else v.destroy();
      });
    }
  }

  // showProbeEdge opens the panel of an overlay edge (paths without a
  // tunnel link).
  function showProbeEdge(id, refresh) {
    const x = probes.extra.get(id);
    if (!x) { if (refresh && panelLink === id) closePanel(); return; }
    if (!(refresh && panelLink === id && $('link-info'))) {
      panelSwitch = null;
      clearTimeout(pollTimer);
      panelLink = id;
      selectOnly(id);
      const body = openPanel('Tunnel ' + S.swName(x.a.dpid) + ' ↔ ' + S.swName(x.b.dpid) + ', path ' + x.path);
      body.append(el('div', { id: 'link-info' }), el('div', { id: 'probe-charts' }));
    }
    $('link-info').replaceChildren(
      el('p', { class: 'muted', text: 'No LLDP link on this path: the probes say how it is.' }),
      el('h3', { text: 'Tunnel probes (every path between ' + S.swName(x.a.dpid) + ' and ' + S.swName(x.b.dpid) + ')' }), probeTable(pairProbes(x.a.dpid, x.b.dpid)));
    probeChartsInto($('probe-charts'), pairProbes(x.a.dpid, x.b.dpid));
  }

  // ---- counts

  function counts() {
    let links = 0, tunnels = 0, down = 0;
    for (const e of state.edges.values()) {
      const s = edgeState(e);
      if (s === 'down') down++;
      else if (e.kind === 'tunnel') tunnels++;
      else links++;
    }
    $('n-switches').textContent = state.switches.size;
    $('n-links').textContent = links;
    $('n-tunnels').textContent = tunnels;
    $('n-hosts').textContent = state.hosts.size;
    $('n-down').textContent = down;
  }

  // ---- the stream, batched

  let queue = [];
  let timer = null;
  // time travel (timeline.js): while the graph shows the past, the
  // stream's changes are held, and applied after the live topology when
  // the operator comes back
  let past = null;   // the time shown, or null when live
  let held = [];
  function onMessage(m) {
    if (past) {
      if (m.type === 'topology') { held.push(m); if (held.length > 20000) held = held.slice(-10000); }
      return;
    }
    if (m.type === 'metrics') { applyRates(m); return; }
    if (m.type !== 'topology') return;
    queue.push(m);
    if (!timer) timer = setTimeout(flush, queue.length > 1 ? 50 : 0);
  }
  let loading = false;
  async function flush() {
    timer = null;
    if (loading) { timer = setTimeout(flush, 50); return; }
    let batch = queue;
    queue = [];
    // a snapshot replaces everything before it
    let start = 0;
    for (let i = batch.length - 1; i >= 0; i--) if (batch[i].op === 'snapshot') { start = i; break; }
    if (batch[start] && batch[start].op === 'snapshot') {
      loading = true;
      try {
        await applySnapshot(batch[start].snapshot);
      } finally {
        loading = false;
      }
      start++;
      // what arrived while the snapshot was drawn (a newer snapshot wins)
      batch = batch.slice(start).concat(queue.splice(0));
      start = 0;
      let snapAt = -1;
      for (let i = batch.length - 1; i >= 0; i--) if (batch[i].op === 'snapshot') { snapAt = i; break; }
      if (snapAt >= 0) { queue = batch.slice(snapAt).concat(queue); timer = setTimeout(flush, 0); batch = batch.slice(0, snapAt); }
    }
    if (!cy) return;
    addedNodes = false;
    cy.batch(function () {
      for (let i = start; i < batch.length; i++) applyDelta(batch[i]);
    });
    counts();
    // new nodes were put next to a neighbour: the rest of the graph stays
    // where the operator knows it (Re-layout arranges it all again)
    if (addedNodes && !big()) saveSoon();
  }
  let saveTimer = null;
  function saveSoon() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveLayout, 300);
  }

  // bendTunnels bends every tunnel edge so that it passes beside the
  // switches between its ends: path 1 to one side and path 2 to the
  // other, each far enough out to clear a switch near the straight line
  // (a quadratic curve is 2u(1-u) of its control distance away at u). Not
  // for large fabrics (switches x tunnels), which keep the fixed bend.
  let bendSign = 1; // cytoscape's side of a positive distance, checked once
  function bendTunnels() {
    if (!cy || lod) return;
    const tunnels = cy.edges('.tunnel');
    if (tunnels.length * cy.nodes('.switch').length > 2e6) return; // too many to check: the fixed bend
    const sws = cy.nodes('.switch').map(function (n) { return { id: n.id(), p: n.position(), r: Math.max(n.width(), n.height()) / 2 }; });
    let checked = false;
    cy.batch(function () {
      tunnels.forEach(function (e) {
        const s = e.source().position(), t = e.target().position();
        const vx = t.x - s.x, vy = t.y - s.y, L2 = vx * vx + vy * vy;
        if (L2 < 1) return;
        const L = Math.sqrt(L2), nx = -vy / L, ny = vx / L;
        const m = /path-(\d+)/.exec(e.classes().join(' '));
        const path = m ? Number(m[1]) : 1;
        const side = path % 2 === 0 ? -1 : 1;
        let D = 48 + 24 * Math.floor((path - 1) / 2);
        for (const w of sws) {
          if (w.id === e.source().id() || w.id === e.target().id()) continue;
          const rx = w.p.x - s.x, ry = w.p.y - s.y;
          const u = (rx * vx + ry * vy) / L2;
          if (u <= 0.02 || u >= 0.98) continue;
          const need = side * (rx * nx + ry * ny) + w.r + 12; // how far out on our side to clear it
          if (need > 0) D = Math.max(D, need / (2 * u * (1 - u)));
        }
        D = Math.min(D, 600);
        e.style('control-point-distances', side * D * bendSign);
        e.style('control-point-weights', 0.5);
        if (!checked && e.visible()) { // which way did it go?
          checked = true;
          const mp = e.midpoint();
          const off = (mp.x - (s.x + t.x) / 2) * nx + (mp.y - (s.y + t.y) / 2) * ny;
          if (off * side < 0) { bendSign = -bendSign; checked = false; e.style('control-point-distances', side * D * bendSign); }
        }
      });
    });
  }

  // ---- stable layout: the positions are kept in localStorage, so a
  // reload draws the graph as it was; "Re-layout" arranges it again.

  const LAYOUT_KEY = 'satellite.layout.v1';
  function savedLayout() {
    try { return JSON.parse(localStorage.getItem(LAYOUT_KEY) || '{}') || {}; } catch (e) { return {}; }
  }
  function saveLayout() {
    if (!cy || lod) return;
    bendTunnels();
    const old = savedLayout(), out = {};
    // switches not drawn now (disconnected) keep their place; hosts only
    // while they are drawn
    for (const k of Object.keys(old)) if (k.startsWith('sw:')) out[k] = old[k];
    cy.nodes().forEach(function (n) { const p = n.position(); out[n.id()] = { x: Math.round(p.x), y: Math.round(p.y) }; });
    try { localStorage.setItem(LAYOUT_KEY, JSON.stringify(out)); } catch (e) { /* storage full or off: the layout is not kept */ }
  }
  // restoreLayout puts the nodes where they were; false (nothing moved)
  // when a switch has no saved place
  function restoreLayout() {
    const saved = savedLayout();
    const sws = cy.nodes('.switch');
    if (sws.empty() || sws.some(function (n) { return !saved[n.id()]; })) return false;
    const around = new Map();
    cy.batch(function () {
      cy.nodes().forEach(function (n) {
        const p = saved[n.id()];
        if (p) { n.position({ x: p.x, y: p.y }); return; }
        const sw = n.connectedEdges('.attach').targets('.switch');
        if (sw.empty()) return;
        const i = around.get(sw.id()) || 0;
        around.set(sw.id(), i + 1);
        n.position(ringPosition(sw.position(), i));
      });
    });
    cy.fit(undefined, 30);
    if (around.size) saveLayout();
    return true;
  }

  // ---- side panel

  let panelSwitch = null, panelLink = null, pollTimer = null, refreshTimer = null;
  let panelCharts = null;  // {key, view}: the charts of a port picked in the switch panel
  let linkCharts = [];     // [{key, view}]: the charts of a link's two ends
  let probeCharts = [];    // [{key, end, view}]: the charts of a tunnel's probed paths
  let prevPorts = null, prevFlows = null;

  function dropCharts() {
    if (panelCharts) panelCharts.view.destroy();
    panelCharts = null;
    for (const c of linkCharts) c.view.destroy();
    linkCharts = [];
    for (const c of probeCharts) c.view.destroy();
    probeCharts = [];
  }

  function portKey(dpid, port) { return 'port/' + dpid + '/' + port; }

  function openPanel(title) {
    dropCharts();
    $('panel').hidden = false;
    const body = $('panel-body');
    body.replaceChildren(el('h2', { text: title }));
    if (cy) { resizeKeepingFit(); setTimeout(keepInView, 0); }
    return body;
  }
  // resizeKeepingFit tells the graph its new size (the panel opened or
  // closed); a graph that was all in view is fitted into the new size, so
  // the panel never leaves half of it outside (a zoomed-in view stays)
  function resizeKeepingFit() {
    const was = !lod && allInView();
    cy.resize();
    if (was) cy.fit(undefined, 30);
  }
  function allInView() {
    const bb = cy.elements(':visible').renderedBoundingBox(), w = cy.width(), h = cy.height();
    return bb.x1 >= -2 && bb.y1 >= -2 && bb.x2 <= w + 2 && bb.y2 <= h + 2;
  }

  // keepInView centres the selection when the panel (which narrows the
  // graph) would cover it
  function keepInView() {
    if (!cy) return;
    const sel = cy.$(':selected');
    if (sel.empty()) return;
    const bb = sel.renderedBoundingBox(), w = cy.width(), h = cy.height(), m = 10;
    if (bb.x1 < m || bb.x2 > w - m || bb.y1 < m || bb.y2 > h - m) cy.animate({ center: { eles: sel } }, { duration: 150 });
  }
  function selectOnly(id) {
    if (!cy) return;
    const n = cy.getElementById(id);
    if (n.empty() || n.selected()) return;
    cy.elements().unselect();
    n.select();
  }
  function closePanel() {
    dropCharts();
    $('panel').hidden = true;
    panelSwitch = null; panelLink = null;
    clearTimeout(pollTimer);
    if (cy) { cy.elements().unselect(); resizeKeepingFit(); }
  }
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () { if (panelSwitch) pollSwitch(panelSwitch); }, 200);
  }

  function showSwitch(dpid) {
    if (lod && cy) drawHosts([dpid]);
    panelLink = null;
    panelSwitch = dpid;
    prevPorts = null; prevFlows = null;
    selectOnly(swId(dpid));
    const name = S.swName(dpid);
    const body = openPanel('Switch ' + name + (name !== fmt.dpid(dpid) ? ' (dpid ' + fmt.dpid(dpid) + ')' : ''));
    const sw = state.switches.get(dpid);
    body.append(el('dl', null,
      el('dt', { text: 'state' }), el('dd', { class: state.gone.has(dpid) ? 'state-down' : 'state-up', text: state.gone.has(dpid) ? 'disconnected' : 'connected' }),
      el('dt', { text: 'dpid' }), el('dd', { class: 'mono', text: dpid }),
      el('dt', { text: 'remote' }), el('dd', { text: sw && sw.remote || '-' }),
      el('dt', { text: 'software' }), el('dd', { text: sw ? [sw.manufacturer, sw.software].filter(Boolean).join(' ') : '-' }),
      el('dt', { text: 'since' }), el('dd', { text: sw ? fmt.time(sw.since) : '-' })));
    body.append(el('h3', { text: 'Ports' }), el('div', { id: 'sw-ports', text: 'loading…' }));
    body.append(el('div', { id: 'sw-port-charts', class: 'charts' }));
    body.append(el('h3', { text: 'Flow table' }), el('div', { id: 'sw-flows', text: 'loading…' }));
    if (window.satelliteAudit) window.satelliteAudit.section(body, dpid); // audit.js
    pollSwitch(dpid);
  }

  async function pollSwitch(dpid) {
    clearTimeout(pollTimer);
    const base = '/api/v1/switches/' + encodeURIComponent(dpid);
    const now = performance.now();
    const [swR, statsR, flowsR] = await Promise.allSettled([S.api(base), S.api(base + '/ports/stats'), S.api(base + '/flows')]);
    if (panelSwitch !== dpid) return;
    renderPorts(swR, statsR, now);
    renderFlows(flowsR, now);
    pollTimer = setTimeout(function () { pollSwitch(dpid); }, 2000);
  }

  function errorText(r) { return 'not available: ' + (r.reason && r.reason.message || 'error'); }

  function renderPorts(swR, statsR, now) {
    const box = $('sw-ports');
    if (!box) return;
    if (swR.status !== 'fulfilled') { box.textContent = errorText(swR); return; }
    const stats = new Map();
    if (statsR.status === 'fulfilled') for (const s of statsR.value) stats.set(s.number, s);
    const prev = prevPorts;
    prevPorts = { t: now, stats: stats };
    const rate = function (n, field) {
      const s = stats.get(n), p = prev && prev.stats.get(n);
      if (!s || !p || s[field] == null || p[field] == null) return null;
      const dt = (now - prev.t) / 1000;
      return dt > 0 ? Math.max(0, (s[field] - p[field]) * 8 / dt) : null;
    };
    const rows = swR.value.ports.slice().sort(function (a, b) { return a.number - b.number; }).map(function (p) {
      const s = stats.get(p.number) || {};
      const kind = (state.ports.get(swR.value.dpid + '/' + p.number) || {}).kind || (p.reserved === 'local' ? 'local' : '');
      const dpid = swR.value.dpid;
      // OVS keeps the bridge's own (LOCAL) interface administratively
      // down unless it is configured: that is normal, not a fault
      const local = p.reserved === 'local' || p.number === 4294967294;
      const st = local && p.state === 'down' ? { class: 'state-local', text: 'down', title: 'the bridge\'s own interface, administratively down: normal for Open vSwitch' } : { class: 'state-' + p.state, text: p.state };
      return el('tr', { dataset: { port: p.number }, class: 'clickable', title: 'click for charts', onclick: function () { showPortCharts(dpid, p.number, p.name); } },
        el('td', { class: 'mono nowrap', text: fmt.port(p.number) }),
        el('td', { class: 'nowrap' }, el('a', { href: '/ui/metrics?key=' + encodeURIComponent(portKey(dpid, p.number)), text: p.name, onclick: function (ev) { ev.stopPropagation(); } })),
        el('td', { class: 'nowrap', text: kind }),
        el('td', { class: 'nowrap ' + st.class, text: st.text, title: st.title }),
        el('td', { class: 'num nowrap', text: fmt.speed(p.curr_speed_kbps) }),
        el('td', { class: 'num nowrap', text: fmt.bits(rate(p.number, 'rx_bytes')) }),
        el('td', { class: 'num nowrap', text: fmt.bits(rate(p.number, 'tx_bytes')) }),
        el('td', { class: 'num nowrap', text: fmt.count(s.rx_packets) }),
        el('td', { class: 'num nowrap', text: fmt.count(s.tx_packets) }),
        el('td', { class: 'num nowrap', text: fmt.count((s.rx_dropped || 0) + (s.tx_dropped || 0) + (s.rx_errors || 0) + (s.tx_errors || 0)) }));
    });
    box.replaceChildren(el('table', { class: 'grid', id: 'ports-table' },
      el('thead', null, el('tr', null, ['port', 'name', 'kind', 'state', 'speed', 'rx', 'tx', 'rx pkts', 'tx pkts', 'errors'].map(function (h, i) { return el('th', { class: i >= 4 ? 'num nowrap' : 'nowrap', text: h, title: h === 'errors' ? 'drops and errors, received and sent' : null }); }))),
      el('tbody', null, rows)));
  }

  async function showPortCharts(dpid, port, name) {
    const box = $('sw-port-charts');
    if (!box) return;
    if (panelCharts) panelCharts.view.destroy();
    const key = portKey(dpid, port);
    panelCharts = { key: key, view: { push: function () {}, destroy: function () {} } };
    box.replaceChildren(el('h3', { text: 'Port ' + fmt.port(port) + ' ' + (name || '') + ' (last 15 minutes)' }), el('div', { id: 'sw-port-chart-box' }));
    const view = await S.charts.view($('sw-port-chart-box'), key, { range: '15m', compact: true, only: ['bits per second', 'packets per second'] });
    if (panelCharts && panelCharts.key === key) panelCharts.view = view; else view.destroy();
  }

  function ownerText(o) {
    if (!o || o.kind === 'foreign') return 'foreign';
    return o.kind + ':' + o.id + (o.network ? '@net:' + o.network : '');
  }

  function renderFlows(flowsR, now) {
    const box = $('sw-flows');
    if (!box) return;
    if (flowsR.status !== 'fulfilled') { box.textContent = errorText(flowsR); return; }
    const key = function (f) { return f.table + '|' + f.priority + '|' + f.cookie + '|' + f.match; };
    const cur = new Map();
    for (const f of flowsR.value) cur.set(key(f), f);
    const prev = prevFlows;
    prevFlows = { t: now, flows: cur };
    const rows = flowsR.value.map(function (f) {
      let r = null;
      const p = prev && prev.flows.get(key(f));
      if (p) { const dt = (now - prev.t) / 1000; r = dt > 0 ? Math.max(0, (f.packets - p.packets) / dt) : null; }
      return el('tr', null,
        el('td', { class: 'num nowrap', text: f.table }),
        el('td', { class: 'num nowrap', text: f.priority }),
        el('td', { class: 'mono', text: ownerText(f.owner).replace('@', '\u200b@') }),
        el('td', { class: 'mono wrap', text: f.match || '*' }),
        el('td', { class: 'mono wrap', text: f.actions }),
        el('td', { class: 'num nowrap', text: fmt.count(f.packets) }),
        el('td', { class: 'num nowrap', text: fmt.bytes(f.bytes) }),
        el('td', { class: 'num nowrap', text: r === null ? '-' : fmt.rate(r) }));
    });
    box.replaceChildren(flowsR.value.length === 0 ? el('p', { class: 'muted', text: 'no flows' }) :
      el('table', { class: 'grid', id: 'flows-table' },
        el('thead', null, el('tr', null, ['table', 'prio', 'owner', 'match', 'actions', 'packets', 'bytes', 'pkts/s'].map(function (h, i) { return el('th', { class: (i < 2 || i >= 5) ? 'num nowrap' : 'nowrap', text: h }); }))),
        el('tbody', null, rows)));
  }

  // endText names a link's end: "h1 port 102 (lnk-h2)"
  function endText(e) {
    const p = state.ports.get(epKey(e));
    return S.swName(e.dpid) + ' port ' + fmt.port(e.port) + (p && p.name ? ' (' + p.name + ')' : '');
  }

  function showLink(id, refresh) {
    let e = null;
    for (const x of state.edges.values()) if (x.id === id) e = x;
    if (!e) return;
    const fresh = !(refresh && panelLink === id && $('link-info'));
    if (fresh) {
      panelSwitch = null;
      clearTimeout(pollTimer);
      panelLink = id;
      selectOnly(id);
      const path = e.kind === 'tunnel' ? pathOf(e) : 0;
      const body = openPanel((e.kind === 'tunnel' ? 'Tunnel ' : 'Link ') + S.swName(e.a.dpid) + ' ↔ ' + S.swName(e.b.dpid) + (path ? ', path ' + path : ''));
      body.append(el('div', { id: 'link-info' }));
      if (e.kind === 'tunnel') body.append(el('div', { id: 'probe-charts' }));
      for (const end of [e.a, e.b]) {
        const b = el('div', { class: 'charts' });
        const key = portKey(end.dpid, end.port);
        body.append(el('h3', { text: 'Port ' + endText(end) + ', bits per second (15 min)' }), b);
        const entry = { key: key, view: { push: function () {}, destroy: function () {} } };
        linkCharts.push(entry);
        S.charts.view(b, key, { range: '15m', compact: true, only: ['bits per second'] }).then(function (v) {
          if (linkCharts.indexOf(entry) >= 0) entry.view = v; else v.destroy();
        });
      }
    }
    const st = edgeState(e);
    const dirs = [[e.a, e.b], [e.b, e.a]].map(function (ab) {
      const l = state.links.get(epKey(ab[0]) + '>' + epKey(ab[1]));
      return el('tr', null, el('td', { class: 'mono', text: S.where(ab[0].dpid, ab[0].port) + ' → ' + S.where(ab[1].dpid, ab[1].port) }),
        el('td', { text: l ? 'seen' : 'not seen' }),
        el('td', { class: 'num', text: l ? l.latency_ms.toFixed(2) + ' ms' : '-' }),
        el('td', { text: l ? fmt.time(l.first_seen) : '-' }));
    });
    const rateRow = function (end) {
      const r = state.rates.get(epKey(end));
      return el('tr', null, el('td', { class: 'mono', text: endText(end) }),
        el('td', { class: 'num', text: r ? fmt.bits(r.rx_bps) : '-' }), el('td', { class: 'num', text: r ? fmt.bits(r.tx_bps) : '-' }),
        el('td', { class: 'num', text: r && (r.tx_util != null || r.rx_util != null) ? Math.max(r.rx_util || 0, r.tx_util || 0).toFixed(1) + ' %' : '-' }));
    };
    $('link-info').replaceChildren(
      el('dl', null,
        el('dt', { text: 'state' }), el('dd', { class: 'state-' + (st === 'up' ? 'up' : 'down'), text: st === 'degraded' ? 'one direction only' : st }),
        el('dt', { text: 'kind' }), el('dd', { text: e.kind }),
        el('dt', { text: 'end A' }), el('dd', { class: 'mono', text: endText(e.a) }),
        el('dt', { text: 'end B' }), el('dd', { class: 'mono', text: endText(e.b) })),
      el('h3', { text: 'Directions (LLDP)' }),
      el('table', { class: 'grid' },
        el('thead', null, el('tr', null, el('th', { text: 'direction' }), el('th', { text: 'probes' }), el('th', { class: 'num', text: 'latency' }), el('th', { text: 'first seen' }))),
        el('tbody', null, dirs)),
      el('h3', { text: 'Utilisation' }),
      el('table', { class: 'grid', id: 'link-rates' },
        el('thead', null, el('tr', null, el('th', { text: 'end' }), el('th', { class: 'num', text: 'rx' }), el('th', { class: 'num', text: 'tx' }), el('th', { class: 'num', text: 'util' }))),
        el('tbody', null, rateRow(e.a), rateRow(e.b))));
    // every path of the tunnel between the two hosts, both directions
    const pl = e.kind === 'tunnel' ? pairProbes(e.a.dpid, e.b.dpid) : [];
    if (pl.length) {
      $('link-info').append(el('h3', { text: 'Tunnel probes (every path between ' + S.swName(e.a.dpid) + ' and ' + S.swName(e.b.dpid) + ')' }), probeTable(pl));
      probeChartsInto($('probe-charts'), pl);
    }
  }

  function showHost(mac) {
    panelSwitch = null; panelLink = null;
    clearTimeout(pollTimer);
    const h = state.hosts.get(mac);
    if (!h) return;
    selectOnly(hostId(mac));
    const i = S.iface(h.dpid, h.port, h.mac);
    const body = openPanel('Host ' + (i ? i.name + ' (' + mac + ')' : mac));
    body.append(el('dl', null,
      el('dt', { text: 'interface' }), el('dd', { id: 'host-iface', text: i ? i.name + (i.mode && i.mode !== 'vif' ? ' (' + i.mode + ')' : '') : '-' }),
      el('dt', { text: 'network' }), el('dd', { id: 'host-network', text: i ? i.network : '-' }),
      el('dt', { text: 'MAC' }), el('dd', { class: 'mono', text: mac + (i && i.mac && i.mac.toLowerCase() !== mac.toLowerCase() ? ' (configured ' + i.mac + ')' : '') }),
      el('dt', { text: 'IPv4' }), el('dd', { text: (h.ips || []).join(', ') || '-' }),
      el('dt', { text: 'attached to' }), el('dd', { class: 'mono', text: endText({ dpid: h.dpid, port: h.port }) }),
      el('dt', { text: 'first seen' }), el('dd', { text: fmt.time(h.first_seen) }),
      el('dt', { text: 'last seen' }), el('dd', { text: fmt.time(h.last_seen) })));
    if (window.satelliteTrace) {
      const b = el('button', { type: 'button', id: 'host-trace', text: 'trace from here' });
      b.addEventListener('click', function () { window.satelliteTrace.open({ from: h.dpid + ':' + h.port }); });
      body.append(b);
    }
  }

  // ---- toolbar

  $('panel-close').addEventListener('click', closePanel);
  $('relayout').addEventListener('click', function () { if (cy) { layout(true); saveLayout(); cy.fit(undefined, 30); } });
  $('fit').addEventListener('click', function () { if (cy) cy.fit(undefined, 20); });
  $('show-hosts').addEventListener('change', function (ev) {
    if (!cy) return;
    cy.batch(function () { cy.elements('.host, .attach').toggleClass('hidden', !ev.target.checked); });
  });
  $('show-tunnels').addEventListener('change', function (ev) {
    if (!cy) return;
    cy.batch(function () { cy.edges('.tunnel').toggleClass('hidden', !ev.target.checked); });
    bendTunnels();
  });
  $('find').addEventListener('keydown', function (ev) {
    if (ev.key !== 'Enter' || !cy) return;
    const q = ev.target.value.trim().toLowerCase();
    if (!q) return;
    if (lod) { // hosts not drawn yet: draw those of the switch of the one found
      for (const h of state.hosts.values()) if (h.mac === q || (h.ips || []).indexOf(q) >= 0) { drawHosts([h.dpid]); break; }
    }
    const hit = cy.nodes().filter(function (n) {
      if (n.hasClass('switch')) return fmt.dpid(n.data('dpid')) === fmt.dpid(q.replace(/^0x/, '')) || n.data('dpid') === q || S.swName(n.data('dpid')).toLowerCase() === q;
      const h = state.hosts.get(n.data('mac'));
      return h && (h.mac === q || (h.ips || []).indexOf(q) >= 0);
    }).first();
    if (hit.empty()) { ev.target.setCustomValidity('not found'); ev.target.reportValidity(); return; }
    ev.target.setCustomValidity('');
    cy.elements().unselect();
    hit.select();
    cy.animate({ center: { eles: hit }, zoom: Math.max(cy.zoom(), 1.2) }, { duration: 200 });
    if (hit.hasClass('switch')) showSwitch(hit.data('dpid')); else showHost(hit.data('mac'));
  });

  // for tests and the curious: window.satellite.state, .cy, .edgeState(id)
  window.satellite = {
    state: state, cy: null,
    edgeState: function (id) { for (const e of state.edges.values()) if (e.id === id) return edgeState(e); return null; },
    showSwitch: showSwitch,
    showHost: showHost,
    showLink: function (id) { if (String(id).startsWith('tp:')) showProbeEdge(id, false); else showLink(id, false); },
    closePanel: closePanel,
    positions: function () { const out = {}; if (cy) cy.nodes().forEach(function (n) { out[n.id()] = n.position(); }); return out; },
    saved: savedLayout,
    lod: function () { return { on: lod, switches: LOD.switches, hostZoom: LOD.hostZoom, hostsDrawn: hostsDrawn.size }; },
    applyRates: function (m) { applyRates(m); },
    applyTunnels: function (paths) { clearTimeout(probes.timer); applyTunnels(paths); },
    // showAt draws the topology as it was at an RFC 3339 time (from the
    // journal: links that were down are red); live() goes back to the
    // live topology and the changes held meanwhile
    showAt: async function (iso) {
      const snap = await S.api('/api/v1/topology?at=' + encodeURIComponent(iso));
      past = iso;
      clearTimeout(timer); timer = null; queue = [];
      await applySnapshot(snap);
      counts();
      return snap;
    },
    live: async function () {
      if (!past) return;
      const snap = await S.api('/api/v1/topology');
      past = null;
      const later = held.filter(function (m) { return m.op !== 'snapshot' && m.version > snap.version; });
      const snapAfter = held.filter(function (m) { return m.op === 'snapshot' && m.version > snap.version; });
      held = [];
      await applySnapshot(snap);
      queue = snapAfter.length ? snapAfter.slice(-1) : later;
      if (queue.length) flush(); else counts();
    },
    past: function () { return past; },
    // resized: the graph's box changed (the timeline appeared under it)
    resized: function () { if (cy) resizeKeepingFit(); },
    probes: probes,
  };

  if (document.body.dataset.topology === 'true') {
    S.stream(onMessage, { since: 0, topics: 'topology,metrics' });
    pollTunnels();
  }
})();
