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

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

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

const char *
bench_verdict (gboolean met)
{
  return met ? "met" : "MISSED";
}
