/*
 * This host's origins for the origin-bound challenge login (protocol v2,
 * docs/http-contract.md): JPKIOrigin, or derived from the virtual host's
 * ServerName / ServerAlias and port; never from the request's Host header.
 * JPKIBareChallenge: the legacy form without client data (default Off).
 */
#ifndef JPKI_ORIGIN_H
#define JPKI_ORIGIN_H

#include "cfg/jpki_cfg.h"

const char *jpki_origin_set_origins(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_origin_set_bare(cmd_parms *cmd, void *dc, int flag);

#define JPKI_ORIGIN_CMDS                                                                           \
    AP_INIT_ITERATE("JPKIOrigin", jpki_origin_set_origins, NULL, RSRC_CONF,                        \
                    "Origin(s) of this host's login page, e.g. https://bank.example "              \
                    "(default: https://ServerName and each ServerAlias, with the port)"),          \
        AP_INIT_FLAG("JPKIBareChallenge", jpki_origin_set_bare, NULL, RSRC_CONF,                   \
                     "Also accept the legacy login whose signature covers only the "               \
                     "challenge, without client data (default Off)")

/* The origins a login on this virtual host may come from (const char *). */
apr_array_header_t *jpki_origin_list(apr_pool_t *p, server_rec *s);

/* Is origin one of them (exact, case-sensitive: browsers send lowercase)? */
int jpki_origin_allowed(request_rec *r, const char *origin);

/* JPKIBareChallenge On for this host? */
int jpki_origin_bare_allowed(server_rec *s);

#endif
