/*
 * mod_jpki: log in with the My Number Card (JPKI). The module record and
 * hook wiring only; each concern lives in its own file (docs/design.md).
 */
#define JPKI_MODULE_FILE 1
#include "jpki.h"
#include "jpki_account.h"
#include "jpki_authn.h"
#include "jpki_cache.h"
#include "jpki_handlers.h"
#include "jpki_audit.h"
#include "jpki_identity.h"
#include "jpki_metrics.h"
#include "jpki_status.h"

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

static int jpki_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s)
{
    (void)plog;
    return jpki_config_check(pconf, ptemp, s);
}

static int jpki_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    (void)plog;
    ap_add_version_component(pconf, "mod_jpki/" JPKI_VERSION); /* hidden by ServerTokens */
    jpki_status_post_config(pconf);
    return jpki_cache_post_config(pconf, ptemp, s);
}

static void jpki_child_init(apr_pool_t *p, server_rec *s)
{
    jpki_cache_child_init(p, s);
    jpki_status_child_init(p, s);
}

static void jpki_register_hooks(apr_pool_t *p)
{
    /* jpki_authn_fixups: after mod_dir's DirectoryIndex "fast redirect" */
    static const char *const after_dir[] = {"mod_dir.c", NULL};

    ap_hook_pre_config(jpki_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(jpki_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(jpki_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(jpki_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(jpki_authn_check, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(jpki_authn_fixups, after_dir, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_handler(jpki_handlers_handle, NULL, NULL, APR_HOOK_MIDDLE);
    jpki_tls_register_hooks(p);
    jpki_identity_register_hooks(p);
    jpki_audit_register_hooks(p);
    jpki_metrics_register_hooks(p);
    jpki_status_page_register_hooks(p);
    jpki_account_register_hooks(p);
}

AP_DECLARE_MODULE(jpki) = {
    STANDARD20_MODULE_STUFF,
    jpki_config_dir_create, /* per-directory config */
    jpki_config_dir_merge,
    jpki_config_srv_create, /* per-server config */
    jpki_config_srv_merge,
    jpki_cmds,
    jpki_register_hooks,
    AP_MODULE_FLAG_NONE};
