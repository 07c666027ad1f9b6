/* reference.h: the c_glib generated codec, wrapped for tests and tools
 *
 * SPDX-License-Identifier: MIT
 *
 * Apache Thrift's c_glib code generated from jaeger.thrift and agent.thrift
 * is the reference: what it decodes is what a Jaeger agent decodes, and what
 * it encodes is what the library's own encoder must write byte for byte.
 */

#pragma once

#include <glib-object.h>
#include <thrift/c_glib/thrift_struct.h>

#include <thrift/c_glib/protocol/thrift_compact_protocol.h>
#include <thrift/c_glib/transport/thrift_memory_buffer.h>

#include "jaeger_jaeger_types.h"
#include "jaeger_agent_types.h"

G_BEGIN_DECLS

/* Neither libthrift-c-glib nor its generator declares g_autoptr() cleanups;
 * these are the ones tests, tools and benchmarks use. Include this header
 * rather than declaring them again (a second declaration does not compile). */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThriftMemoryBuffer, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThriftCompactProtocol, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (JaegerTag, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (JaegerLog, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (JaegerSpanRef, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (JaegerSpan, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (JaegerProcess, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (JaegerClientStats, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (JaegerBatch, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (JaegerAgentEmitBatchArgs, g_object_unref)

#define GLUETOOL_REFERENCE_ERROR (gluetool_reference_error_quark ())

typedef enum {
  /* not a compact-protocol emitBatch message, or bytes left after it */
  GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
  /* the generated reader failed: truncated, bad sizes, missing required field */
  GLUETOOL_REFERENCE_ERROR_DECODE,
  /* the generated writer failed */
  GLUETOOL_REFERENCE_ERROR_ENCODE,
} GluetoolReferenceError;

GQuark       gluetool_reference_error_quark      (void);

/* Makes the generated struct classes (and ThriftMemoryBuffer) chain their
 * finalize up to GObject's, which the c_glib generator forgets: without it
 * every struct destroyed leaks its qdata. Idempotent and thread-safe; the
 * functions below call it themselves, so call it first only in code that
 * destroys generated structs before calling any of them. */
void         gluetool_reference_init             (void);

/* Decodes one datagram: a compact-protocol message named exactly "emitBatch"
 * of type ONEWAY (or CALL, as some Go clients send), whose args struct holds
 * the Batch, and nothing after it. Container and string sizes are bounded by
 * @len, so a hostile datagram cannot make it allocate much; nesting is
 * bounded too, so it cannot exhaust the stack. Every required field of every
 * struct must be present (the generated readers check that), and no field
 * may come twice in one struct (a generated reader crashes on that). Returns a new
 * Batch, or NULL with @error set in GLUETOOL_REFERENCE_ERROR; the message
 * says what was wrong and at which byte. @seqid and @message_type may be
 * NULL. Safe to call from several threads at once. */
JaegerBatch *gluetool_reference_decode_datagram  (const guint8  *data,
                                                  gsize          len,
                                                  gint32        *seqid,
                                                  gint32        *message_type,
                                                  GError       **error);

/* The bytes c_glib's ThriftCompactProtocol writes for an emitBatch ONEWAY
 * message with @seqid carrying @batch. Like every c_glib writer, it writes an
 * optional field only when its __isset_ flag is TRUE, even an empty list. */
GBytes      *gluetool_reference_encode_datagram  (JaegerBatch   *batch,
                                                  gint32         seqid,
                                                  GError       **error);

/* The bytes ThriftCompactProtocol writes for one struct on its own (a Span,
 * a Tag, a Process ...). */
GBytes      *gluetool_reference_encode_struct    (ThriftStruct  *object,
                                                  GError       **error);

G_END_DECLS
