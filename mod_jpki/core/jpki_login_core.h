/*
 * The pure parsers of the challenge login (docs/http-contract.md): the
 * login JSON body and the origin-bound client data the card signs
 * (protocol v2). APR + Jansson only, no httpd: the unit tests and the fuzz
 * targets link these objects through libjpki_core.
 */
#ifndef JPKI_LOGIN_CORE_H
#define JPKI_LOGIN_CORE_H

#include <apr_pools.h>

#include "core/jpki_cert.h" /* JPKI_CERT_MAX_DER */

/* Stable error codes (docs/errors.md) */
#define JPKI_E_CLIENT_DATA_MISSING "client_data_missing"
#define JPKI_E_CLIENT_DATA_INVALID "client_data_invalid"
#define JPKI_E_ORIGIN_MISMATCH     "origin_mismatch"

#define JPKI_CLIENTDATA_TYPE     "jpki.login"
#define JPKI_CLIENTDATA_MAX      1024 /* decoded bytes */
#define JPKI_ORIGIN_MAX          253
#define JPKI_LOGIN_MAX_BODY      65536 /* bytes of login JSON */
#define JPKI_LOGIN_MAX_DEPTH     8
#define JPKI_LOGIN_MAX_CHALLENGE 64 /* characters of the challenge field */
#define JPKI_LOGIN_MAX_CERT_B64  (JPKI_CERT_MAX_DER * 2)
#define JPKI_LOGIN_MAX_SIG_B64   2048 /* RSA-4096 is 684 characters */
#define JPKI_LOGIN_MAX_SIG       1024 /* decoded bytes */

/* The parsed client data. Strings live in the pool. */
typedef struct jpki_clientdata_t {
    const char *type;      /* "jpki.login" for a login */
    const char *challenge; /* [A-Za-z0-9_-]{16,128} */
    const char *origin;    /* a serialized origin (jpki_origin_valid) */
} jpki_clientdata_t;

/* Is s a serialized origin as the contract allows it: https://host[:port],
 * or http://localhost[:port] / http://127.0.0.1[:port]; at most 253
 * characters of [A-Za-z0-9.:/[]-]; no path, no trailing slash, a port of 1
 * to 65535 without leading zeros. "null" and everything else: 0. */
int jpki_origin_valid(const char *s);

/* The canonical client-data bytes for these values (no validation). */
char *jpki_clientdata_build(apr_pool_t *p, const char *type, const char *challenge,
                            const char *origin);

/* Parse client-data bytes (at most JPKI_CLIENTDATA_MAX): a JSON object of
 * exactly type, challenge and origin, each valid, in exactly the canonical
 * byte form {"type":"..","challenge":"..","origin":".."}. Returns NULL and
 * fills *cd, or a reason for the log (a static string; never the input). */
const char *jpki_clientdata_parse(apr_pool_t *p, const unsigned char *buf, apr_size_t len,
                                  jpki_clientdata_t *cd);

/* Decode the body's client_data field (base64url without padding) and
 * parse it; then check its type is "jpki.login" and its challenge equals
 * the body's. Returns NULL with the bytes in *bytes and *len and *cd filled,
 * or a reason (static string): the code is then client_data_invalid. */
const char *jpki_clientdata_decode(apr_pool_t *p, const char *b64url, const char *challenge,
                                   const unsigned char **bytes, apr_size_t *len,
                                   jpki_clientdata_t *cd);

/* The login body after parsing: strings copied into the pool. */
typedef struct jpki_login_body_t {
    const char *challenge;
    const char *client_data; /* base64url text; NULL when absent (legacy form) */
    const char *certificate;
    const char *return_to; /* NULL when absent or null */
    const unsigned char *signature;
    apr_size_t signature_len;
} jpki_login_body_t;

/* Parse a login body of len bytes: at most JPKI_LOGIN_MAX_BODY bytes, JSON
 * nested at most JPKI_LOGIN_MAX_DEPTH, duplicate keys refused, typed and
 * bounded fields, return_to a same-origin path, signature base64 of at most
 * 1024 bytes. client_data, if present, must be a non-empty string (its
 * content is checked after the challenge is consumed). Returns NULL on
 * success, else the stable code (body_too_large, malformed_json,
 * malformed_request, invalid_return_to) with the reason in *why. */
const char *jpki_login_body_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                  jpki_login_body_t *out, const char **why);

/* Parse a JSON object: depth-limited, duplicates refused. NULL with *why
 * when it is not one. The caller json_decref()s the result. */
struct json_t *jpki_json_object_parse(const char *buf, apr_size_t len, int max_depth,
                                      const char **why);

#endif
