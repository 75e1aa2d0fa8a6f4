/* base64 / base64url decoding (jpki_util_b64_decode): every encoded value
 * from a client (certificate, signature, client data) goes through it.
 * Input: byte 0 picks max_len, the rest is the text. Oracles: the decoded
 * length respects max_len, and encoding then decoding again (both
 * alphabets) gives the same bytes. */
#include "fuzz.h"
#include "core/jpki_util.h"

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    static const apr_size_t maxes[4] = {0, 16, 4096, 1u << 20};
    apr_size_t max_len, n = 0, n2 = 0, n3 = 0;
    unsigned char *out, *again;
    const char *enc;
    if (size < 1) {
        return;
    }
    max_len = maxes[data[0] & 3];
    out = jpki_util_b64_decode(p, (const char *)data + 1, size - 1, max_len, &n);
    if (out == NULL) {
        return;
    }
    FUZZ_CHECK(n > 0 && n <= max_len);
    FUZZ_CHECK(out[n] == '\0');
    enc = jpki_util_b64_encode(p, out, n);
    again = jpki_util_b64_decode(p, enc, strlen(enc), max_len, &n2);
    FUZZ_CHECK(again != NULL && n2 == n && memcmp(again, out, n) == 0);
    enc = jpki_util_b64url_encode(p, out, n);
    FUZZ_CHECK(strchr(enc, '=') == NULL && strchr(enc, '+') == NULL && strchr(enc, '/') == NULL);
    again = jpki_util_b64_decode(p, enc, strlen(enc), max_len, &n3);
    FUZZ_CHECK(again != NULL && n3 == n && memcmp(again, out, n) == 0);
}
