/* bench-e2e.c: the whole path, from gluetool_action_new() to a datagram on a
 * loopback sink, through the public API
 *
 * SPDX-License-Identifier: MIT
 *
 * Each run makes a tracer, reports N spans (new + 3 tags + finish, each a
 * child of one root) from one thread, closes the tracer (which flushes) and
 * then decodes every datagram the sink kept with the c_glib reference, so
 * the figures only count runs in which every span arrived.
 *
 * CPU is the whole process's (getrusage: the caller and the flush thread)
 * minus the sink thread's own, so what is left is what the library costs.
 */

#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <gluetool/gluetool.h>

#include "reference.h"

#define N_RUNS 7

typedef struct {
  GSocket      *socket;
  GCancellable *cancellable;
  GPtrArray    *datagrams;     /* (element-type GBytes) the sink thread's until joined */
  gint          n_datagrams;   /* (atomic) */
  gint64        cpu_ns;        /* the sink thread's own CPU time */
} Sink;

static gint64
thread_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static gint64
process_cpu_ns (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return ((gint64) usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000
         + ((gint64) usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000;
}

static gpointer
sink_thread (gpointer data)
{
  Sink *sink = data;
  guint8 *buffer = g_malloc (70000);

  for (;;)
    {
      gssize n = g_socket_receive (sink->socket, (char *) buffer, 70000, sink->cancellable, NULL);

      if (n < 0)
        {
          if (g_cancellable_is_cancelled (sink->cancellable))
            break;
          continue;
        }
      g_ptr_array_add (sink->datagrams, g_bytes_new (buffer, (gsize) n));
      g_atomic_int_inc (&sink->n_datagrams);
    }
  sink->cpu_ns = thread_cpu_ns ();
  g_free (buffer);
  return NULL;
}

static guint16
sink_start (Sink *sink)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  int size = 64 * 1024 * 1024;

  sink->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                               G_SOCKET_PROTOCOL_UDP, NULL);
  /* Root may go past rmem_max; the sink must not be what drops. */
  if (setsockopt (g_socket_get_fd (sink->socket), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt (g_socket_get_fd (sink->socket), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  g_socket_bind (sink->socket, address, FALSE, NULL);
  bound = g_socket_get_local_address (sink->socket, NULL);
  sink->cancellable = g_cancellable_new ();
  sink->datagrams = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static guint
sink_count_spans (Sink *sink)
{
  guint n = 0;

  for (guint i = 0; i < sink->datagrams->len; i++)
    {
      GBytes *bytes = g_ptr_array_index (sink->datagrams, i);
      gsize len;
      const guint8 *data = g_bytes_get_data (bytes, &len);
      g_autoptr(JaegerBatch) batch = gluetool_reference_decode_datagram (data, len, NULL, NULL, NULL);

      if (batch != NULL)
        n += batch->spans->len;
    }
  return n;
}

typedef struct {
  double wall_s;
  double cpu_ns_per_span;
  double caller_ns_per_span;
  guint  received;
  guint  datagrams;
  guint64 lost;
} RunResult;

static RunResult
run (guint n_spans)
{
  Sink sink = { 0 };
  guint16 port = sink_start (&sink);
  GThread *thread = g_thread_new ("sink", sink_thread, &sink);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = gluetool_tracer_new ("bench", "127.0.0.1", port, &error);
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  GluetoolTracerStats stats;
  RunResult result = { 0 };
  gint64 cpu_start, caller_start, wall_start, cpu_end, caller_end, wall_end;

  g_assert_no_error (error);

  wall_start = g_get_monotonic_time ();
  cpu_start = process_cpu_ns ();
  caller_start = thread_cpu_ns ();
  for (guint i = 0; i < n_spans; i++)
    {
      GluetoolAction *action = gluetool_action_new ("bench span", root);

      gluetool_action_set_tag_string (action, "component", "bench");
      gluetool_action_set_tag_int64 (action, "i", i);
      gluetool_action_set_tag_boolean (action, "ok", TRUE);
      gluetool_action_finish (action, NULL);
      g_object_unref (action);
    }
  caller_end = thread_cpu_ns ();
  gluetool_action_finish (root, NULL);
  if (!gluetool_tracer_close (tracer, 60, &error))
    g_printerr ("close: %s\n", error->message);
  wall_end = g_get_monotonic_time ();

  /* Every datagram is on loopback by now; stop the sink once it has read
   * them all, or after a while if the kernel dropped some. */
  gluetool_tracer_get_stats (tracer, &stats);
  while ((guint64) g_atomic_int_get (&sink.n_datagrams) < stats.datagrams_sent
         && g_get_monotonic_time () - wall_end < 10 * G_USEC_PER_SEC)
    g_thread_yield ();
  g_cancellable_cancel (sink.cancellable);
  g_thread_join (thread);
  cpu_end = process_cpu_ns ();

  result.wall_s = (wall_end - wall_start) / 1e6;
  result.cpu_ns_per_span = (double) (cpu_end - cpu_start - sink.cpu_ns) / n_spans;
  result.caller_ns_per_span = (double) (caller_end - caller_start) / n_spans;
  result.received = sink_count_spans (&sink);
  result.datagrams = sink.datagrams->len;
  result.lost = gluetool_tracer_stats_get_lost (&stats);

  g_ptr_array_unref (sink.datagrams);
  g_object_unref (sink.cancellable);
  g_object_unref (sink.socket);
  return result;
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (double *values,
        guint   n)
{
  qsort (values, n, sizeof *values, compare_doubles);
  return values[n / 2];
}

int
main (void)
{
  const guint sizes[] = { 10000, 100000 };
  double cpu_medians[G_N_ELEMENTS (sizes)];

  g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  run (2000); /* warm up: page in the code, the ring and the allocator */

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      double cpu[N_RUNS], caller[N_RUNS], rate[N_RUNS];
      guint n = sizes[s];
      gboolean all_arrived = TRUE;

      for (guint r = 0; r < N_RUNS; r++)
        {
          RunResult result = run (n);

          cpu[r] = result.cpu_ns_per_span;
          caller[r] = result.caller_ns_per_span;
          rate[r] = n / result.wall_s;
          /* n spans and the root. */
          if (result.received != n + 1 || result.lost != 0)
            {
              all_arrived = FALSE;
              g_print ("e2e: run %u of %u spans: received %u, lost %" G_GUINT64_FORMAT "\n",
                       r, n, result.received, result.lost);
            }
        }
      cpu_medians[s] = median (cpu, N_RUNS);
      g_print ("e2e: N=%u spans (new + 3 tags + finish), median of %d runs: "
               "%.0f ns CPU/span (whole process less the sink), %.0f ns/span in the caller, "
               "%.0f spans/s wall, every span received: %s\n",
               n, N_RUNS, cpu_medians[s], median (caller, N_RUNS), median (rate, N_RUNS),
               all_arrived ? "yes" : "NO");
    }
  g_print ("e2e: target < 1500 ns CPU/span on one producer thread: %.0f ns at N=%u\n",
           cpu_medians[G_N_ELEMENTS (sizes) - 1], sizes[G_N_ELEMENTS (sizes) - 1]);
  return 0;
}
