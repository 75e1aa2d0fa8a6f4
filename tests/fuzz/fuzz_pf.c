/* Platform operator answers (jpki_pf_parse): the PF's JSON reply is
 * untrusted bytes from the network. Input: byte 0 picks the HTTP status,
 * the rest is the body. Oracles: the kind is one of the four; an answer
 * has a known status (and a reason when revoked); no field that reaches a
 * log line or a CGI variable contains a control byte. */
#include "fuzz.h"
#include "core/jpki_status_core.h"

static void fuzz_init(apr_pool_t *global)
{
    (void)global;
}

static void no_ctl(const char *s)
{
    for (; s != NULL && *s; s++) {
        FUZZ_CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
    }
}

static void fuzz_one(apr_pool_t *p, const uint8_t *data, size_t size)
{
    static const long statuses[8] = {200, 200, 200, 400, 401, 404, 500, 503};
    jpki_pf_answer_t a;
    jpki_pf_kind_e k;
    if (size < 1) {
        return;
    }
    memset(&a, 0, sizeof(a));
    k = jpki_pf_parse(p, statuses[data[0] & 7], (const char *)data + 1, size - 1, &a);
    FUZZ_CHECK(k == JPKI_PF_ANSWER || k == JPKI_PF_LINK_PENDING || k == JPKI_PF_UNAUTHORIZED ||
               k == JPKI_PF_BAD);
    FUZZ_CHECK(a.kind == k);
    no_ctl(a.why);
    no_ctl(a.cert_id);
    no_ctl(a.user_id);
    no_ctl(a.reason);
    if (k != JPKI_PF_ANSWER) {
        return;
    }
    FUZZ_CHECK(a.status != NULL);
    FUZZ_CHECK(!strcmp(a.status, "good") || !strcmp(a.status, "revoked") ||
               !strcmp(a.status, "expired") || !strcmp(a.status, "unknown"));
    FUZZ_CHECK(strcmp(a.status, "revoked") != 0 || a.reason != NULL);
    FUZZ_CHECK(jpki_reason_error_code(a.reason ? a.reason : "unspecified") != NULL);
    FUZZ_CHECK(a.cert_type == NULL || !strcmp(a.cert_type, "auth") || !strcmp(a.cert_type, "sign"));
}
