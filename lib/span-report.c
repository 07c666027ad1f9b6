/* span-report.c: a finished action's span, encoded and handed to a
 * tracer's queue
 *
 * SPDX-License-Identifier: MIT
 *
 * See span-report-private.h.
 */

#include <string.h>

#include "span-report-private.h"
#include "sync-private.h"

/* Where a finishing thread encodes its span, on its stack: big enough for
 * nearly every span, so encoding allocates only for unusually large ones.
 * Not a thread-local: the library's thread-locals are few bytes, so that
 * they fit the C library's reserve for a library loaded with dlopen() in
 * the initial-exec model (see GLUETOOL_THREAD_LOCAL). */
#define SCRATCH_BYTES 2048

/* The default sampler's tags, which other clients put on every root span:
 * sampler.type = "const" and sampler.param = true. Encoded once. */
static GluetoolEncodedList
get_const_sampler_tags (void)
{
  static guint8 storage[64];
  static GluetoolEncodedList sampler_tags;
  static gsize initialized = 0;

  if (GLUETOOL_ONCE_INIT_ENTER (&initialized))
    {
      GluetoolBuffer buffer;

      gluetool_buffer_init (&buffer, storage, sizeof storage);
      gluetool_encode_tag_string (&buffer, "sampler.type", strlen ("sampler.type"),
                                  "const", strlen ("const"));
      gluetool_encode_tag_bool (&buffer, "sampler.param", strlen ("sampler.param"), TRUE);
      g_assert (buffer.data == storage);
      sampler_tags = (GluetoolEncodedList) { storage, buffer.len, 2 };
      GLUETOOL_ONCE_INIT_LEAVE (&initialized, 1);
    }
  return sampler_tags;
}

/* A sampled root's sampler.type and sampler.param, as jaeger-client-go
 * sends them: the param a bool for const, a double otherwise. Encoded into
 * @buffer, unless it is the default sampler's. */
static GluetoolEncodedList
get_sampler_tags (GluetoolSamplerTag  sampler_tag,
                  double              sampler_param,
                  GluetoolBuffer     *buffer)
{
  const char *type;

  if (G_LIKELY (sampler_tag == GLUETOOL_SAMPLER_TAG_CONST))
    return get_const_sampler_tags ();
  type = gluetool_sampler_tag_name (sampler_tag);
  gluetool_encode_tag_string (buffer, "sampler.type", strlen ("sampler.type"),
                              type, strlen (type));
  gluetool_encode_tag_double (buffer, "sampler.param", strlen ("sampler.param"),
                              sampler_param);
  return (GluetoolEncodedList) { buffer->data, buffer->len, 2 };
}

void
gluetool_span_report (GluetoolTracer     *tracer,
                      GluetoolSpanFields *span,
                      GluetoolSamplerTag  sampler_tag,
                      double              sampler_param)
{
  guint8 sampler_tags_storage[64];
  guint8 scratch_storage[SCRATCH_BYTES];
  GluetoolBuffer sampler_tags;
  GluetoolBuffer buffer;

  if (span->parent_span_id == 0)
    {
      gluetool_buffer_init (&sampler_tags, sampler_tags_storage, sizeof sampler_tags_storage);
      span->tags_head = get_sampler_tags (sampler_tag, sampler_param, &sampler_tags);
    }

  gluetool_buffer_init (&buffer, scratch_storage, sizeof scratch_storage);
  gluetool_encode_span (&buffer, span);
  gluetool_tracer_report_span_mp (tracer, buffer.data, buffer.len);
  gluetool_buffer_clear (&buffer);
  if (span->parent_span_id == 0)
    gluetool_buffer_clear (&sampler_tags);
}
