/*
 * JSON over HTTP for the module's endpoints: bounded body reading, a depth
 * limit before parsing, and the one error shape {"error","message"}.
 */
#ifndef JPKI_HTTP_JSON_H
#define JPKI_HTTP_JSON_H

#include "cfg/jpki_cfg.h"
#include <jansson.h>

#define JPKI_MAX_BODY       65536
#define JPKI_MAX_JSON_DEPTH 8

/* Read at most max bytes of request body. Returns OK with *body and *len or an
 * HTTP status: HTTP_REQUEST_ENTITY_TOO_LARGE, HTTP_BAD_REQUEST. */
int jpki_json_read_body(request_rec *r, apr_size_t max, char **body, apr_size_t *len);

/* Parse a JSON object body: depth-limited, duplicates rejected. NULL if bad. */
json_t *jpki_json_parse_object(const char *body, apr_size_t len, const char **why);

/* Send a JSON document with status; takes ownership of o. Returns OK
 * (for handlers: the response is complete). */
int jpki_json_send(request_rec *r, int status, json_t *o);

/* {"error": code, "message": msg}; also X-JPKI-Error: code. Returns OK. */
int jpki_json_error(request_rec *r, int status, const char *code, const char *msg);

/* Does the client prefer JSON to HTML (Accept / X-Requested-With)? */
int jpki_json_wanted(request_rec *r);

/* The same error object as text, for ap_custom_response (an error
 * document that must stay JSON): the one error body. */
const char *jpki_json_error_body(apr_pool_t *p, const char *code, const char *msg);

/* The one precheck of a JSON POST endpoint: POST (else 405 with Allow) and
 * Content-Type application/json (else 415), answered as JSON errors.
 * DECLINED when the request may go on; otherwise the status to return. */
int jpki_json_post_check(request_rec *r);

#endif
