/* trace-scan.h: what a receiver that prints no span needs from a compact
 * emitBatch datagram, read in place
 *
 * SPDX-License-Identifier: MIT
 *
 * `gluetool-trace listen --quiet` only counts: spans, traces, and per
 * client its seqNo and ClientStats. Building every span, tag and log as a
 * GObject with the c_glib reference codec costs about 4 us a span; this
 * scan reads the same bytes in place, checks them, and allocates nothing
 * per datagram once its arrays have grown.
 *
 * The scan is stricter than the reference, never looser: it accepts only a
 * compact ONEWAY or CALL emitBatch message whose every struct holds only
 * the fields of jaeger.thrift, each once, with its declared type, every
 * required field present, and nothing after the message. Anything else
 * (the binary protocol, an unknown or mistyped field, a long-form field
 * id, an empty client-uuid) is refused, and the caller hands the datagram
 * to the reference codec (trace_decode_datagram()), which either decodes
 * it after all or says what is wrong with it. So the receiver's verdict on
 * a datagram and its message about a bad one are the reference's; what
 * the scan accepts, the reference accepts with the same counts
 * (tests/fuzz checks both on every input).
 */

#pragma once

#include <glib.h>

#include "trace-decode.h"

G_BEGIN_DECLS

/* What the store counts per span. */
typedef struct {
  guint64 trace_id_high;
  guint64 trace_id_low;
  guint64 n_items;  /* as trace-store.h counts them, the process's tags included */
} TraceScannedSpan;

typedef struct {
  /* The process: its name and its client-uuid tag (STRING, the first one),
   * both as C strings (cut at the first NUL, as the reference's are). */
  char     *service_name;     /* (owned) */
  char     *client_uuid;      /* (owned) (nullable) */
  guint64   n_process_tags;

  gboolean  has_seq_no;
  gint64    seq_no;
  gboolean  has_stats;
  gint64    full_queue_dropped;
  gint64    too_large_dropped;
  gint64    failed_to_emit;

  GArray   *spans;            /* (owned) (element-type TraceScannedSpan) */

  TraceProtocol protocol;     /* compact (a datagram) or http (a POSTed body) */
} TraceScan;

/* Zeroes @scan for its first use. */
void      trace_scan_init     (TraceScan    *scan);
/* Frees what @scan owns; it may be initialised again. */
void      trace_scan_clear    (TraceScan    *scan);

/* Reads @data as a compact emitBatch message into @scan (whose previous
 * content it replaces, reusing its memory). Returns FALSE when the
 * datagram is not one in the shape described above; @scan is then
 * unspecified and the reference codec must judge the datagram. */
gboolean  trace_scan_datagram (TraceScan    *scan,
                               const guint8 *data,
                               gsize         len);

/* Reads @data as the body of a POST to /api/traces, a bare Batch struct
 * in the binary protocol, into @scan, with the same guards as
 * trace_scan_datagram() (trace-scan-binary.c): FALSE means the reference
 * codec (trace_decode_http_body()) must judge the body. */
gboolean  trace_scan_http_body (TraceScan    *scan,
                                const guint8 *data,
                                gsize         len);

/* For the scanners: empties @scan for the next message, keeping its
 * memory. */
void      trace_scan_reset    (TraceScan    *scan);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TraceScan, trace_scan_clear)

G_END_DECLS
