#include "infra/jpki_cache.h"
#include "infra/jpki_metrics.h"

#include "core/jpki_memo.h"

#include "ap_provider.h"
#include "util_mutex.h"
#include "mpm_common.h"

#include <apr_shm.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

static const char *const ns_names[JPKI_NS_MAX] = {"challenge", "session", "status", "account"};
/* The socache "cname" (at most 16 characters, ap_socache.h; memcache and
 * redis put it, with a colon, in front of every key). */
static const char *const ns_cnames[JPKI_NS_MAX] = {"jpki-chal", "jpki-sess", "jpki-stat",
                                                   "jpki-acct"};

/* Bytes of SHA-256 kept as the cache id: 128 bits. The keys hashed are
 * server-made (session ids, challenges) or come from J-LIS-signed
 * certificates, so only second preimages matter; half the digest halves
 * the key that Redis and memcache store in hex (docs/cluster.md "Sizing"). */
#define JPKI_CACHE_ID_LEN 16

/* The cache spec is server-wide (main server only), as it was for
 * mod_authn_socache: the instances and the mutex below are created once
 * per configuration generation in post_config and read-only afterwards. */
typedef struct {
    const ap_socache_provider_t *provider;
    const char *provider_name;
    const char *args;
    ap_socache_instance_t *inst[JPKI_NS_MAX];
    /* One lock per namespace (each is its own shmcb segment): a session
     * check does not wait for a login's challenge or status write. */
    apr_global_mutex_t *mutex[JPKI_NS_MAX];
    int need_lock;
    void *memo_gens; /* shmcb only: core/jpki_memo.h's shared counters */
} jpki_cache_t;

static jpki_cache_t cache_conf; /* config-time state, see above */

/* This process's memo (child_init; NULL without shmcb or in the parent). */
static jpki_memo_t *memo;

/* What the memo keeps: read-mostly namespaces. Challenges are single-use. */
#define MEMO_NS(ns) ((ns) != JPKI_NS_CHALLENGE)

/* In shmcb every value is stored behind its expiry (this process's
 * apr_time_t, never seen outside this file), so that a memo copy ends
 * when the cache's entry would. */
#define EXP_LEN sizeof(apr_time_t)

/* Fetched once per process: OpenSSL 3's implicit fetch by EVP_sha256()
 * takes a global lock on every call, which showed on the session hot path. */
static EVP_MD *sha256_md;

int jpki_cache_pre_config(apr_pool_t *pconf)
{
    memset(&cache_conf, 0, sizeof(cache_conf));
    return ap_mutex_register(pconf, JPKI_CACHE_MUTEX_ID, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t cache_cleanup(void *data)
{
    int i;
    (void)data;
    for (i = 0; i < JPKI_NS_MAX; i++) {
        if (cache_conf.provider && cache_conf.inst[i]) {
            cache_conf.provider->destroy(cache_conf.inst[i], NULL);
            cache_conf.inst[i] = NULL;
        }
    }
    return APR_SUCCESS;
}

/* shmcb takes "path(size)": give every namespace its own file. */
static const char *ns_args(apr_pool_t *p, int ns)
{
    const char *paren;
    if (cache_conf.args == NULL || strcmp(cache_conf.provider_name, "shmcb") != 0) {
        return cache_conf.args;
    }
    paren = ap_strchr_c(cache_conf.args, '(');
    if (paren == NULL) {
        return apr_pstrcat(p, cache_conf.args, ".", ns_names[ns], NULL);
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, cache_conf.args, (apr_size_t)(paren - cache_conf.args)),
                       ".", ns_names[ns], paren, NULL);
}

/* JPKICache (main server; cfg/jpki_cfg.c checked the provider exists). */
static void load_spec(server_rec *s)
{
    const jpki_srv_cfg_t *c = jpki_srv_cfg(s);
    if (cache_conf.provider == NULL && c->cache_provider != NULL) {
        cache_conf.provider_name = c->cache_provider;
        cache_conf.args = c->cache_args;
        cache_conf.provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, c->cache_provider,
                                                 AP_SOCACHE_PROVIDER_VERSION);
    }
}

int jpki_cache_check_config(server_rec *s)
{
    load_spec(s);
    if (cache_conf.provider != NULL) {
        return OK; /* JPKICache named a provider that exists */
    }
    if (ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, AP_SOCACHE_DEFAULT_PROVIDER,
                           AP_SOCACHE_PROVIDER_VERSION) == NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     JPKI_LOGNO(1120) "JPKICache is not set and the default socache "
                                      "provider (mod_socache_shmcb) is missing: LoadModule "
                                      "socache_shmcb_module, or set JPKICache");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int create_locks(apr_pool_t *pconf, server_rec *s)
{
    int i;
    for (i = 0; cache_conf.need_lock && i < JPKI_NS_MAX; i++) {
        apr_status_t rv = ap_global_mutex_create(&cache_conf.mutex[i], NULL, JPKI_CACHE_MUTEX_ID,
                                                 ns_names[i], s, pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                         JPKI_LOGNO(1102) "cannot create the jpki-cache mutex (see the Mutex "
                                          "directive)");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

/* The memo's counters: anonymous shared memory, inherited by the children
 * of this generation (a graceful restart makes new ones with new caches). */
static int create_memo(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm;
    apr_status_t rv;
    cache_conf.memo_gens = NULL;
    if (strcmp(cache_conf.provider_name, "shmcb") != 0) {
        return OK;
    }
    rv = apr_shm_create(&shm, jpki_memo_gens_size(), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     JPKI_LOGNO(1106) "JPKICache shmcb: cannot create the shared memory of "
                                      "the per-process copies (%" APR_SIZE_T_FMT " bytes)",
                     jpki_memo_gens_size());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    cache_conf.memo_gens = apr_shm_baseaddr_get(shm);
    memset(cache_conf.memo_gens, 0, jpki_memo_gens_size());
    return OK;
}

int jpki_cache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    static struct ap_socache_hints hints = {JPKI_CACHE_ID_LEN, 512, 60};
    apr_status_t rv;
    int i;
    (void)ptemp;

    load_spec(s);
    if (cache_conf.provider == NULL) {
        cache_conf.provider_name = AP_SOCACHE_DEFAULT_PROVIDER;
        cache_conf.provider = ap_lookup_provider(
            AP_SOCACHE_PROVIDER_GROUP, AP_SOCACHE_DEFAULT_PROVIDER, AP_SOCACHE_PROVIDER_VERSION);
        if (cache_conf.provider == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         JPKI_LOGNO(1101) "JPKICache is not set and the default socache "
                                          "provider is missing: LoadModule socache_shmcb_module");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    cache_conf.need_lock = (cache_conf.provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) != 0;
    if (create_locks(pconf, s) != OK || create_memo(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (i = 0; i < JPKI_NS_MAX; i++) {
        const char *err =
            cache_conf.provider->create(&cache_conf.inst[i], ns_args(pconf, i), ptemp, pconf);
        if (err != NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, JPKI_LOGNO(1103) "JPKICache %s: %s",
                         cache_conf.provider_name, err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rv = cache_conf.provider->init(cache_conf.inst[i], ns_cnames[i], &hints, s, pconf);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                         JPKI_LOGNO(1104) "JPKICache %s: cannot initialise the %s cache",
                         cache_conf.provider_name, ns_names[i]);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    apr_pool_pre_cleanup_register(pconf, NULL, cache_cleanup);
    return OK;
}

void jpki_cache_child_init(apr_pool_t *p, server_rec *s)
{
    int i;
    if (sha256_md == NULL) {
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    }
    for (i = 0; i < JPKI_NS_MAX; i++) {
        apr_status_t rv;
        if (cache_conf.mutex[i] == NULL) {
            continue;
        }
        rv = apr_global_mutex_child_init(&cache_conf.mutex[i],
                                         apr_global_mutex_lockfile(cache_conf.mutex[i]), p);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         JPKI_LOGNO(1105) "cannot re-open the jpki-cache mutex in the child");
        }
    }
    /* without a memo every read takes the lock: slower, still correct */
    memo = cache_conf.memo_gens ? jpki_memo_create(p, cache_conf.memo_gens, JPKI_NS_MAX) : NULL;
}

static void cache_id(jpki_cache_ns_e ns, const char *key, unsigned char id[JPKI_CACHE_ID_LEN])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char tag = (unsigned char)('A' + ns);
    EVP_DigestInit_ex(c, sha256_md ? sha256_md : EVP_sha256(), NULL);
    EVP_DigestUpdate(c, &tag, 1);
    EVP_DigestUpdate(c, key, strlen(key));
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    memcpy(id, md, JPKI_CACHE_ID_LEN);
}

#define FRAMED   (cache_conf.memo_gens != NULL)
#define MEMO(ns) (memo != NULL && MEMO_NS(ns))

static apr_status_t lock(jpki_cache_ns_e ns)
{
    return cache_conf.need_lock ? apr_global_mutex_lock(cache_conf.mutex[ns]) : APR_SUCCESS;
}

static void unlock(jpki_cache_ns_e ns)
{
    if (cache_conf.need_lock) {
        apr_global_mutex_unlock(cache_conf.mutex[ns]);
    }
}

/* The key's id, and the lock taken: on APR_SUCCESS the caller unlocks. */
static apr_status_t enter(jpki_cache_ns_e ns, const char *key, apr_size_t len,
                          unsigned char id[JPKI_CACHE_ID_LEN])
{
    if (cache_conf.inst[ns] == NULL || len > JPKI_CACHE_MAX_VALUE) {
        return APR_EINVAL;
    }
    cache_id(ns, key, id);
    return lock(ns);
}

/* After a write of id: every process's copy of it is stale from now on. */
static void written(jpki_cache_ns_e ns, const unsigned char *id)
{
    if (MEMO(ns)) {
        jpki_memo_bump(memo, id);
    }
}

static apr_status_t put_locked(server_rec *s, jpki_cache_ns_e ns, const unsigned char *id,
                               const void *val, apr_size_t len, apr_time_t expiry, apr_pool_t *p)
{
    unsigned char buf[JPKI_CACHE_MAX_VALUE + EXP_LEN];
    apr_status_t rv;
    if (!FRAMED) {
        return cache_conf.provider->store(cache_conf.inst[ns], s, id, JPKI_CACHE_ID_LEN, expiry,
                                          (unsigned char *)val, (unsigned int)len, p);
    }
    memcpy(buf, &expiry, EXP_LEN);
    memcpy(buf + EXP_LEN, val, len);
    rv = cache_conf.provider->store(cache_conf.inst[ns], s, id, JPKI_CACHE_ID_LEN, expiry, buf,
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
    unlock(ns);
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
        cache_conf.provider->retrieve(cache_conf.inst[ns], s, id, JPKI_CACHE_ID_LEN, buf, &blen, p);
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
        jpki_memo_put(memo, ns, id, gen, rv == APR_SUCCESS ? val : NULL, len, expiry);
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
    a = jpki_memo_get(memo, ns, id, apr_time_now(), p, val, len);
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
    if (cache_conf.inst[ns] == NULL) {
        return APR_EINVAL;
    }
    cache_id(ns, key, id);
    if (!count || recall(ns, id, p, val, len, &rv) != 0) {
        gen = MEMO(ns) ? jpki_memo_gen(memo, id) : 0;
        if ((rv = lock(ns)) != APR_SUCCESS) {
            return rv;
        }
        rv = get_locked(s, ns, id, p, val, &vlen, &exp);
        unlock(ns);
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
    if (cache_conf.inst[ns] == NULL) {
        return APR_EINVAL;
    }
    cache_id(ns, key, id); /* both before the lock */
    cache_id(ns, probe_key, pid);
    if (recall_pair(ns, id, pid, p, val, len, &rv, probe_rv) != 0) {
        *probe_rv = APR_EGENERAL;
        gen = MEMO(ns) ? jpki_memo_gen(memo, id) : 0;
        pgen = MEMO(ns) ? jpki_memo_gen(memo, pid) : 0;
        if ((rv = lock(ns)) != APR_SUCCESS) {
            return rv;
        }
        rv = get_locked(s, ns, id, p, val, &vlen, &exp);
        if (rv == APR_SUCCESS) {
            *probe_rv = get_locked(s, ns, pid, p, &pval, &plen, &pexp);
        }
        unlock(ns);
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
    rv = cache_conf.provider->remove(cache_conf.inst[ns], s, id, sizeof(id), p);
    written(ns, id);
    unlock(ns);
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
        apr_status_t rrv = cache_conf.provider->remove(cache_conf.inst[ns], s, id, sizeof(id), p);
        written(ns, id);
        if (rrv != APR_SUCCESS) {
            rv = rrv; /* taken elsewhere, or could not consume: refuse */
        }
    }
    unlock(ns);
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
    rv = cache_conf.provider->store(cache_conf.inst[ns], s, id, JPKI_CACHE_ID_LEN, expiry,
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
    } else if (rv == APR_NOTFOUND && cache_conf.need_lock) {
        rv = put_locked(s, ns, id, val, len, expiry, p);
    } else if (rv == APR_NOTFOUND) {
        rv = add_network(s, ns, id, val, len, expiry, p);
    }
    unlock(ns);
    return rv;
}
