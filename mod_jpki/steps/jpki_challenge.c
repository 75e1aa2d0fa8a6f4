#include "steps/jpki_challenge.h"
#include "infra/jpki_cache.h"
#include "cfg/jpki_scope.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

static const char *prelogin_cookie_name(request_rec *r)
{
    return jpki_cfg_prelogin_cookie_name(r->pool, jpki_srv_cfg(r->server));
}

static const char *hash_hex(apr_pool_t *p, const char *s)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    if (!jpki_util_sha256(s, strlen(s), md)) {
        return "-"; /* matches no binding: the login fails closed */
    }
    return jpki_util_hex(p, md, sizeof(md));
}

static const char *challenge_record(apr_pool_t *p, const char *bind, apr_time_t expires,
                                    const jpki_srv_cfg_t *c)
{
    json_t *o = json_pack("{s:s,s:I,s:s,s:s}", "b", bind, "e", (json_int_t)expires, "p",
                          jpki_scope_policy(c), "s", jpki_scope_id(c));
    char *d = o ? json_dumps(o, JSON_COMPACT) : NULL;
    const char *rec = d ? apr_pstrdup(p, d) : NULL;
    free(d);
    json_decref(o);
    return rec;
}

const char *jpki_challenge_issue(request_rec *r, apr_status_t *rv)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(r->server);
    unsigned char nonce[JPKI_CHALLENGE_BYTES];
    unsigned char pre_raw[16];
    const char *pre = jpki_util_cookie_get(r->pool, apr_table_get(r->headers_in, "Cookie"),
                                           prelogin_cookie_name(r));
    const char *text, *rec;
    int lifetime = jpki_cfg_challenge_lifetime(c);
    apr_time_t now = apr_time_now();

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        *rv = APR_EGENERAL;
        return NULL;
    }
    /* Keep the browser's pre-login cookie if it has one (several tabs). */
    if (pre == NULL || strlen(pre) != 22) {
        if (RAND_bytes(pre_raw, sizeof(pre_raw)) != 1) {
            *rv = APR_EGENERAL;
            return NULL;
        }
        pre = jpki_util_b64url_encode(r->pool, pre_raw, sizeof(pre_raw));
    }
    /* Path=/ whatever JPKISessionCookie's path: the login endpoint may
     * live outside the protected area the session cookie is scoped to. */
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   apr_psprintf(r->pool,
                                "%s=%s; Path=/; Max-Age=%d; Secure; HttpOnly; "
                                "SameSite=Strict",
                                prelogin_cookie_name(r), pre, lifetime + 60));
    text = jpki_util_b64url_encode(r->pool, nonce, sizeof(nonce));
    /* bound to this host's scope and policy too (jpki_scope.h) */
    rec = challenge_record(r->pool, hash_hex(r->pool, pre), apr_time_sec(now) + lifetime, c);
    if (rec == NULL) {
        *rv = APR_ENOMEM;
        return NULL;
    }
    /* The socache entry outlives the challenge a little so that "expired"
     * can be told apart from "unknown"; the record's own "e" decides. */
    *rv = jpki_cache_store(r->server, JPKI_NS_CHALLENGE, text, rec, strlen(rec),
                           now + apr_time_from_sec(lifetime + 300), r->pool);
    return *rv == APR_SUCCESS ? text : NULL;
}

const char *jpki_challenge_consume(request_rec *r, const char *challenge,
                                   const unsigned char **bytes, apr_size_t *len)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(r->server);
    char *val;
    apr_status_t rv;
    json_t *o;
    json_error_t e;
    const char *bind, *pre, *policy, *scope;
    json_int_t exp;
    apr_time_t now = apr_time_now();
    const char *tomb = "{\"used\":1}";
    /* challenges are base64url: "used." never starts one */
    const char *tomb_key = apr_pstrcat(r->pool, "used.", challenge, NULL);

    *bytes = jpki_util_b64_decode(r->pool, challenge, strlen(challenge), JPKI_CHALLENGE_BYTES, len);
    if (*bytes == NULL || *len != JPKI_CHALLENGE_BYTES) {
        return JPKI_E_CHALLENGE_UNKNOWN;
    }
    rv = jpki_cache_take(r->server, JPKI_NS_CHALLENGE, challenge, r->pool, &val, NULL);
    if (rv == APR_NOTFOUND) {
        /* spent here or on another node (its tombstone), or never issued */
        rv = jpki_cache_probe(r->server, JPKI_NS_CHALLENGE, tomb_key, r->pool);
        return rv == APR_SUCCESS ? JPKI_E_CHALLENGE_REPLAYED : JPKI_E_CHALLENGE_UNKNOWN;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      JPKI_LOGNO(0301) "challenge cache unavailable (JPKICache)");
        return "cache_unavailable";
    }
    o = json_loads(val, 0, &e);
    if (json_is_integer(json_object_get(o, "used"))) {
        json_decref(o); /* a tombstone in the record itself (before 0.1.1) */
        return JPKI_E_CHALLENGE_REPLAYED;
    }
    /* Mark it used before looking at anything else: a failed attempt burns
     * it. Under its own key: the record's key stays removed, so a second
     * taker's remove fails (jpki_cache_take). */
    jpki_cache_store(r->server, JPKI_NS_CHALLENGE, tomb_key, tomb, strlen(tomb),
                     now + apr_time_from_sec(jpki_cfg_challenge_lifetime(c) + 300), r->pool);
    bind = json_string_value(json_object_get(o, "b"));
    exp = json_integer_value(json_object_get(o, "e"));
    policy = json_string_value(json_object_get(o, "p"));
    scope = json_string_value(json_object_get(o, "s"));
    bind = bind ? apr_pstrdup(r->pool, bind) : NULL;
    policy = policy ? apr_pstrdup(r->pool, policy) : NULL;
    scope = scope ? apr_pstrdup(r->pool, scope) : NULL;
    json_decref(o);
    if (bind == NULL || policy == NULL || scope == NULL) {
        return JPKI_E_CHALLENGE_UNKNOWN;
    }
    /* Issued by another host (or under another policy): not ours to redeem. */
    if (strcmp(scope, jpki_scope_id(c)) != 0 || strcmp(policy, jpki_scope_policy(c)) != 0) {
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            JPKI_LOGNO(0320) "challenge refused (" JPKI_E_CHALLENGE_SCOPE "): issued "
                             "for %s under policy %.16s, this host is %s with policy %.16s",
            scope, policy, jpki_scope_id(c), jpki_scope_policy(c));
        return JPKI_E_CHALLENGE_SCOPE;
    }
    if (apr_time_sec(now) > exp) {
        return JPKI_E_CHALLENGE_EXPIRED;
    }
    pre = jpki_util_cookie_get(r->pool, apr_table_get(r->headers_in, "Cookie"),
                               prelogin_cookie_name(r));
    if (pre == NULL || !jpki_util_ct_streq(hash_hex(r->pool, pre), bind)) {
        return JPKI_E_CHALLENGE_BROWSER;
    }
    return NULL;
}
