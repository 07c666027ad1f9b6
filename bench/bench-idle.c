/* bench-idle.c: what the flush thread does when spans are few
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose idle
 *
 * A partial datagram goes out at the flush interval (100 ms by default),
 * which bounds what a process that dies without exit handlers loses. Two
 * figures say whether the idle state pays for that short interval:
 *
 * - wake-ups of an idle tracer's thread, a second, with no span at all:
 *   its voluntary context switches (/proc/self/task/TID/status). Waking
 *   at every interval would be 10 a second; idle, it is 1.
 * - how long a span finished after a quiet time (a few intervals without
 *   any) takes to reach a loopback sink: woken by the push, the thread
 *   sends it at once, instead of at the next interval (50 ms on average).
 *
 * And one that says what spans trickling in cost: the thread's wake-ups a
 * second while one span comes every 20 ms (about the interval's 10 plus
 * nothing per span: a thread that read a span in its last interval is not
 * idle, so no push wakes it).
 *
 * Prints plain figures against targets; asserts no time.
 */

#include <stdio.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "measure.h"
#include "sink.h"

#define QUIET_ROUNDS    15
#define QUIET_S         0.35
#define IDLE_WATCH_S    3.0
#define TRICKLE_S       2.0
#define TRICKLE_EVERY_S 0.02

/* The flush thread's id: the thread named "gluetool-flush". */
static char *
find_flush_thread (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;

  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_has_prefix (comm, "gluetool-flush"))
        return g_strdup (tid);
    }
  return NULL;
}

/* The thread's voluntary context switches so far: each is a sleep it
 * woke from. */
static guint64
voluntary_switches (const char *tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/status", tid);
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents (path, &status, NULL, NULL))
    return 0;
  line = strstr (status, "voluntary_ctxt_switches:");
  return line != NULL ? g_ascii_strtoull (line + strlen ("voluntary_ctxt_switches:"), NULL, 10) : 0;
}

static void
finish_one (const char *label)
{
  g_autoptr(GluetoolAction) action = gluetool_action_new (label, NULL);

  if (!gluetool_action_finish (action, NULL))
    g_error ("finish failed");
}

int
main (void)
{
  g_autoptr(BenchSink) sink = bench_sink_new (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autofree char *tid = NULL;
  double latencies_ms[QUIET_ROUNDS];
  double interval_s = 0.0;
  guint64 before, after;
  double idle_per_s, trickle_per_s, median_ms;
  guint64 datagrams;
  gint64 start_ns;
  guint n_trickled = 0;

  g_unsetenv ("GLUETOOL_TRACING_FLUSH_INTERVAL");
  tracer = gluetool_tracer_new ("bench-idle", "127.0.0.1", bench_sink_get_port (sink), &error);
  if (tracer == NULL)
    g_error ("tracer: %s", error->message);
  g_object_get (tracer, "flush-interval", &interval_s, NULL);

  finish_one ("start");
  if (!gluetool_tracer_flush (tracer, 10.0, &error))
    g_error ("flush: %s", error->message);
  tid = find_flush_thread ();
  if (tid == NULL)
    g_error ("no flush thread");

  /* Idle: a few intervals to settle, then count. */
  g_usleep ((gulong) (3 * interval_s * G_USEC_PER_SEC));
  before = voluntary_switches (tid);
  g_usleep ((gulong) (IDLE_WATCH_S * G_USEC_PER_SEC));
  after = voluntary_switches (tid);
  idle_per_s = (double) (after - before) / IDLE_WATCH_S;

  /* A span after each quiet time, timed to its arrival. */
  datagrams = bench_sink_get_n_datagrams (sink);
  for (guint i = 0; i < QUIET_ROUNDS; i++)
    {
      gint64 t0;

      g_usleep ((gulong) (QUIET_S * G_USEC_PER_SEC));
      t0 = bench_monotonic_ns ();
      finish_one ("after a quiet time");
      if (!bench_sink_wait_for_datagrams (sink, ++datagrams, 10.0))
        g_error ("the span after a quiet time never arrived");
      latencies_ms[i] = (double) (bench_sink_get_last_arrival_ns (sink) - t0) / 1e6;
    }
  median_ms = bench_median (latencies_ms, QUIET_ROUNDS);

  /* Trickling: one span every TRICKLE_EVERY_S. */
  before = voluntary_switches (tid);
  start_ns = bench_monotonic_ns ();
  while (bench_monotonic_ns () - start_ns < (gint64) (TRICKLE_S * 1e9))
    {
      finish_one ("trickle");
      n_trickled++;
      g_usleep ((gulong) (TRICKLE_EVERY_S * G_USEC_PER_SEC));
    }
  after = voluntary_switches (tid);
  trickle_per_s = (double) (after - before) / TRICKLE_S;

  if (!gluetool_tracer_close (tracer, 10.0, &error))
    g_error ("close: %s", error->message);

  printf ("idle: flush interval %.3f s\n", interval_s);
  printf ("idle: an idle tracer's thread woke %.1f times a second (every interval: %.0f)\n",
          idle_per_s, 1.0 / interval_s);
  printf ("target: idle wake-ups <= 2 a second: %.1f: %s\n", idle_per_s,
          bench_verdict (idle_per_s <= 2.0));
  printf ("idle: a span after %.0f ms without any reached the sink in %.3f ms (median of %u;"
          " at the next interval it would wait %.0f ms on average)\n",
          QUIET_S * 1000, median_ms, QUIET_ROUNDS, interval_s * 1000 / 2);
  printf ("target: a span after a quiet time arrives in <= 5 ms: %.3f ms: %s\n", median_ms,
          bench_verdict (median_ms <= 5.0));
  printf ("idle: %u spans, one every %.0f ms: the thread woke %.1f times a second\n",
          n_trickled, TRICKLE_EVERY_S * 1000, trickle_per_s);
  return 0;
}
