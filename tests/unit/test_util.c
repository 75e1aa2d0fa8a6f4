/*
 * Unit tests of core/jpki_util.c: hex, base64/base64url, constant-time
 * compare, serial normalisation, RFC 3339 times, JSON depth, return_to
 * validation, token files, the cookie reader, the directive integer parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "unit.h"
#include "core/jpki_util.h"

START_TEST(serial_norm)
{
    ck_assert_str_eq(jpki_util_serial_norm(pool, "06D18006"), "6d18006");
    ck_assert_str_eq(jpki_util_serial_norm(pool, "0x00ab:CD"), "abcd");
    ck_assert_str_eq(jpki_util_serial_norm(pool, "00 01"), "1");
    ck_assert_str_eq(jpki_util_serial_norm(pool, "0000"), "0");
    ck_assert_ptr_null(jpki_util_serial_norm(pool, ""));
    ck_assert_ptr_null(jpki_util_serial_norm(pool, "12g4"));
    ck_assert_ptr_null(jpki_util_serial_norm(pool, "1'; DROP TABLE accounts;--"));
    /* 41 significant digits: longer than a 20-byte serial */
    ck_assert_ptr_null(jpki_util_serial_norm(pool, "1234567890123456789012345678901234567890a"));
    ck_assert_str_eq(
        jpki_util_serial_norm(pool, "000000000001234567890123456789012345678901234567890"),
        "1234567890123456789012345678901234567890");
}
END_TEST

START_TEST(cookie_get)
{
    char *big;
    const char *v43 = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";
    ck_assert_str_eq(jpki_util_cookie_get(pool, "a=1; __Host-s=xyz_-9; b=2", "__Host-s"), "xyz_-9");
    ck_assert_str_eq(jpki_util_cookie_get(pool, "__Host-s=abc", "__Host-s"), "abc");
    ck_assert_str_eq(jpki_util_cookie_get(pool, "x=1;\t__Host-s=abc ;y=2", "__Host-s"), "abc");
    ck_assert_str_eq(jpki_util_cookie_get(pool, apr_pstrcat(pool, "s=", v43, NULL), "s"), v43);
    /* absent, empty, prefix/suffix names, case */
    ck_assert_ptr_null(jpki_util_cookie_get(pool, NULL, "s"));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "", "s"));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "a=1", ""));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "s=", "s"));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "ss=abc", "s"));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "xs=abc", "s"));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "s", "s"));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "__host-s=abc", "__Host-s"));
    ck_assert_str_eq(jpki_util_cookie_get(pool, "s_pre=p1; s=abc", "s"), "abc");
    ck_assert_str_eq(jpki_util_cookie_get(pool, "s=abc; s_pre=p1", "s_pre"), "p1");
    /* values that are not ours: not base64url, too long */
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "s=a b", "s"));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "s=\"abc\"", "s"));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "s=abc=", "s"));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "s=a%41", "s"));
    ck_assert_ptr_null(
        jpki_util_cookie_get(pool, apr_pstrcat(pool, "s=", v43, v43, NULL), "s")); /* 86 > 64 */
    /* a duplicate (e.g. planted by a sibling host) is ambiguous */
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "s=abc; s=def", "s"));
    ck_assert_ptr_null(jpki_util_cookie_get(pool, "s=abc; t=1; s=abc", "s"));
    /* bounded input: a header over the limit yields nothing */
    big = apr_palloc(pool, JPKI_UTIL_COOKIE_HEADER_MAX + 16);
    memset(big, 'x', JPKI_UTIL_COOKIE_HEADER_MAX + 15);
    memcpy(big, "s=abc; y=", 9);
    big[JPKI_UTIL_COOKIE_HEADER_MAX + 15] = '\0';
    ck_assert_ptr_null(jpki_util_cookie_get(pool, big, "s"));
    big[JPKI_UTIL_COOKIE_HEADER_MAX] = '\0';
    ck_assert_str_eq(jpki_util_cookie_get(pool, big, "s"), "abc");
}
END_TEST

START_TEST(base64_both_alphabets)
{
    apr_size_t n;
    const unsigned char *d;
    d = jpki_util_b64_decode(pool, "-_8", 3, 16, &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(d[0], 0xfb);
    ck_assert_uint_eq(d[1], 0xff);
    d = jpki_util_b64_decode(pool, "+/8=", 4, 16, &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_null(jpki_util_b64_decode(pool, "ab$d", 4, 16, &n));
    ck_assert_ptr_null(jpki_util_b64_decode(pool, "ab=d", 4, 16, &n));
    ck_assert_ptr_null(jpki_util_b64_decode(pool, "a", 1, 16, &n));
    /* bound: 8 bytes allowed, 9 encoded bytes refused */
    ck_assert_ptr_nonnull(jpki_util_b64_decode(pool, "AAAAAAAAAAA", 11, 8, &n));
    ck_assert_ptr_null(jpki_util_b64_decode(pool, "AAAAAAAAAAAA", 12, 8, &n));
    ck_assert_str_eq(jpki_util_b64url_encode(pool, (const unsigned char *)"\xfb\xff", 2), "-_8");
}
END_TEST

START_TEST(ct_streq)
{
    ck_assert(jpki_util_ct_streq("abc", "abc"));
    ck_assert(!jpki_util_ct_streq("abc", "abd"));
    ck_assert(!jpki_util_ct_streq("abc", "abcd"));
    ck_assert(!jpki_util_ct_streq(NULL, "a"));
}
END_TEST

START_TEST(return_to)
{
    ck_assert(jpki_return_to_valid("/"));
    ck_assert(jpki_return_to_valid("/account/home?x=1&y=%20z"));
    ck_assert(!jpki_return_to_valid(""));
    ck_assert(!jpki_return_to_valid("//evil.example/"));
    ck_assert(!jpki_return_to_valid("https://evil.example/"));
    ck_assert(!jpki_return_to_valid("/\\evil.example"));
    ck_assert(!jpki_return_to_valid("\\\\evil.example"));
    ck_assert(!jpki_return_to_valid("%2F%2Fevil.example"));
    ck_assert(!jpki_return_to_valid("/%2Fevil.example"));
    ck_assert(!jpki_return_to_valid("/%252Fevil.example"));
    ck_assert(!jpki_return_to_valid("/%5Cevil.example"));
    ck_assert(!jpki_return_to_valid("/a\r\nSet-Cookie: x=1"));
    ck_assert(!jpki_return_to_valid("/%0d%0aSet-Cookie:x"));
    ck_assert(!jpki_return_to_valid("javascript:alert(1)"));
    ck_assert(!jpki_return_to_valid("/%25252525252F%2Fevil"));
}
END_TEST

START_TEST(json_depth)
{
    char deep[2100];
    int i;
    ck_assert_int_eq(jpki_json_depth("{}", 2), 1);
    ck_assert_int_eq(jpki_json_depth("{\"a\":[1,{\"b\":2}]}", 17), 3);
    ck_assert_int_eq(jpki_json_depth("{\"a\":\"[[[[\"}", 12), 1);
    ck_assert_int_eq(jpki_json_depth("{\"a\":\"\\\"[[\"}", 12), 1);
    ck_assert_int_eq(jpki_json_depth("{}}", 3), -1);
    ck_assert_int_eq(jpki_json_depth("[[", 2), -1);
    for (i = 0; i < 1000; i++) {
        deep[i] = '[';
        deep[1000 + i] = ']';
    }
    ck_assert_int_eq(jpki_json_depth(deep, 2000), 1000);
}
END_TEST

/* The one whole-number parser of the directive setters. */
START_TEST(parse_int_range)
{
    int v = -7;
    ck_assert_int_eq(jpki_util_parse_int("12", 0, 100, 0, &v), 1);
    ck_assert_int_eq(v, 12);
    ck_assert_int_eq(jpki_util_parse_int(" 7", 0, 100, 0, &v), 1); /* as strtol */
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(jpki_util_parse_int("0", 0, 100, 0, &v), 1);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(jpki_util_parse_int("100", 0, 100, 0, &v), 1);
    ck_assert_int_eq(v, 100);
    v = -7;
    ck_assert_int_eq(jpki_util_parse_int("", 0, 100, 0, &v), 0);
    ck_assert_int_eq(jpki_util_parse_int("101", 0, 100, 0, &v), 0);
    ck_assert_int_eq(jpki_util_parse_int("-1", 0, 100, 0, &v), 0);
    ck_assert_int_eq(jpki_util_parse_int("1x", 0, 100, 0, &v), 0);
    ck_assert_int_eq(jpki_util_parse_int("soon", 0, 100, 0, &v), 0);
    ck_assert_int_eq(jpki_util_parse_int("99999999999999999999999", 0, 100, 0, &v), 0);
    ck_assert_int_eq(jpki_util_parse_int("-99999999999999999999999", -5, 100, 0, &v), 0);
    ck_assert_int_eq(jpki_util_parse_int("12 ", 0, 100, 0, &v), 0);
    ck_assert_int_eq(v, -7); /* untouched on failure */
    ck_assert_int_eq(jpki_util_parse_int("12 \t", 0, 100, 1, &v), 1);
    ck_assert_int_eq(v, 12);
    ck_assert_int_eq(jpki_util_parse_int("12 x", 0, 100, 1, &v), 0);
}
END_TEST

START_TEST(hex_lowercase)
{
    ck_assert_str_eq(jpki_util_hex(pool, (const unsigned char *)"\x00\xab\xff\x10", 4), "00abff10");
    ck_assert_str_eq(jpki_util_hex(pool, (const unsigned char *)"", 0), "");
}
END_TEST

START_TEST(time_iso)
{
    apr_time_exp_t xt;
    apr_time_t t;
    memset(&xt, 0, sizeof(xt));
    xt.tm_year = 126;
    xt.tm_mon = 10;
    xt.tm_mday = 24;
    xt.tm_hour = 3;
    xt.tm_min = 20;
    xt.tm_usec = 123456;
    ck_assert_int_eq(apr_time_exp_gmt_get(&t, &xt), APR_SUCCESS);
    ck_assert_str_eq(jpki_util_time_iso(pool, t), "2026-11-24T03:20:00.123Z");
    ck_assert_str_eq(jpki_util_time_iso(pool, 0), "1970-01-01T00:00:00.000Z");
}
END_TEST

/* A file of n bytes: s repeated, in a fresh temporary directory. */
static const char *token_file(const char *s, apr_size_t n)
{
    char *dir = apr_pstrdup(pool, "/tmp/jpki-unit-XXXXXX");
    const char *path;
    FILE *f;
    apr_size_t i;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    path = apr_pstrcat(pool, dir, "/token", NULL);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (i = 0; i < n; i++) {
        fputc(s[i % strlen(s)], f);
    }
    fclose(f);
    return path;
}

static const char *token_read(const char *path, const char **err)
{
    const char *tok = jpki_util_read_token(pool, path, err);
    char *dir = apr_pstrdup(pool, path);
    unlink(path);
    *strrchr(dir, '/') = '\0';
    rmdir(dir);
    return tok;
}

START_TEST(read_token)
{
    const char *err = "x";
    ck_assert_str_eq(token_read(token_file(" \tsecret-42_x\r\n\n", 16), &err), "secret-42_x");
    ck_assert_ptr_null(err);
    ck_assert_ptr_null(token_read(token_file(" \n\t", 3), &err));
    ck_assert_str_eq(err, "is empty");
    ck_assert_ptr_null(token_read(token_file("two words\n", 10), &err));
    ck_assert_str_eq(err, "contains spaces or control characters");
    ck_assert_ptr_null(token_read(token_file("a\001b", 3), &err));
    ck_assert_str_eq(err, "contains spaces or control characters");
    /* at most 4 KiB: 4095 bytes are read, 4096 are refused */
    ck_assert_uint_eq(strlen(token_read(token_file("t", 4095), &err)), 4095);
    ck_assert_ptr_null(token_read(token_file("t", 4096), &err));
    ck_assert_str_eq(err, "is larger than 4 KiB");
    ck_assert_ptr_null(jpki_util_read_token(pool, "/nonexistent/jpki-token", &err));
    ck_assert_str_eq(err, "cannot be opened");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_util");
    TCase *tc = unit_tcase(s, "encoding", 0);
    tcase_add_test(tc, hex_lowercase);
    tcase_add_test(tc, base64_both_alphabets);
    tcase_add_test(tc, ct_streq);
    tcase_add_test(tc, serial_norm);
    tcase_add_test(tc, time_iso);
    tc = unit_tcase(s, "input", 0);
    tcase_add_test(tc, json_depth);
    tcase_add_test(tc, return_to);
    tcase_add_test(tc, cookie_get);
    tcase_add_test(tc, parse_int_range);
    tcase_add_test(tc, read_token);
    return unit_run(s);
}
