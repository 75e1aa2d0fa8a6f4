/* Era dates of the 4 facts (jpki_facts_birth_date_iso, "EYYYYMMDD") and
 * the age computation that reads its result (jpki_age_years). Oracles: an
 * accepted date is "YYYY-MM-DD" of a real calendar day from 1868 on, and
 * the age on any day of years 1900..2200 is -1 or 0..(year - 1868). */
#include "fuzz.h"
#include "core/jpki_cert.h"

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const char *iso;
    int y, m, d, age, year, month, day, i;
    if (size < 3) {
        return;
    }
    /* bytes 0..2: the day to compute the age on; the rest: the era date */
    year = 1900 + data[0] + (data[1] & 0x3f);
    month = 1 + data[1] % 12;
    day = 1 + data[2] % 31;
    iso = jpki_facts_birth_date_iso(p, (const char *)data + 3, size - 3);
    /* jpki_age_years also parses what it is given: feed it the raw text too */
    age = jpki_age_years((const char *)data + 3, year, month, day);
    FUZZ_CHECK(age >= -1 && age <= 10000 + year);
    if (iso == NULL) {
        return;
    }
    FUZZ_CHECK(strlen(iso) == 10 && iso[4] == '-' && iso[7] == '-');
    for (i = 0; i < 10; i++) {
        FUZZ_CHECK(i == 4 || i == 7 || (iso[i] >= '0' && iso[i] <= '9'));
    }
    FUZZ_CHECK(sscanf(iso, "%4d-%2d-%2d", &y, &m, &d) == 3);
    FUZZ_CHECK(y >= 1868 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
    FUZZ_CHECK(memcmp(iso, data + 4, 4) == 0); /* the year is written as given */
    age = jpki_age_years(iso, year, month, day);
    FUZZ_CHECK(age == -1 || (age >= 0 && age <= year - 1868));
}
