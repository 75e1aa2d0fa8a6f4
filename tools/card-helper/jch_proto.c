/* The card helper's protocol rules, pure functions (unit-tested in
 * tests/unit/test_card_helper.c): Host and Origin checks, the request body, the
 * client data the card signs (/work contract "origin binding", docs/card-helper.md)
 * and the table of answers. */
#include "jch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

static const jpki_ch_error_t errors[JCH_E_COUNT] = {
    [JCH_OK] = {"ok", 200, "signed"},
    [JCH_E_HOST_REFUSED] = {"host_refused", 403, "Host must be 127.0.0.1 or localhost"},
    [JCH_E_ORIGIN_REFUSED] = {"origin_refused", 403,
                              "this web site is not allowed to use the card helper"},
    [JCH_E_NOT_FOUND] = {"not_found", 404, "no such path"},
    [JCH_E_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, "use POST"},
    [JCH_E_BAD_REQUEST] = {"bad_request", 400, "the request is not {\"challenge\": ...}"},
    [JCH_E_REQUEST_TOO_LARGE] = {"request_too_large", 413, "the request is too large"},
    [JCH_E_BUSY] = {"busy", 409, "the card helper is busy with another signature"},
    [JCH_E_READER_NOT_FOUND] = {"reader_not_found", 503, "no card reader is connected"},
    [JCH_E_CARD_NOT_FOUND] = {"card_not_found", 503,
                              "no My Number Card with a user-authentication certificate"},
    [JCH_E_CARD_AMBIGUOUS] = {"card_ambiguous", 409,
                              "more than one card is inserted: leave only one"},
    [JCH_E_CARD_REMOVED] = {"card_removed", 503, "the card was removed during the signature"},
    [JCH_E_PIN_CANCELLED] = {"pin_cancelled", 409, "the PIN dialog was cancelled"},
    [JCH_E_PIN_TIMEOUT] = {"pin_timeout", 408, "no PIN was entered in time"},
    [JCH_E_PIN_INVALID] = {"pin_invalid", 409,
                           "the PIN has the wrong format; the card was not asked"},
    [JCH_E_PIN_INCORRECT] = {"pin_incorrect", 409, "wrong PIN"},
    [JCH_E_PIN_FINAL_TRY] = {"pin_final_try", 409,
                             "one try is left: the helper does not risk locking the card; "
                             "reset the PIN at the municipal office"},
    [JCH_E_PIN_BLOCKED] = {"pin_blocked", 409,
                           "the PIN is locked: unlock it at the municipal office"},
    [JCH_E_PINENTRY_FAILED] = {"pinentry_failed", 500, "the PIN dialog could not be shown"},
    [JCH_E_CARD_ERROR] = {"card_error", 500, "the card or the reader failed"},
};

const jpki_ch_error_t *jpki_ch_error_get(jpki_ch_code_t c)
{
    if ((int)c < 0 || c >= JCH_E_COUNT)
        c = JCH_E_CARD_ERROR;
    return &errors[c];
}

static int port_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 5 || p[0] == '0')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)p[i]))
            return 0;
    return atol(p) <= 65535;
}

/* scheme://host[:port], the ASCII serialization a browser sends. */
int jpki_ch_origin_valid(const char *o)
{
    const char *h;
    char host[JCH_ORIGIN_MAX + 1];
    size_t n;
    int https;

    if (!o || (n = strlen(o)) == 0 || n > JCH_ORIGIN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)o[i]) && !strchr(".:/[]-", o[i]))
            return 0;
    if (!strncmp(o, "https://", 8))
        https = 1, h = o + 8;
    else if (!strncmp(o, "http://", 7))
        https = 0, h = o + 7;
    else
        return 0;
    if (!*h || strchr(h, '/'))
        return 0;
    strcpy(host, h);
    char *port = NULL;
    if (host[0] == '[') {
        char *end = strchr(host, ']');
        if (!end || end == host + 1)
            return 0;
        if (end[1] == ':')
            port = end + 2;
        else if (end[1])
            return 0;
        end[1] = '\0';
    } else if ((port = strchr(host, ':'))) {
        *port++ = '\0';
        if (strchr(port, ':') || strchr(port, '[') || strchr(port, ']'))
            return 0;
    }
    if (!host[0] || strchr(host + 1, '[') || (port && !port_ok(port)))
        return 0;
    if (host[0] != '[' && (strchr(host, '[') || strchr(host, ']')))
        return 0;
    if (host[0] == '.' || host[strlen(host) - 1] == '.')
        return 0;
    if (!https) /* http only for the local test origins */
        return !strcmp(host, "localhost") || !strcmp(host, "127.0.0.1");
    return 1;
}

int jpki_ch_host_ok(const char *host, unsigned port)
{
    char a[32], b[32];
    if (!host || port == 0)
        return 0;
    snprintf(a, sizeof a, "127.0.0.1:%u", port);
    snprintf(b, sizeof b, "localhost:%u", port);
    return !strcmp(host, a) || !strcasecmp(host, b);
}

int jpki_ch_challenge_valid(const char *c, size_t len)
{
    if (!c || len < JCH_CHALLENGE_MIN || len > JCH_CHALLENGE_MAX || strlen(c) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)c[i]) && c[i] != '-' && c[i] != '_')
            return 0;
    return 1;
}

jpki_ch_code_t jpki_ch_body_parse(const char *body, size_t len, char *out)
{
    json_error_t jerr;
    json_t *j, *c;
    jpki_ch_code_t rc = JCH_E_BAD_REQUEST;

    if (!body || len == 0 || len > JCH_MAX_BODY)
        return len > JCH_MAX_BODY ? JCH_E_REQUEST_TOO_LARGE : JCH_E_BAD_REQUEST;
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return rc;
    /* exactly one member: the old {"digest": ...} form is refused */
    if (json_is_object(j) && json_object_size(j) == 1 && (c = json_object_get(j, "challenge")) &&
        json_is_string(c) && jpki_ch_challenge_valid(json_string_value(c), json_string_length(c))) {
        memcpy(out, json_string_value(c), json_string_length(c) + 1);
        rc = JCH_OK;
    }
    json_decref(j);
    return rc;
}

size_t jpki_ch_client_data_build(const char *challenge, const char *origin, char *out, size_t outsz)
{
    int n;
    if (!challenge || !jpki_ch_challenge_valid(challenge, strlen(challenge)) ||
        !jpki_ch_origin_valid(origin))
        return 0;
    n = snprintf(out, outsz, "{\"type\":\"jpki.login\",\"challenge\":\"%s\",\"origin\":\"%s\"}",
                 challenge, origin);
    return (n > 0 && (size_t)n < outsz) ? (size_t)n : 0;
}

void jpki_ch_digestinfo_sha256(const unsigned char *data, size_t len, unsigned char out[51])
{
    static const unsigned char prefix[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                             0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                             0x01, 0x05, 0x00, 0x04, 0x20};
    memcpy(out, prefix, sizeof prefix);
    SHA256(data, len, out + sizeof prefix);
}

char *jpki_ch_b64(const unsigned char *in, size_t len, int url)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    int n = EVP_EncodeBlock((unsigned char *)s, in, (int)len);
    if (url) {
        while (n > 0 && s[n - 1] == '=')
            s[--n] = '\0';
        for (int i = 0; i < n; i++)
            s[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
    }
    return s;
}

int jpki_ch_content_type_json(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct || strncasecmp(ct, want, sizeof want - 1))
        return 0;
    ct += sizeof want - 1;
    return *ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t';
}
