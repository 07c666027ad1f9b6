/* trace-scan-binary.c: what a receiver that prints no span needs from a
 * binary-protocol Batch (the body of a POST to /api/traces), read in place
 *
 * SPDX-License-Identifier: MIT
 *
 * The binary protocol's counterpart of trace-scan.c, with the same rules
 * and the same struct functions (trace-scan-structs.inc): this file gives
 * them the binary protocol's fields, values and lists, read with a cursor
 * that never passes the body's end; nothing may follow the Batch. Whatever the
 * reference codec might read differently (an unknown field, a negative
 * size, an empty string it would hand out as NULL) is refused, and the
 * reference decides. Wire facts: a field is a type byte and a big-endian
 * i16 id (a STOP byte alone ends a struct); integers are big-endian and
 * fixed-size; a string is an i32 length and its bytes; a list is an
 * element type byte and an i32 size.
 */

#include "trace-scan.h"
#include "trace-scan-cursor.h"

#include <string.h>

/* Binary type bytes. */
enum {
  BT_STOP = 0, BT_BOOL = 2, BT_DOUBLE = 4, BT_I32 = 8, BT_I64 = 10, BT_STRING = 11,
  BT_STRUCT = 12, BT_LIST = 15,
};

/* The names trace-scan-structs.inc reads the types by. */
#define TYPE_TEXT   BT_STRING
#define TYPE_I32    BT_I32
#define TYPE_I64    BT_I64
#define TYPE_DOUBLE BT_DOUBLE
#define TYPE_LIST   BT_LIST
#define TYPE_STRUCT BT_STRUCT

static inline gboolean
read_i32 (Cursor *c,
          gint32 *value)
{
  if (remaining (c) < 4)
    return FALSE;
  *value = (gint32) (((guint32) c->p[0] << 24) | ((guint32) c->p[1] << 16)
                     | ((guint32) c->p[2] << 8) | (guint32) c->p[3]);
  c->p += 4;
  return TRUE;
}

static inline gboolean
read_i64 (Cursor *c,
          gint64 *value)
{
  guint64 v = 0;

  if (remaining (c) < 8)
    return FALSE;
  for (guint i = 0; i < 8; i++)
    v = (v << 8) | c->p[i];
  *value = (gint64) v;
  c->p += 8;
  return TRUE;
}

/* A string's length: not negative, and within the body. */
static inline gboolean
read_length (Cursor *c,
             gsize  *len)
{
  gint32 n;

  if (!read_i32 (c, &n) || n < 0 || (gsize) n > remaining (c))
    return FALSE;
  *len = (gsize) n;
  return TRUE;
}

/* A string or binary: its bytes, in place. Empty ones are refused: the
 * reference hands them out as NULL, which counts differently. */
static inline gboolean
read_text (Cursor        *c,
             const guint8 **bytes,
             gsize         *len)
{
  if (!read_length (c, len) || *len == 0)
    return FALSE;
  *bytes = c->p;
  c->p += *len;
  return TRUE;
}

static inline gboolean
skip_text (Cursor *c)
{
  gsize len;

  /* Empty is fine here: nothing reads the value. */
  return read_length (c, &len) && skip (c, len);
}

static inline gboolean
skip_double (Cursor *c)
{
  return skip (c, 8);
}

/* An empty string's length, not read. */
static inline gboolean
next_text_is_empty (const Cursor *c)
{
  return remaining (c) >= 4 && memcmp (c->p, "\0\0\0\0", 4) == 0;
}

/* A bool field's value: one byte. */
static inline gboolean
skip_bool_value (Cursor *c,
                 guint   type)
{
  return type == BT_BOOL && skip (c, 1);
}

/* A list<struct> header: its size, at most one element per byte left. */
static inline gboolean
read_struct_list (Cursor  *c,
                  guint32 *size)
{
  guint8 type;
  gint32 n;

  if (!read_byte (c, &type) || type != BT_STRUCT || !read_i32 (c, &n)
      || n < 0 || (gsize) n > remaining (c))
    return FALSE;
  *size = (guint32) n;
  return TRUE;
}

/* The fields of one struct, in any order, each at most once. */
typedef struct {
  gint    id;     /* the field being read */
  guint64 seen;   /* bit per field id read */
} Fields;

/* The next field's id and type: 1, 0 at the struct's end, -1 refused (an
 * id in no struct of jaeger.thrift, or a field already read). */
static inline int
next_field (Cursor *c,
            Fields *fields,
            guint  *type)
{
  guint8 byte;
  guint64 bit;

  if (!read_byte (c, &byte))
    return -1;
  if (byte == BT_STOP)
    return 0;
  if (remaining (c) < 2)
    return -1;
  fields->id = (c->p[0] << 8) | c->p[1];
  c->p += 2;
  if (fields->id < 1 || fields->id > 15)
    return -1;
  bit = G_GUINT64_CONSTANT (1) << fields->id;
  if (fields->seen & bit)
    return -1;
  fields->seen |= bit;
  *type = byte;
  return 1;
}

#include "trace-scan-structs.inc"

gboolean
trace_scan_http_body (TraceScan    *scan,
                      const guint8 *data,
                      gsize         len)
{
  Cursor c = { data, data + len };

  g_return_val_if_fail (scan != NULL && scan->spans != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  trace_scan_reset (scan);
  scan->protocol = TRACE_PROTOCOL_HTTP;

  /* The reference reads Thrift's signed 32-bit sizes only. */
  if (len == 0 || len > G_MAXINT32)
    return FALSE;
  return scan_batch (&c, scan) && remaining (&c) == 0;
}
