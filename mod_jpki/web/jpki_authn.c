/*
 * AuthType JPKI: a valid session, or a TLS client certificate (mod_ssl with
 * SSLVerifyClient optional_no_ca, so mod_jpki and not mod_ssl decides), or
 * a redirect to the login page.
 *
 * Subrequests and internal redirects inherit the earlier request's user
 * only when mod_jpki itself authenticated that request under the same
 * per-directory configuration; any other user (Basic auth, SSLUserName,
 * another module) gets the full check (docs/security.md).
 */
#include "web/jpki_authn.h"
#include "steps/account/jpki_account.h"
#include "steps/status/jpki_status.h"
#include "login/jpki_pipeline.h"
#include "infra/jpki_http_json.h"
#include "infra/jpki_refusal.h"
#include "steps/jpki_session.h"

#include "http_ssl.h"
#include "core/jpki_cert.h"

/* What a successful AuthType JPKI check leaves on its request (pool
 * userdata keyed by the request_rec: internal redirects share the pool). */
typedef struct {
    const char *user;          /* r->user as mod_jpki set it (NULL: none) */
    const jpki_dir_cfg_t *dir; /* the configuration it was checked under */
} authn_mark_t;

#define NOTE_AUTHN_USER "jpki-authn-user"

static const char *mark_key(const request_rec *r)
{
    return apr_psprintf(r->pool, "jpki-authn-%pp", (const void *)r);
}

static void mark_set(request_rec *r)
{
    authn_mark_t *k = apr_palloc(r->pool, sizeof(*k));
    k->user = r->user;
    k->dir = jpki_dir_cfg(r);
    apr_pool_userdata_set(k, mark_key(r), NULL, r->pool);
    if (r->user != NULL) {
        /* notes travel with mod_dir's "fast redirect" (jpki_authn_fixups) */
        apr_table_setn(r->notes, NOTE_AUTHN_USER, r->user);
    }
}

static const authn_mark_t *mark_get(request_rec *r)
{
    void *v = NULL;
    apr_pool_userdata_get(&v, mark_key(r), r->pool);
    return v;
}

/* The earlier request's user, if mod_jpki authenticated exactly that user
 * on it under this very configuration (as httpd core inherits only across
 * an identical per-directory configuration). */
static int inherit(request_rec *r)
{
    request_rec *m = r->prev ? r->prev : r->main;
    const authn_mark_t *k;

    if (m == NULL || m->user == NULL) {
        return 0;
    }
    k = mark_get(m);
    if (k == NULL || k->user == NULL || strcmp(k->user, m->user) != 0 ||
        k->dir != jpki_dir_cfg(r) || m->ap_auth_type == NULL ||
        strcasecmp(m->ap_auth_type, "JPKI") != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      JPKI_LOGNO(0210) "user of the earlier request not inherited (%s): "
                                       "full AuthType JPKI check",
                      k == NULL ? "not authenticated by mod_jpki" : "other user or configuration");
        return 0;
    }
    r->user = m->user;
    r->ap_auth_type = m->ap_auth_type;
    mark_set(r);
    return 1;
}

/* A JSON client gets the one JSON error body; a browser the bilingual
 * refusal page (unless an ErrorDocument is set: infra/jpki_refusal.c). */
static int refuse(request_rec *r, int status, const char *code, const char *msg)
{
    apr_table_setn(r->err_headers_out, "X-JPKI-Error", code);
    apr_table_setn(r->notes, "jpki-error", code);
    if (jpki_json_wanted(r)) {
        ap_custom_response(r, status, jpki_json_error_body(r->pool, code, msg));
    } else {
        jpki_refusal_page(r, status, code, jpki_dir_cfg(r)->login_page);
    }
    return status;
}

static int login_required(request_rec *r)
{
    jpki_dir_cfg_t *d = jpki_dir_cfg(r);
    if (d->login_page == NULL) {
        /* Certificate-only location: no certificate is a refusal. */
        jpki_pipeline_refused(r, "tls", JPKI_E_CERT_MISSING, NULL,
                              "no session and no client certificate");
        return refuse(r, HTTP_FORBIDDEN, JPKI_E_CERT_MISSING,
                      jpki_pipeline_message(JPKI_E_CERT_MISSING));
    }
    if (jpki_json_wanted(r) || r->method_number != M_GET) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", "JPKI");
        if (r->main == NULL) {
            /* The JSON body the contract promises, as application/json
             * whatever the Accept header says (an error document would be
             * text/html): answered here, the request ends (DONE). */
            apr_table_setn(r->notes, "jpki-error", "login_required");
            jpki_json_error(r, HTTP_UNAUTHORIZED, "login_required",
                            "Log in with your My Number Card.");
            return DONE;
        }
        return refuse(r, HTTP_UNAUTHORIZED, "login_required", "Log in with your My Number Card.");
    }
    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, d->login_page, ap_strchr_c(d->login_page, '?') ? "&" : "?",
                               "return_to=", ap_escape_urlencoded(r->pool, r->unparsed_uri), NULL));
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    return HTTP_MOVED_TEMPORARILY;
}

static int authn_tls(request_rec *r, const char *pem)
{
    const char *code = NULL, *msg = NULL;
    int rc = jpki_pipeline_tls(r, pem, &code, &msg);
    if (rc != OK) {
        return refuse(r, rc, code, msg);
    }
    mark_set(r);
    return OK;
}

/* Does the session belong to the certificate this connection presents?
 * Compared by the normalised serial (issuer key id + serial). */
static int session_is_cert(request_rec *r, const jpki_session_t *sess, const char *pem)
{
    const char *code = NULL, *detail = NULL;
    jpki_cert_t *c = jpki_cert_parse(r->pool, pem, strlen(pem), &code, &detail);
    return c != NULL && c->serial != NULL && sess->ident.serial != NULL &&
           strcmp(c->serial, sess->ident.serial) == 0;
}

static int authn_session(request_rec *r, jpki_session_t *sess)
{
    const char *code = NULL, *msg = NULL;
    int rc = jpki_pipeline_session(r, sess, &code, &msg);
    if (rc != OK) {
        return refuse(r, rc, code, msg);
    }
    mark_set(r);
    return OK;
}

int jpki_authn_check(request_rec *r)
{
    const char *type = ap_auth_type(r);
    jpki_session_t *sess = NULL;
    jpki_session_state_e state;
    const char *pem;

    if (type == NULL || strcasecmp(type, "JPKI") != 0) {
        return DECLINED;
    }
    if (!ap_is_initial_req(r) && inherit(r)) {
        return OK;
    }
    pem = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_CERT");
    if (pem != NULL && *pem == '\0') {
        pem = NULL;
    }
    state = jpki_session_load(r, &sess);
    if (state == JPKI_SESSION_OK && pem != NULL && !session_is_cert(r, sess, pem)) {
        /* A client certificate is the card, here and now: a session cookie
         * of another identity (planted, or left from another card) does
         * not override it (docs/security.md). */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0211) "session %s is not the presented client certificate's: "
                                       "the certificate is checked instead",
                      jpki_session_log_id(r->pool, sess->id));
        state = JPKI_SESSION_NONE;
    }
    switch (state) {
    case JPKI_SESSION_OK:
        return authn_session(r, sess);
    case JPKI_SESSION_BACKEND_ERR:
        return refuse(r, HTTP_SERVICE_UNAVAILABLE, "session_unavailable",
                      "The session store is unavailable.");
    case JPKI_SESSION_SCOPE: /* another host's or another policy's session (jpki_scope.h) */
        jpki_session_forget(r);
        return refuse(r, HTTP_FORBIDDEN, JPKI_E_SESSION_SCOPE,
                      "This session belongs to another site. Log in again.");
    default:
        break;
    }
    if (pem != NULL) {
        return authn_tls(r, pem);
    }
    return login_required(r);
}

/* The user an AuthType JPKI request runs as must be the one mod_jpki
 * authenticated: on this request, or on the earlier one httpd core let it
 * inherit from (identical configuration, so mod_jpki's check is not run
 * again). mod_dir's DirectoryIndex "fast redirect" copies a subrequest's
 * configuration, environment and notes onto the request but not its user:
 * the user of the subrequest's JPKI check is set. Any other user (set by
 * another module where AuthType JPKI did not have to run, e.g. SSLUserName
 * under "Require all granted") is removed: REMOTE_USER on an AuthType JPKI
 * location always comes from mod_jpki. Runs after every other fixup. */
int jpki_authn_fixups(request_rec *r)
{
    const char *type = ap_auth_type(r);
    const authn_mark_t *k;
    const char *note;
    request_rec *q;

    if (type == NULL || strcasecmp(type, "JPKI") != 0 || r->user == NULL) {
        return DECLINED;
    }
    for (q = r; q != NULL; q = q->prev ? q->prev : q->main) {
        k = mark_get(q);
        if (k != NULL && k->user != NULL && strcmp(k->user, r->user) == 0) {
            return DECLINED;
        }
        if (q->user == NULL || strcmp(q->user, r->user) != 0) {
            break;
        }
    }
    note = apr_table_get(r->notes, NOTE_AUTHN_USER);
    if (note != NULL) {
        r->user = apr_pstrdup(r->pool, note);
        r->ap_auth_type = "JPKI";
        mark_set(r);
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  JPKI_LOGNO(0212) "AuthType JPKI location: a user that mod_jpki did not "
                                   "authenticate (set by another module) is removed");
    r->user = NULL;
    return DECLINED;
}
