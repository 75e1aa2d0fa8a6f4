/*
 * Provider "platform": the platform operator's UserService/CheckUserStatus
 * (PocketSign Verify API v2 shape, jpki-facts.md §4.1) by the account's
 * platform_user_id, over mutual TLS with a bearer token from a file.
 *
 * One call per account. The PF answers the state of the user's latest
 * certificate and its serial: a latest serial that is not one of the
 * account's means the card was renewed (the PF has the successor link);
 * a revocation reason is used when the PF gives one. Error answers go
 * through the module's own parser (jpki_pf_parse), so 401, link-pending
 * and malformed answers mean exactly what they mean at login.
 */
#include "recheck.h"
#include "core/jpki_status_core.h"

#include <apr_strings.h>
#include <jansson.h>
#include <string.h>

#define PF_USER "/pocketsign.verify.v2.UserService/CheckUserStatus"

typedef struct pf_ctx_t {
    rc_conf_t *c;
    const char *token;
    rc_http_t *http;
} pf_ctx_t;

static int pf_init(rc_provider_t *pv, rc_conf_t *c, apr_pool_t *p, const char **err)
{
    pf_ctx_t *x = apr_pcalloc(p, sizeof(*x));
    x->c = c;
    x->token = rc_read_secret(p, c->pf_token_file, err);
    if (x->token == NULL) {
        *err = apr_pstrcat(p, "platform_token_file ", *err, NULL);
        return -1;
    }
    x->http = rc_http_new(p);
    if (x->http == NULL) {
        *err = "cannot start libcurl";
        return -1;
    }
    pv->ctx = x;
    return 0;
}

static int pf_worst(rc_provider_t *pv, const rc_account_t *a)
{
    pf_ctx_t *x = pv->ctx;
    return a->pf_user_id ? x->c->fee_user : 0;
}

static const char *str(json_t *o, const char *camel, const char *snake)
{
    json_t *v = json_object_get(o, camel);
    if (v == NULL && snake != NULL) {
        v = json_object_get(o, snake);
    }
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int mine(const rc_account_t *a, const char *serial_hex)
{
    int i;
    for (i = 0; i < a->serials->nelts; i++) {
        const char *s = APR_ARRAY_IDX(a->serials, i, const char *);
        const char *colon = strchr(s, ':');
        if (strcasecmp(colon ? colon + 1 : s, serial_hex) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A 200 answer: {"user":{"id"},"certificateState","latestCertificateSerial"}. */
static void pf_answer(apr_pool_t *p, const rc_account_t *a, const char *body, size_t len,
                      rc_answer_t *out)
{
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    const char *st = o ? str(o, "certificateState", "certificate_state") : NULL;
    const char *latest = o ? str(o, "latestCertificateSerial", "latest_certificate_serial") : NULL;
    const char *reason = o ? str(o, "revocationReason", "revocation_reason") : NULL;
    out->status = RC_NOANSWER;
    out->error = "bad_answer";
    if (st == NULL) {
        json_decref(o);
        return;
    }
    out->error = NULL;
    if (strcmp(st, "STATE_GOOD") == 0) {
        out->status = RC_GOOD;
    } else if (strcmp(st, "STATE_REVOKED") == 0) {
        out->status = RC_REVOKED;
        out->reason = reason ? apr_pstrdup(p, jpki_reason_name(reason)) : NULL;
    } else if (strcmp(st, "STATE_EXPIRED") == 0) {
        out->status = RC_EXPIRED;
    } else {
        out->status = RC_UNKNOWN;
        out->error = JPKI_E_CERT_STATUS_UNKNOWN;
    }
    out->renewed = latest != NULL && *latest != '\0' && !mine(a, latest);
    json_decref(o);
}

static char *pf_body(apr_pool_t *p, pf_ctx_t *x, const char *uid)
{
    json_t *o = json_object();
    char *s, *out;
    json_object_set_new(o, "userId", json_string(uid));
    json_object_set_new(o, "checkMethod", json_string(x->c->pf_check_method));
    json_object_set_new(o, "checkPurpose", json_string("CHECK_PURPOSE_LIVENESS_CHECK"));
    s = json_dumps(o, JSON_COMPACT);
    out = apr_pstrdup(p, s);
    free(s);
    json_decref(o);
    return out;
}

/* Not a 200 answer: interpreted by the module's parser. */
static void pf_error(apr_pool_t *p, long status, const char *body, size_t len, rc_answer_t *out)
{
    jpki_pf_answer_t a;
    jpki_pf_kind_e k = jpki_pf_parse(p, status, body, len, &a);
    out->status = RC_NOANSWER;
    if (status == 404) {
        out->error = "user_not_found"; /* the PF no longer knows the user */
        out->status = RC_UNKNOWN;
    } else if (k == JPKI_PF_UNAUTHORIZED) {
        out->error = "unauthorized";
        out->down = 1;
    } else if (k == JPKI_PF_LINK_PENDING) {
        out->error = "link_pending";
    } else {
        out->error = status >= 500 ? "provider_error" : "bad_answer";
        out->down = status >= 500;
    }
}

static void pf_check(rc_provider_t *pv, apr_pool_t *p, const rc_account_t *a, const char *serial,
                     const char *cert_type, rc_answer_t *out, int *yen)
{
    pf_ctx_t *x = pv->ctx;
    rc_http_req_t rq;
    long status = 0;
    char *body;
    size_t len;
    const char *err;
    (void)serial;
    (void)cert_type;
    memset(out, 0, sizeof(*out));
    if (a->pf_user_id == NULL) {
        out->status = RC_NOANSWER;
        out->error = "no_platform_user_id";
        return;
    }
    memset(&rq, 0, sizeof(rq));
    rq.url = apr_pstrcat(p, x->c->pf_url, PF_USER, NULL);
    rq.content_type = rq.accept = "application/json";
    rq.bearer = x->token;
    rq.ca_file = x->c->pf_ca;
    rq.client_cert = x->c->pf_client_cert;
    rq.client_key = x->c->pf_client_key;
    rq.body = pf_body(p, x, a->pf_user_id);
    rq.body_len = strlen(rq.body);
    rq.timeout_ms = x->c->timeout_ms;
    *yen += x->c->fee_user; /* counted when asked: the PF counts every call */
    if (rc_http_post(x->http, p, &rq, &status, &body, &len, &err) < 0) {
        rc_log("warn", "platform call failed: %s", err);
        out->status = RC_NOANSWER;
        out->error = "provider_unreachable";
        out->down = 1;
        return;
    }
    if (status == 200) {
        pf_answer(p, a, body, len, out);
    } else {
        pf_error(p, status, body, len, out);
    }
}

const rc_provider_t rc_provider_platform = {
    "platform", pf_init, pf_worst, pf_check, 1, NULL,
};
