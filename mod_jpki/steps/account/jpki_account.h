/*
 * Accounts: certificate serial -> account (socache, then SQL through
 * mod_dbd), renewal (successor serial) resolution, registration sessions,
 * the signing-certificate registration step, the internal account
 * endpoint and the Require jpki-account / jpki-age-over providers.
 * Owned by jpki_account.c, jpki_register.c, jpki_authz.c (issue: accounts).
 */
#ifndef JPKI_ACCOUNT_H
#define JPKI_ACCOUNT_H

#include "steps/jpki_step.h"
#include "steps/jpki_identity.h"

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

/* Request headers that carry the signing-certificate proof (JPKIRegistration
 * Signing); removed from the request once read. */
#define JPKI_SIGN_HDR_CHALLENGE   "X-JPKISign-Challenge"
#define JPKI_SIGN_HDR_CERTIFICATE "X-JPKISign-Certificate"
#define JPKI_SIGN_HDR_SIGNATURE   "X-JPKISign-Signature"

/* Login step after the status check: set id->account (or make it a
 * registration session). Returns 1 to continue; 0 with err filled. */
int jpki_account_login(request_rec *r, const jpki_cert_t *c, const jpki_renewal_t *st,
                       jpki_identity_t *id, jpki_step_err_t *err);

/* Session step: the account still exists (a removed account ends the
 * session). A registration session whose serial has meanwhile been linked
 * is upgraded to an account session here. Returns OK, or an HTTP status
 * with *code set. */
int jpki_account_session(request_rec *r, jpki_identity_t *id, int *changed, const char **code);

/* Store primitives shared by jpki_account.c, jpki_register.c, jpki_authz.c. */
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
/* post_config hook, before mod_dbd's: prepares the statements
 * (jpki_account_store.c). */
int jpki_account_store_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                   server_rec *s);

#endif
