/* Identity export helpers (jpki_export_*): header names from directive
 * arguments and variable names, header values from certificate contents
 * (names and addresses are attacker-chosen on a forged or test card) and
 * the spoofing filter's normalised compare. Input: byte 0 selects the
 * split point of the rest into two strings (prefix/var, or value).
 * Oracles: a header value contains only visible ASCII and inner spaces and
 * percent-decodes to the original bytes; a built header name is valid;
 * normalising is idempotent and a name matches itself. */
#include "fuzz.h"
#include "core/jpki_export_util.h"

#include <apr_tables.h>

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_value(apr_pool_t *p, const char *v)
{
    const char *h = jpki_export_header_value(p, v);
    size_t i, n = strlen(h), o = 0;
    char *dec = apr_palloc(p, n + 1);
    FUZZ_CHECK(n == 0 || (h[0] != ' ' && h[n - 1] != ' '));
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        FUZZ_CHECK(c >= 0x20 && c < 0x7f);
        if (c == '%') {
            FUZZ_CHECK(i + 2 < n && hexval(h[i + 1]) >= 0 && hexval(h[i + 2]) >= 0);
            dec[o++] = (char)(hexval(h[i + 1]) * 16 + hexval(h[i + 2]));
            i += 2;
        } else {
            dec[o++] = (char)c;
        }
    }
    dec[o] = '\0';
    FUZZ_CHECK(strcmp(dec, v) == 0);
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *a, *b, *n1, *n2, *h;
    size_t cut;
    apr_array_header_t *prefixes, *names;
    if (size < 1) {
        return;
    }
    cut = size > 1 ? data[0] % size : 0;
    a = apr_pstrndup(p, (const char *)data + 1, cut);
    b = apr_pstrdup(p, (const char *)data + 1 + cut);

    check_value(p, a);
    check_value(p, b);

    n1 = jpki_export_normalise(p, a);
    n2 = jpki_export_normalise(p, n1);
    FUZZ_CHECK(strcmp(n1, n2) == 0);
    prefixes = apr_array_make(p, 1, sizeof(const char *));
    names = apr_array_make(p, 1, sizeof(const char *));
    *(const char **)apr_array_push(names) = n1;
    FUZZ_CHECK(jpki_export_name_matches(n1, prefixes, names));
    *(const char **)apr_array_push(prefixes) = jpki_export_normalise(p, b);
    (void)jpki_export_name_matches(n1, prefixes, names);

    if (jpki_export_name_invalid(a) == NULL) {
        h = jpki_export_header_name(p, a, b);
        if (h != NULL) {
            (void)jpki_export_name_invalid(h);
            FUZZ_CHECK(strncmp(h, a, strlen(a)) == 0);
        }
    }
}
