/* bench-throughput.c: spans per second delivered with one and with two
 * producer threads, through the public API, default configuration but for
 * a queue-full wait (see bench_wait_when_queue_full() in workload.h)
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose throughput
 *
 * Each run reports the same total number of spans, from one thread or split
 * between two, each span a child of one root made by the main thread (issue
 * 5's workload: the children share the parent). The clock runs from the
 * moment the producers are released until the sink reads the last datagram,
 * so the rate is spans delivered per second, not spans handed to the queue.
 * A second two-thread figure, with a root per thread, tells how much sharing
 * the parent costs. CPU per span (the whole process less the sink, from the
 * release to the end of the flush) tells contention (more CPU per span with
 * two threads) from a lack of cores (the same CPU, spread thinner).
 *
 * Prints plain figures, medians over several runs; asserts no time.
 */

#include <stdatomic.h>
#include <stdbool.h>

#include <gluetool/gluetool.h>

#include "measure.h"
#include "sink.h"
#include "workload.h"

#define N_SPANS_PER_RUN 1000000
#define N_RUNS          5
#define MAX_PRODUCERS   2

/* Target: two producer threads deliver at least 1.7x the spans/s of one. */
#define TARGET_RATIO 1.7

typedef struct {
  GluetoolAction *root;      /* (unowned) the shared parent, or NULL: a root of its own */
  guint64         n_spans;
  atomic_bool    *go;
} Producer;

typedef struct {
  double  spans_per_s;
  double  cpu_ns_per_span;   /* the whole process less the sink */
  guint64 received;
  guint64 dropped;
  guint64 kernel_drops;
} RunResult;

static gpointer
producer_thread (gpointer data)
{
  Producer *producer = data;
  g_autoptr(GluetoolAction) own_root = NULL;
  GluetoolAction *root = producer->root;

  if (root == NULL)
    root = own_root = gluetool_action_new ("root", NULL);

  /* Released all at once, so thread start-up is not timed. Relaxed: nothing
   * is published through the flag. */
  while (!atomic_load_explicit (producer->go, memory_order_relaxed))
    g_thread_yield ();

  for (guint64 i = 0; i < producer->n_spans; i++)
    bench_report_span (root, i);
  return NULL;
}

static RunResult
run (guint    n_producers,
     gboolean shared_root)
{
  g_autoptr(BenchSink) sink = bench_sink_new (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = gluetool_tracer_new ("bench", "127.0.0.1",
                                                          bench_sink_get_port (sink), &error);
  g_autoptr(GluetoolAction) root = NULL;
  Producer producers[MAX_PRODUCERS];
  GThread *threads[MAX_PRODUCERS];
  atomic_bool go;
  GluetoolTracerStats stats;
  RunResult result = { 0 };
  gint64 start_ns, cpu_start, sink_start;
  guint64 expected;

  g_assert_no_error (error);
  atomic_init (&go, false);
  root = gluetool_action_new ("root", NULL);

  for (guint p = 0; p < n_producers; p++)
    {
      producers[p] = (Producer) { shared_root ? root : NULL, N_SPANS_PER_RUN / n_producers, &go };
      threads[p] = g_thread_new ("producer", producer_thread, &producers[p]);
    }
  /* Let the producers reach the start line (and make their roots). */
  g_usleep (20000);
  start_ns = bench_monotonic_ns ();
  cpu_start = bench_process_cpu_ns ();
  sink_start = bench_sink_get_cpu_ns (sink);
  atomic_store_explicit (&go, true, memory_order_relaxed);
  for (guint p = 0; p < n_producers; p++)
    g_thread_join (threads[p]);

  if (!gluetool_tracer_flush (tracer, 60, &error))
    g_clear_error (&error);   /* the losses are in the stats */
  result.cpu_ns_per_span = (double) ((bench_process_cpu_ns () - cpu_start)
                                     - (bench_sink_get_cpu_ns (sink) - sink_start)) / N_SPANS_PER_RUN;
  gluetool_tracer_get_stats (tracer, &stats);
  bench_sink_wait_for_datagrams (sink, stats.datagrams_sent, 10);

  /* Producers with roots of their own finished them as their threads
   * ended, before the flush; only the bench spans count. The shared root is
   * finished after this. */
  expected = (guint64) n_producers * (N_SPANS_PER_RUN / n_producers);
  result.received = bench_sink_get_n_spans (sink);
  result.received -= MIN (result.received, shared_root ? 0 : n_producers);
  result.received = MIN (result.received, expected);
  result.spans_per_s = result.received / ((bench_sink_get_last_arrival_ns (sink) - start_ns) / 1e9);
  result.dropped = gluetool_tracer_stats_get_lost (&stats);

  gluetool_action_finish (root, NULL);
  if (!gluetool_tracer_close (tracer, 60, &error))
    g_clear_error (&error);
  bench_sink_stop (sink);
  result.kernel_drops = bench_sink_get_kernel_drops (sink);
  return result;
}

/* The machine's own ceiling: how much faster two threads of plain
 * arithmetic, sharing nothing, go than one, measured now. On a shared
 * 2-core machine other work takes its share, and no 2-producer ratio can
 * beat this one. */
#define SPIN_ITERATIONS 200000000

static gpointer
spin_thread (gpointer data)
{
  /* volatile: the loop must run, not be folded into its result. */
  volatile guint64 sum = 0;

  for (guint64 i = 0; i < SPIN_ITERATIONS; i++)
    sum += i;
  return GSIZE_TO_POINTER ((gsize) sum);
}

static double
spin_rate (guint n_threads)
{
  GThread *threads[MAX_PRODUCERS];
  gint64 start_ns = bench_monotonic_ns ();

  for (guint t = 0; t < n_threads; t++)
    threads[t] = g_thread_new ("spin", spin_thread, NULL);
  for (guint t = 0; t < n_threads; t++)
    g_thread_join (threads[t]);
  return n_threads / ((bench_monotonic_ns () - start_ns) / 1e9);
}

static double
machine_ratio (void)
{
  double ratios[3];

  for (guint r = 0; r < G_N_ELEMENTS (ratios); r++)
    ratios[r] = spin_rate (2) / spin_rate (1);
  return bench_median (ratios, G_N_ELEMENTS (ratios));
}

typedef struct {
  const char *name;
  guint       n_producers;
  gboolean    shared_root;
  double      median_rate;
} Config;

int
main (void)
{
  Config configs[] = {
    { "1 producer", 1, TRUE, 0 },
    { "2 producers, one shared root", 2, TRUE, 0 },
    { "2 producers, a root each", 2, FALSE, 0 },
  };

  g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  bench_wait_when_queue_full ();
  run (1, TRUE); /* warm up */

  for (guint c = 0; c < G_N_ELEMENTS (configs); c++)
    {
      double rates[N_RUNS], cpu[N_RUNS];
      guint64 worst_dropped = 0, worst_missing = 0, kernel_drops = 0;

      for (guint r = 0; r < N_RUNS; r++)
        {
          RunResult result = run (configs[c].n_producers, configs[c].shared_root);

          rates[r] = result.spans_per_s;
          cpu[r] = result.cpu_ns_per_span;
          worst_dropped = MAX (worst_dropped, result.dropped);
          worst_missing = MAX (worst_missing, N_SPANS_PER_RUN - result.received);
          kernel_drops += result.kernel_drops;
        }
      configs[c].median_rate = bench_median (rates, N_RUNS);
      g_print ("throughput: %-30s %9.0f spans/s delivered, %4.0f ns CPU/span (median of %d runs of %d spans; "
               "worst run: %" G_GUINT64_FORMAT " lost by the tracer, %" G_GUINT64_FORMAT
               " not received; kernel drops %" G_GUINT64_FORMAT ")\n",
               configs[c].name, configs[c].median_rate, bench_median (cpu, N_RUNS), N_RUNS, N_SPANS_PER_RUN,
               worst_dropped, worst_missing, kernel_drops);
    }

  g_print ("throughput: 2 producers / 1 producer: %.2fx with one shared root, %.2fx with a root each "
           "(%u CPUs)\n",
           configs[1].median_rate / configs[0].median_rate,
           configs[2].median_rate / configs[0].median_rate, g_get_num_processors ());
  g_print ("throughput: the machine's ceiling now: 2 threads of plain arithmetic run %.2fx as fast as 1 "
           "(median of 3; other load on the machine lowers it)\n",
           machine_ratio ());
  g_print ("target: 2 producers >= %.1fx the spans/s of 1: %.2fx: %s\n", TARGET_RATIO,
           configs[1].median_rate / configs[0].median_rate,
           bench_verdict (configs[1].median_rate / configs[0].median_rate >= TARGET_RATIO));
  return 0;
}
