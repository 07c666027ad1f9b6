/* tag-set-private.h: an action's tags, kept encoded
 *
 * SPDX-License-Identifier: MIT
 *
 * Tags are encoded as Jaeger Tag structs when they are set, into storage
 * inside the action, so finishing an action copies them in one run and
 * setting a few small tags allocates nothing. Setting a key again replaces
 * the tag (its bytes are cut out and the new ones appended).
 */

#pragma once

#include <glib.h>

#include "encoder-private.h"

G_BEGIN_DECLS

#define GLUETOOL_TAG_SET_INLINE_BYTES   192
#define GLUETOOL_TAG_SET_INLINE_ENTRIES 6

typedef struct {
  guint32 offset;      /* of the Tag struct in the buffer */
  guint32 len;
  guint32 key_offset;  /* of the key's bytes */
  guint32 key_len;
} GluetoolTagEntry;

typedef struct {
  GluetoolBuffer    buffer;
  guint8            inline_bytes[GLUETOOL_TAG_SET_INLINE_BYTES];
  GluetoolTagEntry *entries;      /* inline_entries or a heap block (owned) */
  guint             n_entries;
  guint             capacity;
  /* Bit (length % 64) set for the length of every key set since init or
   * clear: a key whose bit is clear is new, and setting it needs no look
   * for a tag to replace (the common case, a few tags of distinct keys). */
  guint64           key_lengths;
  GluetoolTagEntry  inline_entries[GLUETOOL_TAG_SET_INLINE_ENTRIES];
} GluetoolTagSet;

/* Inline, as these run for every action. */
static inline void
gluetool_tag_set_init (GluetoolTagSet *set)
{
  gluetool_buffer_init (&set->buffer, set->inline_bytes, sizeof set->inline_bytes);
  set->entries = set->inline_entries;
  set->n_entries = 0;
  set->capacity = G_N_ELEMENTS (set->inline_entries);
  set->key_lengths = 0;
}

/* Frees what grew onto the heap, and starts over as init() does. */
static inline void
gluetool_tag_set_clear (GluetoolTagSet *set)
{
  gluetool_buffer_clear (&set->buffer);
  if (set->entries != set->inline_entries)
    g_free (set->entries);
  gluetool_tag_set_init (set);
}

/* The slow paths of the additions below. */
void gluetool_tag_set_remove_key_   (GluetoolTagSet *set,
                                     const char     *key,
                                     gsize           key_len);
void gluetool_tag_set_grow_entries_ (GluetoolTagSet *set);

/* Called before a tag is encoded at the end of the buffer: cuts out the
 * tag with @key, if there may be one. Returns where the new one starts. */
static inline gsize
gluetool_tag_set_begin_ (GluetoolTagSet *set,
                         const char     *key,
                         gsize           key_len)
{
  guint64 length_bit = G_GUINT64_CONSTANT (1) << (key_len % 64);

  if (set->key_lengths & length_bit)
    gluetool_tag_set_remove_key_ (set, key, key_len);
  set->key_lengths |= length_bit;
  return set->buffer.len;
}

/* Called after: records where the tag and its key are. */
static inline void
gluetool_tag_set_end_ (GluetoolTagSet *set,
                       gsize           offset,
                       gsize           key_len)
{
  GluetoolTagEntry *entry;

  if (G_UNLIKELY (set->n_entries == set->capacity))
    gluetool_tag_set_grow_entries_ (set);
  entry = &set->entries[set->n_entries++];
  entry->offset = (guint32) offset;
  entry->len = (guint32) (set->buffer.len - offset);
  /* A Tag starts with field 1's header byte and the key's length. */
  entry->key_offset = (guint32) (offset + 1 + gluetool_varint_size (key_len));
  entry->key_len = (guint32) key_len;
}

/* Each replaces a tag with the same key. @key and string values are UTF-8,
 * of the lengths given (the callers know them from checking that). Inline,
 * as an action sets a few for every span. */
static inline void
gluetool_tag_set_add_string (GluetoolTagSet *set,
                             const char     *key,
                             gsize           key_len,
                             const char     *value,
                             gsize           value_len)
{
  gsize offset = gluetool_tag_set_begin_ (set, key, key_len);

  gluetool_encode_tag_string (&set->buffer, key, key_len, value, value_len);
  gluetool_tag_set_end_ (set, offset, key_len);
}

static inline void
gluetool_tag_set_add_long (GluetoolTagSet *set,
                           const char     *key,
                           gsize           key_len,
                           gint64          value)
{
  gsize offset = gluetool_tag_set_begin_ (set, key, key_len);

  gluetool_encode_tag_long (&set->buffer, key, key_len, value);
  gluetool_tag_set_end_ (set, offset, key_len);
}

static inline void
gluetool_tag_set_add_double (GluetoolTagSet *set,
                             const char     *key,
                             gsize           key_len,
                             double          value)
{
  gsize offset = gluetool_tag_set_begin_ (set, key, key_len);

  gluetool_encode_tag_double (&set->buffer, key, key_len, value);
  gluetool_tag_set_end_ (set, offset, key_len);
}

static inline void
gluetool_tag_set_add_bool (GluetoolTagSet *set,
                           const char     *key,
                           gsize           key_len,
                           gboolean        value)
{
  gsize offset = gluetool_tag_set_begin_ (set, key, key_len);

  gluetool_encode_tag_bool (&set->buffer, key, key_len, value);
  gluetool_tag_set_end_ (set, offset, key_len);
}

/* Maps a GVariant to the Jaeger type it is closest to; see
 * gluetool_action_set_tag(). */
void gluetool_tag_set_add_variant (GluetoolTagSet *set,
                                   const char     *key,
                                   gsize           key_len,
                                   GVariant       *value);

/* The tags as list elements, for gluetool_encode_span(). */
static inline GluetoolEncodedList
gluetool_tag_set_as_list (const GluetoolTagSet *set)
{
  return (GluetoolEncodedList) { set->buffer.data, set->buffer.len, set->n_entries };
}

G_END_DECLS
