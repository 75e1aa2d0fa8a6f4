/* Serial normalisation (jpki_util_serial_norm): serials come from the PF
 * answer, revocation lists and configuration. Oracles: the result is
 * lowercase hex, 1..40 digits, no leading zero (except "0"), and
 * normalising it again changes nothing. */
#include "fuzz.h"
#include "core/jpki_util.h"

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *n, *q;
    (void)size;
    n = jpki_util_serial_norm(p, s);
    if (n == NULL) {
        return;
    }
    FUZZ_CHECK(*n != '\0' && strlen(n) <= 40);
    FUZZ_CHECK(n[0] != '0' || n[1] == '\0');
    for (q = n; *q; q++) {
        FUZZ_CHECK((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f'));
    }
    q = jpki_util_serial_norm(p, n);
    FUZZ_CHECK(q != NULL && strcmp(q, n) == 0);
}
