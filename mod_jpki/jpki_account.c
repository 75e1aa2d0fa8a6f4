/*
 * Accounts: normalised serial -> account through the socache (JPKICache,
 * namespace ACCOUNT) and SQL through mod_dbd (prepared statements only,
 * replaceable with JPKIAccountSQL like mod_authn_dbd's queries). Unknown
 * serials of a renewed card are linked to the account of their
 * predecessor (PF user id or predecessor serial); otherwise deny, or a
 * registration session. docs/accounts.md describes all of it.
 */
#include "jpki_account.h"
#include "jpki_audit.h"
#include "jpki_cache.h"

#include "apr_dbd.h"
#include "mod_dbd.h"
#include "mod_auth.h"

static const char *const sql_names[JPKI_SQL_MAX] = {
    "lookup", "by_user", "latest",  "link",   "seen",       "create",
    "birth_date", "set_birth_date", "serials", "relink", "unlink_all", "remove"};

/* Number of %s parameters each statement takes, and the columns a SELECT
 * must return (0 for writes). Checked at startup. */
static const int sql_nargs[JPKI_SQL_MAX] = {1, 1, 1, 6, 2, 4, 1, 3, 1, 2, 1, 1};
static const int sql_ncols[JPKI_SQL_MAX] = {1, 1, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0};

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

/* mod_dbd's functions, looked up once at startup (read-only afterwards). */
static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare_fn;

struct jpki_sql_t {
    ap_dbd_t *dbd;
    apr_dbd_transaction_t *trans;
};

/* ------------------------------------------------------------- config -- */

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
    m->registration = add->registration == JPKI_REG_UNSET ? base->registration
                                                          : add->registration;
    return m;
}

jpki_account_srv_t *jpki_account_cfg(server_rec *s)
{
    return jpki_srv_cfg(s)->account;
}

static jpki_account_dir_t *account_dir(request_rec *r)
{
    return jpki_dir_cfg(r)->account;
}

static int cache_ttl(const jpki_account_srv_t *c)
{
    return c->cache_ttl == JPKI_UNSET ? JPKI_DEFAULT_ACCOUNT_CACHE_TTL : c->cache_ttl;
}

const char *jpki_account_set_store(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_account_srv_t *c = jpki_account_cfg(cmd->server);
    (void)dc;
    if (strcasecmp(arg, "none") == 0) {
        c->store = JPKI_ACCOUNT_STORE_NONE;
    }
    else if (strcasecmp(arg, "dbd") == 0) {
        c->store = JPKI_ACCOUNT_STORE_DBD;
    }
    else {
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
    }
    else if (strcasecmp(arg, "register") == 0) {
        c->unknown = JPKI_UNKNOWN_REGISTER;
    }
    else {
        return apr_psprintf(cmd->pool, "JPKIUnknownCertificate: '%s' is not deny or register",
                            arg);
    }
    return NULL;
}

const char *jpki_account_set_cache_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);
    (void)dc;
    if (*arg == '\0' || *end != '\0' || v < 0 || v > 86400) {
        return apr_psprintf(cmd->pool, "JPKIAccountCacheTTL: '%s' is not a whole number of "
                                       "seconds from 0 to 86400", arg);
    }
    jpki_account_cfg(cmd->server)->cache_ttl = (int)v;
    return NULL;
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
        if (strcasecmp(name, sql_names[i]) == 0) {
            if (count_params(sql) != sql_nargs[i]) {
                return apr_psprintf(cmd->pool, "JPKIAccountSQL %s: the statement must take "
                                               "exactly %d %%s parameter(s) (docs/accounts.md)",
                                    sql_names[i], sql_nargs[i]);
            }
            c->sql[i] = sql;
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "JPKIAccountSQL: unknown statement '%s' (lookup, by_user, "
                                   "latest, link, seen, create, birth_date, set_birth_date, "
                                   "serials, relink, unlink_all, remove)", name);
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
    }
    else if (strcasecmp(arg, "on") == 0) {
        d->registration = JPKI_REG_ON;
    }
    else if (strcasecmp(arg, "signing") == 0) {
        d->registration = JPKI_REG_SIGNING;
    }
    else {
        return apr_psprintf(cmd->pool, "JPKIRegistration: '%s' is not Off, On or Signing", arg);
    }
    return NULL;
}

static const char *label(apr_pool_t *p, int i)
{
    return apr_pstrcat(p, "jpki_account_", sql_names[i], NULL);
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
                             "JPKIAccountStore dbd (without a store every serial is its own "
                             "account)");
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
    }
    return OK;
}

/* Before mod_dbd's post_config: give every host with JPKIAccountStore dbd
 * its statements (configured or default), prepared on each connection. */
static int account_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    server_rec *vs;
    (void)plog;
    (void)ptemp;
    dbd_prepare_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    dbd_acquire_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_account_srv_t *c = jpki_account_cfg(vs);
        int i;
        if (c->store != JPKI_ACCOUNT_STORE_DBD) {
            if (c->store == JPKI_ACCOUNT_STORE_UNSET && jpki_srv_cfg(vs)->trust_files) {
                ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, vs,
                             JPKI_LOGNO(0703) "JPKIAccountStore none: the certificate serial "
                             "is the account (no renewal following; development only)");
            }
            continue;
        }
        if (dbd_prepare_fn == NULL || dbd_acquire_fn == NULL) {
            return HTTP_INTERNAL_SERVER_ERROR; /* reported by jpki_account_config_check */
        }
        for (i = 0; i < JPKI_SQL_MAX; i++) {
            dbd_prepare_fn(vs, c->sql[i] ? c->sql[i] : sql_default[i], label(pconf, i));
        }
    }
    return OK;
}

/* ---------------------------------------------------------------- SQL -- */

jpki_sql_t *jpki_sql_open(request_rec *r)
{
    jpki_sql_t *db;
    ap_dbd_t *dbd = NULL;
    int attempt;
    /* mod_dbd prepares every statement when it opens a new pooled
     * connection, and SQLite refuses that ("database is locked") while
     * another process writes: a transient refusal, so try again briefly. */
    for (attempt = 0; dbd_acquire_fn != NULL && attempt < 3; attempt++) {
        if ((dbd = dbd_acquire_fn(r)) != NULL) {
            break;
        }
        apr_sleep(apr_time_from_msec(50 * (attempt + 1)));
    }
    if (dbd == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0710) "account store unavailable: no database connection "
                      "(mod_dbd; see its log lines)");
        return NULL;
    }
    db = apr_pcalloc(r->pool, sizeof(*db));
    db->dbd = dbd;
    return db;
}

static apr_dbd_prepared_t *statement(request_rec *r, jpki_sql_t *db, jpki_sql_e q)
{
    apr_dbd_prepared_t *st = apr_hash_get(db->dbd->prepared, label(r->pool, q),
                                          APR_HASH_KEY_STRING);
    if (st == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0711) "account statement '%s' is not prepared on this "
                      "connection (JPKIAccountSQL; does the schema exist?)", sql_names[q]);
    }
    return st;
}

/* After a failure outside a transaction: is the connection usable again
 * (libpq reconnects in apr_dbd_check_conn) and can the statement be
 * prepared anew on it? A restarted PostgreSQL forgets the statements that
 * mod_dbd prepared when the connection was opened; re-preparing here is
 * how the module recovers by itself instead of failing on that pooled
 * connection until httpd restarts. Returns the fresh statement or NULL. */
static apr_dbd_prepared_t *reprepare(request_rec *r, jpki_sql_t *db, jpki_sql_e q)
{
    jpki_account_srv_t *c = jpki_account_cfg(r->server);
    apr_dbd_prepared_t *st, *want = NULL;
    int i;
    if (db->trans != NULL ||
        apr_dbd_check_conn(db->dbd->driver, r->pool, db->dbd->handle) != APR_SUCCESS) {
        return NULL;
    }
    /* All of them: a reset connection has lost every statement, and the
     * next one may run inside a transaction, where no retry is possible. */
    for (i = 0; i < JPKI_SQL_MAX; i++) {
        const char *lbl = label(db->dbd->pool, i); /* lives as long as the connection */
        st = NULL;
        if (apr_dbd_prepare(db->dbd->driver, db->dbd->pool, db->dbd->handle,
                            c->sql[i] ? c->sql[i] : sql_default[i], lbl, &st) != 0) {
            if (i == (int)q) {
                return NULL;
            }
            continue;
        }
        apr_hash_set(db->dbd->prepared, lbl, APR_HASH_KEY_STRING, st);
        if (i == (int)q) {
            want = st;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  JPKI_LOGNO(0718) "account store: statements prepared again on a reconnected "
                  "database connection (after '%s' failed)", sql_names[q]);
    return want;
}

static int is_constraint(const char *msg)
{
    return msg && (ap_strcasestr(msg, "unique") || ap_strcasestr(msg, "duplicate key") ||
                   ap_strcasestr(msg, "constraint"));
}

/* One debug line per statement run: the tests count them (0 per returning
 * login) and so can an operator. Parameters are serials and account ids,
 * never personal data. */
static void log_sql(request_rec *r, jpki_sql_e q, int rv, int n)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  JPKI_LOGNO(0712) "account sql: statement=%s rv=%d rows=%d", sql_names[q], rv,
                  n);
}

apr_status_t jpki_sql_select(request_rec *r, jpki_sql_t *db, jpki_sql_e q, int nargs,
                             const char **args, apr_array_header_t **rows, int *ncols)
{
    apr_dbd_prepared_t *st = statement(r, db, q);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv, cols, i;

    *rows = apr_array_make(r->pool, 2, sizeof(const char **));
    if (st == NULL) {
        return APR_EGENERAL;
    }
    rv = apr_dbd_pselect(db->dbd->driver, r->pool, db->dbd->handle, &res, st, 1, nargs, args);
    if (rv != 0 && (st = reprepare(r, db, q)) != NULL) {
        log_sql(r, q, rv, 0);
        rv = apr_dbd_pselect(db->dbd->driver, r->pool, db->dbd->handle, &res, st, 1, nargs,
                             args);
    }
    if (rv != 0) {
        log_sql(r, q, rv, 0);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0713) "account store query '%s' failed: %s", sql_names[q],
                      apr_dbd_error(db->dbd->driver, db->dbd->handle, rv));
        return APR_EGENERAL;
    }
    cols = apr_dbd_num_cols(db->dbd->driver, res);
    if (cols < sql_ncols[q]) {
        log_sql(r, q, rv, 0);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0714) "account statement '%s' returns %d column(s), needs %d "
                      "(JPKIAccountSQL)", sql_names[q], cols, sql_ncols[q]);
        return APR_EGENERAL;
    }
    while (apr_dbd_get_row(db->dbd->driver, r->pool, res, &row, -1) == 0) {
        const char **vals = apr_pcalloc(r->pool, sizeof(const char *) * (apr_size_t)cols);
        for (i = 0; i < cols; i++) {
            const char *v = apr_dbd_get_entry(db->dbd->driver, row, i);
            vals[i] = v ? apr_pstrdup(r->pool, v) : NULL;
        }
        APR_ARRAY_PUSH(*rows, const char **) = vals;
    }
    if (ncols) {
        *ncols = cols;
    }
    log_sql(r, q, rv, (*rows)->nelts);
    return APR_SUCCESS;
}

apr_status_t jpki_sql_write(request_rec *r, jpki_sql_t *db, jpki_sql_e q, int nargs,
                            const char **args, int *nrows, int *constraint)
{
    apr_dbd_prepared_t *st = statement(r, db, q);
    int rv, n = 0;
    const char *msg;
    *constraint = 0;
    if (nrows) {
        *nrows = 0;
    }
    if (st == NULL) {
        return APR_EGENERAL;
    }
    rv = apr_dbd_pquery(db->dbd->driver, r->pool, db->dbd->handle, &n, st, nargs, args);
    log_sql(r, q, rv, n);
    if (rv != 0) {
        msg = apr_dbd_error(db->dbd->driver, db->dbd->handle, rv);
        *constraint = is_constraint(msg);
        if (!*constraint && (st = reprepare(r, db, q)) != NULL) {
            rv = apr_dbd_pquery(db->dbd->driver, r->pool, db->dbd->handle, &n, st, nargs, args);
            log_sql(r, q, rv, n);
            if (rv != 0) {
                msg = apr_dbd_error(db->dbd->driver, db->dbd->handle, rv);
                *constraint = is_constraint(msg);
            }
        }
    }
    if (rv != 0) {
        ap_log_rerror(APLOG_MARK, *constraint ? APLOG_INFO : APLOG_ERR, 0, r,
                      JPKI_LOGNO(0715) "account store write '%s' failed%s: %s", sql_names[q],
                      *constraint ? " (constraint: a concurrent request won)" : "",
                      msg ? msg : "(no message)");
        return APR_EGENERAL;
    }
    if (nrows) {
        *nrows = n;
    }
    return APR_SUCCESS;
}

apr_status_t jpki_sql_begin(request_rec *r, jpki_sql_t *db)
{
    int rv;
    /* apr_dbd_pgsql dereferences a NULL transaction when BEGIN fails, so
     * never start one on a connection that is not known to be alive:
     * callers run a SELECT first, and the connection is checked here. */
    if (apr_dbd_check_conn(db->dbd->driver, r->pool, db->dbd->handle) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0719) "account store: the database connection is down");
        return APR_EGENERAL;
    }
    rv = apr_dbd_transaction_start(db->dbd->driver, r->pool, db->dbd->handle, &db->trans);
    if (rv != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0716) "account store: cannot start a transaction: %s",
                      apr_dbd_error(db->dbd->driver, db->dbd->handle, rv));
        db->trans = NULL;
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t jpki_sql_end(request_rec *r, jpki_sql_t *db, int commit)
{
    int rv;
    if (db->trans == NULL) {
        return APR_EGENERAL;
    }
    if (!commit) {
        apr_dbd_transaction_mode_set(db->dbd->driver, db->trans, APR_DBD_TRANSACTION_ROLLBACK);
    }
    rv = apr_dbd_transaction_end(db->dbd->driver, r->pool, db->trans);
    db->trans = NULL;
    if (rv != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0717) "account store: cannot %s the transaction: %s",
                      commit ? "commit" : "roll back",
                      apr_dbd_error(db->dbd->driver, db->dbd->handle, rv));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* -------------------------------------------------------------- cache -- */

/* Entries are scoped to the virtual host (ServerName:port): two hosts of
 * one server may use different stores, while the same host on several
 * nodes sharing memcache/redis shares its entries. */
const char *jpki_account_cache_key(request_rec *r, const char *kind, const char *id)
{
    server_rec *s = r->server;
    return apr_psprintf(r->pool, "%s|%s:%u|%s", kind,
                        s->server_hostname ? s->server_hostname : "-",
                        (unsigned)(s->addrs ? s->addrs->host_port : s->port), id);
}

static const char *cache_key(request_rec *r, const char *serial)
{
    return jpki_account_cache_key(r, "s", serial);
}

void jpki_account_cache_forget(request_rec *r, const char *serial)
{
    apr_status_t rv = jpki_cache_remove(r->server, JPKI_NS_ACCOUNT, cache_key(r, serial),
                                        r->pool);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      JPKI_LOGNO(0720) "account cache: cannot drop serial=%s (JPKICache); it "
                      "expires after JPKIAccountCacheTTL", serial);
    }
}

static void cache_put(request_rec *r, const char *serial, const char *account)
{
    jpki_account_srv_t *c = jpki_account_cfg(r->server);
    apr_status_t rv;
    if (cache_ttl(c) == 0) {
        return;
    }
    rv = jpki_cache_store(r->server, JPKI_NS_ACCOUNT, cache_key(r, serial), account,
                          strlen(account), apr_time_now() + apr_time_from_sec(cache_ttl(c)),
                          r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      JPKI_LOGNO(0721) "account cache: cannot store serial=%s (JPKICache)",
                      serial);
    }
}

static apr_status_t sql_lookup(request_rec *r, jpki_sql_t **db, jpki_sql_e q, const char *arg,
                               const char **out)
{
    apr_array_header_t *rows;
    const char *args[1];
    *out = NULL;
    if (*db == NULL && (*db = jpki_sql_open(r)) == NULL) {
        return APR_EGENERAL;
    }
    args[0] = arg;
    if (jpki_sql_select(r, *db, q, 1, args, &rows, NULL) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (rows->nelts > 0) {
        const char *v = APR_ARRAY_IDX(rows, 0, const char **)[0];
        *out = (v && *v) ? v : NULL;
    }
    return APR_SUCCESS;
}

apr_status_t jpki_account_resolve(request_rec *r, jpki_sql_t **db, const char *serial,
                                  const char **account)
{
    jpki_account_srv_t *c = jpki_account_cfg(r->server);
    char *val = NULL;
    apr_status_t rv;

    *account = NULL;
    if (cache_ttl(c) > 0) {
        rv = jpki_cache_get(r->server, JPKI_NS_ACCOUNT, cache_key(r, serial), r->pool,
                            &val, NULL);
        if (rv == APR_SUCCESS && val[0] != '\0') {
            *account = val;
            return APR_SUCCESS;
        }
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
            /* A cache failure is not "unknown": ask the store instead. */
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                          JPKI_LOGNO(0722) "account cache lookup failed (JPKICache); using SQL");
        }
    }
    if (sql_lookup(r, db, JPKI_SQL_LOOKUP, serial, account) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (*account) {
        cache_put(r, serial, *account);
    }
    return APR_SUCCESS;
}

/* -------------------------------------------------------------- login -- */

static int fail(jpki_flow_err_t *err, jpki_flow_kind_e kind, const char *code, const char *detail)
{
    err->kind = kind;
    err->code = code;
    err->detail = detail;
    return 0;
}

static void touch(request_rec *r, jpki_sql_t *db, const char *serial)
{
    const char *args[2];
    int n, constraint;
    args[0] = jpki_util_time_iso(r->pool, apr_time_now());
    args[1] = serial;
    /* last_seen is bookkeeping: a read-only store must not stop a login. */
    jpki_sql_write(r, db, JPKI_SQL_SEEN, 2, args, &n, &constraint);
}

/* Link a renewed certificate to acct. One row even when two logins of the
 * card race: the primary key decides, the loser reads the winner's row. */
static int link_successor(request_rec *r, jpki_sql_t *db, const jpki_cert_t *c, const char *acct,
                          const char *pred, const char *via, jpki_identity_t *id,
                          jpki_flow_err_t *err)
{
    const char *now = jpki_util_time_iso(r->pool, apr_time_now());
    const char *args[6];
    const char *winner = NULL;
    int n, constraint;

    args[0] = c->serial;
    args[1] = acct;
    args[2] = "auth";
    args[3] = pred;
    args[4] = now;
    args[5] = now;
    if (jpki_sql_write(r, db, JPKI_SQL_LINK, 6, args, &n, &constraint) != APR_SUCCESS) {
        if (!constraint || sql_lookup(r, &db, JPKI_SQL_LOOKUP, c->serial, &winner) != APR_SUCCESS ||
            winner == NULL) {
            return fail(err, JPKI_FLOW_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                        "the account store could not link the renewed certificate");
        }
        acct = winner;
    }
    cache_put(r, c->serial, acct);
    id->account = acct;
    id->previous_serial = pred;
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  JPKI_LOGNO(0730) "renewed certificate linked: serial=%s previous=%s "
                  "account=%s via=%s%s",
                  c->serial, pred ? pred : "-", acct, via, winner ? " (concurrent login)" : "");
    jpki_audit_decision(r, "relink", "ok", id->method, c->serial, acct);
    return 1;
}

int jpki_account_login(request_rec *r, const jpki_cert_t *c, const jpki_status_result_t *st,
                       jpki_identity_t *id, jpki_flow_err_t *err)
{
    jpki_account_srv_t *cfg = jpki_account_cfg(r->server);
    jpki_sql_t *db = NULL;
    const char *acct = NULL, *pred, *via = NULL;

    if (id->platform_user_id == NULL && st->platform_user_id != NULL) {
        id->platform_user_id = st->platform_user_id;
    }
    if (c->type == JPKI_CERT_TYPE_SIGN) {
        /* The signing certificate proves the person for registration
         * (jpki_register.c); it never logs in to an account by itself. */
        id->account = NULL;
        id->registration = 1;
        return 1;
    }
    if (cfg->store != JPKI_ACCOUNT_STORE_DBD) {
        id->account = id->serial;
        return 1;
    }
    /* 1. The hot path: cache, then one SQL lookup. */
    if (jpki_account_resolve(r, &db, c->serial, &acct) != APR_SUCCESS) {
        return fail(err, JPKI_FLOW_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                    "the account store is unavailable");
    }
    if (acct != NULL) {
        if (db != NULL) {
            touch(r, db, c->serial); /* only on a cache miss: last_seen to TTL precision */
        }
        id->account = acct;
        return 1;
    }
    /* 2. Successor resolution: a renewed card has a new serial. */
    if (st->link_pending) {
        return fail(err, JPKI_FLOW_UNAVAILABLE, JPKI_E_LINK_PENDING,
                    "the platform has no renewal link data for this certificate yet");
    }
    pred = st->predecessor_serial;
    if (st->platform_user_id != NULL) {
        if (sql_lookup(r, &db, JPKI_SQL_BY_USER, st->platform_user_id, &acct) != APR_SUCCESS) {
            return fail(err, JPKI_FLOW_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                        "the account store is unavailable");
        }
        via = "platform_user_id";
    }
    if (acct == NULL && pred != NULL) {
        if (jpki_account_resolve(r, &db, pred, &acct) != APR_SUCCESS) {
            return fail(err, JPKI_FLOW_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                        "the account store is unavailable");
        }
        via = "predecessor_serial";
    }
    if (acct != NULL) {
        if (pred == NULL &&
            sql_lookup(r, &db, JPKI_SQL_LATEST, acct, &pred) != APR_SUCCESS) {
            return fail(err, JPKI_FLOW_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                        "the account store is unavailable");
        }
        return link_successor(r, db, c, acct, pred, via, id, err);
    }
    /* 3. Nobody we know. */
    if (cfg->unknown == JPKI_UNKNOWN_REGISTER) {
        id->account = NULL;
        id->registration = 1;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0731) "no account for serial=%s: registration session",
                      c->serial);
        return 1;
    }
    return fail(err, JPKI_FLOW_REFUSED, JPKI_E_NO_ACCOUNT,
                "no account is linked to this certificate (JPKIUnknownCertificate deny)");
}

/* ------------------------------------------------------------ session -- */

int jpki_account_session(request_rec *r, jpki_session_t *sess, const char **code)
{
    jpki_account_srv_t *cfg = jpki_account_cfg(r->server);
    jpki_sql_t *db = NULL;
    const char *acct = NULL;

    if (cfg->store != JPKI_ACCOUNT_STORE_DBD) {
        return OK;
    }
    if (jpki_account_resolve(r, &db, sess->ident.serial, &acct) != APR_SUCCESS) {
        *code = JPKI_E_ACCOUNT_UNAVAILABLE;
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (sess->ident.registration) {
        if (acct != NULL) {
            /* The site linked the account meanwhile: the session becomes a
             * normal one without a second login. */
            sess->ident.account = acct;
            sess->ident.registration = 0;
            jpki_session_save(r, sess);
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          JPKI_LOGNO(0732) "registration session of serial=%s now has "
                          "account=%s", sess->ident.serial, acct);
            jpki_audit_decision(r, "registration", "linked", sess->ident.method,
                                sess->ident.serial, acct);
        }
        return OK;
    }
    if (acct == NULL || sess->ident.account == NULL || strcmp(acct, sess->ident.account) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      JPKI_LOGNO(0733) "session refused: serial=%s is no longer linked to "
                      "account=%s", sess->ident.serial,
                      sess->ident.account ? sess->ident.account : "-");
        *code = JPKI_E_ACCOUNT_REMOVED;
        return HTTP_FORBIDDEN;
    }
    return OK;
}

int jpki_account_wants_signing(request_rec *r)
{
    jpki_account_dir_t *d = account_dir(r);
    return d->registration == JPKI_REG_SIGNING;
}

int jpki_account_registration(request_rec *r, jpki_session_t *sess, const char **code)
{
    jpki_account_dir_t *d = account_dir(r);
    int rc;
    if (d->registration != JPKI_REG_ON && d->registration != JPKI_REG_SIGNING) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0734) "registration session of serial=%s refused here "
                      "(no JPKIRegistration on this location)", sess->ident.serial);
        *code = JPKI_E_NO_ACCOUNT;
        return HTTP_FORBIDDEN;
    }
    if (d->registration == JPKI_REG_SIGNING &&
        (rc = jpki_register_signing(r, sess, code)) != OK) {
        return rc;
    }
    /* httpd insists on a user after authentication; the fixups hook takes
     * it away again before any backend sees it. */
    r->user = "";
    apr_table_setn(r->notes, "jpki-registration", "1");
    return OK;
}

/* After authorization: a registration session has no REMOTE_USER; an
 * authz refusal that another Require overruled leaves no error header. */
static int account_fixups(request_rec *r)
{
    if (apr_table_get(r->notes, "jpki-registration") != NULL) {
        r->user = NULL;
    }
    if (apr_table_get(r->notes, "jpki-authz-error") != NULL) {
        apr_table_unset(r->err_headers_out, "X-JPKI-Error");
    }
    return DECLINED;
}

static int account_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, "jpki-account") != 0) {
        return DECLINED;
    }
    return jpki_register_handler(r);
}

void jpki_account_register_hooks(apr_pool_t *p)
{
    static const char *const succ[] = {"mod_dbd.c", NULL};
    ap_hook_post_config(account_post_config, NULL, succ, APR_HOOK_FIRST);
    ap_hook_fixups(account_fixups, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(account_handler, NULL, NULL, APR_HOOK_MIDDLE);
    jpki_authz_register(p);
}
