/* trace-format-json.c: spans as JSON lines, and traces in the JSON shape of
 * the Jaeger query API
 *
 * SPDX-License-Identifier: MIT
 *
 * Jaeger's JSON model (model/json in the Jaeger repository) names the tag
 * types "string", "bool", "int64", "float64" and "binary" (base64 text);
 * both formats use it, so one tag reads the same in either.
 */

#include "trace-format-json.h"

#include "trace-text.h"

#include <json-glib/json-glib.h>
#include <math.h>

static void
add_text (JsonBuilder *builder,
          const char  *member,
          const char  *untrusted)
{
  g_autofree char *valid = trace_text_utf8 (untrusted);

  json_builder_set_member_name (builder, member);
  json_builder_add_string_value (builder, valid);
}

static void
add_int (JsonBuilder *builder,
         const char  *member,
         gint64       value)
{
  json_builder_set_member_name (builder, member);
  json_builder_add_int_value (builder, value);
}

static void
add_trace_id (JsonBuilder *builder,
              const char  *member,
              guint64      high,
              guint64      low)
{
  g_autofree char *id = trace_text_trace_id (high, low);

  json_builder_set_member_name (builder, member);
  json_builder_add_string_value (builder, id);
}

static void
add_span_id (JsonBuilder *builder,
             const char  *member,
             guint64      value)
{
  g_autofree char *id = trace_text_span_id (value);

  json_builder_set_member_name (builder, member);
  json_builder_add_string_value (builder, id);
}

static void
add_double_value (JsonBuilder *builder,
                  double       value)
{
  /* JSON has no NaN or infinity; json-glib would write "nan" as a bare
   * word and break the document. */
  if (isnan (value))
    json_builder_add_string_value (builder, "NaN");
  else if (isinf (value))
    json_builder_add_string_value (builder, value > 0 ? "Infinity" : "-Infinity");
  else
    json_builder_add_double_value (builder, value);
}

static void
add_tag (JsonBuilder *builder,
         JaegerTag   *tag)
{
  json_builder_begin_object (builder);
  add_text (builder, "key", tag->key);
  json_builder_set_member_name (builder, "type");

  switch (tag->vType)
    {
    case JAEGER_TAG_TYPE_STRING:
      json_builder_add_string_value (builder, "string");
      json_builder_set_member_name (builder, "value");
      if (tag->__isset_vStr)
        {
          g_autofree char *valid = trace_text_utf8 (tag->vStr);

          json_builder_add_string_value (builder, valid);
        }
      else
        json_builder_add_null_value (builder);
      break;

    case JAEGER_TAG_TYPE_DOUBLE:
      json_builder_add_string_value (builder, "float64");
      json_builder_set_member_name (builder, "value");
      if (tag->__isset_vDouble)
        add_double_value (builder, tag->vDouble);
      else
        json_builder_add_null_value (builder);
      break;

    case JAEGER_TAG_TYPE_BOOL:
      json_builder_add_string_value (builder, "bool");
      json_builder_set_member_name (builder, "value");
      if (tag->__isset_vBool)
        json_builder_add_boolean_value (builder, tag->vBool);
      else
        json_builder_add_null_value (builder);
      break;

    case JAEGER_TAG_TYPE_LONG:
      json_builder_add_string_value (builder, "int64");
      json_builder_set_member_name (builder, "value");
      if (tag->__isset_vLong)
        json_builder_add_int_value (builder, tag->vLong);
      else
        json_builder_add_null_value (builder);
      break;

    case JAEGER_TAG_TYPE_BINARY:
      json_builder_add_string_value (builder, "binary");
      json_builder_set_member_name (builder, "value");
      if (tag->__isset_vBinary && tag->vBinary != NULL)
        {
          g_autofree char *encoded = g_base64_encode (tag->vBinary->data,
                                                      tag->vBinary->len);

          json_builder_add_string_value (builder, encoded);
        }
      else
        json_builder_add_null_value (builder);
      break;

    default:
      {
        /* Not a Jaeger type: kept visible as text rather than dropped. */
        g_autofree char *text = g_strdup_printf ("(unknown tag type %d)",
                                                 (int) tag->vType);

        json_builder_add_string_value (builder, "string");
        json_builder_set_member_name (builder, "value");
        json_builder_add_string_value (builder, text);
      }
      break;
    }

  json_builder_end_object (builder);
}

static void
add_tags (JsonBuilder *builder,
          const char  *member,
          GPtrArray   *tags)
{
  json_builder_set_member_name (builder, member);
  json_builder_begin_array (builder);
  if (tags != NULL)
    for (guint i = 0; i < tags->len; i++)
      add_tag (builder, g_ptr_array_index (tags, i));
  json_builder_end_array (builder);
}

static void
add_logs (JsonBuilder *builder,
          GPtrArray   *logs)
{
  json_builder_set_member_name (builder, "logs");
  json_builder_begin_array (builder);
  if (logs != NULL)
    for (guint i = 0; i < logs->len; i++)
      {
        JaegerLog *log = g_ptr_array_index (logs, i);

        json_builder_begin_object (builder);
        add_int (builder, "timestamp", log->timestamp);
        add_tags (builder, "fields", log->fields);
        json_builder_end_object (builder);
      }
  json_builder_end_array (builder);
}

static const char *
ref_type_name (JaegerSpanRefType type)
{
  return type == JAEGER_SPAN_REF_TYPE_FOLLOWS_FROM ? "FOLLOWS_FROM" : "CHILD_OF";
}

static void
add_reference (JsonBuilder *builder,
               const char  *type,
               guint64      trace_high,
               guint64      trace_low,
               guint64      span_id)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "refType");
  json_builder_add_string_value (builder, type);
  add_trace_id (builder, "traceID", trace_high, trace_low);
  add_span_id (builder, "spanID", span_id);
  json_builder_end_object (builder);
}

/* The span's own references; with @with_parent, its parent first as a
 * CHILD_OF reference unless one is already there (Jaeger's own Thrift to
 * JSON conversion does the same). */
static void
add_references (JsonBuilder *builder,
                TraceSpan   *span,
                gboolean     with_parent)
{
  GPtrArray *refs = span->span->references;
  gboolean parent_listed = FALSE;

  json_builder_set_member_name (builder, "references");
  json_builder_begin_array (builder);

  if (with_parent && span->parent_id != 0)
    {
      for (guint i = 0; refs != NULL && i < refs->len; i++)
        {
          JaegerSpanRef *ref = g_ptr_array_index (refs, i);

          parent_listed |= ref->refType == JAEGER_SPAN_REF_TYPE_CHILD_OF
                           && (guint64) ref->spanId == span->parent_id
                           && (guint64) ref->traceIdLow == span->trace_id_low
                           && (guint64) ref->traceIdHigh == span->trace_id_high;
        }
      if (!parent_listed)
        add_reference (builder, "CHILD_OF", span->trace_id_high,
                       span->trace_id_low, span->parent_id);
    }

  for (guint i = 0; refs != NULL && i < refs->len; i++)
    {
      JaegerSpanRef *ref = g_ptr_array_index (refs, i);

      add_reference (builder, ref_type_name (ref->refType),
                     (guint64) ref->traceIdHigh, (guint64) ref->traceIdLow,
                     (guint64) ref->spanId);
    }

  json_builder_end_array (builder);
}

static char *
to_text (JsonBuilder *builder,
         gsize       *length)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);

  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, length);
}

char *
trace_format_json_span (TraceSpan *span)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  JaegerSpan *s;

  g_return_val_if_fail (span != NULL, NULL);

  s = span->span;
  json_builder_begin_object (builder);
  add_trace_id (builder, "traceID", span->trace_id_high, span->trace_id_low);
  add_span_id (builder, "spanID", span->span_id);
  add_span_id (builder, "parentSpanID", span->parent_id);
  add_text (builder, "operationName", s->operationName);
  add_text (builder, "serviceName", span->process->service_name);
  add_int (builder, "startTime", s->startTime);
  add_int (builder, "duration", s->duration);
  add_int (builder, "flags", s->flags);
  add_references (builder, span, FALSE);
  add_tags (builder, "tags", s->tags);
  add_logs (builder, s->logs);

  json_builder_set_member_name (builder, "process");
  json_builder_begin_object (builder);
  add_text (builder, "serviceName", span->process->service_name);
  add_tags (builder, "tags", span->process->process->tags);
  json_builder_end_object (builder);

  json_builder_end_object (builder);
  return to_text (builder, NULL);
}

static void
add_jaeger_trace (JsonBuilder *builder,
                  Trace       *trace)
{
  g_autoptr(GHashTable) process_ids = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_autoptr(GPtrArray) processes = g_ptr_array_new ();

  /* "p1", "p2" ... per distinct process, in order of first use. */
  for (guint i = 0; i < trace->spans->len; i++)
    {
      TraceSpan *span = g_ptr_array_index (trace->spans, i);

      if (!g_hash_table_contains (process_ids, span->process))
        {
          g_ptr_array_add (processes, span->process);
          g_hash_table_insert (process_ids, span->process,
                               g_strdup_printf ("p%u", processes->len));
        }
    }

  json_builder_begin_object (builder);
  add_trace_id (builder, "traceID", trace->id_high, trace->id_low);

  json_builder_set_member_name (builder, "spans");
  json_builder_begin_array (builder);
  for (guint i = 0; i < trace->spans->len; i++)
    {
      TraceSpan *span = g_ptr_array_index (trace->spans, i);
      JaegerSpan *s = span->span;

      json_builder_begin_object (builder);
      add_trace_id (builder, "traceID", span->trace_id_high, span->trace_id_low);
      add_span_id (builder, "spanID", span->span_id);
      add_int (builder, "flags", s->flags);
      add_text (builder, "operationName", s->operationName);
      add_references (builder, span, TRUE);
      add_int (builder, "startTime", s->startTime);
      add_int (builder, "duration", s->duration);
      add_tags (builder, "tags", s->tags);
      add_logs (builder, s->logs);
      json_builder_set_member_name (builder, "processID");
      json_builder_add_string_value (builder,
                                     g_hash_table_lookup (process_ids, span->process));
      json_builder_set_member_name (builder, "warnings");
      json_builder_add_null_value (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "processes");
  json_builder_begin_object (builder);
  for (guint i = 0; i < processes->len; i++)
    {
      TraceProcess *process = g_ptr_array_index (processes, i);

      json_builder_set_member_name (builder,
                                    g_hash_table_lookup (process_ids, process));
      json_builder_begin_object (builder);
      add_text (builder, "serviceName", process->service_name);
      add_tags (builder, "tags", process->process->tags);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "warnings");
  json_builder_add_null_value (builder);
  json_builder_end_object (builder);
}

char *
trace_format_jaeger_json (GPtrArray *traces,
                          gsize     *length)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (traces != NULL, NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "data");
  json_builder_begin_array (builder);
  for (guint i = 0; i < traces->len; i++)
    add_jaeger_trace (builder, g_ptr_array_index (traces, i));
  json_builder_end_array (builder);
  add_int (builder, "total", traces->len);
  add_int (builder, "limit", 0);
  add_int (builder, "offset", 0);
  json_builder_set_member_name (builder, "errors");
  json_builder_add_null_value (builder);
  json_builder_end_object (builder);

  return to_text (builder, length);
}
