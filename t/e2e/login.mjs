// End-to-end test of the mod_jpki login page in a real headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core; no browser is ever
// downloaded). Run by t/web/browser.t, which starts the test httpd and the
// software card helper and passes everything in the environment:
//   JPKI_E2E_BASE      https://localhost:PORT of the mod_ssl vhost
//   JPKI_PKI_DIR       the test PKI (t/pki/out)
//   JPKI_E2E_SHOTS     directory for screenshots (t/logs)
//   JPKI_E2E_ALICE     expected REMOTE_USER of auth-alice-1
//   JPKI_E2E_BOB       expected REMOTE_USER of auth-bob (signs in the card helper)
//   JPKI_E2E_CODES     space-separated error codes the page must map
//   JPKI_E2E_PHISH     https://localhost:PORT of vhost jpki_phish (another origin)
//   JPKI_E2E_HELPER_PORT  the card helper's port (it trusts BASE and PHISH)
// Prints one line per check: "CHECK <json {name, ok, detail}>"; t/web/browser.t
// turns the expected names into TAP.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const env = (k) => {
  if (!process.env[k]) throw new Error(`missing ${k}`);
  return process.env[k];
};
const BASE = env('JPKI_E2E_BASE');
const PKI = env('JPKI_PKI_DIR');
const SHOTS = env('JPKI_E2E_SHOTS');
const ALICE = env('JPKI_E2E_ALICE');
const BOB = env('JPKI_E2E_BOB');
const CODES = env('JPKI_E2E_CODES').split(/\s+/).filter(Boolean);
const PHISH = env('JPKI_E2E_PHISH');
const HELPER_PORT = env('JPKI_E2E_HELPER_PORT');
const T = 15000;

function check(name, ok, detail = '') {
  console.log('CHECK ' + JSON.stringify({ name, ok: !!ok, detail: String(detail).slice(0, 500) }));
}

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, e && e.stack ? e.stack : e);
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  // playwright gives every launch a fresh temporary profile (user data dir)
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--ignore-certificate-errors'],
  timeout: 30000,
});

// A fresh context (cookies, storage) per scenario; English browser locale.
async function newPage(locale = 'en-US') {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale,
                                         viewport: { width: 760, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  page.problems = [];
  page.on('console', (m) => {
    // Chromium asks for /favicon.ico on its own; the test server has none.
    if (m.type() === 'error' && !/\/favicon\.ico$/.test(m.location().url || '')) {
      page.problems.push(m.text() + ' ' + (m.location().url || ''));
    }
  });
  page.on('pageerror', (e) => page.problems.push('pageerror: ' + e.message));
  return { ctx, page };
}

const envOf = async (page) => JSON.parse(await page.locator('body').innerText());
const path = (page) => new URL(page.url()).pathname;

// --- 1. software signer: protected -> login -> protected -> logout -> login ----
await step('software: whole flow', async () => {
  const { ctx, page } = await newPage();
  await page.goto(BASE + '/protected/env');
  const u = new URL(page.url());
  check('software: /protected/env redirects to the login page',
        u.pathname === '/login/login.html', page.url());
  check('software: return_to carries the protected path',
        u.searchParams.get('return_to') === '/protected/env', page.url());
  await page.waitForSelector('#jpki[data-ready="true"]');
  await page.waitForSelector('#jpki[data-session-checked="true"]');
  check('logout link: hidden when not logged in',
        await page.locator('#logout-link').isHidden() &&
        (await page.locator('#jpki').getAttribute('data-logged-in')) === 'false');
  check('site name: shown with the host',
        (await page.locator('#site-name').innerText()) === `Test Bank & Co <テスト> (${new URL(BASE).host})` &&
        await page.locator('#site').isVisible() &&
        (await page.title()).startsWith('Test Bank & Co <テスト> – '),
        (await page.locator('#site-name').innerText()) + ' | ' + (await page.title()));
  check('software: without ?signer=software the software signer is not offered',
        await page.locator('#software-signer').isHidden() &&
        await page.locator('#signer-choice').isHidden() &&
        await page.locator('#card-hint').isVisible());

  await page.goto(page.url() + '&signer=software');
  await page.waitForSelector('#jpki[data-ready="true"]');
  check('software: ?signer=software shows the software signer',
        await page.locator('#software-signer').isVisible());
  await page.setInputFiles('#sw-key-file', `${PKI}/auth-alice-1.key`);
  await page.setInputFiles('#sw-cert-file', `${PKI}/auth-alice-1.der`);
  await page.waitForFunction(() => document.getElementById('sw-key').value.includes('BEGIN PRIVATE KEY') &&
                                    /^MII/.test(document.getElementById('sw-cert').value));
  await page.screenshot({ path: `${SHOTS}/browser-1-software-signer.png`, fullPage: true });
  await Promise.all([page.waitForURL('**/protected/env'), page.click('#login-button')]);
  const e = await envOf(page);
  check('software: lands on the protected resource', path(page) === '/protected/env', page.url());
  check('software: REMOTE_USER is alice', e.REMOTE_USER === ALICE, e.REMOTE_USER);
  check('software: JPKI_AUTH_METHOD=challenge', e.JPKI_AUTH_METHOD === 'challenge', e.JPKI_AUTH_METHOD);

  await page.goto(BASE + '/login/login.html');
  await page.waitForSelector('#jpki[data-session-checked="true"]');
  check('logout link: shown when logged in',
        await page.locator('#logout-link').isVisible() &&
        (await page.locator('#jpki').getAttribute('data-logged-in')) === 'true');
  await page.click('#logout-link');
  await page.waitForURL('**/login/logout.html');
  await page.goto(BASE + '/login/logout.html');
  await page.waitForSelector('#jpki[data-ready="true"]');
  await page.click('#logout-button');
  await page.waitForSelector('#jpki[data-state="logged-out"]');
  check('logout: the page says so', /logged out/i.test(await page.locator('#status').innerText()));
  await page.screenshot({ path: `${SHOTS}/browser-2-logged-out.png`, fullPage: true });
  await page.goto(BASE + '/protected/env');
  check('logout: the protected page sends the browser to the login page again',
        path(page) === '/login/login.html', page.url());
  await page.waitForSelector('#jpki[data-session-checked="true"]');
  check('logout link: hidden again after logging out', await page.locator('#logout-link').isHidden());
  check('software: no console errors and no CSP violations', page.problems.length === 0,
        page.problems.join(' | '));
  await ctx.close();
});

// --- 2. the card-helper adapter (tools/jpki-test-card-helper holds auth-bob) --------
await step('card helper: whole flow', async () => {
  const { ctx, page } = await newPage();
  await page.goto(BASE + '/protected/env');
  await page.waitForSelector('#jpki[data-ready="true"]');
  const states = [];
  await page.exposeFunction('jpkiState', (s) => states.push(s));
  await page.evaluate(() => {
    new MutationObserver(() => window.jpkiState(document.getElementById('jpki').getAttribute('data-state')))
      .observe(document.getElementById('jpki'), { attributes: true, attributeFilter: ['data-state'] });
  });
  await Promise.all([page.waitForURL('**/protected/env'), page.click('#login-button')]);
  const e = await envOf(page);
  check('card helper: lands on the protected resource', path(page) === '/protected/env', page.url());
  check('card helper: REMOTE_USER is bob (the helper\'s card)', e.REMOTE_USER === BOB, e.REMOTE_USER);
  check('card helper: JPKI_AUTH_METHOD=challenge', e.JPKI_AUTH_METHOD === 'challenge');
  check('card helper: the page showed waiting-for-card, then checking',
        states.indexOf('st_card') >= 0 && states.indexOf('st_check') > states.indexOf('st_card'),
        states.join(','));
  check('card helper: no console errors and no CSP violations', page.problems.length === 0,
        page.problems.join(' | '));
  await ctx.close();
});

// --- 3. an expired certificate: Japanese and English advice --------------------
await step('expired: whole flow', async () => {
  const { ctx, page } = await newPage();
  await page.goto(BASE + '/login/login.html?signer=software&return_to=%2Fprotected%2Fenv');
  await page.waitForSelector('#jpki[data-ready="true"]');
  await page.fill('#sw-key', readFileSync(`${PKI}/bad-expired.key`, 'utf8'));
  await page.fill('#sw-cert', readFileSync(`${PKI}/bad-expired.crt`, 'utf8'));
  await page.click('#login-button');
  await page.waitForSelector('#jpki[data-error]');
  const code = await page.locator('#error-code').innerText();
  const text = await page.locator('#error').innerText();
  check('expired: error code cert_expired shown', code === 'cert_expired', code);
  check('expired: English advice (renew at the municipal office)',
        /has expired/.test(text) && /Renew .*municipal office/.test(text), text);
  check('expired: Japanese advice (市区町村の窓口で更新)',
        /有効期限が切れています/.test(text) && /市区町村の窓口.*更新/.test(text), text);
  check('expired: stays on the login page', path(page) === '/login/login.html');
  check('expired: the error is an alert for screen readers',
        (await page.locator('#error').getAttribute('role')) === 'alert');
  await page.screenshot({ path: `${SHOTS}/browser-3-expired-en.png`, fullPage: true });
  await page.click('#lang-toggle');
  check('language toggle: heading in Japanese',
        (await page.locator('h1').innerText()) === 'マイナンバーカードでログイン');
  check('language toggle: Japanese error first, html lang=ja',
        (await page.locator('#error-primary').getAttribute('lang')) === 'ja' &&
        (await page.evaluate(() => document.documentElement.lang)) === 'ja');
  await page.screenshot({ path: `${SHOTS}/browser-4-expired-ja.png`, fullPage: true });
  check('expired: no CSP violations', !page.problems.some((p) => /Content Security Policy/i.test(p)),
        page.problems.join(' | '));
  await ctx.close();
});

// --- 4. a hostile return_to is refused and never followed ----------------------
await step('return_to: whole flow', async () => {
  const { ctx, page } = await newPage();
  await page.goto(BASE + '/login/login.html?signer=software&return_to=%2F%2Fevil.example%2F');
  await page.waitForSelector('#jpki[data-ready="true"]');
  await page.fill('#sw-key', readFileSync(`${PKI}/auth-alice-1.key`, 'utf8'));
  await page.fill('#sw-cert', readFileSync(`${PKI}/auth-alice-1.crt`, 'utf8'));
  await page.click('#login-button');
  await page.waitForSelector('#jpki[data-error]');
  check('return_to //evil.example: invalid_return_to shown, no navigation',
        (await page.locator('#error-code').innerText()) === 'invalid_return_to' &&
        new URL(page.url()).host === new URL(BASE).host, page.url());
  await ctx.close();
});

// --- 5. every stable code gets its own advice in both languages ---------------
// The server is replaced by page.route for /jpki/login only, so that codes the
// test server cannot produce (revocation, accounts) are shown too.
await step('codes: all mapped', async () => {
  const { ctx, page } = await newPage();
  let current = '';
  await page.route('**/jpki/login', (route) => route.fulfill({
    status: 403, contentType: 'application/json',
    headers: { 'X-JPKI-Error': current },
    body: JSON.stringify({ error: current, message: 'server text' }),
  }));
  await page.goto(BASE + '/login/login.html?signer=software');
  await page.waitForSelector('#jpki[data-ready="true"]');
  await page.fill('#sw-key', readFileSync(`${PKI}/auth-alice-1.key`, 'utf8'));
  await page.fill('#sw-cert', readFileSync(`${PKI}/auth-alice-1.crt`, 'utf8'));
  const seen = {};
  const unmapped = [];
  for (const code of CODES) {
    current = code;
    await page.click('#login-button');
    await page.waitForFunction((c) => document.getElementById('jpki').getAttribute('data-error') === c &&
                                      !document.getElementById('login-button').disabled, code);
    const en = await page.locator('#error-primary').innerText();
    const ja = await page.locator('#error-secondary').innerText();
    seen[code] = { en, ja };
    if (/The login was refused/.test(en) || !/[\u3040-\u30ff\u4e00-\u9fff]/.test(ja)) unmapped.push(code);
  }
  check('codes: every stable code has its own message in English and Japanese',
        unmapped.length === 0, 'fallback for: ' + unmapped.join(' '));
  const has = (c, re) => seen[c] && re.test(seen[c].en + '\n' + seen[c].ja);
  check('codes: revoked -> reissue at the municipal office',
        has('cert_revoked', /reissued at your municipal office/) && has('cert_revoked', /再発行/) &&
        has('cert_revoked_key_compromise', /再発行/));
  check('codes: superseded -> use the new certificate',
        has('cert_revoked_superseded', /new certificate/) && has('cert_revoked_superseded', /新しい電子証明書/));
  check('codes: expired -> renew', has('cert_expired', /Renew/) && has('cert_expired', /更新/));
  check('codes: no_account -> register', has('no_account', /register/) && has('no_account', /利用登録/));
  check('codes: link_pending -> try again later',
        has('link_pending', /try again later/) && has('link_pending', /しばらくしてから/));
  check('codes: status_unavailable -> try again in a few minutes',
        has('status_unavailable', /try again in a few minutes/));
  current = 'cert_revoked_superseded';
  await page.click('#login-button');
  await page.waitForFunction(() => document.getElementById('jpki').getAttribute('data-error') ===
                                   'cert_revoked_superseded');
  await page.screenshot({ path: `${SHOTS}/browser-5-superseded.png`, fullPage: true });
  await ctx.close();
});

// --- 6. accessibility basics -------------------------------------------------------
await step('a11y: labels', async () => {
  const { ctx, page } = await newPage('ja-JP');
  await page.goto(BASE + '/login/login.html?signer=software');
  await page.waitForSelector('#jpki[data-ready="true"]');
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, textarea, button')]
    .filter((el) => !(el.labels && el.labels.length) && !el.textContent.trim() && !el.getAttribute('aria-label'))
    .map((el) => el.id || el.name));
  check('a11y: every control has a label', unlabelled.length === 0, unlabelled.join(' '));
  check('a11y: status is an aria-live region',
        (await page.locator('#status').getAttribute('aria-live')) === 'polite' &&
        (await page.locator('#status').getAttribute('role')) === 'status');
  check('a11y: a Japanese browser gets the Japanese page',
        (await page.locator('h1').innerText()) === 'マイナンバーカードでログイン');
  await page.screenshot({ path: `${SHOTS}/browser-6-ja.png`, fullPage: true });
  await ctx.close();
});

// --- 6b. without JavaScript there is no Log in button, only the explanation -------
await step('nojs: whole flow', async () => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP', javaScriptEnabled: false });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  await page.goto(BASE + '/login/login.html');
  const noscript = await page.locator('#noscript').innerText();
  check('nojs: no Log in button without JavaScript',
        await page.locator('#login-button').isHidden() && await page.locator('#lang-toggle').isHidden() &&
        (await page.locator('button:visible').count()) === 0);
  check('nojs: the page explains in Japanese and English',
        /JavaScript が必要/.test(noscript) && /needs JavaScript/.test(noscript), noscript);
  await page.goto(BASE + '/login/logout.html');
  check('nojs: no Log out button without JavaScript', (await page.locator('button:visible').count()) === 0);
  await page.screenshot({ path: `${SHOTS}/browser-7-nojs.png`, fullPage: true });
  await ctx.close();
});

// --- 6c. the card helper is not running: a link to where to get it --------------
await step('helper_unreachable: whole flow', async () => {
  const { ctx, page } = await newPage();
  await page.route('http://127.0.0.1:*/**', (route) => route.abort('connectionrefused'));
  await page.goto(BASE + '/login/login.html');
  await page.waitForSelector('#jpki[data-ready="true"]');
  check('helper_unreachable: no helper link before the error', await page.locator('#helper-link').isHidden());
  await page.click('#login-button');
  await page.waitForSelector('#jpki[data-error="helper_unreachable"]');
  check('helper_unreachable: links to the configured download page (data-helper-download)',
        await page.locator('#helper-link').isVisible() &&
        (await page.locator('#helper-link').getAttribute('href')) === '/downloads/card-helper?os=linux',
        await page.locator('#helper-link').getAttribute('href'));
  // an unsafe value falls back to the page shipped next to the login page
  await page.evaluate(() => document.getElementById('jpki').setAttribute('data-helper-download', 'javascript:alert(1)'));
  await page.click('#login-button');
  await page.waitForFunction(() => !document.getElementById('login-button').disabled &&
                                   document.getElementById('jpki').getAttribute('data-error') === 'helper_unreachable');
  const href = await page.locator('#helper-link').getAttribute('href');
  await page.click('#helper-link');
  await page.waitForURL('**/login/card-helper.html');
  check('helper_unreachable: an unsafe value falls back to card-helper.html, which explains the helper',
        href === 'card-helper.html' && /カードヘルパー/.test(await page.locator('body').innerText()) &&
        /card helper/.test(await page.locator('body').innerText()), href);
  await ctx.close();
});

// --- 7. a phishing page on another origin relays a real challenge -------------
// t/htdocs/phish/: its server fetches the bank's challenge with its own
// cookie, the page asks the customer's card helper (which trusts this origin
// too) to sign it, its server posts the proof. The helper puts the Origin the
// browser sent into the signed client data, so the bank refuses it.
await step('phishing: whole flow', async () => {
  const { ctx, page } = await newPage();
  await page.goto(`${PHISH}/phish/phish.html?bank=${encodeURIComponent(BASE)}&helper=${HELPER_PORT}`);
  await page.waitForSelector('body[data-done="true"]');
  const r = JSON.parse(await page.locator('#result').innerText());
  check('phishing: its server got a real challenge from the bank', r.challenge_ok === true,
        JSON.stringify(r));
  check('phishing: the helper refuses an origin chosen by the page',
        r.forged_status === 400 && r.forged_error === 'bad_request', JSON.stringify(r));
  let cd = {};
  try { cd = JSON.parse(r.client_data); } catch (e) { /* reported below */ }
  check('phishing: the helper signed client data naming the phishing origin',
        r.helper_status === 200 && cd.origin === PHISH && cd.type === 'jpki.login' &&
        r.client_data === `{"type":"jpki.login","challenge":"${cd.challenge}","origin":"${PHISH}"}`,
        JSON.stringify(r));
  check('phishing: the bank refuses the relayed login with origin_mismatch, no session',
        r.bank_status === 401 && r.bank_error === 'origin_mismatch' && r.bank_session === false,
        JSON.stringify(r));
  await ctx.close();
});

await browser.close();
