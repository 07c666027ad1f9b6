/* reference.c: the c_glib generated codec, wrapped for tests and tools
 *
 * SPDX-License-Identifier: MIT
 *
 * Encoding is plain c_glib: a ThriftMemoryBuffer under a
 * ThriftCompactProtocol, and the generated writers.
 *
 * Decoding also uses the generated readers, but libthrift-c-glib 0.17 was
 * written for trusted peers, and a datagram receiver is not one. Two small
 * subclasses close the gaps, and nothing else changes how bytes are read:
 *
 *  - DatagramReader (a ThriftMemoryBuffer) fails a read that asks for more
 *    bytes than are left. The stock buffer hands out what it has and returns
 *    0 when empty, and thrift_transport_read_all() then loops for ever: any
 *    truncated datagram would hang the reader. It also reads by moving a
 *    cursor instead of shifting the whole array after every byte, and knows
 *    where the message ended, so trailing bytes can be refused.
 *
 *  - GuardedProtocol (a ThriftCompactProtocol) bounds nesting. The generated
 *    readers only nest as deep as jaeger.thrift does, but
 *    thrift_protocol_skip() recurses once per nested struct or container in
 *    an unknown field, one byte each, so a 64 kB datagram could ask for
 *    tens of thousands of frames. It also clears read_binary()'s outputs
 *    before reading, because skip() frees them even when the read failed
 *    before setting them, and it remembers how many bytes the last string
 *    took, so that "emitBatch\0junk" cannot pass as "emitBatch". And it
 *    refuses a field that comes twice in one struct: the generated Tag
 *    reader crashes on a second vBinary (guarded_protocol_read_field_begin()
 *    says how).
 *
 * The string_limit and container_limit properties are set to the datagram's
 * length: no string or list in it can be longer than the datagram itself,
 * so nothing allocates more than a small multiple of what arrived.
 *
 * One more gap is not about hostile input: the finalize functions the
 * generator writes for every struct, and ThriftMemoryBuffer's, never chain
 * up to GObject's, so g_object_finalize() never frees the qdata GObject
 * attaches to an object while it dies: valgrind shows 48 bytes lost per
 * struct destroyed, which adds up in a receiver and fails every valgrind run.
 * gluetool_reference_init() makes those classes chain up.
 */

#include "reference.h"

#include <string.h>

G_DEFINE_QUARK (gluetool-reference-error-quark, gluetool_reference_error)

/* jaeger.thrift nests 8 deep at most (args, Batch, spans, Span, logs, Log,
 * fields, Tag); this leaves room for unknown fields a newer IDL might add
 * without letting a hostile datagram recurse without end. */
#define MAX_NESTING 64

#define EMIT_BATCH_NAME "emitBatch"

/* ---- Finalizers that chain up ---------------------------------------------- */

typedef void (*FinalizeFunc) (GObject *object);

typedef struct {
  GType        type;
  FinalizeFunc finalize;  /* the class's own, which forgets to chain up */
} OriginalFinalize;

/* Written once inside g_once_init_enter/leave, read-only afterwards. */
static OriginalFinalize original_finalizers[16];
static guint n_original_finalizers;
static FinalizeFunc object_finalize;  /* GObject's own */

static void
finalize_and_chain_up (GObject *object)
{
  /* The nearest patched class at or above the object's own: subclasses
   * made after the patch inherit this function. */
  for (GType type = G_OBJECT_TYPE (object); type != 0; type = g_type_parent (type))
    for (guint i = 0; i < n_original_finalizers; i++)
      if (original_finalizers[i].type == type)
        {
          original_finalizers[i].finalize (object);
          /* Every class between the patched ones and GObject (ThriftStruct,
           * ThriftTransport) inherits GObject's finalize, so this is the
           * chain-up the original should have made. */
          object_finalize (object);
          return;
        }

  g_assert_not_reached ();
}

static void
patch_finalize (GType type)
{
  /* The reference is kept: patched classes must stay alive. */
  GObjectClass *klass = g_type_class_ref (type);

  if (klass->finalize == object_finalize
      || klass->finalize == finalize_and_chain_up)
    return;

  g_assert (n_original_finalizers < G_N_ELEMENTS (original_finalizers));
  original_finalizers[n_original_finalizers].type = type;
  original_finalizers[n_original_finalizers].finalize = klass->finalize;
  n_original_finalizers++;
  klass->finalize = finalize_and_chain_up;
}

void
gluetool_reference_init (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      GObjectClass *object_class = g_type_class_ref (G_TYPE_OBJECT);

      object_finalize = object_class->finalize;

      /* Before any subclass of it is initialised (DatagramReader below),
       * so that subclasses inherit the fixed finalize. */
      patch_finalize (THRIFT_TYPE_MEMORY_BUFFER);
      patch_finalize (JAEGER_TYPE_TAG);
      patch_finalize (JAEGER_TYPE_LOG);
      patch_finalize (JAEGER_TYPE_SPAN_REF);
      patch_finalize (JAEGER_TYPE_SPAN);
      patch_finalize (JAEGER_TYPE_PROCESS);
      patch_finalize (JAEGER_TYPE_CLIENT_STATS);
      patch_finalize (JAEGER_TYPE_BATCH);
      patch_finalize (JAEGER_TYPE_BATCH_SUBMIT_RESPONSE);
      patch_finalize (JAEGER_TYPE_AGENT_EMIT_BATCH_ARGS);

      g_once_init_leave (&initialized, 1);
    }
}

/* ---- DatagramReader --------------------------------------------------------- */

typedef struct {
  ThriftMemoryBuffer parent_instance;

  const guint8 *data;   /* (unowned) the datagram, alive during the decode */
  guint32       len;
  guint32       pos;    /* bytes consumed so far */
} DatagramReader;

typedef struct {
  ThriftMemoryBufferClass parent_class;
} DatagramReaderClass;

static GType datagram_reader_get_type (void);
G_DEFINE_TYPE (DatagramReader, datagram_reader, THRIFT_TYPE_MEMORY_BUFFER)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DatagramReader, g_object_unref)

static gint32
datagram_reader_read (ThriftTransport *transport,
                      gpointer         buf,
                      guint32          len,
                      GError         **error)
{
  DatagramReader *self = (DatagramReader *) transport;

  if (len > self->len - self->pos)
    {
      g_set_error (error, THRIFT_TRANSPORT_ERROR,
                   THRIFT_TRANSPORT_ERROR_RECEIVE,
                   "the datagram ends after %u bytes, %u bytes too soon",
                   self->len, len - (self->len - self->pos));
      return -1;
    }

  memcpy (buf, self->data + self->pos, len);
  self->pos += len;

  /* len <= self->len <= G_MAXINT32 */
  return (gint32) len;
}

static void
datagram_reader_class_init (DatagramReaderClass *klass)
{
  ThriftTransportClass *transport_class = THRIFT_TRANSPORT_CLASS (klass);

  transport_class->read = datagram_reader_read;
}

static void
datagram_reader_init (DatagramReader *self)
{
}

/* ---- GuardedProtocol ------------------------------------------------------- */

typedef struct {
  ThriftCompactProtocol parent_instance;

  guint   depth;              /* structs and containers open right now */
  guint32 last_string_bytes;  /* wire bytes (length and text) of the last string */
  guint   struct_depth;       /* structs open right now */
  guint64 seen_fields[MAX_NESTING + 1];  /* per open struct: ids 1 to 63 read */
} GuardedProtocol;

typedef struct {
  ThriftCompactProtocolClass parent_class;
} GuardedProtocolClass;

static GType guarded_protocol_get_type (void);
G_DEFINE_TYPE (GuardedProtocol, guarded_protocol, THRIFT_TYPE_COMPACT_PROTOCOL)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GuardedProtocol, g_object_unref)

#define PARENT_PROTOCOL_CLASS \
  (THRIFT_PROTOCOL_CLASS (guarded_protocol_parent_class))

static gboolean
guarded_protocol_enter (ThriftProtocol *protocol,
                        GError        **error)
{
  GuardedProtocol *self = (GuardedProtocol *) protocol;

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
guarded_protocol_leave (ThriftProtocol *protocol)
{
  GuardedProtocol *self = (GuardedProtocol *) protocol;

  if (self->depth > 0)
    self->depth--;
}

static gint32
guarded_protocol_read_struct_begin (ThriftProtocol *protocol,
                                    gchar         **name,
                                    GError        **error)
{
  GuardedProtocol *self = (GuardedProtocol *) protocol;

  *name = NULL;
  if (!guarded_protocol_enter (protocol, error))
    return -1;
  /* depth <= MAX_NESTING bounds struct_depth too. */
  self->struct_depth++;
  self->seen_fields[self->struct_depth] = 0;
  return PARENT_PROTOCOL_CLASS->read_struct_begin (protocol, name, error);
}

static gint32
guarded_protocol_read_struct_end (ThriftProtocol *protocol,
                                  GError        **error)
{
  GuardedProtocol *self = (GuardedProtocol *) protocol;

  if (self->struct_depth > 0)
    self->struct_depth--;
  guarded_protocol_leave (protocol);
  return PARENT_PROTOCOL_CLASS->read_struct_end (protocol, error);
}

/* A field that comes twice in one struct is refused. No writer sends
 * that, and the generated readers do not survive it: a second vBinary
 * in a Tag makes jaeger_tag_read() g_free() the first one's GByteArray,
 * which is no malloc() block (found by tests/fuzz). Ids above 63 are not
 * in jaeger.thrift, so the generated readers only ever skip them. */
static gint32
guarded_protocol_read_field_begin (ThriftProtocol *protocol,
                                   gchar         **name,
                                   ThriftType     *field_type,
                                   gint16         *field_id,
                                   GError        **error)
{
  GuardedProtocol *self = (GuardedProtocol *) protocol;
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
guarded_protocol_read_list_begin (ThriftProtocol *protocol,
                                  ThriftType     *element_type,
                                  guint32        *size,
                                  GError        **error)
{
  if (!guarded_protocol_enter (protocol, error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_list_begin (protocol, element_type,
                                                 size, error);
}

static gint32
guarded_protocol_read_list_end (ThriftProtocol *protocol,
                                GError        **error)
{
  guarded_protocol_leave (protocol);
  return PARENT_PROTOCOL_CLASS->read_list_end (protocol, error);
}

/* A compact set header is a list header (only the type nibble of the field
 * differs), so it is read with the parent's list reader directly: going
 * through the parent's set reader would dispatch back to our list override
 * and count the set twice. */
static gint32
guarded_protocol_read_set_begin (ThriftProtocol *protocol,
                                 ThriftType     *element_type,
                                 guint32        *size,
                                 GError        **error)
{
  if (!guarded_protocol_enter (protocol, error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_list_begin (protocol, element_type,
                                                 size, error);
}

static gint32
guarded_protocol_read_set_end (ThriftProtocol *protocol,
                               GError        **error)
{
  guarded_protocol_leave (protocol);
  return PARENT_PROTOCOL_CLASS->read_set_end (protocol, error);
}

static gint32
guarded_protocol_read_map_begin (ThriftProtocol *protocol,
                                 ThriftType     *key_type,
                                 ThriftType     *value_type,
                                 guint32        *size,
                                 GError        **error)
{
  if (!guarded_protocol_enter (protocol, error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_map_begin (protocol, key_type,
                                                value_type, size, error);
}

static gint32
guarded_protocol_read_map_end (ThriftProtocol *protocol,
                               GError        **error)
{
  guarded_protocol_leave (protocol);
  return PARENT_PROTOCOL_CLASS->read_map_end (protocol, error);
}

static gint32
guarded_protocol_read_binary (ThriftProtocol *protocol,
                              gpointer       *buf,
                              guint32        *len,
                              GError        **error)
{
  /* thrift_protocol_skip() frees *buf whatever happened; a read that fails
   * on the length varint would otherwise leave it uninitialised. */
  *buf = NULL;
  *len = 0;
  return PARENT_PROTOCOL_CLASS->read_binary (protocol, buf, len, error);
}

static gint32
guarded_protocol_read_string (ThriftProtocol *protocol,
                              gchar         **str,
                              GError        **error)
{
  GuardedProtocol *self = (GuardedProtocol *) protocol;
  DatagramReader *reader = (DatagramReader *) protocol->transport;
  guint32 start = reader->pos;
  gint32 ret;

  *str = NULL;
  ret = PARENT_PROTOCOL_CLASS->read_string (protocol, str, error);
  self->last_string_bytes = ret < 0 ? 0 : reader->pos - start;
  return ret;
}

/* ThriftCompactProtocol has no finalize, so the field-id stack a failed
 * read leaves behind (one node per struct still open) would leak. */
static void
guarded_protocol_finalize (GObject *object)
{
  ThriftCompactProtocol *compact = THRIFT_COMPACT_PROTOCOL (object);

  g_queue_clear (&compact->_last_field);
  G_OBJECT_CLASS (guarded_protocol_parent_class)->finalize (object);
}

static void
guarded_protocol_class_init (GuardedProtocolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ThriftProtocolClass *protocol_class = THRIFT_PROTOCOL_CLASS (klass);

  object_class->finalize = guarded_protocol_finalize;

  protocol_class->read_struct_begin = guarded_protocol_read_struct_begin;
  protocol_class->read_struct_end = guarded_protocol_read_struct_end;
  protocol_class->read_field_begin = guarded_protocol_read_field_begin;
  protocol_class->read_list_begin = guarded_protocol_read_list_begin;
  protocol_class->read_list_end = guarded_protocol_read_list_end;
  protocol_class->read_set_begin = guarded_protocol_read_set_begin;
  protocol_class->read_set_end = guarded_protocol_read_set_end;
  protocol_class->read_map_begin = guarded_protocol_read_map_begin;
  protocol_class->read_map_end = guarded_protocol_read_map_end;
  protocol_class->read_binary = guarded_protocol_read_binary;
  protocol_class->read_string = guarded_protocol_read_string;
}

static void
guarded_protocol_init (GuardedProtocol *self)
{
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

JaegerBatch *
gluetool_reference_decode_datagram (const guint8  *data,
                                    gsize          len,
                                    gint32        *seqid,
                                    gint32        *message_type,
                                    GError       **error)
{
  g_autoptr(DatagramReader) reader = NULL;
  g_autoptr(GuardedProtocol) guarded = NULL;
  g_autoptr(JaegerAgentEmitBatchArgs) args = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree gchar *name = NULL;
  ThriftProtocol *protocol;
  ThriftMessageType type = 0;
  gint32 id = 0;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

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

  reader = g_object_new (datagram_reader_get_type (),
                         "remainingmessagesize", (glong) len,
                         "knowmessagesize", (glong) len,
                         NULL);
  reader->data = data;
  reader->len = (guint32) len;
  reader->pos = 0;

  guarded = g_object_new (guarded_protocol_get_type (),
                          "transport", reader,
                          "string_limit", (gint) len,
                          "container_limit", (gint) len,
                          NULL);
  protocol = THRIFT_PROTOCOL (guarded);

  if (thrift_protocol_read_message_begin (protocol, &name, &type, &id,
                                          &local_error) < 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "not a compact-protocol message header: %s",
                   local_error->message);
      return NULL;
    }

  /* One byte of length and nine of text: anything else only looks like
   * "emitBatch" to strcmp() (the name may hold a NUL). */
  if (g_strcmp0 (name, EMIT_BATCH_NAME) != 0
      || guarded->last_string_bytes != 1 + strlen (EMIT_BATCH_NAME))
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
    *message_type = (gint32) type;

  return g_object_ref (args->batch);
}

/* ---- Encoding ---------------------------------------------------------------- */

/* A fresh buffer and protocol each time: the compact writer keeps state
 * (the field-id stack, a pending bool field) that a failed write would
 * leave behind, and these functions must be callable from any thread. */
static ThriftCompactProtocol *
new_writer (ThriftMemoryBuffer **buffer)
{
  *buffer = g_object_new (THRIFT_TYPE_MEMORY_BUFFER, NULL);
  return g_object_new (THRIFT_TYPE_COMPACT_PROTOCOL,
                       "transport", *buffer,
                       NULL);
}

GBytes *
gluetool_reference_encode_datagram (JaegerBatch   *batch,
                                    gint32         seqid,
                                    GError       **error)
{
  g_autoptr(ThriftMemoryBuffer) buffer = NULL;
  g_autoptr(ThriftCompactProtocol) writer = NULL;
  g_autoptr(JaegerAgentEmitBatchArgs) args = NULL;
  g_autoptr(GError) local_error = NULL;
  ThriftProtocol *protocol;

  g_return_val_if_fail (JAEGER_IS_BATCH (batch), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gluetool_reference_init ();

  writer = new_writer (&buffer);
  protocol = THRIFT_PROTOCOL (writer);
  args = g_object_new (JAEGER_TYPE_AGENT_EMIT_BATCH_ARGS,
                       "batch", batch,
                       NULL);

  /* The generated client's send function would do this too, but always
   * with seqid 0; writing the header here lets tests choose it. */
  if (thrift_protocol_write_message_begin (protocol, EMIT_BATCH_NAME,
                                           T_ONEWAY, seqid,
                                           &local_error) < 0
      || thrift_struct_write (THRIFT_STRUCT (args), protocol,
                              &local_error) < 0
      || thrift_protocol_write_message_end (protocol, &local_error) < 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_ENCODE,
                   "c_glib could not write the emitBatch message: %s",
                   local_error->message);
      return NULL;
    }

  return g_bytes_new (buffer->buf->data, buffer->buf->len);
}

GBytes *
gluetool_reference_encode_struct (ThriftStruct  *object,
                                  GError       **error)
{
  g_autoptr(ThriftMemoryBuffer) buffer = NULL;
  g_autoptr(ThriftCompactProtocol) writer = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (THRIFT_IS_STRUCT (object), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gluetool_reference_init ();

  writer = new_writer (&buffer);
  if (thrift_struct_write (object, THRIFT_PROTOCOL (writer),
                           &local_error) < 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_ENCODE,
                   "c_glib could not write a %s: %s",
                   G_OBJECT_TYPE_NAME (object), local_error->message);
      return NULL;
    }

  return g_bytes_new (buffer->buf->data, buffer->buf->len);
}
