/*
 * Private to jpki_crl_build.c and jpki_crl_write.c: the build state.
 */
#ifndef JPKI_CRL_INT_H
#define JPKI_CRL_INT_H

#include "core/jpki_crl.h"

#include <openssl/evp.h>

struct jpki_crl_build_t {
    apr_pool_t *p;
    STACK_OF(X509) * roots;
    apr_time_t now;
    long skew;
    unsigned char *ent; /* malloc'd: the entries, JPKI_CRL_ENTRY_LEN each */
    apr_size_t n, cap;
    unsigned char kid[JPKI_CRL_KID_MAX];
    int kid_len;
    apr_time_t this_update, next_update;
    EVP_MD_CTX *sha;
    unsigned int ncrls;
    unsigned char sha256[32]; /* set by finish */
    int finished;
};

/* The index header of a finished build (JPKI_CRL_HEADER_LEN bytes). */
void jpki_crl_header_encode(const jpki_crl_build_t *b, unsigned char *h);

#endif
