/* gluetool-tracer-stats.h: what a tracer has done with the spans it was given
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(__GLUETOOL_H_INSIDE__) && !defined(GLUETOOL_COMPILATION)
#error "Only <gluetool/gluetool.h> can be included directly."
#endif

#include <glib-object.h>

#include <gluetool/gluetool-version.h>

G_BEGIN_DECLS

#define GLUETOOL_TYPE_TRACER_STATS (gluetool_tracer_stats_get_type ())

/**
 * GluetoolTracerStats:
 * @spans_reported: spans handed to the tracer by finished actions
 * @spans_sent: spans inside datagrams that the socket accepted
 * @datagrams_sent: `emitBatch` datagrams that the socket accepted
 * @spans_dropped_queue_full: spans dropped because the queue was full
 *   when they were finished (or stayed full for the whole
 *   [property@Gluetool.Tracer:queue-full-wait]; Jaeger's
 *   `fullQueueDroppedSpans`)
 * @spans_dropped_too_large: spans dropped because one alone does not fit
 *   a datagram (Jaeger's `tooLargeDroppedSpans`)
 * @spans_failed_to_send: spans in datagrams that could not be sent or that
 *   the agent refused, or that were still queued when the tracer was closed
 *   (Jaeger's `failedToEmitSpans`)
 * @spans_left_to_parent: in a child process made by fork(), the spans the
 *   parent had queued and not yet sent when it forked: the parent sends
 *   them, the child does not
 * @actions_unfinished_at_close: actions still unfinished when this tracer,
 *   as the process default, was closed: their spans are never reported
 * @spans_waited_for_room: spans whose finishing thread found the queue full
 *   and waited for room, as [property@Gluetool.Tracer:queue-full-wait]
 *   allows; those still without room at the end of the wait are also in
 *   `spans_dropped_queue_full`. Not a fate of its own: each of these spans
 *   is counted as sent, lost or on its way like any other.
 *
 * Counters since the tracer was made, or, in a child process made by
 * fork(), since the fork. Every reported span ends in exactly one of
 * `spans_sent`, the three loss counters, or is still on its way, so
 * `spans_reported - spans_sent - losses` is the number still on the way.
 *
 * A boxed type, whose fields language bindings read directly. Room is kept
 * at the end for counters to come, so the structure keeps its size (and
 * code built against it keeps working) when they do.
 *
 * Since: 0.1
 */
typedef struct {
  guint64 spans_reported;
  guint64 spans_sent;
  guint64 datagrams_sent;
  guint64 spans_dropped_queue_full;
  guint64 spans_dropped_too_large;
  guint64 spans_failed_to_send;
  guint64 spans_left_to_parent;
  guint64 actions_unfinished_at_close;
  guint64 spans_waited_for_room;

  /*< private >*/
  guint64 padding[7];
} GluetoolTracerStats;

GLUETOOL_AVAILABLE_IN_0_1
GType                gluetool_tracer_stats_get_type (void) G_GNUC_CONST;
GLUETOOL_AVAILABLE_IN_0_1
GluetoolTracerStats *gluetool_tracer_stats_copy     (const GluetoolTracerStats *stats);
GLUETOOL_AVAILABLE_IN_0_1
void                 gluetool_tracer_stats_free     (GluetoolTracerStats       *stats);
GLUETOOL_AVAILABLE_IN_0_1
guint64              gluetool_tracer_stats_get_lost (const GluetoolTracerStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GluetoolTracerStats, gluetool_tracer_stats_free)

G_END_DECLS
