#include "infra/jpki_cache_int.h"
#include "infra/jpki_metrics.h"

#include <apr_strings.h>

#include <openssl/sha.h>

/* What the memo keeps: read-mostly namespaces. Challenges are single-use. */
#define MEMO_NS(ns) ((ns) != JPKI_NS_CHALLENGE)

/* In shmcb every value is stored behind its expiry (this process's
 * apr_time_t, never seen outside this file), so that a memo copy ends
 * when the cache's entry would. */
#define EXP_LEN sizeof(apr_time_t)

static void cache_id(jpki_cache_ns_e ns, const char *key, unsigned char id[JPKI_CACHE_ID_LEN])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char tag = (unsigned char)('A' + ns);
    EVP_DigestInit_ex(c, jpki_cache_sha256 ? jpki_cache_sha256 : EVP_sha256(), NULL);
    EVP_DigestUpdate(c, &tag, 1);
    EVP_DigestUpdate(c, key, strlen(key));
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    memcpy(id, md, JPKI_CACHE_ID_LEN);
}

#define FRAMED   (jpki_cache_conf.memo_gens != NULL)
#define MEMO(ns) (jpki_cache_memo != NULL && MEMO_NS(ns))

/* The shard of an id: its last byte (shmcb picks its subcache by the
 * first, the memo its counter and slot by the first six). */
#define SHARD(id)    ((id)[JPKI_CACHE_ID_LEN - 1] & (jpki_cache_conf.shards - 1))
#define INST(ns, id) (jpki_cache_conf.inst[ns][SHARD(id)])

static apr_status_t lock(jpki_cache_ns_e ns, const unsigned char *id)
{
    return jpki_cache_conf.need_lock ? apr_global_mutex_lock(jpki_cache_conf.mutex[ns][SHARD(id)])
                                     : APR_SUCCESS;
}

static void unlock(jpki_cache_ns_e ns, const unsigned char *id)
{
    if (jpki_cache_conf.need_lock) {
        apr_global_mutex_unlock(jpki_cache_conf.mutex[ns][SHARD(id)]);
    }
}

/* The key's id, and the lock taken: on APR_SUCCESS the caller unlocks. */
static apr_status_t enter(jpki_cache_ns_e ns, const char *key, apr_size_t len,
                          unsigned char id[JPKI_CACHE_ID_LEN])
{
    if (jpki_cache_conf.inst[ns][0] == NULL || len > JPKI_CACHE_MAX_VALUE) {
        return APR_EINVAL;
    }
    cache_id(ns, key, id);
    return lock(ns, id);
}

/* After a write of id: every process's copy of it is stale from now on. */
static void written(jpki_cache_ns_e ns, const unsigned char *id)
{
    if (MEMO(ns)) {
        jpki_memo_bump(jpki_cache_memo, id);
    }
}

static apr_status_t put_locked(server_rec *s, jpki_cache_ns_e ns, const unsigned char *id,
                               const void *val, apr_size_t len, apr_time_t expiry, apr_pool_t *p)
{
    unsigned char buf[JPKI_CACHE_MAX_VALUE + EXP_LEN];
    apr_status_t rv;
    if (!FRAMED) {
        return jpki_cache_conf.provider->store(INST(ns, id), s, id, JPKI_CACHE_ID_LEN, expiry,
                                               (unsigned char *)val, (unsigned int)len, p);
    }
    memcpy(buf, &expiry, EXP_LEN);
    memcpy(buf + EXP_LEN, val, len);
    rv = jpki_cache_conf.provider->store(INST(ns, id), s, id, JPKI_CACHE_ID_LEN, expiry, buf,
                                         (unsigned int)(EXP_LEN + len), p);
    written(ns, id);
    return rv;
}

apr_status_t jpki_cache_store(server_rec *s, jpki_cache_ns_e ns, const char *key, const void *val,
                              apr_size_t len, apr_time_t expiry, apr_pool_t *p)
{
    unsigned char id[JPKI_CACHE_ID_LEN];
    apr_status_t rv;
    if ((rv = enter(ns, key, len, id)) != APR_SUCCESS) {
        return rv;
    }
    rv = put_locked(s, ns, id, val, len, expiry, p);
    unlock(ns, id);
    return rv;
}

/* *expiry: when the entry ends (0 if the cache does not say: not FRAMED). */
static apr_status_t get_locked(server_rec *s, jpki_cache_ns_e ns, const unsigned char *id,
                               apr_pool_t *p, char **val, apr_size_t *len, apr_time_t *expiry)
{
    unsigned char buf[JPKI_CACHE_MAX_VALUE + EXP_LEN + 1];
    unsigned int blen = JPKI_CACHE_MAX_VALUE + (FRAMED ? EXP_LEN : 0), off = 0;
    apr_time_t exp = 0;
    apr_status_t rv =
        jpki_cache_conf.provider->retrieve(INST(ns, id), s, id, JPKI_CACHE_ID_LEN, buf, &blen, p);
    if (rv == APR_SUCCESS && FRAMED) {
        if (blen < EXP_LEN) {
            return APR_EGENERAL; /* not written by this file: refuse, never guess */
        }
        memcpy(&exp, buf, EXP_LEN);
        off = EXP_LEN;
    }
    if (rv == APR_SUCCESS) {
        *val = apr_pstrmemdup(p, (const char *)buf + off, blen - off); /* copied under the lock */
        if (len) {
            *len = blen - off;
        }
    }
    if (expiry) {
        *expiry = exp;
    }
    return rv;
}

/* A locked read of id whose answer is kept in this process's memo; gen
 * was read before the lock was taken (core/jpki_memo.h). */
static void keep(jpki_cache_ns_e ns, const unsigned char *id, apr_uint32_t gen, apr_status_t rv,
                 const char *val, apr_size_t len, apr_time_t expiry)
{
    if (MEMO(ns) && (rv == APR_SUCCESS || rv == APR_NOTFOUND)) {
        jpki_memo_put(jpki_cache_memo, ns, id, gen, rv == APR_SUCCESS ? val : NULL, len, expiry);
    }
}

/* The memo's answer for id as a cache answer; -1 when it has none. */
static int recall(jpki_cache_ns_e ns, const unsigned char *id, apr_pool_t *p, char **val,
                  apr_size_t *len, apr_status_t *rv)
{
    jpki_memo_answer_e a;
    if (!MEMO(ns)) {
        return -1;
    }
    a = jpki_memo_get(jpki_cache_memo, ns, id, apr_time_now(), p, val, len);
    if (a == JPKI_MEMO_MISS) {
        return -1;
    }
    *rv = a == JPKI_MEMO_HIT ? APR_SUCCESS : APR_NOTFOUND;
    return 0;
}

/* count: a lookup the metrics see (hit or miss); a probe is not one, and
 * asks the cache itself (the session writers' tombstone check). */
static apr_status_t fetch(server_rec *s, jpki_cache_ns_e ns, const char *key, apr_pool_t *p,
                          char **val, apr_size_t *len, int count)
{
    unsigned char id[JPKI_CACHE_ID_LEN];
    apr_uint32_t gen = 0;
    apr_size_t vlen = 0;
    apr_time_t exp;
    apr_status_t rv;
    if (jpki_cache_conf.inst[ns][0] == NULL) {
        return APR_EINVAL;
    }
    cache_id(ns, key, id);
    if (!count || recall(ns, id, p, val, len, &rv) != 0) {
        gen = MEMO(ns) ? jpki_memo_gen(jpki_cache_memo, id) : 0;
        if ((rv = lock(ns, id)) != APR_SUCCESS) {
            return rv;
        }
        rv = get_locked(s, ns, id, p, val, &vlen, &exp);
        unlock(ns, id);
        keep(ns, id, gen, rv, rv == APR_SUCCESS ? *val : NULL, vlen, exp);
        if (len && rv == APR_SUCCESS) {
            *len = vlen;
        }
    }
    if (count && (rv == APR_SUCCESS || rv == APR_NOTFOUND)) {
        jpki_metrics_cache(s, ns, rv == APR_SUCCESS);
    }
    return rv;
}

apr_status_t jpki_cache_get(server_rec *s, jpki_cache_ns_e ns, const char *key, apr_pool_t *p,
                            char **val, apr_size_t *len)
{
    return fetch(s, ns, key, p, val, len, 1);
}

apr_status_t jpki_cache_probe(server_rec *s, jpki_cache_ns_e ns, const char *key, apr_pool_t *p)
{
    char *val;
    return fetch(s, ns, key, p, &val, NULL, 0);
}

/* Both answers from the memo, or -1. */
static int recall_pair(jpki_cache_ns_e ns, const unsigned char *id, const unsigned char *pid,
                       apr_pool_t *p, char **val, apr_size_t *len, apr_status_t *rv,
                       apr_status_t *probe_rv)
{
    char *pval;
    if (recall(ns, id, p, val, len, rv) != 0) {
        return -1;
    }
    if (*rv != APR_SUCCESS) {
        return 0; /* no record: the probe does not run */
    }
    return recall(ns, pid, p, &pval, NULL, probe_rv);
}

apr_status_t jpki_cache_get_probe(server_rec *s, jpki_cache_ns_e ns, const char *key,
                                  const char *probe_key, apr_pool_t *p, char **val, apr_size_t *len,
                                  apr_status_t *probe_rv)
{
    unsigned char id[JPKI_CACHE_ID_LEN], pid[JPKI_CACHE_ID_LEN];
    apr_uint32_t gen = 0, pgen = 0;
    apr_size_t vlen = 0, plen = 0;
    apr_time_t exp, pexp;
    apr_status_t rv;
    char *pval = NULL;
    *probe_rv = APR_EGENERAL;
    if (jpki_cache_conf.inst[ns][0] == NULL) {
        return APR_EINVAL;
    }
    cache_id(ns, key, id); /* both before the lock */
    cache_id(ns, probe_key, pid);
    if (recall_pair(ns, id, pid, p, val, len, &rv, probe_rv) != 0) {
        *probe_rv = APR_EGENERAL;
        gen = MEMO(ns) ? jpki_memo_gen(jpki_cache_memo, id) : 0;
        pgen = MEMO(ns) ? jpki_memo_gen(jpki_cache_memo, pid) : 0;
        if ((rv = lock(ns, id)) != APR_SUCCESS) {
            return rv;
        }
        rv = get_locked(s, ns, id, p, val, &vlen, &exp);
        if (rv == APR_SUCCESS && SHARD(pid) == SHARD(id)) {
            *probe_rv = get_locked(s, ns, pid, p, &pval, &plen, &pexp);
        }
        unlock(ns, id);
        if (rv == APR_SUCCESS && SHARD(pid) != SHARD(id)) {
            /* another shard, another lock: each key is linearizable on its
             * own, which is all the tombstone argument needs */
            *probe_rv = lock(ns, pid);
            if (*probe_rv == APR_SUCCESS) {
                *probe_rv = get_locked(s, ns, pid, p, &pval, &plen, &pexp);
                unlock(ns, pid);
            }
        }
        keep(ns, id, gen, rv, rv == APR_SUCCESS ? *val : NULL, vlen, exp);
        if (rv == APR_SUCCESS) {
            keep(ns, pid, pgen, *probe_rv, pval, plen, pexp);
        }
        if (len && rv == APR_SUCCESS) {
            *len = vlen;
        }
    }
    if (rv == APR_SUCCESS || rv == APR_NOTFOUND) {
        jpki_metrics_cache(s, ns, rv == APR_SUCCESS); /* the get counts, the probe not */
    }
    return rv;
}

apr_status_t jpki_cache_remove(server_rec *s, jpki_cache_ns_e ns, const char *key, apr_pool_t *p)
{
    unsigned char id[JPKI_CACHE_ID_LEN];
    apr_status_t rv;
    if ((rv = enter(ns, key, 0, id)) != APR_SUCCESS) {
        return rv;
    }
    rv = jpki_cache_conf.provider->remove(INST(ns, id), s, id, sizeof(id), p);
    written(ns, id);
    unlock(ns, id);
    return rv;
}

apr_status_t jpki_cache_take(server_rec *s, jpki_cache_ns_e ns, const char *key, apr_pool_t *p,
                             char **val, apr_size_t *len)
{
    unsigned char id[JPKI_CACHE_ID_LEN];
    apr_status_t rv;
    if ((rv = enter(ns, key, 0, id)) != APR_SUCCESS) {
        return rv;
    }
    rv = get_locked(s, ns, id, p, val, len, NULL);
    if (rv == APR_SUCCESS) {
        /* The remove decides who took it: redis DEL and memcached delete
         * are atomic, so of two nodes that both read the value only one
         * removes it; the other gets APR_NOTFOUND and must not use it. */
        apr_status_t rrv = jpki_cache_conf.provider->remove(INST(ns, id), s, id, sizeof(id), p);
        written(ns, id);
        if (rrv != APR_SUCCESS) {
            rv = rrv; /* taken elsewhere, or could not consume: refuse */
        }
    }
    unlock(ns, id);
    if (rv == APR_SUCCESS || rv == APR_NOTFOUND) {
        jpki_metrics_cache(s, ns, rv == APR_SUCCESS); /* single-use lookups count too */
    }
    return rv;
}

/* Network caches (redis, memcache) have no add-if-absent in the socache
 * interface and no lock spans nodes: a claim is store, settle, read back.
 * Of the callers that all read "absent", the last store wins and every
 * earlier one reads another token back; only a caller that stalls longer
 * than the settle time between its read and its store can also win
 * (docs/cluster.md "PF calls across nodes"). */
#define JPKI_CACHE_CLAIM_SETTLE apr_time_from_msec(10)

static apr_status_t add_network(server_rec *s, jpki_cache_ns_e ns, const unsigned char *id,
                                const void *val, apr_size_t len, apr_time_t expiry, apr_pool_t *p)
{
    unsigned char tok[8];
    char *mine, *back;
    apr_size_t mlen = len + 2 * sizeof(tok), blen;
    apr_status_t rv;
    if (apr_generate_random_bytes(tok, sizeof(tok)) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    mine = apr_palloc(p, mlen + 1);
    memcpy(mine, val, len);
    ap_bin2hex(tok, sizeof(tok), mine + len);
    rv = jpki_cache_conf.provider->store(INST(ns, id), s, id, JPKI_CACHE_ID_LEN, expiry,
                                         (unsigned char *)mine, (unsigned int)mlen, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_sleep(JPKI_CACHE_CLAIM_SETTLE);
    rv = get_locked(s, ns, id, p, &back, &blen, NULL);
    if (rv == APR_NOTFOUND) {
        return APR_EEXIST; /* taken and already released by another caller */
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return blen == mlen && memcmp(back, mine, mlen) == 0 ? APR_SUCCESS : APR_EEXIST;
}

apr_status_t jpki_cache_add(server_rec *s, jpki_cache_ns_e ns, const char *key, const void *val,
                            apr_size_t len, apr_time_t expiry, apr_pool_t *p)
{
    unsigned char id[JPKI_CACHE_ID_LEN];
    apr_status_t rv;
    char *old;
    if ((rv = enter(ns, key, len, id)) != APR_SUCCESS) {
        return rv;
    }
    rv = get_locked(s, ns, id, p, &old, NULL, NULL);
    if (rv == APR_SUCCESS) {
        rv = APR_EEXIST;
    } else if (rv == APR_NOTFOUND && jpki_cache_conf.need_lock) {
        rv = put_locked(s, ns, id, val, len, expiry, p);
    } else if (rv == APR_NOTFOUND) {
        rv = add_network(s, ns, id, val, len, expiry, p);
    }
    unlock(ns, id);
    return rv;
}
