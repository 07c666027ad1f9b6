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
#include "trace-scan.h"
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

/* trace_scan_datagram() or trace_scan_http_body() */
typedef gboolean (*ScanFunc) (TraceScan    *scan,
                              const guint8 *data,
                              gsize         len);

/* The counting receiver's scan against the reference codec: whatever the
 * scan accepts, the reference accepts, and a store fed by either says the
 * same in its summary (the batch twice, so that traces are updated and
 * the store's limit cuts in). */
static gboolean
check_scan (ScanFunc            scan_func,
            const guint8       *data,
            gsize               size,
            const TraceDecoded *decoded,
            const char         *description)
{
  g_auto(TraceScan) scan = { NULL, };
  g_autoptr(TraceStore) by_reference = NULL;
  g_autoptr(TraceStore) by_scan = NULL;
  g_autoptr(GString) reference_summary = g_string_new (NULL);
  g_autoptr(GString) scan_summary = g_string_new (NULL);

  trace_scan_init (&scan);
  if (!scan_func (&scan, data, size))
    return FALSE;
  if (decoded == NULL)
    fail ("the scan accepted bytes the reference refuses", description);

  by_reference = trace_store_new (FUZZ_MAX_SPANS, TRUE);
  by_scan = trace_store_new (FUZZ_MAX_SPANS, TRUE);
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(GPtrArray) spans = NULL;

      trace_store_count_datagram (by_reference, size);
      spans = trace_store_add (by_reference, decoded, 1000 * round);
      for (guint i = 0; i < spans->len; i++)
        {
          TraceSpan *span = g_ptr_array_index (spans, i);

          if (span->trace != NULL)
            trace_store_mark_shown (by_reference, span->trace);
        }
      trace_store_count_datagram (by_scan, size);
      trace_store_add_scan (by_scan, &scan, 1000 * round);
    }
  trace_store_append_summary (by_reference, reference_summary);
  trace_store_append_summary (by_scan, scan_summary);
  if (!g_string_equal (reference_summary, scan_summary))
    {
      g_autofree char *both = g_strdup_printf ("%s\nreference:\n%s\nscan:\n%s", description,
                                               reference_summary->str, scan_summary->str);

      fail ("the scan counts differently from the reference", both);
    }
  return TRUE;
}

gboolean
trace_fuzz_scans (const guint8 *data,
                  gsize         size)
{
  g_auto(TraceDecoded) decoded = { NULL, };
  g_autofree char *description = trace_text_describe_bytes (data, size, 16);
  gboolean ok = trace_decode_datagram (data, size, &decoded, NULL);

  return check_scan (trace_scan_datagram, data, size, ok ? &decoded : NULL, description);
}

gboolean
trace_fuzz_scans_http (const guint8 *data,
                       gsize         size)
{
  g_auto(TraceDecoded) decoded = { NULL, };
  g_autofree char *description = trace_text_describe_bytes (data, size, 16);
  gboolean ok = trace_decode_http_body (data, size, &decoded, NULL);

  return check_scan (trace_scan_http_body, data, size, ok ? &decoded : NULL, description);
}

/* Every output of @decoded's spans, checked: the batch stored twice (the
 * second time every trace is "updated", and the store's limit may cut
 * it), JSON lines, trees in colour and in ASCII, the summary, Jaeger JSON
 * and the page. */
static void
check_outputs (TraceStore         *store,
               const TraceDecoded *decoded)
{
  g_autoptr(GPtrArray) spans = NULL;
  g_autoptr(GPtrArray) traces = NULL;
  g_autoptr(GString) summary = g_string_new (NULL);
  g_autofree char *jaeger = NULL;
  g_autofree char *page = NULL;
  static const TraceTreeStyle colour = { .colour = TRUE, .utf8 = TRUE };
  static const TraceTreeStyle plain = { .colour = FALSE, .utf8 = FALSE };

  for (guint round = 0; round < 2; round++)
    {
      g_clear_pointer (&spans, g_ptr_array_unref);
      spans = trace_store_add (store, decoded, 1000 * round);
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
}

/* What a failed decode must leave: a message, and no batch. */
static void
check_refusal (const TraceDecoded *decoded,
               const GError       *error,
               const char         *description)
{
  if (error == NULL || error->message == NULL)
    fail ("a failed decode without a message", description);
  if (decoded->batch != NULL)
    fail ("a failed decode left a batch", description);
}

gboolean
trace_fuzz_one (const guint8 *data,
                gsize         size)
{
  g_autoptr(TraceStore) store = trace_store_new (FUZZ_MAX_SPANS, FALSE);
  g_auto(TraceDecoded) decoded = { NULL, };
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;

  /* What the receiver prints about any datagram, good or bad. */
  description = trace_text_describe_bytes (data, size, 16);
  trace_store_count_datagram (store, size);

  if (!trace_decode_datagram (data, size, &decoded, &error))
    {
      check_scan (trace_scan_datagram, data, size, NULL, description);
      check_refusal (&decoded, error, description);
      return FALSE;
    }

  check_scan (trace_scan_datagram, data, size, &decoded, description);
  check_outputs (store, &decoded);
  return TRUE;
}

gboolean
trace_fuzz_one_http (const guint8 *data,
                     gsize         size)
{
  g_autoptr(TraceStore) store = trace_store_new (FUZZ_MAX_SPANS, FALSE);
  g_auto(TraceDecoded) decoded = { NULL, };
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;

  /* What the receiver answers a client with, for any body. */
  description = trace_text_describe_bytes (data, size, 16);

  if (!trace_decode_http_body (data, size, &decoded, &error))
    {
      check_scan (trace_scan_http_body, data, size, NULL, description);
      check_refusal (&decoded, error, description);
      trace_store_count_http_bad (store);
      return FALSE;
    }
  if (decoded.protocol != TRACE_PROTOCOL_HTTP)
    fail ("an HTTP body decoded as another protocol", description);

  check_scan (trace_scan_http_body, data, size, &decoded, description);
  check_outputs (store, &decoded);
  return TRUE;
}
