#include "core/jpki_export_util.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

char *jpki_export_normalise(apr_pool_t *p, const char *name)
{
    char *out = apr_pstrdup(p, name);
    char *c;
    for (c = out; *c; c++) {
        *c = (*c == '_') ? '-' : (char)apr_tolower(*c);
    }
    return out;
}

/* RFC 9110 §5.6.2 tchar */
static int is_tchar(unsigned char c)
{
    return apr_isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

const char *jpki_export_name_invalid(const char *name)
{
    const unsigned char *c;
    apr_size_t n = strlen(name);
    if (n == 0) {
        return "it is empty";
    }
    if (n > JPKI_EXPORT_MAX_NAME) {
        return "it is longer than 64 characters";
    }
    for (c = (const unsigned char *)name; *c; c++) {
        if (!is_tchar(*c)) {
            return "it contains a character that is not allowed in a header name";
        }
    }
    return NULL;
}

int jpki_export_name_matches(const char *norm, const apr_array_header_t *prefixes,
                             const apr_array_header_t *names)
{
    int i;
    for (i = 0; prefixes && i < prefixes->nelts; i++) {
        const char *pre = APR_ARRAY_IDX(prefixes, i, const char *);
        if (strncmp(norm, pre, strlen(pre)) == 0) {
            return 1;
        }
    }
    for (i = 0; names && i < names->nelts; i++) {
        if (strcmp(norm, APR_ARRAY_IDX(names, i, const char *)) == 0) {
            return 1;
        }
    }
    return 0;
}

char *jpki_export_header_name(apr_pool_t *p, const char *prefix, const char *var)
{
    apr_size_t plen = strlen(prefix);
    const char *s;
    char *out, *o;
    int word_start = 1;
    if (strncmp(var, "JPKI_", 5) != 0 || var[5] == '\0') {
        return NULL;
    }
    s = var + 5;
    out = apr_palloc(p, plen + strlen(s) + 1);
    memcpy(out, prefix, plen);
    o = out + plen;
    for (; *s; s++) {
        if (*s == '_') {
            *o++ = '-';
            word_start = 1;
            continue;
        }
        *o++ = word_start ? (char)apr_toupper(*s) : (char)apr_tolower(*s);
        word_start = 0;
    }
    *o = '\0';
    return out;
}

const char *jpki_export_header_value(apr_pool_t *p, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *c;
    apr_size_t n = strlen(v), extra = 0, i;
    char *out, *o;
    for (i = 0, c = (const unsigned char *)v; *c; c++, i++) {
        if (*c < 0x20 || *c >= 0x7f || *c == '%' || (*c == ' ' && (i == 0 || i == n - 1))) {
            extra += 2;
        }
    }
    if (extra == 0) {
        return v;
    }
    out = o = apr_palloc(p, n + extra + 1);
    for (i = 0, c = (const unsigned char *)v; *c; c++, i++) {
        if (*c < 0x20 || *c >= 0x7f || *c == '%' || (*c == ' ' && (i == 0 || i == n - 1))) {
            *o++ = '%';
            *o++ = hex[*c >> 4];
            *o++ = hex[*c & 0xf];
        } else {
            *o++ = (char)*c;
        }
    }
    *o = '\0';
    return out;
}
