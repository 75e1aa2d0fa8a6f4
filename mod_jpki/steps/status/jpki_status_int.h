/*
 * Private to jpki_status.c and jpki_status_cache.c: the cache entry and
 * the breaker, shared by the lookup (jpki_status.c) and the cache side
 * (jpki_status_cache.c). Not an API.
 */
#ifndef JPKI_STATUS_INT_H
#define JPKI_STATUS_INT_H

#include "cfg/jpki_cfg.h"
#include "steps/status/jpki_status.h"

/* One cached answer. */
typedef struct {
    int good;
    const char *reason;
    apr_time_t t; /* checked at */
    apr_time_t v; /* valid until (source's nextUpdate), 0 none */
    const char *user, *cert_id;
    int link_pending;
} jpki_status_entry_t;

/* "<kind>:<source>:<serial>" */
const char *jpki_status_key_of(apr_pool_t *p, const char *kind, const jpki_status_cfg_t *sc,
                               const char *serial);
/* 1 hit, 0 miss, -1 cache failure (logged). */
int jpki_status_entry_get(request_rec *r, const char *key, jpki_status_entry_t *e);
void jpki_status_entry_put(request_rec *r, const jpki_status_cfg_t *sc, const char *key,
                           const jpki_status_result_t *res);
int jpki_status_entry_fresh(const jpki_status_cfg_t *sc, const jpki_status_entry_t *e,
                            apr_time_t now);
void jpki_status_entry_to_result(const jpki_status_entry_t *e, jpki_status_result_t *res);

/* Is the breaker of this source open now? */
int jpki_status_breaker_open(request_rec *r, const jpki_status_cfg_t *sc, apr_time_t now);
/* Count a failure (ok 0) or close the breaker (ok 1). */
void jpki_status_breaker_record(request_rec *r, const jpki_status_cfg_t *sc, const char *provider,
                                int ok);

#endif
