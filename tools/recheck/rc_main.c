/*
 * jpki-recheck: command line and signals. The run itself is rc_run.c.
 */
#include "recheck.h"
#include "rc_run.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: jpki-recheck --config FILE [--dry-run] [--limit N] [--reset]\n"
          "                    [--cap YEN] [--rate CHECKS_PER_S] [--checkpoint FILE]\n"
          "                    [--report-jsonl FILE] [--report-csv FILE] [--set KEY=VALUE]\n"
          "                    [--verbose] [--version] [--help]\n"
          "Re-checks the certificates of the registered accounts (docs/recheck.md).\n"
          "Exit: 0 done, 2 configuration, 3 cost cap reached, 4 provider down,\n"
          "      5 database, 6 interrupted (resume by running again), 1 internal.\n",
          f);
}

/* --set: any setting except the database parameters, which may carry a
 * password (secrets come from files, never from the command line). */
static int set_opt(apr_pool_t *p, rc_conf_t *c, const char *kv, const char **err)
{
    char *k = apr_pstrdup(p, kv), *eq = strchr(k, '=');
    if (eq == NULL) {
        *err = "--set: expected KEY=VALUE";
        return -1;
    }
    *eq = '\0';
    if (strcmp(k, "database_params") == 0) {
        *err = "--set database_params: not on the command line (it may hold a password; "
               "put it in the configuration file)";
        return -1;
    }
    return rc_conf_set(p, c, k, eq + 1, err);
}

static const struct option longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"dry-run", no_argument, NULL, 'n'},
    {"limit", required_argument, NULL, 'l'},
    {"reset", no_argument, NULL, 'R'},
    {"cap", required_argument, NULL, 'C'},
    {"rate", required_argument, NULL, 'r'},
    {"checkpoint", required_argument, NULL, 'k'},
    {"report-jsonl", required_argument, NULL, 'j'},
    {"report-csv", required_argument, NULL, 'v' + 256},
    {"set", required_argument, NULL, 's'},
    {"verbose", no_argument, NULL, 'V'},
    {"version", no_argument, NULL, 'w'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *opt_key(int o)
{
    switch (o) {
    case 'l':
        return "limit";
    case 'C':
        return "cost_cap_yen";
    case 'r':
        return "rate";
    case 'k':
        return "checkpoint";
    case 'j':
        return "report_jsonl";
    case 'v' + 256:
        return "report_csv";
    default:
        return NULL;
    }
}

/* 0 to run, else the exit code (-1: exit 0 after --version/--help). */
static int parse(apr_pool_t *p, int argc, char **argv, rc_conf_t *c)
{
    const char *err = NULL, *config = NULL;
    int o;
    apr_array_header_t *later = apr_array_make(p, 8, sizeof(const char *));
    while ((o = getopt_long(argc, argv, "c:nl:RC:r:k:j:s:Vwh", longopts, NULL)) != -1) {
        if (o == 'w' || o == 'h') {
            o == 'w' ? printf("jpki-recheck %s\n", RC_VERSION) : usage(stdout);
            return -1;
        }
        if (o == '?') {
            usage(stderr);
            return RC_EXIT_CONFIG;
        }
        if (o == 'c') {
            config = optarg;
        } else if (o == 'n' || o == 'R' || o == 'V') {
            *(o == 'n' ? &c->dry_run : o == 'R' ? &c->reset : &c->verbose) = 1;
        } else {
            /* applied after the file, so the command line wins */
            const char *k = opt_key(o);
            APR_ARRAY_PUSH(later, const char *) = k ? apr_pstrcat(p, k, "=", optarg, NULL) : optarg;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "jpki-recheck: unexpected argument '%s'\n", argv[optind]);
        return RC_EXIT_CONFIG;
    }
    if (config == NULL) {
        fputs("jpki-recheck: --config FILE is required\n", stderr);
        return RC_EXIT_CONFIG;
    }
    if (rc_conf_file(p, c, config, &err) < 0) {
        fprintf(stderr, "jpki-recheck: configuration error: %s\n", err);
        return RC_EXIT_CONFIG;
    }
    for (o = 0; o < later->nelts; o++) {
        if (set_opt(p, c, APR_ARRAY_IDX(later, o, const char *), &err) < 0) {
            fprintf(stderr, "jpki-recheck: configuration error: %s\n", err);
            return RC_EXIT_CONFIG;
        }
    }
    if (rc_conf_check(p, c, &err) < 0) {
        fprintf(stderr, "jpki-recheck: configuration error: %s\n", err);
        return RC_EXIT_CONFIG;
    }
    return 0;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    rc_conf_t c;
    int rv;
    if (apr_app_initialize(&argc, (const char *const **)&argv, NULL) != APR_SUCCESS ||
        apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return RC_EXIT_INTERNAL;
    }
    atexit(apr_terminate);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc_conf_defaults(&c);
    rv = parse(p, argc, argv, &c);
    if (rv != 0) {
        return rv < 0 ? RC_EXIT_DONE : rv;
    }
    rv = rc_run(p, &c);
    apr_pool_destroy(p);
    curl_global_cleanup();
    return rv;
}
