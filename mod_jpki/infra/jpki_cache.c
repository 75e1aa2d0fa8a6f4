#include "infra/jpki_cache.h"
#include "infra/jpki_metrics.h"

#include "ap_provider.h"
#include "util_mutex.h"
#include "mpm_common.h"

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
    apr_global_mutex_t *mutex;
    int need_lock;
} jpki_cache_t;

static jpki_cache_t cache_conf; /* config-time state, see above */

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
    if (cache_conf.need_lock) {
        rv =
            ap_global_mutex_create(&cache_conf.mutex, NULL, JPKI_CACHE_MUTEX_ID, NULL, s, pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                         JPKI_LOGNO(1102) "cannot create the jpki-cache mutex (see the Mutex "
                                          "directive)");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    for (i = 0; i < JPKI_NS_MAX; i++) {
        const char *err =
            cache_conf.provider->create(&cache_conf.inst[i], ns_args(pconf, i), ptemp, pconf);
        if (err != NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, JPKI_LOGNO(1103) "JPKICache %s: %s",
                         cache_conf.provider_name, err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rv = cache_conf.provider->init(cache_conf.inst[i],
                                       ns_cnames[i], &hints,
                                       s, pconf);
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
    if (sha256_md == NULL) {
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    }
    if (cache_conf.mutex) {
        apr_status_t rv = apr_global_mutex_child_init(
            &cache_conf.mutex, apr_global_mutex_lockfile(cache_conf.mutex), p);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         JPKI_LOGNO(1105) "cannot re-open the jpki-cache mutex in the child");
        }
    }
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

static apr_status_t lock(void)
{
    return cache_conf.need_lock ? apr_global_mutex_lock(cache_conf.mutex) : APR_SUCCESS;
}

static void unlock(void)
{
    if (cache_conf.need_lock) {
        apr_global_mutex_unlock(cache_conf.mutex);
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
    return lock();
}

apr_status_t jpki_cache_store(server_rec *s, jpki_cache_ns_e ns, const char *key, const void *val,
                              apr_size_t len, apr_time_t expiry, apr_pool_t *p)
{
    unsigned char id[JPKI_CACHE_ID_LEN];
    apr_status_t rv;
    if ((rv = enter(ns, key, len, id)) != APR_SUCCESS) {
        return rv;
    }
    rv = cache_conf.provider->store(cache_conf.inst[ns], s, id, sizeof(id), expiry,
                                    (unsigned char *)val, (unsigned int)len, p);
    unlock();
    return rv;
}

static apr_status_t get_locked(server_rec *s, jpki_cache_ns_e ns, const unsigned char *id,
                               apr_pool_t *p, char **val, apr_size_t *len)
{
    unsigned char buf[JPKI_CACHE_MAX_VALUE + 1];
    unsigned int blen = JPKI_CACHE_MAX_VALUE;
    apr_status_t rv = cache_conf.provider->retrieve(cache_conf.inst[ns], s, id,
                                                    JPKI_CACHE_ID_LEN, buf, &blen, p);
    if (rv == APR_SUCCESS) {
        *val = apr_pstrmemdup(p, (const char *)buf, blen); /* copy out under the lock */
        if (len) {
            *len = blen;
        }
    }
    return rv;
}

/* count: a lookup the metrics see (hit or miss); a probe is not one. */
static apr_status_t fetch(server_rec *s, jpki_cache_ns_e ns, const char *key, apr_pool_t *p,
                          char **val, apr_size_t *len, int count)
{
    unsigned char id[JPKI_CACHE_ID_LEN];
    apr_status_t rv;
    if ((rv = enter(ns, key, 0, id)) != APR_SUCCESS) {
        return rv;
    }
    rv = get_locked(s, ns, id, p, val, len);
    unlock();
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

apr_status_t jpki_cache_get_probe(server_rec *s, jpki_cache_ns_e ns, const char *key,
                                  const char *probe_key, apr_pool_t *p, char **val, apr_size_t *len,
                                  apr_status_t *probe_rv)
{
    unsigned char id[JPKI_CACHE_ID_LEN], pid[JPKI_CACHE_ID_LEN];
    apr_status_t rv;
    char *pval;
    *probe_rv = APR_EGENERAL;
    cache_id(ns, probe_key, pid); /* before the lock, like enter() does for key */
    if ((rv = enter(ns, key, 0, id)) != APR_SUCCESS) {
        return rv;
    }
    rv = get_locked(s, ns, id, p, val, len);
    if (rv == APR_SUCCESS) {
        *probe_rv = get_locked(s, ns, pid, p, &pval, NULL);
    }
    unlock();
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
    unlock();
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
    rv = get_locked(s, ns, id, p, val, len);
    if (rv == APR_SUCCESS) {
        /* The remove decides who took it: redis DEL and memcached delete
         * are atomic, so of two nodes that both read the value only one
         * removes it; the other gets APR_NOTFOUND and must not use it. */
        apr_status_t rrv = cache_conf.provider->remove(cache_conf.inst[ns], s, id, sizeof(id), p);
        if (rrv != APR_SUCCESS) {
            rv = rrv; /* taken elsewhere, or could not consume: refuse */
        }
    }
    unlock();
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
                                const void *val, apr_size_t len, apr_time_t expiry,
                                apr_pool_t *p)
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
    rv = get_locked(s, ns, id, p, &back, &blen);
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
    rv = get_locked(s, ns, id, p, &old, NULL);
    if (rv == APR_SUCCESS) {
        rv = APR_EEXIST;
    } else if (rv == APR_NOTFOUND && cache_conf.need_lock) {
        rv = cache_conf.provider->store(cache_conf.inst[ns], s, id, sizeof(id), expiry,
                                        (unsigned char *)val, (unsigned int)len, p);
    } else if (rv == APR_NOTFOUND) {
        rv = add_network(s, ns, id, val, len, expiry, p);
    }
    unlock();
    return rv;
}
