/*
 * What the steps share (docs/design.md "Floors"): the proof that comes in,
 * the refusal that goes out, and the renewal facts the status step learns
 * for the account step. Types only; login/jpki_pipeline.c moves them from
 * one step to the next.
 */
#ifndef JPKI_STEP_H
#define JPKI_STEP_H

#include "cfg/jpki_cfg.h"

typedef enum {
    JPKI_STEP_OK = 0,
    JPKI_STEP_PROOF,      /* certificate or signature refused: 401 (challenge) / 403 (tls) */
    JPKI_STEP_MALFORMED,  /* the request itself is bad: 400 */
    JPKI_STEP_REFUSED,    /* valid proof, but refused (revoked, no account): 403 */
    JPKI_STEP_UNAVAILABLE /* a dependency is down: 503 */
} jpki_step_kind_e;

typedef struct jpki_step_err_t {
    jpki_step_kind_e kind;
    const char *code;   /* stable error code */
    const char *detail; /* one log line; no personal data */
} jpki_step_err_t;

typedef struct jpki_step_in_t {
    const char *method;        /* "challenge" | "tls" */
    jpki_cert_type_e expected; /* AUTH for login */
    const char *cert;          /* PEM, DER or base64 DER */
    apr_size_t cert_len;
    const unsigned char *signed_data; /* client data, or the bare challenge bytes */
    apr_size_t signed_len;
    const char *origin; /* client data's origin, checked after the signature; NULL = none */
    const unsigned char *sig;
    apr_size_t sig_len;
} jpki_step_in_t;

/* Renewal facts from the status source, for the account step. */
typedef struct jpki_renewal_t {
    const char *platform_user_id;   /* PF stable user id, or NULL */
    const char *predecessor_serial; /* normalised serial this certificate renewed, or NULL */
    int link_pending;               /* PF: renewal link data not available yet */
} jpki_renewal_t;

#endif
