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

/* The account's last re-check from jpki_recheck (jpki-recheck,
 * docs/recheck.md): category and checked_at, or both NULL when there is
 * none. APR_ENOENT when the table is missing (an older schema). */
apr_status_t jpki_sql_recheck(request_rec *r, jpki_sql_t *db, const char *account,
                              const char **category, const char **at);

/* Login: the account's last re-check into id (socache, else one SQL
 * query; jpki_account.c). Never fails a login. */
void jpki_account_recheck(request_rec *r, jpki_sql_t **db, jpki_identity_t *id);

#endif
