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
  GluetoolTagEntry  inline_entries[GLUETOOL_TAG_SET_INLINE_ENTRIES];
} GluetoolTagSet;

void gluetool_tag_set_init        (GluetoolTagSet *set);
void gluetool_tag_set_clear       (GluetoolTagSet *set);

/* Each replaces a tag with the same key. @key and string values are UTF-8. */
void gluetool_tag_set_add_string  (GluetoolTagSet *set,
                                   const char     *key,
                                   const char     *value);
void gluetool_tag_set_add_long    (GluetoolTagSet *set,
                                   const char     *key,
                                   gint64          value);
void gluetool_tag_set_add_double  (GluetoolTagSet *set,
                                   const char     *key,
                                   double          value);
void gluetool_tag_set_add_bool    (GluetoolTagSet *set,
                                   const char     *key,
                                   gboolean        value);
/* Maps a GVariant to the Jaeger type it is closest to; see
 * gluetool_action_set_tag(). */
void gluetool_tag_set_add_variant (GluetoolTagSet *set,
                                   const char     *key,
                                   GVariant       *value);

/* The tags as list elements, for gluetool_encode_span(). */
GluetoolEncodedList gluetool_tag_set_as_list (const GluetoolTagSet *set);

G_END_DECLS
