/*
 * The refusal page (jpki_refusal.h). The page is the request's custom
 * response (ap_custom_response), as an ErrorDocument string would be;
 * httpd sends it from ap_send_error_response as "text/html;
 * charset=iso-8859-1", so the JPKI_REFUSAL output filter, inserted for
 * error responses (insert_error_filter), sets the page's own headers when
 * (and only when) the refusal is really answered with it: an authz refusal that another Require
 * line overrules never sends the page, and the granted response keeps its own headers.
 */
#include "infra/jpki_refusal.h"
#include "infra/jpki_http_json.h"
#include "core/jpki_messages.h"
#include "core/jpki_util.h"

#include "mod_core.h"

#include <openssl/sha.h>

#define REFUSAL_FILTER "JPKI_REFUSAL"
#define NOTE_STATUS    "jpki-refusal-status"

/* The page's only style; the CSP allows exactly this text by its hash. */
static const char page_style[] =
    "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1a1a1a}"
    "main{max-width:36rem;margin:2rem auto;background:#fff;border:1px solid #d0d4da;"
    "border-radius:8px;padding:1.5rem}"
    "h1{font-size:1.2rem;margin:0 0 .5rem}section{margin:0 0 1.2rem}"
    "section+section{color:#444}.code{font-size:.9rem;color:#555}"
    "a{color:#0b57d0}";

static char style_csp[128]; /* "'sha256-...'", computed once at start */

/* q-value of one Accept-Language item ("ja;q=0.8"): 0..1000 */
static int item_q(const char *params)
{
    const char *q = params ? ap_strstr_c(params, "q=") : NULL;
    double v;
    if (q == NULL) {
        return 1000;
    }
    v = atof(q + 2);
    return v <= 0 ? 0 : v >= 1 ? 1000 : (int)(v * 1000);
}

const char *jpki_refusal_lang(const char *al)
{
    int best = -1, ja = 0;
    char list[1024], *item, *state;
    if (al == NULL) {
        return "en";
    }
    apr_cpystrn(list, al, sizeof(list)); /* a longer header: its first 1023 bytes */
    for (item = apr_strtok(list, ",", &state); item; item = apr_strtok(NULL, ",", &state)) {
        char *semi = strchr(item, ';');
        int q;
        if (semi) {
            *semi = '\0';
        }
        q = item_q(semi ? semi + 1 : NULL);
        while (*item == ' ' || *item == '\t') {
            item++;
        }
        if (q > best && q > 0) { /* the first of equally preferred ones wins */
            best = q;
            ja = strncasecmp(item, "ja", 2) == 0 &&
                 (item[2] == '\0' || item[2] == '-' || item[2] == ' ' || item[2] == '\t');
        }
    }
    return ja ? "ja" : "en";
}

static const char *esc(apr_pool_t *p, const char *s)
{
    return ap_escape_html2(p, s, 0); /* UTF-8 stays as it is */
}

/* The link to the login page, back to this URL after the login (GET only:
 * the same return_to the login page's redirect carries). */
static const char *login_link(request_rec *r, const char *login_page)
{
    const char *to = login_page;
    if (login_page == NULL || *login_page == '\0') {
        return "";
    }
    if (r->method_number == M_GET && r->unparsed_uri != NULL && r->unparsed_uri[0] == '/') {
        to = apr_pstrcat(r->pool, login_page, ap_strchr_c(login_page, '?') ? "&" : "?",
                         "return_to=", ap_escape_urlencoded(r->pool, r->unparsed_uri), NULL);
    }
    return apr_pstrcat(r->pool, "<p class=\"login\"><a id=\"login-link\" href=\"", esc(r->pool, to),
                       "\">ログイン画面へ / Go to the login page</a></p>\n", NULL);
}

static const char *section(apr_pool_t *p, const char *lang, const char *title, const char *advice)
{
    return apr_pstrcat(p, "<section lang=\"", lang, "\"><h1>", esc(p, title), "</h1><p>",
                       esc(p, advice), "</p></section>\n", NULL);
}

static const char *render(request_rec *r, const char *code, const char *login_page)
{
    const jpki_message_t *m = jpki_messages_find(code);
    const char *first = jpki_refusal_lang(apr_table_get(r->headers_in, "Accept-Language"));
    const char *ja = section(r->pool, "ja", m->ja_title, m->ja_advice);
    const char *en = section(r->pool, "en", m->en_title, m->en_advice);
    int ja_first = strcmp(first, "ja") == 0;
    return apr_pstrcat(
        r->pool, "<!doctype html>\n<html lang=\"", first,
        "\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n<title>",
        esc(r->pool, ja_first ? m->ja_title : m->en_title), " / ",
        esc(r->pool, ja_first ? m->en_title : m->ja_title), "</title>\n<style>", page_style,
        "</style>\n</head>\n<body>\n<main id=\"jpki-refusal\" data-code=\"", esc(r->pool, code),
        "\" data-first-lang=\"", first, "\">\n", ja_first ? ja : en, ja_first ? en : ja,
        "<p class=\"code\">エラーコード / Error code: <code id=\"error-code\">", esc(r->pool, code),
        "</code></p>\n", login_link(r, login_page), "</main>\n</body>\n</html>\n", NULL);
}

/* Is status in the note's list ("401 403")? */
static int listed(const char *note, int status)
{
    char st[8];
    const char *at;
    apr_snprintf(st, sizeof(st), "%d", status);
    for (at = note; at != NULL && (at = ap_strstr_c(at, st)) != NULL; at += 3) {
        if ((at == note || at[-1] == ' ') && (at[3] == '\0' || at[3] == ' ')) {
            return 1;
        }
    }
    return 0;
}

int jpki_refusal_page(request_rec *r, int status, const char *code, const char *login_page)
{
    const char *prev = apr_table_get(r->notes, NOTE_STATUS);
    if (jpki_json_wanted(r) || code == NULL) {
        return 0;
    }
    /* An ErrorDocument (or another module's custom response) wins; a page
     * this module set earlier on the request is replaced. */
    if (!listed(prev, status) && ap_response_code_string(r, ap_index_of_response(status)) != NULL) {
        return 0;
    }
    ap_custom_response(r, status, render(r, code, login_page));
    if (prev == NULL) {
        apr_table_setn(r->notes, NOTE_STATUS, apr_itoa(r->pool, status));
    } else if (!listed(prev, status)) {
        apr_table_setn(r->notes, NOTE_STATUS, apr_psprintf(r->pool, "%s %d", prev, status));
    }
    return 1;
}

static apr_status_t refusal_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    if (listed(apr_table_get(r->notes, NOTE_STATUS), r->status)) {
        apr_table_t *h = r->headers_out;
        ap_set_content_type(r, "text/html; charset=utf-8");
        apr_table_setn(h, "Cache-Control", "no-store");
        apr_table_setn(h, "Content-Security-Policy",
                       apr_pstrcat(r->pool, "default-src 'none'; style-src ", style_csp,
                                   "; base-uri 'none'; form-action 'none'; "
                                   "frame-ancestors 'none'",
                                   NULL));
        apr_table_setn(h, "X-Content-Type-Options", "nosniff");
        apr_table_setn(h, "Referrer-Policy", "no-referrer");
        apr_table_mergen(h, "Vary", "Accept, Accept-Language");
        apr_table_unset(h, "Content-Language");
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* httpd asks for the filters of an error response here (the request's
 * own output filters are not used for it). */
static void insert_error_filter(request_rec *r)
{
    if (listed(apr_table_get(r->notes, NOTE_STATUS), r->status)) {
        ap_add_output_filter(REFUSAL_FILTER, NULL, r, r->connection);
    }
}

void jpki_refusal_register_hooks(apr_pool_t *p)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)page_style, sizeof(page_style) - 1, md);
    apr_snprintf(style_csp, sizeof(style_csp), "'sha256-%s'",
                 jpki_util_b64_encode(p, md, sizeof(md)));
    ap_register_output_filter(REFUSAL_FILTER, refusal_filter, NULL, AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
}
