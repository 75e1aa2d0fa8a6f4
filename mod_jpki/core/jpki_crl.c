/*
 * CRL index: reading (header, validation, lookup). The format is in
 * jpki_crl.h; building is jpki_crl_build.c. Every function here works on
 * bytes the caller owns (a read-only mapping) and never allocates.
 */
#include "core/jpki_crl.h"

#include <string.h>

static apr_uint64_t get_u(const unsigned char *p, int n)
{
    apr_uint64_t v = 0;
    int i;
    for (i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static apr_time_t get_time(const unsigned char *p)
{
    apr_int64_t s = (apr_int64_t)get_u(p, 8);
    if (s < 0 || s > (apr_int64_t)253402300799LL) { /* 9999-12-31 */
        return -1;
    }
    return apr_time_from_sec(s);
}

const char *jpki_crl_header_parse(const unsigned char *buf, apr_size_t len, jpki_crl_info_t *out)
{
    static const char hex[] = "0123456789abcdef";
    apr_uint64_t kid_len;
    unsigned int i;

    memset(out, 0, sizeof(*out));
    if (buf == NULL || len < JPKI_CRL_HEADER_LEN) {
        return "truncated header";
    }
    if (memcmp(buf, JPKI_CRL_MAGIC, 8) != 0) {
        return "bad magic (not a jpki-crl-index file)";
    }
    if (get_u(buf + 8, 4) != JPKI_CRL_VERSION) {
        return "unsupported version";
    }
    if (get_u(buf + 12, 4) != JPKI_CRL_ENTRY_LEN) {
        return "unsupported entry width";
    }
    kid_len = get_u(buf + 16, 4);
    if (kid_len < 1 || kid_len > JPKI_CRL_KID_MAX) {
        return "bad issuer key id length";
    }
    for (i = 0; i < kid_len; i++) {
        out->issuer_key_id[2 * i] = hex[buf[20 + i] >> 4];
        out->issuer_key_id[2 * i + 1] = hex[buf[20 + i] & 15];
    }
    for (i = (unsigned int)kid_len; i < JPKI_CRL_KID_MAX; i++) {
        if (buf[20 + i] != 0) {
            return "bad issuer key id padding";
        }
    }
    out->this_update = get_time(buf + 52);
    out->next_update = get_time(buf + 60);
    if (out->this_update <= 0 || out->next_update <= 0 || out->next_update < out->this_update) {
        return "bad thisUpdate/nextUpdate";
    }
    out->count = get_u(buf + 68, 8);
    memcpy(out->sha256, buf + 76, 32);
    out->ncrls = (unsigned int)get_u(buf + 108, 4);
    for (i = 112; i < JPKI_CRL_HEADER_LEN; i++) {
        if (buf[i] != 0) {
            return "bad reserved header bytes";
        }
    }
    return NULL;
}

const char *jpki_crl_index_open(const unsigned char *buf, apr_size_t len, jpki_crl_index_t *out)
{
    const char *err = jpki_crl_header_parse(buf, len, &out->info);
    const unsigned char *e, *prev = NULL;
    apr_uint64_t i, n;

    out->entries = NULL;
    if (err != NULL) {
        return err;
    }
    n = out->info.count;
    if (n > (apr_uint64_t)(len - JPKI_CRL_HEADER_LEN) / JPKI_CRL_ENTRY_LEN ||
        (apr_uint64_t)(len - JPKI_CRL_HEADER_LEN) != n * JPKI_CRL_ENTRY_LEN) {
        return "size does not match the entry count (truncated or extended)";
    }
    e = buf + JPKI_CRL_HEADER_LEN;
    for (i = 0; i < n; i++, e += JPKI_CRL_ENTRY_LEN) {
        int r = e[JPKI_CRL_SERIAL_LEN];
        if ((r > 10 && r != JPKI_CRL_NO_REASON) || r == 7 || e[JPKI_CRL_SERIAL_LEN + 1] != 0) {
            return "bad entry (reason or reserved byte)";
        }
        if (prev != NULL && memcmp(prev, e, JPKI_CRL_SERIAL_LEN) >= 0) {
            return "entries not sorted (or a duplicate serial)";
        }
        prev = e;
    }
    out->entries = buf + JPKI_CRL_HEADER_LEN;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int jpki_crl_serial_key(const char *hex, unsigned char key[JPKI_CRL_SERIAL_LEN])
{
    apr_size_t n, i;
    int k = JPKI_CRL_SERIAL_LEN - 1, lo = 1;

    memset(key, 0, JPKI_CRL_SERIAL_LEN);
    if (hex == NULL || *hex == '\0') {
        return 0;
    }
    while (hex[0] == '0' && hex[1] != '\0') {
        hex++;
    }
    n = strlen(hex);
    if (n > 2 * JPKI_CRL_SERIAL_LEN) {
        return 0;
    }
    for (i = n; i > 0; i--) {
        int v = hexval(hex[i - 1]);
        if (v < 0) {
            return 0;
        }
        key[k] |= (unsigned char)(lo ? v : v << 4);
        if (!lo) {
            k--;
        }
        lo = !lo;
    }
    return 1;
}

int jpki_crl_index_lookup(const jpki_crl_index_t *ix, const unsigned char key[JPKI_CRL_SERIAL_LEN],
                          int *reason)
{
    apr_uint64_t lo = 0, hi = ix->entries ? ix->info.count : 0;
    while (lo < hi) {
        apr_uint64_t mid = lo + (hi - lo) / 2;
        const unsigned char *e = ix->entries + mid * JPKI_CRL_ENTRY_LEN;
        int c = memcmp(key, e, JPKI_CRL_SERIAL_LEN);
        if (c == 0) {
            *reason = e[JPKI_CRL_SERIAL_LEN];
            return 1;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return 0;
}
