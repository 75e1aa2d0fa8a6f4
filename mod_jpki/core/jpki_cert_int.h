/*
 * Private to jpki_cert.c, jpki_cert_verify.c and jpki_cert_facts.c
 * (libjpki_core): helpers the three files share. Not an API.
 */
#ifndef JPKI_CERT_INT_H
#define JPKI_CERT_INT_H

#include <apr_pools.h>
#include <openssl/x509.h>

/* Hex of the certificate's subject key identifier (or RFC 5280 method 1). */
const char *jpki_cert_key_id(apr_pool_t *p, X509 *x);

/* Set *code and *detail; returns 0. */
int jpki_cert_fail(const char **code, const char **detail, const char *c, const char *d);

#endif
