/* JSON nesting pre-check (jpki_json_depth), run on request bodies and PF
 * answers before Jansson sees them. Oracles: -1 or a depth no larger than
 * the number of '[' and '{' bytes; and a JSON text that Jansson accepts
 * is never reported unbalanced. */
#include "fuzz.h"
#include "core/jpki_util.h"

#include <jansson.h>

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    int d = jpki_json_depth((const char *)data, size);
    size_t i, opens = 0;
    json_t *j;
    json_error_t err;
    (void)p;
    for (i = 0; i < size; i++) {
        opens += data[i] == '[' || data[i] == '{';
    }
    FUZZ_CHECK(d >= -1 && (d == -1 || (size_t)d <= opens));
    j = json_loadb((const char *)data, size, 0, &err);
    if (j != NULL) {
        FUZZ_CHECK(d >= 0);
        json_decref(j);
    }
}
