/*
 * Certificate checks (see jpki_cert.h): the chain through OpenSSL with the
 * store picked by certificate type, the JPKI profile (policy, key usage,
 * key and signature strength, critical extensions), OpenSSL's reasons
 * turned into stable codes; and the card's signature over a challenge.
 */
#include "core/jpki_cert.h"
#include "core/jpki_util.h"
#include "core/jpki_cert_int.h"

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

int jpki_cert_fail(const char **code, const char **detail, const char *c, const char *d)
{
    *code = c;
    *detail = d;
    return 0;
}

/* 1. Profile checks that need no trust anchor. Cheap and specific. */
static int verify_profile(apr_pool_t *p, const jpki_cert_t *c, const char **code,
                          const char **detail)
{
    X509 *x = c->x509;
    EVP_PKEY *pk = X509_get0_pubkey(x);
    int sig_nid = X509_get_signature_nid(x);
    uint32_t ku;
    int i;

    if (X509_get_version(x) != X509_VERSION_3) {
        return jpki_cert_fail(code, detail, JPKI_E_CERT_MALFORMED, "not an X.509 v3 certificate");
    }
    if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        return jpki_cert_fail(code, detail, JPKI_E_CERT_WEAK_KEY, "public key is not RSA");
    }
    if (c->key_bits < 2048) {
        return jpki_cert_fail(code, detail, JPKI_E_CERT_WEAK_KEY,
                    apr_psprintf(p, "RSA key of %d bits, at least 2048 required", c->key_bits));
    }
    if (sig_nid != NID_sha256WithRSAEncryption && sig_nid != NID_sha384WithRSAEncryption &&
        sig_nid != NID_sha512WithRSAEncryption) {
        return jpki_cert_fail(code, detail, JPKI_E_CERT_WEAK_SIGNATURE,
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
                return jpki_cert_fail(code, detail, JPKI_E_CERT_CRITICAL_EXT,
                            apr_psprintf(p, "unknown critical extension %s", oid));
            }
        }
    }
    ku = X509_get_key_usage(x);
    if (ku == UINT32_MAX || !(ku & KU_DIGITAL_SIGNATURE)) {
        return jpki_cert_fail(code, detail, JPKI_E_CERT_KEY_USAGE,
                    "keyUsage does not include digitalSignature");
    }
    return 1;
}

/* The type a certificate's policy OIDs name (configured or default OIDs;
 * the JPKI-TEST ones only with accept_test); the last match wins. */
static jpki_cert_type_e policy_type(const jpki_trust_t *t, X509 *x)
{
    CERTIFICATEPOLICIES *pol = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
    jpki_cert_type_e found = JPKI_CERT_TYPE_NONE;
    int i;
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
    return found;
}

/* 2. Type: policy OID (configured or default), then the expected use.
 * Sets c->type. */
static int verify_type(const jpki_trust_t *t, apr_pool_t *p, jpki_cert_t *c,
                       jpki_cert_type_e expected, const char **code, const char **detail)
{
    jpki_cert_type_e found = policy_type(t, c->x509);
    if (c->test && !t->accept_test) {
        return jpki_cert_fail(code, detail, JPKI_E_CERT_TEST_HIERARCHY,
                    "certificate of the JPKI-TEST hierarchy (set JPKIAcceptTestCards On "
                    "to allow it outside production)");
    }
    if (found == JPKI_CERT_TYPE_NONE) {
        return jpki_cert_fail(code, detail, JPKI_E_CERT_POLICY,
                    "no JPKI certificate policy OID (user authentication or signing)");
    }
    c->type = found;
    if (expected != JPKI_CERT_TYPE_NONE && c->type != expected) {
        return jpki_cert_fail(code, detail, JPKI_E_CERT_WRONG_TYPE,
                    apr_psprintf(p, "a %s certificate was presented where a %s certificate is "
                                    "required", jpki_cert_type_name(c->type),
                                 jpki_cert_type_name(expected)));
    }
    return 1;
}

/* 3. Validity of the certificate itself, for a precise code. */
static int verify_validity(apr_pool_t *p, const jpki_cert_t *c, time_t tnow, const char **code,
                           const char **detail)
{
    if (X509_cmp_time(X509_get0_notBefore(c->x509), &tnow) > 0) {
        return jpki_cert_fail(code, detail, JPKI_E_CERT_NOT_YET_VALID,
                    apr_psprintf(p, "not valid before %s",
                                 jpki_util_time_iso(p, c->not_before)));
    }
    if (X509_cmp_time(X509_get0_notAfter(c->x509), &tnow) < 0) {
        return jpki_cert_fail(code, detail, JPKI_E_CERT_EXPIRED,
                    apr_psprintf(p, "expired at %s", jpki_util_time_iso(p, c->not_after)));
    }
    return 1;
}

/* 4. Chain to an anchor of the same type. The issuer is found by key:
 * OpenSSL matches the authority key id against each same-DN anchor.
 * On success, fills c->issuer_key_id and c->serial when still unknown. */
static int verify_chain(const jpki_trust_t *t, apr_pool_t *p, jpki_cert_t *c, time_t tnow,
                        const char **code, const char **detail)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_VERIFY_PARAM *vp;
    STACK_OF(X509) *chain;
    int err, depth;

    if (ctx == NULL ||
        !X509_STORE_CTX_init(ctx, c->type == JPKI_CERT_TYPE_AUTH ? t->auth_store : t->sign_store,
                             c->x509, NULL)) {
        X509_STORE_CTX_free(ctx);
        return jpki_cert_fail(code, detail, JPKI_E_CERT_UNTRUSTED,
                              "cannot set up chain verification");
    }
    vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(vp, tnow);
    /* level 2: RSA >= 2048 and no SHA-1 anywhere in the chain */
    X509_VERIFY_PARAM_set_auth_level(vp, 2);
    if (X509_verify_cert(ctx) != 1) {
        err = X509_STORE_CTX_get_error(ctx);
        depth = X509_STORE_CTX_get_error_depth(ctx);
        X509_STORE_CTX_free(ctx);
        ERR_clear_error();
        if ((err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID) &&
            depth > 0) {
            return jpki_cert_fail(code, detail, JPKI_E_CERT_ISSUER_EXPIRED,
                        apr_psprintf(p, "the issuing root is outside its validity period: %s",
                                     X509_verify_cert_error_string(err)));
        }
        return jpki_cert_fail(code, detail, JPKI_E_CERT_UNTRUSTED,
                    apr_psprintf(p, "no chain to a trusted %s root: %s (depth %d)",
                                 jpki_cert_type_name(c->type), X509_verify_cert_error_string(err),
                                 depth));
    }
    chain = X509_STORE_CTX_get0_chain(ctx);
    if (c->issuer_key_id == NULL && sk_X509_num(chain) > 1) {
        c->issuer_key_id = jpki_cert_key_id(p, sk_X509_value(chain, 1));
        c->serial = apr_pstrcat(p, c->issuer_key_id, ":", c->serial_hex, NULL);
    }
    X509_STORE_CTX_free(ctx);
    return 1;
}

int jpki_cert_verify(const jpki_trust_t *t, apr_pool_t *p, jpki_cert_t *c,
                     jpki_cert_type_e expected, apr_time_t now, const char **code,
                     const char **detail)
{
    time_t tnow = (time_t)apr_time_sec(now);

    return verify_profile(p, c, code, detail) &&
           verify_type(t, p, c, expected, code, detail) &&
           verify_validity(p, c, tnow, code, detail) &&
           verify_chain(t, p, c, tnow, code, detail);
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
    if (md == NULL || EVP_DigestVerifyInit(md, &pctx, jpki_util_sha256_md(), NULL, pk) != 1 ||
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
