/* bench-burst.c: a million spans from one thread: does anything get lost?
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose burst
 *
 * Three ways to report the same million spans to a loopback sink, with the
 * default 4 MiB queue:
 *
 * - flat out, default: as fast as one thread can. Here that can be faster
 *   than loopback UDP carries spans, and the flush thread may get no core
 *   for tens of milliseconds on a busy machine, so the queue can fill; a
 *   span that finds it full is dropped at once and counted
 *   (fullQueueDroppedSpans). The drops are printed, not a target: they are
 *   the caller never waiting, as the default promises.
 * - flat out, waiting: the same with a queue-full wait of WAIT_S, so a
 *   caller that finds the queue full waits for room instead: nothing lost.
 * - paced, default: PACED_RATE spans a second, well below what the flush
 *   thread and loopback carry, in bursts of PACE_BURST: the queue absorbs
 *   the flush thread's absences, and nothing is lost without any wait.
 *
 * The sink counts every span that arrives and the kernel's drops on its
 * socket, so a shortfall is pinned on the tracer or on the receiving side.
 *
 * Prints plain figures, medians over several runs and the worst run; asserts
 * no time.
 */

#include <gluetool/gluetool.h>

#include "measure.h"
#include "sink.h"
#include "workload.h"

#define N_SPANS 1000000
#define N_RUNS  3
/* Far longer than the flush thread is ever kept from a core. */
#define WAIT_S  1.0
/* A quarter of a million spans a second: a tenth of what one thread makes
 * and of what loopback carries; a burst of PACE_BURST every 4 ms. */
#define PACED_RATE 250000
#define PACE_BURST 1000

typedef struct {
  const char *name;
  double      queue_full_wait_s;   /* -1: the tracer's default (no wait) */
  gboolean    paced;
  gboolean    must_lose_nothing;   /* a target, not just a figure */
} Mode;

static const Mode modes[] = {
  { "flat out, default (no wait)", -1.0, FALSE, FALSE },
  { "flat out, queue-full-wait 1 s", WAIT_S, FALSE, TRUE },
  { "paced at 250k spans/s, default (no wait)", -1.0, TRUE, TRUE },
};

typedef struct {
  double  burst_s;          /* the caller's loop */
  double  delivered_s;      /* until the sink read the last datagram */
  guint64 dropped_full;
  guint64 waited;
  guint64 lost;             /* every kind of loss the tracer counted */
  guint64 received;         /* the bench spans the sink counted */
  guint64 datagrams_sent;
  guint64 datagrams_received;
  guint64 kernel_drops;
} RunResult;

static RunResult
run (const Mode *mode)
{
  g_autoptr(BenchSink) sink = bench_sink_new (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) root = NULL;
  GluetoolTracerStats stats;
  RunResult result = { 0 };
  gint64 start_ns, end_ns;

  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "service-name", "bench",
                           "reporting-host", "127.0.0.1",
                           "reporting-port", (guint) bench_sink_get_port (sink),
                           "queue-full-wait", mode->queue_full_wait_s,
                           NULL);
  g_assert_no_error (error);
  root = gluetool_action_new ("root", NULL);

  start_ns = bench_monotonic_ns ();
  for (guint i = 0; i < N_SPANS; i++)
    {
      /* Paced: each burst starts when the rate says it may. */
      if (mode->paced && i % PACE_BURST == 0)
        {
          gint64 due_ns = start_ns + (gint64) i * G_GINT64_CONSTANT (1000000000) / PACED_RATE;
          gint64 now_ns = bench_monotonic_ns ();

          if (due_ns > now_ns)
            g_usleep ((gulong) ((due_ns - now_ns) / 1000));
        }
      bench_report_span (root, i);
    }
  end_ns = bench_monotonic_ns ();

  /* The root last, after the burst's spans were counted: it is not one. */
  if (!gluetool_tracer_flush (tracer, 60, &error))
    g_clear_error (&error);   /* the losses are in the stats */
  gluetool_tracer_get_stats (tracer, &stats);
  bench_sink_wait_for_datagrams (sink, stats.datagrams_sent, 10);

  result.burst_s = (end_ns - start_ns) / 1e9;
  result.delivered_s = (bench_sink_get_last_arrival_ns (sink) - start_ns) / 1e9;
  result.dropped_full = stats.spans_dropped_queue_full;
  result.waited = stats.spans_waited_for_room;
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

/* Runs @mode N_RUNS times and prints its figures and target. */
static void
run_mode (const Mode *mode)
{
  double burst_s[N_RUNS], delivered_s[N_RUNS], dropped[N_RUNS], received[N_RUNS];
  double datagrams[N_RUNS], waited[N_RUNS];
  RunResult worst = { 0 };
  guint64 kernel_drops = 0;
  double median_dropped, median_received;

  for (guint r = 0; r < N_RUNS; r++)
    {
      RunResult result = run (mode);

      burst_s[r] = result.burst_s;
      delivered_s[r] = result.delivered_s;
      dropped[r] = result.dropped_full;
      received[r] = result.received;
      datagrams[r] = result.datagrams_received;
      waited[r] = result.waited;
      kernel_drops += result.kernel_drops;
      if (r == 0 || result.received < worst.received || result.lost > worst.lost)
        worst = result;
      g_print ("burst: %s, run %u: %.2f s in the caller (%.0f spans/s), delivered after %.2f s; "
               "dropped (queue full) %" G_GUINT64_FORMAT ", waited for room %" G_GUINT64_FORMAT
               ", lost in all %" G_GUINT64_FORMAT ", received %" G_GUINT64_FORMAT ", datagrams %"
               G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT " received, kernel drops %"
               G_GUINT64_FORMAT "\n",
               mode->name, r, result.burst_s, N_SPANS / result.burst_s, result.delivered_s,
               result.dropped_full, result.waited, result.lost, result.received,
               result.datagrams_sent, result.datagrams_received, result.kernel_drops);
    }

  median_dropped = bench_median (dropped, N_RUNS);
  median_received = bench_median (received, N_RUNS);
  g_print ("burst: %s: %d spans from one thread, median of %d runs: %.2f s in the caller, "
           "%.2f s until delivered, dropped %.0f, waited for room %.0f, received %.0f, "
           "datagrams %.0f, kernel drops %" G_GUINT64_FORMAT " (all runs)\n",
           mode->name, N_SPANS, N_RUNS, bench_median (burst_s, N_RUNS),
           bench_median (delivered_s, N_RUNS), median_dropped, bench_median (waited, N_RUNS),
           median_received, bench_median (datagrams, N_RUNS), kernel_drops);

  if (mode->must_lose_nothing)
    g_print ("target: %s: 1M spans, 0 lost, every span received, every run: worst run lost %"
             G_GUINT64_FORMAT ", received %" G_GUINT64_FORMAT ": %s\n",
             mode->name, worst.lost, worst.received,
             bench_verdict (worst.lost == 0 && worst.received == N_SPANS));
  else
    g_print ("burst: %s: no target; the caller never waited, and the worst run dropped %"
             G_GUINT64_FORMAT " (counted, and told by flush())\n", mode->name, worst.dropped_full);
}

int
main (void)
{
  g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  g_unsetenv ("GLUETOOL_TRACING_QUEUE_FULL_WAIT");

  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    run_mode (&modes[m]);
  return 0;
}
