/*
 * Account store, registration and jpki-account endpoint directives:
 * records, defaults (the SQL statements too), create/merge, setters and
 * their check_config.
 */
#include "cfg/jpki_cfg.h"
#include "cfg/jpki_cfg_tree.h"

#include "apr_dbd.h"
#include "mod_dbd.h"
#include "http_main.h"
#include <openssl/crypto.h>

const char *const jpki_account_sql_names[JPKI_SQL_MAX] = {
    "lookup",     "by_user",        "latest",  "link",   "seen",       "create",
    "birth_date", "set_birth_date", "serials", "relink", "unlink_all", "remove"};

/* Number of %s parameters each statement takes. */
static const int sql_nargs[JPKI_SQL_MAX] = {1, 1, 1, 6, 2, 4, 1, 3, 1, 2, 1, 1};

/* Defaults matching conf/jpki-schema.sql. */
static const char *const sql_default[JPKI_SQL_MAX] = {
    "SELECT s.account FROM jpki_serial s JOIN jpki_account a ON a.account = s.account "
    "WHERE s.serial = %s",
    "SELECT account FROM jpki_account WHERE platform_user_id = %s",
    "SELECT serial FROM jpki_serial WHERE account = %s AND cert_type = 'auth' "
    "ORDER BY first_seen DESC LIMIT 1",
    "INSERT INTO jpki_serial (serial, account, cert_type, predecessor, first_seen, last_seen) "
    "VALUES (%s, %s, %s, %s, %s, %s)",
    "UPDATE jpki_serial SET last_seen = %s WHERE serial = %s",
    "INSERT INTO jpki_account (account, platform_user_id, birth_date, created_at) "
    "VALUES (%s, %s, %s, %s)",
    "SELECT birth_date FROM jpki_account WHERE account = %s",
    "UPDATE jpki_account SET birth_date = COALESCE(%s, birth_date), "
    "platform_user_id = COALESCE(%s, platform_user_id) WHERE account = %s",
    "SELECT serial, cert_type FROM jpki_serial WHERE account = %s",
    "UPDATE jpki_serial SET account = %s WHERE serial = %s",
    "DELETE FROM jpki_serial WHERE account = %s",
    "DELETE FROM jpki_account WHERE account = %s"};

jpki_account_srv_t *jpki_account_srv_create(apr_pool_t *p)
{
    jpki_account_srv_t *c = apr_pcalloc(p, sizeof(*c));
    c->store = JPKI_ACCOUNT_STORE_UNSET;
    c->unknown = JPKI_UNKNOWN_UNSET;
    c->cache_ttl = JPKI_UNSET;
    c->match_user = JPKI_UNSET;
    return c;
}

jpki_account_srv_t *jpki_account_srv_merge(apr_pool_t *p, const jpki_account_srv_t *base,
                                           const jpki_account_srv_t *add)
{
    jpki_account_srv_t *m = apr_pcalloc(p, sizeof(*m));
    int i;
    m->store = add->store == JPKI_ACCOUNT_STORE_UNSET ? base->store : add->store;
    m->unknown = add->unknown == JPKI_UNKNOWN_UNSET ? base->unknown : add->unknown;
    m->cache_ttl = add->cache_ttl == JPKI_UNSET ? base->cache_ttl : add->cache_ttl;
    m->match_user = add->match_user == JPKI_UNSET ? base->match_user : add->match_user;
    for (i = 0; i < JPKI_SQL_MAX; i++) {
        m->sql[i] = add->sql[i] ? add->sql[i] : base->sql[i];
    }
    m->api_token_file = add->api_token_file ? add->api_token_file : base->api_token_file;
    return m;
}

jpki_account_dir_t *jpki_account_dir_create(apr_pool_t *p)
{
    jpki_account_dir_t *d = apr_pcalloc(p, sizeof(*d));
    d->registration = JPKI_REG_UNSET;
    return d;
}

jpki_account_dir_t *jpki_account_dir_merge(apr_pool_t *p, const jpki_account_dir_t *base,
                                           const jpki_account_dir_t *add)
{
    jpki_account_dir_t *m = apr_pcalloc(p, sizeof(*m));
    m->registration = add->registration == JPKI_REG_UNSET ? base->registration : add->registration;
    return m;
}

jpki_account_srv_t *jpki_account_cfg(server_rec *s)
{
    return jpki_srv_cfg(s)->account;
}

jpki_account_dir_t *jpki_account_dir_cfg(request_rec *r)
{
    return jpki_dir_cfg(r)->account;
}

int jpki_cfg_account_cache_ttl(const jpki_account_srv_t *c)
{
    return c->cache_ttl == JPKI_UNSET ? JPKI_DEFAULT_ACCOUNT_CACHE_TTL : c->cache_ttl;
}

const char *jpki_account_set_store(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_account_srv_t *c = jpki_account_cfg(cmd->server);
    (void)dc;
    if (strcasecmp(arg, "none") == 0) {
        c->store = JPKI_ACCOUNT_STORE_NONE;
    } else if (strcasecmp(arg, "dbd") == 0) {
        c->store = JPKI_ACCOUNT_STORE_DBD;
    } else {
        return apr_psprintf(cmd->pool, "JPKIAccountStore: unknown store '%s' (dbd or none)", arg);
    }
    return NULL;
}

const char *jpki_account_set_unknown(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_account_srv_t *c = jpki_account_cfg(cmd->server);
    (void)dc;
    if (strcasecmp(arg, "deny") == 0) {
        c->unknown = JPKI_UNKNOWN_DENY;
    } else if (strcasecmp(arg, "register") == 0) {
        c->unknown = JPKI_UNKNOWN_REGISTER;
    } else {
        return apr_psprintf(cmd->pool, "JPKIUnknownCertificate: '%s' is not deny or register", arg);
    }
    return NULL;
}

const char *jpki_account_set_cache_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (!jpki_util_parse_int(arg, 0, 86400, 0, &jpki_account_cfg(cmd->server)->cache_ttl)) {
        return apr_psprintf(cmd->pool,
                            "JPKIAccountCacheTTL: '%s' is not a whole number of "
                            "seconds from 0 to 86400",
                            arg);
    }
    return NULL;
}

const char *jpki_account_set_match_user(cmd_parms *cmd, void *dc, int flag)
{
    (void)dc;
    jpki_account_cfg(cmd->server)->match_user = flag;
    return NULL;
}

const char *jpki_account_set_registration(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_account_dir_t *d = ((jpki_dir_cfg_t *)dc)->account;
    if (strcasecmp(arg, "off") == 0) {
        d->registration = JPKI_REG_OFF;
    } else if (strcasecmp(arg, "on") == 0) {
        d->registration = JPKI_REG_ON;
    } else if (strcasecmp(arg, "signing") == 0) {
        d->registration = JPKI_REG_SIGNING;
    } else {
        return apr_psprintf(cmd->pool, "JPKIRegistration: '%s' is not Off, On or Signing", arg);
    }
    return NULL;
}

int jpki_account_config_check(apr_pool_t *pconf, server_rec *s)
{
    server_rec *vs;
    (void)pconf;
    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_account_srv_t *c = jpki_account_cfg(vs);
        if (c->store != JPKI_ACCOUNT_STORE_DBD) {
            if (c->unknown == JPKI_UNKNOWN_REGISTER) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                             JPKI_LOGNO(0701) "JPKIUnknownCertificate register needs "
                                              "JPKIAccountStore dbd (without a store "
                                              "every serial is its own account)");
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            continue;
        }
        if (APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare) == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                         JPKI_LOGNO(0702) "JPKIAccountStore dbd needs mod_dbd "
                                          "(LoadModule dbd_module) and DBDriver/DBDParams");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        /* mod_dbd's record is opaque: its DBDriver, as the tree has it */
        if (jpki_cfg_tree_server_dir(vs, "DBDriver") == NULL) {
            ap_log_error(
                APLOG_MARK, APLOG_EMERG, 0, vs,
                JPKI_LOGNO(0153) "JPKIAccountStore dbd (%s) for %s needs DBDriver "
                                 "(and DBDParams): mod_dbd has no database for this "
                                 "host, so every account lookup would fail. Add "
                                 "DBDriver and DBDParams to that host or to the main "
                                 "server.",
                jpki_cfg_tree_where(pconf, jpki_cfg_tree_server_dir(vs, "JPKIAccountStore")),
                jpki_cfg_host_desc(pconf, vs));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

static int count_params(const char *sql)
{
    int n = 0;
    for (; *sql; sql++) {
        if (sql[0] == '%') {
            if (sql[1] == 's') {
                n++;
            }
            if (sql[1] != '\0') {
                sql++;
            }
        }
    }
    return n;
}

const char *jpki_account_set_sql(cmd_parms *cmd, void *dc, const char *name, const char *sql)
{
    jpki_account_srv_t *c = jpki_account_cfg(cmd->server);
    int i;
    (void)dc;
    for (i = 0; i < JPKI_SQL_MAX; i++) {
        if (strcasecmp(name, jpki_account_sql_names[i]) == 0) {
            if (count_params(sql) != sql_nargs[i]) {
                return apr_psprintf(cmd->pool,
                                    "JPKIAccountSQL %s: the statement must take "
                                    "exactly %d %%s parameter(s) (docs/accounts.md)",
                                    jpki_account_sql_names[i], sql_nargs[i]);
            }
            c->sql[i] = sql;
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool,
                        "JPKIAccountSQL: unknown statement '%s' (lookup, by_user, "
                        "latest, link, seen, create, birth_date, set_birth_date, "
                        "serials, relink, unlink_all, remove)",
                        name);
}

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
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, 0, s,
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

const char *jpki_cfg_account_sql(const jpki_account_srv_t *c, jpki_sql_e q)
{
    return c->sql[q] ? c->sql[q] : sql_default[q];
}
