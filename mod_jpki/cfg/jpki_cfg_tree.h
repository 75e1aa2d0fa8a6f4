/*
 * Reading httpd's parsed configuration tree (ap_conftree) at check_config,
 * for start checks that depend on another module's settings (mod_ssl,
 * mod_dbd, mod_authn_core), whose records are opaque to mod_jpki.
 *
 * What applies to a host: its own <VirtualHost> section, plus what stands
 * outside every <VirtualHost> (the main server's settings and sections,
 * which every host inherits). True <IfModule>/<IfDefine> sections and
 * Include'd files are already spliced into the tree by then.
 */
#ifndef JPKI_CFG_TREE_H
#define JPKI_CFG_TREE_H

#include "cfg/jpki_cfg.h"

/* The <VirtualHost> that defined vs; NULL for the main server. */
const ap_directive_t *jpki_cfg_tree_vhost(const server_rec *vs);

/* The last server-level `name` in effect for vs (in its <VirtualHost>,
 * else outside every <VirtualHost>, not inside any section); NULL if none. */
const ap_directive_t *jpki_cfg_tree_server_dir(const server_rec *vs, const char *name);

/* The first `name` whose first argument is `arg` (case-insensitive; NULL:
 * any) in a section or at server level in effect for vs. */
const ap_directive_t *jpki_cfg_tree_find(apr_pool_t *p, const server_rec *vs, const char *name,
                                         const char *arg);

/* The first `name` anywhere in the configuration (any host). */
const ap_directive_t *jpki_cfg_tree_find_any(apr_pool_t *p, const char *name);

/* "a.example:443 (<VirtualHost> at file:line)" or "the main server (name)". */
const char *jpki_cfg_host_desc(apr_pool_t *p, const server_rec *vs);

/* "file:line" of a directive, "default" for NULL. */
const char *jpki_cfg_tree_where(apr_pool_t *p, const ap_directive_t *d);

#endif
