/*
 * mod_jpki signer adapters (docs/login-page.md, docs/card-helper.md).
 *
 * A signer turns the server's challenge (base64url text) into
 *   {client_data: base64url of {"type":"jpki.login","challenge":C,"origin":O},
 *    signature: base64 RSASSA-PKCS1-v1_5/SHA-256 signature over those bytes,
 *    certificate: base64 DER of the user-authentication certificate}
 * which is exactly what the module verifies (docs/http-contract.md,
 * protocol v2): the signature is bound to the origin O of the page, so a
 * challenge relayed through another site is refused (origin_mismatch).
 * Failures are thrown as SignerError with a page-local code that the login
 * page maps to a bilingual message.
 */
(function (global) {
    'use strict';

    function SignerError(code, detail) {
        this.name = 'SignerError';
        this.code = code;
        this.message = detail || code;
    }
    SignerError.prototype = Object.create(Error.prototype);
    SignerError.prototype.constructor = SignerError;

    function bytesToB64(bytes) {
        var s = '';
        var u = new Uint8Array(bytes);
        for (var i = 0; i < u.length; i += 0x8000) {
            s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
        }
        return btoa(s);
    }

    function b64ToBytes(text) {
        var s = String(text).replace(/\s+/g, '');
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0 || s.length === 0) {
            throw new SignerError('bad_base64');
        }
        var bin = atob(s);
        var out = new Uint8Array(bin.length);
        for (var i = 0; i < bin.length; i++) {
            out[i] = bin.charCodeAt(i);
        }
        return out;
    }

    /* base64url without padding (the challenge) -> bytes */
    function b64urlToBytes(text) {
        var s = String(text);
        if (!/^[A-Za-z0-9_-]+$/.test(s)) {
            throw new SignerError('bad_base64');
        }
        s = s.replace(/-/g, '+').replace(/_/g, '/');
        while (s.length % 4) {
            s += '=';
        }
        return b64ToBytes(s);
    }

    /* The body of a PEM block of the given label, or null if there is none. */
    function pemBody(text, label) {
        var re = new RegExp('-----BEGIN ' + label + '-----([A-Za-z0-9+/=\\s]+)-----END ' +
                            label + '-----');
        var m = re.exec(String(text));
        return m ? m[1].replace(/\s+/g, '') : null;
    }

    /* bytes -> base64url without padding */
    function bytesToB64url(bytes) {
        return bytesToB64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    }

    function isB64url(s) {
        return typeof s === 'string' && s.length > 0 && s.length <= 1368 &&
               /^[A-Za-z0-9_-]+$/.test(s) && s.length % 4 !== 1;
    }

    /* The canonical client data (docs/http-contract.md): no whitespace, these
     * keys in this order; challenge and origin never need JSON escaping. */
    function clientData(challenge, origin) {
        return '{"type":"jpki.login","challenge":"' + challenge + '","origin":"' + origin + '"}';
    }

    function isB64(s) {
        return typeof s === 'string' && s.length > 0 && s.length <= 65536 &&
               /^[A-Za-z0-9+/]+={0,2}$/.test(s) && s.length % 4 === 0;
    }

    /*
     * (a) The local card helper: a small program on the user's PC that talks to
     * the card reader. POST http://127.0.0.1:<port>/sign  {"challenge": C}
     * -> {"client_data": ..., "signature": ..., "certificate": ...} or
     *    {"error": code, "message": ...}.
     * The helper builds the client data itself from the Origin header the
     * browser sends (the page cannot choose it) and asks for the PIN itself;
     * the page never sees it. client_data is passed through untouched.
     */
    function cardHelper(opts) {
        var port = parseInt(opts && opts.port, 10);
        if (!(port > 0 && port < 65536)) {
            port = 25999;
        }
        var url = 'http://127.0.0.1:' + port + '/sign';
        var timeoutMs = (opts && opts.timeoutMs) || 120000;
        return {
            kind: 'card-helper',
            url: url,
            sign: function (challenge) {
                return Promise.resolve().then(function () {
                    var ctl = typeof AbortController === 'function' ? new AbortController() : null;
                    var timer = ctl ? setTimeout(function () { ctl.abort(); }, timeoutMs) : null;
                    return fetch(url, {
                        method: 'POST',
                        mode: 'cors',
                        credentials: 'omit',
                        cache: 'no-store',
                        referrerPolicy: 'no-referrer',
                        headers: {'Content-Type': 'application/json'},
                        body: JSON.stringify({challenge: challenge}),
                        signal: ctl ? ctl.signal : undefined
                    }).then(function (res) {
                        if (timer) {
                            clearTimeout(timer);
                        }
                        return res.json().then(null, function () {
                            throw new SignerError('helper_bad_response', 'not JSON');
                        }).then(function (j) {
                            if (!res.ok || !j || j.error) {
                                var code = j && typeof j.error === 'string' &&
                                           /^[a-z_]{1,40}$/.test(j.error) ? 'helper_' + j.error
                                                                         : 'helper_error';
                                throw new SignerError(code, 'card helper HTTP ' + res.status);
                            }
                            if (!isB64url(j.client_data) || !isB64(j.signature) ||
                                !isB64(j.certificate)) {
                                /* an old helper (no client_data) included */
                                throw new SignerError('helper_bad_response',
                                                      'client_data/signature/certificate missing');
                            }
                            return {client_data: j.client_data, signature: j.signature,
                                    certificate: j.certificate};
                        });
                    }, function (e) {
                        if (timer) {
                            clearTimeout(timer);
                        }
                        if (e && e.name === 'AbortError') {
                            throw new SignerError('helper_timeout');
                        }
                        throw new SignerError('helper_unreachable', String(e && e.message));
                    });
                });
            }
        };
    }

    /*
     * (b) Software signer: TESTS AND DEMO ONLY. Builds the client data with
     * this page's own origin (location.origin, as a card helper does from the
     * Origin header) and signs it with a PKCS#8 private key the user supplies,
     * through WebCrypto: RSASSA-PKCS1-v1_5 with SHA-256, which is what the
     * card computes for DigestInfo(SHA-256(client data)) with COMPUTE DIGITAL
     * SIGNATURE P1=00.
     */
    function software(opts) {
        return {
            kind: 'software',
            sign: function (challenge) {
                var cd = new TextEncoder().encode(clientData(challenge,
                                                             (opts && opts.origin) ||
                                                             global.location.origin));
                var keyB64 = pemBody(opts.key, 'PRIVATE KEY');
                if (!keyB64) {
                    if (/BEGIN (RSA |ENCRYPTED )PRIVATE KEY/.test(String(opts.key))) {
                        return Promise.reject(new SignerError('software_key_format'));
                    }
                    return Promise.reject(new SignerError(opts.key ? 'software_key_format'
                                                                   : 'software_missing'));
                }
                var certB64 = pemBody(opts.certificate, 'CERTIFICATE') ||
                              String(opts.certificate || '').replace(/\s+/g, '');
                if (!isB64(certB64)) {
                    return Promise.reject(new SignerError(opts.certificate ? 'software_cert_format'
                                                                           : 'software_missing'));
                }
                var alg = {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'};
                return crypto.subtle.importKey('pkcs8', b64ToBytes(keyB64), alg, false, ['sign'])
                    .then(null, function () {
                        throw new SignerError('software_key_format');
                    })
                    .then(function (key) {
                        return crypto.subtle.sign(alg, key, cd);
                    })
                    .then(function (sig) {
                        return {client_data: bytesToB64url(cd), signature: bytesToB64(sig),
                                certificate: certB64};
                    });
            }
        };
    }

    global.JPKISigners = {
        cardHelper: cardHelper,
        software: software,
        SignerError: SignerError,
        util: {bytesToB64: bytesToB64, b64ToBytes: b64ToBytes, b64urlToBytes: b64urlToBytes,
               bytesToB64url: bytesToB64url, clientData: clientData, pemBody: pemBody}
    };
})(window);
