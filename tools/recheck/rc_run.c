/*
 * The run: accounts in order from the checkpoint, the cost cap (an
 * account is started only when its worst-case cost still fits, so the cap
 * is never passed, not even by one check), the rate limit (checks spaced
 * 1/rate apart), and the checkpoint written before an account's first
 * check: a run killed at any point resumes after that account and never
 * pays for it twice.
 */
#include "rc_run.h"

#include <apr_strings.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define RC_PAGE 500

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

typedef struct run_t {
    rc_conf_t *c;
    rc_provider_t pv;
    rc_db_t *db;
    rc_report_t rep;
    rc_ckpt_t ck;
    long yen;                  /* spent (or reserved by the pending account) in this run */
    long checks;               /* provider calls in this run */
    long accounts;             /* accounts finished by this process */
    int failures;              /* consecutive accounts the provider did not answer */
    char before_failures[256]; /* checkpoint position before that streak */
    apr_time_t next_check;
    apr_time_t started;
    long counts[9];
} run_t;

static const char *const categories[] = {
    "unchanged",
    "renewed",
    "name_or_address_changed",
    "card_lost_or_suspended",
    "died_or_emigrated",
    "expired",
    "revoked_other",
    "unknown",
    NULL,
};

static void count(run_t *r, const char *cat)
{
    int i;
    for (i = 0; categories[i] != NULL; i++) {
        if (strcmp(categories[i], cat) == 0) {
            r->counts[i]++;
        }
    }
}

/* Wait until the next check may start (rate limit). */
static void pace(run_t *r)
{
    apr_time_t now = apr_time_now();
    if (r->c->rate <= 0) {
        return;
    }
    if (r->next_check > now) {
        apr_sleep(r->next_check - now);
        now = apr_time_now();
    }
    r->next_check =
        (r->next_check > now ? r->next_check : now) + (apr_interval_time_t)(1e6 / r->c->rate);
}

static void check_one(run_t *r, apr_pool_t *p, const rc_account_t *a, const char *serial,
                      const char *type, rc_answer_t *out)
{
    int yen = 0;
    pace(r);
    r->pv.check(&r->pv, p, a, serial, type, out, &yen);
    r->yen += yen;
    r->checks += yen > 0;
}

/* Every check of one account; the result in res. 1 if the provider
 * answered nothing because it is down. */
static int check_account(run_t *r, apr_pool_t *p, const rc_account_t *a, rc_result_t *res)
{
    rc_answer_t au, si;
    memset(&si, 0, sizeof(si));
    if (r->pv.per_user) {
        check_one(r, p, a, NULL, NULL, &au);
        rc_classify_user(&au, res);
        return au.down;
    }
    if (a->auth == NULL) {
        memset(&au, 0, sizeof(au));
        au.status = RC_NOANSWER;
        au.error = "no_auth_certificate";
        rc_classify(&au, &si, 0, res);
        return 0;
    }
    check_one(r, p, a, a->auth, "auth", &au);
    if (a->sign != NULL && rc_need_sign(&au)) {
        check_one(r, p, a, a->sign, "sign", &si);
    }
    rc_classify(&au, &si, a->sign != NULL && rc_need_sign(&au), res);
    return au.down || si.down;
}

static int save(run_t *r, apr_pool_t *p, const char *last, const char *state)
{
    const char *err;
    if (r->c->dry_run) {
        return 0;
    }
    apr_cpystrn(r->ck.last, last, sizeof(r->ck.last));
    apr_cpystrn(r->ck.state, state, sizeof(r->ck.state));
    r->ck.yen = r->yen;
    r->ck.checks = r->checks;
    if (rc_ckpt_save(p, r->c->checkpoint, &r->ck, &err) < 0) {
        rc_log("error", "%s", err);
        return -1;
    }
    return 0;
}

/* Record one account's result: database, reports, log. */
static int record(run_t *r, apr_pool_t *p, const rc_account_t *a, const rc_result_t *res)
{
    const char *at = rc_now_iso(p), *err;
    count(r, res->category);
    if (r->c->verbose) {
        rc_log("info", "account=%s category=%s reason=%s", a->account, res->category,
               res->reason ? res->reason : "-");
    }
    if (rc_db_write_result(r->db, p, a->account, res->category, res->status, res->reason, at,
                           &err) < 0) {
        rc_log("error", "%s", err);
        return RC_EXIT_DB;
    }
    if (rc_report_write(&r->rep, a->account, res, at) < 0) {
        rc_log("error", "cannot write the report");
        return RC_EXIT_INTERNAL;
    }
    return 0;
}

/* One account: cap, checkpoint, checks, result. 0 to go on, else an exit code. */
static int do_account(run_t *r, apr_pool_t *p, const rc_account_t *a, const char *prev)
{
    rc_result_t res;
    long worst = r->pv.worst_cost(&r->pv, a);
    if (r->yen + worst > r->c->cap_yen) {
        rc_log("notice",
               "cost cap reached: %ld yen spent, the next account could cost %ld, "
               "cap %ld",
               r->yen, worst, r->c->cap_yen);
        return save(r, p, prev, "capped") < 0 ? RC_EXIT_INTERNAL : RC_EXIT_CAP;
    }
    if (r->c->dry_run) {
        r->yen += worst;
        r->accounts++;
        return 0;
    }
    if (r->failures == 0) {
        apr_cpystrn(r->before_failures, prev, sizeof(r->before_failures));
    }
    /* Paid before asked: the reservation and the account are on disk first. */
    r->yen += worst;
    if (save(r, p, a->account, "running") < 0) {
        return RC_EXIT_INTERNAL;
    }
    r->yen -= worst;
    r->failures = check_account(r, p, a, &res) ? r->failures + 1 : 0;
    r->accounts++;
    return record(r, p, a, &res);
}

/* Walk the pages from the checkpoint; the exit code. */
static int walk(run_t *r, apr_pool_t *parent)
{
    char after[256];
    apr_pool_t *p;
    int rv = 0, i, n;
    apr_cpystrn(after, r->ck.last, sizeof(after));
    apr_pool_create(&p, parent);
    for (;;) {
        apr_array_header_t *page;
        const char *err;
        apr_pool_clear(p);
        n = rc_db_page(r->db, p, after, RC_PAGE, &page, &err);
        if (n < 0) {
            rc_log("error", "%s", err);
            return RC_EXIT_DB;
        }
        for (i = 0; i < n && rv == 0; i++) {
            const rc_account_t *a = &APR_ARRAY_IDX(page, i, rc_account_t);
            if (stop_signal) {
                rc_log("notice", "signal %d: stopping; run again to resume", (int)stop_signal);
                return save(r, p, after, "running") < 0 ? RC_EXIT_INTERNAL : RC_EXIT_INTERRUPTED;
            }
            if (r->c->limit > 0 && r->accounts >= r->c->limit) {
                return save(r, p, after, "paused") < 0 ? RC_EXIT_INTERNAL : RC_EXIT_DONE;
            }
            rv = do_account(r, p, a, after);
            if (r->failures >= r->c->max_failures) {
                rc_log("error",
                       "provider down: %d accounts in a row without an answer; "
                       "they will be checked again when the run resumes",
                       r->failures);
                return save(r, p, r->before_failures, "running") < 0 ? RC_EXIT_INTERNAL
                                                                     : RC_EXIT_PROVIDER;
            }
            apr_cpystrn(after, a->account, sizeof(after));
        }
        if (rv != 0 || n < RC_PAGE) {
            break;
        }
    }
    if (rv == 0) {
        rv = save(r, p, after, "done") < 0 ? RC_EXIT_INTERNAL : RC_EXIT_DONE;
    }
    apr_pool_destroy(p);
    return rv;
}

static void summary(run_t *r, int rv)
{
    double s = (double)(apr_time_now() - r->started) / 1e6;
    int i;
    printf("{\"exit\":%d,\"dry_run\":%s,\"accounts\":%ld,\"checks\":%ld,\"yen\":%ld,"
           "\"cap_yen\":%ld,\"seconds\":%.3f,\"accounts_per_s\":%.1f,\"categories\":{",
           rv, r->c->dry_run ? "true" : "false", r->accounts, r->checks, r->yen, r->c->cap_yen, s,
           s > 0 ? (double)r->accounts / s : 0.0);
    for (i = 0; categories[i] != NULL; i++) {
        printf("%s\"%s\":%ld", i ? "," : "", categories[i], r->counts[i]);
    }
    printf("}}\n");
    fflush(stdout);
    rc_log("info", "exit %d: %ld accounts, %ld checks, %ld yen of %ld, %.1f s", rv, r->accounts,
           r->checks, r->yen, r->c->cap_yen, s);
}

/* Checkpoint: resume a run (running), continue after a capped/paused one
 * with a new budget, or start again after a finished one. */
static int start_from(run_t *r)
{
    const char *err;
    int have = r->c->reset ? 0 : rc_ckpt_load(r->c->checkpoint, &r->ck, &err);
    if (have < 0) {
        rc_log("error", "%s", err);
        return RC_EXIT_CONFIG;
    }
    if (have == 0 || strcmp(r->ck.state, "done") == 0) {
        memset(&r->ck, 0, sizeof(r->ck));
    } else if (strcmp(r->ck.state, "running") == 0) {
        r->yen = r->ck.yen;
        r->checks = r->ck.checks;
        rc_log("notice", "resuming an interrupted run after the checkpoint (%ld yen spent)",
               r->yen);
    }
    return 0;
}

static int open_all(run_t *r, apr_pool_t *p)
{
    const char *err = NULL;
    if (r->pv.init(&r->pv, r->c, p, &err) < 0) {
        fprintf(stderr, "jpki-recheck: configuration error: %s\n", err);
        return RC_EXIT_CONFIG;
    }
    r->db = rc_db_open(p, r->c, &err);
    if (r->db == NULL) {
        rc_log("error", "%s", err);
        return RC_EXIT_DB;
    }
    if (!r->c->dry_run && rc_report_open(r->c, &r->rep, &err) < 0) {
        fprintf(stderr, "jpki-recheck: configuration error: cannot open the report %s\n", err);
        return RC_EXIT_CONFIG;
    }
    return start_from(r);
}

int rc_run(apr_pool_t *p, rc_conf_t *c)
{
    run_t r;
    struct sigaction sa;
    int rv;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.pv = strcmp(c->provider, "ocsp") == 0  ? rc_provider_ocsp
           : strcmp(c->provider, "crl") == 0 ? rc_provider_crl
                                             : rc_provider_platform;
    r.started = apr_time_now();
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rv = open_all(&r, p);
    if (rv == 0) {
        rv = walk(&r, p);
    }
    rc_report_close(&r.rep);
    rc_db_close(r.db);
    summary(&r, rv);
    return rv;
}
