/* bench-clock.c: what a read of actions' monotonic clock costs, against
 * GLib's
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose clock
 *
 * Every action reads the monotonic clock twice. The library reads the
 * CPU's time-stamp counter where the kernel keeps time with it (see
 * lib/monotonic-clock-private.h); this prints what one read costs that
 * way, and what g_get_monotonic_time() costs, in the same run, after the
 * calibration. The counter stays only while it is the cheaper.
 *
 * Prints plain figures, medians over several runs; asserts no time.
 */

#include "measure.h"
#include "monotonic-clock-private.h"

#define N_READS 2000000
#define N_RUNS 9

typedef gint64 (*ClockRead) (void);

static volatile gint64 clock_sink;

static gint64
glib_read (void)
{
  return g_get_monotonic_time ();
}

static gint64
library_read (void)
{
  return gluetool_monotonic_clock_now_us ();
}

static double
measure (ClockRead read)
{
  double ns[N_RUNS];

  for (guint r = 0; r < N_RUNS; r++)
    {
      gint64 start = bench_thread_cpu_ns ();
      gint64 sum = 0;

      for (guint i = 0; i < N_READS; i++)
        sum += read ();
      clock_sink = sum;
      ns[r] = (double) (bench_thread_cpu_ns () - start) / N_READS;
    }
  return bench_median (ns, N_RUNS);
}

int
main (void)
{
  gint64 until;
  double glib_ns, library_ns, forced_ns;
  gboolean counter;

  gluetool_monotonic_clock_ensure_probed ();
  /* Past the calibration, read as actions read. */
  until = g_get_monotonic_time () + 2 * GLUETOOL_MONOTONIC_CLOCK_CALIBRATION_NS / 1000;
  while (g_get_monotonic_time () < until)
    clock_sink = gluetool_monotonic_clock_now_us ();
  counter = gluetool_monotonic_clock_uses_counter ();

  glib_ns = measure (glib_read);
  library_ns = measure (library_read);
  gluetool_monotonic_clock_force_system (TRUE);
  forced_ns = measure (library_read);
  gluetool_monotonic_clock_force_system (FALSE);

  g_print ("clock: g_get_monotonic_time(): %.1f ns CPU a read (median of %d runs of %d)\n",
           glib_ns, N_RUNS, N_READS);
  g_print ("clock: the library's clock, %s: %.1f ns CPU a read\n",
           counter ? "from the time-stamp counter" : "from the system (the counter is not used here)",
           library_ns);
  g_print ("clock: the library's clock made to read the system's: %.1f ns CPU a read\n", forced_ns);
  if (counter)
    g_print ("target: the counter is cheaper than g_get_monotonic_time(): %.1f ns against %.1f ns, "
             "%.0f ns saved an action (two reads): %s\n",
             library_ns, glib_ns, 2 * (glib_ns - library_ns), bench_verdict (library_ns < glib_ns));
  else
    g_print ("target: the counter is cheaper than g_get_monotonic_time(): not measured, the "
             "counter is not used on this machine\n");
  return 0;
}
