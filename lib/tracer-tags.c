/* tracer-tags.c: the tags a tracer adds to its process
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "encoder-private.h"
#include "tracer-tags-private.h"

static void
tag_free (gpointer data)
{
  GluetoolTracerTag *tag = data;

  g_free (tag->key);
  g_free (tag->text);
  g_free (tag);
}

/* `${NAME}` or `${NAME:default}`: the variable, else the default. Anything
 * else is the value itself. */
static char *
expand (const char *value)
{
  gsize len = strlen (value);
  g_autofree char *inner = NULL;
  const char *colon;
  const char *from_env;

  if (len < 3 || !g_str_has_prefix (value, "${") || value[len - 1] != '}')
    return g_strdup (value);
  inner = g_strndup (value + 2, len - 3);
  colon = strchr (inner, ':');
  if (colon != NULL)
    inner[colon - inner] = '\0';
  from_env = g_getenv (inner);
  if ((from_env == NULL || *from_env == '\0') && colon != NULL)
    return g_strdup (colon + 1);
  return g_strdup (from_env != NULL ? from_env : "");
}

/* Whether @text is exactly how @number is written in decimal: no leading
 * zeros, no '+', not "-0", and within 64 bits (strtoll clamps, and the
 * clamped number reads otherwise). */
static gboolean
is_canonical_long (const char *text,
                   gint64     *number)
{
  char written[G_ASCII_DTOSTR_BUF_SIZE];
  char *end = NULL;

  if (*text != '-' && !g_ascii_isdigit (*text))
    return FALSE;
  *number = g_ascii_strtoll (text, &end, 10);
  if (end == text || *end != '\0')
    return FALSE;
  g_snprintf (written, sizeof written, "%" G_GINT64_FORMAT, *number);
  return g_str_equal (written, text);
}

/* How @decimal is written with @conversion ('g' or 'e') and the fewest
 * significant digits that read back the same number. */
static void
write_shortest (double decimal,
                char   conversion,
                char  *written,
                gsize  size)
{
  for (int digits = 1; digits <= 17; digits++)
    {
      char format[8];

      /* %e's precision counts the digits after the first. */
      g_snprintf (format, sizeof format, "%%.%d%c", conversion == 'e' ? digits - 1 : digits,
                  conversion);
      g_ascii_formatd (written, (gint) size, format, decimal);
      if (g_ascii_strtod (written, NULL) == decimal)
        return;
    }
}

/* Whether @text is exactly the shortest way to write @decimal: printf's %g,
 * or %e, with the fewest significant digits that read back the same
 * number, and with a point or an exponent. So "0.5", "-2.25", "1e+20" and
 * "1e+00" are doubles; "1.10", "1e3", ".5", "-0", "inf" and "nan" are not,
 * for the double would be written otherwise. (%e is what lets a double
 * with a whole value be written at all: %g writes 1.0 "1", a long.) */
static gboolean
is_shortest_double (const char *text,
                    double     *decimal)
{
  char written[G_ASCII_DTOSTR_BUF_SIZE];
  char *end = NULL;

  /* Not "nan", "inf" or a hexadecimal number, which strtod would read;
   * and with a point or an exponent: a whole number ("-0") is a long or a
   * string. */
  if ((*text != '-' && !g_ascii_isdigit (*text)) || strpbrk (text, ".e") == NULL)
    return FALSE;
  *decimal = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !isfinite (*decimal))
    return FALSE;
  write_shortest (*decimal, 'g', written, sizeof written);
  if (g_str_equal (written, text))
    return TRUE;
  write_shortest (*decimal, 'e', written, sizeof written);
  return g_str_equal (written, text);
}

/* Typed as it reads, and only where the type keeps the value as written
 * (see tracer-tags-private.h). */
static void
type_value (GluetoolTracerTag *tag)
{
  const char *text = tag->text;

  tag->type = GLUETOOL_TRACER_TAG_STRING;
  if (g_str_equal (text, "true") || g_str_equal (text, "false"))
    {
      tag->type = GLUETOOL_TRACER_TAG_BOOL;
      tag->boolean = g_str_equal (text, "true");
    }
  else if (is_canonical_long (text, &tag->number))
    tag->type = GLUETOOL_TRACER_TAG_LONG;
  else if (is_shortest_double (text, &tag->decimal))
    tag->type = GLUETOOL_TRACER_TAG_DOUBLE;
}

/* A value in double quotes: the text between them, as a string. */
static gboolean
is_quoted (const char *value)
{
  gsize len = strlen (value);

  return len >= 2 && value[0] == '"' && value[len - 1] == '"';
}

static gboolean
invalid (GError    **error,
         const char *what,
         const char *text,
         const char *why)
{
  g_set_error (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_INVALID_CONFIG,
               "%s '%s' is not a list of key=value pairs: %s", what, text, why);
  return FALSE;
}

GPtrArray *
gluetool_tracer_tags_parse (const char *what,
                            const char *text,
                            GError    **error)
{
  g_autoptr(GPtrArray) tags = g_ptr_array_new_with_free_func (tag_free);
  g_auto(GStrv) pairs = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  if (!g_utf8_validate (text, -1, NULL))
    {
      invalid (error, what, "", "not valid UTF-8");
      return NULL;
    }
  /* Nothing but spaces: no tags. */
  if (strspn (text, " \t") == strlen (text))
    return g_steal_pointer (&tags);

  pairs = g_strsplit (text, ",", -1);
  for (guint i = 0; pairs[i] != NULL; i++)
    {
      char *equals = strchr (pairs[i], '=');
      g_autofree char *value = NULL;
      GluetoolTracerTag *tag;

      if (equals == NULL)
        {
          g_autofree char *why = g_strdup_printf ("'%s' has no '='", g_strstrip (pairs[i]));

          invalid (error, what, text, why);
          return NULL;
        }
      *equals = '\0';
      if (*g_strstrip (pairs[i]) == '\0')
        {
          invalid (error, what, text, "a key is empty");
          return NULL;
        }
      value = g_strdup (g_strstrip (equals + 1));
      tag = g_new0 (GluetoolTracerTag, 1);
      tag->key = g_strdup (pairs[i]);
      if (is_quoted (value))
        {
          /* Neither expanded nor typed: what a caller that knows the
           * value is a string (Python's str) writes. */
          tag->text = g_strndup (value + 1, strlen (value) - 2);
          tag->type = GLUETOOL_TRACER_TAG_STRING;
        }
      else
        {
          tag->text = expand (value);
          type_value (tag);
        }
      g_ptr_array_add (tags, tag);
    }
  return g_steal_pointer (&tags);
}

guint
gluetool_tracer_tags_encode (GPtrArray      *tags,
                             GluetoolBuffer *buffer)
{
  for (guint i = 0; i < tags->len; i++)
    {
      const GluetoolTracerTag *tag = g_ptr_array_index (tags, i);
      gsize key_len = strlen (tag->key);

      switch (tag->type)
        {
        case GLUETOOL_TRACER_TAG_BOOL:
          gluetool_encode_tag_bool (buffer, tag->key, key_len, tag->boolean);
          break;
        case GLUETOOL_TRACER_TAG_LONG:
          gluetool_encode_tag_long (buffer, tag->key, key_len, tag->number);
          break;
        case GLUETOOL_TRACER_TAG_DOUBLE:
          gluetool_encode_tag_double (buffer, tag->key, key_len, tag->decimal);
          break;
        case GLUETOOL_TRACER_TAG_STRING:
        default:
          gluetool_encode_tag_string (buffer, tag->key, key_len, tag->text, strlen (tag->text));
          break;
        }
    }
  return tags->len;
}
