#include "cfg/jpki_origin.h"
#include "core/jpki_login_core.h"

const char *jpki_origin_set_origins(cmd_parms *cmd, void *dc, const char *arg)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(cmd->server);
    char *o = apr_pstrdup(cmd->pool, arg);
    (void)dc;
    ap_str_tolower(o);
    if (!jpki_origin_valid(o) || strncmp(o, "https://", 8) != 0) {
        return apr_psprintf(cmd->pool,
                            "JPKIOrigin: '%s' is not an https origin "
                            "(https://host or https://host:port, no path, no "
                            "trailing slash)",
                            arg);
    }
    if (c->origins == NULL) {
        c->origins = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->origins, const char *) = o;
    return NULL;
}

const char *jpki_origin_set_bare(cmd_parms *cmd, void *dc, int flag)
{
    (void)dc;
    jpki_srv_cfg(cmd->server)->bare_challenge = flag;
    return NULL;
}

int jpki_origin_bare_allowed(server_rec *s)
{
    return jpki_srv_cfg(s)->bare_challenge == 1;
}

static void add_derived(apr_pool_t *p, apr_array_header_t *list, const char *name, apr_port_t port)
{
    char *o;
    if (name == NULL || *name == '\0' || strchr(name, '*') || strchr(name, '?')) {
        return; /* wildcard aliases name no single origin */
    }
    o = port == 0 || port == 443 ? apr_pstrcat(p, "https://", name, NULL)
                                 : apr_psprintf(p, "https://%s:%u", name, (unsigned)port);
    ap_str_tolower(o);
    if (jpki_origin_valid(o)) {
        APR_ARRAY_PUSH(list, const char *) = o;
    }
}

apr_array_header_t *jpki_origin_list(apr_pool_t *p, server_rec *s)
{
    jpki_srv_cfg_t *c = jpki_srv_cfg(s);
    apr_array_header_t *list;
    apr_port_t port;
    int i;

    if (c->origins != NULL) {
        return c->origins;
    }
    list = apr_array_make(p, 4, sizeof(const char *));
    /* ServerName's port (ServerName https://bank.example:443 behind a TLS
     * proxy), else the virtual host's own port. */
    port = s->port ? s->port : (s->addrs ? s->addrs->host_port : 0);
    add_derived(p, list, s->server_hostname, port);
    for (i = 0; s->names && i < s->names->nelts; i++) {
        add_derived(p, list, APR_ARRAY_IDX(s->names, i, const char *), port);
    }
    return list;
}

int jpki_origin_allowed(request_rec *r, const char *origin)
{
    apr_array_header_t *list = jpki_origin_list(r->pool, r->server);
    int i;
    for (i = 0; i < list->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(list, i, const char *), origin) == 0) {
            return 1;
        }
    }
    return 0;
}
