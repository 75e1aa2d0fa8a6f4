/*
 * SetHandler jpki-account: the internal endpoint the site's registration
 * application calls to create an account and link serials to it, or to
 * remove an account (docs/accounts.md).
 *
 * Caller authentication of the jpki-account endpoint (security issue 9,
 * item 5). The endpoint links serials to accounts, so reaching it is an
 * account takeover: network ACLs alone are not enough (one SSRF anywhere
 * on the site reaches 127.0.0.1). Every caller sends
 *     Authorization: Bearer <the content of JPKIAccountAPIToken>
 * compared in constant time; without the directive the endpoint refuses
 * every request, and check_config refuses to start (apachectl -t) when a
 * SetHandler/AddHandler jpki-account it can see has no token in scope.
 */
#include "web/jpki_web.h"
#include "steps/account/jpki_account.h"
#include "infra/jpki_cache.h"
#include "infra/jpki_audit.h"
#include "infra/jpki_http_json.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

/* Constant time over the token's content and length: compare digests. */
static int token_matches(const char *given, apr_size_t len, const char *expected)
{
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)given, len, a);
    SHA256((const unsigned char *)expected, strlen(expected), b);
    return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

static int refuse(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  JPKI_LOGNO(0772) "jpki-account: request refused (%s): code=%s", why,
                  JPKI_E_ACCOUNT_API_UNAUTHENTICATED);
    jpki_audit_decision(r, "account_api_refused", JPKI_E_ACCOUNT_API_UNAUTHENTICATED, "api", NULL,
                        NULL);
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", "Bearer realm=\"jpki-account\"");
    return jpki_json_error(r, HTTP_UNAUTHORIZED, JPKI_E_ACCOUNT_API_UNAUTHENTICATED,
                           "The account endpoint needs Authorization: Bearer <token>.");
}

int jpki_account_api_authenticate(request_rec *r, int *rc)
{
    const char *token = jpki_account_cfg(r->server)->api_token;
    const char *h = apr_table_get(r->headers_in, "Authorization");
    const char *given, *end;

    if (token == NULL) {
        /* Mounted where check_config could not see it (.htaccess...). */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0773) "jpki-account: request refused: JPKIAccountAPIToken "
                                       "is not set for this host (code=%s)",
                      JPKI_E_ACCOUNT_API_UNCONFIGURED);
        *rc = jpki_json_error(r, HTTP_SERVICE_UNAVAILABLE, JPKI_E_ACCOUNT_API_UNCONFIGURED,
                              "JPKIAccountAPIToken is not set for this host.");
        return 0;
    }
    if (h == NULL) {
        *rc = refuse(r, "no Authorization header");
        return 0;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        *rc = refuse(r, "Authorization is not a Bearer token");
        return 0;
    }
    for (given = h + 7; *given == ' ' || *given == '\t'; given++) {
    }
    for (end = given + strlen(given); end > given && (end[-1] == ' ' || end[-1] == '\t'); end--) {
    }
    if (!token_matches(given, (apr_size_t)(end - given), token)) {
        *rc = refuse(r, "wrong bearer token");
        return 0;
    }
    apr_table_unset(r->headers_in, "Authorization");
    return 1;
}

/* --- the endpoint ------------------------------------------------------------ */

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
                      jpki_account_cache_key(
                          r, "age", apr_psprintf(r->pool, "%s:%04d-%02d-%02d", account, y, m, d)),
                      r->pool);
}

/* One link or relink request, checked and copied out of the JSON. */
typedef struct {
    int relink;
    const char *account, *from, *pfid, *birth, *now;
    const char *serials[2]; /* auth, sign; NULL = not given */
} link_req_t;

static const char *const link_types[2] = {"auth", "sign"};

static int link_parse(request_rec *r, json_t *o, int relink, link_req_t *q)
{
    int bad = 0;
    const char *account = opt_field(o, "account", valid_account, &bad);
    const char *from = opt_field(o, "from_account", valid_account, &bad);
    const char *auth = opt_field(o, "auth_serial", valid_serial, &bad);
    const char *sign = opt_field(o, "sign_serial", valid_serial, &bad);
    const char *pfid = opt_field(o, "platform_user_id", valid_user_id, &bad);
    json_t *bd = json_object_get(o, "birth_date");
    const char *birth = NULL;

    if (bd != NULL && !json_is_null(bd)) {
        if (!json_is_string(bd) || !valid_birth_date(r, json_string_value(bd))) {
            bad = 1;
        } else {
            birth = json_string_value(bd);
        }
    }
    if (bad || account == NULL || (auth == NULL && sign == NULL) ||
        (relink ? from == NULL || strcmp(from, account) == 0 : from != NULL)) {
        return 0;
    }
    q->relink = relink;
    q->account = apr_pstrdup(r->pool, account);
    q->from = from ? apr_pstrdup(r->pool, from) : NULL;
    q->serials[0] = auth ? apr_pstrdup(r->pool, auth) : NULL;
    q->serials[1] = sign ? apr_pstrdup(r->pool, sign) : NULL;
    q->pfid = pfid ? apr_pstrdup(r->pool, pfid) : NULL;
    q->birth = birth ? apr_pstrdup(r->pool, birth) : NULL;
    q->now = jpki_util_time_iso(r->pool, apr_time_now());
    return 1;
}

/* The account row: created, or its birth date / PF user id updated. */
static int link_account_row(request_rec *r, jpki_sql_t *db, const link_req_t *q, int exists)
{
    const char *args[4];
    int n, constraint;
    if (!exists) {
        args[0] = q->account;
        args[1] = q->pfid;
        args[2] = q->birth;
        args[3] = q->now;
        return jpki_sql_write(r, db, JPKI_SQL_CREATE, 4, args, &n, &constraint) == APR_SUCCESS;
    }
    if (q->birth || q->pfid) {
        args[0] = q->birth;
        args[1] = q->pfid;
        args[2] = q->account;
        return jpki_sql_write(r, db, JPKI_SQL_SET_BIRTH, 3, args, &n, &constraint) == APR_SUCCESS;
    }
    return 1;
}

/* Serial i: linked (new), moved (relink from from_account), or a conflict
 * (*conflict = 1: never a silent move). 1 = written, 0 = roll back. */
static int link_serial(request_rec *r, jpki_sql_t *db, const link_req_t *q, int i, int *conflict)
{
    const char *args[6], *other, *serial = q->serials[i];
    apr_array_header_t *rows;
    int n, constraint, ok;

    args[0] = serial;
    if (jpki_sql_select(r, db, JPKI_SQL_LOOKUP, 1, args, &rows, NULL) != APR_SUCCESS) {
        return 0;
    }
    other = rows->nelts ? APR_ARRAY_IDX(rows, 0, const char **)[0] : NULL;
    if (q->relink ? other == NULL || strcmp(other, q->from) != 0
                  : other != NULL && strcmp(other, q->account) != 0) {
        *conflict = 1;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      JPKI_LOGNO(0774) "jpki-account %s refused: serial=%s is linked to "
                                       "%s%s, not to %s (code=%s)",
                      q->relink ? "relink" : "link", serial, other ? "account=" : "no account",
                      other ? other : "", q->relink ? q->from : "another account",
                      JPKI_E_ACCOUNT_LINK_CONFLICT);
        return 0;
    }
    if (other == NULL) {
        args[0] = serial;
        args[1] = q->account;
        args[2] = link_types[i];
        args[3] = NULL;
        args[4] = q->now;
        args[5] = q->now;
        return jpki_sql_write(r, db, JPKI_SQL_LINK, 6, args, &n, &constraint) == APR_SUCCESS;
    }
    if (strcmp(other, q->account) == 0) {
        return 1;
    }
    args[0] = q->account;
    args[1] = serial;
    ok = jpki_sql_write(r, db, JPKI_SQL_RELINK, 2, args, &n, &constraint) == APR_SUCCESS;
    if (ok) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      JPKI_LOGNO(0760) "serial=%s moved from account=%s to account=%s", serial,
                      other, q->account);
        jpki_audit_decision(r, "serial_unlinked", "relink", "api", serial, other);
    }
    return ok;
}

static int link_refused(request_rec *r, const link_req_t *q, int conflict)
{
    if (!conflict) {
        return unavailable(r); /* rolled back: nothing half-written */
    }
    jpki_audit_decision(r, q->relink ? "account_relink_refused" : "account_link_refused",
                        JPKI_E_ACCOUNT_LINK_CONFLICT, "api", NULL, q->account);
    return jpki_json_error(r, HTTP_CONFLICT, JPKI_E_ACCOUNT_LINK_CONFLICT,
                           q->relink ? "A serial is not linked to from_account; "
                                       "nothing was changed."
                                     : "A serial is linked to another account; use "
                                       "op relink with from_account to move it. "
                                       "Nothing was changed.");
}

/* link: new serials only (a serial on another account is a conflict);
 * relink: moves serials from from_account, and only from there. */
static int api_link(request_rec *r, json_t *o, int relink)
{
    link_req_t q;
    const char *args[1];
    apr_array_header_t *rows;
    jpki_sql_t *db;
    int i, ok, conflict = 0;

    if (!link_parse(r, o, relink, &q)) {
        return jpki_json_error(r, HTTP_BAD_REQUEST, "malformed_request",
                               "link needs account (letters, digits, ._@:+-) and auth_serial "
                               "and/or sign_serial (normalised form); relink also needs "
                               "from_account (another account); birth_date is YYYY-MM-DD");
    }
    /* Check first, then write: a failed statement aborts a PostgreSQL
     * transaction, so constraint errors are not used as "exists". The
     * SELECT before BEGIN also proves the connection alive. */
    args[0] = q.account;
    if ((db = jpki_sql_open(r)) == NULL ||
        jpki_sql_select(r, db, JPKI_SQL_BIRTH_DATE, 1, args, &rows, NULL) != APR_SUCCESS ||
        jpki_sql_begin(r, db) != APR_SUCCESS) {
        return unavailable(r);
    }
    ok = link_account_row(r, db, &q, rows->nelts != 0);
    for (i = 0; ok && i < 2; i++) {
        if (q.serials[i] != NULL) {
            ok = link_serial(r, db, &q, i, &conflict);
        }
    }
    if (jpki_sql_end(r, db, ok) != APR_SUCCESS || !ok) {
        return link_refused(r, &q, conflict);
    }
    for (i = 0; i < 2; i++) {
        if (q.serials[i]) {
            jpki_account_cache_forget(r, q.serials[i]);
            jpki_audit_decision(r, relink ? "serial_relinked" : "serial_linked", "ok", "api",
                                q.serials[i], q.account);
        }
    }
    forget_age(r, q.account);
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  JPKI_LOGNO(0761) "account=%s linked: auth_serial=%s sign_serial=%s%s", q.account,
                  q.serials[0] ? q.serials[0] : "-", q.serials[1] ? q.serials[1] : "-",
                  q.birth ? " (birth date stored)" : "");
    o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    json_object_set_new(o, "account", json_string(q.account));
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

int jpki_account_api_handle(request_rec *r)
{
    char *body;
    apr_size_t len;
    json_t *o, *op;
    const char *why = NULL;
    int rc;

    if (!jpki_account_api_authenticate(r, &rc)) {
        return rc; /* before anything else: an unauthenticated caller learns nothing */
    }
    if ((rc = jpki_json_post_check(r)) != DECLINED) {
        return rc;
    }
    if (jpki_account_cfg(r->server)->store != JPKI_ACCOUNT_STORE_DBD) {
        return jpki_json_error(r, HTTP_SERVICE_UNAVAILABLE, "not_configured",
                               "JPKIAccountStore dbd is not set for this host.");
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
    } else if (json_is_string(op) && strcmp(json_string_value(op), "relink") == 0) {
        rc = api_link(r, o, 1);
    } else if (json_is_string(op) && strcmp(json_string_value(op), "remove") == 0) {
        rc = api_remove(r, o);
    } else {
        rc = jpki_json_error(r, HTTP_BAD_REQUEST, "malformed_request",
                             "op must be \"link\", \"relink\" or \"remove\"");
    }
    json_decref(o);
    return rc;
}
