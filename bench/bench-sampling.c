/* bench-sampling.c: what an unsampled action costs its caller, against a
 * sampled one and against one with no tracer at all
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose sampling
 *
 * The same workload in three settings, each with a tracer of its own made
 * and closed around it:
 *
 * - disabled: GLUETOOL_TRACING_DISABLE, so no tracer reports anything;
 * - sampled: the default sampler (const 1), spans sent to a loopback sink;
 * - unsampled: sampler const 0, so every trace is decided unsampled.
 *
 * Two workloads: the benchmarks' span (new + 3 tags + finish, a child of
 * one root, so the trace is decided once), and a root of its own per action
 * (new + finish: every action asks the sampler), the latter also with a
 * probabilistic sampler at 0 to show the decision from the trace id, and
 * with the remote sampler (its endpoint silent, so its initial probability
 * 0 holds) to show what its reader count adds. An
 * action with no tracer keeps its tags (a tracer may come before it
 * finishes); an unsampled one does not. The
 * figure is the calling thread's CPU per action (the flush thread is not
 * counted: it does nothing for unsampled actions), the median of several
 * runs.
 *
 * Prints plain figures against a target; asserts no time.
 */

#include <gluetool/gluetool.h>

#include "measure.h"
#include "sink.h"
#include "workload.h"

#define N_RUNS 7
#define N_ACTIONS 100000

/* Target: an unsampled action costs its caller at most 10% more than an
 * action with no tracer at all, the floor (the stack, the ids, the clocks,
 * recycling): it skips the tags, the encoding and the queue, and adds only
 * the decision. A third of a sampled action, the other clients' usual
 * figure, is below that floor here: an action with no tracer costs about
 * half a sampled one. */
#define TARGET_RATIO 1.10

typedef enum {
  MODE_DISABLED,
  MODE_SAMPLED,
  MODE_UNSAMPLED_CONST,
  MODE_UNSAMPLED_PROBABILISTIC,
  MODE_UNSAMPLED_REMOTE,
} Mode;

static const char *const mode_names[] = {
  "disabled (no tracer)", "sampled (const 1)", "unsampled (const 0)",
  "unsampled (probabilistic 0)", "unsampled (remote, initial 0)",
};

static GluetoolTracer *
make_tracer (Mode       mode,
             BenchSink *sink)
{
  g_autoptr(GError) error = NULL;
  GluetoolSamplerType type = mode == MODE_UNSAMPLED_PROBABILISTIC ? GLUETOOL_SAMPLER_TYPE_PROBABILISTIC
                             : mode == MODE_UNSAMPLED_REMOTE ? GLUETOOL_SAMPLER_TYPE_REMOTE
                             : GLUETOOL_SAMPLER_TYPE_CONST;
  /* Nothing answers there (the sink is UDP): the remote sampler keeps its
   * initial probability, 0, and every root goes through its reader count. */
  g_autofree char *endpoint = g_strdup_printf ("http://127.0.0.1:%u/sampling",
                                               (guint) bench_sink_get_port (sink));
  double param = mode == MODE_DISABLED || mode == MODE_SAMPLED ? 1.0 : 0.0;
  GluetoolTracer *tracer;

  if (mode == MODE_DISABLED)
    g_setenv ("GLUETOOL_TRACING_DISABLE", "1", TRUE);
  else
    g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "service-name", "bench",
                           "reporting-host", "127.0.0.1",
                           "reporting-port", (guint) bench_sink_get_port (sink),
                           "sampler-type", type,
                           "sampler-param", param,
                           "sampling-endpoint", endpoint,
                           "sampler-refresh-interval", 3600.0,
                           NULL);
  /* Built without HTTP: no remote sampler to measure. */
  if (mode == MODE_UNSAMPLED_REMOTE && tracer == NULL)
    return NULL;
  g_assert_no_error (error);
  return tracer;
}

/* The calling thread's CPU per action, in ns. */
static double
run (Mode     mode,
     gboolean roots)
{
  g_autoptr(BenchSink) sink = bench_sink_new (FALSE);
  g_autoptr(GluetoolTracer) tracer = make_tracer (mode, sink);
  g_autoptr(GError) error = NULL;
  GluetoolAction *root = NULL;
  gint64 start, end;

  if (tracer == NULL)
    return -1.0;
  if (!roots)
    root = gluetool_action_new ("root", NULL);

  start = bench_thread_cpu_ns ();
  for (guint i = 0; i < N_ACTIONS; i++)
    {
      if (roots)
        {
          GluetoolAction *action = gluetool_action_new ("bench root", NULL);

          gluetool_action_finish (action, NULL);
          g_object_unref (action);
        }
      else
        bench_report_span (root, i);
    }
  end = bench_thread_cpu_ns ();

  if (root != NULL)
    {
      gluetool_action_finish (root, NULL);
      g_object_unref (root);
    }
  if (!gluetool_tracer_close (tracer, 60, &error))
    g_print ("sampling: close: %s\n", error->message);
  bench_sink_stop (sink);
  return (double) (end - start) / N_ACTIONS;
}

/* The remote sampler's one message per failure streak, at each tracer's
 * first request, is expected here. */
static GLogWriterOutput
quiet_writer (GLogLevelFlags   level,
              const GLogField *fields,
              gsize            n_fields,
              gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0
        && g_str_has_prefix (fields[i].value, "Sampling strategy from"))
      return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

int
main (void)
{
  double children_ns[G_N_ELEMENTS (mode_names)][N_RUNS];
  double roots_ns[G_N_ELEMENTS (mode_names)][N_RUNS];
  double children[G_N_ELEMENTS (mode_names)];
  double roots[G_N_ELEMENTS (mode_names)];

  g_log_set_writer_func (quiet_writer, NULL, NULL);
  bench_wait_when_queue_full ();
  run (MODE_SAMPLED, FALSE); /* warm up */

  /* Interleaved: each run measures every mode and workload once, one
   * after the other, so that a shared machine slowing down or speeding up
   * in the middle weighs on every mode alike, and the ratios hold. Each
   * run makes its tracer anew, so no mode is warmer for coming later. */
  for (guint r = 0; r < N_RUNS; r++)
    for (guint m = 0; m < G_N_ELEMENTS (mode_names); m++)
      {
        if (m < MODE_UNSAMPLED_PROBABILISTIC)
          children_ns[m][r] = run (m, FALSE);
        roots_ns[m][r] = run (m, TRUE);
      }
  for (guint m = 0; m < G_N_ELEMENTS (mode_names); m++)
    {
      if (m < MODE_UNSAMPLED_PROBABILISTIC)
        children[m] = bench_median (children_ns[m], N_RUNS);
      roots[m] = bench_median (roots_ns[m], N_RUNS);
    }

  for (guint m = 0; m < G_N_ELEMENTS (mode_names); m++)
    {
      if (roots[m] < 0)
        {
          g_print ("sampling: %-28s not built (no HTTP support)\n", mode_names[m]);
          continue;
        }
      if (m < MODE_UNSAMPLED_PROBABILISTIC)
        g_print ("sampling: %-28s child + 3 tags: %5.0f ns/action in the caller; ",
                 mode_names[m], children[m]);
      else
        g_print ("sampling: %-28s %40s", mode_names[m], "");
      g_print ("root alone: %5.0f ns/action (median of %d runs of %d)\n", roots[m], N_RUNS,
               N_ACTIONS);
    }

  g_print ("sampling: unsampled against sampled in the caller: child %.2f, root %.2f\n",
           children[MODE_UNSAMPLED_CONST] / children[MODE_SAMPLED],
           roots[MODE_UNSAMPLED_PROBABILISTIC] / roots[MODE_SAMPLED]);
  g_print ("target: an unsampled action <= %.2f x one with no tracer in the caller: "
           "child %.0f vs %.0f ns (%.2f), root (probabilistic) %.0f vs %.0f ns (%.2f): %s\n",
           TARGET_RATIO, children[MODE_UNSAMPLED_CONST], children[MODE_DISABLED],
           children[MODE_UNSAMPLED_CONST] / children[MODE_DISABLED],
           roots[MODE_UNSAMPLED_PROBABILISTIC], roots[MODE_DISABLED],
           roots[MODE_UNSAMPLED_PROBABILISTIC] / roots[MODE_DISABLED],
           bench_verdict (children[MODE_UNSAMPLED_CONST] <= TARGET_RATIO * children[MODE_DISABLED]
                          && roots[MODE_UNSAMPLED_PROBABILISTIC]
                             <= TARGET_RATIO * roots[MODE_DISABLED]));
  if (roots[MODE_UNSAMPLED_REMOTE] >= 0)
    g_print ("sampling: a root deciding through the remote sampler (its reader count) costs "
             "%+.0f ns against probabilistic\n",
             roots[MODE_UNSAMPLED_REMOTE] - roots[MODE_UNSAMPLED_PROBABILISTIC]);
  return 0;
}
