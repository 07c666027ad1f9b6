/* sender-private.h: what the flush thread hands packed spans to
 *
 * SPDX-License-Identifier: MIT
 *
 * A sender is a transport: it takes encoded Span structs one at a time,
 * packs them as its protocol wants, and sends them, counting each span's
 * fate in the reporter's counters (sent, too large, failed) and telling
 * the reporter the last error. It finds its peer (resolving, connecting,
 * backing off after failures) on its own. The flush thread's loop knows
 * nothing of sockets, datagrams or addresses: a second transport (HTTP to
 * a Jaeger collector) is a second implementation of this table.
 *
 * Who may call what: every function, the flush thread only, inside its
 * region of the process (see process-private.h), but for
 * gluetool_sender_get_n_unsettled(), new_for_child() and
 * forget_inherited(), which a forked child calls on the sender its
 * parent's flush thread left as it was.
 */

#pragma once

#include <stdatomic.h>
#include <sys/socket.h>

#include <gio/gio.h>

#include "encoder-private.h"

G_BEGIN_DECLS

/* The fates a sender counts. The flush thread writes them, relaxed: they
 * order nothing, and readers synchronise with the flush thread otherwise
 * when they need exact numbers (see gluetool_reporter_flush()). */
typedef struct {
  _Atomic guint64 spans_sent;
  _Atomic guint64 batches_sent;      /* datagrams, for UDP */
  _Atomic guint64 dropped_too_large; /* larger than any batch can carry */
  _Atomic guint64 failed_to_send;
} GluetoolSendCounts;

static inline void
gluetool_send_count (_Atomic guint64 *counter,
                     guint64          n)
{
  atomic_fetch_add_explicit (counter, n, memory_order_relaxed);
}

/* Where a sender's peer was when it last reached it, for a child process
 * made by fork() to start from without a lookup: a child's lookup would
 * wait for GLib's resolver threads, which did not come along. Published by
 * the flush thread alone; @version is odd while it writes, so a child whose
 * fork() caught it halfway finds nothing (sender-peer.c). */
typedef struct {
  atomic_uint             version;      /* (atomic) 0: nothing published yet */
  struct sockaddr_storage native;
  gsize                   native_len;
} GluetoolPeerAddress;

void            gluetool_peer_address_publish (GluetoolPeerAddress *self,
                                               GSocketAddress      *address);
/* (transfer full) (nullable) */
GSocketAddress *gluetool_peer_address_dup     (GluetoolPeerAddress *self);

/* What a sender asks of its reporter. */
typedef struct {
  /* The statistics a batch begun now carries (Batch.stats). */
  void (*get_client_stats) (gpointer owner, GluetoolClientStats *stats);
  /* A send failed with @error: flush() and close() name the last one. */
  void (*remember_loss)    (gpointer owner, const GError *error);
} GluetoolSenderOwner;

typedef struct _GluetoolSender GluetoolSender;

/* What the reporter lends a sender for its life. */
typedef struct {
  GluetoolSendCounts        *counts;       /* (unowned) */
  const GluetoolSenderOwner *owner_funcs;
  gpointer                   owner;        /* (unowned) the reporter */
  GCancellable              *cancellable;  /* (unowned) cancelled at close()'s deadline */
} GluetoolSenderContext;

typedef struct {
  /* Finds the peer if it has none (connects, resolves); FALSE with why
   * when it cannot yet, and the spans that come meanwhile fail. Cheap once
   * ready, and after a failure until the sender's back-off has passed. */
  gboolean (*prepare)     (GluetoolSender *self, GError **error);
  /* Packs one encoded Span struct, sending what was packed first when it
   * would not fit with it. Counts it as too large when no batch can.
   * Returns whether it still has a peer: a send may lose it. */
  gboolean (*add_span)    (GluetoolSender *self, const guint8 *span, gsize len);
  /* Sends what is packed now. */
  void     (*send)        (GluetoolSender *self);
  /* At the end of a pass: settles what the transport could not tell yet
   * (a UDP datagram refused after it left). */
  void     (*settle)      (GluetoolSender *self);
  /* Spans packed, or sent with their fate not known yet. */
  guint    (*n_unsettled) (GluetoolSender *self);
  /* Counts every unsettled span as failed: close() ran out of time. */
  void     (*abandon)     (GluetoolSender *self);
  /* The flush thread ends: settles, then lets go of the peer. */
  void     (*stop)        (GluetoolSender *self);
  void     (*free)        (GluetoolSender *self);

  /* In a child made by fork(), on the sender the parent's flush thread left
   * as it was: a new sender of the same kind and settings for the child,
   * starting from what the parent knew of its peer without asking again;
   * and closing what the child shares with the parent (a socket's file
   * descriptor) without touching a lock or freeing a GObject, which a
   * thread fork() did not copy may hold. */
  GluetoolSender *(*new_for_child)   (GluetoolSender               *inherited,
                                      const char                   *client_uuid,
                                      const GluetoolSenderContext  *context);
  void            (*forget_inherited) (GluetoolSender *inherited);
} GluetoolSenderVTable;

struct _GluetoolSender {
  const GluetoolSenderVTable *vtable;
  GluetoolSendCounts         *counts;       /* (unowned) the reporter's */
  const GluetoolSenderOwner  *owner_funcs;
  gpointer                    owner;        /* (unowned) the reporter */
  GCancellable               *cancellable;  /* (unowned) cancelled at close()'s deadline */
};

/* Fills in the part every sender has. */
static inline void
gluetool_sender_init (GluetoolSender              *self,
                      const GluetoolSenderVTable  *vtable,
                      const GluetoolSenderContext *context)
{
  *self = (GluetoolSender) { vtable, context->counts, context->owner_funcs, context->owner,
                             context->cancellable };
}

static inline gboolean
gluetool_sender_prepare (GluetoolSender *self,
                         GError        **error)
{
  return self->vtable->prepare (self, error);
}

static inline gboolean
gluetool_sender_add_span (GluetoolSender *self,
                          const guint8   *span,
                          gsize           len)
{
  return self->vtable->add_span (self, span, len);
}

static inline void
gluetool_sender_send (GluetoolSender *self)
{
  self->vtable->send (self);
}

static inline void
gluetool_sender_settle (GluetoolSender *self)
{
  self->vtable->settle (self);
}

static inline guint
gluetool_sender_get_n_unsettled (GluetoolSender *self)
{
  return self->vtable->n_unsettled (self);
}

static inline void
gluetool_sender_abandon (GluetoolSender *self)
{
  self->vtable->abandon (self);
}

static inline void
gluetool_sender_stop (GluetoolSender *self)
{
  self->vtable->stop (self);
}

static inline void
gluetool_sender_free (GluetoolSender *self)
{
  if (self != NULL)
    self->vtable->free (self);
}

static inline GluetoolSender *
gluetool_sender_new_for_child (GluetoolSender              *inherited,
                               const char                  *client_uuid,
                               const GluetoolSenderContext *context)
{
  return inherited->vtable->new_for_child (inherited, client_uuid, context);
}

static inline void
gluetool_sender_forget_inherited (GluetoolSender *inherited)
{
  inherited->vtable->forget_inherited (inherited);
}

/* ---- The Process every batch carries (sender-process.c) ------------------ */

/* Appends the compact Process struct: @service_name and the tags that say
 * which client this is (jaeger.version, hostname, ip, client-uuid), then
 * the tracer's own @tags (nullable) (element-type GluetoolTracerTag). The
 * ip is a non-loopback IPv4 address of the host, else @socket's own
 * (nullable), else 127.0.0.1. */
void gluetool_sender_encode_process (GluetoolBuffer *process,
                                     const char     *service_name,
                                     const char     *client_uuid,
                                     GPtrArray      *tags,
                                     GSocket        *socket);

/* ---- UDP: emitBatch datagrams to a Jaeger agent (sender-udp.c) ---------- */

typedef struct {
  const char *service_name;
  const char *host;
  guint       port;
  guint       max_packet_size;
  const char *client_uuid;
  /* (nullable) (element-type GluetoolTracerTag) the tracer's tags, added
   * to the Process after the client's own */
  GPtrArray  *tags;
} GluetoolUdpSenderSettings;

/* A sender of compact `emitBatch` datagrams of at most max_packet_size
 * bytes on a connected UDP socket, the host resolved in the flush thread.
 * @inherited_agent (nullable): where a parent process was sending, for a
 * forked child's first connection, with no lookup. The settings are
 * copied. */
GluetoolSender *gluetool_udp_sender_new (const GluetoolUdpSenderSettings *settings,
                                         GSocketAddress                  *inherited_agent,
                                         const GluetoolSenderContext     *context);

/* ---- HTTP: binary Batches to a Jaeger collector (sender-http.c) ---------- */

#ifdef GLUETOOL_HAVE_SOUP
typedef struct {
  const char *service_name;
  const char *endpoint;        /* an http:// or https:// URL with no user info */
  gsize       max_batch_size;  /* bytes of a request's body */
  const char *auth_token;      /* (nullable) */
  const char *user;            /* (nullable) */
  const char *password;        /* (nullable) */
  const char *tls_ca_file;     /* (nullable) certificates to trust; NULL: the system's */
  const char *client_uuid;
  /* (nullable) (element-type GluetoolTracerTag) the tracer's tags, added
   * to the Process after the client's own */
  GPtrArray  *tags;
} GluetoolHttpSenderSettings;

/* A sender that POSTs binary Batches of at most max_batch_size bytes to
 * the endpoint, one at a time from the flush thread, which waits for each
 * (a bounded time: see sender-http.c), through a SoupSession made there.
 * The settings are copied. */
GluetoolSender *gluetool_http_sender_new (const GluetoolHttpSenderSettings *settings,
                                          const GluetoolSenderContext      *context);
#endif

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GluetoolSender, gluetool_sender_free)

G_END_DECLS
