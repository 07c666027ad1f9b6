/* transcode-private.h: Thrift compact structs rewritten in the binary
 * protocol, and the binary Batch a Jaeger collector reads over HTTP
 *
 * SPDX-License-Identifier: MIT
 *
 * Spans are encoded once, in the compact protocol, by the thread that
 * finishes them (encoder-private.h). A collector's HTTP endpoint reads the
 * binary protocol instead, so the HTTP sender rewrites each queued Span
 * (and the Process, once) in the flush thread. The walker knows Thrift's
 * two encodings and nothing of jaeger.thrift: any well-formed struct comes
 * out as the same struct, field for field, so whatever the encoder writes
 * (new fields, process tags) needs nothing here.
 *
 * It trusts nothing it reads: nesting is bounded (GLUETOOL_TRANSCODE_MAX_DEPTH),
 * no length or count may claim more bytes than are left, and the output is
 * at most GLUETOOL_TRANSCODE_MAX_GROWTH times the input (an i64 of one
 * varint byte becomes eight bytes; nothing grows more), reserved once.
 *
 * No threads, no GObject, no sockets: callable from any thread, on its own
 * buffers.
 */

#pragma once

#include <glib.h>

#include "encoder-private.h"

G_BEGIN_DECLS

/* Structs, lists, sets and maps nested in one another, at most. A Batch's
 * deepest path is Span > list<Log> > Log > list<Tag> > Tag. */
#define GLUETOOL_TRANSCODE_MAX_DEPTH  32
/* Bytes of output per byte of input, at most. */
#define GLUETOOL_TRANSCODE_MAX_GROWTH 8

#define GLUETOOL_TRANSCODE_ERROR (gluetool_transcode_error_quark ())

typedef enum {
  /* not one well-formed compact struct, or over the limits */
  GLUETOOL_TRANSCODE_ERROR_INVALID,
} GluetoolTranscodeError;

GQuark   gluetool_transcode_error_quark (void);

/* Appends to @binary the struct @compact holds (exactly @len bytes: one
 * struct, its STOP last). FALSE with GLUETOOL_TRANSCODE_ERROR_INVALID, and
 * @binary as it was, when the bytes are not one well-formed compact
 * struct. */
gboolean gluetool_transcode_struct (const guint8    *compact,
                                    gsize            len,
                                    GluetoolBuffer  *binary,
                                    GError         **error);

/* ---- The binary Batch ---------------------------------------------------------
 *
 *   head:  0c 0001 <Process>  0f 0002 0c <i32 count>
 *   spans: the Span structs, binary, back to back
 *   tail:  0a 0003 <i64 seqNo>  0c 0004 { 0a 0001 <i64> 0a 0002 <i64> 0a 0003 <i64> 00 }  00
 *
 * No message envelope: the body of a POST is the struct alone. The count is
 * four bytes whatever its value, and the tail's size is fixed, so a batch's
 * size is known exactly before each span goes in. */

#define GLUETOOL_BINARY_BATCH_TAIL_SIZE 49

/* Appends the head around @process (a binary Process struct) with a count
 * of 0; returns the offset in @buf of the count, for set_count(). */
gsize gluetool_binary_batch_head      (GluetoolBuffer            *buf,
                                       const guint8              *process,
                                       gsize                      process_len);
/* Writes @n_spans at @count (what head() returned, in the same buffer). */
void  gluetool_binary_batch_set_count (GluetoolBuffer            *buf,
                                       gsize                      count,
                                       guint32                    n_spans);
/* Appends the tail: exactly GLUETOOL_BINARY_BATCH_TAIL_SIZE bytes. */
void  gluetool_binary_batch_tail      (GluetoolBuffer            *buf,
                                       gint64                     seq_no,
                                       const GluetoolClientStats *stats);

G_END_DECLS
