/*
 * Unit tests of core/jpki_cert.c: parsing in every encoding (DER, PEM,
 * base64, base64url), serials, the input limits (security issue 9, items
 * 11a and 11c), and trust anchors from the generated test PKI
 * ($JPKI_PKI_DIR) and the real J-LIS roots ($JPKI_SHARED_CA_DIR).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <apr_encode.h>
#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "unit.h"
#include "core/jpki_cert.h"
#include "core/jpki_util.h"

START_TEST(parse_encodings)
{
    apr_size_t len;
    const char *code, *detail;
    char *der = unit_pki_read("auth-alice-1.der", &len);
    char *pem;
    jpki_cert_t *a, *b, *c, *d;
    const char *b64;

    pem = unit_pki_read("auth-alice-1.crt", &len);
    b = jpki_cert_parse(pool, pem, len, &code, &detail);
    ck_assert_ptr_nonnull(b);
    der = unit_pki_read("auth-alice-1.der", &len);
    a = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert_ptr_nonnull(a);
    b64 = jpki_util_b64_encode(pool, (const unsigned char *)der, len);
    c = jpki_cert_parse(pool, b64, strlen(b64), &code, &detail);
    ck_assert_ptr_nonnull(c);
    b64 = jpki_util_b64url_encode(pool, (const unsigned char *)der, len);
    d = jpki_cert_parse(pool, b64, strlen(b64), &code, &detail);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(a->serial, b->serial);
    ck_assert_str_eq(a->serial, c->serial);
    ck_assert_str_eq(a->serial, d->serial);
    ck_assert_str_eq(a->serial, unit_manifest_serial("auth-alice-1"));
    ck_assert_int_eq(a->type, JPKI_CERT_TYPE_AUTH);
    ck_assert_int_eq(a->key_bits, 2048);
}
END_TEST

/* The parse cache (issue 14): the same DER again is the same parse (a
 * new reference to one X509), other bytes are never mistaken for it, and
 * a certificate with a flipped byte that d2i still accepts is its own. */
START_TEST(parse_cache)
{
    apr_size_t alen, blen;
    const char *code, *detail;
    char *der = unit_pki_read("auth-alice-1.der", &alen);
    char *other = unit_pki_read("auth-bob.der", &blen);
    char *copy = apr_pmemdup(pool, der, alen);
    jpki_cert_t *a, *a2, *b, *f;
    apr_size_t i;

    a = jpki_cert_parse(pool, der, alen, &code, &detail);
    a2 = jpki_cert_parse(pool, copy, alen, &code, &detail);
    b = jpki_cert_parse(pool, other, blen, &code, &detail);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(a2);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_eq(a->x509, a2->x509); /* reused, not parsed again */
    ck_assert_str_eq(a2->serial, unit_manifest_serial("auth-alice-1"));
    ck_assert_str_eq(b->serial, unit_manifest_serial("auth-bob"));
    ck_assert_ptr_ne(a->x509, b->x509);
    /* the last byte is inside the signature: still a certificate, other bytes */
    copy[alen - 1] ^= 0x01;
    f = jpki_cert_parse(pool, copy, alen, &code, &detail);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_ne(f->x509, a->x509);
    ck_assert_int_ne(X509_cmp(f->x509, a->x509), 0);
    /* more certificates than slots: every parse is still its own */
    for (i = 0; i < 40; i++) {
        jpki_cert_t *c =
            jpki_cert_parse(pool, i % 2 ? der : other, i % 2 ? alen : blen, &code, &detail);
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c->serial, i % 2 ? a->serial : b->serial);
    }
}
END_TEST

START_TEST(serial_leading_zero)
{
    /* auth-bob's serial has its top bit set: DER carries a leading 00 */
    apr_size_t len;
    const char *code, *detail;
    char *der = unit_pki_read("auth-bob.der", &len);
    jpki_cert_t *c = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert_ptr_nonnull(c);
    ck_assert(c->serial_hex[0] != '0');
    ck_assert_str_eq(c->serial, unit_manifest_serial("auth-bob"));
}
END_TEST

START_TEST(parse_bad_input)
{
    apr_size_t len;
    const char *code = NULL, *detail = NULL;
    char *garbage = unit_pki_read("garbage.bin", &len);
    char *huge;
    char *der;
    ck_assert_ptr_null(jpki_cert_parse(pool, garbage, len, &code, &detail));
    ck_assert(strcmp(code, "cert_malformed") == 0 || strcmp(code, "cert_too_large") == 0);
    huge = unit_pki_read("huge.bin", &len);
    ck_assert_uint_eq(len, 1048576);
    ck_assert_ptr_null(jpki_cert_parse(pool, huge, len, &code, &detail));
    ck_assert_str_eq(code, "cert_too_large");
    ck_assert_ptr_null(jpki_cert_parse(pool, "", 0, &code, &detail));
    ck_assert_str_eq(code, "cert_missing");
    ck_assert_ptr_null(jpki_cert_parse(pool, "not base64 !!", 13, &code, &detail));
    ck_assert_str_eq(code, "cert_malformed");
    /* a valid certificate with a trailing byte */
    der = unit_pki_read("auth-alice-1.der", &len);
    der = apr_pstrcat(pool, apr_pstrmemdup(pool, der, len), "x", NULL);
    ck_assert_ptr_null(jpki_cert_parse(pool, der, len + 1, &code, &detail));
    ck_assert_str_eq(code, "cert_malformed");
    /* truncated */
    ck_assert_ptr_null(jpki_cert_parse(pool, der, len / 2, &code, &detail));
    ck_assert_str_eq(code, "cert_malformed");
    ck_assert_ptr_null(
        jpki_cert_parse(pool, "-----BEGIN CERTIFICATE-----\nMIIB", 32, &code, &detail));
    ck_assert_str_eq(code, "cert_malformed");
}
END_TEST

/* What jpki_cert_parse reads besides the serial: type and test-ness from
 * the policy OIDs and the issuer, the issuer DN, validity, key size. */
START_TEST(parse_fields)
{
    jpki_cert_t *a = unit_cert("auth-alice-1");
    jpki_cert_t *s = unit_cert("sign-alice");
    jpki_cert_t *t = unit_cert("bad-test-hierarchy");
    const char *na = unit_manifest_field("auth-alice-1", 4);

    ck_assert_int_eq(a->type, JPKI_CERT_TYPE_AUTH);
    ck_assert_int_eq(a->test, 0);
    ck_assert_ptr_nonnull(strstr(a->issuer_dn, "OU=JPKI for user authentication"));
    ck_assert_ptr_nonnull(strstr(a->issuer_dn, "O=JPKI,"));
    ck_assert_ptr_nonnull(na);
    /* manifest: 2031-01-07T17:29:01Z; ours: 2031-01-07T17:29:01.000Z */
    ck_assert_int_eq(strncmp(jpki_util_time_iso(pool, a->not_after), na, 19), 0);
    ck_assert(a->not_before > 0 && a->not_before < a->not_after);
    ck_assert_ptr_nonnull(a->issuer_key_id);
    ck_assert_str_eq(a->issuer_key_id, unit_manifest_field("auth-alice-1", 3));
    ck_assert_ptr_nonnull(a->der);
    ck_assert_uint_gt(a->der_len, 500);

    ck_assert_int_eq(s->type, JPKI_CERT_TYPE_SIGN);
    ck_assert_int_eq(s->test, 0);
    ck_assert_ptr_nonnull(strstr(s->issuer_dn, "OU=JPKI for digital signature"));

    ck_assert_int_eq(t->type, JPKI_CERT_TYPE_AUTH);
    ck_assert_int_eq(t->test, 1);
    ck_assert_ptr_nonnull(strstr(t->issuer_dn, "O=JPKI-TEST"));
}
END_TEST

START_TEST(type_names_and_times)
{
    ck_assert_str_eq(jpki_cert_type_name(JPKI_CERT_TYPE_AUTH), "auth");
    ck_assert_str_eq(jpki_cert_type_name(JPKI_CERT_TYPE_SIGN), "sign");
    ck_assert_str_eq(jpki_cert_type_name(JPKI_CERT_TYPE_NONE), "none");
    ck_assert_int_eq(jpki_cert_asn1_time(NULL), 0);
    {
        ASN1_TIME *t = ASN1_TIME_new();
        ck_assert_int_eq(ASN1_TIME_set_string(t, "20261124032000Z"), 1);
        ck_assert_str_eq(jpki_util_time_iso(pool, jpki_cert_asn1_time(t)),
                         "2026-11-24T03:20:00.000Z");
        ASN1_TIME_free(t);
    }
}
END_TEST

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
    char *der = unit_pki_read("auth-alice-1.der", &len);
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

START_TEST(trust_anchor_errors)
{
    jpki_trust_t *t = jpki_trust_create(pool);
    const char *err;
    err = jpki_trust_add_file(t, pool, unit_pki_path("notca.crt"));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "not a CA"));
    err = jpki_trust_add_file(t, pool, unit_pki_path("other-root.crt"));
    ck_assert_ptr_nonnull(strstr(err, "not a JPKI root"));
    err = jpki_trust_add_file(t, pool, unit_pki_path("garbage.bin"));
    ck_assert_ptr_nonnull(strstr(err, "no PEM or DER"));
    err = jpki_trust_add_file(t, pool, "/nonexistent/x.pem");
    ck_assert_ptr_nonnull(strstr(err, "cannot open"));
    /* DER file */
    ck_assert_ptr_null(jpki_trust_add_file(t, pool, unit_pki_path("auth-root-g1.der")));
    ck_assert_int_eq(t->anchors->nelts, 1);
}
END_TEST

START_TEST(real_jlis_roots)
{
    /* The real J-LIS roots from ../shared load and classify; 2015 is expired. */
    const char *dir = getenv("JPKI_SHARED_CA_DIR");
    static const struct {
        const char *file;
        jpki_cert_type_e type;
        const char *ski;
        int expired;
    } roots[] = {
        {"auth_ca_2015.pem", JPKI_CERT_TYPE_AUTH, "9567951b5ca70d84a0fff1d85a87f1aab1340385", 1},
        {"auth_ca_2023.pem", JPKI_CERT_TYPE_AUTH, "1ac100f596a3bc8c4b3df195e32699249e9e308a", 0},
        {"sign_ca_2015.pem", JPKI_CERT_TYPE_SIGN, "0d034cbb34d0714f45e45a1cafd8fd143fab54a7", 1},
        {"sign_ca_2023.pem", JPKI_CERT_TYPE_SIGN, "d21ea55895617e93adbf966b941ab4edf653f08f", 0},
    };
    jpki_trust_t *t = jpki_trust_create(pool);
    int i;
    ck_assert_msg(dir != NULL, "JPKI_SHARED_CA_DIR is not set");
    for (i = 0; i < 4; i++) {
        jpki_anchor_t *a;
        const char *err =
            jpki_trust_add_file(t, pool, apr_pstrcat(pool, dir, "/", roots[i].file, NULL));
        ck_assert_msg(err == NULL, "%s: %s", roots[i].file, err);
        a = &APR_ARRAY_IDX(t->anchors, i, jpki_anchor_t);
        ck_assert_int_eq(a->type, roots[i].type);
        ck_assert_str_eq(a->key_id, roots[i].ski);
        ck_assert_int_eq(a->test, 0);
        ck_assert_int_eq(a->not_after < apr_time_now(), roots[i].expired);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_cert");
    TCase *tc = unit_tcase(s, "parse", 30);
    tcase_add_test(tc, parse_encodings);
    tcase_add_test(tc, parse_cache);
    tcase_add_test(tc, serial_leading_zero);
    tcase_add_test(tc, parse_fields);
    tcase_add_test(tc, type_names_and_times);
    tcase_add_test(tc, parse_bad_input);
    tc = unit_tcase(s, "input", 30);
    tcase_add_test(tc, parse_too_large_all_encodings);
    tcase_add_test(tc, parse_reads_within_len);
    tc = unit_tcase(s, "trust", 30);
    tcase_add_test(tc, trust_anchor_errors);
    tcase_add_test(tc, real_jlis_roots);
    return unit_run(s);
}
