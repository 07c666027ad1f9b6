/* trace-http.h: the HTTP side of `gluetool-trace listen`: a Jaeger
 * collector's POST /api/traces, and what its HTTP servers share
 *
 * SPDX-License-Identifier: MIT
 *
 * Built only with libsoup 3 (meson's `soup` feature). Everything runs on the
 * thread-default main context of the thread that creates the server: the
 * main thread's, where the listener decodes UDP datagrams too, so a batch
 * that arrives over HTTP goes through exactly the same store and output.
 */

#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "trace-decode.h"

G_BEGIN_DECLS

/* Jaeger's collector port for Thrift over HTTP. */
#define TRACE_HTTP_COLLECTOR_PORT 14268

/* The path Jaeger clients POST batches to (JAEGER_ENDPOINT). */
#define TRACE_HTTP_COLLECTOR_PATH "/api/traces"

/* The largest request body taken by default: a client's batch is a few
 * hundred kilobytes at most (the Go client's default is 5 MB for a whole
 * flush), so this leaves room without letting one request take much
 * memory. */
#define TRACE_HTTP_DEFAULT_MAX_BODY (16 * 1024 * 1024)

typedef struct _TraceHttpCollector TraceHttpCollector;

/* A batch that decoded: the callee takes what it needs from @decoded. */
typedef void (*TraceHttpBatchFunc)   (const TraceDecoded *decoded,
                                      gpointer            user_data);

/* A request refused with @status; @peer is "ADDRESS:PORT", @why says what
 * was wrong, in words; @body_refused tells a body refused (400, 413, 415)
 * from a request for something this server does not serve (404, 405). */
typedef void (*TraceHttpRefusedFunc) (const char *peer,
                                      const char *method,
                                      const char *path,
                                      guint       status,
                                      const char *why,
                                      gboolean    body_refused,
                                      gpointer    user_data);

/* A TCP socket bound to @address port @port and listening (port 0 picks a
 * free one). On failure, an address in use is G_IO_ERROR_ADDRESS_IN_USE. */
GSocket            *trace_http_listen_socket     (GInetAddress  *address,
                                                  guint16        port,
                                                  GError       **error);

/* Accepts connections on @socket (listening) and hands them to @server,
 * from the thread-default main context. */
GSocketService     *trace_http_serve             (SoupServer     *server,
                                                  GSocket        *socket,
                                                  GError        **error);

/* Stops accepting, closes @service's socket and @server's connections. */
void                trace_http_stop_serving      (SoupServer     *server,
                                                  GSocketService *service);

/* Serves POST /api/traces on @socket (from trace_http_listen_socket()),
 * taking bodies of at most @max_body bytes. @on_batch and @on_refused are
 * called from the thread-default main context. */
TraceHttpCollector *trace_http_collector_new     (GSocket               *socket,
                                                  gsize                  max_body,
                                                  TraceHttpBatchFunc     on_batch,
                                                  TraceHttpRefusedFunc   on_refused,
                                                  gpointer               user_data,
                                                  GError               **error);

/* Stops accepting connections and requests; what is already decoded has
 * been handed over. */
void                trace_http_collector_stop    (TraceHttpCollector    *self);

void                trace_http_collector_free    (TraceHttpCollector    *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceHttpCollector, trace_http_collector_free)

G_END_DECLS
