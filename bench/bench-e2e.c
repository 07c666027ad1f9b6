/* bench-e2e.c: the whole path, from gluetool_action_new() to a datagram on a
 * loopback sink, through the public API
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose e2e
 *
 * Each run makes a tracer, reports N spans (new + 3 tags + finish, each a
 * child of one root) from one thread, closes the tracer (which flushes) and
 * then decodes every datagram the sink kept with the c_glib reference, so
 * the figures only count runs in which every span arrived (the caller waits
 * when the queue is full: see bench_wait_when_queue_full() in workload.h).
 *
 * CPU is the whole process's (getrusage: the caller and the flush thread)
 * minus the sink thread's own, both read at the same two moments, so what is
 * left is what the library costs. Fixed costs (the last partial datagram,
 * close() waking and joining the flush thread) weigh on small runs; the
 * marginal figure, the extra CPU per extra span between N=10k and N=100k,
 * leaves them out.
 *
 * Prints plain figures, medians over several runs; asserts no time. With
 * --once N, one run of N spans on one line, and exit status 1 if a span
 * went missing. With --serve, chunks of spans on request, for
 * bench/alternate (see run_serve()).
 *
 * The root is held by a plain pointer, not g_autoptr(): its cleanup,
 * gluetool_action_release(), came after the last tree known to meet the
 * target, and bench/alternate runs this program with that tree's library
 * too.
 */

#include <stdio.h>

#include <gluetool/gluetool.h>

#include "measure.h"
#include "reference.h"
#include "sink.h"
#include "workload.h"

#define N_RUNS 7

/* Target: at most 0.4 us of CPU per span on one producer thread. */
#define TARGET_CPU_NS 400.0

typedef struct {
  double  wall_s;
  double  cpu_ns;              /* the whole run, less the sink */
  double  caller_ns;           /* the calling thread alone, the loop only */
  guint64 received;            /* decoded with the reference */
  guint64 counted;             /* counted by the sink as they came */
  guint64 datagrams;
  guint64 bad;
  guint64 kernel_drops;
  guint64 lost;                /* the tracer's own count */
} RunResult;

/* Every span in the sink's datagrams, decoded with c_glib's generated code:
 * a datagram that does not decode counts nothing. */
static guint64
decode_spans (BenchSink *sink,
              guint64   *bad)
{
  GPtrArray *datagrams = bench_sink_get_datagrams (sink);
  guint64 n = 0;

  for (guint i = 0; i < datagrams->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (datagrams, i), &len);
      g_autoptr(JaegerBatch) batch = gluetool_reference_decode_datagram (data, len, NULL, NULL, NULL);

      if (batch != NULL)
        n += batch->spans->len;
      else
        (*bad)++;
    }
  return n;
}

static RunResult
run (guint n_spans)
{
  g_autoptr(BenchSink) sink = bench_sink_new (TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = gluetool_tracer_new ("bench", "127.0.0.1",
                                                          bench_sink_get_port (sink), &error);
  GluetoolAction *root;
  GluetoolTracerStats stats;
  RunResult result = { 0 };
  gint64 cpu_start, sink_start, caller_start, wall_start;
  gint64 cpu_end, sink_end, caller_end, wall_end;

  g_assert_no_error (error);
  root = gluetool_action_new ("root", NULL);

  wall_start = bench_monotonic_ns ();
  cpu_start = bench_process_cpu_ns ();
  sink_start = bench_sink_get_cpu_ns (sink);
  caller_start = bench_thread_cpu_ns ();
  for (guint i = 0; i < n_spans; i++)
    bench_report_span (root, i);
  caller_end = bench_thread_cpu_ns ();
  gluetool_action_finish (root, NULL);
  g_object_unref (root);
  if (!gluetool_tracer_close (tracer, 60, &error))
    g_print ("e2e: close: %s\n", error->message);
  /* Read before waiting for the sink, so the wait is not charged. */
  cpu_end = bench_process_cpu_ns ();
  sink_end = bench_sink_get_cpu_ns (sink);
  wall_end = bench_monotonic_ns ();

  /* Every datagram is on loopback by now; stop the sink once it has read
   * them all, or after a while if the kernel dropped some. */
  gluetool_tracer_get_stats (tracer, &stats);
  bench_sink_wait_for_datagrams (sink, stats.datagrams_sent, 10);
  bench_sink_stop (sink);

  result.wall_s = (wall_end - wall_start) / 1e9;
  result.cpu_ns = (double) ((cpu_end - cpu_start) - (sink_end - sink_start));
  result.caller_ns = (double) (caller_end - caller_start);
  result.received = decode_spans (sink, &result.bad);
  result.counted = bench_sink_get_n_spans (sink);
  result.datagrams = bench_sink_get_n_datagrams (sink);
  result.kernel_drops = bench_sink_get_kernel_drops (sink);
  result.lost = gluetool_tracer_stats_get_lost (&stats);
  return result;
}

/* One run of @n_spans after the warm-up, on one line: the whole process
 * less the sink and the caller alone, in ns a span, and whether every span
 * arrived. */
static int
run_once (guint n_spans)
{
  RunResult result;
  gboolean arrived;

  run (2000);
  result = run (n_spans);
  /* As main() checks each run: n spans and the root, the sink's count
   * agreeing with the reference's. */
  arrived = result.received == n_spans + 1 && result.counted == result.received
            && result.lost == 0 && result.bad == 0;
  if (!arrived)
    g_print ("e2e: received %" G_GUINT64_FORMAT " (sink counted %" G_GUINT64_FORMAT
             "), bad datagrams %" G_GUINT64_FORMAT ", lost %" G_GUINT64_FORMAT
             ", kernel drops %" G_GUINT64_FORMAT "\n",
             result.received, result.counted, result.bad, result.lost, result.kernel_drops);
  g_print ("e2e-once: N=%u whole %.0f ns/span, caller %.0f ns/span, every span received: %s\n",
           n_spans, result.cpu_ns / n_spans, result.caller_ns / n_spans, arrived ? "yes" : "NO");
  return arrived ? 0 : 1;
}

/* Flushes what the server reported; says why not on standard error. */
static gboolean
serve_flush (GluetoolTracer *tracer)
{
  g_autoptr(GError) error = NULL;

  if (gluetool_tracer_flush (tracer, 60, &error))
    return TRUE;
  g_printerr ("bench-e2e --serve: flush: %s\n", error->message);
  return FALSE;
}

/* For bench/alternate, which compares two builds by running one server
 * with each build's library and asking them for chunks in turn: two chunks
 * some milliseconds apart see the machine in the same state, which whole
 * runs a second apart may not on a shared machine. One tracer, made once
 * and warmed up; for each line N read from standard input, N spans,
 * flushed (so each chunk's figure holds its own sending), and one line
 * out: the whole process less the sink, and the caller alone, in ns a
 * span. "ready" is answered "ready", once the warm-up is sent. At 0 or the
 * end of input, closes the tracer and prints whether every span arrived,
 * with exit status 1 if one went missing (2 after a line that is neither
 * a count nor "ready"). */
static int
run_serve (void)
{
  g_autoptr(BenchSink) sink = bench_sink_new (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = gluetool_tracer_new ("bench", "127.0.0.1",
                                                          bench_sink_get_port (sink), &error);
  GluetoolAction *root;
  GluetoolTracerStats stats;
  guint64 reported = 0;
  char line[64];
  gboolean arrived;
  int status = 0;

  g_assert_no_error (error);
  root = gluetool_action_new ("root", NULL);
  /* As main(): pages in the code, the queue and the allocator. Flushed, so
   * that its sending is in no chunk's figure. */
  for (guint i = 0; i < 2000; i++)
    bench_report_span (root, reported++);
  if (!serve_flush (tracer))
    status = 1;

  while (status == 0 && fgets (line, sizeof line, stdin) != NULL)
    {
      gint64 cpu_start, sink_start, caller_start, cpu_end, sink_end, caller_end;
      guint64 n_spans;

      g_strstrip (line);
      if (g_str_equal (line, "ready"))
        {
          g_print ("ready\n");
          fflush (stdout);
          continue;
        }
      /* A chunk at most as --once takes; the total is a guint64. */
      if (!g_ascii_string_to_unsigned (line, 10, 0, G_MAXUINT32 - 1, &n_spans, NULL))
        {
          g_printerr ("bench-e2e --serve: not a count of spans: '%s'\n", line);
          status = 2;
          break;
        }
      if (n_spans == 0)
        break;

      cpu_start = bench_process_cpu_ns ();
      sink_start = bench_sink_get_cpu_ns (sink);
      caller_start = bench_thread_cpu_ns ();
      for (guint64 i = 0; i < n_spans; i++)
        bench_report_span (root, reported++);
      caller_end = bench_thread_cpu_ns ();
      if (!serve_flush (tracer))
        {
          status = 1;
          break;
        }
      cpu_end = bench_process_cpu_ns ();
      sink_end = bench_sink_get_cpu_ns (sink);
      g_print ("%.1f %.1f\n", (double) ((cpu_end - cpu_start) - (sink_end - sink_start)) / n_spans,
               (double) (caller_end - caller_start) / n_spans);
      fflush (stdout);
    }

  gluetool_action_finish (root, NULL);
  g_object_unref (root);
  if (!gluetool_tracer_close (tracer, 60, &error))
    g_printerr ("bench-e2e --serve: close: %s\n", error->message);
  gluetool_tracer_get_stats (tracer, &stats);
  bench_sink_wait_for_datagrams (sink, stats.datagrams_sent, 10);
  bench_sink_stop (sink);
  /* Every span and the root, by the sink's count. */
  arrived = bench_sink_get_n_spans (sink) == reported + 1 && bench_sink_get_n_bad (sink) == 0
            && gluetool_tracer_stats_get_lost (&stats) == 0;
  g_print ("e2e-serve: %" G_GUINT64_FORMAT " spans, every span received: %s\n", reported + 1,
           arrived ? "yes" : "NO");
  return status != 0 ? status : arrived ? 0 : 1;
}

int
main (int    argc,
      char **argv)
{
  const guint sizes[] = { 10000, 100000 };
  double cpu_totals[G_N_ELEMENTS (sizes)];
  double cpu_per_span[G_N_ELEMENTS (sizes)];
  gboolean all_arrived = TRUE;
  double marginal_ns;
  guint last = G_N_ELEMENTS (sizes) - 1;

  g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  bench_wait_when_queue_full ();
  if (argc > 1)
    {
      guint64 n_spans;

      if (argc == 2 && g_str_equal (argv[1], "--serve"))
        return run_serve ();
      /* At most one less than a guint holds: the run reports the root too. */
      if (argc != 3 || !g_str_equal (argv[1], "--once")
          || !g_ascii_string_to_unsigned (argv[2], 10, 1, G_MAXUINT32 - 1, &n_spans, NULL))
        {
          g_printerr ("usage: %s [--once N_SPANS | --serve]\n", argv[0]);
          return 2;
        }
      return run_once ((guint) n_spans);
    }
  run (2000); /* warm up: page in the code, the queue and the allocator */

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      double cpu[N_RUNS], total[N_RUNS], caller[N_RUNS], rate[N_RUNS], datagrams[N_RUNS];
      guint n = sizes[s];
      gboolean arrived = TRUE;

      for (guint r = 0; r < N_RUNS; r++)
        {
          RunResult result = run (n);

          total[r] = result.cpu_ns;
          cpu[r] = result.cpu_ns / n;
          caller[r] = result.caller_ns / n;
          rate[r] = n / result.wall_s;
          datagrams[r] = result.datagrams;
          /* n spans and the root; the sink's own count must agree with the
           * reference's, or the cheap count the other benchmarks use lies. */
          if (result.received != n + 1 || result.counted != result.received
              || result.lost != 0 || result.bad != 0)
            {
              arrived = FALSE;
              g_print ("e2e: run %u of %u spans: received %" G_GUINT64_FORMAT
                       " (sink counted %" G_GUINT64_FORMAT "), bad datagrams %" G_GUINT64_FORMAT
                       ", lost %" G_GUINT64_FORMAT ", kernel drops %" G_GUINT64_FORMAT "\n",
                       r, n, result.received, result.counted, result.bad, result.lost,
                       result.kernel_drops);
            }
        }
      all_arrived = all_arrived && arrived;
      cpu_totals[s] = bench_median (total, N_RUNS);
      cpu_per_span[s] = bench_median (cpu, N_RUNS);
      g_print ("e2e: N=%u spans (new + 3 tags + finish), median of %d runs: "
               "%.0f ns CPU/span (whole process less the sink), %.0f ns/span in the caller, "
               "%.0f spans/s wall, %.0f datagrams, every span received: %s\n",
               n, N_RUNS, cpu_per_span[s], bench_median (caller, N_RUNS), bench_median (rate, N_RUNS),
               bench_median (datagrams, N_RUNS), arrived ? "yes" : "NO");
    }

  marginal_ns = (cpu_totals[last] - cpu_totals[0]) / (sizes[last] - sizes[0]);
  g_print ("e2e: marginal CPU per span between N=%u and N=%u (medians of whole-run CPU): %.0f ns\n",
           sizes[0], sizes[last], marginal_ns);
  g_print ("target: whole path <= %.2f us CPU/span on one producer: %.3f us at N=%u, "
           "%.3f us marginal: %s\n",
           TARGET_CPU_NS / 1000, cpu_per_span[last] / 1000, sizes[last], marginal_ns / 1000,
           bench_verdict (cpu_per_span[last] <= TARGET_CPU_NS && marginal_ns <= TARGET_CPU_NS));
  g_print ("target: every span received (decoded with the c_glib reference), every run: %s\n",
           bench_verdict (all_arrived));
  return 0;
}
