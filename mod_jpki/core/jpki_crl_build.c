/*
 * CRL index: building (jpki_crl.h). A CRL is walked as a stream: the
 * outer structure and tbsCertList fields are read with OpenSSL's ASN.1
 * decoders (ASN1_get_object, d2i_X509_ALGOR, d2i_X509_NAME, ...), the
 * signature is verified over the tbsCertList bytes as received, and the
 * revokedCertificates are decoded one entry at a time (d2i_X509_REVOKED
 * into one reused object), so a CRL of 10 M entries never becomes 10 M
 * objects in memory (OpenSSL's X509_CRL would).
 */
#include "core/jpki_crl_int.h"

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The parts of one CRL, pointing into its DER. */
typedef struct {
    const unsigned char *tbs, *rev, *rev_end;
    long tbs_len;
    X509_ALGOR *alg;
    ASN1_BIT_STRING *sig;
    X509_NAME *issuer;
    ASN1_TIME *this_update, *next_update;
    STACK_OF(X509_EXTENSION) * exts;
} crl_parts_t;

static apr_status_t build_cleanup(void *d)
{
    jpki_crl_build_destroy(d);
    return APR_SUCCESS;
}

jpki_crl_build_t *jpki_crl_build_create(apr_pool_t *p, STACK_OF(X509) * roots, apr_time_t now,
                                        long skew)
{
    jpki_crl_build_t *b = apr_pcalloc(p, sizeof(*b));
    b->p = p;
    b->roots = roots;
    b->now = now;
    b->skew = skew;
    b->sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(b->sha, EVP_sha256(), NULL);
    apr_pool_cleanup_register(p, b, build_cleanup, apr_pool_cleanup_null);
    return b;
}

void jpki_crl_build_destroy(jpki_crl_build_t *b)
{
    free(b->ent);
    b->ent = NULL;
    b->n = b->cap = 0;
    EVP_MD_CTX_free(b->sha);
    b->sha = NULL;
}

static void parts_free(crl_parts_t *c)
{
    X509_ALGOR_free(c->alg);
    ASN1_BIT_STRING_free(c->sig);
    X509_NAME_free(c->issuer);
    ASN1_TIME_free(c->this_update);
    ASN1_TIME_free(c->next_update);
    sk_X509_EXTENSION_pop_free(c->exts, X509_EXTENSION_free);
}

/* The next element's tag and class at *pp without moving *pp; -1 at end. */
static int peek(const unsigned char *p, const unsigned char *end, int *cls)
{
    long len;
    int tag, xclass;
    if (p >= end || (ASN1_get_object(&p, &len, &tag, &xclass, end - p) & 0x80)) {
        return -1;
    }
    *cls = xclass;
    return tag;
}

/* Enter a constructed element: *pp moves to its content, *cend its end. */
static int enter(const unsigned char **pp, const unsigned char *end, int want_tag, int want_cls,
                 const unsigned char **cend)
{
    long len;
    int tag, cls, r = ASN1_get_object(pp, &len, &tag, &cls, end - *pp);
    if ((r & 0x80) || !(r & V_ASN1_CONSTRUCTED) || tag != want_tag || cls != want_cls ||
        len > end - *pp) {
        return 0;
    }
    *cend = *pp + len;
    return 1;
}

/* tbsCertList fields up to (not into) the revoked entries and extensions. */
static const char *parse_tbs_head(const unsigned char **pp, const unsigned char *end,
                                  crl_parts_t *c)
{
    int cls, tag = peek(*pp, end, &cls);
    X509_ALGOR *inner;
    if (tag == V_ASN1_INTEGER && cls == V_ASN1_UNIVERSAL) {
        ASN1_INTEGER *v = d2i_ASN1_INTEGER(NULL, pp, end - *pp);
        long ver = v ? ASN1_INTEGER_get(v) : -1;
        ASN1_INTEGER_free(v);
        if (ver != 1) {
            return "unsupported CRL version";
        }
    }
    inner = d2i_X509_ALGOR(NULL, pp, end - *pp);
    if (inner == NULL) {
        return "malformed tbsCertList signature algorithm";
    }
    tag = X509_ALGOR_cmp(inner, c->alg);
    X509_ALGOR_free(inner);
    if (tag != 0) {
        return "the inner and outer signature algorithms differ";
    }
    if ((c->issuer = d2i_X509_NAME(NULL, pp, end - *pp)) == NULL ||
        (c->this_update = d2i_ASN1_TIME(NULL, pp, end - *pp)) == NULL) {
        return "malformed issuer or thisUpdate";
    }
    tag = peek(*pp, end, &cls);
    if (cls == V_ASN1_UNIVERSAL && (tag == V_ASN1_UTCTIME || tag == V_ASN1_GENERALIZEDTIME)) {
        if ((c->next_update = d2i_ASN1_TIME(NULL, pp, end - *pp)) == NULL) {
            return "malformed nextUpdate";
        }
    }
    return NULL;
}

/* The structure of a CRL (no checks of content yet). */
static const char *parse_crl(const unsigned char *der, apr_size_t len, crl_parts_t *c)
{
    const unsigned char *p = der, *end = der + len, *oend, *tend, *xend;
    const char *err;
    int cls, tag;

    memset(c, 0, sizeof(*c));
    if (!enter(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, &oend) || oend != end) {
        return "not a DER CertificateList (or trailing bytes)";
    }
    c->tbs = p;
    if (!enter(&p, oend, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, &tend)) {
        return "malformed tbsCertList";
    }
    c->tbs_len = (long)(tend - c->tbs);
    xend = tend;
    if ((c->alg = d2i_X509_ALGOR(NULL, &xend, oend - xend)) == NULL ||
        (c->sig = d2i_ASN1_BIT_STRING(NULL, &xend, oend - xend)) == NULL || xend != oend) {
        return "malformed signature algorithm or value";
    }
    if ((err = parse_tbs_head(&p, tend, c)) != NULL) {
        return err;
    }
    tag = peek(p, tend, &cls);
    if (tag == V_ASN1_SEQUENCE && cls == V_ASN1_UNIVERSAL) {
        if (!enter(&p, tend, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, &c->rev_end)) {
            return "malformed revokedCertificates";
        }
        c->rev = p;
        p = c->rev_end;
        tag = peek(p, tend, &cls);
    }
    if (tag == 0 && cls == V_ASN1_CONTEXT_SPECIFIC) {
        if (!enter(&p, tend, 0, V_ASN1_CONTEXT_SPECIFIC, &xend) ||
            (c->exts = d2i_X509_EXTENSIONS(NULL, &p, xend - p)) == NULL || p != xend) {
            return "malformed crlExtensions";
        }
    }
    return p == tend ? NULL : "unexpected data in tbsCertList";
}

/* crlExtensions: the authority key id out, refuse what we cannot honour. */
static const char *check_crl_exts(const crl_parts_t *c, ASN1_OCTET_STRING **akid)
{
    int i;
    for (i = 0; i < sk_X509_EXTENSION_num(c->exts); i++) {
        X509_EXTENSION *x = sk_X509_EXTENSION_value(c->exts, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(x));
        if (nid == NID_authority_key_identifier) {
            AUTHORITY_KEYID *a = X509V3_EXT_d2i(x);
            if (a == NULL) {
                return "malformed authorityKeyIdentifier";
            }
            if (a->keyid != NULL && *akid == NULL) {
                *akid = ASN1_OCTET_STRING_dup(a->keyid);
            }
            AUTHORITY_KEYID_free(a);
        } else if (nid == NID_delta_crl) {
            return "delta CRLs are not supported (index the full CRL)";
        } else if (nid == NID_issuing_distribution_point) {
            ISSUING_DIST_POINT *d = X509V3_EXT_d2i(x);
            int bad = d == NULL || d->onlysomereasons != NULL || d->indirectCRL || d->onlyattr;
            ISSUING_DIST_POINT_free(d);
            if (bad) {
                return "issuingDistributionPoint with onlySomeReasons, indirectCRL or "
                       "onlyContainsAttributeCerts is not supported";
            }
        } else if (nid != NID_crl_number && X509_EXTENSION_get_critical(x)) {
            return "unknown critical CRL extension";
        }
    }
    return NULL;
}

/* Verify the signature over the tbsCertList bytes with root's key. */
static int sig_ok(const crl_parts_t *c, X509 *root)
{
    int md_nid, pk_nid, ok = 0;
    EVP_PKEY *pk = X509_get0_pubkey(root);
    const EVP_MD *md;
    EVP_MD_CTX *ctx;
    if (pk == NULL || c->sig->length <= 0 || (c->sig->flags & 0x07) != 0 ||
        !OBJ_find_sigid_algs(OBJ_obj2nid(c->alg->algorithm), &md_nid, &pk_nid) ||
        md_nid == NID_sha1 || md_nid == NID_md5 || (md = EVP_get_digestbynid(md_nid)) == NULL ||
        EVP_PKEY_get_base_id(pk) != EVP_PKEY_type(pk_nid)) {
        return 0;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pk) == 1 &&
        EVP_DigestVerify(ctx, c->sig->data, (size_t)c->sig->length, c->tbs, (size_t)c->tbs_len) ==
            1) {
        ok = 1;
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static int may_sign_crls(X509 *root)
{
    return !(X509_get_extension_flags(root) & EXFLAG_KUSAGE) ||
           (X509_get_key_usage(root) & KU_CRL_SIGN);
}

/* The root that issued and signed the CRL: by authority key id when the
 * CRL has one (and then its DN must match too), else every root with the
 * issuer's DN is tried. A root with the same DN but another key (a forged
 * root) never verifies. */
static X509 *find_signer(const jpki_crl_build_t *b, const crl_parts_t *c,
                         const ASN1_OCTET_STRING *akid, const char **err)
{
    int i, named = 0;
    *err = "no configured root has the CRL's issuer key id or DN";
    for (i = 0; i < sk_X509_num(b->roots); i++) {
        X509 *r = sk_X509_value(b->roots, i);
        const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(r);
        if (akid != NULL && (ski == NULL || ASN1_OCTET_STRING_cmp(ski, akid) != 0)) {
            continue;
        }
        if (X509_NAME_cmp(X509_get_subject_name(r), c->issuer) != 0) {
            continue;
        }
        named = 1;
        if (!may_sign_crls(r)) {
            *err = "the issuing root's keyUsage lacks cRLSign";
            continue;
        }
        if (sig_ok(c, r)) {
            return r;
        }
    }
    if (named) {
        *err = *err && strstr(*err, "cRLSign") ? *err
                                               : "signature does not verify with the root's key "
                                                 "(wrong signer, forged root or damaged CRL)";
    }
    return NULL;
}

static apr_time_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    time_t s;
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm) || (s = timegm(&tm)) == (time_t)-1) {
        return -1;
    }
    return apr_time_from_sec(s);
}

/* thisUpdate not in the future, nextUpdate present and not past (skew). */
static const char *check_times(const jpki_crl_build_t *b, const crl_parts_t *c, apr_time_t *tu,
                               apr_time_t *nu)
{
    apr_time_t skew = apr_time_from_sec(b->skew);
    *tu = asn1_time(c->this_update);
    *nu = asn1_time(c->next_update);
    if (*tu <= 0) {
        return "bad thisUpdate";
    }
    if (c->next_update == NULL || *nu <= 0 || *nu < *tu) {
        return "no (or a bad) nextUpdate: a CRL without one cannot be judged current";
    }
    if (*tu > b->now + skew) {
        return "thisUpdate is in the future";
    }
    if (*nu + skew < b->now) {
        return "expired: nextUpdate has passed";
    }
    return NULL;
}

/* One revoked entry into e (24 bytes). */
static const char *entry_of(X509_REVOKED *rv, unsigned char *e)
{
    const ASN1_INTEGER *sn = X509_REVOKED_get0_serialNumber(rv);
    int i, n = X509_REVOKED_get_ext_count(rv), reason = JPKI_CRL_NO_REASON;
    memset(e, 0, JPKI_CRL_ENTRY_LEN);
    if (sn == NULL || sn->type != V_ASN1_INTEGER || sn->length < 1 ||
        sn->length > JPKI_CRL_SERIAL_LEN) {
        return "an entry has a negative or over-long serial";
    }
    memcpy(e + JPKI_CRL_SERIAL_LEN - sn->length, sn->data, (size_t)sn->length);
    for (i = 0; i < n; i++) {
        X509_EXTENSION *x = X509_REVOKED_get_ext(rv, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(x));
        if (nid == NID_crl_reason) {
            ASN1_ENUMERATED *en = X509V3_EXT_d2i(x);
            long v = en ? ASN1_ENUMERATED_get(en) : -1;
            ASN1_ENUMERATED_free(en);
            if (v < 0 || v > 10 || v == 7) {
                return "an entry has a bad reasonCode";
            }
            reason = (int)v;
        } else if (nid == NID_certificate_issuer) {
            return "indirect CRLs (certificateIssuer) are not supported";
        } else if (X509_EXTENSION_get_critical(x) && nid != NID_invalidity_date &&
                   nid != NID_hold_instruction_code) {
            return "an entry has an unknown critical extension";
        }
    }
    e[JPKI_CRL_SERIAL_LEN] = (unsigned char)reason;
    return NULL;
}

static int grow(jpki_crl_build_t *b)
{
    apr_size_t cap = b->cap ? b->cap * 2 : 4096;
    unsigned char *n = realloc(b->ent, cap * JPKI_CRL_ENTRY_LEN);
    if (n == NULL) {
        return 0;
    }
    b->ent = n;
    b->cap = cap;
    return 1;
}

/* Every revoked entry, decoded one at a time into one reused object. */
static const char *add_entries(jpki_crl_build_t *b, const crl_parts_t *c)
{
    const unsigned char *p = c->rev;
    X509_REVOKED *rv = NULL;
    const char *err = NULL;
    while (p != NULL && p < c->rev_end) {
        if (d2i_X509_REVOKED(&rv, &p, c->rev_end - p) == NULL) {
            err = "malformed revokedCertificates entry";
            break;
        }
        if (b->n == b->cap && !grow(b)) {
            err = "out of memory";
            break;
        }
        if ((err = entry_of(rv, b->ent + b->n * JPKI_CRL_ENTRY_LEN)) != NULL) {
            break;
        }
        b->n++;
    }
    X509_REVOKED_free(rv);
    return err;
}

/* DER of a PEM "X509 CRL" (OpenSSL's PEM reader), or the bytes as they are. */
static const unsigned char *der_of(const unsigned char *buf, apr_size_t *len, unsigned char **pem)
{
    BIO *bio;
    long n = 0;
    *pem = NULL;
    if (*len < 11 || memcmp(buf, "-----BEGIN", 10) != 0) {
        return buf;
    }
    bio = BIO_new_mem_buf(buf, (int)(*len > INT32_MAX ? INT32_MAX : *len));
    if (bio == NULL || !PEM_bytes_read_bio(pem, &n, NULL, PEM_STRING_X509_CRL, bio, NULL, NULL)) {
        *pem = NULL;
        n = 0;
    }
    BIO_free(bio);
    *len = (apr_size_t)n;
    return *pem;
}

static const char *add_parsed(jpki_crl_build_t *b, const crl_parts_t *c)
{
    ASN1_OCTET_STRING *akid = NULL;
    const ASN1_OCTET_STRING *ski;
    const char *err;
    apr_time_t tu, nu;
    apr_size_t start = b->n;
    X509 *root;

    if ((err = check_crl_exts(c, &akid)) == NULL &&
        (root = find_signer(b, c, akid, &err)) != NULL &&
        (err = check_times(b, c, &tu, &nu)) == NULL) {
        ski = X509_get0_subject_key_id(root);
        if (ski == NULL || ski->length < 1 || ski->length > JPKI_CRL_KID_MAX) {
            err = "the issuing root has no usable subjectKeyIdentifier";
        } else if (b->kid_len && (b->kid_len != ski->length ||
                                  memcmp(b->kid, ski->data, (size_t)ski->length) != 0)) {
            err = "CRLs of different issuers cannot share one index";
        } else if ((err = add_entries(b, c)) == NULL) {
            b->kid_len = ski->length;
            memcpy(b->kid, ski->data, (size_t)ski->length);
            b->this_update = b->ncrls == 0 || tu < b->this_update ? tu : b->this_update;
            b->next_update = b->ncrls == 0 || nu < b->next_update ? nu : b->next_update;
        }
    }
    ASN1_OCTET_STRING_free(akid);
    if (err != NULL) {
        b->n = start;
    }
    return err;
}

const char *jpki_crl_build_add(jpki_crl_build_t *b, const unsigned char *buf, apr_size_t len)
{
    unsigned char *pem;
    const unsigned char *der;
    crl_parts_t c;
    const char *err;

    if (b->finished) {
        return "the index is already finished";
    }
    if ((der = der_of(buf, &len, &pem)) == NULL) {
        return "not a PEM X509 CRL";
    }
    err = parse_crl(der, len, &c);
    if (err == NULL) {
        err = add_parsed(b, &c);
    }
    if (err == NULL) {
        EVP_DigestUpdate(b->sha, der, len);
        b->ncrls++;
    }
    parts_free(&c);
    OPENSSL_free(pem);
    ERR_clear_error();
    return err;
}
