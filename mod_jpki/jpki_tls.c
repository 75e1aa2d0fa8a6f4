/*
 * TLS client authentication through mod_ssl.
 *
 * Even with "SSLVerifyClient optional_no_ca", mod_ssl aborts the handshake
 * for an expired certificate, a 1024-bit key, an unknown critical
 * extension...: the user then sees a browser TLS error instead of a clear
 * refusal. With JPKITLSClientAuth On, mod_jpki replaces OpenSSL's chain
 * verification for that virtual host's handshakes with "no issuer known"
 * (the optional_no_ca case mod_ssl accepts), and judges the certificate
 * itself at request time (jpki_authn.c). The TLS layer still checks the
 * CertificateVerify signature, i.e. possession of the card's key.
 */
#include "jpki.h"

#include "apr_optional_hooks.h"
#include <openssl/ssl.h>

/* mod_ssl's optional hook (modules/ssl/mod_ssl_openssl.h, not installed by
 * every distribution): called for each virtual host's SSL_CTX at startup. */
typedef int ssl_HOOK_init_server_t(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

static int verify_deferred(X509_STORE_CTX *ctx, void *arg)
{
    (void)arg;
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    return 1;
}

/* OpenSSL's security level also refuses a client certificate with a small
 * key or a SHA-1 signature inside the handshake. Those peer-certificate
 * checks are mod_jpki's job on these hosts (and stricter there: RSA >= 2048,
 * SHA-256+); every other check still goes to the callback that was set. */
typedef struct {
    int (*orig)(const SSL *s, const SSL_CTX *ctx, int op, int bits, int nid, void *other,
                void *ex);
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
    if (!is_proxy && jpki_srv_cfg(s)->tls_client_auth == 1) {
        sec_wrap_t *w = apr_palloc(p, sizeof(*w));
        w->orig = SSL_CTX_get_security_callback(ctx);
        w->orig_ex = SSL_CTX_get0_security_ex_data(ctx);
        if (w->orig != NULL) {
            SSL_CTX_set0_security_ex_data(ctx, w);
            SSL_CTX_set_security_callback(ctx, security_cb);
        }
        SSL_CTX_set_cert_verify_callback(ctx, verify_deferred, NULL);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     JPKI_LOGNO(0001) "JPKITLSClientAuth: client certificates of %s:%d are "
                     "judged by mod_jpki", s->server_hostname ? s->server_hostname : "-", s->port);
    }
    return OK;
}

void jpki_tls_register_hooks(apr_pool_t *p)
{
    (void)p;
    APR_OPTIONAL_HOOK(ssl, init_server, jpki_tls_init_server, NULL, NULL, APR_HOOK_MIDDLE);
}
