/* sink.h: a Jaeger agent stand-in for the benchmarks: a UDP socket on
 * loopback, read by a thread of its own, that counts every span it gets
 *
 * SPDX-License-Identifier: MIT
 *
 * The sink counts spans cheaply, in its own thread, by reading only as far
 * as the size of each datagram's list<Span>; it allocates nothing per
 * datagram, so it adds nothing to an allocation count and little to the CPU
 * the benchmarks subtract. A sink made with @keep_datagrams also keeps every
 * datagram, for a full decode with the c_glib reference after the run.
 *
 * It must never be what loses spans: the receive buffer is 64 MiB (forced
 * past rmem_max when the process may), and the kernel's drops on the socket
 * are counted (SO_RXQ_OVFL), so a shortfall is told apart from a loss in the
 * library.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BenchSink BenchSink;

/* Binds 127.0.0.1 on a port the kernel picks and starts the thread. */
BenchSink *bench_sink_new                (gboolean   keep_datagrams);
guint16    bench_sink_get_port           (BenchSink *self);

/* These may be called from any thread while the sink runs. */
guint64    bench_sink_get_n_datagrams    (BenchSink *self);
guint64    bench_sink_get_n_spans        (BenchSink *self);
/* Datagrams that were not a compact emitBatch message. */
guint64    bench_sink_get_n_bad          (BenchSink *self);
/* Datagrams the kernel dropped because the receive buffer was full, as far
 * as the last datagram read tells (bench_sink_stop() reads one more). */
guint64    bench_sink_get_kernel_drops   (BenchSink *self);
/* CLOCK_MONOTONIC (ns) when the last datagram was read; 0 before any. */
gint64     bench_sink_get_last_arrival_ns (BenchSink *self);
/* The sink thread's own CPU time so far (ns). Only while it runs. */
gint64     bench_sink_get_cpu_ns         (BenchSink *self);

/* Sleeps (it does not spin: the wait would count as CPU) until at least
 * @n_datagrams have been read or @timeout_s has passed. */
gboolean   bench_sink_wait_for_datagrams (BenchSink *self,
                                          guint64    n_datagrams,
                                          double     timeout_s);

/* Stops and joins the thread. Idempotent. */
void       bench_sink_stop               (BenchSink *self);
/* (element-type GBytes) (transfer none) every datagram in arrival order;
 * only after bench_sink_stop(), and only with @keep_datagrams. */
GPtrArray *bench_sink_get_datagrams      (BenchSink *self);

void       bench_sink_free               (BenchSink *self);

/* The number of spans in one compact emitBatch datagram, or -1 when it is
 * not one. Reads only up to the list<Span> header. */
gint64     bench_count_spans_in_datagram (const guint8 *data,
                                          gsize         len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchSink, bench_sink_free)

G_END_DECLS
