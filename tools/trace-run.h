/* trace-run.h: `gluetool-trace run`: a command run inside an action
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs `gluetool-trace run [OPTION...] -- COMMAND [ARG...]`; @argv[0] is
 * "run". Returns the process exit status to use. */
int gluetool_trace_run_main (int    argc,
                             char **argv);

G_END_DECLS
