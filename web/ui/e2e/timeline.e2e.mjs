// timeline.e2e.mjs: the topology page's timeline against Satellite on an
// OVS lab (h1, h2) whose direct link was cut and restored, started by
// timeline_test.go.
import path from 'node:path';
import { launch, env, watch, until, step } from './lib.mjs';

const base = env('SATELLITE_URL');
const out = env('SATELLITE_ARTIFACTS');
const want = JSON.parse(env('SATELLITE_EXPECT'));

const { context, close } = await launch();
const consoleLog = [];
let failed = false;
// the state of the direct link's edge as the graph draws it
const linkState = (page) => page.evaluate(() => {
  for (const e of window.satellite.state.edges.values()) if (e.kind === 'direct') return window.satellite.edgeState(e.id);
  return null;
});
const back = (iso) => (Date.now() - Date.parse(iso)) / 1000;
try {
  const page = await context.newPage();
  const errors = watch(page, 'timeline', consoleLog);

  await step('the live page shows the link up and the timeline', async () => {
    await page.goto(base + '/ui/topology');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
    await page.waitForSelector('#timeline:not([hidden])', { timeout: 10000 });
    await until('the link drawn up', 15000, async () => (await linkState(page)) === 'up');
  });

  await step('dragged back to the cut: the link is down, the link-down listed', async () => {
    await page.evaluate((s) => window.satelliteTimeline.show(s), back(want.down));
    await until('the link drawn down', 10000, async () => (await linkState(page)) === 'down');
    const evs = await page.textContent('#tl-events');
    if (!evs.includes('link-down')) throw new Error('events of that moment: ' + evs);
    const when = await page.textContent('#tl-when');
    if (!/ ago\)/.test(when)) throw new Error('the time shown: ' + when);
    if (!(await page.evaluate(() => window.satellite.past()))) throw new Error('the graph is not in the past');
    await page.screenshot({ path: path.join(out, 'timeline-cut.png') });
  });

  await step('after the restore: up again', async () => {
    await page.evaluate((s) => window.satelliteTimeline.show(s), back(want.up));
    await until('the link drawn up', 10000, async () => (await linkState(page)) === 'up');
  });

  await step('Live: the live graph again', async () => {
    await page.evaluate((s) => window.satelliteTimeline.show(s), back(want.down));
    await until('the link drawn down', 10000, async () => (await linkState(page)) === 'down');
    await page.click('#tl-live');
    await until('back to live', 10000, async () => !(await page.evaluate(() => window.satellite.past())) && (await linkState(page)) === 'up');
    if ((await page.textContent('#tl-when')) !== 'live') throw new Error('not labelled live');
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
