/*
 * Provider "ocsp": one RFC 6960 request per certificate, built and checked
 * by the module's own functions (jpki_ocsp_certid, jpki_ocsp_request,
 * jpki_ocsp_check in core/jpki_status_core.c), so reasons and refusals are
 * those of a login. The issuer is the configured root whose subject key id
 * is the serial's issuer key id ("<issuer key id>:<serial>"), never a DN.
 */
#include "recheck.h"
#include "core/jpki_status_core.h"
#include "core/jpki_util.h"

#include <apr_strings.h>
#include <dirent.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

typedef struct ocsp_ctx_t {
    rc_conf_t *c;
    STACK_OF(X509) * roots;
    STACK_OF(X509) * signers;
    X509_STORE *store;
    rc_http_t *http;
} ocsp_ctx_t;

static apr_status_t ctx_free(void *v)
{
    ocsp_ctx_t *x = v;
    sk_X509_pop_free(x->roots, X509_free);
    sk_X509_pop_free(x->signers, X509_free);
    X509_STORE_free(x->store);
    return APR_SUCCESS;
}

/* Every certificate of a PEM file onto sk; the count read, -1 on error. */
static int load_pem(const char *path, STACK_OF(X509) * sk)
{
    FILE *f = fopen(path, "r");
    X509 *x;
    int n = 0;
    if (f == NULL) {
        return -1;
    }
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        sk_X509_push(sk, x);
        n++;
    }
    ERR_clear_error();
    fclose(f);
    return n;
}

static int load_path(apr_pool_t *p, const char *path, STACK_OF(X509) * sk)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    if (d == NULL) {
        return load_pem(path, sk);
    }
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 &&
            (strcmp(e->d_name + l - 4, ".pem") == 0 || strcmp(e->d_name + l - 4, ".crt") == 0)) {
            int k = load_pem(apr_pstrcat(p, path, "/", e->d_name, NULL), sk);
            n += k > 0 ? k : 0;
        }
    }
    closedir(d);
    return n;
}

static int ocsp_init(rc_provider_t *pv, rc_conf_t *c, apr_pool_t *p, const char **err)
{
    ocsp_ctx_t *x = apr_pcalloc(p, sizeof(*x));
    int i;
    x->c = c;
    x->roots = sk_X509_new_null();
    x->signers = sk_X509_new_null();
    x->store = X509_STORE_new();
    apr_pool_cleanup_register(p, x, ctx_free, apr_pool_cleanup_null);
    if (load_path(p, c->roots, x->roots) <= 0) {
        *err = apr_psprintf(p, "roots: no certificate read from %s", c->roots);
        return -1;
    }
    if (c->ocsp_signers && load_pem(c->ocsp_signers, x->signers) <= 0) {
        *err = apr_psprintf(p, "ocsp_signers: no certificate read from %s", c->ocsp_signers);
        return -1;
    }
    for (i = 0; i < sk_X509_num(x->roots); i++) {
        X509_STORE_add_cert(x->store, sk_X509_value(x->roots, i));
    }
    x->http = rc_http_new(p);
    if (x->http == NULL) {
        *err = "cannot start libcurl";
        return -1;
    }
    pv->ctx = x;
    return 0;
}

static int ocsp_worst(rc_provider_t *pv, const rc_account_t *a)
{
    ocsp_ctx_t *x = pv->ctx;
    return (a->auth ? x->c->fee_auth : 0) + (a->sign ? x->c->fee_sign : 0);
}

static X509 *issuer_by_key_id(apr_pool_t *p, ocsp_ctx_t *x, const char *kid, size_t kid_len)
{
    int i;
    for (i = 0; i < sk_X509_num(x->roots); i++) {
        X509 *r = sk_X509_value(x->roots, i);
        const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(r);
        const char *hex;
        if (ski == NULL) {
            continue;
        }
        hex = jpki_util_hex(p, ASN1_STRING_get0_data(ski), (apr_size_t)ASN1_STRING_length(ski));
        if (strlen(hex) == kid_len && strncasecmp(hex, kid, kid_len) == 0) {
            return r;
        }
    }
    return NULL;
}

static void answer_from(const jpki_ocsp_answer_t *ans, rc_answer_t *out)
{
    if (strcmp(ans->status, "good") == 0) {
        out->status = RC_GOOD;
    } else if (strcmp(ans->status, "revoked") == 0) {
        out->status = RC_REVOKED;
        out->reason = ans->reason;
    } else {
        out->status = RC_UNKNOWN;
        out->error = JPKI_E_CERT_STATUS_UNKNOWN;
    }
}

/* POST and check; the answer in out. */
static void exchange(apr_pool_t *p, ocsp_ctx_t *x, OCSP_CERTID *id, rc_answer_t *out)
{
    OCSP_REQUEST *req = NULL;
    rc_http_req_t rq;
    apr_size_t der_len;
    unsigned char *der = jpki_ocsp_request(p, id, x->c->ocsp_nonce, &req, &der_len);
    jpki_ocsp_answer_t ans;
    const char *err, *why = NULL;
    char *body;
    size_t len;
    long status = 0;
    memset(&rq, 0, sizeof(rq));
    rq.url = x->c->ocsp_url;
    rq.content_type = "application/ocsp-request";
    rq.accept = "application/ocsp-response";
    rq.ca_file = x->c->ocsp_ca;
    rq.body = der;
    rq.body_len = der_len;
    rq.timeout_ms = x->c->timeout_ms;
    if (der == NULL || rc_http_post(x->http, p, &rq, &status, &body, &len, &err) < 0 ||
        status != 200) {
        rc_log("warn", "OCSP call failed: %s",
               der == NULL ? "cannot build the request"
               : status    ? apr_psprintf(p, "HTTP %ld", status)
                           : err);
        out->status = RC_NOANSWER;
        out->error = "provider_unreachable";
        out->down = 1;
        OCSP_REQUEST_free(req);
        return;
    }
    err = jpki_ocsp_check(p, (unsigned char *)body, len, req, id, x->store, x->signers,
                          x->c->ocsp_nonce, x->c->ocsp_skew, x->c->ocsp_max_age, apr_time_now(),
                          &ans, &why);
    OCSP_REQUEST_free(req);
    if (err != NULL) {
        rc_log("warn", "OCSP response refused (%s): %s", err, why ? why : "");
        out->status = RC_NOANSWER;
        out->error = err;
        return;
    }
    answer_from(&ans, out);
}

static void ocsp_check(rc_provider_t *pv, apr_pool_t *p, const rc_account_t *a, const char *serial,
                       const char *cert_type, rc_answer_t *out, int *yen)
{
    ocsp_ctx_t *x = pv->ctx;
    const char *colon = serial ? strchr(serial, ':') : NULL;
    X509 *issuer;
    OCSP_CERTID *id;
    (void)a;
    memset(out, 0, sizeof(*out));
    issuer = colon ? issuer_by_key_id(p, x, serial, (size_t)(colon - serial)) : NULL;
    if (issuer == NULL) {
        out->status = RC_NOANSWER;
        out->error = "no_issuer"; /* no root with this key id: nothing asked, nothing paid */
        return;
    }
    id = jpki_ocsp_certid(issuer, colon + 1);
    if (id == NULL) {
        out->status = RC_NOANSWER;
        out->error = "bad_serial";
        return;
    }
    *yen += strcmp(cert_type, "sign") == 0 ? x->c->fee_sign : x->c->fee_auth;
    exchange(p, x, id, out);
    OCSP_CERTID_free(id);
}

const rc_provider_t rc_provider_ocsp = {
    "ocsp", ocsp_init, ocsp_worst, ocsp_check, 0, NULL,
};
