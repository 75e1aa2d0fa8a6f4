/*
 * A small libcurl wrapper for the status providers: one POST, bounded in
 * time (separate connect and total limits, CURLOPT_NOSIGNAL) and size,
 * TLS pinned to a configured CA file, optional client certificate.
 *
 * Easy handles are reused per process (keep-alive to the PF), kept in a
 * small stack created in child_init and tagged with the pid that created
 * it: a handle is never used in another process than its creator's.
 */
#ifndef JPKI_HTTP_H
#define JPKI_HTTP_H

#include "cfg/jpki_cfg.h"

typedef struct jpki_http_req_t {
    const char *url;
    const char *content_type;
    const char *accept;
    const void *body;
    apr_size_t body_len;
    const char *bearer;      /* Authorization: Bearer <token>, or NULL */
    const char *ca_file;     /* pinned CA bundle for https, or NULL (http only) */
    const char *client_cert; /* PEM, or NULL */
    const char *client_key;
    long connect_ms;
    long total_ms;
    apr_size_t max_response;
    int https_only;
} jpki_http_req_t;

typedef enum {
    JPKI_HTTP_OK = 0,    /* a complete response, any HTTP status */
    JPKI_HTTP_CONNECT,   /* refused, unreachable, DNS */
    JPKI_HTTP_TIMEOUT,   /* connect or total limit */
    JPKI_HTTP_TLS,       /* handshake failed, certificate not matching the pin */
    JPKI_HTTP_TOO_LARGE, /* response over max_response */
    JPKI_HTTP_OTHER      /* reset, truncated, anything else */
} jpki_http_outcome_e;

typedef struct jpki_http_resp_t {
    jpki_http_outcome_e outcome;
    long status;
    char *body; /* NUL-terminated (not counted) */
    apr_size_t len;
    const char *error; /* curl's message for the log */
    long ms;           /* wall time of the call */
} jpki_http_resp_t;

/* post_config (parent, once per generation) and child_init. */
void jpki_http_global_init(apr_pool_t *pconf);
void jpki_http_child_init(apr_pool_t *pchild, server_rec *s);

/* One POST. Returns the outcome (also in resp->outcome). */
jpki_http_outcome_e jpki_http_post(apr_pool_t *p, const jpki_http_req_t *rq,
                                   jpki_http_resp_t *resp);

const char *jpki_http_outcome_name(jpki_http_outcome_e o);

#endif
