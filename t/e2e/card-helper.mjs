// The real card helper (tools/card-helper, SoftHSM2 behind it) in headless
// Chromium. Run by t/web/card-helper.t, which starts httpd and the helper.
//   JPKI_E2E_MODE=login  JPKI_E2E_BASE: protected page -> login page -> helper
//                        -> mod_jpki -> protected page; prints the env JSON.
//   JPKI_E2E_MODE=relay  JPKI_E2E_URL: the phishing page; prints what the
//                        page got from the helper.
// Prints one line "RESULT <json>".
import { chromium } from 'playwright-core';

const mode = process.env.JPKI_E2E_MODE;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--ignore-certificate-errors'],
  timeout: 30000,
});
const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
const page = await ctx.newPage();
page.setDefaultTimeout(30000);
const problems = [];
page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
let result;
try {
  if (mode === 'login') {
    await page.goto(process.env.JPKI_E2E_BASE + '/protected/env');
    await page.waitForSelector('#jpki[data-ready="true"]');
    await Promise.all([page.waitForURL('**/protected/env'), page.click('#login-button')]);
    result = { url: page.url(), env: JSON.parse(await page.locator('body').innerText()) };
  } else {
    await page.goto(process.env.JPKI_E2E_URL);
    await page.waitForSelector('#out[data-done="true"]');
    result = JSON.parse(await page.locator('#out').innerText());
  }
} catch (e) {
  result = { failed: String(e && e.stack ? e.stack : e), url: page.url(),
             text: (await page.locator('body').innerText().catch(() => '')).slice(0, 500) };
}
result.problems = problems;
console.log('RESULT ' + JSON.stringify(result));
await browser.close();
