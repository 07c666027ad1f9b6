/* trace-scan.c: what a receiver that prints no span needs from a compact
 * emitBatch datagram, read in place
 *
 * SPDX-License-Identifier: MIT
 *
 * One function per struct of jaeger.thrift, each reading its fields in
 * place with a cursor that never passes the datagram's end. Wire facts:
 * docs/design.md and the Thrift compact protocol specification. Whenever
 * the reference codec might read a byte differently (a long-form field id,
 * a varint with bits beyond its type, a field of an unexpected type), the
 * scan refuses, and the reference decides.
 */

#include "trace-scan.h"

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
/* Tag.vType for a string */
#define TAG_TYPE_STRING     0

typedef struct {
  const guint8 *p;
  const guint8 *end;
} Cursor;

static inline gsize
remaining (const Cursor *c)
{
  return (gsize) (c->end - c->p);
}

static inline gboolean
read_byte (Cursor *c,
           guint8 *byte)
{
  if (c->p == c->end)
    return FALSE;
  *byte = *c->p++;
  return TRUE;
}

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
read_binary (Cursor        *c,
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
skip_binary (Cursor *c)
{
  guint32 n;

  /* Empty is fine here: nothing reads the value. */
  if (!read_u32 (c, &n) || n > G_MAXINT32 || n > remaining (c))
    return FALSE;
  c->p += n;
  return TRUE;
}

static inline gboolean
skip_double (Cursor *c)
{
  if (remaining (c) < 8)
    return FALSE;
  c->p += 8;
  return TRUE;
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

/* Whether the fields in @required (a bit per id) were all read. */
static inline gboolean
has_all (const Fields *fields,
         guint64       required)
{
  return (fields->seen & required) == required;
}

#define BIT(id) (G_GUINT64_CONSTANT (1) << (id))

/* ---- The structs ------------------------------------------------------------ */

typedef struct {
  const guint8 *key;
  gsize         key_len;
  gint32        type;
  const guint8 *string;     /* (nullable) vStr, unless empty or absent */
  gsize         string_len;
  gboolean      string_empty;
} ScannedTag;

static gboolean
scan_tag (Cursor     *c,
          ScannedTag *tag)
{
  Fields fields = { 0, 0 };
  guint type;
  int more;

  tag->string = NULL;
  tag->string_empty = FALSE;
  while ((more = next_field (c, &fields, &type)) > 0)
    {
      gint64 ignored;
      gboolean ok;

      switch (fields.id)
        {
        case 1:  /* key */
          ok = type == CT_BINARY && read_binary (c, &tag->key, &tag->key_len);
          break;
        case 2:  /* vType */
          ok = type == CT_I32 && read_i32 (c, &tag->type);
          break;
        case 3:  /* vStr: may be empty unless it is a client-uuid */
          if (type != CT_BINARY)
            ok = FALSE;
          else if (c->p < c->end && *c->p == 0)
            ok = tag->string_empty = skip_binary (c);
          else
            ok = read_binary (c, &tag->string, &tag->string_len);
          break;
        case 4:  /* vDouble */
          ok = type == CT_DOUBLE && skip_double (c);
          break;
        case 5:  /* vBool: its value is in the field's type */
          ok = type == CT_BOOL_TRUE || type == CT_BOOL_FALSE;
          break;
        case 6:  /* vLong */
          ok = type == CT_I64 && read_i64 (c, &ignored);
          break;
        case 7:  /* vBinary */
          ok = type == CT_BINARY && skip_binary (c);
          break;
        default:
          ok = FALSE;
        }
      if (!ok)
        return FALSE;
    }
  return more == 0 && has_all (&fields, BIT (1) | BIT (2));
}

/* A list<Tag>; the first client-uuid tag found goes in @scan, when given. */
static gboolean
scan_tags (Cursor    *c,
           guint32   *n_tags,
           TraceScan *scan)
{
  if (!read_struct_list (c, n_tags))
    return FALSE;
  for (guint32 i = 0; i < *n_tags; i++)
    {
      ScannedTag tag;

      if (!scan_tag (c, &tag))
        return FALSE;
      /* As the store finds it: the key compared as a C string, a STRING
       * tag whose vStr is set. An empty vStr may come back from the
       * reference as NULL, so such a tag is left to it. */
      if (scan != NULL && scan->client_uuid == NULL && tag.type == TAG_TYPE_STRING
          && strnlen ((const char *) tag.key, tag.key_len) == strlen ("client-uuid")
          && memcmp (tag.key, "client-uuid", strlen ("client-uuid")) == 0)
        {
          if (tag.string_empty)
            return FALSE;
          if (tag.string != NULL)
            scan->client_uuid = g_strndup ((const char *) tag.string, tag.string_len);
        }
    }
  return TRUE;
}

static gboolean
scan_log (Cursor  *c,
          guint64 *n_items)
{
  Fields fields = { 0, 0 };
  guint type;
  int more;

  while ((more = next_field (c, &fields, &type)) > 0)
    {
      gint64 ignored;
      guint32 n_fields;
      gboolean ok;

      switch (fields.id)
        {
        case 1:  /* timestamp */
          ok = type == CT_I64 && read_i64 (c, &ignored);
          break;
        case 2:  /* fields */
          ok = type == CT_LIST && scan_tags (c, &n_fields, NULL);
          if (ok)
            *n_items += 1 + n_fields;
          break;
        default:
          ok = FALSE;
        }
      if (!ok)
        return FALSE;
    }
  return more == 0 && has_all (&fields, BIT (1) | BIT (2));
}

static gboolean
scan_span_ref (Cursor *c)
{
  Fields fields = { 0, 0 };
  guint type;
  int more;

  while ((more = next_field (c, &fields, &type)) > 0)
    {
      gint32 ref_type;
      gint64 id;
      gboolean ok;

      switch (fields.id)
        {
        case 1:  /* refType */
          ok = type == CT_I32 && read_i32 (c, &ref_type);
          break;
        case 2:  /* traceIdLow */
        case 3:  /* traceIdHigh */
        case 4:  /* spanId */
          ok = type == CT_I64 && read_i64 (c, &id);
          break;
        default:
          ok = FALSE;
        }
      if (!ok)
        return FALSE;
    }
  return more == 0 && has_all (&fields, BIT (1) | BIT (2) | BIT (3) | BIT (4));
}

static gboolean
scan_span (Cursor           *c,
           TraceScannedSpan *span)
{
  Fields fields = { 0, 0 };
  guint type;
  int more;

  span->n_items = 1;
  while ((more = next_field (c, &fields, &type)) > 0)
    {
      const guint8 *name;
      gsize name_len;
      gint64 value;
      gint32 flags;
      guint32 n;
      gboolean ok = TRUE;

      switch (fields.id)
        {
        case 1:  /* traceIdLow */
          ok = type == CT_I64 && read_i64 (c, &value);
          if (ok)
            span->trace_id_low = (guint64) value;
          break;
        case 2:  /* traceIdHigh */
          ok = type == CT_I64 && read_i64 (c, &value);
          if (ok)
            span->trace_id_high = (guint64) value;
          break;
        case 3:  /* spanId */
        case 4:  /* parentSpanId */
        case 8:  /* startTime */
        case 9:  /* duration */
          ok = type == CT_I64 && read_i64 (c, &value);
          break;
        case 5:  /* operationName */
          ok = type == CT_BINARY && read_binary (c, &name, &name_len);
          break;
        case 6:  /* references */
          ok = type == CT_LIST && read_struct_list (c, &n);
          for (guint32 i = 0; ok && i < n; i++)
            ok = scan_span_ref (c);
          if (ok)
            span->n_items += n;
          break;
        case 7:  /* flags */
          ok = type == CT_I32 && read_i32 (c, &flags);
          break;
        case 10:  /* tags */
          ok = type == CT_LIST && scan_tags (c, &n, NULL);
          if (ok)
            span->n_items += n;
          break;
        case 11:  /* logs */
          ok = type == CT_LIST && read_struct_list (c, &n);
          for (guint32 i = 0; ok && i < n; i++)
            ok = scan_log (c, &span->n_items);
          break;
        default:
          ok = FALSE;
        }
      if (!ok)
        return FALSE;
    }
  return more == 0 && has_all (&fields, BIT (1) | BIT (2) | BIT (3) | BIT (4) | BIT (5)
                                        | BIT (7) | BIT (8) | BIT (9));
}

static gboolean
scan_process (Cursor    *c,
              TraceScan *scan)
{
  Fields fields = { 0, 0 };
  guint type;
  int more;

  while ((more = next_field (c, &fields, &type)) > 0)
    {
      const guint8 *name;
      gsize name_len;
      guint32 n_tags;
      gboolean ok;

      switch (fields.id)
        {
        case 1:  /* serviceName */
          ok = type == CT_BINARY && read_binary (c, &name, &name_len);
          if (ok)
            scan->service_name = g_strndup ((const char *) name, name_len);
          break;
        case 2:  /* tags */
          ok = type == CT_LIST && scan_tags (c, &n_tags, scan);
          if (ok)
            scan->n_process_tags = n_tags;
          break;
        default:
          ok = FALSE;
        }
      if (!ok)
        return FALSE;
    }
  return more == 0 && has_all (&fields, BIT (1));
}

static gboolean
scan_client_stats (Cursor    *c,
                   TraceScan *scan)
{
  Fields fields = { 0, 0 };
  guint type;
  int more;

  while ((more = next_field (c, &fields, &type)) > 0)
    {
      gint64 *counter;

      switch (fields.id)
        {
        case 1:
          counter = &scan->full_queue_dropped;
          break;
        case 2:
          counter = &scan->too_large_dropped;
          break;
        case 3:
          counter = &scan->failed_to_emit;
          break;
        default:
          return FALSE;
        }
      if (type != CT_I64 || !read_i64 (c, counter))
        return FALSE;
    }
  return more == 0 && has_all (&fields, BIT (1) | BIT (2) | BIT (3));
}

static gboolean
scan_batch (Cursor    *c,
            TraceScan *scan)
{
  Fields fields = { 0, 0 };
  guint type;
  int more;

  while ((more = next_field (c, &fields, &type)) > 0)
    {
      guint32 n;
      gboolean ok = TRUE;

      switch (fields.id)
        {
        case 1:  /* process */
          ok = type == CT_STRUCT && scan_process (c, scan);
          break;
        case 2:  /* spans */
          ok = type == CT_LIST && read_struct_list (c, &n);
          if (ok)
            g_array_set_size (scan->spans, n);
          for (guint32 i = 0; ok && i < n; i++)
            ok = scan_span (c, &g_array_index (scan->spans, TraceScannedSpan, i));
          break;
        case 3:  /* seqNo */
          ok = type == CT_I64 && read_i64 (c, &scan->seq_no);
          scan->has_seq_no = ok;
          break;
        case 4:  /* stats */
          ok = type == CT_STRUCT && scan_client_stats (c, scan);
          scan->has_stats = ok;
          break;
        default:
          ok = FALSE;
        }
      if (!ok)
        return FALSE;
    }
  if (more != 0 || !has_all (&fields, BIT (1) | BIT (2)))
    return FALSE;

  /* Each span is charged its process's tags, whichever field came first. */
  for (guint i = 0; i < scan->spans->len; i++)
    g_array_index (scan->spans, TraceScannedSpan, i).n_items += scan->n_process_tags;
  return TRUE;
}

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
