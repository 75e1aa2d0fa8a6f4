/*
 * TLS client authentication through mod_ssl.
 *
 * Even with "SSLVerifyClient optional_no_ca", mod_ssl aborts the handshake
 * for an expired certificate, a 1024-bit key, an unknown critical
 * extension...: the user then sees a browser TLS error instead of a clear
 * refusal. With JPKITLSClientAuth On, OpenSSL's chain verification still
 * runs in full and mod_ssl's own verify callback still decides; mod_jpki
 * only sits in front of that callback on this virtual host's SSL_CTX and
 * turns the errors it judges itself at request time (validity period, key
 * size, digest, critical extensions, issuer, key usage) into "no issuer
 * known", the one case optional_no_ca tolerates. mod_ssl then records the
 * certificate as GENEROUS, never SUCCESS, so no mod_ssl authorisation
 * (Require ssl-verify-client, SSLRequire on SSL_CLIENT_VERIFY, a
 * per-location SSLVerifyClient require, which installs mod_ssl's callback
 * on the connection) accepts it; revocation (SSLOCSPEnable, SSLCARevocation*)
 * and SSLVerifyDepth stay with mod_ssl. mod_ssl features that take an
 * identity from the certificate whatever its verification (SSLUserName,
 * SSLOptions +FakeBasicAuth) are refused at startup on such a host.
 * The TLS layer still checks the CertificateVerify signature, i.e.
 * possession of the card's key. docs/security.md.
 */
#include "web/jpki_web.h"

#include "apr_optional_hooks.h"
#include "http_config.h"
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

/* mod_ssl's optional hook (modules/ssl/mod_ssl_openssl.h, not installed by
 * every distribution): called for each virtual host's SSL_CTX at startup. */
typedef int ssl_HOOK_init_server_t(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

typedef int (*verify_cb_t)(int, X509_STORE_CTX *);

/* mod_ssl's verify callback (one function for every SSL_CTX it makes). */
static verify_cb_t modssl_verify;

/* Errors mod_jpki judges itself, with a clear code, at request time. */
static int deferred_error(int err)
{
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
    case X509_V_ERR_CA_MD_TOO_WEAK:
    case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
        return 1;
    default:
        return 0;
    }
}

/* In front of mod_ssl's callback: a deferred error becomes "issuer not
 * known locally" (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY), which
 * mod_ssl accepts only under optional_no_ca and then marks GENEROUS. The
 * error stays on the X509_STORE_CTX, so SSL_get_verify_result() is never
 * X509_V_OK for such a certificate. Everything else reaches mod_ssl as is. */
static int verify_wrap(int ok, X509_STORE_CTX *ctx)
{
    if (!ok && deferred_error(X509_STORE_CTX_get_error(ctx))) {
        SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
        conn_rec *c = ssl ? SSL_get_app_data(ssl) : NULL;
        X509_STORE_CTX_set_error(ctx, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
        if (c != NULL) {
            apr_table_setn(c->notes, "jpki-tls-deferred", "1");
        }
    }
    return modssl_verify(ok, ctx);
}

/* OpenSSL's security level also refuses a client certificate with a small
 * key or a SHA-1 signature inside the handshake. Those peer-certificate
 * checks are mod_jpki's job on these hosts (and stricter there: RSA >= 2048,
 * SHA-256+); every other check still goes to the callback that was set.
 * The same checks inside chain verification (auth level) still fail there
 * and reach verify_wrap: such a certificate is never SUCCESS. */
typedef struct {
    int (*orig)(const SSL *s, const SSL_CTX *ctx, int op, int bits, int nid, void *other, void *ex);
    void *orig_ex;
} sec_wrap_t;

static int security_cb(const SSL *s, const SSL_CTX *ctx, int op, int bits, int nid, void *other,
                       void *ex)
{
    const sec_wrap_t *w = ex;
    int base = op & ~SSL_SECOP_PEER;
    if ((op & SSL_SECOP_PEER) &&
        (base == SSL_SECOP_EE_KEY || base == SSL_SECOP_CA_KEY || base == SSL_SECOP_CA_MD)) {
        return 1;
    }
    return w->orig(s, ctx, op, bits, nid, other, w->orig_ex);
}

static int jpki_tls_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    verify_cb_t cb;
    sec_wrap_t *w;

    if (is_proxy || jpki_srv_cfg(s)->tls_client_auth != 1) {
        return OK;
    }
    cb = SSL_CTX_get_verify_callback(ctx);
    if (cb == NULL || (modssl_verify != NULL && cb != modssl_verify && cb != verify_wrap)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     JPKI_LOGNO(0020) "JPKITLSClientAuth On: %s:%d has no mod_ssl verify "
                                      "callback to stand in front of (SSLVerifyClient "
                                      "optional_no_ca missing?)",
                     s->server_hostname ? s->server_hostname : "-", s->port);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (cb != verify_wrap) {
        modssl_verify = cb;
        SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), verify_wrap);
    }
    w = apr_palloc(p, sizeof(*w));
    w->orig = SSL_CTX_get_security_callback(ctx);
    w->orig_ex = SSL_CTX_get0_security_ex_data(ctx);
    if (w->orig != NULL && w->orig != security_cb) {
        SSL_CTX_set0_security_ex_data(ctx, w);
        SSL_CTX_set_security_callback(ctx, security_cb);
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 JPKI_LOGNO(0001) "JPKITLSClientAuth: client certificates of %s:%d are "
                                  "judged by mod_jpki",
                 s->server_hostname ? s->server_hostname : "-", s->port);
    return OK;
}

void jpki_tls_register_hooks(apr_pool_t *p)
{
    (void)p;
    APR_OPTIONAL_HOOK(ssl, init_server, jpki_tls_init_server, NULL, NULL, APR_HOOK_MIDDLE);
}
