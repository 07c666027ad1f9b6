/* tag-set.c: an action's tags, kept encoded
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "tag-set-private.h"

void
gluetool_tag_set_remove_key_ (GluetoolTagSet *set,
                              const char     *key,
                              gsize           key_len)
{
  for (guint i = 0; i < set->n_entries; i++)
    {
      GluetoolTagEntry removed = set->entries[i];

      if (removed.key_len != key_len
          || memcmp (set->buffer.data + removed.key_offset, key, key_len) != 0)
        continue;

      gluetool_buffer_erase (&set->buffer, removed.offset, removed.len);
      memmove (&set->entries[i], &set->entries[i + 1],
               (set->n_entries - i - 1) * sizeof (GluetoolTagEntry));
      set->n_entries--;
      for (guint j = i; j < set->n_entries; j++)
        {
          set->entries[j].offset -= removed.len;
          set->entries[j].key_offset -= removed.len;
        }
      return;
    }
}

void
gluetool_tag_set_grow_entries_ (GluetoolTagSet *set)
{
  guint capacity = set->capacity * 2;

  if (set->entries == set->inline_entries)
    {
      set->entries = g_new (GluetoolTagEntry, capacity);
      memcpy (set->entries, set->inline_entries, sizeof set->inline_entries);
    }
  else
    set->entries = g_renew (GluetoolTagEntry, set->entries, capacity);
  set->capacity = capacity;
}

void
gluetool_tag_set_add_variant (GluetoolTagSet *set,
                              const char     *key,
                              gsize           key_len,
                              GVariant       *value)
{
  /* A tag's value may come wrapped in a variant ("v"), as a{sv} values do
   * when they are variants themselves. */
  g_autoptr(GVariant) unboxed = g_variant_ref (value);

  while (g_variant_is_of_type (unboxed, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *inner = g_variant_get_variant (unboxed);

      g_variant_unref (unboxed);
      unboxed = inner;
    }

  switch (g_variant_classify (unboxed))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      gluetool_tag_set_add_bool (set, key, key_len, g_variant_get_boolean (unboxed));
      break;
    case G_VARIANT_CLASS_BYTE:
      gluetool_tag_set_add_long (set, key, key_len, g_variant_get_byte (unboxed));
      break;
    case G_VARIANT_CLASS_INT16:
      gluetool_tag_set_add_long (set, key, key_len, g_variant_get_int16 (unboxed));
      break;
    case G_VARIANT_CLASS_UINT16:
      gluetool_tag_set_add_long (set, key, key_len, g_variant_get_uint16 (unboxed));
      break;
    case G_VARIANT_CLASS_INT32:
      gluetool_tag_set_add_long (set, key, key_len, g_variant_get_int32 (unboxed));
      break;
    case G_VARIANT_CLASS_UINT32:
      gluetool_tag_set_add_long (set, key, key_len, g_variant_get_uint32 (unboxed));
      break;
    case G_VARIANT_CLASS_INT64:
      gluetool_tag_set_add_long (set, key, key_len, g_variant_get_int64 (unboxed));
      break;
    case G_VARIANT_CLASS_HANDLE:
      gluetool_tag_set_add_long (set, key, key_len, g_variant_get_handle (unboxed));
      break;
    case G_VARIANT_CLASS_UINT64:
      {
        guint64 number = g_variant_get_uint64 (unboxed);

        /* Jaeger's LONG is signed; a larger value keeps its digits as text
         * rather than turning negative. */
        if (number <= G_MAXINT64)
          gluetool_tag_set_add_long (set, key, key_len, (gint64) number);
        else
          {
            char text[24];

            g_snprintf (text, sizeof text, "%" G_GUINT64_FORMAT, number);
            gluetool_tag_set_add_string (set, key, key_len, text, strlen (text));
          }
      }
      break;
    case G_VARIANT_CLASS_DOUBLE:
      gluetool_tag_set_add_double (set, key, key_len, g_variant_get_double (unboxed));
      break;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      {
        gsize len;
        const char *text = g_variant_get_string (unboxed, &len);

        gluetool_tag_set_add_string (set, key, key_len, text, len);
      }
      break;
    case G_VARIANT_CLASS_VARIANT:
    case G_VARIANT_CLASS_MAYBE:
    case G_VARIANT_CLASS_ARRAY:
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
    default:
      {
        g_autofree char *text = g_variant_print (unboxed, FALSE);

        gluetool_tag_set_add_string (set, key, key_len, text, strlen (text));
      }
      break;
    }
}
