/*
 * Unit tests for the pure core (libjpki_core): serial normalisation,
 * base64, return_to validation, JSON depth, 4-facts birth dates, age
 * arithmetic, and certificate validation against the generated test PKI
 * ($JPKI_PKI_DIR) and the real J-LIS roots ($JPKI_SHARED_CA_DIR).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "core/jpki_cert.h"
#include "core/jpki_errors.h"
#include "core/jpki_messages.h"
#include "infra/jpki_metrics.h" /* JPKI_METRICS_MAX_CODES */
#include "core/jpki_util.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* ------------------------------------------------------------- util -- */

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
    ck_assert_str_eq(jpki_util_serial_norm(pool, "000000000001234567890123456789012345678901234567890"),
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

/* ------------------------------------------------- stable code table -- */

/* The one table (jpki_errors.c): every code once, a metrics-safe name,
 * the seeded codes fit the metrics' slots, messages found by code. */
START_TEST(error_table)
{
    int i, j, seeded = 0;
    for (i = 0; jpki_errors[i].code != NULL; i++) {
        const char *c;
        ck_assert_msg(strlen(jpki_errors[i].code) > 0 && strlen(jpki_errors[i].code) < 40,
                      "%s: length", jpki_errors[i].code);
        for (c = jpki_errors[i].code; *c; c++) {
            ck_assert_msg((*c >= 'a' && *c <= 'z') || *c == '_', "%s: character",
                          jpki_errors[i].code);
        }
        for (j = 0; j < i; j++) {
            ck_assert_msg(strcmp(jpki_errors[i].code, jpki_errors[j].code) != 0,
                          "%s listed twice", jpki_errors[i].code);
        }
        ck_assert_ptr_eq(jpki_errors_message(jpki_errors[i].code), jpki_errors[i].msg);
        seeded += jpki_errors[i].metrics_seed;
    }
    ck_assert_int_le(seeded, JPKI_METRICS_MAX_CODES);
    ck_assert_str_eq(jpki_errors[0].code, "ok");
    ck_assert_ptr_null(jpki_errors_message("ok"));
    ck_assert_ptr_null(jpki_errors_message("no_such_code"));
    ck_assert_str_eq(jpki_errors_message(JPKI_E_CERT_EXPIRED),
                     "The card's certificate has expired. Renew it at your municipal office.");
}
END_TEST

/* The one message table (jpki_messages.c): every stable code of the
 * errors table has its own row with four non-empty texts, no code twice,
 * no markup; revocation reasons fall back to cert_revoked, the rest to
 * "unknown". */
START_TEST(message_table)
{
    int i, j;
    const jpki_message_t *m;
    for (i = 1; jpki_errors[i].code != NULL; i++) {
        /* revocation reasons share cert_revoked's advice (reissue) */
        ck_assert_msg(jpki_messages_has(jpki_errors[i].code) ||
                          strncmp(jpki_errors[i].code, "cert_revoked_", 13) == 0,
                      "%s: no message row", jpki_errors[i].code);
    }
    for (i = 0; jpki_messages[i].code != NULL; i++) {
        m = &jpki_messages[i];
        ck_assert_msg(*m->ja_title && *m->ja_advice && *m->en_title && *m->en_advice,
                      "%s: empty text", m->code);
        ck_assert_msg(strpbrk(m->ja_title, "<>&") == NULL && strpbrk(m->en_title, "<>&") == NULL &&
                          strpbrk(m->ja_advice, "<>&") == NULL &&
                          strpbrk(m->en_advice, "<>&") == NULL,
                      "%s: markup in a text", m->code);
        for (j = 0; j < i; j++) {
            ck_assert_msg(strcmp(m->code, jpki_messages[j].code) != 0, "%s twice", m->code);
        }
        ck_assert_ptr_eq(jpki_messages_find(m->code), m);
    }
    ck_assert_str_eq(jpki_messages_find("cert_expired")->en_title,
                     "Your card's certificate has expired");
    ck_assert_str_eq(jpki_messages_find("cert_revoked_privilege_withdrawn")->code, "cert_revoked");
    ck_assert_str_eq(jpki_messages_find("no_such_code")->code, "unknown");
    ck_assert_str_eq(jpki_messages_find(NULL)->code, "unknown");
    ck_assert_int_eq(jpki_messages_has("no_such_code"), 0);
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

/* ------------------------------------------------------- 4 facts, age -- */

START_TEST(birth_date_era)
{
    ck_assert_str_eq(jpki_facts_birth_date_iso(pool, "319800217", 9), "1980-02-17");
    ck_assert_str_eq(jpki_facts_birth_date_iso(pool, "420040229", 9), "2004-02-29");
    ck_assert_str_eq(jpki_facts_birth_date_iso(pool, "118991201", 9), "1899-12-01");
    ck_assert_str_eq(jpki_facts_birth_date_iso(pool, "020000101", 9), "2000-01-01");
    ck_assert_ptr_null(jpki_facts_birth_date_iso(pool, "420030229", 9)); /* not a leap year */
    ck_assert_ptr_null(jpki_facts_birth_date_iso(pool, "319801317", 9));
    ck_assert_ptr_null(jpki_facts_birth_date_iso(pool, "919800217", 9)); /* no such era */
    ck_assert_ptr_null(jpki_facts_birth_date_iso(pool, "31980021", 8));
    ck_assert_ptr_null(jpki_facts_birth_date_iso(pool, "3198O0217", 9));
}
END_TEST

START_TEST(age_arithmetic)
{
    /* the day before, the day of */
    ck_assert_int_eq(jpki_age_years("2006-11-24", 2026, 11, 23), 19);
    ck_assert_int_eq(jpki_age_years("2006-11-24", 2026, 11, 24), 20);
    ck_assert_int_eq(jpki_age_years("2006-11-24", 2026, 12, 31), 20);
    ck_assert_int_eq(jpki_age_years("2006-11-24", 2027, 1, 1), 20);
    /* leap-day birthday: 1 Mar in common years, 29 Feb in leap years */
    ck_assert_int_eq(jpki_age_years("2004-02-29", 2024, 2, 28), 19);
    ck_assert_int_eq(jpki_age_years("2004-02-29", 2024, 2, 29), 20);
    ck_assert_int_eq(jpki_age_years("2004-02-29", 2025, 2, 28), 20);
    ck_assert_int_eq(jpki_age_years("2005-02-28", 2025, 2, 28), 20);
    ck_assert_int_eq(jpki_age_years("2004-02-29", 2023, 2, 28), 18);
    ck_assert_int_eq(jpki_age_years("2004-02-29", 2023, 3, 1), 19);
    ck_assert_int_eq(jpki_age_years("bad", 2023, 3, 1), -1);
    ck_assert_int_eq(jpki_age_years("2030-01-01", 2023, 3, 1), -1);
}
END_TEST

START_TEST(day_in_japan)
{
    int y, m, d;
    apr_time_exp_t xt;
    apr_time_t t;
    /* 2026-11-23 15:00:00 UTC is 2026-11-24 00:00 in Japan */
    memset(&xt, 0, sizeof(xt));
    xt.tm_year = 126;
    xt.tm_mon = 10;
    xt.tm_mday = 23;
    xt.tm_hour = 15;
    apr_time_exp_gmt_get(&t, &xt);
    jpki_day_jst(t, &y, &m, &d);
    ck_assert_int_eq(y, 2026);
    ck_assert_int_eq(m, 11);
    ck_assert_int_eq(d, 24);
    jpki_day_jst(t - apr_time_from_sec(1), &y, &m, &d);
    ck_assert_int_eq(d, 23);
}
END_TEST


/* ------------------------------------------------------ certificates -- */

static char *slurp(const char *name, apr_size_t *len)
{
    const char *dir = getenv("JPKI_PKI_DIR");
    char *path, *buf;
    apr_file_t *f;
    apr_finfo_t fi;
    ck_assert_msg(dir != NULL, "JPKI_PKI_DIR is not set (run through make check)");
    path = apr_pstrcat(pool, dir, "/", name, NULL);
    ck_assert_msg(apr_file_open(&f, path, APR_READ | APR_BINARY, 0, pool) == APR_SUCCESS,
                  "cannot open %s", path);
    apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    buf = apr_palloc(pool, (apr_size_t)fi.size + 1);
    apr_file_read_full(f, buf, (apr_size_t)fi.size, len);
    buf[*len] = '\0';
    apr_file_close(f);
    return buf;
}

static jpki_trust_t *test_trust(int accept_test)
{
    const char *dir = getenv("JPKI_PKI_DIR");
    jpki_trust_t *t = jpki_trust_create(pool);
    ck_assert_ptr_null(jpki_trust_add_file(t, pool, apr_pstrcat(pool, dir, "/trust-all.pem", NULL)));
    ck_assert_ptr_null(
        jpki_trust_add_file(t, pool, apr_pstrcat(pool, dir, "/test-auth-root.crt", NULL)));
    t->accept_test = accept_test;
    return t;
}

/* manifest.tsv: the expected normalised serial of a certificate */
static const char *manifest_serial(const char *name)
{
    apr_size_t len;
    char *m = slurp("manifest.tsv", &len), *line, *last;
    for (line = apr_strtok(m, "\n", &last); line; line = apr_strtok(NULL, "\n", &last)) {
        char *l2, *f[6];
        int i;
        f[0] = apr_strtok(line, "\t", &l2);
        for (i = 1; i < 6; i++) {
            f[i] = apr_strtok(NULL, "\t", &l2);
        }
        if (f[0] && strcmp(f[0], name) == 0) {
            return apr_pstrcat(pool, f[3], ":", f[2], NULL);
        }
    }
    return NULL;
}

static const char *verify_code(const char *name, jpki_cert_type_e expected, int accept_test)
{
    apr_size_t len;
    char *der = slurp(apr_pstrcat(pool, name, ".der", NULL), &len);
    const char *code = NULL, *detail = NULL;
    jpki_cert_t *c = jpki_cert_parse(pool, der, len, &code, &detail);
    if (c == NULL) {
        return code;
    }
    if (!jpki_cert_verify(test_trust(accept_test), pool, c, expected, apr_time_now(), &code,
                          &detail)) {
        ck_assert_ptr_nonnull(detail);
        return code;
    }
    return "ok";
}

START_TEST(parse_encodings)
{
    apr_size_t len;
    const char *code, *detail;
    char *der = slurp("auth-alice-1.der", &len);
    char *pem;
    jpki_cert_t *a, *b, *c, *d;
    const char *b64;

    pem = slurp("auth-alice-1.crt", &len);
    b = jpki_cert_parse(pool, pem, len, &code, &detail);
    ck_assert_ptr_nonnull(b);
    der = slurp("auth-alice-1.der", &len);
    a = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert_ptr_nonnull(a);
    b64 = jpki_util_b64_encode(pool, (const unsigned char *)der, len);
    c = jpki_cert_parse(pool, b64, strlen(b64), &code, &detail);
    ck_assert_ptr_nonnull(c);
    b64 = jpki_util_b64url_encode(pool, (const unsigned char *)der, len);
    d = jpki_cert_parse(pool, b64, strlen(b64), &code, &detail);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(a->serial, b->serial);
    ck_assert_str_eq(a->serial, c->serial);
    ck_assert_str_eq(a->serial, d->serial);
    ck_assert_str_eq(a->serial, manifest_serial("auth-alice-1"));
    ck_assert_int_eq(a->type, JPKI_CERT_TYPE_AUTH);
    ck_assert_int_eq(a->key_bits, 2048);
}
END_TEST

START_TEST(serial_leading_zero)
{
    /* auth-bob's serial has its top bit set: DER carries a leading 00 */
    apr_size_t len;
    const char *code, *detail;
    char *der = slurp("auth-bob.der", &len);
    jpki_cert_t *c = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert_ptr_nonnull(c);
    ck_assert(c->serial_hex[0] != '0');
    ck_assert_str_eq(c->serial, manifest_serial("auth-bob"));
}
END_TEST

START_TEST(parse_bad_input)
{
    apr_size_t len;
    const char *code = NULL, *detail = NULL;
    char *garbage = slurp("garbage.bin", &len);
    char *huge;
    char *der;
    ck_assert_ptr_null(jpki_cert_parse(pool, garbage, len, &code, &detail));
    ck_assert(strcmp(code, "cert_malformed") == 0 || strcmp(code, "cert_too_large") == 0);
    huge = slurp("huge.bin", &len);
    ck_assert_uint_eq(len, 1048576);
    ck_assert_ptr_null(jpki_cert_parse(pool, huge, len, &code, &detail));
    ck_assert_str_eq(code, "cert_too_large");
    ck_assert_ptr_null(jpki_cert_parse(pool, "", 0, &code, &detail));
    ck_assert_str_eq(code, "cert_missing");
    ck_assert_ptr_null(jpki_cert_parse(pool, "not base64 !!", 13, &code, &detail));
    ck_assert_str_eq(code, "cert_malformed");
    /* a valid certificate with a trailing byte */
    der = slurp("auth-alice-1.der", &len);
    der = apr_pstrcat(pool, apr_pstrmemdup(pool, der, len), "x", NULL);
    ck_assert_ptr_null(jpki_cert_parse(pool, der, len + 1, &code, &detail));
    ck_assert_str_eq(code, "cert_malformed");
    /* truncated */
    ck_assert_ptr_null(jpki_cert_parse(pool, der, len / 2, &code, &detail));
    ck_assert_str_eq(code, "cert_malformed");
    ck_assert_ptr_null(jpki_cert_parse(pool, "-----BEGIN CERTIFICATE-----\nMIIB", 32, &code,
                                       &detail));
    ck_assert_str_eq(code, "cert_malformed");
}
END_TEST

START_TEST(verify_matrix)
{
    ck_assert_str_eq(verify_code("auth-alice-1", JPKI_CERT_TYPE_AUTH, 0), "ok");
    ck_assert_str_eq(verify_code("auth-alice-2", JPKI_CERT_TYPE_AUTH, 0), "ok");
    ck_assert_str_eq(verify_code("auth-carol", JPKI_CERT_TYPE_AUTH, 0), "ok");
    ck_assert_str_eq(verify_code("sign-alice", JPKI_CERT_TYPE_SIGN, 0), "ok");
    ck_assert_str_eq(verify_code("sign-alice", JPKI_CERT_TYPE_AUTH, 0), "cert_wrong_type");
    ck_assert_str_eq(verify_code("auth-alice-1", JPKI_CERT_TYPE_SIGN, 0), "cert_wrong_type");
    ck_assert_str_eq(verify_code("bad-expired", JPKI_CERT_TYPE_AUTH, 0), "cert_expired");
    ck_assert_str_eq(verify_code("bad-notyet", JPKI_CERT_TYPE_AUTH, 0), "cert_not_yet_valid");
    ck_assert_str_eq(verify_code("bad-unknown-issuer", JPKI_CERT_TYPE_AUTH, 0), "cert_untrusted");
    ck_assert_str_eq(verify_code("bad-forged", JPKI_CERT_TYPE_AUTH, 0), "cert_untrusted");
    ck_assert_str_eq(verify_code("bad-wrong-policy", JPKI_CERT_TYPE_AUTH, 0), "cert_policy");
    ck_assert_str_eq(verify_code("bad-no-digsig", JPKI_CERT_TYPE_AUTH, 0), "cert_key_usage");
    ck_assert_str_eq(verify_code("bad-rsa1024", JPKI_CERT_TYPE_AUTH, 0), "cert_weak_key");
    ck_assert_str_eq(verify_code("bad-sha1", JPKI_CERT_TYPE_AUTH, 0), "cert_weak_signature");
    ck_assert_str_eq(verify_code("bad-unknown-crit", JPKI_CERT_TYPE_AUTH, 0),
                     "cert_critical_extension");
    ck_assert_str_eq(verify_code("bad-test-hierarchy", JPKI_CERT_TYPE_AUTH, 0),
                     "cert_test_hierarchy");
    /* with the opt-in, the test hierarchy chains to its own root */
    ck_assert_str_eq(verify_code("bad-test-hierarchy", JPKI_CERT_TYPE_AUTH, 1), "ok");
    /* roots are not end-entity certificates */
    ck_assert_str_eq(verify_code("auth-root-g1", JPKI_CERT_TYPE_AUTH, 0), "cert_key_usage");
}
END_TEST

START_TEST(auth_cannot_chain_to_sign_root)
{
    /* a trust store with only the signing roots: an auth certificate is untrusted */
    const char *dir = getenv("JPKI_PKI_DIR");
    jpki_trust_t *t = jpki_trust_create(pool);
    apr_size_t len;
    const char *code, *detail;
    char *der = slurp("auth-alice-1.der", &len);
    jpki_cert_t *c = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert_ptr_null(jpki_trust_add_file(t, pool, apr_pstrcat(pool, dir, "/trust-sign.pem", NULL)));
    ck_assert(!jpki_cert_verify(t, pool, c, JPKI_CERT_TYPE_AUTH, apr_time_now(), &code, &detail));
    ck_assert_str_eq(code, "cert_untrusted");
}
END_TEST

START_TEST(policy_override)
{
    /* JPKIAuthPolicyOID replaces the default: the real OID alone is then refused */
    jpki_trust_t *t = test_trust(0);
    apr_size_t len;
    const char *code, *detail;
    char *der = slurp("bad-wrong-policy.der", &len);
    jpki_cert_t *c = jpki_cert_parse(pool, der, len, &code, &detail);
    APR_ARRAY_PUSH(t->auth_policies, const char *) = "1.2.3.4.5";
    ck_assert(jpki_cert_verify(t, pool, c, JPKI_CERT_TYPE_AUTH, apr_time_now(), &code, &detail));
    der = slurp("auth-alice-1.der", &len);
    c = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert(!jpki_cert_verify(t, pool, c, JPKI_CERT_TYPE_AUTH, apr_time_now(), &code, &detail));
    ck_assert_str_eq(code, "cert_policy");
}
END_TEST

START_TEST(trust_anchor_errors)
{
    const char *dir = getenv("JPKI_PKI_DIR");
    jpki_trust_t *t = jpki_trust_create(pool);
    const char *err;
    err = jpki_trust_add_file(t, pool, apr_pstrcat(pool, dir, "/notca.crt", NULL));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "not a CA"));
    err = jpki_trust_add_file(t, pool, apr_pstrcat(pool, dir, "/other-root.crt", NULL));
    ck_assert_ptr_nonnull(strstr(err, "not a JPKI root"));
    err = jpki_trust_add_file(t, pool, apr_pstrcat(pool, dir, "/garbage.bin", NULL));
    ck_assert_ptr_nonnull(strstr(err, "no PEM or DER"));
    err = jpki_trust_add_file(t, pool, "/nonexistent/x.pem");
    ck_assert_ptr_nonnull(strstr(err, "cannot open"));
    /* DER file */
    ck_assert_ptr_null(jpki_trust_add_file(t, pool, apr_pstrcat(pool, dir, "/auth-root-g1.der", NULL)));
    ck_assert_int_eq(t->anchors->nelts, 1);
}
END_TEST

START_TEST(real_jlis_roots)
{
    /* The real J-LIS roots from ../shared load and classify; 2015 is expired. */
    const char *dir = getenv("JPKI_SHARED_CA_DIR");
    static const struct {
        const char *file;
        jpki_cert_type_e type;
        const char *ski;
        int expired;
    } roots[] = {
        {"auth_ca_2015.pem", JPKI_CERT_TYPE_AUTH, "9567951b5ca70d84a0fff1d85a87f1aab1340385", 1},
        {"auth_ca_2023.pem", JPKI_CERT_TYPE_AUTH, "1ac100f596a3bc8c4b3df195e32699249e9e308a", 0},
        {"sign_ca_2015.pem", JPKI_CERT_TYPE_SIGN, "0d034cbb34d0714f45e45a1cafd8fd143fab54a7", 1},
        {"sign_ca_2023.pem", JPKI_CERT_TYPE_SIGN, "d21ea55895617e93adbf966b941ab4edf653f08f", 0},
    };
    jpki_trust_t *t = jpki_trust_create(pool);
    int i;
    ck_assert_msg(dir != NULL, "JPKI_SHARED_CA_DIR is not set");
    for (i = 0; i < 4; i++) {
        jpki_anchor_t *a;
        const char *err = jpki_trust_add_file(t, pool, apr_pstrcat(pool, dir, "/", roots[i].file, NULL));
        ck_assert_msg(err == NULL, "%s: %s", roots[i].file, err);
        a = &APR_ARRAY_IDX(t->anchors, i, jpki_anchor_t);
        ck_assert_int_eq(a->type, roots[i].type);
        ck_assert_str_eq(a->key_id, roots[i].ski);
        ck_assert_int_eq(a->test, 0);
        ck_assert_int_eq(a->not_after < apr_time_now(), roots[i].expired);
    }
}
END_TEST

START_TEST(four_facts)
{
    apr_size_t len;
    const char *code, *detail;
    char *der = slurp("sign-alice.der", &len);
    jpki_cert_t *c = jpki_cert_parse(pool, der, len, &code, &detail);
    jpki_facts_t *f;
    ck_assert_ptr_nonnull(c);
    f = jpki_cert_facts(pool, c, &code, &detail);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->name, "番号　花子");
    ck_assert_str_eq(f->name_alt, "00000");
    ck_assert_str_eq(f->birth_date, "1980-02-17");
    ck_assert_str_eq(f->sex, "2");
    ck_assert_str_eq(f->address, "東京都千代田区永田町一丁目７番１号");
    ck_assert_int_eq(f->address_alt[2], '1');
    der = slurp("sign-bob.der", &len);
    c = jpki_cert_parse(pool, der, len, &code, &detail);
    f = jpki_cert_facts(pool, c, &code, &detail);
    ck_assert_str_eq(f->birth_date, "2004-02-29");
    ck_assert_str_eq(f->sex, "1");
    /* the user-authentication certificate carries no facts */
    der = slurp("auth-alice-1.der", &len);
    c = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert_ptr_null(jpki_cert_facts(pool, c, &code, &detail));
    ck_assert_str_eq(code, "cert_no_facts");
}
END_TEST

int main(void)
{
    Suite *s;
    SRunner *sr;
    TCase *tc;
    int failed;

    apr_initialize();
    s = suite_create("jpki_core");
    tc = tcase_create("util");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, serial_norm);
    tcase_add_test(tc, base64_both_alphabets);
    tcase_add_test(tc, cookie_get);
    tcase_add_test(tc, ct_streq);
    tcase_add_test(tc, return_to);
    tcase_add_test(tc, message_table);
    tcase_add_test(tc, json_depth);
    tcase_add_test(tc, error_table);
    tcase_add_test(tc, parse_int_range);
    suite_add_tcase(s, tc);
    tc = tcase_create("facts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, birth_date_era);
    tcase_add_test(tc, age_arithmetic);
    tcase_add_test(tc, day_in_japan);
    suite_add_tcase(s, tc);
    tc = tcase_create("cert");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, parse_encodings);
    tcase_add_test(tc, serial_leading_zero);
    tcase_add_test(tc, parse_bad_input);
    tcase_add_test(tc, verify_matrix);
    tcase_add_test(tc, auth_cannot_chain_to_sign_root);
    tcase_add_test(tc, policy_override);
    tcase_add_test(tc, trust_anchor_errors);
    tcase_add_test(tc, real_jlis_roots);
    tcase_add_test(tc, four_facts);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
