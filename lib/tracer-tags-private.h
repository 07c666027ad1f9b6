/* tracer-tags-private.h: the tags a tracer adds to its process, from
 * GLUETOOL_TRACING_TAGS or the tags property
 *
 * SPDX-License-Identifier: MIT
 *
 * The grammar is JAEGER_TAGS': `key=value` pairs separated by commas,
 * spaces around keys and values trimmed; a value written `${NAME}` or
 * `${NAME:default}` is the variable NAME, or the default when NAME is unset
 * or empty. A value is typed only where the type keeps it exactly as
 * written, since a receiver shows the typed value, not the text: `true`
 * and `false` are booleans; a long is written as its decimal form (no
 * leading zeros, no '+', within 64 bits: `7`, `-42`, not `007` or `+5`); a
 * double as its shortest form (printf's %g or %e with the fewest digits
 * that read back the same, with a point or an exponent: `0.5`, `1e+20`,
 * `1e+00`, not `1.10`, `1e3` or `-0`); anything else is a string, and so is a value in double
 * quotes (`"7"`: the quotes dropped, neither expanded nor typed).
 * jaeger-client-go keeps every value a string.
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
