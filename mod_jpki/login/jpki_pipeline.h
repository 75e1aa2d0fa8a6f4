/*
 * The login pipeline (design §1): the one place that orders the steps.
 * Local checks first (free), then the paid status check, then the account.
 */
#ifndef JPKI_FLOW_H
#define JPKI_FLOW_H

#include "steps/jpki_identity.h"

typedef enum {
    JPKI_FLOW_OK = 0,
    JPKI_FLOW_PROOF,       /* certificate or signature refused: 401 (challenge) / 403 (tls) */
    JPKI_FLOW_MALFORMED,   /* the request itself is bad: 400 */
    JPKI_FLOW_REFUSED,     /* valid proof, but refused (revoked, no account): 403 */
    JPKI_FLOW_UNAVAILABLE  /* a dependency is down: 503 */
} jpki_flow_kind_e;

typedef struct jpki_flow_err_t {
    jpki_flow_kind_e kind;
    const char *code;   /* stable error code */
    const char *detail; /* one log line; no personal data */
} jpki_flow_err_t;

typedef struct jpki_flow_in_t {
    const char *method;          /* "challenge" | "tls" */
    jpki_cert_type_e expected;   /* AUTH for login */
    const char *cert;            /* PEM, DER or base64 DER */
    apr_size_t cert_len;
    const unsigned char *signed_data; /* client data, or the bare challenge bytes */
    apr_size_t signed_len;
    const char *origin; /* client data's origin, checked after the signature; NULL = none */
    const unsigned char *sig;
    apr_size_t sig_len;
} jpki_flow_in_t;

/* Runs the pipeline; on success fills id and returns 1. On failure fills
 * err, writes the refusal log line, and returns 0. */
int jpki_flow_login(request_rec *r, const jpki_flow_in_t *in, jpki_identity_t *id,
                    jpki_flow_err_t *err);

/* A challenge login: consume the challenge (single use, whatever follows),
 * then check the client data (base64url text; NULL = legacy form, refused
 * with client_data_missing unless JPKIBareChallenge On) and run
 * jpki_flow_login with the client-data bytes as the signed data and its
 * origin to check after the signature. */
int jpki_flow_challenge(request_rec *r, jpki_cert_type_e expected, const char *challenge,
                        const char *client_data, const char *cert, const unsigned char *sig,
                        apr_size_t sig_len, jpki_identity_t *id, jpki_flow_err_t *err);

/* The one refusal log line (JPKI0201), audit record and counter. */
void jpki_flow_refused(request_rec *r, const char *method, const char *code, const char *serial,
                       const char *detail);

/* English text for a stable code (the login page has its own JA/EN text). */
const char *jpki_flow_message(const char *code);

/* HTTP status for an error kind on a given method. */
int jpki_flow_http_status(const jpki_flow_err_t *err, const char *method);

#endif
