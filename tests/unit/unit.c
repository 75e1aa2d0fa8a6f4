/*
 * Shared setup of the core unit tests: see unit.h.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    pool = NULL;
}

TCase *unit_tcase(Suite *s, const char *name, int timeout)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    if (timeout > 0) {
        tcase_set_timeout(tc, timeout);
    }
    suite_add_tcase(s, tc);
    return tc;
}

int unit_run(Suite *s)
{
    SRunner *sr;
    int failed;
    apr_initialize();
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

const char *unit_pki_path(const char *name)
{
    const char *dir = getenv("JPKI_PKI_DIR");
    ck_assert_msg(dir != NULL, "JPKI_PKI_DIR is not set (run through make check)");
    return apr_pstrcat(pool, dir, "/", name, NULL);
}

char *unit_pki_read(const char *name, apr_size_t *len)
{
    const char *path = unit_pki_path(name);
    char *buf;
    apr_file_t *f;
    apr_finfo_t fi;
    ck_assert_msg(apr_file_open(&f, path, APR_READ | APR_BINARY, 0, pool) == APR_SUCCESS,
                  "cannot open %s", path);
    apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    buf = apr_palloc(pool, (apr_size_t)fi.size + 1);
    apr_file_read_full(f, buf, (apr_size_t)fi.size, len);
    buf[*len] = '\0';
    apr_file_close(f);
    return buf;
}

jpki_cert_t *unit_cert(const char *name)
{
    apr_size_t len;
    const char *code = NULL, *detail = NULL;
    char *der = unit_pki_read(apr_pstrcat(pool, name, ".der", NULL), &len);
    jpki_cert_t *c = jpki_cert_parse(pool, der, len, &code, &detail);
    ck_assert_msg(c != NULL, "%s: %s (%s)", name, code, detail);
    return c;
}

jpki_trust_t *unit_trust(int accept_test)
{
    jpki_trust_t *t = jpki_trust_create(pool);
    ck_assert_ptr_null(jpki_trust_add_file(t, pool, unit_pki_path("trust-all.pem")));
    ck_assert_ptr_null(jpki_trust_add_file(t, pool, unit_pki_path("test-auth-root.crt")));
    t->accept_test = accept_test;
    return t;
}

const char *unit_manifest_field(const char *name, int col)
{
    apr_size_t len;
    char *m = unit_pki_read("manifest.tsv", &len), *line, *last;
    ck_assert(col >= 0 && col < 6);
    for (line = apr_strtok(m, "\n", &last); line; line = apr_strtok(NULL, "\n", &last)) {
        char *l2, *f[6];
        int i;
        f[0] = apr_strtok(line, "\t", &l2);
        for (i = 1; i < 6; i++) {
            f[i] = apr_strtok(NULL, "\t", &l2);
        }
        if (f[0] && strcmp(f[0], name) == 0) {
            return f[col];
        }
    }
    return NULL;
}

const char *unit_manifest_serial(const char *name)
{
    const char *serial = unit_manifest_field(name, 2), *kid = unit_manifest_field(name, 3);
    return serial && kid ? apr_pstrcat(pool, kid, ":", serial, NULL) : NULL;
}
