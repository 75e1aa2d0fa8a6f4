/*
 * THE login, top to bottom (docs/design.md): the only code that combines
 * steps. A challenge login and a TLS login: verify the proof (free, local)
 * -> the challenge -> the origin -> status (the paid check) -> account ->
 * session -> registration gate (with the signing proof) -> export. A
 * session request: status re-check -> account re-check -> save -> gate ->
 * export. web/ calls in here; the steps never call each other.
 */
#include "login/jpki_pipeline.h"
#include "steps/jpki_challenge.h"
#include "steps/status/jpki_status.h"
#include "steps/account/jpki_account.h"
#include "cfg/jpki_origin.h"
#include "core/jpki_login_core.h"
#include "core/jpki_errors.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_metrics.h"

const char *jpki_pipeline_message(const char *code)
{
    const char *msg;
    if ((msg = jpki_errors_message(code)) != NULL) {
        return msg;
    }
    return "The login was refused.";
}

int jpki_pipeline_http_status(const jpki_step_err_t *err, const char *method)
{
    switch (err->kind) {
    case JPKI_STEP_PROOF:
        return strcmp(method, "tls") == 0 ? HTTP_FORBIDDEN : HTTP_UNAUTHORIZED;
    case JPKI_STEP_MALFORMED:
        return HTTP_BAD_REQUEST;
    case JPKI_STEP_REFUSED:
        return HTTP_FORBIDDEN;
    case JPKI_STEP_UNAVAILABLE:
        return HTTP_SERVICE_UNAVAILABLE;
    default:
        return HTTP_OK;
    }
}

void jpki_pipeline_refused(request_rec *r, const char *method, const char *code, const char *serial,
                           const char *detail)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  JPKI_LOGNO(0201) "login refused: code=%s method=%s serial=%s: %s", code, method,
                  serial ? serial : "-", detail);
    jpki_audit_decision(r, "login_refused", code, method, serial, NULL);
    jpki_metrics_login(r->server, code);
}

static int refuse(request_rec *r, const jpki_step_in_t *in, const jpki_cert_t *c,
                  jpki_step_err_t *err, jpki_step_kind_e kind, const char *code, const char *detail)
{
    err->kind = kind;
    err->code = code;
    err->detail = detail;
    jpki_pipeline_refused(r, in->method, code, (c && c->serial) ? c->serial : NULL, detail);
    return 0;
}

int jpki_pipeline_login(request_rec *r, const jpki_step_in_t *in, jpki_identity_t *id,
                        jpki_step_err_t *err)
{
    jpki_srv_cfg_t *cfg = jpki_srv_cfg(r->server);
    const char *code = NULL, *detail = NULL;
    jpki_cert_t *c;
    jpki_status_result_t st;
    jpki_renewal_t renewal;
    apr_time_t now = apr_time_now();

    memset(err, 0, sizeof(*err));
    if (cfg->trust == NULL) {
        return refuse(r, in, NULL, err, JPKI_STEP_UNAVAILABLE, "not_configured",
                      "no JPKITrustedCA in this virtual host");
    }
    /* 1. Parse and validate locally (free). */
    c = jpki_cert_parse(r->pool, in->cert, in->cert_len, &code, &detail);
    if (c == NULL) {
        return refuse(r, in, NULL, err, JPKI_STEP_PROOF, code, detail);
    }
    if (!jpki_cert_verify(cfg->trust, r->pool, c, in->expected, now, &code, &detail)) {
        return refuse(r, in, c, err, JPKI_STEP_PROOF, code, detail);
    }
    /* 2. Proof of possession over our challenge (TLS: mod_ssl did it). */
    if (in->sig != NULL) {
        if (!jpki_sig_verify(c, in->signed_data, in->signed_len, in->sig, in->sig_len, &detail)) {
            return refuse(r, in, c, err, JPKI_STEP_PROOF, "signature_invalid", detail);
        }
    }
    /* 2b. ... made for this site: the origin the browser told the helper. */
    if (in->origin != NULL && !jpki_origin_allowed(r, in->origin)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      JPKI_LOGNO(0340) "client data origin %s is not one of this host's "
                                       "origins (%s): a challenge relayed through another site?",
                      in->origin,
                      apr_array_pstrcat(r->pool, jpki_origin_list(r->pool, r->server), ' '));
        return refuse(r, in, c, err, JPKI_STEP_PROOF, JPKI_E_ORIGIN_MISMATCH,
                      "the card signed for another origin");
    }
    jpki_identity_from_cert(id, c, in->method, now);

    /* 3. Revocation status: the paid step, only after every free check. */
    if (!jpki_status_login(r, c, in, id, &st, err)) {
        jpki_pipeline_refused(r, in->method, err->code, c->serial, err->detail);
        return 0;
    }
    /* 4. Account: serial -> account, following renewals. */
    jpki_status_renewal(&st, &renewal);
    if (!jpki_account_login(r, c, &renewal, id, err)) {
        jpki_pipeline_refused(r, in->method, err->code, c->serial, err->detail);
        return 0;
    }
    jpki_audit_decision(r, id->registration ? "registration" : "login_ok", "ok", in->method,
                        id->serial, id->account);
    jpki_metrics_login(r->server, "ok");
    return 1;
}

static int challenge_refused(request_rec *r, jpki_step_err_t *err, jpki_step_kind_e kind,
                             const char *code, const char *detail)
{
    memset(err, 0, sizeof(*err));
    err->kind = kind;
    err->code = code;
    err->detail = detail;
    jpki_pipeline_refused(r, "challenge", code, NULL, detail);
    return 0;
}

int jpki_pipeline_challenge(request_rec *r, jpki_cert_type_e expected, const char *challenge,
                            const char *client_data, const char *cert, const unsigned char *sig,
                            apr_size_t sig_len, jpki_identity_t *id, jpki_step_err_t *err)
{
    const unsigned char *nonce;
    apr_size_t nonce_len;
    jpki_step_in_t in;
    jpki_clientdata_t cd;
    const char *why;
    /* The challenge is spent here, before anything else is looked at. */
    const char *code = jpki_challenge_consume(r, challenge, &nonce, &nonce_len);

    if (code != NULL) {
        return challenge_refused(r, err,
                                 strcmp(code, "cache_unavailable") == 0 ? JPKI_STEP_UNAVAILABLE
                                                                        : JPKI_STEP_PROOF,
                                 code, "challenge refused");
    }
    memset(&in, 0, sizeof(in));
    in.method = "challenge";
    in.expected = expected;
    in.cert = cert;
    in.cert_len = strlen(cert);
    in.sig = sig;
    in.sig_len = sig_len;
    if (client_data != NULL) {
        why = jpki_clientdata_decode(r->pool, client_data, challenge, &in.signed_data,
                                     &in.signed_len, &cd);
        if (why != NULL) {
            return challenge_refused(r, err, JPKI_STEP_MALFORMED, JPKI_E_CLIENT_DATA_INVALID, why);
        }
        in.origin = cd.origin;
    } else if (jpki_origin_bare_allowed(r->server)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_NOTICE, 0, r,
            JPKI_LOGNO(0341) "legacy login without client data (JPKIBareChallenge "
                             "On): the signature covers only the challenge, no origin is checked");
        in.signed_data = nonce;
        in.signed_len = nonce_len;
    } else {
        return challenge_refused(r, err, JPKI_STEP_MALFORMED, JPKI_E_CLIENT_DATA_MISSING,
                                 "no client_data: the card helper signed the bare challenge "
                                 "(JPKIBareChallenge Off)");
    }
    return jpki_pipeline_login(r, &in, id, err);
}

/* ------------------------------------------------------ registration -- */

#define MAX_SIGNATURE_B64 2048
/* The client data the signing key signed (protocol v2, docs/accounts.md). */
#define JPKI_SIGN_HDR_CLIENT_DATA "X-JPKISign-ClientData"

static const char *take_header(request_rec *r, const char *name, apr_size_t max)
{
    const char *v = apr_table_get(r->headers_in, name);
    if (v != NULL) {
        v = apr_pstrdup(r->pool, v);
        apr_table_unset(r->headers_in, name); /* never reaches a backend */
    }
    if (v == NULL || *v == '\0' || strlen(v) > max) {
        return NULL;
    }
    return v;
}

static int signing_proof(request_rec *r, jpki_session_t *sess, const char **code)
{
    jpki_account_srv_t *cfg = jpki_account_cfg(r->server);
    const char *challenge, *client_data, *cert, *sig_b64, *ccode, *detail = NULL;
    const unsigned char *sig;
    apr_size_t sig_len;
    jpki_step_err_t err;
    jpki_identity_t sid;
    jpki_cert_t *c;
    jpki_facts_t *f;
    apr_table_t *e = r->subprocess_env;

    challenge = take_header(r, JPKI_SIGN_HDR_CHALLENGE, 64);
    cert = take_header(r, JPKI_SIGN_HDR_CERTIFICATE, JPKI_CERT_MAX_DER * 2);
    sig_b64 = take_header(r, JPKI_SIGN_HDR_SIGNATURE, MAX_SIGNATURE_B64);
    client_data = take_header(r, JPKI_SIGN_HDR_CLIENT_DATA, 8192);
    if (challenge == NULL || cert == NULL || sig_b64 == NULL) {
        jpki_pipeline_refused(r, "challenge", JPKI_E_SIGN_PROOF_MISSING, sess->ident.serial,
                              "registration needs X-JPKISign-Challenge, -Certificate and "
                              "-Signature (each present and within its size limit)");
        *code = JPKI_E_SIGN_PROOF_MISSING;
        return HTTP_BAD_REQUEST;
    }
    sig = jpki_util_b64_decode(r->pool, sig_b64, strlen(sig_b64), 1024, &sig_len);
    if (sig == NULL) {
        jpki_pipeline_refused(r, "challenge", "malformed_request", sess->ident.serial,
                              "X-JPKISign-Signature is not base64");
        *code = "malformed_request";
        return HTTP_BAD_REQUEST;
    }
    /* Chain, validity, signature, status (signing purpose, its own fee). */
    /* Origin-bound like a login: client data, else JPKIBareChallenge. */
    if (!jpki_pipeline_challenge(r, JPKI_CERT_TYPE_SIGN, challenge, client_data, cert, sig, sig_len,
                                 &sid, &err)) {
        *code = err.code;
        return jpki_pipeline_http_status(&err, "challenge");
    }
    /* Same person: both certificates carry the PF's stable user id. */
    if (cfg->match_user != 0) {
        if (sess->ident.platform_user_id == NULL || sid.platform_user_id == NULL) {
            jpki_pipeline_refused(r, "challenge", JPKI_E_PERSON_UNVERIFIED, sid.serial,
                                  "no platform user id to tie the signing certificate to the "
                                  "logged-in card (JPKIRegistrationMatchUser)");
            *code = JPKI_E_PERSON_UNVERIFIED;
            return HTTP_FORBIDDEN;
        }
        if (!jpki_util_ct_streq(sess->ident.platform_user_id, sid.platform_user_id)) {
            jpki_pipeline_refused(r, "challenge", JPKI_E_PERSON_MISMATCH, sid.serial,
                                  "the signing certificate belongs to another person than the "
                                  "logged-in card");
            *code = JPKI_E_PERSON_MISMATCH;
            return HTTP_FORBIDDEN;
        }
    }
    c = jpki_cert_parse(r->pool, cert, strlen(cert), &ccode, &detail);
    f = c ? jpki_cert_facts(r->pool, c, &ccode, &detail) : NULL;
    if (f == NULL) {
        jpki_pipeline_refused(r, "challenge", ccode ? ccode : "cert_malformed", sid.serial,
                              detail ? detail : "the 4 facts could not be read");
        *code = ccode ? ccode : "cert_malformed";
        return HTTP_FORBIDDEN;
    }
    /* This request only. */
    apr_table_setn(e, "JPKI_NAME", f->name ? f->name : "");
    apr_table_setn(e, "JPKI_NAME_ALT", f->name_alt ? f->name_alt : "");
    apr_table_setn(e, "JPKI_ADDRESS", f->address ? f->address : "");
    apr_table_setn(e, "JPKI_ADDRESS_ALT", f->address_alt ? f->address_alt : "");
    apr_table_setn(e, "JPKI_BIRTH_DATE", f->birth_date ? f->birth_date : "");
    apr_table_setn(e, "JPKI_SEX", f->sex ? f->sex : "");
    apr_table_setn(e, "JPKI_SIGN_CERT_SERIAL", sid.serial);
    apr_table_setn(e, "JPKI_SIGN_STATUS", sid.status ? sid.status : "unchecked");
    if (sid.platform_user_id) {
        apr_table_setn(e, "JPKI_SIGN_PLATFORM_USER_ID", sid.platform_user_id);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  JPKI_LOGNO(0750) "registration: signing certificate serial=%s verified for "
                                   "serial=%s account=%s",
                  sid.serial, sess->ident.serial, sess->ident.account ? sess->ident.account : "-");
    return OK;
}

/* A registration session passes only where JPKIRegistration allows it;
 * JPKIRegistration Signing also wants the signing proof on the request. */
static int registration_gate(request_rec *r, jpki_session_t *sess, const char **code)
{
    jpki_account_dir_t *d = jpki_account_dir_cfg(r);
    int rc;
    if (!sess->ident.registration) {
        return d->registration == JPKI_REG_SIGNING ? signing_proof(r, sess, code) : OK;
    }
    if (d->registration != JPKI_REG_ON && d->registration != JPKI_REG_SIGNING) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0734) "registration session of serial=%s refused here "
                                       "(no JPKIRegistration on this location)",
                      sess->ident.serial);
        *code = JPKI_E_NO_ACCOUNT;
        return HTTP_FORBIDDEN;
    }
    if (d->registration == JPKI_REG_SIGNING && (rc = signing_proof(r, sess, code)) != OK) {
        return rc;
    }
    /* httpd insists on a user after authentication; the fixups hook takes
     * it away again before any backend sees it. */
    r->user = "";
    apr_table_setn(r->notes, "jpki-registration", "1");
    return OK;
}

/* --------------------------------------------------- AuthType JPKI -- */

int jpki_pipeline_tls(request_rec *r, const char *pem, const char **code, const char **msg)
{
    jpki_step_in_t in;
    jpki_step_err_t err;
    jpki_identity_t id;
    jpki_session_t *sess;
    int rc;

    memset(&in, 0, sizeof(in));
    in.method = "tls";
    in.expected = JPKI_CERT_TYPE_AUTH;
    in.cert = pem;
    in.cert_len = strlen(pem);
    if (!jpki_pipeline_login(r, &in, &id, &err)) {
        *code = err.code;
        *msg = jpki_pipeline_message(err.code);
        return jpki_pipeline_http_status(&err, "tls");
    }
    /* Both proofs end in one session model. */
    if (jpki_session_create(r, &id, &sess) != APR_SUCCESS) {
        *code = "session_unavailable";
        *msg = "The session store is unavailable.";
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if ((rc = registration_gate(r, sess, code)) != OK) {
        *msg = jpki_pipeline_message(*code);
        return rc;
    }
    jpki_identity_export(r, &id);
    return OK;
}

int jpki_pipeline_session(request_rec *r, jpki_session_t *sess, const char **code, const char **msg)
{
    const char *log_id = jpki_session_log_id(r->pool, sess->id);
    int rc, changed = 0;
    /* A revoked card or a removed account ends the session. */
    if ((rc = jpki_status_session(r, &sess->ident, log_id, &changed, code)) != OK ||
        (rc = jpki_account_session(r, &sess->ident, &changed, code)) != OK) {
        if (rc != HTTP_SERVICE_UNAVAILABLE) {
            jpki_session_destroy(r);
        }
        *msg = jpki_pipeline_message(*code);
        return rc;
    }
    if (changed && jpki_session_save(r, sess) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      JPKI_LOGNO(0513) "session %s: could not save the re-checked status", log_id);
    }
    if ((rc = registration_gate(r, sess, code)) != OK) {
        *msg = jpki_pipeline_message(*code);
        return rc;
    }
    jpki_identity_export(r, &sess->ident);
    return OK;
}
