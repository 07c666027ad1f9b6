/* trace-layout.h: a trace's spans in the order a tree or a timeline shows
 * them, each with its depth
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "trace-store.h"

G_BEGIN_DECLS

typedef struct {
  TraceSpan *span;            /* (unowned) */
  guint      depth;           /* 0 for a span shown at the top level */
  gboolean   is_last;         /* the last of its siblings (or of the top level) */
  gboolean   has_children;
  gboolean   parent_missing;  /* it has a parent, which did not arrive */
  gboolean   in_cycle;        /* reachable from no root: parents in a loop */
} TraceRow;

typedef struct {
  GArray    *rows;        /* (element-type TraceRow) depth-first, siblings by start time */
  gint64     start_us;    /* the earliest startTime */
  gint64     end_us;      /* the latest startTime + duration (saturated) */
  GPtrArray *services;    /* (element-type utf8) (unowned strings) in order of appearance */
} TraceLayout;

/* Lays @trace out. Every span appears exactly once, whatever the ids say:
 * duplicates, spans that are their own parent and parent cycles included.
 * The walk is iterative, so depth costs no stack. */
TraceLayout *trace_layout_new  (Trace       *trace);
void         trace_layout_free (TraceLayout *layout);

/* @time_us less the trace's start, saturated: times come from the
 * network and may be anything. */
gint64       trace_layout_offset (TraceLayout *layout,
                                  gint64       time_us);

/* Whether @span is marked as failed the way Jaeger's UI reads it: a tag
 * "error" that is true, as a bool or as the string "true". The first tag of
 * that name decides. */
gboolean     trace_span_has_error (JaegerSpan *span);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceLayout, trace_layout_free)

G_END_DECLS
