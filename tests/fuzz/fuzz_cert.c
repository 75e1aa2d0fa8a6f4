/* Certificate parse + verify (jpki_cert_parse, jpki_cert_verify,
 * jpki_cert_facts, jpki_sig_verify): the client's certificate arrives as
 * PEM, DER or base64(url) DER. Trust anchors are the test PKI's roots
 * (t/pki/out/trust-all.pem + test-auth-root.crt), so seeds from the PKI
 * get through the whole chain check. Oracles: a parsed certificate has a
 * serial and key id; a verified one has the expected type, is inside its
 * validity period and is not a test card unless test cards are on. */
#include "fuzz.h"
#include "core/jpki_cert.h"
#include "core/jpki_status_core.h"

static jpki_trust_t *trust;

static void fuzz_init(apr_pool_t *global)
{
    const char *err;
    trust = jpki_trust_create(global);
    if ((err = jpki_trust_add_file(trust, global, fuzz_pki(global, "trust-all.pem"))) ||
        (err = jpki_trust_add_file(trust, global, fuzz_pki(global, "test-auth-root.crt")))) {
        fprintf(stderr, "fuzz_cert: trust anchors: %s\n", err);
        exit(2);
    }
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const char *code = NULL, *detail = NULL;
    apr_time_t now = apr_time_now();
    jpki_cert_t *c;
    int t;
    c = jpki_cert_parse(p, (const char *)data, size, &code, &detail);
    if (c == NULL) {
        FUZZ_CHECK(code != NULL);
        return;
    }
    FUZZ_CHECK(c->x509 != NULL && c->der_len > 0 && c->der_len <= JPKI_CERT_MAX_DER);
    FUZZ_CHECK(c->serial_hex != NULL);
    (void)jpki_cert_facts(p, c, &code, &detail);
    (void)jpki_sig_verify(c, data, size / 2, data + size / 2, size - size / 2, &detail);
    trust->accept_test = (int)(size & 1);
    for (t = JPKI_CERT_TYPE_AUTH; t <= JPKI_CERT_TYPE_SIGN; t++) {
        code = detail = NULL;
        if (jpki_cert_verify(trust, p, c, (jpki_cert_type_e)t, now, &code, &detail)) {
            FUZZ_CHECK(c->type == (jpki_cert_type_e)t);
            FUZZ_CHECK(c->not_before <= now && now <= c->not_after);
            FUZZ_CHECK(trust->accept_test || !c->test);
            FUZZ_CHECK(c->serial != NULL && c->issuer_key_id != NULL);
        } else {
            FUZZ_CHECK(code != NULL);
        }
    }
}
