/* reference-binary.h: the c_glib generated codec over the binary protocol
 *
 * SPDX-License-Identifier: MIT
 *
 * A Jaeger agent reads compact emitBatch datagrams on port 6831 and binary
 * ones on 6832 (the Node.js client sends those). These are the binary
 * counterparts of gluetool_reference_decode_datagram() and
 * gluetool_reference_encode_datagram(): the same generated structs, read
 * and written through c_glib's ThriftBinaryProtocol.
 */

#pragma once

#include <thrift/c_glib/protocol/thrift_binary_protocol.h>

#include "reference.h"

G_BEGIN_DECLS

/* Decodes one datagram holding a binary-protocol message named exactly
 * "emitBatch", of type ONEWAY or CALL, whose args struct holds the Batch,
 * and nothing after it. Both message headers are accepted: the strict one
 * (a version word, 0x8001 then the type) that Thrift writes by default, and
 * the old one that starts with the name. The same guarantees as the compact
 * decoder: strings and containers cannot claim more bytes than are left in
 * the datagram, nesting is bounded, every required field must be present
 * and none may come twice in one struct,
 * and a datagram never makes it allocate more than a small multiple of its
 * size. Returns a new Batch, or NULL with @error set in
 * GLUETOOL_REFERENCE_ERROR. @seqid and @message_type may be NULL. Safe to
 * call from several threads at once. */
JaegerBatch *gluetool_reference_decode_datagram_binary (const guint8  *data,
                                                        gsize          len,
                                                        gint32        *seqid,
                                                        gint32        *message_type,
                                                        GError       **error);

/* The bytes c_glib's ThriftBinaryProtocol writes for an emitBatch ONEWAY
 * message with @seqid carrying @batch (strict header, as every current
 * Thrift library writes it). */
GBytes      *gluetool_reference_encode_datagram_binary (JaegerBatch   *batch,
                                                        gint32         seqid,
                                                        GError       **error);

/* Decodes a bare Batch struct in the binary protocol, as Jaeger clients
 * POST it to a collector (Content-Type application/x-thrift): no message
 * header, and nothing may follow the struct. The same guarantees as
 * gluetool_reference_decode_datagram_binary(), with sizes bounded by @len.
 * Returns a new Batch, or NULL with @error set in GLUETOOL_REFERENCE_ERROR.
 * Safe to call from several threads at once. */
JaegerBatch *gluetool_reference_decode_batch_binary    (const guint8  *data,
                                                        gsize          len,
                                                        GError       **error);

/* The bytes c_glib's ThriftBinaryProtocol writes for @batch alone: an HTTP
 * collector's request body. */
GBytes      *gluetool_reference_encode_batch_binary    (JaegerBatch   *batch,
                                                        GError       **error);

G_END_DECLS
