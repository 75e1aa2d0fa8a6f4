/* The card helper's log: one line per event on standard error (the journal
 * under systemd). Callers never pass a PIN, challenge, client data, signature
 * or certificate. */
#include "jch.h"

#include <stdarg.h>
#include <stdio.h>

void jpki_ch_log(const char *fmt, ...)
{
    va_list ap;
    flockfile(stderr);
    fprintf(stderr, "%s: ", JCH_NAME);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}
