// test_tune_file.c: the tuning file's reader (src/wrap/tune.c, json.c) from outside, in-process
// so that the sanitizer build runs it: a valid file of this machine is in use; each damage
// (JSON, schema, types, values, identity) makes it ignored with its reason; and 600 random
// damages (bytes changed, deleted, the text cut) are read without a crash or a sanitizer report.
// The library reads its settings once, at its first call: each case runs in a child process.
// Linked with libxsmmwrap.so. Prints "N passed, M failed"; exit status 1 on any failure.
#define _GNU_SOURCE
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsmmwrap.h"

#include "check.h"

static char path[64];

// The child's verdict: 0 in use, 1 ignored with `why` in the reason, 2 anything else.
static int read_in_child(const char *text, size_t n, const char *why, int64_t entries)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, n, f) != n || fclose(f))
        return 2;
    fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
        setenv("XSMMWRAP_TUNE", path, 1);
        if (!freopen("/dev/null", "w", stderr))  // the library's one line
            _exit(2);
        xsmmwrap_config c;
        if (xsmmwrap_get_config(&c) != XSMMWRAP_OK || !c.tune_file || strcmp(c.tune_file, path))
            _exit(2);
        if (c.tune_state == XSMMWRAP_TUNE_IN_USE)
            _exit(c.tune_entries == entries || entries < 0 ? 0 : 2);
        if (c.tune_state == XSMMWRAP_TUNE_IGNORED && c.tune_reason[0] && (!why || strstr(c.tune_reason, why)))
            _exit(1);
        if (why)
            printf("  reason: %s\n", c.tune_reason);
        fflush(stdout);
        _exit(2);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 3;  // a crash
    return WEXITSTATUS(status);
}

// This CPU as the library names it (CPUID leaf 0 and 1; the SDM's family and model).
static void cpu_identity(char vendor[13], int *family, int *model, int *stepping)
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    __get_cpuid(0, &a, &b, &c, &d);
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = 0;
    __get_cpuid(1, &a, &b, &c, &d);
    const int fam = (a >> 8) & 0xf, mod = (a >> 4) & 0xf;
    *family = fam == 0xf ? fam + (int)((a >> 20) & 0xff) : fam;
    *model = fam == 0xf || (fam == 6 && strcmp(vendor, "AuthenticAMD")) ? mod | (int)((a >> 12) & 0xf0) : mod;
    *stepping = (int)(a & 0xf);
}

// The best target, from a child (the parent must not start the library).
static const char *cpu_isa(void)
{
    const pid_t pid = fork();
    if (pid == 0) {
        xsmmwrap_config c;
        xsmmwrap_get_config(&c);
        _exit(c.cpu_target);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return xsmmwrap_target_name(WIFEXITED(status) ? WEXITSTATUS(status) : 0);
}

static char valid[4096];

// valid with the first `from` replaced by `to`.
static const char *with(const char *from, const char *to)
{
    static char out[8192];
    const char *at = strstr(valid, from);
    if (!at)
        return NULL;
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - valid), valid, to, at + strlen(from));
    return out;
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/xsmmwrap-test-tune-%d.json", (int)getpid());
    char vendor[13];
    int family, model, stepping;
    cpu_identity(vendor, &family, &model, &stepping);
    const char *isa = cpu_isa();
    const char *kernel_target = strcmp(isa, "generic") ? "avx2" : "generic";
    snprintf(valid, sizeof valid,
             "{\"schema\": \"xsmmwrap-tune/1\", \"library\": \"%s\",\n"
             " \"cpu\": {\"vendor\": \"%s\", \"family\": %d, \"model\": %d, \"stepping\": %d, \"isa\": \"%s\"},\n"
             " \"blas\": {\"path\": \"/usr/lib/libblas.so.3\", \"bytes\": 1000, \"config\": null},\n"
             " \"measurement\": {\"pinned_cpu\": 1, \"min_time_s\": 0.01, \"repeats\": 6, \"stream_bytes\": 268435456,\n"
             "   \"blas_threads\": 1, \"rule\": \"max-min-gain/1\", \"created\": \"2026-01-01T00:00:00Z\"},\n"
             " \"entries\": [\n"
             "  {\"precision\": \"f64\", \"trans_a\": \"N\", \"trans_b\": \"T\", \"m\": 8, \"n\": 8, \"k\": 8, \"lda\": 8,\n"
             "   \"ldb\": 8, \"ldc\": 8, \"alpha\": \"1\", \"beta\": \"0\", \"calls\": 10, \"choice\": 1,\n"
             "   \"candidates\": [{\"route\": \"kernel\", \"target\": \"%s\", \"mb_max\": 1, \"nb_max\": 2,\n"
             "     \"model_cost\": 99.5, \"cached_ns\": 10.5, \"streamed_ns\": 1e2},\n"
             "    {\"route\": \"blas\", \"cached_ns\": 20, \"streamed_ns\": 200.25}]},\n"
             "  {\"precision\": \"f32\", \"trans_a\": \"T\", \"trans_b\": \"N\", \"m\": 80, \"n\": 70, \"k\": 60,\n"
             "   \"lda\": 60, \"ldb\": 60, \"ldc\": 81, \"alpha\": \"any\", \"beta\": \"-1\", \"calls\": 0, \"choice\": 0,\n"
             "   \"candidates\": [{\"route\": \"blas\", \"cached_ns\": 20, \"streamed_ns\": 200}]}\n"
             " ]}\n",
             xsmmwrap_version(), vendor, family, model, stepping, isa, kernel_target);
    CHECK(read_in_child(valid, strlen(valid), NULL, 2) == 0, "the valid file is not in use");
    // With a generic CPU the kernel candidate's target is no generated one: the file is damaged.
    if (!strcmp(kernel_target, "generic"))
        return check_summary();

    static const struct { const char *from, *to, *why; } damages[] = {
        { "\"schema\": \"xsmmwrap-tune/1\", ", "", "not a tuning file of schema" },
        { "xsmmwrap-tune/1", "xsmmwrap-tune/9", "not a tuning file of schema" },
        { "\"library\"", "\"extra\": 1, \"library\"", "unknown key \"extra\"" },
        { "\"library\"", "\"library\": \"0\", \"library\"", "duplicate key" },
        { "\"stepping\": ", "\"stepping\": -", "cpu.stepping: not an integer" },
        { "\"bytes\": 1000", "\"bytes\": 1000.5", "blas.bytes: not an integer" },
        { "\"config\": null", "\"config\": true", "blas.config" },
        { "\"repeats\": 6", "\"repeats\": 0", "measurement.repeats" },
        { "\"rule\": ", "\"rule\": 1, \"x\": ", "unknown key" },
        { "\"f64\"", "\"f16\"", "entries[0].precision" },
        { "\"trans_b\": \"T\"", "\"trans_b\": \"C\"", "entries[0].trans_b" },
        { "\"m\": 8", "\"m\": 0", "entries[0].m" },
        { "\"m\": 8", "\"m\": 4294967296", "entries[0].m" },
        { "\"ldc\": 8", "\"ldc\": 7", "a leading dimension below its rows" },
        { "\"lda\": 60", "\"lda\": 59", "a leading dimension below its rows" },
        { "\"alpha\": \"1\"", "\"alpha\": \"0\"", "alpha 0" },
        { "\"choice\": 1", "\"choice\": 2", "entries[0].choice" },
        { "\"mb_max\": 1", "\"mb_max\": 256", "mb_max" },
        { "\"model_cost\": 99.5", "\"model_cost\": \"x\"", "model_cost" },
        { "\"streamed_ns\": 1e2", "\"streamed_ns\": -1e2", "streamed_ns: not a time" },
        { "\"route\": \"blas\"", "\"route\": \"portable\"", "route" },
        { "\"precision\": \"f32\", \"trans_a\": \"T\", \"trans_b\": \"N\", \"m\": 80, \"n\": 70, \"k\": 60,\n"
          "   \"lda\": 60, \"ldb\": 60, \"ldc\": 81, \"alpha\": \"any\", \"beta\": \"-1\"",
          "\"precision\": \"f64\", \"trans_a\": \"N\", \"trans_b\": \"T\", \"m\": 8, \"n\": 8, \"k\": 8, \"lda\": 8,\n"
          "   \"ldb\": 8, \"ldc\": 8, \"alpha\": \"1\", \"beta\": \"0\"", "the descriptor of entries[0] again" },
        { "\"cached_ns\": 10.5", "\"cached_ns\": 10.5,", "not valid JSON" },
        { "\"created\": \"2026", "\"created\": \"\\ud800 2026", "not valid JSON" },
        { "\"library\": \"", "\"library\": \"9.", "made by xsmmwrap 9." },
        { "\"family\": ", "\"family\": 1", "made for another CPU" },
    };
    for (size_t i = 0; i < sizeof damages / sizeof *damages; i++) {
        const char *text = with(damages[i].from, damages[i].to);
        CHECK(text != NULL, "damage %zu: \"%s\" not in the file", i, damages[i].from);
        if (!text)
            continue;
        const int v = read_in_child(text, strlen(text), damages[i].why, -1);
        CHECK(v == 1, "damage %zu (%s): verdict %d, want ignored with \"%s\"", i, damages[i].to, v,
              damages[i].why);
    }
    CHECK(read_in_child("", 0, "not valid JSON at byte 0", -1) == 1, "an empty file");

    // Random damage: never a crash (the sanitizer build reports any bad access).
    uint64_t rng = 13;
    const size_t n = strlen(valid);
    char text[sizeof valid];
    int crashes = 0, used = 0;
    for (int i = 0; i < 600; i++) {
        memcpy(text, valid, n);
        size_t len = n;
        const int kind = check_rnd_in(&rng, 0, 2), at = check_rnd_in(&rng, 0, (int)n - 1);
        if (kind == 0)
            text[at] = (char)check_rnd_in(&rng, 1, 255);
        else if (kind == 1)
            memmove(text + at, text + at + 1, n - (size_t)at - 1), len--;
        else
            len = (size_t)at;
        const int v = read_in_child(text, len, NULL, -1);
        crashes += v >= 2;
        used += v == 0;
    }
    CHECK(crashes == 0, "%d of 600 damaged files crashed the reader or left no verdict", crashes);
    printf("random damage: %d of 600 files still in use (a space or a digit changed)\n", used);
    unlink(path);
    return check_summary();
}
