/* check-tap.h: running a check suite the way meson reads it
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <check.h>

/* Runs @suite (taken) with its results as TAP on stdout, which meson reads
 * (protocol: 'tap'); check's own report is silenced so that nothing else goes
 * there. Returns the exit status: 0 when every test passed. */
static inline int
test_run_suite_tap (Suite *suite)
{
  SRunner *runner = srunner_create (suite);
  int n_failed;

  srunner_set_tap (runner, "-");
  srunner_run_all (runner, CK_SILENT);
  n_failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return n_failed == 0 ? 0 : 1;
}
