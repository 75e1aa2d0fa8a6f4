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
#include "cfg/jpki_cfg_tree.h"

#include "http_config.h"
#include "http_request.h"
#include "apr_optional_hooks.h"
#include <openssl/ssl.h>

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

/* --- what mod_ssl needs on a JPKITLSClientAuth On host ---------------------
 * mod_ssl's records are opaque and apachectl -t runs no ssl init_server,
 * so the host's mod_ssl directives are read from the configuration tree:
 * its own, else the main server's (mod_ssl merges them that way). */

#define TLS10 1
#define TLS11 2
#define TLS12 4
#define TLS13 8

static int proto_bit(const char *w)
{
    static const char *const names[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
    int i;
    for (i = 0; i < 4; i++) {
        if (strcasecmp(w, names[i]) == 0) {
            return 1 << i;
        }
    }
    return strcasecmp(w, "all") == 0 ? (TLS10 | TLS11 | TLS12 | TLS13) : 0;
}

/* SSLProtocol as mod_ssl reads it: a word without + or - replaces the set. */
static int protocols_of(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "";
    int set = 0;
    while (*args) {
        const char *w = ap_getword_conf(p, &args);
        char action = (*w == '+' || *w == '-') ? *w++ : '=';
        int bit = proto_bit(w);
        set = action == '-' ? (set & ~bit) : action == '+' ? (set | bit) : bit;
    }
    return set;
}

/* SSLOpenSSLConfCmd Min/MaxProtocol (applied after SSLProtocol; the main
 * server's first, then the host's). */
static int conf_cmds(apr_pool_t *p, const ap_directive_t *d, int set, const ap_directive_t **at)
{
    for (; d != NULL; d = d->next) {
        const char *args = d->args ? d->args : "", *cmd, *val;
        int bit;
        if (strcasecmp(d->directive, "SSLOpenSSLConfCmd") != 0) {
            continue;
        }
        cmd = ap_getword_conf(p, &args);
        val = ap_getword_conf(p, &args);
        bit = proto_bit(val);
        if (bit != 0 && bit != (TLS10 | TLS11 | TLS12 | TLS13) &&
            (strcasecmp(cmd, "MinProtocol") == 0 || strcasecmp(cmd, "MaxProtocol") == 0)) {
            int keep = strcasecmp(cmd, "MinProtocol") == 0 ? ~(bit - 1) : (bit << 1) - 1;
            set &= keep;
            *at = d;
        }
    }
    return set;
}

static int tls_versions(apr_pool_t *p, server_rec *vs, const ap_directive_t **at)
{
    const ap_directive_t *vh = jpki_cfg_tree_vhost(vs);
    int set = TLS10 | TLS11 | TLS12 | TLS13; /* mod_ssl's default: all */
    *at = jpki_cfg_tree_server_dir(vs, "SSLProtocol");
    if (*at != NULL) {
        set = protocols_of(p, *at);
    }
    set = conf_cmds(p, ap_conftree, set, at);
    return vh ? conf_cmds(p, vh->first_child, set, at) : set;
}

/* A host mod_ssl serves with TLS: SSLEngine on, or no SSLEngine and a
 * certificate (mod_ssl enables such a host on a "Listen ... https"). */
static int tls_host(server_rec *vs)
{
    const ap_directive_t *e = jpki_cfg_tree_server_dir(vs, "SSLEngine");
    if (e != NULL) {
        return e->args && strcasecmp(e->args, "on") == 0;
    }
    return jpki_cfg_tree_server_dir(vs, "SSLCertificateFile") != NULL;
}

static int check_verify_client(apr_pool_t *p, server_rec *vs)
{
    const ap_directive_t *v = jpki_cfg_tree_server_dir(vs, "SSLVerifyClient");
    if (v != NULL && v->args && strcasecmp(v->args, "optional_no_ca") == 0) {
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                 JPKI_LOGNO(0030) "JPKITLSClientAuth On (%s) for %s needs SSLVerifyClient "
                                  "optional_no_ca in that host (not in a <Location>), but it "
                                  "has %s%s%s%s: %s. Set SSLVerifyClient optional_no_ca there, or "
                                  "JPKITLSClientAuth Off.",
                 jpki_cfg_tree_where(p, jpki_cfg_tree_server_dir(vs, "JPKITLSClientAuth")),
                 jpki_cfg_host_desc(p, vs), v ? "SSLVerifyClient " : "no SSLVerifyClient",
                 v ? v->args : "", v ? " at " : "", v ? jpki_cfg_tree_where(p, v) : "",
                 (v && v->args && strcasecmp(v->args, "none") != 0)
                     ? "mod_ssl would end the handshake for every certificate mod_jpki is to "
                       "judge (a TLS error instead of a clear refusal)"
                     : "no client certificate is ever asked for, so no card can log in here");
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* The card signs RSASSA-PKCS1-v1_5 only (as its middleware offers it);
 * TLS 1.3 requires RSA-PSS in CertificateVerify (RFC 8446 4.4.3). */
static int check_protocols(apr_pool_t *p, server_rec *vs)
{
    const ap_directive_t *at = NULL;
    int set = tls_versions(p, vs, &at);
    if (set & TLS12) {
        if (set & TLS13) {
            ap_log_error(
                APLOG_MARK, APLOG_WARNING, 0, vs,
                JPKI_LOGNO(0032) "%s (%s) allows TLS 1.3 on %s (JPKITLSClientAuth On): "
                                 "a browser that negotiates TLS 1.3 must sign the "
                                 "handshake with RSA-PSS, which card middleware "
                                 "commonly does not offer, so its card login fails "
                                 "with a TLS error. Pin this host to TLS 1.2 (SSLProtocol -all "
                                 "+TLSv1.2).",
                at ? at->directive : "SSLProtocol", at ? jpki_cfg_tree_where(p, at) : "default all",
                jpki_cfg_host_desc(p, vs));
        }
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                 JPKI_LOGNO(0031) "%s %s (%s) leaves %s, a JPKITLSClientAuth On host, without "
                                  "TLS 1.2: the card signs only RSASSA-PKCS1-v1_5 and TLS 1.3 "
                                  "requires RSA-PSS in CertificateVerify (RFC 8446 4.4.3), so "
                                  "no card can log in here with its certificate. Use "
                                  "SSLProtocol -all +TLSv1.2 on this host (the challenge login "
                                  "works on any TLS version), or set JPKITLSClientAuth Off.",
                 at ? at->directive : "SSLProtocol", at && at->args ? at->args : "",
                 jpki_cfg_tree_where(p, at), jpki_cfg_host_desc(p, vs));
    return HTTP_INTERNAL_SERVER_ERROR;
}

static int tls_check_hosts(apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    for (vs = s; vs != NULL; vs = vs->next) {
        if (jpki_srv_cfg(vs)->tls_client_auth != 1 || !tls_host(vs)) {
            continue;
        }
        if (check_verify_client(ptemp, vs) != OK || check_protocols(ptemp, vs) != OK) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

/* At the real start, on the SSL_CTX mod_ssl built for the host (SSLProtocol
 * and every SSLOpenSSLConfCmd applied): the authoritative form of JPKI0031,
 * for what the configuration tree does not show (e.g. SSLOpenSSLConfCmd
 * Protocol -TLSv1.2). mod_ssl then refuses to start. */
typedef int ssl_HOOK_init_server_t(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

static int tls12_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    long min = SSL_CTX_get_min_proto_version(ctx), max = SSL_CTX_get_max_proto_version(ctx);
    if (is_proxy || jpki_srv_cfg(s)->tls_client_auth != 1 ||
        (!(SSL_CTX_get_options(ctx) & SSL_OP_NO_TLSv1_2) && (min == 0 || min <= TLS1_2_VERSION) &&
         (max == 0 || max >= TLS1_2_VERSION))) {
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                 JPKI_LOGNO(0033) "%s has JPKITLSClientAuth On but its TLS context does not "
                                  "allow TLS 1.2 (SSLProtocol, SSLOpenSSLConfCmd): the card "
                                  "signs only RSASSA-PKCS1-v1_5 and TLS 1.3 requires RSA-PSS "
                                  "in CertificateVerify, so no card can log in here with its "
                                  "certificate. Allow TLS 1.2 on this host, or set "
                                  "JPKITLSClientAuth Off.",
                 jpki_cfg_host_desc(p, s));
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
    return tls_check_hosts(ptemp, s);
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
    APR_OPTIONAL_HOOK(ssl, init_server, tls12_init_server, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_access(guard_before, NULL, ssl, APR_HOOK_REALLY_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_access(guard_after, ssl, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    /* mod_ssl's FakeBasicAuth runs first among the authn hooks; this right after */
    ap_hook_check_authn(guard_authn, ssl, NULL, APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
}
