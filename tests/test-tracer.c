/* test-tracer.c: the tracer's life cycle: the process default, flush, close,
 * disabled tracing, statistics
 *
 * SPDX-License-Identifier: MIT
 */

#include <check.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "receiver.h"
#include "test-expect.h"
#include "check-tap.h"

#define WAIT_S 20.0

static GluetoolTracer *
tracer_for (TestReceiver *receiver,
            const char   *service)
{
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer = gluetool_tracer_new (service, "127.0.0.1",
                                                test_receiver_get_port (receiver), &error);

  ck_assert_msg (tracer != NULL, "%s", error ? error->message : "");
  return tracer;
}

static void
report (const char *label)
{
  g_autoptr(GluetoolAction) action = gluetool_action_new (label, NULL);
  g_autoptr(GError) error = NULL;

  ck_assert (gluetool_action_finish (action, &error));
}

static gpointer
report_in_thread (gpointer label)
{
  report (label);
  return NULL;
}

static const char *
service_of (TestReceiver *receiver,
            const char   *label)
{
  g_autoptr(GPtrArray) datagrams = test_receiver_get_datagrams (receiver);

  for (guint i = 0; i < datagrams->len; i++)
    {
      TestDatagram *datagram = g_ptr_array_index (datagrams, i);

      for (guint j = 0; datagram->batch != NULL && j < datagram->batch->spans->len; j++)
        {
          JaegerSpan *span = g_ptr_array_index (datagram->batch->spans, j);

          if (g_str_equal (span->operationName, label))
            return datagram->batch->process->serviceName;
        }
    }
  return NULL;
}

START_TEST (test_first_tracer_is_default)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) first = NULL;
  g_autoptr(GluetoolTracer) second = NULL;
  g_autoptr(GluetoolTracer) third = NULL;
  GluetoolTracerStats stats;

  ck_assert_ptr_null (gluetool_tracer_get_default ());
  first = tracer_for (receiver, "first");
  second = tracer_for (receiver, "second");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), first);

  report ("to first");
  ck_assert (gluetool_tracer_close (first, WAIT_S, NULL));
  ck_assert_ptr_null (gluetool_tracer_get_default ());

  /* No default now: an action reports nowhere, the second tracer included. */
  report ("to nobody");

  /* Closing ended the default; the next tracer made takes its place. */
  third = tracer_for (receiver, "third");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), third);
  report ("to third");
  ck_assert (gluetool_tracer_close (third, WAIT_S, NULL));

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);
  ck_assert_str_eq (service_of (receiver, "to first"), "first");
  ck_assert_str_eq (service_of (receiver, "to third"), "third");
  ck_assert_ptr_null (test_receiver_find_span (receiver, "to nobody"));

  gluetool_tracer_get_stats (second, &stats);
  ck_assert_uint_eq (stats.spans_reported, 0);
  ck_assert (gluetool_tracer_close (second, WAIT_S, NULL));
}
END_TEST

START_TEST (test_default_seen_by_other_threads)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = NULL;
  GThread *thread;

  tracer = tracer_for (receiver, "threads");
  thread = g_thread_new ("reporter", report_in_thread, "from a thread");
  g_thread_join (thread);
  ck_assert (gluetool_tracer_close (tracer, WAIT_S, NULL));
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  ck_assert_ptr_nonnull (test_receiver_find_span (receiver, "from a thread"));
}
END_TEST

START_TEST (test_close_twice_and_flush_after_close)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = tracer_for (receiver, "twice");
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;

  report ("once");
  ck_assert (gluetool_tracer_close (tracer, WAIT_S, &error));
  ck_assert (gluetool_tracer_is_closed (tracer));
  ck_assert (gluetool_tracer_close (tracer, WAIT_S, &error));
  ck_assert (gluetool_tracer_flush (tracer, WAIT_S, &error));
  ck_assert_ptr_null (error);

  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, 1);
  ck_assert_uint_eq (stats.spans_sent, 1);
  ck_assert_uint_eq (stats.datagrams_sent, 1);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
}
END_TEST

START_TEST (test_flush_sends_before_interval)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GError) error = NULL;

  /* A long interval: only flush() can send this span now. */
  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "reporting-host", "127.0.0.1",
                           "reporting-port", (guint) test_receiver_get_port (receiver),
                           "flush-interval", 3600.0,
                           NULL);
  ck_assert_ptr_nonnull (tracer);
  report ("flushed");
  ck_assert (gluetool_tracer_flush (tracer, WAIT_S, &error));
  /* flush() returned after the send, so the datagram is already on its way
   * over loopback. */
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  ck_assert (gluetool_tracer_close (tracer, WAIT_S, &error));
}
END_TEST

START_TEST (test_interval_sends_without_flush)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GError) error = NULL;

  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "reporting-host", "127.0.0.1",
                           "reporting-port", (guint) test_receiver_get_port (receiver),
                           "flush-interval", 0.05,
                           NULL);
  ck_assert_ptr_nonnull (tracer);
  report ("on the interval");
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  ck_assert (gluetool_tracer_close (tracer, WAIT_S, &error));
}
END_TEST

START_TEST (test_finished_after_close_not_queued)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = tracer_for (receiver, "late");
  g_autoptr(GluetoolAction) late = gluetool_action_new ("late", NULL);
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;

  /* Made while the tracer was the default, finished after it closed: close()
   * says the action was unfinished, and this thread no longer reports to
   * the tracer, so nothing is queued on a closed queue. */
  ck_assert (!gluetool_tracer_close (tracer, WAIT_S, &error));
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST),
                 "%s", error->message);
  ck_assert_str_eq (error->message,
                    "1 action was unfinished when the tracer closed and will never be reported");
  g_clear_error (&error);
  ck_assert (gluetool_action_finish (late, &error));
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.actions_unfinished_at_close, 1);
  ck_assert_uint_eq (stats.spans_reported, 0);
  ck_assert_uint_eq (gluetool_tracer_stats_get_lost (&stats), 0);
}
END_TEST

START_TEST (test_disabled_tracer)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GError) error = NULL;
  gboolean enabled = TRUE;
  GluetoolTracerStats stats;

  g_setenv ("GLUETOOL_TRACING_DISABLE", "1", TRUE);
  tracer = tracer_for (receiver, "disabled");
  g_unsetenv ("GLUETOOL_TRACING_DISABLE");

  ck_assert (!gluetool_tracer_is_enabled (tracer));
  g_object_get (tracer, "enabled", &enabled, NULL);
  ck_assert (!enabled);
  ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);

  report ("not sent");
  ck_assert (gluetool_tracer_flush (tracer, WAIT_S, &error));
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, 0);
  ck_assert (gluetool_tracer_close (tracer, WAIT_S, &error));
  ck_assert_ptr_null (gluetool_tracer_get_default ());
  ck_assert_uint_eq (test_receiver_get_n_spans (receiver), 0);
}
END_TEST

START_TEST (test_dropped_tracer_stops_cleanly)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) keeper = tracer_for (receiver, "keeper");
  GluetoolTracer *dropped = tracer_for (receiver, "dropped");
  GluetoolTracerStats stats;

  /* Not the default, so nothing reports to it; closing it on the last unref
   * must still stop its thread cleanly. */
  ck_assert_ptr_ne (gluetool_tracer_get_default (), dropped);
  gluetool_tracer_get_stats (dropped, &stats);
  ck_assert_uint_eq (stats.spans_reported, 0);
  g_object_unref (dropped);

  report ("kept");
  ck_assert (gluetool_tracer_close (keeper, WAIT_S, NULL));
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
}
END_TEST

START_TEST (test_close_uses_configured_timeout)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = NULL;
  double timeout = 0;

  g_setenv ("GLUETOOL_TRACING_FLUSH_TIMEOUT", "2.5", TRUE);
  tracer = tracer_for (receiver, "timeout");
  g_unsetenv ("GLUETOOL_TRACING_FLUSH_TIMEOUT");
  g_object_get (tracer, "flush-timeout", &timeout, NULL);
  ck_assert (timeout == 2.5);

  report ("closed with the default timeout");
  ck_assert (gluetool_tracer_close (tracer, 0, NULL));
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
}
END_TEST

/* The error enums are registered types, as language bindings need. */
START_TEST (test_error_enums_registered)
{
  g_autoptr(GEnumClass) tracer_errors = g_type_class_ref (GLUETOOL_TYPE_TRACER_ERROR);
  g_autoptr(GEnumClass) action_errors = g_type_class_ref (GLUETOOL_TYPE_ACTION_ERROR);
  g_autoptr(GEnumClass) context_errors = g_type_class_ref (GLUETOOL_TYPE_SPAN_CONTEXT_ERROR);

  ck_assert_str_eq (g_enum_get_value (tracer_errors, GLUETOOL_TRACER_ERROR_SPANS_LOST)->value_nick,
                    "spans-lost");
  ck_assert_str_eq (g_enum_get_value (tracer_errors, GLUETOOL_TRACER_ERROR_INVALID_CONFIG)->value_nick,
                    "invalid-config");
  ck_assert_str_eq (g_enum_get_value (action_errors, GLUETOOL_ACTION_ERROR_NOT_ACTIVE)->value_nick,
                    "not-active");
  ck_assert_str_eq (g_enum_get_value (action_errors, GLUETOOL_ACTION_ERROR_FINISHED)->value_nick,
                    "finished");
  ck_assert_str_eq (g_enum_get_value (context_errors, GLUETOOL_SPAN_CONTEXT_ERROR_INVALID)->value_nick,
                    "invalid");
}
END_TEST

START_TEST (test_stats_boxed)
{
  GluetoolTracerStats stats = { 10, 4, 2, 3, 2, 1 };
  g_autoptr(GluetoolTracerStats) copy = gluetool_tracer_stats_copy (&stats);

  ck_assert (G_TYPE_IS_BOXED (GLUETOOL_TYPE_TRACER_STATS));
  ck_assert_int_eq (memcmp (copy, &stats, sizeof stats), 0);
  ck_assert_uint_eq (gluetool_tracer_stats_get_lost (copy), 6);
}
END_TEST

static Suite *
tracer_suite (void)
{
  Suite *suite = suite_create ("tracer");
  TCase *tc = tcase_create ("lifecycle");

  tcase_set_timeout (tc, 60);
  tcase_add_checked_fixture (tc, test_unset_tracing_environment, NULL);
  tcase_add_test (tc, test_first_tracer_is_default);
  tcase_add_test (tc, test_default_seen_by_other_threads);
  tcase_add_test (tc, test_close_twice_and_flush_after_close);
  tcase_add_test (tc, test_flush_sends_before_interval);
  tcase_add_test (tc, test_interval_sends_without_flush);
  tcase_add_test (tc, test_finished_after_close_not_queued);
  tcase_add_test (tc, test_disabled_tracer);
  tcase_add_test (tc, test_dropped_tracer_stops_cleanly);
  tcase_add_test (tc, test_close_uses_configured_timeout);
  tcase_add_test (tc, test_stats_boxed);
  tcase_add_test (tc, test_error_enums_registered);
  suite_add_tcase (suite, tc);
  return suite;
}

int
main (void)
{
  return test_run_suite_tap (tracer_suite ());
}
