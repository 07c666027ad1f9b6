/* measure.c: clocks and statistics shared by the benchmarks
 *
 * SPDX-License-Identifier: MIT
 */

#include "measure.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static gint64
timespec_ns (const struct timespec *ts)
{
  return (gint64) ts->tv_sec * 1000000000 + ts->tv_nsec;
}

gint64
bench_monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return timespec_ns (&ts);
}

gint64
bench_thread_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return timespec_ns (&ts);
}

gint64
bench_process_cpu_ns (void)
{
  struct rusage usage;

  /* RUSAGE_SELF sums every thread of the process, live or joined, which is
   * what a per-span CPU figure has to charge: the caller and the flush
   * thread alike. */
  getrusage (RUSAGE_SELF, &usage);
  return ((gint64) usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000
         + ((gint64) usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000;
}

gint64
bench_timer_overhead_ns (void)
{
  enum { N = 100001 };
  g_autofree double *samples = g_new (double, N);

  for (guint i = 0; i < N; i++)
    {
      gint64 t0 = bench_monotonic_ns ();
      gint64 t1 = bench_monotonic_ns ();

      samples[i] = (double) (t1 - t0);
    }
  return (gint64) bench_median (samples, N);
}

guint32
bench_latency_sample (gint64 t0_ns,
                      gint64 t1_ns,
                      gint64 overhead_ns)
{
  /* Clamped at zero: a sample below the median overhead is noise. */
  return (guint32) MIN (MAX (t1_ns - t0_ns - overhead_ns, 0), G_MAXUINT32);
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static int
compare_u32 (const void *a,
             const void *b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;

  return (x > y) - (x < y);
}

double
bench_median (double *values,
              guint   n)
{
  g_return_val_if_fail (n > 0, 0.0);

  qsort (values, n, sizeof *values, compare_doubles);
  /* Even counts take the mean of the two middle values, so that a median of
   * two runs is not simply the larger. */
  if (n % 2 == 0)
    return (values[n / 2 - 1] + values[n / 2]) / 2;
  return values[n / 2];
}

BenchPercentiles
bench_percentiles (guint32 *samples,
                   guint    n)
{
  BenchPercentiles p = { 0 };

  g_return_val_if_fail (n > 0, p);

  qsort (samples, n, sizeof *samples, compare_u32);
  p.p50 = samples[n / 2];
  p.p90 = samples[(guint64) n * 90 / 100];
  p.p99 = samples[(guint64) n * 99 / 100];
  p.p999 = samples[(guint64) n * 999 / 1000];
  p.max = samples[n - 1];
  return p;
}

const char *
bench_verdict (gboolean met)
{
  return met ? "met" : "MISSED";
}
