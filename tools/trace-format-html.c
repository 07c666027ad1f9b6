/* trace-format-html.c: traces as one self-contained HTML page with a
 * waterfall timeline per trace
 *
 * SPDX-License-Identifier: MIT
 *
 * The page is laid out here, not by a script: each span is a <details>
 * row whose <summary> holds its name (indented by depth) and a track with
 * the bar at its start and width in percent of the trace. Opening the row
 * shows the details, which needs no script; neither does the tooltip (the
 * bar's title). So the page works offline, from a file, with scripts off,
 * and a hostile span name can only ever be text.
 */

#include "trace-format-html.h"

#include "trace-layout.h"
#include "trace-text.h"

#include <string.h>

/* Past this depth rows stop moving right. */
#define MAX_INDENT_DEPTH 30
#define INDENT_PX 14
/* Enough of a tag value for a tooltip or a table cell. */
#define MAX_VALUE_CHARS 2000

static const char page_style[] =
  ":root{--fg:#1d2430;--muted:#5b6472;--line:#d9dee6;--bg:#fff;--panel:#f5f7fa}"
  "*{box-sizing:border-box}"
  "body{margin:0;padding:24px;font:14px/1.4 system-ui,-apple-system,'Segoe UI',"
    "Roboto,sans-serif;color:var(--fg);background:var(--bg)}"
  "header h1{font-size:20px;margin:0 0 4px}"
  "header p{margin:0 0 16px;color:var(--muted)}"
  "section.trace{border:1px solid var(--line);border-radius:6px;margin:0 0 24px;"
    "overflow:hidden}"
  "section.trace h2{font-size:16px;margin:0;padding:10px 12px;background:var(--panel);"
    "border-bottom:1px solid var(--line)}"
  "section.trace h2 .meta{font-weight:normal;color:var(--muted);font-size:13px;"
    "margin-left:8px}"
  ".row,.axis{display:grid;grid-template-columns:minmax(180px,32%) 1fr;"
    "align-items:center}"
  ".axis{font-size:12px;color:var(--muted);border-bottom:1px solid var(--line);"
    "height:24px}"
  ".axis .ticks{position:relative;height:100%;margin-right:12px}"
  ".axis .tick{position:absolute;top:4px;transform:translateX(-50%);"
    "white-space:nowrap}"
  ".axis .tick.first{transform:none}"
  ".axis .tick.last{transform:translateX(-100%)}"
  "details.span{border-bottom:1px solid var(--line)}"
  "details.span:last-of-type{border-bottom:none}"
  "details.span>summary{list-style:none;cursor:pointer}"
  "details.span>summary::-webkit-details-marker{display:none}"
  "details.span>summary:hover{background:#eef3fb}"
  "details.span[open]>summary{background:#e6eefa}"
  ".name{padding:4px 8px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}"
  ".name .svc{color:var(--muted);font-size:12px;margin-left:6px}"
  ".name .note{color:#a15c00;font-size:12px;margin-left:6px}"
  ".track{position:relative;height:26px;margin-right:12px;"
    "background:linear-gradient(to right,var(--line) 1px,transparent 1px) 0 0/25% 100%}"
  ".bar{position:absolute;top:6px;height:14px;min-width:2px;border-radius:3px}"
  ".bar.error{outline:2px solid #c0392b}"
  ".dur{position:absolute;top:5px;font-size:12px;color:var(--muted);"
    "white-space:nowrap;padding:0 4px}"
  ".dur.inside{color:#fff;text-shadow:0 0 2px rgba(0,0,0,.6)}"
  ".log{position:absolute;top:4px;width:2px;height:18px;background:#1d2430}"
  ".info{padding:8px 12px 12px;background:var(--panel);font-size:13px}"
  ".info table{border-collapse:collapse;margin:4px 0 8px}"
  ".info th,.info td{text-align:left;vertical-align:top;padding:2px 12px 2px 0}"
  ".info th{color:var(--muted);font-weight:normal}"
  ".info td{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;"
    "white-space:pre-wrap;word-break:break-all}"
  ".info h3{font-size:13px;margin:8px 0 2px}"
  "footer pre{color:var(--muted);font-size:12px}";

/* Untrusted text into the page: made safe for people first (controls
 * shown as escapes), then escaped for HTML. */
static void
append_text (GString    *out,
             const char *untrusted,
             gsize       max_chars)
{
  g_autoptr(GString) safe = g_string_new (NULL);
  g_autofree char *escaped = NULL;

  trace_text_append_safe (safe, untrusted, max_chars);
  escaped = g_markup_escape_text (safe->str, (gssize) safe->len);
  g_string_append (out, escaped);
}

/* Already safe text (ours) that may still hold '<' or '&'. */
static void
append_escaped (GString    *out,
                const char *text)
{
  g_autofree char *escaped = g_markup_escape_text (text, -1);

  g_string_append (out, escaped);
}

static guint
service_hue (const char *service)
{
  return g_str_hash (service) % 360;
}

static double
percent (gint64 offset,
         double total)
{
  double p = (double) offset / total * 100.0;

  return CLAMP (p, 0.0, 100.0);
}

static void
append_tag_text (GString   *out,
                 JaegerTag *tag,
                 gsize      max_chars)
{
  trace_text_append_safe (out, tag->key, 200);
  g_string_append_c (out, '=');
  trace_text_append_tag_value (out, tag, max_chars);
}

static void
append_tag_rows (GString   *out,
                 GPtrArray *tags)
{
  for (guint i = 0; tags != NULL && i < tags->len; i++)
    {
      JaegerTag *tag = g_ptr_array_index (tags, i);
      g_autoptr(GString) value = g_string_new (NULL);

      trace_text_append_tag_value (value, tag, MAX_VALUE_CHARS);
      g_string_append (out, "<tr><th>");
      append_text (out, tag->key, 200);
      g_string_append (out, "</th><td>");
      append_escaped (out, value->str);
      g_string_append (out, "</td></tr>");
    }
}

static void
append_tag_table (GString   *out,
                  GPtrArray *tags)
{
  g_string_append (out, "<table>");
  append_tag_rows (out, tags);
  g_string_append (out, "</table>");
}

static void
append_duration (GString *out,
                 gint64   us)
{
  trace_text_append_duration (out, us, TRUE);
}

static void
append_axis (GString *out,
             gint64   length_us)
{
  g_string_append (out, "<div class=\"axis\"><span></span><span class=\"ticks\">");
  for (guint i = 0; i <= 4; i++)
    {
      g_autoptr(GString) label = g_string_new (NULL);

      append_duration (label, length_us / 4 * i + (i == 4 ? length_us % 4 : 0));
      g_string_append_printf (out, "<span class=\"tick%s\" style=\"left:%u%%\">%s</span>",
                              i == 0 ? " first" : i == 4 ? " last" : "",
                              i * 25, label->str);
    }
  g_string_append (out, "</span></div>\n");
}

static void
append_row (GString        *out,
            Trace          *trace,
            TraceLayout    *layout,
            const TraceRow *row,
            double          total)
{
  TraceSpan *ts = row->span;
  JaegerSpan *span = ts->span;
  g_autofree char *trace_id = trace_text_trace_id (trace->id_high, trace->id_low);
  g_autofree char *span_id = trace_text_span_id (ts->span_id);
  g_autofree char *parent_id = trace_text_span_id (ts->parent_id);
  g_autoptr(GString) tooltip = g_string_new (NULL);
  gint64 offset = trace_layout_offset (layout, span->startTime);
  double left = percent (offset, total);
  double width = MIN (percent (MAX (span->duration, 0), total), 100.0 - left);
  double end = left + width;

  /* The tooltip: name, timing, then one tag a line. */
  trace_text_append_safe (tooltip, span->operationName, 200);
  g_string_append (tooltip, "\nstart +");
  append_duration (tooltip, offset);
  g_string_append (tooltip, ", duration ");
  append_duration (tooltip, span->duration);
  for (guint i = 0; span->tags != NULL && i < span->tags->len; i++)
    {
      g_string_append_c (tooltip, '\n');
      append_tag_text (tooltip, g_ptr_array_index (span->tags, i), 200);
    }

  g_string_append_printf (out, "<details class=\"span\" id=\"span-%s-%s\" "
                          "data-span-id=\"%s\" data-parent-id=\"%s\" data-depth=\"%u\">",
                          trace_id, span_id, span_id, parent_id, row->depth);
  g_string_append_printf (out, "<summary class=\"row\"><span class=\"name\" "
                          "style=\"padding-left:%upx\">",
                          8 + INDENT_PX * MIN (row->depth, MAX_INDENT_DEPTH));
  append_text (out, span->operationName, 200);
  g_string_append (out, "<span class=\"svc\">");
  append_text (out, ts->process->service_name, 80);
  g_string_append (out, "</span>");
  if (row->parent_missing)
    g_string_append (out, "<span class=\"note\">parent did not arrive</span>");
  if (row->in_cycle)
    g_string_append (out, "<span class=\"note\">parents form a loop</span>");
  g_string_append (out, "</span><span class=\"track\">");

  g_string_append_printf (out, "<span class=\"bar%s\" style=\"left:%.3f%%;width:%.3f%%;"
                          "background:hsl(%u,55%%,55%%)\" title=\"",
                          trace_span_has_error (span) ? " error" : "", left, width,
                          service_hue (ts->process->service_name));
  append_escaped (out, tooltip->str);
  g_string_append (out, "\"></span>");

  for (guint i = 0; span->logs != NULL && i < span->logs->len; i++)
    {
      JaegerLog *log = g_ptr_array_index (span->logs, i);
      g_autoptr(GString) title = g_string_new ("log +");

      append_duration (title, trace_layout_offset (layout, log->timestamp));
      for (guint j = 0; log->fields != NULL && j < log->fields->len; j++)
        {
          g_string_append_c (title, '\n');
          append_tag_text (title, g_ptr_array_index (log->fields, j), 200);
        }
      g_string_append_printf (out, "<span class=\"log\" style=\"left:%.3f%%\" title=\"",
                              percent (trace_layout_offset (layout, log->timestamp), total));
      append_escaped (out, title->str);
      g_string_append (out, "\"></span>");
    }

  /* The duration after the bar; before it when the bar ends late; inside
   * it when it fills the track. */
  if (end <= 80.0)
    g_string_append_printf (out, "<span class=\"dur\" style=\"left:%.3f%%\">", end);
  else if (left >= 15.0)
    g_string_append_printf (out, "<span class=\"dur\" style=\"right:%.3f%%\">", 100.0 - left);
  else
    g_string_append_printf (out, "<span class=\"dur inside\" style=\"right:%.3f%%\">",
                            100.0 - end);
  {
    g_autoptr(GString) label = g_string_new (NULL);

    append_duration (label, span->duration);
    g_string_append (out, label->str);
  }
  g_string_append (out, "</span></span></summary>\n");

  /* The details: tags, logs, process, ids. */
  g_string_append (out, "<div class=\"info\">");
  if (span->tags != NULL && span->tags->len > 0)
    {
      g_string_append (out, "<h3>Tags</h3>");
      append_tag_table (out, span->tags);
    }
  if (span->logs != NULL && span->logs->len > 0)
    {
      g_string_append (out, "<h3>Logs</h3>");
      for (guint i = 0; i < span->logs->len; i++)
        {
          JaegerLog *log = g_ptr_array_index (span->logs, i);
          g_autoptr(GString) when = g_string_new ("+");

          append_duration (when, trace_layout_offset (layout, log->timestamp));
          g_string_append_printf (out, "<div>%s</div>", when->str);
          append_tag_table (out, log->fields);
        }
    }
  g_string_append (out, "<h3>Process</h3><table><tr><th>service</th><td>");
  append_text (out, ts->process->service_name, 200);
  g_string_append (out, "</td></tr>");
  append_tag_rows (out, ts->process->process->tags);
  g_string_append (out, "</table>");
  g_string_append (out, "<h3>Span</h3><table>");
  g_string_append_printf (out, "<tr><th>trace id</th><td>%s</td></tr>", trace_id);
  g_string_append_printf (out, "<tr><th>span id</th><td>%s</td></tr>", span_id);
  g_string_append_printf (out, "<tr><th>parent id</th><td>%s</td></tr>", parent_id);
  g_string_append_printf (out, "<tr><th>flags</th><td>%d</td></tr>", (int) span->flags);
  g_string_append (out, "<tr><th>start</th><td>");
  trace_text_append_time (out, span->startTime);
  g_string_append (out, "</td></tr><tr><th>duration</th><td>");
  append_duration (out, span->duration);
  g_string_append (out, "</td></tr></table></div></details>\n");
}

static void
append_trace (GString *out,
              Trace   *trace)
{
  g_autoptr(TraceLayout) layout = trace_layout_new (trace);
  g_autofree char *id = trace_text_trace_id (trace->id_high, trace->id_low);
  const TraceRow *first;
  guint64 length = 0;
  double total;

  if (layout->rows->len == 0)
    return;
  first = &g_array_index (layout->rows, TraceRow, 0);
  if (layout->end_us > layout->start_us)
    length = MIN ((guint64) layout->end_us - (guint64) layout->start_us,
                  (guint64) G_MAXINT64);
  /* Zero-length traces still get visible bars (min-width). */
  total = length > 0 ? (double) length : 1.0;

  g_string_append_printf (out, "<section class=\"trace\" id=\"trace-%s\" "
                          "data-spans=\"%u\"><h2>", id, trace->spans->len);
  append_text (out, first->span->span->operationName, 200);
  g_string_append_printf (out, "<span class=\"meta\">trace %s · %u span%s · ",
                          id, trace->spans->len, trace->spans->len == 1 ? "" : "s");
  for (guint i = 0; i < layout->services->len; i++)
    {
      if (i > 0)
        g_string_append (out, ", ");
      append_text (out, g_ptr_array_index (layout->services, i), 80);
    }
  g_string_append (out, " · ");
  append_duration (out, (gint64) length);
  g_string_append (out, " · ");
  trace_text_append_time (out, layout->start_us);
  g_string_append (out, "</span></h2>\n");

  append_axis (out, (gint64) length);
  for (guint i = 0; i < layout->rows->len; i++)
    append_row (out, trace, layout, &g_array_index (layout->rows, TraceRow, i), total);
  g_string_append (out, "</section>\n");
}

char *
trace_format_html (GPtrArray  *traces,
                   const char *summary,
                   gsize      *length)
{
  GString *out;
  guint n_spans = 0;

  g_return_val_if_fail (traces != NULL, NULL);

  for (guint i = 0; i < traces->len; i++)
    n_spans += ((Trace *) g_ptr_array_index (traces, i))->spans->len;

  out = g_string_new ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                      "<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  g_string_append_printf (out, "<title>gluetool-trace: %u trace%s, %u span%s</title>\n",
                          traces->len, traces->len == 1 ? "" : "s",
                          n_spans, n_spans == 1 ? "" : "s");
  g_string_append_printf (out, "<style>%s</style>\n</head>\n<body>\n", page_style);
  g_string_append_printf (out, "<header><h1>gluetool-trace</h1><p>%u trace%s, %u span%s. "
                          "Hover a bar for its tags; click a row for its details.</p>"
                          "</header>\n<main>\n",
                          traces->len, traces->len == 1 ? "" : "s",
                          n_spans, n_spans == 1 ? "" : "s");

  for (guint i = 0; i < traces->len; i++)
    append_trace (out, g_ptr_array_index (traces, i));
  if (traces->len == 0)
    g_string_append (out, "<p>No spans arrived.</p>\n");

  g_string_append (out, "</main>\n");
  if (summary != NULL)
    {
      g_string_append (out, "<footer><pre>");
      append_escaped (out, summary);
      g_string_append (out, "</pre></footer>\n");
    }
  g_string_append (out, "</body>\n</html>\n");

  if (length != NULL)
    *length = out->len;
  return g_string_free (out, FALSE);
}
