// topology.e2e.mjs: the topology and events pages against Satellite on
// an OVS lab (started by e2e_test.go, which passes what to expect).
import fs from 'node:fs';
import path from 'node:path';
import { launch, env, watch, until, step } from './lib.mjs';

const base = env('SATELLITE_URL');
const control = env('SATELLITE_CONTROL');
const out = env('SATELLITE_ARTIFACTS');
const want = JSON.parse(env('SATELLITE_EXPECT'));
const RED = 'rgb(214,43,43)';

const { context, close } = await launch();
const consoleLog = [];
let failed = false;
try {
  const page = await context.newPage();
  const errors = watch(page, 'topology', consoleLog);

  await step('the topology page loads and its stream goes live', async () => {
    await page.goto(base + '/ui/topology');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 10000 });
  });

  await step(`it shows ${want.switches} switches, ${want.links} links, ${want.tunnels} tunnels and ${want.hosts} hosts`, async () => {
    let seen;
    await until('the counts and the graph', 15000, async () => {
      seen = await page.evaluate(() => {
        const cy = window.satellite.cy;
        const n = (id) => Number(document.getElementById(id).textContent);
        return {
          switches: n('n-switches'), links: n('n-links'), tunnels: n('n-tunnels'), hosts: n('n-hosts'), down: n('n-down'),
          graphSwitches: cy.nodes('.switch').length, graphLinks: cy.edges('.link.direct.up').length,
          graphTunnels: cy.edges('.link.tunnel.up').length, graphHosts: cy.nodes('.host:visible').length,
        };
      });
      return seen.switches === want.switches && seen.links === want.links && seen.tunnels === want.tunnels &&
        seen.hosts === want.hosts && seen.down === 0 && seen.graphSwitches === want.switches &&
        seen.graphLinks === want.links && seen.graphTunnels === want.tunnels && seen.graphHosts === want.hosts ? seen : false;
    });
    console.log('page counts: ' + JSON.stringify(seen));
    await page.screenshot({ path: path.join(out, 'topology.png') });
  });

  await step('link width and colour follow the utilisation of the busier end', async () => {
    const [a, b] = want.cutEdge.slice(3).split('|');
    const style = (util) => page.evaluate(([a, b, id, util]) => {
      const end = (s) => { const [dpid, port] = s.split('/'); return { key: 'port/' + s, dpid: dpid, port: Number(port), tx_util: util, rx_util: 0 }; };
      window.satellite.applyRates({ type: 'metrics', ports: [end(a), Object.assign(end(b), { tx_util: util / 2 })] });
      const e = window.satellite.cy.getElementById(id);
      return { util: e.data('util'), width: parseFloat(e.style('width')), color: e.style('line-color').replace(/\s/g, '') };
    }, [a, b, want.cutEdge, util]);
    const idle = await style(0), busy = await style(85), warm = await style(60);
    console.log('link styles: idle ' + JSON.stringify(idle) + ', 60 % ' + JSON.stringify(warm) + ', 85 % ' + JSON.stringify(busy));
    if (busy.util !== 85 || !(busy.width > idle.width + 5)) throw new Error(`85 % is not wider: ${JSON.stringify([idle, busy])}`);
    if (busy.color !== 'rgb(224,96,0)' || warm.color !== 'rgb(201,164,0)' || idle.color !== 'rgb(59,154,90)') throw new Error(`colours ${idle.color} ${warm.color} ${busy.color}`);
    await style(0); // back to the real (idle) rates
  });

  await step('a click on a switch shows its ports with rates and its flow table with owners', async () => {
    const at = await page.evaluate((dpid) => {
      const n = window.satellite.cy.getElementById('sw:' + dpid);
      const p = n.renderedPosition();
      const r = document.getElementById('graph').getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    }, want.switch);
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector('#ports-table tbody tr', { timeout: 5000 });
    await page.waitForSelector('#flows-table tbody tr', { timeout: 5000 });
    const names = await page.$$eval('#ports-table tbody tr', (trs) => trs.map((tr) => tr.children[1].textContent));
    for (const n of want.switchPorts) if (!names.includes(n)) throw new Error(`port ${n} is not in the panel (${names})`);
    const owners = await page.$$eval('#flows-table tbody tr', (trs) => trs.map((tr) => tr.children[2].textContent));
    if (!owners.includes('discovery:1') || !owners.some((o) => o.startsWith('api:'))) throw new Error(`flow owners ${owners}`);
    await until('a live rate on vm1', 8000, async () => {
      const rows = await page.$$eval('#ports-table tbody tr', (trs) => trs.map((tr) => [tr.children[1].textContent, tr.children[5].textContent]));
      return rows.some(([n, rx]) => n === 'vm1' && /[1-9]/.test(rx) && rx.endsWith('b/s'));
    }, 200);
    await page.screenshot({ path: path.join(out, 'switch-panel.png') });
  });

  // the events page, open in a second tab while the link is cut
  const events = await context.newPage();
  const evErrors = watch(events, 'events', consoleLog);
  await events.goto(base + '/ui/events');
  await events.waitForSelector('#conn[data-state="live"]', { timeout: 10000 });

  await step('cutting a link turns it red within 2 s, without a reload', async () => {
    await page.evaluate(() => { window.__sameDocument = true; });
    await until('the link up before the cut', 5000, () => page.evaluate((id) => window.satellite.edgeState(id), want.cutEdge).then((s) => s === 'up'));
    const t0 = Date.now();
    const r = await fetch(`${control}/cut-link?a=${want.cutA}&b=${want.cutB}`, { method: 'POST' });
    if (!r.ok) throw new Error(`cut-link: ${r.status} ${await r.text()}`);
    const cmdMs = Date.now() - t0;
    await until('the edge red', 2500, () => page.evaluate((id) => {
      const e = window.satellite.cy.getElementById(id);
      return e.nonempty() && window.satellite.edgeState(id) === 'down' && e.style('line-color').replace(/\s/g, '');
    }, want.cutEdge).then((c) => c === RED), 10);
    const ms = Date.now() - t0;
    console.log(`timing: link ${want.cutEdge} red in the page ${ms} ms after the cut began (the cut command itself took ${cmdMs} ms)`);
    if (ms > 2000) throw new Error(`the link turned red after ${ms} ms, want within 2000`);
    if (!(await page.evaluate(() => window.__sameDocument === true))) throw new Error('the page reloaded');
    const down = await page.$eval('#n-down', (e) => Number(e.textContent));
    if (down !== 1) throw new Error(`${down} links counted down, want 1`);
    await page.screenshot({ path: path.join(out, 'topology-link-cut.png') });
  });

  await step('the events page logged the link and its ports going down', async () => {
    await until('link-down and port-down rows', 3000, () => events.$$eval('#ev-body tr', (trs) => {
      const kinds = trs.map((tr) => tr.dataset.kind);
      return kinds.includes('link-down') && kinds.includes('port-down');
    }));
    await events.screenshot({ path: path.join(out, 'events.png') });
  });

  await step('a reload keeps the cut link red, and the reloaded events page lists the link-down', async () => {
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
    await until('the edge red after the reload', 5000, () => page.evaluate((id) => {
      const e = window.satellite.cy.getElementById(id);
      return e.nonempty() && window.satellite.edgeState(id) === 'down' && e.style('line-color').replace(/\s/g, '');
    }, want.cutEdge).then((c) => c === RED));
    const down = await page.$eval('#n-down', (e) => Number(e.textContent));
    if (down !== 1) throw new Error(`after the reload ${down} links counted down, want 1`);
    await events.reload();
    await events.waitForSelector('#conn[data-state="live"]', { timeout: 10000 });
    const rows = await events.$$eval('#ev-body tr', (trs) => trs.map((tr) => [tr.querySelector('.badge').textContent, tr.querySelector('.badge').className]));
    const ld = rows.find(([k]) => k === 'link-down');
    if (!ld) throw new Error(`no link-down among the reloaded events: ${rows.map(([k]) => k)}`);
    if (!ld[1].includes('sev-critical')) throw new Error(`the link-down row is not coloured critical: ${ld[1]}`);
    await page.screenshot({ path: path.join(out, 'topology-link-cut-reloaded.png') });
  });

  await step('a restored link turns back to up', async () => {
    const r = await fetch(`${control}/restore-link?a=${want.cutA}&b=${want.cutB}`, { method: 'POST' });
    if (!r.ok) throw new Error(`restore-link: ${r.status} ${await r.text()}`);
    const ms = await until('the edge up again', 10000, () => page.evaluate((id) => window.satellite.edgeState(id), want.cutEdge).then((s) => s === 'up'), 50);
    console.log(`timing: restored link up in the page after ${ms} ms (LLDP rediscovery)`);
    await until('the events page logged it', 3000, () => events.$$eval('#ev-body tr', (trs) => trs.some((tr) => tr.dataset.kind === 'link-up')));
  });

  const all = errors.concat(evErrors);
  if (all.length) throw new Error('JavaScript errors in the pages: ' + all.join('; '));
} catch (e) {
  failed = true;
  console.log('FAIL: ' + (e.stack || e));
} finally {
  fs.writeFileSync(path.join(out, 'browser-console.log'), consoleLog.join('\n') + '\n');
  await close();
}
process.exit(failed ? 1 : 0);
