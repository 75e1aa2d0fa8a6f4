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

jpki_account_dir_t *jpki_account_dir_cfg(request_rec *r)
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
    (void)dc;
    if (!jpki_util_parse_int(arg, 0, 86400, 0, &jpki_account_cfg(cmd->server)->cache_ttl)) {
        return apr_psprintf(cmd->pool, "JPKIAccountCacheTTL: '%s' is not a whole number of "
                                       "seconds from 0 to 86400", arg);
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

void jpki_account_cache_put(request_rec *r, const char *serial, const char *account)
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

apr_status_t jpki_account_sql_lookup(request_rec *r, jpki_sql_t **db, jpki_sql_e q,
                                     const char *arg, const char **out)
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
    if (jpki_account_sql_lookup(r, db, JPKI_SQL_LOOKUP, serial, account) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (*account) {
        jpki_account_cache_put(r, serial, *account);
    }
    return APR_SUCCESS;
}
