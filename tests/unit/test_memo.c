/*
 * Unit tests of core/jpki_memo.c: a copy is served only while its bucket's
 * generation is unchanged and its expiry has not passed; a write bumps the
 * generation for every process sharing the counters (two memos over one
 * counter array stand for two httpd children); "absent" is remembered;
 * oversized values are not; a put made with a generation read before a
 * concurrent write is never served; threads reading one id while another
 * writes never see a torn or stale value.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "unit.h"
#include "core/jpki_memo.h"

static void *gens;

static void mkid(unsigned char *id, unsigned n)
{
    unsigned i;
    for (i = 0; i < JPKI_MEMO_ID_LEN; i++) {
        id[i] = (unsigned char)(n * 131 + i * 7 + (n >> 8));
    }
}

static jpki_memo_t *new_memo(void)
{
    jpki_memo_t *m;
    gens = apr_pcalloc(pool, jpki_memo_gens_size());
    m = jpki_memo_create(pool, gens, 4);
    ck_assert_ptr_nonnull(m);
    return m;
}

START_TEST(hit_and_miss)
{
    jpki_memo_t *m = new_memo();
    unsigned char id[JPKI_MEMO_ID_LEN], other[JPKI_MEMO_ID_LEN];
    char *v = NULL;
    apr_size_t len = 0;
    apr_time_t now = apr_time_from_sec(1000);
    mkid(id, 1);
    mkid(other, 2);
    ck_assert_int_eq(jpki_memo_get(m, 1, id, now, pool, &v, &len), JPKI_MEMO_MISS);
    jpki_memo_put(m, 1, id, jpki_memo_gen(m, id), "record", 6, now + apr_time_from_sec(60));
    ck_assert_int_eq(jpki_memo_get(m, 1, id, now, pool, &v, &len), JPKI_MEMO_HIT);
    ck_assert_str_eq(v, "record");
    ck_assert_uint_eq(len, 6);
    /* another namespace, another id: not the same entry */
    ck_assert_int_eq(jpki_memo_get(m, 2, id, now, pool, &v, &len), JPKI_MEMO_MISS);
    ck_assert_int_eq(jpki_memo_get(m, 1, other, now, pool, &v, &len), JPKI_MEMO_MISS);
    /* out-of-range namespaces and a NULL memo are misses, not crashes */
    ck_assert_int_eq(jpki_memo_get(m, 4, id, now, pool, &v, &len), JPKI_MEMO_MISS);
    ck_assert_int_eq(jpki_memo_get(m, -1, id, now, pool, &v, &len), JPKI_MEMO_MISS);
    ck_assert_int_eq(jpki_memo_get(NULL, 1, id, now, pool, &v, &len), JPKI_MEMO_MISS);
}
END_TEST

START_TEST(expiry)
{
    jpki_memo_t *m = new_memo();
    unsigned char id[JPKI_MEMO_ID_LEN];
    char *v;
    apr_size_t len;
    apr_time_t now = apr_time_from_sec(1000), exp = now + apr_time_from_sec(5);
    mkid(id, 3);
    jpki_memo_put(m, 1, id, jpki_memo_gen(m, id), "x", 1, exp);
    ck_assert_int_eq(jpki_memo_get(m, 1, id, exp - 1, pool, &v, &len), JPKI_MEMO_HIT);
    ck_assert_int_eq(jpki_memo_get(m, 1, id, exp, pool, &v, &len), JPKI_MEMO_MISS);
    ck_assert_int_eq(jpki_memo_get(m, 1, id, exp + 1, pool, &v, &len), JPKI_MEMO_MISS);
}
END_TEST

/* Two children over one counter array: a write in one ends the other's copy. */
START_TEST(bump_across_processes)
{
    jpki_memo_t *a = new_memo(), *b = jpki_memo_create(pool, gens, 4);
    unsigned char id[JPKI_MEMO_ID_LEN], near[JPKI_MEMO_ID_LEN];
    char *v;
    apr_size_t len;
    apr_time_t now = apr_time_from_sec(1000), exp = now + apr_time_from_sec(60);
    mkid(id, 4);
    jpki_memo_put(a, 1, id, jpki_memo_gen(a, id), "v1", 2, exp);
    jpki_memo_put(b, 1, id, jpki_memo_gen(b, id), "v1", 2, exp);
    ck_assert_int_eq(jpki_memo_get(b, 1, id, now, pool, &v, &len), JPKI_MEMO_HIT);
    jpki_memo_bump(a, id); /* child a wrote id */
    ck_assert_int_eq(jpki_memo_get(a, 1, id, now, pool, &v, &len), JPKI_MEMO_MISS);
    ck_assert_int_eq(jpki_memo_get(b, 1, id, now, pool, &v, &len), JPKI_MEMO_MISS);
    /* b re-reads with the new generation: served again */
    jpki_memo_put(b, 1, id, jpki_memo_gen(b, id), "v2", 2, exp);
    ck_assert_int_eq(jpki_memo_get(b, 1, id, now, pool, &v, &len), JPKI_MEMO_HIT);
    ck_assert_str_eq(v, "v2");
    /* a write of an id in another bucket leaves the copy alone */
    memcpy(near, id, sizeof(near));
    near[0] ^= 0x01;
    near[2] ^= 0x02;
    jpki_memo_bump(a, near);
    ck_assert_int_eq(jpki_memo_get(b, 1, id, now, pool, &v, &len), JPKI_MEMO_HIT);
}
END_TEST

/* The generation read before the cache read: a write between the two
 * leaves a copy that is never served. */
START_TEST(stale_put)
{
    jpki_memo_t *m = new_memo();
    unsigned char id[JPKI_MEMO_ID_LEN];
    char *v;
    apr_size_t len;
    apr_time_t now = apr_time_from_sec(1000), exp = now + apr_time_from_sec(60);
    apr_uint32_t g;
    mkid(id, 5);
    g = jpki_memo_gen(m, id);                  /* reader: counter, then cache read ("old") */
    jpki_memo_bump(m, id);                     /* a writer stores "new" and bumps */
    jpki_memo_put(m, 1, id, g, "old", 3, exp); /* the reader keeps what it read */
    ck_assert_int_eq(jpki_memo_get(m, 1, id, now, pool, &v, &len), JPKI_MEMO_MISS);
}
END_TEST

START_TEST(absent)
{
    jpki_memo_t *m = new_memo();
    unsigned char id[JPKI_MEMO_ID_LEN];
    char *v = NULL;
    apr_size_t len;
    apr_time_t now = apr_time_from_sec(1000);
    mkid(id, 6);
    jpki_memo_put(m, 1, id, jpki_memo_gen(m, id), NULL, 0, 0);
    ck_assert_int_eq(jpki_memo_get(m, 1, id, now, pool, &v, &len), JPKI_MEMO_ABSENT);
    ck_assert_ptr_null(v);
    /* absence has no expiry: only a write (a tombstone, a new record) ends it */
    ck_assert_int_eq(jpki_memo_get(m, 1, id, now + apr_time_from_sec(86400), pool, &v, &len),
                     JPKI_MEMO_ABSENT);
    jpki_memo_bump(m, id);
    ck_assert_int_eq(jpki_memo_get(m, 1, id, now, pool, &v, &len), JPKI_MEMO_MISS);
}
END_TEST

START_TEST(oversize_and_replace)
{
    jpki_memo_t *m = new_memo();
    unsigned char id[JPKI_MEMO_ID_LEN], id2[JPKI_MEMO_ID_LEN];
    char *big = apr_palloc(pool, JPKI_MEMO_VALUE + 1), *v;
    apr_size_t len;
    apr_time_t now = apr_time_from_sec(1000), exp = now + apr_time_from_sec(60);
    memset(big, 'a', JPKI_MEMO_VALUE + 1);
    mkid(id, 7);
    jpki_memo_put(m, 1, id, jpki_memo_gen(m, id), big, JPKI_MEMO_VALUE + 1, exp);
    ck_assert_int_eq(jpki_memo_get(m, 1, id, now, pool, &v, &len), JPKI_MEMO_MISS);
    jpki_memo_put(m, 1, id, jpki_memo_gen(m, id), big, JPKI_MEMO_VALUE, exp);
    ck_assert_int_eq(jpki_memo_get(m, 1, id, now, pool, &v, &len), JPKI_MEMO_HIT);
    ck_assert_uint_eq(len, JPKI_MEMO_VALUE);
    ck_assert_uint_eq(strlen(v), JPKI_MEMO_VALUE);
    /* an id that maps to the same slot replaces it (direct-mapped) */
    memcpy(id2, id, sizeof(id2));
    id2[15] ^= 0xff;
    jpki_memo_put(m, 1, id2, jpki_memo_gen(m, id2), "two", 3, exp);
    ck_assert_int_eq(jpki_memo_get(m, 1, id, now, pool, &v, &len), JPKI_MEMO_MISS);
    ck_assert_int_eq(jpki_memo_get(m, 1, id2, now, pool, &v, &len), JPKI_MEMO_HIT);
    ck_assert_str_eq(v, "two");
}
END_TEST

/* Readers of one id while a writer keeps replacing it the way the cache
 * does (counter, value, bump): every hit is a whole value whose version is
 * not older than the last bump the reader saw before its get. */
#define RACE_ROUNDS 200000
static jpki_memo_t *race_memo;
static volatile int race_done;
static volatile unsigned race_version;
static unsigned char race_id[JPKI_MEMO_ID_LEN];

static void *APR_THREAD_FUNC race_reader(apr_thread_t *t, void *data)
{
    apr_pool_t *p;
    long bad = 0;
    apr_pool_create(&p, NULL);
    while (!race_done) {
        char *v;
        apr_size_t len;
        unsigned seen = __atomic_load_n(&race_version, __ATOMIC_SEQ_CST), got;
        if (jpki_memo_get(race_memo, 1, race_id, apr_time_from_sec(1), p, &v, &len) ==
            JPKI_MEMO_HIT) {
            char tail[32];
            got = (unsigned)strtoul(v, NULL, 10);
            apr_snprintf(tail, sizeof(tail), "%u", got);
            if (got < seen || len != 2 * strlen(tail) + 1 ||
                strncmp(v + strlen(tail) + 1, tail, strlen(tail)) != 0) {
                bad++;
            }
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    *(long *)data = bad;
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(threads)
{
    apr_thread_t *t[4];
    long bad[4] = {0, 0, 0, 0};
    unsigned n;
    int i;
    race_memo = new_memo();
    mkid(race_id, 9);
    race_done = 0;
    race_version = 0;
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(apr_thread_create(&t[i], NULL, race_reader, &bad[i], pool), APR_SUCCESS);
    }
    for (n = 1; n <= RACE_ROUNDS; n++) {
        /* the cache's writer: store the new version, bump; then a reader's
         * read-through with the new counter */
        char *val = apr_psprintf(pool, "%u %u", n, n);
        jpki_memo_bump(race_memo, race_id);
        __atomic_store_n(&race_version, n, __ATOMIC_SEQ_CST);
        jpki_memo_put(race_memo, 1, race_id, jpki_memo_gen(race_memo, race_id), val, strlen(val),
                      apr_time_from_sec(60));
    }
    race_done = 1;
    for (i = 0; i < 4; i++) {
        apr_status_t trv;
        apr_thread_join(&trv, t[i]);
        ck_assert_int_eq(bad[i], 0);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("memo");
    TCase *tc = unit_tcase(s, "memo", 60);
    tcase_add_test(tc, hit_and_miss);
    tcase_add_test(tc, expiry);
    tcase_add_test(tc, bump_across_processes);
    tcase_add_test(tc, stale_put);
    tcase_add_test(tc, absent);
    tcase_add_test(tc, oversize_and_replace);
    tcase_add_test(tc, threads);
    return unit_run(s);
}
