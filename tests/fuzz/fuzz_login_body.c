/* Login JSON body (jpki_login_body_parse): the whole body of POST
 * jpki-login. Oracles: success fills every required field within its
 * bound and return_to (when present) passes jpki_return_to_valid; a
 * refusal is one of the four stable codes with a reason. */
#include "fuzz.h"
#include "core/jpki_login_core.h"
#include "core/jpki_util.h"

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    jpki_login_body_t b;
    const char *why = NULL;
    const char *code = jpki_login_body_parse(p, (const char *)data, size, &b, &why);
    if (code != NULL) {
        FUZZ_CHECK(strcmp(code, "body_too_large") == 0 || strcmp(code, "malformed_json") == 0 ||
                   strcmp(code, "malformed_request") == 0 ||
                   strcmp(code, "invalid_return_to") == 0);
        FUZZ_CHECK(why != NULL);
        return;
    }
    FUZZ_CHECK(size <= JPKI_LOGIN_MAX_BODY);
    FUZZ_CHECK(b.challenge != NULL && strlen(b.challenge) <= JPKI_LOGIN_MAX_CHALLENGE);
    FUZZ_CHECK(b.certificate != NULL && strlen(b.certificate) <= JPKI_LOGIN_MAX_CERT_B64);
    FUZZ_CHECK(b.signature != NULL && b.signature_len > 0 &&
               b.signature_len <= JPKI_LOGIN_MAX_SIG);
    FUZZ_CHECK(b.return_to == NULL || jpki_return_to_valid(b.return_to));
    FUZZ_CHECK(b.client_data == NULL || *b.client_data != '\0');
}
