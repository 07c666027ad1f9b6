/* gluetool-trace.c: the command-line program (being written, issue 3)
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "trace-run.h"

int
main (int    argc,
      char **argv)
{
  if (argc > 1 && strcmp (argv[1], "run") == 0)
    return gluetool_trace_run_main (argc - 1, argv + 1);
  g_printerr ("usage: gluetool-trace run -- COMMAND [ARG...]\n");
  return 2;
}
