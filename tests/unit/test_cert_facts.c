/*
 * Unit tests of core/jpki_cert_facts.c: the 4 facts of the signing
 * certificate, era birth dates, age arithmetic, the day in Japan.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "unit.h"
#include "core/jpki_cert.h"

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

START_TEST(four_facts)
{
    apr_size_t len;
    const char *code, *detail;
    char *der = unit_pki_read("sign-alice.der", &len);
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
    der = unit_pki_read("sign-bob.der", &len);
    c = jpki_cert_parse(pool, der, len, &code, &detail);
    f = jpki_cert_facts(pool, c, &code, &detail);
    ck_assert_str_eq(f->birth_date, "2004-02-29");
    ck_assert_str_eq(f->sex, "1");
    /* the user-authentication certificate carries no facts */
    der = unit_pki_read("auth-alice-1.der", &len);
    c = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert_ptr_null(jpki_cert_facts(pool, c, &code, &detail));
    ck_assert_str_eq(code, "cert_no_facts");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_cert_facts");
    TCase *tc = unit_tcase(s, "dates", 0);
    tcase_add_test(tc, birth_date_era);
    tcase_add_test(tc, age_arithmetic);
    tcase_add_test(tc, day_in_japan);
    tc = unit_tcase(s, "facts", 30);
    tcase_add_test(tc, four_facts);
    return unit_run(s);
}
