/*
 * The account store through mod_dbd: the statements (JPKIAccountSQL,
 * defaults matching conf/jpki-schema.sql), prepared before mod_dbd's
 * post_config, and the SQL primitives (prepared statements only) that
 * jpki_account.c, jpki_account_login.c, jpki_register.c and jpki_authz.c
 * use. docs/accounts.md describes all of it.
 */
#include "steps/account/jpki_account.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_cache.h"

#include "apr_dbd.h"
#include "mod_dbd.h"
#include "mod_auth.h"

#include "steps/account/jpki_account_int.h"
/* Columns a SELECT must return (0 for writes). Checked at startup. */
static const int sql_ncols[JPKI_SQL_MAX] = {1, 1, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0};

/* mod_dbd's functions, looked up once at startup (read-only afterwards). */
static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) * dbd_acquire_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) * dbd_prepare_fn;

struct jpki_sql_t {
    ap_dbd_t *dbd;
    apr_dbd_transaction_t *trans;
};

static const char *label(apr_pool_t *p, int i)
{
    return apr_pstrcat(p, "jpki_account_", jpki_account_sql_names[i], NULL);
}

/* Before mod_dbd's post_config: give every host with JPKIAccountStore dbd
 * its statements (configured or default), prepared on each connection. */
int jpki_account_store_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
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
                ap_log_error(
                    APLOG_MARK, APLOG_DEBUG, 0, vs,
                    JPKI_LOGNO(0703) "JPKIAccountStore none: the certificate serial "
                                     "is the account (no renewal following; development only)");
            }
            continue;
        }
        if (dbd_prepare_fn == NULL || dbd_acquire_fn == NULL) {
            return HTTP_INTERNAL_SERVER_ERROR; /* reported by jpki_account_config_check */
        }
        for (i = 0; i < JPKI_SQL_MAX; i++) {
            dbd_prepare_fn(vs, jpki_cfg_account_sql(c, (jpki_sql_e)i), label(pconf, i));
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
    apr_dbd_prepared_t *st =
        apr_hash_get(db->dbd->prepared, label(r->pool, q), APR_HASH_KEY_STRING);
    if (st == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0711) "account statement '%s' is not prepared on this "
                                       "connection (JPKIAccountSQL; does the schema exist?)",
                      jpki_account_sql_names[q]);
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
                            jpki_cfg_account_sql(c, (jpki_sql_e)i), lbl, &st) != 0) {
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
                                   "database connection (after '%s' failed)",
                  jpki_account_sql_names[q]);
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
                  JPKI_LOGNO(0712) "account sql: statement=%s rv=%d rows=%d",
                  jpki_account_sql_names[q], rv, n);
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
        rv = apr_dbd_pselect(db->dbd->driver, r->pool, db->dbd->handle, &res, st, 1, nargs, args);
    }
    if (rv != 0) {
        log_sql(r, q, rv, 0);
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r, JPKI_LOGNO(0713) "account store query '%s' failed: %s",
            jpki_account_sql_names[q], apr_dbd_error(db->dbd->driver, db->dbd->handle, rv));
        return APR_EGENERAL;
    }
    cols = apr_dbd_num_cols(db->dbd->driver, res);
    if (cols < sql_ncols[q]) {
        log_sql(r, q, rv, 0);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0714) "account statement '%s' returns %d column(s), needs %d "
                                       "(JPKIAccountSQL)",
                      jpki_account_sql_names[q], cols, sql_ncols[q]);
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
                      JPKI_LOGNO(0715) "account store write '%s' failed%s: %s",
                      jpki_account_sql_names[q],
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

/* ------------------------------------------------------------ recheck -- */

#define RECHECK_LABEL "jpki_account_recheck"
#define RECHECK_SQL   "SELECT category, checked_at FROM jpki_recheck WHERE account = %s"

/* The statement on this connection, prepared on first use into the
 * connection's own table (not by mod_dbd at connect time: a database
 * still without the jpki_recheck table must not stop the account store). */
static apr_dbd_prepared_t *recheck_statement(request_rec *r, jpki_sql_t *db)
{
    apr_dbd_prepared_t *st = apr_hash_get(db->dbd->prepared, RECHECK_LABEL, APR_HASH_KEY_STRING);
    static int warned;
    int rv;
    if (st != NULL) {
        return st;
    }
    rv = apr_dbd_prepare(db->dbd->driver, db->dbd->pool, db->dbd->handle, RECHECK_SQL,
                         RECHECK_LABEL, &st);
    if (rv != 0) {
        if (!warned) { /* once per process: an upgrade note, not an outage */
            warned = 1;
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          JPKI_LOGNO(1331) "no re-check results: cannot prepare the jpki_recheck "
                                           "query (add the table: docs/accounts.md "
                                           "\"Upgrading\"): %s",
                          apr_dbd_error(db->dbd->driver, db->dbd->handle, rv));
        }
        return NULL;
    }
    apr_hash_set(db->dbd->prepared, RECHECK_LABEL, APR_HASH_KEY_STRING, st);
    return st;
}

apr_status_t jpki_sql_recheck(request_rec *r, jpki_sql_t *db, const char *account,
                              const char **category, const char **at)
{
    apr_dbd_prepared_t *st = recheck_statement(r, db);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv, n = 0;
    *category = *at = NULL;
    if (st == NULL) {
        return APR_ENOENT;
    }
    rv = apr_dbd_pvselect(db->dbd->driver, r->pool, db->dbd->handle, &res, st, 0, account);
    if (rv != 0) {
        /* e.g. PostgreSQL restarted and forgot the statement: prepare it anew next time */
        apr_hash_set(db->dbd->prepared, RECHECK_LABEL, APR_HASH_KEY_STRING, NULL);
    }
    while (rv == 0 && apr_dbd_get_row(db->dbd->driver, r->pool, res, &row, -1) == 0) {
        const char *c = apr_dbd_get_entry(db->dbd->driver, row, 0);
        const char *t = apr_dbd_get_entry(db->dbd->driver, row, 1);
        if (n++ == 0 && c != NULL && t != NULL) {
            *category = apr_pstrdup(r->pool, c);
            *at = apr_pstrdup(r->pool, t);
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  JPKI_LOGNO(1330) "account sql: statement=recheck rv=%d rows=%d", rv, n);
    return rv == 0 ? APR_SUCCESS : APR_EGENERAL;
}
