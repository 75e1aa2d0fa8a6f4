/*
 * Counters in shared memory, correct across processes and graceful
 * restarts; rendered by SetHandler jpki-status. Owned by jpki_metrics.c
 * (issue: export/audit/status page).
 */
#ifndef JPKI_METRICS_H
#define JPKI_METRICS_H

#include "jpki.h"

void jpki_metrics_login(server_rec *s, const char *outcome); /* "ok" or the stable code */
void jpki_metrics_session(server_rec *s, int delta);        /* +1 opened, -1 ended */
void jpki_metrics_cache(server_rec *s, int ns, int hit);    /* jpki_cache_ns_e, 1 hit / 0 miss */
/* One status call: purpose signature_verification|liveness_check, cert_type
 * auth|sign (decides the fee), ok = an answer (good or revoked) was obtained. */
void jpki_metrics_status_call(server_rec *s, const char *purpose, const char *cert_type,
                              long latency_ms, int ok);
void jpki_metrics_breaker(server_rec *s, int open);
void jpki_metrics_grace(server_rec *s);

#endif
