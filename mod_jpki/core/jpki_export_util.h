/*
 * Pure helpers of the identity export (jpki_identity.c): header names
 * derived from variable names, safe header values, and the normalised
 * header-name comparison of the spoofing protection. APR only, no httpd:
 * part of libjpki_core, unit-tested in tests/unit/test_export_util.c.
 */
#ifndef JPKI_EXPORT_UTIL_H
#define JPKI_EXPORT_UTIL_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Header names longer than this are refused by the directives. */
#define JPKI_EXPORT_MAX_NAME 64

/* Lowercase, '_' -> '-': the form in which "X_JPKI_ACCOUNT",
 * "x-jpki-account" and "X-JPKI-Account" are the same name. */
char *jpki_export_normalise(apr_pool_t *p, const char *name);

/* NULL when name is a usable header name (RFC 9110 token characters,
 * 1..JPKI_EXPORT_MAX_NAME long), else why not. */
const char *jpki_export_name_invalid(const char *name);

/* Does a normalised header name start with one of the normalised prefixes
 * or equal one of the normalised names? (arrays of const char *) */
int jpki_export_name_matches(const char *norm, const apr_array_header_t *prefixes,
                             const apr_array_header_t *names);

/* JPKI_CERT_SERIAL + "X-JPKI-" -> "X-JPKI-Cert-Serial"; JPKI_AGE_OVER_20 ->
 * "X-JPKI-Age-Over-20". NULL if var does not start with "JPKI_" or has
 * nothing after it. */
char *jpki_export_header_name(apr_pool_t *p, const char *prefix, const char *var);

/* A value safe for a request header: bytes below 0x20, 0x7f, bytes of 0x80
 * and above (UTF-8 such as JPKI_NAME), '%', and a leading or trailing space
 * are percent-encoded (%XX, uppercase). Percent-decoding the result always
 * gives the original bytes; printable ASCII without '%' is unchanged. */
const char *jpki_export_header_value(apr_pool_t *p, const char *v);

#endif
