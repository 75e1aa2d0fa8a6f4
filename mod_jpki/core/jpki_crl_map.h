/*
 * Memory-mapped CRL indexes and their atomic swap (core/jpki_crl_map.c),
 * used by the crl status provider (steps/status/jpki_status_crl.c).
 *
 * A slot names one index file. Its current mapping holds one reference
 * for the slot; every reader takes one more with jpki_crl_slot_acquire
 * and gives it back with jpki_crl_slot_release. A reload (the file's
 * inode, size or mtime changed; looked for at most every interval) maps
 * and validates the new file outside the lock and then replaces the
 * slot's mapping under it; a mapping is unmapped when its last reference
 * goes. So a reader always has one complete index, old or new, and never
 * none. A missing or damaged file becomes a mapping without an index
 * (addr NULL, bad says why): no answer, never "not listed".
 */
#ifndef JPKI_CRL_MAP_H
#define JPKI_CRL_MAP_H

#include "core/jpki_crl.h"

#include <apr_thread_mutex.h>
#include <sys/types.h>
#include <time.h>

typedef struct jpki_crl_map_t {
    unsigned char *addr; /* NULL when missing or damaged */
    apr_size_t size;
    jpki_crl_index_t ix; /* valid when addr != NULL */
    const char *bad;     /* why there is no index (static text), or NULL */
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    off_t fsize;
    int exists;
    int refs; /* the slot's own reference + readers */
} jpki_crl_map_t;

typedef struct jpki_crl_slot_t {
    char *path;
    char *kid;
    jpki_crl_map_t *cur; /* never NULL after create, unless out of memory */
    apr_time_t checked;
    int loading;
} jpki_crl_slot_t;

/* A slot for path, mapped now (the caller logs cur->bad or the index). */
jpki_crl_slot_t *jpki_crl_slot_create(apr_pool_t *p, const char *path, const char *kid,
                                      apr_time_t now);

/* The slot's current mapping with a reference for the caller (NULL only
 * when out of memory). When at least interval has passed since the last
 * look and no other thread is loading, stats the file and, if it changed,
 * maps the new one and publishes it: *loaded then points to it (for the
 * caller's log line), else NULL. mu serialises the slots' bookkeeping. */
jpki_crl_map_t *jpki_crl_slot_acquire(jpki_crl_slot_t *sl, apr_thread_mutex_t *mu, apr_time_t now,
                                      apr_time_t interval, const jpki_crl_map_t **loaded);

/* Give back a reference from jpki_crl_slot_acquire (NULL is allowed). */
void jpki_crl_slot_release(jpki_crl_map_t *m, apr_thread_mutex_t *mu);

/* Drop the slot's own reference (child exit). */
void jpki_crl_slot_destroy(jpki_crl_slot_t *sl);

#endif
