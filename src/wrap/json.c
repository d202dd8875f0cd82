// json.c: a strict JSON reader (RFC 8259) into a small tree, for the tuning file (tune.c): no
// comments, no trailing commas, no NaN, no duplicate key in an object, no NUL in a string, at
// most XW_JSON_DEPTH_MAX deep; the first error said with its byte offset. Calls nothing.
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrap.h"

typedef struct {
    const char *start, *p, *end;
    char *err;  // the first error (caller's buffer of XW_JSON_XW_JSON_ERR_BYTES)
} jparser;

static bool jfail(jparser *jp, const char *what)
{
    if (!jp->err[0])
        snprintf(jp->err, XW_JSON_ERR_BYTES, "not valid JSON at byte %ld: %s", (long)(jp->p - jp->start), what);
    return false;
}

static void skip_ws(jparser *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

void xw_json_free(jval *v)
{
    if (v->kind == J_STR)
        free(v->str);
    if (v->kind == J_ARR || v->kind == J_OBJ) {
        for (size_t i = 0; i < v->n; i++) {
            xw_json_free(&v->items[i]);
            if (v->keys)
                free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
    *v = (jval){ .kind = J_NULL };
}

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool hex4(jparser *jp, unsigned *out)
{
    if (jp->end - jp->p < 4)
        return jfail(jp, "short \\u escape");
    unsigned u = 0;
    for (int i = 0; i < 4; i++) {
        const int h = hex(jp->p[i]);
        if (h < 0)
            return jfail(jp, "bad \\u escape");
        u = u << 4 | (unsigned)h;
    }
    jp->p += 4;
    *out = u;
    return true;
}

static size_t utf8(unsigned cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// At the opening quote; the decoded string (its UTF-8 as given, escapes resolved) into *out.
static bool jstring(jparser *jp, char **out)
{
    jp->p++;
    const char *q = jp->p;
    while (q < jp->end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    if (q >= jp->end)
        return jfail(jp, "unterminated string");
    char *s = malloc((size_t)(q - jp->p) + 1), *o = s;  // escapes never lengthen the text
    if (!s)
        return jfail(jp, "out of memory");
    while (*jp->p != '"') {
        const unsigned char c = (unsigned char)*jp->p++;
        if (c < 0x20) {
            free(s);
            return jfail(jp, "control character in a string");
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        const char e = *jp->p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            *o++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        unsigned cp, lo;
        if (e != 'u' || !hex4(jp, &cp)) {
            free(s);
            return jfail(jp, "bad escape in a string");
        }
        if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair: the low half must follow
            if (jp->end - jp->p < 6 || jp->p[0] != '\\' || jp->p[1] != 'u' || (jp->p += 2, !hex4(jp, &lo)) ||
                lo < 0xDC00 || lo > 0xDFFF) {
                free(s);
                return jfail(jp, "bad surrogate pair");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp == 0 || (cp >= 0xDC00 && cp < 0xE000)) {
            free(s);
            return jfail(jp, "NUL or lone surrogate in a string");
        }
        o += utf8(cp, o);
    }
    jp->p++;
    *o = 0;
    *out = s;
    return true;
}

static bool digits(jparser *jp)
{
    const char *s = jp->p;
    while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
        jp->p++;
    return jp->p > s;
}

static bool jnumber(jparser *jp, jval *v)
{
    const char *s = jp->p;
    if (*jp->p == '-')
        jp->p++;
    if (jp->p < jp->end && *jp->p == '0')
        jp->p++;
    else if (!digits(jp))
        return jfail(jp, "bad number");
    bool integral = true;
    if (jp->p < jp->end && *jp->p == '.') {
        jp->p++;
        integral = false;
        if (!digits(jp))
            return jfail(jp, "bad fraction");
    }
    if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
        jp->p++;
        integral = false;
        if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
            jp->p++;
        if (!digits(jp))
            return jfail(jp, "bad exponent");
    }
    char text[64];
    if (jp->p - s >= (long)sizeof text)
        return jfail(jp, "number too long");
    memcpy(text, s, (size_t)(jp->p - s));
    text[jp->p - s] = 0;
    v->kind = J_NUM;
    v->num = strtod(text, NULL);
    if (!isfinite(v->num))
        return jfail(jp, "number out of range");
    errno = 0;
    v->i = integral ? strtoll(text, NULL, 10) : 0;
    v->integral = integral && errno == 0;
    return true;
}

static bool jword(jparser *jp, const char *w)
{
    const size_t n = strlen(w);
    if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, w, n))
        return jfail(jp, "unexpected character");
    jp->p += n;
    return true;
}

static bool jvalue(jparser *jp, jval *v, int depth);

// At '[' or '{': the members, each a value (with a key first in an object).
static bool jcontainer(jparser *jp, jval *v, int depth)
{
    const bool obj = *jp->p == '{';
    const char close = obj ? '}' : ']';
    v->kind = obj ? J_OBJ : J_ARR;
    jp->p++;
    skip_ws(jp);
    if (jp->p < jp->end && *jp->p == close) {
        jp->p++;
        return true;
    }
    size_t cap = 0;
    for (;;) {
        if (v->n == cap) {
            cap = cap ? 2 * cap : 8;
            jval *items = realloc(v->items, cap * sizeof *items);
            if (items)
                v->items = items;
            char **keys = obj ? realloc(v->keys, cap * sizeof *keys) : NULL;
            if (keys)
                v->keys = keys;
            if (!items || (obj && !keys))
                return jfail(jp, "out of memory");
        }
        v->items[v->n] = (jval){ .kind = J_NULL };
        if (obj) {
            v->keys[v->n] = NULL;
            skip_ws(jp);
            if (jp->p >= jp->end || *jp->p != '"') {
                v->n++;  // so that jfree sees the slot
                return jfail(jp, "expected a key");
            }
            const bool ok = jstring(jp, &v->keys[v->n]);
            v->n++;
            if (!ok)
                return false;
            for (size_t i = 0; i + 1 < v->n; i++)
                if (!strcmp(v->keys[i], v->keys[v->n - 1]))
                    return jfail(jp, "duplicate key");
            skip_ws(jp);
            if (jp->p >= jp->end || *jp->p++ != ':')
                return jfail(jp, "expected ':'");
        } else {
            v->n++;
        }
        if (!jvalue(jp, &v->items[v->n - 1], depth + 1))
            return false;
        skip_ws(jp);
        if (jp->p < jp->end && *jp->p == ',') {
            jp->p++;
            continue;
        }
        if (jp->p < jp->end && *jp->p == close) {
            jp->p++;
            return true;
        }
        return jfail(jp, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool jvalue(jparser *jp, jval *v, int depth)
{
    *v = (jval){ .kind = J_NULL };
    skip_ws(jp);
    if (jp->p >= jp->end)
        return jfail(jp, "unexpected end");
    if (depth > XW_JSON_DEPTH_MAX)
        return jfail(jp, "nested too deep");
    switch (*jp->p) {
    case '{':
    case '[':
        return jcontainer(jp, v, depth);
    case '"':
        v->kind = J_STR;
        return jstring(jp, &v->str) || (v->kind = J_NULL, false);
    case 't':
        v->kind = J_BOOL;
        v->i = 1;
        return jword(jp, "true");
    case 'f':
        v->kind = J_BOOL;
        return jword(jp, "false");
    case 'n':
        return jword(jp, "null");
    default:
        return jnumber(jp, v);
    }
}

bool xw_json_parse(const char *text, size_t n, jval *out, char *err)
{
    jparser jp = { .start = text, .p = text, .end = text + n, .err = err };
    err[0] = 0;
    bool ok = jvalue(&jp, out, 0);
    skip_ws(&jp);
    if (ok && jp.p != jp.end)
        ok = jfail(&jp, "more after the document");
    if (!ok)
        xw_json_free(out);
    return ok;
}
