/*
 * Private to jpki_status.c, jpki_status_cache.c and jpki_status_config.c: the defaults of the
 * status directives and the one "unset -> default" helper.
 */
#ifndef JPKI_STATUS_DEFAULTS_H
#define JPKI_STATUS_DEFAULTS_H

#include "steps/status/jpki_status.h"

#define DEFAULT_CONNECT_MS       2000
#define DEFAULT_TOTAL_MS         5000
#define DEFAULT_MAX_RESPONSE     65536
#define DEFAULT_TTL_GOOD         300
#define DEFAULT_TTL_REVOKED      86400
#define DEFAULT_BREAKER_N        5
#define DEFAULT_BREAKER_SECS     30
#define MAX_AGE_UNSET            -2
#define DEFAULT_MAX_AGE_NO_NONCE 600 /* JPKIOCSPMaxAge when JPKIOCSPRequireNonce Off */

static inline int int_or(int v, int dflt)
{
    return v == JPKI_UNSET ? dflt : v;
}

#endif
