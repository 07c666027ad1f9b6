/* trace-receiver.h: a UDP socket drained into memory by a thread of its
 * own, so that how fast datagrams are decoded never makes the kernel drop
 *
 * SPDX-License-Identifier: MIT
 *
 * The reader thread does nothing but recvmmsg() and copy: it keeps up with
 * a client sending flat out, where decoding (a few hundred thousand spans
 * per CPU second with the reference codec) does not. What it read waits in
 * blocks, in arrival order, for the thread that owns the receiver (the
 * main thread, through a GSource) to take them. The memory the blocks take
 * is bounded; a datagram that would pass the bound is dropped and counted.
 * The kernel's own drops (a full socket buffer) are counted too, from the
 * socket's drop counter, which every datagram carries (SO_RXQ_OVFL) and
 * which is read again whenever the socket is empty (SO_MEMINFO), so that
 * drops after the last datagram are seen as well.
 *
 * Threads: every function is called from the owning thread; the reader
 * thread is internal.
 */

#pragma once

#include <gio/gio.h>
#include <netinet/in.h>
#include <sys/socket.h>

G_BEGIN_DECLS

typedef struct _TraceReceiver TraceReceiver;

typedef struct {
  /* Bytes the blocks waiting to be taken may use in all. */
  gsize    max_queued_bytes;
  /* The socket receive buffer to ask for, in bytes. */
  gint     socket_buffer_bytes;
  /* For tests: read nothing until trace_receiver_stop(), so that the
   * socket buffer fills and the kernel drops. */
  gboolean hold_reader;
} TraceReceiverConfig;

/* One datagram as it arrived. */
typedef struct {
  const guint8 *data;
  gsize         len;
  union {
    struct sockaddr     any;
    struct sockaddr_in  in;
    struct sockaddr_in6 in6;
  }             from;
  socklen_t     from_len;
} TraceDatagram;

/* Datagrams read together, in arrival order, and the memory they take. */
typedef struct {
  gint64         arrival_us;    /* monotonic time they were read */
  gsize          size;          /* bytes charged to the bound: the block's */
  guint          n_datagrams;
  TraceDatagram  datagrams[];   /* then their bytes */
} TraceReceivedBlock;

typedef struct {
  /* What the socket got. */
  gint     socket_buffer_bytes;    /* usable (half what SO_RCVBUF reports) */
  gboolean socket_buffer_forced;   /* past rmem_max, with SO_RCVBUFFORCE */
  gint     socket_buffer_max;      /* rmem_max, or -1 when unknown */

  guint64  datagrams;              /* read from the socket, kept or not */
  guint64  kernel_drops;           /* the socket's drop counter (cumulative) */
  guint64  own_drops;              /* over max_queued_bytes */
  gsize    queued_bytes;           /* waiting now, or being decoded */
  gsize    peak_queued_bytes;
  guint64  queued_datagrams;       /* waiting now (not the block being decoded) */
  guint64  receive_errors;
  int      last_errno;             /* of the last receive error */
  gboolean finished;               /* the reader thread has ended */
} TraceReceiverCounts;

/* Sets the socket's buffer and starts the reader thread on @socket, which
 * must be bound and stay alive as long as the receiver. */
TraceReceiver      *trace_receiver_new        (GSocket                   *socket,
                                               const TraceReceiverConfig *config,
                                               GError                   **error);

/* Stops the reader thread at once, joins it, and frees the blocks still
 * waiting. */
void                trace_receiver_free       (TraceReceiver             *self);

/* A source that dispatches when a block is waiting, when the counts
 * changed (drops, errors), or when the reader thread ended. The callback
 * is a GSourceFunc. (transfer full) */
GSource            *trace_receiver_create_source (TraceReceiver          *self);

/* The oldest block waiting, or NULL. Give it back with
 * trace_receiver_release() once decoded. (transfer full) */
TraceReceivedBlock *trace_receiver_take       (TraceReceiver             *self);
void                trace_receiver_release    (TraceReceiver             *self,
                                               TraceReceivedBlock        *block);

/* Asks the reader thread to end: at once, or (@drain) once the socket is
 * empty. Returns without waiting; the source dispatches when it ended. */
void                trace_receiver_stop       (TraceReceiver             *self,
                                               gboolean                   drain);

/* Stops the reader thread at once and waits for it to end; the blocks
 * still waiting stay, and are counted. Idempotent. */
void                trace_receiver_join       (TraceReceiver             *self);

/* A snapshot; @changed (nullable) tells whether drops or errors were
 * counted since the last call that asked. */
void                trace_receiver_get_counts (TraceReceiver             *self,
                                               TraceReceiverCounts       *counts,
                                               gboolean                  *changed);

/* A GSocketAddress for @datagram's sender. (transfer full) */
GSocketAddress     *trace_datagram_get_sender (const TraceDatagram       *datagram);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceReceiver, trace_receiver_free)

G_END_DECLS
