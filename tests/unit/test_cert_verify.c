/*
 * Unit tests of core/jpki_cert_verify.c: the profile, type, validity and
 * chain checks against the generated test PKI ($JPKI_PKI_DIR), each refusal
 * with its stable code; and the card's signature over a challenge.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "unit.h"
#include "core/jpki_cert.h"

static const char *verify_code(const char *name, jpki_cert_type_e expected, int accept_test)
{
    apr_size_t len;
    char *der = unit_pki_read(apr_pstrcat(pool, name, ".der", NULL), &len);
    const char *code = NULL, *detail = NULL;
    jpki_cert_t *c = jpki_cert_parse(pool, der, len, &code, &detail);
    if (c == NULL) {
        return code;
    }
    if (!jpki_cert_verify(unit_trust(accept_test), pool, c, expected, apr_time_now(), &code,
                          &detail)) {
        ck_assert_ptr_nonnull(detail);
        return code;
    }
    return "ok";
}

START_TEST(verify_matrix)
{
    ck_assert_str_eq(verify_code("auth-alice-1", JPKI_CERT_TYPE_AUTH, 0), "ok");
    ck_assert_str_eq(verify_code("auth-alice-2", JPKI_CERT_TYPE_AUTH, 0), "ok");
    ck_assert_str_eq(verify_code("auth-carol", JPKI_CERT_TYPE_AUTH, 0), "ok");
    ck_assert_str_eq(verify_code("sign-alice", JPKI_CERT_TYPE_SIGN, 0), "ok");
    ck_assert_str_eq(verify_code("sign-alice", JPKI_CERT_TYPE_AUTH, 0), "cert_wrong_type");
    ck_assert_str_eq(verify_code("auth-alice-1", JPKI_CERT_TYPE_SIGN, 0), "cert_wrong_type");
    ck_assert_str_eq(verify_code("bad-expired", JPKI_CERT_TYPE_AUTH, 0), "cert_expired");
    ck_assert_str_eq(verify_code("bad-notyet", JPKI_CERT_TYPE_AUTH, 0), "cert_not_yet_valid");
    ck_assert_str_eq(verify_code("bad-unknown-issuer", JPKI_CERT_TYPE_AUTH, 0), "cert_untrusted");
    ck_assert_str_eq(verify_code("bad-forged", JPKI_CERT_TYPE_AUTH, 0), "cert_untrusted");
    ck_assert_str_eq(verify_code("bad-wrong-policy", JPKI_CERT_TYPE_AUTH, 0), "cert_policy");
    ck_assert_str_eq(verify_code("bad-no-digsig", JPKI_CERT_TYPE_AUTH, 0), "cert_key_usage");
    ck_assert_str_eq(verify_code("bad-rsa1024", JPKI_CERT_TYPE_AUTH, 0), "cert_weak_key");
    ck_assert_str_eq(verify_code("bad-sha1", JPKI_CERT_TYPE_AUTH, 0), "cert_weak_signature");
    ck_assert_str_eq(verify_code("bad-unknown-crit", JPKI_CERT_TYPE_AUTH, 0),
                     "cert_critical_extension");
    ck_assert_str_eq(verify_code("bad-test-hierarchy", JPKI_CERT_TYPE_AUTH, 0),
                     "cert_test_hierarchy");
    /* with the opt-in, the test hierarchy chains to its own root */
    ck_assert_str_eq(verify_code("bad-test-hierarchy", JPKI_CERT_TYPE_AUTH, 1), "ok");
    /* roots are not end-entity certificates */
    ck_assert_str_eq(verify_code("auth-root-g1", JPKI_CERT_TYPE_AUTH, 0), "cert_key_usage");
}
END_TEST

START_TEST(auth_cannot_chain_to_sign_root)
{
    /* a trust store with only the signing roots: an auth certificate is untrusted */
    jpki_trust_t *t = jpki_trust_create(pool);
    apr_size_t len;
    const char *code, *detail;
    char *der = unit_pki_read("auth-alice-1.der", &len);
    jpki_cert_t *c = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert_ptr_null(jpki_trust_add_file(t, pool, unit_pki_path("trust-sign.pem")));
    ck_assert(!jpki_cert_verify(t, pool, c, JPKI_CERT_TYPE_AUTH, apr_time_now(), &code, &detail));
    ck_assert_str_eq(code, "cert_untrusted");
}
END_TEST

START_TEST(policy_override)
{
    /* JPKIAuthPolicyOID replaces the default: the real OID alone is then refused */
    jpki_trust_t *t = unit_trust(0);
    apr_size_t len;
    const char *code, *detail;
    char *der = unit_pki_read("bad-wrong-policy.der", &len);
    jpki_cert_t *c = jpki_cert_parse(pool, der, len, &code, &detail);
    APR_ARRAY_PUSH(t->auth_policies, const char *) = "1.2.3.4.5";
    ck_assert(jpki_cert_verify(t, pool, c, JPKI_CERT_TYPE_AUTH, apr_time_now(), &code, &detail));
    der = unit_pki_read("auth-alice-1.der", &len);
    c = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert(!jpki_cert_verify(t, pool, c, JPKI_CERT_TYPE_AUTH, apr_time_now(), &code, &detail));
    ck_assert_str_eq(code, "cert_policy");
}
END_TEST

/* The texts behind the codes (logged, never shown): exact, so that a
 * reordering of the checks shows up here. */
static const char *verify_detail(const char *name, jpki_cert_type_e expected, apr_time_t now)
{
    const char *code = NULL, *detail = NULL;
    ck_assert(
        !jpki_cert_verify(unit_trust(0), pool, unit_cert(name), expected, now, &code, &detail));
    ck_assert_ptr_nonnull(code);
    return detail;
}

START_TEST(verify_details)
{
    apr_time_t now = apr_time_now();
    ck_assert_str_eq(verify_detail("bad-rsa1024", JPKI_CERT_TYPE_AUTH, now),
                     "RSA key of 1024 bits, at least 2048 required");
    ck_assert_str_eq(verify_detail("bad-sha1", JPKI_CERT_TYPE_AUTH, now),
                     "signature algorithm RSA-SHA1 is not accepted (sha256/384/512 with RSA "
                     "required)");
    ck_assert_str_eq(verify_detail("bad-no-digsig", JPKI_CERT_TYPE_AUTH, now),
                     "keyUsage does not include digitalSignature");
    ck_assert_str_eq(verify_detail("bad-wrong-policy", JPKI_CERT_TYPE_AUTH, now),
                     "no JPKI certificate policy OID (user authentication or signing)");
    ck_assert_str_eq(verify_detail("sign-alice", JPKI_CERT_TYPE_AUTH, now),
                     "a sign certificate was presented where a auth certificate is required");
    ck_assert_str_eq(verify_detail("bad-test-hierarchy", JPKI_CERT_TYPE_AUTH, now),
                     "certificate of the JPKI-TEST hierarchy (set JPKIAcceptTestCards On to "
                     "allow it outside production)");
    ck_assert_ptr_nonnull(strstr(verify_detail("bad-unknown-crit", JPKI_CERT_TYPE_AUTH, now),
                                 "unknown critical extension "));
    ck_assert_ptr_nonnull(strstr(verify_detail("bad-forged", JPKI_CERT_TYPE_AUTH, now),
                                 "no chain to a trusted auth root: "));
}
END_TEST

/* The time is the caller's: the same certificate is not yet valid before
 * its notBefore and expired after its notAfter; the type is still set. */
START_TEST(verify_at_time)
{
    jpki_cert_t *c = unit_cert("auth-alice-1");
    jpki_trust_t *t = unit_trust(0);
    const char *code = NULL, *detail = NULL;
    ck_assert(!jpki_cert_verify(t, pool, c, JPKI_CERT_TYPE_AUTH,
                                c->not_before - apr_time_from_sec(60), &code, &detail));
    ck_assert_str_eq(code, "cert_not_yet_valid");
    ck_assert_int_eq(c->type, JPKI_CERT_TYPE_AUTH);
    ck_assert(!jpki_cert_verify(t, pool, c, JPKI_CERT_TYPE_AUTH,
                                c->not_after + apr_time_from_sec(60), &code, &detail));
    ck_assert_str_eq(code, "cert_expired");
    ck_assert_ptr_nonnull(strstr(detail, "expired at "));
    ck_assert(jpki_cert_verify(t, pool, c, JPKI_CERT_TYPE_NONE,
                               c->not_before + apr_time_from_sec(60), &code, &detail));
}
END_TEST

/* RSASSA-PKCS1-v1_5 with SHA-256 by the certificate's key. */
static unsigned char *sign_with(const char *keyname, int pss, const char *data, size_t *len)
{
    FILE *f = fopen(unit_pki_path(keyname), "r");
    EVP_PKEY *k;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig;
    ck_assert_ptr_nonnull(f);
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, k), 1);
    ck_assert_int_eq(
        EVP_PKEY_CTX_set_rsa_padding(pctx, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING), 1);
    ck_assert_int_eq(EVP_DigestSign(md, NULL, len, (const unsigned char *)data, strlen(data)), 1);
    sig = apr_palloc(pool, *len);
    ck_assert_int_eq(EVP_DigestSign(md, sig, len, (const unsigned char *)data, strlen(data)), 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return sig;
}

START_TEST(signature)
{
    static const char *ch = "q8S0bW1xYZabcdefghijklmnopqrstuvwxyz0123-_A";
    jpki_cert_t *c = unit_cert("auth-alice-1");
    const char *detail = NULL;
    size_t len;
    unsigned char *sig = sign_with("auth-alice-1.key", 0, ch, &len);
    ck_assert(jpki_sig_verify(c, (const unsigned char *)ch, strlen(ch), sig, len, &detail));
    /* other data */
    ck_assert(!jpki_sig_verify(c, (const unsigned char *)ch, strlen(ch) - 1, sig, len, &detail));
    ck_assert_ptr_nonnull(strstr(detail, "does not verify"));
    /* another card's key */
    detail = NULL;
    ck_assert(!jpki_sig_verify(unit_cert("auth-bob"), (const unsigned char *)ch, strlen(ch), sig,
                               len, &detail));
    ck_assert_ptr_nonnull(strstr(detail, "does not verify"));
    /* a signature of the wrong length */
    ck_assert(!jpki_sig_verify(c, (const unsigned char *)ch, strlen(ch), sig, len - 1, &detail));
    ck_assert_str_eq(detail, "signature length does not match the key size");
    /* PSS is not what the card makes */
    sig = sign_with("auth-alice-1.key", 1, ch, &len);
    ck_assert(!jpki_sig_verify(c, (const unsigned char *)ch, strlen(ch), sig, len, &detail));
    ck_assert_ptr_nonnull(strstr(detail, "does not verify"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_cert_verify");
    TCase *tc = unit_tcase(s, "verify", 30);
    tcase_add_test(tc, verify_matrix);
    tcase_add_test(tc, verify_details);
    tcase_add_test(tc, verify_at_time);
    tcase_add_test(tc, auth_cannot_chain_to_sign_root);
    tcase_add_test(tc, policy_override);
    tc = unit_tcase(s, "signature", 30);
    tcase_add_test(tc, signature);
    return unit_run(s);
}
