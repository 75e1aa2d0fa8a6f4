/*
 * Accounts: certificate serial -> account (socache, then SQL through
 * mod_dbd), renewal (successor serial) resolution, registration sessions.
 * Owned by jpki_account.c (issue: accounts).
 */
#ifndef JPKI_ACCOUNT_H
#define JPKI_ACCOUNT_H

#include "jpki_status.h"

/* Login step after the status check: set id->account (or make it a
 * registration session). Returns 1 to continue; 0 with err filled. */
int jpki_account_login(request_rec *r, const jpki_cert_t *c, const jpki_status_result_t *st,
                       jpki_identity_t *id, jpki_flow_err_t *err);

/* Session step: the account still exists (a removed account ends the
 * session). Returns OK, or an HTTP status with *code set. */
int jpki_account_session(request_rec *r, jpki_session_t *sess, const char **code);

#endif
