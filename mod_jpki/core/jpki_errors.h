/*
 * The stable error codes (docs/errors.md) in one table: each code's English
 * message (the JSON "message" of a refusal) and whether the metrics have
 * its jpki_logins_total series from the start. Pure (libjpki_core).
 */
#ifndef JPKI_ERRORS_H
#define JPKI_ERRORS_H

typedef struct {
    const char *code;
    const char *msg;  /* English message; NULL: the generic refusal text */
    int metrics_seed; /* 1: counted by the metrics from the start, in table order;
                         other codes claim a free metrics slot on first use */
} jpki_error_t;

/* Ends with a {NULL, NULL, 0} row. */
extern const jpki_error_t jpki_errors[];

/* The code's English message, or NULL when it has none. */
const char *jpki_errors_message(const char *code);

#endif
