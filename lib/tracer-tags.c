/* tracer-tags.c: the tags a tracer adds to its process
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
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

static gboolean
is_whole_number (const char *text)
{
  const char *p = text;

  if (*p == '-' || *p == '+')
    p++;
  if (*p == '\0')
    return FALSE;
  for (; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
is_decimal_number (const char *text)
{
  const char *p = text;

  if (*p == '-' || *p == '+')
    p++;
  /* Digits first: not "nan", "inf" or "0x1p3", which strtod would read. */
  if (!g_ascii_isdigit (*p) && !(*p == '.' && g_ascii_isdigit (p[1])))
    return FALSE;
  for (; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && *p != '.' && *p != 'e' && *p != 'E' && *p != '-' && *p != '+')
      return FALSE;
  return TRUE;
}

/* Typed as it reads (see tracer-tags-private.h). */
static void
type_value (GluetoolTracerTag *tag)
{
  const char *text = tag->text;
  char *end = NULL;

  tag->type = GLUETOOL_TRACER_TAG_STRING;
  if (g_str_equal (text, "true") || g_str_equal (text, "false"))
    {
      tag->type = GLUETOOL_TRACER_TAG_BOOL;
      tag->boolean = g_str_equal (text, "true");
      return;
    }
  if (is_whole_number (text))
    {
      gint64 number;

      errno = 0;
      number = g_ascii_strtoll (text, &end, 10);
      if (errno == 0 && *end == '\0')
        {
          tag->type = GLUETOOL_TRACER_TAG_LONG;
          tag->number = number;
          return;
        }
    }
  if (is_decimal_number (text))
    {
      double decimal = g_ascii_strtod (text, &end);

      if (*end == '\0' && isfinite (decimal))
        {
          tag->type = GLUETOOL_TRACER_TAG_DOUBLE;
          tag->decimal = decimal;
        }
    }
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
      value = expand (g_strstrip (equals + 1));
      tag = g_new0 (GluetoolTracerTag, 1);
      tag->key = g_strdup (pairs[i]);
      tag->text = g_steal_pointer (&value);
      type_value (tag);
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
