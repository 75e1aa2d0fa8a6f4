/*
 * The login pipeline (login/jpki_pipeline.c): the one place that orders
 * the steps. Local checks first (free), then the paid status check, then
 * the account, the session, the registration gate and the export.
 */
#ifndef JPKI_PIPELINE_H
#define JPKI_PIPELINE_H

#include "steps/jpki_step.h"
#include "steps/jpki_identity.h"
#include "steps/jpki_session.h"

/* Runs the pipeline; on success fills id and returns 1. On failure fills
 * err, writes the refusal log line, and returns 0. */
int jpki_pipeline_login(request_rec *r, const jpki_step_in_t *in, jpki_identity_t *id,
                        jpki_step_err_t *err);

/* A challenge login: consume the challenge (single use, whatever follows),
 * then check the client data (base64url text; NULL = legacy form, refused
 * with client_data_missing unless JPKIBareChallenge On) and run
 * jpki_pipeline_login with the client-data bytes as the signed data and its
 * origin to check after the signature. */
int jpki_pipeline_challenge(request_rec *r, jpki_cert_type_e expected, const char *challenge,
                            const char *client_data, const char *cert, const unsigned char *sig,
                            apr_size_t sig_len, jpki_identity_t *id, jpki_step_err_t *err);

/* The one refusal log line (JPKI0201), audit record and counter. */
void jpki_pipeline_refused(request_rec *r, const char *method, const char *code, const char *serial,
                           const char *detail);

/* English text for a stable code (the login page has its own JA/EN text). */
const char *jpki_pipeline_message(const char *code);

/* HTTP status for an error kind on a given method. */
int jpki_pipeline_http_status(const jpki_step_err_t *err, const char *method);

/* AuthType JPKI with a client certificate (mod_ssl let it through as
 * GENEROUS, web/jpki_tls.c): the login, a session, the registration gate,
 * the export. OK, or an HTTP status with the stable code and its message. */
int jpki_pipeline_tls(request_rec *r, const char *pem, const char **code, const char **msg);

/* AuthType JPKI with a session: status and account re-checks (a revoked
 * card or a removed account ends it), the registration gate, the export. */
int jpki_pipeline_session(request_rec *r, jpki_session_t *sess, const char **code,
                          const char **msg);

#endif
