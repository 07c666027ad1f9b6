/* consumer.c: an outside program using the library through its one header
 *
 * SPDX-License-Identifier: MIT
 */

#include <gluetool/gluetool.h>

#if !GLUETOOL_CHECK_VERSION (0, 1, 0)
#error "gluetool-action 0.1.0 or newer is needed"
#endif

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autofree char *trace_id = NULL;

  /* No agent is needed to prove the library links and runs. */
  g_setenv ("GLUETOOL_TRACING_DISABLE", "1", TRUE);
  tracer = gluetool_tracer_new ("consumer", NULL, 0, &error);
  if (tracer == NULL)
    {
      g_printerr ("consumer: %s\n", error->message);
      return 1;
    }

  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("consumer action", NULL);

    gluetool_action_set_tag_string (action, "built", "outside");
    trace_id = gluetool_action_dup_trace_id (action);
    if (!gluetool_action_finish (action, &error))
      {
        g_printerr ("consumer: %s\n", error->message);
        return 1;
      }
  }

  if (!gluetool_tracer_close (tracer, 1, &error))
    {
      g_printerr ("consumer: %s\n", error->message);
      return 1;
    }
  g_print ("consumer: gluetool-action %s, trace %s\n", GLUETOOL_VERSION_S, trace_id);
  return 0;
}
