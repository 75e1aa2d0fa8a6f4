#ifndef JPKI_AUTHN_H
#define JPKI_AUTHN_H
#include "cfg/jpki_cfg.h"
/* check_authn hook for AuthType JPKI */
int jpki_authn_check(request_rec *r);
/* fixups (after every other one): the user is the one mod_jpki authenticated */
int jpki_authn_fixups(request_rec *r);
#endif
