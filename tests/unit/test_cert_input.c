/*
 * Unit tests of jpki_cert_parse's input handling (security issue 9, items
 * 11a and 11c): the size limit in every encoding, and no read past the
 * given length (input ending at an unreadable page).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_encode.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/jpki_cert.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static char *slurp(const char *name, apr_size_t *len)
{
    const char *dir = getenv("JPKI_PKI_DIR");
    char *path, *buf;
    apr_file_t *f;
    apr_finfo_t fi;
    ck_assert_msg(dir != NULL, "JPKI_PKI_DIR is not set (run through make check)");
    path = apr_pstrcat(pool, dir, "/", name, NULL);
    ck_assert_msg(apr_file_open(&f, path, APR_READ | APR_BINARY, 0, pool) == APR_SUCCESS,
                  "cannot open %s", path);
    apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    buf = apr_palloc(pool, (apr_size_t)fi.size + 1);
    apr_file_read_full(f, buf, (apr_size_t)fi.size, len);
    buf[*len] = '\0';
    apr_file_close(f);
    return buf;
}

/* A self-signed certificate whose DER is `pad` bytes longer than a small
 * one (a long nsComment extension): validly signed, just too large. */
static unsigned char *big_cert_der(apr_size_t pad, apr_size_t *len)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509_EXTENSION *ext;
    char *comment = apr_palloc(pool, pad + 1);
    unsigned char *der = NULL, *out;
    int l;
    memset(comment, 'a', pad);
    comment[pad] = '\0';
    ck_assert_ptr_nonnull(k);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"big", -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, comment);
    ck_assert_ptr_nonnull(ext);
    X509_add_ext(x, ext, -1);
    ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
    l = i2d_X509(x, &der);
    ck_assert_int_gt(l, 0);
    out = apr_pmemdup(pool, der, (apr_size_t)l);
    *len = (apr_size_t)l;
    OPENSSL_free(der);
    X509_EXTENSION_free(ext);
    X509_NAME_free(n);
    X509_free(x);
    EVP_PKEY_free(k);
    return out;
}

/* Issue 9 item 11a: a validly signed certificate over 16 KiB is
 * cert_too_large in every encoding, not cert_malformed. */
START_TEST(parse_too_large_all_encodings)
{
    apr_size_t len;
    const char *code = NULL, *detail = NULL, *b64, *pem;
    unsigned char *der = big_cert_der(17000, &len);
    ck_assert_uint_gt(len, JPKI_CERT_MAX_DER);
    ck_assert_ptr_null(jpki_cert_parse(pool, (const char *)der, len, &code, &detail));
    ck_assert_str_eq(code, "cert_too_large");
    b64 = apr_pencode_base64_binary(pool, der, (apr_ssize_t)len, APR_ENCODE_NONE, NULL);
    code = NULL;
    ck_assert_ptr_null(jpki_cert_parse(pool, b64, strlen(b64), &code, &detail));
    ck_assert_str_eq(code, "cert_too_large");
    pem = apr_pstrcat(pool, "-----BEGIN CERTIFICATE-----\n", b64, "\n-----END CERTIFICATE-----\n",
                      NULL);
    code = NULL;
    ck_assert_ptr_null(jpki_cert_parse(pool, pem, strlen(pem), &code, &detail));
    ck_assert_str_eq(code, "cert_too_large");
    /* the same kind of certificate under the limit parses */
    der = big_cert_der(1000, &len);
    b64 = apr_pencode_base64_binary(pool, der, (apr_ssize_t)len, APR_ENCODE_NONE, NULL);
    ck_assert_ptr_nonnull(jpki_cert_parse(pool, b64, strlen(b64), &code, &detail));
}
END_TEST

/* Copy n bytes so that they end exactly at an unreadable page: any read
 * past in[n-1] faults (with or without ASan). */
static const char *at_guard_page(const char *src, apr_size_t n, void **map, apr_size_t *maplen)
{
    long pg = sysconf(_SC_PAGESIZE);
    apr_size_t pages = (n + (apr_size_t)pg - 1) / (apr_size_t)pg + 1;
    char *m = mmap(NULL, pages * (apr_size_t)pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    ck_assert_int_eq(mprotect(m + (pages - 1) * (apr_size_t)pg, (apr_size_t)pg, PROT_NONE), 0);
    memcpy(m + (pages - 1) * (apr_size_t)pg - n, src, n);
    *map = m;
    *maplen = pages * (apr_size_t)pg;
    return m + (pages - 1) * (apr_size_t)pg - n;
}

/* Issue 9 item 11c: jpki_cert_parse(in, len) reads only in[0..len): base64
 * and PEM input with no NUL after it, ending at an unreadable page. */
START_TEST(parse_reads_within_len)
{
    apr_size_t len, maplen;
    char *der = slurp("auth-alice-1.der", &len);
    const char *b64 = apr_pencode_base64_binary(pool, (unsigned char *)der, (apr_ssize_t)len,
                                                APR_ENCODE_NONE, NULL);
    const char *pem = apr_pstrcat(pool, "-----BEGIN CERTIFICATE-----\n", b64,
                                  "\n-----END CERTIFICATE-----", NULL);
    const char *code = NULL, *detail = NULL, *in;
    void *map;
    in = at_guard_page(b64, strlen(b64), &map, &maplen);
    ck_assert_ptr_nonnull(jpki_cert_parse(pool, in, strlen(b64), &code, &detail));
    munmap(map, maplen);
    in = at_guard_page(pem, strlen(pem), &map, &maplen);
    ck_assert_ptr_nonnull(jpki_cert_parse(pool, in, strlen(pem), &code, &detail));
    munmap(map, maplen);
    /* PEM cut inside the END line: refused, still within len */
    in = at_guard_page(pem, strlen(pem) - 5, &map, &maplen);
    ck_assert_ptr_null(jpki_cert_parse(pool, in, strlen(pem) - 5, &code, &detail));
    ck_assert_str_eq(code, "cert_malformed");
    munmap(map, maplen);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_cert_input");
    TCase *tc = tcase_create("input");
    SRunner *sr;
    int failed;

    apr_initialize();
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, parse_too_large_all_encodings);
    tcase_add_test(tc, parse_reads_within_len);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
