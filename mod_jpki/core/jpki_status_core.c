/*
 * Pure status parsing: reasons, PF JSON answers, OCSP. See the header.
 */
#include "core/jpki_status_core.h"
#include "core/jpki_cert.h"
#include "core/jpki_util.h"

#include <apr_strings.h>
#include <apr_lib.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* ------------------------------------------------------------ reasons -- */

/* RFC 5280 CRLReason values (5.3.1), with what each means in JPKI
 * (design.md §3, jpki-facts.md §2) in docs/status.md. */
static const struct {
    int code;
    const char *name;   /* RFC 5280 */
    const char *snake;  /* PF / proto enum stem */
    const char *error;  /* our stable refusal code */
} reasons[] = {
    {0, "unspecified", "unspecified", JPKI_E_CERT_REVOKED},
    {1, "keyCompromise", "key_compromise", JPKI_E_CERT_REVOKED_KEY_COMPROMISE},
    {2, "cACompromise", "ca_compromise", JPKI_E_CERT_REVOKED},
    {3, "affiliationChanged", "affiliation_changed", JPKI_E_CERT_REVOKED_AFFILIATION},
    {4, "superseded", "superseded", JPKI_E_CERT_REVOKED_SUPERSEDED},
    {5, "cessationOfOperation", "cessation_of_operation", JPKI_E_CERT_REVOKED_CESSATION},
    {6, "certificateHold", "certificate_hold", JPKI_E_CERT_REVOKED_HOLD},
    {8, "removeFromCRL", "remove_from_crl", JPKI_E_CERT_REVOKED},
    {9, "privilegeWithdrawn", "privilege_withdrawn", JPKI_E_CERT_REVOKED},
    {10, "aACompromise", "aa_compromise", JPKI_E_CERT_REVOKED},
    {-1, NULL, NULL, NULL}};

const char *jpki_reason_name(const char *in)
{
    int i;
    if (in == NULL) {
        return "unspecified";
    }
    if (strncmp(in, "REVOCATION_REASON_", 18) == 0) {
        in += 18;
    }
    for (i = 0; reasons[i].name; i++) {
        if (strcasecmp(in, reasons[i].name) == 0 || strcasecmp(in, reasons[i].snake) == 0) {
            return reasons[i].name;
        }
    }
    return "unspecified";
}

const char *jpki_reason_from_code(int code)
{
    int i;
    for (i = 0; reasons[i].name; i++) {
        if (reasons[i].code == code) {
            return reasons[i].name;
        }
    }
    return "unspecified";
}

const char *jpki_reason_error_code(const char *rfc_name)
{
    int i;
    for (i = 0; rfc_name && reasons[i].name; i++) {
        if (strcmp(rfc_name, reasons[i].name) == 0) {
            return reasons[i].error;
        }
    }
    return JPKI_E_CERT_REVOKED;
}

/* --------------------------------------------------------- PF answers -- */

/* A member by its lowerCamelCase or snake_case name. */
static json_t *member(json_t *o, const char *camel, const char *snake)
{
    json_t *v = json_object_get(o, camel);
    return v ? v : (snake ? json_object_get(o, snake) : NULL);
}

/* String member: *out = value, NULL when absent. 0 if present with the
 * wrong type or unreasonable length (the answer is then unusable). */
static int str_member(apr_pool_t *p, json_t *o, const char *camel, const char *snake,
                      const char **out)
{
    json_t *v = member(o, camel, snake);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 1;
    }
    if (!json_is_string(v) || json_string_length(v) > 256) {
        return 0;
    }
    *out = apr_pstrdup(p, json_string_value(v));
    return 1;
}

/* Object member; absent is fine (NULL), another type is not. */
static int obj_member(json_t *o, const char *camel, const char *snake, json_t **out)
{
    json_t *v = member(o, camel, snake);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 1;
    }
    if (!json_is_object(v)) {
        return 0;
    }
    *out = v;
    return 1;
}

/* Identifiers we pass on (user id, certificate id) end up in logs, cache
 * keys and CGI variables: printable ASCII without separators only. */
static int id_ok(const char *s)
{
    if (s == NULL) {
        return 1;
    }
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (!(apr_isalnum(*s) || *s == '_' || *s == '-' || *s == '.' || *s == ':')) {
            return 0;
        }
    }
    return 1;
}

/* No answer: nothing parsed so far (e.g. a certificate id that id_ok()
 * has just refused) may be left behind for a caller to pick up. */
static jpki_pf_kind_e bad(jpki_pf_answer_t *a, const char *why)
{
    memset(a, 0, sizeof(*a));
    a->kind = JPKI_PF_BAD;
    a->why = why;
    return JPKI_PF_BAD;
}

/* A Connect error body: is ASSOCIATED_CERTIFICATE_NOT_EXISTS among its
 * details (debug.reason, or the top-level reason of a detail)? */
static int link_pending(json_t *o)
{
    json_t *details = json_object_get(o, "details");
    size_t i;
    json_t *d;
    if (!json_is_array(details)) {
        return 0;
    }
    json_array_foreach(details, i, d)
    {
        json_t *r = json_object_get(d, "reason");
        json_t *dbg = json_object_get(d, "debug");
        const char *s = json_string_value(r);
        if (s == NULL && json_is_object(dbg)) {
            s = json_string_value(json_object_get(dbg, "reason"));
        }
        if (s && strstr(s, "ASSOCIATED_CERTIFICATE_NOT_EXISTS") != NULL) {
            return 1;
        }
    }
    return 0;
}

/* An answer other than HTTP 200 that has a JSON object body: the renewal
 * link not there yet (400 with ASSOCIATED_CERTIFICATE_NOT_EXISTS), or no
 * answer, with the Connect code when it is a plain identifier. */
static jpki_pf_kind_e pf_error_body(apr_pool_t *p, long http_status, json_t *o,
                                    jpki_pf_answer_t *a)
{
    const char *code = json_string_value(json_object_get(o, "code"));
    if (http_status == 400 && link_pending(o)) {
        a->kind = JPKI_PF_LINK_PENDING;
        a->why = "ASSOCIATED_CERTIFICATE_NOT_EXISTS: renewal link data not available yet";
        return a->kind;
    }
    a->why = apr_psprintf(p, "HTTP %ld code=%s", http_status, (code && id_ok(code)) ? code : "-");
    a->kind = JPKI_PF_BAD;
    return a->kind;
}

/* certificateStatus: a->status (and a->reason when revoked). */
static const char *pf_status(apr_pool_t *p, json_t *st, jpki_pf_answer_t *a)
{
    const char *s = NULL, *reason = NULL;
    if (!str_member(p, st, "status", NULL, &s) || s == NULL) {
        return "certificateStatus.status missing or not a string";
    }
    if (!str_member(p, st, "revocationReason", "revocation_reason", &reason)) {
        return "certificateStatus.revocationReason is not a string";
    }
    if (strcmp(s, "STATUS_GOOD") == 0) {
        a->status = "good";
    }
    else if (strcmp(s, "STATUS_REVOKED") == 0) {
        a->status = "revoked";
        a->reason = jpki_reason_name(reason);
    }
    else if (strcmp(s, "STATUS_EXPIRED") == 0) {
        a->status = "expired";
    }
    else if (strcmp(s, "STATUS_UNKNOWN") == 0) {
        a->status = "unknown";
    }
    else {
        return "certificateStatus.status has an unknown value";
    }
    return NULL;
}

/* verification (of the signature sent along): a->result. */
static const char *pf_verification(apr_pool_t *p, json_t *ver, jpki_pf_answer_t *a)
{
    const char *res;
    if (!str_member(p, ver, "result", NULL, &res) || res == NULL) {
        return "verification.result missing or not a string";
    }
    if (strcmp(res, "RESULT_OK") == 0) {
        a->result = "ok";
    }
    else if (strcmp(res, "RESULT_SIGNATURE_MISMATCH") == 0) {
        a->result = "signature_mismatch";
    }
    else if (strcmp(res, "RESULT_CERTIFICATE_REVOKED") == 0) {
        a->result = "revoked";
    }
    else if (strcmp(res, "RESULT_CERTIFICATE_EXPIRED") == 0) {
        a->result = "expired";
    }
    else {
        return "verification.result has an unknown value";
    }
    return NULL;
}

/* certificate: a->cert_id and a->cert_type. */
static const char *pf_certificate(apr_pool_t *p, json_t *cert, jpki_pf_answer_t *a)
{
    const char *type = NULL;
    if (!str_member(p, cert, "id", NULL, &a->cert_id) ||
        !str_member(p, cert, "type", NULL, &type) || !id_ok(a->cert_id)) {
        return "certificate.id or certificate.type has the wrong type";
    }
    if (type && strstr(type, "USER_AUTHENTICATION")) {
        a->cert_type = "auth";
    }
    else if (type && strstr(type, "DIGITAL_SIGNATURE")) {
        a->cert_type = "sign";
    }
    return NULL;
}

/* The members of an HTTP 200 answer into *a; NULL, or why it is no answer. */
static const char *pf_answer_body(apr_pool_t *p, json_t *o, jpki_pf_answer_t *a)
{
    json_t *st = NULL, *cert = NULL, *ver = NULL, *user = NULL;
    const char *why;
    if (!obj_member(o, "certificateStatus", "certificate_status", &st) ||
        !obj_member(o, "certificate", NULL, &cert) ||
        !obj_member(o, "verification", NULL, &ver) || !obj_member(o, "user", NULL, &user)) {
        return "answer has a member of the wrong type";
    }
    if (st == NULL) {
        return "answer has no certificateStatus";
    }
    if ((why = pf_status(p, st, a)) != NULL) {
        return why;
    }
    if (ver != NULL && (why = pf_verification(p, ver, a)) != NULL) {
        return why;
    }
    if (cert != NULL && (why = pf_certificate(p, cert, a)) != NULL) {
        return why;
    }
    if (user != NULL &&
        (!str_member(p, user, "id", NULL, &a->user_id) || !id_ok(a->user_id))) {
        return "user.id is not an identifier string";
    }
    return NULL;
}

jpki_pf_kind_e jpki_pf_parse(apr_pool_t *p, long http_status, const char *body, apr_size_t len,
                             jpki_pf_answer_t *a)
{
    json_error_t e;
    json_t *o;
    const char *why;
    int depth;

    memset(a, 0, sizeof(*a));
    if (http_status == 401) {
        a->kind = JPKI_PF_UNAUTHORIZED;
        a->why = "HTTP 401: the platform operator refused our bearer token";
        return a->kind;
    }
    depth = (body && len) ? jpki_json_depth(body, len) : -1;
    if (depth < 0 || depth > JPKI_PF_MAX_DEPTH) {
        return bad(a, http_status == 200 ? "answer is not JSON (or nested too deep)"
                                         : apr_psprintf(p, "HTTP %ld without a JSON body",
                                                        http_status));
    }
    o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(o)) {
        json_decref(o);
        return bad(a, http_status == 200 ? "answer is not a JSON object"
                                         : apr_psprintf(p, "HTTP %ld without a JSON body",
                                                        http_status));
    }
    if (http_status != 200) {
        pf_error_body(p, http_status, o, a);
        json_decref(o);
        return a->kind;
    }
    why = pf_answer_body(p, o, a);
    json_decref(o);
    if (why != NULL) {
        return bad(a, why);
    }
    a->kind = JPKI_PF_ANSWER;
    return a->kind;
}

/* --------------------------------------------------------------- OCSP -- */

OCSP_CERTID *jpki_ocsp_certid(X509 *issuer, const char *serial_hex)
{
    BIGNUM *bn = NULL;
    ASN1_INTEGER *ai;
    OCSP_CERTID *id;
    if (issuer == NULL || serial_hex == NULL || BN_hex2bn(&bn, serial_hex) == 0) {
        BN_free(bn);
        return NULL;
    }
    ai = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    if (ai == NULL) {
        return NULL;
    }
    id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer),
                          X509_get0_pubkey_bitstr(issuer), ai);
    ASN1_INTEGER_free(ai);
    return id;
}

unsigned char *jpki_ocsp_request(apr_pool_t *p, const OCSP_CERTID *id, int nonce,
                                 OCSP_REQUEST **req, apr_size_t *len)
{
    OCSP_REQUEST *rq = OCSP_REQUEST_new();
    OCSP_CERTID *dup = OCSP_CERTID_dup(id);
    unsigned char *der = NULL, *out;
    int n;
    *req = NULL;
    if (rq == NULL || dup == NULL || OCSP_request_add0_id(rq, dup) == NULL) {
        OCSP_CERTID_free(dup);
        OCSP_REQUEST_free(rq);
        return NULL;
    }
    if (nonce && !OCSP_request_add1_nonce(rq, NULL, 16)) {
        OCSP_REQUEST_free(rq);
        return NULL;
    }
    n = i2d_OCSP_REQUEST(rq, &der);
    if (n <= 0) {
        OCSP_REQUEST_free(rq);
        return NULL;
    }
    out = apr_pmemdup(p, der, (apr_size_t)n);
    OPENSSL_free(der);
    *len = (apr_size_t)n;
    *req = rq;
    return out;
}

/* OCSP_basic_verify trusts a JPKIOCSPSigner certificate as it is, with no
 * time check (OCSP_TRUSTOTHER): the signer must be within its validity
 * both now and when it signed (producedAt). */
static const char *signer_in_validity(apr_pool_t *p, OCSP_BASICRESP *bs, STACK_OF(X509) *signers,
                                      apr_time_t now, const char **why)
{
    X509 *signer = NULL;
    apr_time_t nb, na, produced;
    if (OCSP_resp_get0_signer(bs, &signer, signers) != 1 || signer == NULL) {
        *why = "the responder certificate is not in the response nor in JPKIOCSPSigner";
        return "ocsp_signature";
    }
    nb = jpki_cert_asn1_time(X509_get0_notBefore(signer));
    na = jpki_cert_asn1_time(X509_get0_notAfter(signer));
    produced = jpki_cert_asn1_time(OCSP_resp_get0_produced_at(bs));
    if (nb == 0 || na == 0 || produced == 0) {
        *why = "unreadable responder validity or producedAt";
        return "ocsp_malformed";
    }
    if (now < nb || now > na || produced < nb || produced > na) {
        *why = apr_psprintf(p, "the responder certificate (valid %s to %s) was not valid %s",
                            jpki_util_time_iso(p, nb), jpki_util_time_iso(p, na),
                            now < nb || now > na ? "now" : "when it signed (producedAt)");
        return "ocsp_signer_expired";
    }
    return NULL;
}

/* The envelope: a DER OCSPResponse, responseStatus successful, a basic
 * response. *resp and *bs are set as far as decoded; the caller frees them. */
static const char *ocsp_decode(apr_pool_t *p, const unsigned char *der, apr_size_t len,
                               OCSP_RESPONSE **resp, OCSP_BASICRESP **bs, const char **why)
{
    const unsigned char *q = der;
    int rc;
    *resp = (len > 0 && len < (1u << 24)) ? d2i_OCSP_RESPONSE(NULL, &q, (long)len) : NULL;
    if (*resp == NULL || q != der + len) {
        *why = "response is not a DER OCSPResponse";
        return "ocsp_malformed";
    }
    if ((rc = OCSP_response_status(*resp)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        *why = apr_psprintf(p, "responseStatus %d (%s)", rc, OCSP_response_status_str(rc));
        return "ocsp_unsuccessful";
    }
    if ((*bs = OCSP_response_get1_basic(*resp)) == NULL) {
        *why = "no basic response";
        return "ocsp_malformed";
    }
    return NULL;
}

/* Ours and genuine: the nonce, the responder's signature and authority,
 * the responder certificate's validity. */
static const char *ocsp_authentic(apr_pool_t *p, OCSP_BASICRESP *bs, OCSP_REQUEST *req,
                                  X509_STORE *store, STACK_OF(X509) *signers, int require_nonce,
                                  apr_time_t now, const char **why)
{
    /* 1 equal, 2 neither has one, -1 only the request has one, 0 mismatch,
     * 3 only the response has one. */
    int rc = OCSP_check_nonce(req, bs);
    if (rc == 0 || (rc == -1 && require_nonce)) {
        *why = rc == 0 ? "nonce in the response differs from ours (a replayed response)"
                       : "response carries no nonce (JPKIOCSPRequireNonce On)";
        return "ocsp_nonce";
    }
    /* Explicitly authorised responders (JPKIOCSPSigner) are trusted as
     * they are; any other signer must chain to a configured root and be
     * the issuer itself or a responder it delegated to (checked by
     * OpenSSL against the CertID's issuer). Our store holds only the
     * operator's J-LIS roots, so they need no explicit OCSP trust flag. */
    rc = OCSP_basic_verify(bs, signers, store, OCSP_TRUSTOTHER | OCSP_NOEXPLICIT);
    if (rc <= 0) {
        unsigned long e = ERR_peek_last_error();
        *why = apr_psprintf(p, "responder signature or authorisation refused: %s",
                            e ? ERR_reason_error_string(e) : "verify failed");
        ERR_clear_error();
        return "ocsp_signature";
    }
    return signer_in_validity(p, bs, signers, now, why);
}

/* The single response about our certificate: fresh enough, then its
 * status into *out. */
static const char *ocsp_single(OCSP_BASICRESP *bs, OCSP_CERTID *id, long skew, long max_age,
                               apr_time_t now, jpki_ocsp_answer_t *out, const char **why)
{
    ASN1_GENERALIZEDTIME *thisupd = NULL, *nextupd = NULL, *revtime = NULL;
    int status, reason = -1;
    apr_time_t skew_t = apr_time_from_sec(skew);

    if (!OCSP_resp_find_status(bs, id, &status, &reason, &revtime, &thisupd, &nextupd)) {
        *why = "the response is not about the certificate we asked for";
        return "ocsp_wrong_certificate";
    }
    out->this_update = jpki_cert_asn1_time(thisupd);
    out->next_update = nextupd ? jpki_cert_asn1_time(nextupd) : 0;
    if (out->this_update == 0 || (nextupd && out->next_update == 0)) {
        *why = "unreadable thisUpdate/nextUpdate";
        return "ocsp_malformed";
    }
    if (out->this_update > now + skew_t) {
        *why = "thisUpdate is in the future (JPKIOCSPTimeSkew)";
        return "ocsp_stale";
    }
    if (out->next_update && out->next_update < now - skew_t) {
        *why = "nextUpdate has passed: the response is too old";
        return "ocsp_stale";
    }
    if (out->next_update && out->next_update < out->this_update) {
        *why = "nextUpdate before thisUpdate";
        return "ocsp_malformed";
    }
    if (max_age >= 0 && out->this_update < now - skew_t - apr_time_from_sec(max_age)) {
        *why = "thisUpdate is older than JPKIOCSPMaxAge: the response is too old";
        return "ocsp_stale";
    }
    switch (status) {
    case V_OCSP_CERTSTATUS_GOOD:
        out->status = "good";
        break;
    case V_OCSP_CERTSTATUS_REVOKED:
        out->status = "revoked";
        out->reason = jpki_reason_from_code(reason < 0 ? 0 : reason);
        break;
    default:
        out->status = "unknown";
        break;
    }
    return NULL;
}

const char *jpki_ocsp_check(apr_pool_t *p, const unsigned char *der, apr_size_t len,
                            OCSP_REQUEST *req, OCSP_CERTID *id, X509_STORE *store,
                            STACK_OF(X509) *signers, int require_nonce, long skew, long max_age,
                            apr_time_t now, jpki_ocsp_answer_t *out, const char **why)
{
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    const char *err;

    memset(out, 0, sizeof(*out));
    *why = NULL;
    err = ocsp_decode(p, der, len, &resp, &bs, why);
    if (err == NULL) {
        err = ocsp_authentic(p, bs, req, store, signers, require_nonce, now, why);
    }
    if (err == NULL) {
        err = ocsp_single(bs, id, skew, max_age, now, out, why);
    }
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    return err;
}
