#include "core/jpki_util.h"

#include <apr_base64.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

char *jpki_util_hex(apr_pool_t *p, const unsigned char *buf, apr_size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = apr_palloc(p, len * 2 + 1);
    apr_size_t i;
    for (i = 0; i < len; i++) {
        out[2 * i] = digits[buf[i] >> 4];
        out[2 * i + 1] = digits[buf[i] & 0x0f];
    }
    out[len * 2] = '\0';
    return out;
}

unsigned char *jpki_util_b64_decode(apr_pool_t *p, const char *in, apr_size_t in_len,
                                    apr_size_t max_len, apr_size_t *out_len)
{
    char *clean;
    apr_size_t i, n = 0;
    unsigned char *out;
    int len;

    /* Worst case: every input char is significant; 4 chars -> 3 bytes.
     * Refuse before allocating anything proportional to an abusive input. */
    if (in_len / 4 * 3 > max_len + 3) {
        return NULL;
    }
    clean = apr_palloc(p, in_len + 4);
    for (i = 0; i < in_len; i++) {
        char c = in[i];
        if (c == '-') {
            c = '+';
        }
        else if (c == '_') {
            c = '/';
        }
        else if (c == ' ' || c == '\r' || c == '\n' || c == '\t') {
            continue;
        }
        else if (c == '=') {
            /* padding only at the end */
            apr_size_t j;
            for (j = i; j < in_len; j++) {
                if (in[j] != '=' && !apr_isspace(in[j])) {
                    return NULL;
                }
            }
            break;
        }
        else if (!(apr_isalnum(c) || c == '+' || c == '/')) {
            return NULL;
        }
        clean[n++] = c;
    }
    if (n == 0 || n % 4 == 1) {
        return NULL;
    }
    while (n % 4) {
        clean[n++] = '=';
    }
    clean[n] = '\0';
    out = apr_palloc(p, apr_base64_decode_len(clean) + 1);
    len = apr_base64_decode_binary(out, clean);
    if (len <= 0 || (apr_size_t)len > max_len) {
        return NULL;
    }
    out[len] = '\0';
    *out_len = (apr_size_t)len;
    return out;
}

char *jpki_util_b64_encode(apr_pool_t *p, const unsigned char *buf, apr_size_t len)
{
    char *out = apr_palloc(p, apr_base64_encode_len((int)len));
    apr_base64_encode_binary(out, buf, (int)len);
    return out;
}

char *jpki_util_b64url_encode(apr_pool_t *p, const unsigned char *buf, apr_size_t len)
{
    char *out = jpki_util_b64_encode(p, buf, len);
    char *c;
    for (c = out; *c; c++) {
        if (*c == '+') {
            *c = '-';
        }
        else if (*c == '/') {
            *c = '_';
        }
        else if (*c == '=') {
            *c = '\0';
            break;
        }
    }
    return out;
}

int jpki_util_ct_streq(const char *a, const char *b)
{
    apr_size_t la, lb, i;
    unsigned char diff = 0;
    if (a == NULL || b == NULL) {
        return 0;
    }
    la = strlen(a);
    lb = strlen(b);
    if (la != lb) {
        return 0;
    }
    for (i = 0; i < la; i++) {
        diff |= (unsigned char)(a[i] ^ b[i]);
    }
    return diff == 0;
}

const char *jpki_util_serial_norm(apr_pool_t *p, const char *in)
{
    char buf[41];
    apr_size_t n = 0;
    const char *c;
    int leading = 1;

    if (in == NULL) {
        return NULL;
    }
    if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X')) {
        in += 2;
    }
    for (c = in; *c; c++) {
        if (*c == ':' || *c == ' ') {
            continue;
        }
        if (!apr_isxdigit(*c)) {
            return NULL;
        }
        if (leading && *c == '0') {
            continue;
        }
        leading = 0;
        if (n >= sizeof(buf) - 1) {
            return NULL;
        }
        buf[n++] = (char)apr_tolower(*c);
    }
    if (n == 0) {
        /* all zeros (or empty after separators): zero is "0", empty is bad */
        for (c = in; *c; c++) {
            if (*c == '0') {
                return "0";
            }
        }
        return NULL;
    }
    buf[n] = '\0';
    return apr_pstrdup(p, buf);
}

const char *jpki_util_time_iso(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;
    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        tm.tm_usec / 1000);
}

int jpki_json_depth(const char *buf, apr_size_t len)
{
    int depth = 0, max = 0, in_str = 0;
    apr_size_t i;
    for (i = 0; i < len; i++) {
        char ch = buf[i];
        if (in_str) {
            if (ch == '\\') {
                i++;
            }
            else if (ch == '"') {
                in_str = 0;
            }
            continue;
        }
        if (ch == '"') {
            in_str = 1;
        }
        else if (ch == '[' || ch == '{') {
            if (++depth > max) {
                max = depth;
            }
        }
        else if (ch == ']' || ch == '}') {
            if (--depth < 0) {
                return -1;
            }
        }
    }
    return depth == 0 ? max : -1;
}

#define MAX_RETURN_TO 2048

static int is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* Same-origin relative paths only: "/x", never "//host", "/\host",
 * "https://host", or the same written with percent escapes. */
int jpki_return_to_valid(const char *s)
{
    char buf[MAX_RETURN_TO + 1];
    apr_size_t n = strlen(s);
    int round;
    if (n == 0 || n > MAX_RETURN_TO) {
        return 0;
    }
    memcpy(buf, s, n + 1);
    /* Decode repeatedly: a browser or a backend may decode more than once. */
    for (round = 0; round < 4; round++) {
        char *in = buf, *out = buf;
        int changed = 0;
        apr_size_t i;
        if (buf[0] != '/' || buf[1] == '/' || buf[1] == '\\') {
            return 0;
        }
        for (i = 0; buf[i]; i++) {
            if (buf[i] == '\\' || is_ctl((unsigned char)buf[i])) {
                return 0;
            }
        }
        while (*in) {
            if (in[0] == '%' && apr_isxdigit(in[1]) && apr_isxdigit(in[2])) {
                char hex[3] = {in[1], in[2], 0};
                *out++ = (char)strtol(hex, NULL, 16);
                in += 3;
                changed = 1;
            }
            else {
                *out++ = *in++;
            }
        }
        *out = '\0';
        if (!changed) {
            return buf[0] == '/' && buf[1] != '/' && buf[1] != '\\';
        }
    }
    return 0; /* still encoded after four rounds: refuse */
}

/* A secret (bearer token) from a file: surrounding whitespace trimmed,
 * at most 4 KiB, no inner spaces. NULL with *err (what is wrong) on error. */
const char *jpki_util_read_token(apr_pool_t *p, const char *file, const char **err)
{
    apr_file_t *f;
    char buf[4097];
    apr_size_t n = sizeof(buf) - 1;
    apr_status_t rv;
    char *s, *e;
    *err = NULL;
    if ((rv = apr_file_open(&f, file, APR_FOPEN_READ, 0, p)) != APR_SUCCESS) {
        *err = "cannot be opened";
        return NULL;
    }
    rv = apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        *err = "cannot be read";
        return NULL;
    }
    if (n >= sizeof(buf) - 1) {
        *err = "is larger than 4 KiB";
        return NULL;
    }
    buf[n] = '\0';
    for (s = buf; *s && apr_isspace(*s); s++) {
    }
    for (e = s + strlen(s); e > s && apr_isspace(e[-1]); e--) {
    }
    *e = '\0';
    if (*s == '\0') {
        *err = "is empty";
        return NULL;
    }
    for (e = s; *e; e++) {
        if (!apr_isgraph(*e)) {
            *err = "contains spaces or control characters";
            return NULL;
        }
    }
    return apr_pstrdup(p, s);
}

static int cookie_value_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

const char *jpki_util_cookie_get(apr_pool_t *p, const char *header, const char *name)
{
    apr_size_t nlen = name ? strlen(name) : 0;
    const char *q = header, *found = NULL, *end = NULL;

    if (header == NULL || nlen == 0 ||
        strnlen(header, JPKI_UTIL_COOKIE_HEADER_MAX + 1) > JPKI_UTIL_COOKIE_HEADER_MAX) {
        return NULL;
    }
    while (*q) {
        const char *pair_end;
        while (*q == ' ' || *q == '\t' || *q == ';') {
            q++;
        }
        pair_end = q;
        while (*pair_end && *pair_end != ';') {
            pair_end++;
        }
        if ((apr_size_t)(pair_end - q) > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
            if (found != NULL) {
                return NULL; /* the same name twice: ambiguous */
            }
            found = q + nlen + 1;
            end = pair_end;
            while (end > found && (end[-1] == ' ' || end[-1] == '\t')) {
                end--;
            }
        }
        q = pair_end;
    }
    if (found == NULL || end == found || end - found > JPKI_UTIL_COOKIE_VALUE_MAX) {
        return NULL;
    }
    for (q = found; q < end; q++) {
        if (!cookie_value_char(*q)) {
            return NULL;
        }
    }
    return apr_pstrmemdup(p, found, (apr_size_t)(end - found));
}

int jpki_util_parse_int(const char *arg, long min, long max, int trailing_ws, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    while (trailing_ws && (*end == ' ' || *end == '\t')) {
        end++;
    }
    if (*arg == '\0' || *end != '\0' || v < min || v > max) {
        return 0;
    }
    *out = (int)v;
    return 1;
}

static EVP_MD *sha256_md;
static CRYPTO_ONCE sha256_once = CRYPTO_ONCE_STATIC_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const void *jpki_util_sha256_md(void)
{
    if (!CRYPTO_THREAD_run_once(&sha256_once, sha256_fetch)) {
        return NULL;
    }
    return sha256_md;
}

int jpki_util_sha256(const void *data, apr_size_t len, unsigned char *out)
{
    const EVP_MD *md = jpki_util_sha256_md();
    return EVP_Digest(data, len, out, NULL, md ? md : EVP_sha256(), NULL) == 1;
}
