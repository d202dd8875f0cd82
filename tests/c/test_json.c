// test_json.c: the tuning file's JSON reader (src/wrap/json.c) on its own. Every number's value
// must be strtod's, bit for bit, and its integer strtoll's where that fits (the reader converts
// most numbers itself, in one rounding); containers of any size and nesting come back whole,
// members in order; what RFC 8259 refuses is refused.
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wrap.h"

static bool same_bits(double a, double b) { return !memcmp(&a, &b, sizeof a); }

// One number of a random form: sign, integer digits, fraction, exponent, or a boundary.
static void random_number(uint64_t *rng, char *out, size_t n)
{
    static const char *const edges[] = {
        "0", "-0", "0.0", "-0.0e0", "9007199254740992", "9007199254740993", "-9007199254740993",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "18446744073709551616", "1e22", "1e23", "9007199254740993e22",
        "4.9e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "0.1", "0.3",
        "123456789012345678901234567890", "0.000000000000000000000000000001", "1E-22", "1e-23",
        "3.141592653589793238462643383279", "1e400", "-1e400", "1e-400",
    };
    const int kind = check_rnd_in(rng, 0, 5);
    if (kind == 0) {
        snprintf(out, n, "%s", edges[check_rnd_in(rng, 0, (int)(sizeof edges / sizeof *edges) - 1)]);
        return;
    }
    size_t at = 0;
    if (check_rnd_in(rng, 0, 1))
        out[at++] = '-';
    // Kind 3: 16 to 19 digits in all, where a double no longer holds every such integer.
    const int whole = kind == 3 ? check_rnd_in(rng, 1, 15) : check_rnd_in(rng, 1, kind == 1 ? 20 : 8);
    const int frac = kind == 3 ? check_rnd_in(rng, 16, 19) - whole : kind >= 2 ? check_rnd_in(rng, 1, 18) : 0;
    for (int i = 0; i < whole; i++)
        out[at++] = (char)('0' + (i == 0 && whole > 1 ? check_rnd_in(rng, 1, 9) : check_rnd_in(rng, 0, 9)));
    if (frac) {
        out[at++] = '.';
        for (int i = 0; i < frac; i++)
            out[at++] = (char)('0' + check_rnd_in(rng, 0, 9));
    }
    if (kind >= 4)
        at += (size_t)snprintf(out + at, n - at, "%s%d", check_rnd_in(rng, 0, 1) ? "e" : "E-",
                               check_rnd_in(rng, 0, kind == 4 ? 25 : 330));
    out[at] = 0;
}

// Numbers beyond a double's range are refused, each in a document of its own; the others are
// read in documents of PER_DOC.
static void numbers(void)
{
    uint64_t rng = 7;
    enum { COUNT = 200000, PER_DOC = 1000 };
    static char text[PER_DOC * 48 + 4], nums[PER_DOC][40];
    char err[XW_JSON_ERR_BYTES];
    int wrong = 0, read = 0, huge = 0, huge_read = 0;
    while (read < COUNT) {
        size_t at = 0;
        text[at++] = '[';
        int count = 0;
        while (count < PER_DOC) {
            random_number(&rng, nums[count], sizeof nums[count]);
            if (isfinite(strtod(nums[count], NULL))) {
                at += (size_t)sprintf(text + at, "%s%s", count ? ", " : "", nums[count]);
                count++;
                continue;
            }
            char one[48];
            jval v;
            const int n = snprintf(one, sizeof one, "[%s]", nums[count]);
            huge++;
            if (xw_json_parse(one, (size_t)n, &v, err)) {
                huge_read++;
                xw_json_free(&v);
            }
        }
        text[at++] = ']';
        jval v;
        const bool ok = xw_json_parse(text, at, &v, err);
        CHECK(ok && v.kind == J_ARR && v.n == PER_DOC, "a document of %d numbers: %s", PER_DOC, ok ? "" : err);
        if (!ok)
            return;
        for (int i = 0; i < PER_DOC && (size_t)i < v.n; i++) {
            const jval *x = &v.items[i];
            const double want = strtod(nums[i], NULL);
            errno = 0;
            const long long wi = strtoll(nums[i], NULL, 10);
            const bool integral = !strpbrk(nums[i], ".eE") && errno == 0;
            if (x->kind != J_NUM || !same_bits(x->num, want) || x->integral != integral || (integral && x->i != wi)) {
                if (wrong++ < 10)
                    printf("  %s: read %.17g (integral %d, %lld), strtod %.17g (integral %d, %lld)\n", nums[i],
                           x->num, x->integral, x->i, want, integral, wi);
            }
        }
        read += PER_DOC;
        xw_json_free(&v);
    }
    CHECK(wrong == 0, "%d of %d numbers read otherwise than strtod/strtoll", wrong, read);
    CHECK(huge > 0 && huge_read == 0, "%d of %d numbers beyond a double's range read", huge_read, huge);
}

// Nested containers, wide ones (past the arena's chunk and the parser's stack), keys in order.
static void containers(void)
{
    enum { WIDE = 20000 };
    static char text[WIDE * 24];
    char err[XW_JSON_ERR_BYTES];
    size_t at = (size_t)sprintf(text, "{\"a\": [[], {}, [1, [2, [3]]]], \"wide\": [");
    for (int i = 0; i < WIDE; i++)
        at += (size_t)sprintf(text + at, "%s{\"k%d\": \"v%d\"}", i ? "," : "", i, i);
    at += (size_t)sprintf(text + at, "], \"z\": \"\\u00e9\\n\"}");
    jval v;
    const bool ok = xw_json_parse(text, at, &v, err);
    CHECK(ok, "a valid document refused: %s", err);
    if (!ok)
        return;
    CHECK(v.kind == J_OBJ && v.n == 3 && !strcmp(v.keys[0], "a") && !strcmp(v.keys[1], "wide") &&
          !strcmp(v.keys[2], "z"), "the top object's keys");
    const jval *a = &v.items[0], *w = &v.items[1];
    CHECK(a->kind == J_ARR && a->n == 3 && a->items[0].kind == J_ARR && a->items[0].n == 0 &&
          a->items[1].kind == J_OBJ && a->items[1].n == 0 && a->items[2].n == 2 &&
          a->items[2].items[1].items[1].items[0].i == 3, "the nested arrays");
    int bad = 0;
    for (int i = 0; i < WIDE && w->kind == J_ARR && (size_t)i < w->n; i++) {
        char k[16], s[16];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(s, sizeof s, "v%d", i);
        const jval *o = &w->items[i];
        bad += o->kind != J_OBJ || o->n != 1 || strcmp(o->keys[0], k) || o->items[0].kind != J_STR ||
               strcmp(o->items[0].str, s);
    }
    CHECK(w->kind == J_ARR && w->n == WIDE && bad == 0, "the wide array: %u members, %d wrong", w->n, bad);
    CHECK(v.items[2].kind == J_STR && !strcmp(v.items[2].str, "\xc3\xa9\n"), "escapes");
    xw_json_free(&v);
}

static void refusals(void)
{
    static const char *const bad[] = {
        "", "[", "[1,]", "{\"a\": 1,}", "{\"a\": 1, \"a\": 2}", "[01]", "[1.]", "[.5]", "[1e]", "[-]",
        "[+1]", "[NaN]", "[Infinity]", "[1e999]", "[\"\\ud800\"]", "[\"\\u0000\"]", "[\"a\tb\"]",
        "[[[[[[[[[[1]]]]]]]]]]", "{1: 2}", "[1] [2]", "[true, fals]", "\"unterminated",
        "[11111111111111111111111111111111111111111111111111111111111111111]",
    };
    char err[XW_JSON_ERR_BYTES];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        jval v;
        const bool ok = xw_json_parse(bad[i], strlen(bad[i]), &v, err);
        CHECK(!ok && !strncmp(err, "not valid JSON at byte ", 23) && v.kind == J_NULL,
              "%s: %s", bad[i], ok ? "accepted" : err);
        if (ok)
            xw_json_free(&v);
    }
}

int main(void)
{
    numbers();
    containers();
    refusals();
    return check_summary();
}
