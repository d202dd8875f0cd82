// test_code_mem.c: code memory as the process holds it. Each page of code is written through
// a read-write view and run through a read+execute view of the same memfd; pages wholly
// written are dropped from the read-write view (and a region's whole read-write view is
// unmapped once the next region starts), so that the resident set counts each page once.
// Dropping a page from the writable view must not lose its code: the kernels keep running.
//
// Makes 1000 kernels through dgemm_ (sizes up to 32: several MiB of code, so several regions),
// checks each when made and all of them again afterwards, compares the memory the library
// reports with the growth of VmRSS, reads /proc/self/smaps: one writable code view left,
// holding at most the chunks still being written, the executable views holding all the code,
// no mapping writable and executable. Then forks: the child runs the parent's kernels, makes
// its own (in a region of its own: the inherited writable view is gone) and checks its
// mappings the same way; the parent runs all its kernels again and makes more. With
// XSMMWRAP_JIT=0 there is no code memory: the kernels are still checked, and the memory
// reported. Linked with libxsmmwrap.so (in-process), like test_fork.
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsmmwrap.h"

#include "check.h"

#define LD 32
#define KERNELS 1000
#define CHUNK_KIB 64  // code memory is populated this many KiB at a time (code_mem.c)

// Shape i of family f (f = 0: the parent's, 1: the child's, 2: the parent's after the fork):
// distinct descriptors (beta 0 or 1 by family), sizes 4..32.
static void shape(int f, int i, int *m, int *n, int *k, double *beta)
{
    static const int dims[10] = { 4, 7, 10, 13, 16, 20, 23, 26, 29, 32 };
    *m = dims[i % 10];
    *n = dims[i / 10 % 10];
    *k = dims[i / 100 % 10] - (f == 2);
    *beta = f == 1 ? 1.0 : 0.0;
}

// C = A*B + beta*C for m x n x k, column-major, leading dimensions m, k, m; every element.
static bool gemm_ok(int m, int n, int k, double beta, uint64_t seed)
{
    static double a[LD * LD], b[LD * LD], c[LD * LD], want[LD * LD];
    const double one = 1.0;
    for (int i = 0; i < LD * LD; i++) {
        a[i] = check_rnd_val(&seed);
        b[i] = check_rnd_val(&seed);
        c[i] = want[i] = check_rnd_val(&seed);
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = beta * want[i + j * m];
            for (int p = 0; p < k; p++)
                s += a[i + p * m] * b[p + j * k];
            want[i + j * m] = s;
        }
    dgemm_("N", "N", &m, &n, &k, &one, a, &m, b, &k, &beta, c, &m, 1, 1);
    for (int i = 0; i < m * n; i++)
        if (!(fabs(c[i] - want[i]) <= 1e-12 * (k + 1)))
            return false;
    return true;
}

// Runs the shapes of family f; the number of wrong results.
static int run_family(int f, uint64_t seed)
{
    int bad = 0;
    for (int i = 0; i < KERNELS; i++) {
        int m, n, k;
        double beta;
        shape(f, i, &m, &n, &k, &beta);
        if (!gemm_ok(m, n, k, beta, seed + (uint64_t)i)) {
            if (bad < 10)
                printf("  family %d shape %dx%dx%d beta %g: wrong result\n", f, m, n, k, beta);
            bad++;
        }
    }
    return bad;
}

typedef struct {
    int writable, executable, wx;  // code mappings by kind; mappings writable and executable
    long rw_kib, rx_kib;           // resident KiB of the writable and the executable code views
} code_maps;

// The code mappings (the memfd is named "xsmmwrap-code") from /proc/self/smaps.
static code_maps read_maps(void)
{
    code_maps cm = { 0 };
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int kind = 0;  // of the mapping whose fields follow: 0 other, 1 writable, 2 executable code
    while (f && fgets(line, sizeof line, f)) {
        char perms[8];
        long kib;
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3) {
            const bool code = strstr(line, "xsmmwrap-code") != NULL;
            cm.wx += perms[1] == 'w' && perms[2] == 'x';
            kind = !code ? 0 : perms[1] == 'w' ? 1 : 2;
            cm.writable += kind == 1;
            cm.executable += kind == 2 && perms[2] == 'x';
        } else if (kind && sscanf(line, "Rss: %ld kB", &kib) == 1) {
            *(kind == 1 ? &cm.rw_kib : &cm.rx_kib) += kib;
        }
    }
    if (f)
        fclose(f);
    return cm;
}

// The code is resident once: in the executable views, all of it; in the writable one, at
// most the chunks still being written (the last one and the one a kernel crossed into).
static void check_maps(const char *who, int min_regions)
{
    xsmmwrap_stats st;
    xsmmwrap_get_stats(&st);
    const code_maps cm = read_maps();
    CHECK(cm.wx == 0, "%s: %d mappings writable and executable", who, cm.wx);
    if (!st.jit_kernels)
        return;  // no generated code: no code memory
    CHECK(cm.writable == 1, "%s: %d writable code views (one: the region being filled)", who,
          cm.writable);
    CHECK(cm.executable >= min_regions, "%s: %d executable code views, %d regions expected", who,
          cm.executable, min_regions);
    CHECK(cm.rw_kib <= 2 * CHUNK_KIB, "%s: the writable view holds %ld KiB", who, cm.rw_kib);
    CHECK(cm.rx_kib * 1024 >= (long)st.code_bytes, "%s: executable views hold %ld KiB of %lu B of code",
          who, cm.rx_kib, (unsigned long)st.code_bytes);
    printf("%s: code %lu KiB; resident: executable views %ld KiB (%d), writable view %ld KiB\n",
           who, (unsigned long)st.code_bytes / 1024, cm.rx_kib, cm.executable, cm.rw_kib);
}

static long vm_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static int child_status(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    if (WIFSIGNALED(st))
        printf("  child killed by signal %d\n", WTERMSIG(st));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
    // 1000 kernels of 4..32 are several MiB of code: regions of 1, 2 and 4 MiB at least. The
    // memory the library reports grows as the resident set does (the first kernel, made
    // before, has the test's operands touched).
    CHECK(gemm_ok(3, 3, 3, 0.0, 0), "a first kernel");
    xsmmwrap_stats st;
    xsmmwrap_get_stats(&st);
    const long rss0 = vm_rss_kib(), mem0 = (long)(st.memory_bytes / 1024);
    CHECK(run_family(0, 1) == 0, "kernels as they are made");
    xsmmwrap_get_stats(&st);
    const long rss_kib = vm_rss_kib() - rss0, mem_kib = (long)(st.memory_bytes / 1024) - mem0;
    printf("1000 kernels: VmRSS +%ld KiB, memory_bytes +%ld KiB\n", rss_kib, mem_kib);
#ifndef __SANITIZE_ADDRESS__  // (its allocator and shadow memory grow the resident set too)
    // Up to two chunks of code in both views, and the heap's own pages: 192 KiB.
    CHECK(labs(rss_kib - mem_kib) <= 192, "VmRSS +%ld KiB, reported +%ld KiB", rss_kib, mem_kib);
#endif
    CHECK(run_family(0, 2) == 0, "the same kernels again, their pages out of the writable view");
    CHECK(st.kernels == KERNELS + 1, "%lu kernels", (unsigned long)st.kernels);
    printf("generated %lu of %lu kernels\n", (unsigned long)st.jit_kernels, (unsigned long)st.kernels);
    check_maps("parent", st.code_bytes > (3u << 20) ? 3 : 1);

    fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
        // The parent's kernels, then kernels of the child's own in a region of its own.
        const int bad = run_family(0, 3) + run_family(1, 4) + run_family(1, 5);
        check_maps("child", 2);
        fflush(stdout);
        _exit(bad || check_failed ? 1 : 0);
    }
    CHECK(pid > 0 && child_status(pid) == 0, "the child ran the parent's kernels and its own");
    CHECK(run_family(0, 6) == 0, "the parent's kernels after the fork");
    CHECK(run_family(2, 7) == 0, "the parent's new kernels after the fork");
    CHECK(run_family(2, 8) == 0, "and again");
    check_maps("parent after the fork", 3);
    return check_summary();
}
