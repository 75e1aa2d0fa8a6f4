#include "login/jpki_pipeline.h"
#include "steps/jpki_challenge.h"
#include "core/jpki_login_core.h"
#include "cfg/jpki_origin.h"
#include "steps/account/jpki_account.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_metrics.h"
#include "steps/status/jpki_status.h"
#include "core/jpki_errors.h"

const char *jpki_flow_message(const char *code)
{
    const char *msg;
    if ((msg = jpki_errors_message(code)) != NULL) {
        return msg;
    }
    return "The login was refused.";
}

int jpki_flow_http_status(const jpki_flow_err_t *err, const char *method)
{
    switch (err->kind) {
    case JPKI_FLOW_PROOF:
        return strcmp(method, "tls") == 0 ? HTTP_FORBIDDEN : HTTP_UNAUTHORIZED;
    case JPKI_FLOW_MALFORMED:
        return HTTP_BAD_REQUEST;
    case JPKI_FLOW_REFUSED:
        return HTTP_FORBIDDEN;
    case JPKI_FLOW_UNAVAILABLE:
        return HTTP_SERVICE_UNAVAILABLE;
    default:
        return HTTP_OK;
    }
}

void jpki_flow_refused(request_rec *r, const char *method, const char *code, const char *serial,
                       const char *detail)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  JPKI_LOGNO(0201) "login refused: code=%s method=%s serial=%s: %s", code, method,
                  serial ? serial : "-", detail);
    jpki_audit_decision(r, "login_refused", code, method, serial, NULL);
    jpki_metrics_login(r->server, code);
}

static int refuse(request_rec *r, const jpki_flow_in_t *in, const jpki_cert_t *c,
                  jpki_flow_err_t *err, jpki_flow_kind_e kind, const char *code,
                  const char *detail)
{
    err->kind = kind;
    err->code = code;
    err->detail = detail;
    jpki_flow_refused(r, in->method, code, (c && c->serial) ? c->serial : NULL, detail);
    return 0;
}

int jpki_flow_login(request_rec *r, const jpki_flow_in_t *in, jpki_identity_t *id,
                    jpki_flow_err_t *err)
{
    jpki_srv_cfg_t *cfg = jpki_srv_cfg(r->server);
    const char *code = NULL, *detail = NULL;
    jpki_cert_t *c;
    jpki_status_result_t st;
    apr_time_t now = apr_time_now();

    memset(err, 0, sizeof(*err));
    if (cfg->trust == NULL) {
        return refuse(r, in, NULL, err, JPKI_FLOW_UNAVAILABLE, "not_configured",
                      "no JPKITrustedCA in this virtual host");
    }
    /* 1. Parse and validate locally (free). */
    c = jpki_cert_parse(r->pool, in->cert, in->cert_len, &code, &detail);
    if (c == NULL) {
        return refuse(r, in, NULL, err, JPKI_FLOW_PROOF, code, detail);
    }
    if (!jpki_cert_verify(cfg->trust, r->pool, c, in->expected, now, &code, &detail)) {
        return refuse(r, in, c, err, JPKI_FLOW_PROOF, code, detail);
    }
    /* 2. Proof of possession over our challenge (TLS: mod_ssl did it). */
    if (in->sig != NULL) {
        if (!jpki_sig_verify(c, in->signed_data, in->signed_len, in->sig, in->sig_len,
                             &detail)) {
            return refuse(r, in, c, err, JPKI_FLOW_PROOF, "signature_invalid", detail);
        }
    }
    /* 2b. ... made for this site: the origin the browser told the helper. */
    if (in->origin != NULL && !jpki_origin_allowed(r, in->origin)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      JPKI_LOGNO(0340) "client data origin %s is not one of this host's "
                      "origins (%s): a challenge relayed through another site?",
                      in->origin,
                      apr_array_pstrcat(r->pool, jpki_origin_list(r->pool, r->server), ' '));
        return refuse(r, in, c, err, JPKI_FLOW_PROOF, JPKI_E_ORIGIN_MISMATCH,
                      "the card signed for another origin");
    }
    jpki_identity_from_cert(id, c, in->method, now);

    /* 3. Revocation status: the paid step, only after every free check. */
    if (!jpki_status_login(r, c, in, id, &st, err)) {
        jpki_flow_refused(r, in->method, err->code, c->serial, err->detail);
        return 0;
    }
    /* 4. Account: serial -> account, following renewals. */
    if (!jpki_account_login(r, c, &st, id, err)) {
        jpki_flow_refused(r, in->method, err->code, c->serial, err->detail);
        return 0;
    }
    jpki_audit_decision(r, id->registration ? "registration" : "login_ok", "ok", in->method,
                        id->serial, id->account);
    jpki_metrics_login(r->server, "ok");
    return 1;
}

static int challenge_refused(request_rec *r, jpki_flow_err_t *err, jpki_flow_kind_e kind,
                             const char *code, const char *detail)
{
    memset(err, 0, sizeof(*err));
    err->kind = kind;
    err->code = code;
    err->detail = detail;
    jpki_flow_refused(r, "challenge", code, NULL, detail);
    return 0;
}

int jpki_flow_challenge(request_rec *r, jpki_cert_type_e expected, const char *challenge,
                        const char *client_data, const char *cert, const unsigned char *sig,
                        apr_size_t sig_len, jpki_identity_t *id, jpki_flow_err_t *err)
{
    const unsigned char *nonce;
    apr_size_t nonce_len;
    jpki_flow_in_t in;
    jpki_clientdata_t cd;
    const char *why;
    /* The challenge is spent here, before anything else is looked at. */
    const char *code = jpki_challenge_consume(r, challenge, &nonce, &nonce_len);

    if (code != NULL) {
        return challenge_refused(r, err,
                                 strcmp(code, "cache_unavailable") == 0 ? JPKI_FLOW_UNAVAILABLE
                                                                        : JPKI_FLOW_PROOF,
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
            return challenge_refused(r, err, JPKI_FLOW_MALFORMED, JPKI_E_CLIENT_DATA_INVALID,
                                     why);
        }
        in.origin = cd.origin;
    }
    else if (jpki_origin_bare_allowed(r->server)) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      JPKI_LOGNO(0341) "legacy login without client data (JPKIBareChallenge "
                      "On): the signature covers only the challenge, no origin is checked");
        in.signed_data = nonce;
        in.signed_len = nonce_len;
    }
    else {
        return challenge_refused(r, err, JPKI_FLOW_MALFORMED, JPKI_E_CLIENT_DATA_MISSING,
                                 "no client_data: the card helper signed the bare challenge "
                                 "(JPKIBareChallenge Off)");
    }
    return jpki_flow_login(r, &in, id, err);
}
