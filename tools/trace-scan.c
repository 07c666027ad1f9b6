/* trace-scan.c: what a receiver that prints no span needs from a compact
 * emitBatch datagram, read in place
 *
 * SPDX-License-Identifier: MIT
 *
 * One function per struct of jaeger.thrift (trace-scan-structs.inc, shared
 * with the binary protocol's trace-scan-binary.c), each reading its fields
 * in place with a cursor that never passes the datagram's end; this file
 * gives them the compact protocol's fields, values and lists. Wire facts:
 * docs/design.md and the Thrift compact protocol specification. Whenever
 * the reference codec might read a byte differently (a long-form field id,
 * a varint with bits beyond its type, a field of an unexpected type), the
 * scan refuses, and the reference decides.
 */

#include "trace-scan.h"
#include "trace-scan-cursor.h"

#include <string.h>

/* Compact type nibbles. */
enum {
  CT_STOP = 0, CT_BOOL_TRUE = 1, CT_BOOL_FALSE = 2, CT_I32 = 5, CT_I64 = 6,
  CT_DOUBLE = 7, CT_BINARY = 8, CT_LIST = 9, CT_STRUCT = 12,
};

/* The message header's first two bytes: protocol id, then
 * (type << 5) | version 1, for ONEWAY (4) and CALL (1). */
#define COMPACT_PROTOCOL_ID 0x82
#define ONEWAY_VERSION_1    0x81
#define CALL_VERSION_1      0x21
/* The name as the reference accepts it: one length byte and the text. */
static const guint8 emit_batch_name[] = "\x09" "emitBatch";
/* emitBatch_args: field 1, a struct (the Batch), in the short form. */
#define ARGS_BATCH_FIELD    0x1c

/* The names trace-scan-structs.inc reads the types by. */
#define TYPE_TEXT   CT_BINARY
#define TYPE_I32    CT_I32
#define TYPE_I64    CT_I64
#define TYPE_DOUBLE CT_DOUBLE
#define TYPE_LIST   CT_LIST
#define TYPE_STRUCT CT_STRUCT

/* An unsigned varint of at most @max_bytes, whose last byte, when it is
 * the @max_bytes-th, holds no bit past the type's width (@last_max). */
static inline gboolean
read_varint (Cursor  *c,
             guint    max_bytes,
             guint8   last_max,
             guint64 *value)
{
  guint64 v = 0;

  for (guint i = 0; i < max_bytes; i++)
    {
      guint8 byte;

      if (!read_byte (c, &byte))
        return FALSE;
      if (i == max_bytes - 1 && byte > last_max)
        return FALSE;
      v |= (guint64) (byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0)
        {
          *value = v;
          return TRUE;
        }
    }
  return FALSE;
}

static inline gboolean
read_u32 (Cursor  *c,
          guint32 *value)
{
  guint64 v;

  if (!read_varint (c, 5, 0x0f, &v))
    return FALSE;
  *value = (guint32) v;
  return TRUE;
}

static inline gboolean
read_i32 (Cursor *c,
          gint32 *value)
{
  guint32 zigzag;

  if (!read_u32 (c, &zigzag))
    return FALSE;
  *value = (gint32) (zigzag >> 1) ^ -(gint32) (zigzag & 1);
  return TRUE;
}

static inline gboolean
read_i64 (Cursor *c,
          gint64 *value)
{
  guint64 zigzag;

  if (!read_varint (c, 10, 0x01, &zigzag))
    return FALSE;
  *value = (gint64) (zigzag >> 1) ^ -(gint64) (zigzag & 1);
  return TRUE;
}

/* A string or binary: its bytes, in place. Empty ones are refused: the
 * reference may hand them out as NULL, which counts differently. */
static inline gboolean
read_text (Cursor        *c,
             const guint8 **bytes,
             gsize         *len)
{
  guint32 n;

  if (!read_u32 (c, &n) || n == 0 || n > G_MAXINT32 || n > remaining (c))
    return FALSE;
  *bytes = c->p;
  *len = n;
  c->p += n;
  return TRUE;
}

static inline gboolean
skip_text (Cursor *c)
{
  guint32 n;

  /* Empty is fine here: nothing reads the value. */
  return read_u32 (c, &n) && n <= G_MAXINT32 && skip (c, n);
}

static inline gboolean
skip_double (Cursor *c)
{
  return skip (c, 8);
}

/* An empty string's or binary's length, not read. */
static inline gboolean
next_text_is_empty (const Cursor *c)
{
  return c->p < c->end && *c->p == 0;
}

/* A bool field's value is in its type. */
static inline gboolean
skip_bool_value (Cursor *c,
                 guint   type)
{
  return type == CT_BOOL_TRUE || type == CT_BOOL_FALSE;
}

/* A list<struct> header: its size, at most one element per byte left. */
static inline gboolean
read_struct_list (Cursor  *c,
                  guint32 *size)
{
  guint8 header;

  if (!read_byte (c, &header) || (header & 0x0f) != CT_STRUCT)
    return FALSE;
  *size = header >> 4;
  if (*size == 15 && (!read_u32 (c, size) || *size > G_MAXINT32))
    return FALSE;
  return *size <= remaining (c);
}

/* The fields of one struct, in any order, each at most once. */
typedef struct {
  gint    id;     /* the last field's, for the next delta */
  guint64 seen;   /* bit per field id read */
} Fields;

/* The next field's id and type: 1, 0 at the struct's end, -1 refused (a
 * long-form id, which only a writer other than c_glib's and this library's
 * uses, or a field already read). */
static inline int
next_field (Cursor *c,
            Fields *fields,
            guint  *type)
{
  guint8 byte;
  guint64 bit;

  if (!read_byte (c, &byte))
    return -1;
  if (byte == CT_STOP)
    return 0;
  if ((byte >> 4) == 0)
    return -1;
  fields->id += byte >> 4;
  /* Ids above 15 are in no struct of jaeger.thrift. */
  if (fields->id > 15)
    return -1;
  bit = G_GUINT64_CONSTANT (1) << fields->id;
  if (fields->seen & bit)
    return -1;
  fields->seen |= bit;
  *type = byte & 0x0f;
  return 1;
}

#include "trace-scan-structs.inc"

/* ---- The message ------------------------------------------------------------- */

void
trace_scan_init (TraceScan *scan)
{
  g_return_if_fail (scan != NULL);

  memset (scan, 0, sizeof *scan);
  scan->spans = g_array_new (FALSE, TRUE, sizeof (TraceScannedSpan));
}

void
trace_scan_clear (TraceScan *scan)
{
  g_return_if_fail (scan != NULL);

  g_clear_pointer (&scan->service_name, g_free);
  g_clear_pointer (&scan->client_uuid, g_free);
  g_clear_pointer (&scan->spans, g_array_unref);
}

void
trace_scan_reset (TraceScan *scan)
{
  g_return_if_fail (scan != NULL && scan->spans != NULL);

  g_clear_pointer (&scan->service_name, g_free);
  g_clear_pointer (&scan->client_uuid, g_free);
  scan->n_process_tags = 0;
  scan->has_seq_no = FALSE;
  scan->seq_no = 0;
  scan->has_stats = FALSE;
  scan->full_queue_dropped = 0;
  scan->too_large_dropped = 0;
  scan->failed_to_emit = 0;
  g_array_set_size (scan->spans, 0);
}

gboolean
trace_scan_datagram (TraceScan    *scan,
                     const guint8 *data,
                     gsize         len)
{
  Cursor c = { data, data + len };
  guint32 seqid;
  guint8 byte;

  g_return_val_if_fail (scan != NULL && scan->spans != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  trace_scan_reset (scan);
  scan->protocol = TRACE_PROTOCOL_COMPACT;

  if (!read_byte (&c, &byte) || byte != COMPACT_PROTOCOL_ID)
    return FALSE;
  if (!read_byte (&c, &byte) || (byte != ONEWAY_VERSION_1 && byte != CALL_VERSION_1))
    return FALSE;
  if (!read_u32 (&c, &seqid))
    return FALSE;
  if (remaining (&c) < sizeof emit_batch_name - 1
      || memcmp (c.p, emit_batch_name, sizeof emit_batch_name - 1) != 0)
    return FALSE;
  c.p += sizeof emit_batch_name - 1;

  if (!read_byte (&c, &byte) || byte != ARGS_BATCH_FIELD)
    return FALSE;
  if (!scan_batch (&c, scan))
    return FALSE;

  /* The args struct ends, and so does the datagram. */
  return read_byte (&c, &byte) && byte == CT_STOP && remaining (&c) == 0;
}
