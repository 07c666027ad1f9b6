/* transcode.c: Thrift compact structs rewritten in the binary protocol
 *
 * SPDX-License-Identifier: MIT
 *
 * See transcode-private.h. One pass over the input, writing through a
 * plain cursor into output reserved once (GLUETOOL_TRANSCODE_MAX_GROWTH
 * times the input, the most any construct grows): no capacity check per
 * value, and no tree of objects in between.
 *
 * Wire facts: compact field headers are (delta << 4) | type, or a type
 * with a zigzag i16 id after it; i16/i32/i64 are zigzag varints, doubles
 * little-endian, lengths and sizes plain varints; a bool field's value is
 * its header's type (1 true, 2 false), a bool in a container one byte.
 * Binary field headers are a type byte and a big-endian i16 id; integers
 * and doubles are big-endian, lengths and counts big-endian i32.
 */

#include "transcode-private.h"

#include <string.h>

/* Compact type nibbles. */
enum {
  CT_STOP          = 0x0,
  CT_BOOLEAN_TRUE  = 0x1,
  CT_BOOLEAN_FALSE = 0x2,
  CT_BYTE          = 0x3,
  CT_I16           = 0x4,
  CT_I32           = 0x5,
  CT_I64           = 0x6,
  CT_DOUBLE        = 0x7,
  CT_BINARY        = 0x8,
  CT_LIST          = 0x9,
  CT_SET           = 0xA,
  CT_MAP           = 0xB,
  CT_STRUCT        = 0xC,
};

/* Binary types. */
enum {
  BT_STOP   = 0,
  BT_BOOL   = 2,
  BT_BYTE   = 3,
  BT_DOUBLE = 4,
  BT_I16    = 6,
  BT_I32    = 8,
  BT_I64    = 10,
  BT_STRING = 11,
  BT_STRUCT = 12,
  BT_MAP    = 13,
  BT_SET    = 14,
  BT_LIST   = 15,
};

/* The binary type of each compact one; 0 where there is none (STOP is no
 * value's type). */
static const guint8 binary_type[16] = {
  [CT_BOOLEAN_TRUE] = BT_BOOL, [CT_BOOLEAN_FALSE] = BT_BOOL, [CT_BYTE] = BT_BYTE,
  [CT_I16] = BT_I16, [CT_I32] = BT_I32, [CT_I64] = BT_I64, [CT_DOUBLE] = BT_DOUBLE,
  [CT_BINARY] = BT_STRING, [CT_LIST] = BT_LIST, [CT_SET] = BT_SET, [CT_MAP] = BT_MAP,
  [CT_STRUCT] = BT_STRUCT,
};

G_DEFINE_QUARK (gluetool-transcode-error-quark, gluetool_transcode_error)

typedef struct {
  const guint8 *start;
  const guint8 *p;        /* the next byte to read */
  const guint8 *end;
  guint8       *w;        /* the next byte to write, in reserved room */
  GError      **error;
} Walk;

static gboolean walk_value (Walk *walk, guint type, guint depth);

G_GNUC_NO_INLINE static gboolean
fail (Walk       *walk,
      const char *what)
{
  g_set_error (walk->error, GLUETOOL_TRANSCODE_ERROR, GLUETOOL_TRANSCODE_ERROR_INVALID,
               "Not a compact Thrift struct: %s at byte %" G_GSIZE_FORMAT,
               what, (gsize) (walk->p - walk->start));
  return FALSE;
}

static inline gsize
left (const Walk *walk)
{
  return (gsize) (walk->end - walk->p);
}

/* ---- Writing ------------------------------------------------------------------ */

static inline void
put8 (Walk  *walk,
      guint8 value)
{
  *walk->w++ = value;
}

static inline void
put16 (Walk   *walk,
       gint16  value)
{
  guint16 be = GUINT16_TO_BE ((guint16) value);

  memcpy (walk->w, &be, sizeof be);
  walk->w += sizeof be;
}

static inline void
put32 (Walk   *walk,
       guint32 value)
{
  guint32 be = GUINT32_TO_BE (value);

  memcpy (walk->w, &be, sizeof be);
  walk->w += sizeof be;
}

static inline void
put64 (Walk   *walk,
       guint64 value)
{
  guint64 be = GUINT64_TO_BE (value);

  memcpy (walk->w, &be, sizeof be);
  walk->w += sizeof be;
}

/* ---- Reading ------------------------------------------------------------------ */

static inline gboolean
read_varint (Walk    *walk,
             guint64 *value)
{
  guint64 v = 0;

  for (guint shift = 0; shift < 70; shift += 7)
    {
      guint8 b;

      if (walk->p == walk->end)
        return fail (walk, "a varint runs past the end");
      b = *walk->p++;
      v |= (guint64) (b & 0x7f) << shift;
      if ((b & 0x80) == 0)
        {
          *value = v;
          return TRUE;
        }
    }
  return fail (walk, "a varint is longer than ten bytes");
}

static inline gint64
unzigzag (guint64 v)
{
  return (gint64) (v >> 1) ^ -(gint64) (v & 1);
}

/* A zigzag varint that must fit in [@min, @max]. */
static inline gboolean
read_int (Walk   *walk,
          gint64  min,
          gint64  max,
          gint64 *value)
{
  guint64 raw = 0;

  if (!read_varint (walk, &raw))
    return FALSE;
  *value = unzigzag (raw);
  if (*value < min || *value > max)
    return fail (walk, "an integer is out of its type's range");
  return TRUE;
}

/* A length or a count: a plain varint, no more than the bytes left (each
 * element takes one byte at least) times @min_bytes_each. */
static inline gboolean
read_size (Walk    *walk,
           guint64  raw,
           guint    min_bytes_each,
           guint32 *size)
{
  if (raw > G_MAXINT32 || raw * min_bytes_each > left (walk))
    return fail (walk, "a length or count is larger than what is left");
  *size = (guint32) raw;
  return TRUE;
}

/* ---- Values ------------------------------------------------------------------- */

static gboolean
walk_struct (Walk  *walk,
             guint  depth)
{
  gint64 last_id = 0;

  if (depth > GLUETOOL_TRANSCODE_MAX_DEPTH)
    return fail (walk, "structs and containers are nested too deep");

  for (;;)
    {
      guint8 header;
      guint type;
      guint delta;
      gint64 id = 0;

      if (walk->p == walk->end)
        return fail (walk, "a struct has no STOP");
      header = *walk->p++;
      if (header == CT_STOP)
        {
          put8 (walk, BT_STOP);
          return TRUE;
        }
      type = header & 0x0f;
      delta = header >> 4;
      if (binary_type[type] == 0)
        return fail (walk, "a field has an unknown type");
      if (delta != 0)
        {
          id = last_id + delta;
          if (id > G_MAXINT16)
            return fail (walk, "a field id is out of range");
        }
      else if (!read_int (walk, G_MININT16, G_MAXINT16, &id))
        return FALSE;
      last_id = id;

      put8 (walk, binary_type[type]);
      put16 (walk, (gint16) id);
      /* A bool field's value is its header's type. */
      if (type == CT_BOOLEAN_TRUE || type == CT_BOOLEAN_FALSE)
        put8 (walk, type == CT_BOOLEAN_TRUE);
      else if (!walk_value (walk, type, depth))
        return FALSE;
    }
}

static gboolean
walk_list (Walk  *walk,
           guint  depth)
{
  guint8 header;
  guint type;
  guint32 count = 0;

  if (depth > GLUETOOL_TRANSCODE_MAX_DEPTH)
    return fail (walk, "structs and containers are nested too deep");
  if (walk->p == walk->end)
    return fail (walk, "a list header runs past the end");
  header = *walk->p++;
  type = header & 0x0f;
  if (binary_type[type] == 0)
    return fail (walk, "a list has an unknown element type");
  if ((header >> 4) == 0x0f)
    {
      guint64 raw = 0;

      if (!read_varint (walk, &raw) || !read_size (walk, raw, 1, &count))
        return FALSE;
    }
  else
    count = header >> 4;
  if (count > left (walk))
    return fail (walk, "a length or count is larger than what is left");

  put8 (walk, binary_type[type]);
  put32 (walk, count);
  for (guint32 i = 0; i < count; i++)
    if (!walk_value (walk, type, depth))
      return FALSE;
  return TRUE;
}

static gboolean
walk_map (Walk  *walk,
          guint  depth)
{
  guint64 raw = 0;
  guint32 count = 0;
  guint8 types;

  if (depth > GLUETOOL_TRANSCODE_MAX_DEPTH)
    return fail (walk, "structs and containers are nested too deep");
  if (!read_varint (walk, &raw) || !read_size (walk, raw, 2, &count))
    return FALSE;
  if (count == 0)
    {
      /* The compact protocol writes no types for an empty map; the binary
       * one must, and its readers ignore them when the count is 0. */
      put8 (walk, BT_STOP);
      put8 (walk, BT_STOP);
      put32 (walk, 0);
      return TRUE;
    }
  if (walk->p == walk->end)
    return fail (walk, "a map header runs past the end");
  types = *walk->p++;
  if (binary_type[types >> 4] == 0 || binary_type[types & 0x0f] == 0)
    return fail (walk, "a map has an unknown key or value type");

  put8 (walk, binary_type[types >> 4]);
  put8 (walk, binary_type[types & 0x0f]);
  put32 (walk, count);
  for (guint32 i = 0; i < count; i++)
    if (!walk_value (walk, types >> 4, depth) || !walk_value (walk, types & 0x0f, depth))
      return FALSE;
  return TRUE;
}

/* One value of compact @type, where its bytes are (a bool in a container
 * is one byte; in a field, see walk_struct()). @depth: the containing
 * struct's or container's. */
static gboolean
walk_value (Walk  *walk,
            guint  type,
            guint  depth)
{
  gint64 value = 0;
  guint64 raw = 0;
  guint32 len = 0;
  guint8 bytes[8];

  switch (type)
    {
    case CT_BOOLEAN_TRUE:
    case CT_BOOLEAN_FALSE:
      if (walk->p == walk->end)
        return fail (walk, "a bool runs past the end");
      put8 (walk, *walk->p++ == CT_BOOLEAN_TRUE);
      return TRUE;
    case CT_BYTE:
      if (walk->p == walk->end)
        return fail (walk, "a byte runs past the end");
      put8 (walk, *walk->p++);
      return TRUE;
    case CT_I16:
      if (!read_int (walk, G_MININT16, G_MAXINT16, &value))
        return FALSE;
      put16 (walk, (gint16) value);
      return TRUE;
    case CT_I32:
      if (!read_int (walk, G_MININT32, G_MAXINT32, &value))
        return FALSE;
      put32 (walk, (guint32) value);
      return TRUE;
    case CT_I64:
      if (!read_varint (walk, &raw))
        return FALSE;
      put64 (walk, (guint64) unzigzag (raw));
      return TRUE;
    case CT_DOUBLE:
      if (left (walk) < 8)
        return fail (walk, "a double runs past the end");
      for (guint i = 0; i < 8; i++)
        bytes[i] = walk->p[7 - i];
      walk->p += 8;
      memcpy (walk->w, bytes, 8);
      walk->w += 8;
      return TRUE;
    case CT_BINARY:
      if (!read_varint (walk, &raw) || !read_size (walk, raw, 1, &len))
        return FALSE;
      put32 (walk, len);
      memcpy (walk->w, walk->p, len);
      walk->w += len;
      walk->p += len;
      return TRUE;
    case CT_LIST:
    case CT_SET:
      return walk_list (walk, depth + 1);
    case CT_MAP:
      return walk_map (walk, depth + 1);
    case CT_STRUCT:
      return walk_struct (walk, depth + 1);
    default:
      return fail (walk, "a value has an unknown type");
    }
}

gboolean
gluetool_transcode_struct (const guint8    *compact,
                           gsize            len,
                           GluetoolBuffer  *binary,
                           GError         **error)
{
  Walk walk;
  gsize len_before;

  g_return_val_if_fail (compact != NULL || len == 0, FALSE);
  g_return_val_if_fail (binary != NULL, FALSE);
  g_return_val_if_fail (len <= G_MAXSIZE / GLUETOOL_TRANSCODE_MAX_GROWTH, FALSE);

  len_before = binary->len;
  walk = (Walk) {
    .start = compact,
    .p = compact,
    .end = compact + len,
    .w = gluetool_buffer_reserve (binary, len * GLUETOOL_TRANSCODE_MAX_GROWTH),
    .error = error,
  };
  if (!walk_struct (&walk, 1))
    {
      binary->len = len_before;
      return FALSE;
    }
  if (walk.p != walk.end)
    {
      fail (&walk, "bytes follow the struct");
      binary->len = len_before;
      return FALSE;
    }
  binary->len = len_before + (gsize) (walk.w - (binary->data + len_before));
  return TRUE;
}

/* ---- The binary Batch -------------------------------------------------------------- */

static guint8 *
put_field (guint8 *w,
           guint8  type,
           guint16 id)
{
  guint16 be = GUINT16_TO_BE (id);

  *w++ = type;
  memcpy (w, &be, sizeof be);
  return w + sizeof be;
}

static guint8 *
put_i64 (guint8 *w,
         gint64  value)
{
  guint64 be = GUINT64_TO_BE ((guint64) value);

  memcpy (w, &be, sizeof be);
  return w + sizeof be;
}

gsize
gluetool_binary_batch_head (GluetoolBuffer *buf,
                            const guint8   *process,
                            gsize           process_len)
{
  guint8 *w;
  gsize count;

  w = put_field (gluetool_buffer_reserve (buf, 3), BT_STRUCT, 1);
  buf->len = (gsize) (w - buf->data);
  gluetool_buffer_append (buf, process, process_len);
  w = put_field (gluetool_buffer_reserve (buf, 8), BT_LIST, 2);
  *w++ = BT_STRUCT;
  count = (gsize) (w - buf->data);
  memset (w, 0, 4);
  buf->len = count + 4;
  return count;
}

void
gluetool_binary_batch_set_count (GluetoolBuffer *buf,
                                 gsize           count,
                                 guint32         n_spans)
{
  guint32 be = GUINT32_TO_BE (n_spans);

  g_return_if_fail (count + 4 <= buf->len);

  memcpy (buf->data + count, &be, sizeof be);
}

void
gluetool_binary_batch_tail (GluetoolBuffer            *buf,
                            gint64                     seq_no,
                            const GluetoolClientStats *stats)
{
  guint8 *start = gluetool_buffer_reserve (buf, GLUETOOL_BINARY_BATCH_TAIL_SIZE);
  guint8 *w = start;

  w = put_i64 (put_field (w, BT_I64, 3), seq_no);
  w = put_field (w, BT_STRUCT, 4);
  w = put_i64 (put_field (w, BT_I64, 1), stats->full_queue_dropped_spans);
  w = put_i64 (put_field (w, BT_I64, 2), stats->too_large_dropped_spans);
  w = put_i64 (put_field (w, BT_I64, 3), stats->failed_to_emit_spans);
  *w++ = BT_STOP;
  *w++ = BT_STOP;
  g_assert ((gsize) (w - start) == GLUETOOL_BINARY_BATCH_TAIL_SIZE);
  buf->len += GLUETOOL_BINARY_BATCH_TAIL_SIZE;
}
