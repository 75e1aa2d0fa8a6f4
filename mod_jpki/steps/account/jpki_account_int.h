/*
 * Private to jpki_account.c, jpki_account_store.c and jpki_account_login.c:
 * the helpers the three files share. Not an API.
 */
#ifndef JPKI_ACCOUNT_INT_H
#define JPKI_ACCOUNT_INT_H

#include "steps/account/jpki_account.h"

/* Remember serial -> account for JPKIAccountCacheTTL (jpki_account.c). */
void jpki_account_cache_put(request_rec *r, const char *serial, const char *account);

/* One-column, one-argument SELECT; opens *db on first use (jpki_account.c). */
apr_status_t jpki_account_sql_lookup(request_rec *r, jpki_sql_t **db, jpki_sql_e q, const char *arg,
                                     const char **out);

#endif
