/* trace-demo.h: `gluetool-trace demo`: gluetool's example, sent through
 * the library
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs `gluetool-trace demo [OPTION...]`; @argv[0] is "demo". Returns the
 * process exit status to use. */
int gluetool_trace_demo_main (int    argc,
                              char **argv);

G_END_DECLS
