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
#include "steps/jpki_identity.h"
#include "core/jpki_export_util.h"
#include "infra/jpki_metrics.h"

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
