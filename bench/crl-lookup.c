/*
 * bench/crl-lookup: what one child pays for an index (bench/crl.sh):
 * mapping + validation time (jpki_crl_index_open, done once per child per
 * new index) and the CPU of one lookup (jpki_crl_index_lookup), for
 * random absent keys and for every 1000th listed key.
 *   crl-lookup INDEX [LOOKUPS]
 */
#include "core/jpki_crl.h"

#include <apr_general.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int fd = argc > 1 ? open(argv[1], O_RDONLY) : -1;
    long n = argc > 2 ? atol(argv[2]) : 2000000, i, found = 0;
    struct stat st;
    unsigned char *m, key[JPKI_CRL_SERIAL_LEN];
    jpki_crl_index_t ix;
    const char *err;
    double t0, t1, t2;
    int reason;

    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "usage: crl-lookup INDEX [LOOKUPS]\n");
        return 2;
    }
    t0 = now_s();
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    err = jpki_crl_index_open(m, (apr_size_t)st.st_size, &ix);
    t1 = now_s();
    if (err != NULL) {
        fprintf(stderr, "crl-lookup: %s\n", err);
        return 1;
    }
    srand(1);
    for (i = 0; i < n; i++) {
        if (i % 2 == 0) {
            memcpy(key, ix.entries + (size_t)((i / 2) * 1000 % (long)ix.info.count) * JPKI_CRL_ENTRY_LEN,
                   sizeof(key));
        } else {
            int k;
            memset(key, 0, sizeof(key));
            for (k = 6; k < JPKI_CRL_SERIAL_LEN; k++) {
                key[k] = (unsigned char)rand();
            }
        }
        found += jpki_crl_index_lookup(&ix, key, &reason);
    }
    t2 = now_s();
    printf("entries %" APR_UINT64_T_FMT " bytes %lld bytes_per_entry %.2f open_validate_ms %.1f "
           "lookup_ns %.0f found %ld of %ld\n",
           ix.info.count, (long long)st.st_size, (double)st.st_size / (double)ix.info.count,
           (t1 - t0) * 1e3, (t2 - t1) / (double)n * 1e9, found, n);
    return 0;
}
