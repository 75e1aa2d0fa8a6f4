/*
 * Certificate status (revocation) — provider interface, result cache,
 * coalescing, circuit breaker, fail modes. Owned by jpki_status*.c
 * (issue: status). docs/status.md describes the behaviour.
 */
#ifndef JPKI_STATUS_H
#define JPKI_STATUS_H

#include "login/jpki_pipeline.h"
#include "steps/jpki_session.h"
#include "core/jpki_status_core.h"

typedef enum {
    JPKI_STATUS_GOOD = 0,
    JPKI_STATUS_REVOKED,
    JPKI_STATUS_UNKNOWN
} jpki_status_e;

typedef struct jpki_status_result_t {
    jpki_status_e status;
    const char *reason;             /* RFC 5280 name when REVOKED (superseded, keyCompromise...) */
    const char *error;              /* stable code when UNKNOWN (status_unavailable, link_pending) */
    const char *platform_user_id;   /* PF stable user id, or NULL */
    const char *predecessor_serial; /* normalised serial this certificate renewed, or NULL */
    int link_pending;               /* PF: renewal link data not available yet */
    apr_time_t checked_at;
    int from_cache;
    int grace;                      /* passed by JPKIStatusFailMode grace */
    /* provider details (status owner) */
    const char *refusal;     /* a definite answer that is not a revocation:
                              * cert_expired, cert_status_unknown, signature_invalid */
    const char *pf_cert_id;  /* the PF's certificate id (for liveness checks) */
    const char *cert_type;   /* as the PF reports it: auth | sign */
    apr_time_t valid_until;  /* the source's nextUpdate, 0 = none */
    int config_error;        /* the source refused our credentials (PF 401) */
} jpki_status_result_t;

/* Login step: check c (purpose signature_verification). On success fills the
 * status fields of id and *res, returns 1. On refusal fills err (and logs),
 * returns 0. With JPKIStatusProvider none: id->status = "unchecked", 1. */
int jpki_status_login(request_rec *r, const jpki_cert_t *c, const jpki_flow_in_t *in,
                      jpki_identity_t *id, jpki_status_result_t *res, jpki_flow_err_t *err);

/* Session step (purpose liveness_check): re-check when the cached status has
 * expired. Returns OK to continue, or an HTTP status to refuse with (the
 * caller ends the session). May update sess->ident. */
int jpki_status_session(request_rec *r, jpki_session_t *sess, const char **code);

/* ---- configuration (per virtual host) ------------------------------ */

typedef struct jpki_status_cfg_t {
    /* platform operator */
    const char *pf_url; /* base URL, no trailing '/' */
    const char *pf_token_file;
    const char *pf_ca;
    const char *pf_client_cert;
    const char *pf_client_key;
    int pf_check_method; /* JPKI_UNSET, 0 ocsp, 1 crl */
    /* OCSP */
    const char *ocsp_url;
    apr_array_header_t *ocsp_signer_files;
    int ocsp_skew;
    int ocsp_max_age; /* -2 unset, -1 off */
    int ocsp_nonce;
    /* HTTP */
    int connect_ms;
    int total_ms;
    int max_response;
    /* cache, fail mode, breaker */
    int ttl_good;
    int ttl_revoked;
    int fail_mode; /* JPKI_UNSET, 0 closed, 1 grace */
    int grace_secs;
    int breaker_failures; /* 0 = off */
    int breaker_secs;

    /* built by jpki_status_check_config */
    const char *pf_token;
    STACK_OF(X509) *ocsp_signers;
    const char *source_id; /* hash naming the status source in cache keys */
} jpki_status_cfg_t;

void *jpki_status_cfg_create(apr_pool_t *p);
void *jpki_status_cfg_merge(apr_pool_t *p, void *base, void *add);
/* check_config: every missing or bad directive named; reads the token. */
int jpki_status_check_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void jpki_status_post_config(apr_pool_t *pconf);
void jpki_status_child_init(apr_pool_t *p, server_rec *s);

const char *jpki_status_set_platform_url(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_status_set_file(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_status_set_client_cert(cmd_parms *cmd, void *dc, const char *cert,
                                        const char *key);
const char *jpki_status_set_check_method(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_status_set_ocsp_url(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_status_set_ocsp_signer(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_status_set_int(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_status_set_ocsp_max_age(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_status_set_ocsp_nonce(cmd_parms *cmd, void *dc, int flag);
const char *jpki_status_set_timeout(cmd_parms *cmd, void *dc, const char *c, const char *t);
const char *jpki_status_set_ttl(cmd_parms *cmd, void *dc, const char *good, const char *rev);
const char *jpki_status_set_fail_mode(cmd_parms *cmd, void *dc, const char *mode,
                                      const char *secs);
const char *jpki_status_set_breaker(cmd_parms *cmd, void *dc, const char *n, const char *secs);

/* The directive table fragment, included in jpki_cmds[] (jpki_config.c). */
#define JPKI_STATUS_CMDS                                                                         \
    AP_INIT_TAKE1("JPKIPlatformURL", jpki_status_set_platform_url, NULL, RSRC_CONF,            \
                  "Base https URL of the platform operator's Verify API"),                       \
    AP_INIT_TAKE1("JPKIPlatformTokenFile", jpki_status_set_file, (void *)"token", RSRC_CONF,    \
                  "File holding the platform operator's bearer token"),                          \
    AP_INIT_TAKE1("JPKIPlatformCA", jpki_status_set_file, (void *)"ca", RSRC_CONF,              \
                  "PEM CA bundle the platform operator's TLS certificate must chain to (pin)"),  \
    AP_INIT_TAKE2("JPKIPlatformClientCert", jpki_status_set_client_cert, NULL, RSRC_CONF,      \
                  "Client certificate and key (PEM) for mutual TLS to the platform operator"),   \
    AP_INIT_TAKE1("JPKIPlatformCheckMethod", jpki_status_set_check_method, NULL, RSRC_CONF,    \
                  "How the platform operator checks: ocsp (same day, default) or crl"),          \
    AP_INIT_TAKE1("JPKIOCSPResponder", jpki_status_set_ocsp_url, NULL, RSRC_CONF,              \
                  "URL of the OCSP responder (JPKIStatusProvider ocsp)"),                        \
    AP_INIT_ITERATE("JPKIOCSPSigner", jpki_status_set_ocsp_signer, NULL, RSRC_CONF,            \
                    "PEM file(s) of explicitly authorised OCSP responder certificates"),         \
    AP_INIT_TAKE1("JPKIOCSPTimeSkew", jpki_status_set_int, (void *)"skew", RSRC_CONF,          \
                  "Seconds of clock skew allowed on thisUpdate/nextUpdate (default 300)"),       \
    AP_INIT_TAKE1("JPKIOCSPMaxAge", jpki_status_set_ocsp_max_age, NULL, RSRC_CONF,             \
                  "Oldest thisUpdate accepted, in seconds, or off (default off)"),               \
    AP_INIT_FLAG("JPKIOCSPRequireNonce", jpki_status_set_ocsp_nonce, NULL, RSRC_CONF,          \
                 "Refuse OCSP responses without our nonce (default On)"),                        \
    AP_INIT_TAKE2("JPKIHTTPTimeout", jpki_status_set_timeout, NULL, RSRC_CONF,                 \
                  "Connect and total limits of a status call, seconds (default 2 5)"),           \
    AP_INIT_TAKE1("JPKIHTTPMaxResponse", jpki_status_set_int, (void *)"maxresp", RSRC_CONF,    \
                  "Largest status answer accepted, bytes (default 65536)"),                      \
    AP_INIT_TAKE12("JPKIStatusCacheTTL", jpki_status_set_ttl, NULL, RSRC_CONF,                 \
                   "Seconds a GOOD and a REVOKED status are reused (default 300 86400)"),        \
    AP_INIT_TAKE12("JPKIStatusFailMode", jpki_status_set_fail_mode, NULL, RSRC_CONF,           \
                   "When the status source is unreachable: closed (default) or grace N"),        \
    AP_INIT_TAKE12("JPKIStatusBreaker", jpki_status_set_breaker, NULL, RSRC_CONF,              \
                   "Consecutive failures that open the circuit breaker and its back-off "       \
                   "seconds (default 5 30), or off")

/* ---- providers (jpki_status_platform.c, jpki_status_ocsp.c) --------- */

/* What a provider is asked. */
typedef struct jpki_status_query_t {
    const char *purpose;       /* signature_verification | liveness_check */
    const char *serial;        /* normalised */
    const char *serial_hex;
    const char *issuer_key_id;
    const char *cert_type;     /* auth | sign (decides the fee) */
    const unsigned char *der;  /* login only; never stored */
    apr_size_t der_len;
    const unsigned char *digest; /* SHA-256 of the challenge bytes, or NULL */
    const unsigned char *sig;
    apr_size_t sig_len;
    const char *pf_cert_id;    /* from an earlier answer (liveness) */
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
int jpki_status_ocsp_call(request_rec *r, const jpki_status_cfg_t *sc,
                          const jpki_status_query_t *q, jpki_status_result_t *res,
                          const char **why);

/* HTTP settings with defaults applied. */
/* The effective JPKIOCSPMaxAge in seconds, -1 for none: unset means 600
 * with JPKIOCSPRequireNonce Off, none with the nonce. */
int jpki_status_ocsp_max_age(const jpki_status_cfg_t *sc);
void jpki_status_http_defaults(const jpki_status_cfg_t *sc, long *connect_ms, long *total_ms,
                               apr_size_t *max_response);

#endif
