/* trace-listen.c: `gluetool-trace listen`: a Jaeger agent stand-in that
 * shows what arrives
 *
 * SPDX-License-Identifier: MIT
 *
 * Two threads. The reader thread (trace-receiver.c) only takes datagrams
 * off the socket into memory, as fast as they come, so that decoding speed
 * never makes the kernel drop. The main thread runs one GMainLoop: the
 * receiver's source hands it what was read, a deadline source prints
 * traces that went quiet and stops an idle receiver, and SIGINT/SIGTERM
 * stop it cleanly (what was read decoded, files written, summary printed).
 * Nothing a datagram says can make the loop block or allocate without
 * bound: what waits to be decoded is bounded by --max-buffer-size,
 * decoding by the datagram's size, the store by --max-spans, and reports
 * of bad datagrams by a rate limit. Every datagram lost on the way in
 * (dropped by the kernel, or over the memory bound) is counted, warned
 * about and in the summary.
 *
 * A receiver that prints no span and writes no file (--quiet) only counts:
 * it reads compact datagrams in place with trace-scan.c, and leaves the
 * reference codec the rest (and the say on anything unusual).
 */

#include "trace-listen.h"

#include "trace-decode.h"
#include "trace-format-html.h"
#include "trace-format-json.h"
#include "trace-format-tree.h"
#include "trace-receiver.h"
#include "trace-scan.h"
#include "trace-store.h"
#include "trace-text.h"
#ifdef GLUETOOL_TRACE_HAVE_SOUP
#include "trace-http.h"
#include "trace-sampling.h"
#endif

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 6831
#define DEFAULT_MAX_SPANS 50000
#define DEFAULT_SETTLE_S 1.0

/* Jaeger's ports; -1 in the options means "not given". */
#define DEFAULT_HTTP_PORT 14268
#define DEFAULT_SAMPLING_PORT 5778
#define PORT_NOT_GIVEN (-1)

/* --max-http-body's default (16 MiB), and the most it may be: libsoup
 * gathers bodies in a GByteArray (guint lengths), and Thrift sizes are
 * signed 32-bit. */
#define DEFAULT_MAX_HTTP_BODY (16 * 1024 * 1024)
#define MAX_HTTP_BODY_LIMIT G_MAXINT32
/* --max-http-connections and --http-idle-timeout: their defaults, and the
 * most each may be. */
#define DEFAULT_MAX_HTTP_CONNECTIONS 32
#define MAX_HTTP_CONNECTIONS_LIMIT 65536
#define DEFAULT_HTTP_IDLE_TIMEOUT_S 30
#define HTTP_IDLE_TIMEOUT_LIMIT_S 86400

#define MIB (1024 * 1024)

/* What may wait to be decoded: a million spans of this library's take
 * about 110 MB on the wire; room for twice that. */
#define DEFAULT_MAX_BUFFER_MIB 256
#define MAX_BUFFER_MIB_LIMIT (1024 * 1024)

/* The kernel's share: what arrives while the reader thread has no core. */
#define SOCKET_RECEIVE_BUFFER (64 * MIB)

/* How long the main thread decodes before it lets timers and signals in;
 * it stops between blocks (READ_BATCH datagrams at most). */
#define DECODE_SLICE_US (20 * 1000)

/* Problem reports per second on stderr; a flood is counted, not printed. */
#define MAX_REPORTS_PER_SECOND 10

typedef struct {
  /* Options */
  char    *host;
  int      port;
  gint64   count;
  double   idle_s;
  double   settle_s;
  gint64   max_spans;
  gboolean json;
  gboolean quiet;
  gboolean summary;
  char    *colour;
  char    *jaeger_json_path;
  char    *html_path;
  char    *dump_dir;
  gint64   max_buffer_mib;
  gboolean hold_reader;           /* for tests: see trace-receiver.h */
  gboolean hold_decoder;          /* for tests: decode nothing until a signal */
  gint     socket_buffer_bytes;
  gint     http_port;             /* PORT_NOT_GIVEN: the default, if free */
  gint64   max_http_body;
  gint64   max_http_connections;
  gint64   http_idle_timeout_s;
  char    *sampling_path;
  gint     sampling_port;
  char    *tls_certificate_path;  /* (nullable) with tls_key_path: HTTP over TLS */
  char    *tls_key_path;

  /* State */
  GMainLoop      *loop;
  GSocket        *socket;
  TraceReceiver  *receiver;
#ifdef GLUETOOL_TRACE_HAVE_SOUP
  TraceHttpCollector *http;
  TraceSamplingServer *sampling;
  GTlsCertificate *certificate;     /* (nullable) both endpoints' over TLS */
#endif
  GSource        *receiver_source;  /* attached once decoding may start */
  gboolean        draining;         /* a first signal came: decode what was read, then stop */
  TraceScan       scan;
  gboolean        count_only;       /* nothing shown nor written: spans only counted */
  GSource        *deadline;
  TraceStore     *store;
  GHashTable     *pending;        /* Trace* with spans not yet shown as a tree */
  TraceTreeStyle  style;
  gboolean        show_trees;
  gint64          last_datagram_us;
  gboolean        stopped_idle;
  gboolean        stopped_by_signal;
  guint64         n_dumped;
  guint64         n_not_decoded;     /* in a block when the loop was told to stop */

  gint64          report_window_us;
  guint           reports_in_window;
  guint64         reports_suppressed;

  /* What was said about the receiver's losses so far. */
  guint64         kernel_drops_told;
  guint64         own_drops_told;
  guint64         receive_errors_told;
  gint64          last_drop_warning_us;
} Listener;

static void
listener_free (Listener *self)
{
  if (self->receiver_source != NULL)
    g_source_destroy (self->receiver_source);
  g_clear_pointer (&self->receiver_source, g_source_unref);
  if (self->deadline != NULL)
    g_source_destroy (self->deadline);
  g_clear_pointer (&self->deadline, g_source_unref);
  g_clear_pointer (&self->receiver, trace_receiver_free);
#ifdef GLUETOOL_TRACE_HAVE_SOUP
  g_clear_pointer (&self->http, trace_http_collector_free);
  g_clear_pointer (&self->sampling, trace_sampling_server_free);
  g_clear_object (&self->certificate);
#endif
  g_clear_object (&self->socket);
  trace_scan_clear (&self->scan);
  g_clear_pointer (&self->pending, g_hash_table_unref);
  g_clear_pointer (&self->store, trace_store_free);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_free (self->host);
  g_free (self->colour);
  g_free (self->jaeger_json_path);
  g_free (self->html_path);
  g_free (self->dump_dir);
  g_free (self->sampling_path);
  g_free (self->tls_certificate_path);
  g_free (self->tls_key_path);
  g_free (self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Listener, listener_free)

/* ---- Reporting problems ------------------------------------------------------ */

static void
flush_suppressed_reports (Listener *self)
{
  if (self->reports_suppressed == 0)
    return;
  g_printerr ("gluetool-trace: %" G_GUINT64_FORMAT " more problem%s not shown "
              "(at most %d reports a second)\n", self->reports_suppressed,
              self->reports_suppressed == 1 ? "" : "s", MAX_REPORTS_PER_SECOND);
  self->reports_suppressed = 0;
}

/* Whether another report may be printed now. */
static gboolean
may_report (Listener *self,
            gint64    now_us)
{
  if (now_us - self->report_window_us >= G_USEC_PER_SEC)
    {
      flush_suppressed_reports (self);
      self->report_window_us = now_us;
      self->reports_in_window = 0;
    }
  if (self->reports_in_window >= MAX_REPORTS_PER_SECOND)
    {
      self->reports_suppressed++;
      return FALSE;
    }
  self->reports_in_window++;
  return TRUE;
}

static char *
describe_address (GSocketAddress *address)
{
  g_autofree char *ip = NULL;
  GInetAddress *inet;

  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("?");
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  ip = g_inet_address_to_string (inet);
  return g_strdup_printf (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6
                            ? "[%s]:%u" : "%s:%u",
                          ip, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)));
}

static void
report_bad (Listener            *self,
            const TraceDatagram *datagram,
            const GError        *error,
            gint64               now_us)
{
  g_autoptr(GSocketAddress) from = NULL;
  g_autofree char *who = NULL;
  g_autofree char *bytes = NULL;

  if (!may_report (self, now_us))
    return;
  from = trace_datagram_get_sender (datagram);
  who = describe_address (from);
  bytes = trace_text_describe_bytes (datagram->data, datagram->len, 16);
  g_printerr ("gluetool-trace: bad datagram from %s, %s: %s\n", who, bytes,
              error->message);
}

/* ---- Output ------------------------------------------------------------------- */

static void
show_trace (Listener *self,
            Trace    *trace)
{
  g_autoptr(GString) out = g_string_new (NULL);

  trace_format_tree (out, trace, &self->style, trace->n_shown > 0);
  trace_store_mark_shown (self->store, trace);
  fwrite (out->str, 1, out->len, stdout);
  fputc ('\n', stdout);
}

static gint
compare_arrival (gconstpointer a,
                 gconstpointer b)
{
  const Trace *ta = *(Trace * const *) a;
  const Trace *tb = *(Trace * const *) b;

  if (ta->last_arrival_us != tb->last_arrival_us)
    return ta->last_arrival_us < tb->last_arrival_us ? -1 : 1;
  if (ta->id_high != tb->id_high)
    return ta->id_high < tb->id_high ? -1 : 1;
  if (ta->id_low != tb->id_low)
    return ta->id_low < tb->id_low ? -1 : 1;
  return 0;
}

/* Shows the pending traces quiet since @before_us (all with G_MAXINT64),
 * the quietest first. */
static void
show_settled (Listener *self,
              gint64    before_us)
{
  g_autoptr(GPtrArray) due = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Trace *trace = key;

      if (trace->last_arrival_us <= before_us)
        {
          g_ptr_array_add (due, trace);
          g_hash_table_iter_remove (&iter);
        }
    }
  g_ptr_array_sort (due, compare_arrival);
  for (guint i = 0; i < due->len; i++)
    show_trace (self, g_ptr_array_index (due, i));
  if (due->len > 0)
    fflush (stdout);
}

/* ---- Deadlines ------------------------------------------------------------------- */

static gint64
seconds_to_us (double seconds)
{
  return (gint64) (seconds * G_USEC_PER_SEC);
}

static void
rearm_deadline (Listener *self)
{
  gint64 next = G_MAXINT64;
  GHashTableIter iter;
  gpointer key;

  if (self->idle_s > 0)
    next = self->last_datagram_us + seconds_to_us (self->idle_s);

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    next = MIN (next, ((Trace *) key)->last_arrival_us + seconds_to_us (self->settle_s));

  g_source_set_ready_time (self->deadline, next == G_MAXINT64 ? -1 : next);
}

static gboolean
deadline_dispatch (GSource     *source,
                   GSourceFunc  callback,
                   gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs deadline_funcs = {
  .dispatch = deadline_dispatch,
};

static gboolean
on_deadline (gpointer user_data)
{
  Listener *self = user_data;
  gint64 now = g_get_monotonic_time ();

  show_settled (self, now - seconds_to_us (self->settle_s));

  if (self->idle_s > 0 && now - self->last_datagram_us >= seconds_to_us (self->idle_s))
    {
      self->stopped_idle = TRUE;
      g_main_loop_quit (self->loop);
      g_source_set_ready_time (self->deadline, -1);
      return G_SOURCE_CONTINUE;
    }

  rearm_deadline (self);
  return G_SOURCE_CONTINUE;
}

/* ---- Receiving ----------------------------------------------------------------- */

static void
dump_datagram (Listener            *self,
               const TraceDatagram *datagram)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("datagram-%06" G_GUINT64_FORMAT ".bin",
                                           ++self->n_dumped);
  g_autofree char *path = g_build_filename (self->dump_dir, name, NULL);

  if (!g_file_set_contents (path, (const char *) datagram->data, (gssize) datagram->len,
                            &error))
    g_printerr ("gluetool-trace: %s\n", error->message);
}

static void
stop_when_count_reached (Listener *self)
{
  if (self->count > 0 && trace_store_get_counts (self->store)->spans >= (guint64) self->count)
    g_main_loop_quit (self->loop);
}

static void take_batch (Listener           *self,
                        const TraceDecoded *decoded,
                        gint64              now);

static void
handle_datagram (Listener            *self,
                 const TraceDatagram *datagram)
{
  g_auto(TraceDecoded) decoded = { NULL, };
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_monotonic_time ();

  self->last_datagram_us = now;
  trace_store_count_datagram (self->store, datagram->len);
  if (self->dump_dir != NULL)
    dump_datagram (self, datagram);

  if (datagram->len > TRACE_AGENT_MAX_PACKET_SIZE && may_report (self, now))
    {
      g_autoptr(GSocketAddress) from = trace_datagram_get_sender (datagram);
      g_autofree char *who = describe_address (from);

      g_printerr ("gluetool-trace: a datagram of %" G_GSIZE_FORMAT " bytes from %s: "
                  "a Jaeger agent reads at most %d bytes and would drop it\n",
                  datagram->len, who, TRACE_AGENT_MAX_PACKET_SIZE);
    }

  /* Counting only: read in place when the scan knows the shape. */
  if (self->count_only && trace_scan_datagram (&self->scan, datagram->data, datagram->len))
    {
      trace_store_add_scan (self->store, &self->scan, now);
      stop_when_count_reached (self);
      return;
    }

  if (!trace_decode_datagram (datagram->data, datagram->len, &decoded, &error))
    {
      trace_store_count_bad (self->store);
      report_bad (self, datagram, error, now);
      return;
    }

  take_batch (self, &decoded, now);
}

#ifdef GLUETOOL_TRACE_HAVE_SOUP

/* A batch POSTed to /api/traces: the same way as a datagram's from here. */
static void
on_http_batch (const TraceDecoded *decoded,
               gpointer            user_data)
{
  Listener *self = user_data;
  gint64 now = g_get_monotonic_time ();

  self->last_datagram_us = now;
  take_batch (self, decoded, now);
  rearm_deadline (self);
}

/* A batch the scan read in place, when only counting. */
static void
on_http_scanned (const TraceScan *scan,
                 gpointer         user_data)
{
  Listener *self = user_data;
  gint64 now = g_get_monotonic_time ();

  self->last_datagram_us = now;
  trace_store_add_scan (self->store, scan, now);
  stop_when_count_reached (self);
  rearm_deadline (self);
}

static void
on_http_refused (const char *peer,
                 const char *method,
                 const char *path,
                 guint       status,
                 const char *why,
                 gboolean    body_refused,
                 gpointer    user_data)
{
  Listener *self = user_data;
  g_autoptr(GString) target = g_string_new (NULL);

  if (body_refused)
    trace_store_count_http_bad (self->store);
  if (!may_report (self, g_get_monotonic_time ()))
    return;
  trace_text_append_safe (target, path != NULL ? path : "", 80);
  g_printerr ("gluetool-trace: bad HTTP request from %s, %s %s: %u: %s\n", peer,
              method != NULL ? method : "?", target->str, status, why);
}

#endif

/* Shows and counts the spans of a batch that decoded, from UDP or HTTP. */
static void
take_batch (Listener           *self,
            const TraceDecoded *decoded,
            gint64              now)
{
  g_autoptr(GPtrArray) spans = NULL;

  spans = trace_store_add (self->store, decoded, now);
  for (guint i = 0; i < spans->len; i++)
    {
      TraceSpan *span = g_ptr_array_index (spans, i);

      if (self->json)
        {
          g_autofree char *line = trace_format_json_span (span);

          fputs (line, stdout);
          fputc ('\n', stdout);
        }
      if (span->trace == NULL)
        continue;
      if (self->show_trees)
        g_hash_table_add (self->pending, span->trace);
      else
        /* Nothing more to show: the trace may make room later. */
        trace_store_mark_shown (self->store, span->trace);
    }
  if (self->json)
    fflush (stdout);

  stop_when_count_reached (self);
}

/* Tells of datagrams lost on the way in since the last time, at most once
 * a second unless @now_or_never (at the end): the summary has the totals,
 * but a receiver run without --summary must not lose them silently. */
static void
warn_of_drops (Listener                  *self,
               const TraceReceiverCounts *counts,
               gboolean                   now_or_never)
{
  gint64 now = g_get_monotonic_time ();
  guint64 kernel = counts->kernel_drops - self->kernel_drops_told;
  guint64 own = counts->own_drops - self->own_drops_told;

  if (kernel == 0 && own == 0)
    return;
  if (!now_or_never && now - self->last_drop_warning_us < G_USEC_PER_SEC)
    return;
  self->last_drop_warning_us = now;

  if (kernel > 0)
    {
      g_autofree char *size = g_format_size_full ((guint64) counts->socket_buffer_bytes,
                                                  G_FORMAT_SIZE_IEC_UNITS);

      g_printerr ("gluetool-trace: the kernel dropped %" G_GUINT64_FORMAT " datagram%s "
                  "(%" G_GUINT64_FORMAT " in all): the socket's receive buffer (%s) was full\n",
                  kernel, kernel == 1 ? "" : "s", counts->kernel_drops, size);
      self->kernel_drops_told = counts->kernel_drops;
    }
  if (own > 0)
    {
      g_printerr ("gluetool-trace: dropped %" G_GUINT64_FORMAT " datagram%s (%" G_GUINT64_FORMAT
                  " in all): %" G_GINT64_FORMAT " MiB already waited to be decoded "
                  "(--max-buffer-size)\n",
                  own, own == 1 ? "" : "s", counts->own_drops, self->max_buffer_mib);
      self->own_drops_told = counts->own_drops;
    }
}

static void
tell_receiver_news (Listener                  *self,
                    const TraceReceiverCounts *counts)
{
  warn_of_drops (self, counts, FALSE);

  if (counts->receive_errors > self->receive_errors_told)
    {
      /* ICMP errors and the like: not fatal for a receiver. */
      if (may_report (self, g_get_monotonic_time ()))
        g_printerr ("gluetool-trace: receive: %s\n", g_strerror (counts->last_errno));
      self->receive_errors_told = counts->receive_errors;
    }
}

static gboolean
on_received (gpointer user_data)
{
  Listener *self = user_data;
  gint64 slice_end = g_get_monotonic_time () + DECODE_SLICE_US;
  TraceReceiverCounts counts;
  gboolean changed;

  while (g_main_loop_is_running (self->loop))
    {
      TraceReceivedBlock *block = trace_receiver_take (self->receiver);

      if (block == NULL)
        break;
      for (guint i = 0; i < block->n_datagrams; i++)
        {
          if (!g_main_loop_is_running (self->loop))
            {
              self->n_not_decoded += block->n_datagrams - i;
              break;
            }
          handle_datagram (self, &block->datagrams[i]);
        }
      trace_receiver_release (self->receiver, block);
      if (g_get_monotonic_time () >= slice_end)
        break;
    }

  trace_receiver_get_counts (self->receiver, &counts, &changed);
  if (changed)
    tell_receiver_news (self, &counts);

  /* After a first signal: once the reader ended and all it read is
   * decoded, stop. */
  if (self->draining && counts.finished && counts.queued_datagrams == 0)
    {
      self->stopped_by_signal = TRUE;
      g_main_loop_quit (self->loop);
    }

  rearm_deadline (self);
  return G_SOURCE_CONTINUE;
}

static void
start_decoding (Listener *self)
{
  if (self->receiver_source != NULL)
    return;
  self->receiver_source = trace_receiver_create_source (self->receiver);
  g_source_set_callback (self->receiver_source, on_received, self, NULL);
  g_source_attach (self->receiver_source, NULL);
}

/* A first signal stops the reading: what was read is decoded, then the
 * receiver stops. A second one stops it at once. */
static gboolean
on_signal (gpointer user_data)
{
  Listener *self = user_data;

  if (self->draining)
    {
      self->stopped_by_signal = TRUE;
      g_main_loop_quit (self->loop);
      return G_SOURCE_CONTINUE;
    }
  self->draining = TRUE;
  trace_receiver_stop (self->receiver, TRUE);
#ifdef GLUETOOL_TRACE_HAVE_SOUP
  /* A request is decoded as it arrives: nothing of HTTP waits. */
  if (self->http != NULL)
    trace_http_collector_stop (self->http);
  if (self->sampling != NULL)
    trace_sampling_server_stop (self->sampling);
#endif
  start_decoding (self);
  return G_SOURCE_CONTINUE;
}

/* ---- Setting up ----------------------------------------------------------------- */

static GInetAddress *
resolve_host (const char  *host,
              GError     **error)
{
  g_autofree char *bare = NULL;
  g_autolist(GInetAddress) addresses = NULL;
  GInetAddress *address;
  gsize len = strlen (host);

  /* "[::1]" as in URLs. */
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
    bare = g_strndup (host + 1, len - 2);
  else
    bare = g_strdup (host);

  address = g_inet_address_new_from_string (bare);
  if (address != NULL)
    return address;

  addresses = g_resolver_lookup_by_name (g_resolver_get_default (), bare, NULL, error);
  if (addresses == NULL)
    return NULL;
  return g_object_ref (addresses->data);
}

static GSocket *
bind_socket (const char  *host,
             guint16      port,
             GError     **error)
{
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GSocketAddress) bind_address = NULL;
  g_autoptr(GSocket) socket = NULL;

  address = resolve_host (host, error);
  if (address == NULL)
    return NULL;

  socket = g_socket_new (g_inet_address_get_family (address), G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    return NULL;

  /* No SO_REUSEADDR: on Linux it would let a second receiver share the
   * port and silently take half the datagrams. */
  bind_address = g_inet_socket_address_new (address, port);
  if (!g_socket_bind (socket, bind_address, FALSE, error))
    return NULL;

  g_socket_set_blocking (socket, FALSE);

  return g_steal_pointer (&socket);
}

static gboolean
decide_colour (const char  *when,
               gboolean    *colour,
               GError     **error)
{
  if (when == NULL || g_str_equal (when, "auto"))
    {
      const char *term = g_getenv ("TERM");

      /* https://no-color.org: any non-empty NO_COLOR turns it off. */
      *colour = isatty (STDOUT_FILENO)
                && (g_getenv ("NO_COLOR") == NULL || *g_getenv ("NO_COLOR") == '\0')
                && g_strcmp0 (term, "dumb") != 0;
      return TRUE;
    }
  if (g_str_equal (when, "always"))
    {
      *colour = TRUE;
      return TRUE;
    }
  if (g_str_equal (when, "never"))
    {
      *colour = FALSE;
      return TRUE;
    }
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "--color takes auto, always or never, not \"%s\"", when);
  return FALSE;
}

#ifdef GLUETOOL_TRACE_HAVE_SOUP
#define HTTP_NOTE ""
#else
#define HTTP_NOTE " [not built in: this gluetool-trace has no HTTP support (libsoup 3)]"
#endif

static gboolean
check_port (const char  *option,
            gint         port,
            GError     **error)
{
  if (port == PORT_NOT_GIVEN || (port >= 0 && port <= G_MAXUINT16))
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "%s must be 0 to 65535, not %d", option, port);
  return FALSE;
}

/* --tls-certificate and --tls-key, both or neither, loaded now: a file
 * that cannot be used is a bad option, told before anything listens. */
static gboolean
load_certificate (Listener  *self,
                  GError   **error)
{
  if ((self->tls_certificate_path == NULL) != (self->tls_key_path == NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--tls-certificate and --tls-key go together");
      return FALSE;
    }
#ifdef GLUETOOL_TRACE_HAVE_SOUP
  if (self->tls_certificate_path != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      self->certificate = trace_http_load_certificate (self->tls_certificate_path,
                                                       self->tls_key_path, &local_error);
      if (self->certificate == NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--tls-certificate: %s",
                       local_error->message);
          return FALSE;
        }
    }
#endif
  return TRUE;
}

/* The HTTP options, checked once parsed. */
static gboolean
check_http_options (Listener  *self,
                    gint       http_port,
                    gint64     max_http_body,
                    gint       sampling_port,
                    GError   **error)
{
#ifndef GLUETOOL_TRACE_HAVE_SOUP
  if (http_port != PORT_NOT_GIVEN || max_http_body != DEFAULT_MAX_HTTP_BODY
      || self->max_http_connections != DEFAULT_MAX_HTTP_CONNECTIONS
      || self->http_idle_timeout_s != DEFAULT_HTTP_IDLE_TIMEOUT_S
      || self->sampling_path != NULL || sampling_port != PORT_NOT_GIVEN
      || self->tls_certificate_path != NULL || self->tls_key_path != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--http-port, --max-http-body, --max-http-connections, "
                   "--http-idle-timeout, --sampling-strategies, --sampling-port, "
                   "--tls-certificate and --tls-key are not built in: this gluetool-trace "
                   "was built without HTTP support (libsoup 3)");
      return FALSE;
    }
#endif
  if (self->max_http_connections < 1 || self->max_http_connections > MAX_HTTP_CONNECTIONS_LIMIT)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--max-http-connections takes 1 to %d, not %" G_GINT64_FORMAT,
                   MAX_HTTP_CONNECTIONS_LIMIT, self->max_http_connections);
      return FALSE;
    }
  if (self->http_idle_timeout_s < 1 || self->http_idle_timeout_s > HTTP_IDLE_TIMEOUT_LIMIT_S)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--http-idle-timeout takes 1 to %d (seconds), not %" G_GINT64_FORMAT,
                   HTTP_IDLE_TIMEOUT_LIMIT_S, self->http_idle_timeout_s);
      return FALSE;
    }
  if (!check_port ("--http-port", http_port, error)
      || !check_port ("--sampling-port", sampling_port, error))
    return FALSE;
  if (max_http_body < 1 || max_http_body > MAX_HTTP_BODY_LIMIT)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--max-http-body takes 1 to %d (bytes), not %" G_GINT64_FORMAT,
                   MAX_HTTP_BODY_LIMIT, max_http_body);
      return FALSE;
    }
  if (sampling_port != PORT_NOT_GIVEN && self->sampling_path == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--sampling-port needs --sampling-strategies FILE");
      return FALSE;
    }
  self->http_port = http_port;
  self->max_http_body = max_http_body;
  self->sampling_port = sampling_port;
  return load_certificate (self, error);
}

static gboolean
parse_options (Listener   *self,
               int         argc,
               char      **argv,
               GError    **error)
{
  gint port = DEFAULT_PORT;
  gint64 count = 0;
  gint64 max_spans = DEFAULT_MAX_SPANS;
  gint64 max_buffer_mib = DEFAULT_MAX_BUFFER_MIB;
  gint socket_buffer = SOCKET_RECEIVE_BUFFER;
  gint http_port = PORT_NOT_GIVEN;
  gint sampling_port = PORT_NOT_GIVEN;
  gint64 max_http_body = DEFAULT_MAX_HTTP_BODY;
  const GOptionEntry entries[] = {
    { "host", 'H', 0, G_OPTION_ARG_STRING, &self->host,
      "Address or host name to listen on (default " DEFAULT_HOST ")", "HOST" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port,
      "UDP port (default 6831; 0 picks a free one, printed on stderr)", "PORT" },
    { "count", 'n', 0, G_OPTION_ARG_INT64, &count,
      "Stop once N spans have arrived", "N" },
    { "idle", 'i', 0, G_OPTION_ARG_DOUBLE, &self->idle_s,
      "Stop after SECONDS without a datagram (or HTTP batch)", "SECONDS" },
    { "settle", 0, 0, G_OPTION_ARG_DOUBLE, &self->settle_s,
      "Show a trace once none of its spans arrived for SECONDS (default 1)", "SECONDS" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &self->json,
      "Print each span as one line of JSON instead of trees", NULL },
    { "jaeger-json", 0, 0, G_OPTION_ARG_FILENAME, &self->jaeger_json_path,
      "At the end, write the traces to FILE as Jaeger UI's JSON", "FILE" },
    { "html", 0, 0, G_OPTION_ARG_FILENAME, &self->html_path,
      "At the end, write the traces to FILE as an HTML page with timelines", "FILE" },
    { "summary", 's', 0, G_OPTION_ARG_NONE, &self->summary,
      "At the end, print a summary on stderr", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &self->quiet,
      "Print no trees", NULL },
    { "color", 0, 0, G_OPTION_ARG_STRING, &self->colour,
      "Colour trees: auto (on a terminal), always or never", "WHEN" },
    { "max-spans", 0, 0, G_OPTION_ARG_INT64, &max_spans,
      "Keep at most N spans in memory (default 50000), and 16 times as many tags", "N" },
    { "max-buffer-size", 0, 0, G_OPTION_ARG_INT64, &max_buffer_mib,
      "Keep at most MIB mebibytes of datagrams waiting to be decoded "
      "(default 256); past that, datagrams are dropped and counted", "MIB" },
    { "dump", 0, 0, G_OPTION_ARG_FILENAME, &self->dump_dir,
      "Also write every datagram, as received, to a file in DIR", "DIR" },
    { "http-port", 0, 0, G_OPTION_ARG_INT, &http_port,
      "TCP port for Jaeger's HTTP collector endpoint, POST /api/traces "
      "(default 14268 when free; 0 picks a free one, printed on stderr)" HTTP_NOTE, "PORT" },
    { "max-http-body", 0, 0, G_OPTION_ARG_INT64, &max_http_body,
      "Refuse (413) a POSTed body over BYTES (default 16777216, 16 MiB)" HTTP_NOTE, "BYTES" },
    { "max-http-connections", 0, 0, G_OPTION_ARG_INT64, &self->max_http_connections,
      "Hold at most N HTTP connections at once, each port (default 32); more wait to be "
      "accepted. Bodies held take at most N x --max-http-body bytes" HTTP_NOTE, "N" },
    { "http-idle-timeout", 0, 0, G_OPTION_ARG_INT64, &self->http_idle_timeout_s,
      "Close an HTTP connection on which nothing moved for SECONDS (default 30)"
      HTTP_NOTE, "SECONDS" },
    { "sampling-strategies", 0, 0, G_OPTION_ARG_FILENAME, &self->sampling_path,
      "Serve GET /sampling?service=NAME from FILE, a Jaeger strategies file, "
      "reread when it changes" HTTP_NOTE, "FILE" },
    { "sampling-port", 0, 0, G_OPTION_ARG_INT, &sampling_port,
      "TCP port for /sampling (default 5778; 0 picks a free one, printed on stderr)"
      HTTP_NOTE, "PORT" },
    { "tls-certificate", 0, 0, G_OPTION_ARG_FILENAME, &self->tls_certificate_path,
      "Serve both HTTP ports over TLS (https://) with the certificate in FILE (PEM, "
      "intermediates after it); needs --tls-key" HTTP_NOTE, "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &self->tls_key_path,
      "The private key of --tls-certificate, in FILE (PEM)" HTTP_NOTE, "FILE" },
    /* For tests, which need drops on demand: hidden from --help. */
    { "testing-hold-reader", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &self->hold_reader,
      "Read nothing from the socket until the first signal", NULL },
    { "testing-hold-decoder", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &self->hold_decoder,
      "Decode nothing until the first signal", NULL },
    { "testing-socket-buffer", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &socket_buffer,
      "Ask for a socket receive buffer of BYTES", "BYTES" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;

  context = g_option_context_new ("- show the spans Jaeger clients send");
  g_option_context_set_summary (context,
    "Receives Jaeger emitBatch datagrams over UDP, as a Jaeger agent does on\n"
    "ports 6831 (compact Thrift) and 6832 (binary Thrift): both protocols are\n"
    "recognised on the one port. Each trace is printed as a tree once it went\n"
    "quiet; stderr gets the bound address, every bad datagram (its size and\n"
    "first bytes), every datagram lost on the way in (dropped by the kernel\n"
    "or over --max-buffer-size) and, with --summary, the counts.\n"
    "\n"
    "Over HTTP, as a Jaeger collector, it takes POST /api/traces (a Thrift\n"
    "binary Batch, application/x-thrift) on --http-port; with\n"
    "--sampling-strategies FILE it answers GET /sampling?service=NAME on\n"
    "--sampling-port, as a Jaeger agent does. With --tls-certificate and\n"
    "--tls-key, both HTTP ports take only TLS (https://)." HTTP_NOTE);
  g_option_context_set_description (context,
    "Stops on SIGINT or SIGTERM (once what was read is decoded; a second\n"
    "signal stops it at once), after --count spans, or after --idle seconds,\n"
    "then shows what is left and writes the files.\n"
    "\n"
    "Exit status: 0; 1 when a port cannot be bound, a file cannot be\n"
    "written or the strategies file read, or fewer than --count spans\n"
    "arrived; 2 for bad options (a TLS certificate or key that cannot be\n"
    "used included).");
  g_option_context_add_main_entries (context, entries, NULL);

  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;

  if (argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "unexpected argument \"%s\"", argv[1]);
      return FALSE;
    }
  if (port < 0 || port > G_MAXUINT16)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--port must be 0 to 65535, not %d", port);
      return FALSE;
    }
  if (count < 0 || self->idle_s < 0 || self->settle_s < 0
      || !(self->idle_s < 1e9) || !(self->settle_s < 1e9))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--count, --idle and --settle take positive numbers");
      return FALSE;
    }
  if (max_spans < 1 || max_spans > G_MAXUINT32)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--max-spans must be 1 to %u", G_MAXUINT32);
      return FALSE;
    }
  if (max_buffer_mib < 1 || max_buffer_mib > MAX_BUFFER_MIB_LIMIT)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--max-buffer-size takes 1 to %d (MiB), not %" G_GINT64_FORMAT,
                   MAX_BUFFER_MIB_LIMIT, max_buffer_mib);
      return FALSE;
    }
  if (socket_buffer < 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--testing-socket-buffer takes a positive number of bytes");
      return FALSE;
    }
  if (!decide_colour (self->colour, &self->style.colour, error))
    return FALSE;
  if (!check_http_options (self, http_port, max_http_body, sampling_port, error))
    return FALSE;

  self->port = port;
  self->count = count;
  self->max_spans = max_spans;
  self->max_buffer_mib = max_buffer_mib;
  self->socket_buffer_bytes = socket_buffer;
  if (self->host == NULL)
    self->host = g_strdup (DEFAULT_HOST);
  return TRUE;
}

/* ---- At the end ------------------------------------------------------------------ */

static gboolean
write_file (const char  *path,
            const char  *what,
            const char  *data,
            gsize        len,
            guint        n_traces)
{
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents (path, data, (gssize) len, &error))
    {
      g_printerr ("gluetool-trace: cannot write the %s: %s\n", what, error->message);
      return FALSE;
    }
  g_printerr ("gluetool-trace: wrote %u trace%s to %s (%s)\n", n_traces,
              n_traces == 1 ? "" : "s", path, what);
  return TRUE;
}

static char *
format_size (guint64 bytes)
{
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

/* The summary's lines about the way in, after the store's. */
static void
append_receiver_summary (Listener                  *self,
                         const TraceReceiverCounts *counts,
                         GString                   *out)
{
  g_autofree char *socket_size = format_size ((guint64) counts->socket_buffer_bytes);
  g_autofree char *peak = format_size (counts->peak_queued_bytes);
  guint64 not_decoded = self->n_not_decoded + counts->queued_datagrams;

  g_string_append_printf (out, "  dropped on arrival: %" G_GUINT64_FORMAT " by the kernel "
                          "(socket buffer full), %" G_GUINT64_FORMAT " by gluetool-trace "
                          "(over --max-buffer-size)\n",
                          counts->kernel_drops, counts->own_drops);
  g_string_append_printf (out, "  buffers:       socket %s, waiting to be decoded %s at most "
                          "(%" G_GINT64_FORMAT " MiB allowed)\n",
                          socket_size, peak, self->max_buffer_mib);
  if (not_decoded > 0)
    g_string_append_printf (out, "  not decoded:   %" G_GUINT64_FORMAT " datagram%s read "
                            "after it was told to stop\n",
                            not_decoded, not_decoded == 1 ? "" : "s");
}

static int
finish (Listener *self)
{
  g_autoptr(GPtrArray) traces = NULL;
  g_autoptr(GString) summary = g_string_new (NULL);
  const TraceCounts *counts = trace_store_get_counts (self->store);
  TraceReceiverCounts receiver_counts;
  int status = 0;

  /* The reader's counts are final once it ended. */
  trace_receiver_join (self->receiver);
  trace_receiver_get_counts (self->receiver, &receiver_counts, NULL);
  warn_of_drops (self, &receiver_counts, TRUE);

  show_settled (self, G_MAXINT64);
  flush_suppressed_reports (self);
  traces = trace_store_get_traces (self->store);
  trace_store_append_summary (self->store, summary);
  append_receiver_summary (self, &receiver_counts, summary);

  if (self->jaeger_json_path != NULL)
    {
      gsize len = 0;
      g_autofree char *json = trace_format_jaeger_json (traces, &len);

      if (!write_file (self->jaeger_json_path, "Jaeger JSON", json, len, traces->len))
        status = 1;
    }
  if (self->html_path != NULL)
    {
      gsize len = 0;
      g_autofree char *html = trace_format_html (traces, summary->str, &len);

      if (!write_file (self->html_path, "HTML page", html, len, traces->len))
        status = 1;
    }

  if (self->summary)
    g_printerr ("%s", summary->str);

  if (self->count > 0 && counts->spans < (guint64) self->count)
    {
      g_printerr ("gluetool-trace: stopped %s; %" G_GUINT64_FORMAT " of %" G_GINT64_FORMAT
                  " spans arrived\n",
                  self->stopped_idle ? "after --idle seconds without a datagram" : "by a signal",
                  counts->spans, self->count);
      status = 1;
    }
  return status;
}

#ifdef GLUETOOL_TRACE_HAVE_SOUP

static TraceHttpLimits
http_limits (const Listener *self)
{
  TraceHttpLimits limits = {
    .max_connections = (guint) self->max_http_connections,
    .idle_timeout_s = (guint) self->http_idle_timeout_s,
  };

  return limits;
}

/* Listens for POST /api/traces, on --http-port or else on 14268 when it is
 * free: a receiver started without --http-port next to a Jaeger collector,
 * or next to another receiver, still takes UDP. */
static gboolean
start_http (Listener *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *where = NULL;
  gboolean port_given = self->http_port != PORT_NOT_GIVEN;
  guint16 port = port_given ? (guint16) self->http_port : DEFAULT_HTTP_PORT;
  TraceHttpLimits limits = http_limits (self);

  address = resolve_host (self->host, &error);
  if (address != NULL)
    socket = trace_http_listen_socket (address, port, &error);
  if (socket == NULL)
    {
      if (!port_given && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        {
          g_printerr ("gluetool-trace: HTTP port %u is in use: no HTTP collector endpoint "
                      "(--http-port PORT chooses another)\n", (guint) port);
          return TRUE;
        }
      g_printerr ("gluetool-trace listen: cannot listen on %s TCP port %u: %s\n",
                  self->host, (guint) port, error->message);
      return FALSE;
    }

  local = g_socket_get_local_address (socket, &error);
  if (local != NULL)
    self->http = trace_http_collector_new (socket, self->certificate,
                                           (gsize) self->max_http_body,
                                           &limits, on_http_batch, on_http_refused, self,
                                           &error);
  if (self->http == NULL)
    {
      g_printerr ("gluetool-trace listen: %s\n", error->message);
      return FALSE;
    }
  if (self->count_only)
    trace_http_collector_count_only (self->http, on_http_scanned);

  where = describe_address (local);
  g_printerr ("gluetool-trace: listening on HTTP%s %s\n", self->certificate != NULL ? "S" : "",
              where);
  return TRUE;
}

/* Serves GET /sampling from --sampling-strategies FILE, when given. */
static gboolean
start_sampling (Listener *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *where = NULL;
  guint16 port = self->sampling_port != PORT_NOT_GIVEN ? (guint16) self->sampling_port
                                                       : DEFAULT_SAMPLING_PORT;
  TraceHttpLimits limits = http_limits (self);

  if (self->sampling_path == NULL)
    return TRUE;

  address = resolve_host (self->host, &error);
  if (address != NULL)
    socket = trace_http_listen_socket (address, port, &error);
  if (socket == NULL)
    {
      g_printerr ("gluetool-trace listen: cannot listen on %s TCP port %u: %s\n",
                  self->host, (guint) port, error->message);
      return FALSE;
    }
  local = g_socket_get_local_address (socket, &error);
  if (local != NULL)
    self->sampling = trace_sampling_server_new (socket, self->certificate, self->sampling_path,
                                                &limits,
                                                on_http_refused, self, &error);
  if (self->sampling == NULL)
    {
      g_printerr ("gluetool-trace listen: %s\n", error->message);
      return FALSE;
    }

  where = describe_address (local);
  g_printerr ("gluetool-trace: listening on sampling HTTP%s %s\n",
              self->certificate != NULL ? "S" : "", where);
  return TRUE;
}

#endif

static TraceReceiver *
start_receiver (Listener  *self,
                GError   **error)
{
  TraceReceiverConfig config = {
    .max_queued_bytes = (gsize) self->max_buffer_mib * MIB,
    .socket_buffer_bytes = self->socket_buffer_bytes,
    .hold_reader = self->hold_reader,
  };
  TraceReceiverCounts counts;
  TraceReceiver *receiver = trace_receiver_new (self->socket, &config, error);

  if (receiver == NULL)
    return NULL;

  /* Without CAP_NET_ADMIN the kernel caps the buffer at rmem_max: the
   * reader thread takes datagrams off at once, but while it has no core,
   * the buffer is all there is. */
  trace_receiver_get_counts (receiver, &counts, NULL);
  if (!counts.socket_buffer_forced && counts.socket_buffer_bytes < config.socket_buffer_bytes)
    {
      g_autofree char *got = format_size ((guint64) counts.socket_buffer_bytes);
      g_autofree char *asked = format_size ((guint64) config.socket_buffer_bytes);

      g_printerr ("gluetool-trace: the kernel caps the socket's receive buffer at %s "
                  "(net.core.rmem_max), not the %s asked for: datagrams that arrive while "
                  "the reader thread waits for a core may be dropped (they are counted). "
                  "To raise the cap: sudo sysctl -w net.core.rmem_max=%d\n",
                  got, asked, config.socket_buffer_bytes);
    }
  return receiver;
}

int
gluetool_trace_listen_main (int    argc,
                            char **argv)
{
  g_autoptr(Listener) self = g_new0 (Listener, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *where = NULL;
  guint sigint_id, sigterm_id;
  int status;

  g_set_prgname ("gluetool-trace listen");

  self->settle_s = DEFAULT_SETTLE_S;
  self->max_http_connections = DEFAULT_MAX_HTTP_CONNECTIONS;
  self->http_idle_timeout_s = DEFAULT_HTTP_IDLE_TIMEOUT_S;
  if (!parse_options (self, argc, argv, &error))
    {
      g_printerr ("gluetool-trace listen: %s\n", error->message);
      return 2;
    }
  self->style.utf8 = trace_text_locale_is_utf8 ();
  self->show_trees = !self->json && !self->quiet;
  self->count_only = !self->json && self->quiet
                     && self->jaeger_json_path == NULL && self->html_path == NULL;
  trace_scan_init (&self->scan);

  /* Only a receiver that writes no file at the end may forget traces it
   * has shown, to make room for new ones. */
  self->store = trace_store_new ((guint) self->max_spans,
                                 self->jaeger_json_path == NULL && self->html_path == NULL);
  self->pending = g_hash_table_new (NULL, NULL);

  if (self->dump_dir != NULL && g_mkdir_with_parents (self->dump_dir, 0755) != 0)
    {
      g_printerr ("gluetool-trace listen: cannot create %s: %s\n", self->dump_dir,
                  g_strerror (errno));
      return 1;
    }

  self->socket = bind_socket (self->host, (guint16) self->port, &error);
  if (self->socket == NULL)
    {
      g_printerr ("gluetool-trace listen: cannot listen on %s port %d: %s\n",
                  self->host, self->port, error->message);
      return 1;
    }
  local = g_socket_get_local_address (self->socket, &error);
  if (local == NULL)
    {
      g_printerr ("gluetool-trace listen: %s\n", error->message);
      return 1;
    }

  self->receiver = start_receiver (self, &error);
  if (self->receiver == NULL)
    {
      g_printerr ("gluetool-trace listen: %s\n", error->message);
      return 1;
    }

#ifdef GLUETOOL_TRACE_HAVE_SOUP
  if (!start_http (self) || !start_sampling (self))
    return 1;
#endif

  self->loop = g_main_loop_new (NULL, FALSE);
  if (!self->hold_decoder)
    start_decoding (self);

  self->deadline = g_source_new (&deadline_funcs, sizeof (GSource));
  g_source_set_callback (self->deadline, on_deadline, self, NULL);
  g_source_attach (self->deadline, NULL);

  sigint_id = g_unix_signal_add (SIGINT, on_signal, self);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, self);

  self->last_datagram_us = g_get_monotonic_time ();
  rearm_deadline (self);

  /* Scripts and tests read the port from this line: it ends with it. It
   * comes last, once the HTTP endpoints listen too. */
  where = describe_address (local);
  g_printerr ("gluetool-trace: listening on UDP %s\n", where);

  g_main_loop_run (self->loop);

#ifdef GLUETOOL_TRACE_HAVE_SOUP
  /* Batches already answered 202 are handed over as their connections
   * close: before the summary counts them. */
  if (self->http != NULL)
    trace_http_collector_stop (self->http);
#endif
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);

  status = finish (self);
  fflush (stdout);
  return status;
}
