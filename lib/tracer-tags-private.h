/* tracer-tags-private.h: the tags a tracer adds to its process, from
 * GLUETOOL_TRACING_TAGS or the tags property
 *
 * SPDX-License-Identifier: MIT
 *
 * The grammar is JAEGER_TAGS': `key=value` pairs separated by commas,
 * spaces around keys and values trimmed; a value written `${NAME}` or
 * `${NAME:default}` is the variable NAME, or the default when NAME is unset
 * or empty. Each value is typed as it reads: `true` and `false` are
 * booleans, a whole number that fits 64 bits is a long, a decimal number
 * (with a point or an exponent) is a double, anything else is a string.
 *
 * Who may call what: any thread; a tag list is not changed once parsed.
 */

#pragma once

#include <glib.h>

#include "encoder-private.h"

G_BEGIN_DECLS

typedef enum {
  GLUETOOL_TRACER_TAG_STRING,
  GLUETOOL_TRACER_TAG_BOOL,
  GLUETOOL_TRACER_TAG_LONG,
  GLUETOOL_TRACER_TAG_DOUBLE,
} GluetoolTracerTagType;

typedef struct {
  char                 *key;     /* (owned) */
  GluetoolTracerTagType type;
  char                 *text;    /* (owned) the value as read, for every type */
  gboolean              boolean;
  gint64                number;
  double                decimal;
} GluetoolTracerTag;

/* Parses @text (from @what, for messages); NULL with
 * GLUETOOL_TRACER_ERROR_INVALID_CONFIG when a pair has no '=' or an empty
 * key. An empty @text gives an empty array. (transfer full)
 * (element-type GluetoolTracerTag) */
GPtrArray *gluetool_tracer_tags_parse  (const char *what,
                                        const char *text,
                                        GError    **error);

/* The tags as encoded Tag structs, appended to @buffer; returns how
 * many. */
guint      gluetool_tracer_tags_encode (GPtrArray      *tags,
                                        GluetoolBuffer *buffer);

G_END_DECLS
