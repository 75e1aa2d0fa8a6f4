/*
 * Certificate status, the shared cache side (see jpki_status.c for the
 * key layout): answer entries {r,t,v,u,c,l} in JPKICache (STATUS
 * namespace) and the circuit breaker "<failures> <open-until ms>" under
 * b:<source>. jpki_status.c does the coalesced lookup and the decisions.
 */
#include "steps/status/jpki_status_int.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_cache.h"
#include "infra/jpki_http.h"
#include "infra/jpki_metrics.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/err.h>

/* -------------------------------------------------------- cache entries -- */

const char *jpki_status_key_of(apr_pool_t *p, const char *kind, const jpki_status_cfg_t *sc,
                               const char *serial)
{
    return apr_pstrcat(p, kind, ":", sc->source_id, ":", serial, NULL);
}

/* 1 hit, 0 miss, -1 cache failure (logged). */
int jpki_status_entry_get(request_rec *r, const char *key, jpki_status_entry_t *e)
{
    char *val;
    json_t *o;
    apr_status_t rv = jpki_cache_get(r->server, JPKI_NS_STATUS, key, r->pool, &val, NULL);
    memset(e, 0, sizeof(*e));
    if (rv == APR_NOTFOUND) {
        return 0;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      JPKI_LOGNO(0504) "status cache lookup failed (JPKICache)");
        return -1;
    }
    o = json_loads(val, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return 0;
    }
    /* Compact on purpose (docs/cluster.md "Sizing"): times in seconds, a
     * revocation is the presence of its reason, and the certificate type is
     * not kept (the certificate in hand says it). */
    e->good = json_object_get(o, "r") == NULL;
    e->t = apr_time_from_sec(json_integer_value(json_object_get(o, "t")));
    e->v = apr_time_from_sec(json_integer_value(json_object_get(o, "v")));
#define ES(f, k)                                                                                   \
    e->f = json_is_string(json_object_get(o, k))                                                   \
               ? apr_pstrdup(r->pool, json_string_value(json_object_get(o, k)))                    \
               : NULL
    ES(reason, "r");
    ES(user, "u");
    ES(cert_id, "c");
#undef ES
    e->link_pending = json_is_true(json_object_get(o, "l"));
    json_decref(o);
    return e->t > 0 ? 1 : 0;
}

void jpki_status_entry_put(request_rec *r, const jpki_status_cfg_t *sc, const char *key,
                           const jpki_status_result_t *res)
{
    json_t *o = json_object();
    char *s;
    int good = res->status == JPKI_STATUS_GOOD;
    apr_time_t keep =
        apr_time_from_sec(good ? jpki_cfg_status_ttl_good(sc) : jpki_cfg_status_ttl_revoked(sc));
    apr_status_t rv;
    /* A GOOD answer is also the "last seen good" of the grace mode. */
    if (good && apr_time_from_sec(jpki_cfg_status_grace(sc)) > keep) {
        keep = apr_time_from_sec(jpki_cfg_status_grace(sc));
    }
    json_object_set_new(o, "t", json_integer((json_int_t)apr_time_sec(res->checked_at)));
    if (res->valid_until) {
        /* truncated: never valid longer than the source said */
        json_object_set_new(o, "v", json_integer((json_int_t)apr_time_sec(res->valid_until)));
    }
    if (!good) {
        json_object_set_new(o, "r", json_string(res->reason ? res->reason : "unspecified"));
    }
    if (res->platform_user_id) {
        json_object_set_new(o, "u", json_string(res->platform_user_id));
    }
    if (res->pf_cert_id) {
        json_object_set_new(o, "c", json_string(res->pf_cert_id));
    }
    if (res->link_pending) {
        json_object_set_new(o, "l", json_true());
    }
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL) {
        return;
    }
    rv = jpki_cache_store(r->server, JPKI_NS_STATUS, key, s, strlen(s), res->checked_at + keep,
                          r->pool);
    free(s);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      JPKI_LOGNO(0505) "status cache store failed (JPKICache): the next check "
                                       "of this certificate will call the source again");
    }
}

int jpki_status_entry_fresh(const jpki_status_cfg_t *sc, const jpki_status_entry_t *e,
                            apr_time_t now)
{
    int ttl = e->good ? jpki_cfg_status_ttl_good(sc) : jpki_cfg_status_ttl_revoked(sc);
    if (now >= e->t + apr_time_from_sec(ttl)) {
        return 0;
    }
    return e->v == 0 || now < e->v;
}

void jpki_status_entry_to_result(const jpki_status_entry_t *e, jpki_status_result_t *res)
{
    res->status = e->good ? JPKI_STATUS_GOOD : JPKI_STATUS_REVOKED;
    res->reason = e->good ? NULL : jpki_reason_name(e->reason);
    res->checked_at = e->t;
    res->valid_until = e->v;
    res->platform_user_id = e->user;
    res->pf_cert_id = e->cert_id;
    res->link_pending = e->link_pending;
    res->from_cache = 1;
}

/* ------------------------------------------------------------- breaker -- */

static int breaker_read(request_rec *r, const jpki_status_cfg_t *sc, int *failures,
                        apr_time_t *open_until)
{
    char *val;
    long long f = 0, o = 0;
    *failures = 0;
    *open_until = 0;
    if (jpki_cache_get(r->server, JPKI_NS_STATUS, jpki_status_key_of(r->pool, "b", sc, "-"),
                       r->pool, &val, NULL) != APR_SUCCESS) {
        return 0;
    }
    if (sscanf(val, "%lld %lld", &f, &o) != 2) {
        return 0;
    }
    *failures = (int)f;
    *open_until = apr_time_from_msec(o);
    return 1;
}

int jpki_status_breaker_open(request_rec *r, const jpki_status_cfg_t *sc, apr_time_t now)
{
    int f;
    apr_time_t o;
    if (jpki_cfg_status_breaker_failures(sc) == 0) {
        return 0;
    }
    breaker_read(r, sc, &f, &o);
    return now < o;
}

/* Shared read-modify-write without a lock across processes: two failures
 * at the same instant may count once. The breaker only needs to open
 * after roughly N failures, so that is good enough. */
void jpki_status_breaker_record(request_rec *r, const jpki_status_cfg_t *sc, const char *provider,
                                int ok)
{
    int n = jpki_cfg_status_breaker_failures(sc);
    int secs = jpki_cfg_status_breaker_secs(sc);
    const char *key = jpki_status_key_of(r->pool, "b", sc, "-");
    apr_time_t now = apr_time_now(), o;
    int f;
    if (n == 0) {
        return;
    }
    if (!breaker_read(r, sc, &f, &o)) {
        if (ok) {
            return;
        }
        f = 0;
        o = 0;
    }
    if (ok) {
        jpki_cache_remove(r->server, JPKI_NS_STATUS, key, r->pool);
        if (o != 0) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          JPKI_LOGNO(0506) "circuit breaker closed: the %s status source "
                                           "answers again",
                          provider);
            jpki_metrics_breaker(r->server, 0);
        }
        return;
    }
    f++;
    if (f >= n) {
        int was_open = now < o;
        o = now + apr_time_from_sec(secs);
        if (!was_open) {
            ap_log_rerror(
                APLOG_MARK, APLOG_ERR, 0, r,
                JPKI_LOGNO(0507) "circuit breaker open: %d consecutive failures of "
                                 "the %s status source; no calls for %d s (JPKIStatusBreaker)",
                f, provider, secs);
            jpki_metrics_breaker(r->server, 1);
        }
    }
    {
        const char *v =
            apr_psprintf(r->pool, "%d %" APR_INT64_T_FMT, f, (apr_int64_t)apr_time_as_msec(o));
        jpki_cache_store(r->server, JPKI_NS_STATUS, key, v, strlen(v),
                         now + apr_time_from_sec(secs + 600), r->pool);
    }
}
