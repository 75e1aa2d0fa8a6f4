/*
 * Status provider "platform": the platform operator's Verify API in the
 * PocketSign v2 shape (Connect protocol, JSON, bearer token), over the
 * pinned libcurl wrapper. Login with a card signature: Verify. Login by
 * TLS certificate and liveness checks: CheckCertificateStatus (by the PF's
 * certificate id when we have it: SPs may not retain the certificate).
 */
#include "steps/status/jpki_status.h"
#include "infra/jpki_http.h"

#include <jansson.h>

#define PF_VERIFY "/pocketsign.verify.v2.VerificationService/Verify"
#define PF_CHECK  "/pocketsign.verify.v2.CertificateService/CheckCertificateStatus"

static char *body_json(apr_pool_t *p, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    char *out = s ? apr_pstrdup(p, s) : NULL;
    free(s);
    json_decref(o);
    return out;
}

static char *build_request(request_rec *r, const jpki_status_cfg_t *sc,
                           const jpki_status_query_t *q, int identify, const char **path)
{
    json_t *o = json_object();
    int liveness = strcmp(q->purpose, "liveness_check") == 0;
    json_object_set_new(o, "checkMethod",
                        json_string(sc->pf_check_method == 1 ? "CHECK_METHOD_CRL"
                                                             : "CHECK_METHOD_OCSP"));
    json_object_set_new(o, "identifyUser", json_boolean(identify));
    json_object_set_new(o, "checkPurpose",
                        json_string(liveness ? "CHECK_PURPOSE_LIVENESS_CHECK"
                                             : "CHECK_PURPOSE_SIGNATURE_VERIFICATION"));
    if (q->sig != NULL && q->digest != NULL && q->der != NULL) {
        *path = PF_VERIFY;
        json_object_set_new(o, "certificate",
                            json_string(jpki_util_b64_encode(r->pool, q->der, q->der_len)));
        json_object_set_new(o, "signature",
                            json_string(jpki_util_b64_encode(r->pool, q->sig, q->sig_len)));
        json_object_set_new(o, "digest", json_string(jpki_util_b64_encode(r->pool, q->digest, 32)));
        json_object_set_new(o, "hashAlgorithm", json_string("HASH_ALGORITHM_SHA256"));
    }
    else {
        *path = PF_CHECK;
        if (q->der != NULL) {
            json_object_set_new(o, "certificate",
                                json_string(jpki_util_b64_encode(r->pool, q->der, q->der_len)));
        }
        else {
            json_object_set_new(o, "certificateId", json_string(q->pf_cert_id));
        }
    }
    return body_json(r->pool, o);
}

/* One HTTP exchange and its interpretation. */
static jpki_pf_kind_e exchange(request_rec *r, const jpki_status_cfg_t *sc, const char *path,
                               const char *body, jpki_pf_answer_t *a, const char **why,
                               const char **error)
{
    jpki_http_req_t rq;
    jpki_http_resp_t rs;
    apr_size_t max;
    long cms, tms;

    jpki_status_http_defaults(sc, &cms, &tms, &max);
    memset(&rq, 0, sizeof(rq));
    rq.url = apr_pstrcat(r->pool, sc->pf_url, path, NULL);
    rq.content_type = "application/json";
    rq.accept = "application/json";
    rq.body = body;
    rq.body_len = strlen(body);
    rq.bearer = sc->pf_token;
    rq.ca_file = sc->pf_ca;
    rq.client_cert = sc->pf_client_cert;
    rq.client_key = sc->pf_client_key;
    rq.connect_ms = cms;
    rq.total_ms = tms;
    rq.max_response = max;
    rq.https_only = 1;
    if (jpki_http_post(r->pool, &rq, &rs) != JPKI_HTTP_OK) {
        *error = jpki_http_outcome_name(rs.outcome);
        *why = apr_psprintf(r->pool, "platform %s after %ld ms: %s", *error, rs.ms, rs.error);
        memset(a, 0, sizeof(*a));
        a->kind = JPKI_PF_BAD;
        return JPKI_PF_BAD;
    }
    jpki_pf_parse(r->pool, rs.status, rs.body, rs.len, a);
    if (a->kind == JPKI_PF_BAD) {
        *error = "bad_answer";
        *why = apr_psprintf(r->pool, "platform answer unusable (HTTP %ld, %" APR_SIZE_T_FMT
                            " bytes): %s", rs.status, rs.len, a->why);
    }
    else if (a->kind == JPKI_PF_UNAUTHORIZED) {
        *error = "unauthorized";
        *why = a->why;
    }
    return a->kind;
}

int jpki_status_platform_call(request_rec *r, const jpki_status_cfg_t *sc,
                              const jpki_status_query_t *q, jpki_status_result_t *res,
                              const char **why)
{
    jpki_pf_answer_t a;
    const char *path, *body, *error = NULL;
    jpki_pf_kind_e k;

    if (q->der == NULL && q->pf_cert_id == NULL) {
        res->error = "no_certificate_id";
        *why = "no platform certificate id for this session (logged in before the platform "
               "provider was enabled?)";
        return 0;
    }
    body = build_request(r, sc, q, 1, &path);
    k = exchange(r, sc, path, body, &a, why, &error);
    if (k == JPKI_PF_LINK_PENDING) {
        /* The PF cannot name the user yet (renewal link data arrives with a
         * delay) and did not check the certificate. Ask again without
         * identifyUser for the status; the account layer decides whether
         * the login can go on without a user id. */
        res->link_pending = 1;
        body = build_request(r, sc, q, 0, &path);
        k = exchange(r, sc, path, body, &a, why, &error);
    }
    if (k == JPKI_PF_UNAUTHORIZED) {
        res->config_error = 1;
        res->error = "unauthorized";
        return 0;
    }
    if (k != JPKI_PF_ANSWER) {
        res->error = error ? error : "bad_answer";
        if (k == JPKI_PF_LINK_PENDING) {
            *why = a.why;
        }
        return 0;
    }
    res->pf_cert_id = a.cert_id ? a.cert_id : q->pf_cert_id;
    res->cert_type = a.cert_type;
    res->platform_user_id = a.user_id;
    if (a.result && strcmp(a.result, "signature_mismatch") == 0) {
        res->status = JPKI_STATUS_UNKNOWN;
        res->refusal = "signature_invalid";
        return 1;
    }
    if (strcmp(a.status, "good") == 0) {
        res->status = JPKI_STATUS_GOOD;
    }
    else if (strcmp(a.status, "revoked") == 0) {
        res->status = JPKI_STATUS_REVOKED;
        res->reason = a.reason;
    }
    else if (strcmp(a.status, "expired") == 0) {
        res->status = JPKI_STATUS_UNKNOWN;
        res->refusal = JPKI_E_CERT_EXPIRED;
    }
    else {
        res->status = JPKI_STATUS_UNKNOWN;
        res->refusal = JPKI_E_CERT_STATUS_UNKNOWN;
    }
    return 1;
}
