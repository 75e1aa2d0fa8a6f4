/*
 * Certificate status: the directives (create, merge, setters), the start
 * checks (check_config: `apachectl -t` names the directive) and the
 * process hooks of the HTTP client. Request-time code: jpki_status.c.
 */
#include "cfg/jpki_cfg.h"
#include "cfg/jpki_cfg_tree.h"

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/err.h>

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
    c->ocsp_max_age = JPKI_OCSP_MAX_AGE_UNSET;
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
    c->crl_interval = JPKI_UNSET;
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
    m->ocsp_max_age =
        a->ocsp_max_age == JPKI_OCSP_MAX_AGE_UNSET ? b->ocsp_max_age : a->ocsp_max_age;
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
    SMERGE_PTR(crl_dir);
    SMERGE_INT(crl_interval);
    return m;
}

void jpki_status_http_defaults(const jpki_status_cfg_t *sc, long *connect_ms, long *total_ms,
                               apr_size_t *max_response)
{
    *connect_ms = jpki_cfg_int_or(sc->connect_ms, JPKI_DEFAULT_CONNECT_MS);
    *total_ms = jpki_cfg_int_or(sc->total_ms, JPKI_DEFAULT_TOTAL_MS);
    *max_response = (apr_size_t)jpki_cfg_int_or(sc->max_response, JPKI_DEFAULT_MAX_RESPONSE);
}

static const char *parse_int(cmd_parms *cmd, const char *arg, int min, int max, int *out)
{
    if (!jpki_util_parse_int(arg, min, max, 0, out)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from %d to %d",
                            cmd->cmd->name, arg, min, max);
    }
    return NULL;
}

/* Seconds with up to 3 decimals -> ms. */
static const char *parse_secs_ms(cmd_parms *cmd, const char *arg, int min_ms, int max_ms, int *out)
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
    } else {
        sc->pf_ca = path;
    }
    return NULL;
}

const char *jpki_status_set_client_cert(cmd_parms *cmd, void *dc, const char *cert, const char *key)
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
    } else if (strcasecmp(arg, "crl") == 0) {
        scfg(cmd->server)->pf_check_method = 1;
    } else {
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
    if (sc->ocsp_max_age == JPKI_OCSP_MAX_AGE_UNSET) {
        /* with our nonce an old answer cannot be replayed; without it,
         * only the age limits a replay */
        return sc->ocsp_nonce == 0 ? JPKI_DEFAULT_MAX_AGE_NO_NONCE : -1;
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

const char *jpki_status_set_fail_mode(cmd_parms *cmd, void *dc, const char *mode, const char *secs)
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

const char *jpki_status_set_crl_dir(cmd_parms *cmd, void *dc, const char *dir, const char *secs)
{
    jpki_status_cfg_t *sc = scfg(cmd->server);
    (void)dc;
    sc->crl_dir = ap_server_root_relative(cmd->pool, dir);
    if (sc->crl_dir == NULL) {
        return apr_psprintf(cmd->pool, "JPKICRLIndexDir: bad path '%s'", dir);
    }
    return secs ? parse_int(cmd, secs, 0, 3600, &sc->crl_interval) : NULL;
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
        return apr_psprintf(p, "JPKIOCSPSigner %s: the responder certificate expired on %s", file,
                            jpki_util_time_iso(p, na));
    }
    if (nb > now) {
        return apr_psprintf(p,
                            "JPKIOCSPSigner %s: the responder certificate is not valid "
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
    const char *s = apr_pstrcat(p,
                                provider == JPKI_STATUS_PROVIDER_PLATFORM ? "platform|"
                                : provider == JPKI_STATUS_PROVIDER_CRL    ? "crl|"
                                                                          : "ocsp|",
                                provider == JPKI_STATUS_PROVIDER_PLATFORM ? sc->pf_url
                                : provider == JPKI_STATUS_PROVIDER_CRL    ? sc->crl_dir
                                                                          : sc->ocsp_url,
                                "|", sc->pf_ca ? sc->pf_ca : "-", "|",
                                sc->pf_check_method == 1 ? "crl" : "ocsp", NULL);
    SHA256((const unsigned char *)s, strlen(s), md);
    sc->source_id = jpki_util_hex(p, md, 8);
}

/* JPKIStatusProvider crl: the index directory must be set and readable
 * (the indexes in it may come later: until then, no answer). */
static const char *crl_dir_problem(apr_pool_t *ptemp, const jpki_status_cfg_t *sc)
{
    apr_dir_t *d;
    apr_status_t rv;
    if (sc->crl_dir == NULL) {
        return "JPKICRLIndexDir is required with JPKIStatusProvider crl";
    }
    if ((rv = apr_dir_open(&d, sc->crl_dir, ptemp)) != APR_SUCCESS) {
        char buf[120];
        return apr_psprintf(ptemp, "JPKICRLIndexDir %s: not a readable directory (%s)", sc->crl_dir,
                            apr_strerror(rv, buf, sizeof(buf)));
    }
    apr_dir_close(d);
    return NULL;
}

/* Startup: say which roots have no index yet (not fatal: the indexer may
 * run after httpd; until then those roots' certificates get no answer). */
static void crl_dir_warn(apr_pool_t *ptemp, server_rec *vs, const jpki_srv_cfg_t *c)
{
    const jpki_status_cfg_t *sc = c->status_cfg;
    int i;
    for (i = 0; c->trust && i < c->trust->anchors->nelts; i++) {
        const jpki_anchor_t *a = &APR_ARRAY_IDX(c->trust->anchors, i, jpki_anchor_t);
        const char *f =
            a->key_id ? apr_pstrcat(ptemp, sc->crl_dir, "/", a->key_id, ".crlidx", NULL) : NULL;
        if (f != NULL && !readable(ptemp, f)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs,
                         JPKI_LOGNO(1303) "JPKICRLIndexDir %s has no index for the root %s "
                                          "(%s): its certificates get no status answer until "
                                          "jpki-crl-index writes %s",
                         sc->crl_dir, a->key_id, a->file ? a->file : "JPKITrustedCA", f);
        }
    }
}

/* A host with a status provider but no JPKITrustedCA: usually the provider
 * is set in the main server (e.g. a conf-enabled file) and the trust
 * anchors only in the TLS virtual host, so the main server lacks them.
 * Say which host, where each directive is, and the two ways out. */
static int no_trust(apr_pool_t *ptemp, server_rec *vs, const jpki_srv_cfg_t *c)
{
    const ap_directive_t *prov = jpki_cfg_tree_server_dir(vs, "JPKIStatusProvider");
    const ap_directive_t *ca = jpki_cfg_tree_find_any(ptemp, "JPKITrustedCA");
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                 JPKI_LOGNO(0503) "%s has no JPKITrustedCA, but JPKIStatusProvider %s (%s) "
                                  "applies to it%s%s. Add JPKITrustedCA to %s, or move "
                                  "JPKIStatusProvider and its settings into the virtual hosts "
                                  "that have JPKITrustedCA.",
                 jpki_cfg_host_desc(ptemp, vs),
                 c->status_provider == JPKI_STATUS_PROVIDER_OCSP  ? "ocsp"
                 : c->status_provider == JPKI_STATUS_PROVIDER_CRL ? "crl"
                                                                  : "platform",
                 jpki_cfg_tree_where(ptemp, prov), ca ? "; JPKITrustedCA is set only at " : "",
                 ca ? jpki_cfg_tree_where(ptemp, ca) : "",
                 vs->is_virtual ? "that <VirtualHost> or the main server" : "the main server");
    return HTTP_INTERNAL_SERVER_ERROR;
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
            } else if (sc->pf_token_file == NULL) {
                what = "JPKIPlatformTokenFile is required with JPKIStatusProvider platform "
                       "(the bearer token is never written in httpd.conf)";
            } else if (sc->pf_ca == NULL) {
                what = "JPKIPlatformCA is required with JPKIStatusProvider platform (the "
                       "platform operator's CA is pinned)";
            } else if (!readable(ptemp, sc->pf_ca)) {
                what = apr_psprintf(ptemp, "JPKIPlatformCA %s: not a readable file", sc->pf_ca);
            } else if (sc->pf_client_cert && (!readable(ptemp, sc->pf_client_cert) ||
                                              !readable(ptemp, sc->pf_client_key))) {
                what = "JPKIPlatformClientCert: certificate or key is not a readable file";
            } else if ((sc->pf_token = jpki_util_read_token(pconf, sc->pf_token_file, &err)) ==
                       NULL) {
                what = apr_psprintf(ptemp, "JPKIPlatformTokenFile %s %s", sc->pf_token_file, err);
            }
        } else if (c->status_provider == JPKI_STATUS_PROVIDER_OCSP) {
            if (sc->ocsp_url == NULL) {
                what = "JPKIOCSPResponder is required with JPKIStatusProvider ocsp";
            } else if (strncasecmp(sc->ocsp_url, "https:", 6) == 0 && sc->pf_ca == NULL) {
                what = "an https JPKIOCSPResponder needs JPKIPlatformCA (the CA its TLS "
                       "certificate is pinned to)";
            } else if ((err = load_signers(pconf, vs, sc)) != NULL) {
                what = err;
            } else if (sc->ocsp_nonce == 0 && jpki_status_ocsp_max_age(sc) < 0) {
                ap_log_error(
                    APLOG_MARK, APLOG_WARNING, 0, vs,
                    JPKI_LOGNO(0583) "JPKIOCSPRequireNonce Off with JPKIOCSPMaxAge "
                                     "off: a recorded answer can be replayed until its nextUpdate");
            }
        } else if (c->status_provider == JPKI_STATUS_PROVIDER_CRL) {
            what = crl_dir_problem(ptemp, sc);
        } else {
            continue;
        }
        if (what != NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs, JPKI_LOGNO(0502) "%s", what);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (c->trust == NULL) {
            return no_trust(ptemp, vs, c);
        }
        make_source_id(pconf, sc, c->status_provider);
        if (c->status_provider == JPKI_STATUS_PROVIDER_CRL) {
            crl_dir_warn(ptemp, vs, c);
        }
    }
    return OK;
}

int jpki_cfg_status_ttl_good(const jpki_status_cfg_t *sc)
{
    return jpki_cfg_int_or(sc->ttl_good, JPKI_DEFAULT_TTL_GOOD);
}

int jpki_cfg_status_ttl_revoked(const jpki_status_cfg_t *sc)
{
    return jpki_cfg_int_or(sc->ttl_revoked, JPKI_DEFAULT_TTL_REVOKED);
}

int jpki_cfg_status_breaker_failures(const jpki_status_cfg_t *sc)
{
    return jpki_cfg_int_or(sc->breaker_failures, JPKI_DEFAULT_BREAKER_N);
}

int jpki_cfg_status_breaker_secs(const jpki_status_cfg_t *sc)
{
    return jpki_cfg_int_or(sc->breaker_secs, JPKI_DEFAULT_BREAKER_SECS);
}

int jpki_cfg_status_ocsp_skew(const jpki_status_cfg_t *sc)
{
    return jpki_cfg_int_or(sc->ocsp_skew, JPKI_DEFAULT_OCSP_SKEW);
}

int jpki_cfg_status_crl_interval(const jpki_status_cfg_t *sc)
{
    return jpki_cfg_int_or(sc->crl_interval, JPKI_DEFAULT_CRL_INTERVAL);
}

int jpki_cfg_status_grace(const jpki_status_cfg_t *sc)
{
    return sc->fail_mode == 1 ? sc->grace_secs : 0;
}
