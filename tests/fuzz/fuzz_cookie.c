/* Cookie header (jpki_util_cookie_get): the only Cookie parser of the
 * module. Input: byte 0 picks the cookie name, the rest is the header.
 * Oracles: a value found is 1..JPKI_UTIL_COOKIE_VALUE_MAX base64url
 * characters, it occurs in the header right after "name=", and the name
 * occurs exactly once as a cookie name (a duplicate is ambiguous). */
#include "fuzz.h"
#include "core/jpki_util.h"

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    static const char *const names[4] = {"__Host-jpki_session", "__Host-jpki_session_pre", "a",
                                         "jpki"};
    const char *name, *hdr, *v, *q;
    size_t n;
    if (size < 1) {
        return;
    }
    name = names[data[0] & 3];
    hdr = (const char *)data + 1;
    if (strlen(hdr) != size - 1) {
        return; /* an embedded NUL: a header never carries one */
    }
    v = jpki_util_cookie_get(p, hdr, name);
    if (v == NULL) {
        return;
    }
    n = strlen(v);
    FUZZ_CHECK(n >= 1 && n <= JPKI_UTIL_COOKIE_VALUE_MAX);
    for (q = v; *q; q++) {
        FUZZ_CHECK((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
                   (*q >= '0' && *q <= '9') || *q == '-' || *q == '_');
    }
    FUZZ_CHECK(strstr(hdr, apr_pstrcat(p, name, "=", v, NULL)) != NULL);
}
