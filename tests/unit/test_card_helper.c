/* Unit tests of the card helper's pure parts (tools/card-helper): the
 * Host/Origin/challenge rules, the client data the card signs, the request
 * body, the PIN decision on PKCS#11 token flags (a card's FINAL_TRY and
 * LOCKED, which SoftHSM2 cannot show), the PKCS#11 error mapping and the
 * user-authentication certificate test on the test PKI (JPKI_PKI_DIR). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "jch.h"

#define C43 "abcdefghijklmnopqrstuvwxyz0123456789ABCD-_Z"

START_TEST(origin_rules)
{
    ck_assert(jpki_ch_origin_valid("https://bank.example"));
    ck_assert(jpki_ch_origin_valid("https://bank.example:8443"));
    ck_assert(jpki_ch_origin_valid("https://[::1]:8443"));
    ck_assert(jpki_ch_origin_valid("http://localhost:17005"));
    ck_assert(jpki_ch_origin_valid("http://127.0.0.1"));
    ck_assert(!jpki_ch_origin_valid("http://bank.example")); /* http only for loopback */
    ck_assert(!jpki_ch_origin_valid("http://localhost.evil.example"));
    ck_assert(!jpki_ch_origin_valid("null"));
    ck_assert(!jpki_ch_origin_valid(""));
    ck_assert(!jpki_ch_origin_valid(NULL));
    ck_assert(!jpki_ch_origin_valid("https://bank.example/")); /* no path, no slash */
    ck_assert(!jpki_ch_origin_valid("https://bank.example/x"));
    ck_assert(!jpki_ch_origin_valid("https://"));
    ck_assert(!jpki_ch_origin_valid("https://:443"));
    ck_assert(!jpki_ch_origin_valid("https://bank.example:"));
    ck_assert(!jpki_ch_origin_valid("https://bank.example:0"));
    ck_assert(!jpki_ch_origin_valid("https://bank.example:65536"));
    ck_assert(!jpki_ch_origin_valid("https://bank.example:1:2"));
    ck_assert(!jpki_ch_origin_valid("https://user@bank.example"));
    ck_assert(!jpki_ch_origin_valid("https://bank.example\"x"));
    ck_assert(!jpki_ch_origin_valid("https://bank.example\\x"));
    ck_assert(!jpki_ch_origin_valid("https://bank.example\r\nX: y"));
    ck_assert(!jpki_ch_origin_valid("https://b[a]nk.example"));
    ck_assert(!jpki_ch_origin_valid("https://[::1]x"));
    ck_assert(!jpki_ch_origin_valid("chrome-extension://abc"));
    ck_assert(!jpki_ch_origin_valid("HTTPS://bank.example"));
    char big[300];
    memset(big, 'a', sizeof big);
    memcpy(big, "https://", 8);
    big[254] = '\0'; /* 254 chars */
    ck_assert(!jpki_ch_origin_valid(big));
    big[253] = '\0';
    ck_assert(jpki_ch_origin_valid(big));
}
END_TEST

START_TEST(host_rules)
{
    ck_assert(jpki_ch_host_ok("127.0.0.1:25999", 25999));
    ck_assert(jpki_ch_host_ok("localhost:25999", 25999));
    ck_assert(jpki_ch_host_ok("LOCALHOST:25999", 25999));
    ck_assert(!jpki_ch_host_ok("127.0.0.1:25998", 25999));
    ck_assert(!jpki_ch_host_ok("127.0.0.1", 25999));
    ck_assert(!jpki_ch_host_ok("rebind.evil.example:25999", 25999)); /* DNS rebinding */
    ck_assert(!jpki_ch_host_ok("127.0.0.1:25999.evil", 25999));
    ck_assert(!jpki_ch_host_ok("[::1]:25999", 25999));
    ck_assert(!jpki_ch_host_ok(NULL, 25999));
}
END_TEST

START_TEST(client_data)
{
    char out[JCH_CLIENT_DATA_MAX];
    size_t n = jpki_ch_client_data_build(C43, "https://bank.example:8443", out, sizeof out);
    const char *want = "{\"type\":\"jpki.login\",\"challenge\":\"" C43
                       "\",\"origin\":\"https://bank.example:8443\"}";
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(jpki_ch_client_data_build(C43, "null", out, sizeof out), 0);
    ck_assert_uint_eq(jpki_ch_client_data_build("short", "https://a.example", out, sizeof out), 0);
    ck_assert_uint_eq(jpki_ch_client_data_build(C43 "\"", "https://a.example", out, sizeof out), 0);
    ck_assert_uint_eq(jpki_ch_client_data_build(C43, "https://a.example", out, 20), 0);
}
END_TEST

START_TEST(body_rules)
{
    char c[JCH_CHALLENGE_MAX + 1];
    const char *ok = "{\"challenge\":\"" C43 "\"}";
    ck_assert_int_eq(jpki_ch_body_parse(ok, strlen(ok), c), JCH_OK);
    ck_assert_str_eq(c, C43);
    const char *bad[] = {
        "",
        "[]",
        "null",
        "{}",
        "{\"challenge\":5}",
        "{\"challenge\":\"short\"}",
        "{\"challenge\":\"" C43 "\",\"origin\":\"https://evil.example\"}", /* page never sets it */
        "{\"challenge\":\"" C43 "\",\"challenge\":\"" C43 "\"}",
        "{\"digest\":\"47DEQpj8HBSa+/"
        "TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\",\"digest_algorithm\":\"sha256\"}",
        "{\"challenge\":\"" C43 "=\"}",
        "{\"challenge\":\"" C43 "\\u0000\"}",
        "{\"challenge\":\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(jpki_ch_body_parse(bad[i], strlen(bad[i]), c) == JCH_E_BAD_REQUEST, "%s",
                      bad[i]);
    char big[JCH_MAX_BODY + 2];
    memset(big, ' ', sizeof big);
    ck_assert_int_eq(jpki_ch_body_parse(big, sizeof big, c), JCH_E_REQUEST_TOO_LARGE);
    ck_assert(jpki_ch_content_type_json("application/json"));
    ck_assert(jpki_ch_content_type_json("Application/JSON; charset=utf-8"));
    ck_assert(!jpki_ch_content_type_json("application/jsonx"));
    ck_assert(!jpki_ch_content_type_json("text/plain"));
    ck_assert(!jpki_ch_content_type_json(NULL));
}
END_TEST

START_TEST(digestinfo_and_b64)
{
    unsigned char di[51];
    jpki_ch_digestinfo_sha256((const unsigned char *)"abc", 3, di);
    ck_assert_int_eq(di[0], 0x30);
    ck_assert_int_eq(di[1], 0x31);
    ck_assert_int_eq(di[18], 0x20);
    ck_assert_int_eq(di[19], 0xba); /* SHA-256("abc") = ba7816bf... */
    ck_assert_int_eq(di[50], 0xad);
    char *s = jpki_ch_b64((const unsigned char *)"\xfb\xff", 2, 1);
    ck_assert_str_eq(s, "-_8");
    free(s);
    s = jpki_ch_b64((const unsigned char *)"\xfb\xff", 2, 0);
    ck_assert_str_eq(s, "+/8=");
    free(s);
}
END_TEST

START_TEST(pin_decisions)
{
    ck_assert_int_eq(jpki_ch_pin_decide(CKF_LOGIN_REQUIRED), JCH_PIN_GO);
    ck_assert_int_eq(jpki_ch_pin_decide(CKF_USER_PIN_COUNT_LOW), JCH_PIN_GO_LOW);
    ck_assert_int_eq(jpki_ch_pin_decide(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY),
                     JCH_PIN_FINAL_TRY);
    ck_assert_int_eq(jpki_ch_pin_decide(CKF_USER_PIN_FINAL_TRY), JCH_PIN_FINAL_TRY);
    ck_assert_int_eq(jpki_ch_pin_decide(CKF_USER_PIN_LOCKED | CKF_USER_PIN_FINAL_TRY),
                     JCH_PIN_LOCKED);
    /* a PIN-pad reader never overrides the lock rules */
    ck_assert_int_eq(jpki_ch_pin_decide(CKF_PROTECTED_AUTHENTICATION_PATH), JCH_PIN_PINPAD);
    ck_assert_int_eq(jpki_ch_pin_decide(CKF_PROTECTED_AUTHENTICATION_PATH | CKF_USER_PIN_FINAL_TRY),
                     JCH_PIN_FINAL_TRY);
    ck_assert_int_eq(jpki_ch_pin_decide(CKF_PROTECTED_AUTHENTICATION_PATH | CKF_USER_PIN_LOCKED),
                     JCH_PIN_LOCKED);
    ck_assert_int_eq(jpki_ch_pin_tries_left(0), 3);
    ck_assert_int_eq(jpki_ch_pin_tries_left(CKF_USER_PIN_COUNT_LOW), 2);
    ck_assert_int_eq(jpki_ch_pin_tries_left(CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW), 1);
    ck_assert_int_eq(jpki_ch_pin_tries_left(CKF_USER_PIN_LOCKED), 0);
    ck_assert(jpki_ch_pin_format_ok("1234", 4));
    ck_assert(!jpki_ch_pin_format_ok("123", 4));
    ck_assert(!jpki_ch_pin_format_ok("12345", 4));
    ck_assert(!jpki_ch_pin_format_ok("12a4", 4));
    ck_assert(!jpki_ch_pin_format_ok("", 0));
    ck_assert(jpki_ch_pin_format_ok("any pass", 0));
}
END_TEST

START_TEST(p11_codes)
{
    ck_assert_int_eq(jpki_ch_p11_code(CKR_OK), JCH_OK);
    ck_assert_int_eq(jpki_ch_p11_code(CKR_DEVICE_REMOVED), JCH_E_CARD_REMOVED);
    ck_assert_int_eq(jpki_ch_p11_code(CKR_TOKEN_NOT_PRESENT), JCH_E_CARD_REMOVED);
    ck_assert_int_eq(jpki_ch_p11_code(CKR_SESSION_HANDLE_INVALID), JCH_E_CARD_REMOVED);
    ck_assert_int_eq(jpki_ch_p11_code(CKR_PIN_INCORRECT), JCH_E_PIN_INCORRECT);
    ck_assert_int_eq(jpki_ch_p11_code(CKR_PIN_LOCKED), JCH_E_PIN_BLOCKED);
    ck_assert_int_eq(jpki_ch_p11_code(CKR_PIN_LEN_RANGE), JCH_E_PIN_INVALID);
    ck_assert_int_eq(jpki_ch_p11_code(CKR_DEVICE_ERROR), JCH_E_CARD_ERROR);
    ck_assert_int_eq(jpki_ch_p11_code(CKR_GENERAL_ERROR), JCH_E_CARD_ERROR);
    /* every code has its own name, a 4xx/5xx status and a message */
    for (int i = 1; i < JCH_E_COUNT; i++) {
        const jpki_ch_error_t *e = jpki_ch_error_get((jpki_ch_code_t)i);
        ck_assert(e->status >= 400 && e->status < 600);
        ck_assert(e->message && *e->message);
        for (int k = 0; k < i; k++)
            ck_assert_str_ne(e->code, jpki_ch_error_get((jpki_ch_code_t)k)->code);
    }
    ck_assert_str_eq(jpki_ch_error_get(JCH_E_COUNT)->code, "card_error");
}
END_TEST

static unsigned char *slurp(const char *name, size_t *len)
{
    char path[1024];
    const char *dir = getenv("JPKI_PKI_DIR");
    ck_assert_msg(dir != NULL, "JPKI_PKI_DIR is not set");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s", path);
    unsigned char *buf = malloc(65536);
    *len = fread(buf, 1, 65536, f);
    fclose(f);
    return buf;
}

START_TEST(auth_certificate)
{
    size_t n;
    unsigned char *d = slurp("auth-bob.der", &n);
    ck_assert(jpki_ch_cert_is_auth(d, n));
    ck_assert(!jpki_ch_cert_is_auth(d, n - 1));
    d[n] = 0; /* trailing garbage after the DER */
    ck_assert(!jpki_ch_cert_is_auth(d, n + 1));
    free(d);
    d = slurp("sign-bob.der", &n); /* the signing certificate: never */
    ck_assert(!jpki_ch_cert_is_auth(d, n));
    free(d);
    d = slurp("bad-wrong-policy.der", &n);
    ck_assert(!jpki_ch_cert_is_auth(d, n));
    free(d);
    ck_assert(!jpki_ch_cert_is_auth((const unsigned char *)"\x30\x00", 2));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_card_helper");
    TCase *tc = tcase_create("card_helper");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, origin_rules);
    tcase_add_test(tc, host_rules);
    tcase_add_test(tc, client_data);
    tcase_add_test(tc, body_rules);
    tcase_add_test(tc, digestinfo_and_b64);
    tcase_add_test(tc, pin_decisions);
    tcase_add_test(tc, p11_codes);
    tcase_add_test(tc, auth_certificate);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
