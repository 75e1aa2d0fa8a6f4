/*
 * Identity export, audit log and fee directives: records, defaults,
 * create/merge, setters, and the header-scrub set built at check_config.
 */
#include "cfg/jpki_cfg.h"
#include "core/jpki_export_util.h"

jpki_identity_dir_t *jpki_identity_dir_create(apr_pool_t *p)
{
    return apr_pcalloc(p, sizeof(jpki_identity_dir_t));
}

jpki_identity_dir_t *jpki_identity_dir_merge(apr_pool_t *p, const jpki_identity_dir_t *base,
                                             const jpki_identity_dir_t *add)
{
    jpki_identity_dir_t *m = apr_pcalloc(p, sizeof(*m));
    if (base == NULL || add == NULL) {
        return add ? apr_pmemdup(p, add, sizeof(*m)) : jpki_identity_dir_create(p);
    }
    m->pass_as = add->pass_as ? add->pass_as : base->pass_as;
    m->header_prefix = add->header_prefix ? add->header_prefix : base->header_prefix;
    m->remote_user_header =
        add->remote_user_header ? add->remote_user_header : base->remote_user_header;
    return m;
}

jpki_identity_srv_t *jpki_identity_srv_create(apr_pool_t *p)
{
    jpki_identity_srv_t *c = apr_pcalloc(p, sizeof(*c));
    c->prefixes_seen = apr_array_make(p, 2, sizeof(const char *));
    c->names_seen = apr_array_make(p, 2, sizeof(const char *));
    c->scrub = JPKI_UNSET;
    return c;
}

jpki_identity_srv_t *jpki_identity_srv_merge(apr_pool_t *p, const jpki_identity_srv_t *base,
                                             const jpki_identity_srv_t *add)
{
    jpki_identity_srv_t *m = jpki_identity_srv_create(p);
    m->scrub =
        (add == NULL || add->scrub == JPKI_UNSET) ? (base ? base->scrub : JPKI_UNSET) : add->scrub;
    /* Each server keeps what its own sections named; check_config builds
     * the union over all servers. */
    if (add != NULL) {
        apr_array_cat(m->prefixes_seen, add->prefixes_seen);
        apr_array_cat(m->names_seen, add->names_seen);
    }
    return m;
}

static jpki_identity_dir_t *dir_of(void *dc)
{
    return ((jpki_dir_cfg_t *)dc)->identity;
}

const char *jpki_identity_set_pass_as(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_identity_dir_t *d = dir_of(dc);
    if (strcasecmp(arg, "env") == 0) {
        d->pass_as = JPKI_PASS_ENV;
    } else if (strcasecmp(arg, "headers") == 0) {
        d->pass_as = JPKI_PASS_HEADERS;
    } else if (strcasecmp(arg, "both") == 0) {
        d->pass_as = JPKI_PASS_ENV | JPKI_PASS_HEADERS;
    } else {
        return apr_psprintf(cmd->pool, "JPKIPassIdentityAs: '%s' is not env, headers or both", arg);
    }
    return NULL;
}

/* TAKE_ARGV: httpd itself would refuse "" as "takes one argument"; this
 * way the message says why. */
const char *jpki_identity_set_prefix(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    jpki_identity_srv_t *sc = jpki_srv_cfg(cmd->server)->identity;
    const char *why, *arg = argc > 0 ? argv[0] : "";
    if (argc > 1) {
        return "JPKIHeaderPrefix takes exactly one prefix";
    }
    if (*arg == '\0') {
        /* An empty prefix would make every inbound header "ours". */
        return "JPKIHeaderPrefix: the prefix must not be empty (default X-JPKI-)";
    }
    if ((why = jpki_export_name_invalid(arg)) != NULL) {
        return apr_psprintf(cmd->pool, "JPKIHeaderPrefix: '%s' is not usable: %s", arg, why);
    }
    dir_of(dc)->header_prefix = arg;
    APR_ARRAY_PUSH(sc->prefixes_seen, const char *) = jpki_export_normalise(cmd->pool, arg);
    return NULL;
}

const char *jpki_identity_set_user_header(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_identity_srv_t *sc = jpki_srv_cfg(cmd->server)->identity;
    const char *why;
    if ((why = jpki_export_name_invalid(arg)) != NULL) {
        return apr_psprintf(cmd->pool, "JPKIRemoteUserHeader: '%s' is not usable: %s", arg, why);
    }
    dir_of(dc)->remote_user_header = arg;
    APR_ARRAY_PUSH(sc->names_seen, const char *) = jpki_export_normalise(cmd->pool, arg);
    return NULL;
}

const char *jpki_identity_set_scrub(cmd_parms *cmd, void *dc, int flag)
{
    (void)dc;
    jpki_srv_cfg(cmd->server)->identity->scrub = flag;
    return NULL;
}

/* The union of every prefix and header name configured anywhere, plus the
 * defaults and "Remote-User": one list for the whole server, so a header
 * that looks like ours under any configuration is removed before any
 * module (mod_rewrite, mod_headers, a proxied backend) sees it. */
int jpki_cfg_export_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *pre = apr_array_make(pconf, 4, sizeof(const char *));
    apr_array_header_t *names = apr_array_make(pconf, 4, sizeof(const char *));
    server_rec *vs;
    (void)plog;
    (void)ptemp;
    APR_ARRAY_PUSH(pre, const char *) = jpki_export_normalise(pconf, JPKI_DEFAULT_HEADER_PREFIX);
    APR_ARRAY_PUSH(names, const char *) =
        jpki_export_normalise(pconf, JPKI_DEFAULT_REMOTE_USER_HEADER);
    APR_ARRAY_PUSH(names, const char *) = "remote-user";
    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_identity_srv_t *sc = jpki_srv_cfg(vs)->identity;
        apr_array_cat(pre, sc->prefixes_seen);
        apr_array_cat(names, sc->names_seen);
    }
    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_identity_srv_t *sc = jpki_srv_cfg(vs)->identity;
        sc->scrub_prefixes = pre;
        sc->scrub_names = names;
        if (sc->scrub == 0) {
            ap_log_error(
                APLOG_MARK, APLOG_WARNING, 0, vs,
                JPKI_LOGNO(0802) "JPKIScrubIdentityHeaders Off for %s:%u: inbound "
                                 "identity headers are passed on unchecked; this host must be "
                                 "reachable only from the trusted front end",
                vs->server_hostname ? vs->server_hostname : "(default)", (unsigned)vs->port);
        }
    }
    return OK;
}

jpki_audit_srv_t *jpki_audit_srv_create(apr_pool_t *p)
{
    return apr_pcalloc(p, sizeof(jpki_audit_srv_t));
}

jpki_audit_srv_t *jpki_audit_srv_merge(apr_pool_t *p, const jpki_audit_srv_t *base,
                                       const jpki_audit_srv_t *add)
{
    jpki_audit_srv_t *m = jpki_audit_srv_create(p);
    m->spec = add->spec ? add->spec : base->spec;
    return m;
}

const char *jpki_audit_set_log(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_audit_srv_t *a = jpki_srv_cfg(cmd->server)->audit;
    (void)dc;
    if (*arg == '\0' || (arg[0] == '|' && arg[1] == '\0')) {
        return "JPKIAuditLog: give a file name or |program";
    }
    if (arg[0] != '|' && ap_server_root_relative(cmd->pool, arg) == NULL) {
        return apr_psprintf(cmd->pool, "JPKIAuditLog: invalid path '%s'", arg);
    }
    a->spec = arg;
    return NULL;
}

/* A file JPKIAuditLog is opened only in open_logs, which apachectl -t does
 * not run: a missing directory would pass the test and stop the start. */
int jpki_cfg_audit_check(apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    for (vs = s; vs != NULL; vs = vs->next) {
        const jpki_audit_srv_t *a = jpki_srv_cfg(vs)->audit;
        const char *path, *dir;
        apr_finfo_t fi;
        apr_status_t rv;
        if (a == NULL || a->spec == NULL || a->spec[0] == '|') {
            continue;
        }
        path = ap_server_root_relative(ptemp, a->spec);
        dir = ap_make_dirstr_parent(ptemp, path);
        rv = apr_stat(&fi, dir, APR_FINFO_TYPE, ptemp);
        if (rv == APR_SUCCESS && fi.filetype == APR_DIR) {
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, vs,
                     JPKI_LOGNO(0152) "JPKIAuditLog %s: the directory %s %s; create it "
                                      "(writable by root, the user that opens the log) or "
                                      "change JPKIAuditLog",
                     path, dir, rv == APR_SUCCESS ? "is not a directory" : "does not exist");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

jpki_metrics_srv_t *jpki_metrics_srv_create(apr_pool_t *p)
{
    jpki_metrics_srv_t *m = apr_pcalloc(p, sizeof(*m));
    m->fee_auth = JPKI_UNSET;
    m->fee_sign = JPKI_UNSET;
    return m;
}

jpki_metrics_srv_t *jpki_metrics_srv_merge(apr_pool_t *p, const jpki_metrics_srv_t *base,
                                           const jpki_metrics_srv_t *add_)
{
    jpki_metrics_srv_t *m = jpki_metrics_srv_create(p);
    m->fee_auth = add_->fee_auth != JPKI_UNSET ? add_->fee_auth : base->fee_auth;
    m->fee_sign = add_->fee_sign != JPKI_UNSET ? add_->fee_sign : base->fee_sign;
    return m;
}

static const char *parse_fee(cmd_parms *cmd, const char *arg, int *out)
{
    if (!jpki_util_parse_int(arg, 0, 100000, 0, out)) {
        return apr_psprintf(cmd->pool,
                            "JPKIFee: '%s' is not a whole number of yen from 0 to "
                            "100000",
                            arg);
    }
    return NULL;
}

const char *jpki_metrics_set_fee(cmd_parms *cmd, void *dc, const char *auth, const char *sign)
{
    jpki_metrics_srv_t *m = jpki_srv_cfg(cmd->server)->metrics;
    const char *err;
    (void)dc;
    if ((err = parse_fee(cmd, auth, &m->fee_auth)) != NULL) {
        return err;
    }
    return parse_fee(cmd, sign, &m->fee_sign);
}

int jpki_metrics_fee(server_rec *s, const char *cert_type)
{
    const jpki_metrics_srv_t *m = jpki_srv_cfg(s)->metrics;
    if (cert_type != NULL && strcmp(cert_type, "sign") == 0) {
        return (m && m->fee_sign != JPKI_UNSET) ? m->fee_sign : JPKI_DEFAULT_FEE_SIGN;
    }
    if (cert_type != NULL && strcmp(cert_type, "auth") == 0) {
        return (m && m->fee_auth != JPKI_UNSET) ? m->fee_auth : JPKI_DEFAULT_FEE_AUTH;
    }
    return 0;
}

const char *jpki_cfg_header_prefix(const jpki_identity_dir_t *d)
{
    return d->header_prefix ? d->header_prefix : JPKI_DEFAULT_HEADER_PREFIX;
}

const char *jpki_cfg_remote_user_header(const jpki_identity_dir_t *d)
{
    return d->remote_user_header ? d->remote_user_header : JPKI_DEFAULT_REMOTE_USER_HEADER;
}
