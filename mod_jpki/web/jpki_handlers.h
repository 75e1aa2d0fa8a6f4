#ifndef JPKI_HANDLERS_H
#define JPKI_HANDLERS_H
#include "cfg/jpki_cfg.h"
/* SetHandler jpki-challenge, jpki-login, jpki-logout, jpki-session
 * (dispatched by mod_jpki.c) */
int jpki_handlers_challenge(request_rec *r);
int jpki_handlers_login(request_rec *r);
int jpki_handlers_logout(request_rec *r);
int jpki_handlers_session(request_rec *r);
#endif
