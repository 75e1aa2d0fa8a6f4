/*
 * Metrics: one anonymous shared-memory segment of 64-bit counters, updated
 * with lock-free atomic adds by every process.
 *
 * Lifetime: the segment is created once per httpd parent, on the process
 * pool (which lives until the parent exits), and found again through pool
 * userdata in every later configuration generation. Graceful and hard
 * restarts re-read the configuration but keep the parent, so the counters
 * survive them; old-generation children still finishing requests write to
 * the same memory. An anonymous mapping needs no file, no permissions and
 * cannot be left behind by a crash (pain point 9 in the design notes).
 * Counters restart from zero only when the parent is stopped.
 */
#include "infra/jpki_metrics.h"
#include "infra/jpki_cache.h"
#include "core/jpki_errors.h"

#include "http_main.h"
#include "apr_shm.h"

#if !defined(__GNUC__)
#error "jpki_metrics.c needs the GCC/Clang __atomic builtins"
#endif

#define SEG_MAGIC APR_UINT64_C(0x4a504b494d455431) /* ASCII JPKIMET1 */
#define SEG_KEY   "jpki-metrics-segment"
#define CODE_LEN  40

typedef volatile apr_uint64_t ctr_t;

typedef struct {
    volatile apr_uint32_t state; /* 0 free, 1 being claimed, 2 ready */
    char code[CODE_LEN];
    ctr_t count;
} code_slot_t;

typedef struct {
    apr_uint64_t magic;
    apr_uint64_t size; /* a reinstalled module with another layout must not use it */
    apr_time_t started;
    ctr_t generations;
    code_slot_t codes[JPKI_METRICS_MAX_CODES];
    ctr_t logins_other;
    ctr_t sessions_opened, sessions_ended;
    ctr_t cache[4][2];
    ctr_t calls[3][3][2];
    ctr_t latency[JPKI_METRICS_LATENCY_BUCKETS + 1];
    ctr_t latency_sum_ms, latency_count;
    ctr_t breaker_open, breaker_opened;
    ctr_t grace;
    ctr_t yen;
    ctr_t scrubbed;
    ctr_t audit_lines, audit_errors;
} seg_t;

/* Set in post_config (the parent, before forking children); read-only after. */
static seg_t *seg;

const long jpki_metrics_latency_bounds_ms[JPKI_METRICS_LATENCY_BUCKETS] = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
const char *const jpki_metrics_purposes[3] = {"signature_verification", "liveness_check", "other"};
const char *const jpki_metrics_cert_types[3] = {"auth", "sign", "other"};
const char *const jpki_metrics_cache_names[4] = {"challenge", "session", "status", "account"};

static void add(ctr_t *c, apr_uint64_t n)
{
    __atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static apr_uint64_t get(const ctr_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static int code_ok(const char *code)
{
    const char *c;
    if (code == NULL || *code == '\0' || strlen(code) >= CODE_LEN) {
        return 0;
    }
    for (c = code; *c; c++) {
        if (!(apr_islower(*c) || apr_isdigit(*c) || *c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* Wait (bounded) for a slot another process is claiming right now. */
static apr_uint32_t slot_state(code_slot_t *sl)
{
    apr_uint32_t st = __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE);
    int spins = 0;
    while (st == 1 && spins++ < 10000) {
        st = __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE);
    }
    return st;
}

static ctr_t *code_counter(const char *code)
{
    int i;
    if (!code_ok(code)) {
        return &seg->logins_other;
    }
    for (i = 0; i < JPKI_METRICS_MAX_CODES; i++) {
        code_slot_t *sl = &seg->codes[i];
        apr_uint32_t st = slot_state(sl);
        if (st == 0) {
            apr_uint32_t expect = 0;
            if (__atomic_compare_exchange_n(&sl->state, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                apr_cpystrn(sl->code, code, CODE_LEN);
                __atomic_store_n(&sl->state, 2, __ATOMIC_RELEASE);
                return &sl->count;
            }
            st = slot_state(sl);
        }
        if (st == 2 && strcmp(sl->code, code) == 0) {
            return &sl->count;
        }
    }
    return &seg->logins_other;
}

void jpki_metrics_login(server_rec *s, const char *outcome)
{
    (void)s;
    if (seg != NULL) {
        add(code_counter(outcome), 1);
    }
}

void jpki_metrics_session(server_rec *s, int delta)
{
    (void)s;
    if (seg != NULL && delta != 0) {
        add(delta > 0 ? &seg->sessions_opened : &seg->sessions_ended, 1);
    }
}

void jpki_metrics_cache(server_rec *s, int ns, int hit)
{
    (void)s;
    if (seg != NULL && ns >= 0 && ns < 4) {
        add(&seg->cache[ns][hit ? 1 : 0], 1);
    }
}

static int index_of(const char *const *names, int n, const char *v)
{
    int i;
    for (i = 0; v != NULL && i < n - 1; i++) {
        if (strcmp(names[i], v) == 0) {
            return i;
        }
    }
    return n - 1;
}

void jpki_metrics_status_call(server_rec *s, const char *purpose, const char *cert_type,
                              long latency_ms, int ok)
{
    int b;
    if (seg == NULL) {
        return;
    }
    if (latency_ms < 0) {
        latency_ms = 0;
    }
    add(&seg->calls[index_of(jpki_metrics_purposes, 3, purpose)]
                   [index_of(jpki_metrics_cert_types, 3, cert_type)][ok ? 1 : 0],
        1);
    for (b = 0; b < JPKI_METRICS_LATENCY_BUCKETS; b++) {
        if (latency_ms <= jpki_metrics_latency_bounds_ms[b]) {
            break;
        }
    }
    add(&seg->latency[b], 1);
    add(&seg->latency_sum_ms, (apr_uint64_t)latency_ms);
    add(&seg->latency_count, 1);
    /* Only an answered check is billed by the platform operator. */
    if (ok) {
        add(&seg->yen, (apr_uint64_t)jpki_metrics_fee(s, cert_type));
    }
}

void jpki_metrics_breaker(server_rec *s, int open)
{
    (void)s;
    if (seg == NULL) {
        return;
    }
    if (__atomic_exchange_n(&seg->breaker_open, open ? 1 : 0, __ATOMIC_RELAXED) == 0 && open) {
        add(&seg->breaker_opened, 1);
    }
}

void jpki_metrics_grace(server_rec *s)
{
    (void)s;
    if (seg != NULL) {
        add(&seg->grace, 1);
    }
}

void jpki_metrics_scrubbed(server_rec *s, int n)
{
    (void)s;
    if (seg != NULL && n > 0) {
        add(&seg->scrubbed, (apr_uint64_t)n);
    }
}

void jpki_metrics_audit(server_rec *s, int ok)
{
    (void)s;
    if (seg != NULL) {
        add(ok ? &seg->audit_lines : &seg->audit_errors, 1);
    }
}

int jpki_metrics_read(apr_pool_t *p, jpki_metrics_snapshot_t *o)
{
    int i, j, k;
    apr_uint64_t cum = 0;
    memset(o, 0, sizeof(*o));
    if (seg == NULL) {
        return 0;
    }
    o->started = seg->started;
    o->generations = get(&seg->generations);
    for (i = 0; i < JPKI_METRICS_MAX_CODES; i++) {
        code_slot_t *sl = &seg->codes[i];
        if (__atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) == 2) {
            o->code[o->ncodes] = apr_pstrdup(p, sl->code);
            o->logins[o->ncodes] = get(&sl->count);
            o->ncodes++;
        }
    }
    o->logins_other = get(&seg->logins_other);
    o->sessions_opened = get(&seg->sessions_opened);
    o->sessions_ended = get(&seg->sessions_ended);
    for (i = 0; i < 4; i++) {
        for (j = 0; j < 2; j++) {
            o->cache[i][j] = get(&seg->cache[i][j]);
        }
    }
    for (i = 0; i < 3; i++) {
        for (j = 0; j < 3; j++) {
            for (k = 0; k < 2; k++) {
                o->calls[i][j][k] = get(&seg->calls[i][j][k]);
            }
        }
    }
    for (i = 0; i <= JPKI_METRICS_LATENCY_BUCKETS; i++) {
        cum += get(&seg->latency[i]);
        o->latency[i] = cum;
    }
    o->latency_sum_ms = get(&seg->latency_sum_ms);
    o->latency_count = get(&seg->latency_count);
    o->breaker_open = get(&seg->breaker_open);
    o->breaker_opened = get(&seg->breaker_opened);
    o->grace = get(&seg->grace);
    o->yen = get(&seg->yen);
    o->scrubbed = get(&seg->scrubbed);
    o->audit_lines = get(&seg->audit_lines);
    o->audit_errors = get(&seg->audit_errors);
    return 1;
}

/* --- configuration ---------------------------------------------------------- */

/* --- lifecycle ------------------------------------------------------------------ */

static int metrics_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *data = NULL;
    (void)pconf;
    (void)plog;
    (void)ptemp;

    /* The first pass at startup only checks the configuration; the
     * segment belongs to the daemon that runs afterwards. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    apr_pool_userdata_get(&data, SEG_KEY, pp);
    if (data == NULL) {
        apr_shm_t *shm;
        apr_status_t rv = apr_shm_create(&shm, sizeof(seg_t), NULL, pp);
        int i, n;
        if (rv != APR_SUCCESS) {
            ap_log_error(
                APLOG_MARK, APLOG_ERR, rv, s,
                JPKI_LOGNO(1001) "cannot create the metrics shared memory (%" APR_SIZE_T_FMT
                                 " bytes): the jpki-status page will answer 503",
                sizeof(seg_t));
            seg = NULL;
            return OK;
        }
        data = apr_shm_baseaddr_get(shm);
        memset(data, 0, sizeof(seg_t));
        ((seg_t *)data)->magic = SEG_MAGIC;
        ((seg_t *)data)->size = sizeof(seg_t);
        ((seg_t *)data)->started = apr_time_now();
        /* The stable codes (docs/errors.md, jpki_errors.c) get their series
         * from the start; codes added later claim a free slot on first use. */
        for (i = 0, n = 0; jpki_errors[i].code != NULL && n < JPKI_METRICS_MAX_CODES; i++) {
            code_slot_t *sl;
            if (!jpki_errors[i].metrics_seed) {
                continue;
            }
            sl = &((seg_t *)data)->codes[n++];
            apr_cpystrn(sl->code, jpki_errors[i].code, CODE_LEN);
            sl->state = 2;
        }
        apr_pool_userdata_set(data, SEG_KEY, apr_pool_cleanup_null, pp);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     JPKI_LOGNO(1002) "metrics: %" APR_SIZE_T_FMT " bytes of shared memory "
                                      "created; kept across restarts",
                     sizeof(seg_t));
    }
    seg = data;
    if (seg->magic != SEG_MAGIC || seg->size != sizeof(seg_t)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     JPKI_LOGNO(1003) "metrics: shared memory segment has a wrong layout; "
                                      "metrics disabled until httpd is stopped and started");
        seg = NULL;
        return OK;
    }
    add(&seg->generations, 1);
    return OK;
}

void jpki_metrics_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(metrics_post_config, NULL, NULL, APR_HOOK_MIDDLE);
}
