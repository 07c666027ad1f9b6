/* test-expect.h: library calls that a test expects to succeed
 *
 * SPDX-License-Identifier: MIT
 *
 * Each fails the running check test with the GError's message when the call
 * does not succeed.
 */

#pragma once

#include <gluetool/gluetool.h>

G_BEGIN_DECLS

void test_expect_finish (GluetoolAction *action);
/* An action labelled @label without a parent, started and finished. */
void test_expect_action (const char     *label);
void test_expect_close  (GluetoolTracer *tracer,
                         double          timeout_s);

/* Unsets every GLUETOOL_TRACING_* variable a tracer or an action reads, so
 * that a suite's tracers take their arguments and defaults only. */
void test_unset_tracing_environment (void);

G_END_DECLS
