/* trace-run.c: `gluetool-trace run` (being written, issue 4)
 *
 * SPDX-License-Identifier: MIT
 */

#include "trace-run.h"

int
gluetool_trace_run_main (int    argc,
                         char **argv)
{
  g_printerr ("gluetool-trace run: not written yet\n");
  return 2;
}
