/* gluetool-client.c: the comparison's workload through this library
 *
 * SPDX-License-Identifier: MIT
 *
 * Usage: gluetool-client N HOST PORT
 *
 * Public API only, with the default configuration: a tracer reporting to
 * HOST:PORT, one root action, N child actions with 3 tags each (string,
 * int64, boolean) finished one after the other on the main thread, then
 * gluetool_tracer_close(), which waits until every span has been sent.
 */

#include <stdlib.h>

#include <gluetool/gluetool.h>

#include "driver-args.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) root = NULL;
  DriverArgs args;

  if (!driver_args_parse (argc, argv, &args, &error))
    {
      g_printerr ("usage: %s N HOST PORT: %s\n", argv[0], error->message);
      return 2;
    }

  /* Every span is to arrive, as the other clients' are: a caller that
   * outruns the sender waits for room rather than drops (by default it
   * would drop and count). */
  g_setenv ("GLUETOOL_TRACING_QUEUE_FULL_WAIT", "1", TRUE);
  tracer = gluetool_tracer_new ("bench-compare", args.host, args.port, &error);
  if (tracer == NULL)
    {
      g_printerr ("gluetool_tracer_new: %s\n", error->message);
      return 1;
    }

  root = gluetool_action_new ("root", NULL);
  for (guint i = 0; i < args.n_spans; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("bench span", root);

      gluetool_action_set_tag_string (action, "component", "bench");
      gluetool_action_set_tag_int64 (action, "i", i);
      gluetool_action_set_tag_boolean (action, "ok", TRUE);
      gluetool_action_finish (action, NULL);
    }
  gluetool_action_finish (root, NULL);

  /* The library says when spans were lost; the sink counts them anyway. */
  if (!gluetool_tracer_close (tracer, 60, &error))
    g_printerr ("gluetool_tracer_close: %s\n", error->message);

  return EXIT_SUCCESS;
}
