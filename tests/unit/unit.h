/*
 * Shared setup of the core unit tests (tests/unit/test_<source>.c, one per
 * mod_jpki/core source): a fresh pool per test, the generated test PKI
 * ($JPKI_PKI_DIR) and the real J-LIS roots ($JPKI_SHARED_CA_DIR), both set
 * by make check (AM_TESTS_ENVIRONMENT). Linked into every test program.
 */
#ifndef JPKI_UNIT_H
#define JPKI_UNIT_H

#include <check.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "core/jpki_cert.h"

/* The test's pool: created before and destroyed after every test by
 * unit_tcase()'s fixture. */
extern apr_pool_t *pool;

/* A test case of the suite with the pool fixture and the timeout given
 * (seconds; 0 keeps libcheck's default). */
TCase *unit_tcase(Suite *s, const char *name, int timeout);

/* Runs the suite (apr_initialize/apr_terminate around it); the exit status
 * for main(). */
int unit_run(Suite *s);

/* $JPKI_PKI_DIR/name (the test fails when JPKI_PKI_DIR is not set). */
const char *unit_pki_path(const char *name);

/* The whole file $JPKI_PKI_DIR/name, NUL-terminated, *len its length. */
char *unit_pki_read(const char *name, apr_size_t *len);

/* $JPKI_PKI_DIR/name.der parsed; the test fails when it does not parse. */
jpki_cert_t *unit_cert(const char *name);

/* The trust of the test PKI: trust-all.pem and the JPKI-TEST root;
 * accept_test as JPKIAcceptTestCards. */
jpki_trust_t *unit_trust(int accept_test);

/* manifest.tsv (name, type, serial, issuer_key_id, not_after, subject):
 * column col of the certificate's row, NULL when it has none. */
const char *unit_manifest_field(const char *name, int col);

/* manifest.tsv: the expected "issuer key id:serial" of a certificate. */
const char *unit_manifest_serial(const char *name);

#endif
