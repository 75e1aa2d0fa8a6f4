/*
 * Accounts. No account store yet: the normalised serial is the account
 * (docs/variables.md says so).
 */
#include "jpki_account.h"

int jpki_account_login(request_rec *r, const jpki_cert_t *c, const jpki_status_result_t *st,
                       jpki_identity_t *id, jpki_flow_err_t *err)
{
    (void)r;
    (void)c;
    (void)st;
    (void)err;
    id->account = id->serial;
    return 1;
}

int jpki_account_session(request_rec *r, jpki_session_t *sess, const char **code)
{
    (void)r;
    (void)sess;
    (void)code;
    return OK;
}
