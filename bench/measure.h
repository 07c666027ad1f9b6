/* measure.h: clocks and statistics shared by the benchmarks
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* CLOCK_MONOTONIC, in nanoseconds. */
gint64  bench_monotonic_ns   (void);
/* The calling thread's CPU time, in nanoseconds. */
gint64  bench_thread_cpu_ns  (void);
/* The whole process's CPU time, user and system, every thread (getrusage),
 * in nanoseconds. */
gint64  bench_process_cpu_ns (void);

/* The median cost of reading CLOCK_MONOTONIC, as it shows between two
 * back-to-back reads, in nanoseconds: what a timed span takes off. */
gint64  bench_timer_overhead_ns (void);
/* One timed span, @t0_ns to @t1_ns less @overhead_ns, in nanoseconds, as a
 * latency sample. */
guint32 bench_latency_sample (gint64 t0_ns,
                              gint64 t1_ns,
                              gint64 overhead_ns);

/* Sorts @values in place and returns the middle one. */
double  bench_median         (double *values,
                              guint   n);

/* Percentiles of a run's latency samples, in nanoseconds. */
typedef struct {
  double p50, p90, p99, p999, max;
} BenchPercentiles;

/* Sorts @samples in place and reads the percentiles off them. */
BenchPercentiles bench_percentiles (guint32 *samples,
                                    guint    n);

/* "met" or "MISSED", for the target: lines. */
const char *bench_verdict    (gboolean met);

G_END_DECLS
