/* test-run.c: `gluetool-trace run`, run as a program, reporting to a
 * loopback receiver
 *
 * SPDX-License-Identifier: MIT
 *
 * GLUETOOL_TRACE_PROGRAM is the path of gluetool-trace. Every test starts
 * it with an environment of its own (the receiver's port, TRACEPARENT as the
 * test wants it) and waits for it to exit, for a line it prints, or for
 * spans at the receiver; nothing waits on a timer. Works forked (check's
 * default) and with CK_FORK=no.
 */

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "receiver.h"
#include "check-tap.h"

#define WAIT_S 20.0

#define EXAMPLE_TRACEPARENT "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define EXAMPLE_TRACE_HIGH  G_GUINT64_CONSTANT (0x4bf92f3577b34da6)
#define EXAMPLE_TRACE_LOW   G_GUINT64_CONSTANT (0xa3ce929d0e0e4736)
#define EXAMPLE_SPAN        G_GUINT64_CONSTANT (0x00f067aa0ba902b7)

static const char *program;

/* ---- Running gluetool-trace ---------------------------------------------------- */

/* The environment for gluetool-trace: tracing on, to @port on loopback (0:
 * leave the port alone), no TRACEPARENT, no opt-out. */
static char **
make_environment (guint port)
{
  char **environment = g_get_environ ();

  environment = g_environ_unsetenv (environment, "GLUETOOL_TRACING_DISABLE");
  environment = g_environ_unsetenv (environment, "GLUETOOL_TRACING_IGNORE_TRACEPARENT");
  environment = g_environ_unsetenv (environment, "TRACEPARENT");
  environment = g_environ_setenv (environment, "GLUETOOL_TRACING_SERVICE_NAME", "test-run", TRUE);
  environment = g_environ_setenv (environment, "GLUETOOL_TRACING_REPORTING_HOST", "127.0.0.1", TRUE);
  if (port != 0)
    {
      g_autofree char *text = g_strdup_printf ("%u", port);

      environment = g_environ_setenv (environment, "GLUETOOL_TRACING_REPORTING_PORT", text, TRUE);
    }
  return environment;
}

/* Starts `gluetool-trace ARG...` (a NULL-terminated list) with @environment
 * and @flags. */
static GSubprocess *
spawn_trace (char           **environment,
             GSubprocessFlags flags,
             const char      *first_arg,
             ...)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *process;
  va_list args;

  g_ptr_array_add (argv, (char *) program);
  va_start (args, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_set_environ (launcher, environment);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  ck_assert_msg (process != NULL, "spawning %s: %s", program, error ? error->message : "");
  return process;
}

typedef struct {
  int   status;    /* the exit status; -1 when killed by a signal */
  char *out;       /* (owned) */
  char *err;       /* (owned) */
} RunResult;

static void
run_result_clear (RunResult *result)
{
  g_clear_pointer (&result->out, g_free);
  g_clear_pointer (&result->err, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunResult, run_result_clear)

/* Feeds @input to its stdin, collects stdout and stderr, waits for the end. */
static void
communicate (GSubprocess *process,
             const char  *input,
             RunResult   *result)
{
  g_autoptr(GError) error = NULL;

  ck_assert_msg (g_subprocess_communicate_utf8 (process, input, NULL, &result->out, &result->err,
                                                &error),
                 "communicate: %s", error ? error->message : "");
  result->status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
}

/* `gluetool-trace ARGV...` to its end, with stdin from @input. */
static void
run_trace_argv (char             **environment,
                const char        *input,
                const char * const *argv,
                RunResult         *result)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) full_argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (full_argv, (char *) program);
  for (gsize i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (full_argv, (char *) argv[i]);
  g_ptr_array_add (full_argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
                                        | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_environ (launcher, environment);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) full_argv->pdata, &error);
  ck_assert_msg (process != NULL, "spawning %s: %s", program, error ? error->message : "");
  communicate (process, input, result);
}

#define RUN_TRACE(environment, input, result, ...)                               \
  G_STMT_START {                                                                 \
    const char * const run_argv_[] = { __VA_ARGS__, NULL };                      \
    run_trace_argv ((environment), (input), run_argv_, (result));                \
  } G_STMT_END

/* ---- Checking spans ---------------------------------------------------------- */



static void
assert_string_tag (JaegerSpan *span,
                   const char *key,
                   const char *value)
{
  JaegerTag *tag = test_expect_tag (span, key);

  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_STRING);
  ck_assert_str_eq (tag->vStr, value);
}

static void
assert_long_tag (JaegerSpan *span,
                 const char *key,
                 gint64      value)
{
  JaegerTag *tag = test_expect_tag (span, key);

  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_LONG);
  ck_assert_int_eq (tag->vLong, value);
}

/* error=true, and a log saying why. */
static void
assert_failed (JaegerSpan *span,
               const char *message_part)
{
  JaegerTag *tag = test_expect_tag (span, "error");
  gboolean found_message = FALSE;

  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_BOOL);
  ck_assert (tag->vBool);
  ck_assert (span->__isset_logs);
  for (guint i = 0; i < span->logs->len; i++)
    {
      JaegerLog *log = g_ptr_array_index (span->logs, i);
      JaegerTag *event = test_find_tag (log->fields, "event");
      JaegerTag *message = test_find_tag (log->fields, "message");

      if (event != NULL && g_strcmp0 (event->vStr, "error") == 0 && message != NULL
          && strstr (message->vStr, message_part) != NULL)
        found_message = TRUE;
    }
  ck_assert_msg (found_message, "span '%s' has no error log saying '%s'", span->operationName,
                 message_part);
}

static void
assert_not_failed (JaegerSpan *span)
{
  ck_assert_ptr_null (test_find_tag (span->tags, "error"));
}

static guint64
span_id_of (JaegerSpan *span)
{
  return (guint64) span->spanId;
}

/* ---- Tests -------------------------------------------------------------------- */

START_TEST (test_nested_runs_one_trace)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(GStrv) environment = make_environment (test_receiver_get_port (receiver));
  g_auto(RunResult) result = { 0 };
  g_autofree char *inner_command_line = NULL;
  JaegerSpan *outer, *inner;

  RUN_TRACE (environment, NULL, &result,
             "run", "--label", "outer", "--", program, "run", "--label", "inner", "--", "true");
  ck_assert_msg (result.status == 0, "status %d: %s", result.status, result.err);
  ck_assert_str_eq (result.err, "");

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);
  ck_assert_uint_eq (test_receiver_get_n_bad (receiver), 0);
  outer = test_receiver_expect_span (receiver, "outer");
  inner = test_receiver_expect_span (receiver, "inner");

  /* One trace: the inner run is the outer run's child. */
  ck_assert_int_eq (outer->parentSpanId, 0);
  ck_assert_int_eq (inner->traceIdHigh, outer->traceIdHigh);
  ck_assert_int_eq (inner->traceIdLow, outer->traceIdLow);
  ck_assert_uint_eq ((guint64) inner->parentSpanId, span_id_of (outer));
  ck_assert_int_ne (inner->spanId, outer->spanId);
  /* The inner run started and ended within the outer one. */
  ck_assert_int_ge (inner->startTime, outer->startTime);
  ck_assert_int_le (inner->startTime + inner->duration, outer->startTime + outer->duration);

  /* A root carries the sampler's tags, the child does not. */
  assert_string_tag (outer, "sampler.type", "const");
  ck_assert_ptr_null (test_find_tag (inner->tags, "sampler.type"));

  inner_command_line = g_strdup_printf ("%s run --label inner -- true", program);
  assert_string_tag (outer, "process.command_line", inner_command_line);
  assert_string_tag (inner, "process.command_line", "true");
  assert_long_tag (outer, "process.exit.code", 0);
  assert_long_tag (inner, "process.exit.code", 0);
  ck_assert_int_gt (test_expect_tag (inner, "process.pid")->vLong, 0);
  assert_not_failed (outer);
  assert_not_failed (inner);
}
END_TEST

START_TEST (test_joins_given_traceparent)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(GStrv) environment = make_environment (test_receiver_get_port (receiver));
  g_auto(RunResult) result = { 0 };
  g_autofree char *expected = NULL;
  JaegerSpan *span;

  /* What the command sees: TRACEPARENT naming the run's own span. */
  environment = g_environ_setenv (environment, "TRACEPARENT", EXAMPLE_TRACEPARENT, TRUE);
  RUN_TRACE (environment, NULL, &result,
             "run", "--", "sh", "-c", "printf %s \"$TRACEPARENT\"");
  ck_assert_int_eq (result.status, 0);

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  span = test_receiver_expect_span (receiver, "sh");
  ck_assert_uint_eq ((guint64) span->traceIdHigh, EXAMPLE_TRACE_HIGH);
  ck_assert_uint_eq ((guint64) span->traceIdLow, EXAMPLE_TRACE_LOW);
  ck_assert_uint_eq ((guint64) span->parentSpanId, EXAMPLE_SPAN);
  ck_assert_ptr_null (test_find_tag (span->tags, "sampler.type"));

  expected = g_strdup_printf ("00-4bf92f3577b34da6a3ce929d0e0e4736-%016" G_GINT64_MODIFIER "x-01",
                              span_id_of (span));
  ck_assert_str_eq (result.out, expected);
}
END_TEST

START_TEST (test_exit_statuses)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(GStrv) environment = make_environment (test_receiver_get_port (receiver));
  g_auto(RunResult) ok = { 0 };
  g_auto(RunResult) three = { 0 };
  g_auto(RunResult) missing = { 0 };
  g_auto(RunResult) missing_path = { 0 };
  JaegerSpan *span;

  RUN_TRACE (environment, NULL, &ok, "run", "--label", "ok", "--", "true");
  ck_assert_int_eq (ok.status, 0);
  RUN_TRACE (environment, NULL, &three, "run", "--label", "three", "--", "sh", "-c", "exit 3");
  ck_assert_int_eq (three.status, 3);
  ck_assert_str_eq (three.err, "");

  /* Not found: 127 and a message, as shells have it. */
  RUN_TRACE (environment, NULL, &missing,
             "run", "--label", "missing", "--", "gluetool-test-no-such-command", "arg");
  ck_assert_int_eq (missing.status, 127);
  ck_assert_msg (strstr (missing.err, "gluetool-test-no-such-command: command not found") != NULL,
                 "stderr: %s", missing.err);
  RUN_TRACE (environment, NULL, &missing_path,
             "run", "--label", "missing path", "--", "/nonexistent/gluetool-test");
  ck_assert_int_eq (missing_path.status, 127);
  ck_assert_ptr_nonnull (strstr (missing_path.err, "/nonexistent/gluetool-test"));

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 4, WAIT_S), 4);

  span = test_receiver_expect_span (receiver, "ok");
  assert_long_tag (span, "process.exit.code", 0);
  assert_not_failed (span);

  span = test_receiver_expect_span (receiver, "three");
  assert_long_tag (span, "process.exit.code", 3);
  assert_failed (span, "exited with status 3");

  span = test_receiver_expect_span (receiver, "missing");
  assert_failed (span, "command not found");
  ck_assert_ptr_null (test_find_tag (span->tags, "process.exit.code"));
  ck_assert_ptr_null (test_find_tag (span->tags, "process.pid"));
  assert_string_tag (span, "process.command_line", "gluetool-test-no-such-command arg");

  span = test_receiver_expect_span (receiver, "missing path");
  assert_failed (span, "/nonexistent/gluetool-test");
}
END_TEST

START_TEST (test_cannot_execute)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(GStrv) environment = make_environment (test_receiver_get_port (receiver));
  g_auto(RunResult) result = { 0 };
  g_autofree char *directory = g_get_current_dir ();

  /* Found, but not a program: 126. */
  RUN_TRACE (environment, NULL, &result, "run", "--label", "directory", "--", directory);
  ck_assert_int_eq (result.status, 126);
  ck_assert_str_ne (result.err, "");

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  assert_failed (test_receiver_expect_span (receiver, "directory"), "");
}
END_TEST

START_TEST (test_child_killed_by_signal)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(GStrv) environment = make_environment (test_receiver_get_port (receiver));
  g_auto(RunResult) result = { 0 };
  JaegerSpan *span;

  RUN_TRACE (environment, NULL, &result,
             "run", "--label", "killed", "--", "sh", "-c", "kill -TERM $$");
  ck_assert_int_eq (result.status, 128 + SIGTERM);

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  span = test_receiver_expect_span (receiver, "killed");
  assert_long_tag (span, "process.exit.signal", SIGTERM);
  ck_assert_ptr_null (test_find_tag (span->tags, "process.exit.code"));
  assert_failed (span, "killed by signal 15");
}
END_TEST

/* Sends @signo to a running `gluetool-trace run` whose child is blocked
 * reading stdin, once the child said it is running; checks that the child
 * got the signal and the run exited as the shell would. */
static void
check_signal_forwarded (int         signo,
                        const char *label)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(GStrv) environment = make_environment (test_receiver_get_port (receiver));
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  JaegerSpan *span;

  /* cat waits on a pipe that stays open: only the signal can end it. */
  process = spawn_trace (environment,
                         G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                         "run", "--label", label, "--", "sh", "-c", "echo ready; exec cat", NULL);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  ck_assert_msg (line != NULL, "no line from the child: %s", error ? error->message : "EOF");
  ck_assert_str_eq (line, "ready");

  /* Sent with kill(): meant for gluetool-trace, which passes it on. */
  g_subprocess_send_signal (process, signo);
  ck_assert (g_subprocess_wait (process, NULL, &error));
  ck_assert_msg (g_subprocess_get_if_exited (process),
                 "gluetool-trace run itself was killed by the signal");
  ck_assert_int_eq (g_subprocess_get_exit_status (process), 128 + signo);

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  span = test_receiver_expect_span (receiver, label);
  assert_long_tag (span, "process.exit.signal", signo);
  assert_failed (span, "killed by signal");
}

START_TEST (test_sigterm_forwarded)
{
  check_signal_forwarded (SIGTERM, "terminated");
}
END_TEST

START_TEST (test_sigint_forwarded)
{
  check_signal_forwarded (SIGINT, "interrupted");
}
END_TEST

START_TEST (test_sighup_forwarded)
{
  check_signal_forwarded (SIGHUP, "hung up");
}
END_TEST

START_TEST (test_label_and_tags)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(GStrv) environment = make_environment (test_receiver_get_port (receiver));
  g_auto(RunResult) labelled = { 0 };
  g_auto(RunResult) unlabelled = { 0 };
  JaegerSpan *span;

  RUN_TRACE (environment, NULL, &labelled,
             "run", "--label", "build", "--tag", "stage=2", "-t", "target=all=yes", "--tag",
             "empty=", "--", "sh", "-c", "exit 0", "two words", "it's");
  ck_assert_int_eq (labelled.status, 0);
  /* Without a label, the command's name; options after the command are its
   * own, "--" or not. */
  RUN_TRACE (environment, NULL, &unlabelled, "run", "/bin/sh", "-c", "true");
  ck_assert_int_eq (unlabelled.status, 0);

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);
  span = test_receiver_expect_span (receiver, "build");
  assert_string_tag (span, "stage", "2");
  assert_string_tag (span, "target", "all=yes");
  assert_string_tag (span, "empty", "");
  assert_string_tag (span, "process.command_line", "sh -c 'exit 0' 'two words' 'it'\\''s'");
  ck_assert_int_gt (test_expect_tag (span, "process.pid")->vLong, 0);

  span = test_receiver_expect_span (receiver, "sh");
  assert_string_tag (span, "process.command_line", "/bin/sh -c true");
}
END_TEST

START_TEST (test_standard_streams_pass_through)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(GStrv) environment = make_environment (test_receiver_get_port (receiver));
  g_auto(RunResult) result = { 0 };

  RUN_TRACE (environment, "line one\nline two\n", &result,
             "run", "--", "sh", "-c", "cat; echo to-stderr >&2");
  ck_assert_int_eq (result.status, 0);
  ck_assert_str_eq (result.out, "line one\nline two\n");
  ck_assert_str_eq (result.err, "to-stderr\n");
}
END_TEST

START_TEST (test_tracing_disabled)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(GStrv) environment = make_environment (test_receiver_get_port (receiver));
  g_auto(GStrv) disabled = NULL;
  g_auto(RunResult) result = { 0 };
  g_auto(RunResult) marker = { 0 };
  g_autoptr(GPtrArray) spans = NULL;

  /* The command runs, its status and output pass; with no span sent, the
   * command keeps the TRACEPARENT this run was given. */
  disabled = g_environ_setenv (g_strdupv (environment), "GLUETOOL_TRACING_DISABLE", "1", TRUE);
  disabled = g_environ_setenv (disabled, "TRACEPARENT", EXAMPLE_TRACEPARENT, TRUE);
  RUN_TRACE (disabled, NULL, &result,
             "run", "--label", "disabled", "--", "sh", "-c", "printf %s \"$TRACEPARENT\"; exit 5");
  ck_assert_int_eq (result.status, 5);
  ck_assert_str_eq (result.out, EXAMPLE_TRACEPARENT);
  ck_assert_str_eq (result.err, "");

  /* Nothing was sent: once a later run's span arrives, it is the only one
   * (loopback keeps the order of datagrams sent one after the other). */
  RUN_TRACE (environment, NULL, &marker, "run", "--label", "marker", "--", "true");
  ck_assert_int_eq (marker.status, 0);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  spans = test_receiver_get_spans (receiver);
  ck_assert_uint_eq (spans->len, 1);
  test_receiver_expect_span (receiver, "marker");
}
END_TEST

START_TEST (test_no_agent_listening)
{
  g_auto(GStrv) environment = NULL;
  g_auto(RunResult) result = { 0 };
  guint port;

  /* A port that was just free: nothing listens there. */
  {
    g_autoptr(TestReceiver) gone = test_receiver_new ("127.0.0.1");

    port = test_receiver_get_port (gone);
  }
  environment = make_environment (port);
  RUN_TRACE (environment, NULL, &result, "run", "--", "sh", "-c", "echo out; exit 4");
  ck_assert_int_eq (result.status, 4);
  ck_assert_str_eq (result.out, "out\n");
}
END_TEST

START_TEST (test_tracing_misconfigured)
{
  g_auto(GStrv) environment = make_environment (0);
  g_auto(RunResult) result = { 0 };

  /* A tracer that cannot be made: a warning, and the command runs. */
  environment = g_environ_setenv (environment, "GLUETOOL_TRACING_REPORTING_PORT", "abc", TRUE);
  RUN_TRACE (environment, NULL, &result, "run", "--", "sh", "-c", "echo out; exit 6");
  ck_assert_int_eq (result.status, 6);
  ck_assert_str_eq (result.out, "out\n");
  ck_assert_msg (strstr (result.err, "warning: tracing is off") != NULL, "stderr: %s", result.err);
  ck_assert_ptr_nonnull (strstr (result.err, "GLUETOOL_TRACING_REPORTING_PORT"));
}
END_TEST

START_TEST (test_usage_errors)
{
  g_auto(GStrv) environment = make_environment (0);
  g_auto(RunResult) no_command = { 0 };
  g_auto(RunResult) bad_tag = { 0 };
  g_auto(RunResult) bad_option = { 0 };

  /* 125, as env(1) and timeout(1) report their own errors. */
  environment = g_environ_setenv (environment, "GLUETOOL_TRACING_DISABLE", "1", TRUE);
  RUN_TRACE (environment, NULL, &no_command, "run", "--label", "x", "--");
  ck_assert_int_eq (no_command.status, 125);
  ck_assert_ptr_nonnull (strstr (no_command.err, "no command given"));
  RUN_TRACE (environment, NULL, &bad_tag, "run", "--tag", "novalue", "--", "true");
  ck_assert_int_eq (bad_tag.status, 125);
  ck_assert_ptr_nonnull (strstr (bad_tag.err, "KEY=VALUE"));
  RUN_TRACE (environment, NULL, &bad_option, "run", "--no-such-option", "--", "true");
  ck_assert_int_eq (bad_option.status, 125);
}
END_TEST

static Suite *
run_suite (void)
{
  Suite *suite = suite_create ("run");
  TCase *tc;

  tc = tcase_create ("trace");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_nested_runs_one_trace);
  tcase_add_test (tc, test_joins_given_traceparent);
  tcase_add_test (tc, test_label_and_tags);
  tcase_add_test (tc, test_standard_streams_pass_through);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("status");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_exit_statuses);
  tcase_add_test (tc, test_cannot_execute);
  tcase_add_test (tc, test_child_killed_by_signal);
  tcase_add_test (tc, test_sigterm_forwarded);
  tcase_add_test (tc, test_sigint_forwarded);
  tcase_add_test (tc, test_sighup_forwarded);
  tcase_add_test (tc, test_usage_errors);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("no tracing");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_tracing_disabled);
  tcase_add_test (tc, test_no_agent_listening);
  tcase_add_test (tc, test_tracing_misconfigured);
  suite_add_tcase (suite, tc);

  return suite;
}

int
main (void)
{
  program = g_getenv ("GLUETOOL_TRACE_PROGRAM");
  if (program == NULL || *program == '\0')
    {
      printf ("1..0 # SKIP GLUETOOL_TRACE_PROGRAM is not set\n");
      return 0;
    }

  return test_run_suite_tap (run_suite ());
}
