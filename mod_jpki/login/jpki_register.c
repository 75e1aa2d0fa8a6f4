/*
 * Registration. Two pieces:
 *  - JPKIRegistration Signing: the request carries a proof made with the
 *    card's signing key (a fresh challenge, the signing certificate, the
 *    signature, in X-JPKISign-* headers). It is validated like a login
 *    (chain, signature, status check: the 20 yen one) and the 4 facts are
 *    exported to this request only: never logged, cached or stored in the
 *    session.
 *  - SetHandler jpki-account: the internal endpoint the site's registration
 *    application calls to create an account and link serials to it, or to
 *    remove an account. Callers authenticate with a bearer token
 *    (JPKIAccountAPIToken, jpki_account_api.c); docs/accounts.md.
 */
#include "steps/account/jpki_account.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_cache.h"
#include "steps/jpki_challenge.h"
#include "infra/jpki_http_json.h"

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

int jpki_register_signing(request_rec *r, jpki_session_t *sess, const char **code)
{
    jpki_account_srv_t *cfg = jpki_account_cfg(r->server);
    const char *challenge, *client_data, *cert, *sig_b64, *ccode, *detail = NULL;
    const unsigned char *sig;
    apr_size_t sig_len;
    jpki_flow_err_t err;
    jpki_identity_t sid;
    jpki_cert_t *c;
    jpki_facts_t *f;
    apr_table_t *e = r->subprocess_env;

    challenge = take_header(r, JPKI_SIGN_HDR_CHALLENGE, 64);
    cert = take_header(r, JPKI_SIGN_HDR_CERTIFICATE, JPKI_CERT_MAX_DER * 2);
    sig_b64 = take_header(r, JPKI_SIGN_HDR_SIGNATURE, MAX_SIGNATURE_B64);
    client_data = take_header(r, JPKI_SIGN_HDR_CLIENT_DATA, 8192);
    if (challenge == NULL || cert == NULL || sig_b64 == NULL) {
        jpki_flow_refused(r, "challenge", JPKI_E_SIGN_PROOF_MISSING, sess->ident.serial,
                          "registration needs X-JPKISign-Challenge, -Certificate and "
                          "-Signature (each present and within its size limit)");
        *code = JPKI_E_SIGN_PROOF_MISSING;
        return HTTP_BAD_REQUEST;
    }
    sig = jpki_util_b64_decode(r->pool, sig_b64, strlen(sig_b64), 1024, &sig_len);
    if (sig == NULL) {
        jpki_flow_refused(r, "challenge", "malformed_request", sess->ident.serial,
                          "X-JPKISign-Signature is not base64");
        *code = "malformed_request";
        return HTTP_BAD_REQUEST;
    }
    /* Chain, validity, signature, status (signing purpose, its own fee). */
    /* Origin-bound like a login: client data, else JPKIBareChallenge. */
    if (!jpki_flow_challenge(r, JPKI_CERT_TYPE_SIGN, challenge, client_data, cert, sig, sig_len,
                             &sid, &err)) {
        *code = err.code;
        return jpki_flow_http_status(&err, "challenge");
    }
    /* Same person: both certificates carry the PF's stable user id. */
    if (cfg->match_user != 0) {
        if (sess->ident.platform_user_id == NULL || sid.platform_user_id == NULL) {
            jpki_flow_refused(r, "challenge", JPKI_E_PERSON_UNVERIFIED, sid.serial,
                              "no platform user id to tie the signing certificate to the "
                              "logged-in card (JPKIRegistrationMatchUser)");
            *code = JPKI_E_PERSON_UNVERIFIED;
            return HTTP_FORBIDDEN;
        }
        if (!jpki_util_ct_streq(sess->ident.platform_user_id, sid.platform_user_id)) {
            jpki_flow_refused(r, "challenge", JPKI_E_PERSON_MISMATCH, sid.serial,
                              "the signing certificate belongs to another person than the "
                              "logged-in card");
            *code = JPKI_E_PERSON_MISMATCH;
            return HTTP_FORBIDDEN;
        }
    }
    c = jpki_cert_parse(r->pool, cert, strlen(cert), &ccode, &detail);
    f = c ? jpki_cert_facts(r->pool, c, &ccode, &detail) : NULL;
    if (f == NULL) {
        jpki_flow_refused(r, "challenge", ccode ? ccode : "cert_malformed", sid.serial,
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
                  sid.serial, sess->ident.serial,
                  sess->ident.account ? sess->ident.account : "-");
    return OK;
}

/* ---------------------------------------------------- jpki-account API -- */

static int valid_account(const char *s)
{
    apr_size_t n = 0;
    for (; *s; s++, n++) {
        if (!(apr_isalnum(*s) || strchr("._@:+-", *s))) {
            return 0;
        }
    }
    return n >= 1 && n <= 128;
}

static int valid_serial(const char *s)
{
    const char *colon = ap_strchr_c(s, ':');
    const char *p;
    if (colon == NULL || colon == s || colon - s > 64 || colon[1] == '\0' ||
        strlen(colon + 1) > 40) {
        return 0;
    }
    for (p = s; *p; p++) {
        if (p != colon && !((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static int valid_user_id(const char *s)
{
    apr_size_t n = 0;
    for (; *s; s++, n++) {
        if (*s < 0x20 || *s > 0x7e) {
            return 0;
        }
    }
    return n >= 1 && n <= 256;
}

static int valid_birth_date(request_rec *r, const char *s)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, by, bm, bd, i;
    for (i = 0; i < 10; i++) {
        if (i == 4 || i == 7 ? s[i] != '-' : !apr_isdigit(s[i])) {
            return 0;
        }
    }
    if (s[10] != '\0') {
        return 0;
    }
    by = atoi(s);
    bm = atoi(s + 5);
    bd = atoi(s + 8);
    if (bm < 1 || bm > 12 || bd < 1 || bd > mdays[bm - 1] ||
        (bm == 2 && bd == 29 && !((by % 4 == 0 && by % 100 != 0) || by % 400 == 0))) {
        return 0;
    }
    jpki_day_jst(r->request_time, &y, &m, &d);
    return jpki_age_years(s, y, m, d) >= 0; /* not in the future */
}

/* Optional string field: NULL when absent or null; *bad when of the wrong
 * type or failing check. */
static const char *opt_field(json_t *o, const char *name, int (*check)(const char *), int *bad)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v) || (check && !check(json_string_value(v)))) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

static int unavailable(request_rec *r)
{
    return jpki_json_error(r, HTTP_SERVICE_UNAVAILABLE, JPKI_E_ACCOUNT_UNAVAILABLE,
                           "The account store is unavailable.");
}

static void forget_age(request_rec *r, const char *account)
{
    int y, m, d;
    jpki_day_jst(r->request_time, &y, &m, &d);
    jpki_cache_remove(r->server, JPKI_NS_ACCOUNT,
                      jpki_account_cache_key(r, "age",
                                             apr_psprintf(r->pool, "%s:%04d-%02d-%02d", account,
                                                          y, m, d)),
                      r->pool);
}

/* link: new serials only (a serial on another account is a conflict);
 * relink: moves serials from from_account, and only from there. */
static int api_link(request_rec *r, json_t *o, int relink)
{
    int bad = 0, n, constraint, i, ok = 1, conflict = 0;
    const char *account = opt_field(o, "account", valid_account, &bad);
    const char *from = opt_field(o, "from_account", valid_account, &bad);
    const char *auth = opt_field(o, "auth_serial", valid_serial, &bad);
    const char *sign = opt_field(o, "sign_serial", valid_serial, &bad);
    const char *pfid = opt_field(o, "platform_user_id", valid_user_id, &bad);
    json_t *bd = json_object_get(o, "birth_date");
    const char *birth = NULL, *now, *args[6], *serials[2], *types[2], *other;
    apr_array_header_t *rows;
    jpki_sql_t *db;

    if (bd != NULL && !json_is_null(bd)) {
        if (!json_is_string(bd) || !valid_birth_date(r, json_string_value(bd))) {
            bad = 1;
        }
        else {
            birth = json_string_value(bd);
        }
    }
    if (bad || account == NULL || (auth == NULL && sign == NULL) ||
        (relink ? from == NULL || strcmp(from, account) == 0 : from != NULL)) {
        return jpki_json_error(r, HTTP_BAD_REQUEST, "malformed_request",
                               "link needs account (letters, digits, ._@:+-) and auth_serial "
                               "and/or sign_serial (normalised form); relink also needs "
                               "from_account (another account); birth_date is YYYY-MM-DD");
    }
    account = apr_pstrdup(r->pool, account);
    from = from ? apr_pstrdup(r->pool, from) : NULL;
    serials[0] = auth ? apr_pstrdup(r->pool, auth) : NULL;
    serials[1] = sign ? apr_pstrdup(r->pool, sign) : NULL;
    types[0] = "auth";
    types[1] = "sign";
    pfid = pfid ? apr_pstrdup(r->pool, pfid) : NULL;
    birth = birth ? apr_pstrdup(r->pool, birth) : NULL;
    now = jpki_util_time_iso(r->pool, apr_time_now());

    /* Check first, then write: a failed statement aborts a PostgreSQL
     * transaction, so constraint errors are not used as "exists". The
     * SELECT before BEGIN also proves the connection alive. */
    args[0] = account;
    if ((db = jpki_sql_open(r)) == NULL ||
        jpki_sql_select(r, db, JPKI_SQL_BIRTH_DATE, 1, args, &rows, NULL) != APR_SUCCESS ||
        jpki_sql_begin(r, db) != APR_SUCCESS) {
        return unavailable(r);
    }
    if (rows->nelts == 0) {
        args[0] = account;
        args[1] = pfid;
        args[2] = birth;
        args[3] = now;
        ok = jpki_sql_write(r, db, JPKI_SQL_CREATE, 4, args, &n, &constraint) == APR_SUCCESS;
    }
    else if (birth || pfid) {
        args[0] = birth;
        args[1] = pfid;
        args[2] = account;
        ok = jpki_sql_write(r, db, JPKI_SQL_SET_BIRTH, 3, args, &n, &constraint) == APR_SUCCESS;
    }
    for (i = 0; ok && i < 2; i++) {
        if (serials[i] == NULL) {
            continue;
        }
        args[0] = serials[i];
        if (jpki_sql_select(r, db, JPKI_SQL_LOOKUP, 1, args, &rows, NULL) != APR_SUCCESS) {
            ok = 0;
            break;
        }
        other = rows->nelts ? APR_ARRAY_IDX(rows, 0, const char **)[0] : NULL;
        if (relink ? other == NULL || strcmp(other, from) != 0
                   : other != NULL && strcmp(other, account) != 0) {
            conflict = 1; /* never a silent move */
            ok = 0;
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          JPKI_LOGNO(0774) "jpki-account %s refused: serial=%s is linked to "
                          "%s%s, not to %s (code=%s)",
                          relink ? "relink" : "link", serials[i],
                          other ? "account=" : "no account", other ? other : "",
                          relink ? from : "another account", JPKI_E_ACCOUNT_LINK_CONFLICT);
            break;
        }
        if (other == NULL) {
            args[0] = serials[i];
            args[1] = account;
            args[2] = types[i];
            args[3] = NULL;
            args[4] = now;
            args[5] = now;
            ok = jpki_sql_write(r, db, JPKI_SQL_LINK, 6, args, &n, &constraint) == APR_SUCCESS;
        }
        else if (strcmp(other, account) != 0) {
            args[0] = account;
            args[1] = serials[i];
            ok = jpki_sql_write(r, db, JPKI_SQL_RELINK, 2, args, &n, &constraint) ==
                 APR_SUCCESS;
            if (ok) {
                ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                              JPKI_LOGNO(0760) "serial=%s moved from account=%s to account=%s",
                              serials[i], other, account);
                jpki_audit_decision(r, "serial_unlinked", "relink", "api", serials[i], other);
            }
        }
    }
    if (jpki_sql_end(r, db, ok) != APR_SUCCESS || !ok) {
        if (conflict) { /* rolled back */
            jpki_audit_decision(r, relink ? "account_relink_refused" : "account_link_refused",
                                JPKI_E_ACCOUNT_LINK_CONFLICT, "api", NULL, account);
            return jpki_json_error(r, HTTP_CONFLICT, JPKI_E_ACCOUNT_LINK_CONFLICT,
                                   relink ? "A serial is not linked to from_account; "
                                            "nothing was changed."
                                          : "A serial is linked to another account; use "
                                            "op relink with from_account to move it. "
                                            "Nothing was changed.");
        }
        return unavailable(r); /* rolled back: nothing half-written */
    }
    for (i = 0; i < 2; i++) {
        if (serials[i]) {
            jpki_account_cache_forget(r, serials[i]);
            jpki_audit_decision(r, relink ? "serial_relinked" : "serial_linked", "ok", "api",
                                serials[i], account);
        }
    }
    forget_age(r, account);
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  JPKI_LOGNO(0761) "account=%s linked: auth_serial=%s sign_serial=%s%s", account,
                  serials[0] ? serials[0] : "-", serials[1] ? serials[1] : "-",
                  birth ? " (birth date stored)" : "");
    o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    json_object_set_new(o, "account", json_string(account));
    return jpki_json_send(r, HTTP_OK, o);
}

static int api_remove(request_rec *r, json_t *o)
{
    int bad = 0, n = 0, constraint, ok, i;
    const char *account = opt_field(o, "account", valid_account, &bad);
    const char *args[1];
    apr_array_header_t *rows;
    jpki_sql_t *db;

    if (bad || account == NULL) {
        return jpki_json_error(r, HTTP_BAD_REQUEST, "malformed_request",
                               "remove needs account (letters, digits, ._@:+-)");
    }
    account = apr_pstrdup(r->pool, account);
    args[0] = account;
    if ((db = jpki_sql_open(r)) == NULL ||
        jpki_sql_select(r, db, JPKI_SQL_SERIALS, 1, args, &rows, NULL) != APR_SUCCESS ||
        jpki_sql_begin(r, db) != APR_SUCCESS) {
        return unavailable(r);
    }
    ok = jpki_sql_write(r, db, JPKI_SQL_UNLINK_ALL, 1, args, NULL, &constraint) == APR_SUCCESS &&
         jpki_sql_write(r, db, JPKI_SQL_REMOVE, 1, args, &n, &constraint) == APR_SUCCESS;
    if (jpki_sql_end(r, db, ok) != APR_SUCCESS || !ok) {
        return unavailable(r);
    }
    /* Every serial ever linked: the next request of an open session misses
     * the cache, asks SQL and is refused. */
    for (i = 0; i < rows->nelts; i++) {
        jpki_account_cache_forget(r, APR_ARRAY_IDX(rows, i, const char **)[0]);
    }
    forget_age(r, account);
    if (n == 0) {
        return jpki_json_error(r, HTTP_NOT_FOUND, "account_unknown", "No such account.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  JPKI_LOGNO(0762) "account=%s removed (%d serial(s) unlinked)", account,
                  rows->nelts);
    jpki_audit_decision(r, "account_removed", "ok", "api", NULL, account);
    o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    json_object_set_new(o, "serials", json_integer(rows->nelts));
    return jpki_json_send(r, HTTP_OK, o);
}

int jpki_register_handler(request_rec *r)
{
    const char *ctype = apr_table_get(r->headers_in, "Content-Type");
    char *body;
    apr_size_t len;
    json_t *o, *op;
    const char *why = NULL;
    int rc;

    if (!jpki_account_api_authenticate(r, &rc)) {
        return rc; /* before anything else: an unauthenticated caller learns nothing */
    }
    if (r->method_number != M_POST) {
        apr_table_setn(r->err_headers_out, "Allow", "POST");
        return jpki_json_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                               "Use POST with a JSON body.");
    }
    if (jpki_account_cfg(r->server)->store != JPKI_ACCOUNT_STORE_DBD) {
        return jpki_json_error(r, HTTP_SERVICE_UNAVAILABLE, "not_configured",
                               "JPKIAccountStore dbd is not set for this host.");
    }
    if (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0) {
        return jpki_json_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                               "Content-Type must be application/json.");
    }
    rc = jpki_json_read_body(r, 8192, &body, &len);
    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return jpki_json_error(r, rc, "body_too_large", "The request body is too large.");
    }
    if (rc != OK || (o = jpki_json_parse_object(body, len, &why)) == NULL) {
        return jpki_json_error(r, HTTP_BAD_REQUEST, "malformed_json",
                               why ? why : "The body could not be read.");
    }
    op = json_object_get(o, "op");
    if (json_is_string(op) && strcmp(json_string_value(op), "link") == 0) {
        rc = api_link(r, o, 0);
    }
    else if (json_is_string(op) && strcmp(json_string_value(op), "relink") == 0) {
        rc = api_link(r, o, 1);
    }
    else if (json_is_string(op) && strcmp(json_string_value(op), "remove") == 0) {
        rc = api_remove(r, o);
    }
    else {
        rc = jpki_json_error(r, HTTP_BAD_REQUEST, "malformed_request",
                             "op must be \"link\", \"relink\" or \"remove\"");
    }
    json_decref(o);
    return rc;
}
