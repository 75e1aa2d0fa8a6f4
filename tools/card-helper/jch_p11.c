/* The card through PKCS#11: OpenSC's opensc-pkcs11.so by default (it has a
 * JPKI driver), or any module given with --module. Finds the one
 * user-authentication certificate (policy 1.2.392.200149.8.5.1.3.30), never the
 * signing one, logs in with the user PIN and has the card sign
 * DigestInfo(SHA-256(data)) with CKM_RSA_PKCS. */
#include "jch.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <p11-kit/pkcs11.h>

#define MAX_SLOTS 32
#define MAX_OBJS  32

struct jpki_ch_p11 {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
};

typedef struct {
    CK_SLOT_ID slot;
    unsigned char *cert;
    size_t cert_len;
    unsigned char id[128];
    CK_ULONG id_len;
    int key_seen; /* private key object visible in this slot before login */
    int pin_fits; /* the slot's PIN length range admits the user-auth PIN */
} found_t;

/* OpenSC shows a card with two PINs as one slot per PIN; the public
 * user-authentication certificate may appear in both. The user-authentication
 * PIN is 4 digits, the signing PIN 6..16 characters: the PIN length range says
 * which slot is which, so the auth PIN never goes to the signing PIN's slot. */
static int pin_range_fits(const CK_TOKEN_INFO *ti, int digits)
{
    return digits <= 0 ||
           (ti->ulMinPinLen <= (CK_ULONG)digits && (CK_ULONG)digits <= ti->ulMaxPinLen);
}

static int slot_score(const found_t *c)
{
    return c->key_seen * 2 + c->pin_fits;
}

jpki_ch_p11_t *jpki_ch_p11_open(const char *path, const char **err)
{
    jpki_ch_p11_t *p = calloc(1, sizeof *p);
    CK_C_GetFunctionList get;
    CK_C_INITIALIZE_ARGS args = {0};
    CK_RV rv;

    if (!p)
        return *err = "out of memory", NULL;
    if (!(p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        *err = "cannot load the PKCS#11 module";
        free(p);
        return NULL;
    }
    get = (CK_C_GetFunctionList)dlsym(p->dl, "C_GetFunctionList");
    if (!get || get(&p->f) != CKR_OK || !p->f) {
        *err = "not a PKCS#11 module (no C_GetFunctionList)";
        dlclose(p->dl);
        free(p);
        return NULL;
    }
    args.flags = CKF_OS_LOCKING_OK;
    rv = p->f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        *err = "C_Initialize failed";
        dlclose(p->dl);
        free(p);
        return NULL;
    }
    return p;
}

void jpki_ch_p11_close(jpki_ch_p11_t *p)
{
    if (!p)
        return;
    p->f->C_Finalize(NULL);
    dlclose(p->dl);
    free(p);
}

jpki_ch_code_t jpki_ch_p11_code(unsigned long rv)
{
    switch (rv) {
    case CKR_OK:
        return JCH_OK;
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_SLOT_ID_INVALID:
        return JCH_E_CARD_REMOVED;
    case CKR_PIN_INCORRECT:
        return JCH_E_PIN_INCORRECT;
    case CKR_PIN_LOCKED:
        return JCH_E_PIN_BLOCKED;
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_INVALID:
        return JCH_E_PIN_INVALID;
    case CKR_FUNCTION_CANCELED:
        return JCH_E_PIN_CANCELLED;
    default:
        return JCH_E_CARD_ERROR;
    }
}

int jpki_ch_cert_is_auth(const unsigned char *der, size_t len)
{
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, (long)len);
    CERTIFICATEPOLICIES *pol;
    ASN1_OBJECT *want;
    int found = 0;

    if (!x || q != der + len) {
        X509_free(x);
        return 0;
    }
    pol = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
    want = OBJ_txt2obj(JCH_OID_AUTH, 1);
    for (int i = 0; pol && want && i < sk_POLICYINFO_num(pol); i++)
        if (!OBJ_cmp(sk_POLICYINFO_value(pol, i)->policyid, want))
            found = 1;
    ASN1_OBJECT_free(want);
    CERTIFICATEPOLICIES_free(pol);
    X509_free(x);
    return found;
}

/* One attribute of any length, malloc'ed. */
static CK_RV get_attr(jpki_ch_p11_t *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                      CK_ATTRIBUTE_TYPE t, unsigned char **val, CK_ULONG *len)
{
    CK_ATTRIBUTE a = {t, NULL, 0};
    CK_RV rv = p->f->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == (CK_ULONG)-1 || a.ulValueLen > 65536)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (!(a.pValue = malloc(a.ulValueLen + 1)))
        return CKR_HOST_MEMORY;
    if ((rv = p->f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK) {
        free(a.pValue);
        return rv;
    }
    *val = a.pValue;
    *len = a.ulValueLen;
    return CKR_OK;
}

static CK_RV find_objs(jpki_ch_p11_t *p, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                       CK_OBJECT_HANDLE *objs, CK_ULONG *count)
{
    CK_RV rv = p->f->C_FindObjectsInit(s, tmpl, n);
    if (rv != CKR_OK)
        return rv;
    rv = p->f->C_FindObjects(s, objs, MAX_OBJS, count);
    p->f->C_FindObjectsFinal(s);
    return rv;
}

static int private_key_visible(jpki_ch_p11_t *p, CK_SESSION_HANDLE s, const found_t *c)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, (void *)c->id, c->id_len}};
    CK_OBJECT_HANDLE objs[MAX_OBJS];
    CK_ULONG n = 0;
    return find_objs(p, s, t, 2, objs, &n) == CKR_OK && n > 0;
}

/* Adds the user-authentication certificates of one slot to found[]; the same
 * certificate seen in several slots (one card, one slot per PIN) counts once. */
static CK_RV scan_slot(jpki_ch_p11_t *p, CK_SLOT_ID slot, int pin_fits, found_t *found, int *nfound)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_CERTIFICATE_TYPE, &ct, sizeof ct}};
    CK_OBJECT_HANDLE objs[MAX_OBJS];
    CK_ULONG n = 0;
    CK_RV rv = p->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s);

    if (rv != CKR_OK)
        return rv;
    rv = find_objs(p, s, t, 2, objs, &n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        found_t c = {.slot = slot, .pin_fits = pin_fits};
        unsigned char *id = NULL;
        CK_ULONG len = 0;
        if (get_attr(p, s, objs[i], CKA_VALUE, &c.cert, &len) != CKR_OK)
            continue;
        c.cert_len = len;
        if (!jpki_ch_cert_is_auth(c.cert, c.cert_len) ||
            get_attr(p, s, objs[i], CKA_ID, &id, &c.id_len) != CKR_OK || c.id_len > sizeof c.id) {
            free(c.cert);
            free(id);
            continue;
        }
        memcpy(c.id, id, c.id_len);
        free(id);
        c.key_seen = private_key_visible(p, s, &c);
        int dup = -1;
        for (int k = 0; k < *nfound; k++)
            if (found[k].cert_len == c.cert_len && !memcmp(found[k].cert, c.cert, c.cert_len))
                dup = k;
        if (dup >= 0 && slot_score(&found[dup]) >= slot_score(&c)) {
            free(c.cert);
        } else if (dup >= 0) {
            free(found[dup].cert);
            found[dup] = c;
        } else if (*nfound < MAX_SLOTS) {
            found[(*nfound)++] = c;
        } else {
            free(c.cert);
        }
    }
    p->f->C_CloseSession(s);
    return rv;
}

static jpki_ch_code_t find_auth(jpki_ch_p11_t *p, int digits, found_t *out)
{
    CK_SLOT_ID slots[MAX_SLOTS];
    CK_ULONG nall = 0, n = MAX_SLOTS;
    found_t found[MAX_SLOTS];
    int nfound = 0;
    CK_RV rv = p->f->C_GetSlotList(CK_FALSE, NULL, &nall);

    if (rv != CKR_OK)
        return JCH_E_CARD_ERROR;
    if (nall == 0)
        return JCH_E_READER_NOT_FOUND;
    if ((rv = p->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK)
        return rv == CKR_BUFFER_TOO_SMALL ? JCH_E_CARD_AMBIGUOUS : JCH_E_CARD_ERROR;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED))
            continue;
        scan_slot(p, slots[i], pin_range_fits(&ti, digits), found, &nfound);
    }
    if (nfound == 1) {
        *out = found[0];
        return JCH_OK;
    }
    for (int k = 0; k < nfound; k++)
        free(found[k].cert);
    return nfound == 0 ? JCH_E_CARD_NOT_FOUND : JCH_E_CARD_AMBIGUOUS;
}

/* The PIN step: refuse on the token's flags, then the dialog, then C_Login. */
static jpki_ch_code_t login(jpki_ch_card_t *card, CK_SESSION_HANDLE s, CK_SLOT_ID slot,
                            const char *origin)
{
    jpki_ch_p11_t *p = card->p11;
    CK_TOKEN_INFO ti;
    char pin[JCH_PIN_MAX + 1];
    jpki_ch_code_t rc;
    CK_RV rv;

    if ((rv = p->f->C_GetTokenInfo(slot, &ti)) != CKR_OK)
        return jpki_ch_p11_code(rv);
    switch (jpki_ch_pin_decide(ti.flags)) {
    case JCH_PIN_LOCKED:
        return JCH_E_PIN_BLOCKED;
    case JCH_PIN_FINAL_TRY:
        return JCH_E_PIN_FINAL_TRY;
    case JCH_PIN_PINPAD:
        rv = p->f->C_Login(s, CKU_USER, NULL, 0);
        return rv == CKR_USER_ALREADY_LOGGED_IN ? JCH_OK : jpki_ch_p11_code(rv);
    default:
        break;
    }
    if (!pin_range_fits(&ti, card->pin_digits)) {
        jpki_ch_log("the token's PIN length range %lu..%lu does not admit a %d-digit PIN: "
                    "not the user-authentication PIN (see --pin-digits)",
                    (unsigned long)ti.ulMinPinLen, (unsigned long)ti.ulMaxPinLen, card->pin_digits);
        return JCH_E_CARD_ERROR;
    }
    rc = jpki_ch_pinentry_ask(&card->pinentry, origin, jpki_ch_pin_tries_left(ti.flags), pin);
    if (rc != JCH_OK)
        return rc;
    /* A PIN of the wrong shape never reaches the card: it would cost a try. */
    if (!jpki_ch_pin_format_ok(pin, card->pin_digits)) {
        explicit_bzero(pin, sizeof pin);
        return JCH_E_PIN_INVALID;
    }
    rv = p->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    explicit_bzero(pin, sizeof pin);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
        return JCH_OK;
    rc = jpki_ch_p11_code(rv);
    if (rc == JCH_E_PIN_INCORRECT && p->f->C_GetTokenInfo(slot, &ti) == CKR_OK &&
        (ti.flags & CKF_USER_PIN_LOCKED))
        rc = JCH_E_PIN_BLOCKED;
    return rc;
}

static jpki_ch_code_t sign_with_key(jpki_ch_p11_t *p, CK_SESSION_HANDLE s, const found_t *c,
                                    const unsigned char di[51], jpki_ch_signed_t *out)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, (void *)c->id, c->id_len}};
    CK_OBJECT_HANDLE keys[MAX_OBJS];
    CK_ULONG n = 0, len = sizeof out->sig;
    CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
    CK_RV rv;

    if ((rv = find_objs(p, s, t, 2, keys, &n)) != CKR_OK)
        return jpki_ch_p11_code(rv);
    if (n != 1) /* no key, or several keys under the certificate's ID */
        return JCH_E_CARD_ERROR;
    if ((rv = p->f->C_SignInit(s, &mech, keys[0])) != CKR_OK)
        return jpki_ch_p11_code(rv);
    if ((rv = p->f->C_Sign(s, (CK_BYTE_PTR)di, 51, out->sig, &len)) != CKR_OK)
        return jpki_ch_p11_code(rv);
    out->sig_len = len;
    return JCH_OK;
}

/* The card's answer must verify with the certificate's key before it is
 * handed out: a wrong key or a broken card never reaches the server. */
static int signature_verifies(const found_t *c, const unsigned char *data, size_t len,
                              const jpki_ch_signed_t *out)
{
    const unsigned char *q = c->cert;
    X509 *x = d2i_X509(NULL, &q, (long)c->cert_len);
    EVP_PKEY *pk = x ? X509_get0_pubkey(x) : NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = pk && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestVerify(md, out->sig, out->sig_len, data, len) == 1;
    EVP_MD_CTX_free(md);
    X509_free(x);
    return ok;
}

jpki_ch_code_t jpki_ch_card_sign(jpki_ch_card_t *card, const char *origin,
                                 const unsigned char *data, size_t len, jpki_ch_signed_t *out)
{
    jpki_ch_p11_t *p = card->p11;
    unsigned char di[51];
    CK_SESSION_HANDLE s;
    found_t c;
    jpki_ch_code_t rc;
    CK_RV rv;

    memset(out, 0, sizeof *out);
    if ((rc = find_auth(p, card->pin_digits, &c)) != JCH_OK)
        return rc;
    if ((rv = p->f->C_OpenSession(c.slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK) {
        free(c.cert);
        return jpki_ch_p11_code(rv);
    }
    jpki_ch_digestinfo_sha256(data, len, di);
    rc = login(card, s, c.slot, origin);
    if (rc == JCH_OK) {
        rc = sign_with_key(p, s, &c, di, out);
        p->f->C_Logout(s);
    }
    p->f->C_CloseSession(s);
    if (rc == JCH_OK && !signature_verifies(&c, data, len, out))
        rc = JCH_E_CARD_ERROR;
    if (rc == JCH_OK) {
        out->cert = c.cert;
        out->cert_len = c.cert_len;
    } else {
        free(c.cert);
        explicit_bzero(out->sig, sizeof out->sig);
        out->sig_len = 0;
    }
    return rc;
}
