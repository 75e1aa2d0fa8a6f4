/*
 * Unit tests of core/jpki_export_util.c: header names from variable
 * names, header-value encoding, the normalised comparison that the
 * spoofing protection relies on.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "unit.h"
#include "core/jpki_export_util.h"

START_TEST(normalise)
{
    ck_assert_str_eq(jpki_export_normalise(pool, "X_JPKI_ACCOUNT"), "x-jpki-account");
    ck_assert_str_eq(jpki_export_normalise(pool, "x-Jpki_Account"), "x-jpki-account");
    ck_assert_str_eq(jpki_export_normalise(pool, "Remote_User"), "remote-user");
    ck_assert_str_eq(jpki_export_normalise(pool, ""), "");
}
END_TEST

START_TEST(matches)
{
    apr_array_header_t *pre = apr_array_make(pool, 2, sizeof(const char *));
    apr_array_header_t *names = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(pre, const char *) = "x-jpki-";
    APR_ARRAY_PUSH(names, const char *) = "remote-user";
    APR_ARRAY_PUSH(names, const char *) = "x-remote-user";
    ck_assert_int_eq(
        jpki_export_name_matches(jpki_export_normalise(pool, "X_JPKI_ACCOUNT"), pre, names), 1);
    ck_assert_int_eq(jpki_export_name_matches("x-jpki-", pre, names), 1);
    ck_assert_int_eq(
        jpki_export_name_matches(jpki_export_normalise(pool, "REMOTE_USER"), pre, names), 1);
    ck_assert_int_eq(jpki_export_name_matches("x-remote-user", pre, names), 1);
    /* prefix of a name is not the name */
    ck_assert_int_eq(jpki_export_name_matches("remote-user-agent", pre, names), 0);
    ck_assert_int_eq(jpki_export_name_matches("x-jpk", pre, names), 0);
    ck_assert_int_eq(jpki_export_name_matches("accept", pre, names), 0);
    ck_assert_int_eq(jpki_export_name_matches("accept", NULL, NULL), 0);
}
END_TEST

START_TEST(header_name)
{
    ck_assert_str_eq(jpki_export_header_name(pool, "X-JPKI-", "JPKI_CERT_SERIAL"),
                     "X-JPKI-Cert-Serial");
    ck_assert_str_eq(jpki_export_header_name(pool, "X-JPKI-", "JPKI_ACCOUNT"), "X-JPKI-Account");
    ck_assert_str_eq(jpki_export_header_name(pool, "X-JPKI-", "JPKI_AGE_OVER_20"),
                     "X-JPKI-Age-Over-20");
    ck_assert_str_eq(jpki_export_header_name(pool, "Bank-Id-", "JPKI_NAME_ALT"),
                     "Bank-Id-Name-Alt");
    ck_assert_ptr_null(jpki_export_header_name(pool, "X-JPKI-", "REMOTE_USER"));
    ck_assert_ptr_null(jpki_export_header_name(pool, "X-JPKI-", "JPKI_"));
    ck_assert_ptr_null(jpki_export_header_name(pool, "X-JPKI-", "REDIRECT_JPKI_ACCOUNT"));
}
END_TEST

START_TEST(name_invalid)
{
    char longname[80];
    ck_assert_ptr_null(jpki_export_name_invalid("X-JPKI-"));
    ck_assert_ptr_null(jpki_export_name_invalid("X-Remote-User"));
    ck_assert_ptr_nonnull(jpki_export_name_invalid(""));
    ck_assert_ptr_nonnull(jpki_export_name_invalid("X JPKI"));
    ck_assert_ptr_nonnull(jpki_export_name_invalid("X-JPKI:"));
    ck_assert_ptr_nonnull(jpki_export_name_invalid("X-JPKI\r\n"));
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert_ptr_nonnull(jpki_export_name_invalid(longname));
}
END_TEST

START_TEST(header_value)
{
    const char *dn = "OU=JPKI for user authentication,O=JPKI,C=JP";
    /* printable ASCII without '%' is unchanged (same pointer) */
    ck_assert_ptr_eq(jpki_export_header_value(pool, dn), dn);
    ck_assert_str_eq(jpki_export_header_value(pool, "a\r\nSet-Cookie: x"), "a%0D%0ASet-Cookie: x");
    ck_assert_str_eq(jpki_export_header_value(pool, "100%"), "100%25");
    ck_assert_str_eq(jpki_export_header_value(pool, " x "), "%20x%20");
    ck_assert_str_eq(jpki_export_header_value(pool, "a\tb\x7f"), "a%09b%7F");
    /* UTF-8 (JPKI_NAME) is percent-encoded byte by byte */
    ck_assert_str_eq(jpki_export_header_value(pool, "\xe7\x95\xaa"), "%E7%95%AA");
    ck_assert_str_eq(jpki_export_header_value(pool, ""), "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_export_util");
    TCase *tc = unit_tcase(s, "export", 0);
    tcase_add_test(tc, normalise);
    tcase_add_test(tc, matches);
    tcase_add_test(tc, header_name);
    tcase_add_test(tc, name_invalid);
    tcase_add_test(tc, header_value);
    return unit_run(s);
}
