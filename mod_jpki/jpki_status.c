/*
 * Certificate status: directives, the result cache shared by every
 * process (JPKICache, STATUS namespace), coalescing of concurrent checks
 * of one certificate, a circuit breaker shared through the same cache,
 * and the fail modes. The providers (jpki_status_platform.c,
 * jpki_status_ocsp.c) only talk to their source.
 *
 * Cache keys (hashed by jpki_cache.c):
 *   s:<source>:<serial>  the last answer {s,r,t,v,u,c,y,l} (JSON)
 *   f:<source>:<serial>  "a call is in flight" marker (coalescing)
 *   b:<source>           breaker state "<failures> <open-until ms>"
 * <source> names the provider, URL and pin, so two virtual hosts asking
 * the same source share answers (one fee per certificate per TTL) and
 * hosts asking different sources never see each other's answers.
 */
#include "jpki_status.h"
#include "jpki_audit.h"
#include "jpki_cache.h"
#include "jpki_http.h"
#include "jpki_metrics.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/err.h>

#define DEFAULT_CONNECT_MS   2000
#define DEFAULT_TOTAL_MS     5000
#define DEFAULT_MAX_RESPONSE 65536
#define DEFAULT_TTL_GOOD     300
#define DEFAULT_TTL_REVOKED  86400
#define DEFAULT_BREAKER_N    5
#define DEFAULT_BREAKER_SECS 30
#define DEFAULT_SKEW         300
#define MAX_AGE_UNSET        -2
#define DEFAULT_MAX_AGE_NO_NONCE 600 /* JPKIOCSPMaxAge when JPKIOCSPRequireNonce Off */
#define POLL_INTERVAL        apr_time_from_msec(20)

/* ------------------------------------------------------- configuration -- */

static jpki_status_cfg_t *scfg(server_rec *s)
{
    return (jpki_status_cfg_t *)jpki_srv_cfg(s)->status_cfg;
}

void *jpki_status_cfg_create(apr_pool_t *p)
{
    jpki_status_cfg_t *c = apr_pcalloc(p, sizeof(*c));
    c->pf_check_method = JPKI_UNSET;
    c->ocsp_skew = JPKI_UNSET;
    c->ocsp_max_age = MAX_AGE_UNSET;
    c->ocsp_nonce = JPKI_UNSET;
    c->connect_ms = JPKI_UNSET;
    c->total_ms = JPKI_UNSET;
    c->max_response = JPKI_UNSET;
    c->ttl_good = JPKI_UNSET;
    c->ttl_revoked = JPKI_UNSET;
    c->fail_mode = JPKI_UNSET;
    c->grace_secs = JPKI_UNSET;
    c->breaker_failures = JPKI_UNSET;
    c->breaker_secs = JPKI_UNSET;
    return c;
}

#define SMERGE_INT(f) m->f = (a->f == JPKI_UNSET) ? b->f : a->f
#define SMERGE_PTR(f) m->f = (a->f == NULL) ? b->f : a->f

void *jpki_status_cfg_merge(apr_pool_t *p, void *basev, void *addv)
{
    jpki_status_cfg_t *b = basev, *a = addv;
    jpki_status_cfg_t *m = apr_pcalloc(p, sizeof(*m));
    SMERGE_PTR(pf_url);
    SMERGE_PTR(pf_token_file);
    SMERGE_PTR(pf_ca);
    SMERGE_PTR(pf_client_cert);
    SMERGE_PTR(pf_client_key);
    SMERGE_INT(pf_check_method);
    SMERGE_PTR(ocsp_url);
    SMERGE_PTR(ocsp_signer_files);
    SMERGE_INT(ocsp_skew);
    m->ocsp_max_age = a->ocsp_max_age == MAX_AGE_UNSET ? b->ocsp_max_age : a->ocsp_max_age;
    SMERGE_INT(ocsp_nonce);
    SMERGE_INT(connect_ms);
    SMERGE_INT(total_ms);
    SMERGE_INT(max_response);
    SMERGE_INT(ttl_good);
    SMERGE_INT(ttl_revoked);
    SMERGE_INT(fail_mode);
    SMERGE_INT(grace_secs);
    SMERGE_INT(breaker_failures);
    SMERGE_INT(breaker_secs);
    return m;
}

static int int_or(int v, int dflt)
{
    return v == JPKI_UNSET ? dflt : v;
}

void jpki_status_http_defaults(const jpki_status_cfg_t *sc, long *connect_ms, long *total_ms,
                               apr_size_t *max_response)
{
    *connect_ms = int_or(sc->connect_ms, DEFAULT_CONNECT_MS);
    *total_ms = int_or(sc->total_ms, DEFAULT_TOTAL_MS);
    *max_response = (apr_size_t)int_or(sc->max_response, DEFAULT_MAX_RESPONSE);
}

static const char *parse_int(cmd_parms *cmd, const char *arg, int min, int max, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < min || v > max) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from %d to %d",
                            cmd->cmd->name, arg, min, max);
    }
    *out = (int)v;
    return NULL;
}

/* Seconds with up to 3 decimals -> ms. */
static const char *parse_secs_ms(cmd_parms *cmd, const char *arg, int min_ms, int max_ms,
                                 int *out)
{
    char *end;
    double v = strtod(arg, &end);
    if (*arg == '\0' || *end != '\0' || v * 1000.0 < min_ms || v * 1000.0 > max_ms) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of seconds from %g to %g",
                            cmd->cmd->name, arg, min_ms / 1000.0, max_ms / 1000.0);
    }
    *out = (int)(v * 1000.0 + 0.5);
    return NULL;
}

static const char *check_url(cmd_parms *cmd, const char *arg, int https_only)
{
    if (!(strncasecmp(arg, "https://", 8) == 0 ||
          (!https_only && strncasecmp(arg, "http://", 7) == 0)) ||
        strpbrk(arg, " \t\r\n\"<>\\") != NULL) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be an %s URL", cmd->cmd->name, arg,
                            https_only ? "https://" : "http:// or https://");
    }
    return NULL;
}

const char *jpki_status_set_platform_url(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = check_url(cmd, arg, 1);
    char *u;
    apr_size_t n;
    (void)dc;
    if (err) {
        return err;
    }
    u = apr_pstrdup(cmd->pool, arg);
    n = strlen(u);
    while (n > 8 && u[n - 1] == '/') {
        u[--n] = '\0';
    }
    scfg(cmd->server)->pf_url = u;
    return NULL;
}

const char *jpki_status_set_file(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_status_cfg_t *sc = scfg(cmd->server);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    (void)dc;
    if (path == NULL) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, arg);
    }
    if (strcmp(cmd->info, "token") == 0) {
        sc->pf_token_file = path;
    }
    else {
        sc->pf_ca = path;
    }
    return NULL;
}

const char *jpki_status_set_client_cert(cmd_parms *cmd, void *dc, const char *cert,
                                        const char *key)
{
    jpki_status_cfg_t *sc = scfg(cmd->server);
    (void)dc;
    sc->pf_client_cert = ap_server_root_relative(cmd->pool, cert);
    sc->pf_client_key = ap_server_root_relative(cmd->pool, key);
    if (sc->pf_client_cert == NULL || sc->pf_client_key == NULL) {
        return "JPKIPlatformClientCert: invalid path";
    }
    return NULL;
}

const char *jpki_status_set_check_method(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (strcasecmp(arg, "ocsp") == 0) {
        scfg(cmd->server)->pf_check_method = 0;
    }
    else if (strcasecmp(arg, "crl") == 0) {
        scfg(cmd->server)->pf_check_method = 1;
    }
    else {
        return "JPKIPlatformCheckMethod: ocsp or crl";
    }
    return NULL;
}

const char *jpki_status_set_ocsp_url(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = check_url(cmd, arg, 0);
    (void)dc;
    if (err) {
        return err;
    }
    scfg(cmd->server)->ocsp_url = arg;
    return NULL;
}

const char *jpki_status_set_ocsp_signer(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_status_cfg_t *sc = scfg(cmd->server);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    (void)dc;
    if (path == NULL) {
        return apr_psprintf(cmd->pool, "JPKIOCSPSigner: invalid path '%s'", arg);
    }
    if (sc->ocsp_signer_files == NULL) {
        sc->ocsp_signer_files = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(sc->ocsp_signer_files, const char *) = path;
    return NULL;
}

const char *jpki_status_set_int(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_status_cfg_t *sc = scfg(cmd->server);
    (void)dc;
    if (strcmp(cmd->info, "skew") == 0) {
        return parse_int(cmd, arg, 0, 86400, &sc->ocsp_skew);
    }
    return parse_int(cmd, arg, 1024, 16 * 1024 * 1024, &sc->max_response);
}

const char *jpki_status_set_ocsp_max_age(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (strcasecmp(arg, "off") == 0) {
        scfg(cmd->server)->ocsp_max_age = -1;
        return NULL;
    }
    return parse_int(cmd, arg, 0, 30 * 86400, &scfg(cmd->server)->ocsp_max_age);
}

int jpki_status_ocsp_max_age(const jpki_status_cfg_t *sc)
{
    if (sc->ocsp_max_age == MAX_AGE_UNSET) {
        /* with our nonce an old answer cannot be replayed; without it,
         * only the age limits a replay */
        return sc->ocsp_nonce == 0 ? DEFAULT_MAX_AGE_NO_NONCE : -1;
    }
    return sc->ocsp_max_age < 0 ? -1 : sc->ocsp_max_age;
}

const char *jpki_status_set_ocsp_nonce(cmd_parms *cmd, void *dc, int flag)
{
    (void)dc;
    scfg(cmd->server)->ocsp_nonce = flag;
    return NULL;
}

const char *jpki_status_set_timeout(cmd_parms *cmd, void *dc, const char *c, const char *t)
{
    jpki_status_cfg_t *sc = scfg(cmd->server);
    const char *err;
    (void)dc;
    if ((err = parse_secs_ms(cmd, c, 100, 60000, &sc->connect_ms)) != NULL ||
        (err = parse_secs_ms(cmd, t, 100, 120000, &sc->total_ms)) != NULL) {
        return err;
    }
    if (sc->total_ms < sc->connect_ms) {
        return "JPKIHTTPTimeout: the total limit must not be shorter than the connect limit";
    }
    return NULL;
}

const char *jpki_status_set_ttl(cmd_parms *cmd, void *dc, const char *good, const char *rev)
{
    jpki_status_cfg_t *sc = scfg(cmd->server);
    const char *err;
    (void)dc;
    if ((err = parse_int(cmd, good, 1, 86400, &sc->ttl_good)) != NULL) {
        return err;
    }
    if (rev != NULL) {
        return parse_int(cmd, rev, 1, 30 * 86400, &sc->ttl_revoked);
    }
    return NULL;
}

const char *jpki_status_set_fail_mode(cmd_parms *cmd, void *dc, const char *mode,
                                      const char *secs)
{
    jpki_status_cfg_t *sc = scfg(cmd->server);
    (void)dc;
    if (strcasecmp(mode, "closed") == 0 && secs == NULL) {
        sc->fail_mode = 0;
        sc->grace_secs = 0;
        return NULL;
    }
    if (strcasecmp(mode, "grace") == 0 && secs != NULL) {
        sc->fail_mode = 1;
        return parse_int(cmd, secs, 1, 7 * 86400, &sc->grace_secs);
    }
    return "JPKIStatusFailMode: 'closed' or 'grace <seconds>'";
}

const char *jpki_status_set_breaker(cmd_parms *cmd, void *dc, const char *n, const char *secs)
{
    jpki_status_cfg_t *sc = scfg(cmd->server);
    const char *err;
    (void)dc;
    if (strcasecmp(n, "off") == 0 && secs == NULL) {
        sc->breaker_failures = 0;
        sc->breaker_secs = 0;
        return NULL;
    }
    if (secs == NULL) {
        return "JPKIStatusBreaker: '<failures> <seconds>' or 'off'";
    }
    if ((err = parse_int(cmd, n, 1, 1000, &sc->breaker_failures)) != NULL) {
        return err;
    }
    return parse_int(cmd, secs, 1, 3600, &sc->breaker_secs);
}

static int readable(apr_pool_t *p, const char *file)
{
    apr_finfo_t fi;
    return file && apr_stat(&fi, file, APR_FINFO_TYPE, p) == APR_SUCCESS && fi.filetype == APR_REG;
}

static apr_status_t signers_free(void *d)
{
    sk_X509_pop_free(d, X509_free);
    return APR_SUCCESS;
}

/* A JPKIOCSPSigner certificate is trusted without a chain: it must at
 * least be within its validity (expired or not yet valid: refused). */
static const char *signer_validity(apr_pool_t *p, server_rec *s, const char *file, X509 *x)
{
    apr_time_t nb = jpki_cert_asn1_time(X509_get0_notBefore(x));
    apr_time_t na = jpki_cert_asn1_time(X509_get0_notAfter(x));
    apr_time_t now = apr_time_now();
    if (nb == 0 || na == 0) {
        return apr_psprintf(p, "JPKIOCSPSigner %s: unreadable validity dates", file);
    }
    if (na < now) {
        return apr_psprintf(p, "JPKIOCSPSigner %s: the responder certificate expired on %s",
                            file, jpki_util_time_iso(p, na));
    }
    if (nb > now) {
        return apr_psprintf(p, "JPKIOCSPSigner %s: the responder certificate is not valid "
                               "before %s",
                            file, jpki_util_time_iso(p, nb));
    }
    if (na < now + apr_time_from_sec(30 * 86400)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     JPKI_LOGNO(0582) "JPKIOCSPSigner %s: the responder certificate expires on "
                     "%s; answers it signs are refused after that",
                     file, jpki_util_time_iso(p, na));
    }
    return NULL;
}

static const char *load_signers(apr_pool_t *p, server_rec *s, jpki_status_cfg_t *sc)
{
    int i;
    const char *err;
    sc->ocsp_signers = sk_X509_new_null();
    apr_pool_cleanup_register(p, sc->ocsp_signers, signers_free, apr_pool_cleanup_null);
    for (i = 0; sc->ocsp_signer_files && i < sc->ocsp_signer_files->nelts; i++) {
        const char *file = APR_ARRAY_IDX(sc->ocsp_signer_files, i, const char *);
        BIO *b = BIO_new_file(file, "r");
        X509 *x;
        int n = 0;
        while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            sk_X509_push(sc->ocsp_signers, x);
            n++;
            if ((err = signer_validity(p, s, file, x)) != NULL) {
                BIO_free(b);
                return err;
            }
        }
        BIO_free(b);
        ERR_clear_error();
        if (n == 0) {
            return apr_psprintf(p, "JPKIOCSPSigner %s: no PEM certificate could be read", file);
        }
    }
    return NULL;
}

static void make_source_id(apr_pool_t *p, jpki_status_cfg_t *sc, int provider)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    const char *s = apr_pstrcat(
        p, provider == JPKI_STATUS_PROVIDER_PLATFORM ? "platform|" : "ocsp|",
        provider == JPKI_STATUS_PROVIDER_PLATFORM ? sc->pf_url : sc->ocsp_url, "|",
        sc->pf_ca ? sc->pf_ca : "-", "|", sc->pf_check_method == 1 ? "crl" : "ocsp", NULL);
    SHA256((const unsigned char *)s, strlen(s), md);
    sc->source_id = jpki_util_hex(p, md, 8);
}

int jpki_status_check_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_srv_cfg_t *c = jpki_srv_cfg(vs);
        jpki_status_cfg_t *sc = c->status_cfg;
        const char *err = NULL, *what = NULL;
        if (c->status_provider == JPKI_STATUS_PROVIDER_PLATFORM) {
            if (sc->pf_url == NULL) {
                what = "JPKIPlatformURL is required with JPKIStatusProvider platform";
            }
            else if (sc->pf_token_file == NULL) {
                what = "JPKIPlatformTokenFile is required with JPKIStatusProvider platform "
                       "(the bearer token is never written in httpd.conf)";
            }
            else if (sc->pf_ca == NULL) {
                what = "JPKIPlatformCA is required with JPKIStatusProvider platform (the "
                       "platform operator's CA is pinned)";
            }
            else if (!readable(ptemp, sc->pf_ca)) {
                what = apr_psprintf(ptemp, "JPKIPlatformCA %s: not a readable file", sc->pf_ca);
            }
            else if (sc->pf_client_cert && (!readable(ptemp, sc->pf_client_cert) ||
                                            !readable(ptemp, sc->pf_client_key))) {
                what = "JPKIPlatformClientCert: certificate or key is not a readable file";
            }
            else if ((sc->pf_token = jpki_util_read_token(pconf, sc->pf_token_file, &err)) == NULL) {
                what = apr_psprintf(ptemp, "JPKIPlatformTokenFile %s %s", sc->pf_token_file,
                                    err);
            }
        }
        else if (c->status_provider == JPKI_STATUS_PROVIDER_OCSP) {
            if (sc->ocsp_url == NULL) {
                what = "JPKIOCSPResponder is required with JPKIStatusProvider ocsp";
            }
            else if (strncasecmp(sc->ocsp_url, "https:", 6) == 0 && sc->pf_ca == NULL) {
                what = "an https JPKIOCSPResponder needs JPKIPlatformCA (the CA its TLS "
                       "certificate is pinned to)";
            }
            else if ((err = load_signers(pconf, vs, sc)) != NULL) {
                what = err;
            }
            else if (sc->ocsp_nonce == 0 && jpki_status_ocsp_max_age(sc) < 0) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs,
                             JPKI_LOGNO(0583) "JPKIOCSPRequireNonce Off with JPKIOCSPMaxAge "
                             "off: a recorded answer can be replayed until its nextUpdate");
            }
        }
        else {
            continue;
        }
        if (what != NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs, JPKI_LOGNO(0502) "%s", what);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (c->trust == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                         JPKI_LOGNO(0503) "JPKIStatusProvider %s needs JPKITrustedCA",
                         c->status_provider == JPKI_STATUS_PROVIDER_OCSP ? "ocsp" : "platform");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        make_source_id(pconf, sc, c->status_provider);
    }
    return OK;
}

void jpki_status_post_config(apr_pool_t *pconf)
{
    jpki_http_global_init(pconf);
}

void jpki_status_child_init(apr_pool_t *p, server_rec *s)
{
    jpki_http_child_init(p, s);
}

/* -------------------------------------------------------- cache entries -- */

typedef struct {
    int good;
    const char *reason;
    apr_time_t t; /* checked at */
    apr_time_t v; /* valid until (source's nextUpdate), 0 none */
    const char *user, *cert_id, *type;
    int link_pending;
} entry_t;

static const char *key_of(apr_pool_t *p, const char *kind, const jpki_status_cfg_t *sc,
                          const char *serial)
{
    return apr_pstrcat(p, kind, ":", sc->source_id, ":", serial, NULL);
}

/* 1 hit, 0 miss, -1 cache failure (logged). */
static int entry_get(request_rec *r, const char *key, entry_t *e)
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
    e->good = json_is_true(json_object_get(o, "g"));
    e->t = apr_time_from_msec(json_integer_value(json_object_get(o, "t")));
    e->v = apr_time_from_msec(json_integer_value(json_object_get(o, "v")));
#define ES(f, k)                                                                                 \
    e->f = json_is_string(json_object_get(o, k))                                                \
               ? apr_pstrdup(r->pool, json_string_value(json_object_get(o, k)))                 \
               : NULL
    ES(reason, "r");
    ES(user, "u");
    ES(cert_id, "c");
    ES(type, "y");
#undef ES
    e->link_pending = json_is_true(json_object_get(o, "l"));
    json_decref(o);
    return e->t > 0 ? 1 : 0;
}

static void entry_put(request_rec *r, const jpki_status_cfg_t *sc, const char *key,
                      const jpki_status_result_t *res)
{
    json_t *o = json_object();
    char *s;
    int good = res->status == JPKI_STATUS_GOOD;
    apr_time_t keep = apr_time_from_sec(good ? int_or(sc->ttl_good, DEFAULT_TTL_GOOD)
                                             : int_or(sc->ttl_revoked, DEFAULT_TTL_REVOKED));
    apr_status_t rv;
    /* A GOOD answer is also the "last seen good" of the grace mode. */
    if (good && sc->fail_mode == 1 && apr_time_from_sec(sc->grace_secs) > keep) {
        keep = apr_time_from_sec(sc->grace_secs);
    }
    json_object_set_new(o, "g", json_boolean(good));
    json_object_set_new(o, "t", json_integer((json_int_t)apr_time_as_msec(res->checked_at)));
    if (res->valid_until) {
        json_object_set_new(o, "v", json_integer((json_int_t)apr_time_as_msec(res->valid_until)));
    }
    if (res->reason) {
        json_object_set_new(o, "r", json_string(res->reason));
    }
    if (res->platform_user_id) {
        json_object_set_new(o, "u", json_string(res->platform_user_id));
    }
    if (res->pf_cert_id) {
        json_object_set_new(o, "c", json_string(res->pf_cert_id));
    }
    if (res->cert_type) {
        json_object_set_new(o, "y", json_string(res->cert_type));
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

static int entry_fresh(const jpki_status_cfg_t *sc, const entry_t *e, apr_time_t now)
{
    int ttl = e->good ? int_or(sc->ttl_good, DEFAULT_TTL_GOOD)
                      : int_or(sc->ttl_revoked, DEFAULT_TTL_REVOKED);
    if (now >= e->t + apr_time_from_sec(ttl)) {
        return 0;
    }
    return e->v == 0 || now < e->v;
}

static void entry_to_result(const entry_t *e, jpki_status_result_t *res)
{
    res->status = e->good ? JPKI_STATUS_GOOD : JPKI_STATUS_REVOKED;
    res->reason = e->good ? NULL : jpki_reason_name(e->reason);
    res->checked_at = e->t;
    res->valid_until = e->v;
    res->platform_user_id = e->user;
    res->pf_cert_id = e->cert_id;
    res->cert_type = e->type;
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
    if (jpki_cache_get(r->server, JPKI_NS_STATUS, key_of(r->pool, "b", sc, "-"), r->pool, &val,
                       NULL) != APR_SUCCESS) {
        return 0;
    }
    if (sscanf(val, "%lld %lld", &f, &o) != 2) {
        return 0;
    }
    *failures = (int)f;
    *open_until = apr_time_from_msec(o);
    return 1;
}

static int breaker_open(request_rec *r, const jpki_status_cfg_t *sc, apr_time_t now)
{
    int f;
    apr_time_t o;
    if (int_or(sc->breaker_failures, DEFAULT_BREAKER_N) == 0) {
        return 0;
    }
    breaker_read(r, sc, &f, &o);
    return now < o;
}

/* Shared read-modify-write without a lock across processes: two failures
 * at the same instant may count once. The breaker only needs to open
 * after roughly N failures, so that is good enough. */
static void breaker_record(request_rec *r, const jpki_status_cfg_t *sc, const char *provider,
                           int ok)
{
    int n = int_or(sc->breaker_failures, DEFAULT_BREAKER_N);
    int secs = int_or(sc->breaker_secs, DEFAULT_BREAKER_SECS);
    const char *key = key_of(r->pool, "b", sc, "-");
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
                          "answers again", provider);
            jpki_metrics_breaker(r->server, 0);
        }
        return;
    }
    f++;
    if (f >= n) {
        int was_open = now < o;
        o = now + apr_time_from_sec(secs);
        if (!was_open) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          JPKI_LOGNO(0507) "circuit breaker open: %d consecutive failures of "
                          "the %s status source; no calls for %d s (JPKIStatusBreaker)",
                          f, provider, secs);
            jpki_metrics_breaker(r->server, 1);
        }
    }
    {
        const char *v = apr_psprintf(r->pool, "%d %" APR_INT64_T_FMT, f,
                                     (apr_int64_t)apr_time_as_msec(o));
        jpki_cache_store(r->server, JPKI_NS_STATUS, key, v, strlen(v),
                         now + apr_time_from_sec(secs + 600), r->pool);
    }
}

/* -------------------------------------------------------------- call -- */

static const char *provider_name(const jpki_srv_cfg_t *cfg)
{
    return cfg->status_provider == JPKI_STATUS_PROVIDER_OCSP ? "ocsp" : "platform";
}

/* One call to the source, with its audit record, metrics and breaker. */
static int call_source(request_rec *r, const jpki_srv_cfg_t *cfg, const jpki_status_cfg_t *sc,
                       const jpki_status_query_t *q, jpki_status_result_t *res)
{
    const char *why = NULL, *outcome;
    apr_time_t t0 = apr_time_now();
    long ms;
    int ok;
    jpki_status_call_fn fn = cfg->status_provider == JPKI_STATUS_PROVIDER_OCSP
                                 ? jpki_status_ocsp_call
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
    }
    else {
        outcome = apr_pstrcat(r->pool, "error:", res->error ? res->error : "unknown", NULL);
        if (res->config_error) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          JPKI_LOGNO(0509) "configuration error: the platform operator "
                          "refused our bearer token (HTTP 401); check JPKIPlatformTokenFile %s",
                          sc->pf_token_file);
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          JPKI_LOGNO(0510) "status %s %s serial=%s failed: %s",
                          provider_name(cfg), q->purpose, q->serial, why ? why : "no answer");
        }
    }
    jpki_audit_status_call(r, q->purpose, provider_name(cfg), q->serial, ms, outcome,
                           q->cert_type);
    jpki_metrics_status_call(r->server, q->purpose, q->cert_type, ms, ok);
    breaker_record(r, sc, provider_name(cfg), ok);
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

static void outcome_put(request_rec *r, const jpki_status_cfg_t *sc,
                        const jpki_status_query_t *q, const jpki_status_result_t *res,
                        int answered, apr_time_t deadline)
{
    const char *v = OUTCOME_CALL_SELF;
    apr_status_t rv;
    if (!answered) {
        v = OUTCOME_NO_ANSWER;
    }
    else if (res->refusal != NULL && strcmp(res->refusal, "signature_invalid") != 0) {
        v = res->refusal;
    }
    else if (res->refusal == NULL &&
             (res->status == JPKI_STATUS_GOOD || res->status == JPKI_STATUS_REVOKED) &&
             (res->valid_until == 0 || res->valid_until > res->checked_at)) {
        return; /* kept as a cache entry: the waiters read that */
    }
    rv = jpki_cache_store(r->server, JPKI_NS_STATUS, key_of(r->pool, "o", sc, q->serial), v,
                          strlen(v), deadline + apr_time_from_sec(2), r->pool);
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
    return jpki_cache_get(r->server, JPKI_NS_STATUS, key_of(r->pool, "o", sc, q->serial),
                          r->pool, v, NULL) == APR_SUCCESS;
}

enum { AWAIT_NO_ANSWER, AWAIT_ANSWERED, AWAIT_CALL_SELF, AWAIT_LOST };

/* Wait for the leader's answer: a fresh cache entry, or its outcome. */
static int await_leader(request_rec *r, const jpki_status_cfg_t *sc,
                        const jpki_status_query_t *q, const char *skey, apr_time_t deadline,
                        jpki_status_result_t *res)
{
    const char *fkey = key_of(r->pool, "f", sc, q->serial);
    entry_t e;
    char *m;
    int gone = 0;
    while (!gone && apr_time_now() < deadline) {
        apr_sleep(POLL_INTERVAL);
        /* read the marker first: once it is gone, the answer is in place */
        gone = jpki_cache_get(r->server, JPKI_NS_STATUS, fkey, r->pool, &m, NULL) ==
               APR_NOTFOUND;
        if (entry_get(r, skey, &e) == 1 && entry_fresh(sc, &e, apr_time_now())) {
            entry_to_result(&e, res);
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
                   const jpki_status_query_t *q, jpki_status_result_t *res, entry_t *stale)
{
    const char *skey = key_of(r->pool, "s", sc, q->serial);
    const char *fkey = key_of(r->pool, "f", sc, q->serial);
    apr_time_t now = apr_time_now(), deadline;
    long cms, tms;
    apr_size_t max;
    entry_t e;
    int hit, leader = 0, ok;
    apr_status_t rv;

    memset(stale, 0, sizeof(*stale));
    hit = entry_get(r, skey, &e);
    if (hit == 1) {
        if (entry_fresh(sc, &e, now)) {
            entry_to_result(&e, res);
            return;
        }
        if (e.good) {
            *stale = e;
        }
    }
    if (breaker_open(r, sc, now)) {
        res->status = JPKI_STATUS_UNKNOWN;
        res->error = "breaker_open";
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0511) "status %s serial=%s: circuit breaker open, source "
                      "not called", q->purpose, q->serial);
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
    if (leader) { /* an earlier call's outcome is not this call's */
        jpki_cache_remove(r->server, JPKI_NS_STATUS, key_of(r->pool, "o", sc, q->serial),
                          r->pool);
    }
    ok = call_source(r, cfg, sc, q, res);
    if (leader) {
        outcome_put(r, sc, q, res, ok, deadline);
    }
    if (ok && (res->status == JPKI_STATUS_GOOD || res->status == JPKI_STATUS_REVOKED) &&
        res->refusal == NULL) {
        if (res->valid_until && res->valid_until <= res->checked_at) {
            res->valid_until = 0; /* already past: use, do not keep */
        }
        else {
            entry_put(r, sc, skey, res);
        }
    }
    if (!ok) {
        res->status = JPKI_STATUS_UNKNOWN;
    }
    if (leader) {
        jpki_cache_remove(r->server, JPKI_NS_STATUS, fkey, r->pool);
    }
}

/* ---------------------------------------------------------- decisions -- */

static int grace_ok(const jpki_status_cfg_t *sc, const entry_t *stale, apr_time_t now)
{
    return sc->fail_mode == 1 && stale->t > 0 && stale->good &&
           now - stale->t <= apr_time_from_sec(sc->grace_secs);
}

static void grace_pass(request_rec *r, const jpki_status_query_t *q, const entry_t *stale,
                       const char *error)
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
    }
    else {
        q->serial_hex = serial;
    }
}

int jpki_status_login(request_rec *r, const jpki_cert_t *c, const jpki_flow_in_t *in,
                      jpki_identity_t *id, jpki_status_result_t *res, jpki_flow_err_t *err)
{
    jpki_srv_cfg_t *cfg = jpki_srv_cfg(r->server);
    const jpki_status_cfg_t *sc = cfg->status_cfg;
    jpki_status_query_t q;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    entry_t stale;

    memset(res, 0, sizeof(*res));
    if (cfg->status_provider != JPKI_STATUS_PROVIDER_PLATFORM &&
        cfg->status_provider != JPKI_STATUS_PROVIDER_OCSP) {
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
    lookup(r, cfg, sc, &q, res, &stale);

    if (res->refusal != NULL) {
        err->kind = strcmp(res->refusal, "signature_invalid") == 0 ? JPKI_FLOW_PROOF
                                                                    : JPKI_FLOW_REFUSED;
        err->code = res->refusal;
        err->detail = apr_psprintf(r->pool, "the %s status source answered %s",
                                   provider_name(cfg), res->refusal);
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
        err->kind = JPKI_FLOW_REFUSED;
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
    err->kind = JPKI_FLOW_UNAVAILABLE;
    err->code = JPKI_E_STATUS_UNAVAILABLE;
    err->detail = apr_psprintf(r->pool, "no status from the %s source (%s); "
                               "JPKIStatusFailMode closed",
                               provider_name(cfg), res->error ? res->error : "no answer");
    return 0;
}

int jpki_status_session(request_rec *r, jpki_session_t *sess, const char **code)
{
    jpki_srv_cfg_t *cfg = jpki_srv_cfg(r->server);
    const jpki_status_cfg_t *sc = cfg->status_cfg;
    jpki_identity_t *id = &sess->ident;
    jpki_status_query_t q;
    jpki_status_result_t res;
    entry_t stale;
    apr_time_t now = apr_time_now();

    if (cfg->status_provider != JPKI_STATUS_PROVIDER_PLATFORM &&
        cfg->status_provider != JPKI_STATUS_PROVIDER_OCSP) {
        return OK;
    }
    if (id->status && strcmp(id->status, "good") == 0 && id->status_checked_at &&
        now < id->status_checked_at + apr_time_from_sec(int_or(sc->ttl_good, DEFAULT_TTL_GOOD))) {
        return OK;
    }
    memset(&q, 0, sizeof(q));
    memset(&res, 0, sizeof(res));
    q.purpose = "liveness_check";
    set_query_serial(r->pool, &q, id->serial);
    q.cert_type = id->cert_type;
    q.pf_cert_id = id->pf_cert_id;
    lookup(r, cfg, sc, &q, &res, &stale);

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
        if (jpki_session_save(r, sess) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          JPKI_LOGNO(0513) "session %s: could not save the re-checked status",
                          jpki_session_log_id(r->pool, sess->id));
        }
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
                      JPKI_LOGNO(0514) "session %s ended: code=%s serial=%s%s%s",
                      jpki_session_log_id(r->pool, sess->id), *code, id->serial,
                      res.reason ? " reason=" : "", res.reason ? res.reason : "");
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
                  jpki_session_log_id(r->pool, sess->id), res.error ? res.error : "no answer");
    return HTTP_SERVICE_UNAVAILABLE;
}

const char *jpki_status_message(const char *code)
{
    static const struct {
        const char *code, *msg;
    } m[] = {
        {JPKI_E_STATUS_UNAVAILABLE,
         "The certificate's status cannot be checked right now. Please try again later."},
        {JPKI_E_CERT_REVOKED_SUPERSEDED,
         "This certificate was replaced by a renewed one. Use your current card."},
        {JPKI_E_CERT_REVOKED_AFFILIATION,
         "The card's details changed, so this certificate is no longer valid. Register again."},
        {JPKI_E_CERT_REVOKED_CESSATION, "This certificate is no longer in use."},
        {JPKI_E_CERT_REVOKED_HOLD,
         "This certificate is suspended. Ask your municipal office."},
        {JPKI_E_CERT_REVOKED_KEY_COMPROMISE,
         "This certificate was revoked because its key may be compromised."},
        {JPKI_E_CERT_REVOKED, "This certificate has been revoked."},
        {JPKI_E_CERT_STATUS_UNKNOWN, "The status service does not know this certificate."},
        {NULL, NULL}};
    int i;
    for (i = 0; m[i].code; i++) {
        if (strcmp(m[i].code, code) == 0) {
            return m[i].msg;
        }
    }
    return NULL;
}
