/* bench-rss.c: peak resident memory after 1M and after 10M spans, each in a
 * process of its own, through the public API
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose rss
 *
 * The program runs itself as a child ("--child N PORT") that makes a tracer
 * with the default configuration (but for a queue-full wait, see
 * bench_wait_when_queue_full() in workload.h), reports N spans (the usual
 * workload) to the parent's sink, closes, and prints its peak RSS (VmHWM
 * from /proc/self/status); the parent counts what the sink received. The sink
 * lives in the parent so that it weighs nothing on the child. A run with no
 * spans at all gives the floor (GLib, the tracer, its thread and ring).
 *
 * VmHWM rather than wait4()'s ru_maxrss, which is printed beside it: Linux
 * carries the peak of the memory a process had before exec() over into
 * ru_maxrss, so a child spawned from a larger parent would report the
 * parent's size.
 *
 * Prints plain figures, medians over several runs; asserts no time.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gluetool/gluetool.h>

#include "measure.h"
#include "sink.h"
#include "workload.h"

#define N_RUNS 3

/* Target: peak RSS flat within 2 MiB between 1M and 10M spans. */
#define TARGET_GROWTH_KIB 2048

/* This process's peak resident set, in KiB; 0 if it cannot be read. */
static guint64
read_vm_hwm_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "\nVmHWM:");
  return line != NULL ? g_ascii_strtoull (line + strlen ("\nVmHWM:"), NULL, 10) : 0;
}

static int
child_main (guint64 n_spans,
            guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = gluetool_tracer_new ("bench", "127.0.0.1", port, &error);
  g_autoptr(GluetoolAction) root = NULL;
  gboolean closed;

  g_assert_no_error (error);
  root = gluetool_action_new ("root", NULL);
  for (guint64 i = 0; i < n_spans; i++)
    bench_report_span (root, i);
  gluetool_action_finish (root, NULL);
  closed = gluetool_tracer_close (tracer, 60, &error);
  /* The peak whatever close() says: losses are reported, not a reason to
   * have no figure. */
  g_print ("%" G_GUINT64_FORMAT "\n", read_vm_hwm_kib ());
  if (!closed)
    {
      g_printerr ("rss: child with %" G_GUINT64_FORMAT " spans: close: %s\n", n_spans, error->message);
      return 2;
    }
  return 0;
}

typedef struct {
  double  vm_hwm_kib;
  double  max_rss_kib;
  double  seconds;
  guint64 received;
  gboolean ok;
} RunResult;

static RunResult
run_child (const char *self_path,
           guint64     n_spans)
{
  g_autoptr(BenchSink) sink = bench_sink_new (FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree char *n_arg = g_strdup_printf ("%" G_GUINT64_FORMAT, n_spans);
  g_autofree char *port_arg = g_strdup_printf ("%u", bench_sink_get_port (sink));
  const char *argv[] = { self_path, "--child", n_arg, port_arg, NULL };
  RunResult result = { 0 };
  struct rusage usage;
  GPid pid;
  int status;
  int out_fd;
  GString *out = g_string_new (NULL);
  char buffer[256];
  gssize n;
  gint64 start_ns = bench_monotonic_ns ();

  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                 &pid, NULL, &out_fd, NULL, &error))
    g_error ("rss: cannot start the child: %s", error->message);
  while ((n = read (out_fd, buffer, sizeof buffer)) != 0)
    {
      if (n > 0)
        g_string_append_len (out, buffer, n);
      else if (errno != EINTR)
        break;
    }
  close (out_fd);
  result.vm_hwm_kib = g_ascii_strtod (out->str, NULL);
  g_string_free (out, TRUE);
  while (wait4 (pid, &status, 0, &usage) < 0)
    if (errno != EINTR)
      g_error ("rss: wait4: %s", g_strerror (errno));
  g_spawn_close_pid (pid);
  result.seconds = (bench_monotonic_ns () - start_ns) / 1e9;

  /* close() returned in the child, so every datagram has been sent; give the
   * sink a moment to read the last ones (longer only if some are missing). */
  for (guint i = 0; i < 2000 && bench_sink_get_n_spans (sink) < n_spans + 1; i++)
    g_usleep (1000);
  bench_sink_stop (sink);
  result.received = bench_sink_get_n_spans (sink);
  result.max_rss_kib = usage.ru_maxrss;   /* KiB on Linux */
  result.ok = WIFEXITED (status) && WEXITSTATUS (status) == 0 && result.vm_hwm_kib > 0
              && result.received == n_spans + 1 && bench_sink_get_kernel_drops (sink) == 0;
  if (!result.ok)
    g_print ("rss: child with %" G_GUINT64_FORMAT " spans: exit status %d, received %"
             G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT ", kernel drops %" G_GUINT64_FORMAT "\n",
             n_spans, status, result.received, n_spans + 1, bench_sink_get_kernel_drops (sink));
  return result;
}

int
main (int   argc,
      char *argv[])
{
  const guint64 sizes[] = { 0, 1000000, 10000000 };
  double medians_kib[G_N_ELEMENTS (sizes)];
  g_autofree char *self_path = NULL;
  gboolean all_ok = TRUE;
  gboolean have_figures = TRUE;
  double growth_kib;

  g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  bench_wait_when_queue_full ();
  if (argc == 4 && g_str_equal (argv[1], "--child"))
    return child_main (g_ascii_strtoull (argv[2], NULL, 10), (guint16) g_ascii_strtoull (argv[3], NULL, 10));

  self_path = g_file_read_link ("/proc/self/exe", NULL);
  if (self_path == NULL)
    self_path = g_strdup (argv[0]);

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      /* The floor is not a target figure; once is enough. */
      guint n_runs = sizes[s] == 0 ? 1 : N_RUNS;
      double rss[N_RUNS], max_rss[N_RUNS], seconds[N_RUNS];

      for (guint r = 0; r < n_runs; r++)
        {
          RunResult result = run_child (self_path, sizes[s]);

          rss[r] = result.vm_hwm_kib;
          max_rss[r] = result.max_rss_kib;
          seconds[r] = result.seconds;
          all_ok = all_ok && result.ok;
          /* A child that died before printing its peak leaves no figure. */
          have_figures = have_figures && result.vm_hwm_kib > 0;
        }
      medians_kib[s] = bench_median (rss, n_runs);
      g_print ("rss: %8" G_GUINT64_FORMAT " spans: peak RSS %.0f KiB (%.1f MiB; ru_maxrss %.0f KiB), "
               "%.1f s, median of %u run(s)\n",
               sizes[s], medians_kib[s], medians_kib[s] / 1024, bench_median (max_rss, n_runs),
               bench_median (seconds, n_runs), n_runs);
    }

  growth_kib = medians_kib[2] - medians_kib[1];
  g_print ("rss: 10M - 1M spans: %+.0f KiB (%+.2f MiB); every span received in every child: %s\n",
           growth_kib, growth_kib / 1024, all_ok ? "yes" : "NO (the lines above say what was lost)");
  if (have_figures)
    g_print ("target: peak RSS flat within 2 MiB between 1M and 10M spans: %+.2f MiB: %s\n",
             growth_kib / 1024, bench_verdict (ABS (growth_kib) <= TARGET_GROWTH_KIB));
  else
    g_print ("target: peak RSS flat within 2 MiB between 1M and 10M spans: no figure (a child failed): %s\n",
             bench_verdict (FALSE));
  return 0;
}
