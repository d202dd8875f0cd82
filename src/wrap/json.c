// json.c: a strict JSON reader (RFC 8259) into a small tree, for the tuning file (tune.c): no
// comments, no trailing commas, no NaN, no duplicate key in an object, no NUL in a string, at
// most XW_JSON_DEPTH_MAX deep; the first error said with its byte offset. Calls nothing.
#define _GNU_SOURCE
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrap.h"

// Every string, key and array of a document lives in its arena: chunks of at least
// ARENA_CHUNK bytes, freed together (a malloc and a free for each of the ~1000 strings and
// arrays of a 24 KB tuning file took most of the time to read it). A container's members are
// gathered on a growing stack and copied once, at their exact count, when it closes.
#define ARENA_CHUNK 32768

typedef struct chunk {
    struct chunk *next;
    size_t used, size;
    max_align_t data[];
} chunk;

typedef struct {
    const char *start, *p, *end;
    char *err;      // the first error (caller's buffer of XW_JSON_ERR_BYTES)
    chunk *arena;   // the newest chunk first
    jval *stack;    // members of the open containers, innermost last
    char **kstack;  // their keys (NULL for array members)
    size_t top, cap;
} jparser;

static bool jfail(jparser *jp, const char *what)
{
    if (!jp->err[0])
        snprintf(jp->err, XW_JSON_ERR_BYTES, "not valid JSON at byte %ld: %s", (long)(jp->p - jp->start), what);
    return false;
}

static void *jalloc(jparser *jp, size_t bytes)
{
    bytes = (bytes + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    chunk *c = jp->arena;
    if (!c || c->size - c->used < bytes) {
        const size_t size = bytes > ARENA_CHUNK ? bytes : ARENA_CHUNK;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        *c = (chunk){ .next = jp->arena, .used = 0, .size = size };
        jp->arena = c;
    }
    void *out = (char *)c->data + c->used;
    c->used += bytes;
    return out;
}

// Bytes a scan stops at: JSON's whitespace (1), and what ends a run of plain string text (2):
// the quote, the backslash and the control characters.
static const unsigned char byte_class[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 2, 2, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    [' '] = 1, ['"'] = 2, ['\\'] = 2,
};

static void skip_ws(jparser *jp)
{
    while (jp->p < jp->end && byte_class[(unsigned char)*jp->p] & 1)
        jp->p++;
}

static void free_chunks(chunk *c)
{
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
}

void xw_json_free(jval *v)
{
    free_chunks(v->arena);
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
    char *s = jalloc(jp, (size_t)(q - jp->p) + 1), *o = s;  // escapes never lengthen the text
    if (!s)
        return jfail(jp, "out of memory");
    while (*jp->p != '"') {
        const char *run = jp->p;  // plain text up to the next quote, backslash or control byte
        while (!(byte_class[(unsigned char)*jp->p] & 2))
            jp->p++;
        memcpy(o, run, (size_t)(jp->p - run));
        o += jp->p - run;
        const unsigned char c = (unsigned char)*jp->p;
        if (c == '"')
            break;
        jp->p++;
        if (c < 0x20)
            return jfail(jp, "control character in a string");
        const char e = *jp->p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            *o++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        unsigned cp, lo;
        if (e != 'u' || !hex4(jp, &cp))
            return jfail(jp, "bad escape in a string");
        if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair: the low half must follow
            if (jp->end - jp->p < 6 || jp->p[0] != '\\' || jp->p[1] != 'u' || (jp->p += 2, !hex4(jp, &lo)) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return jfail(jp, "bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp == 0 || (cp >= 0xDC00 && cp < 0xE000)) {
            return jfail(jp, "NUL or lone surrogate in a string");
        }
        o += utf8(cp, o);
    }
    jp->p++;
    *o = 0;
    *out = s;
    return true;
}

// The digits at p into *mant while it holds them (*many once it no longer does); their count.
static int digits(jparser *jp, uint64_t *mant, bool *many)
{
    const char *s = jp->p;
    for (; jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9'; jp->p++) {
        if (*mant > (UINT64_MAX - 9) / 10)
            *many = true;
        else
            *mant = *mant * 10 + (uint64_t)(*jp->p - '0');
    }
    return (int)(jp->p - s);
}

// Powers of ten a double holds exactly.
static const double pow10_exact[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

// A number's value as strtod rounds it. An integer that fits 64 bits is converted in one
// rounding, as is a decimal whose digits fit 53 bits and whose power of ten is exact (a
// product or quotient of two exact doubles, correctly rounded); anything else goes to strtod,
// several times slower.
static bool jnumber(jparser *jp, jval *v)
{
    const char *s = jp->p;
    const bool neg = *jp->p == '-';
    jp->p += neg;
    uint64_t mant = 0;
    bool many = false;
    if (jp->p < jp->end && *jp->p == '0')
        jp->p++;
    else if (!digits(jp, &mant, &many))
        return jfail(jp, "bad number");
    bool integral = true;
    int frac = 0;
    long exp10 = 0;
    if (jp->p < jp->end && *jp->p == '.') {
        jp->p++;
        integral = false;
        if (!(frac = digits(jp, &mant, &many)))
            return jfail(jp, "bad fraction");
    }
    if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
        jp->p++;
        integral = false;
        const bool eneg = jp->p < jp->end && *jp->p == '-';
        jp->p += jp->p < jp->end && (*jp->p == '+' || *jp->p == '-');
        uint64_t e = 0;
        bool ebig = false;
        if (!digits(jp, &e, &ebig))
            return jfail(jp, "bad exponent");
        many |= ebig || e > 400;
        if (!many)
            exp10 = eneg ? -(long)e : (long)e;
    }
    if (jp->p - s >= 64)
        return jfail(jp, "number too long");
    exp10 -= frac;
    v->kind = J_NUM;
    const bool exact = !many && (integral || (mant <= (uint64_t)1 << 53 && exp10 >= -22 && exp10 <= 22));
    if (!exact) {
        char text[64];
        memcpy(text, s, (size_t)(jp->p - s));
        text[jp->p - s] = 0;
        v->num = strtod(text, NULL);
    } else {
        const double m = (double)mant;  // an integer beyond 2^53: one rounding, as strtod's
        v->num = exp10 < 0 ? m / pow10_exact[-exp10] : m * pow10_exact[exp10];
        v->num = neg ? -v->num : v->num;
    }
    if (!isfinite(v->num))
        return jfail(jp, "number out of range");
    v->integral = integral && !many && mant <= (uint64_t)LLONG_MAX + neg;
    v->i = !v->integral ? 0 : !neg ? (long long)mant : mant ? -(long long)(mant - 1) - 1 : 0;
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

// At '[' or '{': the members, each a value (with a key first in an object), gathered on the
// parser's stack, then copied into the arena.
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
    const size_t base = jp->top;
    for (;;) {
        if (jp->top == jp->cap) {
            const size_t cap = jp->cap ? 2 * jp->cap : 64;
            jval *stack = realloc(jp->stack, cap * sizeof *stack);
            if (stack)
                jp->stack = stack;
            char **keys = realloc(jp->kstack, cap * sizeof *keys);
            if (keys)
                jp->kstack = keys;
            if (!stack || !keys)
                return jfail(jp, "out of memory");
            jp->cap = cap;
        }
        const size_t at = jp->top++;
        jp->kstack[at] = NULL;
        if (obj) {
            skip_ws(jp);
            if (jp->p >= jp->end || *jp->p != '"')
                return jfail(jp, "expected a key");
            if (!jstring(jp, &jp->kstack[at]))
                return false;
            const char *key = jp->kstack[at];
            for (size_t i = base; i < at; i++)
                if (jp->kstack[i][0] == key[0] && !strcmp(jp->kstack[i], key))
                    return jfail(jp, "duplicate key");
            skip_ws(jp);
            if (jp->p >= jp->end || *jp->p++ != ':')
                return jfail(jp, "expected ':'");
        }
        jval member;  // (a nested container may move the stack)
        if (!jvalue(jp, &member, depth + 1))
            return false;
        jp->stack[at] = member;
        skip_ws(jp);
        if (jp->p < jp->end && *jp->p == ',') {
            jp->p++;
            continue;
        }
        if (jp->p < jp->end && *jp->p == close) {
            jp->p++;
            break;
        }
        return jfail(jp, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    if (jp->top - base > UINT32_MAX)
        return jfail(jp, "too many members");
    v->n = (uint32_t)(jp->top - base);
    v->items = jalloc(jp, v->n * sizeof *v->items);
    v->keys = obj ? jalloc(jp, v->n * sizeof *v->keys) : NULL;
    if (!v->items || (obj && !v->keys))
        return jfail(jp, "out of memory");
    memcpy(v->items, jp->stack + base, v->n * sizeof *v->items);
    if (obj)
        memcpy(v->keys, jp->kstack + base, v->n * sizeof *v->keys);
    jp->top = base;
    return true;
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
    free(jp.stack);
    free(jp.kstack);
    if (!ok) {
        free_chunks(jp.arena);
        *out = (jval){ .kind = J_NULL };
        return false;
    }
    out->arena = jp.arena;
    return true;
}
