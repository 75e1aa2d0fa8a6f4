/*
 * jpki-crl-index: verify JPKI CRLs against the trust anchors and write the
 * index mod_jpki memory-maps (JPKIStatusProvider crl, JPKICRLIndexDir).
 * Reads CRL files (DER or PEM) or fetches them over HTTPS (libcurl). Run
 * from cron or a systemd timer; docs/status.md, man/jpki-crl-index.1.
 *
 * Exit: 0 index written (or --show/--lookup answered), 1 a CRL was refused
 * or the index is not valid (nothing written), 2 usage or I/O error.
 */
#include "core/jpki_cert.h"
#include "core/jpki_crl.h"
#include "core/jpki_status_core.h"
#include "core/jpki_util.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <openssl/err.h>

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    apr_pool_t *p;
    jpki_trust_t *trust;
    const char *out, *ca_file, *show, *lookup;
    apr_array_header_t *urls;
    long skew, connect_s, timeout_s;
    apr_size_t max_size;
    apr_time_t at;
    int force, quiet;
} opts_t;

static void usage(void)
{
    fputs("usage: jpki-crl-index --roots FILE [--roots FILE...] --out DIR [options] CRL...\n"
          "       jpki-crl-index --roots FILE --out DIR --url URL [--url URL...] [options]\n"
          "       jpki-crl-index --show INDEX\n"
          "       jpki-crl-index --lookup INDEX SERIAL_HEX\n"
          "options: --ca-file FILE --connect-timeout S --timeout S --max-size BYTES\n"
          "         --skew S (default 300) --at UNIXTIME --force --quiet\n",
          stderr);
    exit(2);
}

typedef struct {
    unsigned char *buf;
    apr_size_t len, max;
} sink_t;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    sink_t *s = ud;
    size_t add = size * n;
    unsigned char *nb;
    if (s->len + add > s->max || (nb = realloc(s->buf, s->len + add + 1)) == NULL) {
        return 0; /* aborts the transfer */
    }
    s->buf = nb;
    memcpy(s->buf + s->len, ptr, add);
    s->len += add;
    return add;
}

/* GET url over HTTPS only; the body in *out (malloc'd). NULL or why not. */
static const char *fetch(const opts_t *o, const char *url, sink_t *out)
{
    CURL *c = curl_easy_init();
    CURLcode rc;
    long status = 0;
    out->buf = NULL;
    out->len = 0;
    out->max = o->max_size;
    if (c == NULL) {
        return "curl_easy_init failed";
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout_s);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_size);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (o->ca_file) {
        curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        return apr_psprintf(o->p, "%s%s", curl_easy_strerror(rc),
                            rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED
                                ? " (larger than --max-size?)"
                                : "");
    }
    if (status != 200) {
        return apr_psprintf(o->p, "HTTP status %ld", status);
    }
    return NULL;
}

static unsigned char *map_file(const char *path, apr_size_t *len)
{
    struct stat st;
    void *m;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    *len = (apr_size_t)st.st_size;
    return m == MAP_FAILED ? NULL : m;
}

static int show(const opts_t *o)
{
    apr_size_t len;
    unsigned char *m = map_file(o->show, &len);
    jpki_crl_index_t ix;
    const char *err;
    if (m == NULL) {
        fprintf(stderr, "jpki-crl-index: %s: cannot read\n", o->show);
        return 2;
    }
    err = jpki_crl_index_open(m, len, &ix);
    if (err != NULL) {
        fprintf(stderr, "jpki-crl-index: %s: not a valid index: %s\n", o->show, err);
        return 1;
    }
    printf("issuer_key_id %s\nthis_update %s\nnext_update %s\nentries %" APR_UINT64_T_FMT
           "\ncrls %u\nsha256 %s\nbytes_per_entry %.2f\n",
           ix.info.issuer_key_id, jpki_util_time_iso(o->p, ix.info.this_update),
           jpki_util_time_iso(o->p, ix.info.next_update), ix.info.count, ix.info.ncrls,
           jpki_util_hex(o->p, ix.info.sha256, 32),
           ix.info.count ? (double)len / (double)ix.info.count : 0.0);
    return 0;
}

static int lookup(const opts_t *o, const char *serial)
{
    apr_size_t len;
    unsigned char *m = map_file(o->lookup, &len), key[JPKI_CRL_SERIAL_LEN];
    jpki_crl_index_t ix;
    int reason;
    if (m == NULL || jpki_crl_index_open(m, len, &ix) != NULL ||
        !jpki_crl_serial_key(serial, key)) {
        fprintf(stderr, "jpki-crl-index: bad index or serial\n");
        return 2;
    }
    if (!jpki_crl_index_lookup(&ix, key, &reason)) {
        puts("good");
        return 0;
    }
    printf("revoked %s\n", jpki_reason_from_code(reason == JPKI_CRL_NO_REASON ? 0 : reason));
    return 0;
}

static int build(const opts_t *o, int argc, char **argv)
{
    STACK_OF(X509) *roots = sk_X509_new_null();
    jpki_crl_build_t *b;
    jpki_crl_info_t info;
    const char *err, *path;
    apr_time_t t0 = apr_time_now();
    int i, nsrc = 0;

    for (i = 0; i < o->trust->anchors->nelts; i++) {
        sk_X509_push(roots, APR_ARRAY_IDX(o->trust->anchors, i, jpki_anchor_t).x509);
    }
    b = jpki_crl_build_create(o->p, roots, o->at ? o->at : apr_time_now(), o->skew);
    for (i = 0; i < o->urls->nelts + argc; i++) {
        const char *src =
            i < o->urls->nelts ? APR_ARRAY_IDX(o->urls, i, const char *) : argv[i - o->urls->nelts];
        sink_t s = {NULL, 0, 0};
        unsigned char *m = NULL;
        apr_size_t len = 0;
        if (i < o->urls->nelts) {
            if ((err = fetch(o, src, &s)) != NULL) {
                fprintf(stderr, "jpki-crl-index: %s: fetch failed: %s\n", src, err);
                return 2;
            }
            m = s.buf;
            len = s.len;
        } else if ((m = map_file(src, &len)) == NULL) {
            fprintf(stderr, "jpki-crl-index: %s: cannot read\n", src);
            return 2;
        }
        err = m ? jpki_crl_build_add(b, m, len) : "empty answer";
        if (i < o->urls->nelts) {
            free(s.buf);
        } else {
            munmap(m, len);
        }
        if (err != NULL) {
            fprintf(stderr, "jpki-crl-index: %s: CRL refused: %s\n", src, err);
            return 1;
        }
        nsrc++;
    }
    if (nsrc == 0) {
        usage();
    }
    if ((err = jpki_crl_build_finish(b, &info)) != NULL ||
        (err = jpki_crl_build_write(b, o->out, o->force, &path)) != NULL) {
        fprintf(stderr, "jpki-crl-index: %s\n", err);
        return strstr(err, "later thisUpdate") ? 1 : 2;
    }
    if (!o->quiet) {
        printf("%s: issuer %s, %" APR_UINT64_T_FMT " entries from %u CRL(s), nextUpdate %s, "
               "%.2f s\n",
               path, info.issuer_key_id, info.count, info.ncrls,
               jpki_util_time_iso(o->p, info.next_update),
               (double)(apr_time_now() - t0) / APR_USEC_PER_SEC);
    }
    sk_X509_free(roots);
    return 0;
}

static long num(const char *s, long min, long max)
{
    int v;
    if (!jpki_util_parse_int(s, min, max, 0, &v)) {
        fprintf(stderr, "jpki-crl-index: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

static void parse_args(opts_t *o, int *argc, char ***argv)
{
    static const struct option lo[] = {{"roots", 1, 0, 'r'},
                                       {"out", 1, 0, 'o'},
                                       {"url", 1, 0, 'u'},
                                       {"ca-file", 1, 0, 'c'},
                                       {"connect-timeout", 1, 0, 'C'},
                                       {"timeout", 1, 0, 'T'},
                                       {"max-size", 1, 0, 'm'},
                                       {"skew", 1, 0, 's'},
                                       {"at", 1, 0, 'a'},
                                       {"force", 0, 0, 'f'},
                                       {"quiet", 0, 0, 'q'},
                                       {"show", 1, 0, 'S'},
                                       {"lookup", 1, 0, 'L'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    const char *err;
    int ch;
    while ((ch = getopt_long(*argc, *argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'r':
            if ((err = jpki_trust_add_file(o->trust, o->p, optarg)) != NULL) {
                fprintf(stderr, "jpki-crl-index: --roots %s: %s\n", optarg, err);
                exit(2);
            }
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'u':
            APR_ARRAY_PUSH(o->urls, const char *) = optarg;
            break;
        case 'c':
            o->ca_file = optarg;
            break;
        case 'C':
            o->connect_s = num(optarg, 1, 600);
            break;
        case 'T':
            o->timeout_s = num(optarg, 1, 3600);
            break;
        case 'm':
            o->max_size = (apr_size_t)num(optarg, 1024, 2000000000);
            break;
        case 's':
            o->skew = num(optarg, 0, 86400);
            break;
        case 'a':
            o->at = apr_time_from_sec(apr_atoi64(optarg));
            break;
        case 'f':
            o->force = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'S':
            o->show = optarg;
            break;
        case 'L':
            o->lookup = optarg;
            break;
        default:
            usage();
        }
    }
    *argc -= optind;
    *argv += optind;
}

int main(int argc, char **argv)
{
    opts_t o;
    int rc;
    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    memset(&o, 0, sizeof(o));
    apr_pool_create(&o.p, NULL);
    o.trust = jpki_trust_create(o.p);
    o.urls = apr_array_make(o.p, 2, sizeof(const char *));
    o.skew = 300;
    o.connect_s = 10;
    o.timeout_s = 300;
    o.max_size = 1024u * 1024u * 1024u;
    parse_args(&o, &argc, &argv);
    if (o.show) {
        rc = show(&o);
    } else if (o.lookup) {
        rc = argc == 1 ? lookup(&o, argv[0]) : 2;
    } else {
        if (o.out == NULL || o.trust->anchors->nelts == 0) {
            usage();
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = build(&o, argc, argv);
        curl_global_cleanup();
    }
    apr_pool_destroy(o.p);
    apr_terminate();
    return rc;
}
