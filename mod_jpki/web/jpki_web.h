/*
 * Entry points of the web floor that mod_jpki.c registers (the files with
 * their own header declare theirs there).
 */
#ifndef JPKI_WEB_H
#define JPKI_WEB_H

#include "cfg/jpki_cfg.h"

/* jpki_tls.c, jpki_tls_conf.c */
void jpki_tls_register_hooks(apr_pool_t *p);
void jpki_tls_conf_register_hooks(apr_pool_t *p); /* jpki_tls_conf.c */
/* jpki_status_page.c: SetHandler jpki-status */
int jpki_status_page_handle(request_rec *r);
/* jpki_account_api.c: SetHandler jpki-account (bearer token first) */
int jpki_account_api_handle(request_rec *r);
int jpki_account_api_authenticate(request_rec *r, int *rc);
/* jpki_authz.c: Require jpki-account / jpki-age-over, and the fixup that
 * takes the placeholder user of a registration session away again */
void jpki_authz_register(apr_pool_t *p);
int jpki_authz_fixups(request_rec *r);
/* jpki_identity_headers.c: the scrub and header-export hooks */
void jpki_identity_register_hooks(apr_pool_t *p);

/* jpki_identity_trailers.c: identity-like trailers of a chunked body are
 * removed when the body is read (before MergeTrailers shows them) */
void jpki_identity_trailers_insert(request_rec *r);
void jpki_identity_trailers_register(apr_pool_t *p);

#endif
