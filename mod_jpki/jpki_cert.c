/*
 * Certificate validation core (see jpki_cert.h). OpenSSL does the chain
 * work; this file adds the JPKI profile, picks the store by certificate
 * type (so a user-authentication certificate can never chain to a signing
 * root), and turns OpenSSL's reasons into stable codes.
 */
#include "jpki_cert.h"
#include "jpki_util.h"

#include <apr_strings.h>
#include <apr_file_io.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#define JPKI_DN_OU_AUTH "JPKI for user authentication"
#define JPKI_DN_OU_SIGN "JPKI for digital signature"
#define JPKI_DN_O_TEST  "JPKI-TEST"

/* The 4-facts otherName OIDs, 1.2.392.200149.8.5.5.1 .. .6 */
static const char *const facts_oids[6] = {
    "1.2.392.200149.8.5.5.1", "1.2.392.200149.8.5.5.2", "1.2.392.200149.8.5.5.3",
    "1.2.392.200149.8.5.5.4", "1.2.392.200149.8.5.5.5", "1.2.392.200149.8.5.5.6",
};

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

static const char *key_id_of(apr_pool_t *p, X509 *x)
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

static int oid_in(const char *oid, const apr_array_header_t *list)
{
    int i;
    for (i = 0; list && i < list->nelts; i++) {
        if (strcmp(oid, APR_ARRAY_IDX(list, i, const char *)) == 0) {
            return 1;
        }
    }
    return 0;
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

jpki_cert_t *jpki_cert_parse(apr_pool_t *p, const char *in, apr_size_t len, const char **code,
                             const char **detail)
{
    const unsigned char *der, *q;
    apr_size_t der_len = 0;
    X509 *x;
    jpki_cert_t *c;
    const ASN1_INTEGER *sn;
    BIGNUM *bn;
    char *hex;
    const ASN1_OCTET_STRING *akid;
    CERTIFICATEPOLICIES *pol;
    EVP_PKEY *pk;
    int crit = -1;

    der = decode_input(p, in, len, &der_len, code, detail);
    if (der == NULL) {
        return NULL;
    }
    q = der;
    x = d2i_X509(NULL, &q, (long)der_len);
    if (x == NULL || q != der + der_len) {
        X509_free(x);
        *code = JPKI_E_CERT_MALFORMED;
        *detail = "not a DER X.509 certificate (or trailing bytes)";
        return NULL;
    }
    apr_pool_cleanup_register(p, x, x509_cleanup, apr_pool_cleanup_null);

    c = apr_pcalloc(p, sizeof(*c));
    c->x509 = x;
    c->der = der;
    c->der_len = der_len;

    sn = X509_get0_serialNumber(x);
    bn = ASN1_INTEGER_to_BN(sn, NULL);
    if (bn == NULL || BN_is_negative(bn)) {
        BN_free(bn);
        *code = JPKI_E_CERT_MALFORMED;
        *detail = "certificate serial is not a positive integer";
        return NULL;
    }
    hex = BN_bn2hex(bn);
    BN_free(bn);
    c->serial_hex = jpki_util_serial_norm(p, hex);
    OPENSSL_free(hex);
    if (c->serial_hex == NULL) {
        *code = JPKI_E_CERT_MALFORMED;
        *detail = "certificate serial is longer than 20 bytes";
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

    /* Type from the policy OIDs; the issuer's DN decides test-ness. */
    {
        int test_dn = 0;
        (void)dn_type(X509_get_issuer_name(x), &test_dn);
        c->test = test_dn;
    }
    pol = X509_get_ext_d2i(x, NID_certificate_policies, &crit, NULL);
    if (pol != NULL) {
        int i;
        for (i = 0; i < sk_POLICYINFO_num(pol); i++) {
            char oid[80];
            POLICYINFO *pi = sk_POLICYINFO_value(pol, i);
            if (OBJ_obj2txt(oid, sizeof(oid), pi->policyid, 1) <= 0) {
                continue;
            }
            if (strcmp(oid, JPKI_OID_POLICY_AUTH) == 0 ||
                strcmp(oid, JPKI_OID_POLICY_TEST_AUTH) == 0) {
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
    }
    else if (crit == -2) {
        *code = JPKI_E_CERT_MALFORMED;
        *detail = "certificate has more than one certificatePolicies extension";
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
    a->key_id = key_id_of(p, x);
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

/* Extensions OpenSSL understands and a JPKI certificate may mark critical. */
static int critical_ext_known(int nid)
{
    switch (nid) {
    case NID_key_usage:
    case NID_basic_constraints:
    case NID_certificate_policies:
    case NID_subject_alt_name:
    case NID_ext_key_usage:
    case NID_authority_key_identifier:
    case NID_subject_key_identifier:
    case NID_crl_distribution_points:
        return 1;
    default:
        return 0;
    }
}

static int fail(const char **code, const char **detail, const char *c, const char *d)
{
    *code = c;
    *detail = d;
    return 0;
}

int jpki_cert_verify(const jpki_trust_t *t, apr_pool_t *p, jpki_cert_t *c,
                     jpki_cert_type_e expected, apr_time_t now, const char **code,
                     const char **detail)
{
    X509 *x = c->x509;
    EVP_PKEY *pk = X509_get0_pubkey(x);
    int sig_nid = X509_get_signature_nid(x);
    uint32_t ku;
    int i, ok, err, depth;
    X509_STORE_CTX *ctx;
    X509_VERIFY_PARAM *vp;
    time_t tnow = (time_t)apr_time_sec(now);

    /* 1. Profile checks that need no trust anchor. Cheap and specific. */
    if (X509_get_version(x) != X509_VERSION_3) {
        return fail(code, detail, JPKI_E_CERT_MALFORMED, "not an X.509 v3 certificate");
    }
    if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        return fail(code, detail, JPKI_E_CERT_WEAK_KEY, "public key is not RSA");
    }
    if (c->key_bits < 2048) {
        return fail(code, detail, JPKI_E_CERT_WEAK_KEY,
                    apr_psprintf(p, "RSA key of %d bits, at least 2048 required", c->key_bits));
    }
    if (sig_nid != NID_sha256WithRSAEncryption && sig_nid != NID_sha384WithRSAEncryption &&
        sig_nid != NID_sha512WithRSAEncryption) {
        return fail(code, detail, JPKI_E_CERT_WEAK_SIGNATURE,
                    apr_psprintf(p, "signature algorithm %s is not accepted (sha256/384/512 "
                                    "with RSA required)", OBJ_nid2sn(sig_nid)));
    }
    for (i = 0; i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *ext = X509_get_ext(x, i);
        if (X509_EXTENSION_get_critical(ext)) {
            int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
            if (!critical_ext_known(nid)) {
                char oid[80];
                OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 1);
                return fail(code, detail, JPKI_E_CERT_CRITICAL_EXT,
                            apr_psprintf(p, "unknown critical extension %s", oid));
            }
        }
    }
    ku = X509_get_key_usage(x);
    if (ku == UINT32_MAX || !(ku & KU_DIGITAL_SIGNATURE)) {
        return fail(code, detail, JPKI_E_CERT_KEY_USAGE,
                    "keyUsage does not include digitalSignature");
    }

    /* 2. Type: policy OID (configured or default), then the expected use. */
    {
        CERTIFICATEPOLICIES *pol = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
        jpki_cert_type_e found = JPKI_CERT_TYPE_NONE;
        for (i = 0; pol && i < sk_POLICYINFO_num(pol); i++) {
            char oid[80];
            if (OBJ_obj2txt(oid, sizeof(oid), sk_POLICYINFO_value(pol, i)->policyid, 1) <= 0) {
                continue;
            }
            if ((t->auth_policies->nelts ? oid_in(oid, t->auth_policies)
                                         : strcmp(oid, JPKI_OID_POLICY_AUTH) == 0) ||
                (t->accept_test && strcmp(oid, JPKI_OID_POLICY_TEST_AUTH) == 0)) {
                found = JPKI_CERT_TYPE_AUTH;
            }
            else if ((t->sign_policies->nelts ? oid_in(oid, t->sign_policies)
                                              : strcmp(oid, JPKI_OID_POLICY_SIGN) == 0) ||
                     (t->accept_test && strcmp(oid, JPKI_OID_POLICY_TEST_SIGN) == 0)) {
                found = JPKI_CERT_TYPE_SIGN;
            }
        }
        CERTIFICATEPOLICIES_free(pol);
        if (c->test && !t->accept_test) {
            return fail(code, detail, JPKI_E_CERT_TEST_HIERARCHY,
                        "certificate of the JPKI-TEST hierarchy (set JPKIAcceptTestCards On "
                        "to allow it outside production)");
        }
        if (found == JPKI_CERT_TYPE_NONE) {
            return fail(code, detail, JPKI_E_CERT_POLICY,
                        "no JPKI certificate policy OID (user authentication or signing)");
        }
        c->type = found;
    }
    if (expected != JPKI_CERT_TYPE_NONE && c->type != expected) {
        return fail(code, detail, JPKI_E_CERT_WRONG_TYPE,
                    apr_psprintf(p, "a %s certificate was presented where a %s certificate is "
                                    "required", jpki_cert_type_name(c->type),
                                 jpki_cert_type_name(expected)));
    }

    /* 3. Validity of the certificate itself, for a precise code. */
    if (X509_cmp_time(X509_get0_notBefore(x), &tnow) > 0) {
        return fail(code, detail, JPKI_E_CERT_NOT_YET_VALID,
                    apr_psprintf(p, "not valid before %s",
                                 jpki_util_time_iso(p, c->not_before)));
    }
    if (X509_cmp_time(X509_get0_notAfter(x), &tnow) < 0) {
        return fail(code, detail, JPKI_E_CERT_EXPIRED,
                    apr_psprintf(p, "expired at %s", jpki_util_time_iso(p, c->not_after)));
    }

    /* 4. Chain to an anchor of the same type. The issuer is found by key:
     * OpenSSL matches the authority key id against each same-DN anchor. */
    ctx = X509_STORE_CTX_new();
    if (ctx == NULL ||
        !X509_STORE_CTX_init(ctx, c->type == JPKI_CERT_TYPE_AUTH ? t->auth_store : t->sign_store,
                             x, NULL)) {
        X509_STORE_CTX_free(ctx);
        return fail(code, detail, JPKI_E_CERT_UNTRUSTED, "cannot set up chain verification");
    }
    vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(vp, tnow);
    /* level 2: RSA >= 2048 and no SHA-1 anywhere in the chain */
    X509_VERIFY_PARAM_set_auth_level(vp, 2);
    ok = X509_verify_cert(ctx);
    if (ok != 1) {
        err = X509_STORE_CTX_get_error(ctx);
        depth = X509_STORE_CTX_get_error_depth(ctx);
        X509_STORE_CTX_free(ctx);
        ERR_clear_error();
        if ((err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID) &&
            depth > 0) {
            return fail(code, detail, JPKI_E_CERT_ISSUER_EXPIRED,
                        apr_psprintf(p, "the issuing root is outside its validity period: %s",
                                     X509_verify_cert_error_string(err)));
        }
        return fail(code, detail, JPKI_E_CERT_UNTRUSTED,
                    apr_psprintf(p, "no chain to a trusted %s root: %s (depth %d)",
                                 jpki_cert_type_name(c->type), X509_verify_cert_error_string(err),
                                 depth));
    }
    {
        STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
        if (c->issuer_key_id == NULL && sk_X509_num(chain) > 1) {
            c->issuer_key_id = key_id_of(p, sk_X509_value(chain, 1));
            c->serial = apr_pstrcat(p, c->issuer_key_id, ":", c->serial_hex, NULL);
        }
    }
    X509_STORE_CTX_free(ctx);
    return 1;
}

/* ---------------------------------------------------------------- facts -- */

const char *jpki_facts_birth_date_iso(apr_pool_t *p, const char *s, apr_size_t len)
{
    int y, m, d, i;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (len != 9) {
        return NULL;
    }
    for (i = 0; i < 9; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return NULL;
        }
    }
    if (s[0] > '5') { /* 0 unknown, 1 明治 .. 5 令和 */
        return NULL;
    }
    y = (s[1] - '0') * 1000 + (s[2] - '0') * 100 + (s[3] - '0') * 10 + (s[4] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[7] - '0') * 10 + (s[8] - '0');
    if (y < 1868 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) {
        return NULL;
    }
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return NULL;
    }
    return apr_psprintf(p, "%04d-%02d-%02d", y, m, d);
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int jpki_age_years(const char *b, int year, int month, int day)
{
    int by, bm, bd, age;
    if (b == NULL || strlen(b) != 10 || sscanf(b, "%4d-%2d-%2d", &by, &bm, &bd) != 3) {
        return -1;
    }
    if (bm < 1 || bm > 12 || bd < 1 || bd > 31) {
        return -1;
    }
    /* In a common year a 29 Feb birthday falls on 1 Mar (see header). */
    if (bm == 2 && bd == 29 && !is_leap(year)) {
        bm = 3;
        bd = 1;
    }
    age = year - by;
    if (month < bm || (month == bm && day < bd)) {
        age--;
    }
    return age < 0 ? -1 : age;
}

void jpki_day_jst(apr_time_t t, int *year, int *month, int *day)
{
    apr_time_exp_t tm;
    apr_time_exp_tz(&tm, t, 9 * 3600);
    *year = tm.tm_year + 1900;
    *month = tm.tm_mon + 1;
    *day = tm.tm_mday;
}

jpki_facts_t *jpki_cert_facts(apr_pool_t *p, const jpki_cert_t *c, const char **code,
                              const char **detail)
{
    GENERAL_NAMES *gens;
    const char *vals[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    apr_size_t lens[6] = {0, 0, 0, 0, 0, 0};
    jpki_facts_t *f;
    int i, j;

    gens = X509_get_ext_d2i(c->x509, NID_subject_alt_name, NULL, NULL);
    if (gens == NULL) {
        fail(code, detail, JPKI_E_CERT_NO_FACTS, "no subjectAltName");
        return NULL;
    }
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char oid[80];
        if (g->type != GEN_OTHERNAME) {
            continue;
        }
        if (OBJ_obj2txt(oid, sizeof(oid), g->d.otherName->type_id, 1) <= 0) {
            continue;
        }
        for (j = 0; j < 6; j++) {
            if (strcmp(oid, facts_oids[j]) == 0) {
                ASN1_TYPE *v = g->d.otherName->value;
                if (v == NULL || v->type != V_ASN1_UTF8STRING || vals[j] != NULL) {
                    GENERAL_NAMES_free(gens);
                    fail(code, detail, JPKI_E_CERT_NO_FACTS,
                         apr_psprintf(p, "4-facts item %s is not a single UTF8String", oid));
                    return NULL;
                }
                lens[j] = (apr_size_t)ASN1_STRING_length(v->value.utf8string);
                vals[j] = apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(
                                                v->value.utf8string), lens[j]);
                if (strlen(vals[j]) != lens[j]) { /* embedded NUL */
                    GENERAL_NAMES_free(gens);
                    fail(code, detail, JPKI_E_CERT_NO_FACTS, "4-facts item contains NUL");
                    return NULL;
                }
            }
        }
    }
    GENERAL_NAMES_free(gens);
    /* Name, birth date and sex are required; address may be empty but present. */
    if (vals[0] == NULL || vals[3] == NULL || vals[2] == NULL || vals[4] == NULL) {
        fail(code, detail, JPKI_E_CERT_NO_FACTS, "4-facts subjectAltName items missing");
        return NULL;
    }
    f = apr_pcalloc(p, sizeof(*f));
    f->name = vals[0];
    f->name_alt = vals[1] ? vals[1] : "";
    f->sex = vals[2];
    f->birth_date = jpki_facts_birth_date_iso(p, vals[3], lens[3]);
    f->address = vals[4];
    f->address_alt = vals[5] ? vals[5] : "";
    if (f->birth_date == NULL) {
        fail(code, detail, JPKI_E_CERT_NO_FACTS, "birth date is not EYYYYMMDD");
        return NULL;
    }
    if (!(lens[2] == 1 && (f->sex[0] == '0' || f->sex[0] == '1' || f->sex[0] == '2' ||
                           f->sex[0] == '9'))) {
        fail(code, detail, JPKI_E_CERT_NO_FACTS, "sex is not a JIS X 0303 code");
        return NULL;
    }
    return f;
}

/* ------------------------------------------------------------ signature -- */

int jpki_sig_verify(const jpki_cert_t *c, const unsigned char *data, apr_size_t data_len,
                    const unsigned char *sig, apr_size_t sig_len, const char **detail)
{
    EVP_PKEY *pk = X509_get0_pubkey(c->x509);
    EVP_MD_CTX *md;
    EVP_PKEY_CTX *pctx = NULL;
    int ok;

    if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        *detail = "certificate key is not RSA";
        return 0;
    }
    if (sig_len != (apr_size_t)EVP_PKEY_get_size(pk)) {
        *detail = "signature length does not match the key size";
        return 0;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pk) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
        EVP_MD_CTX_free(md);
        ERR_clear_error();
        *detail = "cannot set up signature verification";
        return 0;
    }
    ok = EVP_DigestVerify(md, sig, sig_len, data, data_len);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (ok != 1) {
        *detail = "signature does not verify with the certificate key (RSASSA-PKCS1-v1_5, "
                  "SHA-256 DigestInfo over the challenge bytes)";
        return 0;
    }
    return 1;
}
