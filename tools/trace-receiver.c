/* trace-receiver.c: a UDP socket drained into memory by a thread of its
 * own
 *
 * SPDX-License-Identifier: MIT
 *
 * The reader thread loops on recvmmsg() without waiting while datagrams
 * are there, and on poll() (the socket, and a GCancellable's fd for
 * stopping) once the socket is empty. Each recvmmsg() fills up to
 * READ_BATCH slots of a scratch area owned by the thread; the datagrams
 * that fit the bound are then copied into one block of exactly their size
 * and queued. The copy costs little next to decoding, and keeps memory
 * proportional to what arrived, whatever the datagrams' sizes.
 *
 * Synchronisation: one GMutex guards the queue, the counters and the
 * source's readiness. The bytes queued are also an atomic, so that the
 * reader can check the bound without the lock: only it adds to them, so a
 * stale value is a high one, and the check errs on the safe side.
 */

/* recvmmsg() */
#define _GNU_SOURCE

#include "trace-receiver.h"

#include <errno.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* GLib's mutex as ThreadSanitizer sees it (header-only; see there). */
#include "sync-private.h"

/* Larger than any UDP payload (65507 bytes over IPv4, 65527 over IPv6),
 * so no datagram is ever cut. */
#define SLOT_SIZE 65536
/* Datagrams per recvmmsg(): 2 MiB of scratch, and a block the owning
 * thread decodes in one go. */
#define READ_BATCH 32
/* When draining at a stop, read at most this many times the socket
 * buffer: a flood must not keep the reader from ending. */
#define DRAIN_FACTOR 2

typedef enum {
  RUNNING,
  STOP_WHEN_EMPTY,
  STOP_NOW,
} StopMode;

struct _TraceReceiver {
  GSocket          *socket;        /* (owned) */
  int               fd;
  TraceReceiverConfig config;
  GThread          *thread;        /* (owned) (nullable) once joined */
  GCancellable     *wake;          /* (owned) cancelled to stop the reader */
  GMainContext     *context;       /* (owned) (nullable) the source's, to wake */

  /* Written by the owning thread, read by the reader: release in
   * trace_receiver_stop() pairs with the acquire in the reader's loop. */
  _Atomic StopMode  stop_mode;

  /* Bytes in blocks not yet released: the reader adds, the owner
   * subtracts. Relaxed everywhere: a count, which publishes nothing (the
   * blocks pass under the lock). */
  _Atomic gsize     queued_bytes;

  GMutex            lock;
  GQueue            blocks;        /* (under lock) TraceReceivedBlock*, oldest first */
  gboolean          counts_changed;/* (under lock) */
  TraceReceiverCounts counts;      /* (under lock), queued_bytes aside */

  /* The reader thread's own. */
  guint8           *scratch;       /* READ_BATCH * SLOT_SIZE */
  struct mmsghdr    messages[READ_BATCH];
  struct iovec      iovecs[READ_BATCH];
  union {
    struct sockaddr     any;
    struct sockaddr_in  in;
    struct sockaddr_in6 in6;
  }                 senders[READ_BATCH];
  union {
    char            buf[CMSG_SPACE (sizeof (guint32))];
    size_t          align;           /* struct cmsghdr's */
  }                 controls[READ_BATCH];
};

/* ---- The socket -------------------------------------------------------------- */

static gint
read_rmem_max (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/sys/net/core/rmem_max", &text, NULL, NULL))
    return -1;
  return (gint) CLAMP (g_ascii_strtoll (text, NULL, 10), -1, G_MAXINT);
}

/* The largest buffer the process may have: past rmem_max with
 * SO_RCVBUFFORCE (root, or CAP_NET_ADMIN), else rmem_max at most. */
static void
size_socket_buffer (TraceReceiver *self)
{
  gint asked = self->config.socket_buffer_bytes;
  gint got = 0;
  socklen_t len = sizeof got;

  self->counts.socket_buffer_max = read_rmem_max ();
  if (setsockopt (self->fd, SOL_SOCKET, SO_RCVBUFFORCE, &asked, sizeof asked) == 0)
    self->counts.socket_buffer_forced = TRUE;
  else
    {
      gint allowed = self->counts.socket_buffer_max > 0
                       ? MIN (asked, self->counts.socket_buffer_max) : asked;

      setsockopt (self->fd, SOL_SOCKET, SO_RCVBUF, &allowed, sizeof allowed);
    }
  /* Linux reports twice what was set: the other half is its bookkeeping. */
  if (getsockopt (self->fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0)
    self->counts.socket_buffer_bytes = got / 2;
}

/* The socket's drop counter, when the kernel tells it (Linux 4.12). */
static gboolean
read_drop_counter (int      fd,
                   guint32 *drops)
{
  guint32 meminfo[SK_MEMINFO_VARS];
  socklen_t len = sizeof meminfo;

  if (getsockopt (fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len) != 0
      || len < (SK_MEMINFO_DROPS + 1) * sizeof (guint32))
    return FALSE;
  *drops = meminfo[SK_MEMINFO_DROPS];
  return TRUE;
}

/* ---- The reader thread --------------------------------------------------------- */

/* Under lock: readiness changed; the caller wakes the context after
 * unlocking when this returns TRUE. */
static gboolean
note_change_locked (TraceReceiver *self)
{
  gboolean was = self->counts_changed;

  self->counts_changed = TRUE;
  return !was;
}

static void
wake_owner (TraceReceiver *self)
{
  /* Thread-safe by contract: makes the owner's poll return, and the
   * source's check run. */
  g_main_context_wakeup (self->context);
}

static void
update_kernel_drops (TraceReceiver *self,
                     guint32        drops)
{
  gboolean wake = FALSE;

  gluetool_mutex_lock (&self->lock);
  if (drops > self->counts.kernel_drops)
    {
      self->counts.kernel_drops = drops;
      wake = note_change_locked (self);
    }
  gluetool_mutex_unlock (&self->lock);
  if (wake)
    wake_owner (self);
}

static void
prepare_messages (TraceReceiver *self)
{
  for (guint i = 0; i < READ_BATCH; i++)
    {
      self->iovecs[i] = (struct iovec) { self->scratch + (gsize) i * SLOT_SIZE, SLOT_SIZE };
      self->messages[i].msg_hdr = (struct msghdr) {
        .msg_name = &self->senders[i],
        .msg_namelen = sizeof self->senders[i],
        .msg_iov = &self->iovecs[i],
        .msg_iovlen = 1,
        .msg_control = self->controls[i].buf,
        .msg_controllen = sizeof self->controls[i].buf,
      };
      self->messages[i].msg_len = 0;
    }
}

/* The largest drop counter the messages carry (0 when none does). */
static guint32
drops_carried (TraceReceiver *self,
               guint          n)
{
  guint32 drops = 0;

  for (guint i = 0; i < n; i++)
    {
      struct msghdr *msg = &self->messages[i].msg_hdr;

      for (struct cmsghdr *c = CMSG_FIRSTHDR (msg); c != NULL; c = CMSG_NXTHDR (msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
          {
            guint32 value;

            memcpy (&value, CMSG_DATA (c), sizeof value);
            drops = MAX (drops, value);
          }
    }
  return drops;
}

/* Queues the @n datagrams recvmmsg() just read, those that fit the bound. */
static void
queue_datagrams (TraceReceiver *self,
                 guint          n)
{
  gboolean keep[READ_BATCH];
  gsize size = sizeof (TraceReceivedBlock);
  gsize queued = atomic_load_explicit (&self->queued_bytes, memory_order_relaxed);
  guint n_kept = 0;
  guint64 n_dropped = 0;
  TraceReceivedBlock *block = NULL;
  guint8 *bytes;
  gboolean wake = FALSE;

  for (guint i = 0; i < n; i++)
    {
      gsize cost = sizeof (TraceDatagram) + self->messages[i].msg_len;

      keep[i] = queued + size + cost <= self->config.max_queued_bytes;
      if (keep[i])
        {
          size += cost;
          n_kept++;
        }
      else
        n_dropped++;
    }

  if (n_kept > 0)
    {
      block = g_malloc (size);
      block->arrival_us = g_get_monotonic_time ();
      block->size = size;
      block->n_datagrams = n_kept;
      bytes = (guint8 *) &block->datagrams[n_kept];
      for (guint i = 0, j = 0; i < n; i++)
        {
          TraceDatagram *datagram;

          if (!keep[i])
            continue;
          datagram = &block->datagrams[j++];
          datagram->len = self->messages[i].msg_len;
          datagram->data = bytes;
          memcpy (bytes, self->iovecs[i].iov_base, datagram->len);
          bytes += datagram->len;
          datagram->from_len = MIN (self->messages[i].msg_hdr.msg_namelen,
                                    (socklen_t) sizeof datagram->from);
          memcpy (&datagram->from, &self->senders[i], datagram->from_len);
        }
      /* Relaxed: a count; the block itself is published under the lock. */
      atomic_fetch_add_explicit (&self->queued_bytes, size, memory_order_relaxed);
    }

  gluetool_mutex_lock (&self->lock);
  self->counts.datagrams += n;
  if (block != NULL)
    {
      if (g_queue_is_empty (&self->blocks))
        wake = TRUE;
      g_queue_push_tail (&self->blocks, block);
      self->counts.queued_datagrams += n_kept;
      self->counts.peak_queued_bytes = MAX (self->counts.peak_queued_bytes, queued + size);
    }
  if (n_dropped > 0)
    {
      self->counts.own_drops += n_dropped;
      wake |= note_change_locked (self);
    }
  gluetool_mutex_unlock (&self->lock);
  if (wake)
    wake_owner (self);

  update_kernel_drops (self, drops_carried (self, n));
}

static void
note_receive_error (TraceReceiver *self,
                    int            error_number)
{
  gboolean wake;

  gluetool_mutex_lock (&self->lock);
  self->counts.receive_errors++;
  self->counts.last_errno = error_number;
  wake = note_change_locked (self);
  gluetool_mutex_unlock (&self->lock);
  if (wake)
    wake_owner (self);
}

/* Waits until the socket is readable or the reader is told to stop. */
static void
wait_for_datagrams (TraceReceiver *self,
                    gboolean       socket_too)
{
  GPollFD fds[2];
  guint n = 0;

  if (g_cancellable_make_pollfd (self->wake, &fds[n]))
    n++;
  if (socket_too)
    fds[n++] = (GPollFD) { .fd = self->fd, .events = G_IO_IN };
  g_poll (fds, n, -1);
}

static gpointer
reader_thread (gpointer data)
{
  TraceReceiver *self = data;
  guint64 drained_bytes = 0;
  gboolean wake;
  guint32 drops;

  /* For tests: the socket fills until the owner says stop. */
  while (self->config.hold_reader
         && atomic_load_explicit (&self->stop_mode, memory_order_acquire) == RUNNING)
    wait_for_datagrams (self, FALSE);

  for (;;)
    {
      /* Acquire pairs with the release in trace_receiver_stop(). */
      StopMode mode = atomic_load_explicit (&self->stop_mode, memory_order_acquire);
      int n;

      if (mode == STOP_NOW)
        break;
      if (mode == STOP_WHEN_EMPTY
          && drained_bytes > (guint64) DRAIN_FACTOR * (guint64) MAX (self->counts.socket_buffer_bytes, SLOT_SIZE))
        break;

      prepare_messages (self);
      n = recvmmsg (self->fd, self->messages, READ_BATCH, MSG_DONTWAIT, NULL);
      if (n > 0)
        {
          if (mode == STOP_WHEN_EMPTY)
            for (int i = 0; i < n; i++)
              drained_bytes += self->messages[i].msg_len;
          queue_datagrams (self, (guint) n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        note_receive_error (self, errno);

      /* Empty: drops after the last datagram show only here. */
      if (read_drop_counter (self->fd, &drops))
        update_kernel_drops (self, drops);
      if (mode == STOP_WHEN_EMPTY)
        break;
      wait_for_datagrams (self, TRUE);
    }

  if (read_drop_counter (self->fd, &drops))
    update_kernel_drops (self, drops);

  gluetool_mutex_lock (&self->lock);
  self->counts.finished = TRUE;
  wake = note_change_locked (self);
  gluetool_mutex_unlock (&self->lock);
  if (wake)
    wake_owner (self);
  return NULL;
}

/* ---- The source --------------------------------------------------------------- */

typedef struct {
  GSource        source;
  TraceReceiver *receiver;  /* (unowned) outlives the source's attachment */
} ReceiverSource;

static gboolean
receiver_source_ready (GSource *source)
{
  TraceReceiver *self = ((ReceiverSource *) source)->receiver;
  gboolean ready;

  gluetool_mutex_lock (&self->lock);
  ready = !g_queue_is_empty (&self->blocks) || self->counts_changed;
  gluetool_mutex_unlock (&self->lock);
  return ready;
}

static gboolean
receiver_source_prepare (GSource *source,
                         gint    *timeout)
{
  *timeout = -1;
  return receiver_source_ready (source);
}

static gboolean
receiver_source_dispatch (GSource     *source,
                          GSourceFunc  callback,
                          gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs receiver_source_funcs = {
  .prepare = receiver_source_prepare,
  .check = receiver_source_ready,
  .dispatch = receiver_source_dispatch,
};

GSource *
trace_receiver_create_source (TraceReceiver *self)
{
  GSource *source;

  g_return_val_if_fail (self != NULL, NULL);

  source = g_source_new (&receiver_source_funcs, sizeof (ReceiverSource));
  ((ReceiverSource *) source)->receiver = self;
  g_source_set_name (source, "trace-receiver");
  return source;
}

/* ---- Public --------------------------------------------------------------------- */

TraceReceiver *
trace_receiver_new (GSocket                   *socket,
                    const TraceReceiverConfig *config,
                    GError                   **error)
{
  g_autoptr(TraceReceiver) self = NULL;
  int one = 1;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (config != NULL && config->max_queued_bytes > 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_new0 (TraceReceiver, 1);
  self->socket = g_object_ref (socket);
  self->fd = g_socket_get_fd (socket);
  self->config = *config;
  self->wake = g_cancellable_new ();
  self->context = g_main_context_ref_thread_default ();
  g_mutex_init (&self->lock);
  g_queue_init (&self->blocks);
  atomic_init (&self->stop_mode, RUNNING);
  atomic_init (&self->queued_bytes, 0);

  size_socket_buffer (self);
  /* Every datagram then carries the socket's drop counter. */
  if (setsockopt (self->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot count the kernel's drops (SO_RXQ_OVFL): %s",
                   g_strerror (saved));
      return NULL;
    }

  self->scratch = g_malloc ((gsize) READ_BATCH * SLOT_SIZE);
  self->thread = g_thread_try_new ("trace-reader", reader_thread, self, error);
  if (self->thread == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

void
trace_receiver_stop (TraceReceiver *self,
                     gboolean       drain)
{
  StopMode current;

  g_return_if_fail (self != NULL);

  current = atomic_load_explicit (&self->stop_mode, memory_order_relaxed);
  if (current == STOP_NOW || (current == STOP_WHEN_EMPTY && drain))
    return;
  /* Release pairs with the reader's acquire. */
  atomic_store_explicit (&self->stop_mode, drain ? STOP_WHEN_EMPTY : STOP_NOW,
                         memory_order_release);
  g_cancellable_cancel (self->wake);
}

void
trace_receiver_join (TraceReceiver *self)
{
  g_return_if_fail (self != NULL);

  if (self->thread == NULL)
    return;
  trace_receiver_stop (self, FALSE);
  g_thread_join (g_steal_pointer (&self->thread));
}

void
trace_receiver_free (TraceReceiver *self)
{
  if (self == NULL)
    return;

  trace_receiver_join (self);
  g_queue_clear_full (&self->blocks, g_free);
  g_mutex_clear (&self->lock);
  g_clear_object (&self->wake);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->socket);
  g_free (self->scratch);
  g_free (self);
}

TraceReceivedBlock *
trace_receiver_take (TraceReceiver *self)
{
  TraceReceivedBlock *block;

  g_return_val_if_fail (self != NULL, NULL);

  gluetool_mutex_lock (&self->lock);
  block = g_queue_pop_head (&self->blocks);
  if (block != NULL)
    self->counts.queued_datagrams -= block->n_datagrams;
  gluetool_mutex_unlock (&self->lock);
  return block;
}

void
trace_receiver_release (TraceReceiver      *self,
                        TraceReceivedBlock *block)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (block != NULL);

  /* Relaxed: see the field. */
  atomic_fetch_sub_explicit (&self->queued_bytes, block->size, memory_order_relaxed);
  g_free (block);
}

void
trace_receiver_get_counts (TraceReceiver       *self,
                           TraceReceiverCounts *counts,
                           gboolean            *changed)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (counts != NULL);

  gluetool_mutex_lock (&self->lock);
  *counts = self->counts;
  if (changed != NULL)
    {
      *changed = self->counts_changed;
      self->counts_changed = FALSE;
    }
  gluetool_mutex_unlock (&self->lock);
  /* Relaxed: a figure to print. */
  counts->queued_bytes = atomic_load_explicit (&self->queued_bytes, memory_order_relaxed);
}

GSocketAddress *
trace_datagram_get_sender (const TraceDatagram *datagram)
{
  g_return_val_if_fail (datagram != NULL, NULL);

  return g_socket_address_new_from_native ((gpointer) &datagram->from, datagram->from_len);
}
