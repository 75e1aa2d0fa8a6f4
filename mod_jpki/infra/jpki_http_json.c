#include "infra/jpki_http_json.h"
#include "core/jpki_login_core.h"

int jpki_json_read_body(request_rec *r, apr_size_t max, char **body, apr_size_t *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_size_t got = 0;
    char *buf;
    int rc;

    if (cl != NULL) {
        char *end;
        apr_off_t n;
        if (apr_strtoff(&n, cl, &end, 10) != APR_SUCCESS || *end || n < 0) {
            return HTTP_BAD_REQUEST;
        }
        if ((apr_size_t)n > max) {
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    }
    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return HTTP_BAD_REQUEST;
    }
    buf = apr_palloc(r->pool, max + 1);
    if (ap_should_client_block(r)) {
        long n;
        while ((n = ap_get_client_block(r, buf + got, max + 1 - got)) > 0) {
            got += (apr_size_t)n;
            if (got > max) {
                /* chunked bodies have no Content-Length: stop at the bound */
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
        }
        if (n < 0) {
            return HTTP_BAD_REQUEST;
        }
    }
    buf[got] = '\0';
    *body = buf;
    *len = got;
    return OK;
}

json_t *jpki_json_parse_object(const char *body, apr_size_t len, const char **why)
{
    return jpki_json_object_parse(body, len, JPKI_MAX_JSON_DEPTH, why);
}

int jpki_json_send(request_rec *r, int status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    r->status = status;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (s != NULL) {
        ap_rputs(s, r);
        ap_rputs("\n", r);
        free(s);
    }
    return OK;
}

static json_t *error_object(const char *code, const char *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(code));
    json_object_set_new(o, "message", json_string(msg));
    return o;
}

int jpki_json_error(request_rec *r, int status, const char *code, const char *msg)
{
    apr_table_setn(r->err_headers_out, "X-JPKI-Error", code);
    return jpki_json_send(r, status, error_object(code, msg));
}

const char *jpki_json_error_body(apr_pool_t *p, const char *code, const char *msg)
{
    json_t *o = error_object(code, msg);
    char *s = json_dumps(o, JSON_COMPACT);
    const char *body = s ? apr_pstrcat(p, s, "\n", NULL) : "{}\n";
    json_decref(o);
    free(s);
    return body;
}

int jpki_json_wanted(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    const char *xrw = apr_table_get(r->headers_in, "X-Requested-With");
    if (xrw != NULL) {
        return 1;
    }
    if (accept == NULL) {
        return 0;
    }
    return ap_strstr_c(accept, "application/json") != NULL &&
           ap_strstr_c(accept, "text/html") == NULL;
}

int jpki_json_post_check(request_rec *r)
{
    const char *ctype = apr_table_get(r->headers_in, "Content-Type");
    if (r->method_number != M_POST) {
        apr_table_setn(r->err_headers_out, "Allow", "POST");
        return jpki_json_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                               "Use POST with a JSON body.");
    }
    if (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0 ||
        (ctype[16] != '\0' && ctype[16] != ';' && ctype[16] != ' ')) {
        return jpki_json_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                               "Content-Type must be application/json.");
    }
    return DECLINED;
}
