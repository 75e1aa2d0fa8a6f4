/*
 * A per-process copy of what the local cache (shmcb) answered, so that a
 * session request reads its record and its account mapping without the
 * cross-process jpki-cache lock (issue 14: that lock was the largest part
 * of the session path's cost over a static page).
 *
 * Correctness rests on generation counters in memory shared by every
 * process of the server: each write to a memoised cache id (store, remove,
 * take, add) bumps the counter of that id's bucket *after* the write; a
 * reader takes the counter *before* it reads the cache and keeps it with
 * the copy; the copy is used only while the counter is unchanged and the
 * entry's own expiry has not passed. So a logout, a removal or a relink
 * made by any process is seen by every other one at its next request,
 * exactly as without the copy. Only for caches local to this server
 * (shmcb): a network cache is written by other nodes, which bump nothing
 * here (infra/jpki_cache.c does not use the memo for them).
 *
 * Pure APR: the unit tests link it (tests/unit/test_memo.c).
 */
#ifndef JPKI_MEMO_H
#define JPKI_MEMO_H

#include <apr_pools.h>
#include <apr_time.h>

#define JPKI_MEMO_ID_LEN 16    /* the cache id (infra/jpki_cache.c) */
#define JPKI_MEMO_GENS   65536 /* shared counters: 256 KiB */
#define JPKI_MEMO_SLOTS  1024  /* per namespace and process */
#define JPKI_MEMO_VALUE  1024  /* larger values are not copied */

typedef struct jpki_memo_t jpki_memo_t;

typedef enum {
    JPKI_MEMO_MISS = 0, /* ask the cache */
    JPKI_MEMO_HIT,      /* *val, *len are the cache's answer */
    JPKI_MEMO_ABSENT    /* the cache has no such id */
} jpki_memo_answer_e;

/* Bytes of shared memory for the generation counters (zeroed by the caller). */
apr_size_t jpki_memo_gens_size(void);

/* This process's memo over the shared counters gens, for namespaces
 * 0..nns-1; NULL when its locks cannot be created. */
jpki_memo_t *jpki_memo_create(apr_pool_t *p, void *gens, int nns);

/* The counter of id, read before the cache is (see above). */
apr_uint32_t jpki_memo_gen(const jpki_memo_t *m, const unsigned char *id);

/* After a write of id to the cache. */
void jpki_memo_bump(jpki_memo_t *m, const unsigned char *id);

/* The copy of id in namespace ns if it is still the cache's answer at now:
 * a HIT copies the value (NUL-terminated) into p. */
jpki_memo_answer_e jpki_memo_get(jpki_memo_t *m, int ns, const unsigned char *id, apr_time_t now,
                                 apr_pool_t *p, char **val, apr_size_t *len);

/* Keep what the cache answered for id after gen was read: val NULL for
 * "absent" (expiry is then ignored), else len bytes that expire at expiry
 * (values over JPKI_MEMO_VALUE are not kept). */
void jpki_memo_put(jpki_memo_t *m, int ns, const unsigned char *id, apr_uint32_t gen,
                   const char *val, apr_size_t len, apr_time_t expiry);

#endif
