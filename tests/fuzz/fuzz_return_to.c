/* return_to (jpki_return_to_valid): the post-login redirect target comes
 * from the query string. Oracle: an accepted value is a same-origin
 * relative path: one leading '/', no second '/' or '\' after it, no
 * backslash or control byte anywhere, also after percent-decoding. */
#include "fuzz.h"
#include "core/jpki_util.h"

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void check_safe(const char *s)
{
    const char *q;
    FUZZ_CHECK(s[0] == '/' && s[1] != '/' && s[1] != '\\');
    for (q = s; *q; q++) {
        FUZZ_CHECK(*q != '\\' && (unsigned char)*q >= 0x20 && *q != 0x7f);
    }
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *dec;
    size_t i, o = 0;
    if (strlen(s) != size || !jpki_return_to_valid(s)) {
        return;
    }
    check_safe(s);
    /* One independent percent-decoding pass must stay safe too. */
    dec = apr_palloc(p, size + 1);
    for (i = 0; i < size; i++) {
        if (s[i] == '%' && i + 2 < size + 1 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            dec[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            dec[o++] = s[i];
        }
    }
    dec[o] = '\0';
    if (strlen(dec) == o) { /* a decoded %00 ends the string for a browser */
        check_safe(dec);
    }
}
