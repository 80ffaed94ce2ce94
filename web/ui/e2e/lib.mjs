// lib.mjs: what the browser scripts share. Debian's Chromium, launched by
// playwright-core with a new empty profile; never a downloaded browser.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; run these scripts through go test (web/ui/e2e)`);
  return v;
};

export async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'satellite-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  // signed in with $SATELLITE_TOKEN, as the login page would have done
  if (process.env.SATELLITE_TOKEN && process.env.SATELLITE_URL) {
    await context.addCookies([{ name: 'satellite_token', value: process.env.SATELLITE_TOKEN, url: process.env.SATELLITE_URL,
      httpOnly: true, sameSite: 'Strict' }]);
  }
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// watch collects a page's JavaScript errors and console errors.
export function watch(page, name, log) {
  const errors = [];
  page.on('pageerror', (e) => { errors.push(`${name}: ${e.message}`); });
  page.on('console', (m) => {
    if (m.type() === 'error') log.push(`${name} console error: ${m.text()}`);
  });
  return errors;
}

export async function until(what, limitMs, fn, everyMs = 25) {
  const start = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return Date.now() - start;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > limitMs) throw new Error(`${what}: not within ${limitMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

let steps = 0;
export async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
  } catch (e) {
    console.log(`not ok ${++steps} - ${name}: ${e.stack || e}`);
    throw e;
  }
  console.log(`ok ${++steps} - ${name} (${Date.now() - t0} ms)`);
}
