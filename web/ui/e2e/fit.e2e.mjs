// fit.e2e.mjs: every page and panel at 1280x800 and 1920x1080, against
// Satellite on an OVS lab with virtual networks naming the switches
// (fit_test.go). Checks that nothing is clipped or overflows its
// container (tables, cells, toolbars, charts and their axis labels),
// that labels use names rather than dpids, and that a reload keeps the
// graph where it was. Screenshots of everything go to the artifacts.
import fs from 'node:fs';
import path from 'node:path';
import { launch, env, watch, until, step } from './lib.mjs';

const base = env('SATELLITE_URL');
const control = env('SATELLITE_CONTROL');
const out = env('SATELLITE_ARTIFACTS');
const want = JSON.parse(env('SATELLITE_EXPECT'));
const sizes = [{ width: 1280, height: 800 }, { width: 1920, height: 1080 }];
const dpidRe = /\b[0-9a-f]{16}\b/;
const names = Object.values(want.names).sort();

// problems lists what does not fit in the page (run in the browser): the
// page scrolling sideways, elements outside their container, cells and
// labels whose text is cut, tables wider than the panel that holds them,
// chart axis labels wider than their axis or running into each other.
function problems(scope) {
  const out = [];
  const root = scope ? document.querySelector(scope) : document.body;
  if (!root) return ['no ' + scope];
  const de = document.documentElement;
  if (de.scrollWidth > de.clientWidth + 1) out.push(`the page scrolls sideways: ${de.scrollWidth} > ${de.clientWidth}`);
  const shown = (e) => {
    if (e.closest('[hidden]')) return false;
    const cs = getComputedStyle(e);
    if (cs.display === 'none' || cs.visibility === 'hidden') return false;
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '') +
    (e.textContent ? ' "' + e.textContent.trim().slice(0, 40) + '"' : '');
  // text cut: a cell, a label or a badge whose content is wider than its box
  for (const e of root.querySelectorAll('th, td, .badge, label, button, h1, h2, h3, dd, dt, .count, .legend, .toolbar > *, select, option:checked')) {
    if (!shown(e)) continue;
    if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible') out.push(`text cut in ${name(e)}: ${e.scrollWidth} > ${e.clientWidth}`);
  }
  for (const e of root.querySelectorAll('td, th')) {
    if (!shown(e)) continue;
    if (e.scrollWidth > e.clientWidth + 1) out.push(`cell content wider than its cell: ${name(e)} ${e.scrollWidth} > ${e.clientWidth}`);
  }
  // containers: nothing sticks out of the toolbars, the legend, the
  // panel, a chart; a panel or section never needs to scroll sideways
  const inside = (child, box, what) => {
    const c = child.getBoundingClientRect(), b = box.getBoundingClientRect();
    if (c.left < b.left - 1 || c.right > b.right + 1) out.push(`${name(child)} sticks out of ${what} (${Math.round(c.left)}-${Math.round(c.right)} in ${Math.round(b.left)}-${Math.round(b.right)})`);
  };
  for (const box of root.querySelectorAll('.toolbar, .legend, header.top')) {
    if (!shown(box)) continue;
    for (const c of box.children) if (shown(c)) inside(c, box, name(box).slice(0, 30));
  }
  for (const box of root.querySelectorAll('.panel, .alerts, .events, .metrics, .alerts-main, .charts, .chart')) {
    if (!shown(box)) continue;
    if (box.scrollWidth > box.clientWidth + 1) out.push(`${name(box).slice(0, 40)} scrolls sideways: ${box.scrollWidth} > ${box.clientWidth}`);
    for (const t of box.querySelectorAll(':scope > table, :scope > div > table, :scope > .chart, :scope canvas')) if (shown(t)) inside(t, box, name(box).slice(0, 30));
  }
  // uPlot draws its axis labels on a canvas: measure them against the
  // axis (y) and against each other (x)
  const S = window.Satellite;
  if (S && S.charts) {
    for (const u of S.charts.live) {
      if (!u.root.isConnected || !shown(u.root)) continue;
      const title = u.root.closest('[data-key]') ? u.root.closest('[data-key]').dataset.key : '?';
      const y = u.axes[1];
      for (const v of y._values || []) {
        const w = S.charts.textWidth(String(v));
        if (w + 8 > y._size) out.push(`chart ${title}: y label "${v}" (${Math.round(w)} px) clipped by its axis (${y._size} px)`);
      }
      const x = u.axes[0], splits = x._splits || [], vals = x._values || [];
      for (let i = 1; i < splits.length; i++) {
        if (vals[i] === '' || vals[i - 1] === '' || vals[i] == null) continue;
        const gap = u.valToPos(splits[i], 'x') - u.valToPos(splits[i - 1], 'x');
        const need = (S.charts.textWidth(String(vals[i])) + S.charts.textWidth(String(vals[i - 1]))) / 2 + 4;
        if (gap < need) out.push(`chart ${title}: x labels "${vals[i - 1]}" and "${vals[i]}" collide (${Math.round(gap)} px apart, need ${Math.round(need)})`);
      }
      if (u.series.length > 2) {
        // both rx and tx visible: the second series is drawn differently
        const a = u.series[1], b = u.series[2];
        if (a.stroke === b.stroke && String(a.dash) === String(b.dash) && a.width === b.width) out.push(`chart ${title}: ${a.label} and ${b.label} are drawn alike`);
      }
    }
  }
  return out;
}

async function fits(page, what, scope) {
  const p = await page.evaluate(problems, scope || null);
  if (p.length) throw new Error(`${what}: ${p.length} problems:\n  ` + p.slice(0, 25).join('\n  '));
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(out, name + '.png') });
}

const { context, close } = await launch();
const consoleLog = [];
let failed = false;
try {
  const page = await context.newPage();
  const errors = watch(page, 'pages', consoleLog);
  const ready = async () => {
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 10000 });
  };

  await step('the topology page labels switches h1-h3 and hosts with their interface names', async () => {
    await page.setViewportSize(sizes[0]);
    await page.goto(base + '/ui/topology');
    await ready();
    let seen;
    await until('switch and host labels', 15000, async () => {
      seen = await page.evaluate(() => {
        const cy = window.satellite.cy;
        return { switches: cy.nodes('.switch').map((n) => n.data('label')).sort(), hosts: cy.nodes('.host').map((n) => n.data('label')) };
      });
      return JSON.stringify(seen.switches) === JSON.stringify(names) && seen.hosts.some((l) => l.startsWith(want.iface + ' ')) ? seen : false;
    });
    console.log('labels: ' + JSON.stringify(seen));
  });

  await step('the h1-h2 link is cut (for the alerts, the events and a red edge)', async () => {
    const r = await fetch(`${control}/cut-link?a=${want.cutA}&b=${want.cutB}`, { method: 'POST' });
    if (!r.ok) throw new Error(`cut-link: ${r.status} ${await r.text()}`);
    await until('one link down', 5000, () => page.$eval('#n-down', (e) => Number(e.textContent) === 1));
  });

  const sw = () => page.evaluate(() => {
    const out = {};
    window.satellite.cy.nodes('.switch').forEach((n) => { const p = n.position(); out[n.id()] = [Math.round(p.x), Math.round(p.y)]; });
    return out;
  });
  let kept = null; // the positions after Re-layout, which every later load must keep
  const samePlaces = async (when) => {
    const now = await sw();
    if (kept && JSON.stringify(now) !== JSON.stringify(kept)) throw new Error(`${when}: the switches moved: ${JSON.stringify(kept)} -> ${JSON.stringify(now)}`);
  };
  await step('Re-layout moves the graph, and a reload keeps it where it was', async () => {
    const before = await sw();
    await page.click('#relayout');
    const after = await sw();
    if (JSON.stringify(before) === JSON.stringify(after)) throw new Error('Re-layout moved nothing');
    await page.reload();
    await ready();
    const reloaded = await sw();
    if (JSON.stringify(reloaded) !== JSON.stringify(after)) throw new Error(`the reload moved the switches: ${JSON.stringify(after)} -> ${JSON.stringify(reloaded)}`);
    await page.reload();
    await ready();
    if (JSON.stringify(await sw()) !== JSON.stringify(after)) throw new Error('a second reload moved the switches');
    kept = after;
  });

  for (const size of sizes) {
    const tag = `${size.width}x${size.height}`;
    await page.setViewportSize(size);

    await step(`${tag}: the topology page fits, tunnels carry their path and pass beside the switches`, async () => {
      await page.goto(base + '/ui/topology');
      await ready();
      await samePlaces(`${tag}, loaded`);
      await page.check('#show-tunnels');
      await page.click('#fit');
      await new Promise((r) => setTimeout(r, 300));
      await shot(page, `topology-${tag}`);
      await fits(page, 'topology');
      const bad = await page.evaluate(() => {
        const cy = window.satellite.cy, out = [];
        const boxes = cy.nodes('.switch').map((n) => ({ id: n.id(), bb: n.boundingBox({ includeLabels: false }) }));
        // the edge is a quadratic curve through its midpoint: sample it
        const hits = (s, c, t, bb) => {
          for (let i = 1; i < 40; i++) {
            const u = i / 40, a = (1 - u) * (1 - u), b = 2 * u * (1 - u), d = u * u;
            const x = a * s.x + b * c.x + d * t.x, y = a * s.y + b * c.y + d * t.y;
            if (x > bb.x1 && x < bb.x2 && y > bb.y1 && y < bb.y2) return true;
          }
          return false;
        };
        cy.edges('.tunnel').forEach((e) => {
          if (!/^p\d$/.test(e.data('label') || '')) out.push(`tunnel ${e.id()} has no path label`);
          const s = e.source().position(), t = e.target().position(), m = e.midpoint();
          const c = { x: 2 * m.x - (s.x + t.x) / 2, y: 2 * m.y - (s.y + t.y) / 2 };
          for (const b of boxes) {
            if (b.id === e.source().id() || b.id === e.target().id()) continue;
            if (hits(s, c, t, b.bb)) out.push(`tunnel ${e.id()} (${e.data('label')}) runs behind ${b.id}`);
          }
        });
        return out;
      });
      if (bad.length) throw new Error(bad.join('; '));
    });

    await step(`${tag}: the switch panel of h1 fits, next to the switch, names its ports and kinds`, async () => {
      await page.evaluate((dpid) => window.satellite.showSwitch(dpid), want.h1);
      await page.waitForSelector('#ports-table tbody tr', { timeout: 5000 });
      await page.waitForSelector('#flows-table tbody tr', { timeout: 5000 });
      await until('rates in the ports table', 6000, () => page.$$eval('#ports-table tbody tr', (trs) => trs.some((tr) => /b\/s$/.test(tr.children[5].textContent))), 200);
      await new Promise((r) => setTimeout(r, 400)); // the centring animation
      const info = await page.evaluate((dpid) => {
        const title = document.querySelector('#panel-body h2').textContent;
        const rows = Array.from(document.querySelectorAll('#ports-table tbody tr')).map((tr) => Array.from(tr.children).map((td) => ({ text: td.textContent, cls: td.className, h: td.getBoundingClientRect().height })));
        const n = window.satellite.cy.getElementById('sw:' + dpid);
        const bb = n.renderedBoundingBox(), g = document.getElementById('graph').getBoundingClientRect();
        return { title, rows, inView: bb.x1 >= 0 && bb.x2 <= g.width && bb.y1 >= 0 && bb.y2 <= g.height };
      }, want.h1);
      if (!info.title.includes('h1')) throw new Error(`panel title ${info.title}`);
      if (!info.inView) throw new Error('the panel covers the selected switch');
      const empty = info.rows.filter((r) => !r[2].text);
      if (empty.length) throw new Error(`kind empty for ports ${empty.map((r) => r[1].text)}`);
      const local = info.rows.find((r) => r[0].text === 'LOCAL');
      if (local && /state-down/.test(local[3].cls)) throw new Error(`LOCAL is shown as a red down: ${local[3].text}`);
      // one line per row: names and numbers never wrap
      const lineH = Math.min(...info.rows.map((r) => r[1].h));
      const tall = info.rows.filter((r) => r[1].h > lineH * 1.5);
      if (tall.length) throw new Error(`wrapped rows: ${tall.map((r) => r[1].text)}`);
      await shot(page, `switch-panel-${tag}`);
      await fits(page, 'switch panel', '#panel');
      await page.click('#ports-table tbody tr:nth-child(2)');
      await page.waitForSelector('#sw-port-chart-box .chart', { timeout: 8000 });
      await new Promise((r) => setTimeout(r, 300));
      await fits(page, 'switch panel with port charts', '#panel');
      await page.$eval('#sw-port-charts', (e) => e.scrollIntoView());
      await shot(page, `switch-panel-charts-${tag}`);
    });

    await step(`${tag}: the host panel names the interface and its network`, async () => {
      await page.evaluate((mac) => window.satellite.showHost(mac), want.host);
      const t = await page.evaluate(() => ({ iface: document.getElementById('host-iface').textContent, net: document.getElementById('host-network').textContent, at: document.querySelector('#panel-body dl').textContent }));
      if (t.iface !== want.iface || t.net !== want.network) throw new Error(`host panel: ${JSON.stringify(t)}`);
      if (dpidRe.test(t.at)) throw new Error(`host panel shows a dpid: ${t.at}`);
      await shot(page, `host-panel-${tag}`);
      await fits(page, 'host panel', '#panel');
    });

    await step(`${tag}: the link panel names both ends and charts rx and tx of each`, async () => {
      const id = await page.evaluate(() => window.satellite.cy.edges('.link.direct').first().id());
      await page.evaluate((id) => window.satellite.showLink(id), id);
      await page.waitForSelector('#panel .chart', { timeout: 8000 });
      await new Promise((r) => setTimeout(r, 300));
      const text = await page.$eval('#panel-body', (e) => e.textContent);
      if (dpidRe.test(text)) throw new Error('the link panel shows a dpid');
      await shot(page, `link-panel-${tag}`);
      await fits(page, 'link panel', '#panel');
    });

    await step(`${tag}: the tunnel panel lists and charts every path between h1 and h3`, async () => {
      const id = await page.evaluate(([a, b]) => {
        const e = window.satellite.cy.edges('.tunnel').filter((e) => {
          const s = e.source().data('dpid'), t = e.target().data('dpid');
          return (s === a && t === b) || (s === b && t === a);
        }).first();
        return e.id();
      }, [want.h1, want.h3]);
      await page.evaluate((id) => window.satellite.showLink(id), id);
      await until('4 paths in the probe table', 8000, () => page.$$eval('#link-probes tbody tr', (trs) => trs.length >= 4));
      await until('a chart per path', 8000, () => page.$$eval('#probe-charts .charts', (cs) => cs.length >= 4 && cs.every((c) => c.querySelector('.chart'))));
      await new Promise((r) => setTimeout(r, 300));
      const text = await page.$eval('#panel-body', (e) => e.textContent);
      if (dpidRe.test(text)) throw new Error('the tunnel panel shows a dpid');
      await shot(page, `tunnel-panel-${tag}`);
      await fits(page, 'tunnel panel', '#panel');
      await page.$eval('#probe-charts', (e) => e.scrollIntoView());
      await shot(page, `tunnel-panel-charts-${tag}`);
    });

    await step(`${tag}: the metrics page charts h1's vm1 with names, labels fitting`, async () => {
      await page.goto(base + `/ui/metrics?key=${encodeURIComponent('port/' + want.h1 + '/1')}&range=15m`);
      await page.waitForSelector('#m-charts .chart', { timeout: 10000 });
      await new Promise((r) => setTimeout(r, 500));
      const title = await page.$eval('#m-title', (e) => e.textContent);
      const sel = await page.$eval('#m-switch', (e) => e.options[e.selectedIndex].textContent);
      if (!title.includes('h1') || !sel.startsWith('h1')) throw new Error(`title ${title}, switch ${sel}`);
      await shot(page, `metrics-${tag}`);
      await fits(page, 'metrics');
    });

    await step(`${tag}: a tunnel's probe page charts every path, without port or flow pickers`, async () => {
      await page.goto(base + `/ui/metrics?key=${encodeURIComponent('probe/' + want.h1 + '/' + want.h3 + '/1')}&range=15m`);
      await until('a chart per path', 10000, () => page.$$eval('#m-charts .probe-path', (cs) => cs.length >= 4 && cs.every((c) => c.querySelector('.chart'))));
      await new Promise((r) => setTimeout(r, 500));
      const pickers = await page.$eval('#m-pickers', (e) => getComputedStyle(e).display !== 'none' && !e.hidden);
      if (pickers) throw new Error('the probe page offers port and flow pickers');
      const heads = await page.$$eval('#m-charts h3', (hs) => hs.map((h) => h.textContent));
      if (heads.some((h) => dpidRe.test(h)) || !heads.some((h) => h.includes('h1'))) throw new Error(`chart headings ${heads}`);
      await shot(page, `probe-${tag}`);
      await fits(page, 'probe page');
    });

    await step(`${tag}: the alerts page shows one alert for the cut link, named, with the rule's description`, async () => {
      await page.goto(base + '/ui/alerts');
      await until('the link-cut alert', 10000, () => page.$$eval('#a-active tbody tr', (trs) => trs.some((tr) => tr.dataset.rule === 'link-cut')));
      const rows = await page.$$eval('#a-active tbody tr', (trs) => trs.filter((tr) => tr.dataset.rule === 'link-cut').map((tr) => tr.textContent));
      if (rows.length !== 1) throw new Error(`${rows.length} alerts for one cut link: ${rows}`);
      if (!rows[0].includes(want.description) || !rows[0].includes('h1') || !rows[0].includes('h2') || dpidRe.test(rows[0])) throw new Error(`alert row: ${rows[0]}`);
      // one time format: UTC, to the second, in the tables and the status
      const times = await page.$$eval('#a-active td:nth-child(7), #a-history td.t', (tds) => tds.map((t) => t.textContent));
      const status = await page.$eval('#a-status', (e) => e.textContent);
      if (times.some((t) => !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(t)) || !/\d\d:\d\d:\d\d UTC$/.test(status)) throw new Error(`times ${times} / ${status}`);
      await shot(page, `alerts-${tag}`);
      await fits(page, 'alerts');
    });

    await step(`${tag}: the events page names switches and ports, in severity colours`, async () => {
      await page.goto(base + '/ui/events');
      await page.waitForSelector('#conn[data-state="live"]', { timeout: 10000 });
      let bad = [];
      await until('the rendered rows renamed', 5000, async () => {
        bad = await page.$$eval('#ev-body tr', (trs, re) => trs.map((tr) => tr.textContent).filter((t) => new RegExp(re).test(t)), dpidRe.source);
        return bad.length === 0;
      }).catch((e) => { throw new Error(`${e.message}: ${bad.length} rows with a dpid, such as ${bad.slice(0, 3).join(' | ')}`); });
      const rows = await page.$$eval('#ev-body tr', (trs) => trs.map((tr) => ({ kind: tr.querySelector('.badge').textContent, cls: tr.querySelector('.badge').className, text: tr.textContent })));
      const link = rows.find((r) => r.kind === 'link-down');
      if (!link || !/sev-critical/.test(link.cls)) throw new Error(`link-down row ${JSON.stringify(link)}`);
      const up = rows.find((r) => /-(up|connect)$/.test(r.kind));
      if (up && !/sev-ok/.test(up.cls)) throw new Error(`${up.kind} is not green: ${up.cls}`);
      const raw = rows.filter((r) => dpidRe.test(r.text));
      if (raw.length) throw new Error(`${raw.length} events show a raw dpid, first: ${raw[0].text}`);
      await shot(page, `events-${tag}`);
      await fits(page, 'events');
    });
  }

  await step('a dead tunnel path is drawn the same live and after a reload', async () => {
    await page.setViewportSize(sizes[0]);
    await page.goto(base + '/ui/topology');
    await ready();
    await samePlaces('loaded again after every page');
    await page.check('#show-tunnels');
    const look = () => page.evaluate(([a, b]) => {
      const out = {};
      window.satellite.cy.edges('.tunnel').forEach((e) => {
        const s = e.source().data('dpid'), t = e.target().data('dpid');
        if (!((s === a && t === b) || (s === b && t === a)) || e.data('label') !== 'p2') return;
        out[e.id()] = { color: e.style('line-color').replace(/\s/g, ''), line: e.style('line-style'), width: e.style('width'), dead: e.hasClass('down') || e.hasClass('probe-down') };
      });
      return out;
    }, [want.h1, want.h3]);
    const r = await fetch(`${control}/cut-path?a=1&b=3&path=2`, { method: 'POST' });
    if (!r.ok) throw new Error(`cut-path: ${r.status} ${await r.text()}`);
    let live;
    await until('path 2 of h1-h3 dead on the page', 20000, async () => {
      live = await look();
      const v = Object.values(live);
      return v.length > 0 && v.every((x) => x.dead);
    }, 200);
    await new Promise((r) => setTimeout(r, 2500)); // the probes' and LLDP's verdicts settle
    live = await look();
    await shot(page, 'tunnel-path-dead-live');
    await page.reload();
    await ready();
    await page.check('#show-tunnels');
    let reloaded;
    await until('the same drawing after the reload', 8000, async () => {
      reloaded = await look();
      return JSON.stringify(reloaded) === JSON.stringify(live);
    }, 200).catch((e) => { throw new Error(`${e.message}: live ${JSON.stringify(live)}, after the reload ${JSON.stringify(reloaded)}`); });
    const v = Object.values(live);
    if (!v.every((x) => x.color === 'rgb(214,43,43)' && x.line === 'dashed')) throw new Error(`a dead path is not red and dashed: ${JSON.stringify(live)}`);
    console.log('dead path: ' + JSON.stringify(live));
    await shot(page, 'tunnel-path-dead-reloaded');
  });

  if (errors.length) throw new Error('JavaScript errors in the pages: ' + errors.join('; '));
} catch (e) {
  failed = true;
  console.log('FAIL: ' + (e.stack || e));
} finally {
  fs.writeFileSync(path.join(out, 'browser-console.log'), consoleLog.join('\n') + '\n');
  await close();
}
process.exit(failed ? 1 : 0);
