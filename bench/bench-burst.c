/* bench-burst.c: a million spans from one thread as fast as it can, with the
 * default configuration: does anything get lost?
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose burst
 *
 * The caller never waits for the flush thread, so a burst either fits in
 * what the flush thread drains meanwhile plus what the queue holds (4 MiB by
 * default), or spans are dropped and counted (fullQueueDroppedSpans). The
 * sink counts every span that arrives and the kernel's drops on its socket,
 * so a shortfall is pinned on the tracer or on the receiving side.
 *
 * Prints plain figures, medians over several runs and the worst run; asserts
 * no time.
 */

#include <gluetool/gluetool.h>

#include "measure.h"
#include "sink.h"
#include "workload.h"

#define N_SPANS 1000000
#define N_RUNS  5

typedef struct {
  double  burst_s;          /* the caller's loop */
  double  delivered_s;      /* until the sink read the last datagram */
  guint64 dropped_full;
  guint64 lost;             /* every kind of loss the tracer counted */
  guint64 received;         /* the bench spans the sink counted */
  guint64 datagrams_sent;
  guint64 datagrams_received;
  guint64 kernel_drops;
} RunResult;

static RunResult
run (void)
{
  g_autoptr(BenchSink) sink = bench_sink_new (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = gluetool_tracer_new ("bench", "127.0.0.1",
                                                          bench_sink_get_port (sink), &error);
  g_autoptr(GluetoolAction) root = NULL;
  GluetoolTracerStats stats;
  RunResult result = { 0 };
  gint64 start_ns, end_ns;

  g_assert_no_error (error);
  root = gluetool_action_new ("root", NULL);

  start_ns = bench_monotonic_ns ();
  for (guint i = 0; i < N_SPANS; i++)
    bench_report_span (root, i);
  end_ns = bench_monotonic_ns ();

  /* The root last, after the burst's spans were counted: it is not one. */
  if (!gluetool_tracer_flush (tracer, 60, &error))
    g_clear_error (&error);   /* the losses are in the stats */
  gluetool_tracer_get_stats (tracer, &stats);
  bench_sink_wait_for_datagrams (sink, stats.datagrams_sent, 10);

  result.burst_s = (end_ns - start_ns) / 1e9;
  result.delivered_s = (bench_sink_get_last_arrival_ns (sink) - start_ns) / 1e9;
  result.dropped_full = stats.spans_dropped_queue_full;
  result.lost = gluetool_tracer_stats_get_lost (&stats);
  result.received = bench_sink_get_n_spans (sink);
  result.datagrams_sent = stats.datagrams_sent;
  result.datagrams_received = bench_sink_get_n_datagrams (sink);

  gluetool_action_finish (root, NULL);
  if (!gluetool_tracer_close (tracer, 60, &error))
    g_clear_error (&error);
  bench_sink_stop (sink);
  result.kernel_drops = bench_sink_get_kernel_drops (sink);
  return result;
}

int
main (void)
{
  double burst_s[N_RUNS], delivered_s[N_RUNS], dropped[N_RUNS], received[N_RUNS], datagrams[N_RUNS];
  RunResult worst = { 0 };
  guint64 kernel_drops = 0;
  double median_dropped, median_received;

  g_unsetenv ("GLUETOOL_TRACING_DISABLE");

  for (guint r = 0; r < N_RUNS; r++)
    {
      RunResult result = run ();

      burst_s[r] = result.burst_s;
      delivered_s[r] = result.delivered_s;
      dropped[r] = result.dropped_full;
      received[r] = result.received;
      datagrams[r] = result.datagrams_received;
      kernel_drops += result.kernel_drops;
      if (r == 0 || result.received < worst.received || result.lost > worst.lost)
        worst = result;
      g_print ("burst: run %u: %.2f s in the caller (%.0f spans/s), delivered after %.2f s; "
               "dropped (queue full) %" G_GUINT64_FORMAT ", lost in all %" G_GUINT64_FORMAT
               ", received %" G_GUINT64_FORMAT ", datagrams %" G_GUINT64_FORMAT " sent, %"
               G_GUINT64_FORMAT " received, kernel drops %" G_GUINT64_FORMAT "\n",
               r, result.burst_s, N_SPANS / result.burst_s, result.delivered_s,
               result.dropped_full, result.lost, result.received, result.datagrams_sent,
               result.datagrams_received, result.kernel_drops);
    }

  median_dropped = bench_median (dropped, N_RUNS);
  median_received = bench_median (received, N_RUNS);
  g_print ("burst: %d spans from one thread, default configuration, median of %d runs: "
           "%.2f s in the caller, %.2f s until delivered, dropped %.0f, received %.0f, "
           "datagrams %.0f, kernel drops %" G_GUINT64_FORMAT " (all runs)\n",
           N_SPANS, N_RUNS, bench_median (burst_s, N_RUNS), bench_median (delivered_s, N_RUNS),
           median_dropped, median_received, bench_median (datagrams, N_RUNS), kernel_drops);
  g_print ("target: 1M burst 0 dropped, every span received: median dropped %.0f, received %.0f; "
           "worst run dropped %" G_GUINT64_FORMAT ", received %" G_GUINT64_FORMAT ": %s\n",
           median_dropped, median_received, worst.lost, worst.received,
           bench_verdict (median_dropped == 0 && median_received == N_SPANS));
  return 0;
}
