/*
 * Accounts: normalised serial -> account through the socache (JPKICache,
 * namespace ACCOUNT) and SQL through mod_dbd (prepared statements only,
 * replaceable with JPKIAccountSQL like mod_authn_dbd's queries). Unknown
 * serials of a renewed card are linked to the account of their
 * predecessor (PF user id or predecessor serial); otherwise deny, or a
 * registration session. docs/accounts.md describes all of it.
 *
 * This file: the directives, start checks and the cache (serial ->
 * account, resolution); jpki_account_store.c: SQL through mod_dbd;
 * jpki_account_login.c: the login and session steps and the hooks.
 */
#include "steps/account/jpki_account.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_cache.h"

#include "apr_dbd.h"
#include "mod_dbd.h"
#include "mod_auth.h"

#include "steps/account/jpki_account_int.h"

/* ------------------------------------------------------------- config -- */

/* -------------------------------------------------------------- cache -- */

/* Entries are scoped to the virtual host (ServerName:port): two hosts of
 * one server may use different stores, while the same host on several
 * nodes sharing memcache/redis shares its entries. ServerName's port comes
 * first (as for the session scope): nodes behind a balancer listen on
 * their own ports, and a removal on one must drop the entry all of them
 * read (tests/cluster/cluster.t). */
const char *jpki_account_cache_key(request_rec *r, const char *kind, const char *id)
{
    server_rec *s = r->server;
    unsigned port = (unsigned)(s->port ? s->port : (s->addrs ? s->addrs->host_port : 0));
    return apr_psprintf(r->pool, "%s|%s:%u|%s", kind, s->server_hostname ? s->server_hostname : "-",
                        port, id);
}

static const char *cache_key(request_rec *r, const char *serial)
{
    return jpki_account_cache_key(r, "s", serial);
}

void jpki_account_cache_forget(request_rec *r, const char *serial)
{
    apr_status_t rv = jpki_cache_remove(r->server, JPKI_NS_ACCOUNT, cache_key(r, serial), r->pool);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      JPKI_LOGNO(0720) "account cache: cannot drop serial=%s (JPKICache); it "
                                       "expires after JPKIAccountCacheTTL",
                      serial);
    }
}

void jpki_account_cache_put(request_rec *r, const char *serial, const char *account)
{
    jpki_account_srv_t *c = jpki_account_cfg(r->server);
    apr_status_t rv;
    if (jpki_cfg_account_cache_ttl(c) == 0) {
        return;
    }
    rv = jpki_cache_store(
        r->server, JPKI_NS_ACCOUNT, cache_key(r, serial), account, strlen(account),
        apr_time_now() + apr_time_from_sec(jpki_cfg_account_cache_ttl(c)), r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      JPKI_LOGNO(0721) "account cache: cannot store serial=%s (JPKICache)", serial);
    }
}

apr_status_t jpki_account_sql_lookup(request_rec *r, jpki_sql_t **db, jpki_sql_e q, const char *arg,
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
    if (jpki_cfg_account_cache_ttl(c) > 0) {
        rv = jpki_cache_get(r->server, JPKI_NS_ACCOUNT, cache_key(r, serial), r->pool, &val, NULL);
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
    if (jpki_account_sql_lookup(r, db, JPKI_SQL_LOOKUP, serial, account) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (*account) {
        jpki_account_cache_put(r, serial, *account);
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ recheck -- */

/* What may be exported: a category name, an ISO 8601 time. Anything else
 * in the table (edited by hand?) is not passed on to backends. */
static int recheck_ok(const char *cat, const char *at)
{
    const char *s;
    if (cat == NULL || at == NULL || *cat == '\0' || strlen(cat) > 40 || strlen(at) > 40) {
        return 0;
    }
    for (s = cat; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || *s == '_')) {
            return 0;
        }
    }
    return at[strspn(at, "0123456789-:.TZ")] == '\0';
}

/* Cached per account for JPKIAccountCacheTTL like serial -> account
 * ("category at", or "-" for none): a returning login runs no SQL. */
void jpki_account_recheck(request_rec *r, jpki_sql_t **db, jpki_identity_t *id)
{
    jpki_account_srv_t *c = jpki_account_cfg(r->server);
    const char *key = jpki_account_cache_key(r, "rc", id->account);
    const char *cat = NULL, *at = NULL;
    char *val = NULL, *sp;
    apr_time_t ttl = apr_time_from_sec(jpki_cfg_account_cache_ttl(c));

    if (ttl > 0 &&
        jpki_cache_get(r->server, JPKI_NS_ACCOUNT, key, r->pool, &val, NULL) == APR_SUCCESS &&
        val != NULL) {
        if ((sp = strchr(val, ' ')) != NULL) {
            *sp = '\0';
            cat = val;
            at = sp + 1;
        }
    } else if ((*db != NULL || (*db = jpki_sql_open(r)) != NULL) &&
               jpki_sql_recheck(r, *db, id->account, &cat, &at) == APR_SUCCESS && ttl > 0) {
        const char *v = recheck_ok(cat, at) ? apr_pstrcat(r->pool, cat, " ", at, NULL) : "-";
        jpki_cache_store(r->server, JPKI_NS_ACCOUNT, key, v, strlen(v), apr_time_now() + ttl,
                         r->pool);
    }
    if (recheck_ok(cat, at)) {
        id->recheck_category = cat;
        id->recheck_at = at;
    }
}
