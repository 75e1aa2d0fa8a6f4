/*
 * The identity a login establishes, carried by the session and handed to
 * backends as REMOTE_USER and JPKI_* variables (docs/variables.md): as
 * environment variables and, by JPKIPassIdentityAs, as request headers for
 * reverse-proxied backends. Inbound headers that could be mistaken for
 * ours are removed on every request path (docs/security.md).
 */
#ifndef JPKI_IDENTITY_H
#define JPKI_IDENTITY_H

#include "cfg/jpki_cfg.h"

typedef struct jpki_identity_t {
    const char *account;   /* REMOTE_USER; NULL in a registration session */
    const char *serial;    /* normalised "<issuer key id>:<serial hex>" */
    const char *issuer;    /* issuer DN, RFC 2253 */
    const char *cert_type; /* "auth" | "sign" */
    apr_time_t not_after;
    const char *method; /* "challenge" | "tls" */
    apr_time_t auth_time;
    const char *status;            /* "good" | "revoked" | "unknown" | "unchecked" */
    apr_time_t status_checked_at;  /* 0 = never */
    const char *revocation_reason; /* RFC 5280 name, or NULL */
    const char *platform_user_id;  /* PF stable user id, or NULL */
    const char *pf_cert_id;      /* PF certificate id for liveness checks (never the certificate) */
    const char *previous_serial; /* set when this login linked a renewed certificate */
    const char *recheck_category; /* the account's last jpki-recheck category, or NULL */
    const char *recheck_at;       /* ... and when it was checked (ISO 8601), or NULL */
    int registration;             /* 1: registration session, no REMOTE_USER */
} jpki_identity_t;

/* Fill the certificate-derived fields. */
void jpki_identity_from_cert(jpki_identity_t *id, const jpki_cert_t *c, const char *method,
                             apr_time_t now);

/* JSON (de)serialisation for the session record; NULL/0 on a bad record. */
char *jpki_identity_to_json(apr_pool_t *p, const jpki_identity_t *id, apr_time_t created,
                            apr_time_t last_seen);
int jpki_identity_from_json(apr_pool_t *p, const char *json, jpki_identity_t *id,
                            apr_time_t *created, apr_time_t *last_seen);

/* Export to the request: r->user and subprocess_env now; request headers
 * (JPKIPassIdentityAs headers|both) in the fixups phase, from every JPKI_*
 * variable present then, so variables other steps add (JPKI_NAME,
 * JPKI_AGE_OVER_N...) travel the same way. */
void jpki_identity_export(request_rec *r, const jpki_identity_t *id);
/* Only the JPKI_* variables (an inherited identity on a subrequest). */
void jpki_identity_export_env(request_rec *r, const jpki_identity_t *id);

/* The pool-userdata key under which r's exported identity is kept. */
const char *jpki_identity_key(apr_pool_t *p, const request_rec *r);

/* --- configuration (directives: JPKI_IDENTITY_CMDS) ----------------------- */

/* Hooks: scrubbing (post_read_request, post_perdir_config), header export
 * (fixups) and the startup computation of what to scrub (check_config). */

#endif
