#include "infra/jpki_http.h"

#include <apr_thread_mutex.h>
#include <curl/curl.h>
#include <unistd.h>

#define JPKI_HTTP_MAX_IDLE 64

/* Idle easy handles of this process. Created in child_init (so after the
 * fork) and tagged with the pid: should a handle ever be seen in another
 * process, it is dropped without touching its connections. */
typedef struct {
    pid_t pid;
#if APR_HAS_THREADS
    apr_thread_mutex_t *mu;
#endif
    CURL *idle[JPKI_HTTP_MAX_IDLE];
    int n;
} handle_stack_t;

static handle_stack_t *handles; /* per process, set once in child_init */

static apr_status_t handles_cleanup(void *data)
{
    handle_stack_t *h = data;
    int i;
    if (h->pid == getpid()) {
        for (i = 0; i < h->n; i++) {
            curl_easy_cleanup(h->idle[i]);
        }
    }
    h->n = 0;
    if (handles == h) {
        handles = NULL;
    }
    return APR_SUCCESS;
}

void jpki_http_global_init(apr_pool_t *pconf)
{
    (void)pconf;
    /* Reference counted by libcurl; runs in the single-threaded parent. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void jpki_http_child_init(apr_pool_t *pchild, server_rec *s)
{
    handle_stack_t *h = apr_pcalloc(pchild, sizeof(*h));
    h->pid = getpid();
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&h->mu, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     JPKI_LOGNO(0501) "cannot create the HTTP handle mutex: no keep-alive");
        return;
    }
#else
    (void)s;
#endif
    apr_pool_cleanup_register(pchild, h, handles_cleanup, apr_pool_cleanup_null);
    handles = h;
}

static CURL *handle_get(void)
{
    CURL *c = NULL;
    handle_stack_t *h = handles;
    if (h != NULL && h->pid == getpid()) {
#if APR_HAS_THREADS
        apr_thread_mutex_lock(h->mu);
#endif
        if (h->n > 0) {
            c = h->idle[--h->n];
        }
#if APR_HAS_THREADS
        apr_thread_mutex_unlock(h->mu);
#endif
    }
    if (c != NULL) {
        curl_easy_reset(c); /* keeps the connection and TLS session caches */
        return c;
    }
    return curl_easy_init();
}

static void handle_put(CURL *c, int reusable)
{
    handle_stack_t *h = handles;
    if (reusable && h != NULL && h->pid == getpid()) {
#if APR_HAS_THREADS
        apr_thread_mutex_lock(h->mu);
#endif
        if (h->n < JPKI_HTTP_MAX_IDLE) {
            h->idle[h->n++] = c;
            c = NULL;
        }
#if APR_HAS_THREADS
        apr_thread_mutex_unlock(h->mu);
#endif
    }
    if (c != NULL) {
        curl_easy_cleanup(c);
    }
}

typedef struct {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap, max;
    int too_large;
} sink_t;

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    sink_t *s = ud;
    apr_size_t n = size * nmemb;
    if (s->len + n > s->max) {
        s->too_large = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (s->len + n + 1 > s->cap) {
        apr_size_t cap = s->cap ? s->cap : 4096;
        char *nb;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        nb = apr_palloc(s->p, cap);
        if (s->len) {
            memcpy(nb, s->buf, s->len);
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

const char *jpki_http_outcome_name(jpki_http_outcome_e o)
{
    switch (o) {
    case JPKI_HTTP_OK:
        return "ok";
    case JPKI_HTTP_CONNECT:
        return "connect_failed";
    case JPKI_HTTP_TIMEOUT:
        return "timeout";
    case JPKI_HTTP_TLS:
        return "tls_failed";
    case JPKI_HTTP_TOO_LARGE:
        return "response_too_large";
    default:
        return "transport_error";
    }
}

/* Content-Type, Accept and Authorization as asked; no Expect: 100-continue. */
static struct curl_slist *request_headers(apr_pool_t *p, const jpki_http_req_t *rq)
{
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, apr_pstrcat(p, "Content-Type: ", rq->content_type, NULL));
    if (rq->accept) {
        hdr = curl_slist_append(hdr, apr_pstrcat(p, "Accept: ", rq->accept, NULL));
    }
    if (rq->bearer) {
        hdr = curl_slist_append(hdr, apr_pstrcat(p, "Authorization: Bearer ", rq->bearer, NULL));
    }
    hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip */
    return hdr;
}

/* One POST of rq->body to rq->url: timeouts, no redirects, the allowed
 * protocols, the size cap, and TLS verified against rq->ca_file (a pin)
 * or the system's CAs, with the client certificate when there is one. */
static void request_options(CURL *c, const jpki_http_req_t *rq, struct curl_slist *hdr,
                            sink_t *sink, char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, rq->connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rq->total_ms);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, rq->https_only ? "https" : "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS,
                     rq->https_only ? (long)CURLPROTO_HTTPS
                                    : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_response);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mod_jpki");
    if (rq->ca_file) {
        /* The pin: only this bundle, not the system's CA directory. */
        curl_easy_setopt(c, CURLOPT_CAINFO, rq->ca_file);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (rq->client_cert) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, rq->client_cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, rq->client_key);
    }
}

/* A failed transfer's libcurl code as one of our outcomes. */
static jpki_http_outcome_e failure_outcome(CURLcode rc, const sink_t *sink)
{
    if (sink->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        return JPKI_HTTP_TOO_LARGE;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        return JPKI_HTTP_TIMEOUT;
    }
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
        return JPKI_HTTP_CONNECT;
    }
    if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
#if LIBCURL_VERSION_NUM < 0x073e00
        rc == CURLE_SSL_CACERT ||
#endif
        rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE) {
        return JPKI_HTTP_TLS;
    }
    return JPKI_HTTP_OTHER;
}

jpki_http_outcome_e jpki_http_post(apr_pool_t *p, const jpki_http_req_t *rq,
                                   jpki_http_resp_t *resp)
{
    CURL *c = handle_get();
    struct curl_slist *hdr;
    char errbuf[CURL_ERROR_SIZE];
    sink_t sink;
    CURLcode rc;
    apr_time_t t0 = apr_time_now();

    memset(resp, 0, sizeof(*resp));
    memset(&sink, 0, sizeof(sink));
    sink.p = p;
    sink.max = rq->max_response;
    errbuf[0] = '\0';
    if (c == NULL) {
        resp->outcome = JPKI_HTTP_OTHER;
        resp->error = "curl_easy_init failed";
        return resp->outcome;
    }
    hdr = request_headers(p, rq);
    request_options(c, rq, hdr, &sink, errbuf);

    rc = curl_easy_perform(c);
    resp->ms = (long)apr_time_as_msec(apr_time_now() - t0);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_slist_free_all(hdr);

    if (rc == CURLE_OK) {
        resp->outcome = JPKI_HTTP_OK;
        resp->body = sink.buf ? sink.buf : apr_pstrdup(p, "");
        resp->len = sink.len;
    }
    else {
        resp->outcome = failure_outcome(rc, &sink);
        resp->error = apr_pstrdup(p, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    /* The error buffer and write sink live on this stack frame. */
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    /* A failed transfer's connection is closed by libcurl itself; the
     * handle stays reusable either way. */
    handle_put(c, 1);
    return resp->outcome;
}
