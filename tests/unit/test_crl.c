/*
 * Unit tests of core/jpki_crl.c, jpki_crl_build.c and jpki_crl_write.c:
 * serial keys, CRLs made here with OpenSSL's X509_CRL API and signed by
 * the test PKI's roots ($JPKI_PKI_DIR): index built, written, reopened and
 * looked up; refusals (forged root with the same DN, with and without
 * authority key id, another root, expired, not yet valid, no nextUpdate,
 * truncated, trailing bytes, delta CRL, negative serial, indirect entry);
 * partitions merged; a replayed older CRL; every way an index file can be
 * damaged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "unit.h"
#include "core/jpki_crl.h"
#include "core/jpki_crl_map.h"
#include "core/jpki_util.h"

static X509 *load_cert(const char *name)
{
    FILE *f = fopen(unit_pki_path(name), "r");
    X509 *x;
    ck_assert_ptr_nonnull(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    return x;
}

/* The key id of the test root that signs the CRLs (t/pki makes new keys
 * on every build, so it is read, not written down). */
static const char *root_kid(void)
{
    X509 *x = load_cert("auth-root-g1.crt");
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
    const char *kid;
    ck_assert_ptr_nonnull(ski);
    kid = jpki_util_hex(pool, ASN1_STRING_get0_data(ski), (apr_size_t)ASN1_STRING_length(ski));
    X509_free(x);
    return kid;
}
#define ROOT_KID root_kid()

static EVP_PKEY *load_key(const char *name)
{
    FILE *f = fopen(unit_pki_path(name), "r");
    EVP_PKEY *k;
    ck_assert_ptr_nonnull(f);
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(k);
    return k;
}

typedef struct {
    const char *signer; /* e.g. "auth-root-g1": .crt and .key */
    long last, next;    /* seconds from now; next 0 = no nextUpdate */
    int aki, delta, negative, indirect;
    int n;     /* entries: serial i*7+1, reason i % 11 (not 7) */
    long base; /* serial offset */
} crl_spec_t;

static void add_entry(X509_CRL *crl, long serial, int reason, const crl_spec_t *s)
{
    X509_REVOKED *rv = X509_REVOKED_new();
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL) - 86400, 0, 0);
    ASN1_INTEGER_set(sn, s->negative ? -serial : serial);
    X509_REVOKED_set_serialNumber(rv, sn);
    X509_REVOKED_set_revocationDate(rv, t);
    if (reason >= 0) {
        ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
        ASN1_ENUMERATED_set(e, reason);
        X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, e, 0, 0);
        ASN1_ENUMERATED_free(e);
    }
    if (s->indirect) {
        GENERAL_NAMES *g = GENERAL_NAMES_new();
        GENERAL_NAME *n = GENERAL_NAME_new();
        n->type = GEN_DIRNAME;
        n->d.directoryName = X509_NAME_new();
        sk_GENERAL_NAME_push(g, n);
        X509_REVOKED_add1_ext_i2d(rv, NID_certificate_issuer, g, 1, 0);
        GENERAL_NAMES_free(g);
    }
    X509_CRL_add0_revoked(crl, rv);
    ASN1_INTEGER_free(sn);
    ASN1_TIME_free(t);
}

/* The DER of a CRL per spec. */
static unsigned char *make_crl(const crl_spec_t *s, apr_size_t *len)
{
    X509 *ca = load_cert(apr_pstrcat(pool, s->signer, ".crt", NULL));
    EVP_PKEY *key = load_key(apr_pstrcat(pool, s->signer, ".key", NULL));
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t;
    unsigned char *der = NULL, *out;
    int i, n;

    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
    t = ASN1_TIME_adj(NULL, time(NULL) + s->last, 0, 0);
    X509_CRL_set1_lastUpdate(crl, t);
    ASN1_TIME_free(t);
    if (s->next) {
        t = ASN1_TIME_adj(NULL, time(NULL) + s->next, 0, 0);
        X509_CRL_set1_nextUpdate(crl, t);
        ASN1_TIME_free(t);
    }
    for (i = 0; i < s->n; i++) {
        int reason = i % 11 == 7 ? -1 : i % 11;
        add_entry(crl, s->base + i * 7L + 1, reason, s);
    }
    if (s->aki) {
        AUTHORITY_KEYID *a = AUTHORITY_KEYID_new();
        a->keyid = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(ca));
        X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, a, 0, 0);
        AUTHORITY_KEYID_free(a);
    }
    if (s->delta) {
        ASN1_INTEGER *b = ASN1_INTEGER_new();
        ASN1_INTEGER_set(b, 1);
        X509_CRL_add1_ext_i2d(crl, NID_delta_crl, b, 1, 0);
        ASN1_INTEGER_free(b);
    }
    X509_CRL_sort(crl);
    ck_assert_int_gt(X509_CRL_sign(crl, key, EVP_sha256()), 0);
    n = i2d_X509_CRL(crl, &der);
    ck_assert_int_gt(n, 0);
    out = apr_pmemdup(pool, der, (apr_size_t)n);
    OPENSSL_free(der);
    X509_CRL_free(crl);
    X509_free(ca);
    EVP_PKEY_free(key);
    *len = (apr_size_t)n;
    return out;
}

static STACK_OF(X509) * roots(void)
{
    STACK_OF(X509) *r = sk_X509_new_null();
    sk_X509_push(r, load_cert("auth-root-g1.crt"));
    sk_X509_push(r, load_cert("auth-root-g2.crt"));
    return r;
}

static void roots_free(STACK_OF(X509) * r)
{
    sk_X509_pop_free(r, X509_free);
}

static const char *tmpdir(void)
{
    char *d = apr_pstrdup(pool, "/tmp/jpki-test-crl-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void rm_dir(const char *d)
{
    char *cmd = apr_psprintf(pool, "rm -rf '%s'", d);
    ck_assert_int_eq(system(cmd), 0);
}

static unsigned char *slurp(const char *path, apr_size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = apr_palloc(pool, (apr_size_t)n + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (apr_size_t)n;
    return buf;
}

/* add one CRL to a new build; NULL or the refusal */
static const char *try_crl(const crl_spec_t *s)
{
    STACK_OF(X509) *r = roots();
    jpki_crl_build_t *b = jpki_crl_build_create(pool, r, apr_time_now(), 300);
    apr_size_t n;
    unsigned char *der = make_crl(s, &n);
    const char *err = jpki_crl_build_add(b, der, n);
    jpki_crl_build_destroy(b);
    roots_free(r);
    return err;
}

/* ---------------------------------------------------------- serial keys -- */

START_TEST(serial_keys)
{
    unsigned char k[JPKI_CRL_SERIAL_LEN], want[JPKI_CRL_SERIAL_LEN] = {0};
    ck_assert_int_eq(jpki_crl_serial_key("1a2b", k), 1);
    want[20] = 0x1a;
    want[21] = 0x2b;
    ck_assert_mem_eq(k, want, sizeof(k));
    ck_assert_int_eq(jpki_crl_serial_key("0001A2B", k), 1); /* leading zeros, upper case */
    ck_assert_mem_eq(k, want, sizeof(k));
    ck_assert_int_eq(jpki_crl_serial_key("abc", k), 1);
    ck_assert_int_eq(k[20], 0x0a);
    ck_assert_int_eq(k[21], 0xbc);
    ck_assert_int_eq(jpki_crl_serial_key("0", k), 1);
    ck_assert_int_eq(k[21], 0);
    /* 22 bytes fit, 23 do not */
    ck_assert_int_eq(jpki_crl_serial_key("ff00000000000000000000000000000000000000000e", k), 1);
    ck_assert_int_eq(k[0], 0xff);
    ck_assert_int_eq(k[21], 0x0e);
    ck_assert_int_eq(jpki_crl_serial_key("1ff00000000000000000000000000000000000000000e", k), 0);
    ck_assert_int_eq(jpki_crl_serial_key("12g4", k), 0);
    ck_assert_int_eq(jpki_crl_serial_key("", k), 0);
    ck_assert_int_eq(jpki_crl_serial_key(NULL, k), 0);
}
END_TEST

/* ------------------------------------------------ build, write, lookup -- */

static const char *write_index(const crl_spec_t *s, const char *dir, jpki_crl_info_t *info)
{
    STACK_OF(X509) *r = roots();
    jpki_crl_build_t *b = jpki_crl_build_create(pool, r, apr_time_now(), 300);
    apr_size_t n;
    unsigned char *der = make_crl(s, &n);
    const char *err = jpki_crl_build_add(b, der, n), *path = NULL;
    ck_assert_msg(err == NULL, "%s", err);
    ck_assert_ptr_null(jpki_crl_build_finish(b, info));
    err = jpki_crl_build_write(b, dir, 0, &path);
    roots_free(r);
    ck_assert_msg(err == NULL, "%s", err);
    ck_assert_str_eq(path, apr_pstrcat(pool, dir, "/", ROOT_KID, JPKI_CRL_SUFFIX, NULL));
    return path;
}

START_TEST(build_and_lookup)
{
    crl_spec_t s = {"auth-root-g1", -60, 86400, 1, 0, 0, 0, 1000, 0};
    const char *dir = tmpdir(), *path;
    jpki_crl_info_t info;
    jpki_crl_index_t ix;
    unsigned char *buf, key[JPKI_CRL_SERIAL_LEN];
    apr_size_t len;
    int i, reason;

    path = write_index(&s, dir, &info);
    ck_assert_str_eq(info.issuer_key_id, ROOT_KID);
    ck_assert_int_eq(info.count, 1000);
    buf = slurp(path, &len);
    ck_assert_int_eq(len, JPKI_CRL_HEADER_LEN + 1000 * JPKI_CRL_ENTRY_LEN);
    ck_assert_ptr_null(jpki_crl_index_open(buf, len, &ix));
    ck_assert_str_eq(ix.info.issuer_key_id, ROOT_KID);
    ck_assert_int_eq(ix.info.ncrls, 1);
    ck_assert_int_gt(ix.info.next_update, apr_time_now());
    for (i = 0; i < 1000; i++) {
        char hex[32];
        snprintf(hex, sizeof(hex), "%lx", i * 7L + 1);
        ck_assert(jpki_crl_serial_key(hex, key));
        ck_assert_msg(jpki_crl_index_lookup(&ix, key, &reason), "serial %s listed", hex);
        ck_assert_int_eq(reason, i % 11 == 7 ? JPKI_CRL_NO_REASON : i % 11);
        snprintf(hex, sizeof(hex), "%lx", i * 7L + 2);
        ck_assert(jpki_crl_serial_key(hex, key));
        ck_assert_msg(!jpki_crl_index_lookup(&ix, key, &reason), "serial %s not listed", hex);
    }
    ck_assert(jpki_crl_serial_key("0", key));
    ck_assert(!jpki_crl_index_lookup(&ix, key, &reason));
    ck_assert(jpki_crl_serial_key("ffffffffffffffffffffffffffffffffffffffffffff", key));
    ck_assert(!jpki_crl_index_lookup(&ix, key, &reason));
    /* no temporary file left behind */
    ck_assert_int_eq(system(apr_psprintf(pool, "test $(ls -A '%s' | wc -l) -eq 1", dir)), 0);
    rm_dir(dir);
}
END_TEST

START_TEST(empty_crl_and_pem)
{
    crl_spec_t s = {"auth-root-g1", -60, 86400, 1, 0, 0, 0, 0, 0};
    STACK_OF(X509) *r = roots();
    jpki_crl_build_t *b = jpki_crl_build_create(pool, r, apr_time_now(), 300);
    apr_size_t n;
    unsigned char *der = make_crl(&s, &n);
    X509_CRL *crl;
    BIO *mem = BIO_new(BIO_s_mem());
    const unsigned char *p = der;
    char *pem;
    long pn;
    jpki_crl_info_t info;

    crl = d2i_X509_CRL(NULL, &p, (long)n);
    PEM_write_bio_X509_CRL(mem, crl);
    pn = BIO_get_mem_data(mem, &pem);
    ck_assert_str_eq(
        jpki_crl_build_add(b, (const unsigned char *)"-----BEGIN X509 CRL-----\nAA\n", 28),
        "not a PEM X509 CRL");
    ck_assert_ptr_null(jpki_crl_build_add(b, (unsigned char *)pem, (apr_size_t)pn));
    ck_assert_ptr_null(jpki_crl_build_finish(b, &info));
    ck_assert_int_eq(info.count, 0);
    ck_assert_str_eq(jpki_crl_build_add(b, (unsigned char *)pem, (apr_size_t)pn),
                     "the index is already finished");
    BIO_free(mem);
    X509_CRL_free(crl);
    roots_free(r);
}
END_TEST

/* ------------------------------------------------------------ refusals -- */

START_TEST(refusals)
{
    crl_spec_t s = {"auth-root-g1", -60, 86400, 1, 0, 0, 0, 3, 0};
    ck_assert_ptr_null(try_crl(&s));
    s.signer = "forged-auth-root"; /* same DN, its own key id */
    ck_assert_str_eq(try_crl(&s), "no configured root has the CRL's issuer key id or DN");
    s.aki = 0; /* same DN, no key id: the real root's key does not verify it */
    ck_assert_pstr_eq(strstr(try_crl(&s), "signature does not verify") ? "x" : NULL, "x");
    s.signer = "other-root";
    ck_assert_str_eq(try_crl(&s), "no configured root has the CRL's issuer key id or DN");
    s.signer = "auth-root-g1";
    s.aki = 1;
    s.last = -3 * 86400;
    s.next = -1000; /* past nextUpdate + 300 s skew */
    ck_assert_str_eq(try_crl(&s), "expired: nextUpdate has passed");
    s.next = -100; /* within the skew */
    ck_assert_ptr_null(try_crl(&s));
    s.last = 1000;
    s.next = 86400;
    ck_assert_str_eq(try_crl(&s), "thisUpdate is in the future");
    s.last = -60;
    s.next = 0;
    ck_assert_pstr_eq(strstr(try_crl(&s), "no (or a bad) nextUpdate") ? "x" : NULL, "x");
    s.next = 86400;
    s.delta = 1;
    ck_assert_pstr_eq(strstr(try_crl(&s), "delta CRLs") ? "x" : NULL, "x");
    s.delta = 0;
    s.negative = 1;
    ck_assert_str_eq(try_crl(&s), "an entry has a negative or over-long serial");
    s.negative = 0;
    s.indirect = 1;
    ck_assert_pstr_eq(strstr(try_crl(&s), "indirect CRLs") ? "x" : NULL, "x");
}
END_TEST

START_TEST(damaged_crls)
{
    crl_spec_t s = {"auth-root-g1", -60, 86400, 1, 0, 0, 0, 20, 0};
    STACK_OF(X509) *r = roots();
    jpki_crl_build_t *b = jpki_crl_build_create(pool, r, apr_time_now(), 300);
    apr_size_t n, cut;
    unsigned char *der = make_crl(&s, &n), *x;
    jpki_crl_info_t info;

    for (cut = 0; cut < n; cut += 7) { /* every truncation is refused */
        ck_assert_ptr_nonnull(jpki_crl_build_add(b, der, cut));
    }
    x = apr_pmemdup(pool, der, n + 1);
    x[n] = 0;
    ck_assert_str_eq(jpki_crl_build_add(b, x, n + 1),
                     "not a DER CertificateList (or trailing bytes)");
    x[n / 2] ^= 0x01; /* a flipped bit anywhere: refused */
    ck_assert_ptr_nonnull(jpki_crl_build_add(b, x, n));
    ck_assert_str_eq(jpki_crl_build_finish(b, &info), "no CRL was accepted");
    roots_free(r);
}
END_TEST

/* -------------------------------------------- partitions, replays -- */

START_TEST(partitions_merged)
{
    crl_spec_t a = {"auth-root-g1", -120, 86400, 1, 0, 0, 0, 50, 0};
    crl_spec_t c = {"auth-root-g1", -60, 3600, 1, 0, 0, 0, 50, 100000};
    crl_spec_t g2 = {"auth-root-g2", -60, 3600, 1, 0, 0, 0, 5, 0};
    STACK_OF(X509) *r = roots();
    jpki_crl_build_t *b = jpki_crl_build_create(pool, r, apr_time_now(), 300);
    apr_size_t n;
    unsigned char *der;
    jpki_crl_info_t info;

    der = make_crl(&a, &n);
    ck_assert_ptr_null(jpki_crl_build_add(b, der, n));
    ck_assert_ptr_null(jpki_crl_build_add(b, der, n)); /* the same one twice: de-duplicated */
    der = make_crl(&c, &n);
    ck_assert_ptr_null(jpki_crl_build_add(b, der, n));
    der = make_crl(&g2, &n);
    ck_assert_str_eq(jpki_crl_build_add(b, der, n),
                     "CRLs of different issuers cannot share one index");
    ck_assert_ptr_null(jpki_crl_build_finish(b, &info));
    ck_assert_int_eq(info.count, 100);
    ck_assert_int_eq(info.ncrls, 3);
    /* the earliest nextUpdate of the partitions */
    ck_assert_int_lt(info.next_update, apr_time_now() + apr_time_from_sec(3700));
    roots_free(r);
}
END_TEST

START_TEST(replayed_older_crl)
{
    crl_spec_t newer = {"auth-root-g1", -60, 86400, 1, 0, 0, 0, 5, 0};
    crl_spec_t older = {"auth-root-g1", -7200, 86400, 1, 0, 0, 0, 3, 0};
    const char *dir = tmpdir(), *path;
    jpki_crl_info_t info;
    STACK_OF(X509) *r = roots();
    jpki_crl_build_t *b;
    apr_size_t n;
    unsigned char *der;

    write_index(&newer, dir, &info);
    b = jpki_crl_build_create(pool, r, apr_time_now(), 300);
    der = make_crl(&older, &n);
    ck_assert_ptr_null(jpki_crl_build_add(b, der, n));
    ck_assert_pstr_eq(
        strstr(jpki_crl_build_write(b, dir, 0, &path), "later thisUpdate") ? "x" : NULL, "x");
    ck_assert_ptr_null(jpki_crl_build_write(b, dir, 1, &path)); /* --force */
    roots_free(r);
    rm_dir(dir);
}
END_TEST

/* ------------------------------------------------------ damaged index -- */

static unsigned char *good_index(apr_size_t *len, const char **dirp)
{
    crl_spec_t s = {"auth-root-g1", -60, 86400, 1, 0, 0, 0, 10, 0};
    jpki_crl_info_t info;
    *dirp = tmpdir();
    return slurp(write_index(&s, *dirp, &info), len);
}

START_TEST(damaged_index)
{
    const char *dir;
    apr_size_t len, i;
    unsigned char *good = good_index(&len, &dir), *b;
    jpki_crl_index_t ix;
    struct {
        apr_size_t off;
        unsigned char v;
        const char *err;
    } cases[] = {
        {0, 'X', "bad magic"},
        {11, 2, "unsupported version"},
        {15, 16, "unsupported entry width"},
        {19, 0, "bad issuer key id length"},
        {19, 33, "bad issuer key id length"},
        {51, 1, "bad issuer key id padding"},
        {59, 0, "bad thisUpdate/nextUpdate"}, /* thisUpdate after nextUpdate? see below */
        {75, 11, "size does not match"},
        {120, 1, "bad reserved header bytes"},
        {128 + 22, 7, "bad entry"},
        {128 + 23, 1, "bad entry"},
        {128 + 24 + 21, 0, "entries not sorted"},
    };
    ck_assert_ptr_null(jpki_crl_index_open(good, len, &ix));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *err;
        b = apr_pmemdup(pool, good, len);
        if (i == 6) { /* nextUpdate before thisUpdate */
            memset(b + 60, 0, 8);
            b[67] = 1;
        } else if (i == 11) { /* entry 1 equal to entry 0: duplicate/unsorted */
            memcpy(b + 128 + 24, b + 128, 22);
        } else {
            b[cases[i].off] = cases[i].v;
        }
        err = jpki_crl_index_open(b, len, &ix);
        ck_assert_msg(err != NULL && strstr(err, cases[i].err) != NULL, "case %d: %s", (int)i,
                      err ? err : "(accepted)");
        ck_assert_ptr_null(ix.entries);
    }
    for (i = 0; i < len; i++) { /* every truncation and extension is refused */
        ck_assert_ptr_nonnull(jpki_crl_index_open(good, i, &ix));
    }
    b = apr_pcalloc(pool, len + 24);
    memcpy(b, good, len);
    ck_assert_ptr_nonnull(jpki_crl_index_open(b, len + 24, &ix));
    ck_assert_ptr_nonnull(jpki_crl_index_open(NULL, 0, &ix));
    rm_dir(dir);
}
END_TEST

/* ---------------------------------------------------- mappings, swaps -- */

/* Lines of /proc/self/maps that map path (a replaced file shows as
 * "path (deleted)"). */
static int mappings_of(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int n = 0;
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f)) {
        n += strstr(line, path) != NULL;
    }
    fclose(f);
    return n;
}

static int listed(const jpki_crl_map_t *m, long serial)
{
    unsigned char key[JPKI_CRL_SERIAL_LEN];
    char hex[32];
    int reason;
    snprintf(hex, sizeof(hex), "%lx", serial);
    ck_assert(jpki_crl_serial_key(hex, key));
    return jpki_crl_index_lookup(&m->ix, key, &reason);
}

START_TEST(swap_keeps_readers_mapping)
{
    crl_spec_t a = {"auth-root-g1", -120, 86400, 1, 0, 0, 0, 20, 0};
    crl_spec_t b = {"auth-root-g1", -60, 86400, 1, 0, 0, 0, 20, 1000};
    const char *dir = tmpdir(), *path;
    jpki_crl_info_t info;
    apr_thread_mutex_t *mu;
    jpki_crl_slot_t *sl;
    jpki_crl_map_t *m1, *m2, *m3;
    const jpki_crl_map_t *loaded;
    apr_time_t now = apr_time_now();

    ck_assert_int_eq(apr_thread_mutex_create(&mu, APR_THREAD_MUTEX_DEFAULT, pool), APR_SUCCESS);
    path = write_index(&a, dir, &info);
    sl = jpki_crl_slot_create(pool, path, ROOT_KID, now);
    ck_assert_ptr_nonnull(sl->cur->addr);
    /* a reader holds the first index */
    m1 = jpki_crl_slot_acquire(sl, mu, now, apr_time_from_sec(1), &loaded);
    ck_assert_ptr_null(loaded);
    ck_assert(listed(m1, 1) && !listed(m1, 1001));
    /* the indexer replaces it (rename); within the interval nothing is looked at */
    write_index(&b, dir, &info);
    m2 = jpki_crl_slot_acquire(sl, mu, now, apr_time_from_sec(1), &loaded);
    ck_assert_ptr_eq(m2, m1);
    jpki_crl_slot_release(m2, mu);
    /* after the interval the next reader maps the new one */
    m2 = jpki_crl_slot_acquire(sl, mu, now + apr_time_from_sec(1), apr_time_from_sec(1), &loaded);
    ck_assert_ptr_nonnull(loaded);
    ck_assert_ptr_ne(m2, m1);
    ck_assert(listed(m2, 1001) && !listed(m2, 1));
    ck_assert_ptr_eq(sl->cur, m2);
    /* the first reader's index is still mapped and answers as before */
    ck_assert_int_eq(mappings_of(apr_pstrcat(pool, path, " (deleted)", NULL)), 1);
    ck_assert(listed(m1, 1) && !listed(m1, 1001));
    /* and is unmapped when that reader is done, not before */
    jpki_crl_slot_release(m1, mu);
    ck_assert_int_eq(mappings_of(apr_pstrcat(pool, path, " (deleted)", NULL)), 0);
    ck_assert_int_eq(mappings_of(path), 1);
    /* unchanged file: no reload */
    m3 = jpki_crl_slot_acquire(sl, mu, now + apr_time_from_sec(5), apr_time_from_sec(1), &loaded);
    ck_assert_ptr_null(loaded);
    ck_assert_ptr_eq(m3, m2);
    jpki_crl_slot_release(m3, mu);
    jpki_crl_slot_release(m2, mu);
    jpki_crl_slot_destroy(sl);
    ck_assert_int_eq(mappings_of(path), 0);
    rm_dir(dir);
}
END_TEST

START_TEST(swap_to_damaged_or_missing)
{
    crl_spec_t a = {"auth-root-g1", -120, 86400, 1, 0, 0, 0, 20, 0};
    const char *dir = tmpdir(), *path;
    jpki_crl_info_t info;
    apr_thread_mutex_t *mu;
    jpki_crl_slot_t *sl;
    jpki_crl_map_t *m;
    const jpki_crl_map_t *loaded;
    apr_time_t now = apr_time_now();
    FILE *f;

    ck_assert_int_eq(apr_thread_mutex_create(&mu, APR_THREAD_MUTEX_DEFAULT, pool), APR_SUCCESS);
    sl = jpki_crl_slot_create(pool, apr_pstrcat(pool, dir, "/", ROOT_KID, JPKI_CRL_SUFFIX, NULL),
                              ROOT_KID, now);
    ck_assert_ptr_null(sl->cur->addr); /* no file yet */
    ck_assert(!sl->cur->exists);
    path = write_index(&a, dir, &info);
    m = jpki_crl_slot_acquire(sl, mu, now, 0, &loaded);
    ck_assert_ptr_nonnull(m->addr);
    jpki_crl_slot_release(m, mu);
    { /* the same file under another root's name: refused */
        const char *other = apr_pstrcat(pool, dir, "/abcd" JPKI_CRL_SUFFIX, NULL);
        jpki_crl_slot_t *o;
        ck_assert_int_eq(link(path, other), 0);
        o = jpki_crl_slot_create(pool, other, "abcd", now);
        ck_assert_ptr_null(o->cur->addr);
        ck_assert_pstr_eq(strstr(o->cur->bad, "another issuer") ? "x" : NULL, "x");
        jpki_crl_slot_destroy(o);
        unlink(other);
    }
    /* damaged in place (same inode, new size/mtime): no index, not an empty one */
    f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), JPKI_CRL_HEADER_LEN + 5), 0);
    fclose(f);
    m = jpki_crl_slot_acquire(sl, mu, now + 1, 0, &loaded);
    ck_assert_ptr_null(m->addr);
    ck_assert_pstr_eq(strstr(m->bad, "size does not match") ? "x" : NULL, "x");
    jpki_crl_slot_release(m, mu);
    unlink(path);
    m = jpki_crl_slot_acquire(sl, mu, now + 2, 0, &loaded);
    ck_assert_ptr_null(m->addr);
    ck_assert(!m->exists);
    jpki_crl_slot_release(m, mu);
    jpki_crl_slot_destroy(sl);
    rm_dir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_crl");
    TCase *tc = unit_tcase(s, "keys", 0);
    tcase_add_test(tc, serial_keys);
    tc = unit_tcase(s, "build", 60);
    tcase_add_test(tc, build_and_lookup);
    tcase_add_test(tc, empty_crl_and_pem);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, damaged_crls);
    tcase_add_test(tc, partitions_merged);
    tcase_add_test(tc, replayed_older_crl);
    tc = unit_tcase(s, "index", 60);
    tcase_add_test(tc, damaged_index);
    tc = unit_tcase(s, "map", 60);
    tcase_add_test(tc, swap_keeps_readers_mapping);
    tcase_add_test(tc, swap_to_damaged_or_missing);
    return unit_run(s);
}
