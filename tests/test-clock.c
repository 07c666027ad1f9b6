/* test-clock.c: the monotonic clock of actions' starts and ends, against
 * the system's
 *
 * SPDX-License-Identifier: MIT
 */

#include <check.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "check-tap.h"
#include "monotonic-clock-private.h"
#include "receiver.h"
#include "test-expect.h"

#define WAIT_S 20.0

/* How far a time may be outside the system's clock read around it: the
 * truncation to microseconds, and the scale's error over one interval. */
#define SLACK_US 2

/* How long each bracketing loop runs: past the calibration, and across
 * many intervals. */
#define LOOP_US (4 * GLUETOOL_MONOTONIC_CLOCK_CALIBRATION_NS / 1000)

typedef struct {
  guint64 reads;
  guint64 outside;         /* reads outside the system's bracket */
  guint64 went_back;       /* reads earlier than the one before */
  gint64  worst_us;        /* the furthest outside */
} Bracket;

/* Reads the clock between two reads of GLib's for @duration_us, and
 * counts what falls outside. Plain counts, not check's assertions: those
 * write to check's log at every call, far slower than a read. */
static void
bracket_reads (Bracket *bracket,
               gint64   duration_us)
{
  gint64 end = g_get_monotonic_time () + duration_us;
  gint64 previous = G_MININT64;
  gint64 before;

  *bracket = (Bracket) { 0 };
  do
    {
      gint64 now, after;

      before = g_get_monotonic_time ();
      now = gluetool_monotonic_clock_now_us ();
      after = g_get_monotonic_time ();
      bracket->reads++;
      if (now < before - SLACK_US || now > after + SLACK_US)
        {
          bracket->outside++;
          bracket->worst_us = MAX (bracket->worst_us, MAX (before - now, now - after));
        }
      if (now < previous)
        bracket->went_back++;
      previous = now;
    }
  while (before < end);
}

static void
assert_bracketed (const Bracket *bracket)
{
  ck_assert_uint_gt (bracket->reads, 0);
  ck_assert_msg (bracket->outside == 0,
                 "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " reads outside the system's "
                 "clock, the worst by %" G_GINT64_FORMAT " us",
                 bracket->outside, bracket->reads, bracket->worst_us);
  ck_assert_uint_eq (bracket->went_back, 0);
}

/* Whether the kernel keeps time with the time-stamp counter, as the
 * probe reads it. */
static gboolean
kernel_clock_is_counter (void)
{
  g_autofree char *contents = NULL;

  return g_file_get_contents ("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                              &contents, NULL, NULL)
         && g_str_equal (g_strstrip (contents), "tsc");
}

START_TEST (test_follows_the_system_clock)
{
  Bracket bracket;

  gluetool_monotonic_clock_ensure_probed ();
  bracket_reads (&bracket, LOOP_US);
  assert_bracketed (&bracket);

  /* Past the calibration, the counter is in use wherever the probe
   * allowed it, and only where the kernel keeps time with it. */
  ck_assert_int_eq (gluetool_monotonic_clock_uses_counter (),
                    gluetool_monotonic_clock_counter_allowed ());
  if (gluetool_monotonic_clock_counter_allowed ())
    ck_assert (kernel_clock_is_counter ());
}
END_TEST

static gpointer
bracket_in_thread (gpointer data)
{
  bracket_reads (data, LOOP_US);
  return NULL;
}

/* Threads share the scale, and each takes bases of its own. */
START_TEST (test_threads)
{
  Bracket brackets[4];
  GThread *threads[G_N_ELEMENTS (brackets)];

  gluetool_monotonic_clock_ensure_probed ();
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("bracket", bracket_in_thread, &brackets[i]);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_thread_join (threads[i]);
      assert_bracketed (&brackets[i]);
    }
}
END_TEST

START_TEST (test_forced_system_clock)
{
  Bracket bracket;

  gluetool_monotonic_clock_ensure_probed ();
  gluetool_monotonic_clock_force_system (TRUE);
  ck_assert (!gluetool_monotonic_clock_uses_counter ());
  bracket_reads (&bracket, LOOP_US / 4);
  assert_bracketed (&bracket);

  /* Back to the counter, calibrated anew. */
  gluetool_monotonic_clock_force_system (FALSE);
  bracket_reads (&bracket, LOOP_US);
  assert_bracketed (&bracket);
  ck_assert_int_eq (gluetool_monotonic_clock_uses_counter (),
                    gluetool_monotonic_clock_counter_allowed ());
}
END_TEST

/* A scale that no longer matches the counter's rate (as after a virtual
 * machine moved) is dropped at the next rebase, and times follow the
 * system's clock again. */
START_TEST (test_rate_change)
{
  GluetoolMonotonicClock *clock = &gluetool_monotonic_clock_thread_;
  Bracket bracket;
  guint64 wrong_scale;
  gint64 until;

  gluetool_monotonic_clock_ensure_probed ();
  bracket_reads (&bracket, LOOP_US);
  assert_bracketed (&bracket);
  ck_assert_int_eq (clock->scale != 0, gluetool_monotonic_clock_counter_allowed ());
  if (clock->scale == 0)
    return;

  /* 2% fast, for every thread: 20 us off a millisecond. */
  gluetool_monotonic_clock_skew (20);
  wrong_scale = clock->scale;
  until = g_get_monotonic_time () + 3 * GLUETOOL_MONOTONIC_CLOCK_REBASE_NS / 1000;
  while (g_get_monotonic_time () < until)
    (void) gluetool_monotonic_clock_now_us ();
  /* Dropped, then measured again (the calibration's reads follow the
   * system's clock meanwhile). */
  ck_assert_uint_ne (clock->scale, wrong_scale);

  bracket_reads (&bracket, LOOP_US);
  assert_bracketed (&bracket);
}
END_TEST

/* An action's span has the duration the system's clock saw, past the
 * calibration: the one the program's actions get. */
START_TEST (test_span_duration)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) action = NULL;
  Bracket bracket;
  JaegerSpan *span;
  gint64 outer_start, inner_start, inner_end, outer_end;

  test_unset_tracing_environment ();
  tracer = gluetool_tracer_new ("clock", "127.0.0.1", test_receiver_get_port (receiver), &error);
  ck_assert_msg (error == NULL, "tracer: %s", error ? error->message : "");
  gluetool_monotonic_clock_ensure_probed ();
  bracket_reads (&bracket, LOOP_US / 2);

  outer_start = g_get_monotonic_time ();
  action = gluetool_action_new ("timed", NULL);
  inner_start = g_get_monotonic_time ();
  /* The work the span times, not a wait for anything. */
  g_usleep (20 * 1000);
  inner_end = g_get_monotonic_time ();
  test_expect_finish (action);
  outer_end = g_get_monotonic_time ();
  test_expect_close (tracer, WAIT_S);

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  span = test_receiver_expect_span (receiver, "timed");
  ck_assert_int_ge (span->duration, inner_end - inner_start - SLACK_US);
  ck_assert_int_le (span->duration, outer_end - outer_start + SLACK_US);
}
END_TEST

static Suite *
clock_suite (void)
{
  Suite *suite = suite_create ("clock");
  TCase *basics = tcase_create ("basics");

  tcase_set_timeout (basics, 60);
  tcase_add_test (basics, test_follows_the_system_clock);
  tcase_add_test (basics, test_threads);
  tcase_add_test (basics, test_forced_system_clock);
  tcase_add_test (basics, test_rate_change);
  tcase_add_test (basics, test_span_duration);
  suite_add_tcase (suite, basics);
  return suite;
}

int
main (void)
{
  return test_run_suite_tap (clock_suite ());
}
