/*
 * Audit log: one JSON object per line, written with a single write() of
 * fewer than PIPE_BUF bytes, so lines of concurrent processes never
 * interleave in a pipe (POSIX) or an O_APPEND file. The file or pipe is
 * opened by the parent in open_logs, as mod_log_config does for CustomLog:
 * "|program" goes through ap_open_piped_log (httpd restarts a dead logger;
 * rotatelogs works), a path is opened for append relative to ServerRoot.
 *
 * Only identifiers are written: the stable code, the normalised serial,
 * the account, the client address, the request id. The callers never pass
 * certificate text or the 4 facts, and every value is length-capped.
 */
#include "infra/jpki_audit.h"
#include "infra/jpki_metrics.h"

#include "http_main.h"
#include "apr_hash.h"
#include <jansson.h>
#include <limits.h>

#ifndef PIPE_BUF
#define PIPE_BUF 4096
#endif
#define AUDIT_MAX_LINE  (PIPE_BUF - 1)
#define AUDIT_MAX_VALUE 256

/* The id of the request the client sent (subrequests and internal
 * redirects share it): UNIQUE_ID when mod_unique_id runs, else httpd's
 * log id, the one %L prints in ErrorLogFormat / LogFormat. */
static const char *request_id(request_rec *r)
{
    request_rec *m = r;
    const char *u;
    for (;;) {
        if (m->main) {
            m = m->main;
        } else if (m->prev) {
            m = m->prev;
        } else {
            break;
        }
    }
    u = apr_table_get(m->subprocess_env, "UNIQUE_ID");
    if (u != NULL) {
        return u;
    }
    if (m->log_id == NULL) {
        ap_run_generate_log_id(m->connection, m, &m->log_id);
    }
    return m->log_id ? m->log_id : "-";
}

static void put(json_t *o, const char *k, const char *v)
{
    if (v != NULL) {
        apr_size_t n = strlen(v);
        json_t *j = json_stringn(v, n > AUDIT_MAX_VALUE ? AUDIT_MAX_VALUE : n);
        /* not UTF-8 (or cut inside a character): say so, never the bytes */
        json_object_set_new(o, k, j ? j : json_string("(not utf-8)"));
    } else {
        json_object_set_new(o, k, json_null());
    }
}

static json_t *line_start(request_rec *r, const char *event)
{
    json_t *o = json_object();
    put(o, "time", jpki_util_time_iso(r->pool, apr_time_now()));
    put(o, "request_id", request_id(r));
    put(o, "event", event);
    return o;
}

static void line_end(request_rec *r, json_t *o)
{
    jpki_audit_srv_t *a = jpki_srv_cfg(r->server)->audit;
    char *text;
    apr_size_t len;

    put(o, "client_ip", r->useragent_ip);
    put(o, "vhost",
        apr_psprintf(r->pool, "%s:%u",
                     r->server->server_hostname ? r->server->server_hostname : "-",
                     r->connection->local_addr ? r->connection->local_addr->port : 0));
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (text == NULL) {
        jpki_metrics_audit(r->server, 0);
        return;
    }
    len = strlen(text);
    if (a == NULL || a->fd == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, JPKI_LOGNO(0901) "audit: %s", text);
        free(text);
        jpki_metrics_audit(r->server, 1);
        return;
    }
    if (len + 1 > AUDIT_MAX_LINE) {
        /* Cannot happen with capped values; never write a torn line. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      JPKI_LOGNO(0902) "audit line of %" APR_SIZE_T_FMT " bytes not written "
                                       "(over PIPE_BUF)",
                      len);
        free(text);
        jpki_metrics_audit(r->server, 0);
        return;
    }
    {
        char buf[AUDIT_MAX_LINE + 1];
        apr_size_t n = len + 1;
        apr_status_t rv;
        memcpy(buf, text, len);
        buf[len] = '\n';
        free(text);
        /* One write() on an unbuffered file: atomic for pipes and O_APPEND. */
        rv = apr_file_write(a->fd, buf, &n);
        if (rv != APR_SUCCESS || n != len + 1) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          JPKI_LOGNO(0903) "cannot write the audit log (JPKIAuditLog %s)", a->spec);
            jpki_metrics_audit(r->server, 0);
            return;
        }
    }
    jpki_metrics_audit(r->server, 1);
}

void jpki_audit_decision(request_rec *r, const char *event, const char *code, const char *method,
                         const char *serial, const char *account)
{
    json_t *o = line_start(r, event);
    put(o, "code", code);
    put(o, "method", method);
    put(o, "serial", serial);
    put(o, "account", account);
    line_end(r, o);
}

void jpki_audit_status_call(request_rec *r, const char *purpose, const char *provider,
                            const char *serial, long latency_ms, const char *result,
                            const char *cert_type)
{
    json_t *o = line_start(r, "status_call");
    int answered = result != NULL && strncmp(result, "error", 5) != 0;
    put(o, "purpose", purpose);
    put(o, "provider", provider);
    put(o, "serial", serial);
    put(o, "cert_type", cert_type);
    json_object_set_new(o, "latency_ms", json_integer(latency_ms));
    put(o, "result", result);
    json_object_set_new(o, "yen",
                        json_integer(answered ? jpki_metrics_fee(r->server, cert_type) : 0));
    line_end(r, o);
}

/* --- configuration ------------------------------------------------------------ */

/* In the parent, at every (re)start: each distinct JPKIAuditLog is opened
 * once, on pconf, so a restart closes the old one and opens it again
 * (the piped logger is restarted; rotatelogs carries on appending). */
static int audit_open_logs(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *opened = apr_hash_make(ptemp);
    server_rec *vs;
    (void)plog;
    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_audit_srv_t *a = jpki_srv_cfg(vs)->audit;
        apr_file_t *fd;
        if (a == NULL || a->spec == NULL) {
            continue;
        }
        fd = apr_hash_get(opened, a->spec, APR_HASH_KEY_STRING);
        if (fd == NULL) {
            if (a->spec[0] == '|') {
                piped_log *pl = ap_open_piped_log(pconf, a->spec + 1);
                if (pl == NULL) {
                    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                                 JPKI_LOGNO(0904) "JPKIAuditLog: cannot start '%s'", a->spec + 1);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
                fd = ap_piped_log_write_fd(pl);
            } else {
                const char *path = ap_server_root_relative(pconf, a->spec);
                apr_status_t rv =
                    apr_file_open(&fd, path, APR_WRITE | APR_APPEND | APR_CREATE | APR_LARGEFILE,
                                  APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD, pconf);
                if (rv != APR_SUCCESS) {
                    ap_log_error(APLOG_MARK, APLOG_EMERG, rv, vs,
                                 JPKI_LOGNO(0905) "JPKIAuditLog: cannot open '%s'", path);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
            apr_hash_set(opened, a->spec, APR_HASH_KEY_STRING, fd);
        }
        a->fd = fd;
    }
    return OK;
}

void jpki_audit_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_open_logs(audit_open_logs, NULL, NULL, APR_HOOK_MIDDLE);
}
