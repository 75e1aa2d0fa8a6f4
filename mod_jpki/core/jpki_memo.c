/*
 * The per-process memo of local cache answers (jpki_memo.h says why it is
 * correct). Direct-mapped: a slot per id hash, a newer id replaces an older
 * one. Readers take no lock: each slot has a sequence number that a writer
 * makes odd while it writes (a seqlock), and a reader whose copy straddled
 * a write retries or gives up (a miss). So the threads that read the same
 * session (a page and its assets) never wait for each other or for a
 * writer; writers of a stripe of slots are serialised by a mutex. (A
 * read-write lock let readers starve the writer: the unit test hung.)
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "core/jpki_memo.h"

#define JPKI_MEMO_STRIPES 64

typedef struct {
    apr_uint32_t seq; /* odd while a writer is in the slot */
    unsigned char id[JPKI_MEMO_ID_LEN];
    apr_uint32_t gen;
    apr_uint32_t len;
    apr_time_t expiry;
    int state; /* 0 empty, JPKI_MEMO_HIT a value, JPKI_MEMO_ABSENT */
} memo_slot_t;

struct jpki_memo_t {
    apr_uint32_t *gens; /* shared by all processes */
    int nns;
    memo_slot_t *slots; /* nns * JPKI_MEMO_SLOTS */
    char *values;       /* JPKI_MEMO_VALUE per slot; pages touched only when used */
#if APR_HAS_THREADS
    apr_thread_mutex_t *locks[JPKI_MEMO_STRIPES]; /* writers only */
#endif
};

apr_size_t jpki_memo_gens_size(void)
{
    return JPKI_MEMO_GENS * sizeof(apr_uint32_t);
}

jpki_memo_t *jpki_memo_create(apr_pool_t *p, void *gens, int nns)
{
    jpki_memo_t *m = apr_pcalloc(p, sizeof(*m));
    apr_size_t n = (apr_size_t)nns * JPKI_MEMO_SLOTS;
#if APR_HAS_THREADS
    int i;
    for (i = 0; i < JPKI_MEMO_STRIPES; i++) {
        if (apr_thread_mutex_create(&m->locks[i], APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
            return NULL;
        }
    }
#endif
    m->gens = gens;
    m->nns = nns;
    m->slots = apr_pcalloc(p, n * sizeof(memo_slot_t));
    m->values = apr_palloc(p, n * JPKI_MEMO_VALUE);
    return m;
}

static apr_uint32_t *gen_of(const jpki_memo_t *m, const unsigned char *id)
{
    apr_uint32_t h = ((apr_uint32_t)id[0] << 8 | id[1]) ^ ((apr_uint32_t)id[2] << 8 | id[3]);
    return &m->gens[h % JPKI_MEMO_GENS];
}

apr_uint32_t jpki_memo_gen(const jpki_memo_t *m, const unsigned char *id)
{
    /* acquire: the cache read that follows cannot be seen before it */
    return __atomic_load_n(gen_of(m, id), __ATOMIC_ACQUIRE);
}

void jpki_memo_bump(jpki_memo_t *m, const unsigned char *id)
{
    /* the write to the cache is visible before the new counter */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    __atomic_add_fetch(gen_of(m, id), 1, __ATOMIC_SEQ_CST);
}

static apr_size_t slot_of(const jpki_memo_t *m, int ns, const unsigned char *id)
{
    apr_uint32_t h = (apr_uint32_t)id[4] << 8 | id[5];
    (void)m;
    return (apr_size_t)ns * JPKI_MEMO_SLOTS + h % JPKI_MEMO_SLOTS;
}

#if APR_HAS_THREADS
#define WRLOCK(m, i) apr_thread_mutex_lock((m)->locks[(i) % JPKI_MEMO_STRIPES])
#define UNLOCK(m, i) apr_thread_mutex_unlock((m)->locks[(i) % JPKI_MEMO_STRIPES])
#else
#define WRLOCK(m, i) APR_SUCCESS
#define UNLOCK(m, i) APR_SUCCESS
#endif

#define READ_TRIES 4

/* A consistent copy of slot i (header and value) into *out and buf, or 0. */
static int read_slot(const jpki_memo_t *m, apr_size_t i, const unsigned char *id, memo_slot_t *out,
                     char *buf)
{
    const memo_slot_t *s = &m->slots[i];
    int t;
    for (t = 0; t < READ_TRIES; t++) {
        apr_uint32_t s1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) {
            continue;
        }
        memcpy(out, s, sizeof(*out));
        if (out->state == JPKI_MEMO_HIT && memcmp(out->id, id, JPKI_MEMO_ID_LEN) == 0) {
            if (out->len > JPKI_MEMO_VALUE) {
                continue; /* torn: the seq check below would fail anyway */
            }
            memcpy(buf, m->values + i * JPKI_MEMO_VALUE, out->len);
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == s1) {
            return 1;
        }
    }
    return 0;
}

jpki_memo_answer_e jpki_memo_get(jpki_memo_t *m, int ns, const unsigned char *id, apr_time_t now,
                                 apr_pool_t *p, char **val, apr_size_t *len)
{
    apr_size_t i;
    memo_slot_t s;
    char buf[JPKI_MEMO_VALUE];
    if (m == NULL || ns < 0 || ns >= m->nns) {
        return JPKI_MEMO_MISS;
    }
    i = slot_of(m, ns, id);
    if (!read_slot(m, i, id, &s, buf) || s.state == 0 || memcmp(s.id, id, JPKI_MEMO_ID_LEN) != 0 ||
        s.gen != jpki_memo_gen(m, id)) {
        return JPKI_MEMO_MISS;
    }
    if (s.state == JPKI_MEMO_ABSENT) {
        return JPKI_MEMO_ABSENT;
    }
    if (now >= s.expiry) {
        return JPKI_MEMO_MISS;
    }
    *val = apr_pstrmemdup(p, buf, s.len);
    if (len) {
        *len = s.len;
    }
    return JPKI_MEMO_HIT;
}

void jpki_memo_put(jpki_memo_t *m, int ns, const unsigned char *id, apr_uint32_t gen,
                   const char *val, apr_size_t len, apr_time_t expiry)
{
    apr_size_t i;
    memo_slot_t *s;
    apr_uint32_t seq;
    if (m == NULL || ns < 0 || ns >= m->nns || (val != NULL && len > JPKI_MEMO_VALUE)) {
        return;
    }
    i = slot_of(m, ns, id);
    s = &m->slots[i];
    if (WRLOCK(m, i) != APR_SUCCESS) {
        return;
    }
    seq = s->seq;
    __atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(s->id, id, JPKI_MEMO_ID_LEN);
    s->gen = gen;
    if (val == NULL) {
        s->state = JPKI_MEMO_ABSENT;
        s->len = 0;
    } else {
        memcpy(m->values + i * JPKI_MEMO_VALUE, val, len);
        s->len = (apr_uint32_t)len;
        s->expiry = expiry;
        s->state = JPKI_MEMO_HIT;
    }
    __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
    UNLOCK(m, i);
}
