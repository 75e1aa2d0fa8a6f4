/*
 * The account store through APR-util's apr_dbd (the drivers mod_dbd uses:
 * sqlite3, pgsql), prepared statements only. Accounts are read a page at
 * a time in account order, with every serial of the page in one more
 * query; an account's current certificate of a type is its newest serial
 * of that type that no other serial of the account names as predecessor.
 */
#include "recheck.h"

#include <apr_dbd.h>
#include <apr_strings.h>
#include <string.h>

struct rc_db_t {
    const apr_dbd_driver_t *drv;
    apr_dbd_t *h;
    apr_pool_t *p;
    apr_dbd_prepared_t *accounts, *serials, *write;
};

static const char *dberr(rc_db_t *db, int rv)
{
    const char *e = apr_dbd_error(db->drv, db->h, rv);
    return e ? e : "database error";
}

static int prepare(rc_db_t *db, const char *sql, const char *label, apr_dbd_prepared_t **st,
                   const char **err)
{
    int rv = apr_dbd_prepare(db->drv, db->p, db->h, sql, label, st);
    if (rv != 0) {
        *err = apr_psprintf(db->p,
                            "cannot prepare %s (does the schema exist? "
                            "conf/jpki-schema.sql): %s",
                            label, dberr(db, rv));
        return -1;
    }
    return 0;
}

/* SQLite: wait up to 5 s for httpd's writers (last_seen, links) instead
 * of failing the run on "database is locked". */
static void busy_timeout(rc_db_t *db)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    if (apr_dbd_select(db->drv, db->p, db->h, &res, "PRAGMA busy_timeout = 5000", 0) == 0) {
        while (apr_dbd_get_row(db->drv, db->p, res, &row, -1) == 0) {
        }
    }
}

rc_db_t *rc_db_open(apr_pool_t *p, const rc_conf_t *c, const char **err)
{
    rc_db_t *db = apr_pcalloc(p, sizeof(*db));
    apr_status_t rv;
    db->p = p;
    apr_dbd_init(p);
    rv = apr_dbd_get_driver(p, c->db_driver, &db->drv);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "database driver %s not available (Debian: libaprutil1-dbd-%s)",
                            c->db_driver, c->db_driver);
        return NULL;
    }
    if (apr_dbd_open_ex(db->drv, p, c->db_params, &db->h, err) != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot open the %s database: %s", c->db_driver,
                            *err ? *err : "no detail");
        return NULL;
    }
    if (strcmp(c->db_driver, "sqlite3") == 0) {
        busy_timeout(db);
    }
    if (prepare(db,
                "SELECT account, platform_user_id FROM jpki_account WHERE account > %s "
                "ORDER BY account LIMIT 500",
                "rc_accounts", &db->accounts, err) < 0 ||
        prepare(db,
                "SELECT account, serial, cert_type, predecessor, last_seen FROM jpki_serial "
                "WHERE account >= %s AND account <= %s ORDER BY account",
                "rc_serials", &db->serials, err) < 0 ||
        prepare(db,
                "INSERT INTO jpki_recheck (account, category, status, reason, checked_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (account) DO UPDATE SET "
                "category = excluded.category, status = excluded.status, "
                "reason = excluded.reason, checked_at = excluded.checked_at",
                "rc_write", &db->write, err) < 0) {
        apr_dbd_close(db->drv, db->h);
        return NULL;
    }
    return db;
}

void rc_db_close(rc_db_t *db)
{
    if (db != NULL && db->h != NULL) {
        apr_dbd_close(db->drv, db->h);
        db->h = NULL;
    }
}

static const char *entry(rc_db_t *db, apr_pool_t *p, apr_dbd_row_t *row, int col)
{
    const char *v = apr_dbd_get_entry(db->drv, row, col);
    return v ? apr_pstrdup(p, v) : NULL;
}

/* The accounts after `after`, at most max (reads the rest of the result:
 * sequential drivers need it). */
static int read_accounts(rc_db_t *db, apr_pool_t *p, const char *after, int max,
                         apr_array_header_t *out, const char **err)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv = apr_dbd_pvselect(db->drv, p, db->h, &res, db->accounts, 0, after);
    if (rv != 0) {
        *err = apr_psprintf(p, "account query failed: %s", dberr(db, rv));
        return -1;
    }
    while (apr_dbd_get_row(db->drv, p, res, &row, -1) == 0) {
        if (out->nelts < max) {
            rc_account_t *a = &APR_ARRAY_PUSH(out, rc_account_t);
            memset(a, 0, sizeof(*a));
            a->account = entry(db, p, row, 0);
            a->pf_user_id = entry(db, p, row, 1);
            if (a->pf_user_id != NULL && *a->pf_user_id == '\0') {
                a->pf_user_id = NULL;
            }
            a->serials = apr_array_make(p, 4, sizeof(const char *));
        }
    }
    return out->nelts;
}

typedef struct ser_t {
    const char *serial, *type, *pred, *seen;
} ser_t;

/* Current serial of type: not a predecessor of another of the account's
 * serials; the newest last_seen (then the highest serial) among those. */
static const char *current(apr_array_header_t *ss, const char *type)
{
    const ser_t *best = NULL;
    int i, j;
    for (i = 0; i < ss->nelts; i++) {
        const ser_t *s = &APR_ARRAY_IDX(ss, i, ser_t);
        int older = 0;
        if (s->type == NULL || strcmp(s->type, type) != 0) {
            continue;
        }
        for (j = 0; j < ss->nelts && !older; j++) {
            const ser_t *n = &APR_ARRAY_IDX(ss, j, ser_t);
            older = n->pred != NULL && strcmp(n->pred, s->serial) == 0;
        }
        if (!older && (best == NULL || strcmp(s->seen, best->seen) > 0 ||
                       (strcmp(s->seen, best->seen) == 0 && strcmp(s->serial, best->serial) > 0))) {
            best = s;
        }
    }
    return best ? best->serial : NULL;
}

static rc_account_t *find(apr_array_header_t *acc, const char *account, int *hint)
{
    while (*hint < acc->nelts) {
        rc_account_t *a = &APR_ARRAY_IDX(acc, *hint, rc_account_t);
        if (strcmp(a->account, account) == 0) {
            return a;
        }
        (*hint)++;
    }
    *hint = 0; /* rows need not come in order: search from the start once */
    for (; *hint < acc->nelts; (*hint)++) {
        rc_account_t *a = &APR_ARRAY_IDX(acc, *hint, rc_account_t);
        if (strcmp(a->account, account) == 0) {
            return a;
        }
    }
    *hint = 0;
    return NULL;
}

static int read_serials(rc_db_t *db, apr_pool_t *p, apr_array_header_t *acc, const char **err)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_array_header_t **per = apr_pcalloc(p, sizeof(*per) * (apr_size_t)acc->nelts);
    const char *lo = APR_ARRAY_IDX(acc, 0, rc_account_t).account;
    const char *hi = APR_ARRAY_IDX(acc, acc->nelts - 1, rc_account_t).account;
    int i, hint = 0;
    int rv = apr_dbd_pvselect(db->drv, p, db->h, &res, db->serials, 0, lo, hi);
    if (rv != 0) {
        *err = apr_psprintf(p, "serial query failed: %s", dberr(db, rv));
        return -1;
    }
    while (apr_dbd_get_row(db->drv, p, res, &row, -1) == 0) {
        rc_account_t *a = find(acc, apr_dbd_get_entry(db->drv, row, 0), &hint);
        ser_t *s;
        if (a == NULL) {
            continue; /* between lo and hi under the collation, but not in this page */
        }
        i = (int)(a - (rc_account_t *)acc->elts);
        if (per[i] == NULL) {
            per[i] = apr_array_make(p, 4, sizeof(ser_t));
        }
        s = &APR_ARRAY_PUSH(per[i], ser_t);
        s->serial = entry(db, p, row, 1);
        s->type = entry(db, p, row, 2);
        s->pred = entry(db, p, row, 3);
        s->seen = entry(db, p, row, 4);
        s->seen = s->seen ? s->seen : "";
        APR_ARRAY_PUSH(a->serials, const char *) = s->serial;
    }
    for (i = 0; i < acc->nelts; i++) {
        rc_account_t *a = &APR_ARRAY_IDX(acc, i, rc_account_t);
        if (per[i] != NULL) {
            a->auth = current(per[i], "auth");
            a->sign = current(per[i], "sign");
        }
    }
    return 0;
}

int rc_db_page(rc_db_t *db, apr_pool_t *p, const char *after, int max, apr_array_header_t **out,
               const char **err)
{
    *out = apr_array_make(p, max, sizeof(rc_account_t));
    if (read_accounts(db, p, after, max, *out, err) < 0) {
        return -1;
    }
    if ((*out)->nelts > 0 && read_serials(db, p, *out, err) < 0) {
        return -1;
    }
    return (*out)->nelts;
}

int rc_db_write_result(rc_db_t *db, apr_pool_t *p, const char *account, const char *category,
                       const char *status, const char *reason, const char *at, const char **err)
{
    int nrows = 0;
    int rv = apr_dbd_pvquery(db->drv, p, db->h, &nrows, db->write, account, category, status,
                             reason, at);
    if (rv != 0) {
        *err = apr_psprintf(p, "cannot write the result: %s", dberr(db, rv));
        return -1;
    }
    return 0;
}
