/* jpki-card-helper: options, the configuration file and start-up
 * (docs/card-helper.md "The helper program"). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "jch.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef JCH_DEFAULT_MODULE
#define JCH_DEFAULT_MODULE "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so"
#endif

typedef struct {
    jpki_ch_server_t srv;
    jpki_ch_card_t card;
    char *module;
    int lifetime;
} opts_t;

static void usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "%s: %s\n", JCH_NAME, msg);
    fprintf(stderr,
            "usage: %s [--config FILE] [--origin https://site[:port]]... [options]\n"
            "  --origin URL       a login page allowed to ask for a signature (repeatable)\n"
            "  --port N           listen on 127.0.0.1:N (default 25999; 0 = any free port)\n"
            "  --module PATH      PKCS#11 module (default %s)\n"
            "  --pinentry PROG    pinentry program (default pinentry)\n"
            "  --pin-timeout SEC  seconds to enter the PIN (default 60)\n"
            "  --pin-digits N     PIN length checked before the card is asked (default 4;\n"
            "                     0 = any)\n"
            "  --config FILE      read 'option value' lines (default\n"
            "                     $XDG_CONFIG_HOME/jpki-card-helper/config, then\n"
            "                     /etc/jpki-card-helper.conf)\n",
            JCH_NAME, JCH_DEFAULT_MODULE);
    exit(2);
}

static long num(const char *name, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < lo || n > hi) {
        fprintf(stderr, "%s: %s must be a number from %ld to %ld\n", JCH_NAME, name, lo, hi);
        exit(2);
    }
    return n;
}

static void set(opts_t *o, const char *name, const char *v)
{
    if (!strcmp(name, "origin")) {
        if (!jpki_ch_origin_valid(v)) {
            fprintf(stderr, "%s: origin %s must be https://host[:port] (http only for localhost)\n",
                    JCH_NAME, v);
            exit(2);
        }
        if (o->srv.norigins == JCH_MAX_ORIGINS)
            usage("too many origins");
        o->srv.origins[o->srv.norigins++] = strdup(v);
    } else if (!strcmp(name, "port"))
        o->srv.port = (unsigned)num("port", v, 0, 65535);
    else if (!strcmp(name, "module"))
        free(o->module), o->module = strdup(v);
    else if (!strcmp(name, "pinentry"))
        o->card.pinentry.program = strdup(v);
    else if (!strcmp(name, "pin-timeout"))
        o->card.pinentry.timeout = (int)num("pin-timeout", v, 5, 600);
    else if (!strcmp(name, "pin-digits"))
        o->card.pin_digits = (int)num("pin-digits", v, 0, 16);
    else if (!strcmp(name, "lifetime"))
        o->lifetime = (int)num("lifetime", v, 0, 86400);
    else {
        fprintf(stderr, "%s: unknown option %s\n", JCH_NAME, name);
        exit(2);
    }
}

static int read_config(opts_t *o, const char *path, int must)
{
    char line[512];
    int lineno = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (must) {
            fprintf(stderr, "%s: %s: %s\n", JCH_NAME, path, strerror(errno));
            exit(2);
        }
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        char *k = line + strspn(line, " \t"), *v;
        lineno++;
        k[strcspn(k, "\r\n")] = '\0';
        if (!*k || *k == '#')
            continue;
        v = k + strcspn(k, " \t");
        if (*v)
            *v++ = '\0';
        v += strspn(v, " \t");
        for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = '\0';
        if (!*v) {
            fprintf(stderr, "%s: %s:%d: %s needs a value\n", JCH_NAME, path, lineno, k);
            exit(2);
        }
        set(o, k, v);
    }
    fclose(f);
    return 1;
}

static void parse_args(opts_t *o, int argc, char **argv)
{
    static const struct option lo[] = {{"config", 1, 0, 'c'},     {"origin", 1, 0, 'o'},
                                       {"port", 1, 0, 'p'},       {"module", 1, 0, 'm'},
                                       {"pinentry", 1, 0, 'e'},   {"pin-timeout", 1, 0, 't'},
                                       {"pin-digits", 1, 0, 'd'}, {"lifetime", 1, 0, 'l'},
                                       {"help", 0, 0, 'h'},       {0, 0, 0, 0}};
    const char *config = NULL;
    int c, idx = 0;

    for (int i = 1; i < argc; i++) /* the config file first; options override it */
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            config = argv[i] + 9;
    if (config) {
        read_config(o, config, 1);
    } else {
        char path[1024];
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        if (xdg && *xdg)
            snprintf(path, sizeof path, "%s/jpki-card-helper/config", xdg);
        else
            snprintf(path, sizeof path, "%s/.config/jpki-card-helper/config", home ? home : "/");
        if (!read_config(o, path, 0))
            read_config(o, "/etc/jpki-card-helper.conf", 0);
    }
    while ((c = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
        if (c == 'h' || c == '?')
            usage(NULL);
        if (c != 'c')
            set(o, lo[idx].name, optarg);
    }
    if (optind < argc)
        usage("unexpected arguments");
    if (o->srv.norigins == 0)
        usage("no origin is allowed: give --origin or an 'origin' line in the config file");
}

int main(int argc, char **argv)
{
    opts_t o = {.srv.port = 25999, .card.pinentry = {"pinentry", 60}, .card.pin_digits = 4};
    const char *err = NULL;
    sigset_t sigs;
    struct timespec life;
    int sig;

    o.module = strdup(JCH_DEFAULT_MODULE);
    parse_args(&o, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any thread starts */

    if (!(o.card.p11 = jpki_ch_p11_open(o.module, &err))) {
        jpki_ch_log("%s: %s", o.module, err);
        return 1;
    }
    o.srv.card = &o.card;
    if (!jpki_ch_http_start(&o.srv, &err)) {
        jpki_ch_log("port %u: %s", o.srv.port, err);
        jpki_ch_p11_close(o.card.p11);
        return 1;
    }
    for (int i = 0; i < o.srv.norigins; i++)
        jpki_ch_log("allowed origin %s", o.srv.origins[i]);
    jpki_ch_log("module %s", o.module);
    printf("listening on http://127.0.0.1:%u\n", o.srv.port);
    fflush(stdout);

    life.tv_sec = o.lifetime;
    life.tv_nsec = 0;
    do
        sig = o.lifetime ? sigtimedwait(&sigs, NULL, &life) : sigwaitinfo(&sigs, NULL);
    while (sig < 0 && errno == EINTR);
    jpki_ch_log("stopping");
    jpki_ch_http_stop();
    jpki_ch_p11_close(o.card.p11);
    return 0;
}
