/*
 * Status provider "ocsp": RFC 6960 over HTTP POST (libcurl), for verifiers
 * certified directly with J-LIS. The CertID is built from the trust anchor
 * that issued the certificate (found by issuer key id) and the serial, so
 * a session's liveness check needs neither the certificate nor its chain.
 */
#include "steps/status/jpki_status.h"
#include "infra/jpki_http.h"

static const jpki_anchor_t *anchor_by_key_id(const jpki_trust_t *t, const char *kid)
{
    int i;
    for (i = 0; t && kid && i < t->anchors->nelts; i++) {
        const jpki_anchor_t *a = &APR_ARRAY_IDX(t->anchors, i, jpki_anchor_t);
        if (a->key_id && strcmp(a->key_id, kid) == 0) {
            return a;
        }
    }
    return NULL;
}

static apr_status_t req_free(void *d)
{
    OCSP_REQUEST_free(d);
    return APR_SUCCESS;
}

static apr_status_t id_free(void *d)
{
    OCSP_CERTID_free(d);
    return APR_SUCCESS;
}

/* The CertID (issuer anchor + serial) and the DER request, both freed with
 * r->pool. NULL (with res->error, *why) when either cannot be built. */
static unsigned char *ocsp_request(request_rec *r, const jpki_status_cfg_t *sc,
                                   const jpki_anchor_t *a, const char *serial_hex,
                                   OCSP_CERTID **id, OCSP_REQUEST **req, apr_size_t *der_len,
                                   jpki_status_result_t *res, const char **why)
{
    unsigned char *der;
    *id = jpki_ocsp_certid(a->x509, serial_hex);
    if (*id == NULL) {
        res->error = "internal";
        *why = "cannot build the OCSP CertID";
        return NULL;
    }
    apr_pool_cleanup_register(r->pool, *id, id_free, apr_pool_cleanup_null);
    der = jpki_ocsp_request(r->pool, *id, sc->ocsp_nonce != 0, req, der_len);
    if (der == NULL) {
        res->error = "internal";
        *why = "cannot build the OCSP request";
        return NULL;
    }
    apr_pool_cleanup_register(r->pool, *req, req_free, apr_pool_cleanup_null);
    return der;
}

/* POST the request to JPKIOCSPURL; 1 on an HTTP 200 answer in *rs, else 0
 * (with res->error, *why). */
static int ocsp_post(request_rec *r, const jpki_status_cfg_t *sc, unsigned char *der,
                     apr_size_t der_len, jpki_http_resp_t *rs, jpki_status_result_t *res,
                     const char **why)
{
    jpki_http_req_t rq;
    apr_size_t max;
    long cms, tms;

    jpki_status_http_defaults(sc, &cms, &tms, &max);
    memset(&rq, 0, sizeof(rq));
    rq.url = sc->ocsp_url;
    rq.content_type = "application/ocsp-request";
    rq.accept = "application/ocsp-response";
    rq.body = der;
    rq.body_len = der_len;
    rq.connect_ms = cms;
    rq.total_ms = tms;
    rq.max_response = max;
    if (strncasecmp(sc->ocsp_url, "https:", 6) == 0) {
        rq.ca_file = sc->pf_ca; /* JPKIPlatformCA pins an https responder too */
    }
    if (jpki_http_post(r->pool, &rq, rs) != JPKI_HTTP_OK) {
        res->error = jpki_http_outcome_name(rs->outcome);
        *why = apr_psprintf(r->pool, "OCSP %s after %ld ms: %s", res->error, rs->ms, rs->error);
        return 0;
    }
    if (rs->status != 200) {
        res->error = "bad_answer";
        *why = apr_psprintf(r->pool, "OCSP responder answered HTTP %ld", rs->status);
        return 0;
    }
    return 1;
}

int jpki_status_ocsp_call(request_rec *r, const jpki_status_cfg_t *sc,
                          const jpki_status_query_t *q, jpki_status_result_t *res,
                          const char **why)
{
    jpki_srv_cfg_t *cfg = jpki_srv_cfg(r->server);
    const jpki_anchor_t *a = anchor_by_key_id(cfg->trust, q->issuer_key_id);
    OCSP_CERTID *id = NULL;
    OCSP_REQUEST *req = NULL;
    unsigned char *der;
    apr_size_t der_len;
    jpki_http_resp_t rs;
    jpki_ocsp_answer_t ans;
    const char *err;

    if (a == NULL) {
        res->error = "no_issuer";
        *why = "no configured root with the certificate's issuer key id (JPKITrustedCA)";
        return 0;
    }
    der = ocsp_request(r, sc, a, q->serial_hex, &id, &req, &der_len, res, why);
    if (der == NULL || !ocsp_post(r, sc, der, der_len, &rs, res, why)) {
        return 0;
    }
    err = jpki_ocsp_check(r->pool, (const unsigned char *)rs.body, rs.len, req, id,
                          a->type == JPKI_CERT_TYPE_SIGN ? cfg->trust->sign_store
                                                         : cfg->trust->auth_store,
                          sc->ocsp_signers, sc->ocsp_nonce != 0,
                          jpki_cfg_status_ocsp_skew(sc),
                          jpki_status_ocsp_max_age(sc), apr_time_now(), &ans, why);
    if (err != NULL) {
        res->error = err;
        *why = apr_psprintf(r->pool, "OCSP response refused (%s): %s", err, *why);
        return 0;
    }
    res->valid_until = ans.next_update;
    if (strcmp(ans.status, "good") == 0) {
        res->status = JPKI_STATUS_GOOD;
    }
    else if (strcmp(ans.status, "revoked") == 0) {
        res->status = JPKI_STATUS_REVOKED;
        res->reason = ans.reason;
    }
    else {
        res->status = JPKI_STATUS_UNKNOWN;
        res->refusal = JPKI_E_CERT_STATUS_UNKNOWN;
    }
    return 1;
}
