/*
 * Certificate status. Only JPKIStatusProvider none so far: no revocation
 * checking, reported as "unchecked".
 */
#include "jpki_status.h"

int jpki_status_login(request_rec *r, const jpki_cert_t *c, const jpki_flow_in_t *in,
                      jpki_identity_t *id, jpki_status_result_t *res, jpki_flow_err_t *err)
{
    (void)r;
    (void)c;
    (void)in;
    (void)err;
    memset(res, 0, sizeof(*res));
    res->status = JPKI_STATUS_UNKNOWN;
    id->status = "unchecked";
    return 1;
}

int jpki_status_session(request_rec *r, jpki_session_t *sess, const char **code)
{
    (void)r;
    (void)sess;
    (void)code;
    return OK;
}
