/*
 * Start checks of each host that need the configuration tree
 * (jpki_cfg_tree.h): a host that protects content with AuthType JPKI
 * must have trust anchors, and its session lifetimes must make sense. Every message names
 * the directive and the host, and says what to change. mod_jpki.c runs
 * them after jpki_config_check (the trust stores) and before the areas.
 */
#include "cfg/jpki_cfg.h"
#include "cfg/jpki_cfg_tree.h"

/* The section a directive sits in, for the message: ", in <Location /x>". */
static const char *section_of(apr_pool_t *p, const ap_directive_t *d)
{
    const ap_directive_t *s = d->parent;
    if (s == NULL || strcasecmp(s->directive, "<VirtualHost") == 0) {
        return "";
    }
    return apr_psprintf(p, ", in %s %s", s->directive, s->args ? s->args : ">");
}

/* A host whose requests can reach AuthType JPKI protects content with the
 * card: without trust anchors every request there would be refused at run
 * time (not_configured). .htaccess files are not visible here; the
 * pipeline still refuses those with not_configured. The endpoints alone
 * (SetHandler jpki-login...) are not refused: a packaged snippet may mount
 * them before the site is configured, and they answer not_configured. */
static int check_trust(apr_pool_t *ptemp, server_rec *vs)
{
    const ap_directive_t *use = jpki_cfg_tree_find(ptemp, vs, "AuthType", "JPKI");
    if (use == NULL || jpki_srv_cfg(vs)->trust_files != NULL) {
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                 JPKI_LOGNO(0150) "%s %s (%s%s) applies to %s, which has no JPKITrustedCA: "
                                  "every JPKI login there would be refused (not_configured). "
                                  "Add JPKITrustedCA to that host, or to the main server "
                                  "(every virtual host inherits it).",
                 use->directive, use->args, jpki_cfg_tree_where(ptemp, use), section_of(ptemp, use),
                 jpki_cfg_host_desc(ptemp, vs));
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* An idle timeout longer than the absolute lifetime never fires: whoever
 * set it expected something else. */
static int check_lifetimes(apr_pool_t *ptemp, server_rec *vs)
{
    const jpki_srv_cfg_t *c = jpki_srv_cfg(vs);
    int idle = jpki_cfg_session_idle(c), max = jpki_cfg_session_max_age(c);
    if (idle <= max) {
        return OK;
    }
    ap_log_error(
        APLOG_MARK, APLOG_EMERG, 0, vs,
        JPKI_LOGNO(0151) "JPKISessionIdleTimeout %d (%s) is longer than JPKISessionMaxAge "
                         "%d (%s) for %s: the idle timeout would never end a session. Make "
                         "JPKISessionIdleTimeout at most JPKISessionMaxAge.",
        idle, jpki_cfg_tree_where(ptemp, jpki_cfg_tree_server_dir(vs, "JPKISessionIdleTimeout")),
        max, jpki_cfg_tree_where(ptemp, jpki_cfg_tree_server_dir(vs, "JPKISessionMaxAge")),
        jpki_cfg_host_desc(ptemp, vs));
    return HTTP_INTERNAL_SERVER_ERROR;
}

int jpki_cfg_check_hosts(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    (void)pconf;
    for (vs = s; vs != NULL; vs = vs->next) {
        if (check_trust(ptemp, vs) != OK || check_lifetimes(ptemp, vs) != OK) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}
