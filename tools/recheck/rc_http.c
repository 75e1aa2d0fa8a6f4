/*
 * HTTP POST over libcurl, one easy handle for the whole run so the
 * connection (and its TLS session) is reused. Answers are capped at 1 MiB;
 * only http:// and https:// are followed, never redirects.
 */
#include "recheck.h"

#include <apr_strings.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define RC_HTTP_MAX (1024 * 1024)

struct rc_http_t {
    CURL *curl;
    char *buf;
    size_t len, cap;
    int over;
};

static apr_status_t http_free(void *v)
{
    rc_http_t *h = v;
    curl_easy_cleanup(h->curl);
    free(h->buf);
    return APR_SUCCESS;
}

rc_http_t *rc_http_new(apr_pool_t *p)
{
    rc_http_t *h = apr_pcalloc(p, sizeof(*h));
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        return NULL;
    }
    apr_pool_cleanup_register(p, h, http_free, apr_pool_cleanup_null);
    return h;
}

static size_t on_data(char *d, size_t sz, size_t n, void *v)
{
    rc_http_t *h = v;
    size_t add = sz * n;
    if (h->len + add > RC_HTTP_MAX) {
        h->over = 1;
        return 0;
    }
    if (h->len + add + 1 > h->cap) {
        size_t cap = (h->len + add + 1) * 2;
        char *nb = realloc(h->buf, cap);
        if (nb == NULL) {
            return 0;
        }
        h->buf = nb;
        h->cap = cap;
    }
    memcpy(h->buf + h->len, d, add);
    h->len += add;
    h->buf[h->len] = '\0';
    return add;
}

static void set_tls(CURL *c, const rc_http_req_t *rq)
{
    if (rq->ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, rq->ca_file);
    }
    if (rq->client_cert != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, rq->client_cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, rq->client_key ? rq->client_key : rq->client_cert);
    }
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
}

int rc_http_post(rc_http_t *h, apr_pool_t *p, const rc_http_req_t *rq, long *status, char **body,
                 size_t *len, const char **err)
{
    struct curl_slist *hd = NULL;
    CURLcode cc;
    CURL *c = h->curl;
    h->len = 0;
    h->over = 0;
    curl_easy_reset(c);
    hd = curl_slist_append(hd, apr_pstrcat(p, "Content-Type: ", rq->content_type, NULL));
    hd = curl_slist_append(hd, apr_pstrcat(p, "Accept: ", rq->accept, NULL));
    hd = curl_slist_append(hd, "Expect:");
    if (rq->bearer != NULL) {
        hd = curl_slist_append(hd, apr_pstrcat(p, "Authorization: Bearer ", rq->bearer, NULL));
    }
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)rq->body_len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, rq->timeout_ms < 3000 ? rq->timeout_ms : 3000);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    set_tls(c, rq);
    cc = curl_easy_perform(c);
    curl_slist_free_all(hd);
    if (cc != CURLE_OK) {
        *err = h->over ? "answer over 1 MiB" : curl_easy_strerror(cc);
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    *len = h->len;
    *body = apr_pmemdup(p, h->buf ? h->buf : "", h->len + 1);
    (*body)[h->len] = '\0';
    return 0;
}
