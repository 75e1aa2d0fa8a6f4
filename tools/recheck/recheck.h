/*
 * jpki-recheck: the cost-capped re-check of registered customers
 * (異動の把握, docs/recheck.md). Walks the account store (conf/jpki-schema.sql)
 * through apr_dbd, checks each account's current certificates through a
 * status provider, writes one result per account to jpki_recheck and to
 * the JSON-lines / CSV reports. No personal data leaves this program: only
 * account ids, categories, reason codes and times.
 */
#ifndef JPKI_RECHECK_H
#define JPKI_RECHECK_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <stdio.h>

#define RC_VERSION "1.0"

/* Exit codes (docs/recheck.md, man/jpki-recheck.1). */
#define RC_EXIT_DONE        0 /* every account checked (or --limit reached) */
#define RC_EXIT_INTERNAL    1 /* a bug or out of memory */
#define RC_EXIT_CONFIG      2 /* bad command line or configuration file */
#define RC_EXIT_CAP         3 /* stopped before a check that would pass the cost cap */
#define RC_EXIT_PROVIDER    4 /* the provider failed too often in a row (down, unauthorised) */
#define RC_EXIT_DB          5 /* the account store failed */
#define RC_EXIT_INTERRUPTED 6 /* SIGINT/SIGTERM: checkpoint written, run again to resume */

/* One certificate status, as the module's providers give it. */
typedef enum { RC_GOOD = 0, RC_REVOKED, RC_EXPIRED, RC_UNKNOWN, RC_NOANSWER } rc_status_e;

typedef struct rc_answer_t {
    rc_status_e status;
    const char *reason; /* RFC 5280 name when revoked (jpki_reason_name) */
    const char *error;  /* short code when RC_NOANSWER / RC_UNKNOWN */
    int down;           /* 1: the provider itself failed (transport, 5xx, 401) */
    int renewed;        /* platform: the PF knows a newer certificate */
} rc_answer_t;

/* The current certificates of one account. */
typedef struct rc_account_t {
    const char *account;
    const char *pf_user_id; /* NULL when the account has none */
    const char *auth;       /* normalised "<issuer key id>:<serial>", NULL if none */
    const char *sign;
    apr_array_header_t *serials; /* every serial of the account (const char *) */
} rc_account_t;

typedef struct rc_conf_t rc_conf_t;
typedef struct rc_http_t rc_http_t;

/* A status provider: a table of functions, so a CRL provider can be added
 * without touching the run loop. check_account fills auth/sign answers
 * (or only one for a per-user check) and the number of yen it spent. */
typedef struct rc_provider_t {
    const char *name;
    /* 0 on success, else a message in *err (exit RC_EXIT_CONFIG). */
    int (*init)(struct rc_provider_t *pv, rc_conf_t *c, apr_pool_t *p, const char **err);
    /* The most yen checking this account can cost (the cap reserves it). */
    int (*worst_cost)(struct rc_provider_t *pv, const rc_account_t *a);
    /* Check one certificate (serial, "auth"/"sign") or, with serial NULL,
     * the account as a whole (platform per-user check). *yen += cost. */
    void (*check)(struct rc_provider_t *pv, apr_pool_t *p, const rc_account_t *a,
                  const char *serial, const char *cert_type, rc_answer_t *out, int *yen);
    /* 1: the provider checks the account as a whole (check with serial NULL). */
    int per_user;
    void *ctx;
} rc_provider_t;

struct rc_conf_t {
    const char *db_driver; /* sqlite3 | pgsql */
    const char *db_params;
    const char *provider; /* platform | ocsp | crl */
    const char *pf_url, *pf_token_file, *pf_ca, *pf_client_cert, *pf_client_key;
    const char *pf_check_method; /* CHECK_METHOD_OCSP | CHECK_METHOD_CRL */
    const char *ocsp_url, *roots, *ocsp_signers, *ocsp_ca;
    const char *crl_index_dir; /* provider crl: jpki-crl-index's output */
    int ocsp_nonce;
    long ocsp_skew, ocsp_max_age;
    int fee_auth, fee_sign, fee_user;
    long cap_yen; /* < 0: not set (required) */
    double rate;  /* checks per second; 0 = no limit */
    const char *checkpoint, *report_jsonl, *report_csv;
    long timeout_ms;
    int max_failures; /* provider-down threshold (consecutive accounts) */
    long limit;       /* accounts this run, 0 = all */
    int dry_run, verbose, reset;
};

/* rc_conf.c */
int rc_conf_defaults(rc_conf_t *c);
int rc_conf_file(apr_pool_t *p, rc_conf_t *c, const char *path, const char **err);
int rc_conf_set(apr_pool_t *p, rc_conf_t *c, const char *key, const char *val, const char **err);
int rc_conf_check(apr_pool_t *p, rc_conf_t *c, const char **err);
char *rc_read_secret(apr_pool_t *p, const char *path, const char **err);

/* rc_log.c: one line to stderr, no personal data. */
void rc_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *rc_now_iso(apr_pool_t *p);

/* rc_http.c: one libcurl handle reused across checks (keep-alive). */
typedef struct rc_http_req_t {
    const char *url, *content_type, *accept, *bearer;
    const char *ca_file, *client_cert, *client_key;
    const void *body;
    size_t body_len;
    long timeout_ms;
} rc_http_req_t;
rc_http_t *rc_http_new(apr_pool_t *p);
/* 0 on a complete exchange (any HTTP status), else -1 with *err. */
int rc_http_post(rc_http_t *h, apr_pool_t *p, const rc_http_req_t *rq, long *status, char **body,
                 size_t *len, const char **err);

/* rc_platform.c, rc_ocsp.c */
extern const rc_provider_t rc_provider_platform;
extern const rc_provider_t rc_provider_ocsp;
extern const rc_provider_t rc_provider_crl;

/* rc_db.c */
typedef struct rc_db_t rc_db_t;
rc_db_t *rc_db_open(apr_pool_t *p, const rc_conf_t *c, const char **err);
/* The next page of accounts after `after` ("" = from the start), in order.
 * Returns the number read into *out (rc_account_t), -1 on a DB error. */
int rc_db_page(rc_db_t *db, apr_pool_t *p, const char *after, int max, apr_array_header_t **out,
               const char **err);
int rc_db_write_result(rc_db_t *db, apr_pool_t *p, const char *account, const char *category,
                       const char *status, const char *reason, const char *at, const char **err);
void rc_db_close(rc_db_t *db);

/* rc_result.c: categories and what the bank should do. */
typedef struct rc_result_t {
    const char *category, *status, *reason, *action;
} rc_result_t;
void rc_classify(const rc_answer_t *auth, const rc_answer_t *sign, int has_sign, rc_result_t *out);
void rc_classify_user(const rc_answer_t *u, rc_result_t *out);
/* 1 when the sign certificate must be checked too, given the auth answer. */
int rc_need_sign(const rc_answer_t *auth);
const char *rc_status_name(rc_status_e s);

/* rc_state.c: checkpoint and reports. */
typedef struct rc_ckpt_t {
    char last[256]; /* last account whose checks are paid (done or pending) */
    long yen;       /* spent in this run, the pending account's worst case included */
    long checks;    /* checks made in this run */
    char state[16]; /* running | capped | done */
} rc_ckpt_t;
int rc_ckpt_load(const char *path, rc_ckpt_t *ck, const char **err);
int rc_ckpt_save(apr_pool_t *p, const char *path, const rc_ckpt_t *ck, const char **err);
typedef struct rc_report_t {
    FILE *jsonl, *csv;
} rc_report_t;
int rc_report_open(const rc_conf_t *c, rc_report_t *r, const char **err);
int rc_report_write(rc_report_t *r, const char *account, const rc_result_t *res, const char *at);
void rc_report_close(rc_report_t *r);

#endif
