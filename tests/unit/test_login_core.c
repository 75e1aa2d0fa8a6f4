/*
 * Unit tests of core/jpki_login_core.c, the pure login parsers: the
 * origin-bound client data (protocol v2), origins, and the login body.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "unit.h"
#include "core/jpki_login_core.h"
#include "core/jpki_util.h"

#define CH "q8S0bW1xYZabcdefghijklmnopqrstuvwxyz0123-_A" /* 43 characters */
#define CANON                                                                                      \
    "{\"type\":\"jpki.login\",\"challenge\":\"" CH "\",\"origin\":\"https://bank.example\"}"

static const char *parse(const char *s, jpki_clientdata_t *cd)
{
    return jpki_clientdata_parse(pool, (const unsigned char *)s, strlen(s), cd);
}

static const char *b64url(const char *s)
{
    return jpki_util_b64url_encode(pool, (const unsigned char *)s, strlen(s));
}

START_TEST(origin_valid)
{
    static const char *good[] = {"https://bank.example",
                                 "https://bank.example:8443",
                                 "https://localhost:12001",
                                 "http://localhost",
                                 "http://127.0.0.1:8080",
                                 "https://[::1]:8443",
                                 "https://a",
                                 "https://xn--eckwd4c7c.jp",
                                 NULL};
    static const char *bad[] = {"null",
                                "",
                                "bank.example",
                                "https://",
                                "https://bank.example/",
                                "https://bank.example/login",
                                "http://bank.example",
                                "http://localhost.evil.example",
                                "ftp://bank.example",
                                "https://bank.example:0",
                                "https://bank.example:08443",
                                "https://bank.example:65536",
                                "https://bank.example:123456",
                                "https://bank.example:",
                                "https://user@bank.example",
                                "https://bank_example",
                                "https://bank.example?x",
                                "https://bank.example#x",
                                "HTTPS://bank.example",
                                "https://bank.example ",
                                "https://[::1",
                                "https://b\"ank",
                                "https://b\\ank",
                                NULL};
    int i;
    char *longest;
    for (i = 0; good[i]; i++) {
        ck_assert_msg(jpki_origin_valid(good[i]), "should be valid: %s", good[i]);
    }
    for (i = 0; bad[i]; i++) {
        ck_assert_msg(!jpki_origin_valid(bad[i]), "should be refused: %s", bad[i]);
    }
    ck_assert_int_eq(jpki_origin_valid(NULL), 0);
    /* 253 characters is the limit */
    longest = apr_pstrcat(pool, "https://", apr_psprintf(pool, "%0245d", 0), NULL);
    memset(longest + 8, 'a', 245);
    ck_assert_int_eq(strlen(longest), 253);
    ck_assert_int_eq(jpki_origin_valid(longest), 1);
    ck_assert_int_eq(jpki_origin_valid(apr_pstrcat(pool, longest, "a", NULL)), 0);
}
END_TEST

START_TEST(clientdata_canonical)
{
    jpki_clientdata_t cd;
    ck_assert_ptr_null(parse(CANON, &cd));
    ck_assert_str_eq(cd.type, "jpki.login");
    ck_assert_str_eq(cd.challenge, CH);
    ck_assert_str_eq(cd.origin, "https://bank.example");
    ck_assert_str_eq(jpki_clientdata_build(pool, "jpki.login", CH, "https://bank.example"), CANON);
}
END_TEST

START_TEST(clientdata_not_canonical)
{
    jpki_clientdata_t cd;
    static const char *bad[] = {
        /* whitespace */
        "{ \"type\":\"jpki.login\",\"challenge\":\"" CH "\",\"origin\":\"https://bank.example\"}",
        "{\"type\":\"jpki.login\",\"challenge\":\"" CH "\",\"origin\":\"https://bank.example\"}\n",
        /* other key order */
        "{\"challenge\":\"" CH "\",\"type\":\"jpki.login\",\"origin\":\"https://bank.example\"}",
        /* an escape that decodes to the same value */
        "{\"type\":\"jpki\\u002elogin\",\"challenge\":\"" CH
        "\",\"origin\":\"https://bank.example\"}",
        "{\"type\":\"jpki.login\",\"challenge\":\"" CH
        "\",\"origin\":\"https:\\/\\/bank.example\"}",
        /* an extra key, a missing key, a duplicate key */
        "{\"type\":\"jpki.login\",\"challenge\":\"" CH
        "\",\"origin\":\"https://bank.example\",\"x\":1}",
        "{\"type\":\"jpki.login\",\"challenge\":\"" CH "\"}",
        "{\"type\":\"jpki.login\",\"challenge\":\"" CH "\",\"challenge\":\"" CH "\"}",
        /* wrong JSON types, nesting */
        "{\"type\":\"jpki.login\",\"challenge\":1,\"origin\":\"https://bank.example\"}",
        "{\"type\":\"jpki.login\",\"challenge\":[\"" CH "\"],\"origin\":\"https://bank.example\"}",
        "[\"jpki.login\",\"" CH "\",\"https://bank.example\"]",
        /* invalid values */
        "{\"type\":\"jpki.login\",\"challenge\":\"" CH "\",\"origin\":\"null\"}",
        "{\"type\":\"jpki.login\",\"challenge\":\"" CH "\",\"origin\":\"https://bank.example/\"}",
        "{\"type\":\"jpki.login\",\"challenge\":\"short\",\"origin\":\"https://bank.example\"}",
        "{\"type\":\"jpki.login\",\"challenge\":\"" CH "=\",\"origin\":\"https://bank.example\"}",
        "{\"type\":\"JPKI.login\",\"challenge\":\"" CH "\",\"origin\":\"https://bank.example\"}",
        "{\"type\":\"\",\"challenge\":\"" CH "\",\"origin\":\"https://bank.example\"}",
        /* not JSON */
        "{\"type\":\"jpki.login\",\"challenge\":\"" CH "\",\"origin\":\"https://bank.example\"",
        "jpki.login " CH, NULL};
    int i;
    for (i = 0; bad[i]; i++) {
        ck_assert_msg(parse(bad[i], &cd) != NULL, "should be refused: %s", bad[i]);
    }
    /* a NUL inside the bytes */
    ck_assert_ptr_nonnull(
        jpki_clientdata_parse(pool, (const unsigned char *)CANON "\0", sizeof(CANON), &cd));
    ck_assert_ptr_nonnull(jpki_clientdata_parse(pool, (const unsigned char *)"", 0, &cd));
    ck_assert_ptr_nonnull(jpki_clientdata_parse(pool, NULL, 5, &cd));
}
END_TEST

START_TEST(clientdata_size)
{
    jpki_clientdata_t cd;
    char *big = apr_pcalloc(pool, 2048);
    char *ch = apr_pcalloc(pool, 130);
    const char *doc;
    memset(ch, 'A', 128);
    doc = jpki_clientdata_build(pool, "jpki.login", ch, "https://bank.example");
    ck_assert_ptr_null(parse(doc, &cd)); /* 128 characters: the largest challenge */
    ch[128] = 'A';                       /* 129: one too many */
    ck_assert_ptr_nonnull(
        parse(jpki_clientdata_build(pool, "jpki.login", ch, "https://bank.example"), &cd));
    memset(big, ' ', 2047);
    memcpy(big, CANON, strlen(CANON));
    ck_assert_ptr_nonnull(jpki_clientdata_parse(pool, (const unsigned char *)big, 1025, &cd));
    ck_assert_ptr_nonnull(jpki_clientdata_parse(pool, (const unsigned char *)big, 2047, &cd));
}
END_TEST

START_TEST(clientdata_decode)
{
    jpki_clientdata_t cd;
    const unsigned char *bytes;
    apr_size_t len;
    const char *enc = b64url(CANON);
    char *big, *std;

    ck_assert_ptr_null(jpki_clientdata_decode(pool, enc, CH, &bytes, &len, &cd));
    ck_assert_int_eq(len, strlen(CANON));
    ck_assert_int_eq(memcmp(bytes, CANON, len), 0);
    ck_assert_str_eq(cd.origin, "https://bank.example");
    /* another challenge than the body's */
    ck_assert_ptr_nonnull(jpki_clientdata_decode(
        pool, enc, "Z8S0bW1xYZabcdefghijklmnopqrstuvwxyz0123-_A", &bytes, &len, &cd));
    /* another type */
    ck_assert_ptr_nonnull(
        jpki_clientdata_decode(pool,
                               b64url("{\"type\":\"jpki.sign\",\"challenge\":\"" CH
                                      "\",\"origin\":\"https://bank.example\"}"),
                               CH, &bytes, &len, &cd));
    /* standard base64, padding, whitespace, bad characters */
    std = apr_pstrdup(pool, enc);
    std[4] = '+'; /* the standard alphabet is not base64url */
    ck_assert_ptr_nonnull(jpki_clientdata_decode(pool, std, CH, &bytes, &len, &cd));
    std[4] = '/';
    ck_assert_ptr_nonnull(jpki_clientdata_decode(pool, std, CH, &bytes, &len, &cd));
    ck_assert_ptr_nonnull(
        jpki_clientdata_decode(pool, apr_pstrcat(pool, enc, "=", NULL), CH, &bytes, &len, &cd));
    ck_assert_ptr_nonnull(
        jpki_clientdata_decode(pool, apr_pstrcat(pool, " ", enc, NULL), CH, &bytes, &len, &cd));
    ck_assert_ptr_nonnull(jpki_clientdata_decode(pool, "!!!!", CH, &bytes, &len, &cd));
    ck_assert_ptr_nonnull(jpki_clientdata_decode(pool, "", CH, &bytes, &len, &cd));
    ck_assert_ptr_nonnull(jpki_clientdata_decode(pool, "A", CH, &bytes, &len, &cd));
    /* over 1024 decoded bytes */
    big = apr_pcalloc(pool, 1400);
    memset(big, 'A', 1399);
    ck_assert_ptr_nonnull(jpki_clientdata_decode(pool, big, CH, &bytes, &len, &cd));
}
END_TEST

static const char *body(const char *json, jpki_login_body_t *out, const char **why)
{
    return jpki_login_body_parse(pool, json, strlen(json), out, why);
}

START_TEST(login_body)
{
    jpki_login_body_t b;
    const char *why = NULL;
    ck_assert_ptr_null(body("{\"challenge\":\"" CH "\",\"client_data\":\"eyJ0\","
                            "\"certificate\":\"MIIB\",\"signature\":\"AAEC\","
                            "\"return_to\":\"/a?b=1\"}",
                            &b, &why));
    ck_assert_str_eq(b.challenge, CH);
    ck_assert_str_eq(b.client_data, "eyJ0");
    ck_assert_str_eq(b.certificate, "MIIB");
    ck_assert_str_eq(b.return_to, "/a?b=1");
    ck_assert_int_eq(b.signature_len, 3);
    ck_assert_int_eq(b.signature[2], 2);
    /* legacy form: no client_data, return_to null */
    ck_assert_ptr_null(body("{\"challenge\":\"c\",\"certificate\":\"MIIB\",\"signature\":\"AAEC\","
                            "\"return_to\":null}",
                            &b, &why));
    ck_assert_ptr_null(b.client_data);
    ck_assert_ptr_null(b.return_to);
}
END_TEST

START_TEST(login_body_bad)
{
    jpki_login_body_t b;
    const char *why = NULL;
    char *deep, *large;
    int i;
    ck_assert_str_eq(body("[1,2]", &b, &why), "malformed_json");
    ck_assert_str_eq(body("{\"challenge\":", &b, &why), "malformed_json");
    ck_assert_str_eq(body("{\"challenge\":\"a\",\"challenge\":\"b\",\"certificate\":\"MIIB\","
                          "\"signature\":\"AAEC\"}",
                          &b, &why),
                     "malformed_json");
    deep = apr_pcalloc(pool, 2100);
    strcpy(deep, "{\"challenge\":");
    for (i = 0; i < 1000; i++) {
        strcat(deep, "[");
    }
    for (i = 0; i < 1000; i++) {
        strcat(deep, "]");
    }
    strcat(deep, "}");
    ck_assert_str_eq(body(deep, &b, &why), "malformed_json");
    ck_assert_str_eq(why, "JSON nested too deeply");
    ck_assert_str_eq(body("{\"certificate\":\"MIIB\",\"signature\":\"AAEC\"}", &b, &why),
                     "malformed_request");
    ck_assert_str_eq(
        body("{\"challenge\":\"c\",\"certificate\":[1],\"signature\":\"AAEC\"}", &b, &why),
        "malformed_request");
    ck_assert_str_eq(
        body("{\"challenge\":\"c\",\"certificate\":\"MIIB\",\"signature\":\"!!\"}", &b, &why),
        "malformed_request");
    ck_assert_str_eq(why, "signature is not base64");
    ck_assert_str_eq(body("{\"challenge\":\"c\",\"certificate\":\"MIIB\",\"signature\":\"AAEC\","
                          "\"client_data\":42}",
                          &b, &why),
                     "malformed_request");
    ck_assert_str_eq(body("{\"challenge\":\"c\",\"certificate\":\"MIIB\",\"signature\":\"AAEC\","
                          "\"client_data\":\"\"}",
                          &b, &why),
                     "malformed_request");
    ck_assert_str_eq(body("{\"challenge\":\"c\",\"certificate\":\"MIIB\",\"signature\":\"AAEC\","
                          "\"return_to\":\"//evil.example\"}",
                          &b, &why),
                     "invalid_return_to");
    ck_assert_str_eq(body("{\"challenge\":\"c\",\"certificate\":\"MIIB\",\"signature\":\"AAEC\","
                          "\"return_to\":7}",
                          &b, &why),
                     "invalid_return_to");
    /* 65 challenge characters */
    ck_assert_str_eq(body(apr_psprintf(pool,
                                       "{\"challenge\":\"%065d\",\"certificate\":\"MIIB\","
                                       "\"signature\":\"AAEC\"}",
                                       0),
                          &b, &why),
                     "malformed_request");
    large = apr_pcalloc(pool, JPKI_LOGIN_MAX_BODY + 2);
    memset(large, ' ', JPKI_LOGIN_MAX_BODY + 1);
    ck_assert_str_eq(jpki_login_body_parse(pool, large, JPKI_LOGIN_MAX_BODY + 1, &b, &why),
                     "body_too_large");
}
END_TEST

/* The generic JSON-object reader behind the login body and client data. */
static const char *obj_why(const char *s, int max_depth)
{
    const char *why = NULL;
    json_t *o = jpki_json_object_parse(s, strlen(s), max_depth, &why);
    if (o != NULL) {
        json_decref(o);
        return "object";
    }
    ck_assert_ptr_nonnull(why);
    return why;
}

START_TEST(json_object_parse)
{
    ck_assert_str_eq(obj_why("{\"a\":{\"b\":1}}", 2), "object");
    ck_assert_str_eq(obj_why("{\"a\":{\"b\":1}}", 1), "JSON nested too deeply");
    ck_assert_str_eq(obj_why("{\"a\":1", 4), "body is not balanced JSON");
    ck_assert_str_eq(obj_why("{\"a\":01}", 4), "body is not valid JSON");
    ck_assert_str_eq(obj_why("{\"a\":1,\"a\":2}", 4), "body is not valid JSON");
    ck_assert_str_eq(obj_why("[1,2]", 4), "body is not a JSON object");
    ck_assert_str_eq(obj_why("\"x\"", 4), "body is not valid JSON"); /* no JSON_DECODE_ANY */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_login_core");
    TCase *tc = unit_tcase(s, "login_core", 0);
    tcase_add_test(tc, origin_valid);
    tcase_add_test(tc, clientdata_canonical);
    tcase_add_test(tc, clientdata_not_canonical);
    tcase_add_test(tc, clientdata_size);
    tcase_add_test(tc, clientdata_decode);
    tcase_add_test(tc, login_body);
    tcase_add_test(tc, login_body_bad);
    tcase_add_test(tc, json_object_parse);
    return unit_run(s);
}
