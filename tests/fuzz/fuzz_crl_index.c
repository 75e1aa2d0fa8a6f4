/* CRL index files (jpki_crl_index_open, jpki_crl_header_parse,
 * jpki_crl_index_lookup): httpd maps whatever is in JPKICRLIndexDir, so a
 * damaged or hostile file must be refused, never read out of bounds.
 * Oracles: an accepted index has exactly header + count * 24 bytes; its
 * header parses alone to the same values; every entry is found by lookup
 * with its reason; keys between entries are not found. */
#include "fuzz.h"
#include "core/jpki_crl.h"

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    jpki_crl_index_t ix;
    jpki_crl_info_t h;
    const char *err = jpki_crl_index_open(data, size, &ix);
    apr_uint64_t i;
    (void)p;
    if (err != NULL) {
        FUZZ_CHECK(ix.entries == NULL);
        return;
    }
    FUZZ_CHECK(size == JPKI_CRL_HEADER_LEN + ix.info.count * JPKI_CRL_ENTRY_LEN);
    FUZZ_CHECK(jpki_crl_header_parse(data, size, &h) == NULL);
    FUZZ_CHECK(h.count == ix.info.count && h.next_update == ix.info.next_update);
    FUZZ_CHECK(strcmp(h.issuer_key_id, ix.info.issuer_key_id) == 0);
    for (i = 0; i < ix.info.count; i++) {
        const unsigned char *e = ix.entries + i * JPKI_CRL_ENTRY_LEN;
        unsigned char k[JPKI_CRL_SERIAL_LEN];
        int reason, j;
        FUZZ_CHECK(jpki_crl_index_lookup(&ix, e, &reason) && reason == e[JPKI_CRL_SERIAL_LEN]);
        memcpy(k, e, sizeof(k)); /* the next key up is listed only if it is the next entry */
        for (j = JPKI_CRL_SERIAL_LEN - 1; j >= 0 && ++k[j] == 0; j--) {
        }
        if (j >= 0 && (i + 1 == ix.info.count ||
                       memcmp(k, e + JPKI_CRL_ENTRY_LEN, JPKI_CRL_SERIAL_LEN) != 0)) {
            FUZZ_CHECK(!jpki_crl_index_lookup(&ix, k, &reason));
        }
    }
}
