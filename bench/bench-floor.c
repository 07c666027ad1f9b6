/* bench-floor.c: what GLib itself costs per action, measured beside ours
 *
 * SPDX-License-Identifier: MIT
 *
 * Every action is a GObject. Making and freeing one was the floor under a
 * span, until finished actions were recycled (docs/design.md). This prints
 * that cost for a bare final type with one signal (the shape of
 * GluetoolAction) and the clock reads an action needs, in the same run as a
 * whole action with no tracer, recycled as it is by default, so the other
 * benchmarks' figures can be read against them.
 */

#include <gluetool/gluetool.h>

#include "measure.h"

#define N_SPANS 200000
#define N_RUNS 7

#define BENCH_TYPE_BARE (bench_bare_get_type ())
G_DECLARE_FINAL_TYPE (BenchBare, bench_bare, BENCH, BARE, GObject)

struct _BenchBare {
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (BenchBare, bench_bare, G_TYPE_OBJECT)

static void
bench_bare_class_init (BenchBareClass *klass)
{
  g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
bench_bare_init (BenchBare *self)
{
}

typedef void (*Workload) (guint i);

static void
bare_object (guint i)
{
  GObject *object = g_object_new (BENCH_TYPE_BARE, NULL);

  g_object_unref (object);
}

static volatile gint64 clock_sink;

static void
three_clock_reads (guint i)
{
  clock_sink += g_get_monotonic_time () + g_get_real_time () + g_get_monotonic_time ();
}

static void
action_without_tracer (guint i)
{
  GluetoolAction *action = gluetool_action_new ("bench span", NULL);

  gluetool_action_set_tag_string (action, "component", "bench");
  gluetool_action_set_tag_int64 (action, "i", i);
  gluetool_action_set_tag_boolean (action, "ok", TRUE);
  gluetool_action_finish (action, NULL);
  g_object_unref (action);
}

static double
measure (Workload workload)
{
  double ns[N_RUNS];

  for (guint r = 0; r < N_RUNS; r++)
    {
      gint64 start = bench_thread_cpu_ns ();

      for (guint i = 0; i < N_SPANS; i++)
        workload (i);
      ns[r] = (double) (bench_thread_cpu_ns () - start) / N_SPANS;
    }
  return bench_median (ns, N_RUNS);
}

int
main (void)
{
  double bare, clocks, action;

  /* No tracer: an action does all its own work but encodes nothing. */
  g_setenv ("GLUETOOL_TRACING_DISABLE", "1", TRUE);
  g_type_ensure (BENCH_TYPE_BARE);
  g_type_ensure (GLUETOOL_TYPE_ACTION);
  measure (bare_object); /* warm up */

  bare = measure (bare_object);
  clocks = measure (three_clock_reads);
  action = measure (action_without_tracer);

  g_print ("floor: g_object_new + g_object_unref of a bare final GObject with one signal: "
           "%.0f ns CPU (median of %d runs of %d)\n", bare, N_RUNS, N_SPANS);
  g_print ("floor: three clock reads (monotonic, wall, monotonic): %.0f ns CPU\n", clocks);
  g_print ("floor: an action (new + 3 tags + finish + unref) with no tracer, recycled: %.0f ns CPU, "
           "%.0f%% of what a bare GObject's new + unref would cost it\n", action, 100.0 * bare / action);
  return 0;
}
