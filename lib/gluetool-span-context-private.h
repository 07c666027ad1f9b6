/* gluetool-span-context-private.h: the span context's fields, for actions
 *
 * SPDX-License-Identifier: MIT
 *
 * Actions keep a process-wide span context by value (no allocation, nothing
 * to free when it is replaced) and fill one in when asked for theirs, so they
 * see the fields; everything else goes through the public API.
 */

#pragma once

#include <gluetool/gluetool.h>

G_BEGIN_DECLS

struct _GluetoolSpanContext {
  guint64 trace_id_high;
  guint64 trace_id_low;
  guint64 span_id;
  guint64 parent_span_id;     /* 0: none or unknown */
  guint8  flags;              /* Jaeger's: GLUETOOL_SPAN_CONTEXT_FLAG_* */
};

G_END_DECLS
