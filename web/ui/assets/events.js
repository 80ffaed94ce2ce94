// events.js: the live event log. The server rendered the recent events;
// this resumes the stream from the page's version and adds, newest first,
// security events, host moves, and the topology changes the deltas carry
// (switches, ports and links going up and down, hosts appearing).
(function () {
  'use strict';
  const S = window.Satellite;
  const el = S.el, fmt = S.fmt;
  const $ = function (id) { return document.getElementById(id); };
  const body = $('ev-body');
  const maxRows = 2000;
  const ports = new Map(); // "dpid/port" -> up, as far as we know
  const recentLinks = new Map(); // pair+op -> time, to log a link once, not once per direction
  let paused = [];
  let isPaused = false;
  let first = true;

  // severity colours, as the journal rates kinds (journal.Severity):
  // broken red, came back green, refusals and flapping orange
  function sevOf(kind) {
    if (/-(down|disconnect|gone)$/.test(kind) || /failover|drift/.test(kind) || kind === 'alert-firing') return 'sev-critical';
    if (/-(up|connect)$/.test(kind) || /failback|repair/.test(kind) || kind === 'alert-resolved') return 'sev-ok';
    if (kind.startsWith('lldp-') || /flapping|-limit$|-refused$|conflict/.test(kind) || kind === 'link-forgotten') return 'sev-warning';
    return '';
  }
  function colour(badge) {
    const s = sevOf(badge.textContent);
    if (s) badge.classList.add(s);
  }
  for (const b of body.querySelectorAll('.badge')) colour(b); // the rows the server rendered

  function classOf(kind) {
    if (kind.startsWith('lldp-')) return 'security';
    if (kind.startsWith('host-')) return 'host';
    return 'topology';
  }

  function visible(tr) {
    const f = $('ev-filter').value, q = $('ev-find').value.trim().toLowerCase();
    return (!f || tr.dataset.class === f) && (!q || tr.textContent.toLowerCase().indexOf(q) >= 0);
  }

  function add(time, kind, where, what, cls) {
    cls = cls || classOf(kind);
    const tr = el('tr', { class: 'ev fresh ' + cls, dataset: { class: cls, kind: kind } },
      el('td', { class: 't mono', text: fmt.time(time) }),
      el('td', null, el('span', { class: 'badge ' + cls + ' ' + sevOf(kind), text: kind })),
      el('td', { class: 'mono where', text: where || '' }),
      el('td', { class: 'what', text: S.nameText(what), title: what }));
    if (!visible(tr)) tr.hidden = true;
    if (isPaused) { paused.push(tr); return; }
    insert([tr]);
  }

  function insert(rows) {
    const empty = $('ev-empty');
    if (empty) empty.remove();
    for (const tr of rows) body.prepend(tr);
    while (body.rows.length > maxRows) body.deleteRow(body.rows.length - 1);
    count();
  }

  function count() {
    let n = 0;
    for (const tr of body.rows) if (!tr.hidden) n++;
    $('ev-count').textContent = n;
  }

  // where names a switch and port as the operator does: h1/vm1
  function where(dpid, port) {
    return S.where(dpid, port);
  }
  // the rows the server rendered name dpids: once the names are known,
  // they name switches and ports too (the dpid stays as the tooltip)
  function renameRendered() {
    for (const td of body.querySelectorAll('td.where[data-dpid]')) {
      if (!td.dataset.dpid) continue;
      td.title = td.dataset.dpid + (td.dataset.port ? '/' + td.dataset.port : '');
      td.textContent = where(td.dataset.dpid, td.dataset.port ? Number(td.dataset.port) : 0);
      const what = td.nextElementSibling;
      if (what && !what.dataset.raw) { what.dataset.raw = what.textContent; what.textContent = S.nameText(what.textContent); }
    }
    for (const td of body.querySelectorAll('td.what')) {
      if (td.dataset.raw) continue;
      td.dataset.raw = td.textContent;
      td.textContent = S.nameText(td.textContent);
    }
  }

  function linkOnce(l, op) {
    const a = l.src.dpid + '/' + l.src.port, b = l.dst.dpid + '/' + l.dst.port;
    const k = (a < b ? a + '|' + b : b + '|' + a) + op;
    const now = Date.now();
    const last = recentLinks.get(k);
    recentLinks.set(k, now);
    if (recentLinks.size > 10000) recentLinks.clear();
    return !(last && now - last < 3000);
  }

  function onMessage(m) {
    if (m.type !== 'topology') return;
    if (m.op === 'snapshot') {
      for (const p of m.snapshot.ports || []) ports.set(p.dpid + '/' + p.number, p.up);
      S.learnPorts(m.snapshot.ports);
      S.loadNames().then(renameRendered);
      if (!first) add(m.time, 'resync', '', 'stream resynchronised at version ' + m.version + ' (the page fell behind or reconnected late); changes in between are not listed', 'topology');
      first = false;
      return;
    }
    first = false;
    if (m.event) {
      add(m.event.time, m.event.kind, where(m.event.dpid, m.event.port), m.event.message);
    } else if (m.switch) {
      const sw = m.switch;
      if (m.op === 'add') add(m.time, 'switch-connect', sw.dpid, 'switch connected' + (sw.remote ? ' from ' + sw.remote : ''));
      else if (m.op === 'remove') add(m.time, 'switch-disconnect', sw.dpid, 'switch disconnected');
    } else if (m.port) {
      const p = m.port, k = p.dpid + '/' + p.number;
      if (m.op !== 'remove') S.learnPorts([p]);
      const before = ports.get(k);
      if (m.op === 'remove') {
        ports.delete(k);
        add(m.time, 'port-delete', where(p.dpid, p.number), 'port ' + (p.name || p.number) + ' removed');
      } else {
        ports.set(k, p.up);
        if (before === undefined && m.op === 'add') add(m.time, 'port-add', where(p.dpid, p.number), 'port ' + (p.name || p.number) + ' added, ' + (p.up ? 'up' : 'down'));
        else if (before !== p.up && (before !== undefined || !p.up)) add(m.time, p.up ? 'port-up' : 'port-down', where(p.dpid, p.number), 'port ' + (p.name || p.number) + (p.up ? ' up' : ' down'));
      }
    } else if (m.link) {
      const l = m.link;
      const text = (l.kind === 'tunnel' ? 'tunnel ' : 'link ') + where(l.src.dpid, l.src.port) + ' ↔ ' + where(l.dst.dpid, l.dst.port);
      if (m.op === 'add' && linkOnce(l, 'add')) add(m.time, 'link-up', '', text + ' discovered');
      else if (m.op === 'update' && l.state === 'down' && linkOnce(l, 'remove')) add(m.time, 'link-down', '', text + ' down');
      else if (m.op === 'remove' && !l.down_since && linkOnce(l, 'remove')) add(m.time, 'link-down', '', text + ' down');
    } else if (m.host) {
      const h = m.host;
      const ips = (h.ips || []).join(', ');
      if (m.op === 'add') add(m.time, 'host-seen', where(h.dpid, h.port), 'host ' + h.mac + (ips ? ' (' + ips + ')' : '') + ' seen');
      else if (m.op === 'remove') add(m.time, 'host-aged', where(h.dpid, h.port), 'host ' + h.mac + ' aged out');
    }
  }

  function refilter() {
    for (const tr of body.rows) tr.hidden = !visible(tr);
    count();
  }
  $('ev-filter').addEventListener('change', refilter);
  $('ev-find').addEventListener('input', refilter);
  $('ev-pause').addEventListener('change', function (ev) {
    isPaused = ev.target.checked;
    if (!isPaused && paused.length) { insert(paused); paused = []; }
  });

  if (document.body.dataset.topology === 'true') {
    // the stream resumes from the page's version (no snapshot): the port
    // names come from the topology once
    S.loadNames().then(function () { return S.api('/api/v1/topology'); }).then(function (t) { S.learnPorts(t.ports); renameRendered(); }).catch(renameRendered);
    S.stream(onMessage, { since: Number(document.body.dataset.version) || 0, topics: 'topology' });
  }
})();
