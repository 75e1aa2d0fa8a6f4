/*
 * Login challenges: single-use nonces in the socache, bound to a
 * pre-login cookie so a challenge issued to one browser is useless in
 * another.
 */
#ifndef JPKI_CHALLENGE_H
#define JPKI_CHALLENGE_H

#include "cfg/jpki_cfg.h"

#define JPKI_CHALLENGE_BYTES 32

/* Stable error codes */
#define JPKI_E_CHALLENGE_UNKNOWN  "challenge_unknown"
#define JPKI_E_CHALLENGE_REPLAYED "challenge_replayed"
#define JPKI_E_CHALLENGE_EXPIRED  "challenge_expired"
#define JPKI_E_CHALLENGE_BROWSER  "challenge_wrong_browser"
#define JPKI_E_CHALLENGE_SCOPE    "challenge_scope" /* issued by another host or policy */

/* Issue a challenge: sets the pre-login cookie, returns the base64url text. */
const char *jpki_challenge_issue(request_rec *r, apr_status_t *rv);

/* Consume a challenge (single use even when the login then fails).
 * Returns NULL on success with the decoded bytes in *bytes and *len;
 * otherwise a JPKI_E_CHALLENGE_* code, or "cache_unavailable". */
const char *jpki_challenge_consume(request_rec *r, const char *challenge,
                                   const unsigned char **bytes, apr_size_t *len);

#endif
