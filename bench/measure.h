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

/* Sorts @values in place and returns the middle one. */
double  bench_median         (double *values,
                              guint   n);

/* "met" or "MISSED", for the target: lines. */
const char *bench_verdict    (gboolean met);

G_END_DECLS
