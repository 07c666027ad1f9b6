/* bench-listen.c: gluetool-trace listen under a burst from one full-speed
 * producer: does it take in everything, and how fast does it decode?
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose listen
 *
 * Each run starts the real program (`listen --port 0 --idle 2 --summary`
 * and the mode's option, its stdout to /dev/null), makes a tracer with the
 * library's default settings in this process, finishes N_SPANS actions as
 * fast as one thread can (the workload of workload.h), finishes the root,
 * closes the tracer, and waits for the receiver to stop by itself once it
 * decoded everything and heard nothing for 2 s. The figures:
 *
 * - received / sent: the summary's `spans:` line against the spans the
 *   tracer says the socket accepted (the children and the root). The
 *   tracer may drop spans itself when its queue is full (by default it
 *   never makes the caller wait): those were never sent, and are printed
 *   apart.
 * - the receiver's losses, from its summary: the kernel's drops and its
 *   own (over --max-buffer-size).
 * - spans per CPU second: received spans over the listen process's CPU
 *   time, user and system, every thread (wait4()), start-up and idle wait
 *   included.
 *
 * Prints plain figures, medians over several runs and the worst run;
 * asserts no time.
 */

#include <gluetool/gluetool.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "measure.h"
#include "workload.h"

#define N_SPANS 1000000
#define N_RUNS  3
/* Target: spans decoded per CPU second of the receiver, with --quiet. */
#define TARGET_QUIET_RATE 1e6

typedef struct {
  const char *name;
  const char *option;      /* (nullable) */
  gboolean    rate_target;
} Mode;

static const Mode modes[] = {
  { "--quiet", "--quiet", TRUE },
  { "trees", NULL, FALSE },
  { "--json", "--json", FALSE },
};

typedef struct {
  guint64 sent;            /* spans the tracer's socket accepted */
  guint64 dropped_by_tracer;
  guint64 received;        /* the summary's spans: line */
  guint64 kernel_drops;
  guint64 own_drops;
  double  cpu_s;           /* the receiver's */
  double  burst_s;
  gboolean ok;             /* the receiver ran and printed a summary */
} RunResult;

static char *
read_line (FILE *stream)
{
  char buf[4096];

  if (fgets (buf, sizeof buf, stream) == NULL)
    return NULL;
  return g_strdup (buf);
}

static guint64
number_after (const char *line,
              const char *prefix)
{
  const char *at = strstr (line, prefix);

  return at != NULL ? g_ascii_strtoull (at + strlen (prefix), NULL, 10) : 0;
}

static void
send_burst (guint16    port,
            RunResult *result)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) root = NULL;
  GluetoolTracerStats stats;
  gint64 start_ns;

  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "service-name", "bench-listen",
                           "reporting-host", "127.0.0.1",
                           "reporting-port", (guint) port,
                           NULL);
  g_assert_no_error (error);
  root = gluetool_action_new ("root", NULL);

  start_ns = bench_monotonic_ns ();
  for (guint i = 0; i < N_SPANS; i++)
    bench_report_span (root, i);
  result->burst_s = (bench_monotonic_ns () - start_ns) / 1e9;

  gluetool_action_finish (root, NULL);
  if (!gluetool_tracer_close (tracer, 60, &error))
    g_clear_error (&error);   /* the losses are in the stats */
  gluetool_tracer_get_stats (tracer, &stats);
  result->sent = stats.spans_sent;
  result->dropped_by_tracer = gluetool_tracer_stats_get_lost (&stats);
}

static RunResult
run (const char *program,
     const Mode *mode)
{
  const char *argv[] = { program, "listen", "--port", "0", "--idle", "2", "--summary",
                         mode->option, NULL };
  g_autoptr(GError) error = NULL;
  RunResult result = { 0 };
  GPid pid;
  int err_fd;
  FILE *err;
  char *line;
  guint16 port = 0;
  struct rusage usage;
  int status;

  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                 NULL, NULL, &pid, NULL, NULL, &err_fd, &error))
    g_error ("cannot start %s: %s", program, error->message);
  err = fdopen (err_fd, "r");

  while (port == 0 && (line = read_line (err)) != NULL)
    {
      const char *colon = strrchr (line, ':');

      if (strstr (line, "listening on UDP ") != NULL && colon != NULL)
        port = (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
      else
        g_printerr ("  listen: %s", line);
      g_free (line);
    }
  if (port == 0)
    g_error ("the receiver did not say where it listens");

  send_burst (port, &result);

  /* Its stderr ends when it exits. */
  while ((line = read_line (err)) != NULL)
    {
      if (g_str_has_prefix (line, "  spans:"))
        {
          result.received = number_after (line, "  spans:");
          result.ok = TRUE;
        }
      else if (strstr (line, "dropped on arrival: ") != NULL)
        {
          result.kernel_drops = number_after (line, "dropped on arrival: ");
          result.own_drops = number_after (line, "(socket buffer full), ");
        }
      else if (g_str_has_prefix (line, "gluetool-trace: "))
        g_printerr ("  listen: %s", line);
      g_free (line);
    }
  fclose (err);

  while (wait4 (pid, &status, 0, &usage) < 0)
    if (errno != EINTR)
      g_error ("wait4: %s", g_strerror (errno));
  g_spawn_close_pid (pid);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    result.ok = FALSE;
  result.cpu_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
                 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  return result;
}

static void
run_mode (const char *program,
          const Mode *mode)
{
  double ratio[N_RUNS], rate[N_RUNS], cpu[N_RUNS], not_sent[N_RUNS];
  double worst_ratio = G_MAXDOUBLE;
  guint64 kernel_drops = 0, own_drops = 0;
  gboolean all_ok = TRUE;

  for (guint r = 0; r < N_RUNS; r++)
    {
      RunResult result = run (program, mode);

      ratio[r] = result.sent > 0 ? (double) result.received / result.sent : 0;
      rate[r] = result.cpu_s > 0 ? result.received / result.cpu_s : 0;
      cpu[r] = result.cpu_s;
      not_sent[r] = result.dropped_by_tracer;
      worst_ratio = MIN (worst_ratio, ratio[r]);
      kernel_drops += result.kernel_drops;
      own_drops += result.own_drops;
      all_ok &= result.ok;
      g_print ("listen %s, run %u: %" G_GUINT64_FORMAT " spans sent (%.2f s burst, %"
               G_GUINT64_FORMAT " dropped by the tracer), %" G_GUINT64_FORMAT
               " received (%.3f%%), receiver drops: %" G_GUINT64_FORMAT " kernel, %"
               G_GUINT64_FORMAT " own; receiver CPU %.2f s: %.0f spans per CPU second%s\n",
               mode->name, r, result.sent, result.burst_s, result.dropped_by_tracer,
               result.received, 100 * ratio[r], result.kernel_drops, result.own_drops,
               result.cpu_s, rate[r], result.ok ? "" : " (the receiver FAILED)");
    }

  g_print ("listen %s: %d-span bursts, median of %d runs: received/sent %.3f%%, "
           "receiver CPU %.2f s, %.0f spans per CPU second, tracer drops %.0f; "
           "receiver drops over all runs: %" G_GUINT64_FORMAT " kernel, %" G_GUINT64_FORMAT
           " own\n", mode->name, N_SPANS, N_RUNS, 100 * bench_median (ratio, N_RUNS),
           bench_median (cpu, N_RUNS), bench_median (rate, N_RUNS),
           bench_median (not_sent, N_RUNS), kernel_drops, own_drops);
  g_print ("target: listen %s: every span sent received, every run: worst run %.3f%%: %s\n",
           mode->name, 100 * worst_ratio, bench_verdict (all_ok && worst_ratio >= 1.0));
  if (mode->rate_target)
    g_print ("target: listen %s: at least %.0f spans decoded per CPU second: median %.0f: %s\n",
             mode->name, TARGET_QUIET_RATE, bench_median (rate, N_RUNS),
             bench_verdict (bench_median (rate, N_RUNS) >= TARGET_QUIET_RATE));
}

int
main (int    argc,
      char **argv)
{
  if (argc != 2)
    {
      g_printerr ("usage: %s PATH-TO-GLUETOOL-TRACE\n", argv[0]);
      return 2;
    }
  g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  g_unsetenv ("GLUETOOL_TRACING_QUEUE_FULL_WAIT");
  /* A receiver that dies must not take this process with it. */
  signal (SIGPIPE, SIG_IGN);

  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    run_mode (argv[1], &modes[m]);
  return 0;
}
