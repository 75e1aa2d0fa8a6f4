/*
 * Caller authentication of the jpki-account endpoint (security issue 9,
 * item 5). The endpoint links serials to accounts, so reaching it is an
 * account takeover: network ACLs alone are not enough (one SSRF anywhere
 * on the site reaches 127.0.0.1). Every caller sends
 *     Authorization: Bearer <the content of JPKIAccountAPIToken>
 * compared in constant time; without the directive the endpoint refuses
 * every request, and check_config refuses to start (apachectl -t) when a
 * SetHandler/AddHandler jpki-account it can see has no token in scope.
 */
#include "steps/account/jpki_account.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_http_json.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#define JPKI_ACCOUNT_API_HANDLER   "jpki-account"
#define JPKI_ACCOUNT_API_MIN_TOKEN 32

const char *jpki_account_api_set_token(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    (void)dc;
    if (path == NULL) {
        return apr_pstrcat(cmd->pool, "JPKIAccountAPIToken: invalid path ", arg, NULL);
    }
    jpki_account_cfg(cmd->server)->api_token_file = path;
    return NULL;
}

/* Does this directive mount the endpoint (SetHandler/AddHandler)? */
static int mounts_api(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args, *w;
    if (strcasecmp(d->directive, "SetHandler") != 0 &&
        strcasecmp(d->directive, "AddHandler") != 0) {
        return 0;
    }
    w = ap_getword_conf(p, &args);
    return w != NULL && strcasecmp(w, JPKI_ACCOUNT_API_HANDLER) == 0;
}

/* JPKIAccountAPIToken among the direct children of a server's section. */
static int token_in(const ap_directive_t *first)
{
    for (; first != NULL; first = first->next) {
        if (strcasecmp(first->directive, "JPKIAccountAPIToken") == 0) {
            return 1;
        }
    }
    return 0;
}

/* Walk the configuration tree (Include'd files and true <IfModule>s are
 * already spliced in). Returns the first mount with no token in scope:
 * in its <VirtualHost>, or in the main server (inherited by every host). */
static const ap_directive_t *unprotected_mount(apr_pool_t *p, const ap_directive_t *d,
                                               const ap_directive_t *vhost, int main_token,
                                               const ap_directive_t **where)
{
    const ap_directive_t *bad;
    for (; d != NULL; d = d->next) {
        const ap_directive_t *vh = vhost;
        if (strcasecmp(d->directive, "<VirtualHost") == 0) {
            vh = d;
        }
        if (mounts_api(p, d) && !main_token && (vh == NULL || !token_in(vh->first_child))) {
            *where = d->parent;
            return d;
        }
        if (d->first_child != NULL &&
            (bad = unprotected_mount(p, d->first_child, vh, main_token, where)) != NULL) {
            return bad;
        }
    }
    return NULL;
}

static int load_tokens(apr_pool_t *pconf, server_rec *s)
{
    server_rec *vs;
    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_account_srv_t *c = jpki_account_cfg(vs);
        const char *err = NULL;
        if (c->api_token_file == NULL) {
            continue;
        }
        c->api_token = jpki_util_read_token(pconf, c->api_token_file, &err);
        if (c->api_token != NULL && strlen(c->api_token) < JPKI_ACCOUNT_API_MIN_TOKEN) {
            err = apr_psprintf(pconf, "is shorter than %d characters (e.g. openssl rand -hex 32)",
                               JPKI_ACCOUNT_API_MIN_TOKEN);
            c->api_token = NULL;
        }
        if (c->api_token == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                         JPKI_LOGNO(0770) "JPKIAccountAPIToken %s %s", c->api_token_file, err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

int jpki_account_api_check_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    const ap_directive_t *where = NULL, *bad;
    if (load_tokens(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    bad = unprotected_mount(ptemp, ap_conftree, NULL, token_in(ap_conftree), &where);
    if (bad != NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     JPKI_LOGNO(0771) "%s jpki-account (%s:%d%s%s%s%s) needs JPKIAccountAPIToken "
                     "in the same virtual host or the main server: the account endpoint is "
                     "never served on network ACLs alone",
                     bad->directive, bad->filename ? bad->filename : "?", bad->line_num,
                     where ? ", in " : "", where ? where->directive : "", where ? " " : "",
                     where ? where->args : "");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Constant time over the token's content and length: compare digests. */
static int token_matches(const char *given, apr_size_t len, const char *expected)
{
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)given, len, a);
    SHA256((const unsigned char *)expected, strlen(expected), b);
    return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

static int refuse(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  JPKI_LOGNO(0772) "jpki-account: request refused (%s): code=%s", why,
                  JPKI_E_ACCOUNT_API_UNAUTHENTICATED);
    jpki_audit_decision(r, "account_api_refused", JPKI_E_ACCOUNT_API_UNAUTHENTICATED, "api",
                        NULL, NULL);
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", "Bearer realm=\"jpki-account\"");
    return jpki_json_error(r, HTTP_UNAUTHORIZED, JPKI_E_ACCOUNT_API_UNAUTHENTICATED,
                           "The account endpoint needs Authorization: Bearer <token>.");
}

int jpki_account_api_authenticate(request_rec *r, int *rc)
{
    const char *token = jpki_account_cfg(r->server)->api_token;
    const char *h = apr_table_get(r->headers_in, "Authorization");
    const char *given, *end;

    if (token == NULL) {
        /* Mounted where check_config could not see it (.htaccess...). */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0773) "jpki-account: request refused: JPKIAccountAPIToken "
                      "is not set for this host (code=%s)",
                      JPKI_E_ACCOUNT_API_UNCONFIGURED);
        *rc = jpki_json_error(r, HTTP_SERVICE_UNAVAILABLE, JPKI_E_ACCOUNT_API_UNCONFIGURED,
                              "JPKIAccountAPIToken is not set for this host.");
        return 0;
    }
    if (h == NULL) {
        *rc = refuse(r, "no Authorization header");
        return 0;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        *rc = refuse(r, "Authorization is not a Bearer token");
        return 0;
    }
    for (given = h + 7; *given == ' ' || *given == '\t'; given++) {
    }
    for (end = given + strlen(given); end > given && (end[-1] == ' ' || end[-1] == '\t');
         end--) {
    }
    if (!token_matches(given, (apr_size_t)(end - given), token)) {
        *rc = refuse(r, "wrong bearer token");
        return 0;
    }
    apr_table_unset(r->headers_in, "Authorization");
    return 1;
}
