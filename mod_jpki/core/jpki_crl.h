/*
 * CRL index (JPKIStatusProvider crl; docs/status.md "CRL provider").
 *
 * A JPKI CRL can list millions of serials. It is verified and indexed
 * outside the request path (tools/crl/jpki-crl-index) into one file per
 * issuer, <issuer key id>.crlidx, that every httpd child memory-maps:
 *
 *   header (128 bytes, integers big-endian)
 *     0  magic "JPKICRL1"            8
 *     8  version (1)                 u32
 *     12 entry width (24)            u32
 *     16 issuer key id length        u32  (1..32)
 *     20 issuer key id (SKI bytes)   32, zero padded
 *     52 thisUpdate (unix seconds)   i64
 *     60 nextUpdate (unix seconds)   i64
 *     68 entry count                 u64
 *     76 SHA-256 of the CRL DER      32  (of all CRLs, concatenated, when merged)
 *     108 number of CRLs merged      u32
 *     112 reserved (zero)            16
 *   entries (24 bytes each, sorted by serial, strictly increasing)
 *     0  serial magnitude, big-endian, left-padded with zeros   22
 *     22 CRLReason code (0..10), 255 when the entry has none    1
 *     23 reserved (zero)                                        1
 *
 * Lookups are a binary search over the mapped bytes: no allocation.
 * Pure: APR + OpenSSL only (no httpd symbols), for the tool, the unit
 * tests and the fuzz target.
 */
#ifndef JPKI_CRL_H
#define JPKI_CRL_H

#include <apr_pools.h>
#include <apr_time.h>
#include <openssl/x509.h>

#define JPKI_CRL_MAGIC      "JPKICRL1"
#define JPKI_CRL_VERSION    1
#define JPKI_CRL_HEADER_LEN 128
#define JPKI_CRL_ENTRY_LEN  24
#define JPKI_CRL_SERIAL_LEN 22
#define JPKI_CRL_KID_MAX    32
#define JPKI_CRL_NO_REASON  255
#define JPKI_CRL_SUFFIX     ".crlidx"

/* The header of an index, decoded. */
typedef struct jpki_crl_info_t {
    char issuer_key_id[2 * JPKI_CRL_KID_MAX + 1]; /* lowercase hex */
    apr_time_t this_update;
    apr_time_t next_update;
    apr_uint64_t count;
    unsigned char sha256[32];
    unsigned int ncrls;
} jpki_crl_info_t;

/* A validated index over bytes the caller keeps (a mapping). */
typedef struct jpki_crl_index_t {
    jpki_crl_info_t info;
    const unsigned char *entries;
} jpki_crl_index_t;

/* Decode the header only (for the status page): NULL, or why not. */
const char *jpki_crl_header_parse(const unsigned char *buf, apr_size_t len, jpki_crl_info_t *out);

/* Validate a whole index: header, size = header + count * 24, entries
 * strictly increasing, reserved bytes zero, reasons in range. NULL when
 * valid (out points into buf), else why not. O(count), no allocation. */
const char *jpki_crl_index_open(const unsigned char *buf, apr_size_t len, jpki_crl_index_t *out);

/* A serial as the 22-byte key of an entry; hex as jpki_cert_t.serial_hex
 * (lowercase, no leading zeros; upper case and leading zeros accepted).
 * 1 on success, 0 when not hex or longer than 22 bytes. */
int jpki_crl_serial_key(const char *hex, unsigned char key[JPKI_CRL_SERIAL_LEN]);

/* 1 when the serial is listed (*reason = CRLReason code or
 * JPKI_CRL_NO_REASON), else 0. O(log n), no allocation. */
int jpki_crl_index_lookup(const jpki_crl_index_t *ix, const unsigned char key[JPKI_CRL_SERIAL_LEN],
                          int *reason);

/* ---- building (jpki_crl_build.c) --------------------------------------- */

/* Entries of one issuer, gathered from one or more CRLs (the partitions of
 * a partitioned CRL are merged into one index). */
typedef struct jpki_crl_build_t jpki_crl_build_t;

/* roots: the trust anchors a CRL may be issued by (issuer chosen by the
 * CRL's authority key id, else by DN, and its signature verified with
 * that root's key). skew: seconds allowed on thisUpdate/nextUpdate. */
jpki_crl_build_t *jpki_crl_build_create(apr_pool_t *p, STACK_OF(X509) * roots, apr_time_t now,
                                        long skew);

/* Verify one CRL (DER or PEM) and add its entries. NULL on success, else
 * a message; a refused CRL adds nothing. Every CRL of one build must come
 * from the same issuer key. */
const char *jpki_crl_build_add(jpki_crl_build_t *b, const unsigned char *buf, apr_size_t len);

/* Sort and de-duplicate; fills *info. NULL, or why not (no CRL added). */
const char *jpki_crl_build_finish(jpki_crl_build_t *b, jpki_crl_info_t *info);

/* Write the index atomically as dir/<issuer key id>.crlidx (temporary file
 * in dir, fsync, rename, fsync of dir). *path gets the final name.
 * Refuses (unless force) to replace an index with a later thisUpdate
 * (a replayed old CRL). NULL on success, else why not. */
const char *jpki_crl_build_write(jpki_crl_build_t *b, const char *dir, int force,
                                 const char **path);

/* Free the entry buffer early (it is also freed with the pool). */
void jpki_crl_build_destroy(jpki_crl_build_t *b);

#endif
