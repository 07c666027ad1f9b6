/* wall-clock.c: the wall-clock time of a monotonic instant, read from a
 * per-thread cache
 *
 * SPDX-License-Identifier: MIT
 *
 * See wall-clock-private.h.
 */

#include "wall-clock-private.h"

GLUETOOL_THREAD_LOCAL GluetoolWallClock gluetool_wall_clock_thread_;

void
gluetool_wall_clock_refresh (GluetoolWallClock *clock,
                             gint64             monotonic_us)
{
  gint64 wall_us = g_get_real_time ();

  clock->wall_minus_monotonic = wall_us - monotonic_us;
  clock->refreshed_at = monotonic_us;
}
