/*
 * Provider "crl": the CRL indexes that jpki-crl-index writes for the
 * module (JPKICRLIndexDir, docs/status.md "CRL provider"), read with the
 * module's own functions (core/jpki_crl.c): one <issuer key id>.crlidx per
 * issuer, validated whole when opened, a binary search per certificate.
 * An index past its nextUpdate (plus the skew) is not current: no answer,
 * like the module's fail mode. J-LIS charges per certificate checked
 * whichever way the status is obtained, so each lookup counts its fee.
 */
#include "recheck.h"
#include "core/jpki_crl.h"
#include "core/jpki_status_core.h"

#include <apr_file_io.h>
#include <apr_mmap.h>
#include <apr_strings.h>
#include <string.h>

typedef struct crl_ctx_t {
    rc_conf_t *c;
    apr_array_header_t *ix; /* jpki_crl_index_t, mapped for the whole run */
} crl_ctx_t;

/* Map and validate one index file; NULL, or why not. */
static const char *map_one(apr_pool_t *p, const char *path, jpki_crl_index_t *out)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_mmap_t *m;
    const char *why;
    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS ||
        apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS) {
        return "cannot be read";
    }
    if (fi.size <= 0 ||
        apr_mmap_create(&m, f, 0, (apr_size_t)fi.size, APR_MMAP_READ, p) != APR_SUCCESS) {
        return "cannot be mapped";
    }
    why = jpki_crl_index_open(m->mm, (apr_size_t)fi.size, out);
    return why;
}

static int crl_init(rc_provider_t *pv, rc_conf_t *c, apr_pool_t *p, const char **err)
{
    crl_ctx_t *x = apr_pcalloc(p, sizeof(*x));
    apr_dir_t *d;
    apr_finfo_t e;
    apr_size_t sl = strlen(JPKI_CRL_SUFFIX);
    x->c = c;
    x->ix = apr_array_make(p, 4, sizeof(jpki_crl_index_t));
    if (apr_dir_open(&d, c->crl_index_dir, p) != APR_SUCCESS) {
        *err = apr_psprintf(p, "crl_index_dir: cannot open %s", c->crl_index_dir);
        return -1;
    }
    while (apr_dir_read(&e, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        apr_size_t l = strlen(e.name);
        const char *why;
        jpki_crl_index_t ix;
        if (e.filetype != APR_REG || l <= sl || strcmp(e.name + l - sl, JPKI_CRL_SUFFIX) != 0) {
            continue;
        }
        why = map_one(p, apr_pstrcat(p, c->crl_index_dir, "/", e.name, NULL), &ix);
        if (why != NULL) {
            apr_dir_close(d);
            *err = apr_psprintf(p, "crl_index_dir: %s: %s", e.name, why);
            return -1;
        }
        APR_ARRAY_PUSH(x->ix, jpki_crl_index_t) = ix;
    }
    apr_dir_close(d);
    if (x->ix->nelts == 0) {
        *err = apr_psprintf(p, "crl_index_dir: no *%s file in %s (run jpki-crl-index first)",
                            JPKI_CRL_SUFFIX, c->crl_index_dir);
        return -1;
    }
    pv->ctx = x;
    return 0;
}

static int crl_worst(rc_provider_t *pv, const rc_account_t *a)
{
    crl_ctx_t *x = pv->ctx;
    return (a->auth ? x->c->fee_auth : 0) + (a->sign ? x->c->fee_sign : 0);
}

static const jpki_crl_index_t *index_of(crl_ctx_t *x, const char *kid, size_t kid_len)
{
    int i;
    for (i = 0; i < x->ix->nelts; i++) {
        const jpki_crl_index_t *ix = &APR_ARRAY_IDX(x->ix, i, jpki_crl_index_t);
        if (strlen(ix->info.issuer_key_id) == kid_len &&
            strncasecmp(ix->info.issuer_key_id, kid, kid_len) == 0) {
            return ix;
        }
    }
    return NULL;
}

static void no_answer(rc_answer_t *out, const char *error, int down)
{
    out->status = RC_NOANSWER;
    out->error = error;
    out->down = down;
}

static void crl_check(rc_provider_t *pv, apr_pool_t *p, const rc_account_t *a, const char *serial,
                      const char *cert_type, rc_answer_t *out, int *yen)
{
    crl_ctx_t *x = pv->ctx;
    const char *colon = serial ? strchr(serial, ':') : NULL;
    const jpki_crl_index_t *ix;
    unsigned char key[JPKI_CRL_SERIAL_LEN];
    int reason;
    (void)a;
    (void)p;
    memset(out, 0, sizeof(*out));
    ix = colon ? index_of(x, serial, (size_t)(colon - serial)) : NULL;
    if (ix == NULL) {
        /* no index for this issuer: nothing looked up, nothing paid; the run
         * stops as "provider down" rather than report every such account */
        no_answer(out, "crl_missing", 1);
        return;
    }
    if (apr_time_now() > ix->info.next_update + apr_time_from_sec(x->c->ocsp_skew)) {
        rc_log("warn", "CRL index of issuer %s is past its nextUpdate: run jpki-crl-index",
               ix->info.issuer_key_id);
        no_answer(out, "crl_stale", 1);
        return;
    }
    if (!jpki_crl_serial_key(colon + 1, key)) {
        no_answer(out, "bad_serial", 0);
        return;
    }
    *yen += strcmp(cert_type, "sign") == 0 ? x->c->fee_sign : x->c->fee_auth;
    if (jpki_crl_index_lookup(ix, key, &reason)) {
        out->status = RC_REVOKED;
        out->reason = reason == JPKI_CRL_NO_REASON ? "unspecified" : jpki_reason_from_code(reason);
    } else {
        out->status = RC_GOOD;
    }
}

const rc_provider_t rc_provider_crl = {
    "crl", crl_init, crl_worst, crl_check, 0, NULL,
};
