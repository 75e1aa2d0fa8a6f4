/*
 * Unit tests of core/jpki_status_core.c: revocation reason names and
 * codes, the platform operator's JSON answers (good, revoked, wrong types,
 * malformed, errors, link pending), and OCSP request/response checks
 * against responses made by `openssl ocsp` from the test PKI
 * ($JPKI_PKI_DIR): good, revoked with reason, nonce mismatch, another
 * certificate, rogue signer, too old, malformed envelopes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include <openssl/pem.h>

#include "unit.h"
#include "core/jpki_cert.h"
#include "core/jpki_status_core.h"

/* ------------------------------------------------------------ reasons -- */

START_TEST(reason_names)
{
    ck_assert_str_eq(jpki_reason_name("superseded"), "superseded");
    ck_assert_str_eq(jpki_reason_name("REVOCATION_REASON_SUPERSEDED"), "superseded");
    ck_assert_str_eq(jpki_reason_name("affiliation_changed"), "affiliationChanged");
    ck_assert_str_eq(jpki_reason_name("REVOCATION_REASON_CESSATION_OF_OPERATION"),
                     "cessationOfOperation");
    ck_assert_str_eq(jpki_reason_name("certificate_hold"), "certificateHold");
    ck_assert_str_eq(jpki_reason_name("keyCompromise"), "keyCompromise");
    ck_assert_str_eq(jpki_reason_name("no such reason"), "unspecified");
    ck_assert_str_eq(jpki_reason_name(NULL), "unspecified");
    ck_assert_str_eq(jpki_reason_from_code(4), "superseded");
    ck_assert_str_eq(jpki_reason_from_code(6), "certificateHold");
    ck_assert_str_eq(jpki_reason_from_code(77), "unspecified");
    ck_assert_str_eq(jpki_reason_error_code("superseded"), "cert_revoked_superseded");
    ck_assert_str_eq(jpki_reason_error_code("affiliationChanged"),
                     "cert_revoked_affiliation_changed");
    ck_assert_str_eq(jpki_reason_error_code("cessationOfOperation"), "cert_revoked_cessation");
    ck_assert_str_eq(jpki_reason_error_code("certificateHold"), "cert_revoked_hold");
    ck_assert_str_eq(jpki_reason_error_code("keyCompromise"), "cert_revoked_key_compromise");
    ck_assert_str_eq(jpki_reason_error_code("unspecified"), "cert_revoked");
    ck_assert_str_eq(jpki_reason_error_code("cACompromise"), "cert_revoked");
}
END_TEST

/* --------------------------------------------------------- PF answers -- */

static jpki_pf_kind_e pf(long st, const char *body, jpki_pf_answer_t *a)
{
    return jpki_pf_parse(pool, st, body, strlen(body), a);
}

START_TEST(pf_good_verify)
{
    jpki_pf_answer_t a;
    ck_assert_int_eq(
        pf(200,
           "{\"verification\":{\"id\":\"v1\",\"result\":\"RESULT_OK\"},"
           "\"certificate\":{\"id\":\"crt_0facea\",\"type\":\"TYPE_JPKI_CARD_USER_AUTHENTICATION\"}"
           ","
           "\"certificateStatus\":{\"status\":\"STATUS_GOOD\",\"checkMethod\":\"CHECK_METHOD_"
           "OCSP\"},"
           "\"user\":{\"id\":\"usr_alice\"},\"isNewUser\":true,\"extra\":{\"a\":[1,2]}}",
           &a),
        JPKI_PF_ANSWER);
    ck_assert_str_eq(a.status, "good");
    ck_assert_str_eq(a.result, "ok");
    ck_assert_str_eq(a.cert_id, "crt_0facea");
    ck_assert_str_eq(a.cert_type, "auth");
    ck_assert_str_eq(a.user_id, "usr_alice");
    ck_assert_ptr_null(a.reason);
}
END_TEST

START_TEST(pf_revoked_snake_case)
{
    jpki_pf_answer_t a;
    ck_assert_int_eq(
        pf(200,
           "{\"certificate_status\":{\"status\":\"STATUS_REVOKED\","
           "\"revocation_reason\":\"REVOCATION_REASON_CERTIFICATE_HOLD\"},"
           "\"certificate\":{\"id\":\"crt_1\",\"type\":\"TYPE_JPKI_CARD_DIGITAL_SIGNATURE\"}}",
           &a),
        JPKI_PF_ANSWER);
    ck_assert_str_eq(a.status, "revoked");
    ck_assert_str_eq(a.reason, "certificateHold");
    ck_assert_str_eq(a.cert_type, "sign");
    ck_assert_ptr_null(a.user_id);
    ck_assert_int_eq(pf(200, "{\"certificateStatus\":{\"status\":\"STATUS_EXPIRED\"}}", &a),
                     JPKI_PF_ANSWER);
    ck_assert_str_eq(a.status, "expired");
    ck_assert_int_eq(pf(200, "{\"certificateStatus\":{\"status\":\"STATUS_UNKNOWN\"}}", &a),
                     JPKI_PF_ANSWER);
    ck_assert_str_eq(a.status, "unknown");
}
END_TEST

START_TEST(pf_bad_answers)
{
    jpki_pf_answer_t a;
    /* the simulator's wrong_types fault */
    ck_assert_int_eq(
        pf(200,
           "{\"verification\":{\"result\":42},\"certificateStatus\":{\"status\":42},"
           "\"certificate\":{\"id\":[1,2]},\"user\":{\"id\":12345},\"isNewUser\":\"yes\"}",
           &a),
        JPKI_PF_BAD);
    ck_assert_int_eq(
        pf(200, "{\"certificateStatus\":{\"status\":\"STATUS_GOOD\"},\"user\":{\"id\":12345}}", &a),
        JPKI_PF_BAD);
    ck_assert_int_eq(pf(200, "{\"certificateStatus\":\"STATUS_GOOD\"}", &a), JPKI_PF_BAD);
    ck_assert_int_eq(pf(200, "{\"certificateStatus\":{\"status\":\"STATUS_MAYBE\"}}", &a),
                     JPKI_PF_BAD);
    ck_assert_int_eq(pf(200, "{\"verification\":{\"result\":\"RESULT_OK\"}}", &a), JPKI_PF_BAD);
    /* malformed_json fault: half an answer */
    ck_assert_int_eq(pf(200, "{\"certificateStatus\":{\"status\":\"STAT<cut>", &a), JPKI_PF_BAD);
    ck_assert_int_eq(pf(200, "", &a), JPKI_PF_BAD);
    ck_assert_int_eq(pf(200, "[1,2,3]", &a), JPKI_PF_BAD);
    ck_assert_int_eq(pf(200, "{\"a\":1,\"a\":2}", &a), JPKI_PF_BAD);
    /* nesting bomb */
    {
        char deep[200];
        memset(deep, '[', 100);
        memset(deep + 100, ']', 100);
        ck_assert_int_eq(jpki_pf_parse(pool, 200, deep, sizeof(deep), &a), JPKI_PF_BAD);
    }
    /* an id with a newline would forge log lines and variables */
    ck_assert_int_eq(pf(200,
                        "{\"certificateStatus\":{\"status\":\"STATUS_GOOD\"},"
                        "\"user\":{\"id\":\"usr_a\\nJPKI0201: forged\"}}",
                        &a),
                     JPKI_PF_BAD);
}
END_TEST

START_TEST(pf_errors)
{
    jpki_pf_answer_t a;
    ck_assert_int_eq(pf(401, "{\"code\":\"unauthenticated\",\"message\":\"x\"}", &a),
                     JPKI_PF_UNAUTHORIZED);
    ck_assert_int_eq(pf(500, "{\"code\":\"internal\",\"message\":\"simulated\"}", &a), JPKI_PF_BAD);
    ck_assert_ptr_nonnull(strstr(a.why, "HTTP 500 code=internal"));
    ck_assert_int_eq(pf(503, "<html>busy</html>", &a), JPKI_PF_BAD);
    ck_assert_int_eq(
        pf(400,
           "{\"code\":\"failed_precondition\",\"message\":\"no link\",\"details\":[{\"type\":"
           "\"google.rpc.ErrorInfo\",\"value\":\"x\",\"debug\":{\"reason\":"
           "\"ERROR_REASON_ASSOCIATED_CERTIFICATE_NOT_EXISTS\",\"domain\":\"pf\"}}]}",
           &a),
        JPKI_PF_LINK_PENDING);
    ck_assert_int_eq(pf(400, "{\"code\":\"invalid_argument\",\"message\":\"checkMethod\"}", &a),
                     JPKI_PF_BAD);
}
END_TEST

/* Why an answer is no answer (logged): one text per check, in the order
 * of the checks; nothing parsed before the refusal is left behind. */
static const char *pf_why(long st, const char *body)
{
    jpki_pf_answer_t a;
    ck_assert_int_eq(pf(st, body, &a), JPKI_PF_BAD);
    ck_assert_int_eq(a.kind, JPKI_PF_BAD);
    ck_assert_ptr_null(a.status);
    ck_assert_ptr_null(a.result);
    ck_assert_ptr_null(a.cert_id);
    ck_assert_ptr_null(a.user_id);
    return a.why;
}

START_TEST(pf_why_texts)
{
    ck_assert_str_eq(pf_why(200, "{\"a\":["), "answer is not JSON (or nested too deep)");
    ck_assert_str_eq(pf_why(200, "nope"), "answer is not a JSON object");
    ck_assert_str_eq(pf_why(200, "[1]"), "answer is not a JSON object");
    ck_assert_str_eq(pf_why(503, "<html>busy</html>"), "HTTP 503 without a JSON body");
    ck_assert_str_eq(pf_why(502, "[]"), "HTTP 502 without a JSON body");
    ck_assert_str_eq(pf_why(400, "{\"code\":\"bad code\\n\"}"), "HTTP 400 code=-");
    ck_assert_str_eq(pf_why(404, "{}"), "HTTP 404 code=-");
    ck_assert_str_eq(pf_why(200, "{\"certificateStatus\":{\"status\":\"STATUS_GOOD\"},"
                                 "\"user\":[]}"),
                     "answer has a member of the wrong type");
    ck_assert_str_eq(pf_why(200, "{\"user\":{\"id\":\"usr_a\"}}"),
                     "answer has no certificateStatus");
    ck_assert_str_eq(pf_why(200, "{\"certificateStatus\":{}}"),
                     "certificateStatus.status missing or not a string");
    ck_assert_str_eq(pf_why(200, "{\"certificateStatus\":{\"status\":\"STATUS_REVOKED\","
                                 "\"revocationReason\":5}}"),
                     "certificateStatus.revocationReason is not a string");
    /* the status is checked before the verification */
    ck_assert_str_eq(pf_why(200, "{\"certificateStatus\":{\"status\":\"STATUS_X\"},"
                                 "\"verification\":{}}"),
                     "certificateStatus.status has an unknown value");
    ck_assert_str_eq(pf_why(200, "{\"certificateStatus\":{\"status\":\"STATUS_GOOD\"},"
                                 "\"verification\":{}}"),
                     "verification.result missing or not a string");
    ck_assert_str_eq(pf_why(200, "{\"certificateStatus\":{\"status\":\"STATUS_GOOD\"},"
                                 "\"verification\":{\"result\":\"RESULT_MAYBE\"}}"),
                     "verification.result has an unknown value");
    /* the verification before the certificate, the certificate before the user */
    ck_assert_str_eq(pf_why(200, "{\"certificateStatus\":{\"status\":\"STATUS_GOOD\"},"
                                 "\"verification\":{\"result\":\"RESULT_MAYBE\"},"
                                 "\"certificate\":{\"id\":1}}"),
                     "verification.result has an unknown value");
    ck_assert_str_eq(pf_why(200, "{\"certificateStatus\":{\"status\":\"STATUS_GOOD\"},"
                                 "\"certificate\":{\"id\":\"crt 1\"},\"user\":{\"id\":1}}"),
                     "certificate.id or certificate.type has the wrong type");
    ck_assert_str_eq(pf_why(200, "{\"certificateStatus\":{\"status\":\"STATUS_GOOD\"},"
                                 "\"verification\":{\"result\":\"RESULT_OK\"},"
                                 "\"certificate\":{\"id\":\"crt_1\"},\"user\":{\"id\":\"\"}}"),
                     "user.id is not an identifier string");
}
END_TEST

/* ------------------------------------------------------- OCSP envelope -- */

START_TEST(ocsp_envelopes)
{
    /* OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, ... } */
    static const unsigned char unsuccessful[] = {0x30, 0x03, 0x0a, 0x01, 0x01};
    static const unsigned char no_bytes[] = {0x30, 0x03, 0x0a, 0x01, 0x00};
    static const unsigned char trailing[] = {0x30, 0x03, 0x0a, 0x01, 0x01, 0x00};
    jpki_ocsp_answer_t ans;
    const char *why = NULL, *err;
    err = jpki_ocsp_check(pool, unsuccessful, sizeof(unsuccessful), NULL, NULL, NULL, NULL, 0, 300,
                          -1, apr_time_now(), &ans, &why);
    ck_assert_str_eq(err, "ocsp_unsuccessful");
    ck_assert_ptr_nonnull(strstr(why, "responseStatus 1 ("));
    err = jpki_ocsp_check(pool, no_bytes, sizeof(no_bytes), NULL, NULL, NULL, NULL, 0, 300, -1,
                          apr_time_now(), &ans, &why);
    ck_assert_str_eq(err, "ocsp_malformed");
    ck_assert_str_eq(why, "no basic response");
    err = jpki_ocsp_check(pool, trailing, sizeof(trailing), NULL, NULL, NULL, NULL, 0, 300, -1,
                          apr_time_now(), &ans, &why);
    ck_assert_str_eq(err, "ocsp_malformed");
    ck_assert_str_eq(why, "response is not a DER OCSPResponse");
    err = jpki_ocsp_check(pool, unsuccessful, 0, NULL, NULL, NULL, NULL, 0, 300, -1, apr_time_now(),
                          &ans, &why);
    ck_assert_str_eq(err, "ocsp_malformed");
    ck_assert_ptr_null(ans.status);
}
END_TEST

/* --------------------------------------------------------------- OCSP -- */

static X509 *load(const char *name)
{
    FILE *f = fopen(unit_pki_path(name), "r");
    X509 *x;
    ck_assert_msg(f != NULL, "cannot open %s", name);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    return x;
}

static const char *serial_of(X509 *x)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *h = BN_bn2hex(bn);
    const char *out = apr_pstrdup(pool, h);
    OPENSSL_free(h);
    BN_free(bn);
    return out;
}

/* Answer req_der with `openssl ocsp` acting as responder `signer` (offline,
 * -reqin/-respout) over the auth-root-g1 index. */
static unsigned char *respond(const unsigned char *req_der, apr_size_t req_len, const char *signer,
                              const char *extra, apr_size_t *len)
{
    char dir[] = "/tmp/jpki-ocsp-XXXXXX";
    const char *req, *resp, *cmd;
    FILE *f;
    unsigned char *buf = apr_palloc(pool, 65536);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    req = apr_pstrcat(pool, dir, "/req.der", NULL);
    resp = apr_pstrcat(pool, dir, "/resp.der", NULL);
    f = fopen(req, "wb");
    fwrite(req_der, 1, req_len, f);
    fclose(f);
    cmd = apr_psprintf(pool,
                       "openssl ocsp -index %s -CA %s -rsigner %s.crt -rkey %s.key %s "
                       "-reqin %s -respout %s >/dev/null 2>&1",
                       unit_pki_path("ocsp-index-auth-g1.txt"), unit_pki_path("auth-root-g1.crt"),
                       unit_pki_path(signer), unit_pki_path(signer), extra ? extra : "", req, resp);
    ck_assert_int_eq(system(cmd), 0);
    f = fopen(resp, "rb");
    ck_assert_ptr_nonnull(f);
    *len = fread(buf, 1, 65536, f);
    fclose(f);
    unlink(req);
    unlink(resp);
    rmdir(dir);
    return buf;
}

typedef struct {
    X509 *root;
    X509_STORE *store;
    OCSP_CERTID *id;
    OCSP_REQUEST *req;
    unsigned char *der;
    apr_size_t len;
} ocsp_fx;

static void fx_make(ocsp_fx *fx, const char *cert, int nonce)
{
    X509 *leaf = load(apr_pstrcat(pool, cert, ".crt", NULL));
    fx->root = load("auth-root-g1.crt");
    fx->store = X509_STORE_new();
    X509_STORE_add_cert(fx->store, fx->root);
    fx->id = jpki_ocsp_certid(fx->root, serial_of(leaf));
    ck_assert_ptr_nonnull(fx->id);
    fx->der = jpki_ocsp_request(pool, fx->id, nonce, &fx->req, &fx->len);
    ck_assert_ptr_nonnull(fx->der);
    X509_free(leaf);
}

static void fx_free(ocsp_fx *fx)
{
    OCSP_REQUEST_free(fx->req);
    OCSP_CERTID_free(fx->id);
    X509_STORE_free(fx->store);
    X509_free(fx->root);
}

START_TEST(ocsp_good_and_revoked)
{
    ocsp_fx fx;
    jpki_ocsp_answer_t ans;
    const char *why, *err;
    unsigned char *resp;
    apr_size_t n;

    fx_make(&fx, "auth-alice-1", 1);
    resp = respond(fx.der, fx.len, "ocsp-auth-g1", "-nmin 5", &n);
    err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, NULL, 1, 300, -1, apr_time_now(),
                          &ans, &why);
    ck_assert_msg(err == NULL, "%s: %s", err, why);
    ck_assert_str_eq(ans.status, "good");
    ck_assert(ans.next_update > apr_time_now());
    /* the same answer 10 minutes later: nextUpdate (5 min) has passed */
    err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, NULL, 1, 60, -1,
                          apr_time_now() + apr_time_from_sec(600), &ans, &why);
    ck_assert_str_eq(err, "ocsp_stale");
    /* JPKIOCSPMaxAge: thisUpdate older than 30 s is refused */
    err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, NULL, 1, 0, 30,
                          apr_time_now() + apr_time_from_sec(60), &ans, &why);
    ck_assert_str_eq(err, "ocsp_stale");
    /* thisUpdate in the future beyond the skew */
    err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, NULL, 1, 10, -1,
                          apr_time_now() - apr_time_from_sec(120), &ans, &why);
    ck_assert_str_eq(err, "ocsp_stale");
    /* garbage and truncation */
    err = jpki_ocsp_check(pool, resp, n / 2, fx.req, fx.id, fx.store, NULL, 1, 300, -1,
                          apr_time_now(), &ans, &why);
    ck_assert_str_eq(err, "ocsp_malformed");
    fx_free(&fx);

    fx_make(&fx, "auth-rev-hold", 1);
    resp = respond(fx.der, fx.len, "ocsp-auth-g1", NULL, &n);
    err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, NULL, 1, 300, -1, apr_time_now(),
                          &ans, &why);
    ck_assert_msg(err == NULL, "%s: %s", err, why);
    ck_assert_str_eq(ans.status, "revoked");
    ck_assert_str_eq(ans.reason, "certificateHold");
    fx_free(&fx);
}
END_TEST

START_TEST(ocsp_refusals)
{
    ocsp_fx fx, other;
    jpki_ocsp_answer_t ans;
    const char *why, *err;
    unsigned char *resp;
    apr_size_t n;

    fx_make(&fx, "auth-alice-1", 1);
    fx_make(&other, "auth-bob", 1);
    /* an answer about bob, to a request with our nonce? no: bob's own
     * request, so nonce and certificate both differ from ours */
    resp = respond(other.der, other.len, "ocsp-auth-g1", NULL, &n);
    err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, NULL, 1, 300, -1, apr_time_now(),
                          &ans, &why);
    ck_assert_str_eq(err, "ocsp_nonce");
    /* without nonces: the certificate mismatch is what is caught */
    err = jpki_ocsp_check(pool, resp, n, other.req, fx.id, fx.store, NULL, 1, 300, -1,
                          apr_time_now(), &ans, &why);
    ck_assert_str_eq(err, "ocsp_wrong_certificate");
    /* rogue responder (not delegated by the issuer) */
    resp = respond(fx.der, fx.len, "ocsp-rogue", NULL, &n);
    err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, NULL, 1, 300, -1, apr_time_now(),
                          &ans, &why);
    ck_assert_str_eq(err, "ocsp_signature");
    /* ... unless explicitly authorised (JPKIOCSPSigner) */
    {
        STACK_OF(X509) *sk = sk_X509_new_null();
        sk_X509_push(sk, load("ocsp-rogue.crt"));
        err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, sk, 1, 300, -1,
                              apr_time_now(), &ans, &why);
        ck_assert_msg(err == NULL, "%s: %s", err, why);
        sk_X509_pop_free(sk, X509_free);
    }
    /* ... but only within its validity (issue 9 item 9): an answer that is
     * still current by its nextUpdate (3000 days), checked the day after
     * the authorised signer expired, is refused */
    resp = respond(fx.der, fx.len, "ocsp-rogue", "-ndays 3000", &n);
    {
        STACK_OF(X509) *sk = sk_X509_new_null();
        X509 *rogue = load("ocsp-rogue.crt");
        apr_time_t na = jpki_cert_asn1_time(X509_get0_notAfter(rogue));
        apr_time_t nb = jpki_cert_asn1_time(X509_get0_notBefore(rogue));
        sk_X509_push(sk, rogue);
        /* no nonce check here: the nonce matches, so the time is what counts */
        err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, sk, 1, 1000 * 86400L, -1,
                              na + apr_time_from_sec(86400), &ans, &why);
        ck_assert_msg(err != NULL && strcmp(err, "ocsp_signer_expired") == 0, "%s: %s",
                      err ? err : "accepted", why ? why : "");
        ck_assert_ptr_nonnull(strstr(why, "not valid now"));
        /* and before it was valid */
        err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, sk, 1, 1000 * 86400L, -1,
                              nb - apr_time_from_sec(3600), &ans, &why);
        ck_assert_msg(err != NULL && strcmp(err, "ocsp_signer_expired") == 0, "%s: %s",
                      err ? err : "accepted", why ? why : "");
        /* the same answer at a time within the validity is accepted */
        err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, sk, 1, 1000 * 86400L, -1,
                              apr_time_now() + apr_time_from_sec(86400), &ans, &why);
        ck_assert_msg(err == NULL, "%s: %s", err, why);
        sk_X509_pop_free(sk, X509_free);
    }
    fx_free(&other);
    fx_free(&fx);

    /* a request without nonce answered without nonce: fine unless required */
    fx_make(&fx, "auth-alice-1", 0);
    resp = respond(fx.der, fx.len, "ocsp-auth-g1", NULL, &n);
    err = jpki_ocsp_check(pool, resp, n, fx.req, fx.id, fx.store, NULL, 0, 300, -1, apr_time_now(),
                          &ans, &why);
    ck_assert_msg(err == NULL, "%s: %s", err, why);
    fx_free(&fx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jpki_status_core");
    TCase *tc = unit_tcase(s, "reasons", 0);
    tcase_add_test(tc, reason_names);
    tc = unit_tcase(s, "platform", 0);
    tcase_add_test(tc, pf_good_verify);
    tcase_add_test(tc, pf_revoked_snake_case);
    tcase_add_test(tc, pf_bad_answers);
    tcase_add_test(tc, pf_errors);
    tcase_add_test(tc, pf_why_texts);
    tc = unit_tcase(s, "ocsp", 60);
    tcase_add_test(tc, ocsp_envelopes);
    tcase_add_test(tc, ocsp_good_and_revoked);
    tcase_add_test(tc, ocsp_refusals);
    return unit_run(s);
}
