/*
 * Require jpki-account [account ...] and Require jpki-age-over N.
 * The age comes from the birth date stored with the account at
 * registration, on the request's day in Japan time. The cache holds the
 * computed age for that day (until JST midnight), never the birth date.
 */
#include "steps/account/jpki_account.h"
#include "infra/jpki_cache.h"
#include "infra/jpki_http_json.h"
#include "infra/jpki_refusal.h"

#include "ap_provider.h"
#include "mod_auth.h"

static int is_account(request_rec *r)
{
    return r->user != NULL && r->user[0] != '\0' &&
           apr_table_get(r->notes, "jpki-registration") == NULL &&
           apr_table_get(r->subprocess_env, "JPKI_ACCOUNT") != NULL;
}

/* The error header and body for the refusal; authz_core sends 403 with
 * AuthzSendForbiddenOnFailure On, else 401 (docs/accounts.md). The body is
 * the JSON error, or for a browser the bilingual refusal page (unless an
 * ErrorDocument is set: infra/jpki_refusal.c). */
static authz_status deny(request_rec *r, const char *code, const char *msg)
{
    const char *login = jpki_dir_cfg(r)->login_page;
    apr_table_setn(r->err_headers_out, "X-JPKI-Error", code);
    apr_table_setn(r->notes, "jpki-error", code);
    apr_table_setn(r->notes, "jpki-authz-error", code);
    if (jpki_json_wanted(r)) {
        ap_custom_response(r, HTTP_FORBIDDEN, jpki_json_error_body(r->pool, code, msg));
        ap_custom_response(r, HTTP_UNAUTHORIZED, jpki_json_error_body(r->pool, code, msg));
    } else {
        jpki_refusal_page(r, HTTP_FORBIDDEN, code, login);
        jpki_refusal_page(r, HTTP_UNAUTHORIZED, code, login);
    }
    return AUTHZ_DENIED;
}

static authz_status account_check(request_rec *r, const char *line, const void *parsed)
{
    const char *t, *w;
    (void)parsed;
    if (r->user == NULL) {
        return AUTHZ_DENIED_NO_USER;
    }
    if (!is_account(r)) {
        return deny(r, JPKI_E_NO_ACCOUNT, "This page needs a registered account.");
    }
    t = line;
    if (*t == '\0') {
        return AUTHZ_GRANTED;
    }
    while ((w = ap_getword_conf(r->pool, &t)) && w[0]) {
        if (strcmp(w, r->user) == 0) {
            return AUTHZ_GRANTED;
        }
    }
    return AUTHZ_DENIED;
}

static const char *age_parse(cmd_parms *cmd, const char *line, const void **parsed)
{
    int n;
    int *v;
    if (!jpki_util_parse_int(line, 0, 150, 1, &n)) {
        return apr_psprintf(cmd->pool,
                            "Require jpki-age-over: '%s' is not a whole number of "
                            "years from 0 to 150",
                            line);
    }
    v = apr_palloc(cmd->pool, sizeof(*v));
    *v = n;
    *parsed = v;
    return NULL;
}

/* Seconds until the next midnight in Japan (UTC+9). */
static apr_time_t next_jst_midnight(apr_time_t now)
{
    apr_int64_t s = (apr_int64_t)apr_time_sec(now) + 9 * 3600;
    return apr_time_from_sec(s - s % 86400 + 86400 - 9 * 3600);
}

/* Age in years on the request's JST day: -1 = no birth date stored,
 * -2 = the store failed. */
static int account_age(request_rec *r, const char *account)
{
    jpki_account_srv_t *cfg = jpki_account_cfg(r->server);
    int y, m, d, age, ttl;
    const char *key, *args[1];
    char *val;
    apr_array_header_t *rows;
    jpki_sql_t *db;
    apr_time_t expiry;

    jpki_day_jst(r->request_time, &y, &m, &d);
    key = jpki_account_cache_key(r, "age",
                                 apr_psprintf(r->pool, "%s:%04d-%02d-%02d", account, y, m, d));
    /* a value that is not an age (another server wrote it?) is a miss */
    if (jpki_cache_get(r->server, JPKI_NS_ACCOUNT, key, r->pool, &val, NULL) == APR_SUCCESS &&
        jpki_util_parse_int(val, -1, 100000, 0, &age)) {
        return age;
    }
    if ((db = jpki_sql_open(r)) == NULL) {
        return -2;
    }
    args[0] = account;
    if (jpki_sql_select(r, db, JPKI_SQL_BIRTH_DATE, 1, args, &rows, NULL) != APR_SUCCESS) {
        return -2;
    }
    if (rows->nelts == 0 || APR_ARRAY_IDX(rows, 0, const char **)[0] == NULL) {
        age = -1;
    } else {
        age = jpki_age_years(APR_ARRAY_IDX(rows, 0, const char **)[0], y, m, d);
        if (age < 0) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          JPKI_LOGNO(0740) "account=%s: the stored birth date is not a valid "
                                           "YYYY-MM-DD date in the past",
                          account);
        }
    }
    /* Until the end of the JST day, and no longer than the account TTL so
     * that a corrected birth date or a removal is seen. */
    ttl = jpki_cfg_account_cache_ttl(cfg);
    expiry = next_jst_midnight(r->request_time);
    if (r->request_time + apr_time_from_sec(ttl) < expiry) {
        expiry = r->request_time + apr_time_from_sec(ttl);
    }
    if (ttl > 0 && expiry > r->request_time) {
        const char *v = apr_itoa(r->pool, age);
        jpki_cache_store(r->server, JPKI_NS_ACCOUNT, key, v, strlen(v), expiry, r->pool);
    }
    return age;
}

static authz_status age_check(request_rec *r, const char *line, const void *parsed)
{
    int n = *(const int *)parsed;
    int age;
    (void)line;
    if (r->user == NULL) {
        return AUTHZ_DENIED_NO_USER;
    }
    if (!is_account(r) || jpki_account_cfg(r->server)->store != JPKI_ACCOUNT_STORE_DBD) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0741) "jpki-age-over %d: no account with a stored birth date", n);
        return deny(r, JPKI_E_AGE_UNKNOWN, "Your age is not known to this site.");
    }
    age = account_age(r, r->user);
    if (age == -2) {
        /* Unknown is not "under age", but it is not a grant either. */
        return deny(r, JPKI_E_ACCOUNT_UNAVAILABLE, "The account service is unavailable.");
    }
    if (age < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0742) "jpki-age-over %d: account=%s has no birth date", n,
                      r->user);
        return deny(r, JPKI_E_AGE_UNKNOWN, "Your age is not known to this site.");
    }
    if (age < n) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0743) "jpki-age-over %d: account=%s is under age", n, r->user);
        return deny(r, JPKI_E_AGE_UNDER, "This page is not available at your age.");
    }
    apr_table_setn(r->subprocess_env, apr_psprintf(r->pool, "JPKI_AGE_OVER_%d", n), "1");
    return AUTHZ_GRANTED;
}

static const authz_provider account_provider = {account_check, NULL};
static const authz_provider age_provider = {age_check, age_parse};

void jpki_authz_register(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "jpki-account", AUTHZ_PROVIDER_VERSION,
                              &account_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "jpki-age-over", AUTHZ_PROVIDER_VERSION,
                              &age_provider, AP_AUTH_INTERNAL_PER_CONF);
}

/* After authorization: a registration session has no REMOTE_USER; an
 * authz refusal that another Require overruled leaves no error header. */
int jpki_authz_fixups(request_rec *r)
{
    if (apr_table_get(r->notes, "jpki-registration") != NULL) {
        r->user = NULL;
    }
    if (apr_table_get(r->notes, "jpki-authz-error") != NULL) {
        apr_table_unset(r->err_headers_out, "X-JPKI-Error");
    }
    return DECLINED;
}
