/* wall-clock-private.h: the wall-clock time of a monotonic instant, read
 * from a per-thread cache
 *
 * SPDX-License-Identifier: MIT
 *
 * A span's start is wall-clock time, its duration monotonic. Reading both
 * clocks for every action costs a clock read too many, so each thread keeps
 * the difference between them and reads the wall clock again only when
 * GLUETOOL_WALL_CLOCK_REFRESH_US have passed: a wall-clock step shows in
 * start times at most that late, and a duration never depends on it.
 *
 * The check is inline, as it runs for every action; the read of the wall
 * clock, once per refresh, is not.
 *
 * Who may call what: any thread; each reads and writes its own cache.
 */

#pragma once

#include <glib.h>

#include "process-private.h"

G_BEGIN_DECLS

#define GLUETOOL_WALL_CLOCK_REFRESH_US (10 * 1000)

typedef struct {
  gint64 wall_minus_monotonic;
  gint64 refreshed_at;           /* monotonic; 0 before the first read */
} GluetoolWallClock;

/* The calling thread's cache; only through the functions below. */
extern GLUETOOL_THREAD_LOCAL GluetoolWallClock gluetool_wall_clock_thread_;

/* Reads the wall clock again and keeps its difference to @monotonic_us. */
void gluetool_wall_clock_refresh (GluetoolWallClock *clock,
                                  gint64             monotonic_us);

/* The wall-clock time, in microseconds since the epoch, at @monotonic_us,
 * an instant on g_get_monotonic_time()'s timeline just read by the caller
 * (from gluetool_monotonic_clock_now_us()). */
static inline gint64
gluetool_wall_clock_at (gint64 monotonic_us)
{
  GluetoolWallClock *clock = &gluetool_wall_clock_thread_;

  if (G_UNLIKELY (clock->refreshed_at == 0
                  || monotonic_us - clock->refreshed_at >= GLUETOOL_WALL_CLOCK_REFRESH_US))
    gluetool_wall_clock_refresh (clock, monotonic_us);
  return monotonic_us + clock->wall_minus_monotonic;
}

G_END_DECLS
