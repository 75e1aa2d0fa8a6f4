/*
 * bench/crl-gen: a large CRL for bench/crl.sh, assembled as DER and signed
 * with OpenSSL (openssl ca takes hours for millions of entries, and the
 * X509_CRL API would hold every entry as objects in memory).
 *   crl-gen ROOT.crt ROOT.key N OUT.der [SERIAL_HEX:REASON ...]
 * N random 16-byte serials (reasons cycling through 0..10 except 7, some
 * without a reason), plus the given serials; thisUpdate now - 1 h,
 * nextUpdate now + 2 d; authorityKeyIdentifier of the root. The entries
 * are streamed to the file and into the signature, never kept.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t tl(unsigned char *p, int tag, size_t n) /* tag + length; returns header size */
{
    p[0] = (unsigned char)tag;
    if (n < 128) { p[1] = (unsigned char)n; return 2; }
    if (n < 256) { p[1] = 0x81; p[2] = (unsigned char)n; return 3; }
    if (n < 65536) { p[1] = 0x82; p[2] = (unsigned char)(n >> 8); p[3] = (unsigned char)n; return 4; }
    p[1] = 0x84; p[2] = (unsigned char)(n >> 24); p[3] = (unsigned char)(n >> 16);
    p[4] = (unsigned char)(n >> 8); p[5] = (unsigned char)n; return 6;
}

static void utc(unsigned char *p, time_t t) /* 17 0d YYMMDDHHMMSSZ */
{
    struct tm tm;
    gmtime_r(&t, &tm);
    p[0] = 0x17; p[1] = 13;
    strftime((char *)p + 2, 14, "%y%m%d%H%M%SZ", &tm);
}

/* one entry: serial (len bytes), reason (-1 none); returns its size */
static size_t entry(unsigned char *e, const unsigned char *sn, size_t len, int reason, time_t t)
{
    unsigned char body[128];
    size_t o = 0;
    o += tl(body + o, 0x02, len); memcpy(body + o, sn, len); o += len;
    utc(body + o, t); o += 15;
    if (reason >= 0) {
        static const unsigned char ext[] = {0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15,
                                            0x04, 0x03, 0x0a, 0x01, 0x00};
        memcpy(body + o, ext, sizeof(ext)); body[o + sizeof(ext) - 1] = (unsigned char)reason;
        o += sizeof(ext);
    }
    size_t h = tl(e, 0x30, o);
    memcpy(e + h, body, o);
    return h + o;
}

static size_t hex2bin(const char *h, unsigned char *out)
{
    size_t n = strlen(h), i, k = 0;
    unsigned char tmp[64];
    char b[3] = {0};
    if (n % 2) { b[0] = '0'; b[1] = h[0]; tmp[k++] = (unsigned char)strtol(b, NULL, 16); h++; n--; }
    for (i = 0; i < n; i += 2) { b[0] = h[i]; b[1] = h[i + 1]; tmp[k++] = (unsigned char)strtol(b, NULL, 16); }
    if (tmp[0] & 0x80) { out[0] = 0; memcpy(out + 1, tmp, k); return k + 1; }
    memcpy(out, tmp, k);
    return k;
}

int main(int argc, char **argv)
{
    if (argc < 5) { fprintf(stderr, "usage: crl-gen ROOT.crt ROOT.key N OUT.der [SERIAL:REASON...]\n"); return 2; }
    FILE *f = fopen(argv[1], "r"), *kf = fopen(argv[2], "r"), *out;
    X509 *ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
    long n = atol(argv[3]), i;
    int extra = argc - 5, x;
    time_t now = time(NULL);
    unsigned char *name = NULL, head[512], e[128], sn[17], esn[64], *sig;
    int name_len;
    size_t ho = 0, rev_len = 0, tbs_body, siglen, el;
    static const unsigned char alg[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                        0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
    const ASN1_OCTET_STRING *ski;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char tail[64], hdr[16];
    size_t to = 0, hl;

    if (!ca || !key || n < 0 || (out = fopen(argv[4], "wb")) == NULL) { fprintf(stderr, "crl-gen: bad arguments\n"); return 2; }
    name_len = i2d_X509_NAME(X509_get_subject_name(ca), &name);
    ski = X509_get0_subject_key_id(ca);
    /* sizes: every random entry has a 16-byte positive serial (17 with a 00 sign byte: we clear the top bit) */
    for (i = 0; i < n; i++) {
        rev_len += (i % 13 == 12) ? 2 + 18 + 15 : 2 + 18 + 15 + 14;
    }
    for (x = 0; x < extra; x++) {
        char s[80]; strncpy(s, argv[5 + x], sizeof(s) - 1); s[79] = 0;
        char *c = strchr(s, ':'); *c = 0;
        rev_len += entry(e, esn, hex2bin(s, esn), atoi(c + 1), now);
    }
    /* tbs head: version, alg, issuer, thisUpdate, nextUpdate, revoked header */
    head[ho++] = 0x02; head[ho++] = 0x01; head[ho++] = 0x01;
    memcpy(head + ho, alg, sizeof(alg)); ho += sizeof(alg);
    memcpy(head + ho, name, (size_t)name_len); ho += (size_t)name_len;
    utc(head + ho, now - 3600); ho += 15;
    utc(head + ho, now + 2 * 86400); ho += 15;
    ho += tl(head + ho, 0x30, rev_len);
    /* tail: [0] { SEQ { SEQ { OID aki, OCTET STRING { SEQ { [0] keyid } } } } } */
    {
        unsigned char aki[64], ext[96], exts[100];
        size_t a = 0, eo = 0, xo = 0;
        a += tl(aki + a, 0x30, (size_t)ski->length + 2);
        a += tl(aki + a, 0x80, (size_t)ski->length);
        memcpy(aki + a, ski->data, (size_t)ski->length); a += (size_t)ski->length;
        unsigned char inner[96]; size_t io = 0;
        inner[io++] = 0x06; inner[io++] = 0x03; inner[io++] = 0x55; inner[io++] = 0x1d; inner[io++] = 0x23;
        io += tl(inner + io, 0x04, a); memcpy(inner + io, aki, a); io += a;
        eo += tl(ext + eo, 0x30, io); memcpy(ext + eo, inner, io); eo += io;
        xo += tl(exts + xo, 0x30, eo); memcpy(exts + xo, ext, eo); xo += eo;
        to += tl(tail + to, 0xa0, xo); memcpy(tail + to, exts, xo); to += xo;
    }
    tbs_body = ho + rev_len + to;
    unsigned char tbs_hdr[8];
    size_t th = tl(tbs_hdr, 0x30, tbs_body);
    siglen = (size_t)EVP_PKEY_get_size(key);
    size_t bs_hdr_len; unsigned char bs_hdr[8];
    bs_hdr_len = tl(bs_hdr, 0x03, siglen + 1);
    size_t total = th + tbs_body + sizeof(alg) + bs_hdr_len + 1 + siglen;
    hl = tl(hdr, 0x30, total);
    fwrite(hdr, 1, hl, out);
    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key);
#define EMIT(p, l) do { fwrite((p), 1, (l), out); EVP_DigestSignUpdate(ctx, (p), (l)); } while (0)
    EMIT(tbs_hdr, th);
    EMIT(head, ho);
    for (i = 0; i < n; i++) {
        RAND_bytes(sn, 16);
        sn[0] = (unsigned char)((sn[0] & 0x7f) | 0x01);
        el = entry(e, sn, 16, i % 13 == 12 ? -1 : (int)(i % 11 == 7 ? 1 : i % 11), now - 86400);
        EMIT(e, el);
    }
    for (x = 0; x < extra; x++) {
        char s[80]; strncpy(s, argv[5 + x], sizeof(s) - 1); s[79] = 0;
        char *c = strchr(s, ':'); *c = 0;
        el = entry(e, esn, hex2bin(s, esn), atoi(c + 1), now);
        EMIT(e, el);
    }
    EMIT(tail, to);
    sig = malloc(siglen);
    if (EVP_DigestSignFinal(ctx, sig, &siglen) != 1) { fprintf(stderr, "crl-gen: sign failed\n"); return 1; }
    fwrite(alg, 1, sizeof(alg), out);
    fwrite(bs_hdr, 1, bs_hdr_len, out);
    fputc(0, out);
    fwrite(sig, 1, siglen, out);
    return fclose(out) == 0 ? 0 : 1;
}
