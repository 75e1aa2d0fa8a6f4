/* jpki-recheck: the run (cost cap, rate limit, checkpoint). */
#ifndef JPKI_RC_RUN_H
#define JPKI_RC_RUN_H

#include "recheck.h"

/* Runs the re-check described by c; returns the process exit code. */
int rc_run(apr_pool_t *p, rc_conf_t *c);

#endif
