/*
 * AuthType JPKI: a valid session, or a TLS client certificate (mod_ssl with
 * SSLVerifyClient optional_no_ca, so mod_jpki and not mod_ssl decides), or
 * a redirect to the login page.
 */
#include "jpki_authn.h"
#include "jpki_account.h"
#include "jpki_status.h"
#include "jpki_flow.h"
#include "jpki_http_json.h"
#include "jpki_session.h"

#include "http_ssl.h"

static int refuse(request_rec *r, int status, const char *code, const char *msg)
{
    apr_table_setn(r->err_headers_out, "X-JPKI-Error", code);
    apr_table_setn(r->notes, "jpki-error", code);
    if (jpki_json_wanted(r)) {
        ap_custom_response(r, status,
                           apr_psprintf(r->pool, "{\"error\":\"%s\",\"message\":\"%s\"}\n", code,
                                        msg));
    }
    return status;
}

static int login_required(request_rec *r)
{
    jpki_dir_cfg_t *d = jpki_dir_cfg(r);
    if (d->login_page == NULL) {
        /* Certificate-only location: no certificate is a refusal. */
        jpki_flow_refused(r, "tls", JPKI_E_CERT_MISSING, NULL,
                          "no session and no client certificate");
        return refuse(r, HTTP_FORBIDDEN, JPKI_E_CERT_MISSING, jpki_flow_message(JPKI_E_CERT_MISSING));
    }
    if (jpki_json_wanted(r) || r->method_number != M_GET) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", "JPKI");
        return refuse(r, HTTP_UNAUTHORIZED, "login_required", "Log in with your My Number Card.");
    }
    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, d->login_page,
                               ap_strchr_c(d->login_page, '?') ? "&" : "?", "return_to=",
                               ap_escape_urlencoded(r->pool, r->unparsed_uri), NULL));
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    return HTTP_MOVED_TEMPORARILY;
}

static int authn_tls(request_rec *r, const char *pem)
{
    jpki_flow_in_t in;
    jpki_flow_err_t err;
    jpki_identity_t id;
    jpki_session_t *sess;

    memset(&in, 0, sizeof(in));
    in.method = "tls";
    in.expected = JPKI_CERT_TYPE_AUTH;
    in.cert = pem;
    in.cert_len = strlen(pem);
    if (!jpki_flow_login(r, &in, &id, &err)) {
        return refuse(r, jpki_flow_http_status(&err, "tls"), err.code,
                      jpki_flow_message(err.code));
    }
    /* Both proofs end in one session model. */
    if (jpki_session_create(r, &id, &sess) != APR_SUCCESS) {
        return refuse(r, HTTP_SERVICE_UNAVAILABLE, "session_unavailable",
                      "The session store is unavailable.");
    }
    /* accounts: registration sessions, signing proofs (jpki_account.c) */
    if ((sess->ident.registration || jpki_account_wants_signing(r))) {
        const char *code = NULL;
        int rc = sess->ident.registration ? jpki_account_registration(r, sess, &code)
                                          : jpki_register_signing(r, sess, &code);
        if (rc != OK) {
            return refuse(r, rc, code, jpki_flow_message(code));
        }
    }
    jpki_identity_export(r, &id);
    return OK;
}

int jpki_authn_check(request_rec *r)
{
    const char *type = ap_auth_type(r);
    jpki_session_t *sess = NULL;
    const char *pem;

    if (type == NULL || strcasecmp(type, "JPKI") != 0) {
        return DECLINED;
    }
    /* Subrequests and internal redirects inherit the main request's user. */
    if (!ap_is_initial_req(r)) {
        request_rec *m = r->main ? r->main : r->prev;
        if (m && m->user) {
            r->user = m->user;
            r->ap_auth_type = m->ap_auth_type;
            return OK;
        }
    }
    switch (jpki_session_load(r, &sess)) {
    case JPKI_SESSION_OK: {
        const char *code = NULL;
        int rc;
        /* A revoked card or a removed account ends the session. */
        if ((rc = jpki_status_session(r, sess, &code)) != OK ||
            (rc = jpki_account_session(r, sess, &code)) != OK) {
            if (rc != HTTP_SERVICE_UNAVAILABLE) {
                jpki_session_destroy(r);
            }
            return refuse(r, rc, code, jpki_flow_message(code));
        }
        /* accounts: registration sessions only where JPKIRegistration allows
         * them; the signing proof where it is required (jpki_account.c) */
        if (sess->ident.registration || jpki_account_wants_signing(r)) {
            rc = sess->ident.registration ? jpki_account_registration(r, sess, &code)
                                          : jpki_register_signing(r, sess, &code);
            if (rc != OK) {
                return refuse(r, rc, code, jpki_flow_message(code));
            }
        }
        jpki_identity_export(r, &sess->ident);
        return OK;
    }
    case JPKI_SESSION_BACKEND_ERR:
        return refuse(r, HTTP_SERVICE_UNAVAILABLE, "session_unavailable",
                      "The session store is unavailable.");
    case JPKI_SESSION_SCOPE: /* another host's session (jpki_scope.h): H2, issue 9 item 3 */
        jpki_session_forget(r);
        return refuse(r, HTTP_FORBIDDEN, JPKI_E_SESSION_SCOPE,
                      "This session belongs to another site. Log in again.");
    default:
        break;
    }
    pem = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_CERT");
    if (pem != NULL && *pem) {
        return authn_tls(r, pem);
    }
    return login_required(r);
}
