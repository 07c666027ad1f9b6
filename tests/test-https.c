/* test-https.c: spans and sampling strategies over TLS, to the real
 * receiver
 *
 * SPDX-License-Identifier: MIT
 *
 * The peer is `gluetool-trace listen --tls-certificate --tls-key` (found
 * through GLUETOOL_TRACE_PROGRAM), with the test certificates of
 * tests/data (GLUETOOL_TEST_DATA): a CA the tracers trust through
 * tls-ca-file, a certificate for localhost and 127.0.0.1 it signed, and a
 * self-signed one it did not. Nothing waits on a clock but the bounds under
 * test: close() must return by its bound whatever the TLS peer does, in a
 * child made by fork() too.
 */

#include <check.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include <gluetool/gluetool.h>

#include "listen-process.h"
#include "remote-sampler-private.h"
#include "test-expect.h"
#include "test-log.h"
#include "check-tap.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define WAIT_S 20.0
/* Any listener stops after this long without a span: a safety net for a
 * broken test, never the way a test ends. */
#define SAFETY_IDLE_S 30
/* What a bound may be overrun by on a loaded machine (or under valgrind):
 * the thread's wake-up and the cancellation's way through libsoup. */
#define BOUND_SLACK_S 3.0
/* How long the sender waits for a cut request's callbacks before it
 * abandons the request (CUT_GRACE_US in sender-http.c). */
#define CUT_GRACE_S 0.5

static char *
data_path (const char *name)
{
  const char *dir = g_getenv ("GLUETOOL_TEST_DATA");

  ck_assert_msg (dir != NULL, "GLUETOOL_TEST_DATA is not set");
  return g_build_filename (dir, name, NULL);
}

static double
seconds_since (gint64 start_us)
{
  return (double) (g_get_monotonic_time () - start_us) / G_USEC_PER_SEC;
}

/* ---- The receiver, over TLS --------------------------------------------------------- */

/* `gluetool-trace listen --http-port 0 --tls-certificate CERT.pem --tls-key
 * CERT-key.pem ARGS` (the sampling endpoint over TLS too, with
 * @strategies), once it said where it listens, over HTTPS. */
static ListenProcess *
tls_listener_start (const char        *certificate,
                    const char        *strategies,
                    const char *const *args)
{
  g_autofree char *certificate_name = g_strconcat (certificate, ".pem", NULL);
  g_autofree char *key_name = g_strconcat (certificate, "-key.pem", NULL);
  g_autofree char *certificate_path = data_path (certificate_name);
  g_autofree char *key_path = data_path (key_name);
  g_autoptr(GPtrArray) all_args = g_ptr_array_new ();
  ListenProcessOptions options = {
    .idle_s = SAFETY_IDLE_S,
    .http = TRUE,
    .sampling_strategies = strategies,
    .show_stderr_on_failure = TRUE,
  };
  ListenProcess *l;

  g_ptr_array_add (all_args, (gpointer) "--tls-certificate");
  g_ptr_array_add (all_args, certificate_path);
  g_ptr_array_add (all_args, (gpointer) "--tls-key");
  g_ptr_array_add (all_args, key_path);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (all_args, (gpointer) args[i]);
  g_ptr_array_add (all_args, NULL);
  options.args = (const char *const *) all_args->pdata;
  l = listen_process_start (&options);
  ck_assert_msg (strstr (l->err_text->str, "listening on HTTPS ") != NULL, "%s", l->err_text->str);
  ck_assert_msg (strategies == NULL
                 || strstr (l->err_text->str, "listening on sampling HTTPS ") != NULL, "%s",
                 l->err_text->str);
  return l;
}

/* Runs `gluetool-trace COMMAND ARGS` with @env (NAME=VALUE pairs) to its
 * end; its exit status, and its stderr in @err. */
static int
run_program (const char         *command,
             const char *const  *args,
             const char *const  *env,
             char              **err)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, g_strdup (listen_process_program ()));
  g_ptr_array_add (argv, g_strdup (command));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
    g_subprocess_launcher_setenv (launcher, env[i], env[i + 1], TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  ck_assert_msg (process != NULL, "spawn: %s", error ? error->message : "");
  ck_assert_msg (g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, err, &error),
                 "communicate: %s", error ? error->message : "");
  ck_assert (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

/* ---- Tracers -------------------------------------------------------------------------- */

static char *
endpoint_for (const char *host,
              guint16     port)
{
  return g_strdup_printf ("https://%s:%u/api/traces", host, port);
}

/* A tracer posting to @endpoint, trusting the test CA. */
static GluetoolTracer *
tracer_trusting_ca (const char *endpoint)
{
  g_autofree char *ca = data_path ("ca.pem");
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                           "service-name", "https-test",
                                           "endpoint", endpoint,
                                           "tls-ca-file", ca,
                                           NULL);

  ck_assert_msg (tracer != NULL, "tracer: %s", error ? error->message : "");
  return tracer;
}

/* ---- Delivered ------------------------------------------------------------------------ */

/* With the CA trusted, spans go over TLS to the receiver, which prints
 * them; by address and by name, both in the certificate. */
START_TEST (test_spans_over_https)
{
  const char *args[] = { "--count", "2", "--json", NULL };
  g_autoptr(ListenProcess) l = tls_listener_start ("server", NULL, args);
  g_autofree char *by_address = endpoint_for ("127.0.0.1", l->http_port);
  g_autofree char *by_name = endpoint_for ("localhost", l->http_port);
  g_autofree char *out = NULL;
  GluetoolTracerStats stats = { 0 };

  {
    g_autoptr(GluetoolTracer) tracer = tracer_trusting_ca (by_address);

    test_expect_action ("over https by address");
    test_expect_close (tracer, WAIT_S);
    gluetool_tracer_get_stats (tracer, &stats);
    ck_assert_uint_eq (stats.spans_sent, 1);
    ck_assert_uint_eq (stats.spans_failed_to_send, 0);
  }
  {
    g_autoptr(GluetoolTracer) tracer = tracer_trusting_ca (by_name);

    test_expect_action ("over https by name");
    test_expect_close (tracer, WAIT_S);
    gluetool_tracer_get_stats (tracer, &stats);
    ck_assert_uint_eq (stats.spans_sent, 1);
  }
  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "\"over https by address\"") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "\"over https by name\"") != NULL, "%s", out);
}
END_TEST

/* ---- Refused certificates ------------------------------------------------------------- */

/* A batch to @endpoint, whose certificate the tracer refuses: flush()
 * fails at once with why, naming the certificate; the span counts as
 * failed; the request is not tried again (a certificate that did not
 * verify will not on the next try), and close() keeps its bound. */
static void
check_refused (const char *endpoint,
               const char *why)
{
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *logged = NULL;
  GluetoolTracerStats stats = { 0 };
  const double close_timeout_s = 2.0;
  gint64 start;
  double close_s;

  /* Debug messages too, set before the tracer asks whether they are
   * shown: whether the sender tried again is one. */
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  tracer = tracer_trusting_ca (endpoint);
  test_expect_action ("refused");
  ck_assert (!gluetool_tracer_flush (tracer, WAIT_S, &error));
  ck_assert_msg (strstr (error->message, "TLS certificate was refused") != NULL, "%s",
                 error->message);
  ck_assert_msg (strstr (error->message, why) != NULL, "'%s' lacks '%s'", error->message, why);
  ck_assert_msg (strstr (error->message, endpoint) != NULL, "%s", error->message);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_failed_to_send, 1);
  ck_assert_uint_eq (stats.spans_sent, 0);
  logged = test_log_dup_text ();
  /* The debug messages are recorded (the sender's first one is), and none
   * says it tried again. */
  ck_assert_msg (strstr (logged, "Posting spans to") != NULL, "not recorded:\n%s", logged);
  ck_assert_msg (strstr (logged, "Trying again") == NULL, "tried again:\n%s", logged);

  /* Another span, refused the same way, as close() flushes it. */
  test_expect_action ("refused at close");
  g_clear_error (&error);
  start = g_get_monotonic_time ();
  ck_assert (!gluetool_tracer_close (tracer, close_timeout_s, &error));
  close_s = seconds_since (start);
  ck_assert_msg (close_s < close_timeout_s + BOUND_SLACK_S, "close() took %.2f s", close_s);
  ck_assert_msg (strstr (error->message, "certificate") != NULL, "%s", error->message);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_failed_to_send, 2);
  g_unsetenv ("G_MESSAGES_DEBUG");
}

/* A certificate signed by no authority the tracer trusts. */
START_TEST (test_untrusted_certificate)
{
  const char *args[] = { NULL };
  g_autoptr(ListenProcess) l = tls_listener_start ("untrusted", NULL, args);
  g_autofree char *endpoint = endpoint_for ("127.0.0.1", l->http_port);

  check_refused (endpoint, "not signed by a certificate authority trusted here");
}
END_TEST

/* A certificate the CA signed, but for other names: the receiver listens
 * on 127.0.0.2, which it does not name. */
START_TEST (test_wrong_host)
{
  const char *args[] = { "--host", "127.0.0.2", NULL };
  g_autoptr(ListenProcess) l = tls_listener_start ("server", NULL, args);
  g_autofree char *endpoint = endpoint_for ("127.0.0.2", l->http_port);

  check_refused (endpoint, "not a certificate for 127.0.0.2");
}
END_TEST

/* ---- Sampling ---------------------------------------------------------------------- */

#define STRATEGIES "{\"default_strategy\": {\"type\": \"probabilistic\", \"param\": 0.25}}"

/* The remote sampler asks the receiver's sampling endpoint over TLS,
 * trusting the CA, and takes its strategy. */
START_TEST (test_sampling_over_https)
{
  const char *args[] = { NULL };
  g_autoptr(ListenProcess) l = tls_listener_start ("server", STRATEGIES, args);
  g_autofree char *endpoint = g_strdup_printf ("https://localhost:%u/sampling", l->sampling_port);
  g_autofree char *ca = data_path ("ca.pem");
  g_autofree char *strategy = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);

  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "service-name", "https-sampled",
                           "reporting-port", 9,
                           "sampler-type", GLUETOOL_SAMPLER_TYPE_REMOTE,
                           "sampler-param", 0.001,
                           "sampling-endpoint", endpoint,
                           "sampler-refresh-interval", 0.05,
                           "tls-ca-file", ca,
                           NULL);
  ck_assert_msg (tracer != NULL, "tracer: %s", error ? error->message : "");
  /* The sampler's thread swaps the strategy in when the answer came: no
   * event to wait on from here. */
  for (;;)
    {
      g_free (strategy);
      strategy = gluetool_tracer_dup_sampling_strategy (tracer);
      if (g_str_equal (strategy, "probabilistic 0.25"))
        break;
      ck_assert_msg (g_get_monotonic_time () < deadline, "strategy still '%s'", strategy);
      g_usleep (5000);
    }
  test_expect_close (tracer, WAIT_S);
}
END_TEST

/* A tls-ca-file that cannot be used (gone since the tracer was made) fails
 * every request, each counted, saying why: asking with the system's
 * certificates instead would trust authorities the user did not choose. */
START_TEST (test_sampling_ca_file_unusable)
{
  const char *args[] = { NULL };
  g_autoptr(ListenProcess) l = tls_listener_start ("server", STRATEGIES, args);
  g_autofree char *endpoint = g_strdup_printf ("https://localhost:%u/sampling", l->sampling_port);
  g_autofree char *strategy = NULL;
  g_autofree char *log = NULL;
  GluetoolRemoteSampler *sampler;
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);
  guint n_polls = 0, n_failures = 0;

  sampler = gluetool_remote_sampler_new_full (endpoint, "/nonexistent/ca.pem", "https-sampled",
                                              0.001, 0.01);
  /* The sampler's thread counts its polls: no event to wait on from here. */
  while (n_polls < 3 && g_get_monotonic_time () < deadline)
    {
      g_usleep (5000);
      gluetool_remote_sampler_get_counts (sampler, &n_polls, &n_failures);
    }
  strategy = gluetool_remote_sampler_describe (sampler);
  gluetool_remote_sampler_free (sampler);

  ck_assert_uint_ge (n_polls, 3);
  ck_assert_uint_eq (n_failures, n_polls);
  ck_assert_str_eq (strategy, "probabilistic 0.001");
  log = test_log_dup_text ();
  ck_assert_msg (strstr (log, "tls-ca-file /nonexistent/ca.pem cannot be used") != NULL,
                 "log:\n%s", log);
}
END_TEST

/* ---- Settings refused ------------------------------------------------------------------ */

/* The receiver's TLS options: both or neither, files that can be used, a
 * certificate and key that complete a handshake together; else status 2,
 * as other bad options, naming what was wrong. */
START_TEST (test_listen_bad_tls_options)
{
  g_autofree char *certificate = data_path ("server.pem");
  g_autofree char *key = data_path ("server-key.pem");
  g_autofree char *not_pem = data_path ("README");
  g_autofree char *other_key = data_path ("untrusted-key.pem");
  g_autofree char *ca = data_path ("ca.pem");
  g_autofree char *ca_key = data_path ("ca-key.pem");
  const struct {
    const char *args[6];
    const char *said;
  } cases[] = {
    { { "--tls-certificate", certificate, NULL }, "--tls-certificate and --tls-key go together" },
    { { "--tls-key", key, NULL }, "--tls-certificate and --tls-key go together" },
    { { "--tls-certificate", "/nonexistent.pem", "--tls-key", key, NULL }, "/nonexistent.pem" },
    { { "--tls-certificate", certificate, "--tls-key", "/nonexistent.pem", NULL },
      "/nonexistent.pem" },
    { { "--tls-certificate", not_pem, "--tls-key", key, NULL }, "No PEM-encoded certificate" },
    { { "--tls-certificate", certificate, "--tls-key", not_pem, NULL },
      "No PEM-encoded private key" },
    { { "--tls-certificate", certificate, "--tls-key", other_key, NULL },
      "fail a TLS handshake with each other" },
    /* A CA's certificate may sign certificates, not serve TLS. */
    { { "--tls-certificate", ca, "--tls-key", ca_key, NULL },
      "fail a TLS handshake with each other" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;

      ck_assert_int_eq (run_program ("listen", cases[i].args, NULL, &err), 2);
      ck_assert_msg (strstr (err, cases[i].said) != NULL, "case %zu: %s", i, err);
      ck_assert_msg (strstr (err, "listening on") == NULL, "case %zu: %s", i, err);
    }
}
END_TEST

/* Without GIO's TLS backend (its modules hidden), an https endpoint is
 * refused when the tracer is made, saying what is missing, and so is a
 * receiver asked for TLS. */
START_TEST (test_no_tls_support)
{
  g_autofree char *certificate = data_path ("server.pem");
  g_autofree char *key = data_path ("server-key.pem");
  const char *no_modules[] = { "GIO_MODULE_DIR", "/nonexistent", "GIO_EXTRA_MODULES", "",
                               "GLUETOOL_TRACING_ENDPOINT", "https://127.0.0.1:9/api/traces",
                               NULL };
  const char *demo_args[] = { NULL };
  const char *listen_args[] = { "--tls-certificate", certificate, "--tls-key", key, NULL };
  g_autofree char *demo_err = NULL;
  g_autofree char *listen_err = NULL;

  ck_assert_int_eq (run_program ("demo", demo_args, no_modules, &demo_err), 1);
  ck_assert_msg (strstr (demo_err, "https://127.0.0.1:9/api/traces") != NULL, "%s", demo_err);
  ck_assert_msg (strstr (demo_err, "glib-networking") != NULL, "%s", demo_err);

  ck_assert_int_eq (run_program ("listen", listen_args, no_modules, &listen_err), 2);
  ck_assert_msg (strstr (listen_err, "glib-networking") != NULL, "%s", listen_err);
}
END_TEST

/* ---- fork() ---------------------------------------------------------------------------- */

/* What the child reports through its pipe. */
typedef struct {
  int    verdict;        /* 0: as expected */
  double close_s;
  char   message[512];   /* close()'s error */
} ChildReport;

/* A child forked while GLib's worker threads were alive (the parent just
 * ran a TLS handshake on them) may never see its own handshake run: GLib's
 * pool counts threads the child lacks. Its close() still returns within
 * its bound and the grace the sender gives a cut request, with an error
 * saying why; or the batch was sent, if the handshake ran after all. */
START_TEST (test_fork_after_https)
{
  const char *args[] = { "--json", NULL };
  g_autoptr(ListenProcess) l = tls_listener_start ("server", NULL, args);
  g_autofree char *endpoint = endpoint_for ("127.0.0.1", l->http_port);
  g_autoptr(GluetoolTracer) tracer = tracer_trusting_ca (endpoint);
  const double child_close_s = 1.0;
  ChildReport report = { .verdict = -1 };
  int report_fds[2];
  int status = 0;
  pid_t pid;

  /* One handshake on GLib's worker threads, which linger after it. */
  test_expect_action ("before fork");
  {
    g_autoptr(GError) error = NULL;

    ck_assert_msg (gluetool_tracer_flush (tracer, WAIT_S, &error), "flush before fork: %s",
                   error != NULL ? error->message : "");
  }

  ck_assert_int_eq (pipe (report_fds), 0);
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0)
    {
      g_autoptr(GluetoolTracer) own = NULL;
      g_autoptr(GError) child_error = NULL;
      g_autofree char *ca = data_path ("ca.pem");
      ChildReport mine = { 0 };
      GluetoolTracerStats stats = { 0 };
      gint64 start;

      /* A child that hangs dies of SIGALRM rather than hold the suite. */
      alarm (30);
      own = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &child_error,
                            "service-name", "https-test-child", "endpoint", endpoint,
                            "tls-ca-file", ca, NULL);
      if (own == NULL)
        mine.verdict = 1;
      else
        {
          test_expect_action ("from the forked child");
          start = g_get_monotonic_time ();
          if (!gluetool_tracer_close (own, child_close_s, &child_error))
            g_strlcpy (mine.message, child_error->message, sizeof mine.message);
          mine.close_s = seconds_since (start);
          gluetool_tracer_get_stats (own, &stats);
          /* Sent, or failed with why; never lost without a word. */
          if (child_error == NULL ? stats.spans_sent != 1 : stats.spans_failed_to_send != 1)
            mine.verdict = 2;
        }
      if (write (report_fds[1], &mine, sizeof mine) != sizeof mine)
        _exit (3);
      _exit (mine.verdict);
    }
  close (report_fds[1]);
  ck_assert_int_eq (read (report_fds[0], &report, sizeof report), sizeof report);
  close (report_fds[0]);
  g_printerr ("# the child's close() took %.2f s: %s\n", report.close_s,
              report.message[0] != '\0' ? report.message : "no error");
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  ck_assert_msg (WIFEXITED (status), "the child did not exit (a signal: %d)",
                 WIFSIGNALED (status) ? WTERMSIG (status) : 0);
  /* Under valgrind the exit status is valgrind's (1 when the child leaks,
   * as every child leaks what the threads fork() left behind held): the
   * report counts. */
  ck_assert_msg (report.verdict == 0 && (RUNNING_ON_VALGRIND || WEXITSTATUS (status) == 0),
                 "the child's verdict %d, status %d: %s", report.verdict, WEXITSTATUS (status),
                 report.message);
  ck_assert_msg (report.close_s < child_close_s + CUT_GRACE_S + BOUND_SLACK_S,
                 "the child's close() took %.2f s: %s", report.close_s, report.message);
  /* The request abandoned, and said so; or sent, if the handshake ran. */
  if (report.message[0] != '\0')
    ck_assert_msg (strstr (report.message, "did not end 500 ms after it was cut") != NULL, "%s",
                   report.message);
  else
    g_printerr ("# the child's handshake ran: its span was sent\n");

  test_expect_close (tracer, WAIT_S);
}
END_TEST

static Suite *
https_suite (void)
{
  Suite *s = suite_create ("https");
  TCase *tc;

  tc = tcase_create ("delivered");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_spans_over_https);
  tcase_add_test (tc, test_sampling_over_https);
  tcase_add_test (tc, test_sampling_ca_file_unusable);
  suite_add_tcase (s, tc);

  tc = tcase_create ("refused");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_untrusted_certificate);
  tcase_add_test (tc, test_wrong_host);
  tcase_add_test (tc, test_listen_bad_tls_options);
  tcase_add_test (tc, test_no_tls_support);
  suite_add_tcase (s, tc);

  tc = tcase_create ("fork");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_fork_after_https);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  /* Every message, debug ones included: what the tests look for in them. */
  test_log_record ();
  test_unset_tracing_environment ();
  return test_run_suite_tap (https_suite ());
}
