// alerts.js: active alerts, recent alert events and the rules, with a
// form that creates and edits rules through the API and shows its
// validation errors next to the field they name. Alert events arrive on
// the stream; the lists are re-read when one does (and every 10 s).
(function () {
  'use strict';
  const S = window.Satellite;
  const el = S.el, fmt = S.fmt;
  const $ = function (id) { return document.getElementById(id); };
  // the form is not on the page for a viewer (read-only: no edit buttons either)
  const form = $('rule-form');
  const canEdit = !!form;
  let metrics = [];
  let rules = [];

  function status(t) { $('a-status').textContent = t || ''; }

  function num(v) {
    if (v == null) return '-';
    const a = Math.abs(v);
    return a >= 1000 ? fmt.si(v, '').trim() : String(Math.round(v * 1000) / 1000);
  }

  function selectorText(s) {
    if (!s) return 'all';
    const parts = [];
    if (s.dpid) parts.push('switch ' + (/^[0-9a-f:x]+$/i.test(s.dpid) ? S.swName(s.dpid) : s.dpid));
    if (s.port != null) parts.push('port ' + s.port);
    if (s.owner) parts.push('owner ' + s.owner);
    if (s.network != null) parts.push('net ' + s.network);
    if (s.event) parts.push('event ' + s.event);
    if (s.remote) parts.push('remote ' + s.remote);
    if (s.path != null) parts.push('path ' + s.path);
    return parts.join(', ') || 'all';
  }

  function condition(r) {
    let c = (r.op || '') + ' ' + (r.value != null ? num(r.value) : '');
    if (r.clear != null && r.clear !== r.value) c += ' (clear ' + num(r.clear) + ')';
    return c.trim();
  }

  // seriesCell names a series (h1/vm1, h1/lnk-h2 ↔ h2/lnk-h1) with its
  // key as the tooltip
  function seriesCell(key) { return el('td', { class: 'mono nowrap', title: key, dataset: { key: key }, text: S.seriesName(key) }); }
  // messageCell is an alert's message with its rule's description under it
  function messageCell(text, description) {
    return el('td', { title: text }, S.nameText(text), description ? el('small', { class: 'desc', text: description }) : null);
  }

  function badge(text, cls) { return el('span', { class: 'badge ' + (cls || text), text: text }); }

  function renderActive(list) {
    const body = $('a-active').tBodies[0];
    let firing = 0, pending = 0;
    body.replaceChildren.apply(body, list.map(function (a) {
      if (a.state === 'firing') firing++; else if (a.state === 'pending') pending++;
      return el('tr', { dataset: { rule: a.rule, state: a.state, series: a.series } },
        el('td', null, badge(a.state)),
        el('td', null, badge(a.severity, 'sev-' + a.severity)),
        el('td', { class: 'nowrap', text: a.rule }),
        seriesCell(a.series),
        el('td', { class: 'num', text: num(a.value) }),
        el('td', { class: 'mono nowrap', text: a.op + ' ' + num(a.threshold) }),
        el('td', { class: 'nowrap', text: fmt.time(a.since) }),
        messageCell(a.message, a.description));
    }));
    $('a-active-empty').hidden = list.length > 0;
    $('a-firing').textContent = firing;
    $('a-pending').textContent = pending;
  }

  function historyRow(ev) {
    const a = ev.alert;
    return el('tr', { dataset: { rule: a.rule, kind: ev.kind } },
      el('td', { class: 't mono nowrap', text: fmt.time(ev.time) }),
      el('td', null, badge(ev.kind)),
      el('td', null, badge(a.severity, 'sev-' + a.severity)),
      el('td', { class: 'nowrap', text: a.rule }),
      seriesCell(a.series),
      messageCell(a.message + (a.reason ? ' (' + a.reason + ')' : ''), a.description));
  }

  function renderHistory(list) {
    const body = $('a-history').tBodies[0];
    body.replaceChildren.apply(body, list.slice().reverse().map(historyRow));
  }

  function renderRules(list) {
    rules = list;
    $('a-rules').textContent = list.length;
    const body = $('a-rules-table').tBodies[0];
    body.replaceChildren.apply(body, list.map(function (r) {
      const del = el('button', { type: 'button', class: 'danger', text: 'Delete', dataset: { name: r.name } });
      del.addEventListener('click', function () { deleteRule(r.name, del); });
      return el('tr', { dataset: { rule: r.name } },
        el('td', null, r.name, r.description ? el('small', { class: 'desc', text: r.description }) : null),
        el('td', { class: 'mono', text: r.metric }),
        el('td', { text: selectorText(r.selector) }),
        el('td', { class: 'mono', text: condition(r) }),
        el('td', { text: r.for || '0s' }),
        el('td', null, badge(r.severity || 'warning', 'sev-' + (r.severity || 'warning'))),
        // a stored rule that was skipped at start-up says why; rules of
        // the configuration file cannot be changed through the API
        el('td', r.status === 'skipped' ? { class: 'state-down', text: 'api, skipped: ' + r.problem } : { text: r.source }),
        !canEdit ? el('td', { class: 'muted', text: 'read-only' }) :
        r.source === 'config' ? el('td', { class: 'muted', text: 'edit the config file' }) :
          // a stored rule hidden by a config-file rule of the same name
          // cannot be replaced through the API (409), only deleted
          shadowed(r) ? el('td', null, del) :
            el('td', null, el('button', { type: 'button', text: r.status === 'skipped' ? 'Replace' : 'Edit', onclick: function () { edit(r); } }), ' ', del));
    }));
    function shadowed(r) {
      return r.status === 'skipped' && list.some(function (o) { return o !== r && o.source === 'config' && o.name === r.name; });
    }
  }

  // names: datapath and interface names, and the ports of the topology
  // (read again every minute), for the series
  let namesAt = 0;
  async function names() {
    if (Date.now() - namesAt < 60000) return;
    namesAt = Date.now();
    await S.loadNames(true);
    try { const t = await S.api('/api/v1/topology'); S.learnPorts(t.ports); } catch (e) { /* no topology: dpids */ }
  }

  let refreshing = null;
  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async function () {
      try {
        await names();
        const [active, hist, rs] = await Promise.all([S.api('/api/v1/alerts'), S.api('/api/v1/alerts/history?limit=200'), S.api('/api/v1/alerts/rules')]);
        renderActive(active);
        renderHistory(hist);
        renderRules(rs);
        status('updated ' + fmt.clock());
      } catch (e) {
        status(e.status === 503 ? 'Alerts are not enabled on this server.' : 'cannot read alerts: ' + e.message);
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  async function loadMetrics() {
    try {
      metrics = await S.api('/api/v1/alerts/metrics');
    } catch (e) {
      return;
    }
    const sel = $('rf-metric');
    sel.replaceChildren.apply(sel, [el('option', { value: '', text: '— metric —' })].concat(metrics.map(function (m) {
      return el('option', { value: m.name, text: m.name + (m.unit ? ' (' + m.unit + ')' : ''), disabled: m.later || null });
    })));
  }

  function about() {
    const m = metrics.find(function (x) { return x.name === $('rf-metric').value; });
    $('rf-metric-about').textContent = m ? m.scope + ' metric: ' + m.about + (m.state ? ' (1 while it holds; the condition defaults to == 1)' : '') : '';
  }
  if (form) $('rf-metric').addEventListener('change', about);

  // ---- the form

  function clearErrors() {
    for (const l of form.querySelectorAll('.f')) { l.classList.remove('invalid'); l.querySelector('.err').textContent = ''; }
    $('rf-error').textContent = '';
  }

  function showError(e) {
    const f = e.field && form.querySelector('[data-field="' + CSS.escape(e.field) + '"]');
    if (f) {
      f.classList.add('invalid');
      f.querySelector('.err').textContent = e.message;
      const input = f.querySelector('input, select');
      if (input) input.focus();
    } else {
      $('rf-error').textContent = e.message;
    }
  }

  function val(id) { return $(id).value.trim(); }
  function intOrText(v) { return /^\d+$/.test(v) ? Number(v) : v; }

  function ruleFromForm() {
    const r = { name: val('rf-name'), metric: val('rf-metric') };
    const sel = {};
    if (val('rf-dpid')) sel.dpid = val('rf-dpid');
    if (val('rf-port')) sel.port = intOrText(val('rf-port'));
    if (val('rf-owner')) sel.owner = val('rf-owner');
    if (val('rf-network')) sel.network = intOrText(val('rf-network'));
    if (val('rf-event')) sel.event = val('rf-event');
    if (val('rf-remote')) sel.remote = val('rf-remote');
    if (val('rf-path')) sel.path = intOrText(val('rf-path'));
    if (Object.keys(sel).length) r.selector = sel;
    if (val('rf-op')) r.op = val('rf-op');
    if (val('rf-value')) r.value = val('rf-value');
    if (val('rf-clear')) r.clear = val('rf-clear');
    if (val('rf-for')) r.for = val('rf-for');
    if (val('rf-severity')) r.severity = val('rf-severity');
    if (val('rf-description')) r.description = val('rf-description');
    return r;
  }

  function resetForm() {
    form.reset();
    clearErrors();
    $('rf-editing').value = '';
    $('rf-name').disabled = false;
    $('rf-title').textContent = 'New rule';
    $('rf-submit').textContent = 'Create rule';
    about();
  }

  function edit(r) {
    resetForm();
    $('rf-editing').value = r.name;
    $('rf-title').textContent = 'Edit rule ' + r.name;
    $('rf-submit').textContent = 'Save rule';
    $('rf-name').value = r.name;
    $('rf-name').disabled = true;
    $('rf-metric').value = r.metric;
    const s = r.selector || {};
    $('rf-dpid').value = s.dpid || '';
    $('rf-port').value = s.port != null ? s.port : '';
    $('rf-owner').value = s.owner || '';
    $('rf-network').value = s.network != null ? s.network : '';
    $('rf-event').value = s.event || '';
    $('rf-remote').value = s.remote || '';
    $('rf-path').value = s.path != null ? s.path : '';
    $('rf-op').value = r.op || '';
    $('rf-value').value = r.value != null ? r.value : '';
    // the API answers clear = value when the rule named none: leave it
    // empty then, or raising the value would keep the old clear
    $('rf-clear').value = r.clear != null && r.clear !== r.value ? r.clear : '';
    $('rf-for').value = r.for && r.for !== '0s' ? r.for : '';
    $('rf-severity').value = r.severity || '';
    $('rf-description').value = r.description || '';
    about();
    $('rf-metric').focus();
  }

  if (form) form.addEventListener('submit', async function (ev) {
    ev.preventDefault();
    clearErrors();
    const r = ruleFromForm();
    const editing = $('rf-editing').value;
    if (!editing && !r.name) { showError({ field: 'name', message: 'a rule needs a name, such as uplink-busy' }); return; }
    $('rf-submit').disabled = true;
    try {
      const path = '/api/v1/alerts/rules' + (editing ? '/' + encodeURIComponent(editing) : '');
      if (editing) r.name = editing;
      await S.api(path, { method: editing ? 'PUT' : 'POST', headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' }, body: JSON.stringify(r) });
      status((editing ? 'saved rule ' : 'created rule ') + r.name);
      resetForm();
      await refresh();
    } catch (e) {
      showError(e);
    } finally {
      $('rf-submit').disabled = false;
    }
  });
  if (form) $('rf-cancel').addEventListener('click', resetForm);

  async function deleteRule(name, button) {
    if (button.dataset.armed !== 'true') {
      button.dataset.armed = 'true';
      button.textContent = 'Really delete?';
      setTimeout(function () { button.dataset.armed = ''; button.textContent = 'Delete'; }, 4000);
      return;
    }
    try {
      await S.api('/api/v1/alerts/rules/' + encodeURIComponent(name), { method: 'DELETE' });
      status('deleted rule ' + name);
    } catch (e) {
      status('cannot delete ' + name + ': ' + e.message);
    }
    await refresh();
  }

  // ---- live

  let soon = null;
  S.stream(function (m) {
    if (m.type !== 'alert') return;
    clearTimeout(soon);
    soon = setTimeout(refresh, 150);
  }, { topics: 'alerts', onOpen: refresh });
  setInterval(refresh, 10000);

  if (form) loadMetrics().then(about);
  refresh();
})();
