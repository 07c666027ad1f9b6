/* trace-sampling.h: Jaeger's sampling endpoint, GET /sampling?service=NAME,
 * answered from a strategies file (trace-strategies.h)
 *
 * SPDX-License-Identifier: MIT
 *
 * Built only with libsoup 3.
 */

#pragma once

#include <gio/gio.h>

#include "trace-http.h"

G_BEGIN_DECLS

/* A Jaeger agent's port for client configuration (sampling). */
#define TRACE_SAMPLING_PORT 5778

#define TRACE_SAMPLING_PATH "/sampling"

typedef struct _TraceSamplingServer TraceSamplingServer;

/* Reads @path (an error if it cannot be read or parsed) and serves GET
 * /sampling on @socket, over TLS with @certificate when it is not NULL,
 * from the thread-default main context. At each
 * request the file is looked at again (its inode, size and modification
 * time) and reread when it changed; a version that does not parse is
 * reported once on stderr, and the last good strategies are kept.
 * @on_refused is told of requests answered 400, 404 or 405. */
TraceSamplingServer *trace_sampling_server_new  (GSocket               *socket,
                                                 GTlsCertificate       *certificate,
                                                 const char            *path,
                                                 const TraceHttpLimits *limits,
                                                 TraceHttpRefusedFunc   on_refused,
                                                 gpointer               user_data,
                                                 GError               **error);

void                 trace_sampling_server_stop (TraceSamplingServer   *self);

void                 trace_sampling_server_free (TraceSamplingServer   *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceSamplingServer, trace_sampling_server_free)

G_END_DECLS
