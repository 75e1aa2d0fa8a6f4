/*
 * Shared scaffolding of the libFuzzer targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines fuzz_init() (once, may load the test PKI) and
 * fuzz_one() (per input, with a fresh APR pool that is cleared after the
 * call, so everything the core allocates in it, including the pool
 * cleanups that free OpenSSL objects, is released per input and
 * LeakSanitizer sees real leaks only). The input handed to fuzz_one() is a
 * heap copy with a NUL after the last byte: the core's string APIs take
 * NUL-terminated strings, and ASan still catches any read past that NUL.
 *
 * Oracles: a target calls FUZZ_CHECK(cond) for invariants the core
 * promises (e.g. "a valid return_to starts with one '/'"); a violated one
 * aborts, which libFuzzer reports as a crash with the input saved.
 */
#ifndef JPKI_FUZZ_H
#define JPKI_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_allocator.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <openssl/err.h>
#include <sanitizer/lsan_interface.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: oracle failed: %s\n", __FILE__, __LINE__, #cond);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void fuzz_init(apr_pool_t *global);
static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size);

static apr_pool_t *fuzz_global;

/* The test PKI made by t/pki/mkpki.sh: $JPKI_PKI_DIR, else the build
 * tree's t/pki/out (compiled in by Makefile.am). */
__attribute__((unused)) static const char *fuzz_pki(apr_pool_t *p, const char *name)
{
    const char *dir = getenv("JPKI_PKI_DIR");
#ifdef JPKI_FUZZ_PKI_DIR
    if (dir == NULL || *dir == '\0') {
        dir = JPKI_FUZZ_PKI_DIR;
    }
#endif
    if (dir == NULL) {
        fprintf(stderr, "fuzz: set JPKI_PKI_DIR to the test PKI (t/pki/mkpki.sh)\n");
        exit(2);
    }
    return apr_pstrcat(p, dir, "/", name, NULL);
}

/* Whole file into the pool; exits if unreadable (a setup error, not a finding). */
__attribute__((unused)) static char *fuzz_slurp(apr_pool_t *p, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;
    char *buf;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        fprintf(stderr, "fuzz: cannot read %s (run t/pki/mkpki.sh first)\n", path);
        exit(2);
    }
    buf = apr_palloc(p, (apr_size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "fuzz: short read on %s\n", path);
        exit(2);
    }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&fuzz_global, NULL);
    /* What init keeps lives as long as the process, referenced from pool
     * memory that APR may mmap (LeakSanitizer does not scan mmap'd
     * memory): not a leak. Per-input allocations stay fully checked. */
    __lsan_disable();
    fuzz_init(fuzz_global);
    __lsan_enable();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A pool with its own allocator that keeps no free blocks: destroying
     * it hands every block back to malloc, so ASan sees a use after the
     * input's lifetime. (Overruns inside one 8 KiB pool block stay
     * invisible to ASan: a limit of APR pools, not of the targets.) */
    apr_allocator_t *alloc;
    apr_pool_t *p;
    uint8_t *copy = malloc(size + 1);
    if (copy == NULL || apr_allocator_create(&alloc) != APR_SUCCESS) {
        abort();
    }
    apr_allocator_max_free_set(alloc, 1);
    apr_pool_create_ex(&p, NULL, NULL, alloc);
    apr_allocator_owner_set(alloc, p);
    memcpy(copy, data, size);
    copy[size] = 0;
    fuzz_one(p, copy, size);
    apr_pool_destroy(p);
    /* OpenSSL's error queue keeps strings of a failed parse until they
     * are overwritten; freeing them here keeps mallocs == frees per input,
     * so libFuzzer runs its (slow) leak scan only when something leaked. */
    ERR_clear_error();
    free(copy);
    return 0;
}
#endif
