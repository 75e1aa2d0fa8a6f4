/*
 * The configuration: a "key = value" file (docs/recheck.md) and
 * command-line overrides. Secrets (the platform token, database
 * passwords) come from files only, never from the command line.
 */
#include "recheck.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rc_conf_defaults(rc_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    c->pf_check_method = "CHECK_METHOD_OCSP";
    c->ocsp_nonce = 1;
    c->ocsp_skew = 300;
    c->ocsp_max_age = -1;
    c->fee_auth = 2;
    c->fee_sign = 20;
    c->fee_user = 20;
    c->cap_yen = -1;
    c->rate = 10;
    c->timeout_ms = 10000;
    c->max_failures = 5;
    return 0;
}

static int num(const char *v, long lo, long hi, long *out)
{
    char *end;
    long n;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        return 0;
    }
    *out = n;
    return 1;
}

static int set_num(const char *key, const char *v, long lo, long hi, long *out, const char **err,
                   apr_pool_t *p)
{
    if (!num(v, lo, hi, out)) {
        *err = apr_psprintf(p, "%s: expected a whole number from %ld to %ld", key, lo, hi);
        return -1;
    }
    return 0;
}

static int set_rate(apr_pool_t *p, rc_conf_t *c, const char *v, const char **err)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d >= 0 && d <= 10000)) {
        *err = apr_psprintf(p, "rate: expected checks per second from 0 (no limit) to 10000");
        return -1;
    }
    c->rate = d;
    return 0;
}

static int set_bool(apr_pool_t *p, const char *key, const char *v, int *out, const char **err)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
    } else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
    } else {
        *err = apr_psprintf(p, "%s: expected on or off", key);
        return -1;
    }
    return 0;
}

/* String-valued keys: name -> field offset. */
static const struct {
    const char *key;
    size_t off;
} str_keys[] = {
    {"database_driver", offsetof(rc_conf_t, db_driver)},
    {"database_params", offsetof(rc_conf_t, db_params)},
    {"provider", offsetof(rc_conf_t, provider)},
    {"platform_url", offsetof(rc_conf_t, pf_url)},
    {"platform_token_file", offsetof(rc_conf_t, pf_token_file)},
    {"platform_ca", offsetof(rc_conf_t, pf_ca)},
    {"platform_client_cert", offsetof(rc_conf_t, pf_client_cert)},
    {"platform_client_key", offsetof(rc_conf_t, pf_client_key)},
    {"ocsp_url", offsetof(rc_conf_t, ocsp_url)},
    {"ocsp_ca", offsetof(rc_conf_t, ocsp_ca)},
    {"roots", offsetof(rc_conf_t, roots)},
    {"ocsp_signers", offsetof(rc_conf_t, ocsp_signers)},
    {"crl_index_dir", offsetof(rc_conf_t, crl_index_dir)},
    {"checkpoint", offsetof(rc_conf_t, checkpoint)},
    {"report_jsonl", offsetof(rc_conf_t, report_jsonl)},
    {"report_csv", offsetof(rc_conf_t, report_csv)},
};

static int set_long_key(apr_pool_t *p, rc_conf_t *c, const char *key, const char *val,
                        const char **err)
{
    long n;
    if (strcmp(key, "cost_cap_yen") == 0) {
        return set_num(key, val, 0, 1000000000L, &c->cap_yen, err, p);
    }
    if (strcmp(key, "timeout_ms") == 0) {
        return set_num(key, val, 100, 600000, &c->timeout_ms, err, p);
    }
    if (strcmp(key, "ocsp_skew") == 0) {
        return set_num(key, val, 0, 86400, &c->ocsp_skew, err, p);
    }
    if (strcmp(key, "ocsp_max_age") == 0) {
        return set_num(key, val, -1, 86400 * 30, &c->ocsp_max_age, err, p);
    }
    if (strcmp(key, "limit") == 0) {
        return set_num(key, val, 0, 1000000000L, &c->limit, err, p);
    }
    if (strcmp(key, "fee_auth") == 0 || strcmp(key, "fee_sign") == 0 ||
        strcmp(key, "fee_user") == 0) {
        int *f = key[4] == 'a' ? &c->fee_auth : key[4] == 's' ? &c->fee_sign : &c->fee_user;
        if (set_num(key, val, 0, 100000, &n, err, p) < 0) {
            return -1;
        }
        *f = (int)n;
        return 0;
    }
    if (strcmp(key, "max_failures") == 0) {
        if (set_num(key, val, 1, 100000, &n, err, p) < 0) {
            return -1;
        }
        c->max_failures = (int)n;
        return 0;
    }
    return 1; /* not a numeric key */
}

int rc_conf_set(apr_pool_t *p, rc_conf_t *c, const char *key, const char *val, const char **err)
{
    size_t i;
    int rv;
    for (i = 0; i < sizeof(str_keys) / sizeof(str_keys[0]); i++) {
        if (strcmp(key, str_keys[i].key) == 0) {
            *(const char **)((char *)c + str_keys[i].off) = apr_pstrdup(p, val);
            return 0;
        }
    }
    if (strcmp(key, "rate") == 0) {
        return set_rate(p, c, val, err);
    }
    if (strcmp(key, "ocsp_nonce") == 0) {
        return set_bool(p, key, val, &c->ocsp_nonce, err);
    }
    if (strcmp(key, "platform_check_method") == 0) {
        if (strcmp(val, "ocsp") != 0 && strcmp(val, "crl") != 0) {
            *err = "platform_check_method: expected ocsp or crl";
            return -1;
        }
        c->pf_check_method = val[0] == 'o' ? "CHECK_METHOD_OCSP" : "CHECK_METHOD_CRL";
        return 0;
    }
    rv = set_long_key(p, c, key, val, err);
    if (rv <= 0) {
        return rv;
    }
    *err = apr_psprintf(p, "unknown setting '%s'", key);
    return -1;
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s)) {
        s++;
    }
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) {
        *--e = '\0';
    }
    return s;
}

int rc_conf_file(apr_pool_t *p, rc_conf_t *c, const char *path, const char **err)
{
    char line[4096];
    FILE *f = fopen(path, "r");
    int n = 0;
    if (f == NULL) {
        *err = apr_psprintf(p, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s = trim(line), *eq;
        const char *e2;
        n++;
        if (*s == '\0' || *s == '#') {
            continue;
        }
        eq = strchr(s, '=');
        if (eq == NULL) {
            *err = apr_psprintf(p, "%s line %d: expected 'key = value'", path, n);
            fclose(f);
            return -1;
        }
        *eq = '\0';
        if (rc_conf_set(p, c, trim(s), trim(eq + 1), &e2) < 0) {
            *err = apr_psprintf(p, "%s line %d: %s", path, n, e2);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

/* A secret from a file (token): trimmed, non-empty, not world-readable
 * is advised but not enforced (the operator's choice). */
char *rc_read_secret(apr_pool_t *p, const char *path, const char **err)
{
    char *buf;
    apr_size_t len;
    apr_file_t *f;
    apr_finfo_t fi;
    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS ||
        apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS || fi.size > 4096) {
        *err = apr_psprintf(p, "%s: cannot read (missing, unreadable or over 4 KiB)", path);
        return NULL;
    }
    len = (apr_size_t)fi.size;
    buf = apr_palloc(p, len + 1);
    if (len > 0 && apr_file_read_full(f, buf, len, &len) != APR_SUCCESS) {
        *err = apr_psprintf(p, "%s: read error", path);
        return NULL;
    }
    buf[len] = '\0';
    apr_file_close(f);
    buf = trim(buf);
    if (*buf == '\0') {
        *err = apr_psprintf(p, "%s: empty", path);
        return NULL;
    }
    return buf;
}

static const char *need(apr_pool_t *p, const char *v, const char *key, const char *why)
{
    return v != NULL && *v != '\0' ? NULL : apr_psprintf(p, "%s is required%s", key, why);
}

int rc_conf_check(apr_pool_t *p, rc_conf_t *c, const char **err)
{
    const char *e = need(p, c->db_driver, "database_driver", " (sqlite3 or pgsql)");
    e = e ? e : need(p, c->db_params, "database_params", "");
    e = e ? e : need(p, c->provider, "provider", " (platform, ocsp or crl)");
    e = e ? e : need(p, c->checkpoint, "checkpoint", " (a file the run may rewrite)");
    if (e == NULL && strcmp(c->db_driver, "sqlite3") != 0 && strcmp(c->db_driver, "pgsql") != 0) {
        e = apr_psprintf(p, "database_driver: '%s' is not sqlite3 or pgsql", c->db_driver);
    }
    if (e == NULL && c->cap_yen < 0) {
        e = "cost_cap_yen is required (the most yen one run may spend; 0 = check nothing)";
    }
    if (e == NULL && c->report_jsonl == NULL && c->report_csv == NULL) {
        e = "report_jsonl or report_csv is required (where the results go)";
    }
    if (e == NULL && strcmp(c->provider, "platform") == 0) {
        e = need(p, c->pf_url, "platform_url", " with provider = platform");
        e = e ? e : need(p, c->pf_token_file, "platform_token_file", " with provider = platform");
        if (e == NULL && strncmp(c->pf_url, "https://", 8) != 0) {
            e = "platform_url: must be https://";
        }
    } else if (e == NULL && strcmp(c->provider, "ocsp") == 0) {
        e = need(p, c->ocsp_url, "ocsp_url", " with provider = ocsp");
        e = e ? e : need(p, c->roots, "roots", " with provider = ocsp (issuer certificates)");
    } else if (e == NULL && strcmp(c->provider, "crl") == 0) {
        e = need(p, c->crl_index_dir, "crl_index_dir",
                 " with provider = crl (the JPKICRLIndexDir that jpki-crl-index writes)");
    } else if (e == NULL) {
        e = apr_psprintf(p, "provider: '%s' is not platform, ocsp or crl", c->provider);
    }
    *err = e;
    return e ? -1 : 0;
}
