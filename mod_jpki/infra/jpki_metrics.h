/*
 * Counters in shared memory, correct across processes and graceful
 * restarts; rendered by SetHandler jpki-status (jpki_status_page.c).
 * Owned by jpki_metrics.c (issue: export/audit/status page).
 */
#ifndef JPKI_METRICS_H
#define JPKI_METRICS_H

#include "cfg/jpki_cfg.h"

void jpki_metrics_login(server_rec *s, const char *outcome); /* "ok" or the stable code */
void jpki_metrics_session(server_rec *s, int delta);         /* +1 opened, -1 ended */
void jpki_metrics_cache(server_rec *s, int ns, int hit);     /* jpki_cache_ns_e, 1 hit / 0 miss */
/* One status call: purpose signature_verification|liveness_check, cert_type
 * auth|sign (decides the fee), ok = an answer (good or revoked) was obtained. */
void jpki_metrics_status_call(server_rec *s, const char *purpose, const char *cert_type,
                              long latency_ms, int ok);
void jpki_metrics_breaker(server_rec *s, int open);
void jpki_metrics_grace(server_rec *s);
/* Inbound headers removed by the spoofing protection (jpki_identity.c). */
void jpki_metrics_scrubbed(server_rec *s, int n);
/* Audit lines written / lost (jpki_audit.c). */
void jpki_metrics_audit(server_rec *s, int ok);

/* The fee in yen of one answered status check of this certificate type
 * (JPKIFee; defaults 2 for auth, 20 for sign). */

/* --- configuration ------------------------------------------------------ */

/* --- reading (the status page) -------------------------------------------- */

#define JPKI_METRICS_LATENCY_BUCKETS 11
extern const long jpki_metrics_latency_bounds_ms[JPKI_METRICS_LATENCY_BUCKETS];
extern const char
    *const jpki_metrics_purposes[3]; /* signature_verification, liveness_check, other */
extern const char *const jpki_metrics_cert_types[3];  /* auth, sign, other */
extern const char *const jpki_metrics_cache_names[4]; /* challenge, session, status, account */

#define JPKI_METRICS_MAX_CODES 64

typedef struct jpki_metrics_snapshot_t {
    apr_time_t started;       /* when the segment was created (first start) */
    apr_uint64_t generations; /* configuration generations seen (1 + restarts) */
    int ncodes;
    const char *code[JPKI_METRICS_MAX_CODES];
    apr_uint64_t logins[JPKI_METRICS_MAX_CODES];
    apr_uint64_t logins_other;
    apr_uint64_t sessions_opened, sessions_ended;
    apr_uint64_t cache[4][2];    /* [ns][0 miss, 1 hit] */
    apr_uint64_t calls[3][3][2]; /* [purpose][cert_type][0 error, 1 answered] */
    apr_uint64_t latency[JPKI_METRICS_LATENCY_BUCKETS + 1]; /* cumulative at read, last = +Inf */
    apr_uint64_t latency_sum_ms, latency_count;
    apr_uint64_t breaker_open, breaker_opened;
    apr_uint64_t grace;
    apr_uint64_t yen;
    apr_uint64_t scrubbed;
    apr_uint64_t audit_lines, audit_errors;
} jpki_metrics_snapshot_t;

/* Copy the counters out; 0 if the segment does not exist. */
int jpki_metrics_read(apr_pool_t *p, jpki_metrics_snapshot_t *out);

/* post_config: create the segment once per httpd parent, keep it across
 * restarts (hooks registered here). */
void jpki_metrics_register_hooks(apr_pool_t *p);

#endif
