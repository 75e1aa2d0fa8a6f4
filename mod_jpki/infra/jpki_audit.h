/*
 * Audit log (verifier obligations: 動作を記録する機能): one JSON line per
 * decision and per status call, UTC ms timestamps, request id, normalised
 * serial, account. Never names, addresses, birth dates, certificates or
 * My Numbers. Written to JPKIAuditLog (a file or a |pipe, opened by the
 * parent like CustomLog), else to the error log at info level.
 * Format: docs/audit.md.
 */
#ifndef JPKI_AUDIT_H
#define JPKI_AUDIT_H

#include "cfg/jpki_cfg.h"

/* event: login_ok | login_refused | logout | session_expired | registration | relink.
 * code: the stable outcome code ("ok" or an error code). serial/account may be NULL. */
void jpki_audit_decision(request_rec *r, const char *event, const char *code, const char *method,
                         const char *serial, const char *account);

/* One status call: purpose signature_verification | liveness_check; provider
 * platform | ocsp; result good | revoked | unknown | error:<code>. The fee
 * (JPKIFee) is recorded for every result that is not an error. */
void jpki_audit_status_call(request_rec *r, const char *purpose, const char *provider,
                            const char *serial, long latency_ms, const char *result,
                            const char *cert_type);

/* --- configuration ----------------------------------------------------- */

void jpki_audit_register_hooks(apr_pool_t *p);

#endif
