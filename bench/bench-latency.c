/* bench-latency.c: what a caller waits for, span by span: new + 3 tags +
 * finish + unref, through the public API
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose latency
 *
 * Each span is timed on its own with CLOCK_MONOTONIC (the vDSO, no system
 * call), and the clock's own cost, measured in the same run as the median of
 * back-to-back reads, is taken off each sample. The flush thread runs and
 * sends to a loopback sink meanwhile, as in a real program, so the tail
 * includes whatever that costs the caller (wake-ups, cache traffic, being
 * scheduled out on a 2-core machine that also runs the flush thread and the
 * sink).
 *
 * Prints percentiles (medians over runs; max is the largest of any run) and
 * a coarse histogram; asserts no time.
 */

#define _GNU_SOURCE

#include <sys/resource.h>

#include <gluetool/gluetool.h>

#include "measure.h"
#include "sink.h"
#include "workload.h"

#define N_WARM_UP 100000
#define N_SPANS   1000000
#define N_RUNS    3

/* Target: caller-side p50 at most 0.3 us, p99 at most 2 us. */
#define TARGET_P50_NS 300.0
#define TARGET_P99_NS 2000.0

/* Upper bounds (ns) of the histogram's buckets; the last is open. */
static const guint64 bucket_bounds_ns[] = { 250, 500, 1000, 2000, 4000, 8000, 16000, 64000 };
#define N_BUCKETS (G_N_ELEMENTS (bucket_bounds_ns) + 1)

typedef struct {
  BenchPercentiles span;
  double           mean;
  guint64          buckets[N_BUCKETS];
} Percentiles;

static Percentiles
measure (GluetoolAction *root,
         guint32        *samples,
         gint64          overhead_ns)
{
  Percentiles p = { 0 };
  double sum = 0;

  for (guint i = 0; i < N_SPANS; i++)
    {
      gint64 t0 = bench_monotonic_ns ();
      gint64 t1;

      bench_report_span (root, i);
      t1 = bench_monotonic_ns ();
      samples[i] = bench_latency_sample (t0, t1, overhead_ns);
    }

  for (guint i = 0; i < N_SPANS; i++)
    {
      guint b = 0;

      while (b < G_N_ELEMENTS (bucket_bounds_ns) && samples[i] >= bucket_bounds_ns[b])
        b++;
      p.buckets[b]++;
      sum += samples[i];
    }
  p.span = bench_percentiles (samples, N_SPANS);
  p.mean = sum / N_SPANS;
  return p;
}

int
main (void)
{
  g_autoptr(BenchSink) sink = bench_sink_new (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) root = NULL;
  g_autofree guint32 *samples = g_new (guint32, N_SPANS);
  double p50[N_RUNS], p90[N_RUNS], p99[N_RUNS], p999[N_RUNS], mean[N_RUNS];
  guint64 buckets[N_BUCKETS] = { 0 };
  double max = 0;
  gint64 overhead_ns;
  GluetoolTracerStats stats;
  guint64 expected;
  GString *histogram = g_string_new ("latency: histogram (all runs):");
  struct rusage usage_before, usage_after;

  g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  tracer = gluetool_tracer_new ("bench", "127.0.0.1", bench_sink_get_port (sink), &error);
  g_assert_no_error (error);
  root = gluetool_action_new ("root", NULL);

  /* Warm up the code, the allocator and the queue, and fault in the samples
   * array, so that page faults are not timed. */
  for (guint i = 0; i < N_WARM_UP; i++)
    bench_report_span (root, i);
  for (guint i = 0; i < N_SPANS; i++)
    samples[i] = 0;
  if (!gluetool_tracer_flush (tracer, 60, &error))
    {
      g_print ("latency: warm-up flush: %s\n", error->message);
      g_clear_error (&error);
    }
  overhead_ns = bench_timer_overhead_ns ();

  /* Context switches of the calling thread while it is timed: involuntary
   * ones are preemptions, which the tail is mostly made of on a busy
   * 2-core machine; voluntary ones would be the caller blocking. */
  getrusage (RUSAGE_THREAD, &usage_before);
  for (guint r = 0; r < N_RUNS; r++)
    {
      Percentiles p = measure (root, samples, overhead_ns);

      p50[r] = p.span.p50;
      p90[r] = p.span.p90;
      p99[r] = p.span.p99;
      p999[r] = p.span.p999;
      mean[r] = p.mean;
      max = MAX (max, p.span.max);
      for (guint b = 0; b < N_BUCKETS; b++)
        buckets[b] += p.buckets[b];
      /* Between runs, not timed: the queue starts each run empty. */
      if (!gluetool_tracer_flush (tracer, 60, &error))
        {
          g_print ("latency: flush after run %u: %s\n", r, error->message);
          g_clear_error (&error);
        }
    }

  getrusage (RUSAGE_THREAD, &usage_after);

  gluetool_action_finish (root, NULL);
  if (!gluetool_tracer_close (tracer, 60, &error))
    {
      g_print ("latency: close: %s\n", error->message);
      g_clear_error (&error);
    }
  gluetool_tracer_get_stats (tracer, &stats);
  bench_sink_wait_for_datagrams (sink, stats.datagrams_sent, 10);
  bench_sink_stop (sink);
  expected = N_WARM_UP + (guint64) N_RUNS * N_SPANS + 1;

  for (guint b = 0; b < N_BUCKETS; b++)
    {
      if (b < G_N_ELEMENTS (bucket_bounds_ns))
        g_string_append_printf (histogram, " <%g us %.3f%%,", bucket_bounds_ns[b] / 1000.0,
                                100.0 * buckets[b] / ((double) N_RUNS * N_SPANS));
      else
        g_string_append_printf (histogram, " >=%g us %.3f%%", bucket_bounds_ns[b - 1] / 1000.0,
                                100.0 * buckets[b] / ((double) N_RUNS * N_SPANS));
    }

  g_print ("latency: new + 3 tags + finish + unref, timed per span with CLOCK_MONOTONIC, "
           "timer overhead %" G_GINT64_FORMAT " ns subtracted, flush thread sending to a loopback sink\n",
           overhead_ns);
  g_print ("latency: p50 %.3f us, p90 %.3f us, p99 %.3f us, p99.9 %.3f us, max %.1f us, mean %.3f us "
           "(N=%d, median of %d runs; max of all runs)\n",
           bench_median (p50, N_RUNS) / 1000, bench_median (p90, N_RUNS) / 1000,
           bench_median (p99, N_RUNS) / 1000, bench_median (p999, N_RUNS) / 1000, max / 1000,
           bench_median (mean, N_RUNS) / 1000, N_SPANS, N_RUNS);
  g_print ("%s\n", histogram->str);
  g_print ("latency: the caller was switched out %ld times involuntarily (preempted) and %ld times "
           "voluntarily (blocked) over the %d timed spans, flushes between runs included\n",
           usage_after.ru_nivcsw - usage_before.ru_nivcsw, usage_after.ru_nvcsw - usage_before.ru_nvcsw,
           N_RUNS * N_SPANS);
  g_print ("latency: spans reported %" G_GUINT64_FORMAT ", dropped (queue full) %" G_GUINT64_FORMAT
           ", lost in all %" G_GUINT64_FORMAT ", received by the sink %" G_GUINT64_FORMAT
           " of %" G_GUINT64_FORMAT ", kernel drops %" G_GUINT64_FORMAT "\n",
           stats.spans_reported, stats.spans_dropped_queue_full, gluetool_tracer_stats_get_lost (&stats),
           bench_sink_get_n_spans (sink), expected, bench_sink_get_kernel_drops (sink));
  g_print ("target: caller p50 <= %.1f us: %.3f us: %s\n", TARGET_P50_NS / 1000,
           bench_median (p50, N_RUNS) / 1000, bench_verdict (bench_median (p50, N_RUNS) <= TARGET_P50_NS));
  g_print ("target: caller p99 <= %.1f us: %.3f us: %s\n", TARGET_P99_NS / 1000,
           bench_median (p99, N_RUNS) / 1000, bench_verdict (bench_median (p99, N_RUNS) <= TARGET_P99_NS));
  g_string_free (histogram, TRUE);
  return 0;
}
