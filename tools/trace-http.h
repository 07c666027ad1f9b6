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
#include "trace-scan.h"

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

/* A batch read in place by the scan (trace_scan_http_body()): its counts. */
typedef void (*TraceHttpScannedFunc) (const TraceScan    *scan,
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

/* What one HTTP server lets its clients hold. A server holds at most
 * @max_connections connections at once: past that it stops accepting, and
 * new clients wait in the kernel's listen backlog until one ends. A
 * connection on which no byte moves either way for @idle_timeout_s seconds
 * (an idle keep-alive connection, a client that stalls mid-request, or one
 * that does not read its answer) is closed. */
typedef struct {
  guint max_connections;
  guint idle_timeout_s;
} TraceHttpLimits;

/* An accept loop feeding one SoupServer. */
typedef struct _TraceHttpServing TraceHttpServing;

/* The certificate and key in @certificate_path and @key_path (PEM), for
 * serving over TLS, tried in a handshake with each other; an error names
 * the files and says why they cannot be used. */
GTlsCertificate    *trace_http_load_certificate  (const char   *certificate_path,
                                                  const char   *key_path,
                                                  GError      **error);

/* Accepts connections on @socket (listening) within @limits and hands them
 * to @server, from the thread-default main context; over TLS when @server
 * has a tls-certificate. A failed accept (out of file descriptors, say) is
 * told on stderr at most once a second, and accepting resumes shortly
 * after: the endpoint outlives it. */
TraceHttpServing   *trace_http_serve             (SoupServer             *server,
                                                  GSocket                *socket,
                                                  const TraceHttpLimits  *limits,
                                                  GError                **error);

/* Stops accepting, closes the socket and @serving's connections; safe to
 * call twice. */
void                trace_http_stop_serving      (TraceHttpServing       *serving);

/* The connections open now. */
guint               trace_http_serving_get_n_connections (TraceHttpServing *serving);

/* Stops serving, if not already stopped, and frees @serving. */
void                trace_http_serving_free      (TraceHttpServing       *serving);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceHttpServing, trace_http_serving_free)

/* Serves POST /api/traces on @socket (from trace_http_listen_socket()),
 * over TLS with @certificate when it is not NULL, taking bodies of at most
 * @max_body bytes, within @limits: the bodies held at once take at most
 * max_connections x @max_body bytes. @on_batch and @on_refused are called
 * from the thread-default main context. */
TraceHttpCollector *trace_http_collector_new     (GSocket               *socket,
                                                  GTlsCertificate       *certificate,
                                                  gsize                  max_body,
                                                  const TraceHttpLimits *limits,
                                                  TraceHttpBatchFunc     on_batch,
                                                  TraceHttpRefusedFunc   on_refused,
                                                  gpointer               user_data,
                                                  GError               **error);

/* For a receiver that only counts: every body is first read in place by
 * trace_scan_http_body() and handed to @on_scanned; only a body the scan
 * refuses goes to the reference codec and then on_batch, or is refused. */
void                trace_http_collector_count_only (TraceHttpCollector  *self,
                                                     TraceHttpScannedFunc on_scanned);

/* Stops accepting connections and requests, and closes those open; every
 * batch answered 202 has been handed over once it returns. A batch is
 * handed over once its answer is written (or its connection is gone), so
 * that a client waiting for the answer is not held up by what the
 * receiver does with it. */
void                trace_http_collector_stop    (TraceHttpCollector    *self);

void                trace_http_collector_free    (TraceHttpCollector    *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceHttpCollector, trace_http_collector_free)

G_END_DECLS
