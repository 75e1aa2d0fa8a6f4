/*
 * Startup checks for JPKITLSClientAuth On (jpki_tls.c).
 *
 * On such a host mod_ssl accepts, as GENEROUS, certificates it would
 * otherwise refuse in the handshake (expired, forged issuer...), so that
 * mod_jpki can refuse them with a clear code. Two mod_ssl features take an
 * identity from the client certificate without looking at how it was
 * verified: SSLUserName (sets REMOTE_USER) and SSLOptions +FakeBasicAuth
 * (turns the subject DN into a Basic user). On this host they would name
 * users after unverified certificates, so the combination is refused here
 * (apachectl -t too), naming both directives. Walks the parsed
 * configuration tree: a directive outside every <VirtualHost> applies to
 * every host, one inside applies to that host. The same features in
 * .htaccess files are caught at request time (guard_*, below).
 */
#include "web/jpki_web.h"

#include "http_config.h"
#include "http_request.h"

typedef struct {
    const ap_directive_t *at; /* first SSLUserName / FakeBasicAuth found */
    int on;                   /* JPKITLSClientAuth: 1 On, 0 Off, -1 not set */
} scan_t;

/* One subtree (a host's, or the main server's minus its <VirtualHost>s). */
static void scan(apr_pool_t *p, const ap_directive_t *d, scan_t *out, int top)
{
    for (; d != NULL; d = d->next) {
        if (top && strcasecmp(d->directive, "<VirtualHost") == 0) {
            continue;
        }
        if (strcasecmp(d->directive, "JPKITLSClientAuth") == 0 && d->args != NULL) {
            out->on = strcasecmp(d->args, "On") == 0;
        } else if (out->at == NULL && (strcasecmp(d->directive, "SSLUserName") == 0 ||
                                       (strcasecmp(d->directive, "SSLOptions") == 0 &&
                                        ap_strcasestr(d->args ? d->args : "", "FakeBasicAuth")))) {
            out->at = d;
        }
        if (d->first_child != NULL) {
            scan(p, d->first_child, out, 0);
        }
    }
}

static int refuse(server_rec *s, const ap_directive_t *at)
{
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                 JPKI_LOGNO(0021) "%s (%s line %d) cannot be used on a virtual host with "
                                  "JPKITLSClientAuth On: mod_ssl would take the user name "
                                  "from a certificate it has not verified (docs/security.md)",
                 at->directive, at->filename ? at->filename : "-", at->line_num);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* Top-level <VirtualHost>s may sit inside <IfModule>/<IfDefine> sections:
 * those are expanded by now, so the tree's top level holds them. */
static int tls_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    scan_t global = {NULL, -1};
    const ap_directive_t *d;
    (void)pconf;
    (void)plog;

    scan(ptemp, ap_conftree, &global, 1);
    if (global.on == 1 && global.at != NULL) {
        return refuse(s, global.at);
    }
    for (d = ap_conftree; d != NULL; d = d->next) {
        scan_t v = {NULL, -1};
        if (strcasecmp(d->directive, "<VirtualHost") != 0) {
            continue;
        }
        scan(ptemp, d->first_child, &v, 0);
        if ((v.on == 1 || (v.on == -1 && global.on == 1)) && (v.at || global.at)) {
            return refuse(s, v.at ? v.at : global.at);
        }
    }
    return OK;
}

/* .htaccess (AllowOverride AuthConfig / Options) cannot be read at
 * startup: on a connection whose certificate mod_jpki deferred, a user
 * that mod_ssl's access hook set from it (SSLUserName), or a Basic
 * Authorization header that mod_ssl's authn hook made from it
 * (FakeBasicAuth), is refused. */
#define NOTE_USER_BEFORE  "jpki-tls-user-before"
#define NOTE_AUTHZ_BEFORE "jpki-tls-authorization-before"

static int deferred_conn(request_rec *r)
{
    conn_rec *c = r->connection->master ? r->connection->master : r->connection;
    return apr_table_get(c->notes, "jpki-tls-deferred") != NULL;
}

static int guard_refuse(request_rec *r, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  JPKI_LOGNO(0022) "a user name taken from a client certificate that mod_ssl "
                                   "did not verify (%s on a JPKITLSClientAuth On host) is refused",
                  what);
    return HTTP_FORBIDDEN;
}

static int guard_before(request_rec *r)
{
    if (r->user != NULL) {
        apr_table_setn(r->notes, NOTE_USER_BEFORE, r->user);
    }
    if (apr_table_get(r->headers_in, "Authorization") != NULL) {
        apr_table_setn(r->notes, NOTE_AUTHZ_BEFORE, "1");
    }
    return DECLINED;
}

static int guard_after(request_rec *r)
{
    const char *before = apr_table_get(r->notes, NOTE_USER_BEFORE);
    if (r->user == NULL || !deferred_conn(r) || (before != NULL && strcmp(before, r->user) == 0)) {
        return DECLINED;
    }
    r->user = NULL;
    return guard_refuse(r, "SSLUserName");
}

static int guard_authn(request_rec *r)
{
    if (!deferred_conn(r) || apr_table_get(r->notes, NOTE_AUTHZ_BEFORE) != NULL ||
        apr_table_get(r->headers_in, "Authorization") == NULL) {
        return DECLINED;
    }
    apr_table_unset(r->headers_in, "Authorization");
    return guard_refuse(r, "SSLOptions +FakeBasicAuth");
}

void jpki_tls_conf_register_hooks(apr_pool_t *p)
{
    static const char *const ssl[] = {"mod_ssl.c", NULL};
    (void)p;
    ap_hook_check_config(tls_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_access(guard_before, NULL, ssl, APR_HOOK_REALLY_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_access(guard_after, ssl, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    /* mod_ssl's FakeBasicAuth runs first among the authn hooks; this right after */
    ap_hook_check_authn(guard_authn, ssl, NULL, APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
}
