/*
 * The account steps of a login and of a session (see jpki_account.c for
 * the cache and resolution, jpki_account_store.c for SQL): the serial's
 * account, a renewed card linked to its predecessor's account, the
 * unknown-certificate policy, registration sessions; and the hooks.
 */
#include "steps/account/jpki_account.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_cache.h"

#include "apr_dbd.h"
#include "mod_dbd.h"
#include "mod_auth.h"

#include "steps/account/jpki_account_int.h"

/* -------------------------------------------------------------- login -- */

static int fail(jpki_step_err_t *err, jpki_step_kind_e kind, const char *code, const char *detail)
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
                          jpki_step_err_t *err)
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
        if (!constraint ||
            jpki_account_sql_lookup(r, &db, JPKI_SQL_LOOKUP, c->serial, &winner) != APR_SUCCESS ||
            winner == NULL) {
            return fail(err, JPKI_STEP_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                        "the account store could not link the renewed certificate");
        }
        acct = winner;
    }
    jpki_account_cache_put(r, c->serial, acct);
    id->account = acct;
    id->previous_serial = pred;
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  JPKI_LOGNO(0730) "renewed certificate linked: serial=%s previous=%s "
                                   "account=%s via=%s%s",
                  c->serial, pred ? pred : "-", acct, via, winner ? " (concurrent login)" : "");
    jpki_audit_decision(r, "relink", "ok", id->method, c->serial, acct);
    return 1;
}

int jpki_account_login(request_rec *r, const jpki_cert_t *c, const jpki_renewal_t *st,
                       jpki_identity_t *id, jpki_step_err_t *err)
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
        return fail(err, JPKI_STEP_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                    "the account store is unavailable");
    }
    if (acct != NULL) {
        if (db != NULL) {
            touch(r, db, c->serial); /* only on a cache miss: last_seen to TTL precision */
        }
        id->account = acct;
        jpki_account_recheck(r, &db, id);
        return 1;
    }
    /* 2. Successor resolution: a renewed card has a new serial. */
    if (st->link_pending) {
        return fail(err, JPKI_STEP_UNAVAILABLE, JPKI_E_LINK_PENDING,
                    "the platform has no renewal link data for this certificate yet");
    }
    pred = st->predecessor_serial;
    if (st->platform_user_id != NULL) {
        if (jpki_account_sql_lookup(r, &db, JPKI_SQL_BY_USER, st->platform_user_id, &acct) !=
            APR_SUCCESS) {
            return fail(err, JPKI_STEP_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                        "the account store is unavailable");
        }
        via = "platform_user_id";
    }
    if (acct == NULL && pred != NULL) {
        if (jpki_account_resolve(r, &db, pred, &acct) != APR_SUCCESS) {
            return fail(err, JPKI_STEP_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                        "the account store is unavailable");
        }
        via = "predecessor_serial";
    }
    if (acct != NULL) {
        if (pred == NULL &&
            jpki_account_sql_lookup(r, &db, JPKI_SQL_LATEST, acct, &pred) != APR_SUCCESS) {
            return fail(err, JPKI_STEP_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                        "the account store is unavailable");
        }
        if (!link_successor(r, db, c, acct, pred, via, id, err)) {
            return 0;
        }
        jpki_account_recheck(r, &db, id);
        return 1;
    }
    /* 3. Nobody we know. */
    if (cfg->unknown == JPKI_UNKNOWN_REGISTER) {
        id->account = NULL;
        id->registration = 1;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0731) "no account for serial=%s: registration session", c->serial);
        return 1;
    }
    return fail(err, JPKI_STEP_REFUSED, JPKI_E_NO_ACCOUNT,
                "no account is linked to this certificate (JPKIUnknownCertificate deny)");
}

/* ------------------------------------------------------------ session -- */

int jpki_account_session(request_rec *r, jpki_identity_t *id, int *changed, const char **code)
{
    jpki_account_srv_t *cfg = jpki_account_cfg(r->server);
    jpki_sql_t *db = NULL;
    const char *acct = NULL;

    if (cfg->store != JPKI_ACCOUNT_STORE_DBD) {
        return OK;
    }
    if (jpki_account_resolve(r, &db, id->serial, &acct) != APR_SUCCESS) {
        *code = JPKI_E_ACCOUNT_UNAVAILABLE;
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (id->registration) {
        if (acct != NULL) {
            /* The site linked the account meanwhile: the session becomes a
             * normal one without a second login. */
            id->account = acct;
            id->registration = 0;
            *changed = 1; /* the pipeline saves the session */
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          JPKI_LOGNO(0732) "registration session of serial=%s now has "
                                           "account=%s",
                          id->serial, acct);
            jpki_audit_decision(r, "registration", "linked", id->method, id->serial, acct);
        }
        return OK;
    }
    if (acct == NULL || id->account == NULL || strcmp(acct, id->account) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      JPKI_LOGNO(0733) "session refused: serial=%s is no longer linked to "
                                       "account=%s",
                      id->serial, id->account ? id->account : "-");
        *code = JPKI_E_ACCOUNT_REMOVED;
        return HTTP_FORBIDDEN;
    }
    return OK;
}
