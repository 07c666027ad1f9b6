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
void test_expect_close  (GluetoolTracer *tracer,
                         double          timeout_s);

G_END_DECLS
