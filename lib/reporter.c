/* reporter.c: what a tracer asks of its spans' way out: a queue, a flush
 * thread, a sender, and the counts of every span's fate
 *
 * SPDX-License-Identifier: MIT
 *
 * See reporter-private.h. The queue is lanes.c, the thread flush-thread.c,
 * the transport sender-udp.c (packing with batch.c); here are what ties
 * them to a tracer: pushing a span (and what a full queue does to it),
 * flush() and close(), the statistics and what the losses say, a forked
 * child's fresh start, and the flush at exit.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "debug-private.h"
#include "flush-thread-private.h"
#include "ids-private.h"
#include "lanes-private.h"
#include "process-private.h"
#include "reporter-private.h"
#include "sender-private.h"
#include "sync-private.h"
#include "thread-types-private.h"

/* Bytes a datagram needs beyond one span: the smallest envelope and the
 * smallest Process there can be. A span longer than the max packet size minus
 * this can never be sent, whatever the Process turns out to be. */
#define MIN_DATAGRAM_OVERHEAD 30

/* Laid out by who writes what: producers read the first group on every push
 * and write nothing there; they write the second only when they drop a span;
 * the flush thread writes the third per datagram. Separate cache lines keep
 * one side's writes from evicting what the other reads. */
struct _GluetoolReporter {
  /* Read by producers on every push; written once, but for
   * @running_generation, which start() writes once. */
  GluetoolLanes       *lanes;            /* (owned) the queue; sealed by close() */
  GluetoolFlushThread *flush_thread;     /* (owned) */
  guint                max_packet_size;
  gsize                max_span_bytes;   /* a span longer than this can never be sent */
  gint64               queue_full_wait_us; /* 0: a full queue drops at once */
  guint                made_in_generation; /* the process generation it belongs to */
  atomic_uint          running_generation; /* (atomic) made_in_generation once started, else 0 */

  /* Statistics. Each counter has one writer side and relaxed increments: they
   * order nothing, and flush() reads them after synchronising with the flush
   * thread. Spans reported are not counted per push: they are the queue's
   * records pushed plus the spans dropped before the queue. */
  _Alignas (64)
  _Atomic guint64      dropped_queue_full;   /* producers */
  _Atomic guint64      waited_for_room;      /* producers: pushes that waited for room */
  _Atomic guint64      dropped_too_large_early; /* producers: larger than any datagram */
  _Atomic guint64      reported_after_close; /* producers: the queue was sealed; failed to send */

  _Alignas (64)
  GluetoolSendCounts   sent;                 /* the flush thread's, through the sender */
  guint64              left_to_parent;       /* written once, before it is shared */

  /* Settings, fixed at creation. */
  _Alignas (64)
  gatomicrefcount      ref_count;
  char                *service_name;
  char                *host;
  guint                port;
  gint64               flush_interval_us;
  gint64               exit_flush_timeout_us; /* 0: nothing is sent at exit */
  char                *client_uuid;
  GCancellable        *cancellable;          /* (owned) cancelled at close()'s deadline */
  char                *endpoint;             /* (nullable) a collector's URL: HTTP, not UDP */
  gsize                max_batch_size;
  char                *destination;          /* where spans go, for messages */

  /* What flush() and close() tell of losses. */
  GMutex               loss_lock;
  GluetoolTracerStats  seen;                 /* (under loss_lock) losses the last flush told of */
  GError              *last_send_error;      /* (under loss_lock) (owned) (nullable) */

  /* A reporter inherited from the parent process, replaced by this one:
   * never used or freed, only kept reachable (see abandon_inherited()). */
  GluetoolReporter    *next_abandoned;

  /* The reporters whose flush thread runs, for the flush at exit (see
   * flush_at_exit()); under running_lock. */
  GluetoolReporter    *next_running;
  gboolean             is_listed_running;
};

/* ---- Statistics ------------------------------------------------------------ */

static inline void
count (_Atomic guint64 *counter,
       guint64          n)
{
  atomic_fetch_add_explicit (counter, n, memory_order_relaxed);
}

static inline guint64
read_counter (_Atomic guint64 *counter)
{
  return atomic_load_explicit (counter, memory_order_relaxed);
}

void
gluetool_reporter_get_stats (GluetoolReporter    *self,
                             GluetoolTracerStats *stats)
{
  guint64 reported_after_close, dropped_queue_full, dropped_too_large_early;

  /* Outcomes first, then what was reported: a span that moves meanwhile is
   * then counted as still on its way, never as sent and not yet reported. */
  stats->spans_sent = read_counter (&self->sent.spans_sent);
  stats->datagrams_sent = read_counter (&self->sent.batches_sent);
  stats->spans_failed_to_send = read_counter (&self->sent.failed_to_send);
  stats->spans_dropped_too_large = read_counter (&self->sent.dropped_too_large);

  reported_after_close = read_counter (&self->reported_after_close);
  dropped_queue_full = read_counter (&self->dropped_queue_full);
  dropped_too_large_early = read_counter (&self->dropped_too_large_early);
  stats->spans_dropped_queue_full = dropped_queue_full;
  stats->spans_waited_for_room = read_counter (&self->waited_for_room);
  stats->spans_dropped_too_large += dropped_too_large_early;
  stats->spans_failed_to_send += reported_after_close;
  stats->spans_reported = gluetool_lanes_get_pushed (self->lanes) + dropped_queue_full
                          + dropped_too_large_early + reported_after_close;
  stats->spans_left_to_parent = self->left_to_parent;
}

/* What a sender asks of its reporter (sender-private.h). */
static void
get_client_stats (gpointer             owner,
                  GluetoolClientStats *client_stats)
{
  GluetoolTracerStats stats;

  gluetool_reporter_get_stats (owner, &stats);
  client_stats->full_queue_dropped_spans = (gint64) stats.spans_dropped_queue_full;
  client_stats->too_large_dropped_spans = (gint64) stats.spans_dropped_too_large;
  client_stats->failed_to_emit_spans = (gint64) stats.spans_failed_to_send;
}

static void
remember_loss (gpointer      owner,
               const GError *error)
{
  GluetoolReporter *self = owner;

  gluetool_mutex_lock (&self->loss_lock);
  g_clear_error (&self->last_send_error);
  self->last_send_error = g_error_copy (error);
  gluetool_mutex_unlock (&self->loss_lock);
}

static const GluetoolSenderOwner sender_owner_funcs = { get_client_stats, remember_loss };

/* ---- Life cycle ------------------------------------------------------------ */

/* Everything but the sender and the flush thread, which new() and
 * new_for_child() make each their way. */
static GluetoolReporter *
reporter_alloc (const char *service_name,
                const char *host,
                guint       port,
                gint64      flush_interval_us,
                gsize       queue_size,
                guint       max_packet_size,
                gint64      queue_full_wait_us,
                gint64      exit_flush_timeout_us,
                const char *endpoint,
                gsize       max_batch_size)
{
  GluetoolReporter *self = g_aligned_alloc0 (1, sizeof (GluetoolReporter), 64);

  /* Over HTTP a span may be as large as a batch: the smallest batch costs
   * more than MIN_DATAGRAM_OVERHEAD beyond its span, and a span's binary
   * form is no shorter than its compact one, so what is refused here
   * could never be sent. */
  self->endpoint = g_strdup (endpoint);
  self->max_batch_size = max_batch_size;
  if (endpoint != NULL)
    {
      self->max_span_bytes = max_batch_size - MIN_DATAGRAM_OVERHEAD;
      self->destination = g_strdup (endpoint);
    }
  else
    {
      self->max_span_bytes = max_packet_size - MIN_DATAGRAM_OVERHEAD;
      self->destination = g_strdup_printf ("%s:%u", host, port);
    }

  g_atomic_ref_count_init (&self->ref_count);
  self->service_name = g_strdup (service_name);
  self->host = g_strdup (host);
  self->port = port;
  self->flush_interval_us = flush_interval_us;
  self->max_packet_size = max_packet_size;
  self->queue_full_wait_us = queue_full_wait_us;
  self->exit_flush_timeout_us = exit_flush_timeout_us;
  /* Made here, not by GLib's g_uuid_string_random(): that takes a global
   * lock, which a child process made by fork() may find held for ever. */
  self->client_uuid = gluetool_ids_dup_uuid_string ();
  self->lanes = gluetool_lanes_new (queue_size);
  self->made_in_generation = gluetool_process_get_generation ();
  atomic_init (&self->running_generation, 0);
  atomic_init (&self->dropped_queue_full, 0);
  atomic_init (&self->waited_for_room, 0);
  atomic_init (&self->dropped_too_large_early, 0);
  atomic_init (&self->reported_after_close, 0);
  atomic_init (&self->sent.spans_sent, 0);
  atomic_init (&self->sent.batches_sent, 0);
  atomic_init (&self->sent.dropped_too_large, 0);
  atomic_init (&self->sent.failed_to_send, 0);
  g_mutex_init (&self->loss_lock);
  self->cancellable = g_cancellable_new ();
  return self;
}

static void
context_for (GluetoolReporter      *self,
             GluetoolSenderContext *context)
{
  *context = (GluetoolSenderContext) { &self->sent, &sender_owner_funcs, self, self->cancellable };
}

/* The flush thread, taking @sender. */
static void
add_flush_thread (GluetoolReporter *self,
                  GluetoolSender   *sender)
{
  /* Wake the flush thread when a datagram's worth is queued, or earlier so a
   * small queue is drained before it fills: at half its bytes. */
  GluetoolFlushThreadSettings settings = {
    self->flush_interval_us,
    MIN ((gsize) self->max_packet_size, gluetool_lanes_get_capacity_bytes (self->lanes) / 2),
  };

  self->flush_thread = gluetool_flush_thread_new (&settings, self->lanes, sender);
}

GluetoolReporter *
gluetool_reporter_new (const GluetoolConfig *config)
{
  gint64 queue_full_wait_us = (gint64) (config->queue_full_wait_s * G_USEC_PER_SEC);
  GluetoolReporter *self;
  GluetoolSenderContext context;
  GluetoolUdpSenderSettings udp_settings;
  GluetoolSender *sender;

  /* A wait asked for is never rounded down to none. */
  if (config->queue_full_wait_s > 0.0)
    queue_full_wait_us = MAX (queue_full_wait_us, 1);

  gluetool_process_ensure_fork_handlers ();
  self = reporter_alloc (config->service_name, config->reporting_host, config->reporting_port,
                         (gint64) (config->flush_interval_s * G_USEC_PER_SEC), config->queue_size,
                         config->max_packet_size, queue_full_wait_us,
                         (gint64) (config->exit_flush_timeout_s * G_USEC_PER_SEC),
                         config->endpoint, config->max_batch_size);
  context_for (self, &context);
  if (config->endpoint != NULL)
    {
#ifdef GLUETOOL_HAVE_SOUP
      GluetoolHttpSenderSettings http_settings = {
        self->service_name, config->endpoint, config->max_batch_size, config->auth_token,
        config->user, config->password, config->tls_ca_file, self->client_uuid, config->tags,
      };

      gluetool_thread_types_ensure_http ();
      sender = gluetool_http_sender_new (&http_settings, &context);
#else
      /* config.c refuses an endpoint then. */
      g_assert_not_reached ();
#endif
    }
  else
    {
      gluetool_thread_types_ensure_network ();
      udp_settings = (GluetoolUdpSenderSettings) {
        self->service_name, self->host, self->port, self->max_packet_size, self->client_uuid,
        .tags = config->tags,
      };
      sender = gluetool_udp_sender_new (&udp_settings, NULL, &context);
    }
  add_flush_thread (self, sender);
  return self;
}

/* ---- The flush at exit ----------------------------------------------------- */

/* The reporters with a flush thread, newest first. A process that ends
 * with exit() or a return from main() flushes them from an atexit()
 * handler, so spans finished before it are sent without a close(): a test
 * that check runs in a forked child, a tool that returns from main().
 * Held across fork(): a thread may hold it outside any region. */
static GMutex            running_lock;
static GluetoolReporter *running_reporters;   /* under running_lock, not owned */

static void flush_at_exit (void);

static void
install_exit_handler (void)
{
  static gsize installed = 0;

  if (g_once_init_enter (&installed))
    {
      gluetool_process_hold_across_fork (&running_lock);
      /* In a library, glibc's atexit() registers the handler for this
       * shared object: it also runs if the library is unloaded first. */
      if (atexit (flush_at_exit) != 0)
        g_warning ("Spans will not be flushed at exit: atexit() failed");
      g_once_init_leave (&installed, 1);
    }
}

static void
list_running (GluetoolReporter *self)
{
  install_exit_handler ();

  gluetool_mutex_lock (&running_lock);
  /* Sealed: close() has begun, and has taken it off the list or will;
   * listed again, it would outlive its last reference there. */
  if (!self->is_listed_running && !gluetool_lanes_is_sealed (self->lanes))
    {
      self->next_running = running_reporters;
      running_reporters = self;
      self->is_listed_running = TRUE;
    }
  gluetool_mutex_unlock (&running_lock);
}

/* Once closed (or freed) a reporter has nothing to send at exit. */
static void
unlist_running (GluetoolReporter *self)
{
  gluetool_mutex_lock (&running_lock);
  if (self->is_listed_running)
    {
      for (GluetoolReporter **link = &running_reporters; *link != NULL;
           link = &(*link)->next_running)
        if (*link == self)
          {
            *link = self->next_running;
            break;
          }
      self->is_listed_running = FALSE;
    }
  gluetool_mutex_unlock (&running_lock);
}

/* A reference, unless the last one is being dropped (the reporter is then
 * about to leave the list, under running_lock, which the caller holds). */
static gboolean
ref_unless_dying (GluetoolReporter *self)
{
  gint count = g_atomic_int_get ((gint *) &self->ref_count);

  while (count > 0)
    if (g_atomic_int_compare_and_exchange_full ((gint *) &self->ref_count, count, count + 1, &count))
      return TRUE;
  return FALSE;
}

/* The running reporters of this process that send at exit, each with a
 * reference. A child made by fork() inherits the list: its entries are the
 * parent's until the child starts reporters of its own. */
static GPtrArray *
dup_running_here (void)
{
  GPtrArray *reporters = g_ptr_array_new_with_free_func ((GDestroyNotify) gluetool_reporter_unref);

  gluetool_mutex_lock (&running_lock);
  for (GluetoolReporter *r = running_reporters; r != NULL; r = r->next_running)
    if (gluetool_reporter_is_running_here (r) && r->exit_flush_timeout_us > 0
        && ref_unless_dying (r))
      g_ptr_array_add (reporters, r);
  gluetool_mutex_unlock (&running_lock);
  return reporters;
}

/* Flushes every running reporter, each bounded by its exit flush timeout
 * from the start of the handler, so the whole takes at most the longest of
 * them. Silent when everything was sent. Runs in the thread that called
 * exit(), while the other threads (flush threads included) still run. */
static void
flush_at_exit (void)
{
  gint64 start_us = g_get_monotonic_time ();
  g_autoptr(GPtrArray) reporters = dup_running_here ();

  for (guint i = 0; i < reporters->len; i++)
    {
      GluetoolReporter *reporter = g_ptr_array_index (reporters, i);
      g_autoptr(GError) error = NULL;

      /* exit() from the flush thread itself (a log handler of the
       * program's): it cannot wait for itself. */
      if (gluetool_flush_thread_is_self (reporter->flush_thread))
        continue;
      if (!gluetool_reporter_flush (reporter, start_us + reporter->exit_flush_timeout_us, &error))
        g_message ("Spans of %s were not all sent to %s at exit: %s",
                   reporter->service_name, reporter->destination, error->message);
    }
}


gboolean
gluetool_reporter_start (GluetoolReporter *self)
{
  gboolean running;

  g_return_val_if_fail (gluetool_reporter_belongs_to_this_process (self), FALSE);

  running = gluetool_flush_thread_start (self->flush_thread);
  if (running)
    {
      /* Relaxed: producers only need to stop taking the slow path
       * eventually; nothing they do depends on the thread having run. */
      atomic_store_explicit (&self->running_generation, self->made_in_generation,
                             memory_order_relaxed);
      list_running (self);
    }
  return running;
}

GluetoolReporter *
gluetool_reporter_new_for_child (GluetoolReporter *inherited,
                                 gboolean          closed)
{
  GluetoolSender *inherited_sender;
  GluetoolReporter *self;
  GluetoolSenderContext context;

  g_return_val_if_fail (!gluetool_reporter_belongs_to_this_process (inherited), NULL);

  /* Settings are never written after creation, so the copies in the
   * inherited memory are whole, whatever its threads were doing. */
  self = reporter_alloc (inherited->service_name, inherited->host, inherited->port,
                         inherited->flush_interval_us,
                         gluetool_lanes_get_capacity_bytes (inherited->lanes),
                         inherited->max_packet_size, inherited->queue_full_wait_us,
                         inherited->exit_flush_timeout_us, inherited->endpoint,
                         inherited->max_batch_size);
  inherited_sender = gluetool_flush_thread_peek_sender (inherited->flush_thread);
  context_for (self, &context);
  add_flush_thread (self, gluetool_sender_new_for_child (inherited_sender, self->client_uuid,
                                                         &context));

  /* What the parent had queued and not yet sent, including the batch its
   * flush thread was packing and the datagram whose fate it did not know
   * yet. The parent sends them; here they are only counted. The queue's
   * counters and the sender's fields are read without a lock, as no thread
   * here writes them any more. */
  self->left_to_parent = gluetool_lanes_get_pushed (inherited->lanes)
                         - gluetool_lanes_get_consumed (inherited->lanes)
                         + gluetool_sender_get_n_unsettled (inherited_sender);

  if (closed)
    {
      guint64 unsent;

      gluetool_lanes_seal (self->lanes);
      gluetool_flush_thread_stop (self->flush_thread, 0, &unsent);
    }
  return self;
}

/* The inherited reporters this process replaced, kept reachable so memory
 * checkers do not call them leaks (see abandon_inherited()). Pushed
 * lock-free, never popped. */
static GluetoolReporter *_Atomic abandoned_reporters;

void
gluetool_reporter_abandon_inherited (GluetoolReporter *inherited)
{
  GluetoolReporter *head;

  g_return_if_fail (!gluetool_reporter_belongs_to_this_process (inherited));

  /* Only the caller can still touch the flush thread's fields: the thread
   * is not in this process. */
  gluetool_sender_forget_inherited (gluetool_flush_thread_peek_sender (inherited->flush_thread));

  /* The rest cannot be freed: its lock may be held by a thread that did
   * not come along (clearing a held GMutex aborts), and a thread of this
   * process may have read the pointer just before it was replaced and
   * still be about to read its generation. Its pages are the parent's,
   * shared until written, so keeping it costs next to nothing. */
  head = atomic_load_explicit (&abandoned_reporters, memory_order_relaxed);
  do
    inherited->next_abandoned = head;
  while (!atomic_compare_exchange_weak_explicit (&abandoned_reporters, &head, inherited,
                                                 memory_order_release, memory_order_relaxed));
}

const char *
gluetool_reporter_get_client_uuid (GluetoolReporter *self)
{
  return self->client_uuid;
}

gboolean
gluetool_reporter_belongs_to_this_process (GluetoolReporter *self)
{
  return self->made_in_generation == gluetool_process_get_generation ();
}

gboolean
gluetool_reporter_is_running_here (GluetoolReporter *self)
{
  return atomic_load_explicit (&self->running_generation, memory_order_relaxed)
         == gluetool_process_get_generation ();
}

GluetoolReporter *
gluetool_reporter_ref (GluetoolReporter *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
gluetool_reporter_unref (GluetoolReporter *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  unlist_running (self);
  /* Owners close with a timeout first; freeing the flush thread stops it
   * at once otherwise, which must not leave a thread on freed memory. */
  gluetool_flush_thread_free (self->flush_thread);
  gluetool_lanes_free (self->lanes);
  g_clear_error (&self->last_send_error);
  g_clear_object (&self->cancellable);
  g_mutex_clear (&self->loss_lock);
  g_free (self->service_name);
  g_free (self->host);
  g_free (self->client_uuid);
  g_free (self->destination);
  g_free (self->endpoint);
  g_aligned_free (self);
}

/* ---- Producers ------------------------------------------------------------- */

/* The queue refused the span: it is full, or close() sealed it. Out of line:
 * the usual push never comes here. */
G_GNUC_NO_INLINE static gboolean
push_to_full_queue (GluetoolReporter *self,
                    const guint8     *span,
                    gsize             len)
{
  gluetool_flush_thread_refused (self->flush_thread);
  if (self->queue_full_wait_us > 0 && !gluetool_lanes_is_sealed (self->lanes)
      && gluetool_flush_thread_wait_for_room (self->flush_thread, span, len,
                                              self->queue_full_wait_us, &self->waited_for_room))
    return TRUE;

  /* close() seals the queue: a push either ended before, and the flush
   * thread reads it, or fails and is counted here. */
  if (gluetool_lanes_is_sealed (self->lanes))
    count (&self->reported_after_close, 1);
  else
    count (&self->dropped_queue_full, 1);
  return FALSE;
}

gboolean
gluetool_reporter_push_mp (GluetoolReporter *self,
                           const guint8     *span,
                           gsize             len)
{
  gboolean took_block = FALSE;
  gsize bytes_in_use = 0;

  if (G_UNLIKELY (len > self->max_span_bytes))
    {
      count (&self->dropped_too_large_early, 1);
      return FALSE;
    }

  if (G_UNLIKELY (!gluetool_lanes_push (self->lanes, span, len, &took_block, &bytes_in_use)))
    return push_to_full_queue (self, span, len);

  gluetool_flush_thread_pushed (self->flush_thread, took_block, bytes_in_use);
  return TRUE;
}

gboolean
gluetool_reporter_is_idle (GluetoolReporter *self)
{
  return gluetool_flush_thread_is_idle (self->flush_thread);
}

guint64
gluetool_reporter_get_idle_wakes (GluetoolReporter *self)
{
  return gluetool_flush_thread_get_idle_wakes (self->flush_thread);
}

/* ---- flush() and close() ---------------------------------------------------- */

/* Under @loss_lock: FALSE with an error when spans were lost since the last call
 * that @counted them. The message names each cause that lost some, with how
 * many and why. */
static gboolean
check_losses (GluetoolReporter *self,
              gboolean          counted,
              GError          **error)
{
  g_autoptr(GString) message = NULL;
  GluetoolTracerStats now;
  guint64 queue_full, too_large, failed, lost;

  gluetool_reporter_get_stats (self, &now);
  queue_full = now.spans_dropped_queue_full - self->seen.spans_dropped_queue_full;
  too_large = now.spans_dropped_too_large - self->seen.spans_dropped_too_large;
  failed = now.spans_failed_to_send - self->seen.spans_failed_to_send;
  if (counted)
    self->seen = now;

  lost = queue_full + too_large + failed;
  if (lost == 0)
    return TRUE;

  message = g_string_new (NULL);
  g_string_append_printf (message, "%" G_GUINT64_FORMAT " %s lost since the last flush: ",
                          lost, lost == 1 ? "span was" : "spans were");
  if (queue_full > 0)
    {
      g_string_append_printf (message, "%" G_GUINT64_FORMAT " dropped because the queue was full",
                              queue_full);
      if (self->queue_full_wait_us > 0)
        g_string_append_printf (message, " and the tracer's thread made no room within the "
                                "queue-full-wait of %g s",
                                (double) self->queue_full_wait_us / G_USEC_PER_SEC);
      else
        g_string_append (message, " (spans were finished faster than the tracer's thread "
                         "sent them; a larger queue-size or a queue-full-wait would keep them)");
    }
  if (too_large > 0)
    g_string_append_printf (message, "%s%" G_GUINT64_FORMAT " too large for a %s",
                            queue_full > 0 ? ", " : "", too_large,
                            self->endpoint != NULL ? "batch" : "datagram");
  if (failed > 0)
    g_string_append_printf (message, "%s%" G_GUINT64_FORMAT " failed to send%s%s",
                            queue_full + too_large > 0 ? ", " : "", failed,
                            self->last_send_error != NULL ? "; last error: " : "",
                            self->last_send_error != NULL ? self->last_send_error->message : "");

  g_set_error_literal (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST,
                       message->str);
  return FALSE;
}

/* What flush() and close() report, a time-out first (with @unsent, the
 * spans still on their way then). */
static gboolean
report_unsent_and_losses (GluetoolReporter *self,
                          gboolean          timed_out,
                          guint64           unsent,
                          GError          **error)
{
  g_autoptr(GError) losses = NULL;
  gboolean ok;

  /* A time-out still says why spans were lost meanwhile (a request its
   * deadline cut, say), and leaves them to the next flush to count. */
  gluetool_mutex_lock (&self->loss_lock);
  ok = check_losses (self, !timed_out, timed_out ? &losses : error);
  gluetool_mutex_unlock (&self->loss_lock);
  if (timed_out && unsent == 0 && losses != NULL)
    {
      /* What held the flush past its deadline was a batch that failed. */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "The flush timed out; %s",
                   losses->message);
      return FALSE;
    }
  if (timed_out)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "The flush timed out with %" G_GUINT64_FORMAT " spans not sent yet%s%s",
                   unsent, losses != NULL ? "; " : "", losses != NULL ? losses->message : "");
      return FALSE;
    }
  return ok;
}

gboolean
gluetool_reporter_flush (GluetoolReporter *self,
                         gint64            deadline_us,
                         GError          **error)
{
  guint64 unsent = 0;
  gboolean done = gluetool_flush_thread_flush (self->flush_thread, deadline_us, &unsent);

  return report_unsent_and_losses (self, !done, unsent, error);
}

gboolean
gluetool_reporter_close (GluetoolReporter *self,
                         gint64            deadline_us,
                         GError          **error)
{
  guint64 unsent = 0;
  guint64 pushed, consumed;
  gboolean done;

  /* From here the records pushed are final (see gluetool_lanes_seal()). */
  gluetool_lanes_seal (self->lanes);
  unlist_running (self);
  done = gluetool_flush_thread_stop (self->flush_thread, deadline_us, &unsent);

  /* A thread never started leaves whatever was pushed behind. */
  pushed = gluetool_lanes_get_pushed (self->lanes);
  consumed = gluetool_lanes_get_consumed (self->lanes);
  if (pushed > consumed)
    count (&self->sent.failed_to_send, pushed - consumed);

  return report_unsent_and_losses (self, !done, unsent, error);
}
