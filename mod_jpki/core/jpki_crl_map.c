/*
 * CRL index mappings (jpki_crl_map.h): one slot per index file, whose
 * current mapping is swapped when the file is replaced, each mapping
 * reference-counted so that it is unmapped only when its last reader is
 * done. Pure (APR + POSIX), so the swap rules are unit-tested
 * (tests/unit/test_crl.c) apart from httpd.
 */
#include "core/jpki_crl_map.h"

#include <apr_strings.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* --------------------------------------------------------- mappings -- */

static void map_unref(jpki_crl_map_t *m)
{
    if (m != NULL && --m->refs == 0) {
        if (m->addr != NULL) {
            munmap(m->addr, m->size);
        }
        free(m);
    }
}

static int same_file(const jpki_crl_map_t *m, const struct stat *st, int exists)
{
    if (m == NULL || m->exists != exists) {
        return 0;
    }
    return !exists ||
           (m->dev == st->st_dev && m->ino == st->st_ino && m->fsize == st->st_size &&
            m->mtime.tv_sec == st->st_mtim.tv_sec && m->mtime.tv_nsec == st->st_mtim.tv_nsec);
}

/* Map and validate the index at path, which must be kid's. Its identity
 * (inode, size, mtime) is taken from the opened file, so a rename between
 * the caller's stat and the open is noticed at the next look. Never NULL
 * unless out of memory; m->bad says why there is no usable index. */
static jpki_crl_map_t *map_load(const char *path, const char *kid)
{
    jpki_crl_map_t *m = calloc(1, sizeof(*m));
    struct stat st;
    int fd;
    if (m == NULL) {
        return NULL;
    }
    m->refs = 1;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        m->bad = errno == ENOENT ? "no index file" : "index not readable";
        if (fd >= 0) {
            close(fd);
        }
        return m;
    }
    m->exists = 1;
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    m->mtime = st.st_mtim;
    m->fsize = st.st_size;
    if (st.st_size < JPKI_CRL_HEADER_LEN) {
        m->bad = "index truncated (shorter than its header)";
    } else {
        void *a = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (a == MAP_FAILED) {
            m->bad = "index cannot be mapped";
        } else {
            m->addr = a;
            m->size = (apr_size_t)st.st_size;
            m->bad = jpki_crl_index_open(m->addr, m->size, &m->ix);
            if (m->bad == NULL && strcmp(m->ix.info.issuer_key_id, kid) != 0) {
                m->bad = "the index is of another issuer (its header and file name disagree)";
            }
            if (m->bad != NULL) {
                munmap(m->addr, m->size);
                m->addr = NULL;
            }
        }
    }
    close(fd);
    return m;
}

jpki_crl_map_t *jpki_crl_slot_acquire(jpki_crl_slot_t *sl, apr_thread_mutex_t *mu, apr_time_t now,
                                      apr_time_t interval, const jpki_crl_map_t **loaded)
{
    jpki_crl_map_t *m, *nm;
    struct stat st;
    int check, exists;

    apr_thread_mutex_lock(mu);
    check = !sl->loading && (sl->cur == NULL || now - sl->checked >= interval);
    if (check) {
        sl->loading = 1;
        sl->checked = now;
    }
    m = sl->cur;
    if (m != NULL) {
        m->refs++;
    }
    apr_thread_mutex_unlock(mu);
    *loaded = NULL;
    if (!check) {
        return m;
    }
    exists = stat(sl->path, &st) == 0;
    nm = same_file(m, &st, exists) ? NULL : map_load(sl->path, sl->kid);
    apr_thread_mutex_lock(mu);
    if (nm != NULL) {
        jpki_crl_map_t *old = sl->cur;
        sl->cur = nm;   /* the slot's reference */
        nm->refs++;     /* ours */
        map_unref(old); /* the slot's reference to the old one */
        map_unref(m);   /* ours to the old one */
        m = nm;
        *loaded = nm;
    }
    sl->loading = 0;
    apr_thread_mutex_unlock(mu);
    return m;
}

void jpki_crl_slot_release(jpki_crl_map_t *m, apr_thread_mutex_t *mu)
{
    if (m != NULL) {
        apr_thread_mutex_lock(mu);
        map_unref(m);
        apr_thread_mutex_unlock(mu);
    }
}

jpki_crl_slot_t *jpki_crl_slot_create(apr_pool_t *p, const char *path, const char *kid,
                                      apr_time_t now)
{
    jpki_crl_slot_t *sl = apr_pcalloc(p, sizeof(*sl));
    sl->path = apr_pstrdup(p, path);
    sl->kid = apr_pstrdup(p, kid);
    sl->cur = map_load(sl->path, sl->kid);
    sl->checked = now;
    return sl;
}

void jpki_crl_slot_destroy(jpki_crl_slot_t *sl)
{
    map_unref(sl->cur);
    sl->cur = NULL;
}
