/* encoder-private.h: the Thrift compact writer for jaeger.thrift spans and
 * the emitBatch datagram around them
 *
 * SPDX-License-Identifier: MIT
 *
 * This unit knows the wire format and nothing else: no sockets, no GObject,
 * no threads. Every function writes into a GluetoolBuffer, which starts on
 * storage the caller owns (usually on the stack or inline in a struct) and
 * moves to the heap only when that is too small.
 *
 * Wire facts (the Thrift compact protocol): field headers are short form (delta, type)
 * because every jaeger.thrift id is written in ascending order; i16/i32/i64
 * are zigzag varints; lengths, list sizes and the message seqid are plain
 * varints; doubles are little-endian; a bool field's value is its header's
 * type nibble (1 true, 2 false). Every struct starts its field deltas at 0,
 * including each struct element of a list, so an encoded Tag, Log or Span is
 * a valid list element on its own and lists are concatenations.
 */

#pragma once

#include <string.h>

#include <glib.h>

G_BEGIN_DECLS

/* ---- Byte buffer ---------------------------------------------------------- */

typedef struct {
  guint8 *data;            /* inline_storage or a heap block (owned) */
  gsize   len;
  gsize   capacity;
  guint8 *inline_storage;  /* the caller's; never freed here; may be NULL */
  gsize   inline_capacity; /* so that clear() can go back to it at full size */
} GluetoolBuffer;

/* Starts @buf on @inline_storage (may be NULL with capacity 0). Inline,
 * as this and clear() run a few times for every span. */
static inline void
gluetool_buffer_init (GluetoolBuffer *buf,
                      guint8         *inline_storage,
                      gsize           inline_capacity)
{
  g_return_if_fail (buf != NULL);
  g_return_if_fail (inline_storage != NULL || inline_capacity == 0);

  buf->data = inline_storage;
  buf->len = 0;
  buf->capacity = inline_capacity;
  buf->inline_storage = inline_storage;
  buf->inline_capacity = inline_capacity;
}

/* Frees any heap block and goes back to the inline storage, empty. */
static inline void
gluetool_buffer_clear (GluetoolBuffer *buf)
{
  g_return_if_fail (buf != NULL);

  if (buf->data != buf->inline_storage)
    {
      g_free (buf->data);
      buf->data = buf->inline_storage;
      buf->capacity = buf->inline_capacity;
    }
  buf->len = 0;
}
/* Makes room for @n more bytes and returns where they go; len is unchanged. */
guint8  *gluetool_buffer_reserve (GluetoolBuffer *buf,
                                  gsize           n);
void     gluetool_buffer_append  (GluetoolBuffer *buf,
                                  const void     *bytes,
                                  gsize           n);
/* Removes bytes [offset, offset + n) and closes the gap. */
void     gluetool_buffer_erase   (GluetoolBuffer *buf,
                                  gsize           offset,
                                  gsize           n);

/* ---- Primitives (exposed for tests and for exact sizing) ------------------ */

/* memcpy(), with its contract (no overlap), for the short strings an
 * action is made of: labels, tag names and values, mostly 16 bytes or
 * fewer. Those take two overlapping loads and stores (three single bytes
 * below 4) instead of a call into the C library, which costs more than the
 * copy at these lengths. Longer copies call memcpy(). */
static inline void
gluetool_copy_bytes (guint8     *to,
                     const void *from,
                     gsize       n)
{
  const guint8 *src = from;

  if (n >= 8 && n <= 16)
    {
      guint64 head, tail;

      memcpy (&head, src, 8);
      memcpy (&tail, src + n - 8, 8);
      memcpy (to, &head, 8);
      memcpy (to + n - 8, &tail, 8);
    }
  else if (n >= 4 && n < 8)
    {
      guint32 head, tail;

      memcpy (&head, src, 4);
      memcpy (&tail, src + n - 4, 4);
      memcpy (to, &head, 4);
      memcpy (to + n - 4, &tail, 4);
    }
  else if (n > 0 && n < 4)
    {
      /* 1, 2 or 3 bytes: first, middle and last cover them all. */
      to[0] = src[0];
      to[n / 2] = src[n / 2];
      to[n - 1] = src[n - 1];
    }
  else if (n > 16)
    memcpy (to, src, n);
}

/* Bytes a plain (unsigned LEB128) varint of @value takes: 1..10. Inline,
 * as the flush thread sizes a batch with it at every span. */
static inline guint
gluetool_varint_size (guint64 value)
{
#if defined(__GNUC__) || defined(__clang__)
  /* 7 payload bits a byte: ceil (significant bits / 7), and 0 takes one. */
  guint bits = 64 - (guint) __builtin_clzll (value | 1);

  return (bits + 6) / 7;
#else
  guint n = 1;

  while (value >= 0x80)
    {
      value >>= 7;
      n++;
    }
  return n;
#endif
}

/* zigzag for i64: 0->0, -1->1, 1->2, -2->3 ... */
guint64  gluetool_zigzag64       (gint64  value);

/* ---- jaeger.thrift structs, each a complete struct ending with STOP -------- */

/* TagType values, as in jaeger.thrift. */
typedef enum {
  GLUETOOL_TAG_TYPE_STRING = 0,
  GLUETOOL_TAG_TYPE_DOUBLE = 1,
  GLUETOOL_TAG_TYPE_BOOL   = 2,
  GLUETOOL_TAG_TYPE_LONG   = 3,
  GLUETOOL_TAG_TYPE_BINARY = 4,
} GluetoolTagType;

/* SpanRefType values, as in jaeger.thrift. */
typedef enum {
  GLUETOOL_SPAN_REF_CHILD_OF     = 0,
  GLUETOOL_SPAN_REF_FOLLOWS_FROM = 1,
} GluetoolSpanRefType;

/* One Tag struct: {1: key, 2: vType, and the one value field vType names}.
 * Keys and string values are written as given (length-delimited, so they
 * may hold any bytes; callers pass UTF-8). */
void gluetool_encode_tag_string (GluetoolBuffer *buf,
                                 const char     *key,
                                 gsize           key_len,
                                 const char     *value,
                                 gsize           value_len);
void gluetool_encode_tag_double (GluetoolBuffer *buf,
                                 const char     *key,
                                 gsize           key_len,
                                 double          value);
void gluetool_encode_tag_bool   (GluetoolBuffer *buf,
                                 const char     *key,
                                 gsize           key_len,
                                 gboolean        value);
void gluetool_encode_tag_long   (GluetoolBuffer *buf,
                                 const char     *key,
                                 gsize           key_len,
                                 gint64          value);
void gluetool_encode_tag_binary (GluetoolBuffer *buf,
                                 const char     *key,
                                 gsize           key_len,
                                 const guint8   *value,
                                 gsize           value_len);

/* One Log struct: {1: timestamp, 2: fields}, where @fields is @n_fields
 * encoded Tag structs back to back. */
void gluetool_encode_log        (GluetoolBuffer *buf,
                                 gint64          timestamp_us,
                                 const guint8   *fields,
                                 gsize           fields_len,
                                 guint           n_fields);

/* A run of already encoded list elements (Tag, Log or Span structs). */
typedef struct {
  const guint8 *data;
  gsize         len;
  guint         count;
} GluetoolEncodedList;

typedef struct {
  GluetoolSpanRefType ref_type;
  guint64             trace_id_low;
  guint64             trace_id_high;
  guint64             span_id;
} GluetoolSpanRef;

/* A Span's four id fields (1: traceIdLow, 2: traceIdHigh, 3: spanId,
 * 4: parentSpanId), encoded as they begin the struct. Random ids take 9
 * or 10 bytes each as varints, most of a span's encoding; but a child has
 * its parent's trace ids, and its parent's span id for a parent, each
 * field written the same way (a one-byte header, delta 1, then the
 * varint). So an action encodes its ids once, when it starts, copying
 * its parent's, and its span only copies them. */
#define GLUETOOL_SPAN_IDS_MAX (4 * (1 + 10))

typedef struct {
  guint8 bytes[GLUETOOL_SPAN_IDS_MAX];
  guint8 trace_len;  /* of the first two fields */
  guint8 span_len;   /* of the third */
  guint8 len;        /* of all four */
} GluetoolSpanIds;

void gluetool_span_ids_encode       (GluetoolSpanIds       *ids,
                                     guint64                trace_id_low,
                                     guint64                trace_id_high,
                                     guint64                span_id,
                                     guint64                parent_span_id);
/* The ids of a child of the span @parent encodes, with @span_id. */
void gluetool_span_ids_encode_child (GluetoolSpanIds       *ids,
                                     const GluetoolSpanIds *parent,
                                     guint64                span_id);

/* The fields of a Span. Tags come in two runs, written as one list in this
 * order: @tags_head (e.g. the sampler's tags) then @tags. Optional lists are
 * written only when they have elements, as c_glib does for unset fields.
 * The ids are written from @ids when it is set (it must encode the four
 * values), else encoded from the values. */
typedef struct {
  guint64                trace_id_low;
  guint64                trace_id_high;
  guint64                span_id;
  guint64                parent_span_id;
  const GluetoolSpanIds *ids;
  const char            *operation_name;
  gsize                  operation_name_len;
  const GluetoolSpanRef *references;
  guint                  n_references;
  gint32                 flags;
  gint64                 start_time_us;
  gint64                 duration_us;
  GluetoolEncodedList    tags_head;
  GluetoolEncodedList    tags;
  GluetoolEncodedList    logs;
} GluetoolSpanFields;

/* One Span struct. Fields 1-5 and 7-9 are always written (they are
 * required, even when zero), 6, 10 and 11 when they have elements. */
void gluetool_encode_span       (GluetoolBuffer           *buf,
                                 const GluetoolSpanFields *span);

/* One Process struct: {1: serviceName, 2: tags when @tags has elements}. */
void gluetool_encode_process    (GluetoolBuffer            *buf,
                                 const char                *service_name,
                                 gsize                      service_name_len,
                                 const GluetoolEncodedList *tags);

/* ---- emitBatch framing ----------------------------------------------------- */

typedef struct {
  gint64 full_queue_dropped_spans;
  gint64 too_large_dropped_spans;
  gint64 failed_to_emit_spans;
} GluetoolClientStats;

/* The datagram is written in three pieces so that the spans, already encoded,
 * are copied once (or handed to sendmsg as they are):
 *
 *   head:  82 81 <seqid> 09 "emitBatch"  1c  1c <process>  19 <list header>
 *   spans: the @n_spans Span structs, back to back
 *   tail:  [16 <seqNo>] [1c <ClientStats>] 00 00
 *
 * The message is ONEWAY. @seq_no < 0 leaves Batch.seqNo out; @stats NULL
 * leaves Batch.stats out. @process is an encoded Process struct. */
void  gluetool_encode_batch_head     (GluetoolBuffer            *buf,
                                      gint32                     seqid,
                                      const guint8              *process,
                                      gsize                      process_len,
                                      guint                      n_spans);
void  gluetool_encode_batch_tail     (GluetoolBuffer            *buf,
                                      gint64                     seq_no,
                                      const GluetoolClientStats *stats);

/* The exact size of head + tail without the process and the spans: what a
 * datagram costs beyond process_len + the spans' bytes. */
gsize gluetool_batch_envelope_size   (gint32                     seqid,
                                      guint                      n_spans,
                                      gint64                     seq_no,
                                      const GluetoolClientStats *stats);
/* The same less the spans' list header, which alone depends on how many
 * spans there are: a batch computes this once, the header per span. */
gsize gluetool_batch_envelope_size_without_list (gint32                     seqid,
                                                 gint64                     seq_no,
                                                 const GluetoolClientStats *stats);
/* The bytes of a list header for @n_elements: the size shares the type's
 * byte up to 14, and follows it as a varint from 15. */
static inline gsize
gluetool_list_header_size (guint n_elements)
{
  return n_elements <= 14 ? 1 : 1 + gluetool_varint_size (n_elements);
}

G_END_DECLS
