// bench_timing.h: the timing method the kernel benchmarks share (bench-kernels, tune-kernels):
// calls per loop calibrated to a minimum time, then interleaved rounds (each round times one
// loop of every peer in turn) with the best loop kept, on one pinned CPU; and what both time:
// the Fortran GEMM and the operands' values. (Their JSON strings are sample_util.c's.)
#ifndef BENCH_TIMING_H
#define BENCH_TIMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

double bt_now(void);  // CLOCK_MONOTONIC, seconds

// The measurement's settings, as both programs take them on the command line.
typedef struct {
    double min_time;      // seconds per timed loop (--min-time S)
    int repeats;          // interleaved rounds, the best loop kept (--repeats N)
    size_t stream_bytes;  // the batch streamed operands are walked through (--stream-mb MB)
    int cpu;              // the CPU to pin to (--cpu N; -1: the one the program starts on)
} bt_settings;

// Command-line argument a, v the next one (NULL when a is the last). -h or --help: usage to
// stdout, exit 0; a without a value: usage to stderr, exit 2; one of bt_settings' options: its
// value stored in *s, true. Anything else: false, for the program's own options.
bool bt_option(bt_settings *s, const char *a, const char *v, void (*usage)(FILE *));

// Runs `reps` calls of peer `peer` of `ctx` and returns the elapsed seconds.
typedef double bt_run_fn(void *ctx, int peer, size_t reps);

// Calls per timed loop for the loop to last at least min_time (after a warm-up call: first
// call, page faults, lazy binding).
size_t bt_calibrate(bt_run_fn *run, void *ctx, int peer, double min_time);

#define BT_PEERS_MAX 32  // most peers bt_measure times

// ns per call of each present peer (present[p]; NAN for an absent one): `repeats` rounds, each
// timing one loop of every present peer in turn (every other round in reverse order), the best
// loop kept. Interleaving puts every peer under the same load: a slow spell of a shared
// machine spoils one round of all peers, not all loops of one.
void bt_measure(bt_run_fn *run, void *ctx, int npeers, const bool *present, double min_time,
                int repeats, double *ns);

// Pins this process to CPU *cpu (-1: the one it runs on; *cpu then names it); false when the
// kernel refuses, with errno set.
bool bt_pin(int *cpu);

// The Fortran GEMM of any element type (scalars and matrices by address), with 32-bit or 64-bit
// integers; the two hidden string lengths last (gfortran's convention; C implementations of the
// interface ignore them).
typedef void bt_gemm_fn(const char *, const char *, const int32_t *, const int32_t *,
                        const int32_t *, const void *, const void *, const int32_t *, const void *,
                        const int32_t *, const void *, void *, const int32_t *, size_t, size_t);
typedef void bt_gemm64_fn(const char *, const char *, const int64_t *, const int64_t *,
                          const int64_t *, const void *, const void *, const int64_t *,
                          const void *, const int64_t *, const void *, void *, const int64_t *,
                          size_t, size_t);

// n operands at p, doubles (f64) or floats, from seed: a fixed pseudo-random sequence in
// [-0.5, 0.5), the same for the same seed in both programs.
void bt_fill(void *p, size_t n, bool f64, uint64_t seed);

#endif
