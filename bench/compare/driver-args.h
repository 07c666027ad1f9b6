/* driver-args.h: the command line every C driver of the comparison takes
 *
 * SPDX-License-Identifier: MIT
 *
 * N HOST PORT: the number of child spans, and where the sink listens.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint       n_spans;
  const char *host;  /* (unowned) points into argv */
  guint16     port;
} DriverArgs;

static inline gboolean
driver_args_parse (int          argc,
                   char       **argv,
                   DriverArgs  *args,
                   GError     **error)
{
  guint64 n_spans, port;

  if (argc != 4)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "expected 3 arguments, got %d", argc - 1);
      return FALSE;
    }
  if (!g_ascii_string_to_unsigned (argv[1], 10, 0, G_MAXUINT, &n_spans, error)
      || !g_ascii_string_to_unsigned (argv[3], 10, 1, G_MAXUINT16, &port, error))
    return FALSE;

  args->n_spans = (guint) n_spans;
  args->host = argv[2];
  args->port = (guint16) port;
  return TRUE;
}

G_END_DECLS
