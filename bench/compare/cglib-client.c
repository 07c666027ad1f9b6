/* cglib-client.c: the comparison's workload through plain Apache Thrift c_glib
 *
 * SPDX-License-Identifier: MIT
 *
 * Usage: cglib-client N HOST PORT
 *
 * The baseline: what a C programmer would write to report spans to a Jaeger
 * agent without this library, using the structs Apache Thrift generates from
 * jaeger.thrift and its ThriftCompactProtocol. Simple, single-threaded, not
 * deliberately slow and not tuned:
 *
 *  - a span is a JaegerSpan with a JaegerTag per tag, filled field by field;
 *  - when it finishes, the generated writer encodes it into a
 *    ThriftMemoryBuffer that collects the spans of the next datagram (a
 *    Span struct is a valid list element on its own), and the struct is
 *    freed;
 *  - when the next span would take the datagram past 65000 bytes, the
 *    datagram is written into a second ThriftMemoryBuffer: the emitBatch
 *    message header, the Batch with the generated Process writer, the list
 *    header, the collected span bytes, and it goes out with one sendto();
 *  - whatever is left is sent at the end.
 *
 * No seqNo and no ClientStats: the plain client the issue describes does not
 * send them.
 */

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#include "reference.h"
#include "driver-args.h"

#define MAX_DATAGRAM_SIZE 65000

typedef struct {
  int                      fd;
  struct sockaddr_storage  address;
  socklen_t                address_len;

  JaegerProcess           *process;            /* (owned) */
  ThriftMemoryBuffer      *spans;              /* (owned) encoded spans of the next datagram */
  ThriftProtocol          *spans_protocol;     /* (owned) writes into spans */
  guint                    n_spans;            /* spans in spans */
  ThriftMemoryBuffer      *datagram;           /* (owned) */
  ThriftProtocol          *datagram_protocol;  /* (owned) writes into datagram */
  gsize                    envelope_size;      /* a datagram's bytes besides its spans */

  guint64                  datagrams_sent;
  guint64                  spans_sent;
  guint64                  spans_lost;
} Reporter;

typedef struct {
  JaegerSpan *span;           /* (owned) */
  gint64      start_monotonic;
} Span;

static ThriftProtocol *
compact_protocol_new (ThriftMemoryBuffer *buffer)
{
  return g_object_new (THRIFT_TYPE_COMPACT_PROTOCOL, "transport", buffer, NULL);
}

static gint64
random_id (void)
{
  guint64 id;

  do
    id = ((guint64) g_random_int () << 32) | g_random_int ();
  while (id == 0);
  return (gint64) id;
}

static JaegerTag *
tag_new_string (const char *key,
                const char *value)
{
  JaegerTag *tag = g_object_new (JAEGER_TYPE_TAG, NULL);

  tag->key = g_strdup (key);
  tag->vType = JAEGER_TAG_TYPE_STRING;
  tag->vStr = g_strdup (value);
  tag->__isset_vStr = TRUE;
  return tag;
}

/* Writes everything of a datagram but the spans' bytes; n_spans only sizes
 * the list header. */
static gboolean
write_datagram (Reporter     *self,
                const guint8 *span_bytes,
                guint32       span_bytes_len,
                guint         n_spans,
                GError      **error)
{
  ThriftProtocol *p = self->datagram_protocol;

  g_byte_array_set_size (self->datagram->buf, 0);
  return thrift_protocol_write_message_begin (p, "emitBatch", T_ONEWAY, 0, error) >= 0
         && thrift_protocol_write_struct_begin (p, "emitBatch_args", error) >= 0
         && thrift_protocol_write_field_begin (p, "batch", T_STRUCT, 1, error) >= 0
         && thrift_protocol_write_struct_begin (p, "Batch", error) >= 0
         && thrift_protocol_write_field_begin (p, "process", T_STRUCT, 1, error) >= 0
         && thrift_struct_write (THRIFT_STRUCT (self->process), p, error) >= 0
         && thrift_protocol_write_field_end (p, error) >= 0
         && thrift_protocol_write_field_begin (p, "spans", T_LIST, 2, error) >= 0
         && thrift_protocol_write_list_begin (p, T_STRUCT, (gint32) n_spans, error) >= 0
         && (span_bytes_len == 0
             || thrift_transport_write (p->transport, (gpointer) span_bytes, span_bytes_len, error))
         && thrift_protocol_write_list_end (p, error) >= 0
         && thrift_protocol_write_field_end (p, error) >= 0
         && thrift_protocol_write_field_stop (p, error) >= 0
         && thrift_protocol_write_struct_end (p, error) >= 0
         && thrift_protocol_write_field_end (p, error) >= 0
         && thrift_protocol_write_field_stop (p, error) >= 0
         && thrift_protocol_write_struct_end (p, error) >= 0
         && thrift_protocol_write_message_end (p, error) >= 0;
}

/* Sends the first @len bytes of the collected spans, which hold @n_spans. */
static void
reporter_send (Reporter *self,
               guint32   len,
               guint     n_spans)
{
  g_autoptr(GError) error = NULL;

  if (n_spans == 0)
    return;

  if (!write_datagram (self, self->spans->buf->data, len, n_spans, &error))
    {
      g_printerr ("cglib-client: cannot encode a batch: %s\n", error->message);
      self->spans_lost += n_spans;
    }
  else if (sendto (self->fd, self->datagram->buf->data, self->datagram->buf->len, 0,
                   (struct sockaddr *) &self->address, self->address_len) < 0)
    {
      g_printerr ("cglib-client: sendto: %s\n", g_strerror (errno));
      self->spans_lost += n_spans;
    }
  else
    {
      self->datagrams_sent++;
      self->spans_sent += n_spans;
    }

  g_byte_array_remove_range (self->spans->buf, 0, len);
}

static gboolean
reporter_init (Reporter    *self,
               const char  *host,
               guint16      port,
               GError     **error)
{
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
  struct addrinfo *found = NULL;
  g_autofree char *service = g_strdup_printf ("%u", port);
  int ret;

  ret = getaddrinfo (host, service, &hints, &found);
  if (ret != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: %s", host, gai_strerror (ret));
      return FALSE;
    }
  self->fd = socket (found->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  memcpy (&self->address, found->ai_addr, found->ai_addrlen);
  self->address_len = found->ai_addrlen;
  freeaddrinfo (found);
  if (self->fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "socket: %s", g_strerror (errno));
      return FALSE;
    }

  self->process = g_object_new (JAEGER_TYPE_PROCESS, NULL);
  self->process->serviceName = g_strdup ("bench-compare");
  g_ptr_array_add (self->process->tags, tag_new_string ("jaeger.version", "C-cglib-baseline"));
  self->process->__isset_tags = TRUE;

  /* Room for a datagram's spans and one more that may not fit. */
  self->spans = g_object_new (THRIFT_TYPE_MEMORY_BUFFER, "buf_size", 2 * MAX_DATAGRAM_SIZE, NULL);
  self->spans_protocol = compact_protocol_new (self->spans);
  self->datagram = g_object_new (THRIFT_TYPE_MEMORY_BUFFER, "buf_size", MAX_DATAGRAM_SIZE, NULL);
  self->datagram_protocol = compact_protocol_new (self->datagram);

  /* An empty batch, plus the 4 more bytes a list header can take past 14
   * elements, is what every datagram holds besides its spans. */
  if (!write_datagram (self, NULL, 0, 0, error))
    return FALSE;
  self->envelope_size = self->datagram->buf->len + 4;
  return TRUE;
}

static void
reporter_report (Reporter   *self,
                 JaegerSpan *span)
{
  g_autoptr(GError) error = NULL;
  guint32 before = self->spans->buf->len;

  if (thrift_struct_write (THRIFT_STRUCT (span), self->spans_protocol, &error) < 0)
    {
      g_printerr ("cglib-client: cannot encode a span: %s\n", error->message);
      g_byte_array_set_size (self->spans->buf, before);
      self->spans_lost++;
      return;
    }

  if (self->envelope_size + self->spans->buf->len > MAX_DATAGRAM_SIZE)
    {
      /* Too big with this span: send the spans before it, which leaves
       * this one alone in the buffer. */
      reporter_send (self, before, self->n_spans);
      self->n_spans = 0;
      if (self->envelope_size + self->spans->buf->len > MAX_DATAGRAM_SIZE)
        {
          g_printerr ("cglib-client: a span of %u bytes does not fit a datagram\n",
                      self->spans->buf->len);
          g_byte_array_set_size (self->spans->buf, 0);
          self->spans_lost++;
          return;
        }
    }
  self->n_spans++;
}

static void
reporter_finish (Reporter *self)
{
  reporter_send (self, self->spans->buf->len, self->n_spans);
  self->n_spans = 0;
  g_clear_object (&self->spans_protocol);
  g_clear_object (&self->spans);
  g_clear_object (&self->datagram_protocol);
  g_clear_object (&self->datagram);
  g_clear_object (&self->process);
  if (self->fd >= 0)
    close (self->fd);
  self->fd = -1;
}

static void
span_start (Span       *span,
            const char *operation_name,
            const Span *parent)
{
  JaegerSpan *s = g_object_new (JAEGER_TYPE_SPAN, NULL);

  s->operationName = g_strdup (operation_name);
  s->spanId = random_id ();
  if (parent != NULL)
    {
      s->traceIdLow = parent->span->traceIdLow;
      s->traceIdHigh = parent->span->traceIdHigh;
      s->parentSpanId = parent->span->spanId;
    }
  else
    {
      s->traceIdLow = random_id ();
      s->traceIdHigh = random_id ();
    }
  s->flags = 1;  /* sampled */
  s->startTime = g_get_real_time ();
  span->start_monotonic = g_get_monotonic_time ();
  span->span = s;
}

static void
span_set_tag_string (Span       *span,
                     const char *key,
                     const char *value)
{
  g_ptr_array_add (span->span->tags, tag_new_string (key, value));
  span->span->__isset_tags = TRUE;
}

static void
span_set_tag_int64 (Span       *span,
                    const char *key,
                    gint64      value)
{
  JaegerTag *tag = g_object_new (JAEGER_TYPE_TAG, NULL);

  tag->key = g_strdup (key);
  tag->vType = JAEGER_TAG_TYPE_LONG;
  tag->vLong = value;
  tag->__isset_vLong = TRUE;
  g_ptr_array_add (span->span->tags, tag);
  span->span->__isset_tags = TRUE;
}

static void
span_set_tag_boolean (Span       *span,
                      const char *key,
                      gboolean    value)
{
  JaegerTag *tag = g_object_new (JAEGER_TYPE_TAG, NULL);

  tag->key = g_strdup (key);
  tag->vType = JAEGER_TAG_TYPE_BOOL;
  tag->vBool = value;
  tag->__isset_vBool = TRUE;
  g_ptr_array_add (span->span->tags, tag);
  span->span->__isset_tags = TRUE;
}

static void
span_finish (Span     *span,
             Reporter *reporter)
{
  span->span->duration = g_get_monotonic_time () - span->start_monotonic;
  reporter_report (reporter, span->span);
  g_clear_object (&span->span);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  Reporter reporter = { .fd = -1 };
  DriverArgs args;
  Span root;

  if (!driver_args_parse (argc, argv, &args, &error))
    {
      g_printerr ("usage: %s N HOST PORT: %s\n", argv[0], error->message);
      return 2;
    }

  /* The generated structs' finalizers forget to chain up to GObject's and
   * leak about 48 bytes per struct freed; the project's reference codec
   * mends the classes, as anyone who ran this under valgrind would. */
  gluetool_reference_init ();

  if (!reporter_init (&reporter, args.host, args.port, &error))
    {
      g_printerr ("cglib-client: %s\n", error->message);
      return 1;
    }

  span_start (&root, "root", NULL);
  for (guint i = 0; i < args.n_spans; i++)
    {
      Span span;

      span_start (&span, "bench span", &root);
      span_set_tag_string (&span, "component", "bench");
      span_set_tag_int64 (&span, "i", i);
      span_set_tag_boolean (&span, "ok", TRUE);
      span_finish (&span, &reporter);
    }
  span_finish (&root, &reporter);
  reporter_finish (&reporter);

  if (reporter.spans_lost > 0)
    g_printerr ("cglib-client: %" G_GUINT64_FORMAT " spans lost\n", reporter.spans_lost);
  return EXIT_SUCCESS;
}
