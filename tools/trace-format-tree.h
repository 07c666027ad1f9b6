/* trace-format-tree.h: a trace as an indented tree, for a terminal
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "trace-store.h"

G_BEGIN_DECLS

typedef struct {
  gboolean colour;  /* ANSI colours and bold */
  gboolean utf8;    /* box-drawing characters and "µs"; else plain ASCII */
} TraceTreeStyle;

/* Appends @trace: a header line (id, spans, services, duration, wall-clock
 * start), then one line per span (operation, service where it changes,
 * start offset from the trace's start, duration, tags) with its logs
 * under it, children indented under their parent in start order. Spans
 * whose parent did not arrive are shown at the top level and say so.
 * @updated marks a trace shown before that got more spans. Any span count
 * and nesting depth is fine: the walk is iterative, and indentation stops
 * growing at a fixed depth. */
void trace_format_tree (GString              *out,
                        Trace                *trace,
                        const TraceTreeStyle *style,
                        gboolean              updated);

G_END_DECLS
