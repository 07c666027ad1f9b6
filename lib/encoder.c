/* encoder.c: the Thrift compact writer for jaeger.thrift spans and the
 * emitBatch datagram around them
 *
 * SPDX-License-Identifier: MIT
 *
 * Every encode function works the same way: bound the struct's size from
 * above, reserve that much once, write through a plain byte cursor, then set
 * the buffer's length to where the cursor stopped. So a struct costs at most
 * one capacity check (and no allocation while the caller's inline storage is
 * large enough), and varints are written by inlined loops straight into the
 * reserved bytes.
 *
 * The field headers are constants: jaeger.thrift field ids are small and
 * written in ascending order, so each header is one byte, (delta << 4) |
 * type, where delta is the distance from the previous field written in the
 * same struct. The tests compare every byte with what Apache Thrift's c_glib
 * writes for the same values.
 */

#include "encoder-private.h"

#include <string.h>

/* Compact protocol type nibbles (not c_glib's ThriftType values, which are
 * the binary protocol's). */
enum {
  CT_STOP          = 0x0,
  CT_BOOLEAN_TRUE  = 0x1,
  CT_BOOLEAN_FALSE = 0x2,
  CT_I32           = 0x5,
  CT_I64           = 0x6,
  CT_DOUBLE        = 0x7,
  CT_BINARY        = 0x8,
  CT_LIST          = 0x9,
  CT_STRUCT        = 0xC,
};

#define FIELD(delta, type) ((guint8) (((delta) << 4) | (type)))

/* Message header: protocol id, then (type << 5) | version with ONEWAY = 4
 * and version 1. */
#define COMPACT_PROTOCOL_ID 0x82
#define COMPACT_ONEWAY_V1   0x81

static const char emit_batch_name[] = "emitBatch";
#define EMIT_BATCH_NAME_LEN (sizeof emit_batch_name - 1)

/* Worst-case bytes of a varint: 32-bit values take 5, 64-bit ones 10. */
#define VARINT32_MAX 5
#define VARINT64_MAX 10

/* A list header: one byte, then the size as a varint when it is >= 15. */
#define LIST_HEADER_MAX (1 + VARINT32_MAX)

/* ---- Buffer ------------------------------------------------------------------ */

/* The slow path of every reservation: kept out of line so that the checks
 * the encoders inline stay small. */
static G_GNUC_NO_INLINE void
buffer_grow (GluetoolBuffer *buf,
             gsize           n)
{
  gsize needed;
  gsize capacity;

  if (G_UNLIKELY (!g_size_checked_add (&needed, buf->len, n)))
    g_error ("GluetoolBuffer: %" G_GSIZE_FORMAT " + %" G_GSIZE_FORMAT
             " bytes overflow", buf->len, n);

  /* Double, so that appending byte by byte stays linear overall. */
  capacity = MAX (buf->capacity, (gsize) 256);
  while (capacity < needed)
    {
      if (capacity > G_MAXSIZE / 2)
        {
          capacity = needed;
          break;
        }
      capacity *= 2;
    }

  if (buf->data == buf->inline_storage)
    {
      guint8 *block = g_malloc (capacity);

      if (buf->len > 0)
        memcpy (block, buf->data, buf->len);
      buf->data = block;
    }
  else
    {
      buf->data = g_realloc (buf->data, capacity);
    }
  buf->capacity = capacity;
}

static inline guint8 *
buffer_reserve (GluetoolBuffer *buf,
                gsize           n)
{
  if (G_UNLIKELY (buf->capacity - buf->len < n))
    buffer_grow (buf, n);
  return buf->data + buf->len;
}

/* Ends a write that started at buffer_reserve(): @end is one past the last
 * byte written. */
static inline void
buffer_commit (GluetoolBuffer *buf,
               const guint8   *end)
{
  buf->len = (gsize) (end - buf->data);
}

guint8 *
gluetool_buffer_reserve (GluetoolBuffer *buf,
                         gsize           n)
{
  g_return_val_if_fail (buf != NULL, NULL);

  /* Even for n == 0 the caller gets a real pointer, never NULL + 0. */
  if (G_UNLIKELY (buf->data == NULL))
    buffer_grow (buf, n);
  return buffer_reserve (buf, n);
}

void
gluetool_buffer_append (GluetoolBuffer *buf,
                        const void     *bytes,
                        gsize           n)
{
  guint8 *p;

  g_return_if_fail (buf != NULL);
  g_return_if_fail (bytes != NULL || n == 0);

  if (n == 0)
    return;
  p = buffer_reserve (buf, n);
  memcpy (p, bytes, n);
  buf->len += n;
}

void
gluetool_buffer_erase (GluetoolBuffer *buf,
                       gsize           offset,
                       gsize           n)
{
  g_return_if_fail (buf != NULL);
  g_return_if_fail (offset <= buf->len && n <= buf->len - offset);

  memmove (buf->data + offset, buf->data + offset + n,
           buf->len - offset - n);
  buf->len -= n;
}

/* ---- Primitives ------------------------------------------------------------------ */

guint64
gluetool_zigzag64 (gint64 value)
{
  /* (n << 1) ^ (n >> 63) with the arithmetic shift spelled out, so that
   * nothing depends on how the compiler shifts negative numbers. */
  return ((guint64) value << 1) ^ (0 - ((guint64) value >> 63));
}

static inline guint32
zigzag32 (gint32 value)
{
  return ((guint32) value << 1) ^ (0 - ((guint32) value >> 31));
}

static inline guint8 *
put_varint (guint8  *p,
            guint64  value)
{
  while (value >= 0x80)
    {
      *p++ = (guint8) (value | 0x80);
      value >>= 7;
    }
  *p++ = (guint8) value;
  return p;
}

static inline guint8 *
put_i64 (guint8 *p,
         gint64  value)
{
  return put_varint (p, gluetool_zigzag64 (value));
}

static inline guint8 *
put_i32 (guint8 *p,
         gint32  value)
{
  return put_varint (p, zigzag32 (value));
}

/* Length-delimited bytes: a plain varint length, then the bytes. */
static inline guint8 *
put_bytes (guint8       *p,
           const void   *bytes,
           gsize         len)
{
  p = put_varint (p, len);
  gluetool_copy_bytes (p, bytes, len);
  return p + len;
}

/* IEEE-754 bits, least significant byte first, whatever the host order. */
static inline guint8 *
put_double_le (guint8 *p,
               double  value)
{
  guint64 bits;

  G_STATIC_ASSERT (sizeof bits == sizeof value);
  memcpy (&bits, &value, sizeof bits);
  bits = GUINT64_TO_LE (bits);
  memcpy (p, &bits, sizeof bits);
  return p + sizeof bits;
}

static inline guint8 *
put_list_header (guint8 *p,
                 guint   size,
                 guint8  element_type)
{
  if (size <= 14)
    {
      *p++ = (guint8) ((size << 4) | element_type);
      return p;
    }
  *p++ = (guint8) (0xF0 | element_type);
  return put_varint (p, size);
}

/* ---- Tag ------------------------------------------------------------------------- */

/* Key and vType, the two fields every Tag starts with. The caller reserved
 * the key plus tag_bound()'s fixed overhead. */
static inline guint8 *
put_tag_head (guint8          *p,
              const char      *key,
              gsize            key_len,
              GluetoolTagType  type)
{
  *p++ = FIELD (1, CT_BINARY);
  p = put_bytes (p, key, key_len);
  *p++ = FIELD (1, CT_I32);
  /* vType is 0..4, so its zigzag varint is one byte: 2 * vType. */
  *p++ = (guint8) (type << 1);
  return p;
}

/* Upper bound of a Tag with @payload bytes of value: key header and length,
 * vType header and value, value header, value length, stop. */
#define TAG_OVERHEAD (1 + VARINT64_MAX + 2 + 1 + VARINT64_MAX + 1)

void
gluetool_encode_tag_string (GluetoolBuffer *buf,
                            const char     *key,
                            gsize           key_len,
                            const char     *value,
                            gsize           value_len)
{
  guint8 *p;

  g_return_if_fail (key != NULL || key_len == 0);
  g_return_if_fail (value != NULL || value_len == 0);

  p = buffer_reserve (buf, TAG_OVERHEAD + key_len + value_len);
  p = put_tag_head (p, key, key_len, GLUETOOL_TAG_TYPE_STRING);
  *p++ = FIELD (3 - 2, CT_BINARY);
  p = put_bytes (p, value, value_len);
  *p++ = CT_STOP;
  buffer_commit (buf, p);
}

void
gluetool_encode_tag_double (GluetoolBuffer *buf,
                            const char     *key,
                            gsize           key_len,
                            double          value)
{
  guint8 *p;

  g_return_if_fail (key != NULL || key_len == 0);

  p = buffer_reserve (buf, TAG_OVERHEAD + key_len + sizeof value);
  p = put_tag_head (p, key, key_len, GLUETOOL_TAG_TYPE_DOUBLE);
  *p++ = FIELD (4 - 2, CT_DOUBLE);
  p = put_double_le (p, value);
  *p++ = CT_STOP;
  buffer_commit (buf, p);
}

void
gluetool_encode_tag_bool (GluetoolBuffer *buf,
                          const char     *key,
                          gsize           key_len,
                          gboolean        value)
{
  guint8 *p;

  g_return_if_fail (key != NULL || key_len == 0);

  p = buffer_reserve (buf, TAG_OVERHEAD + key_len);
  p = put_tag_head (p, key, key_len, GLUETOOL_TAG_TYPE_BOOL);
  /* A bool field has no value byte: the type nibble is the value. */
  *p++ = FIELD (5 - 2, value ? CT_BOOLEAN_TRUE : CT_BOOLEAN_FALSE);
  *p++ = CT_STOP;
  buffer_commit (buf, p);
}

void
gluetool_encode_tag_long (GluetoolBuffer *buf,
                          const char     *key,
                          gsize           key_len,
                          gint64          value)
{
  guint8 *p;

  g_return_if_fail (key != NULL || key_len == 0);

  p = buffer_reserve (buf, TAG_OVERHEAD + key_len);
  p = put_tag_head (p, key, key_len, GLUETOOL_TAG_TYPE_LONG);
  *p++ = FIELD (6 - 2, CT_I64);
  p = put_i64 (p, value);
  *p++ = CT_STOP;
  buffer_commit (buf, p);
}

void
gluetool_encode_tag_binary (GluetoolBuffer *buf,
                            const char     *key,
                            gsize           key_len,
                            const guint8   *value,
                            gsize           value_len)
{
  guint8 *p;

  g_return_if_fail (key != NULL || key_len == 0);
  g_return_if_fail (value != NULL || value_len == 0);

  p = buffer_reserve (buf, TAG_OVERHEAD + key_len + value_len);
  p = put_tag_head (p, key, key_len, GLUETOOL_TAG_TYPE_BINARY);
  *p++ = FIELD (7 - 2, CT_BINARY);
  p = put_bytes (p, value, value_len);
  *p++ = CT_STOP;
  buffer_commit (buf, p);
}

/* ---- Log ------------------------------------------------------------------------- */

void
gluetool_encode_log (GluetoolBuffer *buf,
                     gint64          timestamp_us,
                     const guint8   *fields,
                     gsize           fields_len,
                     guint           n_fields)
{
  guint8 *p;

  g_return_if_fail (fields != NULL || fields_len == 0);

  p = buffer_reserve (buf, 1 + VARINT64_MAX + 1 + LIST_HEADER_MAX
                           + fields_len + 1);
  *p++ = FIELD (1, CT_I64);
  p = put_i64 (p, timestamp_us);
  /* fields is required: written even when empty. */
  *p++ = FIELD (1, CT_LIST);
  p = put_list_header (p, n_fields, CT_STRUCT);
  if (fields_len > 0)
    memcpy (p, fields, fields_len);
  p += fields_len;
  *p++ = CT_STOP;
  buffer_commit (buf, p);
}

/* ---- Span ------------------------------------------------------------------------ */

/* refType header and value, three i64 fields, stop. */
#define SPAN_REF_MAX (1 + VARINT32_MAX + 3 * (1 + VARINT64_MAX) + 1)

/* The fixed fields of a Span at their largest: six i64 fields (four ids,
 * start, duration), the name's header and length, flags, three list field
 * headers with their list headers, stop. */
#define SPAN_FIXED_MAX (6 * (1 + VARINT64_MAX) + 1 + VARINT64_MAX \
                        + 1 + VARINT32_MAX + 3 * (1 + LIST_HEADER_MAX) + 1)

/* The span id field at @p, just after the trace fields; its length goes
 * in @ids. */
static inline guint8 *
put_span_id_field (GluetoolSpanIds *ids,
                   guint8          *p,
                   guint64          span_id)
{
  guint8 *field = p;

  *p++ = FIELD (1, CT_I64);
  p = put_i64 (p, (gint64) span_id);
  ids->span_len = (guint8) (p - field);
  return p;
}

void
gluetool_span_ids_encode (GluetoolSpanIds *ids,
                          guint64          trace_id_low,
                          guint64          trace_id_high,
                          guint64          span_id,
                          guint64          parent_span_id)
{
  guint8 *p;

  g_return_if_fail (ids != NULL);

  p = ids->bytes;
  *p++ = FIELD (1, CT_I64);
  p = put_i64 (p, (gint64) trace_id_low);
  *p++ = FIELD (1, CT_I64);
  p = put_i64 (p, (gint64) trace_id_high);
  ids->trace_len = (guint8) (p - ids->bytes);
  p = put_span_id_field (ids, p, span_id);
  *p++ = FIELD (1, CT_I64);
  p = put_i64 (p, (gint64) parent_span_id);
  ids->len = (guint8) (p - ids->bytes);
}

void
gluetool_span_ids_encode_child (GluetoolSpanIds       *ids,
                                const GluetoolSpanIds *parent,
                                guint64                span_id)
{
  guint8 *p;

  g_return_if_fail (ids != NULL);
  g_return_if_fail (parent != NULL);

  /* Whole arrays and a field's most, sizes copied inline: the parent's
   * trace fields are at most 22 bytes, the span field 11. */
  memcpy (ids->bytes, parent->bytes, 2 * (1 + VARINT64_MAX));
  ids->trace_len = parent->trace_len;
  p = put_span_id_field (ids, ids->bytes + ids->trace_len, span_id);
  memcpy (p, parent->bytes + parent->trace_len, 1 + VARINT64_MAX);
  p += parent->span_len;
  ids->len = (guint8) (p - ids->bytes);
}

void
gluetool_encode_span (GluetoolBuffer           *buf,
                      const GluetoolSpanFields *span)
{
  const GluetoolSpanIds *span_ids = span->ids;
  GluetoolSpanIds ids;
  guint n_tags;
  gsize bound;
  guint8 *p;
  guint last;

  g_return_if_fail (span != NULL);
  g_return_if_fail (span->operation_name != NULL
                    || span->operation_name_len == 0);
  g_return_if_fail (span->references != NULL || span->n_references == 0);

  n_tags = span->tags_head.count + span->tags.count;
  bound = SPAN_FIXED_MAX + span->operation_name_len
          + (gsize) span->n_references * SPAN_REF_MAX
          + span->tags_head.len + span->tags.len + span->logs.len;

  p = buffer_reserve (buf, bound);

  if (span->ids == NULL)
    {
      gluetool_span_ids_encode (&ids, span->trace_id_low, span->trace_id_high, span->span_id,
                                span->parent_span_id);
      span_ids = &ids;
    }
  /* The whole array, a size the compiler copies inline: the bound reserves
   * every id field's most. */
  memcpy (p, span_ids->bytes, sizeof span_ids->bytes);
  p += span_ids->len;
  *p++ = FIELD (1, CT_BINARY);
  p = put_bytes (p, span->operation_name, span->operation_name_len);
  last = 5;

  if (span->n_references > 0)
    {
      *p++ = FIELD (6 - last, CT_LIST);
      p = put_list_header (p, span->n_references, CT_STRUCT);
      for (guint i = 0; i < span->n_references; i++)
        {
          const GluetoolSpanRef *ref = &span->references[i];

          *p++ = FIELD (1, CT_I32);
          p = put_i32 (p, (gint32) ref->ref_type);
          *p++ = FIELD (1, CT_I64);
          p = put_i64 (p, (gint64) ref->trace_id_low);
          *p++ = FIELD (1, CT_I64);
          p = put_i64 (p, (gint64) ref->trace_id_high);
          *p++ = FIELD (1, CT_I64);
          p = put_i64 (p, (gint64) ref->span_id);
          *p++ = CT_STOP;
        }
      last = 6;
    }

  *p++ = FIELD (7 - last, CT_I32);
  p = put_i32 (p, span->flags);
  *p++ = FIELD (1, CT_I64);
  p = put_i64 (p, span->start_time_us);
  *p++ = FIELD (1, CT_I64);
  p = put_i64 (p, span->duration_us);
  last = 9;

  if (n_tags > 0)
    {
      *p++ = FIELD (10 - last, CT_LIST);
      p = put_list_header (p, n_tags, CT_STRUCT);
      if (span->tags_head.len > 0)
        memcpy (p, span->tags_head.data, span->tags_head.len);
      p += span->tags_head.len;
      if (span->tags.len > 0)
        memcpy (p, span->tags.data, span->tags.len);
      p += span->tags.len;
      last = 10;
    }

  if (span->logs.count > 0)
    {
      *p++ = FIELD (11 - last, CT_LIST);
      p = put_list_header (p, span->logs.count, CT_STRUCT);
      memcpy (p, span->logs.data, span->logs.len);
      p += span->logs.len;
    }

  *p++ = CT_STOP;
  buffer_commit (buf, p);
}

/* ---- Process ----------------------------------------------------------------------- */

void
gluetool_encode_process (GluetoolBuffer            *buf,
                         const char                *service_name,
                         gsize                      service_name_len,
                         const GluetoolEncodedList *tags)
{
  guint8 *p;
  gsize tags_len = tags != NULL && tags->count > 0 ? tags->len : 0;

  g_return_if_fail (service_name != NULL || service_name_len == 0);

  p = buffer_reserve (buf, 1 + VARINT64_MAX + service_name_len
                           + 1 + LIST_HEADER_MAX + tags_len + 1);
  *p++ = FIELD (1, CT_BINARY);
  p = put_bytes (p, service_name, service_name_len);
  if (tags != NULL && tags->count > 0)
    {
      *p++ = FIELD (1, CT_LIST);
      p = put_list_header (p, tags->count, CT_STRUCT);
      memcpy (p, tags->data, tags->len);
      p += tags->len;
    }
  *p++ = CT_STOP;
  buffer_commit (buf, p);
}

/* ---- emitBatch framing ----------------------------------------------------------------- */

/* Header, seqid, name, args field 1, Batch field 1 (process). */
#define HEAD_BEFORE_PROCESS_MAX (2 + VARINT32_MAX + 1 + EMIT_BATCH_NAME_LEN + 2)

void
gluetool_encode_batch_head (GluetoolBuffer *buf,
                            gint32          seqid,
                            const guint8   *process,
                            gsize           process_len,
                            guint           n_spans)
{
  guint8 *p;

  g_return_if_fail (process != NULL || process_len == 0);

  p = buffer_reserve (buf, HEAD_BEFORE_PROCESS_MAX + process_len
                           + 1 + LIST_HEADER_MAX);
  *p++ = COMPACT_PROTOCOL_ID;
  *p++ = COMPACT_ONEWAY_V1;
  /* The seqid is a plain varint of its 32 bits, not zigzag: a negative one
   * takes five bytes. */
  p = put_varint (p, (guint32) seqid);
  *p++ = (guint8) EMIT_BATCH_NAME_LEN;
  memcpy (p, emit_batch_name, EMIT_BATCH_NAME_LEN);
  p += EMIT_BATCH_NAME_LEN;
  *p++ = FIELD (1, CT_STRUCT);  /* emitBatch_args.batch */
  *p++ = FIELD (1, CT_STRUCT);  /* Batch.process */
  if (process_len > 0)
    memcpy (p, process, process_len);
  p += process_len;
  *p++ = FIELD (1, CT_LIST);    /* Batch.spans */
  p = put_list_header (p, n_spans, CT_STRUCT);
  buffer_commit (buf, p);
}

void
gluetool_encode_batch_tail (GluetoolBuffer            *buf,
                            gint64                     seq_no,
                            const GluetoolClientStats *stats)
{
  guint8 *p;
  guint last = 2;

  p = buffer_reserve (buf, 1 + VARINT64_MAX + 1 + 3 * (1 + VARINT64_MAX)
                           + 1 + 2);
  if (seq_no >= 0)
    {
      *p++ = FIELD (3 - last, CT_I64);
      p = put_i64 (p, seq_no);
      last = 3;
    }
  if (stats != NULL)
    {
      *p++ = FIELD (4 - last, CT_STRUCT);
      *p++ = FIELD (1, CT_I64);
      p = put_i64 (p, stats->full_queue_dropped_spans);
      *p++ = FIELD (1, CT_I64);
      p = put_i64 (p, stats->too_large_dropped_spans);
      *p++ = FIELD (1, CT_I64);
      p = put_i64 (p, stats->failed_to_emit_spans);
      *p++ = CT_STOP;
    }
  *p++ = CT_STOP;  /* Batch */
  *p++ = CT_STOP;  /* emitBatch_args */
  buffer_commit (buf, p);
}

gsize
gluetool_batch_envelope_size (gint32                     seqid,
                              guint                      n_spans,
                              gint64                     seq_no,
                              const GluetoolClientStats *stats)
{
  return gluetool_batch_envelope_size_without_list (seqid, seq_no, stats)
         + gluetool_list_header_size (n_spans);
}

gsize
gluetool_batch_envelope_size_without_list (gint32                     seqid,
                                           gint64                     seq_no,
                                           const GluetoolClientStats *stats)
{
  gsize size;

  /* 82 81 <seqid> 09 "emitBatch" 1c 1c ... 19, then the list header */
  size = 2 + gluetool_varint_size ((guint32) seqid) + 1 + EMIT_BATCH_NAME_LEN
         + 2 + 1;
  if (seq_no >= 0)
    size += 1 + gluetool_varint_size (gluetool_zigzag64 (seq_no));
  if (stats != NULL)
    size += 1
            + 1 + gluetool_varint_size (gluetool_zigzag64 (stats->full_queue_dropped_spans))
            + 1 + gluetool_varint_size (gluetool_zigzag64 (stats->too_large_dropped_spans))
            + 1 + gluetool_varint_size (gluetool_zigzag64 (stats->failed_to_emit_spans))
            + 1;
  /* Batch stop, args stop */
  return size + 2;
}
