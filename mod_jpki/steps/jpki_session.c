#include "steps/jpki_session.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_cache.h"
#include "infra/jpki_metrics.h"
#include "cfg/jpki_scope.h"

#include <apr_random.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define SESSION_ID_BYTES 32
/* Record layout: "jpki2 <policy hash> <scope id>\n<identity JSON>". */
#define RECORD_MAGIC "jpki2 "
/* The tombstone of an ended session: a key of its own in the session
 * namespace (ids are 43 base64url characters, so "end." never collides). */
#define TOMBSTONE_PREFIX "end."

/* Do not rewrite the record on every request: refresh last_seen at most
 * every 30 s, or a quarter of the idle timeout if that is shorter. */
static apr_time_t touch_interval(const jpki_srv_cfg_t *c)
{
    int q = jpki_cfg_session_idle(c) / 4;
    return apr_time_from_sec(q < 30 ? (q < 1 ? 1 : q) : 30);
}

const char *jpki_session_log_id(apr_pool_t *p, const char *id)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    if (!jpki_util_sha256(id, strlen(id), md)) {
        return "-";
    }
    return jpki_util_hex(p, md, 6);
}

static void set_cookie(request_rec *r, const jpki_srv_cfg_t *c, const char *value, int max_age)
{
    const char *v = apr_psprintf(r->pool, "%s=%s; Path=%s; Secure; HttpOnly; SameSite=Lax%s",
                                 jpki_cfg_cookie_name(c), value, jpki_cfg_cookie_path(c),
                                 max_age == 0 ? "; Max-Age=0" : "");
    apr_table_addn(r->err_headers_out, "Set-Cookie", v);
}

static const char *tombstone_key(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, TOMBSTONE_PREFIX, id, NULL);
}

/* APR_SUCCESS: the session was ended; APR_NOTFOUND: it was not; other:
 * the cache failed (callers fail closed). */
static apr_status_t tombstone_get(request_rec *r, const char *id)
{
    /* not a session lookup in the metrics: the status page counts records */
    return jpki_cache_probe(r->server, JPKI_NS_SESSION, tombstone_key(r->pool, id), r->pool);
}

/* End a session for good: first the tombstone, then the record. A writer
 * that stores the record concurrently checks the tombstone after its store
 * (jpki_session_save), so whichever order the two interleave in, the
 * record does not survive: either the writer sees the tombstone and removes
 * its copy, or its store came before the tombstone and so before our remove. */
static void session_end(request_rec *r, const char *id)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(r->server);
    const char *one = "1";
    /* Outlives any record a late writer could store (session_expiry). */
    apr_time_t until = apr_time_now() + apr_time_from_sec(jpki_cfg_session_max_age(c) + 300);
    apr_status_t rv = jpki_cache_store(r->server, JPKI_NS_SESSION, tombstone_key(r->pool, id), one,
                                       1, until, r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, rv, r,
            JPKI_LOGNO(0420) "session %s: cannot store its end marker (JPKICache); "
                             "the record is removed, a concurrent refresh could restore it",
            jpki_session_log_id(r->pool, id));
    }
    jpki_cache_remove(r->server, JPKI_NS_SESSION, id, r->pool);
}

/* Split "jpki2 <hash> <scope>\n<json>": NULL if it is not such a record. */
static const char *record_parse(apr_pool_t *p, const char *val, const char **policy,
                                const char **scope)
{
    const char *nl, *sp;
    if (strncmp(val, RECORD_MAGIC, sizeof(RECORD_MAGIC) - 1) != 0) {
        return NULL;
    }
    val += sizeof(RECORD_MAGIC) - 1;
    nl = strchr(val, '\n');
    sp = strchr(val, ' ');
    if (nl == NULL || sp == NULL || sp > nl || sp - val != 2 * SHA256_DIGEST_LENGTH) {
        return NULL;
    }
    *policy = apr_pstrmemdup(p, val, (apr_size_t)(sp - val));
    *scope = apr_pstrmemdup(p, sp + 1, (apr_size_t)(nl - sp - 1));
    return nl + 1;
}

/* Issued on this host under this host's policy? (not secret: no ct compare) */
static int in_scope(request_rec *r, const jpki_srv_cfg_t *c, const char *id, const char *policy,
                    const char *scope)
{
    if (strcmp(scope, jpki_scope_id(c)) == 0 && strcmp(policy, jpki_scope_policy(c)) == 0) {
        return 1;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  JPKI_LOGNO(0421) "session %s refused (" JPKI_E_SESSION_SCOPE "): issued for %s "
                                   "under policy %.16s, this host is %s with policy %.16s",
                  jpki_session_log_id(r->pool, id), scope, policy, jpki_scope_id(c),
                  jpki_scope_policy(c));
    return 0;
}

static apr_time_t session_expiry(const jpki_srv_cfg_t *c, const jpki_session_t *s)
{
    apr_time_t idle_end = s->last_seen + apr_time_from_sec(jpki_cfg_session_idle(c));
    apr_time_t abs_end = s->created + apr_time_from_sec(jpki_cfg_session_max_age(c));
    /* The record outlives the session by a little, so that a returning
     * browser finds it and the expiry is audited and counted, rather than
     * the cache silently dropping it; jpki_session_load decides validity. */
    return (idle_end < abs_end ? idle_end : abs_end) + apr_time_from_sec(300);
}

/* Store the record, stamped with this host's scope and policy. */
static apr_status_t record_store(request_rec *r, jpki_session_t *s)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(r->server);
    char *json = jpki_identity_to_json(r->pool, &s->ident, s->created, s->last_seen);
    const char *rec;
    apr_status_t rv;
    if (json == NULL) {
        return APR_EGENERAL;
    }
    rec = apr_pstrcat(r->pool, RECORD_MAGIC, jpki_scope_policy(c), " ", jpki_scope_id(c), "\n",
                      json, NULL);
    rv = jpki_cache_store(r->server, JPKI_NS_SESSION, s->id, rec, strlen(rec), session_expiry(c, s),
                          r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      JPKI_LOGNO(0404) "session %s: cannot store the record (JPKICache)",
                      jpki_session_log_id(r->pool, s->id));
    }
    return rv;
}

/* An ended session found on load or after a store: remove what a late
 * writer put back. */
static void ended_removed(request_rec *r, const char *id, const char *when)
{
    jpki_cache_remove(r->server, JPKI_NS_SESSION, id, r->pool);
    ap_log_rerror(
        APLOG_MARK, APLOG_NOTICE, 0, r,
        JPKI_LOGNO(0422) "session %s had ended (logout, revocation or account "
                         "removal); the record a concurrent request wrote back is removed (%s)",
        jpki_session_log_id(r->pool, id), when);
}

apr_status_t jpki_session_save(request_rec *r, jpki_session_t *s)
{
    apr_status_t rv = record_store(r, s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* After the store, never before: see session_end. */
    rv = tombstone_get(r, s->id);
    if (rv == APR_SUCCESS) {
        ended_removed(r, s->id, "after a save");
        return APR_NOTFOUND;
    }
    if (rv != APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      JPKI_LOGNO(0423) "session %s: cannot check whether it has ended (JPKICache)",
                      jpki_session_log_id(r->pool, s->id));
        return rv;
    }
    return APR_SUCCESS;
}

/* The last step of a load: refresh last_seen if due, and refuse an ended
 * session. ended: the tombstone probe made with the record's get (one
 * cache round, jpki_cache_get_probe); a refresh stores the record and
 * probes again after the store (jpki_session_save). */
static jpki_session_state_e load_finish(request_rec *r, jpki_srv_cfg_t *c, jpki_session_t *s,
                                        apr_status_t ended)
{
    apr_time_t now = apr_time_now();
    apr_status_t rv = ended;
    if (now - s->last_seen > touch_interval(c)) {
        s->last_seen = now;
        rv = jpki_session_save(r, s);
        if (rv == APR_SUCCESS) {
            return JPKI_SESSION_OK;
        }
        if (rv == APR_NOTFOUND) {
            return JPKI_SESSION_NONE;
        }
        rv = tombstone_get(r, s->id); /* the save failed: check as before */
    }
    if (rv == APR_NOTFOUND) {
        return JPKI_SESSION_OK;
    }
    if (rv == APR_SUCCESS) {
        ended_removed(r, s->id, "on load");
        return JPKI_SESSION_NONE;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                  JPKI_LOGNO(0423) "session %s: cannot check whether it has ended (JPKICache)",
                  jpki_session_log_id(r->pool, s->id));
    return JPKI_SESSION_BACKEND_ERR;
}

jpki_session_state_e jpki_session_load(request_rec *r, jpki_session_t **out)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(r->server);
    const char *id = jpki_util_cookie_get(r->pool, apr_table_get(r->headers_in, "Cookie"),
                                          jpki_cfg_cookie_name(c));
    const char *json, *policy = NULL, *scope = NULL;
    char *val;
    apr_status_t rv, ended;
    jpki_session_t *s;
    jpki_session_state_e st;
    apr_time_t now = apr_time_now();

    *out = NULL;
    if (id == NULL) {
        return JPKI_SESSION_NONE;
    }
    rv = jpki_cache_get_probe(r->server, JPKI_NS_SESSION, id, tombstone_key(r->pool, id), r->pool,
                              &val, NULL, &ended);
    if (rv == APR_NOTFOUND) {
        return JPKI_SESSION_NONE;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      JPKI_LOGNO(0401) "session cache lookup failed (JPKICache)");
        return JPKI_SESSION_BACKEND_ERR;
    }
    s = apr_pcalloc(r->pool, sizeof(*s));
    s->id = id;
    json = record_parse(r->pool, val, &policy, &scope);
    if (json == NULL ||
        !jpki_identity_from_json(r->pool, json, &s->ident, &s->created, &s->last_seen)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      JPKI_LOGNO(0402) "session %s: unreadable record removed",
                      jpki_session_log_id(r->pool, id));
        jpki_cache_remove(r->server, JPKI_NS_SESSION, id, r->pool);
        return JPKI_SESSION_NONE;
    }
    /* Another host's (or another policy's) session: refused, left alone. */
    if (!in_scope(r, c, id, policy, scope)) {
        return JPKI_SESSION_SCOPE;
    }
    if (now - s->last_seen > apr_time_from_sec(jpki_cfg_session_idle(c)) ||
        now - s->created > apr_time_from_sec(jpki_cfg_session_max_age(c))) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r, JPKI_LOGNO(0403) "session %s expired (%s) serial=%s",
            jpki_session_log_id(r->pool, id),
            now - s->created > apr_time_from_sec(jpki_cfg_session_max_age(c)) ? "max age" : "idle",
            s->ident.serial);
        jpki_cache_remove(r->server, JPKI_NS_SESSION, id, r->pool);
        jpki_audit_decision(r, "session_expired", "session_expired", s->ident.method,
                            s->ident.serial, s->ident.account);
        jpki_metrics_session(r->server, -1);
        *out = s;
        return JPKI_SESSION_EXPIRED;
    }
    st = load_finish(r, c, s, ended);
    *out = st == JPKI_SESSION_OK ? s : NULL;
    return st;
}

apr_status_t jpki_session_create(request_rec *r, const jpki_identity_t *id, jpki_session_t **out)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(r->server);
    unsigned char raw[SESSION_ID_BYTES];
    const char *old = jpki_util_cookie_get(r->pool, apr_table_get(r->headers_in, "Cookie"),
                                           jpki_cfg_cookie_name(c));
    jpki_session_t *s;
    apr_status_t rv;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return APR_EGENERAL;
    }
    /* Rotation: whatever session the browser had is ended, never reused. */
    if (old != NULL) {
        session_end(r, old);
    }
    s = apr_pcalloc(r->pool, sizeof(*s));
    s->id = jpki_util_b64url_encode(r->pool, raw, sizeof(raw));
    s->ident = *id;
    s->created = s->last_seen = apr_time_now();
    /* a fresh random id cannot have a tombstone: no check after the store */
    rv = record_store(r, s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    set_cookie(r, c, s->id, -1);
    jpki_metrics_session(r->server, 1);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  JPKI_LOGNO(0405) "session %s opened: serial=%s method=%s account=%s",
                  jpki_session_log_id(r->pool, s->id), id->serial, id->method,
                  id->account ? id->account : "-");
    *out = s;
    return APR_SUCCESS;
}

void jpki_session_destroy(request_rec *r)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(r->server);
    const char *id = jpki_util_cookie_get(r->pool, apr_table_get(r->headers_in, "Cookie"),
                                          jpki_cfg_cookie_name(c));
    if (id != NULL) {
        jpki_session_t *s = NULL;
        switch (jpki_session_load(r, &s)) {
        case JPKI_SESSION_OK:
            jpki_audit_decision(r, "logout", "ok", s->ident.method, s->ident.serial,
                                s->ident.account);
            jpki_metrics_session(r->server, -1);
            session_end(r, id);
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          JPKI_LOGNO(0406) "session %s ended by logout",
                          jpki_session_log_id(r->pool, id));
            break;
        case JPKI_SESSION_SCOPE:
            /* another host's session is not ours to end (logged by the load) */
            break;
        default:
            /* no live record: nothing a late writer could restore */
            jpki_cache_remove(r->server, JPKI_NS_SESSION, id, r->pool);
            break;
        }
    }
    set_cookie(r, c, "", 0);
}

void jpki_session_forget(request_rec *r)
{
    set_cookie(r, jpki_srv_cfg(r->server), "", 0);
}
