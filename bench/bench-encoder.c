/* bench-encoder.c: nanoseconds per span, the library's encoder against
 * Apache Thrift's c_glib
 *
 * SPDX-License-Identifier: MIT
 *
 * The span is a typical one: an operation name of about 20 characters, 128-bit
 * trace id, parent, start and duration, and three tags (a string, an integer,
 * a boolean). Three ways to encode it are timed:
 *
 *   ours            the three Tag structs, then the Span around them, into
 *                   inline buffers: what the library does for every span
 *   c_glib write    thrift_struct_write() of a JaegerSpan built once, into a
 *                   ThriftMemoryBuffer emptied before each write
 *   c_glib build    making the JaegerSpan and its JaegerTags (members set
 *                   directly, the cheapest way), writing, and freeing them:
 *                   what a c_glib client pays per span
 *
 * Each is run in batches long enough for the monotonic clock, several times;
 * the medians are printed. Before timing, the bytes are checked to be the
 * same both ways, so the comparison is between equal work.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "encoder-private.h"
#include "reference.h"

#define REPETITIONS 11
#define MIN_BATCH_NS (G_GINT64_CONSTANT (50) * 1000 * 1000)

static const char operation_name[] = "process-build-request";
static const char tag_string_key[] = "component";
static const char tag_string_value[] = "gluetool";
static const char tag_long_key[] = "attempt";
static const char tag_bool_key[] = "error";

#define SPAN_TRACE_LOW  G_GUINT64_CONSTANT (0x9a3f21c7e4b85d06)
#define SPAN_TRACE_HIGH G_GUINT64_CONSTANT (0x4c1e7d2a90f36b58)
#define SPAN_ID         G_GUINT64_CONSTANT (0xd2b4f6a81c3e5079)
#define SPAN_PARENT     G_GUINT64_CONSTANT (0x1f2e3d4c5b6a7988)
#define SPAN_START      G_GINT64_CONSTANT (1700000000123456)
#define SPAN_DURATION   G_GINT64_CONSTANT (48213)

/* Whatever each run produced is folded in here, so no work can be dropped. */
static volatile guint64 sink;

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- ours --------------------------------------------------------------------- */

typedef struct {
  guint8         tag_storage[256];
  guint8         span_storage[512];
  GluetoolBuffer tags;
  GluetoolBuffer span;
} Ours;

static void
ours_init (Ours *o)
{
  gluetool_buffer_init (&o->tags, o->tag_storage, sizeof o->tag_storage);
  gluetool_buffer_init (&o->span, o->span_storage, sizeof o->span_storage);
}

static void
ours_encode (Ours *o,
             gint64 i)
{
  GluetoolSpanFields f = { 0 };

  o->tags.len = 0;
  o->span.len = 0;
  gluetool_encode_tag_string (&o->tags, tag_string_key, sizeof tag_string_key - 1,
                              tag_string_value, sizeof tag_string_value - 1);
  gluetool_encode_tag_long (&o->tags, tag_long_key, sizeof tag_long_key - 1, 3);
  gluetool_encode_tag_bool (&o->tags, tag_bool_key, sizeof tag_bool_key - 1, FALSE);

  f.trace_id_low = SPAN_TRACE_LOW;
  f.trace_id_high = SPAN_TRACE_HIGH;
  f.span_id = SPAN_ID;
  f.parent_span_id = SPAN_PARENT;
  f.operation_name = operation_name;
  f.operation_name_len = sizeof operation_name - 1;
  f.flags = 1;
  f.start_time_us = SPAN_START + (i & 1);
  f.duration_us = SPAN_DURATION;
  f.tags = (GluetoolEncodedList) { o->tags.data, o->tags.len, 3 };
  gluetool_encode_span (&o->span, &f);
}

static double
time_ours (gint64 n)
{
  Ours o;
  gint64 start, end;
  guint64 acc = 0;

  ours_init (&o);
  start = now_ns ();
  for (gint64 i = 0; i < n; i++)
    {
      ours_encode (&o, i);
      acc += o.span.len + o.span.data[o.span.len - 2];
    }
  end = now_ns ();
  sink += acc;
  gluetool_buffer_clear (&o.tags);
  gluetool_buffer_clear (&o.span);
  return (double) (end - start) / (double) n;
}

/* ---- c_glib ---------------------------------------------------------------------- */

static JaegerSpan *
build_span (gint64 i)
{
  JaegerSpan *span = g_object_new (JAEGER_TYPE_SPAN, NULL);
  JaegerTag *tag;

  span->traceIdLow = (gint64) SPAN_TRACE_LOW;
  span->traceIdHigh = (gint64) SPAN_TRACE_HIGH;
  span->spanId = (gint64) SPAN_ID;
  span->parentSpanId = (gint64) SPAN_PARENT;
  span->operationName = g_strdup (operation_name);
  span->flags = 1;
  span->startTime = SPAN_START + (i & 1);
  span->duration = SPAN_DURATION;

  tag = g_object_new (JAEGER_TYPE_TAG, NULL);
  tag->key = g_strdup (tag_string_key);
  tag->vType = JAEGER_TAG_TYPE_STRING;
  tag->vStr = g_strdup (tag_string_value);
  tag->__isset_vStr = TRUE;
  g_ptr_array_add (span->tags, tag);

  tag = g_object_new (JAEGER_TYPE_TAG, NULL);
  tag->key = g_strdup (tag_long_key);
  tag->vType = JAEGER_TAG_TYPE_LONG;
  tag->vLong = 3;
  tag->__isset_vLong = TRUE;
  g_ptr_array_add (span->tags, tag);

  tag = g_object_new (JAEGER_TYPE_TAG, NULL);
  tag->key = g_strdup (tag_bool_key);
  tag->vType = JAEGER_TAG_TYPE_BOOL;
  tag->vBool = FALSE;
  tag->__isset_vBool = TRUE;
  g_ptr_array_add (span->tags, tag);

  span->__isset_tags = TRUE;
  return span;
}

typedef struct {
  ThriftMemoryBuffer    *buffer;
  ThriftCompactProtocol *protocol;
} Writer;

static void
writer_init (Writer *w)
{
  w->buffer = g_object_new (THRIFT_TYPE_MEMORY_BUFFER, NULL);
  w->protocol = g_object_new (THRIFT_TYPE_COMPACT_PROTOCOL, "transport", w->buffer, NULL);
}

static void
writer_clear (Writer *w)
{
  g_clear_object (&w->protocol);
  g_clear_object (&w->buffer);
}

static void
writer_write (Writer     *w,
              JaegerSpan *span)
{
  GError *error = NULL;

  g_byte_array_set_size (w->buffer->buf, 0);
  if (thrift_struct_write (THRIFT_STRUCT (span), THRIFT_PROTOCOL (w->protocol), &error) < 0)
    g_error ("c_glib could not write the span: %s", error->message);
}

static double
time_cglib_write (gint64 n)
{
  Writer w;
  g_autoptr(JaegerSpan) span = build_span (0);
  gint64 start, end;
  guint64 acc = 0;

  writer_init (&w);
  start = now_ns ();
  for (gint64 i = 0; i < n; i++)
    {
      writer_write (&w, span);
      acc += w.buffer->buf->len + w.buffer->buf->data[w.buffer->buf->len - 2];
    }
  end = now_ns ();
  sink += acc;
  writer_clear (&w);
  return (double) (end - start) / (double) n;
}

static double
time_cglib_build_write (gint64 n)
{
  Writer w;
  gint64 start, end;
  guint64 acc = 0;

  writer_init (&w);
  start = now_ns ();
  for (gint64 i = 0; i < n; i++)
    {
      JaegerSpan *span = build_span (i);

      writer_write (&w, span);
      acc += w.buffer->buf->len + w.buffer->buf->data[w.buffer->buf->len - 2];
      g_object_unref (span);
    }
  end = now_ns ();
  sink += acc;
  writer_clear (&w);
  return (double) (end - start) / (double) n;
}

/* ---- Harness ----------------------------------------------------------------------- */

typedef double (*TimeFunc) (gint64 n);

/* Iterations for one batch to take at least MIN_BATCH_NS. */
static gint64
calibrate (TimeFunc func)
{
  gint64 n = 1000;

  for (;;)
    {
      double per = func (n);

      if (per * (double) n >= (double) MIN_BATCH_NS || n >= G_GINT64_CONSTANT (1) << 32)
        return n;
      n *= 2;
    }
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median_ns (TimeFunc func)
{
  double runs[REPETITIONS];
  gint64 n = calibrate (func);

  for (guint r = 0; r < REPETITIONS; r++)
    runs[r] = func (n);
  qsort (runs, REPETITIONS, sizeof runs[0], compare_doubles);
  return runs[REPETITIONS / 2];
}

/* The comparison only means something if both produce the same bytes. */
static void
check_same_bytes (void)
{
  Ours o;
  Writer w;
  g_autoptr(JaegerSpan) span = build_span (0);

  ours_init (&o);
  ours_encode (&o, 0);
  writer_init (&w);
  writer_write (&w, span);
  if (o.span.len != w.buffer->buf->len
      || memcmp (o.span.data, w.buffer->buf->data, o.span.len) != 0)
    g_error ("the encoder and c_glib disagree on the benchmark span");
  printf ("encoder: benchmark span is %" G_GSIZE_FORMAT " bytes, identical both ways\n",
          o.span.len);
  writer_clear (&w);
  gluetool_buffer_clear (&o.tags);
  gluetool_buffer_clear (&o.span);
}

int
main (void)
{
  double ours, write, build;

  gluetool_reference_init ();
  check_same_bytes ();

  ours = median_ns (time_ours);
  write = median_ns (time_cglib_write);
  build = median_ns (time_cglib_build_write);

  printf ("encoder: ours %.1f ns/span, c_glib struct write %.1f ns/span, ratio %.1fx\n",
          ours, write, write / ours);
  printf ("encoder: ours %.1f ns/span, c_glib build structs + write %.1f ns/span, ratio %.1fx\n",
          ours, build, build / ours);
  printf ("encoder: medians of %d runs (checksum %" G_GUINT64_FORMAT ")\n",
          REPETITIONS, (guint64) sink);
  return 0;
}
