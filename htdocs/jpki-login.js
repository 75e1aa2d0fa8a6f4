/*
 * mod_jpki login and logout pages (docs/login-page.md). No framework, no
 * inline script, no other origin: runs under CSP default-src 'self'.
 *
 * Login: GET challenge -> signer adapter (jpki-signers.js) -> POST login ->
 * navigate to the server's "redirect" (same-origin paths only). Every stable
 * error code of docs/errors.md is mapped to advice in Japanese and English by
 * the generated table jpki-messages.js (from mod_jpki/core/jpki_messages.c).
 */
(function () {
    'use strict';

    var UI = {
        ja: {
            toggle: 'English',
            title: 'マイナンバーカードでログイン',
            intro: 'マイナンバーカードの利用者証明用電子証明書（4桁の暗証番号）でログインします。',
            signer_legend: '署名の方法',
            signer_card: 'カード読み取り機（カードヘルパー）',
            signer_software: 'ソフトウェア署名（試験・デモ専用）',
            sw_title: 'ソフトウェア署名（試験・デモ専用）',
            sw_warning: '試験用の鍵専用です。本物のカードの鍵や個人の鍵は絶対に入力しないでください。',
            sw_key_file: '秘密鍵ファイル（PKCS#8 PEM）',
            sw_key_text: 'または秘密鍵を貼り付け',
            sw_cert_file: '証明書ファイル（PEM または DER）',
            sw_cert_text: 'または証明書を貼り付け（PEM または base64）',
            card_hint: 'カードを読み取り機に置いてから「ログイン」を押してください。カードヘルパーが暗証番号を尋ねます。',
            login_button: 'ログイン',
            step_prepare: '準備',
            step_card: 'カード',
            step_check: '確認',
            step_done: '完了',
            register_link: '利用登録へ進む',
            helper_link: 'カードヘルパーを入手する',
            site_label: 'ログイン先',
            error_code: 'エラーコード',
            logout_link: 'ログアウト',
            logout_title: 'ログアウト',
            logout_intro: 'このブラウザーのログイン状態を終了します。',
            logout_button: 'ログアウトする',
            login_again: 'ログイン画面へ',
            st_prepare: 'ログインの準備をしています…',
            st_card: 'カードを待っています。カードを読み取り機に置き、カードヘルパーの画面で利用者証明用の暗証番号（4桁）を入力してください。',
            st_signing: '署名しています…',
            st_check: 'サーバーで確認しています…',
            st_done: 'ログインしました。移動しています…',
            st_done_stay: 'ログインしました。',
            st_failed: 'ログインできませんでした。',
            st_logging_out: 'ログアウトしています…',
            st_logged_out: 'ログアウトしました。'
        },
        en: {
            toggle: '日本語',
            title: 'Log in with your My Number Card',
            intro: 'You log in with the user-authentication certificate of your My Number Card (4-digit PIN).',
            signer_legend: 'How to sign',
            signer_card: 'Card reader (card helper)',
            signer_software: 'Software signer (tests and demo only)',
            sw_title: 'Software signer (tests and demo only)',
            sw_warning: 'For test keys only. Never enter the key of a real card or any personal key.',
            sw_key_file: 'Private key file (PKCS#8 PEM)',
            sw_key_text: 'or paste the private key',
            sw_cert_file: 'Certificate file (PEM or DER)',
            sw_cert_text: 'or paste the certificate (PEM or base64)',
            card_hint: 'Place your card on the reader, then press "Log in". The card helper will ask for your PIN.',
            login_button: 'Log in',
            step_prepare: 'Prepare',
            step_card: 'Card',
            step_check: 'Check',
            step_done: 'Done',
            register_link: 'Register',
            helper_link: 'Get the card helper',
            site_label: 'You are logging in to',
            error_code: 'Error code',
            logout_link: 'Log out',
            logout_title: 'Log out',
            logout_intro: 'This ends your login in this browser.',
            logout_button: 'Log out',
            login_again: 'Back to the login page',
            st_prepare: 'Preparing the login…',
            st_card: 'Waiting for the card. Place it on the reader and enter your 4-digit user-authentication PIN in the card helper.',
            st_signing: 'Signing…',
            st_check: 'Checking with the server…',
            st_done: 'Logged in. Taking you on…',
            st_done_stay: 'Logged in.',
            st_failed: 'The login did not succeed.',
            st_logging_out: 'Logging out…',
            st_logged_out: 'You are logged out.'
        }
    };

    /* code -> [ja title, ja advice, en title, en advice]: generated from the
     * module's one message table (htdocs/jpki-messages.js, loaded first). */
    var ERR = window.JPKIMessages || {};

    function errorEntry(code) {
        if (Object.prototype.hasOwnProperty.call(ERR, code)) {
            return ERR[code];
        }
        /* every revocation reason the status provider may name */
        if (/^cert_revoked/.test(code)) {
            return ERR.cert_revoked;
        }
        return ERR.unknown || ['ログインできませんでした', '', 'The login was refused', ''];
    }

    var root = document.getElementById('jpki');
    if (!root) {
        return;
    }
    var params = new URLSearchParams(window.location.search);
    var lang = pickLang();
    var lastError = null;
    var lastStatus = null;
    var busy = false;

    function pickLang() {
        var q = params.get('lang');
        if (q === 'ja' || q === 'en') {
            return q;
        }
        try {
            var s = window.localStorage.getItem('jpki-lang');
            if (s === 'ja' || s === 'en') {
                return s;
            }
        } catch (e) { /* storage disabled */ }
        var langs = navigator.languages || [navigator.language || ''];
        return /^ja\b/i.test(langs[0] || '') ? 'ja' : 'en';
    }

    function t(key) {
        return UI[lang][key] || UI.ja[key] || key;
    }

    function applyLang() {
        document.documentElement.lang = lang;
        var nodes = root.querySelectorAll('[data-i18n]');
        for (var i = 0; i < nodes.length; i++) {
            nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'));
        }
        var toggle = document.getElementById('lang-toggle');
        toggle.textContent = t('toggle');
        toggle.lang = lang === 'ja' ? 'en' : 'ja';
        var site = root.getAttribute('data-site-name') || '';
        document.title = (site ? site + ' – ' : '') + (root.getAttribute('data-page') === 'logout'
            ? UI.ja.logout_title + ' / ' + UI.en.logout_title
            : UI.ja.title + ' / ' + UI.en.title);
        if (lastStatus) {
            setStatus(lastStatus);
        }
        if (lastError) {
            showError(lastError);
        }
    }

    function setStep(step) {
        var steps = root.querySelectorAll('#steps li');
        var order = ['prepare', 'card', 'check', 'done'];
        var at = order.indexOf(step);
        for (var i = 0; i < steps.length; i++) {
            var idx = order.indexOf(steps[i].getAttribute('data-step'));
            steps[i].className = idx < at ? 'done' : idx === at ? 'current' : '';
        }
    }

    function setStatus(key) {
        lastStatus = key;
        var el = document.getElementById('status');
        el.textContent = key ? t(key) : '';
        root.setAttribute('data-state', key || 'idle');
    }

    function fillError(box, entry, off, which) {
        box.lang = which;
        box.querySelector('.error-title').textContent = entry[off];
        box.querySelector('.error-advice').textContent = entry[off + 1];
    }

    /* Both languages are shown: the chosen one first. */
    function showError(code) {
        lastError = code;
        var entry = errorEntry(code);
        var first = lang === 'ja' ? 0 : 2;
        fillError(document.getElementById('error-primary'), entry, first, lang);
        fillError(document.getElementById('error-secondary'), entry, 2 - first,
                  lang === 'ja' ? 'en' : 'ja');
        document.getElementById('error-code').textContent = code;
        var reg = document.getElementById('error-register');
        var regUrl = root.getAttribute('data-register-url') || '';
        if (reg) {
            reg.hidden = !(code === 'no_account' && sameOriginPath(regUrl));
            if (!reg.hidden) {
                document.getElementById('register-link').setAttribute('href', regUrl);
            }
        }
        var helper = document.getElementById('error-helper');
        if (helper) {
            helper.hidden = code !== 'helper_unreachable';
            document.getElementById('helper-link').setAttribute('href', helperDownload());
        }
        var box = document.getElementById('error');
        box.hidden = false;
        root.setAttribute('data-error', code);
    }

    function clearError() {
        lastError = null;
        document.getElementById('error').hidden = true;
        root.removeAttribute('data-error');
    }

    function fail(code) {
        showError(code);
        setStatus('st_failed');
        setStep('');
    }

    /* A path on this origin: one leading '/', no scheme/host tricks. */
    function sameOriginPath(p) {
        if (typeof p !== 'string' || p.length === 0 || p.length > 2048 || p.charAt(0) !== '/' ||
            p.charAt(1) === '/' || p.charAt(1) === '\\' || /[\\\u0000-\u001f\u007f]/.test(p)) {
            return false;
        }
        try {
            return new URL(p, window.location.origin).origin === window.location.origin;
        } catch (e) {
            return false;
        }
    }

    /* Where customers get the card helper: data-helper-download when it is an
     * https: URL or a path on this origin, else the page shipped next to
     * this one (card-helper.html). */
    function helperDownload() {
        var v = root.getAttribute('data-helper-download') || '';
        if (sameOriginPath(v)) {
            return v;
        }
        try {
            var u = new URL(v);
            if (u.protocol === 'https:' && !u.username && !u.password) {
                return u.href;
            }
        } catch (e) { /* not a URL */ }
        return 'card-helper.html';
    }

    /* The site's name and host, so the customer sees who asks for the PIN. */
    function showSite() {
        var el = document.getElementById('site');
        if (!el) {
            return;
        }
        var name = root.getAttribute('data-site-name') || '';
        document.getElementById('site-name').textContent =
            name ? name + ' (' + window.location.host + ')' : window.location.host;
        el.hidden = false;
    }

    /* The Log out link only when this browser is logged in on this host:
     * asked from the jpki-session endpoint (GET, same-origin, answers only
     * {"logged_in": bool}); any failure leaves the link hidden. */
    function setLoggedIn(yes) {
        var footer = document.getElementById('logout-footer');
        if (footer) {
            footer.hidden = !yes;
        }
        root.setAttribute('data-logged-in', yes ? 'true' : 'false');
    }

    function checkSession() {
        return fetchJson(attr('data-session-url', '/jpki/session'), {
            method: 'GET',
            credentials: 'same-origin',
            cache: 'no-store',
            headers: {'Accept': 'application/json'}
        }).then(function (r) {
            setLoggedIn(r.res.ok && r.json.logged_in === true);
        }, function () {
            setLoggedIn(false);
        });
    }

    function attr(name, dflt) {
        var v = root.getAttribute(name);
        return v ? v : dflt;
    }

    /* fetch + JSON with a stable error code for every failure. */
    function fetchJson(url, init) {
        return fetch(url, init).then(function (res) {
            return res.json().then(function (j) {
                return {res: res, json: j && typeof j === 'object' ? j : {}};
            }, function () {
                return {res: res, json: {}};
            });
        }, function () {
            throw {code: 'network_error'};
        });
    }

    function serverError(r) {
        var c = r.json.error || r.res.headers.get('X-JPKI-Error');
        return {code: typeof c === 'string' && /^[a-z_]{1,64}$/.test(c) ? c : 'bad_response'};
    }

    /* ---------------------------------------------------------------- login */
    function readFileInto(input, textarea, binaryOk) {
        input.addEventListener('change', function () {
            var f = input.files && input.files[0];
            if (!f || f.size > 65536) {
                return;
            }
            f.arrayBuffer().then(function (buf) {
                var u = new Uint8Array(buf);
                var text = new TextDecoder('utf-8').decode(u);
                textarea.value = binaryOk && text.indexOf('-----BEGIN') < 0
                    ? window.JPKISigners.util.bytesToB64(u) : text;
            });
        });
    }

    function chosenSigner() {
        var sw = document.getElementById('signer-software');
        if (softwareAllowed && sw && sw.checked) {
            return window.JPKISigners.software({
                key: document.getElementById('sw-key').value,
                certificate: document.getElementById('sw-cert').value
            });
        }
        return window.JPKISigners.cardHelper({port: attr('data-helper-port', '25999')});
    }

    function login(ev) {
        ev.preventDefault();
        if (busy) {
            return;
        }
        busy = true;
        var button = document.getElementById('login-button');
        button.disabled = true;
        root.setAttribute('aria-busy', 'true');
        clearError();
        setStep('prepare');
        setStatus('st_prepare');
        var signer = chosenSigner();
        var returnTo = params.get('return_to');
        var challenge;

        fetchJson(attr('data-challenge-url', '/jpki/challenge'), {
            method: 'GET',
            credentials: 'same-origin',
            cache: 'no-store',
            headers: {'Accept': 'application/json'}
        }).then(function (r) {
            if (!r.res.ok) {
                throw serverError(r);
            }
            challenge = r.json.challenge;
            if (typeof challenge !== 'string' || r.json.digest !== 'sha256') {
                throw {code: 'bad_response'};
            }
            var bytes;
            try {
                bytes = window.JPKISigners.util.b64urlToBytes(challenge);
            } catch (e) {
                throw {code: 'bad_response'};
            }
            if (bytes.length !== 32) {
                throw {code: 'bad_response'};
            }
            setStep('card');
            setStatus(signer.kind === 'software' ? 'st_signing' : 'st_card');
            return signer.sign(challenge);
        }).then(function (proof) {
            setStep('check');
            setStatus('st_check');
            var body = {challenge: challenge, client_data: proof.client_data,
                        certificate: proof.certificate, signature: proof.signature};
            if (returnTo !== null) {
                body.return_to = returnTo;
            }
            return fetchJson(attr('data-login-url', '/jpki/login'), {
                method: 'POST',
                credentials: 'same-origin',
                cache: 'no-store',
                headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
                body: JSON.stringify(body)
            });
        }).then(function (r) {
            if (!r.res.ok) {
                throw serverError(r);
            }
            if (r.json.status !== 'ok') {
                throw {code: 'bad_response'};
            }
            setStep('done');
            var to = r.json.redirect;
            if (!sameOriginPath(to)) {
                setLoggedIn(true);
                setStatus('st_done_stay');
                showError('unsafe_redirect');
                return;
            }
            setStatus('st_done');
            window.location.assign(new URL(to, window.location.origin).href);
        }).then(null, function (e) {
            fail(e && typeof e.code === 'string' ? e.code : 'unknown');
        }).then(function () {
            busy = false;
            button.disabled = false;
            root.removeAttribute('aria-busy');
        });
    }

    /* --------------------------------------------------------------- logout */
    function logout(ev) {
        ev.preventDefault();
        if (busy) {
            return;
        }
        busy = true;
        var button = document.getElementById('logout-button');
        button.disabled = true;
        clearError();
        setStatus('st_logging_out');
        fetchJson(attr('data-logout-url', '/jpki/logout'), {
            method: 'POST',
            credentials: 'same-origin',
            cache: 'no-store',
            headers: {'Accept': 'application/json'}
        }).then(function (r) {
            if (!r.res.ok || r.json.status !== 'ok') {
                throw serverError(r);
            }
            setStatus('st_logged_out');
            root.setAttribute('data-state', 'logged-out');
        }).then(null, function (e) {
            showError(e && typeof e.code === 'string' ? e.code : 'unknown');
            setStatus('');
        }).then(function () {
            busy = false;
            button.disabled = false;
        });
    }

    /* ---------------------------------------------------------------- setup */
    /* The software signer exists for tests and the demo only. */
    var softwareAllowed = root.getAttribute('data-page') === 'login' &&
                          params.get('signer') === 'software';

    document.getElementById('lang-toggle').addEventListener('click', function () {
        lang = lang === 'ja' ? 'en' : 'ja';
        try {
            window.localStorage.setItem('jpki-lang', lang);
        } catch (e) { /* storage disabled */ }
        applyLang();
    });

    /* Without JavaScript there are no buttons (the <noscript> text explains). */
    var toggleButton = document.getElementById('lang-toggle');
    toggleButton.hidden = false;
    if (root.getAttribute('data-page') === 'logout') {
        document.getElementById('logout-form').addEventListener('submit', logout);
        document.getElementById('logout-button').hidden = false;
        document.getElementById('logout-button').disabled = false;
    } else {
        var choice = document.getElementById('signer-choice');
        var sw = document.getElementById('software-signer');
        var hint = document.getElementById('card-hint');
        var radios = document.getElementsByName('signer');
        var sync = function () {
            var soft = softwareAllowed && document.getElementById('signer-software').checked;
            sw.hidden = !soft;
            hint.hidden = soft;
        };
        if (softwareAllowed) {
            choice.hidden = false;
            document.getElementById('signer-software').checked = true;
            readFileInto(document.getElementById('sw-key-file'), document.getElementById('sw-key'), false);
            readFileInto(document.getElementById('sw-cert-file'), document.getElementById('sw-cert'), true);
        } else {
            document.getElementById('signer-card').checked = true;
        }
        for (var i = 0; i < radios.length; i++) {
            radios[i].addEventListener('change', sync);
        }
        sync();
        document.getElementById('login-form').addEventListener('submit', login);
        document.getElementById('login-button').hidden = false;
        document.getElementById('login-button').disabled = false;
        showSite();
    }
    applyLang();
    var sessionChecked = root.getAttribute('data-page') === 'login' ? checkSession() : null;
    root.setAttribute('data-ready', 'true');
    if (sessionChecked) {
        sessionChecked.then(function () {
            root.setAttribute('data-session-checked', 'true');
        });
    }
    if (!root.getAttribute('data-state')) {
        root.setAttribute('data-state', 'idle');
    }
})();
