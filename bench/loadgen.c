/*
 * Load generator for bench/login.sh (built by the script with cc).
 *
 *   loadgen login HOST PORT THREADS SECS CA CERT.der KEY.pem ORIGIN
 *       challenge + card-like signature + login, on keep-alive TLS
 *       connections (one per thread, reopened only if the server closes it)
 *   loadgen tls   HOST PORT THREADS SECS CA CERT.pem KEY.pem PATH
 *       a new TLS handshake with the client certificate per request (no
 *       session resumption), GET PATH, close
 *
 * Environment (login mode): LOADGEN_COOKIES=FILE appends each new session's
 * cookie ("name=value") to FILE; LOADGEN_MAX=N stops after N logins in all
 * (bench/scale.sh fills the session cache with them).
 *
 * Prints "<ok> <bad> <ok/s> <own CPU seconds>" (getrusage of this process,
 * so the generator's share of the 2 cores can be stated next to the
 * server's). Not a general HTTP client: Content-Length bodies only.
 */
#define _GNU_SOURCE
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host, *path, *origin;
static int port, secs, tls_mode;
static SSL_CTX *ctx;
static EVP_PKEY *key;
static char *cert_b64;

typedef struct {
    long ok, bad;
} counts_t;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static SSL *conn_open(void)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    SSL *s;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    s = SSL_new(ctx);
    SSL_set_fd(s, fd);
    SSL_set_tlsext_host_name(s, host);
    if (SSL_connect(s) != 1) {
        SSL_free(s);
        close(fd);
        return NULL;
    }
    return s;
}

static void conn_close(SSL *s)
{
    if (s) {
        int fd = SSL_get_fd(s);
        SSL_shutdown(s);
        SSL_free(s);
        close(fd);
    }
}

static int write_all(SSL *s, const char *b, size_t n)
{
    while (n > 0) {
        int w = SSL_write(s, b, (int)n);
        if (w <= 0) {
            return 0;
        }
        b += w;
        n -= (size_t)w;
    }
    return 1;
}

/* One response: status, body into buf (NUL-terminated); 0 on a broken
 * connection. *keep: the server keeps the connection open. */
static int read_resp(SSL *s, char *buf, size_t cap, int *status, char **body, int *keep)
{
    size_t n = 0;
    char *eoh = NULL, *cl;
    long len;
    while (eoh == NULL) {
        int r = SSL_read(s, buf + n, (int)(cap - 1 - n));
        if (r <= 0) {
            return 0;
        }
        n += (size_t)r;
        buf[n] = '\0';
        eoh = strstr(buf, "\r\n\r\n");
    }
    *status = atoi(buf + 9);
    cl = strcasestr(buf, "\r\nContent-Length:");
    len = cl && cl < eoh ? atol(cl + 17) : 0;
    *keep = strcasestr(buf, "\r\nConnection: close") == NULL;
    *body = eoh + 4;
    while ((size_t)(*body - buf) + (size_t)len > n) {
        int r = SSL_read(s, buf + n, (int)(cap - 1 - n));
        if (r <= 0) {
            return 0;
        }
        n += (size_t)r;
    }
    (*body)[len] = '\0';
    return 1;
}

static char *b64(const unsigned char *in, int n, int url)
{
    char *out = malloc((size_t)(4 * ((n + 2) / 3) + 1));
    int i, len = EVP_EncodeBlock((unsigned char *)out, in, n);
    if (url) {
        for (i = 0; i < len; i++) {
            out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
        }
        while (len > 0 && out[len - 1] == '=') {
            out[--len] = '\0';
        }
    }
    return out;
}

static char *sign_b64(const char *data)
{
    unsigned char sig[512];
    size_t slen = sizeof(sig);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(m, sig, &slen, (const unsigned char *)data, strlen(data)) != 1) {
        EVP_MD_CTX_free(m);
        return NULL;
    }
    EVP_MD_CTX_free(m);
    return b64(sig, (int)slen, 0);
}

/* The cookies a response sets ("a=1; b=2"), as a browser sends them back. */
static void cookies_of(const char *hdr, const char *end, char *jar, size_t cap)
{
    const char *p = hdr;
    size_t n = 0;
    jar[0] = '\0';
    while ((p = strcasestr(p, "\r\nSet-Cookie: ")) != NULL && p < end) {
        const char *v = p + 14;
        size_t l = strcspn(v, ";\r");
        if (n + l + 3 < cap) {
            n += (size_t)snprintf(jar + n, cap - n, "%s%.*s", n ? "; " : "", (int)l, v);
        }
        p = v;
    }
}

static FILE *cookie_out; /* LOADGEN_COOKIES */
static long login_max;   /* LOADGEN_MAX, 0 = no limit */
static long logins_started;
static pthread_mutex_t cookie_mu = PTHREAD_MUTEX_INITIALIZER;

static void keep_cookie(const char *hdr, const char *end)
{
    char jar[1024];
    if (cookie_out == NULL) {
        return;
    }
    cookies_of(hdr, end, jar, sizeof(jar));
    pthread_mutex_lock(&cookie_mu);
    fprintf(cookie_out, "%s\n", jar);
    pthread_mutex_unlock(&cookie_mu);
}

/* challenge + login on the connection; 1 ok, 0 refused, -1 connection gone */
static int one_login(SSL *s, char *buf, size_t cap)
{
    char req[8192], cd[512], ch[128], jar[1024], *body, *p, *e, *sig, *cdb;
    int st, keep, n;
    n = snprintf(req, sizeof(req), "GET /jpki/challenge HTTP/1.1\r\nHost: %s:%d\r\n\r\n", host,
                 port);
    if (!write_all(s, req, (size_t)n) || !read_resp(s, buf, cap, &st, &body, &keep)) {
        return -1;
    }
    cookies_of(buf, body, jar, sizeof(jar));
    p = strstr(body, "\"challenge\":\"");
    if (st != 200 || p == NULL || (e = strchr(p + 13, '"')) == NULL || e - p - 13 >= 128) {
        return keep ? 0 : -1;
    }
    memcpy(ch, p + 13, (size_t)(e - p - 13));
    ch[e - p - 13] = '\0';
    snprintf(cd, sizeof(cd), "{\"type\":\"jpki.login\",\"challenge\":\"%s\",\"origin\":\"%s\"}", ch,
             origin);
    sig = sign_b64(cd);
    cdb = b64((const unsigned char *)cd, (int)strlen(cd), 1);
    snprintf(buf, cap,
             "{\"challenge\":\"%s\",\"certificate\":\"%s\",\"client_data\":\"%s\","
             "\"signature\":\"%s\"}",
             ch, cert_b64, cdb, sig ? sig : "");
    free(sig);
    free(cdb);
    n = snprintf(req, sizeof(req),
                 "POST /jpki/login HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                 "Cookie: %s\r\nContent-Length: %zu\r\n\r\n",
                 host, port, jar, strlen(buf));
    if (!write_all(s, req, (size_t)n) || !write_all(s, buf, strlen(buf)) ||
        !read_resp(s, buf, cap, &st, &body, &keep)) {
        return -1;
    }
    if (st == 200) {
        keep_cookie(buf, body);
    }
    return st == 200 ? (keep ? 1 : 2) : (keep ? 0 : -1);
}

/* new handshake, GET path, close */
static int one_tls(char *buf, size_t cap)
{
    char req[512];
    char *body;
    int st, keep, n, ok;
    SSL *s = conn_open();
    if (s == NULL) {
        return 0;
    }
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                 path, host, port);
    ok = write_all(s, req, (size_t)n) && read_resp(s, buf, cap, &st, &body, &keep) && st == 200;
    conn_close(s);
    return ok;
}

static void *worker(void *arg)
{
    counts_t *c = arg;
    size_t cap = 65536;
    char *buf = malloc(cap);
    double end = now() + secs;
    SSL *s = NULL;
    while (now() < end) {
        if (login_max > 0 && __atomic_add_fetch(&logins_started, 1, __ATOMIC_SEQ_CST) > login_max) {
            break;
        }
        if (tls_mode) {
            one_tls(buf, cap) ? c->ok++ : c->bad++;
            continue;
        }
        if (s == NULL && (s = conn_open()) == NULL) {
            c->bad++;
            usleep(10000);
            continue;
        }
        switch (one_login(s, buf, cap)) {
        case 1:
            c->ok++;
            break;
        case 2:
            c->ok++;
            conn_close(s);
            s = NULL;
            break;
        case 0:
            c->bad++;
            break;
        default:
            c->bad++;
            conn_close(s);
            s = NULL;
        }
    }
    conn_close(s);
    free(buf);
    return NULL;
}

static unsigned char *slurp(const char *f, long *n)
{
    FILE *fp = fopen(f, "rb");
    unsigned char *b;
    if (fp == NULL) {
        perror(f);
        exit(2);
    }
    fseek(fp, 0, SEEK_END);
    *n = ftell(fp);
    rewind(fp);
    b = malloc((size_t)*n + 1);
    if (fread(b, 1, (size_t)*n, fp) != (size_t)*n) {
        exit(2);
    }
    fclose(fp);
    return b;
}

int main(int argc, char **argv)
{
    int i, threads;
    pthread_t t[256];
    counts_t c[256];
    long ok = 0, bad = 0, n;
    struct rusage ru;
    FILE *fp;
    if (argc != 10) {
        fprintf(stderr, "usage: see bench/loadgen.c\n");
        return 2;
    }
    tls_mode = strcmp(argv[1], "tls") == 0;
    if (getenv("LOADGEN_COOKIES") && (cookie_out = fopen(getenv("LOADGEN_COOKIES"), "a")) == NULL) {
        perror("LOADGEN_COOKIES");
        return 2;
    }
    login_max = getenv("LOADGEN_MAX") ? atol(getenv("LOADGEN_MAX")) : 0;
    host = argv[2];
    port = atoi(argv[3]);
    threads = atoi(argv[4]);
    secs = atoi(argv[5]);
    threads = threads < 1 ? 1 : threads > 256 ? 256 : threads;
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, argv[6], NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    fp = fopen(argv[8], "r");
    key = fp ? PEM_read_PrivateKey(fp, NULL, NULL, NULL) : NULL;
    if (key == NULL) {
        fprintf(stderr, "%s: no key\n", argv[8]);
        return 2;
    }
    fclose(fp);
    if (tls_mode) {
        path = argv[9];
        if (SSL_CTX_use_certificate_chain_file(ctx, argv[7]) != 1 ||
            SSL_CTX_use_PrivateKey(ctx, key) != 1) {
            fprintf(stderr, "%s: cannot use the client certificate\n", argv[7]);
            return 2;
        }
    } else {
        unsigned char *der = slurp(argv[7], &n);
        origin = argv[9];
        cert_b64 = b64(der, (int)n, 0);
    }
    for (i = 0; i < threads; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        pthread_create(&t[i], NULL, worker, &c[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ok += c[i].ok;
        bad += c[i].bad;
    }
    if (cookie_out != NULL) {
        fclose(cookie_out);
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("%ld %ld %.1f %.3f\n", ok, bad, (double)ok / secs,
           ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
               (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    return 0;
}
