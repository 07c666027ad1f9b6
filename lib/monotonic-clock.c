/* monotonic-clock.c: the monotonic time of actions' starts and ends, read
 * from the CPU's time-stamp counter where the kernel trusts it
 *
 * SPDX-License-Identifier: MIT
 *
 * See monotonic-clock-private.h.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "monotonic-clock-private.h"

#ifdef GLUETOOL_MONOTONIC_CLOCK_HAS_COUNTER
#include <cpuid.h>
#endif

/* A reading of both clocks is kept only when the two counter reads around
 * clock_gettime() are this close (about a hundred ticks apart, its own
 * cost): a thread held up in between would pair a time with a later tick.
 * The midpoint is then within 512 ticks of the time's instant, under half
 * a microsecond on any counter of 1 GHz or more. */
#define PAIR_MAX_TICKS 1024

GLUETOOL_THREAD_LOCAL GluetoolMonotonicClock gluetool_monotonic_clock_thread_;

/* Nanoseconds per tick as a 32.32 fixed-point number, the latest one any
 * thread measured; 0 until the first. Relaxed: one number, read whole. */
static _Atomic guint64 shared_scale;
/* Whether the probe allowed the counter, and whether a test turned it
 * off. Relaxed: each is one flag, and a read of the system's clock is
 * never wrong. */
static atomic_bool counter_allowed;
static atomic_bool forced_system;
#ifdef GLUETOOL_MONOTONIC_CLOCK_HAS_COUNTER
/* Whether counter_allowed is decided. */
static atomic_bool probed;
#endif

/* A measured scale outside this is not a counter's rate (100 MHz to
 * 20 GHz), but an interval the two clocks did not both count, as across
 * a suspend: it is thrown away. */
#define SCALE_MIN ((guint64) ((1ull << 32) / 20))
#define SCALE_MAX ((guint64) (10ull << 32))

static inline gint64
system_now_ns (void)
{
  struct timespec now;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return (gint64) now.tv_sec * G_GINT64_CONSTANT (1000000000) + now.tv_nsec;
}

#ifdef GLUETOOL_MONOTONIC_CLOCK_HAS_COUNTER

/* CPUID 0x80000007, EDX bit 8: the counter ticks at one rate in every
 * power state. */
static gboolean
counter_is_invariant (void)
{
  unsigned int eax, ebx, ecx, edx;

  return __get_cpuid (0x80000007, &eax, &ebx, &ecx, &edx) && (edx & (1u << 8)) != 0;
}

/* The kernel keeps time with the counter only once it found it in step on
 * every CPU, and stops when it finds it drifting. */
static gboolean
kernel_keeps_time_with_counter (void)
{
  g_autofree char *contents = NULL;

  if (!g_file_get_contents ("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                            &contents, NULL, NULL))
    return FALSE;
  return g_str_equal (g_strstrip (contents), "tsc");
}

/* Both clocks at one instant, or FALSE when the thread was held up
 * between the reads. */
static gboolean
read_pair (guint64 *ticks,
           gint64  *ns)
{
  guint64 before = __rdtsc ();
  guint64 after;

  *ns = system_now_ns ();
  after = __rdtsc ();
  if (after - before > PAIR_MAX_TICKS)
    return FALSE;
  *ticks = before + (after - before) / 2;
  return TRUE;
}

/* Nanoseconds per tick between two readings, 32.32. */
static guint64
measure_scale (guint64 from_ticks,
               gint64  from_ns,
               guint64 to_ticks,
               gint64  to_ns)
{
  GluetoolUint128 scale;

  if (to_ticks <= from_ticks || to_ns <= from_ns)
    return 0;
  scale = ((GluetoolUint128) (to_ns - from_ns) << 32) / (to_ticks - from_ticks);
  /* Beyond 64 bits is no counter's rate: 0, which the caller throws away. */
  return scale <= G_MAXUINT64 ? (guint64) scale : 0;
}

/* Starts the thread's next interval at (@ticks, @ns) with @scale. */
static void
set_base (GluetoolMonotonicClock *clock,
          guint64                 ticks,
          gint64                  ns,
          guint64                 scale)
{
  clock->base_ticks = ticks;
  clock->base_ns = ns;
  clock->scale = scale;
  clock->rebase_after_ticks = scale != 0
                              ? (guint64) (((GluetoolUint128) GLUETOOL_MONOTONIC_CLOCK_REBASE_NS << 32) / scale)
                              : 0;
}

/* With a scale: checks it against the interval that ends. Off by more
 * than 1 us a millisecond, beyond what pairing the clocks can miss (each
 * base's tick within half of PAIR_MAX_TICKS), and the counter's rate
 * changed, or the interval spans a suspend the two clocks counted
 * differently, or the counter went back: the scale is dropped, for every
 * thread that has not moved on to a newer one, and measured again. */
static void
rebase_with_scale (GluetoolMonotonicClock *clock,
                   guint64                 ticks,
                   gint64                  ns)
{
  guint64 scale = clock->scale;
  gint64 pairing_ns = (gint64) (((GluetoolUint128) PAIR_MAX_TICKS * scale) >> 32);
  gboolean off = TRUE;

  /* Predicted only for a counter that went forward, by less than 2^63
   * nanoseconds' worth: no product can overflow. */
  if (ticks >= clock->base_ticks && ns >= clock->base_ns)
    {
      GluetoolUint128 elapsed_ns = ((GluetoolUint128) (ticks - clock->base_ticks) * scale) >> 32;
      gint64 interval_ns = ns - clock->base_ns;

      if (elapsed_ns < (GluetoolUint128) G_MAXINT64 / 2)
        off = ABS ((gint64) elapsed_ns - interval_ns) > interval_ns / 1000 + pairing_ns;
    }
  if (off)
    {
      guint64 dropped = scale;

      atomic_compare_exchange_strong_explicit (&shared_scale, &dropped, 0,
                                               memory_order_relaxed, memory_order_relaxed);
      set_base (clock, ticks, ns, 0);
      return;
    }
  /* A newer measurement by another thread, if any. */
  scale = atomic_load_explicit (&shared_scale, memory_order_relaxed);
  set_base (clock, ticks, ns, scale != 0 ? scale : clock->scale);
}

/* Without a scale: the shared one, else the counter's rate measured from
 * the thread's base once GLUETOOL_MONOTONIC_CLOCK_CALIBRATION_NS have
 * passed, shared with the other threads. Until then the base stays. */
static void
rebase_without_scale (GluetoolMonotonicClock *clock,
                      guint64                 ticks,
                      gint64                  ns)
{
  guint64 scale = atomic_load_explicit (&shared_scale, memory_order_relaxed);

  if (scale != 0)
    {
      set_base (clock, ticks, ns, scale);
      return;
    }
  if (clock->base_ns == 0 || ticks <= clock->base_ticks || ns <= clock->base_ns)
    {
      set_base (clock, ticks, ns, 0);
      return;
    }
  if (ns - clock->base_ns < GLUETOOL_MONOTONIC_CLOCK_CALIBRATION_NS)
    return;

  scale = measure_scale (clock->base_ticks, clock->base_ns, ticks, ns);
  if (scale < SCALE_MIN || scale > SCALE_MAX)
    {
      set_base (clock, ticks, ns, 0);
      return;
    }
  atomic_store_explicit (&shared_scale, scale, memory_order_relaxed);
  set_base (clock, ticks, ns, scale);
}

#endif /* GLUETOOL_MONOTONIC_CLOCK_HAS_COUNTER */

void
gluetool_monotonic_clock_ensure_probed (void)
{
#ifdef GLUETOOL_MONOTONIC_CLOCK_HAS_COUNTER
  gboolean allowed;
  gboolean paired = FALSE;
  guint64 ticks;
  gint64 ns;

  /* Acquire, pairing with the release below. No once: threads that probe
   * together find the same, and nobody waits for another, so a fork()
   * in the middle leaves the child nothing to wait for (it probes
   * again). */
  if (G_LIKELY (atomic_load_explicit (&probed, memory_order_acquire)))
    return;

  allowed = counter_is_invariant () && kernel_keeps_time_with_counter ();
  /* Both clocks must be readable together: a few tries, as a thread held
   * up between the reads fails one. Where all fail (a slow emulator), the
   * system's clock stays. */
  for (guint attempt = 0; allowed && !paired && attempt < 8; attempt++)
    paired = read_pair (&ticks, &ns);
  atomic_store_explicit (&counter_allowed, allowed && paired, memory_order_relaxed);
  atomic_store_explicit (&probed, true, memory_order_release);
#endif
}

gint64
gluetool_monotonic_clock_rebase (GluetoolMonotonicClock *clock)
{
  gint64 ns;

#ifdef GLUETOOL_MONOTONIC_CLOCK_HAS_COUNTER
  guint64 ticks;

  if (!atomic_load_explicit (&counter_allowed, memory_order_relaxed)
      || atomic_load_explicit (&forced_system, memory_order_relaxed))
    {
      set_base (clock, 0, 0, 0);
      ns = system_now_ns ();
    }
  else if (read_pair (&ticks, &ns))
    {
      if (clock->scale != 0)
        rebase_with_scale (clock, ticks, ns);
      else
        rebase_without_scale (clock, ticks, ns);
    }
#else
  ns = system_now_ns ();
#endif

  return gluetool_monotonic_clock_settle_ (clock, ns);
}

gboolean
gluetool_monotonic_clock_counter_allowed (void)
{
  return atomic_load_explicit (&counter_allowed, memory_order_relaxed);
}

gboolean
gluetool_monotonic_clock_uses_counter (void)
{
  return atomic_load_explicit (&counter_allowed, memory_order_relaxed)
         && !atomic_load_explicit (&forced_system, memory_order_relaxed)
         && atomic_load_explicit (&shared_scale, memory_order_relaxed) != 0;
}

void
gluetool_monotonic_clock_force_system (gboolean force)
{
  atomic_store_explicit (&forced_system, force, memory_order_relaxed);
  /* The calling thread's next read rebases, and so follows at once. */
  gluetool_monotonic_clock_thread_.rebase_after_ticks = 0;
}

void
gluetool_monotonic_clock_skew (guint per_thousand)
{
  GluetoolMonotonicClock *clock = &gluetool_monotonic_clock_thread_;
  guint64 skewed = clock->scale / 1000 * (1000 + per_thousand);

  atomic_store_explicit (&shared_scale, skewed, memory_order_relaxed);
  clock->scale = skewed;
}
