/* trace-text.c: how gluetool-trace writes ids, times, tag values and
 * untrusted text
 *
 * SPDX-License-Identifier: MIT
 */

#include "trace-text.h"

#include <string.h>

char *
trace_text_trace_id (guint64 high,
                     guint64 low)
{
  if (high == 0)
    return g_strdup_printf ("%016" G_GINT64_MODIFIER "x", low);
  return g_strdup_printf ("%016" G_GINT64_MODIFIER "x%016" G_GINT64_MODIFIER "x",
                          high, low);
}

char *
trace_text_span_id (guint64 id)
{
  return g_strdup_printf ("%016" G_GINT64_MODIFIER "x", id);
}

char *
trace_text_utf8 (const char *text)
{
  if (text == NULL)
    return g_strdup ("");
  return g_utf8_make_valid (text, -1);
}

/* Characters that would move the cursor, change colours, reorder text or
 * hide: C0 and C1 controls, DEL, format characters (bidi overrides, zero
 * widths) and the line and paragraph separators. */
static gboolean
needs_escape (gunichar c)
{
  if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
    return TRUE;
  switch (g_unichar_type (c))
    {
    case G_UNICODE_FORMAT:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
      return TRUE;
    default:
      return FALSE;
    }
}

void
trace_text_append_safe (GString    *out,
                        const char *text,
                        gsize       max_chars)
{
  g_autofree char *valid = NULL;
  gsize n_chars = 0;
  const char *p;

  g_return_if_fail (out != NULL);

  if (text == NULL)
    return;

  valid = g_utf8_make_valid (text, -1);
  for (p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (max_chars > 0 && n_chars == max_chars)
        {
          g_string_append_printf (out, "%s(+%" G_GSIZE_FORMAT " bytes)",
                                  trace_text_locale_is_utf8 () ? "…" : "...",
                                  strlen (p));
          return;
        }
      n_chars++;

      if (!needs_escape (c))
        {
          g_string_append_len (out, p, g_utf8_next_char (p) - p);
          continue;
        }

      switch (c)
        {
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        default:
          if (c < 0x80)
            g_string_append_printf (out, "\\x%02x", c);
          else
            g_string_append_printf (out, "\\u%04x", c);
          break;
        }
    }
}

void
trace_text_append_duration (GString  *out,
                            gint64    us,
                            gboolean  utf8)
{
  guint64 magnitude;

  g_return_if_fail (out != NULL);

  if (us < 0)
    {
      g_string_append_c (out, '-');
      magnitude = (guint64) 0 - (guint64) us;  /* also right for G_MININT64 */
    }
  else
    magnitude = (guint64) us;

  /* printf's %f follows LC_NUMERIC, which the program leaves at "C", so
   * the decimal separator is always a dot. */
  if (magnitude < 1000)
    g_string_append_printf (out, "%" G_GUINT64_FORMAT " %s", magnitude,
                            utf8 ? "µs" : "us");
  else if (magnitude < 1000000)
    g_string_append_printf (out, "%.2f ms", (double) magnitude / 1e3);
  else
    g_string_append_printf (out, "%.3f s", (double) magnitude / 1e6);
}

/* Looked up once: g_date_time_new_from_unix_local() reads the zone's
 * files again on every call, and a receiver formats many times. */
static GTimeZone *
local_time_zone (void)
{
  static GTimeZone *zone = NULL;

  if (g_once_init_enter (&zone))
    g_once_init_leave (&zone, g_time_zone_new_local ());
  return zone;
}

void
trace_text_append_time (GString *out,
                        gint64   us)
{
  g_autoptr(GDateTime) time = NULL;
  g_autofree char *text = NULL;
  gint64 seconds = us / G_USEC_PER_SEC;
  gint64 rest = us % G_USEC_PER_SEC;

  g_return_if_fail (out != NULL);

  if (rest < 0)
    {
      seconds--;
      rest += G_USEC_PER_SEC;
    }

  /* NULL for times GDateTime cannot hold (before year 1, after 9999),
   * which only a broken or hostile client sends. */
  time = g_date_time_new_from_unix_utc (seconds);
  if (time != NULL)
    {
      GDateTime *local = g_date_time_to_timezone (time, local_time_zone ());

      g_date_time_unref (time);
      time = local;
    }
  if (time != NULL)
    text = g_date_time_format (time, "%Y-%m-%d %H:%M:%S");
  if (text == NULL)
    {
      g_string_append_printf (out, "@%" G_GINT64_FORMAT " us", us);
      return;
    }
  g_string_append_printf (out, "%s.%03d", text, (int) (rest / 1000));
}

void
trace_text_append_tag_value (GString   *out,
                             JaegerTag *tag,
                             gsize      max_chars)
{
  g_return_if_fail (out != NULL);
  g_return_if_fail (JAEGER_IS_TAG (tag));

  /* The IDL lets the value field disagree with vType; a tag whose field
   * is missing shows that rather than a zero it never carried. */
  switch (tag->vType)
    {
    case JAEGER_TAG_TYPE_STRING:
      if (tag->__isset_vStr)
        trace_text_append_safe (out, tag->vStr, max_chars);
      else
        g_string_append (out, "(no vStr)");
      break;

    case JAEGER_TAG_TYPE_DOUBLE:
      if (tag->__isset_vDouble)
        {
          char buffer[G_ASCII_DTOSTR_BUF_SIZE];

          g_string_append (out, g_ascii_dtostr (buffer, sizeof buffer,
                                                tag->vDouble));
        }
      else
        g_string_append (out, "(no vDouble)");
      break;

    case JAEGER_TAG_TYPE_BOOL:
      if (tag->__isset_vBool)
        g_string_append (out, tag->vBool ? "true" : "false");
      else
        g_string_append (out, "(no vBool)");
      break;

    case JAEGER_TAG_TYPE_LONG:
      if (tag->__isset_vLong)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, tag->vLong);
      else
        g_string_append (out, "(no vLong)");
      break;

    case JAEGER_TAG_TYPE_BINARY:
      if (tag->__isset_vBinary && tag->vBinary != NULL)
        {
          g_autofree char *bytes =
            trace_text_describe_bytes (tag->vBinary->data, tag->vBinary->len, 16);

          g_string_append_printf (out, "<%s>", bytes);
        }
      else
        g_string_append (out, "(no vBinary)");
      break;

    default:
      g_string_append_printf (out, "(unknown tag type %d)", (int) tag->vType);
      break;
    }
}

gboolean
trace_text_locale_is_utf8 (void)
{
  return g_get_charset (NULL);
}

char *
trace_text_describe_bytes (const guint8 *data,
                           gsize         len,
                           gsize         max_bytes)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  g_string_append_printf (out, "%" G_GSIZE_FORMAT " byte%s", len,
                          len == 1 ? "" : "s");
  if (len > 0)
    g_string_append_c (out, ':');
  for (gsize i = 0; i < len && i < max_bytes; i++)
    g_string_append_printf (out, " %02x", data[i]);
  if (len > max_bytes)
    g_string_append (out, " ...");

  return g_string_free (out, FALSE);
}
