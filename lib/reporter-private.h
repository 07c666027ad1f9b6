/* reporter-private.h: everything between an encoded span and its receiver,
 * as a tracer sees it
 *
 * SPDX-License-Identifier: MIT
 *
 * Producers push encoded Span structs (any thread, each into a lane of its
 * own in the queue, see lanes-private.h). A push that finds the queue full
 * drops its span at once, or, with a queue-full wait configured, waits at
 * most that long for the flush thread to make room. One flush thread per
 * reporter (flush-thread-private.h) drains the queue into a sender
 * (sender-private.h: UDP emitBatch datagrams of at most max_packet_size
 * bytes to a Jaeger agent). The reporter counts every span's fate, answers
 * flush() and close(), starts over in a forked child, and flushes at a
 * normal exit. It knows nothing of actions or GObject.
 */

#pragma once

#include <gio/gio.h>

#include <gluetool/gluetool.h>

#include "config-private.h"

G_BEGIN_DECLS

typedef struct _GluetoolReporter GluetoolReporter;

/* A reporter with a random client-uuid of its own, its flush thread not
 * started yet. Nothing touches the network before the thread runs. */
GluetoolReporter *gluetool_reporter_new        (const GluetoolConfig *config);
/* Starts the flush thread unless it runs already or the reporter was
 * closed; FALSE when it was closed. Any thread of the process the reporter
 * belongs to; until it is called, flush() and close() have nothing to wait
 * for. */
gboolean          gluetool_reporter_start      (GluetoolReporter     *self);

/* fork(): a reporter belongs to the process that made it. In a child, the
 * inherited one has no flush thread and may hold locks that nobody will
 * release, so the child makes its own with new_for_child(), never touching
 * the inherited one's locks, and then abandons the inherited one. */
gboolean          gluetool_reporter_belongs_to_this_process (GluetoolReporter *self);
/* Whether start() was called in this very process: one relaxed load of a
 * field producers read anyway, and one of the process generation. */
gboolean          gluetool_reporter_is_running_here (GluetoolReporter *self);
/* A new reporter (not started) with the inherited one's settings, a new
 * client-uuid and Batch.seqNo from 1, the agent address the parent had
 * connected to, and the parent's unsent spans counted as left to it.
 * @closed: the tracer was closed or closing in the parent; the new
 * reporter is made closed too. Only for a reporter of another process. */
GluetoolReporter *gluetool_reporter_new_for_child (GluetoolReporter  *inherited,
                                                   gboolean           closed);
/* Closes the inherited socket and keeps the rest for ever, unused (see
 * reporter.c for why it cannot be freed). Only for a reporter of another
 * process, once, by the thread that replaced it. */
void              gluetool_reporter_abandon_inherited (GluetoolReporter *inherited);

const char       *gluetool_reporter_get_client_uuid (GluetoolReporter *self);

GluetoolReporter *gluetool_reporter_ref        (GluetoolReporter     *self);
/* The last unref of a reporter not closed closes it with no wait. */
void              gluetool_reporter_unref      (GluetoolReporter     *self);

/* Queues one encoded Span struct. Any thread. Takes no lock but the queue's
 * pool lock once per block (about a hundred spans), and makes no system
 * call unless it wakes the flush thread. When the queue is full it
 * drops the span at once, or, with a queue-full wait, waits on a condition
 * for at most that long, unless the caller is inside a region of the
 * process (see gluetool_flush_thread_wait_for_room()): the caller must hold
 * no lock across the call. Returns FALSE when the span was
 * dropped (and counted): the queue was full (for the whole wait, if any),
 * the span is too large for any datagram, or the reporter is closed. */
gboolean          gluetool_reporter_push_mp    (GluetoolReporter     *self,
                                                const guint8         *span,
                                                gsize                 len);

/* Waits until every span pushed before the call has been sent or counted as
 * lost, or until @deadline_us (monotonic clock). FALSE with
 * G_IO_ERROR_TIMED_OUT when some were still on their way, or with
 * GLUETOOL_TRACER_ERROR_SPANS_LOST when spans were lost since the last
 * flush. Any thread but the flush thread. */
gboolean          gluetool_reporter_flush      (GluetoolReporter     *self,
                                                gint64                deadline_us,
                                                GError              **error);
/* Stops taking spans, flushes as gluetool_reporter_flush() does, and stops
 * the flush thread. At the deadline, whatever is left is abandoned (counted
 * as failed to send) and an address lookup in progress is cancelled. */
gboolean          gluetool_reporter_close      (GluetoolReporter     *self,
                                                gint64                deadline_us,
                                                GError              **error);

void              gluetool_reporter_get_stats  (GluetoolReporter     *self,
                                                GluetoolTracerStats  *stats);

/* Whether the flush thread sleeps with nothing queued, the next push to
 * wake it; and how many pushes woke it so. For tests. */
gboolean          gluetool_reporter_is_idle    (GluetoolReporter     *self);
guint64           gluetool_reporter_get_idle_wakes (GluetoolReporter *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GluetoolReporter, gluetool_reporter_unref)

G_END_DECLS
