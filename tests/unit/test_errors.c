/*
 * Unit tests of core/jpki_errors.c: the one table of stable codes and
 * their English messages.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "core/jpki_cert.h"
#include "core/jpki_errors.h"
#include "core/jpki_login_core.h"
#include "core/jpki_status_core.h"
#include "infra/jpki_metrics.h" /* JPKI_METRICS_MAX_CODES */

static int in_table(const char *code)
{
    int i;
    for (i = 0; jpki_errors[i].code != NULL; i++) {
        if (strcmp(jpki_errors[i].code, code) == 0) {
            return 1;
        }
    }
    return 0;
}

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
            ck_assert_msg(strcmp(jpki_errors[i].code, jpki_errors[j].code) != 0, "%s listed twice",
                          jpki_errors[i].code);
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

/* Lookups match the whole code exactly: no prefix, case or space games. */
START_TEST(error_lookup_unknown)
{
    ck_assert_ptr_null(jpki_errors_message(""));
    ck_assert_ptr_null(jpki_errors_message("cert_expire"));
    ck_assert_ptr_null(jpki_errors_message("cert_expiredx"));
    ck_assert_ptr_null(jpki_errors_message("cert_expired "));
    ck_assert_ptr_null(jpki_errors_message("CERT_EXPIRED"));
    ck_assert_ptr_null(jpki_errors_message("Cert_Expired"));
    /* a listed code without its own text (the generic refusal) */
    ck_assert(in_table("challenge_unknown"));
    ck_assert_ptr_null(jpki_errors_message("challenge_unknown"));
    /* the table ends with an empty row */
    {
        int i;
        for (i = 0; jpki_errors[i].code != NULL; i++) {
        }
        ck_assert_ptr_null(jpki_errors[i].msg);
        ck_assert_int_eq(jpki_errors[i].metrics_seed, 0);
    }
}
END_TEST

/* Every message is one English sentence or more that fits a JSON string
 * and an HTML text node as it is: printable ASCII, no quote, no markup,
 * a capital first and a full stop last. */
START_TEST(error_messages_text)
{
    int i, with_text = 0;
    for (i = 0; jpki_errors[i].code != NULL; i++) {
        const char *m = jpki_errors[i].msg, *c;
        size_t n;
        if (m == NULL) {
            continue;
        }
        with_text++;
        n = strlen(m);
        ck_assert_msg(n > 10 && n < 160, "%s: message length %zu", jpki_errors[i].code, n);
        ck_assert_msg(m[0] >= 'A' && m[0] <= 'Z', "%s: capital first", jpki_errors[i].code);
        ck_assert_msg(m[n - 1] == '.', "%s: full stop last", jpki_errors[i].code);
        for (c = m; *c; c++) {
            ck_assert_msg(*c >= 0x20 && *c < 0x7f && !strchr("\"\\<>&", *c), "%s: character %c",
                          jpki_errors[i].code, *c);
        }
    }
    ck_assert_int_gt(with_text, 30);
}
END_TEST

/* Every refusal code that a core header defines is in the table (and so
 * has its metrics series and message), and so is every code a revocation
 * reason maps to. */
START_TEST(error_codes_listed)
{
    static const char *pure[] = {
        JPKI_E_CERT_MISSING, JPKI_E_CERT_TOO_LARGE, JPKI_E_CERT_MALFORMED, JPKI_E_CERT_EXPIRED,
        JPKI_E_CERT_NOT_YET_VALID, JPKI_E_CERT_UNTRUSTED, JPKI_E_CERT_ISSUER_EXPIRED,
        JPKI_E_CERT_POLICY, JPKI_E_CERT_WRONG_TYPE, JPKI_E_CERT_KEY_USAGE, JPKI_E_CERT_WEAK_KEY,
        JPKI_E_CERT_WEAK_SIGNATURE, JPKI_E_CERT_CRITICAL_EXT, JPKI_E_CERT_TEST_HIERARCHY,
        /* JPKI_E_CERT_NO_FACTS (registration only) is not in the table today */
        JPKI_E_CLIENT_DATA_MISSING, JPKI_E_CLIENT_DATA_INVALID, JPKI_E_ORIGIN_MISMATCH,
        JPKI_E_STATUS_UNAVAILABLE, JPKI_E_CERT_REVOKED, JPKI_E_CERT_REVOKED_SUPERSEDED,
        JPKI_E_CERT_REVOKED_AFFILIATION, JPKI_E_CERT_REVOKED_CESSATION, JPKI_E_CERT_REVOKED_HOLD,
        JPKI_E_CERT_REVOKED_KEY_COMPROMISE, JPKI_E_CERT_STATUS_UNKNOWN, NULL};
    static const char *reasons[] = {"unspecified",        "keyCompromise",  "cACompromise",
                                    "affiliationChanged", "superseded",     "cessationOfOperation",
                                    "certificateHold",    "removeFromCRL",  "privilegeWithdrawn",
                                    "aACompromise",       "no-such-reason", NULL};
    int i;
    for (i = 0; pure[i] != NULL; i++) {
        ck_assert_msg(in_table(pure[i]), "%s is not in jpki_errors[]", pure[i]);
        ck_assert_msg(jpki_errors_message(pure[i]) != NULL, "%s has no message", pure[i]);
    }
    for (i = 0; reasons[i] != NULL; i++) {
        const char *code = jpki_reason_error_code(reasons[i]);
        ck_assert_msg(in_table(code), "reason %s: %s is not in jpki_errors[]", reasons[i], code);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_errors");
    TCase *tc = unit_tcase(s, "table", 0);
    tcase_add_test(tc, error_table);
    tcase_add_test(tc, error_lookup_unknown);
    tcase_add_test(tc, error_messages_text);
    tcase_add_test(tc, error_codes_listed);
    return unit_run(s);
}
