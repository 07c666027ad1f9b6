/* flush-thread-private.h: the thread that drains the queue into a sender
 *
 * SPDX-License-Identifier: MIT
 *
 * One thread per reporter. It sleeps until about a datagram's worth is
 * queued, the flush interval passes, flush() or close() asks, or (when it
 * had nothing to do for a whole interval) the next span is pushed; then it
 * drains the queue (lanes-private.h) into the sender (sender-private.h),
 * which packs and sends. It meets the threads that push in three places,
 * each explained in flush-thread.c: the wake-up protocol (producers tell it
 * they filled a block, or pushed into an idle queue, with no lock and at
 * most one system call), the wait for room in a full queue (a GCond, only
 * when asked for), and flush()/close() requests (under its mutex).
 *
 * Who may call what: the producer functions, any thread that pushed into
 * the queue; the others, any thread but the flush thread itself.
 */

#pragma once

#include "lanes-private.h"
#include "sender-private.h"

G_BEGIN_DECLS

typedef struct _GluetoolFlushThread GluetoolFlushThread;

typedef struct {
  gint64 flush_interval_us;
  /* A push that takes a block wakes a sleeping thread once this many bytes
   * are queued (whole blocks counted): a datagram's worth. */
  gsize  wake_bytes;
} GluetoolFlushThreadSettings;

/* Not started. @lanes stays the caller's and must outlive it; @sender is
 * taken; @counts and @owner_funcs are the sender's own (sender-private.h):
 * the thread counts there what it cannot hand to the sender. */
GluetoolFlushThread *gluetool_flush_thread_new   (const GluetoolFlushThreadSettings *settings,
                                                  GluetoolLanes                     *lanes,
                                                  GluetoolSender                    *sender);
/* Stops the thread if it runs (abandoning what is left at once), frees it
 * and its sender. */
void                 gluetool_flush_thread_free  (GluetoolFlushThread *self);

/* Starts the thread unless it runs or was stopped; FALSE when stopped. */
gboolean             gluetool_flush_thread_start (GluetoolFlushThread *self);
/* Whether the calling thread is this flush thread. */
gboolean             gluetool_flush_thread_is_self (GluetoolFlushThread *self);

/* ---- Producers --------------------------------------------------------------- */

/* After a push that succeeded: wakes the thread when the push took a block
 * that brought the queue to a datagram's worth while it sleeps, or when it
 * sleeps with nothing queued. One relaxed load, usually. */
void                 gluetool_flush_thread_pushed (GluetoolFlushThread *self,
                                                   gboolean             took_block,
                                                   gsize                bytes_in_use);
/* After a push the queue refused: a pass may give blocks of idle lanes
 * back, so a resting thread is woken. */
void                 gluetool_flush_thread_refused (GluetoolFlushThread *self);
/* Waits at most @wait_us for room and pushes the span. FALSE when it was
 * not pushed: the wait ran out, the queue was sealed, the thread is known
 * to be stuck, or the caller is inside nested regions of the process.
 * Leaves the caller's one region for the wait (see flush-thread.c). Adds
 * one to @waits when it waits. */
gboolean             gluetool_flush_thread_wait_for_room (GluetoolFlushThread *self,
                                                          const guint8        *span,
                                                          gsize                len,
                                                          gint64               wait_us,
                                                          _Atomic guint64     *waits);

/* ---- flush() and close() ------------------------------------------------------ */

/* Asks for a pass and waits until every span pushed before the call has
 * been sent or counted as lost, or until @deadline_us (monotonic). FALSE
 * on time-out, *@unsent then saying how many were still on their way. */
gboolean             gluetool_flush_thread_flush (GluetoolFlushThread *self,
                                                  gint64               deadline_us,
                                                  guint64             *unsent);
/* The queue is sealed: drains what is left and ends the thread. At
 * @deadline_us it cancels the sender's wait (a lookup, a blocked send),
 * counts what is left as failed, and ends it all the same. FALSE when it
 * ran out of time, *@unsent saying how many were left then. */
gboolean             gluetool_flush_thread_stop  (GluetoolFlushThread *self,
                                                  gint64               deadline_us,
                                                  guint64             *unsent);

/* The sender, for a forked child that reads what its parent's was doing. */
GluetoolSender      *gluetool_flush_thread_peek_sender (GluetoolFlushThread *self);

/* Whether it sleeps with nothing queued, the next push to wake it; how
 * many pushes woke it so. For tests. */
gboolean             gluetool_flush_thread_is_idle (GluetoolFlushThread *self);
guint64              gluetool_flush_thread_get_idle_wakes (GluetoolFlushThread *self);

G_END_DECLS
