#include "jpki_session.h"
#include "jpki_audit.h"
#include "jpki_cache.h"
#include "jpki_metrics.h"

#include <apr_random.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define SESSION_ID_BYTES 32
/* Do not rewrite the record on every request: refresh last_seen at most
 * every 30 s, or a quarter of the idle timeout if that is shorter. */
static apr_time_t touch_interval(const jpki_srv_cfg_t *c)
{
    int q = jpki_cfg_session_idle(c) / 4;
    return apr_time_from_sec(q < 30 ? (q < 1 ? 1 : q) : 30);
}

const char *jpki_session_cookie_get(request_rec *r, const char *name)
{
    const char *hdr = apr_table_get(r->headers_in, "Cookie");
    apr_size_t nlen = strlen(name);
    const char *p = hdr;
    while (p != NULL && *p) {
        while (*p == ' ' || *p == ';' || *p == '\t') {
            p++;
        }
        if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            const char *end = v;
            while (*end && *end != ';') {
                end++;
            }
            /* Our cookies are base64url; anything else is not ours. */
            if (end - v > 0 && end - v <= 64) {
                const char *c;
                for (c = v; c < end; c++) {
                    if (!(apr_isalnum(*c) || *c == '-' || *c == '_')) {
                        return NULL;
                    }
                }
                return apr_pstrmemdup(r->pool, v, (apr_size_t)(end - v));
            }
            return NULL;
        }
        p = ap_strchr_c(p, ';');
    }
    return NULL;
}

const char *jpki_session_log_id(apr_pool_t *p, const char *id)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)id, strlen(id), md);
    return jpki_util_hex(p, md, 6);
}

static void set_cookie(request_rec *r, const jpki_srv_cfg_t *c, const char *value, int max_age)
{
    const char *v = apr_psprintf(r->pool, "%s=%s; Path=%s; Secure; HttpOnly; SameSite=Lax%s",
                                 jpki_cfg_cookie_name(c), value, jpki_cfg_cookie_path(c),
                                 max_age == 0 ? "; Max-Age=0" : "");
    apr_table_addn(r->err_headers_out, "Set-Cookie", v);
}

jpki_session_state_e jpki_session_load(request_rec *r, jpki_session_t **out)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(r->server);
    const char *id = jpki_session_cookie_get(r, jpki_cfg_cookie_name(c));
    char *val;
    apr_status_t rv;
    jpki_session_t *s;
    apr_time_t now = apr_time_now();

    *out = NULL;
    if (id == NULL) {
        return JPKI_SESSION_NONE;
    }
    rv = jpki_cache_get(r->server, JPKI_NS_SESSION, id, r->pool, &val, NULL);
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
    if (!jpki_identity_from_json(r->pool, val, &s->ident, &s->created, &s->last_seen)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      JPKI_LOGNO(0402) "session %s: unreadable record removed",
                      jpki_session_log_id(r->pool, id));
        jpki_cache_remove(r->server, JPKI_NS_SESSION, id, r->pool);
        return JPKI_SESSION_NONE;
    }
    if (now - s->last_seen > apr_time_from_sec(jpki_cfg_session_idle(c)) ||
        now - s->created > apr_time_from_sec(jpki_cfg_session_max_age(c))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0403) "session %s expired (%s) serial=%s",
                      jpki_session_log_id(r->pool, id),
                      now - s->created > apr_time_from_sec(jpki_cfg_session_max_age(c))
                          ? "max age"
                          : "idle",
                      s->ident.serial);
        jpki_cache_remove(r->server, JPKI_NS_SESSION, id, r->pool);
        jpki_audit_decision(r, "session_expired", "session_expired", s->ident.method,
                            s->ident.serial, s->ident.account);
        jpki_metrics_session(r->server, -1);
        *out = s;
        return JPKI_SESSION_EXPIRED;
    }
    if (now - s->last_seen > touch_interval(c)) {
        s->last_seen = now;
        jpki_session_save(r, s);
    }
    *out = s;
    return JPKI_SESSION_OK;
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

apr_status_t jpki_session_save(request_rec *r, jpki_session_t *s)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(r->server);
    char *json = jpki_identity_to_json(r->pool, &s->ident, s->created, s->last_seen);
    apr_status_t rv;
    if (json == NULL) {
        return APR_EGENERAL;
    }
    rv = jpki_cache_store(r->server, JPKI_NS_SESSION, s->id, json, strlen(json),
                          session_expiry(c, s), r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      JPKI_LOGNO(0404) "session %s: cannot store the record (JPKICache)",
                      jpki_session_log_id(r->pool, s->id));
    }
    return rv;
}

apr_status_t jpki_session_create(request_rec *r, const jpki_identity_t *id, jpki_session_t **out)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(r->server);
    unsigned char raw[SESSION_ID_BYTES];
    const char *old = jpki_session_cookie_get(r, jpki_cfg_cookie_name(c));
    jpki_session_t *s;
    apr_status_t rv;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return APR_EGENERAL;
    }
    /* Rotation: whatever session the browser had is ended, never reused. */
    if (old != NULL) {
        jpki_cache_remove(r->server, JPKI_NS_SESSION, old, r->pool);
    }
    s = apr_pcalloc(r->pool, sizeof(*s));
    s->id = jpki_util_b64url_encode(r->pool, raw, sizeof(raw));
    s->ident = *id;
    s->created = s->last_seen = apr_time_now();
    rv = jpki_session_save(r, s);
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
    const char *id = jpki_session_cookie_get(r, jpki_cfg_cookie_name(c));
    if (id != NULL) {
        jpki_session_t *s = NULL;
        if (jpki_session_load(r, &s) == JPKI_SESSION_OK) {
            jpki_audit_decision(r, "logout", "ok", s->ident.method, s->ident.serial,
                                s->ident.account);
            jpki_metrics_session(r->server, -1);
        }
        jpki_cache_remove(r->server, JPKI_NS_SESSION, id, r->pool);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, JPKI_LOGNO(0406) "session %s ended by logout",
                      jpki_session_log_id(r->pool, id));
    }
    set_cookie(r, c, "", 0);
}
