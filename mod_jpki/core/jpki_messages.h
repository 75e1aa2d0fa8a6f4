/*
 * The one message table for people: for every stable code (docs/errors.md)
 * and every code the login page makes itself, a title and advice in
 * Japanese and in English. The login page reads it as htdocs/jpki-messages.js
 * (generated from this table by scripts/jpki-messages-js.c, checked by
 * `make check`); the refusal pages (infra/jpki_refusal.c) render it in C.
 * Pure (libjpki_core). The English JSON "message" of a refusal stays in
 * jpki_errors.c.
 */
#ifndef JPKI_MESSAGES_H
#define JPKI_MESSAGES_H

typedef struct {
    const char *code;
    const char *ja_title;
    const char *ja_advice;
    const char *en_title;
    const char *en_advice;
} jpki_message_t;

/* Ends with a row whose code is NULL. The last real row is "unknown". */
extern const jpki_message_t jpki_messages[];

/* The code's own row; any cert_revoked_<reason> without one gets
 * cert_revoked's; anything else (NULL too) the "unknown" row. Never NULL. */
const jpki_message_t *jpki_messages_find(const char *code);

/* Is code one of the table's own rows (not a fallback)? */
int jpki_messages_has(const char *code);

#endif
