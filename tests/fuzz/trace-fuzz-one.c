/* trace-fuzz-one.c: one datagram through everything gluetool-trace listen
 * does with it, with the properties every output must keep
 *
 * SPDX-License-Identifier: MIT
 */

#include "trace-fuzz-one.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace-decode.h"
#include "trace-format-html.h"
#include "trace-format-json.h"
#include "trace-format-tree.h"
#include "trace-store.h"
#include "trace-text.h"

/* Small, so that the store's limit is reached too. */
#define FUZZ_MAX_SPANS 64

static void
fail (const char *what,
      const char *text)
{
  fprintf (stderr, "trace-fuzz-one: %s\n%.2000s\n", what, text);
  abort ();
}

static void
check_json (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  if (!json_parser_load_from_data (parser, text, -1, &error))
    fail (error->message, text);
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    fail ("JSON output is not an object", text);
}

/* Without colour, a tree holds printable text and newlines only. */
static void
check_plain_text (const GString *text)
{
  if (!g_utf8_validate (text->str, (gssize) text->len, NULL))
    fail ("a tree is not valid UTF-8", text->str);
  for (gsize i = 0; i < text->len; i++)
    {
      guchar c = (guchar) text->str[i];

      if ((c < 0x20 && c != '\n') || c == 0x7f)
        fail ("a tree holds a control character", text->str);
    }
}

static void
check_page (const char *page)
{
  if (!g_utf8_validate (page, -1, NULL))
    fail ("the page is not valid UTF-8", page);
  if (strstr (page, "<script") != NULL || strstr (page, "<img") != NULL
      || strstr (page, "<iframe") != NULL)
    fail ("span text reached the page as markup", page);
}

gboolean
trace_fuzz_one (const guint8 *data,
                gsize         size)
{
  g_autoptr(TraceStore) store = trace_store_new (FUZZ_MAX_SPANS, FALSE);
  g_auto(TraceDecoded) decoded = { NULL, };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) spans = NULL;
  g_autoptr(GPtrArray) traces = NULL;
  g_autoptr(GString) summary = g_string_new (NULL);
  g_autofree char *jaeger = NULL;
  g_autofree char *page = NULL;
  g_autofree char *description = NULL;
  static const TraceTreeStyle colour = { .colour = TRUE, .utf8 = TRUE };
  static const TraceTreeStyle plain = { .colour = FALSE, .utf8 = FALSE };

  /* What the receiver prints about any datagram, good or bad. */
  description = trace_text_describe_bytes (data, size, 16);
  trace_store_count_datagram (store, size);

  if (!trace_decode_datagram (data, size, &decoded, &error))
    {
      if (error == NULL || error->message == NULL)
        fail ("a failed decode without a message", description);
      if (decoded.batch != NULL)
        fail ("a failed decode left a batch", description);
      return FALSE;
    }

  /* The same batch twice: the second time every trace is "updated", and
   * the store's limit may cut it. */
  for (guint round = 0; round < 2; round++)
    {
      g_clear_pointer (&spans, g_ptr_array_unref);
      spans = trace_store_add (store, &decoded, 1000 * round);
      for (guint i = 0; i < spans->len; i++)
        {
          g_autofree char *line = trace_format_json_span (g_ptr_array_index (spans, i));

          check_json (line);
          if (strchr (line, '\n') != NULL)
            fail ("a JSON line holds a newline", line);
        }

      traces = trace_store_get_traces (store);
      for (guint i = 0; i < traces->len; i++)
        {
          Trace *trace = g_ptr_array_index (traces, i);
          g_autoptr(GString) tree = g_string_new (NULL);
          g_autoptr(GString) ascii = g_string_new (NULL);

          trace_format_tree (tree, trace, &colour, trace->n_shown > 0);
          trace_format_tree (ascii, trace, &plain, trace->n_shown > 0);
          check_plain_text (ascii);
          trace_store_mark_shown (store, trace);
        }
      g_clear_pointer (&traces, g_ptr_array_unref);
    }

  traces = trace_store_get_traces (store);
  trace_store_append_summary (store, summary);
  check_plain_text (summary);

  jaeger = trace_format_jaeger_json (traces, NULL);
  check_json (jaeger);
  page = trace_format_html (traces, summary->str, NULL);
  check_page (page);

  return TRUE;
}
