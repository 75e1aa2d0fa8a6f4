/*
 * Identity headers: inbound spoofed identity headers (and trailers) are
 * scrubbed before any other module looks; the identity is exported as
 * request headers in fixups, for backends behind a proxy (JPKIPassIdentityAs).
 */
#include "web/jpki_web.h"
#include "steps/jpki_identity.h"
#include "infra/jpki_metrics.h"
#include "core/jpki_export_util.h"

/* This request's identity (*own = 1), or the one a subrequest or internal
 * redirect inherits: only when httpd (or AuthType JPKI) carried the same
 * user over, so an ErrorDocument in a public location gets nothing. */
static const jpki_identity_t *find_identity(request_rec *r, int *own)
{
    void *v = NULL;
    request_rec *q;
    apr_pool_userdata_get(&v, jpki_identity_key(r->pool, r), r->pool);
    if (v != NULL) {
        *own = 1;
        return v;
    }
    *own = 0;
    for (q = r->main ? r->main : r->prev; q != NULL; q = q->main ? q->main : q->prev) {
        apr_pool_userdata_get(&v, jpki_identity_key(q->pool, q), q->pool);
        if (v != NULL) {
            const jpki_identity_t *id = v;
            if (r->user != NULL && id->account != NULL && !id->registration &&
                strcmp(r->user, id->account) == 0) {
                return id;
            }
            return NULL;
        }
    }
    return NULL;
}

/* --- configuration -------------------------------------------------------- */

/* --- request time ----------------------------------------------------------- */

#define NOTE_EXPORTED "jpki-exported-headers"

/* Headers mod_jpki itself set on an earlier request that shares or copied
 * this headers_in table (internal redirect, subrequest): removed too, but
 * not reported as a spoofing attempt. */
static int exported_before(request_rec *r, const char *norm)
{
    request_rec *q;
    for (q = r->main ? r->main : r->prev; q != NULL; q = q->main ? q->main : q->prev) {
        const char *list = apr_table_get(q->notes, NOTE_EXPORTED);
        if (list != NULL) {
            const char *p = list;
            apr_size_t n = strlen(norm);
            while ((p = strstr(p, norm)) != NULL) {
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) {
                    return 1;
                }
                p += n;
            }
        }
    }
    return 0;
}

static void scrub(request_rec *r)
{
    jpki_identity_srv_t *sc = jpki_srv_cfg(r->server)->identity;
    const apr_array_header_t *h = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    apr_array_header_t *gone = NULL;
    const char *reported = NULL;
    int i, spoofed = 0;

    if (sc == NULL || sc->scrub_prefixes == NULL || sc->scrub == 0) {
        return; /* check_config always sets the lists; Off: a trusted backend host */
    }
    for (i = 0; i < h->nelts; i++) {
        const char *norm;
        if (e[i].key == NULL) {
            continue;
        }
        norm = jpki_export_normalise(r->pool, e[i].key);
        if (jpki_export_name_matches(norm, sc->scrub_prefixes, sc->scrub_names)) {
            if (gone == NULL) {
                gone = apr_array_make(r->pool, 4, sizeof(const char *));
            }
            APR_ARRAY_PUSH(gone, const char *) = e[i].key;
            if (!exported_before(r, norm)) {
                spoofed++;
                reported =
                    reported ? apr_pstrcat(r->pool, reported, " ", e[i].key, NULL) : e[i].key;
            }
        }
    }
    if (gone == NULL) {
        return;
    }
    for (i = 0; i < gone->nelts; i++) {
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(gone, i, const char *));
    }
    if (spoofed > 0) {
        /* Names only: the values are the attacker's and may be anything. */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0801) "removed %d inbound header(s) that could be mistaken for "
                                       "mod_jpki's identity headers: %s",
                      spoofed, ap_escape_logitem(r->pool, reported));
        jpki_metrics_scrubbed(r->server, spoofed);
    }
}

/* Every request read from the client, and every internal redirect
 * (ap_internal_redirect runs post_read_request on the new request): before
 * translate_name, so mod_rewrite conditions never see a spoofed header. */
static int identity_post_read_request(request_rec *r)
{
    scrub(r);
    /* and the trailers of a chunked body, when the body has been read */
    jpki_identity_trailers_insert(r);
    return DECLINED;
}

/* Every request including subrequests (which copy headers_in and skip
 * post_read_request), after the per-directory configuration is known and
 * before authentication. */
static int identity_post_perdir_config(request_rec *r)
{
    scrub(r);
    return DECLINED;
}

/* Last fixup: hand every JPKI_* variable (and REMOTE_USER) to the backend
 * as request headers when asked to, after every module had its say. */
static int identity_fixups(request_rec *r)
{
    jpki_identity_dir_t *d = jpki_dir_cfg(r)->identity;
    int own = 0, pass = (d && d->pass_as) ? d->pass_as : JPKI_PASS_ENV;
    const jpki_identity_t *id = find_identity(r, &own);
    const apr_array_header_t *env;
    const apr_table_entry_t *e;
    apr_array_header_t *vars;
    const char *exported = NULL;
    int i;

    if (id == NULL) {
        return DECLINED;
    }
    if (!own) {
        /* A redirect renames the variables REDIRECT_JPKI_*: set them again. */
        jpki_identity_export_env(r, id);
    }
    env = apr_table_elts(r->subprocess_env);
    e = (const apr_table_entry_t *)env->elts;
    vars = apr_array_make(r->pool, 16, sizeof(const char *));
    for (i = 0; i < env->nelts; i++) {
        if (e[i].key != NULL && strncmp(e[i].key, "JPKI_", 5) == 0) {
            APR_ARRAY_PUSH(vars, const char *) = e[i].key;
        }
    }
    if (pass & JPKI_PASS_HEADERS) {
        const char *prefix = jpki_cfg_header_prefix(d);
        const char *uh = jpki_cfg_remote_user_header(d);
        if (r->user != NULL) {
            apr_table_set(r->headers_in, uh, jpki_export_header_value(r->pool, r->user));
            exported = jpki_export_normalise(r->pool, uh);
        }
        for (i = 0; i < vars->nelts; i++) {
            const char *var = APR_ARRAY_IDX(vars, i, const char *);
            const char *name = jpki_export_header_name(r->pool, prefix, var);
            const char *val = apr_table_get(r->subprocess_env, var);
            if (name == NULL || val == NULL) {
                continue;
            }
            apr_table_set(r->headers_in, name, jpki_export_header_value(r->pool, val));
            name = jpki_export_normalise(r->pool, name);
            exported = exported ? apr_pstrcat(r->pool, exported, " ", name, NULL) : name;
        }
        if (exported != NULL) {
            apr_table_setn(r->notes, NOTE_EXPORTED, exported);
        }
    }
    if (!(pass & JPKI_PASS_ENV)) {
        for (i = 0; i < vars->nelts; i++) {
            apr_table_unset(r->subprocess_env, APR_ARRAY_IDX(vars, i, const char *));
        }
    }
    return DECLINED;
}

void jpki_identity_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* First: before mod_setenvif, mod_headers (early) or mod_rewrite look. */
    ap_hook_post_read_request(identity_post_read_request, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_post_perdir_config(identity_post_perdir_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(identity_fixups, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_check_config(jpki_cfg_export_check, NULL, NULL, APR_HOOK_MIDDLE);
    jpki_identity_trailers_register(p);
}

/* --- trailers ---------------------------------------------------------------- */

/*
 * Identity headers as request trailers (docs/security.md).
 *
 * With "MergeTrailers on", httpd's HTTP_IN filter adds a chunked body's
 * trailers to r->headers_in when it reads the end of the body: long after
 * the inbound scrub (post_read_request / post_perdir_config), so a client
 * could bring X-Remote-User, X-JPKI-* ... back for every module that looks
 * at the request headers after the body (mod_headers at response time,
 * the access log, handlers that read the body first). This protocol input
 * filter sits right above HTTP_IN: when the end of the body comes up, it
 * removes the matching names from r->trailers_in and, if httpd merged
 * them, rebuilds the merge (the headers as they were before the end of
 * the body + the remaining trailers), so nothing in between ever sees them.
 * Installed by post_read_request on every request and internal redirect
 * with a chunked body.
 */

#define TRAILERS_FILTER "JPKI_SCRUB_TRAILERS"

static ap_filter_rec_t *trailers_filter;

/* Remove the identity-like trailers; returns the names removed (or NULL). */
static const char *scrub_table(request_rec *r, apr_table_t *t, int *n)
{
    const jpki_identity_srv_t *sc = jpki_srv_cfg(r->server)->identity;
    const apr_array_header_t *h = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    apr_array_header_t *gone = apr_array_make(r->pool, 2, sizeof(const char *));
    const char *names = NULL;
    int i;

    for (i = 0; i < h->nelts; i++) {
        if (e[i].key != NULL && jpki_export_name_matches(jpki_export_normalise(r->pool, e[i].key),
                                                         sc->scrub_prefixes, sc->scrub_names)) {
            APR_ARRAY_PUSH(gone, const char *) = e[i].key;
            names = names ? apr_pstrcat(r->pool, names, " ", e[i].key, NULL) : e[i].key;
        }
    }
    for (i = 0; i < gone->nelts; i++) {
        apr_table_unset(t, APR_ARRAY_IDX(gone, i, const char *));
    }
    *n = gone->nelts;
    return names;
}

static void scrub_trailers(request_rec *r, apr_table_t *before)
{
    int n = 0;
    const char *names;

    if (r->trailers_in == NULL || apr_is_empty_table(r->trailers_in)) {
        return;
    }
    names = scrub_table(r, r->trailers_in, &n);
    if (names == NULL) {
        return;
    }
    if (r->headers_in != before) {
        /* MergeTrailers on: httpd replaced headers_in by before + trailers */
        r->headers_in = apr_table_overlay(r->pool, before, r->trailers_in);
    }
    /* Names only: the values are the client's and may be anything. */
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  JPKI_LOGNO(0820) "removed %d request trailer(s) that could be mistaken for "
                                   "mod_jpki's identity headers: %s",
                  n, ap_escape_logitem(r->pool, names));
    jpki_metrics_scrubbed(r->server, n);
}

static apr_status_t trailers_in_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                       apr_read_type_e block, apr_off_t readbytes)
{
    request_rec *r = f->r;
    apr_table_t *before = r ? r->headers_in : NULL;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    apr_bucket *b;

    if (rv != APR_SUCCESS || r == NULL) {
        return rv;
    }
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_EOS(b)) {
            scrub_trailers(r, before);
            ap_remove_input_filter(f);
            break;
        }
    }
    return rv;
}

void jpki_identity_trailers_insert(request_rec *r)
{
    const jpki_identity_srv_t *sc = jpki_srv_cfg(r->server)->identity;
    if (r->main != NULL || sc == NULL || sc->scrub == 0 || sc->scrub_prefixes == NULL ||
        apr_table_get(r->headers_in, "Transfer-Encoding") == NULL) {
        return; /* trailers come only with a chunked body */
    }
    ap_add_input_filter_handle(trailers_filter, NULL, r, r->connection);
}

void jpki_identity_trailers_register(apr_pool_t *p)
{
    (void)p;
    /* Just above HTTP_IN (AP_FTYPE_PROTOCOL): a request-level filter, so it
     * is installed again on each internal redirect (post_read_request). */
    trailers_filter = ap_register_input_filter(TRAILERS_FILTER, trailers_in_filter, NULL,
                                               (ap_filter_type)(AP_FTYPE_PROTOCOL - 1));
}
