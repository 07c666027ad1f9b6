/* trace-http.c: the HTTP side of `gluetool-trace listen`: a Jaeger
 * collector's POST /api/traces, and what its HTTP servers share
 *
 * SPDX-License-Identifier: MIT
 *
 * A Jaeger client with JAEGER_ENDPOINT set POSTs each batch to a collector
 * as one Thrift binary-protocol Batch struct, with no message header
 * (Content-Type application/x-thrift). The collector answers 202 Accepted.
 *
 * No request may make the receiver hold more than the body limit, and no
 * more than --max-http-connections requests are open at once, so the
 * bodies held take at most connections x limit bytes: every
 * request gets an early handler, called once its headers are read and
 * before its body, which turns off libsoup's own accumulation of the body
 * and refuses at once what it can (wrong path or method, wrong content
 * type, a Content-Length over the limit). The body is then gathered here,
 * chunk by chunk, up to the limit; past it, the rest is read and thrown
 * away, and the answer is 413. An early refusal has libsoup read and throw
 * away the body as well (or, after "Expect: 100-continue", not read it at
 * all), and every refusal closes the connection.
 */

#include "trace-http.h"

#include <errno.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct _TraceHttpCollector {
  SoupServer           *server;
  TraceHttpServing     *serving;
  gsize                 max_body;
  TraceHttpScannedFunc  on_scanned;   /* (nullable) */
  TraceHttpBatchFunc    on_batch;
  TraceHttpRefusedFunc  on_refused;
  gpointer              user_data;
};

/* What one POST to /api/traces has sent so far. */
typedef struct {
  guint8       *data;       /* (owned) */
  gsize         len;
  gsize         allocated;  /* never more than max_body */
  guint64       received;   /* every byte, kept or not */
  gboolean      too_large;

  /* Once accepted, what is handed over after the answer: one or the other. */
  TraceScan     scan;       /* (owned) read by the scan, when scanned */
  gboolean      scanned;
  TraceDecoded  decoded;    /* (owned) from the reference codec */
} RequestBody;

#define REQUEST_BODY_KEY "gluetool-trace-request-body"

static void
request_body_free (RequestBody *body)
{
  g_free (body->data);
  trace_scan_clear (&body->scan);
  trace_decoded_clear (&body->decoded);
  g_free (body);
}

/* Connections waiting to be accepted: GLib's default is 10. */
#define LISTEN_BACKLOG 128

/* ---- Listening ------------------------------------------------------------------- */

GSocket *
trace_http_listen_socket (GInetAddress  *address,
                          guint16        port,
                          GError       **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) bind_address = NULL;

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  socket = g_socket_new (g_inet_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;

  /* SO_REUSEADDR, as any TCP server: a restart need not wait for the last
   * run's connections in TIME_WAIT. Linux still refuses a port another
   * socket listens on. */
  bind_address = g_inet_socket_address_new (address, port);
  if (!g_socket_bind (socket, bind_address, TRUE, error))
    return NULL;
  /* Clients over the connection limit wait in this backlog to be
   * accepted; past it, Linux refuses or drops their connections. */
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_listen (socket, error))
    return NULL;

  return g_steal_pointer (&socket);
}

/* ---- The key's check ---------------------------------------------------------------- */

/* GIO loads a certificate and a key without comparing them, and a server
 * whose key is not its certificate's completes its side of every
 * handshake: each client then refuses the signature. So the pair is tried
 * once, before anything listens, in a handshake with itself over a socket
 * pair, whose client accepts any certificate (who signed it is the
 * clients' concern, not the receiver's) but checks the signature. A
 * certificate whose key usage does not allow TLS (a CA's, say) fails there
 * too, as it would with every client. Over a socket pair that takes
 * milliseconds; a handshake that stalls is cancelled at the deadline. */
#define SELF_HANDSHAKE_TIMEOUT_S 10

typedef struct {
  GError   *error;      /* (owned) (nullable) */
  gboolean  done;
} HandshakeSide;

static gboolean
accept_any_certificate (GTlsConnection       *connection,
                        GTlsCertificate      *peer_certificate,
                        GTlsCertificateFlags  errors,
                        gpointer              user_data)
{
  return TRUE;
}

static void
on_self_handshake_done (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  HandshakeSide *side = user_data;

  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &side->error);
  side->done = TRUE;
}

static gboolean
on_self_handshake_timeout (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

/* One end of a connected pair of Unix sockets, as a GIO stream. */
static GIOStream *
stream_from_fd (int      fd,
                GError **error)
{
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, error);

  if (socket == NULL)
    {
      close (fd);
      return NULL;
    }
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

/* A server with @certificate and a client that accepts any, over a pair
 * of connected Unix sockets. */
static gboolean
make_tls_pair (GTlsCertificate  *certificate,
               GIOStream       **server,
               GIOStream       **client,
               GError          **error)
{
  g_autoptr(GIOStream) server_end = NULL;
  g_autoptr(GIOStream) client_end = NULL;
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "no socket pair to try them on: %s", g_strerror (saved_errno));
      return FALSE;
    }
  server_end = stream_from_fd (fds[0], error);
  if (server_end == NULL)
    {
      close (fds[1]);
      return FALSE;
    }
  client_end = stream_from_fd (fds[1], error);
  if (client_end == NULL)
    return FALSE;
  *server = g_tls_server_connection_new (server_end, certificate, error);
  if (*server == NULL)
    return FALSE;
  *client = g_tls_client_connection_new (client_end, NULL, error);
  if (*client == NULL)
    return FALSE;
  g_signal_connect (*client, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  return TRUE;
}

static gboolean
handshake_with_itself (GTlsCertificate  *certificate,
                       GError          **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSource) timeout = NULL;
  g_autoptr(GIOStream) server = NULL;
  g_autoptr(GIOStream) client = NULL;
  HandshakeSide server_side = { NULL, FALSE };
  HandshakeSide client_side = { NULL, FALSE };
  GError **failed;
  gboolean timed_out;

  if (!make_tls_pair (certificate, &server, &client, error))
    return FALSE;

  g_main_context_push_thread_default (context);
  timeout = g_timeout_source_new_seconds (SELF_HANDSHAKE_TIMEOUT_S);
  g_source_set_callback (timeout, on_self_handshake_timeout, cancellable, NULL);
  g_source_attach (timeout, context);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (server), G_PRIORITY_DEFAULT, cancellable,
                                    on_self_handshake_done, &server_side);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (client), G_PRIORITY_DEFAULT, cancellable,
                                    on_self_handshake_done, &client_side);
  /* A side that failed leaves the other waiting for a message that will
   * not come: it is cancelled. */
  while (!server_side.done || !client_side.done)
    {
      g_main_context_iteration (context, TRUE);
      if (client_side.error != NULL || server_side.error != NULL)
        g_cancellable_cancel (cancellable);
    }
  timed_out = g_source_is_destroyed (timeout);
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);

  if (client_side.error == NULL && server_side.error == NULL)
    return TRUE;
  /* The side that failed says why (the client: the signature it refused);
   * the other was cancelled. */
  failed = &client_side.error;
  if (client_side.error == NULL
      || g_error_matches (client_side.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    failed = server_side.error != NULL ? &server_side.error : &client_side.error;
  if (timed_out)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 "a TLS handshake between them did not end within %d s",
                 SELF_HANDSHAKE_TIMEOUT_S);
  else
    g_propagate_prefixed_error (error, g_steal_pointer (failed),
                                "they fail a TLS handshake with each other, as when the key is "
                                "not the certificate's or the certificate may not serve TLS: ");
  g_clear_error (&client_side.error);
  g_clear_error (&server_side.error);
  return FALSE;
}

GTlsCertificate *
trace_http_load_certificate (const char  *certificate_path,
                             const char  *key_path,
                             GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  GTlsCertificate *certificate;

  g_return_val_if_fail (certificate_path != NULL && key_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Without a TLS backend GIO's error says only that TLS is not there. */
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "GIO has no TLS support here (install glib-networking)");
      return NULL;
    }
  certificate = g_tls_certificate_new_from_files (certificate_path, key_path, &local_error);
  if (certificate == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "cannot use the certificate %s with the key %s: ",
                                  certificate_path, key_path);
      return NULL;
    }
  if (!handshake_with_itself (certificate, &local_error))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "cannot use the certificate %s with the key %s: ",
                                  certificate_path, key_path);
      g_object_unref (certificate);
      return NULL;
    }
  return certificate;
}

/* ---- Accepting --------------------------------------------------------------------- */

/* After a failed accept, how long until the next try: the listening
 * socket stays readable while the failure lasts (out of descriptors, say),
 * so trying again at once would spin. */
#define ACCEPT_RETRY_MS 100

struct _TraceHttpServing {
  SoupServer      *server;          /* (owned) */
  GTlsCertificate *certificate;     /* (owned) (nullable) the server's: TLS when set */
  GSocket         *listener;        /* (owned) */
  GMainContext    *context;         /* (owned) */
  TraceHttpLimits  limits;
  GSource         *accept_source;   /* (owned) (nullable): while accepting */
  GSource         *retry_source;    /* (owned) (nullable): after a failed accept */
  GHashTable      *connections;     /* (owned) set of the connections' GSockets, weakly held */
  gboolean         stopped;
  gint64           failure_told_us; /* when a failed accept was last told */
  guint64          failures_untold;
};

static void watch_listener (TraceHttpServing *self);

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

/* A connection's socket libsoup let go of (closed by either side, or timed
 * out): room for another. */
static void
on_connection_gone (gpointer  user_data,
                    GObject  *where_the_socket_was)
{
  TraceHttpServing *self = user_data;

  g_hash_table_remove (self->connections, where_the_socket_was);
  g_debug ("an HTTP connection ended: %u open", g_hash_table_size (self->connections));
  if (!self->stopped && self->accept_source == NULL && self->retry_source == NULL)
    watch_listener (self);
}

/* The server side of TLS over @connection, with the server's certificate.
 * libsoup 3.2 does this itself only for connections its own accept loop
 * took, so it is done here; the handshake runs when libsoup first reads
 * the request, and a client that fails it (one that does not trust the
 * certificate) is one whose connection ends without a request. */
static GIOStream *
wrap_in_tls (TraceHttpServing  *self,
             GSocketConnection *connection)
{
  g_autoptr(GError) error = NULL;
  GIOStream *tls = g_tls_server_connection_new (G_IO_STREAM (connection), self->certificate,
                                                &error);

  if (tls == NULL)
    {
      g_debug ("no TLS for an HTTP connection: %s", error->message);
      return NULL;
    }
  /* As libsoup's own: HTTP says where a body ends, and clients often
   * close without TLS's close_notify. */
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);
  return tls;
}

static void
take_connection (TraceHttpServing *self,
                 GSocket          *client)
{
  g_autoptr(GSocketConnection) connection = g_socket_connection_factory_create_connection (client);
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GError) error = NULL;

  /* A GSocket's timeout also bounds the sources made from it, so libsoup's
   * reads and writes, which wait on them, fail with G_IO_ERROR_TIMED_OUT
   * after that long without a byte, and libsoup closes the connection. */
  g_socket_set_timeout (client, self->limits.idle_timeout_s);

  g_hash_table_add (self->connections, client);
  g_object_weak_ref (G_OBJECT (client), on_connection_gone, self);
  g_debug ("an HTTP connection accepted: %u open", g_hash_table_size (self->connections));

  stream = self->certificate != NULL ? wrap_in_tls (self, connection)
                                     : g_object_ref (G_IO_STREAM (connection));
  if (stream == NULL)
    return;
  /* Fails only for a connection already gone: nothing to answer. The
   * socket is what to watch: libsoup 3.2 may drop the GSocketConnection
   * after a request and go on with the GSocket alone, until it closes it. */
  if (!soup_server_accept_iostream (self->server, stream, local, remote, &error))
    g_debug ("an HTTP connection not taken: %s", error->message);
}

/* Says why accepting failed, at most once a second, with the number of
 * failures since the last time. */
static void
tell_accept_failure (TraceHttpServing *self,
                     const GError     *error)
{
  gint64 now = g_get_monotonic_time ();

  self->failures_untold++;
  if (self->failure_told_us != 0 && now - self->failure_told_us < G_USEC_PER_SEC)
    return;
  g_printerr ("gluetool-trace: cannot accept an HTTP connection (%" G_GUINT64_FORMAT
              " time%s since the last message): %s; trying again every %d ms\n",
              self->failures_untold, self->failures_untold == 1 ? "" : "s",
              error->message, ACCEPT_RETRY_MS);
  self->failure_told_us = now;
  self->failures_untold = 0;
}

static gboolean
on_retry (gpointer user_data)
{
  TraceHttpServing *self = user_data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  if (g_hash_table_size (self->connections) < self->limits.max_connections)
    watch_listener (self);
  return G_SOURCE_REMOVE;
}

/* Accepts what is waiting, up to the connection limit. Returns whether to
 * go on watching the listener: not at the limit (a connection that ends
 * watches it again) nor after a failure (the retry timeout does). */
static gboolean
accept_waiting (TraceHttpServing *self)
{
  while (g_hash_table_size (self->connections) < self->limits.max_connections)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) client = g_socket_accept (self->listener, NULL, &error);

      if (client == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return TRUE;
          tell_accept_failure (self, error);
          self->retry_source = g_timeout_source_new (ACCEPT_RETRY_MS);
          g_source_set_callback (self->retry_source, on_retry, self, NULL);
          g_source_set_static_name (self->retry_source, "gluetool-trace HTTP accept retry");
          g_source_attach (self->retry_source, self->context);
          return FALSE;
        }
      take_connection (self, client);
    }
  return FALSE;
}

static gboolean
on_acceptable (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  TraceHttpServing *self = user_data;

  if (accept_waiting (self))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->accept_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
watch_listener (TraceHttpServing *self)
{
  g_assert (self->accept_source == NULL);

  self->accept_source = g_socket_create_source (self->listener, G_IO_IN, NULL);
  g_source_set_callback (self->accept_source, G_SOURCE_FUNC (on_acceptable), self, NULL);
  g_source_set_static_name (self->accept_source, "gluetool-trace HTTP accept");
  g_source_attach (self->accept_source, self->context);
}

TraceHttpServing *
trace_http_serve (SoupServer             *server,
                  GSocket                *socket,
                  const TraceHttpLimits  *limits,
                  GError                **error)
{
  TraceHttpServing *self;

  g_return_val_if_fail (SOUP_IS_SERVER (server), NULL);
  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (limits != NULL && limits->max_connections > 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Connections are accepted here and handed to @server, rather than
   * through soup_server_listen_socket(): libsoup 3.2's own accept loop
   * never frees the GSocket of a connection (a leak per connection, which
   * LeakSanitizer reports) and has no connection limit, and
   * GSocketService's tries again at once after a failed accept, which
   * spins while the process is out of descriptors. */
  g_socket_set_blocking (socket, FALSE);

  self = g_new0 (TraceHttpServing, 1);
  self->server = g_object_ref (server);
  g_object_get (server, "tls-certificate", &self->certificate, NULL);
  self->listener = g_object_ref (socket);
  self->context = g_main_context_ref_thread_default ();
  self->limits = *limits;
  self->connections = g_hash_table_new (NULL, NULL);
  watch_listener (self);
  return self;
}

guint
trace_http_serving_get_n_connections (TraceHttpServing *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return g_hash_table_size (self->connections);
}

void
trace_http_stop_serving (TraceHttpServing *self)
{
  g_return_if_fail (self != NULL);

  if (self->stopped)
    return;
  self->stopped = TRUE;
  clear_source (&self->accept_source);
  clear_source (&self->retry_source);
  g_socket_close (self->listener, NULL);
  soup_server_disconnect (self->server);
}

void
trace_http_serving_free (TraceHttpServing *self)
{
  GHashTableIter iter;
  gpointer socket;

  if (self == NULL)
    return;
  trace_http_stop_serving (self);

  /* A connection libsoup still holds must not tell a freed loop it is gone. */
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &socket, NULL))
    g_object_weak_unref (socket, on_connection_gone, self);
  g_clear_pointer (&self->connections, g_hash_table_unref);
  g_clear_object (&self->server);
  g_clear_object (&self->certificate);
  g_clear_object (&self->listener);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self);
}

/* ---- Answering --------------------------------------------------------------------- */

static char *
describe_peer (SoupServerMessage *msg)
{
  GSocketAddress *address = soup_server_message_get_remote_address (msg);
  g_autofree char *ip = NULL;
  GInetAddress *inet;

  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("?");
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  ip = g_inet_address_to_string (inet);
  return g_strdup_printf (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6
                            ? "[%s]:%u" : "%s:%u",
                          ip, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)));
}

/* Refuses @msg with @status and says why, to the client in the body and to
 * the listener through on_refused. The connection closes after the answer:
 * a client that sent something wrong starts afresh. */
static void
refuse (TraceHttpCollector *self,
        SoupServerMessage  *msg,
        guint               status,
        gboolean            body_refused,
        const char         *why)
{
  g_autofree char *peer = describe_peer (msg);
  g_autofree char *text = g_strconcat (why, "\n", NULL);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  if (status == SOUP_STATUS_METHOD_NOT_ALLOWED)
    soup_message_headers_replace (headers, "Allow", "POST");
  soup_message_headers_replace (headers, "Connection", "close");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY,
                                    text, strlen (text));

  self->on_refused (peer, soup_server_message_get_method (msg),
                    g_uri_get_path (soup_server_message_get_uri (msg)), status, why,
                    body_refused, self->user_data);
}

static gboolean
is_thrift_binary (const char *content_type)
{
  /* Media types are case-insensitive; parameters (charset) are ignored. */
  return content_type != NULL
         && (g_ascii_strcasecmp (content_type, "application/x-thrift") == 0
             || g_ascii_strcasecmp (content_type, "application/vnd.apache.thrift.binary") == 0);
}

/* ---- The body, as it comes --------------------------------------------------------- */

static void
on_got_chunk (SoupServerMessage *msg,
              GBytes            *chunk,
              gpointer           user_data)
{
  TraceHttpCollector *self = user_data;
  RequestBody *body = g_object_get_data (G_OBJECT (msg), REQUEST_BODY_KEY);
  gsize len = g_bytes_get_size (chunk);

  if (body == NULL || len == 0)
    return;
  body->received += len;
  if (body->too_large)
    return;
  if (body->received > self->max_body)
    {
      /* Thrown away from now on: the answer will be 413. */
      body->too_large = TRUE;
      g_clear_pointer (&body->data, g_free);
      body->len = body->allocated = 0;
      return;
    }
  /* Doubling, but never past the limit, so that a body takes at most
   * max_body bytes however it grew. */
  if (body->len + len > body->allocated)
    {
      body->allocated = MAX (body->len + len, MIN (MAX (body->allocated * 2, 64 * 1024),
                                                   self->max_body));
      body->data = g_realloc (body->data, body->allocated);
    }
  memcpy (body->data + body->len, g_bytes_get_data (chunk, NULL), len);
  body->len += len;
}

/* Called once the headers are read, before any of the body: refuses what
 * it can, and otherwise gathers the body itself, within the limit. */
static void
early_handler (SoupServer        *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  TraceHttpCollector *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  RequestBody *body;

  /* libsoup keeps no copy of any body: a refused one is read and dropped. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);

  if (g_strcmp0 (path, TRACE_HTTP_COLLECTOR_PATH) != 0)
    {
      refuse (self, msg, SOUP_STATUS_NOT_FOUND, FALSE,
              "not found: this collector serves POST " TRACE_HTTP_COLLECTOR_PATH);
      return;
    }
  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      refuse (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, FALSE,
              "method not allowed: " TRACE_HTTP_COLLECTOR_PATH " takes POST");
      return;
    }
  if (!is_thrift_binary (soup_message_headers_get_content_type (headers, NULL)))
    {
      g_autofree char *why = NULL;
      const char *type = soup_message_headers_get_one (headers, "Content-Type");
      g_autofree char *shown = g_strescape (type != NULL ? type : "", NULL);

      why = g_strdup_printf ("unsupported media type \"%s\": a Batch in the Thrift binary "
                             "protocol is application/x-thrift", shown);
      refuse (self, msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, TRUE, why);
      return;
    }
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (headers) > (goffset) self->max_body)
    {
      g_autofree char *why =
        g_strdup_printf ("a body of %" G_GOFFSET_FORMAT " bytes: at most %" G_GSIZE_FORMAT
                         " are taken (--max-http-body)",
                         soup_message_headers_get_content_length (headers), self->max_body);

      refuse (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, TRUE, why);
      return;
    }

  body = g_new0 (RequestBody, 1);
  /* A body of known length is gathered in one allocation of that size. */
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH)
    {
      body->allocated = (gsize) soup_message_headers_get_content_length (headers);
      body->data = g_malloc (body->allocated);
    }
  g_object_set_data_full (G_OBJECT (msg), REQUEST_BODY_KEY, body,
                          (GDestroyNotify) request_body_free);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), self);
}

/* The answer to an accepted batch is out (or its connection is gone):
 * the batch is handed over now, so that the client's next request is not
 * held up by the counting or showing. */
static void
on_accepted_answered (SoupServerMessage *msg,
                      gpointer           user_data)
{
  TraceHttpCollector *self = user_data;
  RequestBody *body = g_object_get_data (G_OBJECT (msg), REQUEST_BODY_KEY);

  g_return_if_fail (body != NULL);

  if (body->scanned)
    self->on_scanned (&body->scan, self->user_data);
  else
    self->on_batch (&body->decoded, self->user_data);
}

static void
accept_batch (TraceHttpCollector *self,
              SoupServerMessage  *msg)
{
  RequestBody *body = g_object_get_data (G_OBJECT (msg), REQUEST_BODY_KEY);

  /* The body's bytes are no longer needed: only what was read from them. */
  g_clear_pointer (&body->data, g_free);
  soup_server_message_set_status (msg, SOUP_STATUS_ACCEPTED, NULL);
  g_signal_connect (msg, "finished", G_CALLBACK (on_accepted_answered), self);
}

/* Called once the whole body is read, unless the early handler refused it. */
static void
handler (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  TraceHttpCollector *self = user_data;
  RequestBody *body = g_object_get_data (G_OBJECT (msg), REQUEST_BODY_KEY);
  g_autoptr(GError) error = NULL;

  /* Only requests the early handler accepted get here. */
  g_return_if_fail (body != NULL);

  if (body->too_large)
    {
      g_autofree char *why =
        g_strdup_printf ("a body of %" G_GUINT64_FORMAT " bytes: at most %" G_GSIZE_FORMAT
                         " are taken (--max-http-body)", body->received, self->max_body);

      refuse (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, TRUE, why);
      return;
    }

  /* Counting only: read in place when the scan knows the shape; the
   * reference codec judges anything else. */
  if (self->on_scanned != NULL)
    {
      trace_scan_init (&body->scan);
      body->scanned = trace_scan_http_body (&body->scan, body->data, body->len);
      if (body->scanned)
        {
          accept_batch (self, msg);
          return;
        }
    }

  if (!trace_decode_http_body (body->data, body->len, &body->decoded, &error))
    {
      g_autofree char *why = g_strdup_printf ("not a Thrift binary Batch (%" G_GSIZE_FORMAT
                                              " bytes): %s", body->len, error->message);

      refuse (self, msg, SOUP_STATUS_BAD_REQUEST, TRUE, why);
      return;
    }

  accept_batch (self, msg);
}

/* ---- The collector ----------------------------------------------------------------- */

TraceHttpCollector *
trace_http_collector_new (GSocket               *socket,
                          GTlsCertificate       *certificate,
                          gsize                  max_body,
                          const TraceHttpLimits *limits,
                          TraceHttpBatchFunc     on_batch,
                          TraceHttpRefusedFunc   on_refused,
                          gpointer               user_data,
                          GError               **error)
{
  g_autoptr(TraceHttpCollector) self = NULL;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (max_body > 0 && max_body <= G_MAXUINT, NULL);
  g_return_val_if_fail (limits != NULL, NULL);
  g_return_val_if_fail (on_batch != NULL && on_refused != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_new0 (TraceHttpCollector, 1);
  self->max_body = max_body;
  self->on_batch = on_batch;
  self->on_refused = on_refused;
  self->user_data = user_data;
  self->server = soup_server_new ("server-header", "gluetool-trace ",
                                  "tls-certificate", certificate, NULL);

  /* One handler for every path, so that no request escapes the early
   * handler's limits: libsoup would otherwise gather any body whole. */
  soup_server_add_early_handler (self->server, NULL, early_handler, self, NULL);
  soup_server_add_handler (self->server, NULL, handler, self, NULL);

  self->serving = trace_http_serve (self->server, socket, limits, error);
  if (self->serving == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

void
trace_http_collector_count_only (TraceHttpCollector   *self,
                                 TraceHttpScannedFunc  on_scanned)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (on_scanned != NULL);

  self->on_scanned = on_scanned;
}

void
trace_http_collector_stop (TraceHttpCollector *self)
{
  g_return_if_fail (self != NULL);

  trace_http_stop_serving (self->serving);
}

void
trace_http_collector_free (TraceHttpCollector *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->serving, trace_http_serving_free);
  g_clear_object (&self->server);
  g_free (self);
}
