/*
 * mod_jpki: log in with the My Number Card (JPKI). The module record, every
 * hook and provider registration, and the one table of endpoints; each
 * concern lives in its own file, floor by floor (docs/design.md).
 */
#define JPKI_MODULE_FILE 1
#include "web/jpki_web.h"
#include "steps/account/jpki_account.h"
#include "web/jpki_authn.h"
#include "infra/jpki_cache.h"
#include "infra/jpki_http.h"
#include "web/jpki_handlers.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_refusal.h"
#include "steps/jpki_identity.h"
#include "infra/jpki_metrics.h"
#include "steps/status/jpki_status.h"

#include "mod_auth.h"

/* -DJPKI_VERSION from configure's AC_INIT (Makefile.am), for the banner. */
#ifndef JPKI_VERSION
#define JPKI_VERSION "unknown"
#endif

static int jpki_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    return jpki_cache_pre_config(pconf) == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static int jpki_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    if (jpki_config_check(pconf, ptemp, s) != OK || jpki_cache_check_config(s) != OK ||
        jpki_cfg_check_hosts(pconf, ptemp, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return jpki_config_check_areas(pconf, ptemp, s);
}

static int jpki_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    ap_add_version_component(pconf, "mod_jpki/" JPKI_VERSION); /* hidden by ServerTokens */
    jpki_config_report_roots(ptemp, s);
    jpki_http_global_init(pconf);
    return jpki_cache_post_config(pconf, ptemp, s);
}

static void jpki_child_init(apr_pool_t *p, server_rec *s)
{
    jpki_cache_child_init(p, s);
    jpki_http_child_init(p, s);
    jpki_status_crl_child_init(p, s);
}

/* Every SetHandler mod_jpki answers. */
static const struct {
    const char *name;
    int (*handle)(request_rec *r);
} jpki_endpoints[] = {
    {"jpki-challenge", jpki_handlers_challenge}, /* web/jpki_handlers.c */
    {"jpki-login", jpki_handlers_login},
    {"jpki-logout", jpki_handlers_logout},
    {"jpki-session", jpki_handlers_session},
    {"jpki-status", jpki_status_page_handle},            /* web/jpki_status_page.c */
    {JPKI_ACCOUNT_API_HANDLER, jpki_account_api_handle}, /* web/jpki_account_api.c */
};

static int jpki_handler(request_rec *r)
{
    apr_size_t i;
    if (r->handler == NULL || strncmp(r->handler, "jpki-", 5) != 0) {
        return DECLINED;
    }
    for (i = 0; i < sizeof(jpki_endpoints) / sizeof(jpki_endpoints[0]); i++) {
        if (strcmp(r->handler, jpki_endpoints[i].name) == 0) {
            return jpki_endpoints[i].handle(r);
        }
    }
    return DECLINED;
}

static void jpki_register_hooks(apr_pool_t *p)
{
    /* jpki_authn_fixups: after mod_dir's DirectoryIndex "fast redirect" */
    static const char *const after_dir[] = {"mod_dir.c", NULL};
    static const char *const before_dbd[] = {"mod_dbd.c", NULL};

    ap_hook_pre_config(jpki_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(jpki_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(jpki_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(jpki_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(jpki_authn_check, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(jpki_authn_fixups, after_dir, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_handler(jpki_handler, NULL, NULL, APR_HOOK_MIDDLE);
    jpki_tls_register_hooks(p);
    jpki_tls_conf_register_hooks(p);
    jpki_identity_register_hooks(p);
    jpki_audit_register_hooks(p);
    jpki_refusal_register_hooks(p);
    jpki_metrics_register_hooks(p);
    /* the account store prepares its statements before mod_dbd's post_config */
    ap_hook_post_config(jpki_account_store_post_config, NULL, before_dbd, APR_HOOK_FIRST);
    ap_hook_fixups(jpki_authz_fixups, NULL, NULL, APR_HOOK_FIRST);
    jpki_authz_register(p);
}

AP_DECLARE_MODULE(jpki) = {
    STANDARD20_MODULE_STUFF, jpki_config_dir_create, /* per-directory config */
    jpki_config_dir_merge,   jpki_config_srv_create, /* per-server config */
    jpki_config_srv_merge,   jpki_cmds,
    jpki_register_hooks,     AP_MODULE_FLAG_NONE};
