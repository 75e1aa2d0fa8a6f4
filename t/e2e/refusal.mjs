// The refusal page (docs/errors.md "Refusal page") in Debian's headless
// Chromium, driven by playwright-core. Run by t/web/refusal.t:
//   JPKI_E2E_BASE   https://localhost:PORT of vhost jpki_refusal
//   JPKI_E2E_SHOTS  directory for screenshots (t/logs)
// A browser without a client certificate on a certificate-only location
// gets cert_missing; the page must show the code, the browser's language
// first, its style applied under its own CSP, and an ErrorDocument wins.
// Prints "CHECK <json {name, ok, detail}>" lines.
import { chromium } from 'playwright-core';

const BASE = process.env.JPKI_E2E_BASE;
const SHOTS = process.env.JPKI_E2E_SHOTS;
const check = (name, ok, detail = '') =>
  console.log('CHECK ' + JSON.stringify({ name, ok: !!ok, detail: String(detail).slice(0, 500) }));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--ignore-certificate-errors'],
  timeout: 30000,
});

async function visit(locale, path) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on('console', (m) => {
    // the refused document itself is reported as "Failed to load resource: 403"
    if (m.type() === 'error' && !/\/favicon\.ico$/.test(m.location().url || '') &&
        !(m.location().url === BASE + path && /status of 403/.test(m.text()))) {
      problems.push(m.text());
    }
  });
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  const res = await page.goto(BASE + path);
  return { ctx, page, res, problems };
}

const allProblems = [];
try {
  for (const [locale, lang] of [['ja-JP', 'ja'], ['en-US', 'en']]) {
    const { ctx, page, res, problems } = await visit(locale, '/tls-only/env');
    const code = await page.locator('#error-code').innerText();
    const first = await page.locator('main section').first().getAttribute('lang');
    const h1 = await page.locator('main section').first().locator('h1').innerText();
    check(`chromium ${lang}: the page shows the code`, res.status() === 403 && code === 'cert_missing',
          `${res.status()} ${code}`);
    check(`chromium ${lang}: ${lang === 'ja' ? 'Japanese' : 'English'} first`,
          first === lang && (lang === 'ja' ? h1 === '証明書が届きませんでした' : h1 === 'No certificate was received'),
          `${first} ${h1}`);
    // the inline style ran under the page's CSP (a blocked style leaves no border)
    const border = await page.locator('main').evaluate((el) => getComputedStyle(el).borderTopStyle);
    if (border !== 'solid') problems.push(`style not applied (border ${border})`);
    await page.screenshot({ path: `${SHOTS}/refusal-${lang}.png`, fullPage: true });
    allProblems.push(...problems);
    await ctx.close();
  }
  check('chromium: no console errors and no CSP violations', allProblems.length === 0,
        allProblems.join(' | '));
  {
    const { ctx, page, res } = await visit('ja-JP', '/errdoc/env');
    const text = await page.locator('body').innerText();
    check('chromium: the ErrorDocument is shown instead',
          res.status() === 403 && /the site's own refusal text/.test(text) &&
          (await page.locator('#error-code').count()) === 0, text);
    await ctx.close();
  }
} catch (e) {
  check('chromium: script', false, e && e.stack ? e.stack : e);
}
await browser.close();
