// audit.js: the flow audit on the topology page. Every switch whose last
// audit (GET /api/v1/audit, made at each reconciliation) found something
// gets a drift badge on the graph (class "drift", the count in its
// label), and the switch panel gets an Audit section with the findings
// (GET /api/v1/audit/{dpid}?fresh=true: read the switch now).
(function () {
  'use strict';
  const S = window.Satellite;
  const el = S.el;
  let styled = false;

  function findings(r) {
    let n = 0;
    for (const k in (r.counts || {})) n += r.counts[k];
    return n;
  }

  function badge(overview) {
    const cy = window.satellite && window.satellite.cy;
    if (!cy) return;
    if (!styled) {
      cy.style().selector('node.switch.drift').style({ 'border-width': 3, 'border-color': '#d62b2b', 'border-style': 'solid' }).update();
      styled = true;
    }
    const bad = new Map();
    for (const r of overview.switches || []) if (!r.ok) bad.set(r.dpid, findings(r));
    for (const e of (overview.networks && overview.networks.entries) || []) if (e.dpid) bad.set(e.dpid, (bad.get(e.dpid) || 0));
    cy.nodes('node.switch').forEach(function (n) {
      const dpid = n.id().replace(/^sw:/, '');
      const base = n.data('auditBase') || n.data('label');
      if (!n.data('auditBase')) n.data('auditBase', base);
      if (bad.has(dpid)) {
        n.addClass('drift');
        n.data('label', base + ' ⚠' + (bad.get(dpid) || ''));
        n.data('drift', bad.get(dpid));
      } else {
        n.removeClass('drift');
        n.data('label', base);
        n.removeData('drift');
      }
    });
  }

  async function poll() {
    try { badge(await S.api('/api/v1/audit')); } catch (e) { /* not enabled, or no token: no badges */ }
    setTimeout(poll, 10000);
  }

  // section fills the switch panel's Audit section.
  async function section(body, dpid) {
    const box = el('div', { id: 'sw-audit', text: 'auditing…' });
    // above the flow table, which can be long
    const flows = [...body.querySelectorAll('h3')].find(function (h) { return h.textContent === 'Flow table'; });
    const head = el('h3', { text: 'Audit' });
    if (flows) { body.insertBefore(head, flows); body.insertBefore(box, flows); } else body.append(head, box);
    let r;
    try {
      r = await S.api('/api/v1/audit/' + encodeURIComponent(dpid) + '?fresh=true');
    } catch (e) {
      box.textContent = 'not available: ' + (e && e.message || 'error');
      return;
    }
    const parts = [];
    for (const k in r.counts || {}) parts.push(r.counts[k] + ' ' + k);
    box.replaceChildren(el('p', { class: r.ok ? 'state-up' : 'state-down', id: 'sw-audit-summary',
      text: (r.ok ? 'in line with the intent' : parts.join(', ')) + ' — ' + r.flows + ' flows, ' + r.intended + ' intended' +
        (r.pending ? ', ' + r.pending + ' changes pending' : '') + (r.error ? ' (' + r.error + ')' : '') }));
    if (!r.entries || !r.entries.length) return;
    box.append(el('table', { class: 'grid', id: 'audit-table' },
      el('thead', null, el('tr', null, ['kind', 'table', 'prio', 'match', 'owner', 'detail'].map(function (h, i) { return el('th', { class: (i === 1 || i === 2) ? 'num' : null, text: h }); }))),
      el('tbody', null, r.entries.map(function (e) {
        return el('tr', { class: 'audit-' + e.kind },
          el('td', { class: 'state-down', text: e.kind + (e.repaired ? ' (repaired)' : '') }),
          el('td', { class: 'num', text: e.what === 'path' ? '-' : e.table }),
          el('td', { class: 'num', text: e.what === 'path' ? '-' : e.priority }),
          el('td', { class: 'mono', text: e.what === 'flow' ? (e.match || '*') : (e.what === 'path' ? '-' : e.what + ' ' + e.id) }),
          el('td', { text: e.owner || '-' }),
          el('td', { text: e.detail }));
      }))));
  }

  window.satelliteAudit = { section: section, badge: badge };
  poll();
})();
