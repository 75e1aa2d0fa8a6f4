/*
 * Configuration of the status step (cfg/jpki_cfg_status.c): the directives,
 * their defaults, and the getters that apply them.
 */
#ifndef JPKI_CFG_STATUS_H
#define JPKI_CFG_STATUS_H

#include "jpki.h"
#include <openssl/x509.h>

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
    /* CRL indexes (JPKIStatusProvider crl) */
    const char *crl_dir;
    int crl_interval; /* seconds between checks for a new index file */

    /* built by jpki_status_check_config */
    const char *pf_token;
    STACK_OF(X509) * ocsp_signers;
    const char *source_id; /* hash naming the status source in cache keys */
} jpki_status_cfg_t;

void *jpki_status_cfg_create(apr_pool_t *p);
void *jpki_status_cfg_merge(apr_pool_t *p, void *base, void *add);
/* check_config: every missing or bad directive named; reads the token. */
int jpki_status_check_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

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
const char *jpki_status_set_fail_mode(cmd_parms *cmd, void *dc, const char *mode, const char *secs);
const char *jpki_status_set_breaker(cmd_parms *cmd, void *dc, const char *n, const char *secs);
const char *jpki_status_set_crl_dir(cmd_parms *cmd, void *dc, const char *dir, const char *secs);

/* The directive table fragment, included in jpki_cmds[] (cfg/jpki_cfg.c). */
#define JPKI_STATUS_CMDS                                                                           \
    AP_INIT_TAKE1("JPKIPlatformURL", jpki_status_set_platform_url, NULL, RSRC_CONF,                \
                  "Base https URL of the platform operator's Verify API"),                         \
        AP_INIT_TAKE1("JPKIPlatformTokenFile", jpki_status_set_file, (void *)"token", RSRC_CONF,   \
                      "File holding the platform operator's bearer token"),                        \
        AP_INIT_TAKE1(                                                                             \
            "JPKIPlatformCA", jpki_status_set_file, (void *)"ca", RSRC_CONF,                       \
            "PEM CA bundle the platform operator's TLS certificate must chain to (pin)"),          \
        AP_INIT_TAKE2("JPKIPlatformClientCert", jpki_status_set_client_cert, NULL, RSRC_CONF,      \
                      "Client certificate and key (PEM) for mutual TLS to the platform operator"), \
        AP_INIT_TAKE1("JPKIPlatformCheckMethod", jpki_status_set_check_method, NULL, RSRC_CONF,    \
                      "How the platform operator checks: ocsp (same day, default) or crl"),        \
        AP_INIT_TAKE1("JPKIOCSPResponder", jpki_status_set_ocsp_url, NULL, RSRC_CONF,              \
                      "URL of the OCSP responder (JPKIStatusProvider ocsp)"),                      \
        AP_INIT_ITERATE("JPKIOCSPSigner", jpki_status_set_ocsp_signer, NULL, RSRC_CONF,            \
                        "PEM file(s) of explicitly authorised OCSP responder certificates"),       \
        AP_INIT_TAKE1("JPKIOCSPTimeSkew", jpki_status_set_int, (void *)"skew", RSRC_CONF,          \
                      "Seconds of clock skew allowed on thisUpdate/nextUpdate (default 300)"),     \
        AP_INIT_TAKE1("JPKIOCSPMaxAge", jpki_status_set_ocsp_max_age, NULL, RSRC_CONF,             \
                      "Oldest thisUpdate accepted, in seconds, or off (default off)"),             \
        AP_INIT_FLAG("JPKIOCSPRequireNonce", jpki_status_set_ocsp_nonce, NULL, RSRC_CONF,          \
                     "Refuse OCSP responses without our nonce (default On)"),                      \
        AP_INIT_TAKE2("JPKIHTTPTimeout", jpki_status_set_timeout, NULL, RSRC_CONF,                 \
                      "Connect and total limits of a status call, seconds (default 2 5)"),         \
        AP_INIT_TAKE1("JPKIHTTPMaxResponse", jpki_status_set_int, (void *)"maxresp", RSRC_CONF,    \
                      "Largest status answer accepted, bytes (default 65536)"),                    \
        AP_INIT_TAKE12("JPKIStatusCacheTTL", jpki_status_set_ttl, NULL, RSRC_CONF,                 \
                       "Seconds a GOOD and a REVOKED status are reused (default 300 86400)"),      \
        AP_INIT_TAKE12("JPKIStatusFailMode", jpki_status_set_fail_mode, NULL, RSRC_CONF,           \
                       "When the status source is unreachable: closed (default) or grace N"),      \
        AP_INIT_TAKE12("JPKIStatusBreaker", jpki_status_set_breaker, NULL, RSRC_CONF,              \
                       "Consecutive failures that open the circuit breaker and its back-off "      \
                       "seconds (default 5 30), or off"),                                          \
        AP_INIT_TAKE12("JPKICRLIndexDir", jpki_status_set_crl_dir, NULL, RSRC_CONF,                \
                       "Directory of the CRL indexes jpki-crl-index writes, and the seconds "      \
                       "between checks for a new index (default 1) (JPKIStatusProvider crl)")

/* HTTP settings with defaults applied. */
/* The effective JPKIOCSPMaxAge in seconds, -1 for none: unset means 600
 * with JPKIOCSPRequireNonce Off, none with the nonce. */
int jpki_status_ocsp_max_age(const jpki_status_cfg_t *sc);
void jpki_status_http_defaults(const jpki_status_cfg_t *sc, long *connect_ms, long *total_ms,
                               apr_size_t *max_response);

#define JPKI_DEFAULT_CONNECT_MS       2000
#define JPKI_DEFAULT_TOTAL_MS         5000
#define JPKI_DEFAULT_MAX_RESPONSE     65536
#define JPKI_DEFAULT_TTL_GOOD         300
#define JPKI_DEFAULT_TTL_REVOKED      86400
#define JPKI_DEFAULT_BREAKER_N        5
#define JPKI_DEFAULT_BREAKER_SECS     30
#define JPKI_DEFAULT_OCSP_SKEW        300
#define JPKI_DEFAULT_CRL_INTERVAL     1
#define JPKI_OCSP_MAX_AGE_UNSET       -2
#define JPKI_DEFAULT_MAX_AGE_NO_NONCE 600 /* JPKIOCSPMaxAge when JPKIOCSPRequireNonce Off */

static inline int jpki_cfg_int_or(int v, int dflt)
{
    return v == JPKI_UNSET ? dflt : v;
}

/* The status settings with their defaults applied (the one place). */
int jpki_cfg_status_ttl_good(const jpki_status_cfg_t *sc);
int jpki_cfg_status_ttl_revoked(const jpki_status_cfg_t *sc);
int jpki_cfg_status_breaker_failures(const jpki_status_cfg_t *sc); /* 0 = off */
int jpki_cfg_status_breaker_secs(const jpki_status_cfg_t *sc);
int jpki_cfg_status_ocsp_skew(const jpki_status_cfg_t *sc);
/* Seconds a stale GOOD answer may stand in when the source is down
 * (JPKIStatusFailMode grace N); 0 = closed. */
int jpki_cfg_status_grace(const jpki_status_cfg_t *sc);
/* Seconds between the checks of a CRL index file for a newer one. */
int jpki_cfg_status_crl_interval(const jpki_status_cfg_t *sc);

#endif
