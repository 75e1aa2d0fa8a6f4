/*
 * Certificate status at request time (directives and start checks:
 * jpki_status_config.c): the result cache shared by every
 * process (JPKICache, STATUS namespace), coalescing of concurrent checks
 * of one certificate, a circuit breaker shared through the same cache,
 * and the fail modes. The providers (jpki_status_platform.c,
 * jpki_status_ocsp.c, jpki_status_crl.c) only talk to their source; the
 * crl provider's answers bypass the cache, coalescing and breaker
 * (crl_lookup).
 *
 * Cache keys (hashed by jpki_cache.c):
 *   s:<source>:<serial>  the last answer {s,r,t,v,u,c,y,l} (JSON)
 *   f:<source>:<serial>  "a call is in flight" marker (coalescing)
 *   b:<source>           breaker state "<failures> <open-until ms>"
 * <source> names the provider, URL and pin, so two virtual hosts asking
 * the same source share answers (one fee per certificate per TTL) and
 * hosts asking different sources never see each other's answers.
 */
#include "cfg/jpki_cfg_status.h"
#include "steps/status/jpki_status_int.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_cache.h"
#include "infra/jpki_http.h"
#include "infra/jpki_metrics.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/err.h>

#define POLL_INTERVAL apr_time_from_msec(20)

/* -------------------------------------------------------------- call -- */

static const char *provider_name(const jpki_srv_cfg_t *cfg)
{
    return cfg->status_provider == JPKI_STATUS_PROVIDER_OCSP  ? "ocsp"
           : cfg->status_provider == JPKI_STATUS_PROVIDER_CRL ? "crl"
                                                              : "platform";
}

static int checks_status(const jpki_srv_cfg_t *cfg)
{
    return cfg->status_provider == JPKI_STATUS_PROVIDER_PLATFORM ||
           cfg->status_provider == JPKI_STATUS_PROVIDER_OCSP ||
           cfg->status_provider == JPKI_STATUS_PROVIDER_CRL;
}

/* One call to the source, with its audit record, metrics and breaker. */
static int call_source(request_rec *r, const jpki_srv_cfg_t *cfg, const jpki_status_cfg_t *sc,
                       const jpki_status_query_t *q, jpki_status_result_t *res)
{
    const char *why = NULL, *outcome;
    apr_time_t t0 = apr_time_now();
    long ms;
    int ok;
    jpki_status_call_fn fn =
        cfg->status_provider == JPKI_STATUS_PROVIDER_OCSP  ? jpki_status_ocsp_call
        : cfg->status_provider == JPKI_STATUS_PROVIDER_CRL ? jpki_status_crl_call
                                                           : jpki_status_platform_call;
    ok = fn(r, sc, q, res, &why);
    ms = (long)apr_time_as_msec(apr_time_now() - t0);
    res->checked_at = apr_time_now();
    if (ok) {
        outcome = res->status == JPKI_STATUS_GOOD      ? "good"
                  : res->status == JPKI_STATUS_REVOKED ? "revoked"
                                                       : "unknown";
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      JPKI_LOGNO(0508) "status %s %s serial=%s: %s%s%s (%ld ms)",
                      provider_name(cfg), q->purpose, q->serial, outcome,
                      res->reason ? " reason=" : "", res->reason ? res->reason : "", ms);
    } else {
        outcome = apr_pstrcat(r->pool, "error:", res->error ? res->error : "unknown", NULL);
        if (res->config_error) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          JPKI_LOGNO(0509) "configuration error: the platform operator "
                                           "refused our bearer token (HTTP 401); check "
                                           "JPKIPlatformTokenFile %s",
                          sc->pf_token_file);
        } else {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          JPKI_LOGNO(0510) "status %s %s serial=%s failed: %s", provider_name(cfg),
                          q->purpose, q->serial, why ? why : "no answer");
        }
    }
    jpki_audit_status_call(r, q->purpose, provider_name(cfg), q->serial, ms, outcome, q->cert_type);
    jpki_metrics_status_call(r->server, q->purpose, q->cert_type, ms, ok);
    if (cfg->status_provider != JPKI_STATUS_PROVIDER_CRL) { /* a local file: no breaker */
        jpki_status_breaker_record(r, sc, provider_name(cfg), ok);
    }
    return ok;
}

/* --------------------------------------------------- coalesced answers -- */

/* What the leader of a coalesced call leaves for its waiters when its
 * answer is not a cache entry: a definite refusal about the certificate
 * (e.g. cert_status_unknown) is handed on, so no waiter mistakes it for
 * "no answer" and passes by grace; an answer bound to the leader's own
 * request (signature_invalid, or a GOOD/REVOKED already past its
 * nextUpdate) tells the waiters to ask the source themselves; no answer
 * at all says so (the waiters may pass by grace). Kept only as long as the
 * call could have lasted, plus 2 s. A waiter that finds neither an entry
 * nor an outcome once the call is over (the cache lost them) fails closed. */
#define OUTCOME_CALL_SELF "-"
#define OUTCOME_NO_ANSWER "?"

static void outcome_put(request_rec *r, const jpki_status_cfg_t *sc, const jpki_status_query_t *q,
                        const jpki_status_result_t *res, int answered, apr_time_t deadline)
{
    const char *v = OUTCOME_CALL_SELF;
    apr_status_t rv;
    if (!answered) {
        v = OUTCOME_NO_ANSWER;
    } else if (res->refusal != NULL && strcmp(res->refusal, "signature_invalid") != 0) {
        v = res->refusal;
    } else if (res->refusal == NULL &&
               (res->status == JPKI_STATUS_GOOD || res->status == JPKI_STATUS_REVOKED) &&
               (res->valid_until == 0 || res->valid_until > res->checked_at)) {
        return; /* kept as a cache entry: the waiters read that */
    }
    rv =
        jpki_cache_store(r->server, JPKI_NS_STATUS, jpki_status_key_of(r->pool, "o", sc, q->serial),
                         v, strlen(v), deadline + apr_time_from_sec(2), r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      JPKI_LOGNO(0580) "status cache store failed (JPKICache): requests "
                                       "waiting on this status call answer status_unavailable");
    }
}

/* 1 with *v set when the leader left an outcome, else 0. */
static int outcome_get(request_rec *r, const jpki_status_cfg_t *sc, const jpki_status_query_t *q,
                       char **v)
{
    return jpki_cache_get(r->server, JPKI_NS_STATUS,
                          jpki_status_key_of(r->pool, "o", sc, q->serial), r->pool, v,
                          NULL) == APR_SUCCESS;
}

enum { AWAIT_NO_ANSWER, AWAIT_ANSWERED, AWAIT_CALL_SELF, AWAIT_LOST };

/* Wait for the leader's answer: a fresh cache entry, or its outcome. */
static int await_leader(request_rec *r, const jpki_status_cfg_t *sc, const jpki_status_query_t *q,
                        const char *skey, apr_time_t deadline, jpki_status_result_t *res)
{
    const char *fkey = jpki_status_key_of(r->pool, "f", sc, q->serial);
    jpki_status_entry_t e;
    char *m;
    int gone = 0;
    while (!gone && apr_time_now() < deadline) {
        apr_sleep(POLL_INTERVAL);
        /* read the marker first: once it is gone, the answer is in place */
        gone = jpki_cache_get(r->server, JPKI_NS_STATUS, fkey, r->pool, &m, NULL) == APR_NOTFOUND;
        if (jpki_status_entry_get(r, skey, &e) == 1 &&
            jpki_status_entry_fresh(sc, &e, apr_time_now())) {
            jpki_status_entry_to_result(&e, res);
            return AWAIT_ANSWERED;
        }
        if (outcome_get(r, sc, q, &m)) {
            if (strcmp(m, OUTCOME_CALL_SELF) == 0) {
                return AWAIT_CALL_SELF;
            }
            if (strcmp(m, OUTCOME_NO_ANSWER) == 0) {
                return AWAIT_NO_ANSWER;
            }
            res->status = JPKI_STATUS_UNKNOWN;
            res->refusal = m;
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          JPKI_LOGNO(0581) "status %s serial=%s: the coalesced call was "
                                           "answered %s",
                          q->purpose, q->serial, m);
            return AWAIT_ANSWERED;
        }
    }
    /* marker gone without a trace: the cache lost the answer; else the
     * call is still running at our deadline (the source is that slow) */
    return gone ? AWAIT_LOST : AWAIT_NO_ANSWER;
}

/* -------------------------------------------------------------- lookup -- */

/* The status of q's certificate: fresh cache entry, else one coalesced
 * call. On no answer: res->status UNKNOWN with res->error, and *stale the
 * last GOOD entry if there is one (for the grace mode). */
static void lookup(request_rec *r, const jpki_srv_cfg_t *cfg, const jpki_status_cfg_t *sc,
                   const jpki_status_query_t *q, jpki_status_result_t *res,
                   jpki_status_entry_t *stale)
{
    const char *skey = jpki_status_key_of(r->pool, "s", sc, q->serial);
    const char *fkey = jpki_status_key_of(r->pool, "f", sc, q->serial);
    apr_time_t now = apr_time_now(), deadline;
    long cms, tms;
    apr_size_t max;
    jpki_status_entry_t e;
    int hit, leader = 0, ok;
    apr_status_t rv;

    memset(stale, 0, sizeof(*stale));
    hit = jpki_status_entry_get(r, skey, &e);
    if (hit == 1) {
        if (jpki_status_entry_fresh(sc, &e, now)) {
            jpki_status_entry_to_result(&e, res);
            return;
        }
        if (e.good) {
            *stale = e;
        }
    }
    if (jpki_status_breaker_open(r, sc, now)) {
        res->status = JPKI_STATUS_UNKNOWN;
        res->error = "jpki_status_breaker_open";
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0511) "status %s serial=%s: circuit breaker open, source "
                                       "not called",
                      q->purpose, q->serial);
        return;
    }
    jpki_status_http_defaults(sc, &cms, &tms, &max);
    /* Coalescing: the first request places the in-flight marker and calls;
     * the others wait for its answer in the cache. The marker outlives a
     * crashed caller by at most the call's own time limit. */
    deadline = now + apr_time_from_msec(tms) + apr_time_from_sec(2);
    rv = jpki_cache_add(r->server, JPKI_NS_STATUS, fkey, "1", 1, deadline, r->pool);
    if (rv == APR_EEXIST) {
        switch (await_leader(r, sc, q, skey, deadline, res)) {
        case AWAIT_ANSWERED:
            return;
        case AWAIT_CALL_SELF:
            break; /* an answer bound to the leader's request: ask ourselves */
        case AWAIT_LOST:
            memset(stale, 0, sizeof(*stale)); /* the answer may have been definite */
            res->status = JPKI_STATUS_UNKNOWN;
            res->error = "coalesced_call_lost";
            return;
        default:
            res->status = JPKI_STATUS_UNKNOWN;
            res->error = "coalesced_call_failed";
            return;
        }
    }
    leader = (rv == APR_SUCCESS); /* on a cache failure, call without coalescing */
    if (leader) {                 /* an earlier call's outcome is not this call's */
        jpki_cache_remove(r->server, JPKI_NS_STATUS,
                          jpki_status_key_of(r->pool, "o", sc, q->serial), r->pool);
    }
    ok = call_source(r, cfg, sc, q, res);
    if (leader) {
        outcome_put(r, sc, q, res, ok, deadline);
    }
    if (ok && (res->status == JPKI_STATUS_GOOD || res->status == JPKI_STATUS_REVOKED) &&
        res->refusal == NULL) {
        if (res->valid_until && res->valid_until <= res->checked_at) {
            res->valid_until = 0; /* already past: use, do not keep */
        } else {
            jpki_status_entry_put(r, sc, skey, res);
        }
    }
    if (!ok) {
        res->status = JPKI_STATUS_UNKNOWN;
    }
    if (leader) {
        jpki_cache_remove(r->server, JPKI_NS_STATUS, fkey, r->pool);
    }
}

/* The CRL provider's lookup: the mapped index answers every time, with no
 * status cache (cheaper than a cache round-trip, and a new index counts
 * from the next request on: no cached GOOD outlives a swap). Each check
 * is audited and counted (fees) by call_source like the other providers'
 * calls. An index past its nextUpdate that does not list the serial gives
 * *stale a GOOD as of its nextUpdate, for JPKIStatusFailMode grace. */
static void crl_lookup(request_rec *r, const jpki_srv_cfg_t *cfg, const jpki_status_cfg_t *sc,
                       const jpki_status_query_t *q, jpki_status_result_t *res,
                       jpki_status_entry_t *stale)
{
    memset(stale, 0, sizeof(*stale));
    if (call_source(r, cfg, sc, q, res)) {
        return;
    }
    if (res->status == JPKI_STATUS_GOOD && res->valid_until > 0) {
        stale->good = 1;
        stale->t = res->valid_until;
    }
    res->status = JPKI_STATUS_UNKNOWN;
    res->valid_until = 0;
}

static void lookup_any(request_rec *r, const jpki_srv_cfg_t *cfg, const jpki_status_cfg_t *sc,
                       const jpki_status_query_t *q, jpki_status_result_t *res,
                       jpki_status_entry_t *stale)
{
    if (cfg->status_provider == JPKI_STATUS_PROVIDER_CRL) {
        crl_lookup(r, cfg, sc, q, res, stale);
    } else {
        lookup(r, cfg, sc, q, res, stale);
    }
}

/* ---------------------------------------------------------- decisions -- */

static int grace_ok(const jpki_status_cfg_t *sc, const jpki_status_entry_t *stale, apr_time_t now)
{
    int grace = jpki_cfg_status_grace(sc);
    return grace > 0 && stale->t > 0 && stale->good && now - stale->t <= apr_time_from_sec(grace);
}

static void grace_pass(request_rec *r, const jpki_status_query_t *q,
                       const jpki_status_entry_t *stale, const char *error)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  JPKI_LOGNO(0512) "grace pass: %s serial=%s allowed while the status source "
                                   "is unavailable (%s); last GOOD %s (JPKIStatusFailMode grace)",
                  q->purpose, q->serial, error ? error : "no answer",
                  jpki_util_time_iso(r->pool, stale->t));
    jpki_metrics_grace(r->server);
}

static void set_query_serial(apr_pool_t *p, jpki_status_query_t *q, const char *serial)
{
    const char *colon = serial ? ap_strchr_c(serial, ':') : NULL;
    q->serial = serial;
    if (colon) {
        q->issuer_key_id = apr_pstrmemdup(p, serial, (apr_size_t)(colon - serial));
        q->serial_hex = colon + 1;
    } else {
        q->serial_hex = serial;
    }
}

int jpki_status_login(request_rec *r, const jpki_cert_t *c, const jpki_step_in_t *in,
                      jpki_identity_t *id, jpki_status_result_t *res, jpki_step_err_t *err)
{
    jpki_srv_cfg_t *cfg = jpki_srv_cfg(r->server);
    const jpki_status_cfg_t *sc = cfg->status_cfg;
    jpki_status_query_t q;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    jpki_status_entry_t stale;

    memset(res, 0, sizeof(*res));
    if (!checks_status(cfg)) {
        res->status = JPKI_STATUS_UNKNOWN;
        id->status = "unchecked";
        return 1;
    }
    memset(&q, 0, sizeof(q));
    q.purpose = "signature_verification";
    set_query_serial(r->pool, &q, c->serial);
    q.issuer_key_id = c->issuer_key_id;
    q.serial_hex = c->serial_hex;
    q.cert_type = jpki_cert_type_name(c->type);
    q.der = c->der;
    q.der_len = c->der_len;
    if (in->sig != NULL) {
        SHA256(in->signed_data, in->signed_len, digest);
        q.digest = digest;
        q.sig = in->sig;
        q.sig_len = in->sig_len;
    }
    lookup_any(r, cfg, sc, &q, res, &stale);

    if (res->refusal != NULL) {
        err->kind =
            strcmp(res->refusal, "signature_invalid") == 0 ? JPKI_STEP_PROOF : JPKI_STEP_REFUSED;
        err->code = res->refusal;
        err->detail = apr_psprintf(r->pool, "the %s status source answered %s", provider_name(cfg),
                                   res->refusal);
        id->status = "unknown";
        return 0;
    }
    if (res->status == JPKI_STATUS_GOOD) {
        id->status = "good";
        id->status_checked_at = res->checked_at;
        id->platform_user_id = res->platform_user_id;
        id->pf_cert_id = res->pf_cert_id;
        return 1;
    }
    if (res->status == JPKI_STATUS_REVOKED) {
        id->status = "revoked";
        id->status_checked_at = res->checked_at;
        id->revocation_reason = res->reason;
        apr_table_setn(r->subprocess_env, "JPKI_REVOCATION_REASON", res->reason);
        err->kind = JPKI_STEP_REFUSED;
        err->code = jpki_reason_error_code(res->reason);
        err->detail = apr_psprintf(r->pool, "certificate revoked, reason=%s%s", res->reason,
                                   res->from_cache ? " (cached)" : "");
        return 0;
    }
    if (grace_ok(sc, &stale, apr_time_now())) {
        grace_pass(r, &q, &stale, res->error);
        res->grace = 1;
        res->status = JPKI_STATUS_GOOD;
        res->checked_at = stale.t;
        res->platform_user_id = stale.user;
        res->pf_cert_id = stale.cert_id;
        res->link_pending = stale.link_pending;
        id->status = "good";
        id->status_checked_at = stale.t;
        id->platform_user_id = stale.user;
        id->pf_cert_id = stale.cert_id;
        return 1;
    }
    id->status = "unknown";
    err->kind = JPKI_STEP_UNAVAILABLE;
    err->code = JPKI_E_STATUS_UNAVAILABLE;
    err->detail = apr_psprintf(r->pool,
                               "no status from the %s source (%s); "
                               "JPKIStatusFailMode closed",
                               provider_name(cfg), res->error ? res->error : "no answer");
    return 0;
}

int jpki_status_session(request_rec *r, jpki_identity_t *id, const char *log_id, int *changed,
                        const char **code)
{
    jpki_srv_cfg_t *cfg = jpki_srv_cfg(r->server);
    const jpki_status_cfg_t *sc = cfg->status_cfg;
    jpki_status_query_t q;
    jpki_status_result_t res;
    jpki_status_entry_t stale;
    apr_time_t now = apr_time_now();

    if (!checks_status(cfg)) {
        return OK;
    }
    if (id->status && strcmp(id->status, "good") == 0 && id->status_checked_at &&
        now < id->status_checked_at + apr_time_from_sec(jpki_cfg_status_ttl_good(sc))) {
        return OK;
    }
    memset(&q, 0, sizeof(q));
    memset(&res, 0, sizeof(res));
    q.purpose = "liveness_check";
    set_query_serial(r->pool, &q, id->serial);
    q.cert_type = id->cert_type;
    q.pf_cert_id = id->pf_cert_id;
    lookup_any(r, cfg, sc, &q, &res, &stale);

    if (res.refusal == NULL && res.status == JPKI_STATUS_GOOD) {
        id->status = "good";
        id->status_checked_at = res.checked_at;
        id->revocation_reason = NULL;
        if (res.platform_user_id) {
            id->platform_user_id = res.platform_user_id;
        }
        if (res.pf_cert_id) {
            id->pf_cert_id = res.pf_cert_id;
        }
        *changed = 1; /* the pipeline saves it (JPKI0513 if it cannot) */
        return OK;
    }
    if (res.refusal != NULL || res.status == JPKI_STATUS_REVOKED) {
        *code = res.refusal ? res.refusal : jpki_reason_error_code(res.reason);
        id->status = res.refusal ? "unknown" : "revoked";
        id->revocation_reason = res.reason;
        if (res.reason) {
            apr_table_setn(r->subprocess_env, "JPKI_REVOCATION_REASON", res.reason);
        }
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      JPKI_LOGNO(0514) "session %s ended: code=%s serial=%s%s%s", log_id, *code,
                      id->serial, res.reason ? " reason=" : "", res.reason ? res.reason : "");
        jpki_audit_decision(r, "session_expired", *code, id->method, id->serial, id->account);
        return HTTP_FORBIDDEN;
    }
    if (grace_ok(sc, &stale, now)) {
        grace_pass(r, &q, &stale, res.error);
        return OK;
    }
    *code = JPKI_E_STATUS_UNAVAILABLE;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  JPKI_LOGNO(0515) "session %s: status re-check failed (%s), refused with 503 "
                                   "(JPKIStatusFailMode closed)",
                  log_id, res.error ? res.error : "no answer");
    return HTTP_SERVICE_UNAVAILABLE;
}

void jpki_status_renewal(const jpki_status_result_t *res, jpki_renewal_t *out)
{
    out->platform_user_id = res->platform_user_id;
    out->predecessor_serial = res->predecessor_serial;
    out->link_pending = res->link_pending;
}
