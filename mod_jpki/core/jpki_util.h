/*
 * Small helpers shared by every layer: hex, base64/base64url (apr_base64),
 * constant-time comparison, bounded string checks. Pure: APR only, no httpd.
 */
#ifndef JPKI_UTIL_H
#define JPKI_UTIL_H

#include <apr_pools.h>
#include <apr_time.h>

/* Lowercase hex of len bytes. */
char *jpki_util_hex(apr_pool_t *p, const unsigned char *buf, apr_size_t len);

/* Decode standard or URL-safe base64 (padding optional, whitespace ignored).
 * Returns NULL on any invalid character or if the decoded size would exceed
 * max_len. The result is NUL-terminated for convenience (not counted). */
unsigned char *jpki_util_b64_decode(apr_pool_t *p, const char *in, apr_size_t in_len,
                                    apr_size_t max_len, apr_size_t *out_len);

/* base64url without padding (RFC 4648 §5). */
char *jpki_util_b64url_encode(apr_pool_t *p, const unsigned char *buf, apr_size_t len);
/* standard base64 with padding */
char *jpki_util_b64_encode(apr_pool_t *p, const unsigned char *buf, apr_size_t len);

/* SHA-256 of len bytes into out (32 bytes), with the digest fetched once per
 * process: OpenSSL 3's SHA256() and EVP_sha256() fetch it on every call
 * (a global lock and a name lookup). 1 on success. */
int jpki_util_sha256(const void *data, apr_size_t len, unsigned char *out);
/* The SHA-256 EVP_MD of the process (const EVP_MD *; NULL if OpenSSL has
 * none), for EVP calls that take a digest. */
const void *jpki_util_sha256_md(void);

/* Constant-time equality of two strings; length leaks, content does not. */
int jpki_util_ct_streq(const char *a, const char *b);

/* Normalise a serial written in hex (any case, optional 0x, ':' or ' '
 * separators, leading zeros) to lowercase hex without leading zeros.
 * Returns NULL if it is not hex or longer than 40 significant digits. */
const char *jpki_util_serial_norm(apr_pool_t *p, const char *in);

/* RFC 3339 UTC with milliseconds: 2026-11-24T03:20:00.123Z */
const char *jpki_util_time_iso(apr_pool_t *p, apr_time_t t);

/* The deepest nesting of [ and { outside strings; -1 if unbalanced. */
int jpki_json_depth(const char *buf, apr_size_t len);

/* Is this a same-origin relative path that is safe to redirect to? */
int jpki_return_to_valid(const char *s);

/* A secret (bearer token) read from a file: surrounding whitespace
 * trimmed, at most 4 KiB, no inner spaces or control characters. NULL with
 * *err ("cannot be opened", "is empty"...) on error. */
const char *jpki_util_read_token(apr_pool_t *p, const char *file, const char **err);
/* The Cookie header is read only up to this length: longer headers carry
 * no cookie of ours (fail closed: no session). */
#define JPKI_UTIL_COOKIE_HEADER_MAX 16384
/* Our cookie values are base64url of at most this many characters. */
#define JPKI_UTIL_COOKIE_VALUE_MAX 64

/* The value of cookie `name` in a Cookie request header (NULL header = none).
 * Returns NULL if the cookie is absent, if its value is empty, longer than
 * JPKI_UTIL_COOKIE_VALUE_MAX or not base64url, if the name appears more
 * than once (a planted duplicate is ambiguous: neither is used), or if the
 * header is longer than JPKI_UTIL_COOKIE_HEADER_MAX. Names compare exactly
 * (case-sensitive). Pure: the module's only Cookie parser. */
const char *jpki_util_cookie_get(apr_pool_t *p, const char *header, const char *name);

/* One directive argument as a whole number from min to max (strtol,
 * base 10; leading white space allowed as strtol allows it, trailing white
 * space only with trailing_ws). 1 and *out set, or 0 and *out untouched.
 * The caller words the error, naming its directive. */
int jpki_util_parse_int(const char *arg, long min, long max, int trailing_ws, int *out);

#endif
