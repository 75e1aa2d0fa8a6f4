/*
 * mod_jpki: common declarations for the httpd-facing files.
 *
 * Log tags: every ap_log_* message starts with JPKI_LOGNO(nnnn). Number
 * ranges by area (kept when the files moved into floors): 0001-0099
 * mod_jpki.c and web/jpki_tls*, 0100-0199 cfg/, 0200-0299 authn and the
 * login pipeline, 0300-0399 challenge and origin, 0400-0499 session,
 * 0500-0699 status (steps/status, cfg/jpki_cfg_status.c), 0700-0799 account,
 * 0800-0899 identity, 0900-0999 audit, 1000-1099 metrics, 1100-1199 cache.
 *
 * Floors (docs/design.md): core/ -> cfg/ -> infra/ -> steps/ -> login/ ->
 * web/ -> mod_jpki.c; a file includes and calls only its own floor and the
 * ones below (scripts/check-layout.pl, run by make check).
 */
#ifndef JPKI_H
#define JPKI_H

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_socache.h"
#include "apr_global_mutex.h"
#include "apr_strings.h"
#include "apr_lib.h"

/* AP_DECLARE_MODULE in mod_jpki.c declares the log index itself. */
#ifndef JPKI_MODULE_FILE
APLOG_USE_MODULE(jpki);
#endif
extern module AP_MODULE_DECLARE_DATA jpki_module;

#define JPKI_LOGNO(n) "JPKI" #n ": "

/* A configuration field nobody set (cfg/ applies the default). */
#define JPKI_UNSET     -1
#define JPKI_UNSET_PTR NULL

#endif
