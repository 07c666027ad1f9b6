/* listener.h: the real `gluetool-trace listen`, run as a separate process,
 * for the benchmarks that count what is delivered rather than what is sent
 *
 * SPDX-License-Identifier: MIT
 *
 * The program is found through GLUETOOL_TRACE_PROGRAM, as the tool suites
 * find it, and started as `listen --quiet --summary --port 0 --http-port 0`; the ports
 * are read from its "listening on" lines. Stopping it waits until its socket
 * is read empty (the kernel's receive queue, in /proc/net/udp), sends
 * SIGINT, and reads the counts from the summary it prints on stderr.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BenchListener BenchListener;

/* What the receiver counted, from its summary and from the kernel. */
typedef struct {
  guint64  datagrams;             /* the summary's "datagrams:" line */
  guint64  spans;                 /* the summary's "spans:" line */
  guint    n_clients;             /* the per-client lines */
  guint64  batches_missing;       /* their "N missing" (seqNo gaps), summed */
  gboolean have_client_stats;     /* the "dropped by clients (ClientStats)" line */
  guint64  client_dropped_full;   /* ... its queue-full drops */
  guint64  client_dropped_other;  /* ... too large and failed to send */
  gboolean have_kernel_drops;     /* the summary has a line for the kernel's drops */
  guint64  kernel_drops;
  gboolean have_socket_drops;     /* the socket's "drops" in /proc/net/udp was read */
  guint64  socket_drops;
  gboolean drained;               /* its receive queue was seen empty before the signal */
  int      exit_status;
} BenchListenerCounts;

/* Starts the receiver and returns once it said which port it bound. */
BenchListener *bench_listener_start     (GError        **error);
guint16        bench_listener_get_port  (BenchListener  *self);
/* Its POST /api/traces port (--http-port 0); 0 when it has none. */
guint16        bench_listener_get_http_port (BenchListener *self);

/* Waits (up to @drain_timeout_s) until the receiver has read every
 * datagram the kernel holds for it, stops it with SIGINT and parses its
 * summary into @counts. */
gboolean       bench_listener_stop      (BenchListener        *self,
                                         double                drain_timeout_s,
                                         BenchListenerCounts  *counts,
                                         GError              **error);

/* Kills the receiver if it still runs. */
void           bench_listener_free      (BenchListener  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchListener, bench_listener_free)

G_END_DECLS
