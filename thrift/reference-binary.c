/* reference-binary.c: the c_glib generated codec over the binary protocol
 *
 * SPDX-License-Identifier: MIT
 *
 * The same approach as reference.c, for ThriftBinaryProtocol: the generated
 * readers do the decoding, and two small subclasses make them safe on bytes
 * from the network.
 *
 *  - GluetoolReferenceReader (reference-common.c, shared with the compact
 *    decoder) reads from the datagram in place and fails a read that asks
 *    for more bytes than are left, where the stock buffer would make
 *    thrift_transport_read_all() loop for ever.
 *
 *  - GuardedBinaryProtocol (a ThriftBinaryProtocol) bounds nesting and
 *    refuses a field that comes twice in one struct, with the same
 *    GluetoolReferenceGuard as the compact one, and checks every size
 *    before the parent class sees it. libthrift-c-glib 0.17's binary
 *    protocol has no string or container limit at all: a string header
 *    claiming 2 GB makes it call g_new0() for 2 GB before it notices that
 *    the bytes are not there. Here a string or binary may not claim more
 *    bytes than are left in the datagram, and a list, set or map may not
 *    claim more elements than there are bytes left (every element takes at
 *    least one), so a datagram never allocates more than a small multiple
 *    of its own size. The reader also measures the parent's own size checks
 *    (checkReadBytesAvailable()) against the bytes left. Element types must
 *    be real Thrift types: thrift_protocol_skip() reads nothing for an
 *    unknown one, so a list of them would only spin.
 *
 * The message header is read here rather than by the parent class, because
 * c_glib 0.17 only understands the strict header (a version word first) and
 * silently returns nothing for the old one (the name's length first), which
 * Go's and Python's binary readers still accept.
 */

#include "reference-binary.h"
#include "reference-common.h"

#include <string.h>

/* ---- GuardedBinaryProtocol ----------------------------------------------------- */

typedef struct {
  ThriftBinaryProtocol parent_instance;

  GluetoolReferenceGuard guard;
} GuardedBinaryProtocol;

typedef struct {
  ThriftBinaryProtocolClass parent_class;
} GuardedBinaryProtocolClass;

static GType guarded_binary_protocol_get_type (void);
G_DEFINE_TYPE (GuardedBinaryProtocol, guarded_binary_protocol,
               THRIFT_TYPE_BINARY_PROTOCOL)

#define PARENT_PROTOCOL_CLASS \
  (THRIFT_PROTOCOL_CLASS (guarded_binary_protocol_parent_class))

static GluetoolReferenceReader *
guarded_reader (ThriftProtocol *protocol)
{
  return (GluetoolReferenceReader *) protocol->transport;
}

static GluetoolReferenceGuard *
guarded_guard (ThriftProtocol *protocol)
{
  return &((GuardedBinaryProtocol *) protocol)->guard;
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

/* The length word of a string or binary at the current position must fit
 * in what is left after it: checked before the parent allocates. */
static gboolean
check_string_size (ThriftProtocol *protocol,
                   GError        **error)
{
  GluetoolReferenceReader *reader = guarded_reader (protocol);
  gint32 size;

  if (!gluetool_reference_reader_peek_i32 (reader, 0, &size))
    return TRUE;  /* the parent's read of the length fails */

  if (size < 0
      || (guint32) size > gluetool_reference_reader_remaining (reader) - 4)
    {
      g_set_error (error, THRIFT_PROTOCOL_ERROR,
                   size < 0 ? THRIFT_PROTOCOL_ERROR_NEGATIVE_SIZE
                            : THRIFT_PROTOCOL_ERROR_SIZE_LIMIT,
                   "a string of %d bytes at byte %u, where only %u bytes "
                   "are left", size, reader->pos,
                   gluetool_reference_reader_remaining (reader) - 4);
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
  GluetoolReferenceReader *reader = guarded_reader (protocol);
  guint32 header = n_types + 4;
  guint32 left;
  gint32 size;

  for (guint i = 0; i < n_types; i++)
    {
      guint8 type;

      if (!gluetool_reference_reader_peek_byte (reader, i, &type))
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

  if (!gluetool_reference_reader_peek_i32 (reader, n_types, &size))
    return TRUE;

  left = gluetool_reference_reader_remaining (reader) - header;
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
  *name = NULL;
  if (!gluetool_reference_guard_enter_struct (guarded_guard (protocol), error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_struct_begin (protocol, name, error);
}

static gint32
guarded_read_struct_end (ThriftProtocol *protocol,
                         GError        **error)
{
  gluetool_reference_guard_leave_struct (guarded_guard (protocol));
  return PARENT_PROTOCOL_CLASS->read_struct_end (protocol, error);
}

/* A field that comes twice in one struct is refused, as in the compact
 * decoder: gluetool_reference_guard_check_field() says why. */
static gint32
guarded_read_field_begin (ThriftProtocol *protocol,
                          gchar         **name,
                          ThriftType     *field_type,
                          gint16         *field_id,
                          GError        **error)
{
  gint32 ret;

  ret = PARENT_PROTOCOL_CLASS->read_field_begin (protocol, name, field_type,
                                                 field_id, error);
  return gluetool_reference_guard_check_field (guarded_guard (protocol), ret,
                                               field_type, field_id, error);
}

/* A list, set or map header: its types and size checked, then it counts
 * against the nesting bound. */
static gboolean
enter_container (ThriftProtocol *protocol,
                 guint           n_types,
                 guint           per_element,
                 GError        **error)
{
  return check_container (protocol, n_types, per_element, error)
         && gluetool_reference_guard_enter (guarded_guard (protocol), error);
}

static gint32
guarded_read_list_begin (ThriftProtocol *protocol,
                         ThriftType     *element_type,
                         guint32        *size,
                         GError        **error)
{
  if (!enter_container (protocol, 1, 1, error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_list_begin (protocol, element_type,
                                                 size, error);
}

static gint32
guarded_read_list_end (ThriftProtocol *protocol,
                       GError        **error)
{
  gluetool_reference_guard_leave (guarded_guard (protocol));
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
  if (!enter_container (protocol, 1, 1, error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_list_begin (protocol, element_type,
                                                 size, error);
}

static gint32
guarded_read_set_end (ThriftProtocol *protocol,
                      GError        **error)
{
  gluetool_reference_guard_leave (guarded_guard (protocol));
  return PARENT_PROTOCOL_CLASS->read_set_end (protocol, error);
}

static gint32
guarded_read_map_begin (ThriftProtocol *protocol,
                        ThriftType     *key_type,
                        ThriftType     *value_type,
                        guint32        *size,
                        GError        **error)
{
  if (!enter_container (protocol, 2, 2, error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_map_begin (protocol, key_type,
                                                value_type, size, error);
}

static gint32
guarded_read_map_end (ThriftProtocol *protocol,
                      GError        **error)
{
  gluetool_reference_guard_leave (guarded_guard (protocol));
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
  GluetoolReferenceGuard *guard = guarded_guard (protocol);
  GluetoolReferenceReader *reader = guarded_reader (protocol);
  guint32 start = reader->pos;
  gint32 ret;

  *str = NULL;
  guard->last_string_bytes = 0;
  if (!check_string_size (protocol, error))
    return -1;
  ret = PARENT_PROTOCOL_CLASS->read_string (protocol, str, error);
  guard->last_string_bytes = ret < 0 ? 0 : reader->pos - start;
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

static ThriftProtocol *
new_guarded_protocol (GluetoolReferenceReader *reader)
{
  return g_object_new (guarded_binary_protocol_get_type (),
                       "transport", reader,
                       NULL);
}

/* The message header, both forms. */
static gboolean
read_message_header (ThriftProtocol  *protocol,
                     gchar          **name,
                     gboolean        *name_ok,
                     gint32          *type,
                     gint32          *seqid,
                     GError         **error)
{
  GluetoolReferenceReader *reader = guarded_reader (protocol);
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
      *name_ok = guarded_guard (protocol)->last_string_bytes
                   == 4 + strlen (*name);
    }
  else
    {
      /* Old form: the word was the name's length. */
      gint8 type_byte;

      if ((guint32) word > gluetool_reference_reader_remaining (reader))
        {
          g_set_error (error, THRIFT_PROTOCOL_ERROR,
                       THRIFT_PROTOCOL_ERROR_SIZE_LIMIT,
                       "a method name of %d bytes, where only %u bytes are "
                       "left", word,
                       gluetool_reference_reader_remaining (reader));
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

static const GluetoolReferenceWire binary_wire = {
  .name = "binary",
  .bound_announced_sizes = TRUE,
  .new_protocol = new_guarded_protocol,
  .read_header = read_message_header,
};

JaegerBatch *
gluetool_reference_decode_datagram_binary (const guint8  *data,
                                           gsize          len,
                                           gint32        *seqid,
                                           gint32        *message_type,
                                           GError       **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return gluetool_reference_decode (&binary_wire, data, len, seqid,
                                    message_type, error);
}

JaegerBatch *
gluetool_reference_decode_batch_binary (const guint8  *data,
                                        gsize          len,
                                        GError       **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return gluetool_reference_decode_batch (&binary_wire, data, len, error);
}

/* ---- Encoding ------------------------------------------------------------------- */

GBytes *
gluetool_reference_encode_datagram_binary (JaegerBatch   *batch,
                                           gint32         seqid,
                                           GError       **error)
{
  g_return_val_if_fail (JAEGER_IS_BATCH (batch), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return gluetool_reference_encode_message (THRIFT_TYPE_BINARY_PROTOCOL,
                                            "binary emitBatch message", batch,
                                            seqid, error);
}

GBytes *
gluetool_reference_encode_batch_binary (JaegerBatch   *batch,
                                        GError       **error)
{
  g_autoptr(ThriftMemoryBuffer) buffer = NULL;
  g_autoptr(ThriftProtocol) writer = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (JAEGER_IS_BATCH (batch), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gluetool_reference_init ();

  writer = gluetool_reference_new_writer (THRIFT_TYPE_BINARY_PROTOCOL, &buffer);
  if (thrift_struct_write (THRIFT_STRUCT (batch), writer, &local_error) < 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_ENCODE,
                   "c_glib could not write the binary Batch: %s",
                   local_error->message);
      return NULL;
    }

  return g_bytes_new (buffer->buf->data, buffer->buf->len);
}
