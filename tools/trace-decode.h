/* trace-decode.h: one datagram to one Jaeger batch, whichever Thrift
 * protocol it was sent with
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "reference.h"

G_BEGIN_DECLS

typedef enum {
  TRACE_PROTOCOL_COMPACT,  /* port 6831's: what most clients and this library send */
  TRACE_PROTOCOL_BINARY,   /* port 6832's: the Node.js client's */
  TRACE_PROTOCOL_HTTP,     /* a bare binary Batch POSTed to /api/traces */
} TraceProtocol;

typedef struct {
  JaegerBatch   *batch;         /* (owned) */
  TraceProtocol  protocol;
  gint32         seqid;         /* the message's, not Batch.seqNo */
  gint32         message_type;  /* ONEWAY (4) or CALL (1) */
} TraceDecoded;

/* Decodes @data as an emitBatch message. The first byte tells the protocol,
 * as it does for any Thrift reader that accepts both: 0x82 is compact; 0x80
 * is binary with a version word, 0x00 the old binary header (a name shorter
 * than 16 MB). Anything else is refused at once. All the decoding is done by
 * the c_glib reference codec, which bounds sizes, nesting and allocation by
 * the datagram's length and checks every required field. On failure returns
 * FALSE with @error set (GLUETOOL_REFERENCE_ERROR) and leaves @decoded
 * cleared. */
gboolean     trace_decode_datagram (const guint8  *data,
                                    gsize          len,
                                    TraceDecoded  *decoded,
                                    GError       **error);

/* Decodes @data as the body of a POST to a collector's /api/traces: one
 * Batch struct in the binary protocol, with no message header and nothing
 * after it (trailing bytes are refused). The same reference codec and
 * guards as trace_decode_datagram(); @decoded's protocol is
 * TRACE_PROTOCOL_HTTP, its seqid and message_type 0. */
gboolean     trace_decode_http_body (const guint8  *data,
                                     gsize          len,
                                     TraceDecoded  *decoded,
                                     GError       **error);

/* Frees what @decoded owns and zeroes it; safe on a cleared one. */
void         trace_decoded_clear   (TraceDecoded  *decoded);

/* "compact", "binary" or "http". */
const char  *trace_protocol_name   (TraceProtocol  protocol);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TraceDecoded, trace_decoded_clear)

G_END_DECLS
