/*
 * Sessions: a 256-bit random id in a cookie, the record in the socache
 * (JPKICache), idle and absolute lifetimes, rotation at login. Records are
 * bound to the host's scope and policy (jpki_scope.h); an ended session
 * leaves a tombstone that every writer checks after writing and every load
 * checks, so a concurrent refresh cannot bring it back.
 */
#ifndef JPKI_SESSION_H
#define JPKI_SESSION_H

#include "steps/jpki_identity.h"

typedef enum {
    JPKI_SESSION_NONE = 0, /* no cookie, or no such record */
    JPKI_SESSION_OK,
    JPKI_SESSION_EXPIRED,     /* idle or absolute lifetime over (record removed) */
    JPKI_SESSION_BACKEND_ERR, /* the cache failed: not the same as "no session" */
    JPKI_SESSION_SCOPE        /* issued by another host or under another policy */
} jpki_session_state_e;

/* Stable error codes (docs/errors.md) */
#define JPKI_E_SESSION_SCOPE     "session_scope"
#define JPKI_E_LOGOUT_CROSS_SITE "logout_cross_site"

typedef struct jpki_session_t {
    const char *id; /* cookie value; never logged */
    jpki_identity_t ident;
    apr_time_t created;
    apr_time_t last_seen;
} jpki_session_t;

jpki_session_state_e jpki_session_load(request_rec *r, jpki_session_t **out);
/* Create a new session (rotating away any session the request carried),
 * store it and set the cookie on r->err_headers_out. */
apr_status_t jpki_session_create(request_rec *r, const jpki_identity_t *id, jpki_session_t **out);
/* Save changed identity fields (e.g. a status re-check). APR_NOTFOUND: the
 * session ended meanwhile (logout, revocation): the record was removed
 * again and must not be used further. */
apr_status_t jpki_session_save(request_rec *r, jpki_session_t *sess);
/* End the session (tombstone, then remove the record) and clear the cookie.
 * A session of another scope is left alone. */
void jpki_session_destroy(request_rec *r);
/* Clear the cookie only (a session of another scope: not ours to end). */
void jpki_session_forget(request_rec *r);

/* A short, non-reversible handle for log lines: first 12 hex of SHA-256(id). */
const char *jpki_session_log_id(apr_pool_t *p, const char *id);

#endif
