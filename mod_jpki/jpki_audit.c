/*
 * Audit log. Until JPKIAuditLog exists, decisions go to the error log at
 * info level (JPKI09xx) in the same key=value form the refusal lines use.
 */
#include "jpki_audit.h"

void jpki_audit_decision(request_rec *r, const char *event, const char *code,
                         const char *method, const char *serial, const char *account)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  JPKI_LOGNO(0901) "audit: event=%s code=%s method=%s serial=%s account=%s", event,
                  code, method ? method : "-", serial ? serial : "-", account ? account : "-");
}

void jpki_audit_status_call(request_rec *r, const char *purpose, const char *provider,
                            const char *serial, long latency_ms, const char *result,
                            const char *cert_type)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  JPKI_LOGNO(0902) "audit: event=status_call purpose=%s provider=%s serial=%s "
                  "latency_ms=%ld result=%s type=%s",
                  purpose, provider, serial ? serial : "-", latency_ms, result,
                  cert_type ? cert_type : "-");
}
