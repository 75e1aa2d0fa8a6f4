/*
 * The 4 facts of a signing certificate (see jpki_cert.h), Japanese-era
 * birth dates, age arithmetic and the JST calendar day.
 */
#include "core/jpki_cert.h"
#include "core/jpki_util.h"
#include "core/jpki_cert_int.h"

#include <apr_strings.h>
#include <apr_file_io.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

/* The 4-facts otherName OIDs, 1.2.392.200149.8.5.5.1 .. .6 */
static const char *const facts_oids[6] = {
    "1.2.392.200149.8.5.5.1", "1.2.392.200149.8.5.5.2", "1.2.392.200149.8.5.5.3",
    "1.2.392.200149.8.5.5.4", "1.2.392.200149.8.5.5.5", "1.2.392.200149.8.5.5.6",
};

/* ---------------------------------------------------------------- facts -- */

const char *jpki_facts_birth_date_iso(apr_pool_t *p, const char *s, apr_size_t len)
{
    int y, m, d, i;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (len != 9) {
        return NULL;
    }
    for (i = 0; i < 9; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return NULL;
        }
    }
    if (s[0] > '5') { /* 0 unknown, 1 明治 .. 5 令和 */
        return NULL;
    }
    y = (s[1] - '0') * 1000 + (s[2] - '0') * 100 + (s[3] - '0') * 10 + (s[4] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[7] - '0') * 10 + (s[8] - '0');
    if (y < 1868 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) {
        return NULL;
    }
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return NULL;
    }
    return apr_psprintf(p, "%04d-%02d-%02d", y, m, d);
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int jpki_age_years(const char *b, int year, int month, int day)
{
    int by, bm, bd, age;
    if (b == NULL || strlen(b) != 10 || sscanf(b, "%4d-%2d-%2d", &by, &bm, &bd) != 3) {
        return -1;
    }
    if (bm < 1 || bm > 12 || bd < 1 || bd > 31) {
        return -1;
    }
    /* In a common year a 29 Feb birthday falls on 1 Mar (see header). */
    if (bm == 2 && bd == 29 && !is_leap(year)) {
        bm = 3;
        bd = 1;
    }
    age = year - by;
    if (month < bm || (month == bm && day < bd)) {
        age--;
    }
    return age < 0 ? -1 : age;
}

void jpki_day_jst(apr_time_t t, int *year, int *month, int *day)
{
    apr_time_exp_t tm;
    apr_time_exp_tz(&tm, t, 9 * 3600);
    *year = tm.tm_year + 1900;
    *month = tm.tm_mon + 1;
    *day = tm.tm_mday;
}

jpki_facts_t *jpki_cert_facts(apr_pool_t *p, const jpki_cert_t *c, const char **code,
                              const char **detail)
{
    GENERAL_NAMES *gens;
    const char *vals[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    apr_size_t lens[6] = {0, 0, 0, 0, 0, 0};
    jpki_facts_t *f;
    int i, j;

    gens = X509_get_ext_d2i(c->x509, NID_subject_alt_name, NULL, NULL);
    if (gens == NULL) {
        jpki_cert_fail(code, detail, JPKI_E_CERT_NO_FACTS, "no subjectAltName");
        return NULL;
    }
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char oid[80];
        if (g->type != GEN_OTHERNAME) {
            continue;
        }
        if (OBJ_obj2txt(oid, sizeof(oid), g->d.otherName->type_id, 1) <= 0) {
            continue;
        }
        for (j = 0; j < 6; j++) {
            if (strcmp(oid, facts_oids[j]) == 0) {
                ASN1_TYPE *v = g->d.otherName->value;
                if (v == NULL || v->type != V_ASN1_UTF8STRING || vals[j] != NULL) {
                    GENERAL_NAMES_free(gens);
                    jpki_cert_fail(code, detail, JPKI_E_CERT_NO_FACTS,
                         apr_psprintf(p, "4-facts item %s is not a single UTF8String", oid));
                    return NULL;
                }
                lens[j] = (apr_size_t)ASN1_STRING_length(v->value.utf8string);
                vals[j] = apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(
                                                v->value.utf8string), lens[j]);
                if (strlen(vals[j]) != lens[j]) { /* embedded NUL */
                    GENERAL_NAMES_free(gens);
                    jpki_cert_fail(code, detail, JPKI_E_CERT_NO_FACTS, "4-facts item contains NUL");
                    return NULL;
                }
            }
        }
    }
    GENERAL_NAMES_free(gens);
    /* Name, birth date and sex are required; address may be empty but present. */
    if (vals[0] == NULL || vals[3] == NULL || vals[2] == NULL || vals[4] == NULL) {
        jpki_cert_fail(code, detail, JPKI_E_CERT_NO_FACTS, "4-facts subjectAltName items missing");
        return NULL;
    }
    f = apr_pcalloc(p, sizeof(*f));
    f->name = vals[0];
    f->name_alt = vals[1] ? vals[1] : "";
    f->sex = vals[2];
    f->birth_date = jpki_facts_birth_date_iso(p, vals[3], lens[3]);
    f->address = vals[4];
    f->address_alt = vals[5] ? vals[5] : "";
    if (f->birth_date == NULL) {
        jpki_cert_fail(code, detail, JPKI_E_CERT_NO_FACTS, "birth date is not EYYYYMMDD");
        return NULL;
    }
    if (!(lens[2] == 1 && (f->sex[0] == '0' || f->sex[0] == '1' || f->sex[0] == '2' ||
                           f->sex[0] == '9'))) {
        jpki_cert_fail(code, detail, JPKI_E_CERT_NO_FACTS, "sex is not a JIS X 0303 code");
        return NULL;
    }
    return f;
}
