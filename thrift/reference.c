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
 * GluetoolReferenceReader (reference-common.c), which the binary decoder
 * shares, and GuardedProtocol (a ThriftCompactProtocol) here. The latter
 * keeps a GluetoolReferenceGuard, which bounds nesting, remembers how many
 * bytes the last string took and refuses a field that comes twice in one
 * struct (reference-common.c says why). It also clears read_binary()'s
 * outputs before reading, because skip() frees them even when the read
 * failed before setting them.
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
#include "reference-common.h"
#include "sync-private.h"

#include <string.h>

G_DEFINE_QUARK (gluetool-reference-error-quark, gluetool_reference_error)

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

  /* Every generated get_type() is called here first: their own "static
   * GType type = 0" checks are not thread-safe, and receivers decode in
   * threads of their own. */
  if (GLUETOOL_ONCE_INIT_ENTER (&initialized))
    {
      GObjectClass *object_class = g_type_class_ref (G_TYPE_OBJECT);

      object_finalize = object_class->finalize;

      /* Before any subclass of it is initialised (GluetoolReferenceReader),
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

      GLUETOOL_ONCE_INIT_LEAVE (&initialized, 1);
    }
}

/* ---- GuardedProtocol ------------------------------------------------------- */

typedef struct {
  ThriftCompactProtocol parent_instance;

  GluetoolReferenceGuard guard;
} GuardedProtocol;

typedef struct {
  ThriftCompactProtocolClass parent_class;
} GuardedProtocolClass;

static GType guarded_protocol_get_type (void);
G_DEFINE_TYPE (GuardedProtocol, guarded_protocol, THRIFT_TYPE_COMPACT_PROTOCOL)

#define PARENT_PROTOCOL_CLASS \
  (THRIFT_PROTOCOL_CLASS (guarded_protocol_parent_class))

static GluetoolReferenceGuard *
guarded_protocol_guard (ThriftProtocol *protocol)
{
  return &((GuardedProtocol *) protocol)->guard;
}

static gint32
guarded_protocol_read_struct_begin (ThriftProtocol *protocol,
                                    gchar         **name,
                                    GError        **error)
{
  *name = NULL;
  if (!gluetool_reference_guard_enter_struct (guarded_protocol_guard (protocol),
                                              error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_struct_begin (protocol, name, error);
}

static gint32
guarded_protocol_read_struct_end (ThriftProtocol *protocol,
                                  GError        **error)
{
  gluetool_reference_guard_leave_struct (guarded_protocol_guard (protocol));
  return PARENT_PROTOCOL_CLASS->read_struct_end (protocol, error);
}

static gint32
guarded_protocol_read_field_begin (ThriftProtocol *protocol,
                                   gchar         **name,
                                   ThriftType     *field_type,
                                   gint16         *field_id,
                                   GError        **error)
{
  gint32 ret;

  ret = PARENT_PROTOCOL_CLASS->read_field_begin (protocol, name, field_type,
                                                 field_id, error);
  return gluetool_reference_guard_check_field (guarded_protocol_guard (protocol),
                                               ret, field_type, field_id,
                                               error);
}

static gint32
guarded_protocol_read_list_begin (ThriftProtocol *protocol,
                                  ThriftType     *element_type,
                                  guint32        *size,
                                  GError        **error)
{
  if (!gluetool_reference_guard_enter (guarded_protocol_guard (protocol), error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_list_begin (protocol, element_type,
                                                 size, error);
}

static gint32
guarded_protocol_read_list_end (ThriftProtocol *protocol,
                                GError        **error)
{
  gluetool_reference_guard_leave (guarded_protocol_guard (protocol));
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
  if (!gluetool_reference_guard_enter (guarded_protocol_guard (protocol), error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_list_begin (protocol, element_type,
                                                 size, error);
}

static gint32
guarded_protocol_read_set_end (ThriftProtocol *protocol,
                               GError        **error)
{
  gluetool_reference_guard_leave (guarded_protocol_guard (protocol));
  return PARENT_PROTOCOL_CLASS->read_set_end (protocol, error);
}

static gint32
guarded_protocol_read_map_begin (ThriftProtocol *protocol,
                                 ThriftType     *key_type,
                                 ThriftType     *value_type,
                                 guint32        *size,
                                 GError        **error)
{
  if (!gluetool_reference_guard_enter (guarded_protocol_guard (protocol), error))
    return -1;
  return PARENT_PROTOCOL_CLASS->read_map_begin (protocol, key_type,
                                                value_type, size, error);
}

static gint32
guarded_protocol_read_map_end (ThriftProtocol *protocol,
                               GError        **error)
{
  gluetool_reference_guard_leave (guarded_protocol_guard (protocol));
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
  GluetoolReferenceReader *reader = (GluetoolReferenceReader *) protocol->transport;
  guint32 start = reader->pos;
  gint32 ret;

  *str = NULL;
  ret = PARENT_PROTOCOL_CLASS->read_string (protocol, str, error);
  guarded_protocol_guard (protocol)->last_string_bytes =
    ret < 0 ? 0 : reader->pos - start;
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

static ThriftProtocol *
new_guarded_protocol (GluetoolReferenceReader *reader)
{
  return g_object_new (guarded_protocol_get_type (),
                       "transport", reader,
                       "string_limit", (gint) reader->len,
                       "container_limit", (gint) reader->len,
                       NULL);
}

static gboolean
read_message_header (ThriftProtocol  *protocol,
                     gchar          **name,
                     gboolean        *name_ok,
                     gint32          *type,
                     gint32          *seqid,
                     GError         **error)
{
  ThriftMessageType message_type = 0;

  if (thrift_protocol_read_message_begin (protocol, name, &message_type,
                                          seqid, error) < 0)
    return FALSE;

  *type = (gint32) message_type;
  /* One byte of length and nine of text: anything else only looks like
   * "emitBatch" to strcmp() (the name may hold a NUL). */
  *name_ok = guarded_protocol_guard (protocol)->last_string_bytes
               == 1 + strlen (GLUETOOL_REFERENCE_EMIT_BATCH_NAME);
  return TRUE;
}

static const GluetoolReferenceWire compact_wire = {
  .name = "compact",
  .bound_announced_sizes = FALSE,
  .new_protocol = new_guarded_protocol,
  .read_header = read_message_header,
};

JaegerBatch *
gluetool_reference_decode_datagram (const guint8  *data,
                                    gsize          len,
                                    gint32        *seqid,
                                    gint32        *message_type,
                                    GError       **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return gluetool_reference_decode (&compact_wire, data, len, seqid,
                                    message_type, error);
}

/* ---- Encoding ---------------------------------------------------------------- */

GBytes *
gluetool_reference_encode_datagram (JaegerBatch   *batch,
                                    gint32         seqid,
                                    GError       **error)
{
  g_return_val_if_fail (JAEGER_IS_BATCH (batch), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return gluetool_reference_encode_message (THRIFT_TYPE_COMPACT_PROTOCOL,
                                            "emitBatch message", batch,
                                            seqid, error);
}

GBytes *
gluetool_reference_encode_struct (ThriftStruct  *object,
                                  GError       **error)
{
  g_autoptr(ThriftMemoryBuffer) buffer = NULL;
  g_autoptr(ThriftProtocol) writer = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (THRIFT_IS_STRUCT (object), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gluetool_reference_init ();

  writer = gluetool_reference_new_writer (THRIFT_TYPE_COMPACT_PROTOCOL,
                                          &buffer);
  if (thrift_struct_write (object, writer, &local_error) < 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_ENCODE,
                   "c_glib could not write a %s: %s",
                   G_OBJECT_TYPE_NAME (object), local_error->message);
      return NULL;
    }

  return g_bytes_new (buffer->buf->data, buffer->buf->len);
}
