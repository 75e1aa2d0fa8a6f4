/*
 * The identity a login establishes, carried by the session and handed to
 * backends as REMOTE_USER and JPKI_* variables (docs/variables.md): as
 * environment variables and, by JPKIPassIdentityAs, as request headers for
 * reverse-proxied backends. Inbound headers that could be mistaken for
 * ours are removed on every request path (docs/security.md).
 */
#ifndef JPKI_IDENTITY_H
#define JPKI_IDENTITY_H

#include "jpki.h"

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
    const char *pf_cert_id;        /* PF certificate id for liveness checks (never the certificate) */
    const char *previous_serial;   /* set when this login linked a renewed certificate */
    int registration;              /* 1: registration session, no REMOTE_USER */
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

/* --- configuration (directives: JPKI_IDENTITY_CMDS) ----------------------- */

#define JPKI_PASS_ENV     1
#define JPKI_PASS_HEADERS 2

#define JPKI_DEFAULT_HEADER_PREFIX      "X-JPKI-"
#define JPKI_DEFAULT_REMOTE_USER_HEADER "X-Remote-User"

typedef struct jpki_identity_dir_t {
    int pass_as;                    /* JPKI_PASS_* bits; 0 = unset (env) */
    const char *header_prefix;      /* NULL = unset */
    const char *remote_user_header; /* NULL = unset */
} jpki_identity_dir_t;

typedef struct jpki_identity_srv_t {
    /* normalised prefixes / header names configured in this server's sections */
    apr_array_header_t *prefixes_seen;
    apr_array_header_t *names_seen;
    /* what is scrubbed: the union over every server (set in check_config) */
    apr_array_header_t *scrub_prefixes;
    apr_array_header_t *scrub_names;
    int scrub; /* JPKIScrubIdentityHeaders; JPKI_UNSET = On */
} jpki_identity_srv_t;

jpki_identity_dir_t *jpki_identity_dir_create(apr_pool_t *p);
jpki_identity_dir_t *jpki_identity_dir_merge(apr_pool_t *p, const jpki_identity_dir_t *base,
                                             const jpki_identity_dir_t *add);
jpki_identity_srv_t *jpki_identity_srv_create(apr_pool_t *p);
jpki_identity_srv_t *jpki_identity_srv_merge(apr_pool_t *p, const jpki_identity_srv_t *base,
                                             const jpki_identity_srv_t *add);

const char *jpki_identity_set_pass_as(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_identity_set_prefix(cmd_parms *cmd, void *dc, int argc, char *const argv[]);
const char *jpki_identity_set_user_header(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_identity_set_scrub(cmd_parms *cmd, void *dc, int flag);

/* Per directory, but not in .htaccess: the spoofing protection must know
 * every prefix at startup. */
#define JPKI_IDENTITY_CMDS                                                                         \
    AP_INIT_TAKE1("JPKIPassIdentityAs", jpki_identity_set_pass_as, NULL, RSRC_CONF | ACCESS_CONF,  \
                  "How backends receive the identity: env (default), headers or both"),            \
        AP_INIT_TAKE_ARGV("JPKIHeaderPrefix", jpki_identity_set_prefix, NULL,                      \
                          RSRC_CONF | ACCESS_CONF,                                                 \
                          "Prefix of the identity request headers (default X-JPKI-)"),             \
        AP_INIT_TAKE1("JPKIRemoteUserHeader", jpki_identity_set_user_header, NULL,                 \
                      RSRC_CONF | ACCESS_CONF,                                                     \
                      "Request header that carries REMOTE_USER (default X-Remote-User)"),          \
        AP_INIT_FLAG("JPKIScrubIdentityHeaders", jpki_identity_set_scrub, NULL, RSRC_CONF,         \
                     "Off only on a backend virtual host that receives the identity headers "      \
                     "from a trusted front end (default On)")

/* Hooks: scrubbing (post_read_request, post_perdir_config), header export
 * (fixups) and the startup computation of what to scrub (check_config). */
void jpki_identity_register_hooks(apr_pool_t *p);

/* jpki_identity_trailers.c: identity-like trailers of a chunked body are
 * removed when the body is read (before MergeTrailers shows them) */
void jpki_identity_trailers_insert(request_rec *r);
void jpki_identity_trailers_register(apr_pool_t *p);

#endif
