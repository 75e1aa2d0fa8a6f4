/*
 * The refusal page: a short bilingual (Japanese and English) HTML page for
 * a refusal that reaches a browser (docs/errors.md "Refusal page"): the
 * stable code, its title and advice from the one message table
 * (core/jpki_messages.c) and a link to the login page when there is one.
 * Nothing of the request or the user is shown (docs/security.md).
 */
#ifndef JPKI_REFUSAL_H
#define JPKI_REFUSAL_H

#include "cfg/jpki_cfg.h"

/* Make the page the body of the refusal (status 401/403/503) with the
 * stable code, unless the client wants JSON (jpki_json_wanted) or the
 * administrator set an ErrorDocument for status (theirs wins). login_page
 * (JPKILoginPage, may be NULL) becomes the link, with return_to for a GET.
 * The page's headers (Content-Type text/html; charset=utf-8, Cache-Control
 * no-store, a CSP allowing only its own style) are set only when the page
 * is really sent. Returns 1 if the page was chosen. */
int jpki_refusal_page(request_rec *r, int status, const char *code, const char *login_page);

/* For tests and docs: the page's first language for an Accept-Language
 * value: "ja" when Japanese is the most preferred language, else "en". */
const char *jpki_refusal_lang(const char *accept_language);

void jpki_refusal_register_hooks(apr_pool_t *p);

#endif
