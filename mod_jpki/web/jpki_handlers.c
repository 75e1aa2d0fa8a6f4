/*
 * The JSON endpoints of the HTTP contract (docs/http-contract.md).
 */
#include "web/jpki_handlers.h"
#include "steps/jpki_challenge.h"
#include "login/jpki_pipeline.h"
#include "infra/jpki_http_json.h"
#include "core/jpki_login_core.h"
#include "steps/jpki_session.h"

int jpki_handlers_challenge(request_rec *r)
{
    apr_status_t rv;
    const char *text;
    json_t *o;
    if (r->method_number != M_GET) {
        apr_table_setn(r->err_headers_out, "Allow", "GET");
        return jpki_json_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                               "Use GET to obtain a challenge.");
    }
    text = jpki_challenge_issue(r, &rv);
    if (text == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      JPKI_LOGNO(0302) "cannot store a challenge (JPKICache)");
        return jpki_json_error(r, HTTP_SERVICE_UNAVAILABLE, "cache_unavailable",
                               "The login service is temporarily unavailable.");
    }
    o = json_object();
    json_object_set_new(o, "challenge", json_string(text));
    json_object_set_new(o, "expires_in",
                        json_integer(jpki_cfg_challenge_lifetime(jpki_srv_cfg(r->server))));
    json_object_set_new(o, "digest", json_string("sha256"));
    return jpki_json_send(r, HTTP_OK, o);
}

static int bad_request(request_rec *r, const char *code, const char *why)
{
    jpki_pipeline_refused(r, "challenge", code, NULL, why);
    return jpki_json_error(r, HTTP_BAD_REQUEST, code, why);
}

int jpki_handlers_login(request_rec *r)
{
    char *body;
    apr_size_t len;
    int rc;
    json_t *o;
    const char *why = NULL, *code;
    jpki_login_body_t in;
    jpki_step_err_t err;
    jpki_identity_t id;
    jpki_session_t *sess;

    if ((rc = jpki_json_post_check(r)) != DECLINED) {
        return rc;
    }
    rc = jpki_json_read_body(r, JPKI_LOGIN_MAX_BODY, &body, &len);
    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        jpki_pipeline_refused(r, "challenge", "body_too_large", NULL, "body over 64 KiB");
        return jpki_json_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                               "The request body is larger than 64 KiB.");
    }
    if (rc != OK) {
        return bad_request(r, "malformed_request", "the request body could not be read");
    }
    /* Typed, bounded fields; client_data's content is checked only after
     * the challenge is consumed (jpki_pipeline_challenge). */
    if ((code = jpki_login_body_parse(r->pool, body, len, &in, &why)) != NULL) {
        return bad_request(r, code, why);
    }
    if (!jpki_pipeline_challenge(r, JPKI_CERT_TYPE_AUTH, in.challenge, in.client_data,
                                 in.certificate, in.signature, in.signature_len, &id, &err)) {
        return jpki_json_error(r, jpki_pipeline_http_status(&err, "challenge"), err.code,
                               jpki_pipeline_message(err.code));
    }
    if (jpki_session_create(r, &id, &sess) != APR_SUCCESS) {
        return jpki_json_error(r, HTTP_SERVICE_UNAVAILABLE, "session_unavailable",
                               "The session store is unavailable.");
    }
    o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    json_object_set_new(o, "redirect", json_string(in.return_to ? in.return_to : "/"));
    if (id.registration) { /* accounts: the site's sign-up page comes next */
        json_object_set_new(o, "registration", json_true());
    }
    return jpki_json_send(r, HTTP_OK, o);
}

/* Logout only from this site's own pages, so a cross-site form or fetch
 * cannot log users out (docs/http-contract.md). Browsers send Origin with
 * every POST and Sec-Fetch-Site with every request; a client that sends
 * neither (curl, tools/jpki-login) is not a page a third party controls.
 * Returns the header that shows a cross-site request, or NULL. */
static const char *logout_cross_site(request_rec *r)
{
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *host = apr_table_get(r->headers_in, "Host");
    if (site != NULL && strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0) {
        return "Sec-Fetch-Site";
    }
    if (origin != NULL &&
        (host == NULL ||
         strcasecmp(origin, apr_pstrcat(r->pool, ap_http_scheme(r), "://", host, NULL)) != 0)) {
        return "Origin";
    }
    return NULL;
}

int jpki_handlers_logout(request_rec *r)
{
    json_t *o;
    const char *why;
    if (r->method_number != M_POST) {
        apr_table_setn(r->err_headers_out, "Allow", "POST");
        return jpki_json_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                               "Use POST to log out.");
    }
    if ((why = logout_cross_site(r)) != NULL) {
        const char *v = apr_table_get(r->headers_in, why);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      JPKI_LOGNO(0425) "logout refused (" JPKI_E_LOGOUT_CROSS_SITE "): %s: %.100s",
                      why, ap_escape_logitem(r->pool, v));
        return jpki_json_error(r, HTTP_FORBIDDEN, JPKI_E_LOGOUT_CROSS_SITE,
                               "Log out from this site's own pages.");
    }
    jpki_session_destroy(r);
    o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    return jpki_json_send(r, HTTP_OK, o);
}

/* GET: does this browser have a session on this host? {"logged_in": bool}
 * and nothing about whom (the login page shows its Log out link with it;
 * docs/login-page.md). Read-only apart from what any request with the
 * session does (an expired record is removed); no CORS, so only this
 * origin's pages can read the answer. */
int jpki_handlers_session(request_rec *r)
{
    jpki_session_t *sess = NULL;
    jpki_session_state_e st;
    json_t *o;
    if (r->method_number != M_GET) {
        apr_table_setn(r->err_headers_out, "Allow", "GET");
        return jpki_json_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                               "Use GET to ask for the login state.");
    }
    st = jpki_session_load(r, &sess);
    if (st == JPKI_SESSION_BACKEND_ERR) {
        return jpki_json_error(r, HTTP_SERVICE_UNAVAILABLE, "session_unavailable",
                               "The session store is unavailable.");
    }
    o = json_object();
    json_object_set_new(o, "logged_in", json_boolean(st == JPKI_SESSION_OK));
    return jpki_json_send(r, HTTP_OK, o);
}
