/*
 * The configuration floor (docs/design.md): the per-server and
 * per-directory records, the one directive table (jpki_cfg.c), every
 * "unset" sentinel and every default, read through the jpki_cfg_*()
 * getters. Nothing here runs at request time except those getters.
 */
#ifndef JPKI_CFG_H
#define JPKI_CFG_H

#include "jpki.h"
#include "core/jpki_cert.h"
#include "core/jpki_util.h"

/* Status providers (jpki_status.c). NONE_SET means the directive is missing. */
typedef enum {
    JPKI_STATUS_PROVIDER_UNSET = -1,
    JPKI_STATUS_PROVIDER_NONE = 0,
    JPKI_STATUS_PROVIDER_PLATFORM = 1,
    JPKI_STATUS_PROVIDER_OCSP = 2,
    JPKI_STATUS_PROVIDER_CRL = 3
} jpki_status_provider_e;

/* Owned by jpki_identity.c, jpki_audit.c, jpki_metrics.c (export issue). */
struct jpki_identity_srv_t;
struct jpki_identity_dir_t;
struct jpki_audit_srv_t;
struct jpki_metrics_srv_t;

typedef struct jpki_srv_cfg_t {
    server_rec *s;
    /* certificate validation (issue: foundation) */
    apr_array_header_t *trust_files; /* const char *, NULL = unset */
    int accept_test;
    int tls_client_auth; /* JPKITLSClientAuth */
    apr_array_header_t *auth_policies;
    apr_array_header_t *sign_policies;
    jpki_trust_t *trust; /* built in post_config */

    /* JPKICache (main server only): socache provider and its arguments */
    const char *cache_provider; /* NULL = unset (shmcb) */
    const char *cache_args;

    /* challenge and session */
    int challenge_lifetime; /* seconds */
    const char *cookie_name;
    const char *cookie_path;
    int session_idle; /* seconds */
    int session_max_age;
    const char *session_scope; /* JPKISessionScope; NULL = this host only */
    /* computed in check_config (jpki_scope.c): never merged */
    const char *scope_id;    /* "host:<ServerName>:<port>" or "scope:<name>" */
    const char *policy_desc; /* canonical description of the proof policy */
    const char *policy_hash; /* hex SHA-256 of policy_desc */

    /* origin-bound challenge login (jpki_origin.c) */
    apr_array_header_t *origins; /* JPKIOrigin (const char *); NULL = derived */
    int bare_challenge;          /* JPKIBareChallenge; -1 = unset (Off) */

    /* status */
    jpki_status_provider_e status_provider;
    void *status_cfg; /* jpki_status_cfg_t: the status directives (jpki_status.c) */

    /* export, audit, metrics (jpki_identity.c, jpki_audit.c, jpki_metrics.c) */
    struct jpki_identity_srv_t *identity;
    struct jpki_audit_srv_t *audit;
    struct jpki_metrics_srv_t *metrics;
    struct jpki_account_srv_t *account; /* jpki_account.c */
} jpki_srv_cfg_t;

typedef struct jpki_dir_cfg_t {
    const char *login_page;               /* local URL path; NULL = unset */
    struct jpki_identity_dir_t *identity; /* jpki_identity.c */
    struct jpki_account_dir_t *account;   /* jpki_account.c */
} jpki_dir_cfg_t;

/* Defaults */
#define JPKI_DEFAULT_CHALLENGE_LIFETIME 120
/* __Host-: Secure, Path=/, no Domain, so no sibling host can plant it */
#define JPKI_COOKIE_HOST_PREFIX      "__Host-"
#define JPKI_DEFAULT_COOKIE_NAME     "__Host-jpki_session"
#define JPKI_DEFAULT_COOKIE_PATH     "/"
#define JPKI_DEFAULT_SESSION_IDLE    900
#define JPKI_DEFAULT_SESSION_MAX_AGE 28800

static APR_INLINE jpki_srv_cfg_t *jpki_srv_cfg(server_rec *s)
{
    return (jpki_srv_cfg_t *)ap_get_module_config(s->module_config, &jpki_module);
}

static APR_INLINE jpki_dir_cfg_t *jpki_dir_cfg(request_rec *r)
{
    return (jpki_dir_cfg_t *)ap_get_module_config(r->per_dir_config, &jpki_module);
}

/* config.c */
extern const command_rec jpki_cmds[];
void *jpki_config_srv_create(apr_pool_t *p, server_rec *s);
void *jpki_config_srv_merge(apr_pool_t *p, void *base, void *add);
void *jpki_config_dir_create(apr_pool_t *p, char *dir);
void *jpki_config_dir_merge(apr_pool_t *p, void *base, void *add);
/* check_config: runs for apachectl -t too, so every mistake is caught there.
 * jpki_config_check: trust anchors, status provider and origins of every
 * host; jpki_config_check_areas: status, scope, account API and account
 * store settings. mod_jpki.c runs the cache check between the two. */
int jpki_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
int jpki_config_check_areas(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* jpki_cfg_hosts.c: hosts that use AuthType JPKI or jpki-login without
 * JPKITrustedCA, session lifetimes (after jpki_config_check). */
int jpki_cfg_check_hosts(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* post_config: expired roots, once per file and root, into the error log
 * (apachectl -t reports them from jpki_config_check). */
void jpki_config_report_roots(apr_pool_t *ptemp, server_rec *s);

/* Accessors that apply defaults to unset values. */
int jpki_cfg_challenge_lifetime(const jpki_srv_cfg_t *c);
const char *jpki_cfg_cookie_name(const jpki_srv_cfg_t *c);
const char *jpki_cfg_cookie_path(const jpki_srv_cfg_t *c);
int jpki_cfg_session_idle(const jpki_srv_cfg_t *c);
int jpki_cfg_session_max_age(const jpki_srv_cfg_t *c);
/* The pre-login cookie: always Path=/, so always "__Host-<base>_pre". */
const char *jpki_cfg_prelogin_cookie_name(apr_pool_t *p, const jpki_srv_cfg_t *c);

/* The areas' settings (each header: records, directives, getters). */
#include "cfg/jpki_cfg_status.h"
#include "cfg/jpki_cfg_account.h"
#include "cfg/jpki_cfg_export.h"

#endif
