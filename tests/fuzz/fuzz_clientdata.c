/* Client data (jpki_clientdata_parse, jpki_clientdata_decode): the bytes
 * the card signs, built by the card helper (protocol v2). Oracles: an
 * accepted input is byte for byte the canonical form rebuilt from its
 * parsed values, its origin passes jpki_origin_valid, and the base64url
 * route accepts exactly the same bytes for the same challenge. */
#include "fuzz.h"
#include "core/jpki_login_core.h"
#include "core/jpki_util.h"

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    jpki_clientdata_t cd, cd2;
    const unsigned char *bytes = NULL;
    apr_size_t len = 0;
    char *canon;
    const char *b64;
    if (jpki_clientdata_parse(p, data, size, &cd) != NULL) {
        return;
    }
    canon = jpki_clientdata_build(p, cd.type, cd.challenge, cd.origin);
    FUZZ_CHECK(strlen(canon) == size && memcmp(canon, data, size) == 0);
    FUZZ_CHECK(size <= JPKI_CLIENTDATA_MAX);
    FUZZ_CHECK(jpki_origin_valid(cd.origin));
    if (strcmp(cd.type, JPKI_CLIENTDATA_TYPE) != 0) {
        return;
    }
    b64 = jpki_util_b64url_encode(p, data, size);
    FUZZ_CHECK(jpki_clientdata_decode(p, b64, cd.challenge, &bytes, &len, &cd2) == NULL);
    FUZZ_CHECK(len == size && memcmp(bytes, data, size) == 0);
    FUZZ_CHECK(strcmp(cd2.origin, cd.origin) == 0 && strcmp(cd2.challenge, cd.challenge) == 0);
}
