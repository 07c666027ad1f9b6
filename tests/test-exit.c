/* test-exit.c: spans finished before a normal exit arrive without close()
 *
 * SPDX-License-Identifier: MIT
 *
 * Each test runs this very program again as a child process, in one of
 * the modes below, with GLUETOOL_TRACING_REPORTING_PORT set to a real
 * loopback receiver, and counts what arrived once the child has exited.
 * A new process rather than a fork(): the test process already runs the
 * receiver's thread, and the child must be a program as users write them.
 */

#include <check.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "check-tap.h"
#include "receiver.h"
#include "test-expect.h"

#define N_ACTIONS        1000
#define N_SUITE_TESTS    10
#define ACTIONS_PER_TEST 101

/* ---- The child's modes --------------------------------------------------- */

static GluetoolTracer *
make_tracer (void)
{
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer = gluetool_tracer_new ("exit-test", NULL, 0, &error);

  if (tracer == NULL)
    g_error ("tracer: %s", error->message);
  return tracer;
}

static void
make_actions (guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("at-exit", NULL);

      if (!gluetool_action_finish (action, NULL))
        g_error ("finish failed");
    }
}

/* A program that returns from main() with its tracer never closed (and
 * never unreferenced, or unreferenced: the default holds its own). */
static int
child_return (gboolean unref)
{
  GluetoolTracer *tracer = make_tracer ();

  make_actions (N_ACTIONS);
  if (unref)
    g_object_unref (tracer);
  return 0;
}

static gpointer
report_then_exit (gpointer data)
{
  make_actions (N_ACTIONS);
  exit (0);
  return data;
}

/* exit() called from a worker thread while the main thread waits on it. */
static int
child_exit_from_thread (void)
{
  GluetoolTracer *tracer = make_tracer ();

  g_thread_join (g_thread_new ("worker", report_then_exit, tracer));
  g_assert_not_reached ();
  return 1;
}

/* close() first: exit has nothing left to send and must not wait. */
static int
child_after_close (void)
{
  g_autoptr(GluetoolTracer) tracer = make_tracer ();
  g_autoptr(GError) error = NULL;

  make_actions (N_ACTIONS);
  if (!gluetool_tracer_close (tracer, 10.0, &error))
    g_error ("close: %s", error->message);
  return 0;
}

/* A check suite written the obvious way: the tracer made in an unchecked
 * fixture, each test run by check in a forked child (CK_FORK), making its
 * actions and returning. check's child leaves a passing test with exit(). */
static GluetoolTracer *suite_tracer;

static void
suite_setup (void)
{
  suite_tracer = make_tracer ();
#if defined(__SANITIZE_ADDRESS__)
  /* The tracer's thread starts with it. GCC 12's AddressSanitizer takes no
   * lock around fork(), so a child forked while that thread allocates (as
   * it does when it starts) can inherit the allocator's lock held and hang
   * in it. A flush waits until the thread has started and gone to sleep;
   * other builds fork right away, as a user's suite would. */
  if (!gluetool_tracer_flush (suite_tracer, 10.0, NULL))
    g_error ("flush failed");
#endif
}

static void
suite_teardown (void)
{
  g_clear_object (&suite_tracer);
}

START_TEST (test_user_makes_actions)
{
  make_actions (ACTIONS_PER_TEST);
}
END_TEST

static int
child_check_suite (void)
{
  Suite *suite = suite_create ("user");
  TCase *tc = tcase_create ("user");
  SRunner *runner;
  int n_failed;

  tcase_add_unchecked_fixture (tc, suite_setup, suite_teardown);
  tcase_add_loop_test (tc, test_user_makes_actions, 0, N_SUITE_TESTS);
  suite_add_tcase (suite, tc);
  runner = srunner_create (suite);
  srunner_set_fork_status (runner, CK_FORK);
  srunner_run_all (runner, CK_SILENT);
  n_failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return n_failed == 0 ? 0 : 1;
}

static int
run_child (const char *mode)
{
  if (g_str_equal (mode, "return"))
    return child_return (FALSE);
  if (g_str_equal (mode, "return-unref"))
    return child_return (TRUE);
  if (g_str_equal (mode, "exit-from-thread"))
    return child_exit_from_thread ();
  if (g_str_equal (mode, "after-close"))
    return child_after_close ();
  if (g_str_equal (mode, "check-suite"))
    return child_check_suite ();
  g_printerr ("unknown mode %s\n", mode);
  return 2;
}

/* ---- The tests ------------------------------------------------------------ */

typedef struct {
  int   status;
  char *err;        /* (owned) what the child wrote on stderr */
} ChildResult;

static void
child_result_clear (ChildResult *result)
{
  g_clear_pointer (&result->err, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ChildResult, child_result_clear)

/* Runs this program in @mode with the tracer's settings pointing at @port,
 * plus @extra_env (NULL-terminated name, value pairs), and waits for it:
 * check's timeout bounds a child that never exits. */
static void
run_mode (const char  *mode,
          guint16      port,
          const char  *const *extra_env,
          ChildResult *result)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *self = g_file_read_link ("/proc/self/exe", &error);
  g_autofree char *err = NULL;

  ck_assert_msg (self != NULL, "/proc/self/exe: %s", error != NULL ? error->message : "");
  g_subprocess_launcher_setenv (launcher, "GLUETOOL_TRACING_REPORTING_HOST", "127.0.0.1", TRUE);
  g_subprocess_launcher_setenv (launcher, "GLUETOOL_TRACING_REPORTING_PORT", port_text, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "GLUETOOL_TRACING_EXIT_FLUSH_TIMEOUT");
  g_subprocess_launcher_unsetenv (launcher, "GLUETOOL_TRACING_FLUSH_INTERVAL");
  /* The spans must not leave in a datagram that fills, nor at the flush
   * interval, before the exit: only the exit sends them. */
  g_subprocess_launcher_setenv (launcher, "GLUETOOL_TRACING_FLUSH_INTERVAL", "3600", TRUE);
  g_subprocess_launcher_setenv (launcher, "GLUETOOL_TRACING_MAX_PACKET_SIZE", "65000", TRUE);
  for (guint i = 0; extra_env != NULL && extra_env[i] != NULL; i += 2)
    g_subprocess_launcher_setenv (launcher, extra_env[i], extra_env[i + 1], TRUE);

  child = g_subprocess_launcher_spawn (launcher, &error, self, "--child", mode, NULL);
  ck_assert_msg (child != NULL, "spawn: %s", error != NULL ? error->message : "");
  ck_assert_msg (g_subprocess_communicate_utf8 (child, NULL, NULL, NULL, &err, &error),
                 "communicate: %s", error != NULL ? error->message : "");
  result->status = g_subprocess_get_if_exited (child) ? g_subprocess_get_exit_status (child) : -1;
  result->err = g_steal_pointer (&err);
}

/* Every span the child finished has arrived, and the library said nothing. */
static void
expect_all_delivered (const char *mode,
                      guint       expected)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(ChildResult) result = { 0 };

  run_mode (mode, test_receiver_get_port (receiver), NULL, &result);
  ck_assert_msg (result.status == 0, "%s: exit status %d: %.400s", mode, result.status, result.err);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, expected, 10.0), expected);
  ck_assert_uint_eq (test_receiver_get_n_bad (receiver), 0);
  /* Nothing from the library; a sanitizer may have its own say. */
  ck_assert_msg (strstr (result.err, "Gluetool") == NULL, "%s wrote: %.400s", mode, result.err);
}

START_TEST (test_return_from_main)
{
  expect_all_delivered ("return", N_ACTIONS);
}
END_TEST

START_TEST (test_return_from_main_after_unref)
{
  expect_all_delivered ("return-unref", N_ACTIONS);
}
END_TEST

START_TEST (test_exit_from_worker_thread)
{
  expect_all_delivered ("exit-from-thread", N_ACTIONS);
}
END_TEST

START_TEST (test_check_suite_in_fork_mode)
{
  expect_all_delivered ("check-suite", N_SUITE_TESTS * ACTIONS_PER_TEST);
}
END_TEST

/* After close() the exit sends nothing more, and says nothing. */
START_TEST (test_exit_after_close)
{
  expect_all_delivered ("after-close", N_ACTIONS);
}
END_TEST

/* Nobody listening: the exit neither hangs nor stays silent. The port is
 * one a receiver held a moment ago, so nothing listens there now. */
START_TEST (test_agent_down)
{
  g_auto(ChildResult) result = { 0 };
  guint16 port;

  {
    g_autoptr(TestReceiver) gone = test_receiver_new ("127.0.0.1");

    port = test_receiver_get_port (gone);
  }
  run_mode ("return", port, NULL, &result);
  ck_assert_msg (result.status == 0, "exit status %d: %.400s", result.status, result.err);
  ck_assert_msg (strstr (result.err, "were not all sent") != NULL, "it wrote: %.400s", result.err);
  ck_assert_msg (strstr (result.err, "failed to send") != NULL
                 || strstr (result.err, "refused") != NULL, "it wrote: %.400s", result.err);
}
END_TEST

/* A name that never resolves in time: the exit waits its bound, no more.
 * The exit flush timeout is set low so the test is quick; check's timeout
 * catches an exit that would hang. */
START_TEST (test_exit_bounded_by_its_timeout)
{
  const char *env[] = {
    "GLUETOOL_TRACING_EXIT_FLUSH_TIMEOUT", "0.2",
    /* An address nobody answers on: the send is accepted, but a lookup of
     * a name in the reserved .invalid domain fails; either way the
     * flush is bounded. */
    "GLUETOOL_TRACING_REPORTING_HOST", "exit-test.invalid",
    NULL,
  };
  g_auto(ChildResult) result = { 0 };

  run_mode ("return", 9, env, &result);
  ck_assert_msg (result.status == 0, "exit status %d: %.400s", result.status, result.err);
  ck_assert_msg (strstr (result.err, "were not all sent") != NULL, "it wrote: %.400s", result.err);
}
END_TEST

static Suite *
exit_suite (void)
{
  Suite *suite = suite_create ("exit");
  TCase *tc = tcase_create ("exit");

  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_return_from_main);
  tcase_add_test (tc, test_return_from_main_after_unref);
  tcase_add_test (tc, test_exit_from_worker_thread);
  tcase_add_test (tc, test_check_suite_in_fork_mode);
  tcase_add_test (tc, test_exit_after_close);
  tcase_add_test (tc, test_agent_down);
  tcase_add_test (tc, test_exit_bounded_by_its_timeout);
  suite_add_tcase (suite, tc);
  return suite;
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 3 && g_str_equal (argv[1], "--child"))
    return run_child (argv[2]);

  test_unset_tracing_environment ();
  return test_run_suite_tap (exit_suite ());
}
