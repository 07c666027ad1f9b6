/* trace-demo.c: `gluetool-trace demo`: gluetool's example, sent through
 * the library
 *
 * SPDX-License-Identifier: MIT
 *
 * gluetool's documentation shows an action "some label" tagged foo=bar,
 * with the children "some subtask" and "another subtask". This makes the
 * same three spans with the library's public API only, the way an
 * application would, closes the tracer (which flushes) and says what went
 * out.
 */

#include "trace-demo.h"

#include <gluetool/gluetool.h>


#define DEFAULT_TIMEOUT_S 10.0

/* Each subtask "works" this long, so that a timeline has something to
 * show; a real action would be doing its job here. */
#define SUBTASK_WORK_US (10 * 1000)

static gboolean
finish_action (GluetoolAction  *action,
               GError         **error)
{
  if (!gluetool_action_finish (action, error))
    {
      g_prefix_error (error, "cannot finish \"%s\": ", gluetool_action_get_label (action));
      return FALSE;
    }
  return TRUE;
}

/* The example; returns the trace id. */
static char *
run_example (GError **error)
{
  g_autoptr(GluetoolAction) root = NULL;
  g_autoptr(GluetoolAction) subtask = NULL;
  g_autoptr(GluetoolAction) another = NULL;
  g_auto(GVariantBuilder) tags = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  g_variant_builder_add (&tags, "{sv}", "foo", g_variant_new_string ("bar"));
  root = gluetool_action_new_with_tags ("some label", NULL, g_variant_builder_end (&tags));

  subtask = gluetool_action_new ("some subtask", root);
  g_usleep (SUBTASK_WORK_US);
  if (!finish_action (subtask, error))
    return NULL;

  another = gluetool_action_new ("another subtask", root);
  g_usleep (SUBTASK_WORK_US * 3 / 2);
  if (!finish_action (another, error))
    return NULL;

  if (!finish_action (root, error))
    return NULL;
  return gluetool_action_dup_trace_id (root);
}

int
gluetool_trace_demo_main (int    argc,
                          char **argv)
{
  g_autofree char *host = NULL;
  g_autofree char *service = NULL;
  g_autofree char *trace_id = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats = { 0, };
  double timeout_s = DEFAULT_TIMEOUT_S;
  gint port = 0;
  const GOptionEntry entries[] = {
    { "host", 'H', 0, G_OPTION_ARG_STRING, &host,
      "The agent's host (default: GLUETOOL_TRACING_REPORTING_HOST, else 127.0.0.1)", "HOST" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port,
      "The agent's UDP port (default: GLUETOOL_TRACING_REPORTING_PORT, else 6831)", "PORT" },
    { "service", 's', 0, G_OPTION_ARG_STRING, &service,
      "The service name (default: GLUETOOL_TRACING_SERVICE_NAME, else gluetool)", "NAME" },
    { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout_s,
      "Seconds to wait for the spans to be sent (default 10)", "SECONDS" },
    { NULL }
  };

  g_set_prgname ("gluetool-trace demo");

  context = g_option_context_new ("- send gluetool's example trace");
  g_option_context_set_summary (context,
    "Sends gluetool's example through the library: an action \"some label\"\n"
    "tagged foo=bar, with the children \"some subtask\" and \"another subtask\".\n"
    "Run `gluetool-trace listen` first to see them arrive.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("gluetool-trace demo: %s\n", error->message);
      return 2;
    }
  if (argc > 1 || port < 0 || port > G_MAXUINT16 || !(timeout_s > 0))
    {
      g_printerr ("gluetool-trace demo: takes no arguments; --port is 0 to 65535 "
                  "and --timeout more than 0\n");
      return 2;
    }

  tracer = gluetool_tracer_new (service, host, (guint) port, &error);
  if (tracer == NULL)
    {
      g_printerr ("gluetool-trace demo: %s\n", error->message);
      return 1;
    }
  if (!gluetool_tracer_is_enabled (tracer))
    {
      g_printerr ("gluetool-trace demo: tracing is disabled (GLUETOOL_TRACING_DISABLE "
                  "is set), so nothing was sent\n");
      return 1;
    }

  trace_id = run_example (&error);
  if (trace_id == NULL)
    {
      g_printerr ("gluetool-trace demo: %s\n", error->message);
      return 1;
    }

  /* Closing flushes: it returns once every span was handed to the kernel,
   * or fails saying how many were not. */
  if (!gluetool_tracer_close (tracer, timeout_s, &error))
    {
      g_printerr ("gluetool-trace demo: %s\n", error->message);
      return 1;
    }

  gluetool_tracer_get_stats (tracer, &stats);
  g_print ("gluetool-trace demo: sent %" G_GUINT64_FORMAT " span%s in %" G_GUINT64_FORMAT
           " datagram%s to %s port %u, service \"%s\"\n",
           stats.spans_sent, stats.spans_sent == 1 ? "" : "s",
           stats.datagrams_sent, stats.datagrams_sent == 1 ? "" : "s",
           gluetool_tracer_get_reporting_host (tracer),
           gluetool_tracer_get_reporting_port (tracer),
           gluetool_tracer_get_service_name (tracer));
  g_print ("  trace %s\n"
           "  some label  foo=bar\n"
           "    some subtask\n"
           "    another subtask\n", trace_id);

  /* UDP says nothing about delivery: "sent" is all a client can know. */
  return stats.spans_sent == 3 ? 0 : 1;
}
