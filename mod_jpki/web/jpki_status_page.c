/*
 * SetHandler jpki-status: the metrics of jpki_metrics.c as JSON (default,
 * ?format=json) or Prometheus text exposition format 0.0.4
 * (?format=prometheus, or Accept: text/plain). Access is controlled with
 * ordinary Require rules on the location; the page shows counters only,
 * never serials or accounts. Format: docs/status-page.md.
 */
#include "web/jpki_web.h"
#include "infra/jpki_http_json.h"
#include "infra/jpki_metrics.h"
#include "steps/status/jpki_status.h"

#include "apr_strings.h"

static const char *format_of(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    char *args, *tok, *state;
    if (r->args != NULL && strlen(r->args) <= 256) {
        args = apr_pstrdup(r->pool, r->args);
        for (tok = apr_strtok(args, "&", &state); tok; tok = apr_strtok(NULL, "&", &state)) {
            if (strncmp(tok, "format=", 7) == 0) {
                if (strcmp(tok + 7, "json") == 0 || strcmp(tok + 7, "prometheus") == 0) {
                    return tok + 7;
                }
                return NULL;
            }
        }
    } else if (r->args != NULL) {
        return NULL;
    }
    if (accept != NULL && ap_strcasestr(accept, "text/plain") != NULL &&
        ap_strcasestr(accept, "application/json") == NULL) {
        return "prometheus";
    }
    return "json";
}

static json_t *u64(apr_uint64_t v)
{
    return json_integer((json_int_t)v);
}

static int send_json(request_rec *r, const jpki_metrics_snapshot_t *m)
{
    json_t *o = json_object(), *x, *y, *z;
    int i, j;
    apr_uint64_t active =
        m->sessions_opened > m->sessions_ended ? m->sessions_opened - m->sessions_ended : 0;

    json_object_set_new(o, "started", json_string(jpki_util_time_iso(r->pool, m->started)));
    json_object_set_new(o, "generations", u64(m->generations));

    x = json_object();
    for (i = 0; i < m->ncodes; i++) {
        json_t *prev = json_object_get(x, m->code[i]);
        apr_uint64_t n = m->logins[i] + (prev ? (apr_uint64_t)json_integer_value(prev) : 0);
        json_object_set_new(x, m->code[i], u64(n));
    }
    json_object_set_new(x, "other", u64(m->logins_other));
    json_object_set_new(o, "logins", x);

    x = json_object();
    json_object_set_new(x, "active", u64(active));
    json_object_set_new(x, "opened", u64(m->sessions_opened));
    json_object_set_new(x, "ended", u64(m->sessions_ended));
    json_object_set_new(o, "sessions", x);

    x = json_object();
    for (i = 0; i < 4; i++) {
        y = json_object();
        json_object_set_new(y, "hits", u64(m->cache[i][1]));
        json_object_set_new(y, "misses", u64(m->cache[i][0]));
        json_object_set_new(x, jpki_metrics_cache_names[i], y);
    }
    json_object_set_new(o, "cache", x);

    x = json_object();
    for (i = 0; i < 3; i++) {
        y = json_object();
        for (j = 0; j < 3; j++) {
            z = json_object();
            json_object_set_new(z, "answered", u64(m->calls[i][j][1]));
            json_object_set_new(z, "errors", u64(m->calls[i][j][0]));
            json_object_set_new(y, jpki_metrics_cert_types[j], z);
        }
        json_object_set_new(x, jpki_metrics_purposes[i], y);
    }
    json_object_set_new(o, "status_calls", x);

    x = json_object();
    y = json_object();
    for (i = 0; i < JPKI_METRICS_LATENCY_BUCKETS; i++) {
        json_object_set_new(y, apr_ltoa(r->pool, jpki_metrics_latency_bounds_ms[i]),
                            u64(m->latency[i]));
    }
    json_object_set_new(y, "+Inf", u64(m->latency[JPKI_METRICS_LATENCY_BUCKETS]));
    json_object_set_new(x, "buckets_le_ms", y);
    json_object_set_new(x, "sum_ms", u64(m->latency_sum_ms));
    json_object_set_new(x, "count", u64(m->latency_count));
    json_object_set_new(o, "status_latency", x);

    x = json_object();
    json_object_set_new(x, "open", json_boolean(m->breaker_open != 0));
    json_object_set_new(x, "opened", u64(m->breaker_opened));
    json_object_set_new(o, "breaker", x);

    json_object_set_new(o, "grace_passes", u64(m->grace));
    json_object_set_new(o, "yen_spent", u64(m->yen));
    x = json_object();
    json_object_set_new(x, "auth", json_integer(jpki_metrics_fee(r->server, "auth")));
    json_object_set_new(x, "sign", json_integer(jpki_metrics_fee(r->server, "sign")));
    json_object_set_new(o, "fees_yen", x);
    json_object_set_new(o, "crl_indexes", jpki_status_crl_report(r));
    json_object_set_new(o, "spoofed_headers_removed", u64(m->scrubbed));
    x = json_object();
    json_object_set_new(x, "lines", u64(m->audit_lines));
    json_object_set_new(x, "errors", u64(m->audit_errors));
    json_object_set_new(o, "audit", x);
    return jpki_json_send(r, HTTP_OK, o);
}

#define U64 "%" APR_UINT64_T_FMT

static void help(request_rec *r, const char *name, const char *type, const char *text)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* The CRL indexes of r's host (JPKIStatusProvider crl), one series each. */
static int send_crl_prometheus(request_rec *r)
{
    json_t *arr = jpki_status_crl_report(r), *o;
    size_t i;
    static const char *const g[][2] = {
        {"entries", "Serials in the CRL index of the issuer."},
        {"this_update_unix", "thisUpdate of the CRL index (Unix time)."},
        {"next_update_unix", "nextUpdate of the CRL index (Unix time)."},
        {"current", "1 while the CRL index is before its nextUpdate (plus the skew)."}};
    int k;
    for (k = 0; k < 4 && json_array_size(arr) > 0; k++) {
        const char *name = apr_pstrcat(r->pool, "jpki_crl_index_", g[k][0], NULL);
        help(r, name, "gauge", g[k][1]);
        json_array_foreach(arr, i, o)
        {
            json_t *v = json_object_get(o, g[k][0]);
            if (v != NULL) {
                ap_rprintf(r, "%s{issuer_key_id=\"%s\"} %" APR_INT64_T_FMT "\n", name,
                           json_string_value(json_object_get(o, "issuer_key_id")),
                           (apr_int64_t)(json_is_boolean(v) ? (json_int_t)json_is_true(v)
                                                            : json_integer_value(v)));
            }
        }
    }
    json_decref(arr);
    return OK;
}

static int send_prometheus(request_rec *r, const jpki_metrics_snapshot_t *m)
{
    int i, j, k;
    apr_uint64_t active =
        m->sessions_opened > m->sessions_ended ? m->sessions_opened - m->sessions_ended : 0;
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    help(r, "jpki_logins_total", "counter",
         "Login decisions by outcome code (ok or the stable error code).");
    for (i = 0; i < m->ncodes; i++) {
        ap_rprintf(r, "jpki_logins_total{code=\"%s\"} " U64 "\n", m->code[i], m->logins[i]);
    }
    ap_rprintf(r, "jpki_logins_total{code=\"other\"} " U64 "\n", m->logins_other);

    help(r, "jpki_sessions_active", "gauge", "Sessions opened and not yet seen to end.");
    ap_rprintf(r, "jpki_sessions_active " U64 "\n", active);
    help(r, "jpki_sessions_opened_total", "counter", "Sessions opened.");
    ap_rprintf(r, "jpki_sessions_opened_total " U64 "\n", m->sessions_opened);
    help(r, "jpki_sessions_ended_total", "counter", "Sessions ended (logout, expiry, revocation).");
    ap_rprintf(r, "jpki_sessions_ended_total " U64 "\n", m->sessions_ended);

    help(r, "jpki_cache_lookups_total", "counter", "Cache lookups by cache and result.");
    for (i = 0; i < 4; i++) {
        ap_rprintf(r, "jpki_cache_lookups_total{cache=\"%s\",result=\"hit\"} " U64 "\n",
                   jpki_metrics_cache_names[i], m->cache[i][1]);
        ap_rprintf(r, "jpki_cache_lookups_total{cache=\"%s\",result=\"miss\"} " U64 "\n",
                   jpki_metrics_cache_names[i], m->cache[i][0]);
    }

    help(r, "jpki_status_calls_total", "counter",
         "Revocation status calls by purpose, certificate type and result.");
    for (i = 0; i < 3; i++) {
        for (j = 0; j < 3; j++) {
            for (k = 1; k >= 0; k--) {
                ap_rprintf(r,
                           "jpki_status_calls_total{purpose=\"%s\",cert_type=\"%s\","
                           "result=\"%s\"} " U64 "\n",
                           jpki_metrics_purposes[i], jpki_metrics_cert_types[j],
                           k ? "answered" : "error", m->calls[i][j][k]);
            }
        }
    }

    help(r, "jpki_status_call_duration_seconds", "histogram", "Latency of status calls.");
    for (i = 0; i < JPKI_METRICS_LATENCY_BUCKETS; i++) {
        ap_rprintf(r, "jpki_status_call_duration_seconds_bucket{le=\"%g\"} " U64 "\n",
                   jpki_metrics_latency_bounds_ms[i] / 1000.0, m->latency[i]);
    }
    ap_rprintf(r, "jpki_status_call_duration_seconds_bucket{le=\"+Inf\"} " U64 "\n",
               m->latency[JPKI_METRICS_LATENCY_BUCKETS]);
    ap_rprintf(r, "jpki_status_call_duration_seconds_sum %.3f\n", m->latency_sum_ms / 1000.0);
    ap_rprintf(r, "jpki_status_call_duration_seconds_count " U64 "\n", m->latency_count);

    help(r, "jpki_status_breaker_open", "gauge", "1 while the status circuit breaker is open.");
    ap_rprintf(r, "jpki_status_breaker_open " U64 "\n", m->breaker_open);
    help(r, "jpki_status_breaker_opened_total", "counter", "Times the circuit breaker opened.");
    ap_rprintf(r, "jpki_status_breaker_opened_total " U64 "\n", m->breaker_opened);
    help(r, "jpki_status_grace_passes_total", "counter",
         "Logins let through by JPKIStatusFailMode grace while the status source was down.");
    ap_rprintf(r, "jpki_status_grace_passes_total " U64 "\n", m->grace);
    help(r, "jpki_fees_yen_total", "counter", "Yen spent on answered status checks (JPKIFee).");
    ap_rprintf(r, "jpki_fees_yen_total " U64 "\n", m->yen);
    help(r, "jpki_spoofed_headers_removed_total", "counter",
         "Inbound headers removed because they could be mistaken for identity headers.");
    ap_rprintf(r, "jpki_spoofed_headers_removed_total " U64 "\n", m->scrubbed);
    help(r, "jpki_audit_lines_total", "counter", "Audit lines by outcome.");
    ap_rprintf(r, "jpki_audit_lines_total{result=\"written\"} " U64 "\n", m->audit_lines);
    ap_rprintf(r, "jpki_audit_lines_total{result=\"error\"} " U64 "\n", m->audit_errors);
    help(r, "jpki_config_generations", "gauge", "Configuration generations since httpd started.");
    ap_rprintf(r, "jpki_config_generations " U64 "\n", m->generations);
    help(r, "jpki_metrics_start_time_seconds", "gauge", "When the counters started (Unix time).");
    ap_rprintf(r, "jpki_metrics_start_time_seconds %" APR_TIME_T_FMT "\n",
               apr_time_sec(m->started));
    return send_crl_prometheus(r);
}

int jpki_status_page_handle(request_rec *r)
{
    jpki_metrics_snapshot_t m;
    const char *fmt;
    if (r->method_number != M_GET) {
        apr_table_setn(r->err_headers_out, "Allow", "GET, HEAD");
        return jpki_json_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                               "Use GET to read the status page.");
    }
    fmt = format_of(r);
    if (fmt == NULL) {
        return jpki_json_error(r, HTTP_BAD_REQUEST, "invalid_format",
                               "format must be json or prometheus.");
    }
    if (!jpki_metrics_read(r->pool, &m)) {
        return jpki_json_error(r, HTTP_SERVICE_UNAVAILABLE, "metrics_unavailable",
                               "The metrics shared memory is not available (see the error log).");
    }
    if (strcmp(fmt, "prometheus") == 0) {
        return send_prometheus(r, &m);
    }
    return send_json(r, &m);
}
