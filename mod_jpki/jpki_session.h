/*
 * Sessions: a 256-bit random id in a cookie, the record in the socache
 * (JPKICache), idle and absolute lifetimes, rotation at login.
 */
#ifndef JPKI_SESSION_H
#define JPKI_SESSION_H

#include "jpki_identity.h"

typedef enum {
    JPKI_SESSION_NONE = 0,   /* no cookie, or no such record */
    JPKI_SESSION_OK,
    JPKI_SESSION_EXPIRED,    /* idle or absolute lifetime over (record removed) */
    JPKI_SESSION_BACKEND_ERR /* the cache failed: not the same as "no session" */
} jpki_session_state_e;

typedef struct jpki_session_t {
    const char *id; /* cookie value; never logged */
    jpki_identity_t ident;
    apr_time_t created;
    apr_time_t last_seen;
} jpki_session_t;

/* Read a cookie value by name (NULL if absent or malformed). */
const char *jpki_session_cookie_get(request_rec *r, const char *name);

jpki_session_state_e jpki_session_load(request_rec *r, jpki_session_t **out);
/* Create a new session (rotating away any session the request carried),
 * store it and set the cookie on r->err_headers_out. */
apr_status_t jpki_session_create(request_rec *r, const jpki_identity_t *id, jpki_session_t **out);
/* Save changed identity fields (e.g. a status re-check) */
apr_status_t jpki_session_save(request_rec *r, jpki_session_t *sess);
/* Remove the record (if any) and clear the cookie. */
void jpki_session_destroy(request_rec *r);

/* A short, non-reversible handle for log lines: first 12 hex of SHA-256(id). */
const char *jpki_session_log_id(apr_pool_t *p, const char *id);

#endif
