// test_fork.c: kernels made after fork() stay each process's own, and a fork while another
// thread is making kernels leaves the child able to make its own. Code memory is shared
// mappings of a memfd (a writable and an executable view): a child appending kernels to the
// region it inherited would write over the kernels its parent appends at the same offsets,
// and the parent would then run the child's code.
//
// Parent: makes a kernel, forks, makes kernels for shapes P and checks them, lets the child
// run and waits for it; the child makes kernels for other shapes Q (same sizes of code, same
// offsets) and checks them. The parent then calls P again. A second round forks while a
// thread keeps asking for new kernels; the child must make and run its own (a generation lock
// or code-memory lock inherited in the locked state would hang it: the test has a timeout).
// A third forks while a thread runs xsmmwrap_enable()/disable(), whose lock likewise.
// Linked with libxsmmwrap.so (in-process), like test_threads.
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsmmwrap.h"

#include "check.h"

#define SHAPES 24
#define LD 40

// C = A*B + C for m x n x k, column-major, leading dimension LD; checks every element.
static bool gemm_ok(int m, int n, int k, uint64_t seed)
{
    static double a[LD * LD], b[LD * LD], c[LD * LD], want[LD * LD];
    const int ld = LD;
    const double one = 1.0;
    for (int i = 0; i < LD * LD; i++) {
        a[i] = check_rnd_val(&seed);
        b[i] = check_rnd_val(&seed);
        c[i] = want[i] = check_rnd_val(&seed);
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += a[i + p * LD] * b[p + j * LD];
            want[i + j * LD] += s;
        }
    dgemm_("N", "N", &m, &n, &k, &one, a, &ld, b, &ld, &one, c, &ld, 1, 1);
    for (int i = 0; i < LD * LD; i++)
        if (!(fabs(c[i] - want[i]) <= 1e-12 * (k + 1)))
            return false;
    return true;
}

// Shape i of family f: distinct descriptors, kernels of similar sizes across families.
static void shape(int f, int i, int *m, int *n, int *k)
{
    *m = 5 + i % 20;
    *n = 3 + f + 2 * (i / 20);
    *k = 7 + (i * 7 + f * 3) % 11;
}

static int run_family(int f, uint64_t seed)
{
    int bad = 0;
    for (int i = 0; i < SHAPES; i++) {
        int m, n, k;
        shape(f, i, &m, &n, &k);
        if (!gemm_ok(m, n, k, seed + (uint64_t)i)) {
            printf("  family %d shape %dx%dx%d: wrong result\n", f, m, n, k);
            bad++;
        }
    }
    return bad;
}

// A child's verdict: its exit status (0 = all right), or the signal that ended it.
static int child_status(pid_t pid, const char *what)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) {
        perror("waitpid");
        return -1;
    }
    if (WIFSIGNALED(st))
        printf("  %s: child killed by signal %d\n", what, WTERMSIG(st));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static atomic_bool stop;

static void *toggle(void *arg)  // keeps scanning and patching the process (enable/disable)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        xsmmwrap_enable();
        xsmmwrap_disable();
    }
    return NULL;
}

static void *churn(void *arg)  // keeps making new kernels (and so taking the locks)
{
    (void)arg;
    for (int i = 0; !atomic_load(&stop); i++) {
        const int m = 1 + i % 37, n = 1 + (i / 37) % 37, k = 1 + (i / 1369) % 7;
        if (!gemm_ok(m, n, k, (uint64_t)i))
            printf("  churn %dx%dx%d: wrong result\n", m, n, k);
    }
    return NULL;
}

int main(void)
{
    CHECK(gemm_ok(4, 4, 4, 1), "first kernel");  // the code region exists before the fork

    // Round 1: parent and child append kernels after the fork.
    int go[2], done[2];
    if (pipe(go) || pipe(done)) {
        perror("pipe");
        return 2;
    }
    fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    char byte = 0;
    if (pid == 0) {
        if (read(go[0], &byte, 1) != 1)
            _exit(3);
        const int bad = run_family(1, 100) + run_family(1, 200);
        if (write(done[1], &byte, 1) != 1)
            _exit(3);
        _exit(bad ? 1 : 0);
    }
    CHECK(run_family(0, 10) == 0, "parent's kernels after the fork");
    CHECK(write(go[1], &byte, 1) == 1, "start the child");
    CHECK(read(done[0], &byte, 1) == 1, "the child ran");
    CHECK(child_status(pid, "round 1") == 0, "the child's kernels after the fork");
    CHECK(run_family(0, 20) == 0, "parent's kernels again, after the child made its own");

    // Round 2: fork while another thread is making kernels; several times.
    pthread_t t;
    atomic_store(&stop, false);
    CHECK(pthread_create(&t, NULL, churn, NULL) == 0, "churn thread");
    for (int r = 0; r < 20; r++) {
        fflush(stdout);
        const pid_t p = fork();
        if (p == 0)
            _exit(run_family(2 + r % 3, 300 + (uint64_t)r) ? 1 : 0);
        CHECK(p > 0 && child_status(p, "round 2") == 0, "child %d forked during generation", r);
    }
    atomic_store(&stop, true);
    pthread_join(t, NULL);

    // Round 3: fork while another thread runs enable()/disable(); the child does both itself.
    atomic_store(&stop, false);
    CHECK(pthread_create(&t, NULL, toggle, NULL) == 0, "toggle thread");
    for (int r = 0; r < 20; r++) {
        fflush(stdout);
        const pid_t p = fork();
        if (p == 0) {
            const bool ok = xsmmwrap_enable() >= 0 && xsmmwrap_disable() >= 0 && gemm_ok(6, 7, 8, 9);
            _exit(ok ? 0 : 1);
        }
        CHECK(p > 0 && child_status(p, "round 3") == 0, "child %d forked during enable()", r);
    }
    atomic_store(&stop, true);
    pthread_join(t, NULL);
    CHECK(run_family(0, 30) == 0, "parent's kernels at the end");
    return check_summary();
}
