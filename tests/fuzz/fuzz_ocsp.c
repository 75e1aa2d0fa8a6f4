/* OCSP response check (jpki_ocsp_check): the responder's DER answer is
 * untrusted bytes from the network. The request side is fixed: CertIDs
 * (SHA-1) of three test-PKI certificates issued by auth-root-g1 (a good
 * one and two revoked ones), no nonce, trust = the test PKI's
 * user-authentication roots. Every input is checked against each CertID.
 * Seeds made by `openssl ocsp` for these requests (tests/fuzz/seeds.sh)
 * reach past the signature check; mutated ones exercise the DER parsing,
 * status, nonce and signer-authorisation paths. Oracle: an accepted
 * answer is good, revoked (with a reason name) or unknown, and has a
 * thisUpdate. */
#include "fuzz.h"
#include "core/jpki_cert.h"
#include "core/jpki_status_core.h"

static const char *const leaves[] = {"auth-alice-1.crt", "auth-rev-superseded.crt",
                                     "auth-rev-hold.crt"};
#define NLEAVES (sizeof(leaves) / sizeof(leaves[0]))
static OCSP_CERTID *ids[NLEAVES];
static OCSP_REQUEST *reqs[NLEAVES];
static jpki_trust_t *trust;

static jpki_cert_t *load(apr_pool_t *p, const char *name)
{
    size_t n;
    const char *code = NULL, *detail = NULL;
    char *pem = fuzz_slurp(p, fuzz_pki(p, name), &n);
    jpki_cert_t *c = jpki_cert_parse(p, pem, n, &code, &detail);
    if (c == NULL) {
        fprintf(stderr, "fuzz_ocsp: %s: %s\n", name, code);
        exit(2);
    }
    return c;
}

static void fuzz_init(apr_pool_t *global)
{
    jpki_cert_t *root = load(global, "auth-root-g1.crt");
    const char *err;
    apr_size_t len;
    size_t i;
    trust = jpki_trust_create(global);
    if ((err = jpki_trust_add_file(trust, global, fuzz_pki(global, "trust-auth.pem")))) {
        fprintf(stderr, "fuzz_ocsp: trust anchors: %s\n", err);
        exit(2);
    }
    for (i = 0; i < NLEAVES; i++) {
        ids[i] = jpki_ocsp_certid(root->x509, load(global, leaves[i])->serial_hex);
        if (ids[i] == NULL || jpki_ocsp_request(global, ids[i], 0, &reqs[i], &len) == NULL) {
            fprintf(stderr, "fuzz_ocsp: cannot build the request for %s\n", leaves[i]);
            exit(2);
        }
    }
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    jpki_ocsp_answer_t out;
    const char *err, *why;
    apr_time_t now = apr_time_now();
    size_t i;
    for (i = 0; i < NLEAVES; i++) {
        why = NULL;
        err = jpki_ocsp_check(p, data, size, reqs[i], ids[i], trust->auth_store, NULL, 0, 300, -1,
                              now, &out, &why);
        if (getenv("FUZZ_DEBUG")) { /* seeds.sh checks: what do the seeds reach? */
            fprintf(stderr, "fuzz_ocsp: %s: %s %s\n", leaves[i], err ? err : "ok",
                    why ? why : (err ? "" : out.status));
        }
        if (err != NULL) {
            FUZZ_CHECK(why != NULL);
            continue;
        }
        FUZZ_CHECK(out.status != NULL && out.this_update > 0);
        FUZZ_CHECK(!strcmp(out.status, "good") || !strcmp(out.status, "unknown") ||
                   (!strcmp(out.status, "revoked") && out.reason != NULL));
    }
}
