/*
 * The configuration tree at check_config (jpki_cfg_tree.h): what another
 * module's directives say for a host, and how to name a host or a line in
 * a start message. Uses nothing of mod_jpki's own records.
 */
#include "cfg/jpki_cfg_tree.h"

#include "http_config.h"

const ap_directive_t *jpki_cfg_tree_vhost(const server_rec *vs)
{
    const ap_directive_t *d;
    if (!vs->is_virtual || vs->defn_name == NULL) {
        return NULL;
    }
    for (d = ap_conftree; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "<VirtualHost") == 0 &&
            (unsigned)d->line_num == vs->defn_line_number && d->filename != NULL &&
            strcmp(d->filename, vs->defn_name) == 0) {
            return d;
        }
    }
    return NULL;
}

static const ap_directive_t *last_among(const ap_directive_t *d, const char *name)
{
    const ap_directive_t *found = NULL;
    for (; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, name) == 0) {
            found = d;
        }
    }
    return found;
}

const ap_directive_t *jpki_cfg_tree_server_dir(const server_rec *vs, const char *name)
{
    const ap_directive_t *vh = jpki_cfg_tree_vhost(vs), *d = NULL;
    if (vh != NULL) {
        d = last_among(vh->first_child, name);
    }
    return d ? d : last_among(ap_conftree, name);
}

static int matches(apr_pool_t *p, const ap_directive_t *d, const char *name, const char *arg)
{
    const char *args = d->args ? d->args : "";
    const char *w;
    if (strcasecmp(d->directive, name) != 0) {
        return 0;
    }
    w = ap_getword_conf(p, &args);
    return arg == NULL || (w != NULL && strcasecmp(w, arg) == 0);
}

/* Depth first; skip_vhosts at the top level (their own walk covers them). */
static const ap_directive_t *find_in(apr_pool_t *p, const ap_directive_t *d, const char *name,
                                     const char *arg, int skip_vhosts)
{
    const ap_directive_t *hit;
    for (; d != NULL; d = d->next) {
        if (skip_vhosts && strcasecmp(d->directive, "<VirtualHost") == 0) {
            continue;
        }
        if (matches(p, d, name, arg)) {
            return d;
        }
        if (d->first_child && (hit = find_in(p, d->first_child, name, arg, 0)) != NULL) {
            return hit;
        }
    }
    return NULL;
}

const ap_directive_t *jpki_cfg_tree_find(apr_pool_t *p, const server_rec *vs, const char *name,
                                         const char *arg)
{
    const ap_directive_t *vh = jpki_cfg_tree_vhost(vs), *hit = NULL;
    if (vh != NULL) {
        hit = find_in(p, vh->first_child, name, arg, 0);
    }
    return hit ? hit : find_in(p, ap_conftree, name, arg, 1);
}

const ap_directive_t *jpki_cfg_tree_find_any(apr_pool_t *p, const char *name)
{
    return find_in(p, ap_conftree, name, NULL, 0);
}

const char *jpki_cfg_host_desc(apr_pool_t *p, const server_rec *vs)
{
    const char *name = vs->server_hostname ? vs->server_hostname : "-";
    unsigned port = vs->port ? vs->port : (vs->addrs ? vs->addrs->host_port : 0);
    if (!vs->is_virtual) {
        return apr_psprintf(p, "the main server (%s)", name);
    }
    return apr_psprintf(p, "%s:%u (<VirtualHost> at %s:%u)", name, port,
                        vs->defn_name ? vs->defn_name : "?", vs->defn_line_number);
}

const char *jpki_cfg_tree_where(apr_pool_t *p, const ap_directive_t *d)
{
    if (d == NULL) {
        return "default";
    }
    return apr_psprintf(p, "%s:%d", d->filename ? d->filename : "?", d->line_num);
}
