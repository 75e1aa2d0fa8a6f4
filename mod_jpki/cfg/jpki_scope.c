/*
 * Session scope and policy hash (see jpki_scope.h and docs/security.md).
 */
#include "cfg/jpki_scope.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

const char *jpki_scope_set(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *s;
    (void)dc;
    if (*arg == '\0' || strlen(arg) > JPKI_SCOPE_NAME_MAX) {
        return apr_psprintf(cmd->pool, "JPKISessionScope: the name must be 1 to %d characters",
                            JPKI_SCOPE_NAME_MAX);
    }
    for (s = arg; *s; s++) {
        if (!(apr_isalnum(*s) || *s == '_' || *s == '-' || *s == '.')) {
            return apr_psprintf(cmd->pool,
                                "JPKISessionScope: invalid name '%s' "
                                "(letters, digits, '_', '-', '.')",
                                arg);
        }
    }
    jpki_srv_cfg(cmd->server)->session_scope = arg;
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted, comma-separated: the order of directives does not matter. */
static const char *sorted_join(apr_pool_t *p, const apr_array_header_t *a)
{
    apr_array_header_t *copy;
    if (a == NULL || a->nelts == 0) {
        return "-";
    }
    copy = apr_array_copy(p, a);
    qsort(copy->elts, (size_t)copy->nelts, sizeof(const char *), cmp_str);
    return apr_array_pstrcat(p, copy, ',');
}

static const char *anchors_desc(apr_pool_t *p, const jpki_trust_t *t)
{
    apr_array_header_t *fp;
    int i;
    if (t == NULL) {
        return "-";
    }
    fp = apr_array_make(p, t->anchors->nelts, sizeof(const char *));
    for (i = 0; i < t->anchors->nelts; i++) {
        const jpki_anchor_t *a = &APR_ARRAY_IDX(t->anchors, i, jpki_anchor_t);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (X509_digest(a->x509, EVP_sha256(), md, &n) != 1) {
            return NULL;
        }
        APR_ARRAY_PUSH(fp, const char *) = jpki_util_hex(p, md, n);
    }
    return sorted_join(p, fp);
}

static const char *sql_desc(apr_pool_t *p, const jpki_account_srv_t *a)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    const char *all = "";
    int i;
    for (i = 0; i < JPKI_SQL_MAX; i++) {
        all = apr_pstrcat(p, all, a->sql[i] ? a->sql[i] : "", "\n", NULL);
    }
    SHA256((const unsigned char *)all, strlen(all), md);
    return jpki_util_hex(p, md, 8);
}

const char *jpki_scope_describe(apr_pool_t *p, const jpki_srv_cfg_t *c)
{
    const jpki_status_cfg_t *sc = c->status_cfg;
    const jpki_account_srv_t *a = c->account;
    static const char *const providers[] = {"none", "platform", "ocsp", "crl"};
    const char *anchors = anchors_desc(p, c->trust);
    if (anchors == NULL) {
        return NULL;
    }
    return apr_psprintf(
        p,
        "JPKITrustedCA %s\nJPKIAcceptTestCards %s\nJPKIAuthPolicyOID %s\n"
        "JPKISignPolicyOID %s\nJPKIStatusProvider %s\nJPKIPlatformURL %s\n"
        "JPKIOCSPResponder %s\nJPKICRLIndexDir %s\nJPKIStatusFailMode %s\nJPKIAccountStore %d\n"
        "JPKIUnknownCertificate %d\nJPKIRegistrationMatchUser %d\nJPKIAccountSQL %s\n",
        anchors, c->accept_test == 1 ? "on" : "off", sorted_join(p, c->auth_policies),
        sorted_join(p, c->sign_policies),
        (c->status_provider >= 0 && c->status_provider <= 3) ? providers[c->status_provider]
                                                             : "unset",
        sc && sc->pf_url ? sc->pf_url : "-", sc && sc->ocsp_url ? sc->ocsp_url : "-",
        sc && sc->crl_dir ? sc->crl_dir : "-", sc && sc->fail_mode == 1 ? "grace" : "closed",
        a ? (int)a->store : -1, a ? (int)a->unknown : -1, a ? a->match_user : -1,
        a ? sql_desc(p, a) : "-");
}

/* "ServerName:port": the same on every server of a cluster. */
static const char *host_scope(apr_pool_t *p, const server_rec *s)
{
    int port = s->port ? s->port : (s->addrs ? s->addrs->host_port : 0);
    return apr_psprintf(p, "host:%s:%d", s->server_hostname ? s->server_hostname : "-", port);
}

/* The first line in which two descriptions differ: names the directive. */
static const char *first_difference(apr_pool_t *p, const char *a, const char *b)
{
    while (*a && *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        if (ea - a != eb - b || strncmp(a, b, (size_t)(ea - a)) != 0) {
            return apr_pstrmemdup(p, a, (apr_size_t)(strcspn(a, " ")));
        }
        a = ea + 1;
        b = eb + 1;
    }
    return "?";
}

int jpki_scope_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs, *ws;
    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_srv_cfg_t *c = jpki_srv_cfg(vs);
        unsigned char md[SHA256_DIGEST_LENGTH];
        const char *desc = jpki_scope_describe(ptemp, c);
        if (desc == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                         JPKI_LOGNO(0120) "JPKISessionScope: cannot fingerprint the trust "
                                          "anchors (JPKITrustedCA)");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        SHA256((const unsigned char *)desc, strlen(desc), md);
        c->policy_desc = apr_pstrdup(pconf, desc);
        c->policy_hash = jpki_util_hex(pconf, md, sizeof(md));
        c->scope_id = c->session_scope ? apr_pstrcat(pconf, "scope:", c->session_scope, NULL)
                                       : host_scope(pconf, vs);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, vs,
                     JPKI_LOGNO(0121) "session scope %s, policy %.16s", c->scope_id,
                     c->policy_hash);
    }
    /* A shared scope is one site: every host in it must prove the same way. */
    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_srv_cfg_t *c = jpki_srv_cfg(vs);
        if (c->session_scope == NULL) {
            continue;
        }
        for (ws = vs->next; ws != NULL; ws = ws->next) {
            jpki_srv_cfg_t *d = jpki_srv_cfg(ws);
            if (d->session_scope == NULL || strcmp(c->session_scope, d->session_scope) != 0 ||
                strcmp(c->policy_hash, d->policy_hash) == 0) {
                continue;
            }
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, ws,
                         JPKI_LOGNO(0122) "JPKISessionScope %s: %s and %s share the scope "
                                          "but differ in %s; a session proven on one would "
                                          "be accepted by the other. Make the settings "
                                          "equal or use different scope names.",
                         c->session_scope, host_scope(ptemp, vs) + 5, host_scope(ptemp, ws) + 5,
                         first_difference(ptemp, c->policy_desc, d->policy_desc));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

const char *jpki_scope_id(const jpki_srv_cfg_t *c)
{
    return c->scope_id ? c->scope_id : "-";
}

const char *jpki_scope_policy(const jpki_srv_cfg_t *c)
{
    return c->policy_hash ? c->policy_hash : "-";
}
