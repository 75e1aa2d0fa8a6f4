/*
 * Thin wrapper over httpd's ap_socache providers: shmcb by default,
 * memcache or redis for several servers, chosen by JPKICache. Each
 * namespace gets its own instance so a flood of challenges can never evict
 * sessions. Keys are hashed (shmcb picks its subcache by the first byte,
 * and a cache dump must not reveal session ids). Values are copied out
 * under the lock; the lock is never held across network I/O.
 */
#ifndef JPKI_CACHE_H
#define JPKI_CACHE_H

#include "cfg/jpki_cfg.h"

typedef enum {
    JPKI_NS_CHALLENGE = 0,
    JPKI_NS_SESSION,
    JPKI_NS_STATUS,
    JPKI_NS_ACCOUNT,
    JPKI_NS_MAX
} jpki_cache_ns_e;

/* Largest value any namespace stores. */
#define JPKI_CACHE_MAX_VALUE 4096

#define JPKI_CACHE_MUTEX_ID "jpki-cache"

int jpki_cache_pre_config(apr_pool_t *pconf);
/* check_config: the socache provider exists (so apachectl -t catches a
 * missing mod_socache_shmcb when JPKICache is not set). */
int jpki_cache_check_config(server_rec *s);
int jpki_cache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void jpki_cache_child_init(apr_pool_t *p, server_rec *s);

/* APR_SUCCESS stored; other = backend failure (logged by the caller). */
apr_status_t jpki_cache_store(server_rec *s, jpki_cache_ns_e ns, const char *key, const void *val,
                              apr_size_t len, apr_time_t expiry, apr_pool_t *p);
/* APR_SUCCESS hit (value NUL-terminated, copied into p), APR_NOTFOUND miss,
 * other = backend failure: callers must not treat a failure as a miss
 * where that matters (a failure is not "no session"). */
apr_status_t jpki_cache_get(server_rec *s, jpki_cache_ns_e ns, const char *key, apr_pool_t *p,
                            char **val, apr_size_t *len);
/* Like jpki_cache_get but only says whether the key exists, and is not
 * counted in the lookup metrics (session tombstones, jpki_session.c). */
apr_status_t jpki_cache_probe(server_rec *s, jpki_cache_ns_e ns, const char *key, apr_pool_t *p);
/* jpki_cache_get of key and, if it is found, jpki_cache_probe of probe_key
 * (same namespace) under one lock: the session record and its tombstone in
 * one cache round. *probe_rv: the probe's answer (APR_EGENERAL when the
 * probe did not run because key was not found or the get failed). */
apr_status_t jpki_cache_get_probe(server_rec *s, jpki_cache_ns_e ns, const char *key,
                                  const char *probe_key, apr_pool_t *p, char **val, apr_size_t *len,
                                  apr_status_t *probe_rv);
apr_status_t jpki_cache_remove(server_rec *s, jpki_cache_ns_e ns, const char *key, apr_pool_t *p);
/* Retrieve and remove in one step (single-use values): APR_SUCCESS only
 * for the one caller whose remove removed it (atomic in shmcb under the
 * lock, and across nodes in redis and memcached, whose delete says whether
 * the key was there); APR_NOTFOUND for every other. Whoever took it must
 * not store under the same key again (a later remove would succeed). */
apr_status_t jpki_cache_take(server_rec *s, jpki_cache_ns_e ns, const char *key, apr_pool_t *p,
                             char **val, apr_size_t *len);
/* Store only if absent: APR_SUCCESS added, APR_EEXIST present. Atomic in
 * shmcb (under the lock). With redis or memcache a claim: the value stored
 * is val followed by a random token, read back after a 10 ms settle; the
 * callers that raced lose except the last writer (jpki_cache.c). Callers
 * test the key's presence, never its value. */
apr_status_t jpki_cache_add(server_rec *s, jpki_cache_ns_e ns, const char *key, const void *val,
                            apr_size_t len, apr_time_t expiry, apr_pool_t *p);

#endif
