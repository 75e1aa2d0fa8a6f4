/*
 * Identity: the record every step reads, its session-record JSON, and its
 * export to REMOTE_USER and the JPKI_* variables (docs/variables.md). The
 * header export and the scrub that makes headers trustworthy are in
 * web/jpki_identity_headers.c.
 */
#include "steps/jpki_identity.h"
#include "core/jpki_export_util.h"
#include "infra/jpki_metrics.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

void jpki_identity_from_cert(jpki_identity_t *id, const jpki_cert_t *c, const char *method,
                             apr_time_t now)
{
    memset(id, 0, sizeof(*id));
    id->serial = c->serial;
    id->issuer = c->issuer_dn;
    id->cert_type = jpki_cert_type_name(c->type);
    id->not_after = c->not_after;
    id->method = method;
    id->auth_time = now;
    id->status = "unchecked";
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v != NULL) {
        json_object_set_new(o, k, json_string(v));
    }
}

char *jpki_identity_to_json(apr_pool_t *p, const jpki_identity_t *id, apr_time_t created,
                            apr_time_t last_seen)
{
    json_t *o = json_object();
    char *s, *out;
    set_str(o, "acct", id->account);
    set_str(o, "ser", id->serial);
    set_str(o, "iss", id->issuer);
    set_str(o, "typ", id->cert_type);
    json_object_set_new(o, "na", json_integer((json_int_t)apr_time_sec(id->not_after)));
    set_str(o, "m", id->method);
    json_object_set_new(o, "at", json_integer((json_int_t)apr_time_sec(id->auth_time)));
    set_str(o, "st", id->status);
    json_object_set_new(o, "sc", json_integer((json_int_t)apr_time_sec(id->status_checked_at)));
    set_str(o, "rr", id->revocation_reason);
    set_str(o, "pf", id->platform_user_id);
    set_str(o, "pci", id->pf_cert_id);
    set_str(o, "ps", id->previous_serial);
    set_str(o, "rcc", id->recheck_category);
    set_str(o, "rca", id->recheck_at);
    json_object_set_new(o, "reg", json_boolean(id->registration));
    json_object_set_new(o, "c", json_integer((json_int_t)apr_time_sec(created)));
    json_object_set_new(o, "ls", json_integer((json_int_t)apr_time_sec(last_seen)));
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL) {
        return NULL;
    }
    out = apr_pstrdup(p, s);
    free(s);
    return out;
}

static const char *get_str(apr_pool_t *p, json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? apr_pstrdup(p, json_string_value(v)) : NULL;
}

static apr_time_t get_time(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? apr_time_from_sec((apr_time_t)json_integer_value(v)) : 0;
}

static int parse_json(apr_pool_t *p, const char *json, jpki_identity_t *id, apr_time_t *created,
                      apr_time_t *last_seen)
{
    json_error_t e;
    json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(o)) {
        json_decref(o);
        return 0;
    }
    memset(id, 0, sizeof(*id));
    id->account = get_str(p, o, "acct");
    id->serial = get_str(p, o, "ser");
    id->issuer = get_str(p, o, "iss");
    id->cert_type = get_str(p, o, "typ");
    id->not_after = get_time(o, "na");
    id->method = get_str(p, o, "m");
    id->auth_time = get_time(o, "at");
    id->status = get_str(p, o, "st");
    id->status_checked_at = get_time(o, "sc");
    id->revocation_reason = get_str(p, o, "rr");
    id->platform_user_id = get_str(p, o, "pf");
    id->pf_cert_id = get_str(p, o, "pci");
    id->previous_serial = get_str(p, o, "ps");
    id->recheck_category = get_str(p, o, "rcc");
    id->recheck_at = get_str(p, o, "rca");
    id->registration = json_is_true(json_object_get(o, "reg"));
    *created = get_time(o, "c");
    *last_seen = get_time(o, "ls");
    json_decref(o);
    return id->serial != NULL && id->cert_type != NULL && id->method != NULL;
}

/* Parsed session records, per process. The session path parsed the same
 * record with Jansson on every request (json_loads: 10.6% of httpd's CPU
 * on a session request, perf, docs/testing.md); a record only changes
 * when it is rewritten (a refresh at most every 30 s, a re-check), so the
 * last parse of each record text is kept, matched on the complete text
 * (memcmp, never the hash alone), and copied into the request pool. Only
 * records that parsed as valid are kept: a bad one goes the slow way and
 * is refused exactly as before. */
#define MEMO_SLOTS   256
#define MEMO_MAX_LEN 4096

typedef struct {
    uint64_t hash;
    char *block; /* malloc: the record text, then the identity's strings */
    size_t len;
    jpki_identity_t id;
    apr_time_t created, last_seen;
} memo_slot_t;

static memo_slot_t memo[MEMO_SLOTS];
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t memo_hash(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    size_t i;
    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    }
    return h;
}

/* The identity's string fields, in one place for the copies below. */
static const char **memo_field(jpki_identity_t *id, int i)
{
    const char **f[] = {&id->account,           &id->serial,           &id->issuer,
                        &id->cert_type,         &id->method,           &id->status,
                        &id->revocation_reason, &id->platform_user_id, &id->pf_cert_id,
                        &id->previous_serial,   &id->recheck_category, &id->recheck_at};
    return i < (int)(sizeof(f) / sizeof(f[0])) ? f[i] : NULL;
}

static int memo_get(apr_pool_t *p, const char *json, size_t len, uint64_t h, jpki_identity_t *id,
                    apr_time_t *created, apr_time_t *last_seen)
{
    memo_slot_t *m = &memo[h % MEMO_SLOTS];
    const char **f;
    int i, hit;
    pthread_mutex_lock(&memo_lock);
    hit = m->block != NULL && m->hash == h && m->len == len && memcmp(m->block, json, len) == 0;
    if (hit) {
        *id = m->id;
        *created = m->created;
        *last_seen = m->last_seen;
        for (i = 0; (f = memo_field(id, i)) != NULL; i++) {
            *f = *f ? apr_pstrdup(p, *f) : NULL;
        }
    }
    pthread_mutex_unlock(&memo_lock);
    return hit;
}

static void memo_put(const char *json, size_t len, uint64_t h, const jpki_identity_t *id,
                     apr_time_t created, apr_time_t last_seen)
{
    jpki_identity_t copy = *id;
    size_t need = len + 1, at;
    const char **f;
    char *block, *old;
    int i;
    for (i = 0; (f = memo_field(&copy, i)) != NULL; i++) {
        need += *f ? strlen(*f) + 1 : 0;
    }
    if ((block = malloc(need)) == NULL) {
        return;
    }
    memcpy(block, json, len + 1);
    at = len + 1;
    for (i = 0; (f = memo_field(&copy, i)) != NULL; i++) {
        if (*f) {
            size_t n = strlen(*f) + 1;
            memcpy(block + at, *f, n);
            *f = block + at;
            at += n;
        }
    }
    pthread_mutex_lock(&memo_lock);
    old = memo[h % MEMO_SLOTS].block;
    memo[h % MEMO_SLOTS] = (memo_slot_t){h, block, len, copy, created, last_seen};
    pthread_mutex_unlock(&memo_lock);
    free(old);
}

int jpki_identity_from_json(apr_pool_t *p, const char *json, jpki_identity_t *id,
                            apr_time_t *created, apr_time_t *last_seen)
{
    size_t len = strlen(json);
    uint64_t h;
    if (len > MEMO_MAX_LEN) {
        return parse_json(p, json, id, created, last_seen);
    }
    h = memo_hash(json, len);
    if (memo_get(p, json, len, h, id, created, last_seen)) {
        return 1;
    }
    if (!parse_json(p, json, id, created, last_seen)) {
        return 0;
    }
    memo_put(json, len, h, id, *created, *last_seen);
    return 1;
}

/* Env export of the identity fields (not r->user). */
void jpki_identity_export_env(request_rec *r, const jpki_identity_t *id)
{
    apr_table_t *e = r->subprocess_env;
    if (id->account != NULL && !id->registration) {
        apr_table_setn(e, "JPKI_ACCOUNT", apr_pstrdup(r->pool, id->account));
    }
    apr_table_setn(e, "JPKI_CERT_SERIAL", id->serial);
    apr_table_setn(e, "JPKI_CERT_ISSUER", id->issuer ? id->issuer : "");
    apr_table_setn(e, "JPKI_CERT_TYPE", id->cert_type);
    apr_table_setn(e, "JPKI_CERT_NOT_AFTER", jpki_util_time_iso(r->pool, id->not_after));
    apr_table_setn(e, "JPKI_AUTH_METHOD", id->method);
    apr_table_setn(e, "JPKI_AUTH_TIME", jpki_util_time_iso(r->pool, id->auth_time));
    apr_table_setn(e, "JPKI_STATUS", id->status ? id->status : "unchecked");
    if (id->status_checked_at) {
        apr_table_setn(e, "JPKI_STATUS_CHECKED_AT",
                       jpki_util_time_iso(r->pool, id->status_checked_at));
    }
    if (id->revocation_reason) {
        apr_table_setn(e, "JPKI_REVOCATION_REASON", id->revocation_reason);
    }
    if (id->platform_user_id) {
        apr_table_setn(e, "JPKI_PLATFORM_USER_ID", id->platform_user_id);
    }
    if (id->previous_serial) {
        apr_table_setn(e, "JPKI_PREVIOUS_SERIAL", id->previous_serial);
    }
    if (id->recheck_category && id->recheck_at) {
        apr_table_setn(e, "JPKI_RECHECK_CATEGORY", id->recheck_category);
        apr_table_setn(e, "JPKI_RECHECK_AT", id->recheck_at);
    }
    apr_table_setn(e, "JPKI_REGISTRATION", id->registration ? "1" : "0");
}

/* The identity exported on a request is kept in the request pool under a
 * key naming that request_rec: internal redirects share the pool but are
 * other request_recs, and must not see it as their own. */
const char *jpki_identity_key(apr_pool_t *p, const request_rec *r)
{
    return apr_psprintf(p, "jpki-identity-%pp", (const void *)r);
}

void jpki_identity_export(request_rec *r, const jpki_identity_t *id)
{
    jpki_identity_t *copy = apr_pmemdup(r->pool, id, sizeof(*id));
    if (id->account != NULL && !id->registration) {
        r->user = apr_pstrdup(r->pool, id->account);
    }
    jpki_identity_export_env(r, id);
    apr_pool_userdata_set(copy, jpki_identity_key(r->pool, r), NULL, r->pool);
}
