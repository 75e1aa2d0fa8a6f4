/*
 * Status provider "crl": answers from the CRL indexes jpki-crl-index
 * writes into JPKICRLIndexDir (one <issuer key id>.crlidx per root; format
 * in core/jpki_crl.h). Each child maps the files read-only and looks a
 * serial up by binary search, without allocating.
 *
 * Swapping (core/jpki_crl_map.c): the indexer renames a complete new
 * file over the old one. A request stats the file at most every JPKICRLIndexDir interval seconds;
 * when the inode, size or mtime changed, that one request maps and
 * validates the new file (O(n), outside the lock) while the others keep
 * answering from the old mapping, then the new one is published under the
 * lock. A request holds a reference on the mapping it reads, and the old
 * mapping is unmapped when the last reference goes: every request sees
 * either the old or the new complete index. A missing or corrupt file
 * replaces the mapping too (no answer: the fail mode applies), so a
 * damaged index is never mistaken for an empty one.
 */
#include "steps/status/jpki_status.h"
#include "cfg/jpki_cfg_status.h"
#include "core/jpki_crl_map.h"
#include "core/jpki_util.h"

#include <apr_thread_mutex.h>
#include <jansson.h>

#include <fcntl.h>
#include <unistd.h>

static apr_thread_mutex_t *crl_mutex;
static apr_hash_t *crl_dirs; /* dir -> (issuer key id -> jpki_crl_slot_t) */

static void log_mapped(server_rec *s, const jpki_crl_slot_t *sl, const jpki_crl_map_t *m)
{
    if (m == NULL) {
        return;
    }
    if (m->bad != NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     JPKI_LOGNO(1301) "CRL index %s refused: %s; certificates of this issuer "
                                      "get no answer (JPKIStatusFailMode applies)",
                     sl->path, m->bad);
    } else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     JPKI_LOGNO(1302) "CRL index %s mapped: issuer %s, %" APR_UINT64_T_FMT
                                      " entries, nextUpdate %" APR_TIME_T_FMT,
                     sl->path, m->ix.info.issuer_key_id, m->ix.info.count,
                     apr_time_sec(m->ix.info.next_update));
    }
}

/* -------------------------------------------------------- child init -- */

/* The slots of dir's indexes, one per trust anchor, each mapped now so
 * that no request of this child ever finds a slot without a mapping. */
static void add_slots(apr_pool_t *p, server_rec *s, const char *dir, const jpki_trust_t *t)
{
    apr_hash_t *kids = apr_hash_get(crl_dirs, dir, APR_HASH_KEY_STRING);
    int i;
    if (kids == NULL) {
        kids = apr_hash_make(p);
        apr_hash_set(crl_dirs, dir, APR_HASH_KEY_STRING, kids);
    }
    for (i = 0; t && i < t->anchors->nelts; i++) {
        const jpki_anchor_t *a = &APR_ARRAY_IDX(t->anchors, i, jpki_anchor_t);
        jpki_crl_slot_t *sl;
        if (a->key_id == NULL || apr_hash_get(kids, a->key_id, APR_HASH_KEY_STRING)) {
            continue;
        }
        sl = jpki_crl_slot_create(p, apr_pstrcat(p, dir, "/", a->key_id, JPKI_CRL_SUFFIX, NULL),
                                  a->key_id, apr_time_now());
        log_mapped(s, sl, sl->cur);
        apr_hash_set(kids, sl->kid, APR_HASH_KEY_STRING, sl);
    }
}

static apr_status_t crl_child_exit(void *d)
{
    apr_hash_index_t *hi, *hj;
    (void)d;
    for (hi = crl_dirs ? apr_hash_first(NULL, crl_dirs) : NULL; hi; hi = apr_hash_next(hi)) {
        for (hj = apr_hash_first(NULL, apr_hash_this_val(hi)); hj; hj = apr_hash_next(hj)) {
            jpki_crl_slot_t *sl = apr_hash_this_val(hj);
            jpki_crl_slot_destroy(sl);
        }
    }
    crl_dirs = NULL;
    return APR_SUCCESS;
}

void jpki_status_crl_child_init(apr_pool_t *p, server_rec *s)
{
    server_rec *vs;
    crl_dirs = apr_hash_make(p);
    apr_thread_mutex_create(&crl_mutex, APR_THREAD_MUTEX_DEFAULT, p);
    for (vs = s; vs != NULL; vs = vs->next) {
        jpki_srv_cfg_t *c = jpki_srv_cfg(vs);
        if (c->status_provider == JPKI_STATUS_PROVIDER_CRL &&
            ((jpki_status_cfg_t *)c->status_cfg)->crl_dir != NULL) {
            add_slots(p, vs, ((jpki_status_cfg_t *)c->status_cfg)->crl_dir, c->trust);
        }
    }
    apr_pool_cleanup_register(p, NULL, crl_child_exit, apr_pool_cleanup_null);
}

/* ------------------------------------------------------------- lookup -- */

static jpki_crl_slot_t *slot_of(const jpki_status_cfg_t *sc, const char *kid)
{
    apr_hash_t *kids =
        crl_dirs && sc->crl_dir ? apr_hash_get(crl_dirs, sc->crl_dir, APR_HASH_KEY_STRING) : NULL;
    return kids && kid ? apr_hash_get(kids, kid, APR_HASH_KEY_STRING) : NULL;
}

/* The answer of a mapped index m for key. */
static int answer(request_rec *r, const jpki_status_cfg_t *sc, const jpki_crl_map_t *m,
                  const unsigned char *key, jpki_status_result_t *res, const char **why)
{
    apr_time_t now = apr_time_now();
    apr_time_t limit = m->ix.info.next_update + apr_time_from_sec(jpki_cfg_status_ocsp_skew(sc));
    int reason;

    res->valid_until = m->ix.info.next_update;
    if (jpki_crl_index_lookup(&m->ix, key, &reason)) {
        res->status = JPKI_STATUS_REVOKED; /* listed: refused even by an old index */
        res->reason = jpki_reason_from_code(reason == JPKI_CRL_NO_REASON ? 0 : reason);
        return 1;
    }
    res->status = JPKI_STATUS_GOOD;
    if (now <= limit) {
        return 1;
    }
    /* not listed, but the index is not current: no answer; GOOD with
     * valid_until tells jpki_status.c how old it is (grace mode) */
    res->error = "crl_expired";
    *why =
        apr_psprintf(r->pool,
                     "CRL index of issuer %s is not current: nextUpdate %s passed %" APR_TIME_T_FMT
                     " s ago (thisUpdate %s); run jpki-crl-index",
                     m->ix.info.issuer_key_id, jpki_util_time_iso(r->pool, m->ix.info.next_update),
                     apr_time_sec(now - m->ix.info.next_update),
                     jpki_util_time_iso(r->pool, m->ix.info.this_update));
    return 0;
}

int jpki_status_crl_call(request_rec *r, const jpki_status_cfg_t *sc, const jpki_status_query_t *q,
                         jpki_status_result_t *res, const char **why)
{
    jpki_crl_slot_t *sl = slot_of(sc, q->issuer_key_id);
    unsigned char key[JPKI_CRL_SERIAL_LEN];
    const jpki_crl_map_t *loaded;
    jpki_crl_map_t *m;
    int ok;

    if (sl == NULL) {
        res->error = "no_issuer";
        *why = "no configured root with the certificate's issuer key id (JPKITrustedCA)";
        return 0;
    }
    if (!jpki_crl_serial_key(q->serial_hex, key)) {
        res->error = "internal";
        *why = "serial cannot be a CRL index key";
        return 0;
    }
    m = jpki_crl_slot_acquire(sl, crl_mutex, apr_time_now(),
                              apr_time_from_sec(jpki_cfg_status_crl_interval(sc)), &loaded);
    log_mapped(r->server, sl, loaded);
    if (m == NULL || m->addr == NULL) {
        res->error = m && !m->exists ? "crl_index_missing" : "crl_index_corrupt";
        *why = apr_psprintf(r->pool, "CRL index %s: %s", sl->path, m ? m->bad : "out of memory");
        jpki_crl_slot_release(m, crl_mutex);
        return 0;
    }
    ok = answer(r, sc, m, key, res, why);
    jpki_crl_slot_release(m, crl_mutex);
    return ok;
}

/* ------------------------------------------------------- status page -- */

/* One object per index file of every JPKICRLIndexDir of this server (read
 * from the file headers, so the page shows what is on disk). */
json_t *jpki_status_crl_report(request_rec *r)
{
    json_t *arr = json_array();
    apr_hash_t *kids = NULL;
    apr_hash_index_t *hi;
    jpki_srv_cfg_t *cfg = jpki_srv_cfg(r->server);
    const jpki_status_cfg_t *sc = cfg->status_cfg;
    apr_time_t now = apr_time_now();

    if (cfg->status_provider == JPKI_STATUS_PROVIDER_CRL && crl_dirs != NULL) {
        kids = apr_hash_get(crl_dirs, sc->crl_dir, APR_HASH_KEY_STRING);
    }
    for (hi = kids ? apr_hash_first(r->pool, kids) : NULL; hi; hi = apr_hash_next(hi)) {
        jpki_crl_slot_t *sl = apr_hash_this_val(hi);
        unsigned char h[JPKI_CRL_HEADER_LEN];
        jpki_crl_info_t info;
        json_t *o = json_object();
        int fd = open(sl->path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, h, sizeof(h)) : -1;
        const char *err = n == (ssize_t)sizeof(h) ? jpki_crl_header_parse(h, sizeof(h), &info)
                                                  : (fd < 0 ? "no index file" : "truncated header");
        if (fd >= 0) {
            close(fd);
        }
        json_object_set_new(o, "issuer_key_id", json_string(sl->kid));
        if (err != NULL) {
            json_object_set_new(o, "error", json_string(err));
        } else {
            json_object_set_new(o, "this_update",
                                json_string(jpki_util_time_iso(r->pool, info.this_update)));
            json_object_set_new(o, "next_update",
                                json_string(jpki_util_time_iso(r->pool, info.next_update)));
            json_object_set_new(o, "this_update_unix",
                                json_integer(apr_time_sec(info.this_update)));
            json_object_set_new(o, "next_update_unix",
                                json_integer(apr_time_sec(info.next_update)));
            json_object_set_new(o, "entries", json_integer((json_int_t)info.count));
            json_object_set_new(o, "age_seconds",
                                json_integer((json_int_t)apr_time_sec(now - info.this_update)));
            json_object_set_new(
                o, "current",
                json_boolean(now <=
                             info.next_update + apr_time_from_sec(jpki_cfg_status_ocsp_skew(sc))));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}
