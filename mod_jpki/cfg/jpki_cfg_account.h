/*
 * Configuration of the account store, registration and the jpki-account
 * endpoint (cfg/jpki_cfg_account.c).
 */
#ifndef JPKI_CFG_ACCOUNT_H
#define JPKI_CFG_ACCOUNT_H

#include "jpki.h"

/* Statements, in the order of jpki_account_sql_names[] (JPKIAccountSQL). */
typedef enum {
    JPKI_SQL_LOOKUP = 0, /* serial -> account */
    JPKI_SQL_BY_USER,    /* platform user id -> account */
    JPKI_SQL_LATEST,     /* account -> its most recent auth serial */
    JPKI_SQL_LINK,       /* insert a serial row */
    JPKI_SQL_SEEN,       /* last_seen of a serial */
    JPKI_SQL_CREATE,     /* insert an account */
    JPKI_SQL_BIRTH_DATE, /* account -> birth date */
    JPKI_SQL_SET_BIRTH,  /* update birth date (and PF user id) of an account */
    JPKI_SQL_SERIALS,    /* account -> every linked serial */
    JPKI_SQL_RELINK,     /* move a serial to another account */
    JPKI_SQL_UNLINK_ALL, /* delete every serial row of an account */
    JPKI_SQL_REMOVE,     /* delete an account */
    JPKI_SQL_MAX
} jpki_sql_e;

typedef enum {
    JPKI_ACCOUNT_STORE_UNSET = -1,
    JPKI_ACCOUNT_STORE_NONE = 0, /* the serial is the account (development) */
    JPKI_ACCOUNT_STORE_DBD = 1
} jpki_account_store_e;

typedef enum {
    JPKI_UNKNOWN_UNSET = -1,
    JPKI_UNKNOWN_DENY = 0,
    JPKI_UNKNOWN_REGISTER = 1
} jpki_unknown_e;

typedef struct jpki_account_srv_t {
    jpki_account_store_e store;
    jpki_unknown_e unknown;
    int cache_ttl;                 /* seconds; JPKI_UNSET = default */
    int match_user;                /* JPKIRegistrationMatchUser */
    const char *sql[JPKI_SQL_MAX]; /* NULL = the default statement */
    const char *api_token_file;    /* JPKIAccountAPIToken; NULL = unset */
    const char *api_token;         /* its content, read by check_config */
} jpki_account_srv_t;

typedef enum {
    JPKI_REG_UNSET = -1,
    JPKI_REG_OFF = 0,
    JPKI_REG_ON = 1,     /* accepts registration sessions */
    JPKI_REG_SIGNING = 2 /* ... and requires a signing-certificate proof */
} jpki_registration_e;

typedef struct jpki_account_dir_t {
    jpki_registration_e registration;
} jpki_account_dir_t;

#define JPKI_DEFAULT_ACCOUNT_CACHE_TTL 3600

/* create/merge, called once each from jpki_cfg.c */
jpki_account_srv_t *jpki_account_srv_create(apr_pool_t *p);
jpki_account_srv_t *jpki_account_srv_merge(apr_pool_t *p, const jpki_account_srv_t *base,
                                           const jpki_account_srv_t *add);
jpki_account_dir_t *jpki_account_dir_create(apr_pool_t *p);
jpki_account_dir_t *jpki_account_dir_merge(apr_pool_t *p, const jpki_account_dir_t *base,
                                           const jpki_account_dir_t *add);
int jpki_account_config_check(apr_pool_t *pconf, server_rec *s);
const char *jpki_account_set_store(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_account_set_unknown(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_account_set_cache_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_account_set_sql(cmd_parms *cmd, void *dc, const char *name, const char *sql);
const char *jpki_account_set_match_user(cmd_parms *cmd, void *dc, int flag);
const char *jpki_account_set_registration(cmd_parms *cmd, void *dc, const char *arg);
/* jpki_account_api.c: the jpki-account endpoint's caller authentication */
const char *jpki_account_api_set_token(cmd_parms *cmd, void *dc, const char *arg);
int jpki_account_api_check_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

#define JPKI_ACCOUNT_CMDS                                                                          \
    AP_INIT_TAKE1("JPKIAccountStore", jpki_account_set_store, NULL, RSRC_CONF,                     \
                  "Where accounts live: none (the serial is the account) or dbd (mod_dbd)"),       \
        AP_INIT_TAKE1("JPKIUnknownCertificate", jpki_account_set_unknown, NULL, RSRC_CONF,         \
                      "A valid certificate without an account: deny or register"),                 \
        AP_INIT_TAKE1("JPKIAccountCacheTTL", jpki_account_set_cache_ttl, NULL, RSRC_CONF,          \
                      "Seconds a serial -> account mapping stays in JPKICache (default 3600)"),    \
        AP_INIT_TAKE2("JPKIAccountSQL", jpki_account_set_sql, NULL, RSRC_CONF,                     \
                      "Replace one of the account statements: name \"SQL with %s parameters\""),   \
        AP_INIT_FLAG("JPKIRegistrationMatchUser", jpki_account_set_match_user, NULL, RSRC_CONF,    \
                     "Registration: the signing and user-authentication certificates must have "   \
                     "the same platform user id (default On)"),                                    \
        AP_INIT_TAKE1("JPKIRegistration", jpki_account_set_registration, NULL,                     \
                      OR_AUTHCFG | ACCESS_CONF,                                                    \
                      "Off, On (accept registration sessions) or Signing (and require a "          \
                      "signing-certificate proof on the request)"),                                \
        AP_INIT_TAKE1("JPKIAccountAPIToken", jpki_account_api_set_token, NULL, RSRC_CONF,          \
                      "File holding the bearer token every caller of SetHandler jpki-account "     \
                      "must send (required where the endpoint is mounted)")

/* The handler name of the account endpoint; the shortest token accepted. */
#define JPKI_ACCOUNT_API_HANDLER   "jpki-account"
#define JPKI_ACCOUNT_API_MIN_TOKEN 32

/* This server's / this request's account settings. */
jpki_account_srv_t *jpki_account_cfg(server_rec *s);
jpki_account_dir_t *jpki_account_dir_cfg(request_rec *r);
/* JPKIAccountCacheTTL with its default applied. */
int jpki_cfg_account_cache_ttl(const jpki_account_srv_t *c);
/* The statement JPKIAccountSQL set for q, or the default one. */
const char *jpki_cfg_account_sql(const jpki_account_srv_t *c, jpki_sql_e q);
extern const char *const jpki_account_sql_names[JPKI_SQL_MAX];

#endif
