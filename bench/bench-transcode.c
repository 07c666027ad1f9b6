/* bench-transcode.c: spans per second turned from the queue's compact form
 * into the binary Batch the HTTP sender posts, two ways
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose transcode
 *
 * The spans are typical ones (an operation name of about 20 characters,
 * 128-bit trace id, parent, start, duration, and three tags: a string, an
 * integer, a boolean), compact-encoded by the library's encoder as a
 * finishing thread does. A batch of BATCH_SPANS of them becomes a binary
 * Batch body:
 *
 *   walker        what the HTTP sender does: the Process and each Span
 *                 rewritten by the generic compact-to-binary walker
 *                 (transcode.c), the head and tail around them
 *   decode+encode the alternative: the compact batch decoded into objects
 *                 by Apache Thrift's c_glib (the generated JaegerBatch and
 *                 its spans, read through the guarded reference reader) and
 *                 written again by c_glib's ThriftBinaryProtocol
 *
 * Both bodies are checked to decode to the same Batch first. The medians of
 * REPETITIONS are printed, with the target: the walker must move spans at
 * least TARGET_SPANS_PER_S, well ahead of what producers can finish (about
 * three million per second on this kind of machine, see RESULTS.md), so
 * that the flush thread's work per span stays small beside the request.
 */

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "encoder-private.h"
#include "measure.h"
#include "reference.h"
#include "reference-binary.h"
#include "transcode-private.h"

#define BATCH_SPANS 2000
#define REPETITIONS 11
#define TARGET_SPANS_PER_S 5e6

typedef struct {
  GluetoolBuffer process;   /* compact Process */
  GluetoolBuffer spans;     /* compact Spans, back to back */
  gsize          offsets[BATCH_SPANS + 1];
} Input;

static void
make_input (Input *in)
{
  static const char name[] = "process-build-request";

  gluetool_buffer_init (&in->process, NULL, 0);
  gluetool_buffer_init (&in->spans, NULL, 0);
  {
    GluetoolBuffer tags;
    GluetoolEncodedList list;

    gluetool_buffer_init (&tags, NULL, 0);
    gluetool_encode_tag_string (&tags, "hostname", 8, "bench-host", 10);
    gluetool_encode_tag_string (&tags, "client-uuid", 11, "0123456789abcdef", 16);
    list = (GluetoolEncodedList) { tags.data, tags.len, 2 };
    gluetool_encode_process (&in->process, "bench", 5, &list);
    gluetool_buffer_clear (&tags);
  }
  for (guint i = 0; i < BATCH_SPANS; i++)
    {
      GluetoolBuffer tags;
      GluetoolSpanFields f = {
        .trace_id_low = 0x1234567890abcdefULL + i, .trace_id_high = 0xfedcba0987654321ULL,
        .span_id = 0x1111111111111111ULL * (i + 1), .parent_span_id = 0x2222222222222222ULL,
        .operation_name = name, .operation_name_len = sizeof name - 1, .flags = 1,
        .start_time_us = 1700000000000000LL + i, .duration_us = 1234,
      };

      gluetool_buffer_init (&tags, NULL, 0);
      gluetool_encode_tag_string (&tags, "component", 9, "gluetool", 8);
      gluetool_encode_tag_long (&tags, "attempt", 7, i);
      gluetool_encode_tag_bool (&tags, "error", 5, FALSE);
      f.tags = (GluetoolEncodedList) { tags.data, tags.len, 3 };
      in->offsets[i] = in->spans.len;
      gluetool_encode_span (&in->spans, &f);
      gluetool_buffer_clear (&tags);
    }
  in->offsets[BATCH_SPANS] = in->spans.len;
}

/* The walker's way: what sender-http.c does for a batch. */
static void
body_by_walker (const Input    *in,
                GluetoolBuffer *body)
{
  GluetoolBuffer process;
  GluetoolClientStats stats = { 0, 0, 0 };
  gsize count;

  gluetool_buffer_init (&process, NULL, 0);
  body->len = 0;
  if (!gluetool_transcode_struct (in->process.data, in->process.len, &process, NULL))
    g_error ("the Process did not transcode");
  count = gluetool_binary_batch_head (body, process.data, process.len);
  for (guint i = 0; i < BATCH_SPANS; i++)
    if (!gluetool_transcode_struct (in->spans.data + in->offsets[i],
                                    in->offsets[i + 1] - in->offsets[i], body, NULL))
      g_error ("a span did not transcode");
  gluetool_binary_batch_set_count (body, count, BATCH_SPANS);
  gluetool_binary_batch_tail (body, 1, &stats);
  gluetool_buffer_clear (&process);
}

/* The alternative: decode into c_glib's objects, encode them again. */
static GBytes *
body_by_objects (const GluetoolBuffer *datagram)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JaegerBatch) batch = gluetool_reference_decode_datagram (datagram->data, datagram->len,
                                                                     NULL, NULL, &error);
  GBytes *body;

  if (batch == NULL)
    g_error ("decode: %s", error->message);
  body = gluetool_reference_encode_batch_binary (batch, &error);
  if (body == NULL)
    g_error ("encode: %s", error->message);
  return body;
}

int
main (void)
{
  Input in;
  GluetoolBuffer body, datagram;
  GluetoolClientStats stats = { 0, 0, 0 };
  double walker_rate[REPETITIONS], objects_rate[REPETITIONS];
  double walker, objects;

  make_input (&in);
  gluetool_buffer_init (&body, NULL, 0);
  gluetool_buffer_init (&datagram, NULL, 0);
  gluetool_encode_batch_head (&datagram, 1, in.process.data, in.process.len, BATCH_SPANS);
  gluetool_buffer_append (&datagram, in.spans.data, in.spans.len);
  gluetool_encode_batch_tail (&datagram, 1, &stats);

  /* Equal work: both bodies decode to the same Batch. */
  body_by_walker (&in, &body);
  {
    g_autoptr(GBytes) other = body_by_objects (&datagram);
    g_autoptr(GError) error = NULL;
    g_autoptr(JaegerBatch) a = gluetool_reference_decode_batch_binary (body.data, body.len, &error);
    g_autoptr(JaegerBatch) b = NULL;
    g_autoptr(GBytes) a_bytes = NULL;
    g_autoptr(GBytes) b_bytes = NULL;
    gsize len;
    const guint8 *data = g_bytes_get_data (other, &len);

    b = gluetool_reference_decode_batch_binary (data, len, &error);
    if (a == NULL || b == NULL)
      g_error ("the bodies do not decode: %s", error->message);
    a_bytes = gluetool_reference_encode_datagram (a, 0, NULL);
    b_bytes = gluetool_reference_encode_datagram (b, 0, NULL);
    if (!g_bytes_equal (a_bytes, b_bytes))
      g_error ("the two bodies differ");
  }
  printf ("transcode: %u spans of %.0f bytes compact, %.0f bytes binary each\n", BATCH_SPANS,
          (double) in.spans.len / BATCH_SPANS, (double) body.len / BATCH_SPANS);

  for (guint r = 0; r < REPETITIONS; r++)
    {
      gint64 start = bench_monotonic_ns ();
      guint batches = 0;

      do
        {
          body_by_walker (&in, &body);
          batches++;
        }
      while (bench_monotonic_ns () - start < 50 * 1000 * 1000);
      walker_rate[r] = batches * (double) BATCH_SPANS * 1e9 / (double) (bench_monotonic_ns () - start);

      start = bench_monotonic_ns ();
      batches = 0;
      do
        {
          g_autoptr(GBytes) other G_GNUC_UNUSED = body_by_objects (&datagram);

          batches++;
        }
      while (bench_monotonic_ns () - start < 50 * 1000 * 1000);
      objects_rate[r] = batches * (double) BATCH_SPANS * 1e9 / (double) (bench_monotonic_ns () - start);
    }
  walker = bench_median (walker_rate, REPETITIONS);
  objects = bench_median (objects_rate, REPETITIONS);
  printf ("transcode: walker        %.2f M spans/s (%.0f ns per span)\n", walker / 1e6, 1e9 / walker);
  printf ("transcode: decode+encode %.2f M spans/s (%.0f ns per span), c_glib objects\n",
          objects / 1e6, 1e9 / objects);
  printf ("transcode: the walker is %.1fx as fast\n", walker / objects);
  printf ("target: walker at least %.0f M spans/s: %.2f M: %s\n", TARGET_SPANS_PER_S / 1e6,
          walker / 1e6, bench_verdict (walker >= TARGET_SPANS_PER_S));

  gluetool_buffer_clear (&body);
  gluetool_buffer_clear (&datagram);
  gluetool_buffer_clear (&in.process);
  gluetool_buffer_clear (&in.spans);
  return 0;
}
