/* bench-delivery.c: what reaches a real receiver, not only what was sent
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose delivery
 *
 * "Sent" is what the tracer's socket accepted; "delivered" is what a
 * receiver read and decoded. Each case here runs against its own
 * `gluetool-trace listen` process (listener.h), so that the receiver's
 * counts are the case's, and prints per case:
 *
 * - finished: the spans the tracer was handed (spans_reported), root
 *   included;
 * - dropped by the client: every loss the tracer counted (a full queue,
 *   too large, failed to send, unfinished at close);
 * - received at listen: the summary's span count, with its seqNo gaps and
 *   the last ClientStats the client sent;
 * - kernel drops at listen: the summary's figure when it gives one ("n/a"
 *   otherwise), and the socket's own count from /proc/net/udp;
 * - delivered: received / finished, against the target of 100%.
 *
 * The cases: bursts of 100k and 1M spans from one thread flat out, with the
 * default (a full queue drops: information) and with a queue-full wait of
 * 1 s (the target); thread churn, one short-lived thread at a time and
 * waves of eight; eight producers at once, waiting when the queue is full;
 * and a process that exits without closing its tracer, from main() and
 * from a worker thread (the benchmark runs itself again for those).
 *
 * Every case runs twice: over UDP to the receiver's agent port, and over
 * HTTP to its collector endpoint (POST /api/traces, the tracer's
 * `endpoint`), with the same target; each also prints the process's CPU
 * time per span (user and system, producers and the tracer's thread, from
 * the first span to the end of close()), the two transports side by side.
 *
 * Prints plain figures against targets and asserts no time: a missed target
 * prints MISSED and the program still exits 0. Arguments pick cases by a
 * part of their names: `bench-delivery churn exit`; `--udp` or `--http`
 * keeps one transport.
 */

#include <gluetool/gluetool.h>

#include <gio/gio.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "measure.h"
#include "workload.h"

/* Far longer than the flush thread is ever kept from a core. */
#define WAIT_S 1.0
/* close()'s wait for the queue to empty. */
#define CLOSE_TIMEOUT_S 60.0
/* How long the receiver may take to read what the kernel holds for it. */
#define DRAIN_TIMEOUT_S 30.0

/* Runs of each case; its target must be met in every one. */
#define N_RUNS 3

#define EXIT_CHILD_ARG "--exit-child"
#define EXIT_CHILD_SPANS 1000

typedef struct _Case Case;

typedef enum {
  TRANSPORT_UDP,
  TRANSPORT_HTTP,
  N_TRANSPORTS,
} Transport;

static const char *const transport_names[N_TRANSPORTS] = { "udp", "http" };

/* The transport of the run in progress (one at a time). */
static Transport transport;

static char *
endpoint_for (guint16 http_port)
{
  return g_strdup_printf ("http://127.0.0.1:%u/api/traces", http_port);
}

/* CPU time of the whole process so far, user and system, in seconds. */
static double
process_cpu_s (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return (double) usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
         + (double) usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

/* What a case's producers did, as the tracer counted it. */
typedef struct {
  guint64 finished;         /* spans_reported */
  guint64 dropped_full;     /* spans_dropped_queue_full */
  guint64 dropped;          /* every loss the tracer counted */
  guint64 waited;           /* spans_waited_for_room */
  guint64 datagrams_sent;
  double  caller_s;         /* the producers' loop, start to last join */
  double  cpu_s;            /* the process's CPU time, first span to close(); 0: not known */
} ClientResult;

struct _Case {
  const char *name;
  /* Makes the spans under @root (the in-process cases). */
  void      (*produce)    (const Case *c, GluetoolAction *root);
  /* Or: runs a child process against @port and fills @out. */
  gboolean  (*run_child)  (const Case *c, guint16 port, ClientResult *out, GError **error);
  guint       n_threads;         /* threads in all (0: the main thread) */
  guint       at_once;           /* threads running at the same time */
  guint       spans_per_thread;  /* or spans from the main thread */
  double      queue_full_wait_s; /* -1: the tracer's default (no wait) */
  gboolean    has_target;        /* 100% delivered */
  gboolean    target_no_drops;   /* and 0 dropped by the client */
  const char *child_mode;        /* for run_child */
};

/* ---- Producers ----------------------------------------------------------------- */

typedef struct {
  GluetoolAction *root;
  guint           n_spans;
} ProducerArgs;

static gpointer
producer_thread (gpointer data)
{
  const ProducerArgs *args = data;

  for (guint i = 0; i < args->n_spans; i++)
    bench_report_span (args->root, i);
  return NULL;
}

/* One thread, flat out. */
static void
produce_burst (const Case     *c,
               GluetoolAction *root)
{
  ProducerArgs args = { root, c->spans_per_thread };

  producer_thread (&args);
}

/* n_threads in waves of at_once: a wave is started, then joined, then the
 * next. With at_once 1, one short-lived thread at a time. */
static void
produce_threads (const Case     *c,
                 GluetoolAction *root)
{
  ProducerArgs args = { root, c->spans_per_thread };
  g_autofree GThread **wave = g_new0 (GThread *, c->at_once);

  for (guint started = 0; started < c->n_threads; started += c->at_once)
    {
      guint n = MIN (c->at_once, c->n_threads - started);

      for (guint t = 0; t < n; t++)
        wave[t] = g_thread_new ("bench-producer", producer_thread, &args);
      for (guint t = 0; t < n; t++)
        g_thread_join (wave[t]);
    }
}

/* ---- A process that exits without close() ------------------------------------- */

/* In the child: the tracer, the spans, and what it counted, on stdout for
 * the parent, before it leaves without close() or unref. */
static void
exit_child_report_spans (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *endpoint = endpoint_for (port);
  GluetoolTracer *tracer = transport == TRANSPORT_HTTP
                             ? g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                               "endpoint", endpoint, NULL)
                             : gluetool_tracer_new (NULL, "127.0.0.1", port, &error);
  GluetoolAction *root;
  GluetoolTracerStats stats;

  if (tracer == NULL)
    g_error ("tracer: %s", error->message);

  root = gluetool_action_new ("root", NULL);
  for (guint i = 0; i < EXIT_CHILD_SPANS; i++)
    bench_report_span (root, i);
  gluetool_action_finish (root, NULL);
  g_object_unref (root);

  gluetool_tracer_get_stats (tracer, &stats);
  printf ("finished %" G_GUINT64_FORMAT " dropped %" G_GUINT64_FORMAT " queue-full %"
          G_GUINT64_FORMAT " datagrams %" G_GUINT64_FORMAT "\n", stats.spans_reported,
          gluetool_tracer_stats_get_lost (&stats), stats.spans_dropped_queue_full,
          stats.datagrams_sent);
  fflush (stdout);
  /* The tracer is left as it is, as a program that forgets it would. */
}

static gpointer
exit_child_worker (gpointer data)
{
  exit_child_report_spans ((guint16) GPOINTER_TO_UINT (data));
  exit (EXIT_SUCCESS);
}

/* `bench-delivery --exit-child main|thread PORT udp|http`. */
static int
exit_child_main (const char *mode,
                 const char *port_text,
                 const char *transport_name)
{
  guint16 port = (guint16) g_ascii_strtoull (port_text, NULL, 10);

  transport = g_str_equal (transport_name, "http") ? TRANSPORT_HTTP : TRANSPORT_UDP;
  if (g_str_equal (mode, "main"))
    {
      exit_child_report_spans (port);
      return EXIT_SUCCESS;
    }
  if (g_str_equal (mode, "thread"))
    {
      /* exit() from the worker while the main thread waits for it. */
      g_thread_join (g_thread_new ("bench-exit", exit_child_worker, GUINT_TO_POINTER (port)));
      g_error ("the worker thread returned instead of exiting");
    }
  g_error ("unknown mode \"%s\"", mode);
}

static gboolean
run_exit_child (const Case    *c,
                guint16        port,
                ClientResult  *out,
                GError       **error)
{
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", error);
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *child_out = NULL;
  g_autoptr(GSubprocess) child = NULL;
  unsigned long long finished, dropped, dropped_full, datagrams;
  gint64 start_ns;

  if (self_exe == NULL)
    return FALSE;
  start_ns = bench_monotonic_ns ();
  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, error,
                            self_exe, EXIT_CHILD_ARG, c->child_mode, port_text,
                            transport_names[transport], NULL);
  if (child == NULL || !g_subprocess_communicate_utf8 (child, NULL, NULL, &child_out, NULL, error))
    return FALSE;
  out->caller_s = (bench_monotonic_ns () - start_ns) / 1e9;

  if (!g_subprocess_get_if_exited (child) || g_subprocess_get_exit_status (child) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the child did not exit with 0");
      return FALSE;
    }
  if (child_out == NULL
      || sscanf (child_out, "finished %llu dropped %llu queue-full %llu datagrams %llu",
                 &finished, &dropped, &dropped_full, &datagrams) != 4)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the child said \"%s\"",
                   child_out != NULL ? child_out : "");
      return FALSE;
    }
  out->finished = finished;
  out->dropped = dropped;
  out->dropped_full = dropped_full;
  /* Those sent before it left; what an exit-time flush sends is not in them. */
  out->datagrams_sent = datagrams;
  return TRUE;
}

/* ---- The cases ----------------------------------------------------------------- */

static const Case cases[] = {
  { "burst 100k, default (no wait)", produce_burst, NULL, 0, 1, 100000, -1.0, FALSE, FALSE, NULL },
  { "burst 100k, queue-full-wait 1 s", produce_burst, NULL, 0, 1, 100000, WAIT_S, TRUE, FALSE, NULL },
  { "burst 1M, default (no wait)", produce_burst, NULL, 0, 1, 1000000, -1.0, FALSE, FALSE, NULL },
  { "burst 1M, queue-full-wait 1 s", produce_burst, NULL, 0, 1, 1000000, WAIT_S, TRUE, FALSE, NULL },
  { "churn, 20000 threads x 5 spans, one at a time", produce_threads, NULL,
    20000, 1, 5, -1.0, TRUE, TRUE, NULL },
  { "churn, 4000 threads x 100 spans, 8 at a time", produce_threads, NULL,
    4000, 8, 100, -1.0, TRUE, FALSE, NULL },
  { "8 producers x 500k spans at once, queue-full-wait 1 s", produce_threads, NULL,
    8, 8, 500000, WAIT_S, TRUE, FALSE, NULL },
  { "exit without close(), returning from main()", NULL, run_exit_child,
    0, 1, EXIT_CHILD_SPANS, -1.0, TRUE, FALSE, "main" },
  { "exit without close(), exit() from a worker thread", NULL, run_exit_child,
    0, 1, EXIT_CHILD_SPANS, -1.0, TRUE, FALSE, "thread" },
};

/* In this process: a tracer of the case's own, which becomes the process
 * default until it is closed, the spans under one root, then close(). */
static void
run_in_process (const Case   *c,
                guint16       port,
                ClientResult *out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autofree char *endpoint = endpoint_for (port);
  GluetoolAction *root;
  GluetoolTracerStats stats;
  gint64 start_ns;
  double start_cpu_s;

  if (transport == TRANSPORT_HTTP)
    tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                             "service-name", "bench-delivery",
                             "endpoint", endpoint,
                             "queue-full-wait", c->queue_full_wait_s,
                             NULL);
  else
    tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                             "service-name", "bench-delivery",
                             "reporting-host", "127.0.0.1",
                             "reporting-port", (guint) port,
                             "queue-full-wait", c->queue_full_wait_s,
                             NULL);
  g_assert_no_error (error);

  root = gluetool_action_new ("root", NULL);
  start_cpu_s = process_cpu_s ();
  start_ns = bench_monotonic_ns ();
  c->produce (c, root);
  out->caller_s = (bench_monotonic_ns () - start_ns) / 1e9;
  gluetool_action_finish (root, NULL);
  g_object_unref (root);

  /* Its failure (spans lost) is in the stats. */
  if (!gluetool_tracer_close (tracer, CLOSE_TIMEOUT_S, &error))
    g_clear_error (&error);
  out->cpu_s = process_cpu_s () - start_cpu_s;
  gluetool_tracer_get_stats (tracer, &stats);
  out->finished = stats.spans_reported;
  out->dropped_full = stats.spans_dropped_queue_full;
  out->dropped = gluetool_tracer_stats_get_lost (&stats);
  out->waited = stats.spans_waited_for_room;
  out->datagrams_sent = stats.datagrams_sent;
}

static char *
describe_kernel_drops (const BenchListenerCounts *counts)
{
  g_autofree char *summary = counts->have_kernel_drops
                               ? g_strdup_printf ("%" G_GUINT64_FORMAT, counts->kernel_drops)
                               : g_strdup ("n/a");
  g_autofree char *socket = counts->have_socket_drops
                              ? g_strdup_printf ("%" G_GUINT64_FORMAT, counts->socket_drops)
                              : g_strdup ("n/a");

  return g_strdup_printf ("%s (the socket's drops in /proc/net/udp: %s)", summary, socket);
}

typedef struct {
  ClientResult        client;
  BenchListenerCounts listen;
  double              delivered_pct;
} RunResult;

/* One run of @c against a receiver of its own; prints its line. */
static RunResult
run_once (const Case *c,
          guint       run)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BenchListener) listener = NULL;
  g_autofree char *kernel = NULL;
  RunResult result = { 0 };
  const BenchListenerCounts *listen = &result.listen;
  const ClientResult *client = &result.client;
  guint16 port;

  listener = bench_listener_start (&error);
  if (listener == NULL)
    g_error ("delivery: %s: the receiver: %s", c->name, error->message);

  port = transport == TRANSPORT_HTTP ? bench_listener_get_http_port (listener)
                                     : bench_listener_get_port (listener);
  if (c->run_child != NULL)
    {
      if (!c->run_child (c, port, &result.client, &error))
        {
          g_print ("delivery: %s, run %u: the child failed: %s\n", c->name, run, error->message);
          g_clear_error (&error);
        }
    }
  else
    run_in_process (c, port, &result.client);

  if (!bench_listener_stop (listener, DRAIN_TIMEOUT_S, &result.listen, &error))
    g_error ("delivery: %s: the receiver: %s", c->name, error->message);

  if (client->finished > 0)
    result.delivered_pct = 100.0 * (double) listen->spans / (double) client->finished;
  kernel = describe_kernel_drops (listen);
  g_print ("delivery: %s, %s, run %u: finished %" G_GUINT64_FORMAT ", dropped by the client %"
           G_GUINT64_FORMAT " (queue full %" G_GUINT64_FORMAT "), waited for room %"
           G_GUINT64_FORMAT ", received at listen %" G_GUINT64_FORMAT ", datagrams sent %"
           G_GUINT64_FORMAT " and received %" G_GUINT64_FORMAT ", kernel drops at "
           "listen %s, batches missing (seqNo) %" G_GUINT64_FORMAT ", ClientStats %s%"
           G_GUINT64_FORMAT " queue full, %" G_GUINT64_FORMAT " other, clients %u%s; "
           "delivered %.2f%%; %.3f s in the producers, %.2f us of CPU per span\n",
           c->name, transport_names[transport], run, client->finished, client->dropped, client->dropped_full,
           client->waited, listen->spans, client->datagrams_sent, listen->datagrams, kernel, listen->batches_missing,
           listen->have_client_stats ? "" : "(none) ", listen->client_dropped_full,
           listen->client_dropped_other, listen->n_clients,
           listen->drained ? "" : ", the receiver's queue never emptied",
           result.delivered_pct, client->caller_s,
           client->finished > 0 ? client->cpu_s * 1e6 / (double) client->finished : 0.0);
  return result;
}

/* Whether @result meets @c's target. */
static gboolean
meets_target (const Case      *c,
              const RunResult *result)
{
  return result->client.finished > 0
         && result->listen.spans == result->client.finished
         && (!c->target_no_drops || result->client.dropped == 0);
}

/* Runs @c N_RUNS times over the current transport and prints its medians
 * and its target; *@cpu_us_per_span: the median CPU time per span (0 when
 * not known). Returns whether the target was missed. */
static gboolean
run_case (const Case *c,
          double     *cpu_us_per_span)
{
  double delivered[N_RUNS], dropped[N_RUNS], received[N_RUNS], socket_drops[N_RUNS];
  double cpu[N_RUNS];
  const char *name = transport_names[transport];
  RunResult worst = { 0 };
  gboolean met = TRUE;

  for (guint r = 0; r < N_RUNS; r++)
    {
      RunResult result = run_once (c, r);

      delivered[r] = result.delivered_pct;
      dropped[r] = result.client.dropped;
      received[r] = result.listen.spans;
      socket_drops[r] = result.listen.socket_drops;
      cpu[r] = result.client.finished > 0
               ? result.client.cpu_s * 1e6 / (double) result.client.finished : 0.0;
      if (r == 0 || result.delivered_pct < worst.delivered_pct
          || (result.delivered_pct == worst.delivered_pct
              && result.client.dropped > worst.client.dropped))
        worst = result;
      met = met && meets_target (c, &result);
    }

  *cpu_us_per_span = bench_median (cpu, N_RUNS);
  g_print ("delivery: %s, %s: median of %d runs: dropped by the client %.0f, received %.0f, "
           "socket drops at listen %.0f, delivered %.2f%%\n",
           c->name, name, N_RUNS, bench_median (dropped, N_RUNS), bench_median (received, N_RUNS),
           bench_median (socket_drops, N_RUNS), bench_median (delivered, N_RUNS));

  if (!c->has_target)
    {
      g_print ("delivery: %s, %s: no target (by default a full queue drops rather than wait); "
               "worst run dropped %" G_GUINT64_FORMAT " and delivered %.2f%%\n",
               c->name, name, worst.client.dropped, worst.delivered_pct);
      return FALSE;
    }

  g_print ("target: %s, %s: 100%% delivered%s, every run: worst run %.2f%% (%" G_GUINT64_FORMAT
           " of %" G_GUINT64_FORMAT "), dropped by the client %" G_GUINT64_FORMAT ": %s\n",
           c->name, name, c->target_no_drops ? " and 0 dropped" : "", worst.delivered_pct,
           worst.listen.spans, worst.client.finished, worst.client.dropped,
           bench_verdict (met));
  return !met;
}

/* With no arguments every case runs; else those whose name contains one
 * of them (`bench-delivery churn exit`). */
static gboolean
case_is_chosen (const Case  *c,
                int          argc,
                char       **argv)
{
  gboolean any = FALSE;

  for (int i = 1; i < argc; i++)
    {
      if (g_str_has_prefix (argv[i], "--"))
        continue;
      any = TRUE;
      if (strstr (c->name, argv[i]) != NULL)
        return TRUE;
    }
  return !any;
}

/* `--udp` or `--http` keeps that one; neither, both. */
static gboolean
transport_is_chosen (Transport t,
                     int       argc,
                     char    **argv)
{
  gboolean any = FALSE;

  for (int i = 1; i < argc; i++)
    if (g_str_has_prefix (argv[i], "--"))
      {
        any = TRUE;
        if (g_str_equal (argv[i] + 2, transport_names[t]))
          return TRUE;
      }
  return !any;
}

static void
print_setting (const char *path)
{
  g_autofree char *text = NULL;

  if (g_file_get_contents (path, &text, NULL, NULL))
    g_print ("delivery: %s = %s", path, text);
}

int
main (int    argc,
      char **argv)
{
  guint n_missed = 0, n_targets = 0;

  g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  g_unsetenv ("GLUETOOL_TRACING_QUEUE_FULL_WAIT");
  /* Root actions start traces of their own, not a caller's. */
  g_unsetenv ("TRACEPARENT");

  if (argc == 5 && g_str_equal (argv[1], EXIT_CHILD_ARG))
    return exit_child_main (argv[2], argv[3], argv[4]);

  /* The receiver asks for a 4 MiB receive buffer, which this caps. */
  print_setting ("/proc/sys/net/core/rmem_max");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      double cpu_us[N_TRANSPORTS] = { 0 };

      if (!case_is_chosen (&cases[i], argc, argv))
        continue;
      for (transport = 0; transport < N_TRANSPORTS; transport++)
        {
          if (!transport_is_chosen (transport, argc, argv))
            continue;
          n_targets += cases[i].has_target;
          n_missed += run_case (&cases[i], &cpu_us[transport]);
        }
      if (cpu_us[TRANSPORT_UDP] > 0 && cpu_us[TRANSPORT_HTTP] > 0)
        g_print ("delivery: %s: CPU per span (median, the whole process): UDP %.2f us, "
                 "HTTP %.2f us (%.2fx)\n", cases[i].name, cpu_us[TRANSPORT_UDP],
                 cpu_us[TRANSPORT_HTTP], cpu_us[TRANSPORT_HTTP] / cpu_us[TRANSPORT_UDP]);
    }
  g_print ("delivery: %u of %u targets met%s\n", n_targets - n_missed, n_targets,
           n_missed > 0 ? ", the others MISSED" : "");
  return EXIT_SUCCESS;
}
