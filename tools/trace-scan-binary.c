/* trace-scan-binary.c: what a receiver that prints no span needs from a
 * binary-protocol Batch (the body of a POST to /api/traces), read in place
 *
 * SPDX-License-Identifier: MIT
 *
 * The binary protocol's counterpart of trace-scan.c, with the same rules:
 * one function per struct of jaeger.thrift, a cursor that never passes the
 * body's end, every field of its declared type and at most once, every
 * required field present, and nothing after the Batch. Whatever the
 * reference codec might read differently (an unknown field, a negative
 * size, an empty string it would hand out as NULL) is refused, and the
 * reference decides. Wire facts: a field is a type byte and a big-endian
 * i16 id (a STOP byte alone ends a struct); integers are big-endian and
 * fixed-size; a string is an i32 length and its bytes; a list is an
 * element type byte and an i32 size.
 */

#include "trace-scan.h"

#include <string.h>

/* Binary type bytes. */
enum {
  BT_STOP = 0, BT_BOOL = 2, BT_DOUBLE = 4, BT_I32 = 8, BT_I64 = 10, BT_STRING = 11,
  BT_STRUCT = 12, BT_LIST = 15,
};

/* Tag.vType for a string */
#define TAG_TYPE_STRING 0

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

static inline gboolean
skip (Cursor *c,
      gsize   n)
{
  if (remaining (c) < n)
    return FALSE;
  c->p += n;
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
read_string (Cursor        *c,
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
skip_string (Cursor *c)
{
  gsize len;

  /* Empty is fine here: nothing reads the value. */
  return read_length (c, &len) && skip (c, len);
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
          ok = type == BT_STRING && read_string (c, &tag->key, &tag->key_len);
          break;
        case 2:  /* vType */
          ok = type == BT_I32 && read_i32 (c, &tag->type);
          break;
        case 3:  /* vStr: may be empty unless it is a client-uuid */
          if (type != BT_STRING)
            ok = FALSE;
          else if (remaining (c) >= 4 && memcmp (c->p, "\0\0\0\0", 4) == 0)
            ok = tag->string_empty = skip (c, 4);
          else
            ok = read_string (c, &tag->string, &tag->string_len);
          break;
        case 4:  /* vDouble */
          ok = type == BT_DOUBLE && skip (c, 8);
          break;
        case 5:  /* vBool */
          ok = type == BT_BOOL && skip (c, 1);
          break;
        case 6:  /* vLong */
          ok = type == BT_I64 && read_i64 (c, &ignored);
          break;
        case 7:  /* vBinary */
          ok = type == BT_STRING && skip_string (c);
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
      /* As the store finds it: see trace-scan.c. */
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
      guint32 n_fields;
      gboolean ok;

      switch (fields.id)
        {
        case 1:  /* timestamp */
          ok = type == BT_I64 && skip (c, 8);
          break;
        case 2:  /* fields */
          ok = type == BT_LIST && scan_tags (c, &n_fields, NULL);
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
      gboolean ok;

      switch (fields.id)
        {
        case 1:  /* refType */
          ok = type == BT_I32 && skip (c, 4);
          break;
        case 2:  /* traceIdLow */
        case 3:  /* traceIdHigh */
        case 4:  /* spanId */
          ok = type == BT_I64 && skip (c, 8);
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
      guint32 n;
      gboolean ok = TRUE;

      switch (fields.id)
        {
        case 1:  /* traceIdLow */
          ok = type == BT_I64 && read_i64 (c, &value);
          if (ok)
            span->trace_id_low = (guint64) value;
          break;
        case 2:  /* traceIdHigh */
          ok = type == BT_I64 && read_i64 (c, &value);
          if (ok)
            span->trace_id_high = (guint64) value;
          break;
        case 3:  /* spanId */
        case 4:  /* parentSpanId */
        case 8:  /* startTime */
        case 9:  /* duration */
          ok = type == BT_I64 && skip (c, 8);
          break;
        case 5:  /* operationName */
          ok = type == BT_STRING && read_string (c, &name, &name_len);
          break;
        case 6:  /* references */
          ok = type == BT_LIST && read_struct_list (c, &n);
          for (guint32 i = 0; ok && i < n; i++)
            ok = scan_span_ref (c);
          if (ok)
            span->n_items += n;
          break;
        case 7:  /* flags */
          ok = type == BT_I32 && skip (c, 4);
          break;
        case 10:  /* tags */
          ok = type == BT_LIST && scan_tags (c, &n, NULL);
          if (ok)
            span->n_items += n;
          break;
        case 11:  /* logs */
          ok = type == BT_LIST && read_struct_list (c, &n);
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
          ok = type == BT_STRING && read_string (c, &name, &name_len);
          if (ok)
            scan->service_name = g_strndup ((const char *) name, name_len);
          break;
        case 2:  /* tags */
          ok = type == BT_LIST && scan_tags (c, &n_tags, scan);
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
      if (type != BT_I64 || !read_i64 (c, counter))
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
          ok = type == BT_STRUCT && scan_process (c, scan);
          break;
        case 2:  /* spans */
          ok = type == BT_LIST && read_struct_list (c, &n);
          if (ok)
            g_array_set_size (scan->spans, n);
          for (guint32 i = 0; ok && i < n; i++)
            ok = scan_span (c, &g_array_index (scan->spans, TraceScannedSpan, i));
          break;
        case 3:  /* seqNo */
          ok = type == BT_I64 && read_i64 (c, &scan->seq_no);
          scan->has_seq_no = ok;
          break;
        case 4:  /* stats */
          ok = type == BT_STRUCT && scan_client_stats (c, scan);
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
