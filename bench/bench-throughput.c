/* bench-throughput.c: what a second producer thread buys, in spans per
 * second delivered, and what it costs, in CPU per span, through the public
 * API with the default configuration but for a queue-full wait (see
 * bench_wait_when_queue_full() in workload.h: every span is to arrive, so a
 * producer that outruns the sender waits rather than drops)
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose throughput
 * To profile one configuration alone, name it: bench-throughput one-producer,
 * shared-root, own-roots or own-roots-halves (for instance under perf
 * record).
 *
 * The workload: every run reports the same number of spans (workload.h: a
 * child with three tags, finished, then released) from one producer thread
 * or two. The producers take the spans to make in chunks of CHUNK_SPANS
 * from a shared count, as the workers of a thread pool take tasks, so a
 * producer that gets less of a core makes fewer spans instead of leaving
 * the other to finish alone. Four configurations:
 *   - 1 producer: children of a root the main thread made;
 *   - 2 producers, shared root: both make children of that one root, so
 *     they share the parent action, its trace and its reference count;
 *   - 2 producers, own roots: each makes a root of its own, then children of
 *     it, so the callers share nothing; the gap to the shared root is what
 *     sharing the parent costs;
 *   - 2 producers, own roots, fixed halves: the same, but each makes
 *     exactly half the spans. On two cores the flush thread and the sink
 *     preempt one producer far more often than the other (a thousand times
 *     against a hundred, in one run), so one half ends early and the other
 *     finishes alone; the gap to "own roots" is that imbalance, the
 *     scheduler's, not contention. Printed for information, not a target.
 *
 * Two figures per run:
 *   - spans/s delivered: the clock runs from the moment the producers are
 *     released until the sink reads the last datagram, so it counts spans
 *     that reached the agent, not spans handed to the queue;
 *   - CPU per span: the CPU time of the whole process, every thread, user
 *     and kernel, less the sink's thread (the stand-in for the agent, which
 *     is another process in real use), from the release until the flush
 *     returns, over the spans. It charges the producers' own calls (making,
 *     tagging, encoding and queueing each span) and the flush thread's
 *     batching and sending (the kernel's share of the send included).
 *     With two producers each span should cost what it costs with one:
 *     more is contention (shared cache lines, atomics, locks between the
 *     producers or between them and the flush thread).
 * Each run also splits its CPU between the producers, the rest of the
 * process (the flush thread) and the sink, and checks that every span
 * reported was received or counted as lost. It tells how many producers
 * ran at once, on average (their CPU time over the wall time of their
 * loops), because two producers contend only while both run: when other
 * work on the machine leaves them one core to take turns on, the CPU ratio
 * looks better than it is, and the spans/s ratio worse.
 *
 * Targets, two producers against one, with a shared root and with a root
 * each alike: at most 1.2x the CPU per span, at least 1.4x the spans/s.
 *
 * Why not 2x the spans/s: the producers are not the only threads at work.
 * The flush thread batches and sends every span and the sink reads them,
 * and on a machine of C cores all of them share the cores. With p, f and s
 * the CPU per span of producing, of the flush thread and of the sink, n
 * producers deliver at most min (n/p, 1/f, 1/s, C/(p+f+s)) spans/s: on
 * two cores, with f+s half of p, two producers can deliver no more than
 * 1.33x what one does, and 1.4x needs f+s under 0.43 p. The program prints
 * this bound from the 1-producer runs' own split, and the ratio two threads
 * of plain arithmetic reach at the time, since other work on a shared
 * machine takes its share of the cores too.
 *
 * The machine's load changes from one second to the next, so the three
 * configurations run interleaved: each round runs 1 producer, 2 with a
 * shared root, 2 with roots of their own, one after the other, so that a
 * noisy moment hits all three alike. Each ratio is computed within its
 * round, and the median of the rounds' ratios is what is reported.
 *
 * Prints figures against their targets; asserts no time. Exits non-zero
 * only when something is broken: spans neither received nor counted lost,
 * or more received than reported.
 */

#include <stdatomic.h>
#include <stdbool.h>

#include <gluetool/gluetool.h>

#include "measure.h"
#include "sink.h"
#include "workload.h"

#define N_SPANS_PER_RUN 1000000
/* Spans a producer takes from the shared count at a time: one atomic
 * increment per thousand spans costs nothing measurable. */
#define CHUNK_SPANS     1000
#define N_ROUNDS        7
#define MAX_PRODUCERS   2

/* Two producers against one: at most this much CPU per span... */
#define TARGET_CPU_RATIO  1.2
/* ...and at least this many spans/s delivered. */
#define TARGET_RATE_RATIO 1.4

typedef struct {
  GluetoolAction *shared_root;  /* (unowned) (nullable) NULL: a root of its own */
  guint64         n_spans;      /* fixed halves: its share; 0: take chunks */
  atomic_ullong  *next_span;    /* the shared count chunks are taken from */
  guint64         n_made;       /* out: spans it made */
  atomic_uint    *n_ready;
  atomic_bool    *go;
  gint64          cpu_ns;       /* out: this thread's CPU in the loop */
  gint64          end_ns;       /* out: when the loop ended */
} Producer;

typedef struct {
  double  spans_per_s;
  double  cpu_ns_per_span;      /* the whole process less the sink */
  double  producer_ns_per_span; /* the producer threads' loops */
  double  flush_ns_per_span;    /* the rest of the process: the flush thread */
  double  sink_ns_per_span;
  double  producers_at_once;    /* the producers' CPU over their wall time */
  double  first_share;          /* the first producer's share of the spans */
  guint64 reported;             /* bench spans, by the tracer's count */
  guint64 received;             /* bench spans, by the sink's count */
  guint64 lost;                 /* every span the tracer counted lost */
  guint64 kernel_drops;         /* datagrams the sink's socket dropped */
  guint64 waited;               /* spans whose producer waited for room */
  gint64  missing;              /* reported - received - lost, roots too; < 0: more came */
} RunResult;

static gpointer
producer_thread (gpointer data)
{
  Producer *producer = data;
  g_autoptr(GluetoolAction) own_root = NULL;
  GluetoolAction *root = producer->shared_root;
  gint64 cpu_start;

  if (root == NULL)
    root = own_root = gluetool_action_new ("root", NULL);

  /* At the start line, then released all at once, so that thread start-up
   * and the own roots are not timed. Relaxed, both: the count and the flag
   * publish no data, the threads only have to have got this far. */
  atomic_fetch_add_explicit (producer->n_ready, 1, memory_order_relaxed);
  while (!atomic_load_explicit (producer->go, memory_order_relaxed))
    g_thread_yield ();

  cpu_start = bench_thread_cpu_ns ();
  if (producer->n_spans > 0)
    {
      for (guint64 i = 0; i < producer->n_spans; i++)
        bench_report_span (root, i);
      producer->n_made = producer->n_spans;
    }
  else
    for (;;)
      {
        /* Relaxed: the count hands out numbers, it publishes nothing. */
        guint64 first = atomic_fetch_add_explicit (producer->next_span, CHUNK_SPANS,
                                                   memory_order_relaxed);
        guint64 end = MIN (first + CHUNK_SPANS, (guint64) N_SPANS_PER_RUN);

        if (first >= N_SPANS_PER_RUN)
          break;
        for (guint64 i = first; i < end; i++)
          bench_report_span (root, i);
        producer->n_made += end - first;
      }
  producer->cpu_ns = bench_thread_cpu_ns () - cpu_start;
  producer->end_ns = bench_monotonic_ns ();

  if (own_root != NULL)
    gluetool_action_finish (own_root, NULL);
  return NULL;
}

static RunResult
run (guint    n_producers,
     gboolean shared_root,
     gboolean fixed_halves)
{
  g_autoptr(BenchSink) sink = bench_sink_new (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = gluetool_tracer_new ("bench", "127.0.0.1",
                                                          bench_sink_get_port (sink), &error);
  g_autoptr(GluetoolAction) root = NULL;
  Producer producers[MAX_PRODUCERS];
  GThread *threads[MAX_PRODUCERS];
  atomic_uint n_ready;
  atomic_ullong next_span;
  atomic_bool go;
  GluetoolTracerStats stats;
  RunResult result = { 0 };
  gint64 start_ns, cpu_start, sink_start, cpu_end, sink_end;
  gint64 producers_ns = 0, producers_end_ns = 0;
  guint64 n_roots_before_flush, received_all;

  g_assert_no_error (error);
  g_assert (n_producers <= MAX_PRODUCERS);
  atomic_init (&n_ready, 0);
  atomic_init (&next_span, 0);
  atomic_init (&go, false);
  root = gluetool_action_new ("root", NULL);

  for (guint p = 0; p < n_producers; p++)
    {
      producers[p] = (Producer) {
        .shared_root = shared_root ? root : NULL,
        .n_spans = fixed_halves ? N_SPANS_PER_RUN / n_producers : 0,
        .next_span = &next_span,
        .n_ready = &n_ready,
        .go = &go,
      };
      threads[p] = g_thread_new ("producer", producer_thread, &producers[p]);
    }
  while (atomic_load_explicit (&n_ready, memory_order_relaxed) < n_producers)
    g_thread_yield ();

  start_ns = bench_monotonic_ns ();
  cpu_start = bench_process_cpu_ns ();
  sink_start = bench_sink_get_cpu_ns (sink);
  atomic_store_explicit (&go, true, memory_order_relaxed);
  for (guint p = 0; p < n_producers; p++)
    {
      g_thread_join (threads[p]);   /* orders the thread's cpu_ns before this read */
      producers_ns += producers[p].cpu_ns;
      producers_end_ns = MAX (producers_end_ns, producers[p].end_ns);
    }

  if (!gluetool_tracer_flush (tracer, 60, &error))
    {
      /* Losses are counted in the stats and checked below; a flush that
       * cannot finish is worth a word. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_printerr ("throughput: flush: %s\n", error->message);
      g_clear_error (&error);
    }
  cpu_end = bench_process_cpu_ns ();
  sink_end = bench_sink_get_cpu_ns (sink);
  gluetool_tracer_get_stats (tracer, &stats);
  bench_sink_wait_for_datagrams (sink, stats.datagrams_sent, 10);

  /* Roots of their own were finished by their producers, before the flush,
   * and are counted with the bench spans on both sides; the shared root is
   * finished after the count. */
  n_roots_before_flush = shared_root ? 0 : n_producers;
  received_all = bench_sink_get_n_spans (sink);
  result.reported = stats.spans_reported - MIN (stats.spans_reported, n_roots_before_flush);
  result.received = received_all - MIN (received_all, n_roots_before_flush);
  result.lost = gluetool_tracer_stats_get_lost (&stats);
  result.waited = stats.spans_waited_for_room;
  result.missing = (gint64) stats.spans_reported - (gint64) received_all - (gint64) result.lost;

  result.spans_per_s = result.received / ((bench_sink_get_last_arrival_ns (sink) - start_ns) / 1e9);
  result.cpu_ns_per_span = (double) ((cpu_end - cpu_start) - (sink_end - sink_start))
                           / N_SPANS_PER_RUN;
  result.producer_ns_per_span = (double) producers_ns / N_SPANS_PER_RUN;
  result.flush_ns_per_span = result.cpu_ns_per_span - result.producer_ns_per_span;
  result.producers_at_once = (double) producers_ns / (producers_end_ns - start_ns);
  result.first_share = (double) producers[0].n_made / N_SPANS_PER_RUN;
  /* The sink reads on after the flush returns: its share runs to the end. */
  result.sink_ns_per_span = (double) (bench_sink_get_cpu_ns (sink) - sink_start) / N_SPANS_PER_RUN;

  gluetool_action_finish (root, NULL);
  if (!gluetool_tracer_close (tracer, 60, &error))
    g_clear_error (&error);
  bench_sink_stop (sink);
  result.kernel_drops = bench_sink_get_kernel_drops (sink);
  return result;
}

/* The most spans/s n producers can deliver on n_cpus cores, given the CPU
 * per span (ns) of producing, of the flush thread and of the sink: each
 * producer is one thread, the flush thread and the sink one each, and all
 * of them share the cores. */
static double
rate_bound (guint  n_producers,
            guint  n_cpus,
            double producer_ns,
            double flush_ns,
            double sink_ns)
{
  double bound = n_producers / producer_ns;

  bound = MIN (bound, 1 / flush_ns);
  bound = MIN (bound, 1 / sink_ns);
  bound = MIN (bound, n_cpus / (producer_ns + flush_ns + sink_ns));
  return bound;
}

/* The machine's own ceiling: how much faster two threads of plain
 * arithmetic, sharing nothing, go than one, measured now. On a shared
 * machine other work takes its share, and no 2-producer ratio can beat this
 * one. */
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

typedef enum {
  ONE_PRODUCER,
  SHARED_ROOT,
  OWN_ROOTS,
  OWN_ROOTS_HALVES,
  N_CONFIGS
} ConfigId;

typedef struct {
  const char *option;           /* the name that runs it alone */
  const char *name;
  guint       n_producers;
  gboolean    shared_root;
  gboolean    fixed_halves;
} Config;

static const Config configs[N_CONFIGS] = {
  [ONE_PRODUCER] = { "one-producer", "1 producer", 1, TRUE, FALSE },
  [SHARED_ROOT] = { "shared-root", "2 producers (shared root)", 2, TRUE, FALSE },
  [OWN_ROOTS] = { "own-roots", "2 producers (own roots)", 2, FALSE, FALSE },
  [OWN_ROOTS_HALVES] = { "own-roots-halves", "2 producers (own, halves)", 2, FALSE, TRUE },
};

/* Every run of one configuration, for its medians and its accounting. */
typedef struct {
  double  spans_per_s[N_ROUNDS];
  double  cpu_ns[N_ROUNDS];
  double  producer_ns[N_ROUNDS];
  double  flush_ns[N_ROUNDS];
  double  sink_ns[N_ROUNDS];
  double  at_once[N_ROUNDS];
  guint64 reported;
  guint64 received;
  guint64 lost;
  guint64 kernel_drops;
  guint64 unaccounted;          /* in the faulty runs, as magnitudes */
  guint   n_broken_runs;
} ConfigRuns;

static void
print_ratio (const char *what,
             ConfigId    config,
             double     *per_round,
             gboolean    at_most,
             double      target)
{
  double ratio = bench_median (per_round, N_ROUNDS);

  g_print ("target: %s %s / 1 producer: %.2fx (median of %d rounds; target %s %.1fx: %s)\n",
           what, configs[config].name, ratio, N_ROUNDS, at_most ? "<=" : ">=", target,
           bench_verdict (at_most ? ratio <= target : ratio >= target));
}

int
main (int   argc,
      char *argv[])
{
  gboolean selected[N_CONFIGS];
  gboolean all_configs = argc < 2;
  ConfigRuns runs[N_CONFIGS] = { 0 };
  double cpu_ratio[N_CONFIGS][N_ROUNDS], rate_ratio[N_CONFIGS][N_ROUNDS], bound[N_ROUNDS];
  guint n_cpus = g_get_num_processors ();
  gboolean broken = FALSE;
  gboolean any_selected = FALSE;

  for (guint c = 0; c < N_CONFIGS; c++)
    {
      selected[c] = all_configs || g_strcmp0 (argv[1], configs[c].option) == 0;
      any_selected |= selected[c];
    }
  if (!any_selected)
    {
      g_printerr ("usage: %s [one-producer|shared-root|own-roots|own-roots-halves]\n", argv[0]);
      return 2;
    }

  g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  bench_wait_when_queue_full ();
  run (1, TRUE, FALSE); /* warm up */

  g_print ("throughput: %d spans a run, %d rounds, each running the configurations one after the "
           "other; %u CPUs\n", N_SPANS_PER_RUN, N_ROUNDS, n_cpus);
  for (guint r = 0; r < N_ROUNDS; r++)
    {
      RunResult results[N_CONFIGS] = { 0 };

      for (guint c = 0; c < N_CONFIGS; c++)
        {
          ConfigRuns *config_runs = &runs[c];
          RunResult *result = &results[c];

          if (!selected[c])
            continue;
          *result = run (configs[c].n_producers, configs[c].shared_root,
                         configs[c].fixed_halves);
          config_runs->spans_per_s[r] = result->spans_per_s;
          config_runs->cpu_ns[r] = result->cpu_ns_per_span;
          config_runs->producer_ns[r] = result->producer_ns_per_span;
          config_runs->flush_ns[r] = result->flush_ns_per_span;
          config_runs->sink_ns[r] = result->sink_ns_per_span;
          config_runs->at_once[r] = result->producers_at_once;
          config_runs->reported += result->reported;
          config_runs->received += result->received;
          config_runs->lost += result->lost;
          config_runs->kernel_drops += result->kernel_drops;
          /* Spans neither received nor counted lost by the tracer are a
           * fault, unless the kernel dropped datagrams on the sink's socket
           * (it counts datagrams, not spans); spans received and not
           * reported are one always. */
          if (result->missing < 0 || (result->missing > 0 && result->kernel_drops == 0))
            {
              config_runs->unaccounted += ABS (result->missing);
              config_runs->n_broken_runs++;
            }

          g_print ("throughput: round %u, %-26s %8.0f spans/s delivered, %4.0f ns CPU/span "
                   "(producers %4.0f, flush thread %4.0f; sink %4.0f), producers %.2f at once, "
                   "the first made %.0f%%; received %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " reported, %"
                   G_GUINT64_FORMAT " lost, %" G_GUINT64_FORMAT " kernel drops; %"
                   G_GUINT64_FORMAT " waits for room\n",
                   r + 1, configs[c].name, result->spans_per_s, result->cpu_ns_per_span,
                   result->producer_ns_per_span, result->flush_ns_per_span,
                   result->sink_ns_per_span,
                   result->producers_at_once, 100 * result->first_share, result->received,
                   result->reported, result->lost, result->kernel_drops, result->waited);
        }

      if (!all_configs)
        continue;
      for (guint c = SHARED_ROOT; c < N_CONFIGS; c++)
        {
          cpu_ratio[c][r] = results[c].cpu_ns_per_span / results[ONE_PRODUCER].cpu_ns_per_span;
          rate_ratio[c][r] = results[c].spans_per_s / results[ONE_PRODUCER].spans_per_s;
        }
      bound[r] = rate_bound (2, n_cpus, results[ONE_PRODUCER].producer_ns_per_span,
                             results[ONE_PRODUCER].flush_ns_per_span,
                             results[ONE_PRODUCER].sink_ns_per_span)
                 / rate_bound (1, n_cpus, results[ONE_PRODUCER].producer_ns_per_span,
                               results[ONE_PRODUCER].flush_ns_per_span,
                               results[ONE_PRODUCER].sink_ns_per_span);
    }

  for (guint c = 0; c < N_CONFIGS; c++)
    {
      ConfigRuns *config_runs = &runs[c];

      if (!selected[c])
        continue;
      g_print ("throughput: %-26s %8.0f spans/s delivered, %4.0f ns CPU/span (producers %4.0f, "
               "flush thread %4.0f; sink %4.0f), producers %.2f at once, medians of %d runs\n",
               configs[c].name, bench_median (config_runs->spans_per_s, N_ROUNDS),
               bench_median (config_runs->cpu_ns, N_ROUNDS),
               bench_median (config_runs->producer_ns, N_ROUNDS),
               bench_median (config_runs->flush_ns, N_ROUNDS),
               bench_median (config_runs->sink_ns, N_ROUNDS),
               bench_median (config_runs->at_once, N_ROUNDS), N_ROUNDS);
      g_print ("throughput: %-26s received %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
               " spans reported, %" G_GUINT64_FORMAT " counted lost by the tracer, %"
               G_GUINT64_FORMAT " datagrams dropped by the kernel, %" G_GUINT64_FORMAT
               " unaccounted for (all runs): %s\n",
               configs[c].name, config_runs->received, config_runs->reported, config_runs->lost,
               config_runs->kernel_drops, config_runs->unaccounted,
               config_runs->n_broken_runs == 0 ? "ok" : "BROKEN");
      broken |= config_runs->n_broken_runs > 0;
    }

  if (all_configs)
    {
      print_ratio ("cpu/span", SHARED_ROOT, cpu_ratio[SHARED_ROOT], TRUE, TARGET_CPU_RATIO);
      print_ratio ("cpu/span", OWN_ROOTS, cpu_ratio[OWN_ROOTS], TRUE, TARGET_CPU_RATIO);
      print_ratio ("spans/s", SHARED_ROOT, rate_ratio[SHARED_ROOT], FALSE, TARGET_RATE_RATIO);
      print_ratio ("spans/s", OWN_ROOTS, rate_ratio[OWN_ROOTS], FALSE, TARGET_RATE_RATIO);
      g_print ("throughput: spans/s %s / 1 producer: %.2fx (median of %d rounds; not a target: "
               "see the top of bench-throughput.c)\n", configs[OWN_ROOTS_HALVES].name,
               bench_median (rate_ratio[OWN_ROOTS_HALVES], N_ROUNDS), N_ROUNDS);
      g_print ("throughput: the most spans/s 2 producers could deliver against 1 on %u CPUs, "
               "from the 1-producer runs' CPU per span: %.2fx (median of %d rounds)\n",
               n_cpus, bench_median (bound, N_ROUNDS), N_ROUNDS);
      g_print ("throughput: the machine's ceiling now: 2 threads of plain arithmetic run %.2fx as "
               "fast as 1 (median of 3; other load on the machine lowers it)\n",
               machine_ratio ());
    }

  if (broken)
    {
      g_printerr ("throughput: spans were lost without being counted, or received twice\n");
      return 1;
    }
  return 0;
}
