/*
 * Unit tests of core/jpki_messages.c: the one JA/EN message table of the
 * login page and the refusal pages.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "core/jpki_errors.h"
#include "core/jpki_messages.h"

static int no_markup(const char *s)
{
    return strpbrk(s, "<>&") == NULL;
}

/* Every stable code of the errors table has its own row with four
 * non-empty texts, no code twice, no markup; revocation reasons fall back
 * to cert_revoked, the rest to "unknown". */
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
        ck_assert_msg(no_markup(m->ja_title) && no_markup(m->en_title) &&
                          no_markup(m->ja_advice) && no_markup(m->en_advice),
                      "%s: markup in a text", m->code);
        for (j = 0; j < i; j++) {
            ck_assert_msg(strcmp(m->code, jpki_messages[j].code) != 0, "%s twice", m->code);
        }
        ck_assert_ptr_eq(jpki_messages_find(m->code), m);
    }
}
END_TEST

START_TEST(message_lookup)
{
    ck_assert_str_eq(jpki_messages_find("cert_expired")->en_title,
                     "Your card's certificate has expired");
    ck_assert_str_eq(jpki_messages_find("cert_revoked_privilege_withdrawn")->code, "cert_revoked");
    ck_assert_str_eq(jpki_messages_find("no_such_code")->code, "unknown");
    ck_assert_str_eq(jpki_messages_find(NULL)->code, "unknown");
    ck_assert_int_eq(jpki_messages_has("no_such_code"), 0);
    ck_assert_int_eq(jpki_messages_has("cert_expired"), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_messages");
    TCase *tc = unit_tcase(s, "table", 0);
    tcase_add_test(tc, message_table);
    tcase_add_test(tc, message_lookup);
    return unit_run(s);
}
