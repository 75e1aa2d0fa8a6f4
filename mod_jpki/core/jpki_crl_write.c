/*
 * CRL index: sorting the gathered entries and writing the index file
 * atomically (jpki_crl.h).
 */
#include "core/jpki_crl_int.h"

#include <apr_escape.h>
#include <apr_strings.h>
#include <openssl/crypto.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_entry(const void *a, const void *b)
{
    return memcmp(a, b, JPKI_CRL_SERIAL_LEN);
}

const char *jpki_crl_build_finish(jpki_crl_build_t *b, jpki_crl_info_t *info)
{
    apr_size_t i, out = 0;
    static const char hex[] = "0123456789abcdef";
    unsigned int mdlen = 0;
    int k;

    if (b->ncrls == 0) {
        return "no CRL was accepted";
    }
    if (b->n > 1) {
        qsort(b->ent, b->n, JPKI_CRL_ENTRY_LEN, cmp_entry);
    }
    for (i = 0; i < b->n; i++) { /* one entry per serial (partitions may overlap) */
        const unsigned char *e = b->ent + i * JPKI_CRL_ENTRY_LEN;
        if (out > 0 &&
            memcmp(b->ent + (out - 1) * JPKI_CRL_ENTRY_LEN, e, JPKI_CRL_SERIAL_LEN) == 0) {
            continue;
        }
        if (out != i) {
            memcpy(b->ent + out * JPKI_CRL_ENTRY_LEN, e, JPKI_CRL_ENTRY_LEN);
        }
        out++;
    }
    b->n = out;
    memset(info, 0, sizeof(*info));
    for (k = 0; k < b->kid_len; k++) {
        info->issuer_key_id[2 * k] = hex[b->kid[k] >> 4];
        info->issuer_key_id[2 * k + 1] = hex[b->kid[k] & 15];
    }
    info->this_update = b->this_update;
    info->next_update = b->next_update;
    info->count = b->n;
    info->ncrls = b->ncrls;
    EVP_DigestFinal_ex(b->sha, info->sha256, &mdlen);
    memcpy(b->sha256, info->sha256, sizeof(b->sha256));
    b->finished = 1;
    return NULL;
}

static void put_u(unsigned char *p, apr_uint64_t v, int n)
{
    int i;
    for (i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

void jpki_crl_header_encode(const jpki_crl_build_t *b, unsigned char *h)
{
    memset(h, 0, JPKI_CRL_HEADER_LEN);
    memcpy(h, JPKI_CRL_MAGIC, 8);
    put_u(h + 8, JPKI_CRL_VERSION, 4);
    put_u(h + 12, JPKI_CRL_ENTRY_LEN, 4);
    put_u(h + 16, (apr_uint64_t)b->kid_len, 4);
    memcpy(h + 20, b->kid, (size_t)b->kid_len);
    put_u(h + 52, (apr_uint64_t)apr_time_sec(b->this_update), 8);
    put_u(h + 60, (apr_uint64_t)apr_time_sec(b->next_update), 8);
    put_u(h + 68, b->n, 8);
    memcpy(h + 76, b->sha256, 32);
    put_u(h + 108, b->ncrls, 4);
}

static int write_all(int fd, const unsigned char *p, apr_size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return 0;
        }
        p += w;
        n -= (apr_size_t)w;
    }
    return 1;
}

/* A replayed older CRL must not replace a newer index. */
static const char *not_older(const jpki_crl_build_t *b, const char *path)
{
    unsigned char h[JPKI_CRL_HEADER_LEN];
    jpki_crl_info_t old;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0) {
        return NULL;
    }
    n = read(fd, h, sizeof(h));
    close(fd);
    if (n == (ssize_t)sizeof(h) && jpki_crl_header_parse(h, sizeof(h), &old) == NULL &&
        old.this_update > b->this_update) {
        return "the existing index has a later thisUpdate (an old CRL replayed?); "
               "use --force to replace it";
    }
    return NULL;
}

const char *jpki_crl_build_write(jpki_crl_build_t *b, const char *dir, int force, const char **path)
{
    unsigned char h[JPKI_CRL_HEADER_LEN];
    jpki_crl_info_t info;
    const char *err, *final, *kid;
    char *tmp;
    int fd, dfd, ok;

    if (!b->finished && (err = jpki_crl_build_finish(b, &info)) != NULL) {
        return err;
    }
    kid = apr_pescape_hex(b->p, b->kid, (apr_size_t)b->kid_len, 0);
    final = apr_pstrcat(b->p, dir, "/", kid, JPKI_CRL_SUFFIX, NULL);
    *path = final;
    if (!force && (err = not_older(b, final)) != NULL) {
        return err;
    }
    jpki_crl_header_encode(b, h);
    tmp = apr_pstrcat(b->p, dir, "/.", kid, JPKI_CRL_SUFFIX, ".XXXXXX", NULL);
    if ((fd = mkstemp(tmp)) < 0) {
        return apr_psprintf(b->p, "cannot create a file in %s: %s", dir, strerror(errno));
    }
    ok = fchmod(fd, 0644) == 0 && write_all(fd, h, sizeof(h)) &&
         write_all(fd, b->ent, b->n * JPKI_CRL_ENTRY_LEN) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, final) != 0) {
        err = apr_psprintf(b->p, "cannot write %s: %s", final, strerror(errno));
        unlink(tmp);
        return err;
    }
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return NULL;
}
