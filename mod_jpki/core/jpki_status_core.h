/*
 * The pure half of certificate status checking: revocation reason names
 * and their stable refusal codes, the platform operator's JSON answers
 * (PocketSign Verify API v2 shape, jpki-facts.md §4.1) and OCSP (RFC 6960)
 * request building and response checking.
 *
 * APR + OpenSSL + Jansson only, no httpd symbols: the unit tests and fuzz
 * targets call these directly. The httpd glue (cache, coalescing, fail
 * modes, HTTP) is in jpki_status.c, jpki_status_platform.c and
 * jpki_status_ocsp.c.
 */
#ifndef JPKI_STATUS_CORE_H
#define JPKI_STATUS_CORE_H

#include <apr_pools.h>
#include <apr_time.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

/* Stable refusal codes (docs/errors.md). */
#define JPKI_E_STATUS_UNAVAILABLE        "status_unavailable"
#define JPKI_E_CERT_REVOKED              "cert_revoked"
#define JPKI_E_CERT_REVOKED_SUPERSEDED   "cert_revoked_superseded"
#define JPKI_E_CERT_REVOKED_AFFILIATION  "cert_revoked_affiliation_changed"
#define JPKI_E_CERT_REVOKED_CESSATION    "cert_revoked_cessation"
#define JPKI_E_CERT_REVOKED_HOLD         "cert_revoked_hold"
#define JPKI_E_CERT_REVOKED_KEY_COMPROMISE "cert_revoked_key_compromise"
#define JPKI_E_CERT_STATUS_UNKNOWN       "cert_status_unknown"

/* RFC 5280 CRLReason name for any spelling a source uses: the RFC name
 * itself, snake_case, or the PF enum (REVOCATION_REASON_SUPERSEDED).
 * Unrecognised or NULL input gives "unspecified". Never NULL. */
const char *jpki_reason_name(const char *in);
/* RFC 5280 name of an OCSP/CRL reason code; "unspecified" if out of range. */
const char *jpki_reason_from_code(int code);
/* The stable refusal code for a revocation reason (RFC 5280 name). */
const char *jpki_reason_error_code(const char *rfc_name);

/* ---- platform operator (PF) answers -------------------------------- */

typedef enum {
    JPKI_PF_ANSWER = 0,   /* a usable answer: see status */
    JPKI_PF_LINK_PENDING, /* ERROR_REASON_ASSOCIATED_CERTIFICATE_NOT_EXISTS */
    JPKI_PF_UNAUTHORIZED, /* HTTP 401: our token is wrong (configuration) */
    JPKI_PF_BAD           /* HTTP error, malformed JSON, wrong types: no answer */
} jpki_pf_kind_e;

typedef struct jpki_pf_answer_t {
    jpki_pf_kind_e kind;
    const char *status;    /* "good" | "revoked" | "expired" | "unknown" */
    const char *reason;    /* RFC 5280 name when revoked */
    const char *result;    /* Verify only: "ok" | "signature_mismatch" | "revoked" | "expired" */
    const char *cert_id;   /* the PF's certificate id, or NULL */
    const char *cert_type; /* "auth" | "sign" | NULL */
    const char *user_id;   /* the PF's stable user id, or NULL */
    const char *why;       /* JPKI_PF_BAD / LINK_PENDING: one log line, no personal data */
} jpki_pf_answer_t;

/* Largest nesting the parser accepts in a PF answer. */
#define JPKI_PF_MAX_DEPTH 16

/* Interpret one PF reply (HTTP status + body). Accepts lowerCamelCase and
 * snake_case field names and full enum names; ignores unknown fields. */
jpki_pf_kind_e jpki_pf_parse(apr_pool_t *p, long http_status, const char *body, apr_size_t len,
                             jpki_pf_answer_t *a);

/* ---- OCSP ------------------------------------------------------------ */

typedef struct jpki_ocsp_answer_t {
    const char *status; /* "good" | "revoked" | "unknown" */
    const char *reason; /* RFC 5280 name when revoked */
    apr_time_t this_update;
    apr_time_t next_update; /* 0 when the responder gives none */
} jpki_ocsp_answer_t;

/* CertID (SHA-1, as RFC 6960 responders expect) from the issuer
 * certificate and the serial in hex. Caller frees (OCSP_CERTID_free). */
OCSP_CERTID *jpki_ocsp_certid(X509 *issuer, const char *serial_hex);

/* DER request for id, with a fresh random nonce when nonce != 0. The
 * request is returned in *req for the nonce check (caller frees). */
unsigned char *jpki_ocsp_request(apr_pool_t *p, const OCSP_CERTID *id, int nonce,
                                 OCSP_REQUEST **req, apr_size_t *len);

/* Check a DER response to req: well formed and successful; nonce equal
 * (absent only when require_nonce == 0); signed by the issuer itself, by a
 * responder it delegated to (OCSPSigning EKU, issued by it) or by one of
 * signers (explicitly authorised); a single response for exactly id;
 * thisUpdate/nextUpdate valid at now within skew seconds; thisUpdate no
 * older than max_age seconds (< 0: no limit). Returns NULL and fills out,
 * or a short error code with *why for the log:
 * ocsp_malformed, ocsp_unsuccessful, ocsp_nonce, ocsp_signature,
 * ocsp_wrong_certificate, ocsp_stale. */
const char *jpki_ocsp_check(apr_pool_t *p, const unsigned char *der, apr_size_t len,
                            OCSP_REQUEST *req, OCSP_CERTID *id, X509_STORE *store,
                            STACK_OF(X509) *signers, int require_nonce, long skew, long max_age,
                            apr_time_t now, jpki_ocsp_answer_t *out, const char **why);

#endif
