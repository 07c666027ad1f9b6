/* trace-format-tree.c: a trace as an indented tree, for a terminal
 *
 * SPDX-License-Identifier: MIT
 */

#include "trace-format-tree.h"

#include "trace-layout.h"
#include "trace-text.h"

#include <string.h>

/* Past this depth the indentation stops growing (the line says the real
 * depth), so a hostile chain of spans cannot make lines quadratic. */
#define MAX_DRAWN_DEPTH 24

/* Tag values longer than this are cut in the tree; JSON has them whole. */
#define MAX_VALUE_CHARS 120

#define BOLD    "\033[1m"
#define DIM     "\033[2m"
#define RED     "\033[31m"
#define YELLOW  "\033[33m"
#define MAGENTA "\033[35m"
#define CYAN    "\033[36m"
#define RESET   "\033[0m"

typedef struct {
  GString              *out;
  const TraceTreeStyle *style;
  const char           *branch;    /* "├─ " */
  const char           *corner;    /* "└─ " */
  const char           *pipe;      /* "│  " */
  const char           *log_mark;  /* "· " */
} Writer;

static void
start_colour (Writer     *w,
              const char *code)
{
  if (w->style->colour)
    g_string_append (w->out, code);
}

static void
end_colour (Writer *w)
{
  if (w->style->colour)
    g_string_append (w->out, RESET);
}

static gboolean
needs_quotes (const char *text)
{
  if (text == NULL || *text == '\0')
    return TRUE;
  for (const char *p = text; *p != '\0'; p++)
    if (g_ascii_isspace (*p) || *p == '"' || *p == '=')
      return TRUE;
  return FALSE;
}

static void
append_tag (Writer    *w,
            JaegerTag *tag)
{
  gboolean quote = tag->vType == JAEGER_TAG_TYPE_STRING && tag->__isset_vStr
                   && needs_quotes (tag->vStr);

  start_colour (w, CYAN);
  trace_text_append_safe (w->out, tag->key, 60);
  end_colour (w);
  g_string_append_c (w->out, '=');
  if (quote)
    g_string_append_c (w->out, '"');
  trace_text_append_tag_value (w->out, tag, MAX_VALUE_CHARS);
  if (quote)
    g_string_append_c (w->out, '"');
}

static void
append_tags (Writer    *w,
             GPtrArray *tags)
{
  if (tags == NULL)
    return;
  for (guint i = 0; i < tags->len; i++)
    {
      g_string_append_c (w->out, ' ');
      append_tag (w, g_ptr_array_index (tags, i));
    }
}

/* The OpenTracing convention: a span that failed has the tag error=true. */
static void
append_offset (Writer *w,
               gint64  offset_us)
{
  if (offset_us >= 0)
    g_string_append_c (w->out, '+');
  trace_text_append_duration (w->out, offset_us, w->style->utf8);
}

/* The prefix of a line at @depth: for each ancestor level, a pipe when
 * that ancestor has siblings still to come. */
static void
append_prefix (Writer         *w,
               const gboolean *ancestor_last,
               guint           depth)
{
  guint drawn = MIN (depth, MAX_DRAWN_DEPTH);

  for (guint level = 1; level < drawn; level++)
    g_string_append (w->out, ancestor_last[level] ? "   " : w->pipe);
}

static void
append_header (Writer      *w,
               Trace       *trace,
               TraceLayout *layout,
               gboolean     updated)
{
  g_autofree char *id = trace_text_trace_id (trace->id_high, trace->id_low);

  start_colour (w, BOLD);
  g_string_append_printf (w->out, "trace %s", id);
  end_colour (w);
  g_string_append_printf (w->out, "  %u span%s", trace->spans->len,
                          trace->spans->len == 1 ? "" : "s");
  if (updated)
    g_string_append (w->out, " (updated: more spans arrived)");
  g_string_append (w->out, "  ");
  start_colour (w, MAGENTA);
  for (guint i = 0; i < layout->services->len; i++)
    {
      if (i > 0)
        g_string_append (w->out, ", ");
      trace_text_append_safe (w->out, g_ptr_array_index (layout->services, i), 40);
    }
  end_colour (w);
  g_string_append (w->out, "  ");
  start_colour (w, DIM);
  if (layout->end_us >= layout->start_us)
    {
      /* Unsigned, so that hostile extremes cannot overflow. */
      guint64 length = (guint64) layout->end_us - (guint64) layout->start_us;

      trace_text_append_duration (w->out, (gint64) MIN (length, (guint64) G_MAXINT64),
                                  w->style->utf8);
      g_string_append (w->out, "  ");
    }
  g_string_append (w->out, "from ");
  trace_text_append_time (w->out, layout->start_us);
  end_colour (w);
  g_string_append_c (w->out, '\n');
}

static void
append_span (Writer         *w,
             TraceLayout    *layout,
             const TraceRow *row,
             const char     *parent_service,
             const gboolean *ancestor_last)
{
  JaegerSpan *span = row->span->span;
  const char *service = row->span->process->service_name;
  gboolean error = trace_span_has_error (span);

  append_prefix (w, ancestor_last, row->depth);
  if (row->depth > 0)
    g_string_append (w->out, row->is_last ? w->corner : w->branch);
  if (row->depth > MAX_DRAWN_DEPTH)
    g_string_append_printf (w->out, "[depth %u] ", row->depth);

  start_colour (w, error ? BOLD RED : BOLD);
  trace_text_append_safe (w->out, span->operationName, MAX_VALUE_CHARS);
  end_colour (w);

  if (parent_service == NULL || strcmp (parent_service, service) != 0)
    {
      g_string_append (w->out, "  ");
      start_colour (w, MAGENTA);
      g_string_append_c (w->out, '[');
      trace_text_append_safe (w->out, service, 40);
      g_string_append_c (w->out, ']');
      end_colour (w);
    }

  g_string_append (w->out, "  ");
  start_colour (w, DIM);
  append_offset (w, trace_layout_offset (layout, span->startTime));
  g_string_append (w->out, "  ");
  trace_text_append_duration (w->out, span->duration, w->style->utf8);
  end_colour (w);

  if (row->parent_missing)
    {
      g_autofree char *parent = trace_text_span_id (row->span->parent_id);

      start_colour (w, YELLOW);
      g_string_append_printf (w->out, "  (parent %s did not arrive)", parent);
      end_colour (w);
    }
  if (row->in_cycle)
    {
      start_colour (w, YELLOW);
      g_string_append (w->out, "  (its parents form a loop)");
      end_colour (w);
    }

  if (span->tags != NULL && span->tags->len > 0)
    g_string_append_c (w->out, ' ');
  append_tags (w, span->tags);
  g_string_append_c (w->out, '\n');

  if (span->logs == NULL)
    return;
  for (guint i = 0; i < span->logs->len; i++)
    {
      JaegerLog *log = g_ptr_array_index (span->logs, i);

      /* Under the span, before its children. */
      append_prefix (w, ancestor_last, row->depth + 1);
      g_string_append (w->out, row->has_children ? w->pipe : "   ");
      start_colour (w, YELLOW);
      g_string_append (w->out, w->log_mark);
      end_colour (w);
      start_colour (w, DIM);
      append_offset (w, trace_layout_offset (layout, log->timestamp));
      end_colour (w);
      append_tags (w, log->fields);
      g_string_append_c (w->out, '\n');
    }
}

void
trace_format_tree (GString              *out,
                   Trace                *trace,
                   const TraceTreeStyle *style,
                   gboolean              updated)
{
  g_autoptr(TraceLayout) layout = NULL;
  /* The service and last-sibling flag of the latest span at each drawn
   * depth: a row's ancestors are the latest rows above it. */
  const char *service_at[MAX_DRAWN_DEPTH + 2] = { NULL, };
  gboolean last_at[MAX_DRAWN_DEPTH + 2] = { FALSE, };
  Writer w;

  g_return_if_fail (out != NULL);
  g_return_if_fail (trace != NULL);
  g_return_if_fail (style != NULL);

  w = (Writer) {
    .out = out,
    .style = style,
    .branch = style->utf8 ? "├─ " : "|- ",
    .corner = style->utf8 ? "└─ " : "`- ",
    .pipe = style->utf8 ? "│  " : "|  ",
    .log_mark = style->utf8 ? "· " : "* ",
  };

  layout = trace_layout_new (trace);
  append_header (&w, trace, layout, updated);

  for (guint i = 0; i < layout->rows->len; i++)
    {
      const TraceRow *row = &g_array_index (layout->rows, TraceRow, i);
      guint depth = MIN (row->depth, MAX_DRAWN_DEPTH);
      const char *parent_service = depth > 0 ? service_at[depth - 1] : NULL;

      last_at[depth] = row->is_last;
      append_span (&w, layout, row, parent_service, last_at);
      service_at[depth] = row->span->process->service_name;
    }
}
