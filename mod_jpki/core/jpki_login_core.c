/*
 * Pure parsers of the challenge login: the JSON body and the client data
 * (docs/http-contract.md, "What the card signs"). No httpd here.
 */
#include "core/jpki_login_core.h"
#include "core/jpki_util.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>
#include <string.h>

static int is_b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static int challenge_text_valid(const char *s)
{
    apr_size_t n = 0;
    for (; *s; s++, n++) {
        if (!is_b64url_char(*s)) {
            return 0;
        }
    }
    return n >= 16 && n <= 128;
}

/* host: a DNS-style name of [A-Za-z0-9.-] or a bracketed IPv6 literal. */
static int host_valid(const char *h, apr_size_t n)
{
    apr_size_t i;
    if (n == 0) {
        return 0;
    }
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']') {
            return 0;
        }
        for (i = 1; i + 1 < n; i++) {
            if (!(apr_isxdigit(h[i]) || h[i] == ':' || h[i] == '.')) {
                return 0;
            }
        }
        return 1;
    }
    for (i = 0; i < n; i++) {
        if (!(apr_isalnum(h[i]) || h[i] == '.' || h[i] == '-')) {
            return 0;
        }
    }
    return 1;
}

static int port_valid(const char *s)
{
    long v = 0;
    apr_size_t n = 0;
    if (*s == '0') {
        return 0; /* browsers never serialize leading zeros (nor port 0) */
    }
    for (; *s; s++, n++) {
        if (!apr_isdigit(*s) || n >= 5) {
            return 0;
        }
        v = v * 10 + (*s - '0');
    }
    return n > 0 && v <= 65535;
}

int jpki_origin_valid(const char *s)
{
    const char *rest, *colon;
    apr_size_t hlen;
    int http = 0;
    char host[JPKI_ORIGIN_MAX + 1];

    if (s == NULL || strlen(s) > JPKI_ORIGIN_MAX) {
        return 0;
    }
    if (strncmp(s, "https://", 8) == 0) {
        rest = s + 8;
    } else if (strncmp(s, "http://", 7) == 0) {
        rest = s + 7;
        http = 1;
    } else {
        return 0;
    }
    if (strchr(rest, '/') != NULL) {
        return 0; /* a path, or a trailing slash */
    }
    /* the port separator is the last ':' after any IPv6 literal */
    colon = strrchr(rest, ':');
    if (colon != NULL && strchr(colon, ']') != NULL) {
        colon = NULL;
    }
    if (rest[0] == '[' && colon != NULL && colon[-1] != ']') {
        colon = NULL;
    }
    hlen = colon ? (apr_size_t)(colon - rest) : strlen(rest);
    if (!host_valid(rest, hlen) || (colon && !port_valid(colon + 1))) {
        return 0;
    }
    memcpy(host, rest, hlen);
    host[hlen] = '\0';
    if (http && strcmp(host, "localhost") != 0 && strcmp(host, "127.0.0.1") != 0) {
        return 0; /* plain http only for loopback test pages */
    }
    return 1;
}

char *jpki_clientdata_build(apr_pool_t *p, const char *type, const char *challenge,
                            const char *origin)
{
    return apr_pstrcat(p, "{\"type\":\"", type, "\",\"challenge\":\"", challenge,
                       "\",\"origin\":\"", origin, "\"}", NULL);
}

json_t *jpki_json_object_parse(const char *buf, apr_size_t len, int max_depth, const char **why)
{
    json_error_t e;
    json_t *o;
    int depth = jpki_json_depth(buf, len);
    if (depth < 0) {
        *why = "body is not balanced JSON";
        return NULL;
    }
    if (depth > max_depth) {
        *why = "JSON nested too deeply";
        return NULL;
    }
    o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
    if (o == NULL) {
        *why = "body is not valid JSON";
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        *why = "body is not a JSON object";
        return NULL;
    }
    return o;
}

/* A string member copied into the pool; NULL if absent or not a string. */
static const char *member(apr_pool_t *p, json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) ? apr_pstrmemdup(p, json_string_value(v), json_string_length(v))
                             : NULL;
}

const char *jpki_clientdata_parse(apr_pool_t *p, const unsigned char *buf, apr_size_t len,
                                  jpki_clientdata_t *cd)
{
    const char *why = NULL;
    const char *canon;
    json_t *o;

    memset(cd, 0, sizeof(*cd));
    if (buf == NULL || len == 0 || len > JPKI_CLIENTDATA_MAX) {
        return "client data empty or over 1024 bytes";
    }
    if ((o = jpki_json_object_parse((const char *)buf, len, 1, &why)) == NULL) {
        return "client data is not a flat JSON object";
    }
    if (json_object_size(o) != 3) {
        json_decref(o);
        return "client data must have exactly type, challenge and origin";
    }
    cd->type = member(p, o, "type");
    cd->challenge = member(p, o, "challenge");
    cd->origin = member(p, o, "origin");
    json_decref(o);
    if (cd->type == NULL || cd->challenge == NULL || cd->origin == NULL) {
        return "client data type, challenge or origin missing or not a string";
    }
    if (strlen(cd->type) == 0 || strlen(cd->type) > 32 ||
        strspn(cd->type, "abcdefghijklmnopqrstuvwxyz.") != strlen(cd->type)) {
        return "client data type is not a lowercase name";
    }
    if (!challenge_text_valid(cd->challenge)) {
        return "client data challenge is not 16..128 base64url characters";
    }
    if (!jpki_origin_valid(cd->origin)) {
        return "client data origin is not a serialized https origin";
    }
    /* Byte for byte the canonical form: no whitespace, order, escapes. */
    canon = jpki_clientdata_build(p, cd->type, cd->challenge, cd->origin);
    if (strlen(canon) != len || memcmp(canon, buf, len) != 0) {
        return "client data is not in the canonical byte form";
    }
    return NULL;
}

const char *jpki_clientdata_decode(apr_pool_t *p, const char *b64url, const char *challenge,
                                   const unsigned char **bytes, apr_size_t *len,
                                   jpki_clientdata_t *cd)
{
    const char *c, *why;
    apr_size_t n = strlen(b64url);

    memset(cd, 0, sizeof(*cd));
    /* base64url without padding only; ~1368 characters for 1024 bytes */
    if (n == 0 || n > (JPKI_CLIENTDATA_MAX + 2) / 3 * 4 || n % 4 == 1) {
        return "client_data is empty, over 1024 bytes or truncated";
    }
    for (c = b64url; *c; c++) {
        if (!is_b64url_char(*c)) {
            return "client_data is not base64url without padding";
        }
    }
    *bytes = jpki_util_b64_decode(p, b64url, n, JPKI_CLIENTDATA_MAX, len);
    if (*bytes == NULL) {
        return "client_data is not base64url or over 1024 bytes";
    }
    if ((why = jpki_clientdata_parse(p, *bytes, *len, cd)) != NULL) {
        return why;
    }
    if (strcmp(cd->type, JPKI_CLIENTDATA_TYPE) != 0) {
        return "client data type is not jpki.login";
    }
    if (!jpki_util_ct_streq(cd->challenge, challenge)) {
        return "client data names another challenge than the body";
    }
    return NULL;
}

/* A required string field of bounded length. */
static const char *field(apr_pool_t *p, json_t *o, const char *name, apr_size_t max,
                         const char **why)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL) {
        *why = apr_psprintf(p, "field '%s' is missing", name);
        return NULL;
    }
    if (!json_is_string(v)) {
        *why = apr_psprintf(p, "field '%s' must be a string", name);
        return NULL;
    }
    if (json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        *why = apr_psprintf(
            p, "field '%s' is empty, longer than %" APR_SIZE_T_FMT " or holds a NUL", name, max);
        return NULL;
    }
    return apr_pstrdup(p, json_string_value(v));
}

/* The fields in the order the checks have always run: challenge,
 * certificate, signature, then client_data and return_to. */
static const char *body_fields(apr_pool_t *p, json_t *o, jpki_login_body_t *out,
                               const char **sig_b64, const char **why)
{
    json_t *rt = json_object_get(o, "return_to");

    if ((out->challenge = field(p, o, "challenge", JPKI_LOGIN_MAX_CHALLENGE, why)) == NULL ||
        (out->certificate = field(p, o, "certificate", JPKI_LOGIN_MAX_CERT_B64, why)) == NULL ||
        (*sig_b64 = field(p, o, "signature", JPKI_LOGIN_MAX_SIG_B64, why)) == NULL) {
        return "malformed_request";
    }
    if (json_object_get(o, "client_data") != NULL &&
        (out->client_data = field(p, o, "client_data", JPKI_LOGIN_MAX_BODY, why)) == NULL) {
        return "malformed_request";
    }
    if (rt != NULL && !json_is_null(rt)) {
        if (!json_is_string(rt) || strlen(json_string_value(rt)) != json_string_length(rt) ||
            !jpki_return_to_valid(json_string_value(rt))) {
            *why = "return_to must be a same-origin path starting with a single '/'";
            return "invalid_return_to";
        }
        out->return_to = apr_pstrdup(p, json_string_value(rt));
    }
    return NULL;
}

const char *jpki_login_body_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                  jpki_login_body_t *out, const char **why)
{
    json_t *o;
    const char *code, *sig_b64 = NULL;

    memset(out, 0, sizeof(*out));
    if (len > JPKI_LOGIN_MAX_BODY) {
        *why = "body over 64 KiB";
        return "body_too_large";
    }
    if ((o = jpki_json_object_parse(body, len, JPKI_LOGIN_MAX_DEPTH, why)) == NULL) {
        return "malformed_json";
    }
    code = body_fields(p, o, out, &sig_b64, why);
    json_decref(o);
    if (code != NULL) {
        return code;
    }
    out->signature =
        jpki_util_b64_decode(p, sig_b64, strlen(sig_b64), JPKI_LOGIN_MAX_SIG, &out->signature_len);
    if (out->signature == NULL) {
        *why = "signature is not base64";
        return "malformed_request";
    }
    return NULL;
}
