/* test-config.c: a tracer's settings, from arguments, GLUETOOL_TRACING_*
 * variables and defaults
 *
 * SPDX-License-Identifier: MIT
 *
 * Most tests call gluetool_config_load() directly: it starts no thread and
 * touches no socket. The rest go through the tracer's constructors, with
 * GLUETOOL_TRACING_DISABLE set (a disabled tracer has no thread) except for
 * two enabled tracers that are closed at once.
 *
 * Every test works forked (check's default) and with CK_FORK=no: the fixture
 * saves and unsets every GLUETOOL_TRACING_* variable before each test and
 * puts them back after it, and every tracer made is closed, so the process
 * default tracer is unset again.
 */

#include <check.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include <gluetool/gluetool.h>

#include "config-private.h"
#include "check-tap.h"

#define VAR_DISABLE         "GLUETOOL_TRACING_DISABLE"
#define VAR_SERVICE_NAME    "GLUETOOL_TRACING_SERVICE_NAME"
#define VAR_REPORTING_HOST  "GLUETOOL_TRACING_REPORTING_HOST"
#define VAR_REPORTING_PORT  "GLUETOOL_TRACING_REPORTING_PORT"
#define VAR_FLUSH_TIMEOUT   "GLUETOOL_TRACING_FLUSH_TIMEOUT"
#define VAR_FLUSH_INTERVAL  "GLUETOOL_TRACING_FLUSH_INTERVAL"
#define VAR_QUEUE_SIZE      "GLUETOOL_TRACING_QUEUE_SIZE"
#define VAR_MAX_PACKET_SIZE "GLUETOOL_TRACING_MAX_PACKET_SIZE"
#define VAR_QUEUE_FULL_WAIT "GLUETOOL_TRACING_QUEUE_FULL_WAIT"
#define VAR_EXIT_FLUSH_TIMEOUT "GLUETOOL_TRACING_EXIT_FLUSH_TIMEOUT"

static const char *const variables[] = {
  VAR_DISABLE,
  VAR_SERVICE_NAME,
  VAR_REPORTING_HOST,
  VAR_REPORTING_PORT,
  VAR_FLUSH_TIMEOUT,
  VAR_FLUSH_INTERVAL,
  VAR_QUEUE_SIZE,
  VAR_MAX_PACKET_SIZE,
  VAR_QUEUE_FULL_WAIT,
  VAR_EXIT_FLUSH_TIMEOUT,
  "GLUETOOL_TRACING_ENDPOINT",
  "GLUETOOL_TRACING_MAX_BATCH_SIZE",
  "GLUETOOL_TRACING_AUTH_TOKEN",
  "GLUETOOL_TRACING_USER",
  "GLUETOOL_TRACING_PASSWORD",
  "GLUETOOL_TRACING_TLS_CA_FILE",
};

/* What the environment held before the test, NULL for unset. */
static char *saved_values[G_N_ELEMENTS (variables)];

static void
environment_setup (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (variables); i++)
    {
      saved_values[i] = g_strdup (g_getenv (variables[i]));
      g_unsetenv (variables[i]);
    }
}

static void
environment_teardown (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (variables); i++)
    {
      if (saved_values[i] != NULL)
        g_setenv (variables[i], saved_values[i], TRUE);
      else
        g_unsetenv (variables[i]);
      g_clear_pointer (&saved_values[i], g_free);
    }
}

static void
set_variable (const char *name,
              const char *value)
{
  ck_assert (g_setenv (name, value, TRUE));
}

/* Loads @request and checks that it worked. */
static void
load_ok (const GluetoolConfigRequest *request,
         GluetoolConfig              *config)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = gluetool_config_load (config, request, &error);

  ck_assert_msg (ok, "gluetool_config_load failed: %s", error != NULL ? error->message : "?");
  ck_assert_ptr_null (error);
  ck_assert_ptr_nonnull (config->service_name);
  ck_assert_ptr_nonnull (config->reporting_host);
}

/* Loads @request, checks that it fails with INVALID_CONFIG, that the message
 * contains @what and that nothing is left in the config. Returns the error
 * for more checks. */
static GError *
load_fails (const GluetoolConfigRequest *request,
            const char                  *what)
{
  GluetoolConfig config;
  g_autoptr(GError) error = NULL;

  /* Garbage in, to see that a failed load leaves nothing to free. */
  memset (&config, 0xaa, sizeof config);
  ck_assert (!gluetool_config_load (&config, request, &error));
  ck_assert_ptr_nonnull (error);
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR,
                                  GLUETOOL_TRACER_ERROR_INVALID_CONFIG),
                 "wrong error: %s (%d)", error->message, error->code);
  ck_assert_msg (strstr (error->message, what) != NULL,
                 "message '%s' does not name '%s'", error->message, what);
  ck_assert_ptr_null (config.service_name);
  ck_assert_ptr_null (config.reporting_host);
  return g_steal_pointer (&error);
}

/* ---- Defaults, variables, arguments ---------------------------------------- */

START_TEST (test_defaults)
{
  const GluetoolConfigRequest request = { 0 };
  GluetoolConfig config;
  double timeout_s = 0.0;

  load_ok (&request, &config);
  ck_assert (!config.disabled);
  ck_assert_str_eq (config.service_name, "gluetool");
  ck_assert_str_eq (config.reporting_host, "127.0.0.1");
  ck_assert_uint_eq (config.reporting_port, 6831);
  ck_assert_double_eq (config.flush_timeout_s, 30.0);
  ck_assert_double_eq (config.flush_interval_s, 0.1);
  ck_assert_uint_eq (config.queue_size, 4 * 1024 * 1024);
  ck_assert_uint_eq (config.max_packet_size, 65000);
  /* A full queue drops at once unless a wait is asked for. */
  ck_assert_double_eq (config.queue_full_wait_s, 0.0);
  gluetool_config_clear (&config);

  /* Clearing twice is harmless. */
  ck_assert_ptr_null (config.service_name);
  ck_assert_ptr_null (config.reporting_host);
  gluetool_config_clear (&config);

  ck_assert (gluetool_config_flush_timeout_from_env (&timeout_s, NULL));
  ck_assert_double_eq (timeout_s, 30.0);
}
END_TEST

START_TEST (test_variables_used)
{
  const GluetoolConfigRequest request = { 0 };
  GluetoolConfig config;
  double timeout_s = 0.0;

  set_variable (VAR_SERVICE_NAME, "from-env");
  set_variable (VAR_REPORTING_HOST, "agent.example.com");
  set_variable (VAR_REPORTING_PORT, "6832");
  set_variable (VAR_FLUSH_TIMEOUT, "2.5");
  set_variable (VAR_FLUSH_INTERVAL, "0.25");
  set_variable (VAR_QUEUE_SIZE, "65536");
  set_variable (VAR_MAX_PACKET_SIZE, "1500");
  set_variable (VAR_QUEUE_FULL_WAIT, "0.005");
  set_variable (VAR_EXIT_FLUSH_TIMEOUT, "0.75");

  load_ok (&request, &config);
  ck_assert (!config.disabled);
  ck_assert_str_eq (config.service_name, "from-env");
  ck_assert_str_eq (config.reporting_host, "agent.example.com");
  ck_assert_uint_eq (config.reporting_port, 6832);
  ck_assert_double_eq (config.flush_timeout_s, 2.5);
  ck_assert_double_eq (config.flush_interval_s, 0.25);
  ck_assert_uint_eq (config.queue_size, 65536);
  ck_assert_uint_eq (config.max_packet_size, 1500);
  ck_assert_double_eq (config.queue_full_wait_s, 0.005);
  ck_assert_double_eq (config.exit_flush_timeout_s, 0.75);
  gluetool_config_clear (&config);

  ck_assert (gluetool_config_flush_timeout_from_env (&timeout_s, NULL));
  ck_assert_double_eq (timeout_s, 2.5);
}
END_TEST

/* Each variable on its own, the others at their defaults: no variable leaks
 * into another setting. */
typedef struct {
  const char *variable;
  const char *value;
} VariableCase;

static const VariableCase single_variable_cases[] = {
  { VAR_SERVICE_NAME, "only-service" },
  { VAR_REPORTING_HOST, "192.0.2.7" },
  { VAR_REPORTING_PORT, "1" },
  { VAR_FLUSH_TIMEOUT, "0.5" },
  { VAR_FLUSH_INTERVAL, "3600" },
  { VAR_QUEUE_SIZE, "512" },
  { VAR_MAX_PACKET_SIZE, "65507" },
  { VAR_QUEUE_FULL_WAIT, "3600" },
  { VAR_EXIT_FLUSH_TIMEOUT, "0" },
};

START_TEST (test_single_variable)
{
  const VariableCase *vc = &single_variable_cases[_i];
  const GluetoolConfigRequest request = { 0 };
  GluetoolConfig config;
  gboolean is_var;

  set_variable (vc->variable, vc->value);
  load_ok (&request, &config);

  is_var = g_str_equal (vc->variable, VAR_SERVICE_NAME);
  ck_assert_str_eq (config.service_name, is_var ? "only-service" : "gluetool");
  is_var = g_str_equal (vc->variable, VAR_REPORTING_HOST);
  ck_assert_str_eq (config.reporting_host, is_var ? "192.0.2.7" : "127.0.0.1");
  is_var = g_str_equal (vc->variable, VAR_REPORTING_PORT);
  ck_assert_uint_eq (config.reporting_port, is_var ? 1 : 6831);
  is_var = g_str_equal (vc->variable, VAR_FLUSH_TIMEOUT);
  ck_assert_double_eq (config.flush_timeout_s, is_var ? 0.5 : 30.0);
  is_var = g_str_equal (vc->variable, VAR_FLUSH_INTERVAL);
  ck_assert_double_eq (config.flush_interval_s, is_var ? 3600.0 : 0.1);
  is_var = g_str_equal (vc->variable, VAR_QUEUE_SIZE);
  ck_assert_uint_eq (config.queue_size, is_var ? 512 : 4 * 1024 * 1024);
  is_var = g_str_equal (vc->variable, VAR_MAX_PACKET_SIZE);
  ck_assert_uint_eq (config.max_packet_size, is_var ? 65507 : 65000);
  is_var = g_str_equal (vc->variable, VAR_QUEUE_FULL_WAIT);
  ck_assert_double_eq (config.queue_full_wait_s, is_var ? 3600.0 : 0.0);
  is_var = g_str_equal (vc->variable, VAR_EXIT_FLUSH_TIMEOUT);
  ck_assert_double_eq (config.exit_flush_timeout_s, is_var ? 0.0 : 2.0);
  gluetool_config_clear (&config);
}
END_TEST

START_TEST (test_arguments_win)
{
  const GluetoolConfigRequest request = {
    .service_name = "from-argument",
    .reporting_host = "192.0.2.1",
    .reporting_port = 7000,
    .flush_timeout_s = 4.0,
    .flush_interval_s = 0.5,
    .queue_size = 8192,
    .max_packet_size = 9000,
    .has_queue_full_wait = TRUE,
    .queue_full_wait_s = 0.25,
    .has_exit_flush_timeout = TRUE,
    .exit_flush_timeout_s = 0.5,
  };
  GluetoolConfig config;

  set_variable (VAR_SERVICE_NAME, "from-env");
  set_variable (VAR_REPORTING_HOST, "agent.example.com");
  set_variable (VAR_REPORTING_PORT, "6832");
  set_variable (VAR_FLUSH_TIMEOUT, "2.5");
  set_variable (VAR_FLUSH_INTERVAL, "0.25");
  set_variable (VAR_QUEUE_SIZE, "65536");
  set_variable (VAR_MAX_PACKET_SIZE, "1500");
  set_variable (VAR_QUEUE_FULL_WAIT, "2");
  set_variable (VAR_EXIT_FLUSH_TIMEOUT, "5");

  load_ok (&request, &config);
  ck_assert_str_eq (config.service_name, "from-argument");
  ck_assert_str_eq (config.reporting_host, "192.0.2.1");
  ck_assert_uint_eq (config.reporting_port, 7000);
  ck_assert_double_eq (config.flush_timeout_s, 4.0);
  ck_assert_double_eq (config.flush_interval_s, 0.5);
  ck_assert_uint_eq (config.queue_size, 8192);
  ck_assert_uint_eq (config.max_packet_size, 9000);
  ck_assert_double_eq (config.queue_full_wait_s, 0.25);
  ck_assert_double_eq (config.exit_flush_timeout_s, 0.5);
  gluetool_config_clear (&config);
}
END_TEST

/* No wait (0) is a value of its own: asked for, it beats the variable,
 * which an unset request leaves in force. */
START_TEST (test_queue_full_wait_zero_given)
{
  const GluetoolConfigRequest zero = { .has_queue_full_wait = TRUE, .queue_full_wait_s = 0.0 };
  const GluetoolConfigRequest unset = { 0 };
  GluetoolConfig config;

  set_variable (VAR_QUEUE_FULL_WAIT, "1.5");
  load_ok (&zero, &config);
  ck_assert_double_eq (config.queue_full_wait_s, 0.0);
  gluetool_config_clear (&config);

  load_ok (&unset, &config);
  ck_assert_double_eq (config.queue_full_wait_s, 1.5);
  gluetool_config_clear (&config);
}
END_TEST

/* So is no flush at exit (0). */
START_TEST (test_exit_flush_timeout_zero_given)
{
  const GluetoolConfigRequest zero = { .has_exit_flush_timeout = TRUE, .exit_flush_timeout_s = 0.0 };
  const GluetoolConfigRequest unset = { 0 };
  GluetoolConfig config;

  set_variable (VAR_EXIT_FLUSH_TIMEOUT, "1.5");
  load_ok (&zero, &config);
  ck_assert_double_eq (config.exit_flush_timeout_s, 0.0);
  gluetool_config_clear (&config);

  load_ok (&unset, &config);
  ck_assert_double_eq (config.exit_flush_timeout_s, 1.5);
  gluetool_config_clear (&config);
}
END_TEST

/* A variable that an argument overrides is not read at all, so a bad value
 * there does not matter. */
START_TEST (test_arguments_win_over_bad_variables)
{
  const GluetoolConfigRequest request = {
    .service_name = "from-argument",
    .reporting_host = "::1",
    .reporting_port = 7000,
    .flush_timeout_s = 4.0,
    .flush_interval_s = 0.5,
    .queue_size = 8192,
    .max_packet_size = 9000,
    .has_queue_full_wait = TRUE,
    .queue_full_wait_s = 0.0,
    .has_exit_flush_timeout = TRUE,
    .exit_flush_timeout_s = 1.0,
  };
  GluetoolConfig config;

  set_variable (VAR_SERVICE_NAME, "");
  set_variable (VAR_REPORTING_HOST, "bad host");
  set_variable (VAR_REPORTING_PORT, "abc");
  set_variable (VAR_FLUSH_TIMEOUT, "nan");
  set_variable (VAR_FLUSH_INTERVAL, "0");
  set_variable (VAR_QUEUE_SIZE, "1");
  set_variable (VAR_MAX_PACKET_SIZE, "1");
  set_variable (VAR_QUEUE_FULL_WAIT, "forever");
  set_variable (VAR_EXIT_FLUSH_TIMEOUT, "soon");

  load_ok (&request, &config);
  ck_assert_str_eq (config.service_name, "from-argument");
  ck_assert_str_eq (config.reporting_host, "::1");
  ck_assert_uint_eq (config.reporting_port, 7000);
  ck_assert_double_eq (config.flush_timeout_s, 4.0);
  ck_assert_double_eq (config.flush_interval_s, 0.5);
  ck_assert_uint_eq (config.queue_size, 8192);
  ck_assert_uint_eq (config.max_packet_size, 9000);
  ck_assert_double_eq (config.queue_full_wait_s, 0.0);
  ck_assert_double_eq (config.exit_flush_timeout_s, 1.0);
  gluetool_config_clear (&config);
}
END_TEST

/* ---- GLUETOOL_TRACING_DISABLE ---------------------------------------------- */

typedef struct {
  const char *value;  /* NULL: unset */
  gboolean    disabled;
} DisableCase;

/* As in gluetool: unset or empty means enabled, anything else disabled,
 * whatever it says. */
static const DisableCase disable_cases[] = {
  { NULL, FALSE },
  { "", FALSE },
  { "1", TRUE },
  { "0", TRUE },
  { "no", TRUE },
  { "false", TRUE },
  { "yes", TRUE },
  { " ", TRUE },
};

START_TEST (test_disable)
{
  const DisableCase *dc = &disable_cases[_i];
  const GluetoolConfigRequest request = { 0 };
  GluetoolConfig config;

  if (dc->value != NULL)
    set_variable (VAR_DISABLE, dc->value);

  load_ok (&request, &config);
  ck_assert_msg (config.disabled == dc->disabled, "%s='%s': disabled is %d, wanted %d",
                 VAR_DISABLE, dc->value != NULL ? dc->value : "(unset)",
                 config.disabled, dc->disabled);
  /* Disabled or not, the rest is loaded and checked all the same. */
  ck_assert_str_eq (config.service_name, "gluetool");
  ck_assert_uint_eq (config.reporting_port, 6831);
  gluetool_config_clear (&config);
}
END_TEST

/* ---- Hosts ------------------------------------------------------------------ */

typedef struct {
  const char *given;
  const char *expected;
} HostCase;

static const HostCase host_cases[] = {
  { "[::1]", "::1" },
  { "::1", "::1" },
  { "[2001:db8::17]", "2001:db8::17" },
  { "127.0.0.1", "127.0.0.1" },
  { "localhost", "localhost" },
  { "jaeger-agent.monitoring.svc", "jaeger-agent.monitoring.svc" },
};

START_TEST (test_host_accepted_variable)
{
  const HostCase *hc = &host_cases[_i];
  const GluetoolConfigRequest request = { 0 };
  GluetoolConfig config;

  set_variable (VAR_REPORTING_HOST, hc->given);
  load_ok (&request, &config);
  ck_assert_str_eq (config.reporting_host, hc->expected);
  gluetool_config_clear (&config);
}
END_TEST

START_TEST (test_host_accepted_argument)
{
  const HostCase *hc = &host_cases[_i];
  const GluetoolConfigRequest request = { .reporting_host = hc->given };
  GluetoolConfig config;

  load_ok (&request, &config);
  ck_assert_str_eq (config.reporting_host, hc->expected);
  gluetool_config_clear (&config);
}
END_TEST

/* ---- Invalid values ---------------------------------------------------------- */

/* Each variable with a value that cannot be used, alone in the environment:
 * the error names the variable. */
static const VariableCase invalid_variable_cases[] = {
  { VAR_REPORTING_PORT, "abc" },
  { VAR_REPORTING_PORT, "0" },
  { VAR_REPORTING_PORT, "70000" },
  { VAR_REPORTING_PORT, "65536" },
  { VAR_REPORTING_PORT, "" },
  { VAR_REPORTING_PORT, "-1" },
  { VAR_REPORTING_PORT, " 6831" },
  { VAR_REPORTING_PORT, "6831 " },
  { VAR_REPORTING_PORT, "6831x" },
  { VAR_REPORTING_PORT, "99999999999999999999999" },
  { VAR_SERVICE_NAME, "" },
  { VAR_SERVICE_NAME, "caf\xe9" },
  { VAR_SERVICE_NAME, "\xff\xfe" },
  { VAR_REPORTING_HOST, "bad host" },
  { VAR_REPORTING_HOST, "a/b" },
  { VAR_REPORTING_HOST, "" },
  { VAR_REPORTING_HOST, "host:6831" },
  { VAR_REPORTING_HOST, "[::1" },
  { VAR_REPORTING_HOST, "tab\there" },
  { VAR_REPORTING_HOST, "h\xc3\x28st" },
  { VAR_FLUSH_TIMEOUT, "abc" },
  { VAR_FLUSH_TIMEOUT, "0" },
  { VAR_FLUSH_TIMEOUT, "-1" },
  { VAR_FLUSH_TIMEOUT, "inf" },
  { VAR_FLUSH_TIMEOUT, "nan" },
  { VAR_FLUSH_TIMEOUT, "" },
  { VAR_FLUSH_TIMEOUT, "5s" },
  { VAR_FLUSH_INTERVAL, "0" },
  { VAR_FLUSH_INTERVAL, "abc" },
  { VAR_FLUSH_INTERVAL, "-1" },
  { VAR_FLUSH_INTERVAL, "0.0001" },
  { VAR_FLUSH_INTERVAL, "3601" },
  { VAR_FLUSH_INTERVAL, "inf" },
  { VAR_FLUSH_INTERVAL, "" },
  { VAR_QUEUE_SIZE, "511" },
  { VAR_QUEUE_SIZE, "1073741825" },
  { VAR_QUEUE_SIZE, "abc" },
  { VAR_QUEUE_SIZE, "0" },
  { VAR_QUEUE_SIZE, "" },
  { VAR_QUEUE_SIZE, "4M" },
  { VAR_MAX_PACKET_SIZE, "511" },
  { VAR_MAX_PACKET_SIZE, "65508" },
  { VAR_MAX_PACKET_SIZE, "abc" },
  { VAR_MAX_PACKET_SIZE, "" },
  { VAR_QUEUE_FULL_WAIT, "-1" },
  { VAR_QUEUE_FULL_WAIT, "3601" },
  { VAR_QUEUE_FULL_WAIT, "abc" },
  { VAR_QUEUE_FULL_WAIT, "5ms" },
  { VAR_QUEUE_FULL_WAIT, "inf" },
  { VAR_QUEUE_FULL_WAIT, "nan" },
  { VAR_QUEUE_FULL_WAIT, " 1" },
  { VAR_QUEUE_FULL_WAIT, "" },
  { VAR_EXIT_FLUSH_TIMEOUT, "-1" },
  { VAR_EXIT_FLUSH_TIMEOUT, "3601" },
  { VAR_EXIT_FLUSH_TIMEOUT, "2s" },
  { VAR_EXIT_FLUSH_TIMEOUT, "nan" },
  { VAR_EXIT_FLUSH_TIMEOUT, "" },
};

START_TEST (test_invalid_variable)
{
  const VariableCase *vc = &invalid_variable_cases[_i];
  const GluetoolConfigRequest request = { 0 };
  g_autoptr(GError) error = NULL;

  set_variable (vc->variable, vc->value);
  error = load_fails (&request, vc->variable);
  /* The message starts with what was wrong. */
  ck_assert_msg (g_str_has_prefix (error->message, vc->variable),
                 "message '%s'", error->message);
}
END_TEST

START_TEST (test_invalid_flush_timeout_for_close)
{
  static const char *const values[] = { "abc", "0", "-1", "inf", "nan", "" };

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GError) error = NULL;
      double timeout_s = -123.0;

      set_variable (VAR_FLUSH_TIMEOUT, values[i]);
      ck_assert_msg (!gluetool_config_flush_timeout_from_env (&timeout_s, &error),
                     "%s='%s' accepted", VAR_FLUSH_TIMEOUT, values[i]);
      ck_assert (g_error_matches (error, GLUETOOL_TRACER_ERROR,
                                  GLUETOOL_TRACER_ERROR_INVALID_CONFIG));
      ck_assert_msg (strstr (error->message, VAR_FLUSH_TIMEOUT) != NULL,
                     "message '%s' does not name the variable", error->message);
    }
}
END_TEST

typedef struct {
  const char            *description;
  GluetoolConfigRequest  request;
  const char            *what;       /* the argument the message names */
} ArgumentCase;

static const ArgumentCase invalid_argument_cases[] = {
  { "port 70000", { .reporting_port = 70000 }, "reporting port" },
  { "port 65536", { .reporting_port = 65536 }, "reporting port" },
  { "port G_MAXUINT", { .reporting_port = G_MAXUINT }, "reporting port" },
  { "empty service name", { .service_name = "" }, "service name" },
  { "service name not UTF-8", { .service_name = "caf\xe9" }, "service name" },
  { "host with a space", { .reporting_host = "bad host" }, "reporting host" },
  { "host with a slash", { .reporting_host = "a/b" }, "reporting host" },
  { "empty host", { .reporting_host = "" }, "reporting host" },
  { "host not UTF-8", { .reporting_host = "h\xff" }, "reporting host" },
  { "flush timeout -1", { .flush_timeout_s = -1.0 }, "flush timeout" },
  { "flush timeout NaN", { .flush_timeout_s = NAN }, "flush timeout" },
  { "flush timeout infinite", { .flush_timeout_s = INFINITY }, "flush timeout" },
  { "flush interval -1", { .flush_interval_s = -1.0 }, "flush interval" },
  { "flush interval too short", { .flush_interval_s = 0.0001 }, "flush interval" },
  { "flush interval too long", { .flush_interval_s = 7200.0 }, "flush interval" },
  { "flush interval NaN", { .flush_interval_s = NAN }, "flush interval" },
  { "queue size too small", { .queue_size = 511 }, "queue size" },
  { "queue size too large", { .queue_size = GLUETOOL_MAX_QUEUE_SIZE + 1 }, "queue size" },
  { "max packet size too small", { .max_packet_size = 511 }, "max packet size" },
  { "max packet size too large", { .max_packet_size = 65508 }, "max packet size" },
  { "queue full wait -2",
    { .has_queue_full_wait = TRUE, .queue_full_wait_s = -2.0 }, "queue full wait" },
  { "queue full wait too long",
    { .has_queue_full_wait = TRUE, .queue_full_wait_s = 3601.0 }, "queue full wait" },
  { "queue full wait NaN",
    { .has_queue_full_wait = TRUE, .queue_full_wait_s = NAN }, "queue full wait" },
  { "queue full wait infinite",
    { .has_queue_full_wait = TRUE, .queue_full_wait_s = INFINITY }, "queue full wait" },
  { "exit flush timeout -2",
    { .has_exit_flush_timeout = TRUE, .exit_flush_timeout_s = -2.0 }, "exit flush timeout" },
  { "exit flush timeout too long",
    { .has_exit_flush_timeout = TRUE, .exit_flush_timeout_s = 3601.0 }, "exit flush timeout" },
  { "exit flush timeout NaN",
    { .has_exit_flush_timeout = TRUE, .exit_flush_timeout_s = NAN }, "exit flush timeout" },
};

START_TEST (test_invalid_argument)
{
  const ArgumentCase *ac = &invalid_argument_cases[_i];
  g_autoptr(GError) error = load_fails (&ac->request, ac->what);

  /* An argument's error names the argument, not a variable. */
  ck_assert_msg (strstr (error->message, "GLUETOOL_TRACING_") == NULL,
                 "%s: message '%s' names a variable", ac->description, error->message);
}
END_TEST

/* The boundaries themselves are accepted. */
START_TEST (test_argument_limits)
{
  const GluetoolConfigRequest low = {
    .reporting_port = 1,
    .flush_interval_s = GLUETOOL_MIN_FLUSH_INTERVAL_S,
    .queue_size = GLUETOOL_MIN_QUEUE_SIZE,
    .max_packet_size = GLUETOOL_MIN_MAX_PACKET_SIZE,
    .has_queue_full_wait = TRUE,
    .queue_full_wait_s = 0.0,
  };
  const GluetoolConfigRequest high = {
    .reporting_port = 65535,
    .flush_interval_s = GLUETOOL_MAX_FLUSH_INTERVAL_S,
    .queue_size = GLUETOOL_MAX_QUEUE_SIZE,
    .max_packet_size = GLUETOOL_MAX_MAX_PACKET_SIZE,
    .has_queue_full_wait = TRUE,
    .queue_full_wait_s = GLUETOOL_MAX_QUEUE_FULL_WAIT_S,
  };
  GluetoolConfig config;

  load_ok (&low, &config);
  ck_assert_uint_eq (config.reporting_port, 1);
  ck_assert_double_eq (config.flush_interval_s, GLUETOOL_MIN_FLUSH_INTERVAL_S);
  ck_assert_uint_eq (config.queue_size, GLUETOOL_MIN_QUEUE_SIZE);
  ck_assert_uint_eq (config.max_packet_size, GLUETOOL_MIN_MAX_PACKET_SIZE);
  ck_assert_double_eq (config.queue_full_wait_s, 0.0);
  gluetool_config_clear (&config);

  load_ok (&high, &config);
  ck_assert_uint_eq (config.reporting_port, 65535);
  ck_assert_double_eq (config.flush_interval_s, GLUETOOL_MAX_FLUSH_INTERVAL_S);
  ck_assert_uint_eq (config.queue_size, GLUETOOL_MAX_QUEUE_SIZE);
  ck_assert_uint_eq (config.max_packet_size, GLUETOOL_MAX_MAX_PACKET_SIZE);
  ck_assert_double_eq (config.queue_full_wait_s, GLUETOOL_MAX_QUEUE_FULL_WAIT_S);
  gluetool_config_clear (&config);
}
END_TEST

/* ---- Through the tracer ---------------------------------------------------- */

/* Closes a tracer made by a test and checks that it is no longer the
 * default, so the next test starts without one. */
static void
close_tracer (GluetoolTracer *tracer)
{
  g_autoptr(GError) error = NULL;

  ck_assert_msg (gluetool_tracer_close (tracer, 5.0, &error),
                 "close failed: %s", error != NULL ? error->message : "?");
  ck_assert (gluetool_tracer_is_closed (tracer));
  ck_assert_ptr_null (gluetool_tracer_get_default ());
}

START_TEST (test_tracer_new_invalid)
{
  static const struct {
    const char *variable;   /* NULL: none */
    const char *value;
    const char *service_name;
    const char *reporting_host;
    guint       reporting_port;
    const char *what;
  } cases[] = {
    { VAR_REPORTING_PORT, "abc", NULL, NULL, 0, VAR_REPORTING_PORT },
    { VAR_SERVICE_NAME, "", NULL, NULL, 0, VAR_SERVICE_NAME },
    { VAR_FLUSH_TIMEOUT, "nan", NULL, NULL, 0, VAR_FLUSH_TIMEOUT },
    { VAR_QUEUE_FULL_WAIT, "-1", NULL, NULL, 0, VAR_QUEUE_FULL_WAIT },
    { NULL, NULL, "", NULL, 0, "service name" },
    { NULL, NULL, NULL, "a/b", 0, "reporting host" },
    { NULL, NULL, NULL, NULL, 70000, "reporting port" },
  };

  set_variable (VAR_DISABLE, "1");

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GluetoolTracer) tracer = NULL;

      if (cases[i].variable != NULL)
        set_variable (cases[i].variable, cases[i].value);

      tracer = gluetool_tracer_new (cases[i].service_name, cases[i].reporting_host,
                                    cases[i].reporting_port, &error);
      ck_assert_ptr_null (tracer);
      ck_assert_ptr_nonnull (error);
      ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR,
                                      GLUETOOL_TRACER_ERROR_INVALID_CONFIG),
                     "case %" G_GSIZE_FORMAT ": wrong error %s", i, error->message);
      ck_assert_msg (strstr (error->message, cases[i].what) != NULL,
                     "case %" G_GSIZE_FORMAT ": message '%s' does not name '%s'",
                     i, error->message, cases[i].what);
      /* A tracer that failed to initialise never becomes the default. */
      ck_assert_ptr_null (gluetool_tracer_get_default ());

      if (cases[i].variable != NULL)
        g_unsetenv (cases[i].variable);
    }
}
END_TEST

START_TEST (test_tracer_getters_from_variables)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autofree char *service_name = NULL;
  g_autofree char *reporting_host = NULL;
  g_autofree char *client_uuid = NULL;
  guint reporting_port = 0, max_packet_size = 0;
  guint64 queue_size = 0;
  double flush_timeout = 0.0, flush_interval = 0.0, queue_full_wait = -1.0;
  gboolean enabled = TRUE;

  set_variable (VAR_DISABLE, "1");
  set_variable (VAR_SERVICE_NAME, "from-env");
  set_variable (VAR_REPORTING_HOST, "[::1]");
  set_variable (VAR_REPORTING_PORT, "7000");
  set_variable (VAR_FLUSH_TIMEOUT, "3");
  set_variable (VAR_FLUSH_INTERVAL, "0.5");
  set_variable (VAR_QUEUE_SIZE, "16384");
  set_variable (VAR_MAX_PACKET_SIZE, "1400");
  set_variable (VAR_QUEUE_FULL_WAIT, "0.01");

  ck_assert_ptr_null (gluetool_tracer_get_default ());
  tracer = gluetool_tracer_new (NULL, NULL, 0, &error);
  ck_assert_msg (tracer != NULL, "tracer_new failed: %s", error != NULL ? error->message : "?");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);

  ck_assert (!gluetool_tracer_is_enabled (tracer));
  ck_assert (!gluetool_tracer_is_closed (tracer));
  ck_assert_str_eq (gluetool_tracer_get_service_name (tracer), "from-env");
  ck_assert_str_eq (gluetool_tracer_get_reporting_host (tracer), "::1");
  ck_assert_uint_eq (gluetool_tracer_get_reporting_port (tracer), 7000);
  ck_assert (g_uuid_string_is_valid (gluetool_tracer_get_client_uuid (tracer)));

  g_object_get (tracer,
                "service-name", &service_name,
                "reporting-host", &reporting_host,
                "reporting-port", &reporting_port,
                "flush-timeout", &flush_timeout,
                "flush-interval", &flush_interval,
                "queue-size", &queue_size,
                "max-packet-size", &max_packet_size,
                "queue-full-wait", &queue_full_wait,
                "enabled", &enabled,
                "client-uuid", &client_uuid,
                NULL);
  ck_assert_str_eq (service_name, "from-env");
  ck_assert_str_eq (reporting_host, "::1");
  ck_assert_uint_eq (reporting_port, 7000);
  ck_assert_double_eq (flush_timeout, 3.0);
  ck_assert_double_eq (flush_interval, 0.5);
  ck_assert_uint_eq (queue_size, 16384);
  ck_assert_uint_eq (max_packet_size, 1400);
  ck_assert_double_eq (queue_full_wait, 0.01);
  ck_assert (!enabled);
  ck_assert_str_eq (client_uuid, gluetool_tracer_get_client_uuid (tracer));

  close_tracer (tracer);
}
END_TEST

START_TEST (test_tracer_arguments_win)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;

  set_variable (VAR_DISABLE, "yes");
  set_variable (VAR_SERVICE_NAME, "from-env");
  set_variable (VAR_REPORTING_HOST, "agent.example.com");
  set_variable (VAR_REPORTING_PORT, "not a port");

  tracer = gluetool_tracer_new ("from-argument", "[2001:db8::1]", 7001, &error);
  ck_assert_msg (tracer != NULL, "tracer_new failed: %s", error != NULL ? error->message : "?");
  ck_assert (!gluetool_tracer_is_enabled (tracer));
  ck_assert_str_eq (gluetool_tracer_get_service_name (tracer), "from-argument");
  ck_assert_str_eq (gluetool_tracer_get_reporting_host (tracer), "2001:db8::1");
  ck_assert_uint_eq (gluetool_tracer_get_reporting_port (tracer), 7001);

  close_tracer (tracer);
}
END_TEST

START_TEST (test_tracer_defaults)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  guint64 queue_size = 0;
  guint max_packet_size = 0;
  double flush_timeout = 0.0, flush_interval = 0.0, queue_full_wait = -1.0;

  set_variable (VAR_DISABLE, "0");
  tracer = gluetool_tracer_new (NULL, NULL, 0, &error);
  ck_assert_msg (tracer != NULL, "tracer_new failed: %s", error != NULL ? error->message : "?");

  /* "0" is a non-empty value: disabled, as in gluetool. */
  ck_assert (!gluetool_tracer_is_enabled (tracer));
  ck_assert_str_eq (gluetool_tracer_get_service_name (tracer), "gluetool");
  ck_assert_str_eq (gluetool_tracer_get_reporting_host (tracer), "127.0.0.1");
  ck_assert_uint_eq (gluetool_tracer_get_reporting_port (tracer), 6831);
  g_object_get (tracer,
                "flush-timeout", &flush_timeout,
                "flush-interval", &flush_interval,
                "queue-size", &queue_size,
                "max-packet-size", &max_packet_size,
                "queue-full-wait", &queue_full_wait,
                NULL);
  ck_assert_double_eq (flush_timeout, 30.0);
  ck_assert_double_eq (flush_interval, 0.1);
  ck_assert_uint_eq (queue_size, 4 * 1024 * 1024);
  ck_assert_uint_eq (max_packet_size, 65000);
  ck_assert_double_eq (queue_full_wait, 0.0);

  close_tracer (tracer);
}
END_TEST

START_TEST (test_tracer_initable_properties)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  guint64 queue_size = 0;
  guint max_packet_size = 0;
  double flush_interval = 0.0, flush_timeout = 0.0, queue_full_wait = -1.0;

  set_variable (VAR_DISABLE, "1");
  /* Variables lose to properties here too. */
  set_variable (VAR_QUEUE_SIZE, "1");
  set_variable (VAR_MAX_PACKET_SIZE, "1");
  set_variable (VAR_QUEUE_FULL_WAIT, "-1");

  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "service-name", "initable",
                           "queue-size", (guint64) 65536,
                           "max-packet-size", (guint) 1500,
                           "flush-interval", 0.125,
                           "flush-timeout", 2.0,
                           "queue-full-wait", 0.125,
                           NULL);
  ck_assert_msg (tracer != NULL, "g_initable_new failed: %s", error != NULL ? error->message : "?");
  ck_assert (GLUETOOL_IS_TRACER (tracer));
  ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);
  ck_assert_str_eq (gluetool_tracer_get_service_name (tracer), "initable");

  g_object_get (tracer,
                "queue-size", &queue_size,
                "max-packet-size", &max_packet_size,
                "flush-interval", &flush_interval,
                "flush-timeout", &flush_timeout,
                "queue-full-wait", &queue_full_wait,
                NULL);
  ck_assert_uint_eq (queue_size, 65536);
  ck_assert_uint_eq (max_packet_size, 1500);
  ck_assert_double_eq (flush_interval, 0.125);
  ck_assert_double_eq (flush_timeout, 2.0);
  ck_assert_double_eq (queue_full_wait, 0.125);

  close_tracer (tracer);
}
END_TEST

/* queue-full-wait: -1 (its default) leaves the setting to the variable; any
 * value given, 0 included, beats it. Before initialisation the property
 * says what was asked for. */
START_TEST (test_tracer_queue_full_wait_property)
{
  double queue_full_wait = 0.0;

  set_variable (VAR_DISABLE, "1");
  set_variable (VAR_QUEUE_FULL_WAIT, "2");

  {
    g_autoptr(GluetoolTracer) unset = g_object_new (GLUETOOL_TYPE_TRACER, NULL);

    g_object_get (unset, "queue-full-wait", &queue_full_wait, NULL);
    ck_assert_double_eq (queue_full_wait, -1.0);
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GluetoolTracer) tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                                       "queue-full-wait", -1.0, NULL);

    ck_assert_msg (tracer != NULL, "%s", error != NULL ? error->message : "?");
    g_object_get (tracer, "queue-full-wait", &queue_full_wait, NULL);
    ck_assert_double_eq (queue_full_wait, 2.0);
    close_tracer (tracer);
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GluetoolTracer) tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                                       "queue-full-wait", 0.0, NULL);

    ck_assert_msg (tracer != NULL, "%s", error != NULL ? error->message : "?");
    g_object_get (tracer, "queue-full-wait", &queue_full_wait, NULL);
    ck_assert_double_eq (queue_full_wait, 0.0);
    close_tracer (tracer);
  }
}
END_TEST

typedef struct {
  const char *property;
  GType       type;
  guint64     uint_value;
  double      double_value;
  const char *what;
} BadPropertyCase;

static const BadPropertyCase bad_property_cases[] = {
  { "queue-size", G_TYPE_UINT64, 100, 0.0, "queue size" },
  { "queue-size", G_TYPE_UINT64, G_MAXUINT64, 0.0, "queue size" },
  { "max-packet-size", G_TYPE_UINT, 100, 0.0, "max packet size" },
  { "max-packet-size", G_TYPE_UINT, 70000, 0.0, "max packet size" },
  { "flush-interval", G_TYPE_DOUBLE, 0, 0.0001, "flush interval" },
  { "flush-interval", G_TYPE_DOUBLE, 0, -2.0, "flush interval" },
  { "flush-timeout", G_TYPE_DOUBLE, 0, -1.0, "flush timeout" },
  { "queue-full-wait", G_TYPE_DOUBLE, 0, -2.0, "queue full wait" },
  { "queue-full-wait", G_TYPE_DOUBLE, 0, -0.5, "queue full wait" },
  { "queue-full-wait", G_TYPE_DOUBLE, 0, 3601.0, "queue full wait" },
  { "exit-flush-timeout", G_TYPE_DOUBLE, 0, -2.0, "exit flush timeout" },
  { "exit-flush-timeout", G_TYPE_DOUBLE, 0, 3601.0, "exit flush timeout" },
  { "reporting-port", G_TYPE_UINT, 65536, 0.0, "reporting port" },
};

START_TEST (test_tracer_initable_bad_property)
{
  const BadPropertyCase *bc = &bad_property_cases[_i];
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer;

  set_variable (VAR_DISABLE, "1");

  if (bc->type == G_TYPE_UINT64)
    tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                             bc->property, bc->uint_value, NULL);
  else if (bc->type == G_TYPE_UINT)
    tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                             bc->property, (guint) bc->uint_value, NULL);
  else
    tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                             bc->property, bc->double_value, NULL);

  ck_assert_ptr_null (tracer);
  ck_assert_ptr_nonnull (error);
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR,
                                  GLUETOOL_TRACER_ERROR_INVALID_CONFIG),
                 "%s: wrong error %s", bc->property, error->message);
  ck_assert_msg (strstr (error->message, bc->what) != NULL,
                 "message '%s' does not name '%s'", error->message, bc->what);
  ck_assert_ptr_null (gluetool_tracer_get_default ());
}
END_TEST

/* Enabled tracers (DISABLE unset, then empty) start their thread and are
 * closed at once; nothing is queued, so nothing is sent. */
START_TEST (test_tracer_enabled)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  gboolean enabled = FALSE;

  if (_i == 1)
    set_variable (VAR_DISABLE, "");

  tracer = gluetool_tracer_new ("enabled", "127.0.0.1", 0, &error);
  ck_assert_msg (tracer != NULL, "tracer_new failed: %s", error != NULL ? error->message : "?");
  ck_assert (gluetool_tracer_is_enabled (tracer));
  g_object_get (tracer, "enabled", &enabled, NULL);
  ck_assert (enabled);
  ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);
  ck_assert_uint_eq (gluetool_tracer_get_reporting_port (tracer), 6831);

  close_tracer (tracer);
}
END_TEST

/* ---- HTTP to a collector ------------------------------------------------------ */

START_TEST (test_http_settings)
{
  GluetoolConfigRequest request = { 0 };
  GluetoolConfig config;

  set_variable ("GLUETOOL_TRACING_ENDPOINT", "http://[::1]:14268/api/traces");
  set_variable ("GLUETOOL_TRACING_USER", "alice");
  set_variable ("GLUETOOL_TRACING_PASSWORD", "secret");
#ifdef GLUETOOL_HAVE_SOUP
  load_ok (&request, &config);
  ck_assert_str_eq (config.endpoint, "http://[::1]:14268/api/traces");
  ck_assert_uint_eq (config.max_batch_size, GLUETOOL_DEFAULT_MAX_BATCH_SIZE);
  ck_assert_str_eq (config.user, "alice");
  ck_assert_str_eq (config.password, "secret");
  ck_assert_ptr_null (config.auth_token);
  gluetool_config_clear (&config);

  /* The argument wins; a batch size from the variable. */
  request.endpoint = "https://collector.example/api/traces";
  set_variable ("GLUETOOL_TRACING_MAX_BATCH_SIZE", "2048");
  load_ok (&request, &config);
  ck_assert_str_eq (config.endpoint, "https://collector.example/api/traces");
  ck_assert_uint_eq (config.max_batch_size, 2048);
  gluetool_config_clear (&config);
#else
  {
    g_autoptr(GError) error = load_fails (&request, "built without HTTP support");

    ck_assert_msg (strstr (error->message, "GLUETOOL_TRACING_ENDPOINT") != NULL, "%s",
                   error->message);
  }
  (void) config;
#endif
}
END_TEST

/* The test certificates' directory (tests/data), from the environment. */
static char *
test_data_path (const char *name)
{
  const char *dir = g_getenv ("GLUETOOL_TEST_DATA");

  ck_assert_msg (dir != NULL, "GLUETOOL_TEST_DATA is not set");
  return g_build_filename (dir, name, NULL);
}

/* The certificates to trust over https: from the argument, else the
 * variable; a file that holds none, or none at all, is an error naming
 * where it came from. */
START_TEST (test_tls_ca_file)
{
  g_autofree char *ca = test_data_path ("ca.pem");
  g_autofree char *not_pem = test_data_path ("README");
  GluetoolConfigRequest request = { 0 };
  GluetoolConfig config;

  set_variable ("GLUETOOL_TRACING_TLS_CA_FILE", ca);
#ifdef GLUETOOL_HAVE_SOUP
  load_ok (&request, &config);
  ck_assert_str_eq (config.tls_ca_file, ca);
  gluetool_config_clear (&config);

  set_variable ("GLUETOOL_TRACING_TLS_CA_FILE", "/nonexistent/ca.pem");
  {
    g_autoptr(GError) error = load_fails (&request, "GLUETOOL_TRACING_TLS_CA_FILE");

    ck_assert_msg (strstr (error->message, "/nonexistent/ca.pem") != NULL, "%s",
                   error->message);
  }
  /* The argument wins over a bad variable, and is checked the same way. */
  request.tls_ca_file = ca;
  load_ok (&request, &config);
  ck_assert_str_eq (config.tls_ca_file, ca);
  gluetool_config_clear (&config);
  /* A relative path is the working directory's, and kept absolute (GIO
   * takes only those; a later chdir() changes nothing). */
  {
    g_autofree char *cwd = g_get_current_dir ();

    ck_assert_int_eq (g_chdir (g_getenv ("GLUETOOL_TEST_DATA")), 0);
    request.tls_ca_file = "ca.pem";
    load_ok (&request, &config);
    ck_assert_int_eq (g_chdir (cwd), 0);
    ck_assert_msg (g_path_is_absolute (config.tls_ca_file)
                   && g_str_has_suffix (config.tls_ca_file, G_DIR_SEPARATOR_S "ca.pem"),
                   "%s", config.tls_ca_file);
    ck_assert (g_file_test (config.tls_ca_file, G_FILE_TEST_IS_REGULAR));
    gluetool_config_clear (&config);
  }
  request.tls_ca_file = not_pem;
  {
    g_autoptr(GError) error = load_fails (&request, "tls ca file");

    ck_assert_msg (strstr (error->message, "GLUETOOL_TRACING_") == NULL, "%s", error->message);
  }
  request.tls_ca_file = "";
  {
    g_autoptr(GError) error = load_fails (&request, "tls ca file is empty");

    ck_assert (g_str_has_prefix (error->message, "tls ca file"));
  }
#else
  {
    g_autoptr(GError) error = load_fails (&request, "built without HTTP support");

    ck_assert_msg (strstr (error->message, "GLUETOOL_TRACING_TLS_CA_FILE") != NULL, "%s",
                   error->message);
  }
  (void) config;
  (void) not_pem;
#endif
}
END_TEST

/* The credentials are one choice: given as arguments, none of the three
 * variables counts. */
START_TEST (test_credentials_chosen_together)
{
  GluetoolConfigRequest request = { 0 };
  GluetoolConfig config;

  set_variable ("GLUETOOL_TRACING_AUTH_TOKEN", "token-from-env");
  set_variable ("GLUETOOL_TRACING_PASSWORD", "password-from-env");
  request.user = "bob";
  load_ok (&request, &config);
  ck_assert_str_eq (config.user, "bob");
  ck_assert_ptr_null (config.auth_token);
  ck_assert_ptr_null (config.password);
  gluetool_config_clear (&config);

  /* The other way round: a token given, a user and password in the environment. */
  g_unsetenv ("GLUETOOL_TRACING_AUTH_TOKEN");
  set_variable ("GLUETOOL_TRACING_USER", "alice");
  request = (GluetoolConfigRequest) { .auth_token = "token-given" };
  load_ok (&request, &config);
  ck_assert_str_eq (config.auth_token, "token-given");
  ck_assert_ptr_null (config.user);
  ck_assert_ptr_null (config.password);
  gluetool_config_clear (&config);

  /* From the environment alone they are still checked as a whole. */
  request = (GluetoolConfigRequest) { 0 };
  set_variable ("GLUETOOL_TRACING_AUTH_TOKEN", "token-from-env");
  {
    g_autoptr(GError) error = load_fails (&request, "Both an auth token and a user");

    ck_assert_ptr_null (strstr (error->message, "token-from-env"));
  }
}
END_TEST

static Suite *
config_suite (void)
{
  Suite *s = suite_create ("config");
  TCase *tc;

  tc = tcase_create ("load");
  tcase_add_checked_fixture (tc, environment_setup, environment_teardown);
  tcase_add_test (tc, test_defaults);
  tcase_add_test (tc, test_variables_used);
  tcase_add_loop_test (tc, test_single_variable, 0, G_N_ELEMENTS (single_variable_cases));
  tcase_add_test (tc, test_arguments_win);
  tcase_add_test (tc, test_arguments_win_over_bad_variables);
  tcase_add_test (tc, test_queue_full_wait_zero_given);
  tcase_add_test (tc, test_exit_flush_timeout_zero_given);
  tcase_add_loop_test (tc, test_disable, 0, G_N_ELEMENTS (disable_cases));
  tcase_add_loop_test (tc, test_host_accepted_variable, 0, G_N_ELEMENTS (host_cases));
  tcase_add_loop_test (tc, test_host_accepted_argument, 0, G_N_ELEMENTS (host_cases));
  tcase_add_test (tc, test_argument_limits);
  suite_add_tcase (s, tc);

  tc = tcase_create ("invalid");
  tcase_add_checked_fixture (tc, environment_setup, environment_teardown);
  tcase_add_loop_test (tc, test_invalid_variable, 0, G_N_ELEMENTS (invalid_variable_cases));
  tcase_add_test (tc, test_invalid_flush_timeout_for_close);
  tcase_add_loop_test (tc, test_invalid_argument, 0, G_N_ELEMENTS (invalid_argument_cases));
  tcase_add_test (tc, test_http_settings);
  tcase_add_test (tc, test_credentials_chosen_together);
  tcase_add_test (tc, test_tls_ca_file);
  suite_add_tcase (s, tc);

  tc = tcase_create ("tracer");
  tcase_add_checked_fixture (tc, environment_setup, environment_teardown);
  tcase_set_timeout (tc, 30);
  tcase_add_test (tc, test_tracer_new_invalid);
  tcase_add_test (tc, test_tracer_getters_from_variables);
  tcase_add_test (tc, test_tracer_arguments_win);
  tcase_add_test (tc, test_tracer_defaults);
  tcase_add_test (tc, test_tracer_initable_properties);
  tcase_add_test (tc, test_tracer_queue_full_wait_property);
  tcase_add_loop_test (tc, test_tracer_initable_bad_property, 0, G_N_ELEMENTS (bad_property_cases));
  tcase_add_loop_test (tc, test_tracer_enabled, 0, 2);
  suite_add_tcase (s, tc);

  return s;
}

int
main (void)
{
  int status;

  status = test_run_suite_tap (config_suite ());

  return status;
}
