/* reference-common.h: what the compact and binary reference decoders share
 *
 * SPDX-License-Identifier: MIT
 *
 * Private to reference.c and reference-binary.c: the datagram reader both
 * protocols read through, the nesting and duplicate-field guard both
 * guarded protocols keep, and the emitBatch decode and encode drivers. What
 * differs between the protocols (the parent class, size checks, the message
 * header) stays in their own files.
 */

#pragma once

#include <thrift/c_glib/protocol/thrift_protocol.h>

#include "reference.h"

G_BEGIN_DECLS

/* jaeger.thrift nests 8 deep at most (args, Batch, spans, Span, logs, Log,
 * fields, Tag); this leaves room for unknown fields a newer IDL might add
 * without letting a hostile datagram recurse without end. */
#define GLUETOOL_REFERENCE_MAX_NESTING 64

#define GLUETOOL_REFERENCE_EMIT_BATCH_NAME "emitBatch"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThriftProtocol, g_object_unref)

/* ---- GluetoolReferenceReader ------------------------------------------------ */

/* A ThriftMemoryBuffer that reads one datagram in place: see
 * reference-common.c for why. */
typedef struct {
  ThriftMemoryBuffer parent_instance;

  const guint8 *data;   /* (unowned) the datagram, alive during the decode */
  guint32       len;
  guint32       pos;    /* bytes consumed so far */
  /* checkReadBytesAvailable() measures against the bytes left, instead of
   * leaving it to the parent class */
  gboolean      bound_announced_sizes;
} GluetoolReferenceReader;

typedef struct {
  ThriftMemoryBufferClass parent_class;
} GluetoolReferenceReaderClass;

GType    gluetool_reference_reader_get_type  (void);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GluetoolReferenceReader, g_object_unref)

guint32  gluetool_reference_reader_remaining (GluetoolReferenceReader *self);
gboolean gluetool_reference_reader_peek_i32  (GluetoolReferenceReader *self,
                                              guint32                  offset,
                                              gint32                  *value);
gboolean gluetool_reference_reader_peek_byte (GluetoolReferenceReader *self,
                                              guint32                  offset,
                                              guint8                  *value);

/* ---- GluetoolReferenceGuard ------------------------------------------------- */

/* The state a guarded protocol keeps while it reads one datagram; each
 * guarded protocol embeds one and calls these from its overrides. */
typedef struct {
  guint   depth;              /* structs and containers open right now */
  guint32 last_string_bytes;  /* wire bytes (length and text) of the last string */
  guint   struct_depth;       /* structs open right now */
  /* per open struct: ids 1 to 63 read */
  guint64 seen_fields[GLUETOOL_REFERENCE_MAX_NESTING + 1];
} GluetoolReferenceGuard;

gboolean gluetool_reference_guard_enter        (GluetoolReferenceGuard *guard,
                                                GError                **error);
void     gluetool_reference_guard_leave        (GluetoolReferenceGuard *guard);
gboolean gluetool_reference_guard_enter_struct (GluetoolReferenceGuard *guard,
                                                GError                **error);
void     gluetool_reference_guard_leave_struct (GluetoolReferenceGuard *guard);
gint32   gluetool_reference_guard_check_field  (GluetoolReferenceGuard *guard,
                                                gint32                  ret,
                                                const ThriftType       *field_type,
                                                const gint16           *field_id,
                                                GError                **error);

/* ---- Decoding and encoding -------------------------------------------------- */

/* Reads the message header. On success *name is the method name (text
 * only; *name_ok says whether its bytes on the wire were exactly that
 * text, with nothing hidden behind a NUL or in an overlong length). */
typedef gboolean (*GluetoolReferenceReadHeaderFunc) (ThriftProtocol  *protocol,
                                                     gchar          **name,
                                                     gboolean        *name_ok,
                                                     gint32          *type,
                                                     gint32          *seqid,
                                                     GError         **error);

/* What a decoder adds to the shared driver. */
typedef struct {
  const char *name;  /* "compact", "binary": for messages */
  /* see GluetoolReferenceReader's bound_announced_sizes */
  gboolean    bound_announced_sizes;
  /* the guarded protocol reading from @reader (with its transport set) */
  ThriftProtocol *(*new_protocol) (GluetoolReferenceReader *reader);
  GluetoolReferenceReadHeaderFunc read_header;
} GluetoolReferenceWire;

/* Decodes one datagram as gluetool_reference_decode_datagram() describes,
 * with @wire's protocol. */
JaegerBatch *gluetool_reference_decode (const GluetoolReferenceWire  *wire,
                                        const guint8                 *data,
                                        gsize                         len,
                                        gint32                       *seqid,
                                        gint32                       *message_type,
                                        GError                      **error);

/* Decodes @len bytes holding one Batch struct and nothing after it (what
 * a Jaeger client POSTs to a collector's /api/traces), with @wire's
 * protocol and the same guards; @wire's read_header is not used. */
JaegerBatch *gluetool_reference_decode_batch (const GluetoolReferenceWire  *wire,
                                              const guint8                 *data,
                                              gsize                         len,
                                              GError                      **error);

/* A fresh ThriftMemoryBuffer in *@buffer and a @protocol_type writing to
 * it. */
ThriftProtocol *gluetool_reference_new_writer (GType                protocol_type,
                                               ThriftMemoryBuffer **buffer);

/* @what names the message in errors ("emitBatch message"). */
GBytes *gluetool_reference_encode_message (GType         protocol_type,
                                           const char   *what,
                                           JaegerBatch  *batch,
                                           gint32        seqid,
                                           GError      **error);

G_END_DECLS
