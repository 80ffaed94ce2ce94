// login.e2e.mjs: a browser without a cookie is sent to the login page; a
// wrong token is refused there; a viewer's token signs in (an HttpOnly,
// SameSite=Strict cookie), the stream goes live with it, and the alerts
// page is read-only (no form, no edit or delete buttons); signing out
// ends it; an operator gets the form and the buttons.
import fs from 'node:fs';
import path from 'node:path';
import { launch, env, watch, until, step } from './lib.mjs';

const base = env('SATELLITE_URL');
const out = env('SATELLITE_ARTIFACTS');
const viewer = env('SATELLITE_VIEWER_TOKEN');
const operator = env('SATELLITE_OPERATOR_TOKEN');

const { context, close } = await launch();
const consoleLog = [];
let failed = false;
try {
  const page = await context.newPage();
  const errors = watch(page, 'login', consoleLog);

  await step('a page without a cookie sends the browser to the login', async () => {
    await page.goto(`${base}/ui/alerts`);
    await page.waitForSelector('input#token');
    const u = new URL(page.url());
    if (u.pathname !== '/ui/login' || u.searchParams.get('next') !== '/ui/alerts') throw new Error(`at ${page.url()}`);
  });

  await step('a wrong token is refused on the login page', async () => {
    await page.fill('#token', 'sat_not-a-token');
    await page.click('#login');
    await page.waitForSelector('#login-error');
    const jar = await context.cookies();
    if (jar.length) throw new Error(`cookies after a failed login: ${JSON.stringify(jar)}`);
  });

  await step('a viewer signs in: HttpOnly SameSite=Strict cookie, the stream is live', async () => {
    await page.fill('#token', viewer);
    await page.click('#login');
    await page.waitForURL(`${base}/ui/alerts`);
    const jar = await context.cookies();
    const c = jar.find((x) => x.name === 'satellite_token');
    if (!c || !c.httpOnly || c.sameSite !== 'Strict') throw new Error(`cookie ${JSON.stringify(jar)}`);
    const visible = await page.evaluate(() => document.cookie);
    if (visible.includes('satellite_token')) throw new Error('the page script can read the token');
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 10000 });
    const who = await page.textContent('#whoami');
    if (!who.includes('viewer')) throw new Error(`header says ${who}`);
  });

  await step('the alerts page is read-only for a viewer', async () => {
    await page.waitForSelector('#a-rules-table tr[data-rule="e2e-rule"]', { timeout: 10000 });
    if (await page.$('#rule-form')) throw new Error('the rule form is shown to a viewer');
    await page.waitForSelector('#read-only');
    const buttons = await page.$$eval('#a-rules-table button', (bs) => bs.map((b) => b.textContent));
    if (buttons.length) throw new Error(`buttons in the rules table: ${buttons}`);
    const cell = await page.textContent('#a-rules-table tr[data-rule="e2e-rule"] td:last-child');
    if (cell.trim() !== 'read-only') throw new Error(`last cell says ${cell}`);
    await page.screenshot({ path: path.join(out, 'viewer-alerts.png') });
  });

  await step('signing out ends the session', async () => {
    await page.click('#signout');
    await page.waitForSelector('input#token');
    const jar = await context.cookies();
    if (jar.some((x) => x.name === 'satellite_token')) throw new Error('the cookie is still there');
    await page.goto(`${base}/ui/topology`);
    await page.waitForSelector('input#token');
  });

  await step('an operator gets the rule form and the buttons', async () => {
    await page.goto(`${base}/ui/login?next=/ui/alerts`);
    await page.fill('#token', operator);
    await page.click('#login');
    await page.waitForURL(`${base}/ui/alerts`);
    await page.waitForSelector('#rule-form');
    await until('edit buttons', 10000, () => page.$$eval('#a-rules-table tr[data-rule="e2e-rule"] button', (bs) => bs.length === 2), 100);
  });

  if (errors.length) throw new Error('JavaScript errors in the pages: ' + errors.join('; '));
} catch (e) {
  failed = true;
  console.log('FAIL: ' + (e.stack || e));
} finally {
  fs.appendFileSync(path.join(out, 'browser-console.log'), consoleLog.join('\n') + '\n');
  await close();
}
process.exit(failed ? 1 : 0);
