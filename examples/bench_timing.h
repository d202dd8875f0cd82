// bench_timing.h: the timing method the kernel benchmarks share (bench-kernels, tune-kernels):
// calls per loop calibrated to a minimum time, then interleaved rounds (each round times one
// loop of every peer in turn) with the best loop kept, on one pinned CPU.
#ifndef BENCH_TIMING_H
#define BENCH_TIMING_H

#include <stdbool.h>
#include <stddef.h>

double bt_now(void);  // CLOCK_MONOTONIC, seconds

// Runs `reps` calls of peer `peer` of `ctx` and returns the elapsed seconds.
typedef double bt_run_fn(void *ctx, int peer, size_t reps);

// Calls per timed loop for the loop to last at least min_time (after a warm-up call: first
// call, page faults, lazy binding).
size_t bt_calibrate(bt_run_fn *run, void *ctx, int peer, double min_time);

#define BT_PEERS_MAX 32  // most peers bt_measure times

// ns per call of each present peer (present[p]; NAN for an absent one): `repeats` rounds, each
// timing one loop of every present peer in turn, the best loop kept. Interleaving puts every
// peer under the same load: a slow spell of a shared machine spoils one round of all peers,
// not all loops of one.
void bt_measure(bt_run_fn *run, void *ctx, int npeers, const bool *present, double min_time,
                int repeats, double *ns);

// Pins this process to CPU *cpu (-1: the one it runs on; *cpu then names it); false when the
// kernel refuses, with errno set.
bool bt_pin(int *cpu);

#endif
