/* test-expect.c: library calls that a test expects to succeed
 *
 * SPDX-License-Identifier: MIT
 */

#include <check.h>

#include "test-expect.h"

void
test_expect_finish (GluetoolAction *action)
{
  g_autoptr(GError) error = NULL;

  ck_assert_msg (gluetool_action_finish (action, &error), "finish: %s",
                 error != NULL ? error->message : "");
}

void
test_expect_action (const char *label)
{
  g_autoptr(GluetoolAction) action = gluetool_action_new (label, NULL);

  test_expect_finish (action);
}

void
test_expect_close (GluetoolTracer *tracer,
                   double          timeout_s)
{
  g_autoptr(GError) error = NULL;

  ck_assert_msg (gluetool_tracer_close (tracer, timeout_s, &error), "close: %s",
                 error != NULL ? error->message : "");
}

void
test_unset_tracing_environment (void)
{
  const char *names[] = {
    "GLUETOOL_TRACING_DISABLE", "GLUETOOL_TRACING_SERVICE_NAME",
    "GLUETOOL_TRACING_REPORTING_HOST", "GLUETOOL_TRACING_REPORTING_PORT",
    "GLUETOOL_TRACING_FLUSH_TIMEOUT", "GLUETOOL_TRACING_FLUSH_INTERVAL",
    "GLUETOOL_TRACING_QUEUE_SIZE", "GLUETOOL_TRACING_MAX_PACKET_SIZE",
    "GLUETOOL_TRACING_QUEUE_FULL_WAIT", "GLUETOOL_TRACING_EXIT_FLUSH_TIMEOUT",
    "GLUETOOL_TRACING_IGNORE_TRACEPARENT",
    "GLUETOOL_TRACING_SAMPLER_TYPE", "GLUETOOL_TRACING_SAMPLER_PARAM",
    "GLUETOOL_TRACING_SAMPLING_ENDPOINT", "GLUETOOL_TRACING_SAMPLER_REFRESH_INTERVAL",
    "GLUETOOL_TRACING_TAGS",
    "GLUETOOL_TRACING_IGNORE_TRACEPARENT", "GLUETOOL_TRACING_ENDPOINT",
    "GLUETOOL_TRACING_MAX_BATCH_SIZE", "GLUETOOL_TRACING_AUTH_TOKEN", "GLUETOOL_TRACING_USER",
    "GLUETOOL_TRACING_PASSWORD",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_unsetenv (names[i]);
}
