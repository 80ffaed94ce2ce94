// trace.e2e.mjs: the Trace form of the topology page against Satellite
// on an OVS lab with one virtual network (a1, a2, a3 on h1, h2, h3),
// started by trace_test.go.
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
  const errors = watch(page, 'trace', consoleLog);
  const graph = () => page.evaluate(() => {
    const cy = window.satellite.cy;
    return {
      path: cy.nodes('.trace-path').map((n) => n.data('dpid')).sort(),
      drop: cy.nodes('.trace-drop').map((n) => n.data('dpid')),
    };
  });
  const run = async (from, to) => {
    await page.fill('#trace-from', from);
    await page.fill('#trace-to', to);
    await page.click('#trace-run');
  };

  await step('the topology page loads with the three switches', async () => {
    await page.goto(base + '/ui/topology');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
    await until('3 switches in the graph', 15000, () => page.evaluate(() => window.satellite.cy && window.satellite.cy.nodes('.switch').length === 3));
  });

  await step('the Trace form opens and completes interface names', async () => {
    await page.click('#trace-toggle');
    await page.waitForSelector('#trace-form:not([hidden])');
    await until('a1 in the completion list', 5000, () => page.evaluate(() => [...document.querySelectorAll('#trace-names option')].some((o) => o.value === 'a1')));
  });

  await step('a1 -> a3 is delivered over GRE and h1, h3 are drawn as the path', async () => {
    await run('a1', 'a3');
    await page.waitForFunction(() => (document.getElementById('trace-verdict') || {}).textContent?.startsWith('delivered'), null, { timeout: 10000 });
    const hops = await page.locator('#trace-hops li').count();
    if (hops < 6) throw new Error(`only ${hops} hops listed`);
    const text = await page.textContent('#trace-hops');
    if (!text.includes('GRE underlay path 1 to h3')) throw new Error('the hops do not show the tunnel: ' + text);
    const g = await graph();
    if (JSON.stringify(g.path) !== JSON.stringify([want.h1, want.h3].sort()) || g.drop.length) throw new Error('graph: ' + JSON.stringify(g));
    await page.screenshot({ path: path.join(out, 'trace-delivered.png') });
  });

  await step('a1 -> 10.1.0.99 (nobody) is dropped and h1 turns red', async () => {
    await run('a1', '10.1.0.99');
    await page.waitForFunction(() => (document.getElementById('trace-verdict') || {}).textContent?.startsWith('dropped'), null, { timeout: 10000 });
    const drop = await page.textContent('#trace-drop');
    if (!drop.includes('no one owns')) throw new Error('drop reason: ' + drop);
    const g = await graph();
    if (JSON.stringify(g.drop) !== JSON.stringify([want.h1])) throw new Error('graph: ' + JSON.stringify(g));
    const color = await page.evaluate((id) => window.satellite.cy.$id('sw:' + id).style('background-color'), want.h1);
    if (color !== 'rgb(214,43,43)') throw new Error('the drop switch is ' + color);
    await page.screenshot({ path: path.join(out, 'trace-dropped.png') });
  });

  await step('an unknown interface shows the API\'s message', async () => {
    await run('nosuch', 'a3');
    await page.waitForSelector('#trace-error', { timeout: 10000 });
    const msg = await page.textContent('#trace-error');
    if (!msg.includes('unknown interface "nosuch"')) throw new Error('error: ' + msg);
    const g = await graph();
    if (g.path.length || g.drop.length) throw new Error('a failed trace left a path drawn: ' + JSON.stringify(g));
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
