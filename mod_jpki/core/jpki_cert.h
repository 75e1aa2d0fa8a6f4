/*
 * Certificate validation core: parse, classify (user authentication vs
 * signing, test hierarchy), verify against JPKI trust anchors, normalise
 * the serial, decode the signing certificate's 4 facts.
 *
 * Pure: APR + OpenSSL only, no httpd symbols, so the unit tests and fuzz
 * targets call it directly. Errors come back as a stable code (one of the
 * JPKI_E_* strings below, part of the public contract) plus a one-line
 * detail for the log that never contains personal data.
 */
#ifndef JPKI_CERT_H
#define JPKI_CERT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/x509.h>

/* Upper bound on an encoded certificate: real JPKI certificates are ~1.5 KiB. */
#define JPKI_CERT_MAX_DER 16384

/* Stable error codes (documented in docs/errors.md). */
#define JPKI_E_CERT_MISSING        "cert_missing"
#define JPKI_E_CERT_TOO_LARGE      "cert_too_large"
#define JPKI_E_CERT_MALFORMED      "cert_malformed"
#define JPKI_E_CERT_EXPIRED        "cert_expired"
#define JPKI_E_CERT_NOT_YET_VALID  "cert_not_yet_valid"
#define JPKI_E_CERT_UNTRUSTED      "cert_untrusted"
#define JPKI_E_CERT_ISSUER_EXPIRED "cert_issuer_expired"
#define JPKI_E_CERT_POLICY         "cert_policy"
#define JPKI_E_CERT_WRONG_TYPE     "cert_wrong_type"
#define JPKI_E_CERT_KEY_USAGE      "cert_key_usage"
#define JPKI_E_CERT_WEAK_KEY       "cert_weak_key"
#define JPKI_E_CERT_WEAK_SIGNATURE "cert_weak_signature"
#define JPKI_E_CERT_CRITICAL_EXT   "cert_critical_extension"
#define JPKI_E_CERT_TEST_HIERARCHY "cert_test_hierarchy"
#define JPKI_E_CERT_NO_FACTS       "cert_no_facts"

/* Default policy OIDs (jpki-facts.md §1.2); overridable by directive. */
#define JPKI_OID_POLICY_AUTH      "1.2.392.200149.8.5.1.3.30"
#define JPKI_OID_POLICY_SIGN      "1.2.392.200149.8.5.1.1.20"
#define JPKI_OID_POLICY_TEST_AUTH "1.2.392.200149.8.5.1.0.30"
#define JPKI_OID_POLICY_TEST_SIGN "1.2.392.200149.8.5.1.0.20"

typedef enum {
    JPKI_CERT_TYPE_NONE = 0,
    JPKI_CERT_TYPE_AUTH = 1, /* 利用者証明用 */
    JPKI_CERT_TYPE_SIGN = 2  /* 署名用 */
} jpki_cert_type_e;

typedef struct jpki_cert_t {
    X509 *x509;                /* owned; freed by a pool cleanup */
    const unsigned char *der;  /* pool copy of the DER */
    apr_size_t der_len;
    jpki_cert_type_e type;     /* from the policy OID; NONE if no JPKI policy */
    int test;                  /* O=JPKI-TEST issuer or a test policy */
    const char *serial_hex;    /* lowercase hex, no leading zeros */
    const char *issuer_key_id; /* lowercase hex of the issuer key id */
    const char *serial;        /* normalised: "<issuer_key_id>:<serial_hex>" */
    const char *issuer_dn;     /* RFC 2253 */
    apr_time_t not_before;
    apr_time_t not_after;
    int key_bits;
} jpki_cert_t;

typedef struct jpki_anchor_t {
    X509 *x509;
    const char *file;
    const char *key_id;   /* lowercase hex SKI */
    jpki_cert_type_e type;
    int test;
    apr_time_t not_before;
    apr_time_t not_after;
} jpki_anchor_t;

typedef struct jpki_trust_t {
    X509_STORE *auth_store;
    X509_STORE *sign_store;
    apr_array_header_t *anchors;       /* jpki_anchor_t */
    apr_array_header_t *auth_policies; /* const char * OIDs */
    apr_array_header_t *sign_policies;
    int accept_test;
} jpki_trust_t;

/* The 4 facts (基本4情報) of a signing certificate. Personal data: never log. */
typedef struct jpki_facts_t {
    const char *name;
    const char *name_alt;
    const char *address;
    const char *address_alt;
    const char *birth_date; /* ISO 8601 YYYY-MM-DD */
    const char *sex;        /* JIS X 0303: "1", "2", "9" (or "0") */
} jpki_facts_t;

const char *jpki_cert_type_name(jpki_cert_type_e t);

/* An ASN.1 UTCTime/GeneralizedTime as apr_time_t (0 if unreadable). */
apr_time_t jpki_cert_asn1_time(const ASN1_TIME *t);

/* Parse PEM, DER, or base64 (std or url) DER. */
jpki_cert_t *jpki_cert_parse(apr_pool_t *p, const char *in, apr_size_t len, const char **code,
                             const char **detail);

/* Trust anchors. Policies default to the JPKI OIDs when the arrays are empty. */
jpki_trust_t *jpki_trust_create(apr_pool_t *p);
/* Load every certificate of a PEM/DER file. Fails (returns message) if none
 * load, if one is not a CA, or if its DN is not a JPKI root DN. */
const char *jpki_trust_add_file(jpki_trust_t *t, apr_pool_t *p, const char *file);

/* Full local validation of a parsed certificate for the expected type,
 * at time now. Returns 1 when valid; otherwise 0 with code/detail. On
 * success, fills in issuer_key_id / serial from the verified chain when the
 * certificate carries no authority key id. */
int jpki_cert_verify(const jpki_trust_t *t, apr_pool_t *p, jpki_cert_t *c,
                     jpki_cert_type_e expected, apr_time_t now, const char **code,
                     const char **detail);

/* 4 facts from the subjectAltName otherNames (any order). */
jpki_facts_t *jpki_cert_facts(apr_pool_t *p, const jpki_cert_t *c, const char **code,
                              const char **detail);

/* "EYYYYMMDD" (era digit + Gregorian date) -> "YYYY-MM-DD", NULL if invalid. */
const char *jpki_facts_birth_date_iso(apr_pool_t *p, const char *era_date, apr_size_t len);

/* Completed years of age on the given calendar day (the caller picks the
 * day in Japan time). A 29 Feb birthday counts as 1 Mar in common years
 * (年齢計算ニ関スル法律: the age increases at the end of the day before the
 * birthday, i.e. on 28 Feb 24:00 = 1 Mar 00:00). Returns -1 on a bad date. */
int jpki_age_years(const char *birth_iso, int year, int month, int day);

/* The calendar day in Japan (UTC+9, no DST) at time t. */
void jpki_day_jst(apr_time_t t, int *year, int *month, int *day);

#endif

/* Verify a card signature: RSASSA-PKCS1-v1_5 over the SHA-256 DigestInfo
 * of data (what the card computes with P1=00 over a host-built DigestInfo,
 * jpki-facts.md §3). PSS and raw (no DigestInfo) signatures fail. */
int jpki_sig_verify(const jpki_cert_t *c, const unsigned char *data, apr_size_t data_len,
                    const unsigned char *sig, apr_size_t sig_len, const char **detail);
