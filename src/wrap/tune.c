// tune.c: the tuning file that `xsmmwrap tune` writes (docs/TUNING.md): read once at init and
// accepted only when it is exactly the schema xsmmwrap-tune/1, made for this CPU and library
// version; its choices kept in a table keyed by descriptor, read without locks. The BLAS it was
// measured against is checked at the first call through each symbol it names. Calls json.c to
// read it, blas_find.c for the BLAS, report.c to say why a file is ignored.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wrap.h"

#define TUNE_SCHEMA "xsmmwrap-tune/1"
#define TUNE_FILE_MAX ((size_t)64 << 20)  // far above any real file (a few hundred bytes an entry)
#define ERR_BYTES XW_JSON_ERR_BYTES

// ---------------------------------------------------------------------------------------------
// The schema: every key known, every type and value checked; the first violation is the reason.

static char reason[ERR_BYTES];

static bool bad(const char *fmt, ...)
{
    if (!reason[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
    }
    return false;
}

// (The first bytes differ for most pairs of keys: a call to strcmp for each was a third of
// reading a file.)
static bool same(const char *a, const char *b) { return a[0] == b[0] && !strcmp(a, b); }

static const jval *member(const jval *o, const char *key)
{
    for (size_t i = 0; i < o->n; i++)
        if (same(o->keys[i], key))
            return &o->items[i];
    return NULL;
}

// o is an object with exactly these keys (json.c has refused any twice).
static bool keys_exactly(const jval *o, const char *where, const char *const *keys, int n)
{
    if (o->kind != J_OBJ)
        return bad("%s: not an object", where);
    for (size_t i = 0; i < o->n; i++) {
        int j = 0;
        while (j < n && !same(o->keys[i], keys[j]))
            j++;
        if (j == n)
            return bad("%s: unknown key \"%s\"", where, o->keys[i]);
    }
    if (o->n != (size_t)n)  // all known and none twice: one is missing
        for (int j = 0; j < n; j++)
            if (!member(o, keys[j]))
                return bad("%s: no \"%s\"", where, keys[j]);
    return true;
}

static bool get_str(const jval *o, const char *key, const char *where, const char **out)
{
    const jval *v = member(o, key);
    if (v->kind != J_STR)
        return bad("%s.%s: not a string", where, key);
    *out = v->str;
    return true;
}

static bool get_int(const jval *o, const char *key, const char *where, long long lo, long long hi, long long *out)
{
    const jval *v = member(o, key);
    if (v->kind != J_NUM || !v->integral || v->i < lo || v->i > hi)
        return bad("%s.%s: not an integer from %lld to %lld", where, key, lo, hi);
    *out = v->i;
    return true;
}

static bool get_time(const jval *o, const char *key, const char *where)
{
    const jval *v = member(o, key);
    if (v->kind != J_NUM || v->num < 0)
        return bad("%s.%s: not a time (a number >= 0)", where, key);
    return true;
}

// The index of the value's string in names (n of them).
static bool get_enum(const jval *o, const char *key, const char *where, const char *const *names, int n, int *out)
{
    const char *s = NULL;
    if (!get_str(o, key, where, &s))
        return false;
    for (*out = 0; *out < n; (*out)++)
        if (same(s, names[*out]))
            return true;
    return bad("%s.%s: \"%s\" is none of the values allowed", where, key, s);
}

// ---------------------------------------------------------------------------------------------
// The table: open addressing over the descriptors (hints clear), built once, then read only.

typedef struct {
    xw_desc key;
    bool blas;           // the original BLAS was chosen
    uint8_t target;      // else this plan: an xw_target and tile limits
    uint8_t mb_max, nb_max;
    bool moved;          // the choice differs from what the default routing does here
} tune_entry;

static tune_entry *entries;
static uint32_t nentries, nmoved, *slots, mask;  // slots: entry index + 1, 0 empty

_Atomic bool xw_tune_active;
static int state;  // xsmmwrap_tune_state
static char path[4096];
static xw_blas_id want_blas;  // the BLAS the file was measured against
static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
enum { SYM_UNCHECKED, SYM_MATCH, SYM_OTHER };
static _Atomic uint8_t sym_state[XW_SYM_COUNT];
static bool any_match;  // under check_lock

static uint32_t hash(const xw_desc *d)
{
    uint64_t h = (d->w[0] ^ d->w[1] * 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ h >> 31 ^ d->w[2]) * 0x94D049BB133111EBull;
    h = (h ^ h >> 29 ^ d->w[3]) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32);
}

static const tune_entry *find(const xw_desc *d)
{
    xw_desc key = *d;
    key.mb_max = key.nb_max = key.target = 0;
    for (uint32_t i = hash(&key) & mask;; i = (i + 1) & mask) {
        if (!slots[i])
            return NULL;
        if (xw_desc_equal(&entries[slots[i] - 1].key, &key))
            return &entries[slots[i] - 1];
    }
}

static const char *const entry_keys[] = { "precision", "trans_a", "trans_b", "m", "n", "k", "lda", "ldb",
                                           "ldc", "alpha", "beta", "calls", "candidates", "choice" };
static const char *const kernel_keys[] = { "route", "target", "mb_max", "nb_max", "model_cost", "cached_ns",
                                           "streamed_ns" };
static const char *const blas_keys[] = { "route", "cached_ns", "streamed_ns" };
#define COUNT(a) (int)(sizeof(a) / sizeof *(a))

// "<prefix><name>[i]" into out (room for prefix, name and 12 bytes more): what snprintf would write, at a
// fraction of its cost.
static void indexed(char *out, const char *name, uint32_t i, const char *prefix)
{
    char digits[10], *d = digits + sizeof digits;
    do
        *--d = (char)('0' + i % 10);
    while (i /= 10);
    const size_t np = prefix ? strlen(prefix) : 0, nn = strlen(name), nd = (size_t)(digits + sizeof digits - d);
    if (np)
        memcpy(out, prefix, np);
    memcpy(out + np, name, nn);
    out[np + nn] = '[';
    memcpy(out + np + nn + 1, d, nd);
    memcpy(out + np + nn + 1 + nd, "]", 2);
}

static long long max1(long long x) { return x > 1 ? x : 1; }

// Entry i of the file into *e; cpu is the best target of the CPU the file was made on.
static bool read_entry(const jval *v, uint32_t i, xw_target cpu, tune_entry *e)
{
    char where[48];
    indexed(where, "entries", i, NULL);
    if (!keys_exactly(v, where, entry_keys, COUNT(entry_keys)))
        return false;
    static const char *const precs[] = { "f64", "f32" }, *const trans[] = { "N", "T" };
    int prec, ta, tb, alpha, beta;
    long long d[6], calls, choice;
    static const char *const dims[] = { "m", "n", "k", "lda", "ldb", "ldc" };
    if (!get_enum(v, "precision", where, precs, COUNT(precs), &prec) ||
        !get_enum(v, "trans_a", where, trans, COUNT(trans), &ta) ||
        !get_enum(v, "trans_b", where, trans, COUNT(trans), &tb) ||
        !get_enum(v, "alpha", where, xw_scale_names(), XW_SCALE_COUNT, &alpha) ||
        !get_enum(v, "beta", where, xw_scale_names(), XW_SCALE_COUNT, &beta) ||
        !get_int(v, "calls", where, 0, INT64_MAX, &calls))
        return false;
    for (int j = 0; j < 6; j++)
        if (!get_int(v, dims[j], where, 1, UINT32_MAX, &d[j]))
            return false;
    if (alpha == XW_SCALE_ZERO)
        return bad("%s: alpha 0 never reaches a kernel (C = beta*C)", where);
    if (d[3] < max1(ta ? d[2] : d[0]) || d[4] < max1(tb ? d[1] : d[2]) || d[5] < max1(d[0]))
        return bad("%s: a leading dimension below its rows", where);
    const jval *cands = member(v, "candidates");
    if (cands->kind != J_ARR || cands->n == 0)
        return bad("%s.candidates: not a list of measured candidates", where);
    if (!get_int(v, "choice", where, 0, (long long)cands->n - 1, &choice))
        return false;
    for (size_t c = 0; c < cands->n; c++) {
        const jval *cv = &cands->items[c];
        char cw[96];
        indexed(cw, ".candidates", (uint32_t)c, where);
        static const char *const routes[] = { "kernel", "blas" };
        int route, target;
        long long mb, nb;
        if (cv->kind != J_OBJ || !member(cv, "route"))
            return bad("%s: not an object with a route", cw);
        if (!get_enum(cv, "route", cw, routes, COUNT(routes), &route))
            return false;
        if (route == 1) {
            if (!keys_exactly(cv, cw, blas_keys, COUNT(blas_keys)))
                return false;
        } else {
            const jval *cost = member(cv, "model_cost");
            if (!keys_exactly(cv, cw, kernel_keys, COUNT(kernel_keys)) ||
                !get_enum(cv, "target", cw, xw_target_text, XSMMWRAP_TARGET_COUNT, &target) ||
                !get_int(cv, "mb_max", cw, 0, 255, &mb) || !get_int(cv, "nb_max", cw, 0, 255, &nb))
                return false;
            if (cost->kind != J_NUM)
                return bad("%s.model_cost: not a number", cw);
            if (target == XW_TARGET_GENERIC || target > (int)cpu)
                return bad("%s.target: %s is no generated target of the file's CPU", cw, xw_target_text[target]);
        }
        if (!get_time(cv, "cached_ns", cw) || !get_time(cv, "streamed_ns", cw))
            return false;
        if ((long long)c == choice)
            *e = (tune_entry){ .blas = route == 1, .target = route == 1 ? 0 : (uint8_t)target,
                               .mb_max = route == 1 ? 0 : (uint8_t)mb, .nb_max = route == 1 ? 0 : (uint8_t)nb };
    }
    e->key = xw_desc_make((uint32_t)d[0], (uint32_t)d[1], (uint32_t)d[2], (uint32_t)d[3], (uint32_t)d[4],
                          (uint32_t)d[5], (unsigned)prec, (unsigned)ta, (unsigned)tb, (unsigned)alpha,
                          (unsigned)beta);
    // What the default routing does for it here: a kernel of the configured target with the cost
    // model's plan within the threshold, else the original BLAS. A choice that is the same changes
    // nothing: it is not consulted, and its calls are not counted as following the file.
    const bool small = (double)d[0] * (double)d[1] * (double)d[2] <= (double)xw_cfg.max_mnk;
    const bool default_kernel = e->target >= (uint8_t)xw_cfg.target && (e->target > (uint8_t)xw_cfg.target ||
                                                                         (!e->mb_max && !e->nb_max));
    e->moved = e->blas ? small : !(small && default_kernel);
    return true;
}

static bool read_entries(const jval *list, xw_target cpu)
{
    if (list->kind != J_ARR)
        return bad("entries: not a list");
    if (list->n > UINT32_MAX / 4)
        return bad("entries: too many");
    uint32_t size = 16;
    while (size < 2 * list->n)
        size *= 2;
    entries = calloc(list->n ? list->n : 1, sizeof *entries);
    slots = calloc(size, sizeof *slots);
    if (!entries || !slots)
        return bad("out of memory");
    mask = size - 1;
    for (uint32_t i = 0; i < list->n; i++) {
        tune_entry e;
        if (!read_entry(&list->items[i], i, cpu, &e))
            return false;
        const tune_entry *twin = find(&e.key);
        if (twin)
            return bad("entries[%u]: the descriptor of entries[%ld] again", i, (long)(twin - entries));
        entries[i] = e;
        nmoved += e.moved;
        uint32_t s = hash(&e.key) & mask;
        while (slots[s])
            s = (s + 1) & mask;
        slots[s] = i + 1;
        nentries = i + 1;
    }
    return true;
}

static const char *const top_keys[] = { "schema", "library", "cpu", "blas", "measurement", "entries" };
static const char *const cpu_keys[] = { "vendor", "family", "model", "stepping", "isa" };
static const char *const blas_id_keys[] = { "path", "bytes", "config" };
static const char *const measure_keys[] = { "pinned_cpu", "min_time_s", "repeats", "stream_bytes",
                                            "blas_threads", "rule", "created" };

// The whole document: the schema, then this CPU and library, then the entries.
static bool read_document(const jval *doc)
{
    const char *schema = NULL, *version = NULL, *vendor = NULL, *bpath = NULL, *rule = NULL, *created = NULL;
    long long family = 0, model = 0, stepping = 0, bytes = 0, x = 0;
    int isa = 0;
    if (doc->kind != J_OBJ || !member(doc, "schema") || member(doc, "schema")->kind != J_STR ||
        strcmp(member(doc, "schema")->str, TUNE_SCHEMA))
        return bad("not a tuning file of schema %s", TUNE_SCHEMA);
    if (!keys_exactly(doc, "file", top_keys, COUNT(top_keys)) || !get_str(doc, "schema", "file", &schema) ||
        !get_str(doc, "library", "file", &version))
        return false;
    const jval *cpu = member(doc, "cpu"), *blas = member(doc, "blas"), *ms = member(doc, "measurement");
    if (!keys_exactly(cpu, "cpu", cpu_keys, COUNT(cpu_keys)) || !get_str(cpu, "vendor", "cpu", &vendor) ||
        !get_int(cpu, "family", "cpu", 0, 4096, &family) || !get_int(cpu, "model", "cpu", 0, 4096, &model) ||
        !get_int(cpu, "stepping", "cpu", 0, 15, &stepping) ||
        !get_enum(cpu, "isa", "cpu", xw_target_text, XSMMWRAP_TARGET_COUNT, &isa))
        return false;
    if (!keys_exactly(blas, "blas", blas_id_keys, COUNT(blas_id_keys)) || !get_str(blas, "path", "blas", &bpath) ||
        !get_int(blas, "bytes", "blas", 0, INT64_MAX, &bytes))
        return false;
    const jval *config = member(blas, "config");
    if (config->kind != J_STR && config->kind != J_NULL)
        return bad("blas.config: neither a string nor null");
    if (!keys_exactly(ms, "measurement", measure_keys, COUNT(measure_keys)) ||
        !get_int(ms, "pinned_cpu", "measurement", -1, INT32_MAX, &x) ||
        !get_int(ms, "repeats", "measurement", 1, INT32_MAX, &x) ||
        !get_int(ms, "stream_bytes", "measurement", 0, INT64_MAX, &x) ||
        !get_int(ms, "blas_threads", "measurement", 1, INT32_MAX, &x) || !get_time(ms, "min_time_s", "measurement") ||
        !get_str(ms, "rule", "measurement", &rule) || !get_str(ms, "created", "measurement", &created))
        return false;
    // Every entry is checked even when the file turns out to be another machine's: a damaged
    // file says so whatever it was made for.
    xw_cpu_id id;
    xw_cpu_identify(&id);
    if (!read_entries(member(doc, "entries"), (xw_target)isa))
        return false;
    if (strcmp(version, xsmmwrap_version()))
        return bad("made by xsmmwrap %s, this is %s", version, xsmmwrap_version());
    if (strcmp(vendor, id.vendor) || family != id.family || model != id.model || stepping != id.stepping ||
        isa != (int)id.target)
        return bad("made for another CPU (%s family %lld model %lld stepping %lld, %s; this one is %s family %d "
                   "model %d stepping %d, %s)", vendor, family, model, stepping, xw_target_text[isa], id.vendor,
                   id.family, id.model, id.stepping, xw_target_text[id.target]);
    snprintf(want_blas.path, sizeof want_blas.path, "%s", bpath);
    want_blas.bytes = bytes;
    snprintf(want_blas.config, sizeof want_blas.config, "%s", config->kind == J_STR ? config->str : "");
    return true;
}

// The file's bytes; false (reason set) when it cannot be read. A regular file is read into a
// buffer of its size, in one read (the first call pays for every page this touches).
static bool slurp(const char *file, char **out, size_t *n)
{
    const int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bad("cannot be read: %s", strerror(errno));
    struct stat st;
    size_t cap = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    cap = cap > TUNE_FILE_MAX + 1 ? TUNE_FILE_MAX + 1 : cap;
    char *buf = malloc(cap);
    size_t len = 0;
    bool err = false;
    while (buf) {
        if (len == cap) {  // more than fstat said, or not a regular file
            if (cap > TUNE_FILE_MAX)
                break;  // too large
            cap = 2 * cap > TUNE_FILE_MAX + 1 ? TUNE_FILE_MAX + 1 : 2 * cap;
            char *more = realloc(buf, cap);
            if (!more) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = more;
        }
        const ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            err = got < 0;
            break;
        }
        len += (size_t)got;
    }
    close(fd);
    if (!buf)
        return bad("out of memory");
    if (err || len > TUNE_FILE_MAX) {
        free(buf);
        return bad(err ? "cannot be read" : "larger than %zu MiB", TUNE_FILE_MAX >> 20);
    }
    *out = buf;
    *n = len;
    return true;
}

static void reject(void)
{
    free(entries);
    free(slots);
    entries = NULL;
    slots = NULL;
    nentries = nmoved = 0;
    state = XSMMWRAP_TUNE_IGNORED;
    xw_report_tune_ignored(path, reason);
}

// fork(): the check lock is held across it, so that no child inherits it taken.
static void fork_lock(void) { pthread_mutex_lock(&check_lock); }
static void fork_unlock(void) { pthread_mutex_unlock(&check_lock); }

void xw_tune_load(void)
{
    if (!xw_cfg.tune_path)
        return;
    snprintf(path, sizeof path, "%s", xw_cfg.tune_path);
    reason[0] = 0;
    char *text = NULL;
    size_t n = 0;
    if (!slurp(path, &text, &n)) {
        reject();
        return;
    }
    char err[ERR_BYTES] = "";
    jval doc;
    bool ok = xw_json_parse(text, n, &doc, err);
    if (!ok)
        bad("%s", err);
    ok = ok && read_document(&doc);
    xw_json_free(&doc);
    free(text);
    if (!ok) {
        reject();
        return;
    }
    state = XSMMWRAP_TUNE_IN_USE;
    pthread_atfork(fork_lock, fork_unlock, fork_unlock);
    // A file that moves nothing costs the route nothing: no lookup at all.
    atomic_store_explicit(&xw_tune_active, nmoved > 0, memory_order_release);
}

// Whether the original BLAS behind symbol s is the one the file was measured against; the
// first answer per symbol is kept. The first symbol to fail, with none passed before, makes
// the whole file ignored.
static bool blas_matches(xw_sym s)
{
    uint8_t st = atomic_load_explicit(&sym_state[s], memory_order_acquire);
    if (XW_LIKELY(st != SYM_UNCHECKED))
        return st == SYM_MATCH;
    pthread_mutex_lock(&check_lock);
    st = atomic_load_explicit(&sym_state[s], memory_order_relaxed);
    if (st == SYM_UNCHECKED) {
        // xsmmwrap_gemm()'s declined calls go to the process's dgemm_/sgemm_.
        const xw_fn f = xw_blas_try(s == XW_SYM_API ? XW_SYM_dgemm_ : s);
        static xw_blas_id have;  // under check_lock
        char why[ERR_BYTES] = "";
        if (!f)
            snprintf(why, sizeof why, "no original BLAS provides %s here", xw_sym_name(s));
        else if (!xw_blas_identify(f, &have))
            snprintf(why, sizeof why, "the original %s is in no library this process can name", xw_sym_name(s));
        else if (strcmp(have.path, want_blas.path) || have.bytes != want_blas.bytes ||
                 strcmp(have.config, want_blas.config))
            snprintf(why, sizeof why, "made for another BLAS (%.100s, %lld bytes%s%.60s; %s here is %.100s, %lld "
                     "bytes%s%.60s)", want_blas.path, want_blas.bytes, want_blas.config[0] ? ", " : "",
                     want_blas.config, xw_sym_name(s), have.path, have.bytes, have.config[0] ? ", " : "",
                     have.config);
        st = why[0] ? SYM_OTHER : SYM_MATCH;
        if (st == SYM_OTHER && !any_match) {
            atomic_store_explicit(&xw_tune_active, false, memory_order_release);
            state = XSMMWRAP_TUNE_IGNORED;
            snprintf(reason, sizeof reason, "%s", why);
            xw_report_tune_ignored(path, reason);
        } else if (st == SYM_OTHER) {
            char line[ERR_BYTES + 64];
            snprintf(line, sizeof line, "not followed by calls through %s: %.*s", xw_sym_name(s), ERR_BYTES, why);
            xw_report_tune_ignored(path, line);
        }
        any_match |= st == SYM_MATCH;
        atomic_store_explicit(&sym_state[s], st, memory_order_release);
    }
    pthread_mutex_unlock(&check_lock);
    return st == SYM_MATCH && atomic_load_explicit(&xw_tune_active, memory_order_acquire);
}

xw_tune_choice xw_tune_choose(xw_sym s, xw_desc *d)
{
    if (!atomic_load_explicit(&xw_tune_active, memory_order_acquire))
        return XW_TUNE_UNNAMED;
    const tune_entry *e = find(d);
    if (!e || !e->moved || !blas_matches(s))
        return XW_TUNE_UNNAMED;
    if (e->blas)
        return XW_TUNE_BLAS;
    // The plan as measured; on a lower configured target (XSMMWRAP_TARGET, XSMMWRAP_JIT=0) a
    // plan for a higher one means nothing: that target's own plan then.
    const xw_target t = xw_cfg.target;
    if (e->target <= t) {
        d->target = e->target == t ? 0 : e->target;
        d->mb_max = e->mb_max;
        d->nb_max = e->nb_max;
    }
    return XW_TUNE_KERNEL;
}

int xw_tune_names(const xw_desc *d)
{
    if (!atomic_load_explicit(&xw_tune_active, memory_order_acquire))
        return 0;
    const tune_entry *e = find(d);
    return e && e->moved;
}

void xw_tune_config(xsmmwrap_config *out)
{
    pthread_mutex_lock(&check_lock);
    out->tune_file = state != XSMMWRAP_TUNE_NONE ? path : NULL;
    out->tune_state = state;
    out->tune_reason = state == XSMMWRAP_TUNE_IGNORED ? reason : "";
    out->tune_entries = state == XSMMWRAP_TUNE_IN_USE ? nentries : 0;
    out->tune_moved = state == XSMMWRAP_TUNE_IN_USE ? nmoved : 0;
    out->tune_default = xw_cfg.tune_default;
    pthread_mutex_unlock(&check_lock);
}
