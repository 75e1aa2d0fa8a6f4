/*
 * JPKICache set up: the socache instances (one per namespace, and per shard
 * for a large shmcb), their locks and the memo's shared counters, created
 * in post_config; re-attached in each child. The operations are in
 * infra/jpki_cache.c.
 */
#include "infra/jpki_cache_int.h"

#include "ap_provider.h"
#include "util_mutex.h"
#include "mpm_common.h"

#include <apr_shm.h>
#include <apr_strings.h>

jpki_cache_t jpki_cache_conf; /* config-time state (jpki_cache_int.h) */
jpki_memo_t *jpki_cache_memo;
EVP_MD *jpki_cache_sha256;

static const char *const ns_names[JPKI_NS_MAX] = {"challenge", "session", "status", "account"};
/* The socache "cname" (at most 16 characters, ap_socache.h; memcache and
 * redis put it, with a colon, in front of every key). */
static const char *const ns_cnames[JPKI_NS_MAX] = {"jpki-chal", "jpki-sess", "jpki-stat",
                                                   "jpki-acct"};

int jpki_cache_pre_config(apr_pool_t *pconf)
{
    memset(&jpki_cache_conf, 0, sizeof(jpki_cache_conf));
    return ap_mutex_register(pconf, JPKI_CACHE_MUTEX_ID, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t cache_cleanup(void *data)
{
    int i, k;
    (void)data;
    for (i = 0; i < JPKI_NS_MAX; i++) {
        for (k = 0; k < JPKI_CACHE_MAX_SHARDS; k++) {
            if (jpki_cache_conf.provider && jpki_cache_conf.inst[i][k]) {
                jpki_cache_conf.provider->destroy(jpki_cache_conf.inst[i][k], NULL);
                jpki_cache_conf.inst[i][k] = NULL;
            }
        }
    }
    return APR_SUCCESS;
}

/* shmcb's "path(size)": the size, or 0 when not given (shmcb's default). */
static apr_int64_t shmcb_size(void)
{
    const char *paren;
    if (jpki_cache_conf.args == NULL || strcmp(jpki_cache_conf.provider_name, "shmcb") != 0 ||
        (paren = ap_strrchr_c(jpki_cache_conf.args, '(')) == NULL) {
        return 0;
    }
    return apr_atoi64(paren + 1);
}

/* Shards of at most JPKI_CACHE_SHARD_BYTES each (jpki_cache_int.h). */
static int shard_count(void)
{
    apr_int64_t size = shmcb_size();
    int n = 1;
    while (n < JPKI_CACHE_MAX_SHARDS && size / n > JPKI_CACHE_SHARD_BYTES) {
        n *= 2;
    }
    return n;
}

/* shmcb takes "path(size)": give every namespace (and shard) its own file
 * and its share of the size. */
static const char *ns_args(apr_pool_t *p, int ns, int shard)
{
    const char *paren, *path, *name = ns_names[ns];
    if (jpki_cache_conf.args == NULL || strcmp(jpki_cache_conf.provider_name, "shmcb") != 0) {
        return jpki_cache_conf.args;
    }
    if (jpki_cache_conf.shards > 1) {
        name = apr_psprintf(p, "%s.%d", ns_names[ns], shard);
    }
    paren = ap_strrchr_c(jpki_cache_conf.args, '(');
    if (paren == NULL) {
        return apr_pstrcat(p, jpki_cache_conf.args, ".", name, NULL);
    }
    path = apr_pstrmemdup(p, jpki_cache_conf.args, (apr_size_t)(paren - jpki_cache_conf.args));
    return apr_psprintf(p, "%s.%s(%" APR_INT64_T_FMT ")", path, name,
                        shmcb_size() / jpki_cache_conf.shards);
}

/* JPKICache (main server; cfg/jpki_cfg.c checked the provider exists). */
static void load_spec(server_rec *s)
{
    const jpki_srv_cfg_t *c = jpki_srv_cfg(s);
    if (jpki_cache_conf.provider == NULL && c->cache_provider != NULL) {
        jpki_cache_conf.provider_name = c->cache_provider;
        jpki_cache_conf.args = c->cache_args;
        jpki_cache_conf.provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, c->cache_provider,
                                                      AP_SOCACHE_PROVIDER_VERSION);
    }
}

int jpki_cache_check_config(server_rec *s)
{
    load_spec(s);
    if (jpki_cache_conf.provider != NULL) {
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
    int i, k;
    for (i = 0; jpki_cache_conf.need_lock && i < JPKI_NS_MAX; i++) {
        for (k = 0; k < jpki_cache_conf.shards; k++) {
            apr_status_t rv =
                ap_global_mutex_create(&jpki_cache_conf.mutex[i][k], NULL, JPKI_CACHE_MUTEX_ID,
                                       apr_psprintf(pconf, "%s-%d", ns_names[i], k), s, pconf, 0);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                             JPKI_LOGNO(1102) "cannot create the jpki-cache mutex (see the "
                                              "Mutex directive)");
                return HTTP_INTERNAL_SERVER_ERROR;
            }
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
    jpki_cache_conf.memo_gens = NULL;
    if (strcmp(jpki_cache_conf.provider_name, "shmcb") != 0) {
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
    jpki_cache_conf.memo_gens = apr_shm_baseaddr_get(shm);
    memset(jpki_cache_conf.memo_gens, 0, jpki_memo_gens_size());
    return OK;
}

static int create_instance(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s, int ns, int k)
{
    static struct ap_socache_hints hints = {JPKI_CACHE_ID_LEN, 512, 60};
    apr_status_t rv;
    const char *err = jpki_cache_conf.provider->create(&jpki_cache_conf.inst[ns][k],
                                                       ns_args(pconf, ns, k), ptemp, pconf);
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, JPKI_LOGNO(1103) "JPKICache %s: %s",
                     jpki_cache_conf.provider_name, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = jpki_cache_conf.provider->init(jpki_cache_conf.inst[ns][k], ns_cnames[ns], &hints, s,
                                        pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     JPKI_LOGNO(1104) "JPKICache %s: cannot initialise the %s cache",
                     jpki_cache_conf.provider_name, ns_names[ns]);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

int jpki_cache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    int i, k;

    load_spec(s);
    if (jpki_cache_conf.provider == NULL) {
        jpki_cache_conf.provider_name = AP_SOCACHE_DEFAULT_PROVIDER;
        jpki_cache_conf.provider = ap_lookup_provider(
            AP_SOCACHE_PROVIDER_GROUP, AP_SOCACHE_DEFAULT_PROVIDER, AP_SOCACHE_PROVIDER_VERSION);
        if (jpki_cache_conf.provider == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         JPKI_LOGNO(1101) "JPKICache is not set and the default socache "
                                          "provider is missing: LoadModule socache_shmcb_module");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    jpki_cache_conf.need_lock = (jpki_cache_conf.provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) != 0;
    jpki_cache_conf.shards = shard_count();
    if (create_locks(pconf, s) != OK || create_memo(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_pre_cleanup_register(pconf, NULL, cache_cleanup);
    for (i = 0; i < JPKI_NS_MAX; i++) {
        for (k = 0; k < jpki_cache_conf.shards; k++) {
            if (create_instance(pconf, ptemp, s, i, k) != OK) {
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    if (jpki_cache_conf.shards > 1) {
        ap_log_error(
            APLOG_MARK, APLOG_INFO, 0, s,
            JPKI_LOGNO(1107) "JPKICache shmcb: each namespace in %d shards of %" APR_INT64_T_FMT
                             " bytes",
            jpki_cache_conf.shards, shmcb_size() / jpki_cache_conf.shards);
    }
    return OK;
}

void jpki_cache_child_init(apr_pool_t *p, server_rec *s)
{
    int i, k;
    if (jpki_cache_sha256 == NULL) {
        jpki_cache_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    }
    for (i = 0; i < JPKI_NS_MAX; i++) {
        for (k = 0; k < jpki_cache_conf.shards; k++) {
            apr_global_mutex_t **m = &jpki_cache_conf.mutex[i][k];
            apr_status_t rv;
            if (*m == NULL) {
                continue;
            }
            rv = apr_global_mutex_child_init(m, apr_global_mutex_lockfile(*m), p);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                             JPKI_LOGNO(1105) "cannot re-open the jpki-cache mutex in the child");
            }
        }
    }
    /* without a memo every read takes the lock: slower, still correct */
    jpki_cache_memo = jpki_cache_conf.memo_gens
                          ? jpki_memo_create(p, jpki_cache_conf.memo_gens, JPKI_NS_MAX)
                          : NULL;
}
