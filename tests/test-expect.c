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
test_expect_close (GluetoolTracer *tracer,
                   double          timeout_s)
{
  g_autoptr(GError) error = NULL;

  ck_assert_msg (gluetool_tracer_close (tracer, timeout_s, &error), "close: %s",
                 error != NULL ? error->message : "");
}
