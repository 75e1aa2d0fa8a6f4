/*
 * Directives, create/merge with explicit "unset" sentinels, and the
 * post_config checks. Every startup error names the directive to fix.
 */
#include "cfg/jpki_cfg.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "cfg/jpki_origin.h"
#include "cfg/jpki_scope.h"

#include "http_main.h"

static const char *set_int_range(cmd_parms *cmd, int *field, const char *arg, int min, int max)
{
    if (!jpki_util_parse_int(arg, min, max, 0, field)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from %d to %d",
                            cmd->cmd->name, arg, min, max);
    }
    return NULL;
}

static const char *set_trusted_ca(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(cmd->server);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    (void)dc;
    if (path == NULL) {
        return apr_psprintf(cmd->pool, "JPKITrustedCA: invalid path '%s'", arg);
    }
    if (c->trust_files == NULL) {
        c->trust_files = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->trust_files, const char *) = path;
    return NULL;
}

static const char *set_accept_test(cmd_parms *cmd, void *dc, int flag)
{
    (void)dc;
    jpki_srv_cfg(cmd->server)->accept_test = flag;
    return NULL;
}

static const char *set_tls_client_auth(cmd_parms *cmd, void *dc, int flag)
{
    (void)dc;
    jpki_srv_cfg(cmd->server)->tls_client_auth = flag;
    return NULL;
}

static int oid_valid(const char *s)
{
    int dots = 0;
    if (!apr_isdigit(*s)) {
        return 0;
    }
    for (; *s; s++) {
        if (*s == '.') {
            if (!apr_isdigit(s[1])) {
                return 0;
            }
            dots++;
        } else if (!apr_isdigit(*s)) {
            return 0;
        }
    }
    return dots >= 1;
}

static const char *set_policy_oid(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(cmd->server);
    apr_array_header_t **list = cmd->info ? &c->sign_policies : &c->auth_policies;
    (void)dc;
    if (!oid_valid(arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a dotted OID", cmd->cmd->name, arg);
    }
    if (*list == NULL) {
        *list = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(*list, const char *) = arg;
    return NULL;
}

static const char *set_challenge_lifetime(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_int_range(cmd, &jpki_srv_cfg(cmd->server)->challenge_lifetime, arg, 5, 3600);
}

static const char *set_cookie(cmd_parms *cmd, void *dc, const char *name, const char *path)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(cmd->server);
    const char *s;
    int host_prefix = strncasecmp(name, JPKI_COOKIE_HOST_PREFIX, 7) == 0;
    (void)dc;
    /* RFC 6265 token characters only: no separators that could split the header */
    if (*name == '\0' || strlen(name) > 64) {
        return "JPKISessionCookie: the cookie name must be 1 to 64 characters";
    }
    for (s = name; *s; s++) {
        if (!(apr_isalnum(*s) || *s == '_' || *s == '-' || *s == '.')) {
            return apr_psprintf(cmd->pool,
                                "JPKISessionCookie: invalid cookie name '%s' "
                                "(letters, digits, '_', '-', '.')",
                                name);
        }
    }
    path = path ? path : JPKI_DEFAULT_COOKIE_PATH;
    if (path[0] != '/' || strpbrk(path, ";, \t\r\n") != NULL) {
        return apr_psprintf(cmd->pool,
                            "JPKISessionCookie: path '%s' must start with '/' and "
                            "contain no ';', ',' or spaces",
                            path);
    }
    /* Path=/ can and therefore must use __Host- (no sibling subdomain can
     * plant it); browsers drop a __Host- cookie with any other path. */
    if (strcmp(path, "/") == 0 && strncmp(name, JPKI_COOKIE_HOST_PREFIX, 7) != 0) {
        return apr_psprintf(cmd->pool,
                            "JPKISessionCookie: with path '/' the name must start "
                            "with '__Host-' (e.g. __Host-%s)",
                            host_prefix ? name + 7 : name);
    }
    if (strcmp(path, "/") != 0 && host_prefix) {
        return apr_psprintf(cmd->pool,
                            "JPKISessionCookie: a '__Host-' cookie must have path "
                            "'/', not '%s' (use a name without the prefix, e.g. "
                            "__Secure-%s)",
                            path, name + 7);
    }
    c->cookie_name = name;
    c->cookie_path = path;
    return NULL;
}

static const char *set_session_idle(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_int_range(cmd, &jpki_srv_cfg(cmd->server)->session_idle, arg, 5, 86400);
}

static const char *set_session_max_age(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_int_range(cmd, &jpki_srv_cfg(cmd->server)->session_max_age, arg, 10, 7 * 86400);
}

static const char *set_status_provider(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(cmd->server);
    (void)dc;
    if (strcasecmp(arg, "none") == 0) {
        c->status_provider = JPKI_STATUS_PROVIDER_NONE;
    } else if (strcasecmp(arg, "platform") == 0) {
        c->status_provider = JPKI_STATUS_PROVIDER_PLATFORM;
    } else if (strcasecmp(arg, "ocsp") == 0) {
        c->status_provider = JPKI_STATUS_PROVIDER_OCSP;
    } else if (strcasecmp(arg, "crl") == 0) {
        c->status_provider = JPKI_STATUS_PROVIDER_CRL;
    } else {
        return apr_psprintf(cmd->pool,
                            "JPKIStatusProvider: unknown provider '%s' "
                            "(platform, ocsp, crl or none)",
                            arg);
    }
    return NULL;
}

/* JPKICache: checked here, opened by infra/jpki_cache.c at post_config. */
static const char *set_cache(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *sep;
    const ap_socache_provider_t *prov;
    jpki_srv_cfg_t *c = jpki_srv_cfg(cmd->server);
    (void)dc;
    if (cmd->server->is_virtual) {
        return "JPKICache is only allowed in the main server configuration "
               "(sessions are shared by all virtual hosts)";
    }
    sep = ap_strchr_c(arg, ':');
    c->cache_provider =
        sep ? apr_pstrmemdup(cmd->pool, arg, (apr_size_t)(sep - arg)) : apr_pstrdup(cmd->pool, arg);
    c->cache_args = sep ? sep + 1 : NULL;
    prov = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, c->cache_provider,
                              AP_SOCACHE_PROVIDER_VERSION);
    if (prov == NULL) {
        return apr_psprintf(cmd->pool,
                            "JPKICache: unknown socache provider '%s' "
                            "(is mod_socache_%s loaded?)",
                            c->cache_provider, c->cache_provider);
    }
    return NULL;
}

static const char *set_login_page(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_dir_cfg_t *d = dc;
    /* A local path only: the login page is ours, never another origin. */
    if (arg[0] != '/' || arg[1] == '/' || arg[1] == '\\' || strpbrk(arg, "\r\n\\") != NULL) {
        return apr_psprintf(cmd->pool,
                            "JPKILoginPage: '%s' must be a local path starting "
                            "with a single '/'",
                            arg);
    }
    d->login_page = arg;
    return NULL;
}

const command_rec jpki_cmds[] = {
    AP_INIT_ITERATE("JPKITrustedCA", set_trusted_ca, NULL, RSRC_CONF,
                    "PEM or DER file(s) with J-LIS root certificates (all generations)"),
    AP_INIT_FLAG("JPKIAcceptTestCards", set_accept_test, NULL, RSRC_CONF,
                 "Accept certificates of the JPKI-TEST hierarchy (never in production)"),
    AP_INIT_FLAG("JPKITLSClientAuth", set_tls_client_auth, NULL, RSRC_CONF,
                 "Let mod_jpki, not mod_ssl, judge TLS client certificates of this host "
                 "(with SSLVerifyClient optional_no_ca)"),
    AP_INIT_ITERATE("JPKIAuthPolicyOID", set_policy_oid, NULL, RSRC_CONF,
                    "Policy OID(s) of user-authentication certificates"),
    AP_INIT_ITERATE("JPKISignPolicyOID", set_policy_oid, (void *)1, RSRC_CONF,
                    "Policy OID(s) of signing certificates"),
    AP_INIT_TAKE1("JPKICache", set_cache, NULL, RSRC_CONF,
                  "socache provider for nonces, sessions and status: shmcb[:path(size)], "
                  "memcache:host:port, redis:host:port"),
    AP_INIT_TAKE1("JPKIChallengeLifetime", set_challenge_lifetime, NULL, RSRC_CONF,
                  "Seconds a login challenge stays valid (default 120)"),
    AP_INIT_TAKE12("JPKISessionCookie", set_cookie, NULL, RSRC_CONF,
                   "Session cookie name and optional path (default __Host-jpki_session /)"),
    AP_INIT_TAKE1("JPKISessionScope", jpki_scope_set, NULL, RSRC_CONF,
                  "Name of a session scope shared by the hosts of one site (default: this "
                  "host only)"),
    AP_INIT_TAKE1("JPKISessionIdleTimeout", set_session_idle, NULL, RSRC_CONF,
                  "Seconds of inactivity that end a session (default 900)"),
    AP_INIT_TAKE1("JPKISessionMaxAge", set_session_max_age, NULL, RSRC_CONF,
                  "Absolute session lifetime in seconds (default 28800)"),
    AP_INIT_TAKE1("JPKIStatusProvider", set_status_provider, NULL, RSRC_CONF,
                  "Revocation status source: platform, ocsp or none"),
    AP_INIT_TAKE1("JPKILoginPage", set_login_page, NULL, OR_AUTHCFG | ACCESS_CONF,
                  "Local URL of the login page that unauthenticated browsers are sent to"),
    JPKI_STATUS_CMDS,
    JPKI_IDENTITY_CMDS,
    JPKI_AUDIT_CMDS,
    JPKI_METRICS_CMDS,
    JPKI_ACCOUNT_CMDS,
    JPKI_ORIGIN_CMDS,
    {NULL}};

void *jpki_config_srv_create(apr_pool_t *p, server_rec *s)
{
    jpki_srv_cfg_t *c = apr_pcalloc(p, sizeof(*c));
    c->s = s;
    c->accept_test = JPKI_UNSET;
    c->tls_client_auth = JPKI_UNSET;
    c->challenge_lifetime = JPKI_UNSET;
    c->session_idle = JPKI_UNSET;
    c->session_max_age = JPKI_UNSET;
    c->bare_challenge = JPKI_UNSET;
    c->status_provider = JPKI_STATUS_PROVIDER_UNSET;
    c->status_cfg = jpki_status_cfg_create(p);
    c->identity = jpki_identity_srv_create(p);
    c->audit = jpki_audit_srv_create(p);
    c->metrics = jpki_metrics_srv_create(p);
    c->account = jpki_account_srv_create(p);
    return c;
}

#define MERGE_INT(f) mrg->f = (add->f == JPKI_UNSET) ? base->f : add->f
#define MERGE_PTR(f) mrg->f = (add->f == NULL) ? base->f : add->f

void *jpki_config_srv_merge(apr_pool_t *p, void *basev, void *addv)
{
    jpki_srv_cfg_t *base = basev, *add = addv;
    jpki_srv_cfg_t *mrg = apr_pcalloc(p, sizeof(*mrg));
    mrg->s = add->s;
    MERGE_PTR(trust_files);
    MERGE_INT(accept_test);
    MERGE_INT(tls_client_auth);
    MERGE_PTR(auth_policies);
    MERGE_PTR(sign_policies);
    MERGE_INT(challenge_lifetime);
    MERGE_PTR(cookie_name);
    MERGE_PTR(cookie_path);
    MERGE_INT(session_idle);
    MERGE_INT(session_max_age);
    MERGE_PTR(origins);
    MERGE_INT(bare_challenge);
    MERGE_PTR(session_scope);
    MERGE_PTR(cache_provider);
    MERGE_PTR(cache_args);
    mrg->status_provider = (add->status_provider == JPKI_STATUS_PROVIDER_UNSET)
                               ? base->status_provider
                               : add->status_provider;
    mrg->status_cfg = jpki_status_cfg_merge(p, base->status_cfg, add->status_cfg);
    mrg->identity = jpki_identity_srv_merge(p, base->identity, add->identity);
    mrg->audit = jpki_audit_srv_merge(p, base->audit, add->audit);
    mrg->metrics = jpki_metrics_srv_merge(p, base->metrics, add->metrics);
    mrg->account = jpki_account_srv_merge(p, base->account, add->account);
    return mrg;
}

void *jpki_config_dir_create(apr_pool_t *p, char *dir)
{
    jpki_dir_cfg_t *d = apr_pcalloc(p, sizeof(jpki_dir_cfg_t));
    (void)dir;
    d->identity = jpki_identity_dir_create(p);
    d->account = jpki_account_dir_create(p);
    return d;
}

void *jpki_config_dir_merge(apr_pool_t *p, void *basev, void *addv)
{
    jpki_dir_cfg_t *base = basev, *add = addv;
    jpki_dir_cfg_t *mrg = apr_pcalloc(p, sizeof(*mrg));
    MERGE_PTR(login_page);
    mrg->identity = jpki_identity_dir_merge(p, base->identity, add->identity);
    mrg->account = jpki_account_dir_merge(p, base->account, add->account);
    return mrg;
}

int jpki_cfg_challenge_lifetime(const jpki_srv_cfg_t *c)
{
    return c->challenge_lifetime == JPKI_UNSET ? JPKI_DEFAULT_CHALLENGE_LIFETIME
                                               : c->challenge_lifetime;
}
const char *jpki_cfg_cookie_name(const jpki_srv_cfg_t *c)
{
    return c->cookie_name ? c->cookie_name : JPKI_DEFAULT_COOKIE_NAME;
}
const char *jpki_cfg_cookie_path(const jpki_srv_cfg_t *c)
{
    return c->cookie_path ? c->cookie_path : JPKI_DEFAULT_COOKIE_PATH;
}
int jpki_cfg_session_idle(const jpki_srv_cfg_t *c)
{
    return c->session_idle == JPKI_UNSET ? JPKI_DEFAULT_SESSION_IDLE : c->session_idle;
}
int jpki_cfg_session_max_age(const jpki_srv_cfg_t *c)
{
    return c->session_max_age == JPKI_UNSET ? JPKI_DEFAULT_SESSION_MAX_AGE : c->session_max_age;
}

/* What a login on this host will accept as its origin (docs/http-contract.md). */
static void jpki_config_log_origins(apr_pool_t *ptemp, server_rec *vs, const jpki_srv_cfg_t *c)
{
    apr_array_header_t *list = jpki_origin_list(ptemp, vs);
    ap_log_error(APLOG_MARK, list->nelts ? APLOG_DEBUG : APLOG_WARNING, 0, vs,
                 JPKI_LOGNO(0140) "challenge logins accepted from %s%s: %s",
                 c->origins ? "JPKIOrigin" : "ServerName/ServerAlias",
                 c->origins ? "" : " (derived)",
                 list->nelts ? apr_array_pstrcat(ptemp, list, ' ') : "no origin; set JPKIOrigin");
    if (c->bare_challenge == 1) {
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, vs,
            JPKI_LOGNO(0141) "JPKIBareChallenge On: logins whose signature "
                             "covers only the challenge (not bound to an origin) are accepted; a "
                             "relayed challenge is then a full login");
    }
}

/* An expired root, once per file and root however many hosts load the file
 * (`seen`: one configuration generation). */
static void report_expired(apr_pool_t *ptemp, server_rec *vs, const jpki_srv_cfg_t *c,
                           apr_time_t now, apr_hash_t *seen)
{
    int i;
    for (i = 0; i < c->trust->anchors->nelts; i++) {
        jpki_anchor_t *a = &APR_ARRAY_IDX(c->trust->anchors, i, jpki_anchor_t);
        const char *key = apr_pstrcat(ptemp, a->file, "\n", a->key_id, NULL);
        if (a->not_after >= now || apr_hash_get(seen, key, APR_HASH_KEY_STRING) != NULL) {
            continue;
        }
        apr_hash_set(seen, key, APR_HASH_KEY_STRING, "1");
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs,
                     JPKI_LOGNO(0102) "JPKITrustedCA %s: %s root %s expired on %s; "
                                      "certificates issued under it are refused",
                     a->file, jpki_cert_type_name(a->type), a->key_id,
                     jpki_util_time_iso(ptemp, a->not_after));
    }
}

/* Where a warning about the roots is read: httpd reads its configuration
 * twice when it starts and check_config's messages of the second read go
 * nowhere (the error log is opened later; a daemon's stderr is /dev/null).
 * So apachectl -t reports expired roots from check_config, and a start or
 * restart from post_config, into the error log, once per generation (not
 * in the pre-read: mod_jpki.c calls this from post_config). */
void jpki_config_report_roots(apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *seen = apr_hash_make(ptemp);
    apr_time_t now = apr_time_now();
    server_rec *vs;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return;
    }
    for (vs = s; vs != NULL; vs = vs->next) {
        const jpki_srv_cfg_t *c = jpki_srv_cfg(vs);
        if (c->trust != NULL) {
            report_expired(ptemp, vs, c, now, seen);
        }
    }
}

/* Each root of a host at debug level; a TEST root that will be refused. */
static void report_anchors(apr_pool_t *ptemp, server_rec *vs, const jpki_srv_cfg_t *c)
{
    int i;
    for (i = 0; i < c->trust->anchors->nelts; i++) {
        jpki_anchor_t *a = &APR_ARRAY_IDX(c->trust->anchors, i, jpki_anchor_t);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, vs,
                     JPKI_LOGNO(0103) "JPKITrustedCA %s: %s%s root %s valid until %s", a->file,
                     a->test ? "TEST " : "", jpki_cert_type_name(a->type), a->key_id,
                     jpki_util_time_iso(ptemp, a->not_after));
        if (a->test && c->accept_test != 1) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs,
                         JPKI_LOGNO(0104) "JPKITrustedCA %s: JPKI-TEST root %s is loaded but "
                                          "JPKIAcceptTestCards is Off: its certificates are "
                                          "refused",
                         a->file, a->key_id);
        }
    }
}

/* Build each virtual host's trust store and check what must be consistent.
 * Runs from check_config, so apachectl -t reports the same errors. */
int jpki_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    apr_time_t now = apr_time_now();
    apr_hash_t *seen = apr_hash_make(ptemp);

    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_srv_cfg_t *c = jpki_srv_cfg(vs);
        int i;
        if (c->trust_files == NULL) {
            continue;
        }
        c->trust = jpki_trust_create(pconf);
        c->trust->accept_test = (c->accept_test == 1);
        if (c->auth_policies) {
            apr_array_cat(c->trust->auth_policies, c->auth_policies);
        }
        if (c->sign_policies) {
            apr_array_cat(c->trust->sign_policies, c->sign_policies);
        }
        for (i = 0; i < c->trust_files->nelts; i++) {
            const char *err = jpki_trust_add_file(c->trust, pconf,
                                                  APR_ARRAY_IDX(c->trust_files, i, const char *));
            if (err != NULL) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs, JPKI_LOGNO(0101) "JPKITrustedCA: %s",
                             err);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        report_anchors(ptemp, vs, c);
        if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL) {
            report_expired(ptemp, vs, c, now, seen); /* apachectl -t */
        }
        if (c->status_provider == JPKI_STATUS_PROVIDER_UNSET) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                         JPKI_LOGNO(0105) "JPKIStatusProvider is not set for %s:%d: choose "
                                          "platform, ocsp, crl, or none (no revocation "
                                          "checking; development only)",
                         vs->server_hostname ? vs->server_hostname : "(default)", vs->port);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        jpki_config_log_origins(ptemp, vs, c);
        if (c->status_provider == JPKI_STATUS_PROVIDER_NONE) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs,
                         JPKI_LOGNO(0106) "JPKIStatusProvider none: revocation is NOT checked "
                                          "(development only)");
        }
    }
    return OK;
}

/* The checks of the areas, after infra/jpki_cache.c's (mod_jpki.c orders them). */
int jpki_config_check_areas(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    if (jpki_cfg_audit_check(ptemp, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (jpki_status_check_config(pconf, ptemp, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (jpki_scope_check(pconf, ptemp, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (jpki_account_api_check_config(pconf, ptemp, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return jpki_account_config_check(pconf, s);
}

/* The pre-login cookie: always Path=/, so always "__Host-<base>_pre". */
const char *jpki_cfg_prelogin_cookie_name(apr_pool_t *p, const jpki_srv_cfg_t *c)
{
    const char *name = jpki_cfg_cookie_name(c);
    /* Path=/ always: __Host- whatever the session cookie's own prefix. */
    if (strncmp(name, JPKI_COOKIE_HOST_PREFIX, 7) == 0) {
        name += 7;
    } else if (strncmp(name, "__Secure-", 9) == 0) {
        name += 9;
    }
    return apr_pstrcat(p, JPKI_COOKIE_HOST_PREFIX, name, "_pre", NULL);
}
