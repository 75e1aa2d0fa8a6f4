/*
 * Certificate status (revocation) — provider interface, result cache,
 * fail modes. Owned by jpki_status*.c (issue: status).
 */
#ifndef JPKI_STATUS_H
#define JPKI_STATUS_H

#include "jpki_flow.h"
#include "jpki_session.h"

typedef enum {
    JPKI_STATUS_GOOD = 0,
    JPKI_STATUS_REVOKED,
    JPKI_STATUS_UNKNOWN
} jpki_status_e;

typedef struct jpki_status_result_t {
    jpki_status_e status;
    const char *reason;             /* RFC 5280 name when REVOKED (superseded, keyCompromise...) */
    const char *error;              /* stable code when UNKNOWN (status_unavailable, link_pending) */
    const char *platform_user_id;   /* PF stable user id, or NULL */
    const char *predecessor_serial; /* normalised serial this certificate renewed, or NULL */
    int link_pending;               /* PF: renewal link data not available yet */
    apr_time_t checked_at;
    int from_cache;
    int grace;                      /* passed by JPKIStatusFailMode grace */
} jpki_status_result_t;

/* Login step: check c (purpose signature_verification). On success fills the
 * status fields of id and *res, returns 1. On refusal fills err (and logs),
 * returns 0. With JPKIStatusProvider none: id->status = "unchecked", 1. */
int jpki_status_login(request_rec *r, const jpki_cert_t *c, const jpki_flow_in_t *in,
                      jpki_identity_t *id, jpki_status_result_t *res, jpki_flow_err_t *err);

/* Session step (purpose liveness_check): re-check when the cached status has
 * expired. Returns OK to continue, or an HTTP status to refuse with (the
 * caller ends the session). May update sess->ident. */
int jpki_status_session(request_rec *r, jpki_session_t *sess, const char **code);

#endif
