/* sender-udp.c: emitBatch datagrams to a Jaeger agent over UDP
 *
 * SPDX-License-Identifier: MIT
 *
 * See sender-private.h for the interface. One connected UDP socket; the
 * host resolved here, in the flush thread, and again after failures; every
 * datagram packed by batch.c and sent with one sendmsg() of three pieces,
 * so the spans are copied once, from the queue into the batch.
 */

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gluetool/gluetool.h>

#include "batch-private.h"
#include "debug-private.h"
#include "process-private.h"
#include "sender-private.h"
#include "tracer-tags-private.h"

/* After this many "connection refused" on one connection the address is
 * looked up again: the agent may have moved. */
#define MAX_REFUSED_BEFORE_RECONNECT 16
/* A failed lookup or connect is not retried sooner than this. */
#define RECONNECT_BACKOFF_US (G_USEC_PER_SEC / 2)
/* A send that blocks longer than this fails (the spans count as failed). */
#define SEND_TIMEOUT_S 5

typedef struct {
  GluetoolSender   parent;

  char            *service_name;
  char            *host;
  guint            port;
  char            *client_uuid;
  GPtrArray       *tags;             /* (owned) (nullable) the tracer's */

  GSocket         *socket;           /* (owned) (nullable) connected */
  gint64           next_connect_us;  /* no connect attempt before */
  GError          *connect_error;    /* (owned) (nullable) why the last attempt failed */
  guint            refused_since_connect;
  GluetoolBatch    batch;            /* the datagram being packed */
  gint64           next_seq_no;      /* Batch.seqNo of the next datagram: 1, 2, ... */
  /* The spans of the last datagram the socket accepted, until it is known
   * whether the agent refused it (see settle_in_doubt()): counted neither
   * sent nor failed meanwhile. 0 when none is in doubt (no datagram is
   * empty). */
  guint            in_doubt_spans;
  /* Where the parent process was sending when this one was forked from it:
   * the first connection goes there without a lookup. (owned) (nullable) */
  GSocketAddress  *inherited_agent;

  /* The agent's address once connected, for a child process made by fork()
   * to start from. */
  GluetoolPeerAddress published_agent;
} UdpSender;

static inline UdpSender *
udp (GluetoolSender *sender)
{
  return (UdpSender *) sender;
}

static void
remember_loss (UdpSender    *self,
               const GError *error)
{
  self->parent.owner_funcs->remember_loss (self->parent.owner, error);
}

/* ---- Connecting -------------------------------------------------------------- */

/* The Process every datagram carries (sender-process.c). */
static void
encode_process (UdpSender *self)
{
  GluetoolBuffer process;

  gluetool_buffer_init (&process, NULL, 0);
  gluetool_sender_encode_process (&process, self->service_name, self->client_uuid, self->tags,
                                  self->socket);
  gluetool_batch_set_process (&self->batch, process.data, process.len);
  gluetool_buffer_clear (&process);
}

static GSocket *
connect_to (GSocketAddress *agent,
            GError        **error)
{
  g_autoptr(GSocket) socket = NULL;

  socket = g_socket_new (g_socket_address_get_family (agent),
                         G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    return NULL;

  /* Connected, so the kernel reports an ICMP "port unreachable" as
   * ECONNREFUSED (see settle_in_doubt()) instead of dropping it silently. */
  if (!g_socket_connect (socket, agent, NULL, error))
    return NULL;
  g_socket_set_timeout (socket, SEND_TIMEOUT_S);
  return g_steal_pointer (&socket);
}

/* For a child process made by fork() (see udp_new_for_child()). */
static void
publish_agent (UdpSender *self)
{
  g_autoptr(GSocketAddress) agent = g_socket_get_remote_address (self->socket, NULL);

  gluetool_peer_address_publish (&self->published_agent, agent);
}

static void check_in_doubt (UdpSender *self);

static void
disconnect (UdpSender *self)
{
  check_in_doubt (self);
  g_clear_object (&self->socket);
}

/* Looks the host up and connects to the first address that takes it. */
static gboolean
connect_by_lookup (UdpSender *self,
                   GError   **error)
{
  g_autoptr(GResolver) resolver = NULL;
  g_autolist(GInetAddress) addresses = NULL;
  g_autoptr(GError) first_error = NULL;
  gboolean is_address;

  /* Until the back-off passes, fail with the reason of the last attempt. */
  if (self->connect_error != NULL && g_get_monotonic_time () < self->next_connect_us)
    {
      g_propagate_error (error, g_error_copy (self->connect_error));
      return FALSE;
    }
  g_clear_error (&self->connect_error);
  self->next_connect_us = g_get_monotonic_time () + RECONNECT_BACKOFF_US;

  /* The lookup happens here, in the flush thread, never in a caller's thread;
   * close() cancels it at its deadline. An address is turned into one at
   * once; a name is looked up by GLib's resolver threads, which may take
   * seconds, and fork() must not wait for that, so the flush thread leaves
   * its region meanwhile. */
  resolver = g_resolver_get_default ();
  is_address = g_hostname_is_ip_address (self->host);
  if (!is_address)
    gluetool_process_leave ();
  addresses = g_resolver_lookup_by_name (resolver, self->host, self->parent.cancellable,
                                         &self->connect_error);
  if (!is_address)
    gluetool_process_enter ();
  if (addresses == NULL)
    {
      g_prefix_error (&self->connect_error, "Cannot resolve %s: ", self->host);
      g_propagate_error (error, g_error_copy (self->connect_error));
      return FALSE;
    }

  for (GList *l = addresses; l != NULL && self->socket == NULL; l = l->next)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GSocketAddress) agent = g_inet_socket_address_new (l->data, (guint16) self->port);

      self->socket = connect_to (agent, &local_error);
      if (self->socket == NULL && first_error == NULL)
        first_error = g_steal_pointer (&local_error);
    }
  if (self->socket == NULL)
    {
      g_propagate_prefixed_error (&self->connect_error, g_steal_pointer (&first_error),
                                  "Cannot connect to %s:%u: ", self->host, self->port);
      g_propagate_error (error, g_error_copy (self->connect_error));
      return FALSE;
    }
  return TRUE;
}

static gboolean
udp_prepare (GluetoolSender *sender,
             GError        **error)
{
  UdpSender *self = udp (sender);

  if (self->socket != NULL)
    return TRUE;

  /* A child of a process that was sending starts where it was sending, with
   * no lookup (which in a child may wait on GLib's resolver threads, which
   * did not come along). Once: after a failure, the host is looked up. */
  if (self->inherited_agent != NULL)
    {
      g_autoptr(GSocketAddress) agent = g_steal_pointer (&self->inherited_agent);

      self->socket = connect_to (agent, NULL);
    }
  if (self->socket == NULL && !connect_by_lookup (self, error))
    return FALSE;

  publish_agent (self);
  self->refused_since_connect = 0;
  /* Encoded once: batches being packed are sized with it, so it must not
   * change length on a reconnect. */
  if (!gluetool_batch_has_process (&self->batch))
    encode_process (self);
  GLUETOOL_DEBUG ("Sending spans to %s:%u", self->host, self->port);
  return TRUE;
}

/* ---- Was it refused? --------------------------------------------------------- */

/* A connected UDP socket hears that nothing listens at the agent's port from
 * the ICMP "port unreachable" that comes back after a datagram, and reports
 * it on its next call: sendmsg() fails (sending nothing), or SO_ERROR returns
 * it. So the last datagram the socket took is "in doubt", counted neither
 * sent nor failed, until the next send or the check at the end of each pass
 * of the flush thread (check_in_doubt(), one getsockopt() per pass that sent
 * something, never one per span) says whether it was refused. On loopback the
 * error is back before sendmsg() returns, so every datagram is counted
 * right; across a network it takes a round trip, and a refusal that arrives
 * after the check is charged to no datagram. */
static void
settle_in_doubt (UdpSender    *self,
                 const GError *refusal)
{
  GluetoolSendCounts *counts = self->parent.counts;

  if (self->in_doubt_spans == 0)
    return;
  if (refusal != NULL)
    {
      gluetool_send_count (&counts->failed_to_send, self->in_doubt_spans);
      remember_loss (self, refusal);
    }
  else
    {
      gluetool_send_count (&counts->spans_sent, self->in_doubt_spans);
      gluetool_send_count (&counts->batches_sent, 1);
    }
  self->in_doubt_spans = 0;
}

/* After a failed send, or a refusal found by check_in_doubt(). */
static void
note_send_failure (UdpSender    *self,
                   const GError *error)
{
  /* Nothing listening yet is the common case and needs no new lookup;
   * anything else, or a long run of refusals, may mean the address is
   * stale. */
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    {
      disconnect (self);
      /* The next attempt waits out the back-off like a failed lookup:
       * an error that persists must not cost a lookup per datagram. */
      g_clear_error (&self->connect_error);
      self->connect_error = g_error_copy (error);
    }
  else if (++self->refused_since_connect >= MAX_REFUSED_BEFORE_RECONNECT)
    {
      /* Looked up again with the next datagram, with no back-off: this
       * costs one lookup per MAX_REFUSED_BEFORE_RECONNECT datagrams, and
       * an agent that comes up meanwhile gets the very next one. */
      disconnect (self);
    }
}

static void
check_in_doubt (UdpSender *self)
{
  g_autoptr(GError) error = NULL;
  gint pending = 0;

  if (self->in_doubt_spans == 0)
    return;
  /* Reading SO_ERROR also clears it, so the next send does not fail for
   * this datagram's refusal. */
  if (self->socket != NULL
      && g_socket_get_option (self->socket, SOL_SOCKET, SO_ERROR, &pending, NULL)
      && pending != 0)
    error = g_error_new (G_IO_ERROR, g_io_error_from_errno (pending),
                         "Error sending message: %s", g_strerror (pending));
  settle_in_doubt (self, error);
  if (error != NULL)
    {
      GLUETOOL_DEBUG ("The last datagram to %s:%u was refused: %s", self->host, self->port,
                      error->message);
      note_send_failure (self, error);
    }
}

static void
udp_settle (GluetoolSender *sender)
{
  check_in_doubt (udp (sender));
}

static guint
udp_n_unsettled (GluetoolSender *sender)
{
  UdpSender *self = udp (sender);

  return self->batch.n_spans + self->in_doubt_spans;
}

/* ---- Packing and sending ------------------------------------------------------ */

static void
udp_send (GluetoolSender *sender)
{
  UdpSender *self = udp (sender);
  GluetoolSendCounts *counts = self->parent.counts;
  GOutputVector vectors[3];
  g_autoptr(GError) error = NULL;
  guint n_spans = self->batch.n_spans;
  gsize total;
  gssize sent = -1;

  if (n_spans == 0)
    return;

  total = gluetool_batch_seal (&self->batch, vectors);
  if (G_UNLIKELY (total > self->batch.max_bytes))
    {
      /* Packing sizes every datagram exactly; this is a bug, not bad input. */
      g_critical ("Datagram of %" G_GSIZE_FORMAT " bytes exceeds the maximum of %" G_GSIZE_FORMAT,
                  total, self->batch.max_bytes);
      gluetool_send_count (&counts->failed_to_send, n_spans);
      gluetool_batch_empty (&self->batch);
      return;
    }

  if (self->socket != NULL || udp_prepare (sender, &error))
    sent = g_socket_send_message (self->socket, NULL, vectors, 3, NULL, 0, 0,
                                  self->parent.cancellable, &error);

  if (sent >= 0)
    {
      /* The socket took it with no error pending, so the datagram before
       * was not refused; this one is in doubt until the next send or the
       * end of the pass. */
      settle_in_doubt (self, NULL);
      self->in_doubt_spans = n_spans;
      self->next_seq_no++;
    }
  else
    {
      /* A refusal here is the pending error of the datagram before, which
       * is lost; this one was not sent either. */
      settle_in_doubt (self, g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)
                             ? error : NULL);
      gluetool_send_count (&counts->failed_to_send, n_spans);
      GLUETOOL_DEBUG ("Could not send %u spans to %s:%u: %s", n_spans, self->host, self->port,
                      error->message);
      remember_loss (self, error);
      note_send_failure (self, error);
    }
  gluetool_batch_empty (&self->batch);
}

/* Adds one span to the datagram, sending it first when the span would not
 * fit in it. Whether the socket is still there after. */
static gboolean
udp_add_span (GluetoolSender *sender,
              const guint8   *span,
              gsize           len)
{
  UdpSender *self = udp (sender);

  if (self->batch.n_spans > 0 && !gluetool_batch_has_room (&self->batch, len))
    udp_send (sender);

  if (self->batch.n_spans == 0)
    {
      GluetoolClientStats stats;

      /* A datagram carries the statistics as they were when it began; its
       * size is computed with exactly those numbers. */
      self->parent.owner_funcs->get_client_stats (self->parent.owner, &stats);
      if (!gluetool_batch_start (&self->batch, self->next_seq_no, &stats, len))
        {
          gluetool_send_count (&self->parent.counts->dropped_too_large, 1);
          return self->socket != NULL;
        }
    }
  gluetool_batch_add (&self->batch, span, len);
  return self->socket != NULL;
}

static void
udp_abandon (GluetoolSender *sender)
{
  UdpSender *self = udp (sender);

  check_in_doubt (self);
  gluetool_send_count (&self->parent.counts->failed_to_send, self->batch.n_spans);
  gluetool_batch_empty (&self->batch);
}

static void
udp_stop (GluetoolSender *sender)
{
  disconnect (udp (sender));
}

static void
udp_free (GluetoolSender *sender)
{
  UdpSender *self = udp (sender);

  g_clear_object (&self->socket);
  g_clear_object (&self->inherited_agent);
  g_clear_error (&self->connect_error);
  gluetool_batch_clear (&self->batch);
  g_free (self->service_name);
  g_free (self->host);
  g_free (self->client_uuid);
  g_clear_pointer (&self->tags, g_ptr_array_unref);
  g_free (self);
}

static GluetoolSender *udp_new_for_child (GluetoolSender              *inherited,
                                          const char                  *client_uuid,
                                          const GluetoolSenderContext *context);

/* Its socket is a copy of the parent's file descriptor: the parent goes on
 * sending on it, this process never will. The descriptor is closed, not
 * the GSocket unreferenced: freeing a GObject takes a global lock of
 * GLib's, which a thread the fork left behind may hold. */
static void
udp_forget_inherited (GluetoolSender *inherited)
{
  UdpSender *self = udp (inherited);

  if (self->socket != NULL)
    {
      int fd = g_socket_get_fd (self->socket);

      if (fd >= 0)
        close (fd);
    }
}

static const GluetoolSenderVTable udp_vtable = {
  .prepare = udp_prepare,
  .add_span = udp_add_span,
  .send = udp_send,
  .settle = udp_settle,
  .n_unsettled = udp_n_unsettled,
  .abandon = udp_abandon,
  .stop = udp_stop,
  .free = udp_free,
  .new_for_child = udp_new_for_child,
  .forget_inherited = udp_forget_inherited,
};

GluetoolSender *
gluetool_udp_sender_new (const GluetoolUdpSenderSettings *settings,
                         GSocketAddress                  *inherited_agent,
                         const GluetoolSenderContext     *context)
{
  UdpSender *self = g_new0 (UdpSender, 1);

  gluetool_sender_init (&self->parent, &udp_vtable, context);
  self->service_name = g_strdup (settings->service_name);
  self->host = g_strdup (settings->host);
  self->port = settings->port;
  self->client_uuid = g_strdup (settings->client_uuid);
  self->tags = settings->tags != NULL ? g_ptr_array_ref (settings->tags) : NULL;
  self->inherited_agent = inherited_agent != NULL ? g_object_ref (inherited_agent) : NULL;
  self->next_seq_no = 1;
  atomic_init (&self->published_agent.version, 0);
  gluetool_batch_init (&self->batch, settings->max_packet_size);
  return &self->parent;
}

/* Settings are never written after creation, so the copies in the
 * inherited memory are whole, whatever its threads were doing. */
static GluetoolSender *
udp_new_for_child (GluetoolSender              *inherited,
                   const char                  *client_uuid,
                   const GluetoolSenderContext *context)
{
  UdpSender *parent = udp (inherited);
  GluetoolUdpSenderSettings settings = {
    parent->service_name, parent->host, parent->port, (guint) parent->batch.max_bytes,
    client_uuid, parent->tags,
  };
  g_autoptr(GSocketAddress) agent = gluetool_peer_address_dup (&parent->published_agent);

  return gluetool_udp_sender_new (&settings, agent, context);
}
