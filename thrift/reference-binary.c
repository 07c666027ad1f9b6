/* reference-binary.c: the c_glib generated codec over the binary protocol
 *
 * SPDX-License-Identifier: MIT
 *
 * The same approach as reference.c, for ThriftBinaryProtocol: the generated
 * readers do the decoding, and two small subclasses make them safe on bytes
 * from the network.
 *
 *  - BinaryReader (a ThriftMemoryBuffer) reads from the datagram in place
 *    and fails a read that asks for more bytes than are left, where the
 *    stock buffer would make thrift_transport_read_all() loop for ever.
 *
 *  - GuardedBinaryProtocol (a ThriftBinaryProtocol) bounds nesting and
 *    refuses a field that comes twice in one struct, as the compact one
 *    does, and checks every size before the parent class sees it. libthrift-c-glib 0.17's binary protocol has no string or container
 *    limit at all: a string header claiming 2 GB makes it call g_new0() for
 *    2 GB before it notices that the bytes are not there. Here a string or
 *    binary may not claim more bytes than are left in the datagram, and a
 *    list, set or map may not claim more elements than there are bytes left
 *    (every element takes at least one), so a datagram never allocates more
 *    than a small multiple of its own size. Element types must be real
 *    Thrift types: thrift_protocol_skip() reads nothing for an unknown one,
 *    so a list of them would only spin.
 *
 * The message header is read here rather than by the parent class, because
 * c_glib 0.17 only understands the strict header (a version word first) and
 * silently returns nothing for the old one (the name's length first), which
 * Go's and Python's binary readers still accept.
 */

#include "reference-binary.h"

#include <string.h>

/* As in reference.c: jaeger.thrift nests 8 deep at most. */
#define MAX_NESTING 64

#define EMIT_BATCH_NAME "emitBatch"

/* ---- BinaryReader ------------------------------------------------------------ */

typedef struct {
  ThriftMemoryBuffer parent_instance;

  const guint8 *data;   /* (unowned) the datagram, alive during the decode */
  guint32       len;
  guint32       pos;    /* bytes consumed so far */
} BinaryReader;

typedef struct {
  ThriftMemoryBufferClass parent_class;
} BinaryReaderClass;

static GType binary_reader_get_type (void);
G_DEFINE_TYPE (BinaryReader, binary_reader, THRIFT_TYPE_MEMORY_BUFFER)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BinaryReader, g_object_unref)

static guint32
binary_reader_remaining (BinaryReader *self)
{
  return self->len - self->pos;
}

static gint32
binary_reader_read (ThriftTransport *transport,
                    gpointer         buf,
                    guint32          len,
                    GError         **error)
{
  BinaryReader *self = (BinaryReader *) transport;

  if (len > binary_reader_remaining (self))
    {
      g_set_error (error, THRIFT_TRANSPORT_ERROR,
                   THRIFT_TRANSPORT_ERROR_RECEIVE,
                   "the datagram ends after %u bytes, %u bytes too soon",
                   self->len, len - binary_reader_remaining (self));
      return -1;
    }

  memcpy (buf, self->data + self->pos, len);
  self->pos += len;

  /* len <= self->len <= G_MAXINT32 */
  return (gint32) len;
}

/* The parent's version counts against a "remaining message size" that this
 * reader does not maintain; the bytes actually left are the true bound. */
static gboolean
binary_reader_check_read_bytes_available (ThriftTransport *transport,
                                          glong            n_bytes,
                                          GError         **error)
{
  BinaryReader *self = (BinaryReader *) transport;

  if (n_bytes < 0 || (gulong) n_bytes > binary_reader_remaining (self))
    {
      g_set_error (error, THRIFT_TRANSPORT_ERROR,
                   THRIFT_TRANSPORT_ERROR_RECEIVE,
                   "%ld bytes announced at byte %u, but only %u are left",
                   n_bytes, self->pos, binary_reader_remaining (self));
      return FALSE;
    }
  return TRUE;
}

/* A big-endian 32-bit word at @offset bytes past the current position,
 * without consuming it; FALSE when the datagram is too short, in which case
 * the parent's own read fails with the usual message. */
static gboolean
binary_reader_peek_i32 (BinaryReader *self,
                        guint32       offset,
                        gint32       *value)
{
  guint32 word;

  if (binary_reader_remaining (self) < offset
      || binary_reader_remaining (self) - offset < 4)
    return FALSE;
  memcpy (&word, self->data + self->pos + offset, 4);
  *value = (gint32) GUINT32_FROM_BE (word);
  return TRUE;
}

static gboolean
binary_reader_peek_byte (BinaryReader *self,
                         guint32       offset,
                         guint8       *value)
{
  if (binary_reader_remaining (self) <= offset)
    return FALSE;
  *value = self->data[self->pos + offset];
  return TRUE;
}

static void
binary_reader_class_init (BinaryReaderClass *klass)
{
  ThriftTransportClass *transport_class = THRIFT_TRANSPORT_CLASS (klass);

  transport_class->read = binary_reader_read;
  transport_class->checkReadBytesAvailable = binary_reader_check_read_bytes_available;
}

static void
binary_reader_init (BinaryReader *self)
{
}

/* ---- GuardedBinaryProtocol ----------------------------------------------------- */

typedef struct {
  ThriftBinaryProtocol parent_instance;

  guint   depth;              /* structs and containers open right now */
  guint32 last_string_bytes;  /* wire bytes (length and text) of the last string */
  guint   struct_depth;       /* structs open right now */
  guint64 seen_fields[MAX_NESTING + 1];  /* per open struct: ids 1 to 63 read */
} GuardedBinaryProtocol;

typedef struct {
  ThriftBinaryProtocolClass parent_class;
} GuardedBinaryProtocolClass;

static GType guarded_binary_protocol_get_type (void);
G_DEFINE_TYPE (GuardedBinaryProtocol, guarded_binary_protocol,
               THRIFT_TYPE_BINARY_PROTOCOL)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GuardedBinaryProtocol, g_object_unref)

#define PARENT_PROTOCOL_CLASS \
  (THRIFT_PROTOCOL_CLASS (guarded_binary_protocol_parent_class))

static BinaryReader *
guarded_reader (ThriftProtocol *protocol)
{
  return (BinaryReader *) protocol->transport;
}

static gboolean
is_wire_type (guint8 type)
{
  switch (type)
    {
    case T_BOOL:
    case T_BYTE:
    case T_DOUBLE:
    case T_I16:
    case T_I32:
    case T_I64:
    case T_STRING:
    case T_STRUCT:
    case T_MAP:
    case T_SET:
    case T_LIST:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
guarded_enter (ThriftProtocol *protocol,
               GError        **error)
{
  GuardedBinaryProtocol *self = (GuardedBinaryProtocol *) protocol;

  if (self->depth >= MAX_NESTING)
    {
      g_set_error (error, THRIFT_PROTOCOL_ERROR,
                   THRIFT_PROTOCOL_ERROR_DEPTH_LIMIT,
                   "structs and containers nested more than %u deep",
                   (guint) MAX_NESTING);
      return FALSE;
    }
  self->depth++;
  return TRUE;
}

static void
guarded_leave (ThriftProtocol *protocol)
{
  GuardedBinaryProtocol *self = (GuardedBinaryProtocol *) protocol;

  if (self->depth > 0)
    self->depth--;
}

/* The length word of a string or binary at the current position must fit
 * in what is left after it: checked before the parent allocates. */
static gboolean
check_string_size (ThriftProtocol *protocol,
                   GError        **error)
{
  BinaryReader *reader = guarded_reader (protocol);
  gint32 size;

  if (!binary_reader_peek_i32 (reader, 0, &size))
    return TRUE;  /* the parent's read of the length fails */

  if (size < 0 || (guint32) size > binary_reader_remaining (reader) - 4)
    {
      g_set_error (error, THRIFT_PROTOCOL_ERROR,
                   size < 0 ? THRIFT_PROTOCOL_ERROR_NEGATIVE_SIZE
                            : THRIFT_PROTOCOL_ERROR_SIZE_LIMIT,
                   "a string of %d bytes at byte %u, where only %u bytes "
                   "are left", size, reader->pos,
                   binary_reader_remaining (reader) - 4);
      return FALSE;
    }
  return TRUE;
}

/* A container header: @n_types type bytes, then a size word. The size may
 * not exceed the bytes left after the header (@per_element bytes at least
 * per element), and every type byte must be a real type. */
static gboolean
check_container (ThriftProtocol *protocol,
                 guint           n_types,
                 guint           per_element,
                 GError        **error)
{
  BinaryReader *reader = guarded_reader (protocol);
  guint32 header = n_types + 4;
  guint32 left;
  gint32 size;

  for (guint i = 0; i < n_types; i++)
    {
      guint8 type;

      if (!binary_reader_peek_byte (reader, i, &type))
        return TRUE;  /* the parent's read fails */
      if (!is_wire_type (type))
        {
          g_set_error (error, THRIFT_PROTOCOL_ERROR,
                       THRIFT_PROTOCOL_ERROR_INVALID_DATA,
                       "a container of unknown element type %u at byte %u",
                       (guint) type, reader->pos);
          return FALSE;
        }
    }

  if (!binary_reader_peek_i32 (reader, n_types, &size))
    return TRUE;

  left = binary_reader_remaining (reader) - header;
  if (size < 0 || (guint64) size * per_element > left)
    {
      g_set_error (error, THRIFT_PROTOCOL_ERROR,
                   size < 0 ? THRIFT_PROTOCOL_ERROR_NEGATIVE_SIZE
                            : THRIFT_PROTOCOL_ERROR_SIZE_LIMIT,
                   "a container of %d elements at byte %u, where only %u "
                   "bytes are left", size, reader->pos, left);
      return FALSE;
    }
  return TRUE;
}

static gint32
guarded_read_struct_begin (ThriftProtocol *protocol,
                           gchar         **name,
                           GError        **error)
{
  GuardedBinaryProtocol *self = (GuardedBinaryProtocol *) protocol;

  *name = NULL;
  if (!guarded_enter (protocol, error))
    return -1;
  /* depth <= MAX_NESTING bounds struct_depth too. */
  self->struct_depth++;
  self->seen_fields[self->struct_depth] = 0;
  return PARENT_PROTOCOL_CLASS->read_struct_begin (protocol, name, error);
}

static gint32
guarded_read_struct_end (ThriftProtocol *protocol,
                         GError        **error)
{
  GuardedBinaryProtocol *self = (GuardedBinaryProtocol *) protocol;

  if (self->struct_depth > 0)
    self->struct_depth--;
  guarded_leave (protocol);
  return PARENT_PROTOCOL_CLASS->read_struct_end (protocol, error);
}

/* A field that comes twice in one struct is refused, as in reference.c:
 * the generated Tag reader g_free()s the GByteArray of a first vBinary
 * when a second one comes. Ids above 63 are not in jaeger.thrift. */
static gint32
guarded_read_field_begin (ThriftProtocol *protocol,
                          gchar         **name,
                          ThriftType     *field_type,
                          gint16         *field_id,
                          GError        **error)
{
  GuardedBinaryProtocol *self = (GuardedBinaryProtocol *) protocol;
  gint32 ret;
  guint64 bit;

  ret = PARENT_PROTOCOL_CLASS->read_field_begin (protocol, name, field_type,
                                                 field_id, error);
  if (ret < 0 || *field_type == T_STOP || self->struct_depth == 0
      || *field_id <= 0 || *field_id >= 64)
    return ret;

  bit = G_GUINT64_CONSTANT (1) << *field_id;
  if (self->seen_fields[self->struct_depth] & bit)
    {
      g_set_error (error, THRIFT_PROTOCOL_ERROR,
                   THRIFT_PROTOCOL_ERROR_INVALID_DATA,
                   "field %d comes twice in one struct", (int) *field_id);
      return -1;
    }
  self->seen_fields[self->struct_depth] |= bit;
  return ret;
}

static gint32
guarded_read_list_begin (ThriftProtocol *protocol,
                         ThriftType     *element_type,
                         guint32        *size,
                         GError        **error)
{
  if (!check_container (protocol, 1, 1, error) || !guarded_enter (protocol, error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_list_begin (protocol, element_type,
                                                 size, error);
}

static gint32
guarded_read_list_end (ThriftProtocol *protocol,
                       GError        **error)
{
  guarded_leave (protocol);
  return PARENT_PROTOCOL_CLASS->read_list_end (protocol, error);
}

/* A binary set header is a list header; the parent's set reader would go
 * through thrift_protocol_read_list_begin() and so count the set twice. */
static gint32
guarded_read_set_begin (ThriftProtocol *protocol,
                        ThriftType     *element_type,
                        guint32        *size,
                        GError        **error)
{
  if (!check_container (protocol, 1, 1, error) || !guarded_enter (protocol, error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_list_begin (protocol, element_type,
                                                 size, error);
}

static gint32
guarded_read_set_end (ThriftProtocol *protocol,
                      GError        **error)
{
  guarded_leave (protocol);
  return PARENT_PROTOCOL_CLASS->read_set_end (protocol, error);
}

static gint32
guarded_read_map_begin (ThriftProtocol *protocol,
                        ThriftType     *key_type,
                        ThriftType     *value_type,
                        guint32        *size,
                        GError        **error)
{
  if (!check_container (protocol, 2, 2, error) || !guarded_enter (protocol, error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_map_begin (protocol, key_type,
                                                value_type, size, error);
}

static gint32
guarded_read_map_end (ThriftProtocol *protocol,
                      GError        **error)
{
  guarded_leave (protocol);
  return PARENT_PROTOCOL_CLASS->read_map_end (protocol, error);
}

static gint32
guarded_read_binary (ThriftProtocol *protocol,
                     gpointer       *buf,
                     guint32        *len,
                     GError        **error)
{
  /* thrift_protocol_skip() may free *buf whatever happened; a read that
   * fails on the length would otherwise leave it uninitialised. */
  *buf = NULL;
  *len = 0;
  if (!check_string_size (protocol, error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_binary (protocol, buf, len, error);
}

static gint32
guarded_read_string (ThriftProtocol *protocol,
                     gchar         **str,
                     GError        **error)
{
  GuardedBinaryProtocol *self = (GuardedBinaryProtocol *) protocol;
  BinaryReader *reader = guarded_reader (protocol);
  guint32 start = reader->pos;
  gint32 ret;

  *str = NULL;
  self->last_string_bytes = 0;
  if (!check_string_size (protocol, error))
    return -1;
  ret = PARENT_PROTOCOL_CLASS->read_string (protocol, str, error);
  self->last_string_bytes = ret < 0 ? 0 : reader->pos - start;
  return ret;
}

static void
guarded_binary_protocol_class_init (GuardedBinaryProtocolClass *klass)
{
  ThriftProtocolClass *protocol_class = THRIFT_PROTOCOL_CLASS (klass);

  protocol_class->read_struct_begin = guarded_read_struct_begin;
  protocol_class->read_struct_end = guarded_read_struct_end;
  protocol_class->read_field_begin = guarded_read_field_begin;
  protocol_class->read_list_begin = guarded_read_list_begin;
  protocol_class->read_list_end = guarded_read_list_end;
  protocol_class->read_set_begin = guarded_read_set_begin;
  protocol_class->read_set_end = guarded_read_set_end;
  protocol_class->read_map_begin = guarded_read_map_begin;
  protocol_class->read_map_end = guarded_read_map_end;
  protocol_class->read_binary = guarded_read_binary;
  protocol_class->read_string = guarded_read_string;
}

static void
guarded_binary_protocol_init (GuardedBinaryProtocol *self)
{
}

/* ---- Decoding ------------------------------------------------------------------- */

/* The message header, both forms. On success *name is the method name
 * (text only; *name_ok says whether its bytes were exactly that text). */
static gboolean
read_message_header (GuardedBinaryProtocol *guarded,
                     gchar                **name,
                     gboolean              *name_ok,
                     gint32                *type,
                     gint32                *seqid,
                     GError               **error)
{
  ThriftProtocol *protocol = THRIFT_PROTOCOL (guarded);
  BinaryReader *reader = guarded_reader (protocol);
  gint32 word;

  if (thrift_protocol_read_i32 (protocol, &word, error) < 0)
    return FALSE;

  if (word < 0)
    {
      /* Strict: 0x8001 (version 1), a byte of nothing, the type. */
      if (((guint32) word & THRIFT_BINARY_PROTOCOL_VERSION_MASK)
          != THRIFT_BINARY_PROTOCOL_VERSION_1)
        {
          g_set_error (error, THRIFT_PROTOCOL_ERROR,
                       THRIFT_PROTOCOL_ERROR_BAD_VERSION,
                       "version word 0x%08x; binary protocol version 1 "
                       "starts with 0x8001", (guint32) word);
          return FALSE;
        }
      *type = (gint32) ((guint32) word & 0xff);
      if (thrift_protocol_read_string (protocol, name, error) < 0)
        return FALSE;
      *name_ok = guarded->last_string_bytes == 4 + strlen (*name);
    }
  else
    {
      /* Old form: the word was the name's length. */
      gint8 type_byte;

      if ((guint32) word > binary_reader_remaining (reader))
        {
          g_set_error (error, THRIFT_PROTOCOL_ERROR,
                       THRIFT_PROTOCOL_ERROR_SIZE_LIMIT,
                       "a method name of %d bytes, where only %u bytes are "
                       "left", word, binary_reader_remaining (reader));
          return FALSE;
        }
      *name = g_strndup ((const char *) reader->data + reader->pos,
                         (gsize) word);
      *name_ok = strlen (*name) == (gsize) word;
      reader->pos += (guint32) word;

      if (thrift_protocol_read_byte (protocol, &type_byte, error) < 0)
        return FALSE;
      *type = type_byte;
    }

  return thrift_protocol_read_i32 (protocol, seqid, error) >= 0;
}

JaegerBatch *
gluetool_reference_decode_datagram_binary (const guint8  *data,
                                           gsize          len,
                                           gint32        *seqid,
                                           gint32        *message_type,
                                           GError       **error)
{
  g_autoptr(BinaryReader) reader = NULL;
  g_autoptr(GuardedBinaryProtocol) guarded = NULL;
  g_autoptr(JaegerAgentEmitBatchArgs) args = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree gchar *name = NULL;
  ThriftProtocol *protocol;
  gboolean name_ok = FALSE;
  gint32 type = 0;
  gint32 id = 0;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Before BinaryReader's class exists, so it inherits the fixed finalize
   * of ThriftMemoryBuffer (see reference.c). */
  gluetool_reference_init ();

  if (len == 0 || len > G_MAXINT32)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "a datagram of %" G_GSIZE_FORMAT " bytes cannot hold an "
                   "emitBatch message", len);
      return NULL;
    }

  reader = g_object_new (binary_reader_get_type (),
                         "remainingmessagesize", (glong) len,
                         "knowmessagesize", (glong) len,
                         NULL);
  reader->data = data;
  reader->len = (guint32) len;
  reader->pos = 0;

  guarded = g_object_new (guarded_binary_protocol_get_type (),
                          "transport", reader,
                          NULL);
  protocol = THRIFT_PROTOCOL (guarded);

  if (!read_message_header (guarded, &name, &name_ok, &type, &id,
                            &local_error))
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "not a binary-protocol message header: %s",
                   local_error->message);
      return NULL;
    }

  if (g_strcmp0 (name, EMIT_BATCH_NAME) != 0 || !name_ok)
    {
      g_autofree gchar *escaped = g_strescape (name != NULL ? name : "", NULL);

      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "the message calls \"%s\"%s, not \"" EMIT_BATCH_NAME "\"",
                   escaped,
                   g_strcmp0 (name, EMIT_BATCH_NAME) == 0
                     ? " followed by more bytes in its name" : "");
      return NULL;
    }

  if (type != T_ONEWAY && type != T_CALL)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "emitBatch sent as a message of type %d; only ONEWAY (4) "
                   "and CALL (1) carry a batch", (int) type);
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

  /* The args field is optional in agent.thrift: see reference.c. */
  if (!args->__isset_batch)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_DECODE,
                   "the emitBatch arguments carry no batch (field 1 of type "
                   "struct)");
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

/* ---- Encoding ------------------------------------------------------------------- */

GBytes *
gluetool_reference_encode_datagram_binary (JaegerBatch   *batch,
                                           gint32         seqid,
                                           GError       **error)
{
  g_autoptr(ThriftMemoryBuffer) buffer = NULL;
  g_autoptr(GObject) writer = NULL;
  g_autoptr(JaegerAgentEmitBatchArgs) args = NULL;
  g_autoptr(GError) local_error = NULL;
  ThriftProtocol *protocol;

  g_return_val_if_fail (JAEGER_IS_BATCH (batch), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gluetool_reference_init ();

  /* A fresh buffer and protocol each time, so that this is callable from
   * any thread and a failed write leaves nothing behind. */
  buffer = g_object_new (THRIFT_TYPE_MEMORY_BUFFER, NULL);
  writer = g_object_new (THRIFT_TYPE_BINARY_PROTOCOL,
                         "transport", buffer,
                         NULL);
  protocol = THRIFT_PROTOCOL (writer);
  args = g_object_new (JAEGER_TYPE_AGENT_EMIT_BATCH_ARGS,
                       "batch", batch,
                       NULL);

  if (thrift_protocol_write_message_begin (protocol, EMIT_BATCH_NAME,
                                           T_ONEWAY, seqid,
                                           &local_error) < 0
      || thrift_struct_write (THRIFT_STRUCT (args), protocol,
                              &local_error) < 0
      || thrift_protocol_write_message_end (protocol, &local_error) < 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_ENCODE,
                   "c_glib could not write the binary emitBatch message: %s",
                   local_error->message);
      return NULL;
    }

  return g_bytes_new (buffer->buf->data, buffer->buf->len);
}
