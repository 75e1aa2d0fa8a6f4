/*
 * Caller authentication of the jpki-account endpoint (security issue 9,
 * item 5). The endpoint links serials to accounts, so reaching it is an
 * account takeover: network ACLs alone are not enough (one SSRF anywhere
 * on the site reaches 127.0.0.1). Every caller sends
 *     Authorization: Bearer <the content of JPKIAccountAPIToken>
 * compared in constant time; without the directive the endpoint refuses
 * every request, and check_config refuses to start (apachectl -t) when a
 * SetHandler/AddHandler jpki-account it can see has no token in scope.
 */
#include "steps/account/jpki_account.h"
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
    jpki_audit_decision(r, "account_api_refused", JPKI_E_ACCOUNT_API_UNAUTHENTICATED, "api",
                        NULL, NULL);
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
    for (end = given + strlen(given); end > given && (end[-1] == ' ' || end[-1] == '\t');
         end--) {
    }
    if (!token_matches(given, (apr_size_t)(end - given), token)) {
        *rc = refuse(r, "wrong bearer token");
        return 0;
    }
    apr_table_unset(r->headers_in, "Authorization");
    return 1;
}
