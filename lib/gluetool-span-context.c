/* gluetool-span-context.c: a span's identity, as it travels between processes
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "gluetool-span-context-private.h"
#include "sync-private.h"

/**
 * GluetoolSpanContext:
 *
 * What another process needs to know of a span to continue its trace: the
 * 128-bit trace id, the span id, the span's own parent span id (0 for a root
 * or when unknown) and Jaeger's flags (%GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED,
 * %GLUETOOL_SPAN_CONTEXT_FLAG_DEBUG). It is a plain value: copy it, compare
 * it, free it.
 *
 * Two text forms are written and read:
 *
 * - W3C Trace Context `traceparent`:
 *   `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`, for example
 *   `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`. It has no
 *   field for the parent span id, and only the sampled bit of the flags is
 *   written: W3C gives 0x02 another meaning than Jaeger's debug flag.
 * - Jaeger's `uber-trace-id`: `<trace id>:<span id>:<parent span id>:<flags>`
 *   in lower-case hex, the trace id as 16 digits when its high half is 0 and
 *   32 otherwise, the span ids as 16, the flags without padding.
 *
 * Both are read strictly; anything that does not follow the format fails
 * with %GLUETOOL_SPAN_CONTEXT_ERROR_INVALID and a message saying why.
 *
 * The carriers: an environment (a `GStrv` as g_spawn_async() and
 * [method@Gio.SubprocessLauncher.set_environ] take) carries
 * `TRACEPARENT`, the convention of OpenTelemetry's environment carrier; a
 * table of HTTP-like headers carries both `traceparent` and
 * `uber-trace-id`. [ctor@Gluetool.Action.new_with_remote_parent] starts an
 * action under a context read back.
 *
 * Since: 0.1
 */

/* W3C: version 00 is exactly this long; later versions at least this long. */
#define TRACEPARENT_LEN 55

/**
 * gluetool_span_context_error_quark:
 *
 * The error domain of [struct@Gluetool.SpanContext], as %GLUETOOL_SPAN_CONTEXT_ERROR.
 *
 * Returns: the error domain's quark
 *
 * Since: 0.1
 */
G_DEFINE_QUARK (gluetool-span-context-error-quark, gluetool_span_context_error)

/* Registered by hand: G_DEFINE_BOXED_TYPE's transparent-union cast is
 * refused by -Wpedantic in GLib 2.74. */
GType
gluetool_span_context_get_type (void)
{
  static gsize type_id = 0;

  if (GLUETOOL_ONCE_INIT_ENTER (&type_id))
    {
      GType type = g_boxed_type_register_static (g_intern_static_string ("GluetoolSpanContext"),
                                                 (GBoxedCopyFunc) gluetool_span_context_copy,
                                                 (GBoxedFreeFunc) gluetool_span_context_free);
      GLUETOOL_ONCE_INIT_LEAVE (&type_id, type);
    }
  return type_id;
}

/* ---- Parsing helpers ---------------------------------------------------------- */

/* @len (at most 16) hex digits into @value. W3C allows lower case only;
 * Jaeger's format is read by clients that take either case. */
static gboolean
parse_hex (const char *text,
           gsize       len,
           gboolean    lower_case_only,
           guint64    *value)
{
  guint64 result = 0;

  g_assert (len <= 16);
  for (gsize i = 0; i < len; i++)
    {
      int digit = g_ascii_xdigit_value (text[i]);

      if (digit < 0 || (lower_case_only && g_ascii_isupper (text[i])))
        return FALSE;
      result = (result << 4) | (guint64) digit;
    }
  *value = result;
  return TRUE;
}

/* The value as it goes into a message: escaped, so a control character in a
 * header cannot garble a log, and cut short, so a huge one cannot flood it. */
static char *
describe_value (const char *value)
{
  const gsize max_len = 80;
  g_autofree char *head = g_strndup (value, max_len);
  g_autofree char *escaped = g_strescape (head, NULL);

  return g_strdup_printf ("“%s”%s", escaped, strlen (value) > max_len ? "…" : "");
}

G_GNUC_PRINTF (3, 4)
static void
set_invalid (GError    **error,
             const char *value,
             const char *format,
             ...)
{
  g_autofree char *reason = NULL;
  g_autofree char *described = describe_value (value);
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GLUETOOL_SPAN_CONTEXT_ERROR, GLUETOOL_SPAN_CONTEXT_ERROR_INVALID,
               "%s: %s", described, reason);
}

static GluetoolSpanContext *
context_new (guint64 trace_id_high,
             guint64 trace_id_low,
             guint64 span_id,
             guint64 parent_span_id,
             guint8  flags)
{
  GluetoolSpanContext *self = g_new (GluetoolSpanContext, 1);

  self->trace_id_high = trace_id_high;
  self->trace_id_low = trace_id_low;
  self->span_id = span_id;
  self->parent_span_id = parent_span_id;
  self->flags = flags;
  return self;
}

/* ---- Construction ----------------------------------------------------------- */

/**
 * gluetool_span_context_new:
 * @trace_id_high: the high 64 bits of the trace id (0 for a 64-bit trace id)
 * @trace_id_low: the low 64 bits of the trace id
 * @span_id: the span id, not 0
 * @parent_span_id: the span's parent span id, 0 for none or unknown
 * @flags: Jaeger's flags: %GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED,
 *   %GLUETOOL_SPAN_CONTEXT_FLAG_DEBUG
 *
 * Makes a span context from its parts. The trace id must not be all zero.
 *
 * Returns: (transfer full): a new span context
 *
 * Since: 0.1
 */
GluetoolSpanContext *
gluetool_span_context_new (guint64 trace_id_high,
                           guint64 trace_id_low,
                           guint64 span_id,
                           guint64 parent_span_id,
                           guint8  flags)
{
  g_return_val_if_fail (trace_id_high != 0 || trace_id_low != 0, NULL);
  g_return_val_if_fail (span_id != 0, NULL);

  return context_new (trace_id_high, trace_id_low, span_id, parent_span_id, flags);
}

/**
 * gluetool_span_context_new_from_traceparent:
 * @traceparent: a W3C `traceparent` value
 * @error: return location for a #GError
 *
 * Reads a W3C Trace Context `traceparent` value, as the specification says
 * it must be read: version `00` is exactly
 * `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`; a later version
 * (`01` to `fe`) is read for those fields when they are where version `00`
 * has them and the flags are followed by the end or a dash; version `ff`,
 * upper-case hex digits, an all-zero trace id or parent id are invalid.
 *
 * The W3C parent id is the sender's span, so it becomes the context's span
 * id; the parent span id is 0 (unknown). Only the sampled bit of the flags is
 * kept: W3C's other bits mean other things than Jaeger's.
 *
 * Returns: (transfer full): the span context, or %NULL with
 *   %GLUETOOL_SPAN_CONTEXT_ERROR_INVALID
 *
 * Since: 0.1
 */
GluetoolSpanContext *
gluetool_span_context_new_from_traceparent (const char *traceparent,
                                            GError    **error)
{
  guint64 version, trace_id_high, trace_id_low, span_id, flags;
  gsize len;

  g_return_val_if_fail (traceparent != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  len = strlen (traceparent);
  if (len == 0)
    {
      set_invalid (error, traceparent, "a traceparent cannot be empty");
      return NULL;
    }
  if (len < 3 || !parse_hex (traceparent, 2, TRUE, &version) || traceparent[2] != '-')
    {
      set_invalid (error, traceparent,
                   "a traceparent starts with its version: two lower-case hex digits and a dash");
      return NULL;
    }
  if (version == 0xff)
    {
      set_invalid (error, traceparent, "traceparent version ff is invalid");
      return NULL;
    }
  if (version == 0 && len != TRACEPARENT_LEN)
    {
      set_invalid (error, traceparent,
                   "a version 00 traceparent is %d characters long, not %" G_GSIZE_FORMAT,
                   TRACEPARENT_LEN, len);
      return NULL;
    }
  if (version != 0 && len < TRACEPARENT_LEN)
    {
      set_invalid (error, traceparent,
                   "a traceparent is at least %d characters long, not %" G_GSIZE_FORMAT,
                   TRACEPARENT_LEN, len);
      return NULL;
    }
  if (traceparent[35] != '-' || traceparent[52] != '-'
      || (len > TRACEPARENT_LEN && traceparent[TRACEPARENT_LEN] != '-'))
    {
      set_invalid (error, traceparent,
                   "a traceparent is version-traceid-parentid-flags, with 2, 32, 16 and 2 hex digits");
      return NULL;
    }
  if (!parse_hex (traceparent + 3, 16, TRUE, &trace_id_high)
      || !parse_hex (traceparent + 19, 16, TRUE, &trace_id_low))
    {
      set_invalid (error, traceparent, "the trace id must be 32 lower-case hex digits");
      return NULL;
    }
  if (trace_id_high == 0 && trace_id_low == 0)
    {
      set_invalid (error, traceparent, "the trace id cannot be all zeros");
      return NULL;
    }
  if (!parse_hex (traceparent + 36, 16, TRUE, &span_id))
    {
      set_invalid (error, traceparent, "the parent id must be 16 lower-case hex digits");
      return NULL;
    }
  if (span_id == 0)
    {
      set_invalid (error, traceparent, "the parent id cannot be all zeros");
      return NULL;
    }
  if (!parse_hex (traceparent + 53, 2, TRUE, &flags))
    {
      set_invalid (error, traceparent, "the flags must be 2 lower-case hex digits");
      return NULL;
    }

  return context_new (trace_id_high, trace_id_low, span_id, 0,
                      flags & GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED);
}

/* One hex field of an uber-trace-id, 1 to @max_digits digits (at most 16). */
static gboolean
parse_uber_field (const char *field,
                  gsize       max_digits,
                  guint64    *value)
{
  gsize len = strlen (field);

  return len >= 1 && len <= max_digits && parse_hex (field, len, FALSE, value);
}

/**
 * gluetool_span_context_new_from_uber_trace_id:
 * @uber_trace_id: a Jaeger `uber-trace-id` value
 * @error: return location for a #GError
 *
 * Reads Jaeger's `{trace-id}:{span-id}:{parent-span-id}:{flags}`, every
 * field in hex. As Jaeger's propagation format says, shorter fields are read
 * as if padded with zeros on the left: the trace id has 1 to 32 digits, the
 * span ids 1 to 16, the flags 1 or 2; upper-case digits are accepted, as
 * Jaeger's clients accept them. A trace id or span id of 0 is invalid; a
 * parent span id of 0 means none.
 *
 * Returns: (transfer full): the span context, or %NULL with
 *   %GLUETOOL_SPAN_CONTEXT_ERROR_INVALID
 *
 * Since: 0.1
 */
GluetoolSpanContext *
gluetool_span_context_new_from_uber_trace_id (const char *uber_trace_id,
                                              GError    **error)
{
  g_auto(GStrv) fields = NULL;
  guint64 trace_id_high = 0, trace_id_low, span_id, parent_span_id, flags;
  gsize trace_len;

  g_return_val_if_fail (uber_trace_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (*uber_trace_id == '\0')
    {
      set_invalid (error, uber_trace_id, "an uber-trace-id cannot be empty");
      return NULL;
    }
  fields = g_strsplit (uber_trace_id, ":", -1);
  if (g_strv_length (fields) != 4)
    {
      set_invalid (error, uber_trace_id,
                   "an uber-trace-id is trace-id:span-id:parent-span-id:flags, four fields");
      return NULL;
    }

  /* Up to 32 digits: the last 16 are the low half. */
  trace_len = strlen (fields[0]);
  if (trace_len < 1 || trace_len > 32
      || (trace_len > 16 && !parse_hex (fields[0], trace_len - 16, FALSE, &trace_id_high))
      || !parse_uber_field (fields[0] + (trace_len > 16 ? trace_len - 16 : 0), 16, &trace_id_low))
    {
      set_invalid (error, uber_trace_id, "the trace id must be 1 to 32 hex digits");
      return NULL;
    }
  if (trace_id_high == 0 && trace_id_low == 0)
    {
      set_invalid (error, uber_trace_id, "the trace id cannot be 0");
      return NULL;
    }
  if (!parse_uber_field (fields[1], 16, &span_id))
    {
      set_invalid (error, uber_trace_id, "the span id must be 1 to 16 hex digits");
      return NULL;
    }
  if (span_id == 0)
    {
      set_invalid (error, uber_trace_id, "the span id cannot be 0");
      return NULL;
    }
  if (!parse_uber_field (fields[2], 16, &parent_span_id))
    {
      set_invalid (error, uber_trace_id, "the parent span id must be 1 to 16 hex digits");
      return NULL;
    }
  if (!parse_uber_field (fields[3], 2, &flags))
    {
      set_invalid (error, uber_trace_id, "the flags must be 1 or 2 hex digits");
      return NULL;
    }

  return context_new (trace_id_high, trace_id_low, span_id, parent_span_id, (guint8) flags);
}

/**
 * gluetool_span_context_new_from_environ:
 * @envp: (array zero-terminated=1) (nullable): an environment, as
 *   g_get_environ() returns it; %NULL is an empty one
 * @error: return location for a #GError
 *
 * Reads the span context that a parent process left in `TRACEPARENT`
 * (see [method@Gluetool.SpanContext.inject_environ]). An unset or empty
 * `TRACEPARENT` means there is none: %NULL is returned and @error is not
 * set. Any other value must be a valid `traceparent`
 * ([ctor@Gluetool.SpanContext.new_from_traceparent]).
 *
 * Returns: (transfer full) (nullable): the span context; %NULL when there is
 *   none, or with %GLUETOOL_SPAN_CONTEXT_ERROR_INVALID when `TRACEPARENT` is
 *   invalid
 *
 * Since: 0.1
 */
GluetoolSpanContext *
gluetool_span_context_new_from_environ (const char * const *envp,
                                        GError            **error)
{
  const char *traceparent;
  GluetoolSpanContext *context;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  traceparent = g_environ_getenv ((char **) envp, GLUETOOL_SPAN_CONTEXT_ENV_TRACEPARENT);
  if (traceparent == NULL || *traceparent == '\0')
    return NULL;

  context = gluetool_span_context_new_from_traceparent (traceparent, error);
  if (context == NULL)
    g_prefix_error (error, "%s ", GLUETOOL_SPAN_CONTEXT_ENV_TRACEPARENT);
  return context;
}

/* The value of @name in @headers, whatever the case of the key. Two keys
 * that differ only in case and carry different values are an error: which
 * one the sender meant cannot be told. */
static gboolean
lookup_header (GHashTable  *headers,
               const char  *name,
               const char **value,
               GError     **error)
{
  GHashTableIter iter;
  gpointer key, key_value;

  *value = NULL;
  g_hash_table_iter_init (&iter, headers);
  while (g_hash_table_iter_next (&iter, &key, &key_value))
    {
      if (key == NULL || key_value == NULL || g_ascii_strcasecmp (key, name) != 0)
        continue;
      if (*value != NULL && strcmp (*value, key_value) != 0)
        {
          g_set_error (error, GLUETOOL_SPAN_CONTEXT_ERROR, GLUETOOL_SPAN_CONTEXT_ERROR_INVALID,
                       "More than one %s header, with different values", name);
          return FALSE;
        }
      *value = key_value;
    }
  return TRUE;
}

/**
 * gluetool_span_context_new_from_headers:
 * @headers: (element-type utf8 utf8): header names and values, as an HTTP
 *   library or a message's properties give them
 * @error: return location for a #GError
 *
 * Reads the span context from `traceparent` and `uber-trace-id` headers
 * (see [method@Gluetool.SpanContext.inject_headers]). Header names are
 * matched whatever their case, as HTTP and the W3C specification require.
 *
 * `traceparent` comes first. When `uber-trace-id` names the same trace and
 * span too, it adds what W3C cannot carry: the parent span id and Jaeger's
 * debug flag. Without `traceparent`, `uber-trace-id` alone is read; its
 * value may be URL-encoded, as some Jaeger clients send it. Neither present
 * (or both empty) means there is none: %NULL is returned and @error is not
 * set. A header that is present must be valid, or this fails.
 *
 * Returns: (transfer full) (nullable): the span context; %NULL when there is
 *   none, or with %GLUETOOL_SPAN_CONTEXT_ERROR_INVALID
 *
 * Since: 0.1
 */
GluetoolSpanContext *
gluetool_span_context_new_from_headers (GHashTable *headers,
                                        GError    **error)
{
  g_autoptr(GluetoolSpanContext) from_traceparent = NULL;
  g_autoptr(GluetoolSpanContext) from_uber = NULL;
  g_autofree char *unescaped = NULL;
  const char *traceparent, *uber_trace_id;

  g_return_val_if_fail (headers != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!lookup_header (headers, GLUETOOL_SPAN_CONTEXT_HEADER_TRACEPARENT, &traceparent, error)
      || !lookup_header (headers, GLUETOOL_SPAN_CONTEXT_HEADER_UBER_TRACE_ID, &uber_trace_id, error))
    return NULL;

  if (traceparent != NULL && *traceparent != '\0')
    {
      from_traceparent = gluetool_span_context_new_from_traceparent (traceparent, error);
      if (from_traceparent == NULL)
        {
          g_prefix_error (error, "%s header ", GLUETOOL_SPAN_CONTEXT_HEADER_TRACEPARENT);
          return NULL;
        }
    }

  if (uber_trace_id != NULL && *uber_trace_id != '\0')
    {
      /* jaeger-client-python and -go URL-decode this header when they read it
       * (a colon may arrive as %3A); a literal colon needs no decoding. */
      if (strchr (uber_trace_id, '%') != NULL)
        {
          unescaped = g_uri_unescape_string (uber_trace_id, NULL);
          if (unescaped == NULL)
            {
              set_invalid (error, uber_trace_id, "an invalid URL escape in the %s header",
                           GLUETOOL_SPAN_CONTEXT_HEADER_UBER_TRACE_ID);
              return NULL;
            }
          uber_trace_id = unescaped;
        }
      from_uber = gluetool_span_context_new_from_uber_trace_id (uber_trace_id, error);
      if (from_uber == NULL)
        {
          g_prefix_error (error, "%s header ", GLUETOOL_SPAN_CONTEXT_HEADER_UBER_TRACE_ID);
          return NULL;
        }
    }

  if (from_traceparent == NULL)
    return g_steal_pointer (&from_uber);

  /* Both name the same span: the Jaeger form knows more. Otherwise a
   * component that speaks only W3C updated traceparent and passed a stale
   * uber-trace-id along, so traceparent is the one to trust. */
  if (from_uber != NULL
      && from_uber->trace_id_high == from_traceparent->trace_id_high
      && from_uber->trace_id_low == from_traceparent->trace_id_low
      && from_uber->span_id == from_traceparent->span_id)
    return g_steal_pointer (&from_uber);
  return g_steal_pointer (&from_traceparent);
}

/**
 * gluetool_span_context_copy:
 * @self: a span context
 *
 * Copies @self.
 *
 * Returns: (transfer full): a copy, freed with
 *   [method@Gluetool.SpanContext.free]
 *
 * Since: 0.1
 */
GluetoolSpanContext *
gluetool_span_context_copy (const GluetoolSpanContext *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_memdup2 (self, sizeof *self);
}

/**
 * gluetool_span_context_free:
 * @self: (transfer full) (nullable): a span context
 *
 * Frees @self.
 *
 * Since: 0.1
 */
void
gluetool_span_context_free (GluetoolSpanContext *self)
{
  g_free (self);
}

/**
 * gluetool_span_context_equal:
 * @a: a span context
 * @b: another span context
 *
 * Whether @a and @b are the same in every part: trace id, span id, parent
 * span id and flags.
 *
 * Returns: %TRUE when they are equal
 *
 * Since: 0.1
 */
gboolean
gluetool_span_context_equal (const GluetoolSpanContext *a,
                             const GluetoolSpanContext *b)
{
  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (b != NULL, FALSE);

  return a->trace_id_high == b->trace_id_high && a->trace_id_low == b->trace_id_low
         && a->span_id == b->span_id && a->parent_span_id == b->parent_span_id
         && a->flags == b->flags;
}

/* ---- Parts -------------------------------------------------------------------- */

/**
 * gluetool_span_context_get_trace_id_high:
 * @self: a span context
 *
 * The high 64 bits of the trace id; 0 for a 64-bit trace id.
 *
 * Returns: the high half of the trace id
 *
 * Since: 0.1
 */
guint64
gluetool_span_context_get_trace_id_high (const GluetoolSpanContext *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->trace_id_high;
}

/**
 * gluetool_span_context_get_trace_id_low:
 * @self: a span context
 *
 * The low 64 bits of the trace id.
 *
 * Returns: the low half of the trace id
 *
 * Since: 0.1
 */
guint64
gluetool_span_context_get_trace_id_low (const GluetoolSpanContext *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->trace_id_low;
}

/**
 * gluetool_span_context_dup_trace_id:
 * @self: a span context
 *
 * The trace id as Jaeger shows it: 32 lower-case hex digits, as
 * [method@Gluetool.Action.dup_trace_id] gives it.
 *
 * Returns: (transfer full): the trace id
 *
 * Since: 0.1
 */
char *
gluetool_span_context_dup_trace_id (const GluetoolSpanContext *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_strdup_printf ("%016" G_GINT64_MODIFIER "x%016" G_GINT64_MODIFIER "x",
                          self->trace_id_high, self->trace_id_low);
}

/**
 * gluetool_span_context_get_span_id:
 * @self: a span context
 *
 * The span id, never 0.
 *
 * Returns: the span id
 *
 * Since: 0.1
 */
guint64
gluetool_span_context_get_span_id (const GluetoolSpanContext *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->span_id;
}

/**
 * gluetool_span_context_get_parent_span_id:
 * @self: a span context
 *
 * The span's own parent span id: 0 for a root, and when the context was read
 * from a `traceparent`, which does not carry it.
 *
 * Returns: the parent span id, or 0
 *
 * Since: 0.1
 */
guint64
gluetool_span_context_get_parent_span_id (const GluetoolSpanContext *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->parent_span_id;
}

/**
 * gluetool_span_context_get_flags:
 * @self: a span context
 *
 * Jaeger's flags: %GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED,
 * %GLUETOOL_SPAN_CONTEXT_FLAG_DEBUG, and any other bits an `uber-trace-id`
 * carried.
 *
 * Returns: the flags
 *
 * Since: 0.1
 */
guint8
gluetool_span_context_get_flags (const GluetoolSpanContext *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->flags;
}

/**
 * gluetool_span_context_is_sampled:
 * @self: a span context
 *
 * Whether the sampled flag is set.
 *
 * Returns: %TRUE when the trace is sampled
 *
 * Since: 0.1
 */
gboolean
gluetool_span_context_is_sampled (const GluetoolSpanContext *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return (self->flags & GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED) != 0;
}

/* ---- Writing ------------------------------------------------------------------ */

/**
 * gluetool_span_context_to_traceparent:
 * @self: a span context
 *
 * Writes @self as a W3C `traceparent` value, version `00`:
 * `00-<32 hex trace id>-<16 hex span id>-<flags>`. The flags are `01` when
 * sampled and `00` otherwise: Jaeger's debug flag is not written, because
 * W3C's bit 0x02 means something else. The parent span id is not written
 * either; W3C has no field for it.
 *
 * Returns: (transfer full): the `traceparent` value
 *
 * Since: 0.1
 */
char *
gluetool_span_context_to_traceparent (const GluetoolSpanContext *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_strdup_printf ("00-%016" G_GINT64_MODIFIER "x%016" G_GINT64_MODIFIER "x"
                          "-%016" G_GINT64_MODIFIER "x-%02x",
                          self->trace_id_high, self->trace_id_low, self->span_id,
                          (guint) (self->flags & GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED));
}

/**
 * gluetool_span_context_to_uber_trace_id:
 * @self: a span context
 *
 * Writes @self as Jaeger's `uber-trace-id` value,
 * `<trace id>:<span id>:<parent span id>:<flags>` in lower-case hex: the
 * trace id as 16 digits when its high half is 0 and as 32 otherwise, the
 * span ids as 16, the flags without padding, as jaeger-client-go writes them.
 *
 * Returns: (transfer full): the `uber-trace-id` value
 *
 * Since: 0.1
 */
char *
gluetool_span_context_to_uber_trace_id (const GluetoolSpanContext *self)
{
  g_autofree char *trace_id = NULL;

  g_return_val_if_fail (self != NULL, NULL);

  if (self->trace_id_high == 0)
    trace_id = g_strdup_printf ("%016" G_GINT64_MODIFIER "x", self->trace_id_low);
  else
    trace_id = gluetool_span_context_dup_trace_id (self);
  return g_strdup_printf ("%s:%016" G_GINT64_MODIFIER "x:%016" G_GINT64_MODIFIER "x:%x",
                          trace_id, self->span_id, self->parent_span_id, (guint) self->flags);
}

/**
 * gluetool_span_context_inject_environ:
 * @self: a span context
 * @envp: (array zero-terminated=1) (nullable) (transfer full): an
 *   environment, as g_get_environ() returns it
 *
 * Sets `TRACEPARENT` in @envp to @self as a `traceparent`
 * ([method@Gluetool.SpanContext.to_traceparent]), for a child process: give
 * the result to g_spawn_async() or
 * [method@Gio.SubprocessLauncher.set_environ]. A child that uses this
 * library starts its root actions under @self (see
 * [ctor@Gluetool.Action.new]); OpenTelemetry SDKs that read environment
 * carriers read the same variable.
 *
 * Only `TRACEPARENT` is written; `TRACESTATE`, if set, is left as it is, as
 * W3C says a participant passes it on. Jaeger's debug flag and the parent
 * span id do not travel this way.
 *
 * Returns: (array zero-terminated=1) (transfer full): the updated
 *   environment
 *
 * Since: 0.1
 */
char **
gluetool_span_context_inject_environ (const GluetoolSpanContext *self,
                                      char                     **envp)
{
  g_autofree char *traceparent = NULL;

  /* @envp is ours: handed back rather than leaked. */
  g_return_val_if_fail (self != NULL, envp);

  traceparent = gluetool_span_context_to_traceparent (self);
  return g_environ_setenv (envp, GLUETOOL_SPAN_CONTEXT_ENV_TRACEPARENT, traceparent, TRUE);
}

static gboolean
is_context_header (gpointer key,
                   gpointer value,
                   gpointer user_data)
{
  return key != NULL
         && (g_ascii_strcasecmp (key, GLUETOOL_SPAN_CONTEXT_HEADER_TRACEPARENT) == 0
             || g_ascii_strcasecmp (key, GLUETOOL_SPAN_CONTEXT_HEADER_UBER_TRACE_ID) == 0);
}

/**
 * gluetool_span_context_inject_headers:
 * @self: a span context
 * @headers: (element-type utf8 utf8): a table of header names and values
 *   that owns them: made with
 *   `g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free)`
 *
 * Sets the `traceparent` and `uber-trace-id` headers in @headers to @self
 * (names in lower case, as both formats recommend), first removing any
 * header of those names in another case, so the table never holds two.
 * The two together carry everything:
 * [ctor@Gluetool.SpanContext.new_from_headers] reads back a context equal to
 * @self.
 *
 * Since: 0.1
 */
void
gluetool_span_context_inject_headers (const GluetoolSpanContext *self,
                                      GHashTable                *headers)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (headers != NULL);

  g_hash_table_foreach_remove (headers, is_context_header, NULL);
  g_hash_table_insert (headers, g_strdup (GLUETOOL_SPAN_CONTEXT_HEADER_TRACEPARENT),
                       gluetool_span_context_to_traceparent (self));
  g_hash_table_insert (headers, g_strdup (GLUETOOL_SPAN_CONTEXT_HEADER_UBER_TRACE_ID),
                       gluetool_span_context_to_uber_trace_id (self));
}
