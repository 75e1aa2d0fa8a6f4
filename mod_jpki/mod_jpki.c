/*
 * mod_jpki: log in with the My Number Card (JPKI). The module record and
 * hook wiring only; each concern lives in its own file (docs/design.md).
 */
#define JPKI_MODULE_FILE 1
#include "web/jpki_web.h"
#include "steps/account/jpki_account.h"
#include "web/jpki_authn.h"
#include "infra/jpki_cache.h"
#include "infra/jpki_http.h"
#include "web/jpki_handlers.h"
#include "infra/jpki_audit.h"
#include "steps/jpki_identity.h"
#include "infra/jpki_metrics.h"
#include "steps/status/jpki_status.h"

#include "mod_auth.h"

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
    if (jpki_config_check(pconf, ptemp, s) != OK || jpki_cache_check_config(s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return jpki_config_check_areas(pconf, ptemp, s);
}

static int jpki_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    (void)plog;
    jpki_http_global_init(pconf);
    return jpki_cache_post_config(pconf, ptemp, s);
}

static void jpki_child_init(apr_pool_t *p, server_rec *s)
{
    jpki_cache_child_init(p, s);
    jpki_http_child_init(p, s);
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
