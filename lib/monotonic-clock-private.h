/* monotonic-clock-private.h: the monotonic time of actions' starts and
 * ends, read from the CPU's time-stamp counter where the kernel trusts it
 *
 * SPDX-License-Identifier: MIT
 *
 * Every action reads the monotonic clock twice. Through the vDSO,
 * clock_gettime() reads the time-stamp counter with a fence and scales it
 * under a sequence lock; an unfenced RDTSC and one multiplication cost
 * about a third of that (bench-clock prints both). So, where the kernel itself keeps
 * time with the counter (its clocksource is "tsc": it found the counter
 * invariant and in step on every CPU), a thread reads the counter and
 * scales it from a base it takes from clock_gettime() again each
 * GLUETOOL_MONOTONIC_CLOCK_REBASE_NS; whatever the scale's error, a time
 * is never further from the kernel's than that error over one interval.
 *
 * The scale, nanoseconds per tick, is measured against clock_gettime()
 * over a thread's first GLUETOOL_MONOTONIC_CLOCK_CALIBRATION_NS, and
 * shared: threads that come later start with it. Each rebase checks it
 * against the interval that ends; one more than 1 us off a millisecond
 * (the counter's rate changed, as when a virtual machine moves, or the
 * interval spans a suspend the two clocks counted differently) is
 * dropped and measured again. Until a thread has a scale, and where the
 * counter is not used, every read is clock_gettime() (the clock of
 * g_get_monotonic_time()), and a read that rebases returns it too.
 *
 * Times are in g_get_monotonic_time()'s microseconds and timeline, and
 * never go back on one thread. Two threads may disagree by the scale's
 * error over an interval: an action finished on another thread than it
 * started on has its duration clamped at 0.
 *
 * Who may call what: gluetool_monotonic_clock_ensure_probed() from outside
 * any region (it reads a file, until one thread has) before the first
 * read; the rest, any thread, each with its own base.
 */

#pragma once

#include <glib.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#define GLUETOOL_MONOTONIC_CLOCK_HAS_COUNTER 1
#endif

#include "process-private.h"

G_BEGIN_DECLS

#ifdef GLUETOOL_MONOTONIC_CLOCK_HAS_COUNTER
/* Products of a tick count and a 32.32 scale. */
__extension__ typedef unsigned __int128 GluetoolUint128;
#endif

#define GLUETOOL_MONOTONIC_CLOCK_REBASE_NS      (1000 * 1000)
#define GLUETOOL_MONOTONIC_CLOCK_CALIBRATION_NS (10 * 1000 * 1000)

typedef struct {
  guint64 base_ticks;
  gint64  base_ns;            /* CLOCK_MONOTONIC at base_ticks */
  guint64 scale;              /* the one base_ns was taken with */
  guint64 rebase_after_ticks; /* 0 without a scale: every read rebases */
  gint64  last_us;            /* the latest time returned */
} GluetoolMonotonicClock;

/* The calling thread's base; only through the functions below. */
extern GLUETOOL_THREAD_LOCAL GluetoolMonotonicClock gluetool_monotonic_clock_thread_;

/* Decides, once, whether the counter may be used. */
void   gluetool_monotonic_clock_ensure_probed (void);
/* Takes a new base from clock_gettime() and returns its time: the slow
 * half of gluetool_monotonic_clock_now_us(). */
gint64 gluetool_monotonic_clock_rebase        (GluetoolMonotonicClock *clock);

/* Whether the probe allowed the counter: the CPU says it is invariant, the
 * kernel keeps time with it, and both clocks could be read together. */
gboolean gluetool_monotonic_clock_counter_allowed (void);
/* Whether times are read from the counter (the calibration is done). */
gboolean gluetool_monotonic_clock_uses_counter   (void);
/* For tests: with @force, every read is g_get_monotonic_time() from now
 * on; without, the counter is used again where the probe allowed it. */
void     gluetool_monotonic_clock_force_system   (gboolean force);

/* For tests: makes the shared scale and the calling thread's
 * @per_thousand parts in a thousand too large, as when the counter's rate
 * changes under a running program. */
void     gluetool_monotonic_clock_skew           (guint    per_thousand);

/* @ns in microseconds, or the latest time the thread returned when that
 * is later: a thread's times never go back. */
static inline gint64
gluetool_monotonic_clock_settle_ (GluetoolMonotonicClock *clock,
                                  gint64                  ns)
{
  gint64 us = ns / 1000;

  if (G_UNLIKELY (us < clock->last_us))
    return clock->last_us;
  clock->last_us = us;
  return us;
}

/* Now, in g_get_monotonic_time()'s microseconds. */
static inline gint64
gluetool_monotonic_clock_now_us (void)
{
#ifdef GLUETOOL_MONOTONIC_CLOCK_HAS_COUNTER
  GluetoolMonotonicClock *clock = &gluetool_monotonic_clock_thread_;

  /* 0 where the counter is not used: no counter read then. */
  if (G_LIKELY (clock->rebase_after_ticks != 0))
    {
      /* Unfenced: the read may move by some tens of cycles, far below a
       * microsecond. Unsigned, so a counter behind the base (another
       * CPU's, were the kernel wrong) wraps to a huge count and rebases. */
      guint64 elapsed = __rdtsc () - clock->base_ticks;

      if (G_LIKELY (elapsed < clock->rebase_after_ticks))
        return gluetool_monotonic_clock_settle_ (clock, clock->base_ns
                                                 + (gint64) (((GluetoolUint128) elapsed * clock->scale) >> 32));
    }
  return gluetool_monotonic_clock_rebase (clock);
#else
  return g_get_monotonic_time ();
#endif
}

G_END_DECLS
