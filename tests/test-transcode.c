/* test-transcode.c: compact structs rewritten in the binary protocol, read
 * back by Apache Thrift's c_glib
 *
 * SPDX-License-Identifier: MIT
 *
 * Every Batch test builds the same spans once with the library's compact
 * encoder, then: (a) as a compact emitBatch datagram, decoded by c_glib's
 * ThriftCompactProtocol (thrift/reference.c); (b) as the binary Batch the
 * HTTP sender posts (each struct transcoded, the head and tail around
 * them), wrapped in a binary emitBatch message and decoded by c_glib's
 * ThriftBinaryProtocol (thrift/reference-binary.c). The two decoded
 * Batches are written again by c_glib's compact writer: the bytes must be
 * identical. The only literal bytes here are protocol facts, written out by
 * hand from the two specifications.
 */

#include <string.h>

#include <check.h>
#include <glib.h>

#include "encoder-private.h"
#include "reference.h"
#include "reference-binary.h"
#include "transcode-private.h"
#include "check-tap.h"

/* ---- Building spans -------------------------------------------------------------- */

static void
encode_span (GluetoolBuffer *buf,
             guint           i,
             gboolean        rich)
{
  g_autofree char *name = g_strdup_printf ("operation-%u", i);
  GluetoolBuffer tags, logs, fields;
  GluetoolSpanRef refs[2] = {
    { GLUETOOL_SPAN_REF_CHILD_OF, 7, 8, 9 },
    { GLUETOOL_SPAN_REF_FOLLOWS_FROM, G_MAXUINT64, 1, G_MAXUINT64 - 1 },
  };
  static const guint8 blob[] = { 0, 1, 2, 0xff, 0x80 };
  GluetoolSpanFields f = {
    .trace_id_low = 0x0123456789abcdefULL + i,
    .trace_id_high = rich ? G_MAXUINT64 : 0,
    .span_id = 1000 + i,
    .parent_span_id = i > 0 ? 1000 + i - 1 : 0,
    .operation_name = name,
    .operation_name_len = strlen (name),
    .flags = 1,
    .start_time_us = 1700000000000000LL + i,
    .duration_us = rich ? -5 : 1234,
  };

  gluetool_buffer_init (&tags, NULL, 0);
  gluetool_buffer_init (&logs, NULL, 0);
  gluetool_buffer_init (&fields, NULL, 0);
  gluetool_encode_tag_string (&tags, "s", 1, "value", 5);
  if (rich)
    {
      gluetool_encode_tag_double (&tags, "d", 1, -1.5e300);
      gluetool_encode_tag_bool (&tags, "t", 1, TRUE);
      gluetool_encode_tag_bool (&tags, "f", 1, FALSE);
      gluetool_encode_tag_long (&tags, "l", 1, G_MININT64);
      gluetool_encode_tag_binary (&tags, "b", 1, blob, sizeof blob);
      gluetool_encode_tag_string (&fields, "event", 5, "x", 1);
      gluetool_encode_tag_long (&fields, "n", 1, 42);
      gluetool_encode_log (&logs, 1700000000000001LL, fields.data, fields.len, 2);
      gluetool_encode_log (&logs, -1, NULL, 0, 0);
      f.references = refs;
      f.n_references = G_N_ELEMENTS (refs);
      f.logs = (GluetoolEncodedList) { logs.data, logs.len, 2 };
    }
  f.tags = (GluetoolEncodedList) { tags.data, tags.len, rich ? 6 : 1 };
  gluetool_encode_span (buf, &f);
  gluetool_buffer_clear (&tags);
  gluetool_buffer_clear (&logs);
  gluetool_buffer_clear (&fields);
}

static void
encode_process (GluetoolBuffer *buf)
{
  GluetoolBuffer tags;
  GluetoolEncodedList list;

  gluetool_buffer_init (&tags, NULL, 0);
  gluetool_encode_tag_string (&tags, "hostname", 8, "host", 4);
  gluetool_encode_tag_string (&tags, "client-uuid", 11, "uuid", 4);
  list = (GluetoolEncodedList) { tags.data, tags.len, 2 };
  gluetool_encode_process (buf, "svc", 3, &list);
  gluetool_buffer_clear (&tags);
}

/* Decoded from a compact emitBatch datagram with these spans. */
static JaegerBatch *
decode_compact_batch (const GluetoolBuffer      *process,
                      const GluetoolBuffer      *spans,
                      guint                      n_spans,
                      gint64                     seq_no,
                      const GluetoolClientStats *stats)
{
  GluetoolBuffer datagram;
  g_autoptr(GError) error = NULL;
  JaegerBatch *batch;

  gluetool_buffer_init (&datagram, NULL, 0);
  gluetool_encode_batch_head (&datagram, 1, process->data, process->len, n_spans);
  gluetool_buffer_append (&datagram, spans->data, spans->len);
  gluetool_encode_batch_tail (&datagram, seq_no, stats);
  batch = gluetool_reference_decode_datagram (datagram.data, datagram.len, NULL, NULL, &error);
  ck_assert_msg (batch != NULL, "compact: %s", error ? error->message : "");
  gluetool_buffer_clear (&datagram);
  return batch;
}

/* Decoded from the binary body, wrapped in a binary emitBatch message:
 * strict header (80 01 00 04: version 1, ONEWAY), the name, seqid 1, then
 * the args struct whose field 1 is the Batch. */
static JaegerBatch *
decode_binary_body (const guint8 *body,
                    gsize         len,
                    GError      **error)
{
  static const guint8 header[] = {
    0x80, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x09,
    'e', 'm', 'i', 't', 'B', 'a', 't', 'c', 'h', 0x00, 0x00, 0x00, 0x01,
    0x0c, 0x00, 0x01,
  };
  g_autoptr(GByteArray) message = g_byte_array_new ();

  g_byte_array_append (message, header, sizeof header);
  g_byte_array_append (message, body, (guint) len);
  g_byte_array_append (message, (const guint8 *) "", 1);
  return gluetool_reference_decode_datagram_binary (message->data, message->len, NULL, NULL, error);
}

/* The binary body as the HTTP sender writes it. */
static void
binary_body (GluetoolBuffer            *body,
             const GluetoolBuffer      *process,
             const GPtrArray           *spans,
             gint64                     seq_no,
             const GluetoolClientStats *stats)
{
  g_autoptr(GError) error = NULL;
  GluetoolBuffer binary_process;
  gsize count;

  gluetool_buffer_init (&binary_process, NULL, 0);
  ck_assert (gluetool_transcode_struct (process->data, process->len, &binary_process, &error));
  count = gluetool_binary_batch_head (body, binary_process.data, binary_process.len);
  for (guint i = 0; i < spans->len; i++)
    {
      GBytes *span = g_ptr_array_index (spans, i);
      gsize len;
      const guint8 *data = g_bytes_get_data (span, &len);

      ck_assert_msg (gluetool_transcode_struct (data, len, body, &error), "%s",
                     error ? error->message : "");
    }
  gluetool_binary_batch_set_count (body, count, spans->len);
  gluetool_binary_batch_tail (body, seq_no, stats);
  gluetool_buffer_clear (&binary_process);
}

static void
assert_same_batch (JaegerBatch *a,
                   JaegerBatch *b)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes_a = gluetool_reference_encode_datagram (a, 0, &error);
  g_autoptr(GBytes) bytes_b = gluetool_reference_encode_datagram (b, 0, &error);

  ck_assert (bytes_a != NULL && bytes_b != NULL);
  ck_assert_msg (g_bytes_equal (bytes_a, bytes_b), "the two decodings differ");
}

static void
check_batch (guint    n_spans,
             gboolean rich)
{
  GluetoolBuffer process, spans, body;
  g_autoptr(GPtrArray) span_list = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GError) error = NULL;
  GluetoolClientStats stats = { 3, G_MAXINT64, -1 };
  g_autoptr(JaegerBatch) expected = NULL;
  g_autoptr(JaegerBatch) got = NULL;

  gluetool_buffer_init (&process, NULL, 0);
  gluetool_buffer_init (&spans, NULL, 0);
  gluetool_buffer_init (&body, NULL, 0);
  encode_process (&process);
  for (guint i = 0; i < n_spans; i++)
    {
      GluetoolBuffer one;

      gluetool_buffer_init (&one, NULL, 0);
      encode_span (&one, i, rich);
      gluetool_buffer_append (&spans, one.data, one.len);
      g_ptr_array_add (span_list, g_bytes_new (one.data, one.len));
      gluetool_buffer_clear (&one);
    }

  expected = decode_compact_batch (&process, &spans, n_spans, 77, &stats);
  binary_body (&body, &process, span_list, 77, &stats);
  got = decode_binary_body (body.data, body.len, &error);
  ck_assert_msg (got != NULL, "binary: %s", error ? error->message : "");

  ck_assert_int_eq (got->spans->len, n_spans);
  ck_assert (got->__isset_seqNo);
  ck_assert_int_eq (got->seqNo, 77);
  ck_assert (got->__isset_stats);
  ck_assert_int_eq (got->stats->tooLargeDroppedSpans, G_MAXINT64);
  ck_assert_int_eq (got->stats->failedToEmitSpans, -1);
  assert_same_batch (expected, got);

  gluetool_buffer_clear (&process);
  gluetool_buffer_clear (&spans);
  gluetool_buffer_clear (&body);
}

START_TEST (test_batch_one_plain_span)
{
  check_batch (1, FALSE);
}
END_TEST

START_TEST (test_batch_rich_spans)
{
  /* Every tag type, logs (one with no fields), references, negative
   * numbers, 128-bit trace ids. */
  check_batch (3, TRUE);
}
END_TEST

START_TEST (test_batch_no_spans)
{
  check_batch (0, FALSE);
}
END_TEST

START_TEST (test_batch_many_spans)
{
  /* More than 15 elements: the compact list's long header. */
  check_batch (300, TRUE);
}
END_TEST

START_TEST (test_tail_size)
{
  GluetoolBuffer buf;
  GluetoolClientStats stats = { G_MININT64, 0, G_MAXINT64 };

  gluetool_buffer_init (&buf, NULL, 0);
  gluetool_binary_batch_tail (&buf, G_MAXINT64, &stats);
  ck_assert_uint_eq (buf.len, GLUETOOL_BINARY_BATCH_TAIL_SIZE);
  gluetool_buffer_clear (&buf);
}
END_TEST

/* ---- Protocol facts: the constructs jaeger.thrift does not use ------------------------ */

static void
assert_transcodes_to (const guint8 *compact,
                      gsize         compact_len,
                      const guint8 *binary,
                      gsize         binary_len)
{
  GluetoolBuffer out;
  g_autoptr(GError) error = NULL;

  gluetool_buffer_init (&out, NULL, 0);
  ck_assert_msg (gluetool_transcode_struct (compact, compact_len, &out, &error), "%s",
                 error ? error->message : "");
  ck_assert_uint_le (out.len, compact_len * GLUETOOL_TRANSCODE_MAX_GROWTH);
  ck_assert_uint_eq (out.len, binary_len);
  ck_assert_mem_eq (out.data, binary, binary_len);
  gluetool_buffer_clear (&out);
}

START_TEST (test_other_types)
{
  /* 1: byte 0x7f; 2: i16 -2; 20 (long form, zigzag 40): i32 1;
   * 21: set<bool> {true, false}; 22: map<i16,double> {1: 1.0};
   * 23: empty map; 24: struct { 1: bool true }. */
  static const guint8 compact[] = {
    0x13, 0x7f,
    0x14, 0x03,
    0x05, 0x28, 0x02,
    0x1a, 0x21, 0x01, 0x02,
    0x1b, 0x01, 0x47, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,
    0x1b, 0x00,
    0x1c, 0x11, 0x00,
    0x00,
  };
  static const guint8 binary[] = {
    0x03, 0x00, 0x01, 0x7f,
    0x06, 0x00, 0x02, 0xff, 0xfe,
    0x08, 0x00, 0x14, 0x00, 0x00, 0x00, 0x01,
    0x0e, 0x00, 0x15, 0x02, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00,
    0x0d, 0x00, 0x16, 0x06, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01,
    0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0d, 0x00, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0c, 0x00, 0x18, 0x02, 0x00, 0x01, 0x01, 0x00,
    0x00,
  };

  assert_transcodes_to (compact, sizeof compact, binary, sizeof binary);
}
END_TEST

START_TEST (test_worst_growth)
{
  /* A list<i64> of zeros: one byte each in, eight out. */
  guint8 compact[3 + 100 + 1] = { 0x19, 0xf6, 100 };
  guint8 binary[3 + 5 + 800 + 1] = { 0x0f, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x00, 100 };

  assert_transcodes_to (compact, sizeof compact, binary, sizeof binary);
}
END_TEST

/* ---- What it refuses --------------------------------------------------------------- */

static void
assert_refused (const guint8 *compact,
                gsize         len)
{
  guint8 storage[8];
  GluetoolBuffer out;
  g_autoptr(GError) error = NULL;

  gluetool_buffer_init (&out, storage, sizeof storage);
  gluetool_buffer_append (&out, "abc", 3);
  ck_assert (!gluetool_transcode_struct (compact, len, &out, &error));
  ck_assert (g_error_matches (error, GLUETOOL_TRANSCODE_ERROR, GLUETOOL_TRANSCODE_ERROR_INVALID));
  /* What was there before is left as it was. */
  ck_assert_uint_eq (out.len, 3);
  ck_assert_mem_eq (out.data, "abc", 3);
  gluetool_buffer_clear (&out);
}

START_TEST (test_refuse_every_truncation)
{
  GluetoolBuffer span;

  gluetool_buffer_init (&span, NULL, 0);
  encode_span (&span, 1, TRUE);
  for (gsize len = 0; len < span.len; len++)
    assert_refused (span.data, len);
  gluetool_buffer_clear (&span);
}
END_TEST

START_TEST (test_refuse_trailing_bytes)
{
  static const guint8 compact[] = { 0x00, 0x00 };

  assert_refused (compact, sizeof compact);
}
END_TEST

START_TEST (test_refuse_bad_types)
{
  static const guint8 field_type_13[] = { 0x1d, 0x00 };
  static const guint8 list_of_stop[] = { 0x19, 0x10, 0x00 };
  static const guint8 map_bad_key[] = { 0x1b, 0x01, 0xd5, 0x00, 0x00, 0x00 };

  assert_refused (field_type_13, sizeof field_type_13);
  assert_refused (list_of_stop, sizeof list_of_stop);
  assert_refused (map_bad_key, sizeof map_bad_key);
}
END_TEST

START_TEST (test_refuse_absurd_sizes)
{
  /* A string of 2^31 bytes, a list of 2^28 elements, a map of 1000 entries
   * in a few bytes, an i16 of 40000 and an i32 of 2^31. */
  static const guint8 long_string[] = { 0x18, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00 };
  static const guint8 long_list[] = { 0x19, 0xf5, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00, 0x00 };
  static const guint8 big_map[] = { 0x1b, 0xe8, 0x07, 0x55, 0x00, 0x00, 0x00 };
  static const guint8 big_i16[] = { 0x14, 0x80, 0xf1, 0x04, 0x00 };
  static const guint8 big_i32[] = { 0x15, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00 };
  static const guint8 long_varint[] = { 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0x01, 0x00 };

  assert_refused (long_string, sizeof long_string);
  assert_refused (long_list, sizeof long_list);
  assert_refused (big_map, sizeof big_map);
  assert_refused (big_i16, sizeof big_i16);
  assert_refused (big_i32, sizeof big_i32);
  assert_refused (long_varint, sizeof long_varint);
}
END_TEST

START_TEST (test_nesting_bounded)
{
  /* Structs in structs: field 1 of each is the next one. */
  guint8 deep[2 * 64];
  gsize n = 0;

  for (guint i = 0; i < GLUETOOL_TRANSCODE_MAX_DEPTH + 1; i++)
    deep[n++] = 0x1c;
  for (guint i = 0; i < GLUETOOL_TRANSCODE_MAX_DEPTH + 2; i++)
    deep[n++] = 0x00;
  assert_refused (deep, n);

  /* One level less is fine. */
  n = 0;
  for (guint i = 0; i < GLUETOOL_TRANSCODE_MAX_DEPTH - 1; i++)
    deep[n++] = 0x1c;
  for (guint i = 0; i < GLUETOOL_TRANSCODE_MAX_DEPTH; i++)
    deep[n++] = 0x00;
  {
    GluetoolBuffer out;
    g_autoptr(GError) error = NULL;

    gluetool_buffer_init (&out, NULL, 0);
    ck_assert_msg (gluetool_transcode_struct (deep, n, &out, &error), "%s",
                   error ? error->message : "");
    gluetool_buffer_clear (&out);
  }
}
END_TEST

START_TEST (test_refuse_random_mutations)
{
  GluetoolBuffer span;
  GRand *rand = g_rand_new_with_seed (1234);

  /* Flipped bytes either transcode (to something of bounded size) or are
   * refused cleanly; under the sanitizers, never read out of bounds. */
  gluetool_buffer_init (&span, NULL, 0);
  encode_span (&span, 1, TRUE);
  for (guint round = 0; round < 20000; round++)
    {
      g_autofree guint8 *copy = g_memdup2 (span.data, span.len);
      GluetoolBuffer out;
      g_autoptr(GError) error = NULL;

      for (guint k = 0; k < 1 + round % 3; k++)
        copy[g_rand_int_range (rand, 0, (gint32) span.len)] = (guint8) g_rand_int (rand);
      gluetool_buffer_init (&out, NULL, 0);
      if (gluetool_transcode_struct (copy, span.len, &out, &error))
        ck_assert_uint_le (out.len, span.len * GLUETOOL_TRANSCODE_MAX_GROWTH);
      else
        ck_assert (g_error_matches (error, GLUETOOL_TRANSCODE_ERROR, GLUETOOL_TRANSCODE_ERROR_INVALID));
      gluetool_buffer_clear (&out);
    }
  g_rand_free (rand);
  gluetool_buffer_clear (&span);
}
END_TEST

static Suite *
transcode_suite (void)
{
  Suite *s = suite_create ("transcode");
  TCase *tc = tcase_create ("batch");

  tcase_add_test (tc, test_batch_one_plain_span);
  tcase_add_test (tc, test_batch_rich_spans);
  tcase_add_test (tc, test_batch_no_spans);
  tcase_add_test (tc, test_batch_many_spans);
  tcase_add_test (tc, test_tail_size);
  suite_add_tcase (s, tc);

  tc = tcase_create ("facts");
  tcase_add_test (tc, test_other_types);
  tcase_add_test (tc, test_worst_growth);
  suite_add_tcase (s, tc);

  tc = tcase_create ("refusals");
  tcase_add_test (tc, test_refuse_every_truncation);
  tcase_add_test (tc, test_refuse_trailing_bytes);
  tcase_add_test (tc, test_refuse_bad_types);
  tcase_add_test (tc, test_refuse_absurd_sizes);
  tcase_add_test (tc, test_nesting_bounded);
  tcase_add_test (tc, test_refuse_random_mutations);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return test_run_suite_tap (transcode_suite ());
}
