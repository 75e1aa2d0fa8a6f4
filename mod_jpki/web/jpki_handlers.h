#ifndef JPKI_HANDLERS_H
#define JPKI_HANDLERS_H
#include "cfg/jpki_cfg.h"
/* SetHandler jpki-challenge | jpki-login | jpki-logout */
int jpki_handlers_handle(request_rec *r);
#endif
