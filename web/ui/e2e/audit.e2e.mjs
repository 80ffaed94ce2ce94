// audit.e2e.mjs: the flow audit on the topology page against Satellite on
// an OVS lab (h1, h2) where a flow was deleted on h2 and a foreign one
// added on h1, started by audit_test.go.
import path from 'node:path';
import { launch, env, watch, until, step } from './lib.mjs';

const base = env('SATELLITE_URL');
const out = env('SATELLITE_ARTIFACTS');
const want = JSON.parse(env('SATELLITE_EXPECT'));

const { context, close } = await launch();
const consoleLog = [];
let failed = false;
try {
  const page = await context.newPage();
  const errors = watch(page, 'audit', consoleLog);

  await step('the topology page loads and both switches get a drift badge', async () => {
    await page.goto(base + '/ui/topology');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
    await until('2 switches with a drift badge', 15000, () => page.evaluate(() => window.satellite.cy &&
      window.satellite.cy.nodes('.switch.drift').length === 2));
    const border = await page.evaluate((id) => window.satellite.cy.$id('sw:' + id).style('border-color'), want.h1);
    if (border !== 'rgb(214,43,43)') throw new Error('the drift badge is ' + border);
  });

  await step('h1\'s panel lists the foreign flow in its Audit section', async () => {
    const at = await page.evaluate((dpid) => {
      const n = window.satellite.cy.getElementById('sw:' + dpid);
      const p = n.renderedPosition();
      const r = document.getElementById('graph').getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    }, want.h1);
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector('#audit-table tbody tr', { timeout: 10000 });
    const rows = await page.$$eval('#audit-table tbody tr', (trs) => trs.map((tr) => [tr.children[0].textContent, tr.children[3].textContent]));
    if (!rows.some(([k, m]) => k === 'foreign' && m.includes('udp_dst=9999'))) throw new Error('audit rows: ' + JSON.stringify(rows));
    const summary = await page.textContent('#sw-audit-summary');
    if (!summary.includes('1 foreign')) throw new Error('summary: ' + summary);
    await page.screenshot({ path: path.join(out, 'audit-panel.png') });
  });

  if (errors.length) throw new Error('JavaScript errors:\n' + errors.join('\n'));
} catch (e) {
  failed = true;
  console.error(e.stack || String(e));
} finally {
  if (consoleLog.length) console.log(consoleLog.join('\n'));
  await close();
}
process.exit(failed ? 1 : 0);
