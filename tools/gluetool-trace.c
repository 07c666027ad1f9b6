/* gluetool-trace.c: the command-line program: a receiver that shows
 * traces, gluetool's example, and a command run inside an action
 *
 * SPDX-License-Identifier: MIT
 */

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "trace-demo.h"
#include "trace-listen.h"
#include "trace-run.h"

static const char usage[] =
  "Usage:\n"
  "  gluetool-trace listen [OPTION...]   receive Jaeger spans over UDP and show them\n"
  "  gluetool-trace demo [OPTION...]     send gluetool's example trace\n"
  "  gluetool-trace run [OPTION...] -- COMMAND [ARG...]\n"
  "                                      run a command inside an action\n"
  "  gluetool-trace --version\n"
  "\n"
  "`gluetool-trace COMMAND --help` describes each command's options.\n";

int
main (int    argc,
      char **argv)
{
  const char *command = argc > 1 ? argv[1] : NULL;

  /* The character set decides how text is drawn and quoted (box drawing,
   * GLib's quotation marks in messages); numbers stay in the C locale, so
   * JSON and figures keep their decimal points. Every command needs it. */
  setlocale (LC_CTYPE, "");

  /* Each command names itself (g_set_prgname ("gluetool-trace listen")),
   * which GLib lets a program do only once. */
  if (g_strcmp0 (command, "listen") == 0)
    return gluetool_trace_listen_main (argc - 1, argv + 1);
  if (g_strcmp0 (command, "demo") == 0)
    return gluetool_trace_demo_main (argc - 1, argv + 1);
  if (g_strcmp0 (command, "run") == 0)
    return gluetool_trace_run_main (argc - 1, argv + 1);

  if (g_strcmp0 (command, "--version") == 0)
    {
      printf ("gluetool-trace %d.%d.%d\n", GLUETOOL_MAJOR_VERSION,
              GLUETOOL_MINOR_VERSION, GLUETOOL_MICRO_VERSION);
      return 0;
    }
  if (g_strcmp0 (command, "--help") == 0 || g_strcmp0 (command, "-h") == 0
      || g_strcmp0 (command, "help") == 0)
    {
      fputs (usage, stdout);
      return 0;
    }

  if (command != NULL)
    fprintf (stderr, "gluetool-trace: unknown command \"%s\"\n\n", command);
  fputs (usage, stderr);
  return 2;
}
