/*
 * Certificate status (revocation) — provider interface, result cache,
 * coalescing, circuit breaker, fail modes. Owned by jpki_status*.c
 * (issue: status). docs/status.md describes the behaviour.
 */
#ifndef JPKI_STATUS_H
#define JPKI_STATUS_H

#include "steps/jpki_step.h"
#include "steps/jpki_identity.h"
#include "core/jpki_status_core.h"

typedef enum { JPKI_STATUS_GOOD = 0, JPKI_STATUS_REVOKED, JPKI_STATUS_UNKNOWN } jpki_status_e;

typedef struct jpki_status_result_t {
    jpki_status_e status;
    const char *reason;           /* RFC 5280 name when REVOKED (superseded, keyCompromise...) */
    const char *error;            /* stable code when UNKNOWN (status_unavailable, link_pending) */
    const char *platform_user_id; /* PF stable user id, or NULL */
    const char *predecessor_serial; /* normalised serial this certificate renewed, or NULL */
    int link_pending;               /* PF: renewal link data not available yet */
    apr_time_t checked_at;
    int from_cache;
    int grace; /* passed by JPKIStatusFailMode grace */
    /* provider details (status owner) */
    const char *refusal;    /* a definite answer that is not a revocation:
                             * cert_expired, cert_status_unknown, signature_invalid */
    const char *pf_cert_id; /* the PF's certificate id (for liveness checks) */
    const char *cert_type;  /* as the PF reports it: auth | sign */
    apr_time_t valid_until; /* the source's nextUpdate, 0 = none */
    int config_error;       /* the source refused our credentials (PF 401) */
} jpki_status_result_t;

/* Login step: check c (purpose signature_verification). On success fills the
 * status fields of id and *res, returns 1. On refusal fills err (and logs),
 * returns 0. With JPKIStatusProvider none: id->status = "unchecked", 1. */
int jpki_status_login(request_rec *r, const jpki_cert_t *c, const jpki_step_in_t *in,
                      jpki_identity_t *id, jpki_status_result_t *res, jpki_step_err_t *err);

/* Session step (purpose liveness_check): re-check when the cached status has
 * aged past JPKIStatusCacheTTL. OK, with *changed = 1 when id got a fresh
 * status the caller must save; or an HTTP status with *code (the session
 * must end, or 503 when the source is down under JPKIStatusFailMode
 * closed). log_id names the session in log lines. */
int jpki_status_session(request_rec *r, jpki_identity_t *id, const char *log_id, int *changed,
                        const char **code);

/* The renewal facts of a login's status answer, for the account step. */
void jpki_status_renewal(const jpki_status_result_t *res, jpki_renewal_t *out);

/* ---- providers (jpki_status_platform.c, jpki_status_ocsp.c) --------- */

/* What a provider is asked. */
typedef struct jpki_status_query_t {
    const char *purpose; /* signature_verification | liveness_check */
    const char *serial;  /* normalised */
    const char *serial_hex;
    const char *issuer_key_id;
    const char *cert_type;    /* auth | sign (decides the fee) */
    const unsigned char *der; /* login only; never stored */
    apr_size_t der_len;
    const unsigned char *digest; /* SHA-256 of the challenge bytes, or NULL */
    const unsigned char *sig;
    apr_size_t sig_len;
    const char *pf_cert_id; /* from an earlier answer (liveness) */
} jpki_status_query_t;

/* Returns 1 with res filled (GOOD/REVOKED, or a refusal), or 0 when no
 * answer was obtained (res->error, res->config_error) with *why for the
 * log line. Never touches the cache. */
typedef int (*jpki_status_call_fn)(request_rec *r, const jpki_status_cfg_t *sc,
                                   const jpki_status_query_t *q, jpki_status_result_t *res,
                                   const char **why);

int jpki_status_platform_call(request_rec *r, const jpki_status_cfg_t *sc,
                              const jpki_status_query_t *q, jpki_status_result_t *res,
                              const char **why);
int jpki_status_ocsp_call(request_rec *r, const jpki_status_cfg_t *sc, const jpki_status_query_t *q,
                          jpki_status_result_t *res, const char **why);
/* crl (jpki_status_crl.c): no answer from an index past its nextUpdate
 * (res->error crl_expired) leaves res->status GOOD and res->valid_until
 * when the serial is not listed, for the grace mode. */
int jpki_status_crl_call(request_rec *r, const jpki_status_cfg_t *sc, const jpki_status_query_t *q,
                         jpki_status_result_t *res, const char **why);
/* child_init: map every CRL index of every host with JPKIStatusProvider crl. */
void jpki_status_crl_child_init(apr_pool_t *p, server_rec *s);
/* The status page's "crl_indexes" (json_t * array) for r's host. */
struct json_t;
struct json_t *jpki_status_crl_report(request_rec *r);

#endif
