// bench_timing.c: calibration, interleaved best-of rounds and pinning for the kernel benchmarks,
// and their operands' values (bench_timing.h). Calls nothing of the library.
#define _GNU_SOURCE
#include "bench_timing.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool bt_option(bt_settings *s, const char *a, const char *v, void (*usage)(FILE *))
{
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
        usage(stdout);
        exit(0);
    }
    if (!v) {
        usage(stderr);
        exit(2);
    }
    if (!strcmp(a, "--min-time"))
        s->min_time = atof(v);
    else if (!strcmp(a, "--repeats"))
        s->repeats = atoi(v);
    else if (!strcmp(a, "--stream-mb"))
        s->stream_bytes = (size_t)atol(v) << 20;
    else if (!strcmp(a, "--cpu"))
        s->cpu = atoi(v);
    else
        return false;
    return true;
}

size_t bt_calibrate(bt_run_fn *run, void *ctx, int peer, double min_time)
{
    size_t reps = 1;
    double t = run(ctx, peer, reps);
    for (;;) {
        t = run(ctx, peer, reps);
        if (t >= 0.25 * min_time || reps >= ((size_t)1 << 40))
            break;
        const double f = t > 0 ? 0.3 * min_time / t : 100.0;
        reps = (size_t)((double)reps * (f < 2 ? 2 : f > 100 ? 100 : f)) + 1;
    }
    reps = (size_t)ceil((double)reps * min_time / (t > 0 ? t : 1e-9));
    return reps < 1 ? 1 : reps;
}

void bt_measure(bt_run_fn *run, void *ctx, int npeers, const bool *present, double min_time,
                int repeats, double *ns)
{
    size_t reps[BT_PEERS_MAX];
    if (npeers > BT_PEERS_MAX)
        npeers = BT_PEERS_MAX;
    for (int p = 0; p < npeers; p++) {
        ns[p] = present[p] ? INFINITY : NAN;
        reps[p] = present[p] ? bt_calibrate(run, ctx, p, min_time) : 0;
    }
    // Every other round takes the peers in reverse order: no peer always follows the same one.
    for (int i = 0; i < repeats; i++)
        for (int q = 0; q < npeers; q++) {
            const int p = i % 2 ? npeers - 1 - q : q;
            if (present[p])
                ns[p] = fmin(ns[p], run(ctx, p, reps[p]) / (double)reps[p] * 1e9);
        }
}

bool bt_pin(int *cpu)
{
    if (*cpu < 0)
        *cpu = sched_getcpu();
    if (*cpu < 0)
        *cpu = 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(*cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0;
}

void bt_fill(void *p, size_t n, bool f64, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const double v = (double)(s >> 11) * 0x1.0p-53 - 0.5;
        if (f64)
            ((double *)p)[i] = v;
        else
            ((float *)p)[i] = (float)v;
    }
}
