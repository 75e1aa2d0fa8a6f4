/*
 * Accounts: certificate serial -> account (socache, then SQL through
 * mod_dbd), renewal (successor serial) resolution, registration sessions,
 * the signing-certificate registration step, the internal account
 * endpoint and the Require jpki-account / jpki-age-over providers.
 * Owned by jpki_account.c, jpki_register.c, jpki_authz.c (issue: accounts).
 */
#ifndef JPKI_ACCOUNT_H
#define JPKI_ACCOUNT_H

#include "steps/status/jpki_status.h"

/* Stable error codes (docs/errors.md) */
#define JPKI_E_NO_ACCOUNT          "no_account"
#define JPKI_E_LINK_PENDING        "link_pending"
#define JPKI_E_ACCOUNT_UNAVAILABLE "account_unavailable"
#define JPKI_E_ACCOUNT_REMOVED     "account_removed"
#define JPKI_E_AGE_UNKNOWN         "age_unknown"
#define JPKI_E_AGE_UNDER           "age_under"
#define JPKI_E_SIGN_PROOF_MISSING  "sign_proof_missing"
#define JPKI_E_PERSON_MISMATCH     "person_mismatch"
#define JPKI_E_PERSON_UNVERIFIED   "person_unverified"
/* the jpki-account endpoint (docs/accounts.md) */
#define JPKI_E_ACCOUNT_API_UNAUTHENTICATED "account_api_unauthenticated"
#define JPKI_E_ACCOUNT_API_UNCONFIGURED    "account_api_unconfigured"
#define JPKI_E_ACCOUNT_LINK_CONFLICT       "account_link_conflict"

/* Statements, in the order of jpki_account_sql_names[] (JPKIAccountSQL). */
typedef enum {
    JPKI_SQL_LOOKUP = 0,   /* serial -> account */
    JPKI_SQL_BY_USER,      /* platform user id -> account */
    JPKI_SQL_LATEST,       /* account -> its most recent auth serial */
    JPKI_SQL_LINK,         /* insert a serial row */
    JPKI_SQL_SEEN,         /* last_seen of a serial */
    JPKI_SQL_CREATE,       /* insert an account */
    JPKI_SQL_BIRTH_DATE,   /* account -> birth date */
    JPKI_SQL_SET_BIRTH,    /* update birth date (and PF user id) of an account */
    JPKI_SQL_SERIALS,      /* account -> every linked serial */
    JPKI_SQL_RELINK,       /* move a serial to another account */
    JPKI_SQL_UNLINK_ALL,   /* delete every serial row of an account */
    JPKI_SQL_REMOVE,       /* delete an account */
    JPKI_SQL_MAX
} jpki_sql_e;

typedef enum {
    JPKI_ACCOUNT_STORE_UNSET = -1,
    JPKI_ACCOUNT_STORE_NONE = 0, /* the serial is the account (development) */
    JPKI_ACCOUNT_STORE_DBD = 1
} jpki_account_store_e;

typedef enum {
    JPKI_UNKNOWN_UNSET = -1,
    JPKI_UNKNOWN_DENY = 0,
    JPKI_UNKNOWN_REGISTER = 1
} jpki_unknown_e;

typedef struct jpki_account_srv_t {
    jpki_account_store_e store;
    jpki_unknown_e unknown;
    int cache_ttl;        /* seconds; JPKI_UNSET = default */
    int match_user;       /* JPKIRegistrationMatchUser */
    const char *sql[JPKI_SQL_MAX]; /* NULL = the default statement */
    const char *api_token_file;    /* JPKIAccountAPIToken; NULL = unset */
    const char *api_token;         /* its content, read by check_config */
} jpki_account_srv_t;

typedef enum {
    JPKI_REG_UNSET = -1,
    JPKI_REG_OFF = 0,
    JPKI_REG_ON = 1,      /* accepts registration sessions */
    JPKI_REG_SIGNING = 2  /* ... and requires a signing-certificate proof */
} jpki_registration_e;

typedef struct jpki_account_dir_t {
    jpki_registration_e registration;
} jpki_account_dir_t;

#define JPKI_DEFAULT_ACCOUNT_CACHE_TTL 3600

/* Request headers that carry the signing-certificate proof (JPKIRegistration
 * Signing); removed from the request once read. */
#define JPKI_SIGN_HDR_CHALLENGE   "X-JPKISign-Challenge"
#define JPKI_SIGN_HDR_CERTIFICATE "X-JPKISign-Certificate"
#define JPKI_SIGN_HDR_SIGNATURE   "X-JPKISign-Signature"

/* Config (jpki_account.c); called once each from jpki_config.c. */
jpki_account_srv_t *jpki_account_srv_create(apr_pool_t *p);
jpki_account_srv_t *jpki_account_srv_merge(apr_pool_t *p, const jpki_account_srv_t *base,
                                           const jpki_account_srv_t *add);
jpki_account_dir_t *jpki_account_dir_create(apr_pool_t *p);
jpki_account_dir_t *jpki_account_dir_merge(apr_pool_t *p, const jpki_account_dir_t *base,
                                           const jpki_account_dir_t *add);
int jpki_account_config_check(apr_pool_t *pconf, server_rec *s);
const char *jpki_account_set_store(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_account_set_unknown(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_account_set_cache_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_account_set_sql(cmd_parms *cmd, void *dc, const char *name, const char *sql);
const char *jpki_account_set_match_user(cmd_parms *cmd, void *dc, int flag);
const char *jpki_account_set_registration(cmd_parms *cmd, void *dc, const char *arg);
/* jpki_account_api.c: the jpki-account endpoint's caller authentication */
const char *jpki_account_api_set_token(cmd_parms *cmd, void *dc, const char *arg);
int jpki_account_api_check_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* 1 when the caller proved the token; else 0 with the error response sent
 * and *rc what the handler returns. */
int jpki_account_api_authenticate(request_rec *r, int *rc);

#define JPKI_ACCOUNT_CMDS                                                                      \
    AP_INIT_TAKE1("JPKIAccountStore", jpki_account_set_store, NULL, RSRC_CONF,                 \
                  "Where accounts live: none (the serial is the account) or dbd (mod_dbd)"),   \
    AP_INIT_TAKE1("JPKIUnknownCertificate", jpki_account_set_unknown, NULL, RSRC_CONF,         \
                  "A valid certificate without an account: deny or register"),                \
    AP_INIT_TAKE1("JPKIAccountCacheTTL", jpki_account_set_cache_ttl, NULL, RSRC_CONF,          \
                  "Seconds a serial -> account mapping stays in JPKICache (default 3600)"),   \
    AP_INIT_TAKE2("JPKIAccountSQL", jpki_account_set_sql, NULL, RSRC_CONF,                     \
                  "Replace one of the account statements: name \"SQL with %s parameters\""), \
    AP_INIT_FLAG("JPKIRegistrationMatchUser", jpki_account_set_match_user, NULL, RSRC_CONF,    \
                 "Registration: the signing and user-authentication certificates must have "  \
                 "the same platform user id (default On)"),                                   \
    AP_INIT_TAKE1("JPKIRegistration", jpki_account_set_registration, NULL,                     \
                  OR_AUTHCFG | ACCESS_CONF,                                                    \
                  "Off, On (accept registration sessions) or Signing (and require a "         \
                  "signing-certificate proof on the request)"),                           \
    AP_INIT_TAKE1("JPKIAccountAPIToken", jpki_account_api_set_token, NULL, RSRC_CONF,          \
                  "File holding the bearer token every caller of SetHandler jpki-account "    \
                  "must send (required where the endpoint is mounted)")

/* Hooks: authz providers, the jpki-account handler, fixups, the mod_dbd
 * statement preparation. Called from mod_jpki.c's register_hooks. */
void jpki_account_register_hooks(apr_pool_t *p);

/* Login step after the status check: set id->account (or make it a
 * registration session). Returns 1 to continue; 0 with err filled. */
int jpki_account_login(request_rec *r, const jpki_cert_t *c, const jpki_status_result_t *st,
                       jpki_identity_t *id, jpki_flow_err_t *err);

/* Session step: the account still exists (a removed account ends the
 * session). A registration session whose serial has meanwhile been linked
 * is upgraded to an account session here. Returns OK, or an HTTP status
 * with *code set. */
int jpki_account_session(request_rec *r, jpki_session_t *sess, const char **code);

/* AuthType JPKI accepted an identity that is a registration session (no
 * account). Returns OK when this location accepts it (JPKIRegistration On
 * or Signing: the signing proof is verified here), else an HTTP status with
 * *code set. Sets r->user to "" for the authorization phase; the fixups
 * hook removes it again so that no REMOTE_USER reaches the backend. */
int jpki_account_registration(request_rec *r, jpki_session_t *sess, const char **code);

/* Per-location: does JPKIRegistration Signing apply (then the proof is
 * required even in an account session)? */
int jpki_account_wants_signing(request_rec *r);

/* jpki_register.c: verify the signing-certificate proof of this request and
 * export the 4 facts (this request only). OK or an HTTP status + *code. */
int jpki_register_signing(request_rec *r, jpki_session_t *sess, const char **code);
/* jpki_register.c: SetHandler jpki-account (internal endpoint). */
int jpki_register_handler(request_rec *r);
/* jpki_authz.c */
void jpki_authz_register(apr_pool_t *p);

/* Store primitives shared by jpki_account.c, jpki_register.c, jpki_authz.c. */
jpki_account_srv_t *jpki_account_cfg(server_rec *s);
/* Run a prepared statement. select: 1 = query rows into *rows (array of
 * const char ** rows with ncols columns each), 0 = a write (nrows set).
 * Returns APR_SUCCESS, or an error (logged) for "the store failed". */
typedef struct jpki_sql_t jpki_sql_t;
jpki_sql_t *jpki_sql_open(request_rec *r);
apr_status_t jpki_sql_select(request_rec *r, jpki_sql_t *db, jpki_sql_e q, int nargs,
                             const char **args, apr_array_header_t **rows, int *ncols);
/* A write; *nrows rows changed. *constraint = 1 when it failed because of a
 * unique/primary key (a race lost), not because the store is down. */
apr_status_t jpki_sql_write(request_rec *r, jpki_sql_t *db, jpki_sql_e q, int nargs,
                            const char **args, int *nrows, int *constraint);
apr_status_t jpki_sql_begin(request_rec *r, jpki_sql_t *db);
apr_status_t jpki_sql_end(request_rec *r, jpki_sql_t *db, int commit);
/* Cache key of kind ("s" serial, "age") for id, scoped to the vhost. */
const char *jpki_account_cache_key(request_rec *r, const char *kind, const char *id);
/* Drop the serial -> account cache entry (relink, removal). */
void jpki_account_cache_forget(request_rec *r, const char *serial);
/* Account of a serial from the cache, else SQL (filling the cache). *account
 * NULL when unknown. APR_SUCCESS or a store failure. */
apr_status_t jpki_account_resolve(request_rec *r, jpki_sql_t **db, const char *serial,
                                  const char **account);

#endif
