/*
 * Configuration of identity export, the audit log and the fee table
 * (cfg/jpki_cfg_export.c).
 */
#ifndef JPKI_CFG_EXPORT_H
#define JPKI_CFG_EXPORT_H

#include "jpki.h"

#define JPKI_PASS_ENV     1
#define JPKI_PASS_HEADERS 2

#define JPKI_DEFAULT_HEADER_PREFIX      "X-JPKI-"
#define JPKI_DEFAULT_REMOTE_USER_HEADER "X-Remote-User"

typedef struct jpki_identity_dir_t {
    int pass_as;                    /* JPKI_PASS_* bits; 0 = unset (env) */
    const char *header_prefix;      /* NULL = unset */
    const char *remote_user_header; /* NULL = unset */
} jpki_identity_dir_t;

typedef struct jpki_identity_srv_t {
    /* normalised prefixes / header names configured in this server's sections */
    apr_array_header_t *prefixes_seen;
    apr_array_header_t *names_seen;
    /* what is scrubbed: the union over every server (set in check_config) */
    apr_array_header_t *scrub_prefixes;
    apr_array_header_t *scrub_names;
    int scrub; /* JPKIScrubIdentityHeaders; JPKI_UNSET = On */
} jpki_identity_srv_t;

jpki_identity_dir_t *jpki_identity_dir_create(apr_pool_t *p);
jpki_identity_dir_t *jpki_identity_dir_merge(apr_pool_t *p, const jpki_identity_dir_t *base,
                                             const jpki_identity_dir_t *add);
jpki_identity_srv_t *jpki_identity_srv_create(apr_pool_t *p);
jpki_identity_srv_t *jpki_identity_srv_merge(apr_pool_t *p, const jpki_identity_srv_t *base,
                                             const jpki_identity_srv_t *add);

const char *jpki_identity_set_pass_as(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_identity_set_prefix(cmd_parms *cmd, void *dc, int argc, char *const argv[]);
const char *jpki_identity_set_user_header(cmd_parms *cmd, void *dc, const char *arg);
const char *jpki_identity_set_scrub(cmd_parms *cmd, void *dc, int flag);

/* Per directory, but not in .htaccess: the spoofing protection must know
 * every prefix at startup. */
#define JPKI_IDENTITY_CMDS                                                                         \
    AP_INIT_TAKE1("JPKIPassIdentityAs", jpki_identity_set_pass_as, NULL, RSRC_CONF | ACCESS_CONF,  \
                  "How backends receive the identity: env (default), headers or both"),            \
        AP_INIT_TAKE_ARGV("JPKIHeaderPrefix", jpki_identity_set_prefix, NULL,                      \
                          RSRC_CONF | ACCESS_CONF,                                                 \
                          "Prefix of the identity request headers (default X-JPKI-)"),             \
        AP_INIT_TAKE1("JPKIRemoteUserHeader", jpki_identity_set_user_header, NULL,                 \
                      RSRC_CONF | ACCESS_CONF,                                                     \
                      "Request header that carries REMOTE_USER (default X-Remote-User)"),          \
        AP_INIT_FLAG("JPKIScrubIdentityHeaders", jpki_identity_set_scrub, NULL, RSRC_CONF,         \
                     "Off only on a backend virtual host that receives the identity headers "      \
                     "from a trusted front end (default On)")

typedef struct jpki_audit_srv_t {
    const char *spec; /* JPKIAuditLog argument; NULL = unset (error log) */
    apr_file_t *fd;   /* opened in open_logs (parent); inherited by children */
} jpki_audit_srv_t;

jpki_audit_srv_t *jpki_audit_srv_create(apr_pool_t *p);
/* check_config: the directory of every JPKIAuditLog file exists (the file
 * itself is opened in open_logs, after apachectl -t has passed). */
int jpki_cfg_audit_check(apr_pool_t *ptemp, server_rec *s);
jpki_audit_srv_t *jpki_audit_srv_merge(apr_pool_t *p, const jpki_audit_srv_t *base,
                                       const jpki_audit_srv_t *add);
const char *jpki_audit_set_log(cmd_parms *cmd, void *dc, const char *arg);

#define JPKI_AUDIT_CMDS                                                                            \
    AP_INIT_TAKE1("JPKIAuditLog", jpki_audit_set_log, NULL, RSRC_CONF,                             \
                  "Audit log: a file (relative to ServerRoot) or |program (e.g. rotatelogs)")

#define JPKI_DEFAULT_FEE_AUTH 2
#define JPKI_DEFAULT_FEE_SIGN 20

typedef struct jpki_metrics_srv_t {
    int fee_auth; /* JPKI_UNSET = default */
    int fee_sign;
} jpki_metrics_srv_t;

jpki_metrics_srv_t *jpki_metrics_srv_create(apr_pool_t *p);
jpki_metrics_srv_t *jpki_metrics_srv_merge(apr_pool_t *p, const jpki_metrics_srv_t *base,
                                           const jpki_metrics_srv_t *add);
const char *jpki_metrics_set_fee(cmd_parms *cmd, void *dc, const char *auth, const char *sign);

#define JPKI_METRICS_CMDS                                                                          \
    AP_INIT_TAKE2("JPKIFee", jpki_metrics_set_fee, NULL, RSRC_CONF,                                \
                  "Yen per answered status check: user-authentication and signing "                \
                  "certificate (default 2 20)")

/* Yen per answered check of a certificate type ("auth" | "sign"). */
int jpki_metrics_fee(server_rec *s, const char *cert_type);
/* JPKIHeaderPrefix and JPKIRemoteUserHeader with their defaults applied. */
const char *jpki_cfg_header_prefix(const jpki_identity_dir_t *d);
const char *jpki_cfg_remote_user_header(const jpki_identity_dir_t *d);

/* check_config: the union of identity header names every host scrubs. */
int jpki_cfg_export_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);

#endif
