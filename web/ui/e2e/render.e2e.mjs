// render.e2e.mjs: the topology page with a 1000-switch fabric. Measures
// (per page load) the time from navigation to a drawn graph, the page's
// own snapshot render time, the longest main-thread task, and the time
// until a burst of 100 link failures is red; fails if the page freezes.
import fs from 'node:fs';
import path from 'node:path';
import { launch, env, watch, until, step } from './lib.mjs';

const base = env('SATELLITE_URL');
const control = env('SATELLITE_CONTROL');
const out = env('SATELLITE_ARTIFACTS');
const want = JSON.parse(env('SATELLITE_EXPECT'));

const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const { context, close } = await launch();
const consoleLog = [];
const runs = [];
let failed = false;
try {
  for (let run = 1; run <= want.runs; run++) {
    const page = await context.newPage();
    const errors = watch(page, 'render', consoleLog);
    await page.addInitScript(() => {
      window.__long = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: 'longtask', buffered: true });
    });
    const r = {};
    await step(`run ${run}: ${want.switches} switches, ${want.links} links, ${want.hosts} hosts drawn`, async () => {
      const t0 = Date.now();
      // SATELLITE_CPUPROFILE=FILE: a CPU profile of the first load (Chrome DevTools format)
      const cdp = process.env.SATELLITE_CPUPROFILE && run === 1 ? await page.context().newCDPSession(page) : null;
      if (cdp) { await cdp.send('Profiler.enable'); await cdp.send('Profiler.setSamplingInterval', { interval: 200 }); await cdp.send('Profiler.start'); }
      await page.goto(base + '/ui/topology');
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60000 });
      r.readyMs = Date.now() - t0;
      if (cdp) fs.writeFileSync(process.env.SATELLITE_CPUPROFILE, JSON.stringify((await cdp.send('Profiler.stop')).profile));
      const c = await page.evaluate(() => ({
        renderMs: Number(document.body.dataset.renderMs),
        switches: window.satellite.cy.nodes('.switch').length,
        links: window.satellite.cy.edges('.link.direct.up').length,
        hosts: Number(document.getElementById('n-hosts').textContent),
        hostNodes: window.satellite.cy.nodes('.host').length,
        lod: window.satellite.lod(),
        nav: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
        timings: window.satellite.state.timings,
      }));
      Object.assign(r, { renderMs: c.renderMs, domContentLoadedMs: Math.round(c.nav) });
      for (const [k, v] of Object.entries(c.timings || {})) r[k + 'Ms'] = Math.round(v);
      if (c.switches !== want.switches || c.links !== want.links || c.hosts !== want.hosts) throw new Error(`graph ${JSON.stringify(c)}`);
      // level of detail: more than lod.switches switches are drawn without their hosts at the zoom that fits them
      if (!c.lod.on || c.hostNodes !== 0) throw new Error(`level of detail: ${JSON.stringify(c.lod)}, ${c.hostNodes} hosts drawn, want none`);
      // interactive: a round trip to the page's main thread is quick
      const p0 = Date.now();
      await page.evaluate(() => 1);
      r.evalMs = Date.now() - p0;
    });
    await step(`run ${run}: zoomed in on a switch, the hosts of the switches in view are drawn`, async () => {
      const t0 = Date.now();
      const sw = await page.evaluate(() => {
        const cy = window.satellite.cy, n = cy.nodes('.switch')[Math.floor(cy.nodes('.switch').length / 2)];
        cy.viewport({ zoom: window.satellite.lod().hostZoom * 1.5, pan: { x: 0, y: 0 } });
        cy.center(n);
        return n.id();
      });
      const drawn = await until('the hosts of the switch in view', 5000, () => page.evaluate(([sw, per]) => {
        const cy = window.satellite.cy;
        return cy.getElementById(sw).neighborhood('node.host').length === per && cy.nodes('.host').length;
      }, [sw, want.hostsPerSwitch]), 20).then(() => page.evaluate(() => window.satellite.cy.nodes('.host').length));
      r.zoomHostsMs = Date.now() - t0;
      r.zoomHostsDrawn = drawn;
      if (!(drawn > 0 && drawn < want.hosts)) throw new Error(`${drawn} hosts drawn zoomed in`);
      if (run === 1) await page.screenshot({ path: path.join(out, 'large-fabric-zoomed.png') });
      await page.evaluate(() => document.getElementById('fit').click());
    });
    await step(`run ${run}: 100 links failing at once are red without freezing`, async () => {
      const t0 = Date.now();
      const res = await fetch(`${control}/flap?n=100`, { method: 'POST' });
      const ids = await res.json();
      await until('100 red links', 5000, () => page.evaluate((ids) => ids.every((id) => window.satellite.edgeState(id) === 'down'), ids), 20);
      r.burstRedMs = Date.now() - t0;
      if (run === 1) await page.screenshot({ path: path.join(out, 'large-fabric-burst.png') });
      await fetch(`${control}/restore`, { method: 'POST' });
      await until('links back up', 10000, () => page.evaluate((ids) => ids.every((id) => window.satellite.edgeState(id) === 'up'), ids), 50);
      const long = await page.evaluate(() => window.__long);
      r.longestTaskMs = Math.round(Math.max(0, ...long));
      r.longTasks = long.length;
    });
    if (errors.length) throw new Error('JavaScript errors: ' + errors.join('; '));
    console.log(`run ${run}: ${JSON.stringify(r)}`);
    runs.push(r);
    await page.close();
  }
  const summary = {};
  for (const k of Object.keys(runs[0])) summary[k] = median(runs.map((r) => r[k]));
  console.log(`result (median of ${runs.length}): ${JSON.stringify(summary)}`);
  fs.writeFileSync(path.join(out, 'render.json'), JSON.stringify({ runs, median: summary }, null, 2) + '\n');
  if (summary.burstRedMs > 5000) throw new Error(`100 failed links took ${summary.burstRedMs} ms to show`);
  if (summary.longestTaskMs > 5000) throw new Error(`the page froze for ${summary.longestTaskMs} ms`);
} catch (e) {
  failed = true;
  console.log('FAIL: ' + (e.stack || e));
} finally {
  fs.writeFileSync(path.join(out, 'browser-console.log'), consoleLog.join('\n') + '\n');
  await close();
}
process.exit(failed ? 1 : 0);
