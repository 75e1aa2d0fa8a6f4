/* CRL verification and indexing (jpki_crl_build_add/finish): the CRL is
 * untrusted bytes (fetched over HTTPS or dropped in a directory). Two
 * modes, by the first byte: odd — the rest is a whole CertificateList
 * (exercises the outer structure and the signature check); even — the
 * rest is a tbsCertList that this target wraps and signs with
 * auth-root-g1's key, so mutated entries, extensions and times get past
 * the signature into the entry walk. Roots: auth-root-g1, auth-root-g2.
 * Oracles: an accepted CRL finishes with the issuer key id of a root;
 * its index reopens, and every entry of it is found by lookup. */
#include "fuzz.h"
#include "core/jpki_crl_int.h"

#include <openssl/pem.h>

static STACK_OF(X509) * roots;
static EVP_PKEY *key;

static void fuzz_init(apr_pool_t *global)
{
    const char *names[] = {"auth-root-g1.crt", "auth-root-g2.crt"};
    size_t i;
    FILE *f;
    roots = sk_X509_new_null();
    for (i = 0; i < 2; i++) {
        f = fopen(fuzz_pki(global, names[i]), "r");
        if (f == NULL) {
            exit(2);
        }
        sk_X509_push(roots, PEM_read_X509(f, NULL, NULL, NULL));
        fclose(f);
    }
    f = fopen(fuzz_pki(global, "auth-root-g1.key"), "r");
    if (f == NULL || (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
        exit(2);
    }
    fclose(f);
}

static size_t put_len(unsigned char *p, size_t n)
{
    if (n < 128) {
        p[0] = (unsigned char)n;
        return 1;
    }
    if (n < 65536) {
        p[0] = 0x82;
        p[1] = (unsigned char)(n >> 8);
        p[2] = (unsigned char)n;
        return 3;
    }
    p[0] = 0x83;
    p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
    return 4;
}

/* SEQUENCE { tbs, sha256WithRSAEncryption, BIT STRING signature } */
static unsigned char *wrap(apr_pool_t *p, const uint8_t *tbs, size_t n, size_t *out_len)
{
    static const unsigned char alg[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                        0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
    unsigned char sig[1024], *out, bs[8];
    size_t siglen = sizeof(sig), body, k, o = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, tbs, n) != 1) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    EVP_MD_CTX_free(ctx);
    bs[0] = 0x03;
    k = 1 + put_len(bs + 1, siglen + 1);
    body = n + sizeof(alg) + k + 1 + siglen;
    out = apr_palloc(p, body + 8);
    out[o++] = 0x30;
    o += put_len(out + o, body);
    memcpy(out + o, tbs, n);
    o += n;
    memcpy(out + o, alg, sizeof(alg));
    o += sizeof(alg);
    memcpy(out + o, bs, k);
    o += k;
    out[o++] = 0x00;
    memcpy(out + o, sig, siglen);
    *out_len = o + siglen;
    return out;
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    jpki_crl_build_t *b = jpki_crl_build_create(p, roots, apr_time_now(), 300);
    jpki_crl_info_t info;
    jpki_crl_index_t ix;
    const unsigned char *in = data + 1;
    size_t n = size ? size - 1 : 0;
    const char *err;
    apr_size_t i;

    if (size == 0 || size > 1 << 20) {
        return;
    }
    if (!(data[0] & 1) && (in = wrap(p, data + 1, n, &n)) == NULL) {
        return;
    }
    err = jpki_crl_build_add(b, in, n);
    if (getenv("FUZZ_DEBUG")) {
        fprintf(stderr, "fuzz_crl: %s\n", err ? err : "accepted");
    }
    if (err != NULL) {
        FUZZ_CHECK(b->n == 0 && b->ncrls == 0);
        return;
    }
    FUZZ_CHECK(jpki_crl_build_finish(b, &info) == NULL);
    FUZZ_CHECK(b->kid_len > 0 && strlen(info.issuer_key_id) == (size_t)b->kid_len * 2);
    {
        /* the index as it would be written: header + entries */
        unsigned char *buf = apr_palloc(p, JPKI_CRL_HEADER_LEN + b->n * JPKI_CRL_ENTRY_LEN);
        jpki_crl_header_encode(b, buf);
        memcpy(buf + JPKI_CRL_HEADER_LEN, b->ent, b->n * JPKI_CRL_ENTRY_LEN);
        err = jpki_crl_index_open(buf, JPKI_CRL_HEADER_LEN + b->n * JPKI_CRL_ENTRY_LEN, &ix);
        FUZZ_CHECK(err == NULL);
        for (i = 0; i < b->n; i++) {
            int reason;
            FUZZ_CHECK(jpki_crl_index_lookup(&ix, b->ent + i * JPKI_CRL_ENTRY_LEN, &reason));
            FUZZ_CHECK(reason == b->ent[i * JPKI_CRL_ENTRY_LEN + JPKI_CRL_SERIAL_LEN]);
        }
    }
}
