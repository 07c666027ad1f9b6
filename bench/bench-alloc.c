/* bench-alloc.c: heap allocations per span on the hot path, through the
 * public API
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose alloc
 *
 * The counting is done by alloc-count.c, loaded with LD_PRELOAD into a
 * child: the program runs itself with "--child" and the shim (its path is
 * the first argument, or bench-alloc-count.so beside the program), twice.
 * GLib 2.74's GSlice hands out small blocks (every GObject instance among
 * them) from its own magazines, which a malloc count does not see, so the
 * figure that counts runs with G_SLICE=always-malloc: every allocation shows
 * as the malloc it is (and is, on GLib 2.76 and later, where GSlice is
 * malloc). That setting also turns off the recycling of finished actions
 * (it is GLib's switch for memory checkers), so that run turns it back on
 * with GLUETOOL_TRACING_RECYCLE_ACTIONS=1, and a second always-malloc run
 * without it says what an action costs when it is not recycled. The last
 * run, with GSlice as GLib sets it up, says how many reach malloc in practice
 * on this GLib.
 *
 * After a warm-up, N spans (the usual workload) are reported and flushed;
 * the allocations made meanwhile by every thread (the caller's and the
 * flush thread's; the sink allocates nothing per datagram) are divided by N.
 *
 * Prints plain figures; asserts nothing.
 */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gluetool/gluetool.h>

#include "alloc-count.h"
#include "measure.h"
#include "sink.h"
#include "workload.h"

#define N_WARM_UP 20000
#define N_SPANS   200000

/* Target: at most 2 heap allocations per span on the hot path. */
#define TARGET_PER_SPAN 2.0

/* Runs this program as a child with the shim preloaded, GSlice set up as
 * @g_slice says and recycling as @recycle_actions says (NULL: their
 * defaults); the child prints its figures. */
static gboolean
run_child (const char *self_path,
           const char *shim_path,
           const char *g_slice,
           const char *recycle_actions)
{
  g_auto(GStrv) env = g_get_environ ();
  g_autoptr(GError) error = NULL;
  const char *old_preload = g_environ_getenv (env, "LD_PRELOAD");
  g_autofree char *preload = old_preload != NULL && *old_preload != '\0'
                             ? g_strdup_printf ("%s:%s", shim_path, old_preload)
                             : g_strdup (shim_path);
  const char *argv[] = { self_path, "--child", NULL };
  int status;

  env = g_environ_setenv (env, "LD_PRELOAD", preload, TRUE);
  env = g_environ_unsetenv (env, "G_SLICE");
  if (g_slice != NULL)
    env = g_environ_setenv (env, "G_SLICE", g_slice, TRUE);
  env = g_environ_unsetenv (env, "GLUETOOL_TRACING_RECYCLE_ACTIONS");
  if (recycle_actions != NULL)
    env = g_environ_setenv (env, "GLUETOOL_TRACING_RECYCLE_ACTIONS", recycle_actions, TRUE);

  if (!g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    {
      g_print ("alloc: the child with %s failed: %s\n", shim_path, error->message);
      return FALSE;
    }
  return TRUE;
}

static double
per_span (guint64 n)
{
  return (double) n / N_SPANS;
}

static int
child_main (BenchAllocCountsReadFunc read_counts)
{
  gboolean always_malloc = g_strcmp0 (g_getenv ("G_SLICE"), "always-malloc") == 0;
  /* Recycling is on by default, and off with always-malloc unless asked. */
  gboolean recycled = !always_malloc
                      || g_strcmp0 (g_getenv ("GLUETOOL_TRACING_RECYCLE_ACTIONS"), "1") == 0;
  g_autoptr(BenchSink) sink = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) root = NULL;
  BenchAllocCounts process_before, process_after, caller_before, caller_after;
  BenchAllocCounts process, caller;
  guint64 total, total_caller;

  g_unsetenv ("GLUETOOL_TRACING_DISABLE");
  bench_wait_when_queue_full ();
  sink = bench_sink_new (FALSE);
  tracer = gluetool_tracer_new ("bench", "127.0.0.1", bench_sink_get_port (sink), &error);
  g_assert_no_error (error);
  root = gluetool_action_new ("root", NULL);

  /* The first spans fill per-thread caches (the action stack, the encoder's
   * scratch buffer, the default-tracer cache) and the flush thread connects:
   * once-only costs, not the hot path. */
  for (guint i = 0; i < N_WARM_UP; i++)
    bench_report_span (root, i);
  if (!gluetool_tracer_flush (tracer, 60, &error))
    g_clear_error (&error);

  read_counts (&process_before, &caller_before);
  for (guint i = 0; i < N_SPANS; i++)
    bench_report_span (root, i);
  /* Until the flush thread has sent them all, so its share is counted. */
  if (!gluetool_tracer_flush (tracer, 60, &error))
    {
      g_print ("alloc: flush: %s\n", error->message);
      g_clear_error (&error);
    }
  read_counts (&process_after, &caller_after);

#define DIFF(field) process.field = process_after.field - process_before.field; \
                    caller.field = caller_after.field - caller_before.field
  DIFF (mallocs);
  DIFF (callocs);
  DIFF (reallocs);
  DIFF (aligned);
  DIFF (frees);
  DIFF (bytes);
#undef DIFF
  total = bench_alloc_counts_total (&process);
  total_caller = bench_alloc_counts_total (&caller);

  if (always_malloc)
    {
      const char *what = recycled ? "actions recycled (the default)"
                                  : "actions not recycled (always-malloc's own default)";

      g_print ("alloc: %s: %.2f allocations per span (malloc %.2f, calloc %.2f, realloc %.2f, "
               "aligned %.2f), %.2f frees per span, %.0f bytes allocated per span (N=%d, "
               "G_SLICE=always-malloc: every allocation counted)\n",
               what, per_span (total), per_span (process.mallocs), per_span (process.callocs),
               per_span (process.reallocs), per_span (process.aligned), per_span (process.frees),
               per_span (process.bytes), N_SPANS);
      g_print ("alloc: %s: by thread: caller %.2f per span, flush thread and others %.2f per span\n",
               what, per_span (total_caller), per_span (total - total_caller));
      if (recycled)
        g_print ("target: <= %.0f heap allocations per span: %.2f: %s\n", TARGET_PER_SPAN,
                 per_span (total), bench_verdict (per_span (total) <= TARGET_PER_SPAN));
    }
  else
    g_print ("alloc: with GLib 2.%d's GSlice as it is by default: %.2f malloc-family calls per span "
             "(caller %.2f, others %.2f), %.2f frees per span (small blocks come from GSlice's "
             "magazines, uncounted)\n",
             glib_minor_version, per_span (total), per_span (total_caller),
             per_span (total - total_caller), per_span (process.frees));

  gluetool_action_finish (root, NULL);
  if (!gluetool_tracer_close (tracer, 60, &error))
    g_clear_error (&error);
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *self_path = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *shim_path = NULL;

  if (argc == 2 && g_str_equal (argv[1], "--child"))
    {
      void *symbol = dlsym (RTLD_DEFAULT, BENCH_ALLOC_COUNTS_SYMBOL);
      BenchAllocCountsReadFunc read_counts;

      if (symbol == NULL)
        {
          g_print ("alloc: the counting shim is not loaded (LD_PRELOAD); nothing measured\n");
          return 1;
        }
      /* Function pointers cannot be assigned from void * in ISO C. */
      memcpy (&read_counts, &symbol, sizeof symbol);
      return child_main (read_counts);
    }

  if (self_path == NULL)
    self_path = g_strdup (argv[0]);
  if (argc > 1)
    shim_path = g_canonicalize_filename (argv[1], NULL);
  else
    {
      g_autofree char *dir = g_path_get_dirname (self_path);

      shim_path = g_build_filename (dir, "bench-alloc-count.so", NULL);
    }

  if (!run_child (self_path, shim_path, "always-malloc", "1")
      || !run_child (self_path, shim_path, "always-malloc", NULL)
      || !run_child (self_path, shim_path, NULL, NULL))
    return 1;
  return 0;
}
