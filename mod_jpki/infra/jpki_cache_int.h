/*
 * Internal to infra/jpki_cache.c (the operations) and
 * infra/jpki_cache_setup.c (creating the instances, locks and the memo's
 * shared counters): the server-wide cache state.
 */
#ifndef JPKI_CACHE_INT_H
#define JPKI_CACHE_INT_H

#include "infra/jpki_cache.h"
#include "core/jpki_memo.h"

#include "ap_socache.h"

#include <openssl/evp.h>

/* Bytes of SHA-256 kept as the cache id: 128 bits. The keys hashed are
 * server-made (session ids, challenges) or come from J-LIS-signed
 * certificates, so only second preimages matter; half the digest halves
 * the key that Redis and memcache store in hex (docs/cluster.md "Sizing"). */
#define JPKI_CACHE_ID_LEN 16

/* shmcb finds an id by scanning the index of one of its (at most 256)
 * subcaches under the lock, so a lookup grows with the entries per
 * segment: 1 M sessions in one segment cost ~820 us a lookup (bench/scale.sh).
 * A large shmcb size is therefore split into shards of at most
 * JPKI_CACHE_SHARD_BYTES, each its own segment and lock, chosen by a byte
 * of the id. */
#define JPKI_CACHE_MAX_SHARDS  64
#define JPKI_CACHE_SHARD_BYTES (16 * 1024 * 1024)

/* The cache spec is server-wide (main server only), as it was for
 * mod_authn_socache: the instances and the locks are created once per
 * configuration generation in post_config and read-only afterwards. */
typedef struct {
    const ap_socache_provider_t *provider;
    const char *provider_name;
    const char *args;
    int shards; /* a power of 2; 1 except for a large shmcb */
    ap_socache_instance_t *inst[JPKI_NS_MAX][JPKI_CACHE_MAX_SHARDS];
    /* One lock per instance: a session check does not wait for a login's
     * challenge or status write, nor for another shard. */
    apr_global_mutex_t *mutex[JPKI_NS_MAX][JPKI_CACHE_MAX_SHARDS];
    int need_lock;
    void *memo_gens; /* shmcb only: core/jpki_memo.h's shared counters */
} jpki_cache_t;

extern jpki_cache_t jpki_cache_conf;
/* This process's memo (child_init; NULL without shmcb or in the parent). */
extern jpki_memo_t *jpki_cache_memo;
/* Fetched once per process: OpenSSL 3's implicit fetch by EVP_sha256()
 * takes a global lock on every call, which showed on the session hot path. */
extern EVP_MD *jpki_cache_sha256;

#endif
