/*
 * The checkpoint (written atomically: temporary file, fsync, rename, fsync
 * of the directory), the reports (JSON lines and CSV, appended so a
 * resumed run continues them) and the log. Nothing here holds personal
 * data: account ids, categories, reason codes, times and counters.
 */
#include "recheck.h"

#include <apr_strings.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void rc_log(const char *level, const char *fmt, ...)
{
    va_list ap;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s jpki-recheck[%d] %s: ", when, (int)getpid(), level);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *rc_now_iso(apr_pool_t *p)
{
    apr_time_exp_t t;
    apr_time_t now = apr_time_now();
    apr_time_exp_gmt(&t, now);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1,
                        t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_usec / 1000);
}

int rc_ckpt_load(const char *path, rc_ckpt_t *ck, const char **err)
{
    json_error_t je;
    json_t *o, *last, *yen, *checks, *state;
    memset(ck, 0, sizeof(*ck));
    if (access(path, F_OK) != 0) {
        return 0; /* no checkpoint: a fresh run */
    }
    o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    last = json_object_get(o, "last");
    yen = json_object_get(o, "yen");
    checks = json_object_get(o, "checks");
    state = json_object_get(o, "state");
    if (!json_is_string(last) || !json_is_integer(yen) || !json_is_integer(checks) ||
        !json_is_string(state) || strlen(json_string_value(last)) >= sizeof(ck->last) ||
        strlen(json_string_value(state)) >= sizeof(ck->state)) {
        *err = "the checkpoint file is unreadable or not a jpki-recheck checkpoint "
               "(remove it, or run with --reset, to start from the first account)";
        json_decref(o);
        return -1;
    }
    strcpy(ck->last, json_string_value(last));
    strcpy(ck->state, json_string_value(state));
    ck->yen = (long)json_integer_value(yen);
    ck->checks = (long)json_integer_value(checks);
    json_decref(o);
    return 1;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int rc_ckpt_save(apr_pool_t *p, const char *path, const rc_ckpt_t *ck, const char **err)
{
    json_t *o = json_pack("{s:s,s:I,s:I,s:s}", "last", ck->last, "yen", (json_int_t)ck->yen,
                          "checks", (json_int_t)ck->checks, "state", ck->state);
    char *s = json_dumps(o, JSON_COMPACT);
    const char *tmp = apr_pstrcat(p, path, ".tmp", NULL);
    char *dir = dirname(apr_pstrdup(p, path));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), dfd, ok;
    json_decref(o);
    ok = fd >= 0 && s != NULL && write_all(fd, s, strlen(s)) == 0 && write_all(fd, "\n", 1) == 0 &&
         fsync(fd) == 0;
    free(s);
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    if (!ok || rename(tmp, path) != 0) {
        *err = apr_psprintf(p, "cannot write the checkpoint %s: %s", path, strerror(errno));
        return -1;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int rc_report_open(const rc_conf_t *c, rc_report_t *r, const char **err)
{
    memset(r, 0, sizeof(*r));
    if (c->report_jsonl != NULL && (r->jsonl = fopen(c->report_jsonl, "a")) == NULL) {
        *err = c->report_jsonl;
        return -1;
    }
    if (c->report_csv != NULL) {
        int fresh;
        if ((r->csv = fopen(c->report_csv, "a")) == NULL) {
            *err = c->report_csv;
            return -1;
        }
        fresh = ftell(r->csv) == 0;
        if (fresh) {
            fputs("account,category,status,reason,action,checked_at\r\n", r->csv);
        }
    }
    return 0;
}

/* One CSV field, quoted (RFC 4180); a leading = + - @ tab or CR is
 * prefixed with ' so a spreadsheet never runs it as a formula. */
static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    if (s != NULL && strchr("=+-@\t\r", *s) != NULL && *s != '\0') {
        fputc('\'', f);
    }
    for (; s != NULL && *s; s++) {
        if (*s == '"') {
            fputc('"', f);
        }
        fputc(*s, f);
    }
    fputc('"', f);
}

int rc_report_write(rc_report_t *r, const char *account, const rc_result_t *res, const char *at)
{
    int bad = 0;
    if (r->jsonl != NULL) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:s}", "account", account, "category",
                              res->category, "status", res->status, "reason", res->reason, "action",
                              res->action, "checked_at", at);
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        bad |= s == NULL || fprintf(r->jsonl, "%s\n", s) < 0 || fflush(r->jsonl) != 0;
        free(s);
        json_decref(o);
    }
    if (r->csv != NULL) {
        const char *f[6] = {account, res->category, res->status, res->reason, res->action, at};
        int i;
        for (i = 0; i < 6; i++) {
            if (i > 0) {
                fputc(',', r->csv);
            }
            csv_field(r->csv, f[i]);
        }
        bad |= fputs("\r\n", r->csv) < 0 || fflush(r->csv) != 0;
    }
    return bad ? -1 : 0;
}

void rc_report_close(rc_report_t *r)
{
    if (r->jsonl != NULL) {
        fclose(r->jsonl);
    }
    if (r->csv != NULL) {
        fclose(r->csv);
    }
}
