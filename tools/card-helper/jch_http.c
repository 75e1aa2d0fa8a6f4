/* The loopback HTTP server (libmicrohttpd), bound to 127.0.0.1 only:
 * POST /sign and its CORS / Private Network Access preflight
 * (docs/card-helper.md). One signature at a time; every failure is a JSON
 * {"error": code, "message": text}. */
#include "jch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

typedef struct {
    char body[JCH_MAX_BODY + 1];
    size_t len;
    int too_big;
} req_t;

static struct MHD_Daemon *daemon_;
static jpki_ch_server_t *srv_;
static pthread_mutex_t sign_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *hdr(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static int origin_allowed(const char *o)
{
    if (!o || !jpki_ch_origin_valid(o))
        return 0;
    for (int i = 0; i < srv_->norigins; i++)
        if (!strcmp(o, srv_->origins[i]))
            return 1;
    return 0;
}

static enum MHD_Result respond(struct MHD_Connection *c, int status, const char *body,
                               const char *origin, int preflight)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        body ? strlen(body) : 0, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (body)
        MHD_add_response_header(r, "Content-Type", "application/json");
    if (origin) { /* only for an allowed origin: nobody else may read answers */
        MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(r, "Vary", "Origin");
    }
    if (preflight) {
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "POST");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Content-Type");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
        if (preflight > 1) /* Chromium's Private / Local Network Access */
            MHD_add_response_header(r, "Access-Control-Allow-Private-Network", "true");
    }
    ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result fail(struct MHD_Connection *c, jpki_ch_code_t code, const char *origin,
                            const char *method, const char *url)
{
    const jpki_ch_error_t *e = jpki_ch_error_get(code);
    json_t *j = json_pack("{s:s,s:s}", "error", e->code, "message", e->message);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    enum MHD_Result ret = respond(c, e->status, s, origin, 0);
    jpki_ch_log("%s %s origin=%s -> %d %s", method, url[0] == '/' && strlen(url) < 64 ? url : "?",
                origin_allowed(origin) ? origin : "(refused)", e->status, e->code);
    free(s);
    json_decref(j);
    return ret;
}

static char *sign_json(const char *origin, const char *challenge, jpki_ch_code_t *rc)
{
    char cd[JCH_CLIENT_DATA_MAX];
    size_t n = jpki_ch_client_data_build(challenge, origin, cd, sizeof cd);
    jpki_ch_signed_t out;
    char *s = NULL;

    if (!n) {
        *rc = JCH_E_BAD_REQUEST;
        return NULL;
    }
    *rc = jpki_ch_card_sign(srv_->card, origin, (unsigned char *)cd, n, &out);
    if (*rc != JCH_OK)
        return NULL;
    char *cdb = jpki_ch_b64((unsigned char *)cd, n, 1);
    char *sig = jpki_ch_b64(out.sig, out.sig_len, 0);
    char *crt = jpki_ch_b64(out.cert, out.cert_len, 0);
    json_t *j = (cdb && sig && crt) ? json_pack("{s:s,s:s,s:s}", "client_data", cdb, "signature",
                                                sig, "certificate", crt)
                                    : NULL;
    s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!s)
        *rc = JCH_E_CARD_ERROR;
    json_decref(j);
    free(cdb);
    free(sig);
    free(crt);
    free(out.cert);
    return s;
}

static enum MHD_Result do_sign(struct MHD_Connection *c, req_t *q, const char *origin,
                               const char *url)
{
    char challenge[JCH_CHALLENGE_MAX + 1];
    jpki_ch_code_t rc;
    struct timespec t0, t1;
    char *s;

    if (q->too_big)
        return fail(c, JCH_E_REQUEST_TOO_LARGE, origin, "POST", url);
    if (!jpki_ch_content_type_json(hdr(c, MHD_HTTP_HEADER_CONTENT_TYPE)) ||
        (rc = jpki_ch_body_parse(q->body, q->len, challenge)) != JCH_OK)
        return fail(c, JCH_E_BAD_REQUEST, origin, "POST", url);
    if (pthread_mutex_trylock(&sign_mu))
        return fail(c, JCH_E_BUSY, origin, "POST", url);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    s = sign_json(origin, challenge, &rc);
    pthread_mutex_unlock(&sign_mu);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!s)
        return fail(c, rc, origin, "POST", url);
    enum MHD_Result ret = respond(c, 200, s, origin, 0);
    free(s);
    jpki_ch_log("POST /sign origin=%s -> 200 signed in %ld ms", origin,
                (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    return ret;
}

/* Host, Origin, path and method, before any body is read. */
static int precheck(struct MHD_Connection *c, const char *url, const char *method,
                    enum MHD_Result *ret)
{
    const char *origin = hdr(c, "Origin");
    const char *cl = hdr(c, MHD_HTTP_HEADER_CONTENT_LENGTH);

    /* DNS rebinding: a page on another name resolving to 127.0.0.1 */
    if (!jpki_ch_host_ok(hdr(c, MHD_HTTP_HEADER_HOST), srv_->port))
        return *ret = fail(c, JCH_E_HOST_REFUSED, NULL, method, url), 1;
    if (!origin_allowed(origin))
        return *ret = fail(c, JCH_E_ORIGIN_REFUSED, NULL, method, url), 1;
    if (strcmp(url, "/sign"))
        return *ret = fail(c, JCH_E_NOT_FOUND, origin, method, url), 1;
    if (!strcmp(method, "OPTIONS")) {
        const char *pna = hdr(c, "Access-Control-Request-Private-Network");
        *ret = respond(c, 204, NULL, origin, pna && !strcasecmp(pna, "true") ? 2 : 1);
        jpki_ch_log("OPTIONS /sign origin=%s -> 204 preflight", origin);
        return 1;
    }
    if (strcmp(method, "POST"))
        return *ret = fail(c, JCH_E_METHOD_NOT_ALLOWED, origin, method, url), 1;
    if (cl && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > JCH_MAX_BODY))
        return *ret = fail(c, JCH_E_REQUEST_TOO_LARGE, origin, method, url), 1;
    return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **state)
{
    req_t *q = *state;
    enum MHD_Result ret;
    (void)cls, (void)version;

    if (!q) {
        if (precheck(c, url, method, &ret))
            return ret;
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
        *state = q;
        return MHD_YES;
    }
    if (*data_size) { /* more body */
        if (q->len + *data_size > JCH_MAX_BODY)
            q->too_big = 1;
        else {
            memcpy(q->body + q->len, data, *data_size);
            q->len += *data_size;
        }
        *data_size = 0;
        return MHD_YES;
    }
    return do_sign(c, q, hdr(c, "Origin"), url);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    free(*state);
    *state = NULL;
}

unsigned jpki_ch_http_start(jpki_ch_server_t *srv, const char **err)
{
    struct sockaddr_in sa = {0};
    const union MHD_DaemonInfo *info;

    srv_ = srv;
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)srv->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never the network */
    daemon_ = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_NOTIFY_COMPLETED, completed,
        NULL, MHD_OPTION_END);
    if (!daemon_)
        return *err = "cannot listen on 127.0.0.1 (port in use?)", 0;
    info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : 0;
    if (!srv->port)
        return *err = "cannot find the bound port", 0;
    return srv->port;
}

void jpki_ch_http_stop(void)
{
    if (daemon_)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
