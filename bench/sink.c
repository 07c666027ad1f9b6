/* sink.c: a Jaeger agent stand-in for the benchmarks
 *
 * SPDX-License-Identifier: MIT
 */

#include "sink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "measure.h"

/* The largest UDP payload, plus one so that an oversized datagram would show
 * as truncated rather than pass for a whole one. */
#define RECEIVE_BYTES (65507 + 1)
#define RECEIVE_BUFFER_BYTES (64 * 1024 * 1024)

struct _BenchSink {
  int              fd;
  guint16          port;
  gboolean         keep_datagrams;
  GThread         *thread;           /* (owned) (nullable) once joined */

  /* Set by the sink thread before bench_sink_new() returns (the handshake
   * below orders it), read by any thread afterwards. */
  clockid_t        cpu_clock;
  GMutex           lock;
  GCond            started_cond;
  gboolean         started;          /* (under lock) */

  /* Written by the sink thread, read by any: relaxed, they are counters and
   * nothing else is published through them. */
  _Atomic guint64  n_datagrams;
  _Atomic guint64  n_spans;
  _Atomic guint64  n_bad;
  _Atomic guint64  kernel_drops;
  _Atomic gint64   last_arrival_ns;

  /* Set before the stop datagram is sent; the sink thread reads it when an
   * empty datagram arrives. */
  atomic_bool      stopping;
  atomic_bool      stopped;          /* set by the sink thread as it leaves */

  GPtrArray       *datagrams;        /* (element-type GBytes) (owned) the sink thread's until joined */
};

/* ---- Counting spans ------------------------------------------------------ */

/* Just enough of the Thrift compact protocol to step over the Process and
 * find the size of the Batch's list<Span>. Sizes are checked against the
 * end of the datagram, so a malformed one is counted as bad, never read past. */

enum {
  CT_STOP = 0, CT_TRUE = 1, CT_FALSE = 2, CT_BYTE = 3, CT_I16 = 4, CT_I32 = 5,
  CT_I64 = 6, CT_DOUBLE = 7, CT_BINARY = 8, CT_LIST = 9, CT_SET = 10,
  CT_MAP = 11, CT_STRUCT = 12,
};

/* Deep enough for any jaeger.thrift value; a bound so a hostile datagram
 * cannot exhaust the stack. */
#define MAX_DEPTH 16

typedef struct {
  const guint8 *p;
  const guint8 *end;
} Reader;

static gboolean
read_byte (Reader *r,
           guint8 *byte)
{
  if (r->p >= r->end)
    return FALSE;
  *byte = *r->p++;
  return TRUE;
}

static gboolean
read_varint (Reader  *r,
             guint64 *value)
{
  guint64 v = 0;

  for (guint shift = 0; shift < 64; shift += 7)
    {
      guint8 byte;

      if (!read_byte (r, &byte))
        return FALSE;
      v |= (guint64) (byte & 0x7f) << shift;
      if ((byte & 0x80) == 0)
        {
          *value = v;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
skip_bytes (Reader  *r,
            guint64  n)
{
  if (n > (guint64) (r->end - r->p))
    return FALSE;
  r->p += n;
  return TRUE;
}

static gboolean skip_struct (Reader *r, guint depth);

/* A value of compact @type. Booleans are in the field header when they are
 * fields, but take a byte each as container elements. */
static gboolean
skip_value (Reader   *r,
            guint     type,
            gboolean  in_container,
            guint     depth)
{
  guint64 n;
  guint8 header;

  if (depth > MAX_DEPTH)
    return FALSE;

  switch (type)
    {
    case CT_TRUE:
    case CT_FALSE:
      return in_container ? skip_bytes (r, 1) : TRUE;
    case CT_BYTE:
      return skip_bytes (r, 1);
    case CT_I16:
    case CT_I32:
    case CT_I64:
      return read_varint (r, &n);
    case CT_DOUBLE:
      return skip_bytes (r, 8);
    case CT_BINARY:
      return read_varint (r, &n) && skip_bytes (r, n);
    case CT_LIST:
    case CT_SET:
      if (!read_byte (r, &header))
        return FALSE;
      n = header >> 4;
      if (n == 15 && !read_varint (r, &n))
        return FALSE;
      for (guint64 i = 0; i < n; i++)
        if (!skip_value (r, header & 0x0f, TRUE, depth + 1))
          return FALSE;
      return TRUE;
    case CT_MAP:
      if (!read_varint (r, &n))
        return FALSE;
      if (n == 0)
        return TRUE;
      if (!read_byte (r, &header))
        return FALSE;
      for (guint64 i = 0; i < n; i++)
        if (!skip_value (r, header >> 4, TRUE, depth + 1)
            || !skip_value (r, header & 0x0f, TRUE, depth + 1))
          return FALSE;
      return TRUE;
    case CT_STRUCT:
      return skip_struct (r, depth + 1);
    default:
      return FALSE;
    }
}

/* Reads a field header: FALSE at the struct's stop byte or on bad input. */
static gboolean
read_field_header (Reader   *r,
                   gint64   *field_id,
                   guint    *type,
                   gboolean *ok)
{
  guint8 byte;
  guint64 zigzag;

  *ok = FALSE;
  if (!read_byte (r, &byte))
    return FALSE;
  if (byte == CT_STOP)
    {
      *ok = TRUE;
      return FALSE;
    }
  *type = byte & 0x0f;
  if ((byte >> 4) != 0)
    *field_id += byte >> 4;
  else if (read_varint (r, &zigzag))
    *field_id = (gint64) (zigzag >> 1) ^ -(gint64) (zigzag & 1);
  else
    return FALSE;
  *ok = TRUE;
  return TRUE;
}

static gboolean
skip_struct (Reader *r,
             guint   depth)
{
  gint64 field_id = 0;
  guint type;
  gboolean ok;

  while (read_field_header (r, &field_id, &type, &ok))
    if (!skip_value (r, type, FALSE, depth))
      return FALSE;
  return ok;
}

gint64
bench_count_spans_in_datagram (const guint8 *data,
                               gsize         len)
{
  Reader r = { data, data + len };
  guint8 byte;
  guint64 n;
  gint64 field_id = 0;
  guint type;
  gboolean ok;

  /* Message: protocol id, (type << 5) | version (ONEWAY or CALL, version 1),
   * seqid, name. */
  if (!read_byte (&r, &byte) || byte != 0x82)
    return -1;
  if (!read_byte (&r, &byte) || (byte != 0x81 && byte != 0x21))
    return -1;
  if (!read_varint (&r, &n) || !read_varint (&r, &n) || n != strlen ("emitBatch")
      || (gsize) (r.end - r.p) < n || memcmp (r.p, "emitBatch", n) != 0)
    return -1;
  r.p += n;

  /* emitBatch_args: field 1, the Batch. */
  if (!read_field_header (&r, &field_id, &type, &ok) || field_id != 1 || type != CT_STRUCT)
    return -1;

  /* Batch: step over everything up to field 2, list<Span>. */
  field_id = 0;
  while (read_field_header (&r, &field_id, &type, &ok))
    {
      if (field_id == 2 && type == CT_LIST)
        {
          if (!read_byte (&r, &byte) || (byte & 0x0f) != CT_STRUCT)
            return -1;
          n = byte >> 4;
          if (n == 15 && !read_varint (&r, &n))
            return -1;
          return n <= G_MAXINT64 ? (gint64) n : -1;
        }
      if (!skip_value (&r, type, FALSE, 1))
        return -1;
    }
  return -1;
}

/* ---- The thread -------------------------------------------------------- */

static gpointer
sink_thread (gpointer data)
{
  BenchSink *self = data;
  guint8 *buffer = g_malloc (RECEIVE_BYTES);
  union {
    char buf[CMSG_SPACE (sizeof (guint32))];
    struct cmsghdr align;
  } control;

  g_mutex_lock (&self->lock);
  pthread_getcpuclockid (pthread_self (), &self->cpu_clock);
  self->started = TRUE;
  g_cond_signal (&self->started_cond);
  g_mutex_unlock (&self->lock);

  for (;;)
    {
      struct iovec iov = { buffer, RECEIVE_BYTES };
      struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof control.buf,
      };
      ssize_t n = recvmsg (self->fd, &msg, 0);
      gint64 n_spans;

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          g_printerr ("sink: recvmsg: %s\n", g_strerror (errno));
          break;
        }

      /* The kernel's drop count rides on every datagram read, the stop
       * datagram too, so drops after the last real one are still seen. */
      for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
          {
            guint32 drops;

            memcpy (&drops, CMSG_DATA (c), sizeof drops);
            atomic_store_explicit (&self->kernel_drops, drops, memory_order_relaxed);
          }

      if (n == 0)
        {
          /* Acquire pairs with the release in bench_sink_stop(). */
          if (atomic_load_explicit (&self->stopping, memory_order_acquire))
            break;
          continue;
        }

      n_spans = (msg.msg_flags & MSG_TRUNC) != 0 ? -1
                : bench_count_spans_in_datagram (buffer, (gsize) n);
      if (n_spans < 0)
        atomic_fetch_add_explicit (&self->n_bad, 1, memory_order_relaxed);
      else
        atomic_fetch_add_explicit (&self->n_spans, (guint64) n_spans, memory_order_relaxed);
      if (self->keep_datagrams)
        g_ptr_array_add (self->datagrams, g_bytes_new (buffer, (gsize) n));
      atomic_store_explicit (&self->last_arrival_ns, bench_monotonic_ns (), memory_order_relaxed);
      atomic_fetch_add_explicit (&self->n_datagrams, 1, memory_order_relaxed);
    }

  g_free (buffer);
  atomic_store_explicit (&self->stopped, true, memory_order_release);
  return NULL;
}

/* ---- Public ------------------------------------------------------------ */

BenchSink *
bench_sink_new (gboolean keep_datagrams)
{
  BenchSink *self = g_new0 (BenchSink, 1);
  struct sockaddr_in address = {
    .sin_family = AF_INET,
    .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
    .sin_port = 0,
  };
  socklen_t address_len = sizeof address;
  int size = RECEIVE_BUFFER_BYTES;
  int one = 1;

  self->fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (self->fd < 0)
    g_error ("sink: socket: %s", g_strerror (errno));
  /* SO_RCVBUFFORCE goes past rmem_max when the process may (as root);
   * otherwise the largest the system allows. */
  if (setsockopt (self->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt (self->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt (self->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  if (bind (self->fd, (struct sockaddr *) &address, sizeof address) != 0
      || getsockname (self->fd, (struct sockaddr *) &address, &address_len) != 0)
    g_error ("sink: bind: %s", g_strerror (errno));
  self->port = ntohs (address.sin_port);
  self->keep_datagrams = keep_datagrams;
  self->datagrams = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  atomic_init (&self->stopping, false);
  atomic_init (&self->stopped, false);

  g_mutex_init (&self->lock);
  g_cond_init (&self->started_cond);
  self->thread = g_thread_new ("bench-sink", sink_thread, self);
  g_mutex_lock (&self->lock);
  while (!self->started)
    g_cond_wait (&self->started_cond, &self->lock);
  g_mutex_unlock (&self->lock);
  return self;
}

guint16
bench_sink_get_port (BenchSink *self)
{
  return self->port;
}

guint64
bench_sink_get_n_datagrams (BenchSink *self)
{
  return atomic_load_explicit (&self->n_datagrams, memory_order_relaxed);
}

guint64
bench_sink_get_n_spans (BenchSink *self)
{
  return atomic_load_explicit (&self->n_spans, memory_order_relaxed);
}

guint64
bench_sink_get_n_bad (BenchSink *self)
{
  return atomic_load_explicit (&self->n_bad, memory_order_relaxed);
}

guint64
bench_sink_get_kernel_drops (BenchSink *self)
{
  return atomic_load_explicit (&self->kernel_drops, memory_order_relaxed);
}

gint64
bench_sink_get_last_arrival_ns (BenchSink *self)
{
  return atomic_load_explicit (&self->last_arrival_ns, memory_order_relaxed);
}

gint64
bench_sink_get_cpu_ns (BenchSink *self)
{
  struct timespec ts;

  g_return_val_if_fail (self->thread != NULL, 0);

  clock_gettime (self->cpu_clock, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

gboolean
bench_sink_wait_for_datagrams (BenchSink *self,
                               guint64    n_datagrams,
                               double     timeout_s)
{
  gint64 deadline = bench_monotonic_ns () + (gint64) (timeout_s * 1e9);

  while (bench_sink_get_n_datagrams (self) < n_datagrams)
    {
      if (bench_monotonic_ns () >= deadline)
        return FALSE;
      g_usleep (500);
    }
  return TRUE;
}

void
bench_sink_stop (BenchSink *self)
{
  struct sockaddr_in address = {
    .sin_family = AF_INET,
    .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
    .sin_port = htons (self->port),
  };
  int fd;

  if (self->thread == NULL)
    return;

  /* An empty datagram wakes the blocked recvmsg(); no tracer sends one. It
   * is sent again now and then until the thread has gone, in case a full
   * receive buffer dropped it. */
  atomic_store_explicit (&self->stopping, true, memory_order_release);
  fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    g_error ("sink: socket: %s", g_strerror (errno));
  do
    {
      if (sendto (fd, "", 0, 0, (struct sockaddr *) &address, sizeof address) != 0)
        g_error ("sink: cannot send the stop datagram: %s", g_strerror (errno));
      for (guint i = 0; i < 100 && !atomic_load_explicit (&self->stopped, memory_order_acquire); i++)
        g_usleep (1000);
    }
  while (!atomic_load_explicit (&self->stopped, memory_order_acquire));
  close (fd);
  g_thread_join (g_steal_pointer (&self->thread));
}

GPtrArray *
bench_sink_get_datagrams (BenchSink *self)
{
  g_return_val_if_fail (self->thread == NULL, NULL);

  return self->datagrams;
}

void
bench_sink_free (BenchSink *self)
{
  bench_sink_stop (self);
  close (self->fd);
  g_ptr_array_unref (self->datagrams);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->started_cond);
  g_free (self);
}
