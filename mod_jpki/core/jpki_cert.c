/*
 * Certificate validation core (see jpki_cert.h). OpenSSL does the chain
 * work; this file adds the JPKI profile, picks the store by certificate
 * type (so a user-authentication certificate can never chain to a signing
 * root), and turns OpenSSL's reasons into stable codes.
 */
#include "core/jpki_cert.h"
#include "core/jpki_util.h"
#include "core/jpki_cert_int.h"

#include <apr_strings.h>
#include <apr_file_io.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#define JPKI_DN_OU_AUTH "JPKI for user authentication"
#define JPKI_DN_OU_SIGN "JPKI for digital signature"
#define JPKI_DN_O_TEST  "JPKI-TEST"

const char *jpki_cert_type_name(jpki_cert_type_e t)
{
    switch (t) {
    case JPKI_CERT_TYPE_AUTH:
        return "auth";
    case JPKI_CERT_TYPE_SIGN:
        return "sign";
    default:
        return "none";
    }
}

static apr_status_t x509_cleanup(void *data)
{
    X509_free((X509 *)data);
    return APR_SUCCESS;
}

static apr_status_t store_cleanup(void *data)
{
    X509_STORE_free((X509_STORE *)data);
    return APR_SUCCESS;
}

apr_time_t jpki_cert_asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    apr_time_exp_t xt;
    apr_time_t out;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return 0;
    }
    memset(&xt, 0, sizeof(xt));
    xt.tm_year = tm.tm_year;
    xt.tm_mon = tm.tm_mon;
    xt.tm_mday = tm.tm_mday;
    xt.tm_hour = tm.tm_hour;
    xt.tm_min = tm.tm_min;
    xt.tm_sec = tm.tm_sec;
    if (apr_time_exp_gmt_get(&out, &xt) != APR_SUCCESS) {
        return 0;
    }
    return out;
}

static const char *name_rfc2253(apr_pool_t *p, const X509_NAME *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long len;
    const char *out;
    if (b == NULL) {
        return "";
    }
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    len = BIO_get_mem_data(b, &data);
    out = apr_pstrmemdup(p, data, (apr_size_t)(len > 0 ? len : 0));
    BIO_free(b);
    return out;
}

/* Does the name carry attribute nid with exactly this value? */
static int name_has(const X509_NAME *n, int nid, const char *value)
{
    int i = -1;
    apr_size_t vlen = strlen(value);
    while ((i = X509_NAME_get_index_by_NID(n, nid, i)) >= 0) {
        const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
        if ((apr_size_t)ASN1_STRING_length(s) == vlen &&
            memcmp(ASN1_STRING_get0_data(s), value, vlen) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Classify a CA or issuer DN: auth/sign by OU, test by O. */
static jpki_cert_type_e dn_type(const X509_NAME *n, int *test)
{
    *test = name_has(n, NID_organizationName, JPKI_DN_O_TEST);
    if (!*test && !name_has(n, NID_organizationName, "JPKI")) {
        return JPKI_CERT_TYPE_NONE;
    }
    if (name_has(n, NID_organizationalUnitName, JPKI_DN_OU_AUTH)) {
        return JPKI_CERT_TYPE_AUTH;
    }
    if (name_has(n, NID_organizationalUnitName, JPKI_DN_OU_SIGN)) {
        return JPKI_CERT_TYPE_SIGN;
    }
    return JPKI_CERT_TYPE_NONE;
}

const char *jpki_cert_key_id(apr_pool_t *p, X509 *x)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
    if (ski != NULL) {
        return jpki_util_hex(p, ASN1_STRING_get0_data(ski), (apr_size_t)ASN1_STRING_length(ski));
    }
    else {
        /* RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits */
        unsigned char md[SHA_DIGEST_LENGTH];
        unsigned int mdlen = 0;
        if (!X509_pubkey_digest(x, EVP_sha1(), md, &mdlen)) {
            return "";
        }
        return jpki_util_hex(p, md, mdlen);
    }
}

/* The first occurrence of the NUL-terminated needle within hay[0..len). */
static const char *find_bounded(const char *hay, apr_size_t len, const char *needle)
{
    apr_size_t n = strlen(needle), i;
    for (i = 0; n <= len && i <= len - n; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

/* Decode any accepted encoding into DER bytes. */
static const unsigned char *decode_input(apr_pool_t *p, const char *in, apr_size_t len,
                                         apr_size_t *der_len, const char **code,
                                         const char **detail)
{
    static const char pem_begin[] = "-----BEGIN CERTIFICATE-----";
    static const char pem_end[] = "-----END CERTIFICATE-----";

    if (in == NULL || len == 0) {
        *code = JPKI_E_CERT_MISSING;
        *detail = "no certificate was presented";
        return NULL;
    }
    /* PEM and base64 are 4/3 larger than DER; allow for line breaks too */
    if (len > JPKI_CERT_MAX_DER * 2) {
        *code = JPKI_E_CERT_TOO_LARGE;
        *detail = apr_psprintf(p, "certificate input of %" APR_SIZE_T_FMT " bytes exceeds %d",
                               len, JPKI_CERT_MAX_DER);
        return NULL;
    }
    if ((unsigned char)in[0] == 0x30) {
        if (len > JPKI_CERT_MAX_DER) {
            *code = JPKI_E_CERT_TOO_LARGE;
            *detail = apr_psprintf(p, "DER certificate of %" APR_SIZE_T_FMT " bytes exceeds %d",
                                   len, JPKI_CERT_MAX_DER);
            return NULL;
        }
        *der_len = len;
        return (const unsigned char *)apr_pmemdup(p, in, len);
    }
    else {
        const char *b = in;
        const char *e = in + len;
        const unsigned char *der;
        /* bounded: the input need not end with a NUL */
        const char *s = find_bounded(in, len, pem_begin);
        if (s != NULL) {
            const char *t;
            b = s + sizeof(pem_begin) - 1;
            t = find_bounded(b, (apr_size_t)(e - b), pem_end);
            if (t == NULL) {
                *code = JPKI_E_CERT_MALFORMED;
                *detail = "PEM certificate without END line";
                return NULL;
            }
            e = t;
        }
        /* Decode up to the input's own bound (at most 32 KiB, checked
         * above) so that an oversized certificate is told apart from a
         * malformed one. */
        der = jpki_util_b64_decode(p, b, (apr_size_t)(e - b), JPKI_CERT_MAX_DER * 2, der_len);
        if (der == NULL) {
            *code = JPKI_E_CERT_MALFORMED;
            *detail = "certificate is neither DER, PEM nor base64";
            return NULL;
        }
        if (*der_len > JPKI_CERT_MAX_DER) {
            *code = JPKI_E_CERT_TOO_LARGE;
            *detail = apr_psprintf(p, "certificate of %" APR_SIZE_T_FMT " bytes exceeds %d",
                                   *der_len, JPKI_CERT_MAX_DER);
            return NULL;
        }
        return der;
    }
}

/* c->serial_hex from the certificate's serial: a positive integer of at
 * most 20 bytes. 0 (with *code, *detail) otherwise. */
static int parse_serial(apr_pool_t *p, jpki_cert_t *c, const char **code, const char **detail)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->x509), NULL);
    char *hex;
    if (bn == NULL || BN_is_negative(bn)) {
        BN_free(bn);
        *code = JPKI_E_CERT_MALFORMED;
        *detail = "certificate serial is not a positive integer";
        return 0;
    }
    hex = BN_bn2hex(bn);
    BN_free(bn);
    c->serial_hex = jpki_util_serial_norm(p, hex);
    OPENSSL_free(hex);
    if (c->serial_hex == NULL) {
        *code = JPKI_E_CERT_MALFORMED;
        *detail = "certificate serial is longer than 20 bytes";
        return 0;
    }
    return 1;
}

/* Type from the policy OIDs; the issuer's DN decides test-ness, and so do
 * the JPKI-TEST policy OIDs. 0 (with *code, *detail) when the certificate
 * has more than one certificatePolicies extension. */
static int parse_policies(jpki_cert_t *c, const char **code, const char **detail)
{
    X509 *x = c->x509;
    CERTIFICATEPOLICIES *pol;
    int test_dn = 0, crit = -1, i;

    (void)dn_type(X509_get_issuer_name(x), &test_dn);
    c->test = test_dn;
    pol = X509_get_ext_d2i(x, NID_certificate_policies, &crit, NULL);
    if (pol == NULL) {
        if (crit == -2) {
            *code = JPKI_E_CERT_MALFORMED;
            *detail = "certificate has more than one certificatePolicies extension";
            return 0;
        }
        return 1;
    }
    for (i = 0; i < sk_POLICYINFO_num(pol); i++) {
        char oid[80];
        POLICYINFO *pi = sk_POLICYINFO_value(pol, i);
        if (OBJ_obj2txt(oid, sizeof(oid), pi->policyid, 1) <= 0) {
            continue;
        }
        if (strcmp(oid, JPKI_OID_POLICY_AUTH) == 0 || strcmp(oid, JPKI_OID_POLICY_TEST_AUTH) == 0) {
            c->type = JPKI_CERT_TYPE_AUTH;
        }
        else if (strcmp(oid, JPKI_OID_POLICY_SIGN) == 0 ||
                 strcmp(oid, JPKI_OID_POLICY_TEST_SIGN) == 0) {
            c->type = JPKI_CERT_TYPE_SIGN;
        }
        if (strcmp(oid, JPKI_OID_POLICY_TEST_AUTH) == 0 ||
            strcmp(oid, JPKI_OID_POLICY_TEST_SIGN) == 0) {
            c->test = 1;
        }
    }
    CERTIFICATEPOLICIES_free(pol);
    return 1;
}

/* ------------------------------------------------- parsed certificates -- */

/* OpenSSL 3.0 decodes a certificate's public key through the generic
 * OSSL_DECODER path on every d2i_X509 (hundreds of microseconds, most of a
 * challenge login's CPU). The same card presents the same DER again and
 * again (every new TLS connection of a client-certificate user, every
 * request on it, a returning user's next login), so each process keeps the
 * last PARSED_SLOTS parses, matched on the complete DER (memcmp, never a
 * hash), and hands out a new reference. Only the parse is reused: every
 * check (profile, chain, validity, status) still runs on every request. */
#define PARSED_SLOTS   32
#define PARSED_MAX_DER 8192

typedef struct {
    unsigned char *der;
    size_t len;
    X509 *x;
} parsed_slot_t;

static parsed_slot_t parsed[PARSED_SLOTS];
static unsigned int parsed_next;
static CRYPTO_RWLOCK *parsed_lock;
static CRYPTO_ONCE parsed_once = CRYPTO_ONCE_STATIC_INIT;

static void parsed_init(void)
{
    parsed_lock = CRYPTO_THREAD_lock_new();
}

/* A new reference to the X509 parsed from exactly these bytes, or NULL. */
static X509 *parsed_get(const unsigned char *der, size_t len)
{
    X509 *x = NULL;
    int i;
    if (!CRYPTO_THREAD_run_once(&parsed_once, parsed_init) || parsed_lock == NULL ||
        !CRYPTO_THREAD_read_lock(parsed_lock)) {
        return NULL;
    }
    for (i = 0; i < PARSED_SLOTS && x == NULL; i++) {
        if (parsed[i].x != NULL && parsed[i].len == len && memcmp(parsed[i].der, der, len) == 0 &&
            X509_up_ref(parsed[i].x)) {
            x = parsed[i].x;
        }
    }
    CRYPTO_THREAD_unlock(parsed_lock);
    return x;
}

/* Keep a reference to a certificate d2i_X509 accepted from these bytes. */
static void parsed_put(const unsigned char *der, size_t len, X509 *x)
{
    parsed_slot_t *s, old;
    unsigned char *copy;
    if (len > PARSED_MAX_DER || parsed_lock == NULL || (copy = malloc(len)) == NULL) {
        return;
    }
    memcpy(copy, der, len);
    if (!X509_up_ref(x)) {
        free(copy);
        return;
    }
    if (!CRYPTO_THREAD_write_lock(parsed_lock)) {
        X509_free(x);
        free(copy);
        return;
    }
    s = &parsed[parsed_next++ % PARSED_SLOTS];
    old = *s;
    s->der = copy;
    s->len = len;
    s->x = x;
    CRYPTO_THREAD_unlock(parsed_lock);
    X509_free(old.x);
    free(old.der);
}

/* d2i_X509 of exactly der_len bytes (trailing bytes refused), or NULL. */
static X509 *parse_der(const unsigned char *der, apr_size_t der_len)
{
    const unsigned char *q = der;
    X509 *x = parsed_get(der, der_len);
    if (x != NULL) {
        return x;
    }
    x = d2i_X509(NULL, &q, (long)der_len);
    if (x == NULL || q != der + der_len) {
        X509_free(x);
        return NULL;
    }
    parsed_put(der, der_len, x);
    return x;
}

jpki_cert_t *jpki_cert_parse(apr_pool_t *p, const char *in, apr_size_t len, const char **code,
                             const char **detail)
{
    const unsigned char *der;
    apr_size_t der_len = 0;
    X509 *x;
    jpki_cert_t *c;
    const ASN1_OCTET_STRING *akid;
    EVP_PKEY *pk;

    der = decode_input(p, in, len, &der_len, code, detail);
    if (der == NULL) {
        return NULL;
    }
    x = parse_der(der, der_len);
    if (x == NULL) {
        *code = JPKI_E_CERT_MALFORMED;
        *detail = "not a DER X.509 certificate (or trailing bytes)";
        return NULL;
    }
    apr_pool_cleanup_register(p, x, x509_cleanup, apr_pool_cleanup_null);

    c = apr_pcalloc(p, sizeof(*c));
    c->x509 = x;
    c->der = der;
    c->der_len = der_len;
    if (!parse_serial(p, c, code, detail)) {
        return NULL;
    }

    akid = X509_get0_authority_key_id(x);
    c->issuer_key_id = akid ? jpki_util_hex(p, ASN1_STRING_get0_data(akid),
                                            (apr_size_t)ASN1_STRING_length(akid))
                            : NULL;
    c->serial = c->issuer_key_id ? apr_pstrcat(p, c->issuer_key_id, ":", c->serial_hex, NULL)
                                 : NULL;
    c->issuer_dn = name_rfc2253(p, X509_get_issuer_name(x));
    c->not_before = jpki_cert_asn1_time(X509_get0_notBefore(x));
    c->not_after = jpki_cert_asn1_time(X509_get0_notAfter(x));
    pk = X509_get0_pubkey(x);
    c->key_bits = pk ? EVP_PKEY_get_bits(pk) : 0;
    if (!parse_policies(c, code, detail)) {
        return NULL;
    }
    return c;
}

jpki_trust_t *jpki_trust_create(apr_pool_t *p)
{
    jpki_trust_t *t = apr_pcalloc(p, sizeof(*t));
    t->auth_store = X509_STORE_new();
    t->sign_store = X509_STORE_new();
    apr_pool_cleanup_register(p, t->auth_store, store_cleanup, apr_pool_cleanup_null);
    apr_pool_cleanup_register(p, t->sign_store, store_cleanup, apr_pool_cleanup_null);
    t->anchors = apr_array_make(p, 8, sizeof(jpki_anchor_t));
    t->auth_policies = apr_array_make(p, 2, sizeof(const char *));
    t->sign_policies = apr_array_make(p, 2, sizeof(const char *));
    return t;
}

static const char *trust_add_x509(jpki_trust_t *t, apr_pool_t *p, const char *file, X509 *x)
{
    jpki_anchor_t *a;
    int test = 0;
    jpki_cert_type_e type;
    const char *subject = name_rfc2253(p, X509_get_subject_name(x));

    if (X509_check_ca(x) != 1 || !(X509_get_extension_flags(x) & EXFLAG_CA)) {
        return apr_psprintf(p, "%s: certificate '%s' is not a CA certificate "
                               "(basicConstraints CA:TRUE is required)", file, subject);
    }
    type = dn_type(X509_get_subject_name(x), &test);
    if (type == JPKI_CERT_TYPE_NONE) {
        return apr_psprintf(p, "%s: certificate '%s' is not a JPKI root (expected O=JPKI or "
                               "O=JPKI-TEST with OU=%s or OU=%s)", file, subject,
                            JPKI_DN_OU_AUTH, JPKI_DN_OU_SIGN);
    }
    if (!X509_STORE_add_cert(type == JPKI_CERT_TYPE_AUTH ? t->auth_store : t->sign_store, x)) {
        /* duplicates are harmless (the same root listed twice) */
        ERR_clear_error();
    }
    a = apr_array_push(t->anchors);
    a->x509 = x;
    a->file = apr_pstrdup(p, file);
    a->key_id = jpki_cert_key_id(p, x);
    a->type = type;
    a->test = test;
    a->not_before = jpki_cert_asn1_time(X509_get0_notBefore(x));
    a->not_after = jpki_cert_asn1_time(X509_get0_notAfter(x));
    return NULL;
}

const char *jpki_trust_add_file(jpki_trust_t *t, apr_pool_t *p, const char *file)
{
    char *data;
    apr_size_t len = 0;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    int loaded = 0;
    char ebuf[120];

    rv = apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "%s: cannot open: %s", file, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv != APR_SUCCESS || fi.size > 4 * 1024 * 1024) {
        apr_file_close(f);
        return apr_psprintf(p, "%s: unreadable or larger than 4 MiB", file);
    }
    len = (apr_size_t)fi.size;
    data = apr_palloc(p, len + 1);
    rv = apr_file_read_full(f, data, len, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        return apr_psprintf(p, "%s: read failed: %s", file, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    data[len] = '\0';

    if (len > 0 && (unsigned char)data[0] == 0x30) {
        const unsigned char *q = (const unsigned char *)data;
        X509 *x = d2i_X509(NULL, &q, (long)len);
        if (x != NULL) {
            const char *err;
            apr_pool_cleanup_register(p, x, x509_cleanup, apr_pool_cleanup_null);
            if ((err = trust_add_x509(t, p, file, x)) != NULL) {
                return err;
            }
            loaded++;
        }
    }
    else {
        BIO *b = BIO_new_mem_buf(data, (int)len);
        X509 *x;
        while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            const char *err;
            apr_pool_cleanup_register(p, x, x509_cleanup, apr_pool_cleanup_null);
            if ((err = trust_add_x509(t, p, file, x)) != NULL) {
                BIO_free(b);
                return err;
            }
            loaded++;
        }
        BIO_free(b);
        ERR_clear_error(); /* the PEM reader ends with "no start line" */
    }
    if (loaded == 0) {
        return apr_psprintf(p, "%s: contains no PEM or DER certificate", file);
    }
    return NULL;
}
