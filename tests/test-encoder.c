/* test-encoder.c: the compact encoder against Apache Thrift's c_glib
 *
 * SPDX-License-Identifier: MIT
 *
 * Every encoding test builds the same values twice: once through the
 * library's encoder, once as the c_glib generated structs, which
 * ThriftCompactProtocol then writes (thrift/reference.c). The two byte
 * strings must be identical. The only literal bytes here are protocol facts
 * of the compact protocol (a 112-byte and a 25-byte datagram written out by
 * hand from the specification, varint and zigzag values).
 *
 * The reference decoder is tested here too, because the other suites trust
 * it to refuse what a Jaeger agent would refuse: garbage, truncation, a wrong
 * method, trailing bytes, missing required fields, absurd sizes.
 */

#include <float.h>
#include <math.h>
#include <string.h>

#include <check.h>
#include <glib.h>

#include "encoder-private.h"
#include "reference.h"
#include "check-tap.h"

/* ---- Protocol facts ------------------------------------------------------------- */

/* Written out by hand: Process "svc" {ip="1.2.3.4"}, one span,
 * seqNo 1, stats {0, 0, 0}, ONEWAY, seqid 1. */
static const guint8 vector_112[] = {
  0x82, 0x81, 0x01, 0x09, 0x65, 0x6d, 0x69, 0x74, 0x42, 0x61, 0x74, 0x63, 0x68, 0x1c,
  0x1c, 0x18, 0x03, 0x73, 0x76, 0x63, 0x19, 0x1c, 0x18, 0x02, 0x69, 0x70, 0x15, 0x00,
  0x18, 0x07, 0x31, 0x2e, 0x32, 0x2e, 0x33, 0x2e, 0x34, 0x00, 0x00, 0x19, 0x1c, 0x16,
  0x02, 0x16, 0x00, 0x16, 0x04, 0x16, 0x00, 0x18, 0x02, 0x6f, 0x70, 0x25, 0x02, 0x16,
  0x80, 0x80, 0xf2, 0x81, 0x83, 0x89, 0x85, 0x06, 0x16, 0xb8, 0x17, 0x19, 0x3c, 0x18,
  0x01, 0x62, 0x15, 0x04, 0x31, 0x00, 0x18, 0x01, 0x64, 0x15, 0x02, 0x27, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x00, 0x18, 0x01, 0x6c, 0x15, 0x06, 0x46, 0x01,
  0x00, 0x00, 0x16, 0x02, 0x1c, 0x16, 0x00, 0x16, 0x00, 0x16, 0x00, 0x00, 0x00, 0x00,
};

/* The smallest datagram: service "svc", no spans, seqid 0. */
static const guint8 vector_25[] = {
  0x82, 0x81, 0x00, 0x09, 0x65, 0x6d, 0x69, 0x74, 0x42, 0x61, 0x74, 0x63, 0x68,
  0x1c, 0x1c, 0x18, 0x03, 0x73, 0x76, 0x63, 0x00, 0x19, 0x0c, 0x00, 0x00,
};

/* ---- A neutral description of spans, built both ways ------------------------------ */

typedef struct {
  GluetoolTagType type;
  const char     *key;
  gsize           key_len;    /* 0: strlen (key) */
  const char     *str;
  gsize           str_len;    /* 0: strlen (str) */
  const guint8   *bin;
  gsize           bin_len;
  double          d;
  gboolean        b;
  gint64          l;
} TestTag;

typedef struct {
  gint64         timestamp;
  const TestTag *fields;
  guint          n_fields;
} TestLog;

typedef struct {
  guint64                trace_id_low;
  guint64                trace_id_high;
  guint64                span_id;
  guint64                parent_span_id;
  const char            *operation_name;
  const GluetoolSpanRef *refs;
  guint                  n_refs;
  gint32                 flags;
  gint64                 start_time;
  gint64                 duration;
  const TestTag         *tags_head;
  guint                  n_tags_head;
  const TestTag         *tags;
  guint                  n_tags;
  const TestLog         *logs;
  guint                  n_logs;
} TestSpan;

#define STR_TAG(k, v)  { .type = GLUETOOL_TAG_TYPE_STRING, .key = (k), .str = (v) }
#define DBL_TAG(k, v)  { .type = GLUETOOL_TAG_TYPE_DOUBLE, .key = (k), .d = (v) }
#define BOOL_TAG(k, v) { .type = GLUETOOL_TAG_TYPE_BOOL, .key = (k), .b = (v) }
#define LONG_TAG(k, v) { .type = GLUETOOL_TAG_TYPE_LONG, .key = (k), .l = (v) }
#define BIN_TAG(k, v, n) { .type = GLUETOOL_TAG_TYPE_BINARY, .key = (k), .bin = (v), .bin_len = (n) }

static gsize
tag_key_len (const TestTag *t)
{
  return t->key_len != 0 ? t->key_len : strlen (t->key);
}

static gsize
tag_str_len (const TestTag *t)
{
  return t->str_len != 0 ? t->str_len : strlen (t->str);
}

/* ours */

static void
our_tag (GluetoolBuffer *buf,
         const TestTag  *t)
{
  switch (t->type)
    {
    case GLUETOOL_TAG_TYPE_STRING:
      gluetool_encode_tag_string (buf, t->key, tag_key_len (t), t->str, tag_str_len (t));
      break;
    case GLUETOOL_TAG_TYPE_DOUBLE:
      gluetool_encode_tag_double (buf, t->key, tag_key_len (t), t->d);
      break;
    case GLUETOOL_TAG_TYPE_BOOL:
      gluetool_encode_tag_bool (buf, t->key, tag_key_len (t), t->b);
      break;
    case GLUETOOL_TAG_TYPE_LONG:
      gluetool_encode_tag_long (buf, t->key, tag_key_len (t), t->l);
      break;
    case GLUETOOL_TAG_TYPE_BINARY:
      gluetool_encode_tag_binary (buf, t->key, tag_key_len (t), t->bin, t->bin_len);
      break;
    default:
      ck_abort_msg ("bad test tag type %d", t->type);
    }
}

static void
our_tags (GluetoolBuffer *buf,
          const TestTag  *tags,
          guint           n)
{
  for (guint i = 0; i < n; i++)
    our_tag (buf, &tags[i]);
}

static void
our_log (GluetoolBuffer *buf,
         const TestLog  *l)
{
  GluetoolBuffer fields;

  gluetool_buffer_init (&fields, NULL, 0);
  our_tags (&fields, l->fields, l->n_fields);
  gluetool_encode_log (buf, l->timestamp, fields.data, fields.len, l->n_fields);
  gluetool_buffer_clear (&fields);
}

/* With @ids (when not NULL) for the four id fields, as an action has
 * them encoded. */
static void
our_span_with_ids (GluetoolBuffer        *buf,
                   const TestSpan        *s,
                   const GluetoolSpanIds *ids)
{
  GluetoolBuffer head, tags, logs;
  GluetoolSpanFields f = { 0 };

  gluetool_buffer_init (&head, NULL, 0);
  gluetool_buffer_init (&tags, NULL, 0);
  gluetool_buffer_init (&logs, NULL, 0);
  our_tags (&head, s->tags_head, s->n_tags_head);
  our_tags (&tags, s->tags, s->n_tags);
  for (guint i = 0; i < s->n_logs; i++)
    our_log (&logs, &s->logs[i]);

  f.trace_id_low = s->trace_id_low;
  f.trace_id_high = s->trace_id_high;
  f.span_id = s->span_id;
  f.parent_span_id = s->parent_span_id;
  f.ids = ids;
  f.operation_name = s->operation_name;
  f.operation_name_len = strlen (s->operation_name);
  f.references = s->refs;
  f.n_references = s->n_refs;
  f.flags = s->flags;
  f.start_time_us = s->start_time;
  f.duration_us = s->duration;
  f.tags_head = (GluetoolEncodedList) { head.data, head.len, s->n_tags_head };
  f.tags = (GluetoolEncodedList) { tags.data, tags.len, s->n_tags };
  f.logs = (GluetoolEncodedList) { logs.data, logs.len, s->n_logs };
  gluetool_encode_span (buf, &f);

  gluetool_buffer_clear (&head);
  gluetool_buffer_clear (&tags);
  gluetool_buffer_clear (&logs);
}

static void
our_span (GluetoolBuffer *buf,
          const TestSpan *s)
{
  our_span_with_ids (buf, s, NULL);
}

/* The datagram in the three pieces the reporter writes, checking on the way
 * that gluetool_batch_envelope_size() predicts exactly what head and tail
 * took. */
static GBytes *
our_datagram (gint32                     seqid,
              const char                *service,
              const TestTag             *process_tags,
              guint                      n_process_tags,
              const TestSpan            *spans,
              guint                      n_spans,
              gint64                     seq_no,
              const GluetoolClientStats *stats)
{
  GluetoolBuffer ptags, process, span_bytes, out;
  GluetoolEncodedList ptag_list;
  gsize envelope;

  gluetool_buffer_init (&ptags, NULL, 0);
  gluetool_buffer_init (&process, NULL, 0);
  gluetool_buffer_init (&span_bytes, NULL, 0);
  gluetool_buffer_init (&out, NULL, 0);

  our_tags (&ptags, process_tags, n_process_tags);
  ptag_list = (GluetoolEncodedList) { ptags.data, ptags.len, n_process_tags };
  gluetool_encode_process (&process, service, strlen (service), &ptag_list);
  for (guint i = 0; i < n_spans; i++)
    our_span (&span_bytes, &spans[i]);

  gluetool_encode_batch_head (&out, seqid, process.data, process.len, n_spans);
  gluetool_buffer_append (&out, span_bytes.data, span_bytes.len);
  gluetool_encode_batch_tail (&out, seq_no, stats);

  envelope = gluetool_batch_envelope_size (seqid, n_spans, seq_no, stats);
  ck_assert_msg (envelope == out.len - process.len - span_bytes.len,
                 "envelope size %" G_GSIZE_FORMAT " but head and tail took %"
                 G_GSIZE_FORMAT " (seqid %d, %u spans, seqNo %" G_GINT64_FORMAT
                 ", stats %s)", envelope, out.len - process.len - span_bytes.len,
                 seqid, n_spans, seq_no, stats != NULL ? "set" : "unset");

  {
    GBytes *bytes = g_bytes_new (out.data, out.len);

    gluetool_buffer_clear (&ptags);
    gluetool_buffer_clear (&process);
    gluetool_buffer_clear (&span_bytes);
    gluetool_buffer_clear (&out);
    return bytes;
  }
}

/* c_glib's */

static JaegerTag *
ref_tag (const TestTag *t)
{
  JaegerTag *tag = g_object_new (JAEGER_TYPE_TAG, NULL);

  tag->key = g_strndup (t->key, tag_key_len (t));
  tag->vType = (JaegerTagType) t->type;
  /* Assigning members does not set the __isset_ flags (the writers would
   * silently drop the field), so they are set by hand. */
  switch (t->type)
    {
    case GLUETOOL_TAG_TYPE_STRING:
      tag->vStr = g_strndup (t->str, tag_str_len (t));
      tag->__isset_vStr = TRUE;
      break;
    case GLUETOOL_TAG_TYPE_DOUBLE:
      tag->vDouble = t->d;
      tag->__isset_vDouble = TRUE;
      break;
    case GLUETOOL_TAG_TYPE_BOOL:
      tag->vBool = t->b;
      tag->__isset_vBool = TRUE;
      break;
    case GLUETOOL_TAG_TYPE_LONG:
      tag->vLong = t->l;
      tag->__isset_vLong = TRUE;
      break;
    case GLUETOOL_TAG_TYPE_BINARY:
      tag->vBinary = g_byte_array_new ();
      if (t->bin_len > 0)
        g_byte_array_append (tag->vBinary, t->bin, (guint) t->bin_len);
      tag->__isset_vBinary = TRUE;
      break;
    default:
      ck_abort_msg ("bad test tag type %d", t->type);
    }
  return tag;
}

static void
ref_add_tags (GPtrArray     *array,
              const TestTag *tags,
              guint          n)
{
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (array, ref_tag (&tags[i]));
}

static JaegerSpan *
ref_span (const TestSpan *s)
{
  JaegerSpan *span = g_object_new (JAEGER_TYPE_SPAN, NULL);

  span->traceIdLow = (gint64) s->trace_id_low;
  span->traceIdHigh = (gint64) s->trace_id_high;
  span->spanId = (gint64) s->span_id;
  span->parentSpanId = (gint64) s->parent_span_id;
  span->operationName = g_strdup (s->operation_name);
  span->flags = s->flags;
  span->startTime = s->start_time;
  span->duration = s->duration;

  for (guint i = 0; i < s->n_refs; i++)
    {
      JaegerSpanRef *ref = g_object_new (JAEGER_TYPE_SPAN_REF, NULL);

      ref->refType = (JaegerSpanRefType) s->refs[i].ref_type;
      ref->traceIdLow = (gint64) s->refs[i].trace_id_low;
      ref->traceIdHigh = (gint64) s->refs[i].trace_id_high;
      ref->spanId = (gint64) s->refs[i].span_id;
      g_ptr_array_add (span->references, ref);
    }
  span->__isset_references = s->n_refs > 0;

  ref_add_tags (span->tags, s->tags_head, s->n_tags_head);
  ref_add_tags (span->tags, s->tags, s->n_tags);
  span->__isset_tags = s->n_tags_head + s->n_tags > 0;

  for (guint i = 0; i < s->n_logs; i++)
    {
      JaegerLog *log = g_object_new (JAEGER_TYPE_LOG, NULL);

      log->timestamp = s->logs[i].timestamp;
      ref_add_tags (log->fields, s->logs[i].fields, s->logs[i].n_fields);
      g_ptr_array_add (span->logs, log);
    }
  span->__isset_logs = s->n_logs > 0;

  return span;
}

static JaegerProcess *
ref_process (const char    *service,
             const TestTag *tags,
             guint          n_tags)
{
  JaegerProcess *process = g_object_new (JAEGER_TYPE_PROCESS, NULL);

  process->serviceName = g_strdup (service);
  ref_add_tags (process->tags, tags, n_tags);
  process->__isset_tags = n_tags > 0;
  return process;
}

static JaegerBatch *
ref_batch (const char                *service,
           const TestTag             *process_tags,
           guint                      n_process_tags,
           const TestSpan            *spans,
           guint                      n_spans,
           gint64                     seq_no,
           const GluetoolClientStats *stats)
{
  JaegerBatch *batch = g_object_new (JAEGER_TYPE_BATCH, NULL);
  g_autoptr(JaegerProcess) process = ref_process (service, process_tags, n_process_tags);

  g_object_set (batch, "process", process, NULL);
  for (guint i = 0; i < n_spans; i++)
    g_ptr_array_add (batch->spans, ref_span (&spans[i]));
  if (seq_no >= 0)
    {
      batch->seqNo = seq_no;
      batch->__isset_seqNo = TRUE;
    }
  if (stats != NULL)
    {
      batch->stats->fullQueueDroppedSpans = stats->full_queue_dropped_spans;
      batch->stats->tooLargeDroppedSpans = stats->too_large_dropped_spans;
      batch->stats->failedToEmitSpans = stats->failed_to_emit_spans;
      batch->__isset_stats = TRUE;
    }
  return batch;
}

static GBytes *
ref_struct_bytes (gpointer object)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = gluetool_reference_encode_struct (THRIFT_STRUCT (object), &error);

  ck_assert_msg (bytes != NULL, "c_glib failed: %s", error ? error->message : "?");
  return bytes;
}

static GBytes *
ref_datagram (JaegerBatch *batch,
              gint32       seqid)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = gluetool_reference_encode_datagram (batch, seqid, &error);

  ck_assert_msg (bytes != NULL, "c_glib failed: %s", error ? error->message : "?");
  return bytes;
}

/* ---- Comparing bytes -------------------------------------------------------------- */

/* NULL when equal, else where and how they first differ. */
static gchar *
describe_difference (const guint8 *ours,
                     gsize         ours_len,
                     const guint8 *theirs,
                     gsize         theirs_len)
{
  gsize i;
  GString *s;

  if (ours_len == theirs_len && memcmp (ours, theirs, ours_len) == 0)
    return NULL;

  for (i = 0; i < ours_len && i < theirs_len && ours[i] == theirs[i]; i++)
    ;
  s = g_string_new (NULL);
  g_string_append_printf (s, "ours is %" G_GSIZE_FORMAT " bytes, the reference %"
                          G_GSIZE_FORMAT "; first difference at byte %" G_GSIZE_FORMAT,
                          ours_len, theirs_len, i);
  g_string_append (s, "\n  ours:");
  for (gsize j = i >= 8 ? i - 8 : 0; j < ours_len && j < i + 8; j++)
    g_string_append_printf (s, j == i ? " [%02x]" : " %02x", ours[j]);
  g_string_append (s, "\n  ref: ");
  for (gsize j = i >= 8 ? i - 8 : 0; j < theirs_len && j < i + 8; j++)
    g_string_append_printf (s, j == i ? " [%02x]" : " %02x", theirs[j]);
  return g_string_free (s, FALSE);
}

#define assert_bytes_eq(ours, ours_len, theirs, theirs_len, what) \
  G_STMT_START { \
    g_autofree gchar *_diff = describe_difference ((ours), (ours_len), (theirs), (theirs_len)); \
    ck_assert_msg (_diff == NULL, "%s: %s", (what), _diff); \
  } G_STMT_END

#define assert_gbytes_eq(ours, theirs, what) \
  G_STMT_START { \
    gsize _ol, _tl; \
    const guint8 *_o = g_bytes_get_data ((ours), &_ol); \
    const guint8 *_t = g_bytes_get_data ((theirs), &_tl); \
    assert_bytes_eq (_o, _ol, _t, _tl, (what)); \
  } G_STMT_END

/* Encodes @s both ways, as a Span struct on its own, and compares; with
 * @ids (when not NULL) for our four id fields, as an action has them. */
static void
check_span_with_ids_matches (const TestSpan        *s,
                             const GluetoolSpanIds *ids,
                             const char            *what)
{
  GluetoolBuffer ours;
  g_autoptr(JaegerSpan) span = ref_span (s);
  g_autoptr(GBytes) theirs = ref_struct_bytes (span);
  gsize theirs_len;
  const guint8 *theirs_data = g_bytes_get_data (theirs, &theirs_len);

  gluetool_buffer_init (&ours, NULL, 0);
  our_span_with_ids (&ours, s, ids);
  assert_bytes_eq (ours.data, ours.len, theirs_data, theirs_len, what);
  gluetool_buffer_clear (&ours);
}

static void
check_span_matches (const TestSpan *s,
                    const char     *what)
{
  check_span_with_ids_matches (s, NULL, what);
}

static void
check_tag_matches (const TestTag *t,
                   const char    *what)
{
  GluetoolBuffer ours;
  g_autoptr(JaegerTag) tag = ref_tag (t);
  g_autoptr(GBytes) theirs = ref_struct_bytes (tag);
  gsize theirs_len;
  const guint8 *theirs_data = g_bytes_get_data (theirs, &theirs_len);

  gluetool_buffer_init (&ours, NULL, 0);
  our_tag (&ours, t);
  assert_bytes_eq (ours.data, ours.len, theirs_data, theirs_len, what);
  gluetool_buffer_clear (&ours);
}

static const TestSpan plain_span = {
  .trace_id_low = 0x0123456789abcdefu,
  .trace_id_high = 0xfedcba9876543210u,
  .span_id = 0x1111222233334444u,
  .parent_span_id = 0x5555666677778888u,
  .operation_name = "plain operation",
  .flags = 1,
  .start_time = G_GINT64_CONSTANT (1700000000123456),
  .duration = 1500,
};

/* ---- Primitives ------------------------------------------------------------------------ */

START_TEST (test_varint_size)
{
  static const struct { guint64 value; guint size; } cases[] = {
    { 0, 1 }, { 1, 1 }, { 127, 1 }, { 128, 2 }, { 16383, 2 }, { 16384, 3 },
    { 2097151, 3 }, { 2097152, 4 }, { G_MAXUINT32, 5 },
    { G_GUINT64_CONSTANT (1) << 35, 6 }, { (G_GUINT64_CONSTANT (1) << 56) - 1, 8 },
    { G_GUINT64_CONSTANT (1) << 56, 9 }, { (G_GUINT64_CONSTANT (1) << 63) - 1, 9 },
    { G_GUINT64_CONSTANT (1) << 63, 10 }, { G_MAXUINT64, 10 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    ck_assert_msg (gluetool_varint_size (cases[i].value) == cases[i].size,
                   "varint of %" G_GUINT64_FORMAT ": %u bytes, expected %u",
                   cases[i].value, gluetool_varint_size (cases[i].value), cases[i].size);
}
END_TEST

START_TEST (test_zigzag)
{
  ck_assert_uint_eq (gluetool_zigzag64 (0), 0);
  ck_assert_uint_eq (gluetool_zigzag64 (-1), 1);
  ck_assert_uint_eq (gluetool_zigzag64 (1), 2);
  ck_assert_uint_eq (gluetool_zigzag64 (-2), 3);
  ck_assert_uint_eq (gluetool_zigzag64 (G_MAXINT64), G_MAXUINT64 - 1);
  ck_assert_uint_eq (gluetool_zigzag64 (G_MININT64), G_MAXUINT64);
}
END_TEST

/* Every length the short copy has a case for, and the longer ones it hands
 * to memcpy(), at every offset in a word: exactly the bytes asked for,
 * nothing either side. */
START_TEST (test_copy_bytes)
{
  guint8 from[80];
  guint8 to[96];

  for (guint i = 0; i < sizeof from; i++)
    from[i] = (guint8) (i + 1);

  for (gsize n = 0; n <= 64; n++)
    for (gsize offset = 0; offset < 8; offset++)
      {
        memset (to, 0xEE, sizeof to);
        gluetool_copy_bytes (to + 8 + offset, from + offset, n);
        for (gsize i = 0; i < sizeof to; i++)
          {
            gboolean inside = i >= 8 + offset && i < 8 + offset + n;
            guint8 expected = inside ? from[i - 8] : 0xEE;

            ck_assert_msg (to[i] == expected, "n %" G_GSIZE_FORMAT ", offset %" G_GSIZE_FORMAT
                           ": byte %" G_GSIZE_FORMAT " is %u, not %u", n, offset, i, to[i], expected);
          }
      }
}
END_TEST

/* ---- Buffer ------------------------------------------------------------------------------ */

START_TEST (test_buffer_inline_then_heap)
{
  guint8 storage[16];
  GluetoolBuffer buf;
  guint8 big[100];
  guint8 *p;

  for (gsize i = 0; i < sizeof big; i++)
    big[i] = (guint8) i;

  gluetool_buffer_init (&buf, storage, sizeof storage);
  gluetool_buffer_append (&buf, big, 10);
  ck_assert_ptr_eq (buf.data, storage);
  ck_assert_uint_eq (buf.len, 10);

  /* Past the inline storage: the bytes move to the heap, unchanged. */
  gluetool_buffer_append (&buf, big + 10, 90);
  ck_assert_ptr_ne (buf.data, storage);
  ck_assert_uint_eq (buf.len, 100);
  ck_assert_mem_eq (buf.data, big, 100);

  p = gluetool_buffer_reserve (&buf, 1000);
  ck_assert_ptr_eq (p, buf.data + 100);
  ck_assert_uint_ge (buf.capacity - buf.len, 1000);
  ck_assert_uint_eq (buf.len, 100);

  /* clear() frees the heap block and the inline storage is usable again
   * at full size, with no allocation. */
  gluetool_buffer_clear (&buf);
  ck_assert_ptr_eq (buf.data, storage);
  ck_assert_uint_eq (buf.len, 0);
  ck_assert_uint_eq (buf.capacity, sizeof storage);
  gluetool_buffer_append (&buf, big, sizeof storage);
  ck_assert_ptr_eq (buf.data, storage);
  gluetool_buffer_clear (&buf);
}
END_TEST

START_TEST (test_buffer_no_storage)
{
  GluetoolBuffer buf;
  guint8 *p;

  gluetool_buffer_init (&buf, NULL, 0);
  p = gluetool_buffer_reserve (&buf, 0);
  ck_assert_ptr_nonnull (p);
  gluetool_buffer_append (&buf, "abc", 3);
  ck_assert_mem_eq (buf.data, "abc", 3);
  gluetool_buffer_clear (&buf);
  ck_assert_ptr_null (buf.data);
  ck_assert_uint_eq (buf.len, 0);
}
END_TEST

START_TEST (test_buffer_erase)
{
  GluetoolBuffer buf;
  guint8 storage[64];

  gluetool_buffer_init (&buf, storage, sizeof storage);
  gluetool_buffer_append (&buf, "0123456789", 10);
  gluetool_buffer_erase (&buf, 0, 2);
  ck_assert_uint_eq (buf.len, 8);
  ck_assert_mem_eq (buf.data, "23456789", 8);
  gluetool_buffer_erase (&buf, 3, 2);
  ck_assert_mem_eq (buf.data, "234789", 6);
  gluetool_buffer_erase (&buf, 4, 2);
  ck_assert_uint_eq (buf.len, 4);
  ck_assert_mem_eq (buf.data, "2347", 4);
  gluetool_buffer_erase (&buf, 4, 0);
  ck_assert_uint_eq (buf.len, 4);
  gluetool_buffer_erase (&buf, 0, 4);
  ck_assert_uint_eq (buf.len, 0);
  gluetool_buffer_clear (&buf);
}
END_TEST

/* A typical span fits the inline storage: the encoder must not allocate. */
START_TEST (test_buffer_span_stays_inline)
{
  guint8 tag_storage[256], span_storage[512];
  GluetoolBuffer tags, span;
  GluetoolSpanFields f = { 0 };

  gluetool_buffer_init (&tags, tag_storage, sizeof tag_storage);
  gluetool_buffer_init (&span, span_storage, sizeof span_storage);
  gluetool_encode_tag_string (&tags, "component", 9, "gluetool", 8);
  gluetool_encode_tag_long (&tags, "attempt", 7, 3);
  gluetool_encode_tag_bool (&tags, "error", 5, FALSE);
  f.trace_id_low = G_MAXUINT64;
  f.span_id = 42;
  f.operation_name = "run-the-pipeline";
  f.operation_name_len = 16;
  f.flags = 1;
  f.start_time_us = G_GINT64_CONSTANT (1700000000000000);
  f.duration_us = 12345;
  f.tags = (GluetoolEncodedList) { tags.data, tags.len, 3 };
  gluetool_encode_span (&span, &f);

  ck_assert_ptr_eq (tags.data, tag_storage);
  ck_assert_ptr_eq (span.data, span_storage);
  ck_assert_uint_gt (span.len, tags.len);
  gluetool_buffer_clear (&tags);
  gluetool_buffer_clear (&span);
}
END_TEST

/* ---- Structs against c_glib ------------------------------------------------------------------- */

START_TEST (test_vector_112)
{
  static const TestTag process_tags[] = { STR_TAG ("ip", "1.2.3.4") };
  static const TestTag span_tags[] = {
    BOOL_TAG ("b", TRUE), DBL_TAG ("d", 1.5), LONG_TAG ("l", -1),
  };
  const TestSpan span = {
    .trace_id_low = 1, .trace_id_high = 0, .span_id = 2, .parent_span_id = 0,
    .operation_name = "op", .flags = 1,
    .start_time = G_GINT64_CONSTANT (1700000000000000), .duration = 1500,
    .tags = span_tags, .n_tags = G_N_ELEMENTS (span_tags),
  };
  const GluetoolClientStats stats = { 0, 0, 0 };
  g_autoptr(GBytes) ours = our_datagram (1, "svc", process_tags, 1, &span, 1, 1, &stats);
  g_autoptr(JaegerBatch) batch = ref_batch ("svc", process_tags, 1, &span, 1, 1, &stats);
  g_autoptr(GBytes) theirs = ref_datagram (batch, 1);
  g_autoptr(GBytes) expected = g_bytes_new_static (vector_112, sizeof vector_112);
  GluetoolBuffer piece;

  assert_gbytes_eq (ours, expected, "our 112-byte vector");
  assert_gbytes_eq (theirs, expected, "c_glib's 112-byte vector");

  /* The pieces on their own, as the section says: 24 + 59 + 29. */
  gluetool_buffer_init (&piece, NULL, 0);
  our_span (&piece, &span);
  ck_assert_uint_eq (piece.len, 59);
  gluetool_buffer_clear (&piece);
  ck_assert_uint_eq (gluetool_batch_envelope_size (1, 1, 1, &stats), 29);
}
END_TEST

START_TEST (test_vector_25)
{
  g_autoptr(GBytes) ours = our_datagram (0, "svc", NULL, 0, NULL, 0, -1, NULL);
  g_autoptr(JaegerBatch) batch = ref_batch ("svc", NULL, 0, NULL, 0, -1, NULL);
  g_autoptr(GBytes) theirs = ref_datagram (batch, 0);
  g_autoptr(GBytes) expected = g_bytes_new_static (vector_25, sizeof vector_25);

  assert_gbytes_eq (ours, expected, "our 25-byte datagram");
  assert_gbytes_eq (theirs, expected, "c_glib's 25-byte datagram");
}
END_TEST

START_TEST (test_tag_every_type)
{
  static const guint8 binary[] = { 0x00, 0x01, 0xff, 0x00, 0x80, 0x7f };
  static guint8 binary_200[200];
  const TestTag tags[] = {
    STR_TAG ("s", "value"),
    STR_TAG ("empty", ""),
    { .type = GLUETOOL_TAG_TYPE_STRING, .key = "", .str = "empty key" },
    STR_TAG ("utf8", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93"),
    DBL_TAG ("d", 1.5),
    DBL_TAG ("zero", 0.0),
    DBL_TAG ("negzero", -0.0),
    DBL_TAG ("max", DBL_MAX),
    DBL_TAG ("min", -DBL_MAX),
    DBL_TAG ("denormal", DBL_TRUE_MIN),
    DBL_TAG ("inf", INFINITY),
    DBL_TAG ("-inf", -INFINITY),
    DBL_TAG ("nan", NAN),
    DBL_TAG ("pi", G_PI),
    BOOL_TAG ("t", TRUE),
    BOOL_TAG ("f", FALSE),
    LONG_TAG ("l0", 0),
    LONG_TAG ("l-1", -1),
    LONG_TAG ("l63", 63),
    LONG_TAG ("l64", 64),
    LONG_TAG ("l-64", -64),
    LONG_TAG ("l-65", -65),
    LONG_TAG ("lmax", G_MAXINT64),
    LONG_TAG ("lmin", G_MININT64),
    LONG_TAG ("l32", G_MAXINT32),
    LONG_TAG ("l-32", (gint64) G_MININT32 - 1),
    BIN_TAG ("bin", binary, sizeof binary),
    BIN_TAG ("bin-empty", binary, 0),
    BIN_TAG ("bin-200", binary_200, sizeof binary_200),
  };

  for (gsize i = 0; i < sizeof binary_200; i++)
    binary_200[i] = (guint8) (i * 7);

  for (gsize i = 0; i < G_N_ELEMENTS (tags); i++)
    {
      g_autofree gchar *what = g_strdup_printf ("tag \"%s\"", tags[i].key);

      check_tag_matches (&tags[i], what);
    }
}
END_TEST

/* Facts of section 2.1: the bool is in the header nibble, the double is
 * little-endian. */
START_TEST (test_tag_wire_facts)
{
  GluetoolBuffer buf;
  static const guint8 bool_true[] = { 0x18, 0x01, 0x62, 0x15, 0x04, 0x31, 0x00 };
  static const guint8 bool_false[] = { 0x18, 0x01, 0x62, 0x15, 0x04, 0x32, 0x00 };
  static const guint8 dbl[] = {
    0x18, 0x01, 0x64, 0x15, 0x02, 0x27, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x00,
  };
  static const guint8 lng[] = { 0x18, 0x01, 0x6c, 0x15, 0x06, 0x46, 0x01, 0x00 };

  gluetool_buffer_init (&buf, NULL, 0);
  gluetool_encode_tag_bool (&buf, "b", 1, TRUE);
  assert_bytes_eq (buf.data, buf.len, bool_true, sizeof bool_true, "bool true");
  buf.len = 0;
  gluetool_encode_tag_bool (&buf, "b", 1, FALSE);
  assert_bytes_eq (buf.data, buf.len, bool_false, sizeof bool_false, "bool false");
  buf.len = 0;
  gluetool_encode_tag_double (&buf, "d", 1, 1.5);
  assert_bytes_eq (buf.data, buf.len, dbl, sizeof dbl, "double 1.5");
  buf.len = 0;
  gluetool_encode_tag_long (&buf, "l", 1, -1);
  assert_bytes_eq (buf.data, buf.len, lng, sizeof lng, "long -1");
  gluetool_buffer_clear (&buf);
}
END_TEST

START_TEST (test_span_no_tags)
{
  TestSpan s = plain_span;

  check_span_matches (&s, "span without tags");
  s.operation_name = "";
  s.flags = 0;
  s.duration = 0;
  s.parent_span_id = 0;
  s.trace_id_high = 0;
  check_span_matches (&s, "span of zeros and an empty name");
}
END_TEST

START_TEST (test_span_every_tag_type)
{
  static const guint8 binary[] = { 0xde, 0xad, 0x00, 0xbe, 0xef };
  static const TestTag head[] = {
    STR_TAG ("sampler.type", "const"), BOOL_TAG ("sampler.param", TRUE),
  };
  static const TestTag tags[] = {
    STR_TAG ("component", "gluetool"), DBL_TAG ("ratio", 0.25),
    BOOL_TAG ("error", TRUE), BOOL_TAG ("cached", FALSE),
    LONG_TAG ("attempt", 3), LONG_TAG ("offset", -100000),
    BIN_TAG ("blob", binary, sizeof binary),
  };
  TestSpan s = plain_span;

  s.tags = tags;
  s.n_tags = G_N_ELEMENTS (tags);
  check_span_matches (&s, "span with every tag type");

  /* The two runs of tags are written as one list, head first. */
  s.tags_head = head;
  s.n_tags_head = G_N_ELEMENTS (head);
  check_span_matches (&s, "span with head tags and tags");

  s.tags = NULL;
  s.n_tags = 0;
  check_span_matches (&s, "span with head tags only");
}
END_TEST

static TestTag *
make_tags (guint      n,
           GPtrArray *keep)
{
  TestTag *tags = g_new0 (TestTag, n);

  for (guint i = 0; i < n; i++)
    {
      gchar *key = g_strdup_printf ("key-%u", i);

      g_ptr_array_add (keep, key);
      tags[i].key = key;
      switch (i % 5)
        {
        case 0:
          tags[i].type = GLUETOOL_TAG_TYPE_STRING;
          tags[i].str = key;
          break;
        case 1:
          tags[i].type = GLUETOOL_TAG_TYPE_LONG;
          tags[i].l = (gint64) i * -1000003;
          break;
        case 2:
          tags[i].type = GLUETOOL_TAG_TYPE_BOOL;
          tags[i].b = i % 2;
          break;
        case 3:
          tags[i].type = GLUETOOL_TAG_TYPE_DOUBLE;
          tags[i].d = i / 3.0;
          break;
        default:
          tags[i].type = GLUETOOL_TAG_TYPE_BINARY;
          tags[i].bin = (const guint8 *) key;
          tags[i].bin_len = strlen (key);
          break;
        }
    }
  g_ptr_array_add (keep, tags);
  return tags;
}

START_TEST (test_span_many_tags)
{
  static const guint counts[] = { 1, 13, 14, 15, 16, 127, 128, 300 };
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);

  for (gsize i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      TestSpan s = plain_span;
      g_autofree gchar *what = g_strdup_printf ("span with %u tags", counts[i]);

      s.tags = make_tags (counts[i], keep);
      s.n_tags = counts[i];
      check_span_matches (&s, what);

      /* The head run counts towards the same list header: 7 + 8 = 15 must
       * switch to the long form. */
      s.tags_head = make_tags (7, keep);
      s.n_tags_head = 7;
      s.n_tags = counts[i] >= 8 ? 8 : counts[i];
      check_span_matches (&s, "span with head tags crossing 14");
    }
}
END_TEST

START_TEST (test_long_strings)
{
  static const gsize lengths[] = { 127, 128, 129, 255, 16383, 16384, 70000 };

  for (gsize i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      g_autofree gchar *text = g_strnfill (lengths[i], 'x');
      const TestTag tags[] = {
        STR_TAG ("long-value", text),
        STR_TAG (text, "long key"),
        BIN_TAG ("long-binary", (const guint8 *) text, lengths[i]),
      };
      TestSpan s = plain_span;
      g_autofree gchar *what = g_strdup_printf ("strings of %" G_GSIZE_FORMAT " bytes",
                                                lengths[i]);

      for (gsize j = 0; j < G_N_ELEMENTS (tags); j++)
        check_tag_matches (&tags[j], what);
      s.operation_name = text;
      s.tags = tags;
      s.n_tags = G_N_ELEMENTS (tags);
      check_span_matches (&s, what);
    }
}
END_TEST

static const guint64 extreme_ids[] = {
  0, 1, 63, 64, G_MAXINT64, (guint64) G_MAXINT64 + 1, G_MAXUINT64,
  G_GUINT64_CONSTANT (0x8000000000000001), G_GUINT64_CONSTANT (0xdeadbeefcafebabe),
  /* zigzagged, each side of 8, 9 and 10 bytes */
  G_GUINT64_CONSTANT (0x007FFFFFFFFFFFFF), G_GUINT64_CONSTANT (0x0080000000000000),
  G_GUINT64_CONSTANT (0xFF80000000000000), G_GUINT64_CONSTANT (0xFF7FFFFFFFFFFFFF),
  G_GUINT64_CONSTANT (0x3FFFFFFFFFFFFFFF), G_GUINT64_CONSTANT (0x4000000000000000),
  G_GUINT64_CONSTANT (0xC000000000000000), G_GUINT64_CONSTANT (0xBFFFFFFFFFFFFFFF),
  G_GUINT64_CONSTANT (0x0123456789ABCDEF), G_GUINT64_CONSTANT (0xFEDCBA9876543210),
};

START_TEST (test_extreme_integers)
{
  const guint64 *ids = extreme_ids;
  static const gint64 times[] = {
    0, -1, 1, G_MININT64, G_MAXINT64, G_MININT64 + 1, G_GINT64_CONSTANT (1700000000000000),
  };
  static const gint32 flags[] = { 0, 1, 2, 3, -1, G_MININT32, G_MAXINT32 };

  for (gsize i = 0; i < G_N_ELEMENTS (extreme_ids); i++)
    {
      TestSpan s = plain_span;
      g_autofree gchar *what = g_strdup_printf ("id %" G_GUINT64_FORMAT, ids[i]);

      s.trace_id_low = ids[i];
      s.trace_id_high = ids[G_N_ELEMENTS (extreme_ids) - 1 - i];
      s.span_id = ids[i];
      s.parent_span_id = ~ids[i];
      check_span_matches (&s, what);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (times); i++)
    {
      TestSpan s = plain_span;
      g_autofree gchar *what = g_strdup_printf ("time %" G_GINT64_FORMAT, times[i]);
      const TestTag tags[] = { LONG_TAG ("v", times[i]) };

      s.start_time = times[i];
      s.duration = times[G_N_ELEMENTS (times) - 1 - i];
      s.tags = tags;
      s.n_tags = 1;
      check_span_matches (&s, what);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (flags); i++)
    {
      TestSpan s = plain_span;
      g_autofree gchar *what = g_strdup_printf ("flags %d", flags[i]);

      s.flags = flags[i];
      check_span_matches (&s, what);
    }
}
END_TEST

/* Ids encoded once, as an action does when it starts, and a child's and
 * a grandchild's copied from them: the span is the same as with the ids
 * encoded from their values, byte for byte with c_glib's. */
START_TEST (test_span_ids_encoded_once)
{
  const gsize n = G_N_ELEMENTS (extreme_ids);

  for (gsize i = 0; i < n; i++)
    {
      TestSpan parent = plain_span;
      TestSpan child, grandchild;
      GluetoolSpanIds parent_ids, child_ids, grandchild_ids;
      g_autofree gchar *what = g_strdup_printf ("ids from %" G_GUINT64_FORMAT, extreme_ids[i]);

      /* Garbage past every encoding: none of it may reach the span. */
      memset (&parent_ids, 0xa5, sizeof parent_ids);
      memset (&child_ids, 0x5a, sizeof child_ids);
      memset (&grandchild_ids, 0xff, sizeof grandchild_ids);

      parent.trace_id_low = extreme_ids[i];
      parent.trace_id_high = extreme_ids[n - 1 - i];
      parent.span_id = extreme_ids[(i + 1) % n];
      parent.parent_span_id = extreme_ids[(i + 3) % n];
      gluetool_span_ids_encode (&parent_ids, parent.trace_id_low, parent.trace_id_high,
                                parent.span_id, parent.parent_span_id);
      check_span_with_ids_matches (&parent, &parent_ids, what);

      child = parent;
      child.span_id = extreme_ids[(i + 5) % n];
      child.parent_span_id = parent.span_id;
      gluetool_span_ids_encode_child (&child_ids, &parent_ids, child.span_id);
      check_span_with_ids_matches (&child, &child_ids, what);

      grandchild = child;
      grandchild.span_id = extreme_ids[(i + 7) % n];
      grandchild.parent_span_id = child.span_id;
      gluetool_span_ids_encode_child (&grandchild_ids, &child_ids, grandchild.span_id);
      check_span_with_ids_matches (&grandchild, &grandchild_ids, what);
    }
}
END_TEST

START_TEST (test_logs)
{
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  static const TestTag fields[] = {
    STR_TAG ("event", "error"), STR_TAG ("message", "it broke"), LONG_TAG ("code", -2),
  };
  static const TestTag tags[] = { BOOL_TAG ("error", TRUE) };
  const TestLog logs[] = {
    { .timestamp = G_GINT64_CONSTANT (1700000000000001), .fields = fields, .n_fields = 3 },
    { .timestamp = 0, .fields = NULL, .n_fields = 0 },
    { .timestamp = -1, .fields = make_tags (15, keep), .n_fields = 15 },
    { .timestamp = G_MININT64, .fields = make_tags (200, keep), .n_fields = 200 },
  };
  TestSpan s = plain_span;

  /* Without tags the logs field follows duration: delta 2. */
  s.logs = logs;
  s.n_logs = 1;
  check_span_matches (&s, "one log, no tags");
  s.n_logs = G_N_ELEMENTS (logs);
  check_span_matches (&s, "several logs, no tags");
  s.tags = tags;
  s.n_tags = 1;
  check_span_matches (&s, "several logs and a tag");

  {
    g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
    TestLog *lots = g_new0 (TestLog, 20);

    for (guint i = 0; i < 20; i++)
      {
        lots[i].timestamp = i;
        lots[i].fields = fields;
        lots[i].n_fields = i % 4;
      }
    g_ptr_array_add (many, lots);
    s.logs = lots;
    s.n_logs = 20;
    check_span_matches (&s, "20 logs (long list header)");
  }
}
END_TEST

START_TEST (test_references)
{
  GluetoolSpanRef refs[20];
  static const TestTag tags[] = { STR_TAG ("k", "v") };
  static const TestTag fields[] = { STR_TAG ("event", "x") };
  const TestLog logs[] = { { .timestamp = 5, .fields = fields, .n_fields = 1 } };
  TestSpan s = plain_span;

  for (guint i = 0; i < G_N_ELEMENTS (refs); i++)
    {
      refs[i].ref_type = i % 2 ? GLUETOOL_SPAN_REF_FOLLOWS_FROM : GLUETOOL_SPAN_REF_CHILD_OF;
      refs[i].trace_id_low = G_MAXUINT64 - i;
      refs[i].trace_id_high = (guint64) i << 60;
      refs[i].span_id = i;
    }

  s.refs = refs;
  s.n_refs = 1;
  check_span_matches (&s, "one reference");
  s.n_refs = 2;
  check_span_matches (&s, "two references");
  s.n_refs = 15;
  check_span_matches (&s, "15 references");
  s.n_refs = 20;
  s.tags = tags;
  s.n_tags = 1;
  check_span_matches (&s, "references and tags");
  s.logs = logs;
  s.n_logs = 1;
  check_span_matches (&s, "references, tags and logs");
  s.tags = NULL;
  s.n_tags = 0;
  check_span_matches (&s, "references and logs");
}
END_TEST

START_TEST (test_process)
{
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  static const TestTag tags[] = {
    STR_TAG ("jaeger.version", "C-0.1.0"), STR_TAG ("hostname", "build-host"),
    STR_TAG ("ip", "10.0.0.1"), STR_TAG ("client-uuid", "6f1c5c1e-3c2b-4d0a-9c55-0d4b7f1a2e3d"),
  };
  struct { const char *name; const TestTag *tags; guint n; } cases[] = {
    { "svc", NULL, 0 },
    { "", NULL, 0 },
    { "gluetool", tags, G_N_ELEMENTS (tags) },
    { "many", make_tags (40, keep), 40 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GluetoolBuffer ptags, ours;
      GluetoolEncodedList list;
      g_autoptr(JaegerProcess) process = ref_process (cases[i].name, cases[i].tags, cases[i].n);
      g_autoptr(GBytes) theirs = ref_struct_bytes (process);
      gsize theirs_len;
      const guint8 *theirs_data = g_bytes_get_data (theirs, &theirs_len);

      gluetool_buffer_init (&ptags, NULL, 0);
      gluetool_buffer_init (&ours, NULL, 0);
      our_tags (&ptags, cases[i].tags, cases[i].n);
      list = (GluetoolEncodedList) { ptags.data, ptags.len, cases[i].n };
      gluetool_encode_process (&ours, cases[i].name, strlen (cases[i].name), &list);
      assert_bytes_eq (ours.data, ours.len, theirs_data, theirs_len, cases[i].name);

      /* NULL tags mean no tags too. */
      if (cases[i].n == 0)
        {
          ours.len = 0;
          gluetool_encode_process (&ours, cases[i].name, strlen (cases[i].name), NULL);
          assert_bytes_eq (ours.data, ours.len, theirs_data, theirs_len, "NULL tags");
        }
      gluetool_buffer_clear (&ptags);
      gluetool_buffer_clear (&ours);
    }
}
END_TEST

/* ---- Whole datagrams against c_glib ----------------------------------------------------------------- */

static void
check_datagram_matches (gint32                     seqid,
                        const TestSpan            *spans,
                        guint                      n_spans,
                        gint64                     seq_no,
                        const GluetoolClientStats *stats)
{
  static const TestTag ptags[] = {
    STR_TAG ("client-uuid", "0f0e0d0c"), STR_TAG ("hostname", "h"),
  };
  g_autoptr(GBytes) ours = our_datagram (seqid, "service", ptags, 2, spans, n_spans,
                                         seq_no, stats);
  g_autoptr(JaegerBatch) batch = ref_batch ("service", ptags, 2, spans, n_spans,
                                            seq_no, stats);
  g_autoptr(GBytes) theirs = ref_datagram (batch, seqid);
  g_autofree gchar *what = g_strdup_printf ("datagram: seqid %d, %u spans, seqNo %"
                                            G_GINT64_FORMAT ", stats %s", seqid, n_spans,
                                            seq_no, stats ? "set" : "unset");

  assert_gbytes_eq (ours, theirs, what);
}

START_TEST (test_batch_seqno_and_stats)
{
  static const gint32 seqids[] = { 0, 1, 127, 128, G_MAXINT32, -1, G_MININT32 };
  static const gint64 seq_nos[] = { -1, 0, 1, 63, 64, G_MAXINT64 };
  static const GluetoolClientStats stats[] = {
    { 0, 0, 0 }, { 1, 2, 3 }, { G_MAXINT64, 0, G_MININT64 }, { -1, 64, 1000000 },
  };
  static const TestTag tags[] = { LONG_TAG ("n", 7) };
  TestSpan spans[3] = { plain_span, plain_span, plain_span };

  spans[1].span_id++;
  spans[1].tags = tags;
  spans[1].n_tags = 1;
  spans[2].operation_name = "third";

  for (gsize a = 0; a < G_N_ELEMENTS (seqids); a++)
    for (gsize b = 0; b < G_N_ELEMENTS (seq_nos); b++)
      for (gsize n = 0; n <= G_N_ELEMENTS (spans); n++)
        {
          check_datagram_matches (seqids[a], spans, n, seq_nos[b], NULL);
          for (gsize c = 0; c < G_N_ELEMENTS (stats); c++)
            check_datagram_matches (seqids[a], spans, n, seq_nos[b], &stats[c]);
        }
}
END_TEST

START_TEST (test_batch_several_spans)
{
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  static const TestTag fields[] = { STR_TAG ("event", "retry") };
  const TestLog logs[] = { { .timestamp = 99, .fields = fields, .n_fields = 1 } };
  const GluetoolSpanRef refs[] = { { GLUETOOL_SPAN_REF_FOLLOWS_FROM, 1, 2, 3 } };
  const GluetoolClientStats stats = { 5, 6, 7 };
  TestSpan spans[6];

  for (guint i = 0; i < G_N_ELEMENTS (spans); i++)
    {
      spans[i] = plain_span;
      spans[i].span_id = G_MAXUINT64 - i;
      spans[i].parent_span_id = i == 0 ? 0 : G_MAXUINT64 - i + 1;
      spans[i].tags = make_tags (i * 4, keep);
      spans[i].n_tags = i * 4;
    }
  spans[2].logs = logs;
  spans[2].n_logs = 1;
  spans[3].refs = refs;
  spans[3].n_refs = 1;

  check_datagram_matches (12345, spans, G_N_ELEMENTS (spans), 77, &stats);
}
END_TEST

/* List headers of the span list around the short/long boundary and at the
 * varint boundaries of its size, against c_glib. */
START_TEST (test_batch_span_counts)
{
  static const guint counts[] = { 14, 15, 127, 128, 16384 };
  const GluetoolClientStats stats = { 1, 2, 3 };
  TestSpan small = plain_span;

  small.operation_name = "s";

  for (gsize i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      g_autofree TestSpan *spans = g_new (TestSpan, counts[i]);

      for (guint j = 0; j < counts[i]; j++)
        spans[j] = small;
      check_datagram_matches (-1, spans, counts[i], 1, &stats);
      check_datagram_matches (1, spans, counts[i], -1, NULL);
    }
}
END_TEST

/* The envelope size for span counts and numbers too large to build, checked
 * against what head and tail actually write. */
START_TEST (test_envelope_size_exact)
{
  static const guint counts[] = {
    0, 1, 14, 15, 127, 128, 16383, 16384, 2097151, 2097152, G_MAXUINT32,
  };
  static const gint32 seqids[] = { 0, 1, 127, 128, 16384, G_MAXINT32, -1, G_MININT32 };
  static const gint64 seq_nos[] = { -1, 0, 1, 63, 64, G_MAXINT64, G_GINT64_CONSTANT (1) << 40 };
  static const GluetoolClientStats stats[] = {
    { 0, 0, 0 }, { 63, 64, 8191 }, { G_MAXINT64, G_MININT64, -1 },
  };
  guint8 storage[128];

  for (gsize a = 0; a < G_N_ELEMENTS (counts); a++)
    for (gsize b = 0; b < G_N_ELEMENTS (seqids); b++)
      for (gsize c = 0; c < G_N_ELEMENTS (seq_nos); c++)
        for (gsize d = 0; d <= G_N_ELEMENTS (stats); d++)
          {
            const GluetoolClientStats *st = d < G_N_ELEMENTS (stats) ? &stats[d] : NULL;
            GluetoolBuffer buf;
            gsize predicted;

            gluetool_buffer_init (&buf, storage, sizeof storage);
            gluetool_encode_batch_head (&buf, seqids[b], NULL, 0, counts[a]);
            gluetool_encode_batch_tail (&buf, seq_nos[c], st);
            predicted = gluetool_batch_envelope_size (seqids[b], counts[a], seq_nos[c], st);
            ck_assert_msg (predicted == buf.len,
                           "predicted %" G_GSIZE_FORMAT ", wrote %" G_GSIZE_FORMAT
                           " (seqid %d, %u spans, seqNo %" G_GINT64_FORMAT ")",
                           predicted, buf.len, seqids[b], counts[a], seq_nos[c]);
            /* the bound PROTOCOL.md gives for n < 2^21 spans */
            if (counts[a] < 2097152)
              ck_assert_uint_le (predicted, 72);
            gluetool_buffer_clear (&buf);
          }

  /* A negative seqid is five bytes, not zigzagged. */
  ck_assert_uint_eq (gluetool_batch_envelope_size (-1, 0, -1, NULL)
                     - gluetool_batch_envelope_size (0, 0, -1, NULL), 4);
}
END_TEST

/* ---- Round trip through the reference decoder -------------------------------------------------------- */

static JaegerTag *
find_tag (GPtrArray  *tags,
          const char *key)
{
  for (guint i = 0; i < tags->len; i++)
    {
      JaegerTag *tag = g_ptr_array_index (tags, i);

      if (g_strcmp0 (tag->key, key) == 0)
        return tag;
    }
  ck_abort_msg ("no tag \"%s\"", key);
  return NULL;
}

START_TEST (test_roundtrip)
{
  static const guint8 binary[] = { 0x00, 0xff, 0x10 };
  static const TestTag ptags[] = { STR_TAG ("client-uuid", "abc") };
  static const TestTag head[] = { STR_TAG ("sampler.type", "const") };
  static const TestTag tags[] = {
    STR_TAG ("s", "text"), DBL_TAG ("d", -2.5), BOOL_TAG ("t", TRUE), BOOL_TAG ("f", FALSE),
    LONG_TAG ("min", G_MININT64), BIN_TAG ("bin", binary, sizeof binary),
  };
  static const TestTag fields[] = { STR_TAG ("event", "boom") };
  const TestLog logs[] = { { .timestamp = 17, .fields = fields, .n_fields = 1 } };
  const GluetoolSpanRef refs[] = {
    { GLUETOOL_SPAN_REF_FOLLOWS_FROM, G_MAXUINT64, 7, G_GUINT64_CONSTANT (0x8000000000000000) },
  };
  const GluetoolClientStats stats = { 11, 12, G_MAXINT64 };
  TestSpan spans[2] = { plain_span, plain_span };
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JaegerBatch) batch = NULL;
  g_autoptr(GError) error = NULL;
  JaegerSpan *span;
  JaegerTag *tag;
  gint32 seqid = 0, type = 0;
  gsize len;
  const guint8 *data;

  spans[0].tags_head = head;
  spans[0].n_tags_head = 1;
  spans[0].tags = tags;
  spans[0].n_tags = G_N_ELEMENTS (tags);
  spans[0].logs = logs;
  spans[0].n_logs = 1;
  spans[1].refs = refs;
  spans[1].n_refs = 1;
  spans[1].trace_id_low = G_MAXUINT64;
  spans[1].operation_name = "second";

  bytes = our_datagram (-7, "svc-rt", ptags, 1, spans, 2, 42, &stats);
  data = g_bytes_get_data (bytes, &len);
  batch = gluetool_reference_decode_datagram (data, len, &seqid, &type, &error);
  ck_assert_msg (batch != NULL, "decode failed: %s", error ? error->message : "?");
  ck_assert_int_eq (seqid, -7);
  ck_assert_int_eq (type, T_ONEWAY);

  ck_assert_str_eq (batch->process->serviceName, "svc-rt");
  ck_assert_uint_eq (batch->process->tags->len, 1);
  ck_assert_str_eq (find_tag (batch->process->tags, "client-uuid")->vStr, "abc");
  ck_assert (batch->__isset_seqNo);
  ck_assert_int_eq (batch->seqNo, 42);
  ck_assert (batch->__isset_stats);
  ck_assert_int_eq (batch->stats->fullQueueDroppedSpans, 11);
  ck_assert_int_eq (batch->stats->tooLargeDroppedSpans, 12);
  ck_assert_int_eq (batch->stats->failedToEmitSpans, G_MAXINT64);
  ck_assert_uint_eq (batch->spans->len, 2);

  span = g_ptr_array_index (batch->spans, 0);
  ck_assert_uint_eq ((guint64) span->traceIdLow, plain_span.trace_id_low);
  ck_assert_uint_eq ((guint64) span->traceIdHigh, plain_span.trace_id_high);
  ck_assert_uint_eq ((guint64) span->spanId, plain_span.span_id);
  ck_assert_uint_eq ((guint64) span->parentSpanId, plain_span.parent_span_id);
  ck_assert_str_eq (span->operationName, plain_span.operation_name);
  ck_assert_int_eq (span->flags, plain_span.flags);
  ck_assert_int_eq (span->startTime, plain_span.start_time);
  ck_assert_int_eq (span->duration, plain_span.duration);
  ck_assert_uint_eq (span->tags->len, 1 + G_N_ELEMENTS (tags));
  /* head first */
  ck_assert_str_eq (((JaegerTag *) g_ptr_array_index (span->tags, 0))->key, "sampler.type");

  tag = find_tag (span->tags, "s");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_STRING);
  ck_assert (tag->__isset_vStr);
  ck_assert_str_eq (tag->vStr, "text");
  tag = find_tag (span->tags, "d");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_DOUBLE);
  ck_assert (tag->__isset_vDouble);
  ck_assert_double_eq (tag->vDouble, -2.5);
  tag = find_tag (span->tags, "t");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_BOOL);
  ck_assert (tag->__isset_vBool && tag->vBool);
  tag = find_tag (span->tags, "f");
  ck_assert (tag->__isset_vBool && !tag->vBool);
  tag = find_tag (span->tags, "min");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_LONG);
  ck_assert (tag->__isset_vLong);
  ck_assert_int_eq (tag->vLong, G_MININT64);
  tag = find_tag (span->tags, "bin");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_BINARY);
  ck_assert (tag->__isset_vBinary);
  ck_assert_uint_eq (tag->vBinary->len, sizeof binary);
  ck_assert_mem_eq (tag->vBinary->data, binary, sizeof binary);

  ck_assert (span->__isset_logs);
  ck_assert_uint_eq (span->logs->len, 1);
  ck_assert_int_eq (((JaegerLog *) g_ptr_array_index (span->logs, 0))->timestamp, 17);
  ck_assert_str_eq (find_tag (((JaegerLog *) g_ptr_array_index (span->logs, 0))->fields,
                              "event")->vStr, "boom");
  ck_assert (!span->__isset_references);

  span = g_ptr_array_index (batch->spans, 1);
  ck_assert_str_eq (span->operationName, "second");
  ck_assert_int_eq (span->traceIdLow, -1);
  ck_assert (!span->__isset_tags);
  ck_assert (span->__isset_references);
  ck_assert_uint_eq (span->references->len, 1);
  {
    JaegerSpanRef *ref = g_ptr_array_index (span->references, 0);

    ck_assert_int_eq (ref->refType, JAEGER_SPAN_REF_TYPE_FOLLOWS_FROM);
    ck_assert_int_eq (ref->traceIdLow, -1);
    ck_assert_int_eq (ref->traceIdHigh, 7);
    ck_assert_int_eq (ref->spanId, G_MININT64);
  }

  /* and the 112-byte vector decodes to what section 2.1 says it holds */
  g_clear_object (&batch);
  batch = gluetool_reference_decode_datagram (vector_112, sizeof vector_112, &seqid, &type, &error);
  ck_assert_msg (batch != NULL, "decode failed: %s", error ? error->message : "?");
  ck_assert_int_eq (seqid, 1);
  ck_assert_str_eq (batch->process->serviceName, "svc");
  ck_assert_uint_eq (batch->spans->len, 1);
  span = g_ptr_array_index (batch->spans, 0);
  ck_assert_int_eq (span->startTime, G_GINT64_CONSTANT (1700000000000000));
  ck_assert_double_eq (find_tag (span->tags, "d")->vDouble, 1.5);
  ck_assert_int_eq (find_tag (span->tags, "l")->vLong, -1);
}
END_TEST

/* ---- The reference decoder refuses bad datagrams ------------------------------------------------------- */

/* Decodes @data and requires a failure with @code (or any code for -1). */
static void
assert_rejected (const guint8 *data,
                 gsize         len,
                 gint          code,
                 const char   *what)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JaegerBatch) batch = gluetool_reference_decode_datagram (data, len, NULL, NULL, &error);

  ck_assert_msg (batch == NULL, "%s: accepted", what);
  ck_assert_msg (error != NULL, "%s: rejected without an error", what);
  ck_assert_msg (error->domain == GLUETOOL_REFERENCE_ERROR,
                 "%s: error from domain %s", what, g_quark_to_string (error->domain));
  ck_assert_msg (error->message != NULL && error->message[0] != '\0', "%s: empty message", what);
  if (code >= 0)
    ck_assert_msg (error->code == code, "%s: code %d (%s), expected %d", what,
                   error->code, error->message, code);
}

static JaegerBatch *
assert_accepted (const guint8 *data,
                 gsize         len,
                 const char   *what)
{
  g_autoptr(GError) error = NULL;
  JaegerBatch *batch = gluetool_reference_decode_datagram (data, len, NULL, NULL, &error);

  ck_assert_msg (batch != NULL, "%s: rejected: %s", what, error ? error->message : "?");
  return batch;
}

/* A datagram with everything: logs, references, all tag types. */
static GBytes *
rich_datagram (void)
{
  static const guint8 binary[] = { 1, 2, 3 };
  static const TestTag tags[] = {
    STR_TAG ("s", "text"), DBL_TAG ("d", 2.0), BOOL_TAG ("b", FALSE),
    LONG_TAG ("l", 300), BIN_TAG ("x", binary, sizeof binary),
  };
  static const TestTag fields[] = { STR_TAG ("event", "e") };
  const TestLog logs[] = { { .timestamp = 3, .fields = fields, .n_fields = 1 } };
  const GluetoolSpanRef refs[] = { { GLUETOOL_SPAN_REF_CHILD_OF, 1, 2, 3 } };
  const GluetoolClientStats stats = { 1, 2, 3 };
  TestSpan s = plain_span;

  s.tags = tags;
  s.n_tags = G_N_ELEMENTS (tags);
  s.logs = logs;
  s.n_logs = 1;
  s.refs = refs;
  s.n_refs = 1;
  return our_datagram (300, "rich", tags, 1, &s, 1, 9, &stats);
}

START_TEST (test_reject_truncated)
{
  g_autoptr(GBytes) rich = rich_datagram ();
  gsize rich_len;
  const guint8 *rich_data = g_bytes_get_data (rich, &rich_len);

  /* The whole datagram is accepted; only its prefixes are not. */
  g_object_unref (assert_accepted (rich_data, rich_len, "rich datagram"));

  /* Every prefix, including the empty one, is refused. */
  for (gsize n = 0; n < sizeof vector_112; n++)
    {
      g_autofree gchar *what = g_strdup_printf ("112-byte vector cut to %" G_GSIZE_FORMAT, n);
      g_autofree guint8 *copy = g_memdup2 (vector_112, n);

      /* a heap copy of exactly n bytes, so that a read past the end is a
       * memory error valgrind and ASan report */
      assert_rejected (copy, n, -1, what);
    }
  for (gsize n = 0; n < rich_len; n++)
    {
      g_autofree gchar *what = g_strdup_printf ("rich datagram cut to %" G_GSIZE_FORMAT, n);
      g_autofree guint8 *copy = g_memdup2 (rich_data, n);

      assert_rejected (copy, n, -1, what);
    }
}
END_TEST

START_TEST (test_reject_garbage)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (20240601);
  static const guint8 zeros[64] = { 0 };
  static const guint8 binary_protocol[] = { 0x80, 0x01, 0x00, 0x04 };

  assert_rejected (zeros, sizeof zeros, GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH, "zeros");
  assert_rejected (binary_protocol, sizeof binary_protocol,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH, "binary protocol header");

  for (guint i = 0; i < 2000; i++)
    {
      gsize len = 1 + g_rand_int_range (rng, 0, 300);
      g_autofree guint8 *data = g_malloc (len);

      for (gsize j = 0; j < len; j++)
        data[j] = (guint8) g_rand_int (rng);
      assert_rejected (data, len, -1, "random bytes");

      /* and random bytes behind a valid header and method name */
      if (len > 13)
        {
          memcpy (data, vector_112, 13);
          {
            g_autoptr(GError) error = NULL;
            g_autoptr(JaegerBatch) batch = gluetool_reference_decode_datagram (data, len, NULL,
                                                                               NULL, &error);

            /* Almost surely refused; what matters is no crash and a
             * consistent answer. */
            ck_assert ((batch == NULL) == (error != NULL));
          }
        }
    }
}
END_TEST

/* Each byte of valid datagrams replaced in turn: never a crash, always a
 * batch or an error, never both. */
START_TEST (test_mutations)
{
  g_autoptr(GBytes) rich = rich_datagram ();
  gsize rich_len;
  const guint8 *rich_data = g_bytes_get_data (rich, &rich_len);
  static const guint8 replacements[] = { 0x00, 0x01, 0x0f, 0x7f, 0x80, 0xff };
  const struct { const guint8 *data; gsize len; } inputs[] = {
    { vector_112, sizeof vector_112 }, { rich_data, rich_len },
  };
  guint accepted = 0, rejected = 0;

  for (gsize k = 0; k < G_N_ELEMENTS (inputs); k++)
    for (gsize i = 0; i < inputs[k].len; i++)
      for (gsize r = 0; r < G_N_ELEMENTS (replacements) + 1; r++)
        {
          g_autofree guint8 *copy = g_memdup2 (inputs[k].data, inputs[k].len);
          g_autoptr(GError) error = NULL;
          g_autoptr(JaegerBatch) batch = NULL;

          copy[i] = r < G_N_ELEMENTS (replacements) ? replacements[r] : copy[i] ^ 0x10;
          batch = gluetool_reference_decode_datagram (copy, inputs[k].len, NULL, NULL, &error);
          ck_assert ((batch == NULL) == (error != NULL));
          if (batch != NULL)
            accepted++;
          else
            rejected++;
        }
  /* Some mutations only change values and must still decode. */
  ck_assert_uint_gt (accepted, 0);
  ck_assert_uint_gt (rejected, 0);
}
END_TEST

/* The header of vector_112 with another method name, then its args. */
static GByteArray *
with_method_name (const guint8 *name,
                  gsize         name_len)
{
  GByteArray *out = g_byte_array_new ();
  guint8 len_byte = (guint8) name_len;

  g_assert (name_len < 128);
  g_byte_array_append (out, vector_112, 3);
  g_byte_array_append (out, &len_byte, 1);
  g_byte_array_append (out, name, (guint) name_len);
  g_byte_array_append (out, vector_112 + 13, sizeof vector_112 - 13);
  return out;
}

START_TEST (test_reject_wrong_method)
{
  static const struct { const char *name; gsize len; } names[] = {
    { "emitbatch", 9 }, { "EmitBatch", 9 }, { "emitBatc", 8 }, { "emitBatchX", 10 },
    { "emitZipkinBatch", 15 }, { "", 0 },
    /* strcmp() would take these for "emitBatch" */
    { "emitBatch\0", 10 }, { "emitBatch\0\temitBatch", 20 },
  };
  g_autoptr(GByteArray) same = with_method_name ((const guint8 *) "emitBatch", 9);

  g_object_unref (assert_accepted (same->data, same->len, "rebuilt vector"));

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(GByteArray) bytes = with_method_name ((const guint8 *) names[i].name, names[i].len);
      g_autofree gchar *what = g_strdup_printf ("method \"%s\" (%" G_GSIZE_FORMAT " bytes)",
                                                names[i].name, names[i].len);

      assert_rejected (bytes->data, bytes->len, GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH, what);
    }
}
END_TEST

START_TEST (test_message_types)
{
  /* (type << 5) | version 1: CALL 0x21 is accepted (recent Go clients send
   * it), REPLY 0x41 and EXCEPTION 0x61 are not; a bad version is not. */
  static const struct { guint8 byte; gboolean ok; gint32 type; } cases[] = {
    { 0x81, TRUE, T_ONEWAY }, { 0x21, TRUE, T_CALL },
    { 0x41, FALSE, 0 }, { 0x61, FALSE, 0 }, { 0x82, FALSE, 0 }, { 0x80, FALSE, 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree guint8 *copy = g_memdup2 (vector_112, sizeof vector_112);
      g_autofree gchar *what = g_strdup_printf ("type byte 0x%02x", cases[i].byte);

      copy[1] = cases[i].byte;
      if (cases[i].ok)
        {
          g_autoptr(GError) error = NULL;
          gint32 type = -1;
          g_autoptr(JaegerBatch) batch = gluetool_reference_decode_datagram (copy, sizeof vector_112,
                                                                             NULL, &type, &error);

          ck_assert_msg (batch != NULL, "%s: %s", what, error ? error->message : "?");
          ck_assert_int_eq (type, cases[i].type);
        }
      else
        {
          assert_rejected (copy, sizeof vector_112, GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH, what);
        }
    }
}
END_TEST

START_TEST (test_reject_trailing_bytes)
{
  static const guint8 extras[][3] = { { 0x00 }, { 0x01 }, { 0x82, 0x81, 0x01 } };
  static const gsize extra_lens[] = { 1, 1, 3 };

  for (gsize i = 0; i < G_N_ELEMENTS (extras); i++)
    {
      g_autoptr(GByteArray) bytes = g_byte_array_new ();

      g_byte_array_append (bytes, vector_112, sizeof vector_112);
      g_byte_array_append (bytes, extras[i], (guint) extra_lens[i]);
      assert_rejected (bytes->data, bytes->len, GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                       "trailing bytes");
    }
  /* two whole messages in one datagram */
  {
    g_autoptr(GByteArray) bytes = g_byte_array_new ();

    g_byte_array_append (bytes, vector_25, sizeof vector_25);
    g_byte_array_append (bytes, vector_25, sizeof vector_25);
    assert_rejected (bytes->data, bytes->len, GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                     "two messages");
  }
}
END_TEST

/* ---- Hand-written structs with fields left out ---------------------------------------------------------- */

/* A writer that takes field ids explicitly, so a test can leave any field
 * out (or give it the wrong type) and still produce well-formed compact
 * bytes. Field headers are short form: ids only grow here. */
typedef struct {
  GByteArray *out;
  gint        last[16];   /* previous field id, per open struct */
  guint       depth;
} HandWriter;

static void
hw_byte (HandWriter *w, guint8 b)
{
  g_byte_array_append (w->out, &b, 1);
}

static void
hw_varint (HandWriter *w, guint64 v)
{
  while (v >= 0x80)
    {
      hw_byte (w, (guint8) (v | 0x80));
      v >>= 7;
    }
  hw_byte (w, (guint8) v);
}

static void
hw_begin (HandWriter *w)
{
  w->last[++w->depth] = 0;
}

static void
hw_end (HandWriter *w)
{
  hw_byte (w, 0x00);
  w->depth--;
}

static void
hw_field (HandWriter *w, gint id, guint8 type)
{
  gint delta = id - w->last[w->depth];

  g_assert (delta > 0 && delta <= 15);
  hw_byte (w, (guint8) ((delta << 4) | type));
  w->last[w->depth] = id;
}

static void
hw_i64 (HandWriter *w, gint id, gint64 v)
{
  hw_field (w, id, 0x6);
  hw_varint (w, gluetool_zigzag64 (v));
}

static void
hw_i32 (HandWriter *w, gint id, gint32 v)
{
  hw_field (w, id, 0x5);
  hw_varint (w, gluetool_zigzag64 (v));
}

static void
hw_string (HandWriter *w, gint id, const char *s)
{
  hw_field (w, id, 0x8);
  hw_varint (w, strlen (s));
  g_byte_array_append (w->out, (const guint8 *) s, (guint) strlen (s));
}

static void
hw_list (HandWriter *w, gint id, guint n)
{
  hw_field (w, id, 0x9);
  hw_byte (w, (guint8) ((n << 4) | 0xC));
}

/* What to leave out: a struct name and a field id, or nothing. */
typedef struct {
  const char *strukt;
  gint        field;
  gboolean    wrong_type;  /* write the field with another type instead */
} Omit;

static gboolean
omit_keeps (const Omit *o, const char *strukt, gint field)
{
  return o->strukt == NULL || strcmp (o->strukt, strukt) != 0 || o->field != field;
}

static gboolean
mistype (const Omit *o, const char *strukt, gint field)
{
  return !omit_keeps (o, strukt, field) && o->wrong_type;
}

/* Writes field @id with a type its reader does not expect. */
static void
hw_wrong (HandWriter *w, gint id)
{
  hw_field (w, id, 0x7);  /* a double, which no required field is */
  g_byte_array_append (w->out, (const guint8 *) "\0\0\0\0\0\0\0\0", 8);
}

#define FIELD_OR_NOT(o, strukt, id, write) \
  G_STMT_START { \
    if (mistype ((o), (strukt), (id))) hw_wrong (w, (id)); \
    else if (omit_keeps ((o), (strukt), (id))) { write; } \
  } G_STMT_END

static void
hw_tag (HandWriter *w, const Omit *o)
{
  hw_begin (w);
  FIELD_OR_NOT (o, "Tag", 1, hw_string (w, 1, "k"));
  FIELD_OR_NOT (o, "Tag", 2, hw_i32 (w, 2, 3));
  FIELD_OR_NOT (o, "Tag", 6, hw_i64 (w, 6, 5));
  hw_end (w);
}

static void
hw_span (HandWriter *w, const Omit *o)
{
  hw_begin (w);
  FIELD_OR_NOT (o, "Span", 1, hw_i64 (w, 1, 1));
  FIELD_OR_NOT (o, "Span", 2, hw_i64 (w, 2, 0));
  FIELD_OR_NOT (o, "Span", 3, hw_i64 (w, 3, 2));
  FIELD_OR_NOT (o, "Span", 4, hw_i64 (w, 4, 0));
  FIELD_OR_NOT (o, "Span", 5, hw_string (w, 5, "op"));
  FIELD_OR_NOT (o, "Span", 6,
                hw_list (w, 6, 1);
                hw_begin (w);
                FIELD_OR_NOT (o, "SpanRef", 1, hw_i32 (w, 1, 0));
                FIELD_OR_NOT (o, "SpanRef", 2, hw_i64 (w, 2, 7));
                FIELD_OR_NOT (o, "SpanRef", 3, hw_i64 (w, 3, 8));
                FIELD_OR_NOT (o, "SpanRef", 4, hw_i64 (w, 4, 9));
                hw_end (w));
  FIELD_OR_NOT (o, "Span", 7, hw_i32 (w, 7, 1));
  FIELD_OR_NOT (o, "Span", 8, hw_i64 (w, 8, 1000));
  FIELD_OR_NOT (o, "Span", 9, hw_i64 (w, 9, 10));
  FIELD_OR_NOT (o, "Span", 10, hw_list (w, 10, 1); hw_tag (w, o));
  FIELD_OR_NOT (o, "Span", 11,
                hw_list (w, 11, 1);
                hw_begin (w);
                FIELD_OR_NOT (o, "Log", 1, hw_i64 (w, 1, 77));
                FIELD_OR_NOT (o, "Log", 2, hw_list (w, 2, 1); hw_tag (w, o));
                hw_end (w));
  hw_end (w);
}

static GByteArray *
hand_datagram (const Omit *o)
{
  HandWriter writer = { .out = g_byte_array_new () };
  HandWriter *w = &writer;

  /* message header and args field 1, as in vector_112 */
  g_byte_array_append (w->out, vector_112, 14);
  hw_begin (w);                       /* args */
  w->last[w->depth] = 1;
  hw_begin (w);                       /* Batch */
  FIELD_OR_NOT (o, "Batch", 1,
                hw_field (w, 1, 0xC);
                hw_begin (w);
                FIELD_OR_NOT (o, "Process", 1, hw_string (w, 1, "svc"));
                FIELD_OR_NOT (o, "Process", 2, hw_list (w, 2, 1); hw_tag (w, o));
                hw_end (w));
  FIELD_OR_NOT (o, "Batch", 2, hw_list (w, 2, 1); hw_span (w, o));
  FIELD_OR_NOT (o, "Batch", 3, hw_i64 (w, 3, 1));
  FIELD_OR_NOT (o, "Batch", 4,
                hw_field (w, 4, 0xC);
                hw_begin (w);
                FIELD_OR_NOT (o, "ClientStats", 1, hw_i64 (w, 1, 0));
                FIELD_OR_NOT (o, "ClientStats", 2, hw_i64 (w, 2, 0));
                FIELD_OR_NOT (o, "ClientStats", 3, hw_i64 (w, 3, 0));
                hw_end (w));
  hw_end (w);                         /* Batch */
  hw_end (w);                         /* args */
  return w->out;
}

START_TEST (test_reject_missing_required)
{
  static const Omit required[] = {
    { "Batch", 1 }, { "Batch", 2 },
    { "Process", 1 },
    { "Span", 1 }, { "Span", 2 }, { "Span", 3 }, { "Span", 4 }, { "Span", 5 },
    { "Span", 7 }, { "Span", 8 }, { "Span", 9 },
    { "Tag", 1 }, { "Tag", 2 },
    { "Log", 1 }, { "Log", 2 },
    { "SpanRef", 1 }, { "SpanRef", 2 }, { "SpanRef", 3 }, { "SpanRef", 4 },
    { "ClientStats", 1 }, { "ClientStats", 2 }, { "ClientStats", 3 },
  };
  static const Omit optional[] = {
    { "Batch", 3 }, { "Batch", 4 }, { "Process", 2 }, { "Span", 6 }, { "Span", 10 },
    { "Span", 11 }, { "Tag", 6 },
  };
  const Omit nothing = { NULL, 0 };
  g_autoptr(GByteArray) whole = hand_datagram (&nothing);
  g_autoptr(JaegerBatch) batch = assert_accepted (whole->data, whole->len, "hand-written datagram");

  /* The hand writer is right: the whole datagram has every part. */
  ck_assert_uint_eq (batch->spans->len, 1);
  ck_assert_uint_eq (((JaegerSpan *) g_ptr_array_index (batch->spans, 0))->logs->len, 1);
  ck_assert_uint_eq (((JaegerSpan *) g_ptr_array_index (batch->spans, 0))->references->len, 1);
  ck_assert (batch->__isset_stats);

  for (gsize i = 0; i < G_N_ELEMENTS (required); i++)
    {
      g_autoptr(GByteArray) missing = hand_datagram (&required[i]);
      Omit mistyped = required[i];
      g_autoptr(GByteArray) wrong = NULL;
      g_autofree gchar *what = g_strdup_printf ("%s without field %d", required[i].strukt,
                                                required[i].field);
      g_autofree gchar *what2 = g_strdup_printf ("%s with field %d mistyped",
                                                 required[i].strukt, required[i].field);

      assert_rejected (missing->data, missing->len, GLUETOOL_REFERENCE_ERROR_DECODE, what);

      /* A known field with an unexpected type is skipped, so it counts as
       * missing. */
      mistyped.wrong_type = TRUE;
      wrong = hand_datagram (&mistyped);
      assert_rejected (wrong->data, wrong->len, GLUETOOL_REFERENCE_ERROR_DECODE, what2);
    }

  for (gsize i = 0; i < G_N_ELEMENTS (optional); i++)
    {
      g_autoptr(GByteArray) missing = hand_datagram (&optional[i]);
      g_autofree gchar *what = g_strdup_printf ("%s without optional field %d",
                                                optional[i].strukt, optional[i].field);
      g_autoptr(JaegerBatch) ok = assert_accepted (missing->data, missing->len, what);

      ck_assert_ptr_nonnull (ok);
    }
}
END_TEST

START_TEST (test_reject_args_without_batch)
{
  g_autoptr(GByteArray) empty = g_byte_array_new ();
  g_autoptr(GByteArray) wrong = g_byte_array_new ();
  static const guint8 stop = 0x00;
  static const guint8 i32_field[] = { 0x15, 0x00, 0x00 };

  g_byte_array_append (empty, vector_112, 13);
  g_byte_array_append (empty, &stop, 1);
  assert_rejected (empty->data, empty->len, GLUETOOL_REFERENCE_ERROR_DECODE, "empty args");

  g_byte_array_append (wrong, vector_112, 13);
  g_byte_array_append (wrong, i32_field, sizeof i32_field);
  assert_rejected (wrong->data, wrong->len, GLUETOOL_REFERENCE_ERROR_DECODE, "args field 1 an i32");
}
END_TEST

/* The 25-byte datagram with the bytes from offset 21 (the span list
 * header onwards) replaced by @tail. */
static GByteArray *
minimal_with_tail (const guint8 *tail,
                   gsize         tail_len)
{
  GByteArray *out = g_byte_array_new ();

  g_byte_array_append (out, vector_25, 21);
  g_byte_array_append (out, tail, (guint) tail_len);
  return out;
}

START_TEST (test_reject_absurd_sizes)
{
  /* spans: long list header with sizes no datagram can hold */
  static const guint8 huge_list[] = { 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00, 0x00 };
  static const guint8 negative_list[] = { 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00 };
  static const guint8 list_just_too_long[] = { 0x19, 0xfc, 0x20, 0x00, 0x00 };
  /* a varint that never ends */
  static const guint8 endless_varint[] = {
    0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00,
  };
  /* serviceName claiming 2 GiB, -1 and one byte more than is there */
  static const guint8 huge_string[] = {
    0x82, 0x81, 0x00, 0x09, 0x65, 0x6d, 0x69, 0x74, 0x42, 0x61, 0x74, 0x63, 0x68,
    0x1c, 0x1c, 0x18, 0xff, 0xff, 0xff, 0xff, 0x07, 0x73, 0x00, 0x19, 0x0c, 0x00, 0x00,
  };
  static const guint8 negative_string[] = {
    0x82, 0x81, 0x00, 0x09, 0x65, 0x6d, 0x69, 0x74, 0x42, 0x61, 0x74, 0x63, 0x68,
    0x1c, 0x1c, 0x18, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x73, 0x00, 0x19, 0x0c, 0x00, 0x00,
  };
  static const guint8 short_string[] = {
    0x82, 0x81, 0x00, 0x09, 0x65, 0x6d, 0x69, 0x74, 0x42, 0x61, 0x74, 0x63, 0x68,
    0x1c, 0x1c, 0x18, 0x0b, 0x73, 0x76, 0x63, 0x00, 0x19, 0x0c, 0x00, 0x00,
  };
  /* method name claiming 2 GiB */
  static const guint8 huge_name[] = { 0x82, 0x81, 0x00, 0xff, 0xff, 0xff, 0xff, 0x07, 0x65 };
  const struct { const guint8 *data; gsize len; gboolean whole; const char *what; } cases[] = {
    { huge_list, sizeof huge_list, FALSE, "2^31-1 spans" },
    { negative_list, sizeof negative_list, FALSE, "-1 spans" },
    { list_just_too_long, sizeof list_just_too_long, FALSE, "32 spans in 26 bytes" },
    { endless_varint, sizeof endless_varint, FALSE, "11-byte varint" },
    { huge_string, sizeof huge_string, TRUE, "2 GiB service name" },
    { negative_string, sizeof negative_string, TRUE, "service name of -1 bytes" },
    { short_string, sizeof short_string, TRUE, "service name longer than the datagram" },
    { huge_name, sizeof huge_name, TRUE, "2 GiB method name" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GByteArray) bytes = NULL;

      if (cases[i].whole)
        {
          bytes = g_byte_array_new ();
          g_byte_array_append (bytes, cases[i].data, (guint) cases[i].len);
        }
      else
        {
          bytes = minimal_with_tail (cases[i].data, cases[i].len);
        }
      assert_rejected (bytes->data, bytes->len, -1, cases[i].what);
    }
}
END_TEST

/* A Batch whose unknown field 15 nests @depth structs (or lists of lists)
 * before the ordinary spans field. */
static GByteArray *
nested_unknown_field (guint    depth,
                      gboolean lists)
{
  GByteArray *out = g_byte_array_new ();
  static const guint8 field15_struct = 0xfc;  /* delta 15, struct: Batch field 15 */
  static const guint8 field15_list = 0xf9;    /* delta 15, list */
  static const guint8 inner_struct = 0x1c;    /* field 1 of the nested struct, a struct */
  static const guint8 list_of_list = 0x19;    /* one element, of type list */
  static const guint8 empty_list = 0x0c;
  static const guint8 stop = 0x00;
  /* Batch field 2 after field 15: long form, zigzag(2) = 4 */
  static const guint8 spans_long_form[] = { 0x09, 0x04, 0x0c, 0x00, 0x00 };

  /* header, args field 1, Batch.process = Process {"svc"} */
  g_byte_array_append (out, vector_25, 21);
  if (lists)
    {
      g_byte_array_append (out, &field15_list, 1);
      for (guint i = 0; i < depth; i++)
        g_byte_array_append (out, &list_of_list, 1);
      g_byte_array_append (out, &empty_list, 1);
    }
  else
    {
      g_byte_array_append (out, &field15_struct, 1);
      for (guint i = 0; i < depth; i++)
        g_byte_array_append (out, &inner_struct, 1);
      for (guint i = 0; i <= depth; i++)
        g_byte_array_append (out, &stop, 1);
    }
  g_byte_array_append (out, spans_long_form, sizeof spans_long_form);
  return out;
}

START_TEST (test_nesting_bounded)
{
  /* Shallow unknown fields are skipped and the batch is accepted ... */
  for (guint lists = 0; lists < 2; lists++)
    {
      g_autoptr(GByteArray) shallow = nested_unknown_field (20, lists);
      g_autoptr(GByteArray) deep = nested_unknown_field (60000, lists);
      g_autoptr(JaegerBatch) batch = assert_accepted (shallow->data, shallow->len,
                                                      "unknown field nested 20 deep");

      ck_assert_str_eq (batch->process->serviceName, "svc");
      ck_assert_uint_eq (batch->spans->len, 0);

      /* ... deep ones are refused instead of exhausting the stack. */
      assert_rejected (deep->data, deep->len, GLUETOOL_REFERENCE_ERROR_DECODE,
                       "unknown field nested 60000 deep");
    }
}
END_TEST

/* An unknown binary field cut short: c_glib's skip() frees the read buffer
 * even when the read failed before setting it. */
START_TEST (test_unknown_binary_truncated)
{
  /* Batch field 5 (delta 4 after process), binary of 3 bytes, then spans
   * in long form. */
  static const guint8 tail[] = { 0x48, 0x03, 0x61, 0x62, 0x63, 0x09, 0x04, 0x0c, 0x00, 0x00 };
  g_autoptr(GByteArray) bytes = minimal_with_tail (tail, sizeof tail);
  g_autoptr(JaegerBatch) batch = assert_accepted (bytes->data, bytes->len, "unknown binary field");

  ck_assert_str_eq (batch->process->serviceName, "svc");
  for (gsize n = 0; n < bytes->len; n++)
    {
      g_autofree guint8 *copy = g_memdup2 (bytes->data, n);

      assert_rejected (copy, n, -1, "unknown binary field, truncated");
    }
}
END_TEST

static Suite *
encoder_suite (void)
{
  Suite *s = suite_create ("encoder");
  TCase *tc;

  tc = tcase_create ("primitives");
  tcase_set_timeout (tc, 30);
  tcase_add_test (tc, test_varint_size);
  tcase_add_test (tc, test_zigzag);
  tcase_add_test (tc, test_copy_bytes);
  tcase_add_test (tc, test_buffer_inline_then_heap);
  tcase_add_test (tc, test_buffer_no_storage);
  tcase_add_test (tc, test_buffer_erase);
  tcase_add_test (tc, test_buffer_span_stays_inline);
  suite_add_tcase (s, tc);

  tc = tcase_create ("same-bytes-as-c_glib");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_vector_112);
  tcase_add_test (tc, test_vector_25);
  tcase_add_test (tc, test_tag_every_type);
  tcase_add_test (tc, test_tag_wire_facts);
  tcase_add_test (tc, test_span_no_tags);
  tcase_add_test (tc, test_span_every_tag_type);
  tcase_add_test (tc, test_span_many_tags);
  tcase_add_test (tc, test_long_strings);
  tcase_add_test (tc, test_extreme_integers);
  tcase_add_test (tc, test_span_ids_encoded_once);
  tcase_add_test (tc, test_logs);
  tcase_add_test (tc, test_references);
  tcase_add_test (tc, test_process);
  tcase_add_test (tc, test_batch_seqno_and_stats);
  tcase_add_test (tc, test_batch_several_spans);
  tcase_add_test (tc, test_batch_span_counts);
  tcase_add_test (tc, test_envelope_size_exact);
  tcase_add_test (tc, test_roundtrip);
  suite_add_tcase (s, tc);

  tc = tcase_create ("reference-decoder-refuses");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_reject_truncated);
  tcase_add_test (tc, test_reject_garbage);
  tcase_add_test (tc, test_mutations);
  tcase_add_test (tc, test_reject_wrong_method);
  tcase_add_test (tc, test_message_types);
  tcase_add_test (tc, test_reject_trailing_bytes);
  tcase_add_test (tc, test_reject_missing_required);
  tcase_add_test (tc, test_reject_args_without_batch);
  tcase_add_test (tc, test_reject_absurd_sizes);
  tcase_add_test (tc, test_nesting_bounded);
  tcase_add_test (tc, test_unknown_binary_truncated);
  suite_add_tcase (s, tc);

  return s;
}

int
main (void)
{
  /* Structs are built and destroyed before the first reference call. */
  gluetool_reference_init ();

  return test_run_suite_tap (encoder_suite ());
}
