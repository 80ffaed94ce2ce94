// alerts.e2e.mjs: the metrics page charts a port with live traffic; the
// alerts page shows validation errors next to the field, and a rule
// created in it fires and shows as a firing alert and in the history.
import fs from 'node:fs';
import path from 'node:path';
import { launch, env, watch, until, step } from './lib.mjs';

const base = env('SATELLITE_URL');
const out = env('SATELLITE_ARTIFACTS');
const want = JSON.parse(env('SATELLITE_EXPECT'));
const portKey = `port/${want.switch}/1`;
const rule = 'e2e-vm1-traffic';

const { context, close } = await launch();
const consoleLog = [];
let failed = false;
try {
  const page = await context.newPage();
  const errors = watch(page, 'metrics', consoleLog);

  await step('the metrics page charts a port with its history and live tail', async () => {
    await page.goto(`${base}/ui/metrics?key=${encodeURIComponent(portKey)}&range=5m`);
    await page.waitForSelector(`body[data-charted="${portKey}"]`, { timeout: 15000 });
    const charts = await page.$$eval('#m-charts .chart canvas', (cs) => cs.length);
    if (charts !== 3) throw new Error(`${charts} charts, want 3 (bits, packets, drops and errors)`);
    const sel = await page.$eval('#m-port', (s) => s.value);
    if (sel !== portKey) throw new Error(`the port select shows ${sel}, want ${portKey}`);
    // live points arrive from the stream (the collector polls every second)
    const points = () => page.$eval('#m-charts .chart', (c) => Number(c.dataset.points));
    const before = await points();
    await until('live points on the chart', 8000, () => points().then((n) => n >= before + 2), 200);
    console.log(`metrics chart: ${before} points of history, then live points`);
    await page.screenshot({ path: path.join(out, 'metrics.png') });
  });

  const alerts = await context.newPage();
  const aErrors = watch(alerts, 'alerts', consoleLog);
  await step('the alerts page shows the API\'s validation errors next to the field', async () => {
    await alerts.goto(`${base}/ui/alerts`);
    await alerts.waitForSelector('#conn[data-state="live"]', { timeout: 10000 });
    await until('the metric list', 5000, () => alerts.$$eval('#rf-metric option', (o) => o.length > 5));
    await alerts.fill('#rf-name', 'bad name!');
    await alerts.selectOption('#rf-metric', 'port_rx_pps');
    await alerts.fill('#rf-value', '1');
    await alerts.click('#rf-submit');
    await alerts.waitForSelector('.f[data-field="name"].invalid', { timeout: 5000 });
    const nameErr = await alerts.$eval('.f[data-field="name"] .err', (e) => e.textContent);
    if (!/letters, digits/.test(nameErr)) throw new Error(`name error: ${nameErr}`);
    await alerts.fill('#rf-name', rule);
    await alerts.fill('#rf-value', 'lots');
    await alerts.click('#rf-submit');
    await until('a value error', 5000, () => alerts.$eval('.f[data-field="value"] .err', (e) => e.textContent).then((t) => t.length > 0));
    if (await alerts.$('.f[data-field="name"].invalid')) throw new Error('the name error stayed after the name was fixed');
    await alerts.screenshot({ path: path.join(out, 'alerts-validation.png') });
  });

  await step('a rule created in the page fires and shows in the alerts page', async () => {
    await alerts.fill('#rf-dpid', want.switch);
    await alerts.fill('#rf-port', '1');
    await alerts.selectOption('#rf-op', '>');
    await alerts.fill('#rf-value', '1');
    await alerts.fill('#rf-for', '1s');
    await alerts.selectOption('#rf-severity', 'critical');
    await alerts.fill('#rf-description', 'vm1 of h1 sends traffic (the test pings)');
    const t0 = Date.now();
    await alerts.click('#rf-submit');
    await alerts.waitForSelector(`#a-rules-table tr[data-rule="${rule}"]`, { timeout: 5000 });
    if (await alerts.$('.f.invalid')) throw new Error('the form still shows an error after a good rule');
    await alerts.waitForSelector(`#a-active tr[data-rule="${rule}"][data-state="firing"]`, { timeout: 20000 });
    console.log(`timing: rule created to firing in the page: ${Date.now() - t0} ms`);
    await alerts.waitForSelector(`#a-history tr[data-rule="${rule}"][data-kind="firing"]`, { timeout: 5000 });
    const firing = await alerts.$eval('#a-firing', (e) => Number(e.textContent));
    if (firing < 1) throw new Error(`firing count ${firing}`);
    await alerts.screenshot({ path: path.join(out, 'alerts-firing.png') });
  });

  await step('editing the rule in the page (a threshold it cannot reach) resolves its alert', async () => {
    await alerts.click(`#a-rules-table tr[data-rule="${rule}"] button:not(.danger)`);
    if (!(await alerts.$eval('#rf-name', (e) => e.disabled && e.value))) throw new Error('the form is not editing the rule');
    if ((await alerts.$eval('#rf-dpid', (e) => e.value)) !== want.switch) throw new Error('the form lost the selector');
    await alerts.fill('#rf-value', '1M');
    await alerts.click('#rf-submit');
    let seen = '';
    try {
      await until('the new condition in the rule list', 5000, async () => {
        seen = await alerts.$eval(`#a-rules-table tr[data-rule="${rule}"] td:nth-child(4)`, (e) => e.textContent);
        return /^> 1(\.0)? ?M$/.test(seen);
      });
    } catch (e) {
      const formErr = await alerts.$$eval('#rule-form .err', (es) => es.map((x) => x.textContent).filter(Boolean).join('; '));
      throw new Error(`${e.message}; the rule list shows "${seen}", the form says "${formErr}"`);
    }
    await alerts.waitForSelector(`#a-history tr[data-rule="${rule}"][data-kind="resolved"]`, { timeout: 15000 });
    await alerts.waitForSelector(`#a-active tr[data-rule="${rule}"]`, { state: 'detached', timeout: 5000 });
  });

  await step('the rule can be deleted from the page', async () => {
    const del = `#a-rules-table tr[data-rule="${rule}"] button.danger`;
    await alerts.click(del);
    await alerts.click(del); // "Really delete?"
    await alerts.waitForSelector(`#a-rules-table tr[data-rule="${rule}"]`, { state: 'detached', timeout: 5000 });
  });

  const all = errors.concat(aErrors);
  if (all.length) throw new Error('JavaScript errors in the pages: ' + all.join('; '));
} catch (e) {
  failed = true;
  console.log('FAIL: ' + (e.stack || e));
} finally {
  fs.appendFileSync(path.join(out, 'browser-console.log'), consoleLog.join('\n') + '\n');
  await close();
}
process.exit(failed ? 1 : 0);
