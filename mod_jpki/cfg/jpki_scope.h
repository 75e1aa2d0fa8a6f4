/*
 * Session scope: which host and which policy a session, a registration
 * session or a login challenge was issued under. Every vhost has a scope id
 * ("host:<ServerName>:<port>", or "scope:<name>" with JPKISessionScope) and
 * a policy hash (SHA-256 of a canonical description of the settings that
 * decide what a proof means: trust anchors, test cards, policy OIDs, status
 * source, account store). Both are computed in check_config, so they are
 * stable across restarts and across servers sharing a memcache: never a
 * pointer. A record whose scope or policy differ from the host's is refused.
 */
#ifndef JPKI_SCOPE_H
#define JPKI_SCOPE_H

#include "cfg/jpki_cfg.h"

#define JPKI_SCOPE_NAME_MAX 64

/* JPKISessionScope name */
const char *jpki_scope_set(cmd_parms *cmd, void *dc, const char *arg);

/* Compute every vhost's scope id and policy hash; refuse (naming
 * JPKISessionScope) a shared scope whose hosts differ in policy. */
int jpki_scope_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* The canonical policy description (one "Directive value" line each). */
const char *jpki_scope_describe(apr_pool_t *p, const jpki_srv_cfg_t *c);

/* This host's scope id and policy hash (hex); never NULL after check_config. */
const char *jpki_scope_id(const jpki_srv_cfg_t *c);
const char *jpki_scope_policy(const jpki_srv_cfg_t *c);

#endif
