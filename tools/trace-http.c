/* trace-http.c: the HTTP side of `gluetool-trace listen`: a Jaeger
 * collector's POST /api/traces, and what its HTTP servers share
 *
 * SPDX-License-Identifier: MIT
 *
 * A Jaeger client with JAEGER_ENDPOINT set POSTs each batch to a collector
 * as one Thrift binary-protocol Batch struct, with no message header
 * (Content-Type application/x-thrift). The collector answers 202 Accepted.
 *
 * No request may make the receiver hold more than the body limit: every
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

#include <libsoup/soup.h>
#include <string.h>

struct _TraceHttpCollector {
  SoupServer           *server;
  GSocketService       *service;
  gsize                 max_body;
  TraceHttpBatchFunc    on_batch;
  TraceHttpRefusedFunc  on_refused;
  gpointer              user_data;
};

/* What one POST to /api/traces has sent so far. */
typedef struct {
  GByteArray *body;       /* at most max_body bytes */
  guint64     received;   /* every byte, kept or not */
  gboolean    too_large;
} RequestBody;

#define REQUEST_BODY_KEY "gluetool-trace-request-body"

static void
request_body_free (RequestBody *body)
{
  g_clear_pointer (&body->body, g_byte_array_unref);
  g_free (body);
}

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
  if (!g_socket_listen (socket, error))
    return NULL;

  return g_steal_pointer (&socket);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source,
             gpointer           user_data)
{
  SoupServer *server = user_data;
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr(GError) error = NULL;

  /* Fails only for a connection already gone: nothing to answer. */
  if (!soup_server_accept_iostream (server, G_IO_STREAM (connection), local, remote, &error))
    g_debug ("an HTTP connection not taken: %s", error->message);
  return TRUE;
}

GSocketService *
trace_http_serve (SoupServer  *server,
                  GSocket     *socket,
                  GError     **error)
{
  g_autoptr(GSocketService) service = NULL;

  g_return_val_if_fail (SOUP_IS_SERVER (server), NULL);
  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Connections are accepted here and handed to @server, rather than
   * through soup_server_listen_socket(): libsoup 3.2's own accept loop
   * never frees the GSocket of a connection (a leak per connection, which
   * LeakSanitizer reports), where a stream handed over is freed with its
   * connection. */
  service = g_socket_service_new ();
  if (!g_socket_listener_add_socket (G_SOCKET_LISTENER (service), socket, NULL, error))
    return NULL;
  g_signal_connect_object (service, "incoming", G_CALLBACK (on_incoming), server, 0);
  g_socket_service_start (service);
  return g_steal_pointer (&service);
}

void
trace_http_stop_serving (SoupServer      *server,
                         GSocketService  *service)
{
  g_return_if_fail (SOUP_IS_SERVER (server));
  g_return_if_fail (G_IS_SOCKET_SERVICE (service));

  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  soup_server_disconnect (server);
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

  if (body == NULL)
    return;
  body->received += len;
  if (body->too_large)
    return;
  if (body->received > self->max_body)
    {
      /* Thrown away from now on: the answer will be 413. */
      body->too_large = TRUE;
      g_byte_array_set_size (body->body, 0);
      return;
    }
  g_byte_array_append (body->body, g_bytes_get_data (chunk, NULL), (guint) len);
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
  body->body = g_byte_array_new ();
  g_object_set_data_full (G_OBJECT (msg), REQUEST_BODY_KEY, body,
                          (GDestroyNotify) request_body_free);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), self);
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
  g_auto(TraceDecoded) decoded = { NULL, };
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

  if (!trace_decode_http_body (body->body->data, body->body->len, &decoded, &error))
    {
      g_autofree char *why = g_strdup_printf ("not a Thrift binary Batch (%u bytes): %s",
                                              body->body->len, error->message);

      refuse (self, msg, SOUP_STATUS_BAD_REQUEST, TRUE, why);
      return;
    }

  soup_server_message_set_status (msg, SOUP_STATUS_ACCEPTED, NULL);
  self->on_batch (&decoded, self->user_data);
}

/* ---- The collector ----------------------------------------------------------------- */

TraceHttpCollector *
trace_http_collector_new (GSocket               *socket,
                          gsize                  max_body,
                          TraceHttpBatchFunc     on_batch,
                          TraceHttpRefusedFunc   on_refused,
                          gpointer               user_data,
                          GError               **error)
{
  g_autoptr(TraceHttpCollector) self = NULL;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (max_body > 0 && max_body <= G_MAXUINT, NULL);
  g_return_val_if_fail (on_batch != NULL && on_refused != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_new0 (TraceHttpCollector, 1);
  self->max_body = max_body;
  self->on_batch = on_batch;
  self->on_refused = on_refused;
  self->user_data = user_data;
  self->server = soup_server_new ("server-header", "gluetool-trace ", NULL);

  /* One handler for every path, so that no request escapes the early
   * handler's limits: libsoup would otherwise gather any body whole. */
  soup_server_add_early_handler (self->server, NULL, early_handler, self, NULL);
  soup_server_add_handler (self->server, NULL, handler, self, NULL);

  self->service = trace_http_serve (self->server, socket, error);
  if (self->service == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

void
trace_http_collector_stop (TraceHttpCollector *self)
{
  g_return_if_fail (self != NULL);

  trace_http_stop_serving (self->server, self->service);
}

void
trace_http_collector_free (TraceHttpCollector *self)
{
  if (self == NULL)
    return;
  if (self->service != NULL)
    trace_http_stop_serving (self->server, self->service);
  g_clear_object (&self->service);
  g_clear_object (&self->server);
  g_free (self);
}
