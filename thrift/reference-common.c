/* reference-common.c: what the compact and binary reference decoders share
 *
 * SPDX-License-Identifier: MIT
 *
 * libthrift-c-glib 0.17 was written for trusted peers, and a datagram
 * receiver is not one. reference.c (compact) and reference-binary.c
 * (binary) each subclass their protocol to close the gaps; what those
 * subclasses have in common is here:
 *
 *  - GluetoolReferenceReader (a ThriftMemoryBuffer) fails a read that asks
 *    for more bytes than are left. The stock buffer hands out what it has
 *    and returns 0 when empty, and thrift_transport_read_all() then loops
 *    for ever: any truncated datagram would hang the reader. It also reads
 *    by moving a cursor instead of shifting the whole array after every
 *    byte, and knows where the message ended, so trailing bytes can be
 *    refused.
 *
 *  - GluetoolReferenceGuard bounds nesting. The generated readers only nest
 *    as deep as jaeger.thrift does, but thrift_protocol_skip() recurses once
 *    per nested struct or container in an unknown field, one byte each, so
 *    a 64 kB datagram could ask for tens of thousands of frames. It also
 *    remembers how many bytes the last string took, so that
 *    "emitBatch\0junk" cannot pass as "emitBatch". And it refuses a field
 *    that comes twice in one struct: the generated Tag reader crashes on a
 *    second vBinary (gluetool_reference_guard_check_field() says how).
 *
 *  - gluetool_reference_decode() reads the message and checks what the
 *    generated readers do not: the method name, the message type, that the
 *    args struct holds a batch, and that nothing follows the message.
 *    gluetool_reference_decode_batch() reads a bare Batch (an HTTP body)
 *    with the same guards.
 */

#include "reference-common.h"

#include <string.h>

/* ---- GluetoolReferenceReader ------------------------------------------------ */

G_DEFINE_TYPE (GluetoolReferenceReader, gluetool_reference_reader,
               THRIFT_TYPE_MEMORY_BUFFER)

guint32
gluetool_reference_reader_remaining (GluetoolReferenceReader *self)
{
  return self->len - self->pos;
}

static gint32
gluetool_reference_reader_read (ThriftTransport *transport,
                                gpointer         buf,
                                guint32          len,
                                GError         **error)
{
  GluetoolReferenceReader *self = (GluetoolReferenceReader *) transport;

  if (len > gluetool_reference_reader_remaining (self))
    {
      g_set_error (error, THRIFT_TRANSPORT_ERROR,
                   THRIFT_TRANSPORT_ERROR_RECEIVE,
                   "the datagram ends after %u bytes, %u bytes too soon",
                   self->len, len - gluetool_reference_reader_remaining (self));
      return -1;
    }

  memcpy (buf, self->data + self->pos, len);
  self->pos += len;

  /* len <= self->len <= G_MAXINT32 */
  return (gint32) len;
}

/* The parent's version counts against a "remaining message size" that this
 * reader does not maintain; the bytes actually left are the true bound. The
 * compact decoder leaves it to the parent all the same: its string_limit
 * and container_limit already bound every size by the datagram's length,
 * which libthrift-c-glib 0.17's binary protocol has no equivalent of. */
static gboolean
gluetool_reference_reader_check_read_bytes_available (ThriftTransport *transport,
                                                      glong            n_bytes,
                                                      GError         **error)
{
  GluetoolReferenceReader *self = (GluetoolReferenceReader *) transport;
  ThriftTransportClass *parent_class =
    THRIFT_TRANSPORT_CLASS (gluetool_reference_reader_parent_class);

  if (!self->bound_announced_sizes)
    return parent_class->checkReadBytesAvailable (transport, n_bytes, error);

  if (n_bytes < 0
      || (gulong) n_bytes > gluetool_reference_reader_remaining (self))
    {
      g_set_error (error, THRIFT_TRANSPORT_ERROR,
                   THRIFT_TRANSPORT_ERROR_RECEIVE,
                   "%ld bytes announced at byte %u, but only %u are left",
                   n_bytes, self->pos,
                   gluetool_reference_reader_remaining (self));
      return FALSE;
    }
  return TRUE;
}

/* A big-endian 32-bit word at @offset bytes past the current position,
 * without consuming it; FALSE when the datagram is too short, in which case
 * the parent's own read fails with the usual message. */
gboolean
gluetool_reference_reader_peek_i32 (GluetoolReferenceReader *self,
                                    guint32                  offset,
                                    gint32                  *value)
{
  guint32 word;

  if (gluetool_reference_reader_remaining (self) < offset
      || gluetool_reference_reader_remaining (self) - offset < 4)
    return FALSE;
  memcpy (&word, self->data + self->pos + offset, 4);
  *value = (gint32) GUINT32_FROM_BE (word);
  return TRUE;
}

gboolean
gluetool_reference_reader_peek_byte (GluetoolReferenceReader *self,
                                     guint32                  offset,
                                     guint8                  *value)
{
  if (gluetool_reference_reader_remaining (self) <= offset)
    return FALSE;
  *value = self->data[self->pos + offset];
  return TRUE;
}

static void
gluetool_reference_reader_class_init (GluetoolReferenceReaderClass *klass)
{
  ThriftTransportClass *transport_class = THRIFT_TRANSPORT_CLASS (klass);

  transport_class->read = gluetool_reference_reader_read;
  transport_class->checkReadBytesAvailable =
    gluetool_reference_reader_check_read_bytes_available;
}

static void
gluetool_reference_reader_init (GluetoolReferenceReader *self)
{
}

/* ---- GluetoolReferenceGuard ------------------------------------------------- */

gboolean
gluetool_reference_guard_enter (GluetoolReferenceGuard *guard,
                                GError                **error)
{
  if (guard->depth >= GLUETOOL_REFERENCE_MAX_NESTING)
    {
      g_set_error (error, THRIFT_PROTOCOL_ERROR,
                   THRIFT_PROTOCOL_ERROR_DEPTH_LIMIT,
                   "structs and containers nested more than %u deep",
                   (guint) GLUETOOL_REFERENCE_MAX_NESTING);
      return FALSE;
    }
  guard->depth++;
  return TRUE;
}

void
gluetool_reference_guard_leave (GluetoolReferenceGuard *guard)
{
  if (guard->depth > 0)
    guard->depth--;
}

gboolean
gluetool_reference_guard_enter_struct (GluetoolReferenceGuard *guard,
                                       GError                **error)
{
  if (!gluetool_reference_guard_enter (guard, error))
    return FALSE;
  /* depth <= MAX_NESTING bounds struct_depth too. */
  guard->struct_depth++;
  guard->seen_fields[guard->struct_depth] = 0;
  return TRUE;
}

void
gluetool_reference_guard_leave_struct (GluetoolReferenceGuard *guard)
{
  if (guard->struct_depth > 0)
    guard->struct_depth--;
  gluetool_reference_guard_leave (guard);
}

/* Called with what the parent's read_field_begin() returned (@ret) and
 * read; returns @ret, or -1 with @error set.
 *
 * A field that comes twice in one struct is refused. No writer sends
 * that, and the generated readers do not survive it: a second vBinary
 * in a Tag makes jaeger_tag_read() g_free() the first one's GByteArray,
 * which is no malloc() block (found by tests/fuzz). Ids above 63 are not
 * in jaeger.thrift, so the generated readers only ever skip them. */
gint32
gluetool_reference_guard_check_field (GluetoolReferenceGuard *guard,
                                      gint32                  ret,
                                      const ThriftType       *field_type,
                                      const gint16           *field_id,
                                      GError                **error)
{
  guint64 bit;

  if (ret < 0 || *field_type == T_STOP || guard->struct_depth == 0
      || *field_id <= 0 || *field_id >= 64)
    return ret;

  bit = G_GUINT64_CONSTANT (1) << *field_id;
  if (guard->seen_fields[guard->struct_depth] & bit)
    {
      g_set_error (error, THRIFT_PROTOCOL_ERROR,
                   THRIFT_PROTOCOL_ERROR_INVALID_DATA,
                   "field %d comes twice in one struct", (int) *field_id);
      return -1;
    }
  guard->seen_fields[guard->struct_depth] |= bit;
  return ret;
}

/* ---- Decoding ---------------------------------------------------------------- */

static const char *
message_type_name (gint32 type)
{
  switch (type)
    {
    case T_CALL:
      return "CALL";
    case T_REPLY:
      return "REPLY";
    case T_EXCEPTION:
      return "EXCEPTION";
    case T_ONEWAY:
      return "ONEWAY";
    default:
      return "unknown";
    }
}

/* A reader of @len bytes at @data (1 to G_MAXINT32). */
static GluetoolReferenceReader *
new_reader (const GluetoolReferenceWire *wire,
            const guint8                *data,
            gsize                        len)
{
  GluetoolReferenceReader *reader;

  reader = g_object_new (gluetool_reference_reader_get_type (),
                         "remainingmessagesize", (glong) len,
                         "knowmessagesize", (glong) len,
                         NULL);
  reader->data = data;
  reader->len = (guint32) len;
  reader->pos = 0;
  reader->bound_announced_sizes = wire->bound_announced_sizes;
  return reader;
}

JaegerBatch *
gluetool_reference_decode (const GluetoolReferenceWire  *wire,
                           const guint8                 *data,
                           gsize                         len,
                           gint32                       *seqid,
                           gint32                       *message_type,
                           GError                      **error)
{
  g_autoptr(GluetoolReferenceReader) reader = NULL;
  g_autoptr(ThriftProtocol) protocol = NULL;
  g_autoptr(JaegerAgentEmitBatchArgs) args = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree gchar *name = NULL;
  gboolean name_ok = FALSE;
  gint32 type = 0;
  gint32 id = 0;

  /* Before GluetoolReferenceReader's class exists, so that it inherits the
   * fixed finalize of ThriftMemoryBuffer (see reference.c). */
  gluetool_reference_init ();

  /* Thrift sizes are signed 32-bit; a UDP datagram is far below that. */
  if (len == 0 || len > G_MAXINT32)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "a datagram of %" G_GSIZE_FORMAT " bytes cannot hold an "
                   "emitBatch message", len);
      return NULL;
    }

  reader = new_reader (wire, data, len);
  protocol = wire->new_protocol (reader);

  if (!wire->read_header (protocol, &name, &name_ok, &type, &id,
                          &local_error))
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "not a %s-protocol message header: %s",
                   wire->name, local_error->message);
      return NULL;
    }

  if (g_strcmp0 (name, GLUETOOL_REFERENCE_EMIT_BATCH_NAME) != 0 || !name_ok)
    {
      g_autofree gchar *escaped = g_strescape (name != NULL ? name : "", NULL);

      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "the message calls \"%s\"%s, not \""
                   GLUETOOL_REFERENCE_EMIT_BATCH_NAME "\"",
                   escaped,
                   g_strcmp0 (name, GLUETOOL_REFERENCE_EMIT_BATCH_NAME) == 0
                     ? " followed by more bytes in its name" : "");
      return NULL;
    }

  if (type != T_ONEWAY && type != T_CALL)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "emitBatch sent as a %s message (type %d); only ONEWAY (4) "
                   "and CALL (1) carry a batch",
                   message_type_name (type), (int) type);
      return NULL;
    }

  args = g_object_new (JAEGER_TYPE_AGENT_EMIT_BATCH_ARGS, NULL);
  if (thrift_struct_read (THRIFT_STRUCT (args), protocol, &local_error) < 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_DECODE,
                   "cannot decode the emitBatch arguments (stopped at byte "
                   "%u of %u): %s",
                   reader->pos, reader->len, local_error->message);
      return NULL;
    }

  /* The args field is not marked required in agent.thrift, so the generated
   * reader accepts an empty args struct; without field 1 there is no batch. */
  if (!args->__isset_batch)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_DECODE,
                   "the emitBatch arguments carry no batch (field 1 of type "
                   "struct)");
      return NULL;
    }

  /* Reads nothing in either protocol in 0.17; called all the same, so that
   * a protocol that does read something here is not cut short. */
  if (thrift_protocol_read_message_end (protocol, &local_error) < 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_DECODE,
                   "cannot end the emitBatch message: %s",
                   local_error->message);
      return NULL;
    }

  if (reader->pos != reader->len)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "%u bytes follow the emitBatch message, which ends at "
                   "byte %u; a datagram holds exactly one message",
                   reader->len - reader->pos, reader->pos);
      return NULL;
    }

  if (seqid != NULL)
    *seqid = id;
  if (message_type != NULL)
    *message_type = type;

  return g_object_ref (args->batch);
}

JaegerBatch *
gluetool_reference_decode_batch (const GluetoolReferenceWire  *wire,
                                 const guint8                 *data,
                                 gsize                         len,
                                 GError                      **error)
{
  g_autoptr(GluetoolReferenceReader) reader = NULL;
  g_autoptr(ThriftProtocol) protocol = NULL;
  g_autoptr(JaegerBatch) batch = NULL;
  g_autoptr(GError) local_error = NULL;

  gluetool_reference_init ();

  /* The smallest Batch is a Process (a service name) and an empty span
   * list: never zero bytes. Thrift sizes are signed 32-bit. */
  if (len == 0 || len > G_MAXINT32)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_DECODE,
                   "%" G_GSIZE_FORMAT " bytes cannot hold a Batch", len);
      return NULL;
    }

  reader = new_reader (wire, data, len);
  protocol = wire->new_protocol (reader);

  batch = g_object_new (JAEGER_TYPE_BATCH, NULL);
  if (thrift_struct_read (THRIFT_STRUCT (batch), protocol, &local_error) < 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_DECODE,
                   "cannot decode the Batch (stopped at byte %u of %u): %s",
                   reader->pos, reader->len, local_error->message);
      return NULL;
    }

  if (reader->pos != reader->len)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_DECODE,
                   "%u bytes follow the Batch, which ends at byte %u",
                   reader->len - reader->pos, reader->pos);
      return NULL;
    }

  return g_steal_pointer (&batch);
}

/* ---- Encoding ---------------------------------------------------------------- */

/* A fresh buffer and protocol each time: the compact writer keeps state
 * (the field-id stack, a pending bool field) that a failed write would
 * leave behind, and these functions must be callable from any thread. */
ThriftProtocol *
gluetool_reference_new_writer (GType                protocol_type,
                               ThriftMemoryBuffer **buffer)
{
  *buffer = g_object_new (THRIFT_TYPE_MEMORY_BUFFER, NULL);
  return g_object_new (protocol_type,
                       "transport", *buffer,
                       NULL);
}

GBytes *
gluetool_reference_encode_message (GType         protocol_type,
                                   const char   *what,
                                   JaegerBatch  *batch,
                                   gint32        seqid,
                                   GError      **error)
{
  g_autoptr(ThriftMemoryBuffer) buffer = NULL;
  g_autoptr(ThriftProtocol) writer = NULL;
  g_autoptr(JaegerAgentEmitBatchArgs) args = NULL;
  g_autoptr(GError) local_error = NULL;

  gluetool_reference_init ();

  writer = gluetool_reference_new_writer (protocol_type, &buffer);
  args = g_object_new (JAEGER_TYPE_AGENT_EMIT_BATCH_ARGS,
                       "batch", batch,
                       NULL);

  /* The generated client's send function would do this too, but always
   * with seqid 0; writing the header here lets tests choose it. */
  if (thrift_protocol_write_message_begin (writer,
                                           GLUETOOL_REFERENCE_EMIT_BATCH_NAME,
                                           T_ONEWAY, seqid,
                                           &local_error) < 0
      || thrift_struct_write (THRIFT_STRUCT (args), writer,
                              &local_error) < 0
      || thrift_protocol_write_message_end (writer, &local_error) < 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_ENCODE,
                   "c_glib could not write the %s: %s",
                   what, local_error->message);
      return NULL;
    }

  return g_bytes_new (buffer->buf->data, buffer->buf->len);
}
