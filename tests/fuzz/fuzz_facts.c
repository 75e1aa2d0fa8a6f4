/* The 4 facts (jpki_cert_facts): the signing certificate's
 * subjectAltName otherNames. The input is the DER of a subjectAltName
 * extension value (GeneralNames), put into an otherwise empty certificate
 * (jpki_cert_facts reads nothing else), so every input reaches the SAN
 * decoder directly; seeds are the SANs of the test PKI's signing
 * certificates (seeds.sh). Oracles: on success name, sex, address and birth date are set,
 * the date is ISO (YYYY-MM-DD), sex is one JIS X 0303 digit and no value
 * holds an embedded NUL. */
#include "fuzz.h"
#include "core/jpki_cert.h"

#include <openssl/x509v3.h>

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    jpki_cert_t c;
    jpki_facts_t *f;
    const char *code = NULL, *detail = NULL;
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    memset(&c, 0, sizeof(c));
    c.x509 = X509_new();
    if (c.x509 == NULL || os == NULL || !ASN1_OCTET_STRING_set(os, data, (int)size)) {
        abort();
    }
    ext = X509_EXTENSION_create_by_NID(NULL, NID_subject_alt_name, 0, os);
    if (ext == NULL || !X509_add_ext(c.x509, ext, -1)) {
        abort();
    }
    f = jpki_cert_facts(p, &c, &code, &detail);
    if (f == NULL) {
        FUZZ_CHECK(code != NULL && detail != NULL);
    } else {
        FUZZ_CHECK(f->name && f->name_alt && f->address && f->address_alt && f->sex);
        FUZZ_CHECK(f->birth_date && strlen(f->birth_date) == 10);
        FUZZ_CHECK(strlen(f->sex) == 1 && strchr("0129", f->sex[0]) != NULL);
    }
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    X509_free(c.x509);
}
