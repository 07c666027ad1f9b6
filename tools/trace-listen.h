/* trace-listen.h: `gluetool-trace listen`: a Jaeger agent stand-in that
 * shows what arrives
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs `gluetool-trace listen [OPTION...]`; @argv[0] is "listen". Returns
 * the process exit status to use. */
int gluetool_trace_listen_main (int    argc,
                                char **argv);

G_END_DECLS
