/*
 * Identity: the session-record JSON, and the export to backends (env and
 * request headers) with the spoofing protection that makes the headers
 * trustworthy (docs/variables.md, docs/security.md).
 */
#include "steps/jpki_identity.h"
#include "core/jpki_export_util.h"
#include "infra/jpki_metrics.h"

#include <jansson.h>

void jpki_identity_from_cert(jpki_identity_t *id, const jpki_cert_t *c, const char *method,
                             apr_time_t now)
{
    memset(id, 0, sizeof(*id));
    id->serial = c->serial;
    id->issuer = c->issuer_dn;
    id->cert_type = jpki_cert_type_name(c->type);
    id->not_after = c->not_after;
    id->method = method;
    id->auth_time = now;
    id->status = "unchecked";
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v != NULL) {
        json_object_set_new(o, k, json_string(v));
    }
}

char *jpki_identity_to_json(apr_pool_t *p, const jpki_identity_t *id, apr_time_t created,
                            apr_time_t last_seen)
{
    json_t *o = json_object();
    char *s, *out;
    set_str(o, "acct", id->account);
    set_str(o, "ser", id->serial);
    set_str(o, "iss", id->issuer);
    set_str(o, "typ", id->cert_type);
    json_object_set_new(o, "na", json_integer((json_int_t)apr_time_sec(id->not_after)));
    set_str(o, "m", id->method);
    json_object_set_new(o, "at", json_integer((json_int_t)apr_time_sec(id->auth_time)));
    set_str(o, "st", id->status);
    json_object_set_new(o, "sc", json_integer((json_int_t)apr_time_sec(id->status_checked_at)));
    set_str(o, "rr", id->revocation_reason);
    set_str(o, "pf", id->platform_user_id);
    set_str(o, "pci", id->pf_cert_id);
    set_str(o, "ps", id->previous_serial);
    json_object_set_new(o, "reg", json_boolean(id->registration));
    json_object_set_new(o, "c", json_integer((json_int_t)apr_time_sec(created)));
    json_object_set_new(o, "ls", json_integer((json_int_t)apr_time_sec(last_seen)));
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL) {
        return NULL;
    }
    out = apr_pstrdup(p, s);
    free(s);
    return out;
}

static const char *get_str(apr_pool_t *p, json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? apr_pstrdup(p, json_string_value(v)) : NULL;
}

static apr_time_t get_time(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? apr_time_from_sec((apr_time_t)json_integer_value(v)) : 0;
}

int jpki_identity_from_json(apr_pool_t *p, const char *json, jpki_identity_t *id,
                            apr_time_t *created, apr_time_t *last_seen)
{
    json_error_t e;
    json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(o)) {
        json_decref(o);
        return 0;
    }
    memset(id, 0, sizeof(*id));
    id->account = get_str(p, o, "acct");
    id->serial = get_str(p, o, "ser");
    id->issuer = get_str(p, o, "iss");
    id->cert_type = get_str(p, o, "typ");
    id->not_after = get_time(o, "na");
    id->method = get_str(p, o, "m");
    id->auth_time = get_time(o, "at");
    id->status = get_str(p, o, "st");
    id->status_checked_at = get_time(o, "sc");
    id->revocation_reason = get_str(p, o, "rr");
    id->platform_user_id = get_str(p, o, "pf");
    id->pf_cert_id = get_str(p, o, "pci");
    id->previous_serial = get_str(p, o, "ps");
    id->registration = json_is_true(json_object_get(o, "reg"));
    *created = get_time(o, "c");
    *last_seen = get_time(o, "ls");
    json_decref(o);
    return id->serial != NULL && id->cert_type != NULL && id->method != NULL;
}

/* Env export of the identity fields (not r->user). */
static void export_env(request_rec *r, const jpki_identity_t *id)
{
    apr_table_t *e = r->subprocess_env;
    if (id->account != NULL && !id->registration) {
        apr_table_setn(e, "JPKI_ACCOUNT", apr_pstrdup(r->pool, id->account));
    }
    apr_table_setn(e, "JPKI_CERT_SERIAL", id->serial);
    apr_table_setn(e, "JPKI_CERT_ISSUER", id->issuer ? id->issuer : "");
    apr_table_setn(e, "JPKI_CERT_TYPE", id->cert_type);
    apr_table_setn(e, "JPKI_CERT_NOT_AFTER", jpki_util_time_iso(r->pool, id->not_after));
    apr_table_setn(e, "JPKI_AUTH_METHOD", id->method);
    apr_table_setn(e, "JPKI_AUTH_TIME", jpki_util_time_iso(r->pool, id->auth_time));
    apr_table_setn(e, "JPKI_STATUS", id->status ? id->status : "unchecked");
    if (id->status_checked_at) {
        apr_table_setn(e, "JPKI_STATUS_CHECKED_AT",
                       jpki_util_time_iso(r->pool, id->status_checked_at));
    }
    if (id->revocation_reason) {
        apr_table_setn(e, "JPKI_REVOCATION_REASON", id->revocation_reason);
    }
    if (id->platform_user_id) {
        apr_table_setn(e, "JPKI_PLATFORM_USER_ID", id->platform_user_id);
    }
    if (id->previous_serial) {
        apr_table_setn(e, "JPKI_PREVIOUS_SERIAL", id->previous_serial);
    }
    apr_table_setn(e, "JPKI_REGISTRATION", id->registration ? "1" : "0");
}

/* The identity exported on a request is kept in the request pool under a
 * key naming that request_rec: internal redirects share the pool but are
 * other request_recs, and must not see it as their own. */
static const char *identity_key(apr_pool_t *p, const request_rec *r)
{
    return apr_psprintf(p, "jpki-identity-%pp", (const void *)r);
}

void jpki_identity_export(request_rec *r, const jpki_identity_t *id)
{
    jpki_identity_t *copy = apr_pmemdup(r->pool, id, sizeof(*id));
    if (id->account != NULL && !id->registration) {
        r->user = apr_pstrdup(r->pool, id->account);
    }
    export_env(r, id);
    apr_pool_userdata_set(copy, identity_key(r->pool, r), NULL, r->pool);
}

/* This request's identity (*own = 1), or the one a subrequest or internal
 * redirect inherits: only when httpd (or AuthType JPKI) carried the same
 * user over, so an ErrorDocument in a public location gets nothing. */
static const jpki_identity_t *find_identity(request_rec *r, int *own)
{
    void *v = NULL;
    request_rec *q;
    apr_pool_userdata_get(&v, identity_key(r->pool, r), r->pool);
    if (v != NULL) {
        *own = 1;
        return v;
    }
    *own = 0;
    for (q = r->main ? r->main : r->prev; q != NULL; q = q->main ? q->main : q->prev) {
        apr_pool_userdata_get(&v, identity_key(q->pool, q), q->pool);
        if (v != NULL) {
            const jpki_identity_t *id = v;
            if (r->user != NULL && id->account != NULL && !id->registration &&
                strcmp(r->user, id->account) == 0) {
                return id;
            }
            return NULL;
        }
    }
    return NULL;
}

/* --- configuration -------------------------------------------------------- */

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
static int identity_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                 server_rec *s)
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

/* --- request time ----------------------------------------------------------- */

#define NOTE_EXPORTED "jpki-exported-headers"

/* Headers mod_jpki itself set on an earlier request that shares or copied
 * this headers_in table (internal redirect, subrequest): removed too, but
 * not reported as a spoofing attempt. */
static int exported_before(request_rec *r, const char *norm)
{
    request_rec *q;
    for (q = r->main ? r->main : r->prev; q != NULL; q = q->main ? q->main : q->prev) {
        const char *list = apr_table_get(q->notes, NOTE_EXPORTED);
        if (list != NULL) {
            const char *p = list;
            apr_size_t n = strlen(norm);
            while ((p = strstr(p, norm)) != NULL) {
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) {
                    return 1;
                }
                p += n;
            }
        }
    }
    return 0;
}

static void scrub(request_rec *r)
{
    jpki_identity_srv_t *sc = jpki_srv_cfg(r->server)->identity;
    const apr_array_header_t *h = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    apr_array_header_t *gone = NULL;
    const char *reported = NULL;
    int i, spoofed = 0;

    if (sc == NULL || sc->scrub_prefixes == NULL || sc->scrub == 0) {
        return; /* check_config always sets the lists; Off: a trusted backend host */
    }
    for (i = 0; i < h->nelts; i++) {
        const char *norm;
        if (e[i].key == NULL) {
            continue;
        }
        norm = jpki_export_normalise(r->pool, e[i].key);
        if (jpki_export_name_matches(norm, sc->scrub_prefixes, sc->scrub_names)) {
            if (gone == NULL) {
                gone = apr_array_make(r->pool, 4, sizeof(const char *));
            }
            APR_ARRAY_PUSH(gone, const char *) = e[i].key;
            if (!exported_before(r, norm)) {
                spoofed++;
                reported =
                    reported ? apr_pstrcat(r->pool, reported, " ", e[i].key, NULL) : e[i].key;
            }
        }
    }
    if (gone == NULL) {
        return;
    }
    for (i = 0; i < gone->nelts; i++) {
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(gone, i, const char *));
    }
    if (spoofed > 0) {
        /* Names only: the values are the attacker's and may be anything. */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      JPKI_LOGNO(0801) "removed %d inbound header(s) that could be mistaken for "
                                       "mod_jpki's identity headers: %s",
                      spoofed, ap_escape_logitem(r->pool, reported));
        jpki_metrics_scrubbed(r->server, spoofed);
    }
}

/* Every request read from the client, and every internal redirect
 * (ap_internal_redirect runs post_read_request on the new request): before
 * translate_name, so mod_rewrite conditions never see a spoofed header. */
static int identity_post_read_request(request_rec *r)
{
    scrub(r);
    /* and the trailers of a chunked body, when the body has been read */
    jpki_identity_trailers_insert(r);
    return DECLINED;
}

/* Every request including subrequests (which copy headers_in and skip
 * post_read_request), after the per-directory configuration is known and
 * before authentication. */
static int identity_post_perdir_config(request_rec *r)
{
    scrub(r);
    return DECLINED;
}

/* Last fixup: hand every JPKI_* variable (and REMOTE_USER) to the backend
 * as request headers when asked to, after every module had its say. */
static int identity_fixups(request_rec *r)
{
    jpki_identity_dir_t *d = jpki_dir_cfg(r)->identity;
    int own = 0, pass = (d && d->pass_as) ? d->pass_as : JPKI_PASS_ENV;
    const jpki_identity_t *id = find_identity(r, &own);
    const apr_array_header_t *env;
    const apr_table_entry_t *e;
    apr_array_header_t *vars;
    const char *exported = NULL;
    int i;

    if (id == NULL) {
        return DECLINED;
    }
    if (!own) {
        /* A redirect renames the variables REDIRECT_JPKI_*: set them again. */
        export_env(r, id);
    }
    env = apr_table_elts(r->subprocess_env);
    e = (const apr_table_entry_t *)env->elts;
    vars = apr_array_make(r->pool, 16, sizeof(const char *));
    for (i = 0; i < env->nelts; i++) {
        if (e[i].key != NULL && strncmp(e[i].key, "JPKI_", 5) == 0) {
            APR_ARRAY_PUSH(vars, const char *) = e[i].key;
        }
    }
    if (pass & JPKI_PASS_HEADERS) {
        const char *prefix = d->header_prefix ? d->header_prefix : JPKI_DEFAULT_HEADER_PREFIX;
        const char *uh =
            d->remote_user_header ? d->remote_user_header : JPKI_DEFAULT_REMOTE_USER_HEADER;
        if (r->user != NULL) {
            apr_table_set(r->headers_in, uh, jpki_export_header_value(r->pool, r->user));
            exported = jpki_export_normalise(r->pool, uh);
        }
        for (i = 0; i < vars->nelts; i++) {
            const char *var = APR_ARRAY_IDX(vars, i, const char *);
            const char *name = jpki_export_header_name(r->pool, prefix, var);
            const char *val = apr_table_get(r->subprocess_env, var);
            if (name == NULL || val == NULL) {
                continue;
            }
            apr_table_set(r->headers_in, name, jpki_export_header_value(r->pool, val));
            name = jpki_export_normalise(r->pool, name);
            exported = exported ? apr_pstrcat(r->pool, exported, " ", name, NULL) : name;
        }
        if (exported != NULL) {
            apr_table_setn(r->notes, NOTE_EXPORTED, exported);
        }
    }
    if (!(pass & JPKI_PASS_ENV)) {
        for (i = 0; i < vars->nelts; i++) {
            apr_table_unset(r->subprocess_env, APR_ARRAY_IDX(vars, i, const char *));
        }
    }
    return DECLINED;
}

void jpki_identity_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* First: before mod_setenvif, mod_headers (early) or mod_rewrite look. */
    ap_hook_post_read_request(identity_post_read_request, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_post_perdir_config(identity_post_perdir_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(identity_fixups, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_check_config(identity_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    jpki_identity_trailers_register(p);
}
