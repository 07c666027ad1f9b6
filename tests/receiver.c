/* receiver.c: a Jaeger agent stand-in for tests
 *
 * SPDX-License-Identifier: MIT
 */

#include <check.h>
#include <string.h>
#include <sys/socket.h>

#include "receiver.h"
#include "sync-private.h"

/* Larger than any datagram, so a too-large one shows up as such. */
#define RECEIVE_BUFFER_BYTES 70000

struct _TestReceiver {
  GSocket      *socket;        /* (owned) */
  GCancellable *cancellable;   /* (owned) stops the thread */
  GThread      *thread;        /* (owned) */
  guint16       port;

  GMutex        lock;
  GCond         arrived;
  GPtrArray    *datagrams;     /* (element-type TestDatagram) (owned) under @lock */
  GPtrArray    *spans;         /* (element-type JaegerSpan) borrowed from the batches */
  guint         n_bad;
};

static void
test_datagram_free (gpointer data)
{
  TestDatagram *datagram = data;

  g_bytes_unref (datagram->bytes);
  g_clear_object (&datagram->batch);
  g_free (datagram);
}

static gpointer
receive_thread (gpointer data)
{
  TestReceiver *self = data;
  g_autofree guint8 *buffer = g_malloc (RECEIVE_BUFFER_BYTES);

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) decode_error = NULL;
      TestDatagram *datagram;
      gssize received;

      received = g_socket_receive (self->socket, (char *) buffer, RECEIVE_BUFFER_BYTES,
                                   self->cancellable, &error);
      if (received < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            break;
          continue;
        }

      datagram = g_new0 (TestDatagram, 1);
      datagram->bytes = g_bytes_new (buffer, (gsize) received);
      datagram->batch = gluetool_reference_decode_datagram (buffer, (gsize) received,
                                                            &datagram->seqid,
                                                            &datagram->message_type,
                                                            &decode_error);

      gluetool_mutex_lock (&self->lock);
      g_ptr_array_add (self->datagrams, datagram);
      if (datagram->batch == NULL)
        self->n_bad++;
      else
        for (guint i = 0; i < datagram->batch->spans->len; i++)
          g_ptr_array_add (self->spans, g_ptr_array_index (datagram->batch->spans, i));
      g_cond_broadcast (&self->arrived);
      gluetool_mutex_unlock (&self->lock);
    }
  return NULL;
}

TestReceiver *
test_receiver_new (const char *address)
{
  return test_receiver_new_on_port (address, 0);
}

TestReceiver *
test_receiver_new_on_port (const char *address,
                           guint16     port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);
  g_autoptr(GSocketAddress) bind_address = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  TestReceiver *self;
  int buffer_size = 32 * 1024 * 1024;

  g_assert_nonnull (inet);
  self = g_new0 (TestReceiver, 1);
  self->socket = g_socket_new (g_inet_address_get_family (inet), G_SOCKET_TYPE_DATAGRAM,
                               G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);

  /* A test must not lose datagrams in its own receiver. SO_RCVBUFFORCE goes
   * past rmem_max when running as root; SO_RCVBUF is the fallback. */
  if (setsockopt (g_socket_get_fd (self->socket), SOL_SOCKET, SO_RCVBUFFORCE,
                  &buffer_size, sizeof buffer_size) != 0)
    setsockopt (g_socket_get_fd (self->socket), SOL_SOCKET, SO_RCVBUF,
                &buffer_size, sizeof buffer_size);

  bind_address = g_inet_socket_address_new (inet, port);
  g_socket_bind (self->socket, bind_address, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (self->socket, &error);
  g_assert_no_error (error);
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  g_mutex_init (&self->lock);
  g_cond_init (&self->arrived);
  self->datagrams = g_ptr_array_new_with_free_func (test_datagram_free);
  self->spans = g_ptr_array_new ();
  self->cancellable = g_cancellable_new ();
  self->thread = g_thread_new ("test-receiver", receive_thread, self);
  return self;
}

void
test_receiver_free (TestReceiver *self)
{
  g_cancellable_cancel (self->cancellable);
  g_thread_join (self->thread);
  g_ptr_array_unref (self->spans);
  g_ptr_array_unref (self->datagrams);
  g_object_unref (self->cancellable);
  g_object_unref (self->socket);
  g_cond_clear (&self->arrived);
  g_mutex_clear (&self->lock);
  g_free (self);
}

guint16
test_receiver_get_port (TestReceiver *self)
{
  return self->port;
}

static guint
wait_for (TestReceiver *self,
          GPtrArray    *array,
          guint         n,
          double        timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);
  guint len;

  gluetool_mutex_lock (&self->lock);
  while (array->len < n)
    if (!gluetool_cond_wait_until (&self->arrived, &self->lock, deadline)
        && g_get_monotonic_time () >= deadline)
      break;
  len = array->len;
  gluetool_mutex_unlock (&self->lock);
  return len;
}

guint
test_receiver_wait_for_spans (TestReceiver *self,
                              guint         n_spans,
                              double        timeout_s)
{
  return wait_for (self, self->spans, n_spans, timeout_s);
}

guint
test_receiver_wait_for_datagrams (TestReceiver *self,
                                  guint         n,
                                  double        timeout_s)
{
  return wait_for (self, self->datagrams, n, timeout_s);
}

guint
test_receiver_get_n_spans (TestReceiver *self)
{
  guint n;

  gluetool_mutex_lock (&self->lock);
  n = self->spans->len;
  gluetool_mutex_unlock (&self->lock);
  return n;
}

guint
test_receiver_get_n_bad (TestReceiver *self)
{
  guint n;

  gluetool_mutex_lock (&self->lock);
  n = self->n_bad;
  gluetool_mutex_unlock (&self->lock);
  return n;
}

static GPtrArray *
copy_array (TestReceiver *self,
            GPtrArray    *array)
{
  GPtrArray *copy;

  gluetool_mutex_lock (&self->lock);
  copy = g_ptr_array_copy (array, NULL, NULL);
  gluetool_mutex_unlock (&self->lock);
  /* The copy inherits the free function; its elements are borrowed. */
  g_ptr_array_set_free_func (copy, NULL);
  return copy;
}

GPtrArray *
test_receiver_get_datagrams (TestReceiver *self)
{
  return copy_array (self, self->datagrams);
}

GPtrArray *
test_receiver_get_spans (TestReceiver *self)
{
  return copy_array (self, self->spans);
}

JaegerSpan *
test_receiver_find_span (TestReceiver *self,
                         const char   *name)
{
  JaegerSpan *found = NULL;

  gluetool_mutex_lock (&self->lock);
  for (guint i = 0; i < self->spans->len && found == NULL; i++)
    {
      JaegerSpan *span = g_ptr_array_index (self->spans, i);

      if (g_strcmp0 (span->operationName, name) == 0)
        found = span;
    }
  gluetool_mutex_unlock (&self->lock);
  return found;
}

JaegerTag *
test_find_tag (GPtrArray  *tags,
               const char *key)
{
  for (guint i = 0; tags != NULL && i < tags->len; i++)
    {
      JaegerTag *tag = g_ptr_array_index (tags, i);

      if (g_strcmp0 (tag->key, key) == 0)
        return tag;
    }
  return NULL;
}

JaegerSpan *
test_receiver_expect_span (TestReceiver *self,
                           const char   *name)
{
  JaegerSpan *span = test_receiver_find_span (self, name);

  ck_assert_msg (span != NULL, "span '%s' did not arrive", name);
  return span;
}

JaegerTag *
test_expect_tag (JaegerSpan *span,
                 const char *key)
{
  JaegerTag *tag = test_find_tag (span->tags, key);

  ck_assert_msg (tag != NULL, "span '%s' has no tag '%s'", span->operationName, key);
  return tag;
}
