/* reporter.c: the flush thread, and everything between an encoded span and
 * the Jaeger agent
 *
 * SPDX-License-Identifier: MIT
 */

#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "debug-private.h"
#include "encoder-private.h"
#include "ids-private.h"
#include "lanes-private.h"
#include "process-private.h"
#include "reporter-private.h"
#include "sync-private.h"

#define JAEGER_VERSION_TAG "C-gluetool-action-" GLUETOOL_VERSION_S

/* After this many "connection refused" on one connection the address is
 * looked up again: the agent may have moved. */
#define MAX_REFUSED_BEFORE_RECONNECT 16
/* A failed lookup or connect is not retried sooner than this. */
#define RECONNECT_BACKOFF_US (G_USEC_PER_SEC / 2)
/* A send that blocks longer than this fails (the spans count as failed). */
#define SEND_TIMEOUT_S 5

/* The flush thread announces room to producers waiting for it (see
 * wait_for_room()) every time it has read a block's worth of records (a
 * sixteenth of the queue, or 16 KiB): a waiter need not wait for a whole
 * drain of a large queue, nor be woken every few records (a wake-up costs
 * it and the flush thread a futex call each). */
/* Everything only the flush thread touches. */
typedef struct {
  GSocket             *socket;           /* (owned) (nullable) connected */
  gint64               next_connect_us;  /* no connect attempt before */
  GError              *connect_error;    /* (owned) (nullable) why the last attempt failed */
  guint                refused_since_connect;
  GluetoolBuffer       process;          /* encoded Process, once connected */
  GluetoolBuffer       head;             /* message header + Process + list header */
  GluetoolBuffer       tail;             /* seqNo, stats, stops */
  GluetoolBuffer       spans;            /* the batch being packed */
  guint                n_spans;
  GluetoolClientStats  batch_stats;      /* the stats the batch will carry */
  gsize                envelope_fixed;   /* the batch's envelope less its list header */
  gint64               next_seq_no;      /* Batch.seqNo of the next datagram: 1, 2, ... */
  /* The spans of the last datagram the socket accepted, until it is known
   * whether the agent refused it (see settle_in_doubt()): counted neither
   * sent nor failed meanwhile. 0 when none is in doubt (no datagram is
   * empty). */
  guint                in_doubt_spans;
  /* Where the parent process was sending when this one was forked from it:
   * the first connection goes there without a lookup. (owned) (nullable) */
  GSocketAddress      *inherited_agent;
} Sender;

/* Laid out by who writes what: producers read the first group on every push
 * and write nothing there; they write the second only when they drop a span;
 * the flush thread writes the third per datagram. Separate cache lines keep
 * one side's writes from evicting what the other reads. */
struct _GluetoolReporter {
  /* Read by producers on every push; written once, but for
   * @running_generation, which start() writes once. */
  GluetoolLanes   *lanes;                /* (owned) the queue; sealed by close() */
  guint            max_packet_size;
  gsize            wake_bytes;
  guint            made_in_generation;   /* the process generation it belongs to */
  atomic_uint      running_generation;   /* (atomic) made_in_generation once started, else 0 */

  /* The wake-up protocol (see wake_if_sleeping()): the flush thread stores
   * CONSUMER_ASLEEP or CONSUMER_NAPPING here, seq_cst, before it reads the
   * count of blocks taken (asleep) or of refused pushes (both) and waits on
   * it; a producer that took a block or was refused reads this, seq_cst. On
   * a line of its own: the flush thread writes it at every sleep. (atomic) */
  _Alignas (64)
  atomic_int       consumer_sleeping;

  /* A full queue (see wait_for_room()). Producers write here only when they
   * find the queue full and may wait; the flush thread reads @room_waiters
   * every @room_check_bytes of records it releases. */
  _Alignas (64)
  gint64           queue_full_wait_us;   /* setting; 0: a full queue drops at once */
  /* Producers waiting for room on @room, or about to. (atomic) */
  atomic_uint      room_waiters;
  /* The ring's consumed count when a wait for room last ran out with the
   * flush thread having consumed nothing, or G_MAXUINT64. Producers only;
   * relaxed: it is a hint that the flush thread is stuck, and orders
   * nothing. (atomic) */
  _Atomic guint64  stuck_at_consumed;

  /* Statistics. Each counter has one writer side and relaxed increments: they
   * order nothing, and flush() reads them after synchronising with the flush
   * thread through @lock. Spans reported are not counted per push: they are
   * the queue's records pushed plus the spans dropped before the queue. */
  _Alignas (64)
  _Atomic guint64  dropped_queue_full;   /* producers */
  _Atomic guint64  waited_for_room;      /* producers: pushes that waited for room */
  _Atomic guint64  dropped_too_large_early; /* producers: larger than any datagram */
  _Atomic guint64  reported_after_close; /* producers: the queue was sealed; failed to send */
  _Atomic guint64  idle_wakes;           /* producers: woke the flush thread from idle */

  _Alignas (64)
  _Atomic guint64  spans_sent;           /* flush thread */
  _Atomic guint64  datagrams_sent;       /* flush thread */
  _Atomic guint64  dropped_too_large;    /* flush thread: too large with the Process */
  _Atomic guint64  failed_to_send;       /* flush thread, close() */
  guint64          left_to_parent;       /* written once, before it is shared */

  /* Settings, fixed at creation; the flush thread's. */
  _Alignas (64)
  gatomicrefcount  ref_count;
  char            *service_name;
  char            *host;
  guint            port;
  gint64           flush_interval_us;
  gint64           exit_flush_timeout_us; /* 0: nothing is sent at exit */
  gsize            room_check_bytes;     /* see announce_room() */
  char            *client_uuid;

  /* The agent's address once connected, for a child process made by fork()
   * to start from (see gluetool_reporter_new_for_child()). Written by the
   * flush thread only; @agent_version is odd while it writes, so a child
   * whose fork() caught it halfway knows to look the host up instead. */
  atomic_uint      agent_version;        /* (atomic) */
  struct sockaddr_storage agent_native;
  gsize            agent_native_len;

  /* A reporter inherited from the parent process, replaced by this one:
   * never used or freed, only kept reachable (see abandon_inherited()). */
  GluetoolReporter *next_abandoned;

  /* The reporters whose flush thread runs, for the flush at exit (see
   * flush_at_exit()); under running_lock. */
  GluetoolReporter *next_running;
  gboolean          is_listed_running;

  GMutex           lock;
  GCond            wake;                 /* to the flush thread */
  GCond            progress;             /* from it: a pass ended */
  GCond            room;                 /* from it, and close(): see wait_for_room() */
  /* flush() asks for a pass by counting a request; the flush thread answers
   * every request made before a pass began once that pass has sent what it
   * read (records of different threads have no order, so no count of
   * records can tell that everything pushed before a point is done). */
  guint64          flush_requested;      /* (under lock) */
  guint64          flush_completed;      /* (under lock) */
  guint64          in_flight;            /* (under lock) read but not yet sent or lost */
  gboolean         closing;              /* (under lock) */
  gboolean         thread_done;          /* (under lock) */
  GluetoolTracerStats seen;              /* (under lock) losses the last flush told of */
  GError          *last_send_error;      /* (under lock) (owned) (nullable) */
  GCancellable    *cancellable;          /* (owned) cancelled at close()'s deadline */
  GThread         *thread;               /* (owned) (nullable) */

  Sender           sender;               /* flush thread only */
};

static gpointer flush_thread_main (gpointer data);

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
  stats->spans_sent = read_counter (&self->spans_sent);
  stats->datagrams_sent = read_counter (&self->datagrams_sent);
  stats->spans_failed_to_send = read_counter (&self->failed_to_send);
  stats->spans_dropped_too_large = read_counter (&self->dropped_too_large);

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

static void
snapshot_client_stats (GluetoolReporter    *self,
                       GluetoolClientStats *client_stats)
{
  GluetoolTracerStats stats;

  gluetool_reporter_get_stats (self, &stats);
  client_stats->full_queue_dropped_spans = (gint64) stats.spans_dropped_queue_full;
  client_stats->too_large_dropped_spans = (gint64) stats.spans_dropped_too_large;
  client_stats->failed_to_emit_spans = (gint64) stats.spans_failed_to_send;
}

/* ---- Life cycle ------------------------------------------------------------ */

static GluetoolReporter *
reporter_new (const char *service_name,
              const char *host,
              guint       port,
              double      flush_interval_s,
              gsize       queue_size,
              guint       max_packet_size,
              gint64      queue_full_wait_us,
              gint64      exit_flush_timeout_us)
{
  GluetoolReporter *self = g_aligned_alloc0 (1, sizeof (GluetoolReporter), 64);

  g_atomic_ref_count_init (&self->ref_count);
  self->service_name = g_strdup (service_name);
  self->host = g_strdup (host);
  self->port = port;
  self->flush_interval_us = (gint64) (flush_interval_s * G_USEC_PER_SEC);
  self->max_packet_size = max_packet_size;
  self->queue_full_wait_us = queue_full_wait_us;
  self->exit_flush_timeout_us = exit_flush_timeout_us;
  /* Made here, not by GLib's g_uuid_string_random(): that takes a global
   * lock, which a child process made by fork() may find held for ever. */
  self->client_uuid = gluetool_ids_dup_uuid_string ();
  self->lanes = gluetool_lanes_new (queue_size);
  self->made_in_generation = gluetool_process_get_generation ();
  atomic_init (&self->running_generation, 0);
  atomic_init (&self->agent_version, 0);

  /* Wake the flush thread when a datagram's worth is queued, or earlier so a
   * small queue is drained before it fills: at half its bytes. */
  self->wake_bytes = MIN ((gsize) max_packet_size, queue_size / 2);
  self->wake_bytes = MAX (self->wake_bytes, 1);
  self->room_check_bytes = gluetool_lanes_get_block_bytes (self->lanes);

  atomic_init (&self->dropped_queue_full, 0);
  atomic_init (&self->waited_for_room, 0);
  atomic_init (&self->dropped_too_large_early, 0);
  atomic_init (&self->reported_after_close, 0);
  atomic_init (&self->idle_wakes, 0);
  atomic_init (&self->dropped_too_large, 0);
  atomic_init (&self->spans_sent, 0);
  atomic_init (&self->datagrams_sent, 0);
  atomic_init (&self->failed_to_send, 0);
  atomic_init (&self->consumer_sleeping, 0);
  atomic_init (&self->room_waiters, 0);
  atomic_init (&self->stuck_at_consumed, G_MAXUINT64);

  g_mutex_init (&self->lock);
  g_cond_init (&self->wake);
  g_cond_init (&self->progress);
  g_cond_init (&self->room);
  self->cancellable = g_cancellable_new ();

  gluetool_buffer_init (&self->sender.process, NULL, 0);
  gluetool_buffer_init (&self->sender.head, NULL, 0);
  gluetool_buffer_init (&self->sender.tail, NULL, 0);
  /* The batch buffer is allocated once, a datagram's size. */
  gluetool_buffer_init (&self->sender.spans, NULL, 0);
  gluetool_buffer_reserve (&self->sender.spans, max_packet_size);
  self->sender.next_seq_no = 1;

  /* Until start(), flush() and close() have no thread to wait for. */
  self->thread_done = TRUE;
  return self;
}

GluetoolReporter *
gluetool_reporter_new (const GluetoolConfig *config)
{
  gint64 queue_full_wait_us = (gint64) (config->queue_full_wait_s * G_USEC_PER_SEC);

  /* A wait asked for is never rounded down to none. */
  if (config->queue_full_wait_s > 0.0)
    queue_full_wait_us = MAX (queue_full_wait_us, 1);

  gluetool_process_ensure_fork_handlers ();
  return reporter_new (config->service_name, config->reporting_host, config->reporting_port,
                       config->flush_interval_s, config->queue_size, config->max_packet_size,
                       queue_full_wait_us,
                       (gint64) (config->exit_flush_timeout_s * G_USEC_PER_SEC));
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
  if (!self->is_listed_running)
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

/* The running reporters of this process that send at exit, each with a
 * reference. A child made by fork() inherits the list: its entries are the
 * parent's until the child starts reporters of its own. */
static GPtrArray *
dup_running_here (void)
{
  GPtrArray *reporters = g_ptr_array_new_with_free_func ((GDestroyNotify) gluetool_reporter_unref);

  gluetool_mutex_lock (&running_lock);
  for (GluetoolReporter *r = running_reporters; r != NULL; r = r->next_running)
    if (gluetool_reporter_is_running_here (r) && r->exit_flush_timeout_us > 0)
      g_ptr_array_add (reporters, gluetool_reporter_ref (r));
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

      gboolean is_flush_thread;

      /* exit() from the flush thread itself (a log handler of the
       * program's): it cannot wait for itself. */
      gluetool_mutex_lock (&reporter->lock);
      is_flush_thread = reporter->thread == g_thread_self ();
      gluetool_mutex_unlock (&reporter->lock);
      if (is_flush_thread)
        continue;
      if (!gluetool_reporter_flush (reporter, start_us + reporter->exit_flush_timeout_us, &error))
        g_message ("Spans of %s were not all sent to %s:%u at exit: %s",
                   reporter->service_name, reporter->host, reporter->port, error->message);
    }
}

gboolean
gluetool_reporter_start (GluetoolReporter *self)
{
  gboolean running;

  g_return_val_if_fail (gluetool_reporter_belongs_to_this_process (self), FALSE);

  gluetool_mutex_lock (&self->lock);
  if (self->thread == NULL && !self->closing)
    {
      self->thread_done = FALSE;
      self->thread = g_thread_new ("gluetool-flush", flush_thread_main, self);
      /* Relaxed: producers only need to stop taking the slow path
       * eventually; nothing they do depends on the thread having run. */
      atomic_store_explicit (&self->running_generation, self->made_in_generation,
                             memory_order_relaxed);
    }
  running = self->thread != NULL;
  gluetool_mutex_unlock (&self->lock);

  if (running)
    list_running (self);
  return running;
}

/* Reads, in a child process, what the inherited reporter's flush thread
 * last published of the agent's address; NULL when it had none, or was
 * writing it when the process was forked. */
static GSocketAddress *
dup_inherited_agent (GluetoolReporter *inherited)
{
  guint version = atomic_load_explicit (&inherited->agent_version, memory_order_acquire);

  if (version == 0 || version % 2 != 0)
    return NULL;
  return g_socket_address_new_from_native (&inherited->agent_native, inherited->agent_native_len);
}

GluetoolReporter *
gluetool_reporter_new_for_child (GluetoolReporter *inherited,
                                 gboolean          closed)
{
  GluetoolReporter *self;
  guint64 unsent;

  g_return_val_if_fail (!gluetool_reporter_belongs_to_this_process (inherited), NULL);

  /* Settings are never written after creation, so the copies in the
   * inherited memory are whole, whatever its threads were doing. */
  self = reporter_new (inherited->service_name, inherited->host, inherited->port,
                       (double) inherited->flush_interval_us / G_USEC_PER_SEC,
                       gluetool_lanes_get_capacity_bytes (inherited->lanes),
                       inherited->max_packet_size, inherited->queue_full_wait_us,
                       inherited->exit_flush_timeout_us);
  self->sender.inherited_agent = dup_inherited_agent (inherited);

  /* What the parent had queued and not yet sent, including the batch its
   * flush thread was packing and the datagram whose fate it did not know
   * yet. The parent sends them; here they are only counted. The queue's
   * counters and the flush thread's fields are read without a lock, as no
   * thread here writes them any more. */
  unsent = gluetool_lanes_get_pushed (inherited->lanes) - gluetool_lanes_get_consumed (inherited->lanes)
           + inherited->sender.n_spans + inherited->sender.in_doubt_spans;
  self->left_to_parent = unsent;

  if (closed)
    {
      gluetool_lanes_seal (self->lanes);
      self->closing = TRUE;
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

  /* Its socket is a copy of the parent's file descriptor: the parent goes
   * on sending on it, this process never will. Only the caller can still
   * touch the flush thread's fields: the thread is not in this process.
   * The descriptor is closed, not the GSocket unreferenced: freeing a
   * GObject takes a global lock of GLib's, which a thread the fork left
   * behind may hold. */
  if (inherited->sender.socket != NULL)
    {
      int fd = g_socket_get_fd (inherited->sender.socket);

      if (fd >= 0)
        close (fd);
    }

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

  if (self->thread != NULL)
    {
      g_autoptr(GError) error = NULL;

      /* Owners close with a timeout first; this is the last resort, which
       * must not leave a thread running on freed memory. */
      if (!gluetool_reporter_close (self, g_get_monotonic_time (), &error))
        GLUETOOL_DEBUG ("Reporter freed before it was closed: %s", error->message);
    }

  g_clear_object (&self->sender.socket);
  g_clear_object (&self->sender.inherited_agent);
  g_clear_error (&self->sender.connect_error);
  gluetool_buffer_clear (&self->sender.process);
  gluetool_buffer_clear (&self->sender.head);
  gluetool_buffer_clear (&self->sender.tail);
  gluetool_buffer_clear (&self->sender.spans);
  gluetool_lanes_free (self->lanes);
  g_clear_error (&self->last_send_error);
  g_clear_object (&self->cancellable);
  g_cond_clear (&self->wake);
  g_cond_clear (&self->progress);
  g_cond_clear (&self->room);
  g_mutex_clear (&self->lock);
  g_free (self->service_name);
  g_free (self->host);
  g_free (self->client_uuid);
  g_aligned_free (self);
}

/* ---- Producers ------------------------------------------------------------- */

/* Bytes a datagram needs beyond one span: the smallest envelope and the
 * smallest Process there can be. A span longer than the max packet size minus
 * this can never be sent, whatever the Process turns out to be. */
#define MIN_DATAGRAM_OVERHEAD 30

/* The wake-up protocol. A producer must not take a lock or make a system
 * call for a span, yet a sleeping flush thread must wake once about a
 * datagram's worth (@wake_bytes) is queued. Producers write nothing shared
 * per span (see lanes-private.h), so they look only when a push takes a new
 * block from the queue's pool, about once a hundred spans: then the budget
 * in use (whole blocks, an upper bound of the bytes queued) is compared
 * with @wake_bytes. The flush thread, holding @lock, stores
 * consumer_sleeping = 1 and then reads the count of blocks taken; the
 * producer counts its block and then reads consumer_sleeping. All four
 * accesses are seq_cst, so at least one side sees the other's: either the
 * flush thread sees a block taken since it last looked and does a pass
 * instead of sleeping, or the producer sees it asleep, swaps the flag back
 * to 0 and wakes it. The sleep is a futex wait on the flag itself, which
 * returns at once when the flag is no longer 1: a wake that comes before
 * the wait is not lost, and the producer takes no lock, so it never waits
 * for the flush thread, even for the instant the flush thread holds @lock.
 * (Where there is no futex, the flush thread waits on @wake under @lock,
 * and the producer takes and releases @lock before it signals.) flush() and
 * close() swap the flag too (wake_flush_thread()), under @lock, which the
 * flush thread holds from its look at their requests until it sleeps.
 * Spans that fill no block wait for the flush interval, as a partial
 * datagram does. Any producer may be the one to wake it, but only one does:
 * the first to swap consumer_sleeping back to 0. The others would each pay a
 * futex system call in the tens of microseconds before the woken thread gets
 * a core (on a busy two-core machine that is hundreds of pushes), which
 * measured as 10-15% of a producer's time. */
/* What the flush thread is doing, in consumer_sleeping. */
#define CONSUMER_AWAKE   0
#define CONSUMER_ASLEEP  1  /* a producer that fills a block wakes it */
#define CONSUMER_NAPPING 2  /* only a refused push, flush() or close() wakes it */
#define CONSUMER_IDLE    3  /* nothing queued: the next push wakes it */

/* How long the flush thread sleeps with nothing queued, at least: it has
 * nothing to send, and the next push wakes it (see wake_if_idle()). Only a
 * wake missed in the race described there waits this long. */
#define IDLE_SLEEP_US G_USEC_PER_SEC

static inline void
wake_consumer (GluetoolReporter *self)
{
#ifdef GLUETOOL_HAVE_FUTEX
  gluetool_futex_wake_one (&self->consumer_sleeping);
#else
  gluetool_mutex_lock (&self->lock);
  gluetool_mutex_unlock (&self->lock);
  g_cond_signal (&self->wake);
#endif
}

static inline void
wake_if_sleeping (GluetoolReporter *self)
{
  int asleep = CONSUMER_ASLEEP;

  /* The load first, so that the usual case (the flush thread awake) writes
   * nothing to a line the flush thread writes at every sleep. A nap is
   * left alone: it is there so that producers filling blocks do not pay
   * for wakes. */
  if (atomic_load_explicit (&self->consumer_sleeping, memory_order_seq_cst) == CONSUMER_ASLEEP
      && atomic_compare_exchange_strong_explicit (&self->consumer_sleeping, &asleep,
                                                  CONSUMER_AWAKE, memory_order_seq_cst,
                                                  memory_order_seq_cst))
    wake_consumer (self);
}

/* After any push: the flush thread sleeps with nothing queued, so this span
 * would otherwise wait for the interval, or, with the thread idle, longer.
 * Waking it here keeps the wait of a span that comes after a quiet time,
 * the one a process that dies without exit handlers loses, to a pass of
 * the flush thread. It costs every push one relaxed load of a line the
 * flush thread writes only when it goes to sleep or wakes, and the pushing
 * thread a futex call at most once per sleep with nothing queued: the
 * thread goes idle only after a pass that left nothing queued nor packed,
 * so at most once per flush interval while spans trickle in, and never
 * while they pour in.
 *
 * The handshake is not Dekker's: no fence orders the push before the load,
 * as one per span would cost more than everything else here. The flush
 * thread stores CONSUMER_IDLE seq_cst and then looks at the bytes queued;
 * a push whose bytes it misses and that misses the flag in turn (both
 * stores still in their store buffers) leaves its span for the end of the
 * idle sleep, IDLE_SLEEP_US or the flush interval if longer: as late as
 * before this wake existed, and rare. */
static inline void
wake_if_idle (GluetoolReporter *self)
{
  int idle = CONSUMER_IDLE;

  if (G_UNLIKELY (atomic_load_explicit (&self->consumer_sleeping, memory_order_relaxed)
                  == CONSUMER_IDLE)
      && atomic_compare_exchange_strong_explicit (&self->consumer_sleeping, &idle,
                                                  CONSUMER_AWAKE, memory_order_relaxed,
                                                  memory_order_relaxed))
    {
      count (&self->idle_wakes, 1);
      wake_consumer (self);
    }
}

gboolean
gluetool_reporter_is_idle (GluetoolReporter *self)
{
  return atomic_load_explicit (&self->consumer_sleeping, memory_order_relaxed) == CONSUMER_IDLE;
}

guint64
gluetool_reporter_get_idle_wakes (GluetoolReporter *self)
{
  return read_counter (&self->idle_wakes);
}

/* The same after a refused push (the budget spent), which ends a nap too:
 * the budget may be spent by idle lanes' blocks, which only a pass of the
 * flush thread takes back, and a producer waiting for room would otherwise
 * wait out the nap. The flush thread stores either state, then reads the
 * count of refusals; the refused push counted itself before this load.
 * Both seq_cst, as above. */
static void
wake_if_resting (GluetoolReporter *self)
{
  if (atomic_load_explicit (&self->consumer_sleeping, memory_order_seq_cst) != CONSUMER_AWAKE
      && atomic_exchange_explicit (&self->consumer_sleeping, CONSUMER_AWAKE,
                                   memory_order_seq_cst) != CONSUMER_AWAKE)
    wake_consumer (self);
}

/* Wakes the flush thread, asleep or napping, for a request made under
 * @lock (held by the caller). */
static void
wake_flush_thread (GluetoolReporter *self)
{
  g_cond_signal (&self->wake);
#ifdef GLUETOOL_HAVE_FUTEX
  if (atomic_exchange_explicit (&self->consumer_sleeping, CONSUMER_AWAKE, memory_order_seq_cst)
      != CONSUMER_AWAKE)
    gluetool_futex_wake_one (&self->consumer_sleeping);
#endif
}

/* The flush thread waits in @state (stored already) until woken or
 * @deadline_us. Called with @lock held; returns with it held. */
static void
rest_until (GluetoolReporter *self,
            int               state,
            gint64            deadline_us)
{
#ifdef GLUETOOL_HAVE_FUTEX
  gluetool_mutex_unlock (&self->lock);
  gluetool_futex_wait_until (&self->consumer_sleeping, state, deadline_us);
  gluetool_mutex_lock (&self->lock);
#else
  (void) state;
  gluetool_cond_wait_until (&self->wake, &self->lock, deadline_us);
#endif
  atomic_store_explicit (&self->consumer_sleeping, CONSUMER_AWAKE, memory_order_relaxed);
}

/* ---- A full queue ------------------------------------------------------------ */

/* A push that finds the queue full drops its span at once, by default: the
 * caller never waits for the flush thread or the network, and a drop costs
 * it the failed push and one counter. With a queue-full wait, it waits on
 * @room instead, for at most that long, and drops only then:
 *
 * - The flush thread announces room (announce_room()) every
 *   @room_check_bytes of records it releases and at the end of every drain,
 *   and takes @lock to signal only when @room_waiters says someone waits:
 *   with nobody waiting, an announcement is a fence and a relaxed load.
 * - No announcement is missed. The waiter, holding @lock, counts itself in
 *   @room_waiters, runs a seq_cst fence, and only then tries the queue again
 *   (and waits if that fails). The flush thread releases records, runs a
 *   seq_cst fence, and only then reads @room_waiters. The two fences are
 *   ordered one way or the other: if the waiter's comes first, the flush
 *   thread reads a count of at least one and signals; if the flush
 *   thread's comes first, the waiter's retry sees the room it made (every
 *   store to the queue before that fence is visible to loads after the
 *   waiter's). The signal cannot fall between the waiter's retry and its
 *   wait: the waiter holds @lock from before it counts itself until the
 *   wait releases it, and the flush thread takes @lock before it signals.
 * - close() seals the queue, then broadcasts @room under @lock: a waiter
 *   finds the queue sealed when it next checks, under @lock, or is already
 *   waiting when close() gets @lock, and wakes. It gives up at once either
 *   way (the span counts as reported after close).
 * - A stuck flush thread (resolving the agent's name, a blocked send) costs
 *   one wait, not one per span: when a wait runs out with the flush thread
 *   having consumed nothing since it began, @stuck_at_consumed keeps the
 *   consumed count, and pushes that find the queue full drop at once while
 *   the count stays there.
 * - fork() is not held up. A push runs inside the caller's region of the
 *   process (finishing an action is one, see process-private.h), and fork()
 *   waits until no thread is inside a region: a producer waiting there
 *   would stall fork() for its whole wait. The region is there for locks
 *   (the action stack's, GLib's) that the caller has released by the time
 *   it pushes, so the producer leaves it for the wait and enters it again
 *   after, never with @lock held: entering may wait for a fork() in
 *   progress, whose prepare handler may wait for the flush thread's pass,
 *   which may want @lock. A caller inside nested regions, an outer one of
 *   which may hold a lock, drops at once rather than wait. */

/* How many regions of the process the calling thread is in. Only the
 * thread itself writes its depth: relaxed. */
static guint
get_region_depth (void)
{
  GluetoolThreadRecord *record = gluetool_process_get_thread_record ();

  return atomic_load_explicit (&record->depth, memory_order_relaxed);
}

/* Waits at most @queue_full_wait_us for room, and pushes the span. FALSE
 * when it was not pushed: the wait ran out, the queue was sealed, the flush
 * thread is known to be stuck, or the caller is inside nested regions. */
static gboolean
wait_for_room (GluetoolReporter *self,
               const guint8     *span,
               gsize             len)
{
  guint64 consumed_before = gluetool_lanes_get_consumed (self->lanes);
  guint region_depth = get_region_depth ();
  gboolean pushed = FALSE;
  gboolean took_block = FALSE;
  gsize bytes_in_use = 0;
  gint64 deadline_us;

  if (consumed_before == atomic_load_explicit (&self->stuck_at_consumed, memory_order_relaxed)
      || region_depth > 1)
    return FALSE;

  /* The caller (push_to_full_queue()) woke the flush thread if it rested. */
  deadline_us = g_get_monotonic_time () + self->queue_full_wait_us;

  if (region_depth == 1)
    gluetool_process_leave ();

  gluetool_mutex_lock (&self->lock);
  atomic_fetch_add_explicit (&self->room_waiters, 1, memory_order_relaxed);
  /* Counted under @lock: a thread that reads the count and then takes @lock
   * (close(), say) finds this one waiting, or done. */
  count (&self->waited_for_room, 1);
  /* Pairs with the fence in announce_room(): see above. */
  atomic_thread_fence (memory_order_seq_cst);
  for (;;)
    {
      if (gluetool_lanes_push (self->lanes, span, len, &took_block, &bytes_in_use))
        {
          pushed = TRUE;
          break;
        }
      if (gluetool_lanes_is_sealed (self->lanes) || g_get_monotonic_time () >= deadline_us)
        break;
      gluetool_cond_wait_until (&self->room, &self->lock, deadline_us);
    }
  /* Relaxed: a count read too high only costs the flush thread a signal. */
  atomic_fetch_sub_explicit (&self->room_waiters, 1, memory_order_relaxed);
  gluetool_mutex_unlock (&self->lock);

  if (!pushed && !gluetool_lanes_is_sealed (self->lanes)
      && gluetool_lanes_get_consumed (self->lanes) == consumed_before)
    {
      atomic_store_explicit (&self->stuck_at_consumed, consumed_before, memory_order_relaxed);
      GLUETOOL_DEBUG ("The span queue is full and the flush thread sent nothing for %"
                      G_GINT64_FORMAT " us: dropping spans without waiting until it moves again",
                      self->queue_full_wait_us);
    }

  if (region_depth == 1)
    gluetool_process_enter ();

  if (pushed && took_block && bytes_in_use >= self->wake_bytes)
    wake_if_sleeping (self);
  return pushed;
}

/* The queue refused the span: it is full, or close() sealed it. Out of line:
 * the usual push never comes here. */
G_GNUC_NO_INLINE static gboolean
push_to_full_queue (GluetoolReporter *self,
                    const guint8     *span,
                    gsize             len)
{
  wake_if_resting (self);
  if (self->queue_full_wait_us > 0 && !gluetool_lanes_is_sealed (self->lanes)
      && wait_for_room (self, span, len))
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

  if (G_UNLIKELY (len + MIN_DATAGRAM_OVERHEAD > self->max_packet_size))
    {
      count (&self->dropped_too_large_early, 1);
      return FALSE;
    }

  if (G_UNLIKELY (!gluetool_lanes_push (self->lanes, span, len, &took_block, &bytes_in_use)))
    return push_to_full_queue (self, span, len);

  if (G_UNLIKELY (took_block) && bytes_in_use >= self->wake_bytes)
    wake_if_sleeping (self);
  else
    wake_if_idle (self);
  return TRUE;
}

/* ---- The flush thread: connecting ----------------------------------------- */

/* The address other clients report as "ip": the first IPv4 address of an
 * interface that is up and not loopback, else the socket's own address. */
static char *
dup_host_ip (GSocket *socket)
{
  struct ifaddrs *interfaces = NULL;
  char *ip = NULL;
  g_autoptr(GSocketAddress) local = NULL;

  if (getifaddrs (&interfaces) == 0)
    {
      for (struct ifaddrs *i = interfaces; i != NULL && ip == NULL; i = i->ifa_next)
        {
          g_autoptr(GSocketAddress) address = NULL;
          GInetAddress *inet;

          if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
          address = g_socket_address_new_from_native (i->ifa_addr, sizeof (struct sockaddr_in));
          if (address == NULL)
            continue;
          inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
          if (!g_inet_address_get_is_loopback (inet))
            ip = g_inet_address_to_string (inet);
        }
      freeifaddrs (interfaces);
    }
  if (ip != NULL)
    return ip;

  local = g_socket_get_local_address (socket, NULL);
  if (local != NULL && G_IS_INET_SOCKET_ADDRESS (local))
    return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
  return g_strdup ("127.0.0.1");
}

static void
encode_process (GluetoolReporter *self,
                GluetoolBuffer   *process)
{
  guint8 tags_storage[512];
  GluetoolBuffer tags;
  g_autofree char *ip = dup_host_ip (self->sender.socket);
  const char *hostname = g_get_host_name ();
  GluetoolEncodedList list;

  gluetool_buffer_init (&tags, tags_storage, sizeof tags_storage);
  gluetool_encode_tag_string (&tags, "jaeger.version", strlen ("jaeger.version"),
                              JAEGER_VERSION_TAG, strlen (JAEGER_VERSION_TAG));
  gluetool_encode_tag_string (&tags, "hostname", strlen ("hostname"),
                              hostname, strlen (hostname));
  gluetool_encode_tag_string (&tags, "ip", strlen ("ip"), ip, strlen (ip));
  /* A STRING client-uuid is what agents key ClientStats by. */
  gluetool_encode_tag_string (&tags, "client-uuid", strlen ("client-uuid"),
                              self->client_uuid, strlen (self->client_uuid));
  list = (GluetoolEncodedList) { tags.data, tags.len, 4 };

  process->len = 0;
  gluetool_encode_process (process, self->service_name, strlen (self->service_name), &list);
  gluetool_buffer_clear (&tags);
}

static GSocket *
connect_to (GSocketAddress *agent,
            GError        **error)
{
  g_autoptr(GSocket) socket = NULL;

  socket = g_socket_new (g_socket_address_get_family (agent),
                         G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    return NULL;

  /* Connected, so the kernel reports an ICMP "port unreachable" as
   * ECONNREFUSED (see settle_in_doubt()) instead of dropping it silently. */
  if (!g_socket_connect (socket, agent, NULL, error))
    return NULL;
  g_socket_set_timeout (socket, SEND_TIMEOUT_S);
  return g_steal_pointer (&socket);
}

/* For a child process made by fork() (see dup_inherited_agent()). */
static void
publish_agent (GluetoolReporter *self)
{
  g_autoptr(GSocketAddress) agent = g_socket_get_remote_address (self->sender.socket, NULL);
  gssize len = agent != NULL ? g_socket_address_get_native_size (agent) : -1;
  guint version = atomic_load_explicit (&self->agent_version, memory_order_relaxed);

  if (len <= 0 || (gsize) len > sizeof self->agent_native)
    return;
  atomic_store_explicit (&self->agent_version, version + 1, memory_order_relaxed);
  /* The odd version must be in memory before the address changes: a fork()
   * that copies the new bytes then copies the odd number too. */
  atomic_thread_fence (memory_order_release);
  if (g_socket_address_to_native (agent, &self->agent_native, (gsize) len, NULL))
    self->agent_native_len = (gsize) len;
  atomic_store_explicit (&self->agent_version, version + 2, memory_order_release);
}

static void check_in_doubt (GluetoolReporter *self);

static void
disconnect (GluetoolReporter *self)
{
  check_in_doubt (self);
  g_clear_object (&self->sender.socket);
}

/* Looks the host up and connects to the first address that takes it. */
static gboolean
connect_by_lookup (GluetoolReporter *self,
                   GError          **error)
{
  Sender *sender = &self->sender;
  g_autoptr(GResolver) resolver = NULL;
  g_autolist(GInetAddress) addresses = NULL;
  g_autoptr(GError) first_error = NULL;
  gboolean is_address;

  /* Until the back-off passes, fail with the reason of the last attempt. */
  if (sender->connect_error != NULL && g_get_monotonic_time () < sender->next_connect_us)
    {
      g_propagate_error (error, g_error_copy (sender->connect_error));
      return FALSE;
    }
  g_clear_error (&sender->connect_error);
  sender->next_connect_us = g_get_monotonic_time () + RECONNECT_BACKOFF_US;

  /* The lookup happens here, in the flush thread, never in a caller's thread;
   * close() cancels it at its deadline. An address is turned into one at
   * once; a name is looked up by GLib's resolver threads, which may take
   * seconds, and fork() must not wait for that, so the flush thread leaves
   * its region (see flush_thread_main()) meanwhile. */
  resolver = g_resolver_get_default ();
  is_address = g_hostname_is_ip_address (self->host);
  if (!is_address)
    gluetool_process_leave ();
  addresses = g_resolver_lookup_by_name (resolver, self->host, self->cancellable,
                                         &sender->connect_error);
  if (!is_address)
    gluetool_process_enter ();
  if (addresses == NULL)
    {
      g_prefix_error (&sender->connect_error, "Cannot resolve %s: ", self->host);
      g_propagate_error (error, g_error_copy (sender->connect_error));
      return FALSE;
    }

  for (GList *l = addresses; l != NULL && sender->socket == NULL; l = l->next)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GSocketAddress) agent = g_inet_socket_address_new (l->data, (guint16) self->port);

      sender->socket = connect_to (agent, &local_error);
      if (sender->socket == NULL && first_error == NULL)
        first_error = g_steal_pointer (&local_error);
    }
  if (sender->socket == NULL)
    {
      g_propagate_prefixed_error (&sender->connect_error, g_steal_pointer (&first_error),
                                  "Cannot connect to %s:%u: ", self->host, self->port);
      g_propagate_error (error, g_error_copy (sender->connect_error));
      return FALSE;
    }
  return TRUE;
}

static gboolean
ensure_connected (GluetoolReporter *self,
                  GError          **error)
{
  Sender *sender = &self->sender;

  if (sender->socket != NULL)
    return TRUE;

  /* A child of a process that was sending starts where it was sending, with
   * no lookup (which in a child may wait on GLib's resolver threads, which
   * did not come along). Once: after a failure, the host is looked up. */
  if (sender->inherited_agent != NULL)
    {
      g_autoptr(GSocketAddress) agent = g_steal_pointer (&sender->inherited_agent);

      sender->socket = connect_to (agent, NULL);
    }
  if (sender->socket == NULL && !connect_by_lookup (self, error))
    return FALSE;

  publish_agent (self);
  sender->refused_since_connect = 0;
  /* Encoded once: batches being packed are sized with it, so it must not
   * change length on a reconnect. */
  if (sender->process.len == 0)
    encode_process (self, &sender->process);
  GLUETOOL_DEBUG ("Sending spans to %s:%u", self->host, self->port);
  return TRUE;
}

/* ---- The flush thread: losses ---------------------------------------------- */

static void
remember_loss (GluetoolReporter *self,
               const GError     *error)
{
  gluetool_mutex_lock (&self->lock);
  g_clear_error (&self->last_send_error);
  self->last_send_error = g_error_copy (error);
  gluetool_mutex_unlock (&self->lock);
}

/* ---- The flush thread: packing and sending --------------------------------- */

/* ---- The flush thread: was it refused? -------------------------------------- */

/* A connected UDP socket hears that nothing listens at the agent's port from
 * the ICMP "port unreachable" that comes back after a datagram, and reports
 * it on its next call: sendmsg() fails (sending nothing), or SO_ERROR returns
 * it. So the last datagram the socket took is "in doubt", counted neither
 * sent nor failed, until the next send or the check at the end of each pass
 * of the flush thread (check_in_doubt(), one getsockopt() per pass that sent
 * something, never one per span) says whether it was refused. On loopback the
 * error is back before sendmsg() returns, so every datagram is counted
 * right; across a network it takes a round trip, and a refusal that arrives
 * after the check is charged to no datagram. */
static void
settle_in_doubt (GluetoolReporter *self,
                 const GError     *refusal)
{
  Sender *sender = &self->sender;

  if (sender->in_doubt_spans == 0)
    return;
  if (refusal != NULL)
    {
      count (&self->failed_to_send, sender->in_doubt_spans);
      remember_loss (self, refusal);
    }
  else
    {
      count (&self->spans_sent, sender->in_doubt_spans);
      count (&self->datagrams_sent, 1);
    }
  sender->in_doubt_spans = 0;
}

/* After a failed send, or a refusal found by check_in_doubt(). */
static void
note_send_failure (GluetoolReporter *self,
                   const GError     *error)
{
  Sender *sender = &self->sender;

  /* Nothing listening yet is the common case and needs no new lookup;
   * anything else, or a long run of refusals, may mean the address is
   * stale. */
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    {
      disconnect (self);
      /* The next attempt waits out the back-off like a failed lookup:
       * an error that persists must not cost a lookup per datagram. */
      g_clear_error (&sender->connect_error);
      sender->connect_error = g_error_copy (error);
    }
  else if (++sender->refused_since_connect >= MAX_REFUSED_BEFORE_RECONNECT)
    {
      /* Looked up again with the next datagram, with no back-off: this
       * costs one lookup per MAX_REFUSED_BEFORE_RECONNECT datagrams, and
       * an agent that comes up meanwhile gets the very next one. */
      disconnect (self);
    }
}

static void
check_in_doubt (GluetoolReporter *self)
{
  Sender *sender = &self->sender;
  g_autoptr(GError) error = NULL;
  gint pending = 0;

  if (sender->in_doubt_spans == 0)
    return;
  /* Reading SO_ERROR also clears it, so the next send does not fail for
   * this datagram's refusal. */
  if (sender->socket != NULL
      && g_socket_get_option (sender->socket, SOL_SOCKET, SO_ERROR, &pending, NULL)
      && pending != 0)
    error = g_error_new (G_IO_ERROR, g_io_error_from_errno (pending),
                         "Error sending message: %s", g_strerror (pending));
  settle_in_doubt (self, error);
  if (error != NULL)
    {
      GLUETOOL_DEBUG ("The last datagram to %s:%u was refused: %s", self->host, self->port,
                      error->message);
      note_send_failure (self, error);
    }
}

static gint32
seqid_for (gint64 seq_no)
{
  /* The message seqid mirrors Batch.seqNo, kept positive so it stays short. */
  return (gint32) (seq_no & G_MAXINT32);
}

static gsize
datagram_size (GluetoolReporter *self,
               guint             n_spans,
               gsize             spans_len)
{
  Sender *sender = &self->sender;

  return sender->envelope_fixed + gluetool_list_header_size (n_spans)
         + sender->process.len + spans_len;
}

static void
send_batch (GluetoolReporter *self)
{
  Sender *sender = &self->sender;
  GOutputVector vectors[3];
  g_autoptr(GError) error = NULL;
  gsize total;
  gssize sent;
  guint n_spans = sender->n_spans;

  if (n_spans == 0)
    return;

  sender->head.len = 0;
  gluetool_encode_batch_head (&sender->head, seqid_for (sender->next_seq_no),
                              sender->process.data, sender->process.len, n_spans);
  sender->tail.len = 0;
  gluetool_encode_batch_tail (&sender->tail, sender->next_seq_no, &sender->batch_stats);

  total = sender->head.len + sender->spans.len + sender->tail.len;
  if (G_UNLIKELY (total > self->max_packet_size))
    {
      /* Packing sizes every datagram exactly; this is a bug, not bad input. */
      g_critical ("Datagram of %" G_GSIZE_FORMAT " bytes exceeds the maximum of %u",
                  total, self->max_packet_size);
      count (&self->failed_to_send, n_spans);
      sender->spans.len = 0;
      sender->n_spans = 0;
      return;
    }

  vectors[0] = (GOutputVector) { sender->head.data, sender->head.len };
  vectors[1] = (GOutputVector) { sender->spans.data, sender->spans.len };
  vectors[2] = (GOutputVector) { sender->tail.data, sender->tail.len };

  sent = -1;
  if (sender->socket != NULL || ensure_connected (self, &error))
    sent = g_socket_send_message (sender->socket, NULL, vectors, G_N_ELEMENTS (vectors),
                                  NULL, 0, 0, self->cancellable, &error);

  if (sent >= 0)
    {
      /* The socket took it with no error pending, so the datagram before
       * was not refused; this one is in doubt until the next send or the
       * end of the pass. */
      settle_in_doubt (self, NULL);
      sender->in_doubt_spans = n_spans;
      sender->next_seq_no++;
    }
  else
    {
      /* A refusal here is the pending error of the datagram before, which
       * is lost; this one was not sent either. */
      settle_in_doubt (self, g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)
                             ? error : NULL);
      count (&self->failed_to_send, n_spans);
      GLUETOOL_DEBUG ("Could not send %u spans to %s:%u: %s", n_spans, self->host, self->port,
               error->message);
      remember_loss (self, error);
      note_send_failure (self, error);
    }

  sender->spans.len = 0;
  sender->n_spans = 0;
}

/* Adds one span to the batch, sending the batch first when the span would
 * not fit in it. */
static void
pack_span (GluetoolReporter *self,
           const guint8     *span,
           gsize             len)
{
  Sender *sender = &self->sender;

  if (sender->n_spans > 0
      && datagram_size (self, sender->n_spans + 1, sender->spans.len + len) > self->max_packet_size)
    send_batch (self);

  if (sender->n_spans == 0)
    {
      /* A batch carries the statistics as they were when it began; its size
       * is computed with exactly those numbers. */
      snapshot_client_stats (self, &sender->batch_stats);
      /* Whatever the batch's length, its seqNo and stats are these. */
      sender->envelope_fixed =
        gluetool_batch_envelope_size_without_list (seqid_for (sender->next_seq_no),
                                                   sender->next_seq_no, &sender->batch_stats);
      if (datagram_size (self, 1, len) > self->max_packet_size)
        {
          count (&self->dropped_too_large, 1);
          return;
        }
    }

  gluetool_buffer_append (&sender->spans, span, len);
  sender->n_spans++;
}

/* Tells producers waiting for room (see wait_for_room()) that records were
 * released since the last announcement. Flush thread only. */
static void
announce_room (GluetoolReporter *self)
{
  /* Pairs with the fence in wait_for_room(): a waiter whose fence comes
   * after this one sees the records released before it; one whose fence
   * came first is counted in the load below. */
  atomic_thread_fence (memory_order_seq_cst);
  if (G_LIKELY (atomic_load_explicit (&self->room_waiters, memory_order_relaxed) == 0))
    return;
  /* Taking @lock waits until the waiter counted is waiting; the broadcast
   * after the release, as in wake_if_sleeping(). */
  gluetool_mutex_lock (&self->lock);
  gluetool_mutex_unlock (&self->lock);
  g_cond_broadcast (&self->room);
}

/* Moves every record pushed so far out of the queue into datagrams. */
static void
drain (GluetoolReporter *self)
{
  g_autoptr(GError) error = NULL;
  gboolean connected = FALSE;
  const guint8 *record;
  gsize len;
  guint released = 0;
  gsize released_bytes = 0;

  while (gluetool_lanes_peek_sc (self->lanes, &record, &len))
    {
      /* Connect once per drain; until it works, spans fail as they come. */
      if (!connected)
        {
          g_clear_error (&error);
          connected = ensure_connected (self, &error);
          if (!connected)
            remember_loss (self, error);
        }

      if (connected)
        pack_span (self, record, len);
      else
        count (&self->failed_to_send, 1);
      gluetool_lanes_release_sc (self->lanes);
      released++;
      released_bytes += len;
      if (released_bytes >= self->room_check_bytes)
        {
          announce_room (self);
          released_bytes = 0;
        }

      /* A send may have dropped the connection; check again next record. */
      connected = connected && self->sender.socket != NULL;
    }

  /* Blocks of idle threads go back to the pool if a push found it empty:
   * room too. The peek that ended the loop handed back every block read to
   * the end. */
  if (gluetool_lanes_give_back_idle_sc (self->lanes) || released > 0)
    announce_room (self);
}

/* Counts everything still queued as failed: close() ran out of time. */
static void
abandon (GluetoolReporter *self)
{
  const guint8 *record;
  gsize len;

  check_in_doubt (self);
  count (&self->failed_to_send, self->sender.n_spans);
  self->sender.spans.len = 0;
  self->sender.n_spans = 0;
  while (gluetool_lanes_peek_sc (self->lanes, &record, &len))
    {
      count (&self->failed_to_send, 1);
      gluetool_lanes_release_sc (self->lanes);
    }
}

/* The flush thread is background work: when a producer wakes it, it should
 * run when a core is free, not take the producer's core from under it.
 * SCHED_BATCH keeps its priority but gives up wake-up preemption, which
 * otherwise costs the woken-up producer tens of microseconds once per
 * datagram. Failing to set it changes nothing else. */
static void
become_background_thread (void)
{
#ifdef SCHED_BATCH
  struct sched_param param = { 0 };

  pthread_setschedparam (pthread_self (), SCHED_BATCH, &param);
#endif
}

/* While spans pour in, the flush thread naps after a pass that moved
 * NAP_MIN_RECORDS or more, and producers filling blocks leave a nap alone:
 * its own timer wakes it, and no producer pays for a cross-CPU wake-up (a
 * futex call of some 20 us on a two-core virtual machine, once a
 * datagram). A refused push ends it (see wake_if_resting()). The longer
 * the nap, the fewer times it takes a core from a producer; it lasts while
 * producers queuing NAP_FILL_BYTES_PER_US (1 GB/s, far beyond what one
 * thread can send) would fill a quarter of the queue, at most NAP_MAX_US,
 * and with a queue under NAP_MIN_QUEUE_BYTES not at all. flush() and close()
 * still cut it short. */
#define NAP_MIN_RECORDS       256
#define NAP_MIN_QUEUE_BYTES   (1024 * 1024)
#define NAP_FILL_BYTES_PER_US 1000
#define NAP_MAX_US            1000

static gint64
nap_us_for_queue (gsize capacity_bytes)
{
  if (capacity_bytes < NAP_MIN_QUEUE_BYTES)
    return 0;
  return MIN ((gint64) (capacity_bytes / 4 / NAP_FILL_BYTES_PER_US), NAP_MAX_US);
}

/* For OVERRUN_WINDOW_US after a pass that found pushes refused (the queue
 * overrun: too small for the rate, or the thread kept from a core), the
 * flush thread watches for the next block instead of sleeping, looking at
 * flush() and close() requests every OVERRUN_WATCH_US. Records come again
 * within microseconds then, and a producer that found it asleep would pay
 * for the wake: a futex call of several microseconds (some 20 when the
 * flush thread's CPU has gone idle, on a virtual machine), once every block
 * or two with a small queue. The watch yields the CPU between looks, and
 * ends soon after the overrun does. */
#define OVERRUN_WINDOW_US 2000
#define OVERRUN_WATCH_US  100

/* Whether a block was taken or a push refused since @blocks_taken_seen,
 * looking until @deadline_us. Without @lock: only counters are read. */
static gboolean
watch_for_records (GluetoolReporter *self,
                   guint64           blocks_taken_seen,
                   gint64            deadline_us)
{
  do
    {
      if (gluetool_lanes_get_blocks_taken (self->lanes) != blocks_taken_seen
          || gluetool_lanes_has_refusals_sc (self->lanes))
        return TRUE;
      g_thread_yield ();
    }
  while (g_get_monotonic_time () < deadline_us);
  return FALSE;
}

static gpointer
flush_thread_main (gpointer data)
{
  GluetoolReporter *self = data;
  gint64 next_interval_us = g_get_monotonic_time () + self->flush_interval_us;
  /* Whether the last interval read no span at all (see wake_if_idle()). */
  gboolean quiet = FALSE;
  guint64 consumed_at_last_interval = 0;
  gint64 nap_us = nap_us_for_queue (gluetool_lanes_get_capacity_bytes (self->lanes));
  gboolean busy = FALSE;
  gint64 overrun_until_us = 0;
  guint64 blocks_taken_seen = 0;
  guint64 flush_completed_seen = 0;
  gboolean reclaim_lanes = FALSE;

  become_background_thread ();

  /* Connected before any span is waiting: a failure costs nothing yet, and
   * a child process made by fork() from here on starts from the address
   * (see gluetool_reporter_new_for_child()). */
  gluetool_process_enter ();
  {
    g_autoptr(GError) error = NULL;

    if (!ensure_connected (self, &error))
      GLUETOOL_DEBUG ("Not connected to %s:%u yet: %s", self->host, self->port, error->message);
  }
  gluetool_process_leave ();

  for (;;)
    {
      gboolean closing;
      guint64 requested;
      gint64 now;

      gluetool_mutex_lock (&self->lock);
      for (;;)
        {
          guint64 blocks_taken;
          gint64 looked_at_us;

          closing = self->closing;
          requested = self->flush_requested;
          if (closing || requested > self->flush_completed)
            break;
          looked_at_us = g_get_monotonic_time ();
          if (looked_at_us >= next_interval_us)
            break;
          if (gluetool_lanes_get_queued_bytes (self->lanes) >= self->wake_bytes)
            break;

          if (looked_at_us < overrun_until_us)
            {
              /* Outside @lock, so flush() and close() are not held up. The
               * flag is not set, so no producer pays for a wake. */
              gboolean more;

              gluetool_mutex_unlock (&self->lock);
              more = watch_for_records (self, blocks_taken_seen,
                                        MIN (MIN (looked_at_us + OVERRUN_WATCH_US,
                                                  overrun_until_us),
                                             next_interval_us));
              gluetool_mutex_lock (&self->lock);
              if (more)
                {
                  blocks_taken_seen = gluetool_lanes_get_blocks_taken (self->lanes);
                  break;
                }
              continue;
            }

          if (busy)
            {
              /* See wake_if_resting() for why these are seq_cst. A refused
               * push may need the idle lanes' blocks back now. */
              busy = FALSE;
              atomic_store_explicit (&self->consumer_sleeping, CONSUMER_NAPPING,
                                     memory_order_seq_cst);
              if (gluetool_lanes_has_refusals_sc (self->lanes))
                {
                  atomic_store_explicit (&self->consumer_sleeping, CONSUMER_AWAKE,
                                         memory_order_relaxed);
                  break;
                }
              rest_until (self, CONSUMER_NAPPING,
                          MIN (looked_at_us + nap_us, next_interval_us));
              continue;
            }

          /* A whole interval without a span, and none now: nothing to
           * send until a push, which wakes it (see wake_if_idle()). */
          if (quiet && self->sender.n_spans == 0 && gluetool_lanes_get_queued_bytes (self->lanes) == 0)
            {
              atomic_store_explicit (&self->consumer_sleeping, CONSUMER_IDLE, memory_order_seq_cst);
              if (gluetool_lanes_get_queued_bytes (self->lanes) == 0
                  && !gluetool_lanes_has_refusals_sc (self->lanes))
                rest_until (self, CONSUMER_IDLE,
                            MAX (next_interval_us, looked_at_us + IDLE_SLEEP_US));
              else
                atomic_store_explicit (&self->consumer_sleeping, CONSUMER_AWAKE,
                                       memory_order_relaxed);
              /* The first span after a quiet time goes out at once, as at
               * an interval; those after it wait for the next one. */
              if (gluetool_lanes_get_queued_bytes (self->lanes) != 0)
                {
                  next_interval_us = g_get_monotonic_time ();
                  break;
                }
              continue;
            }

          /* See wake_if_sleeping() for why these are seq_cst. A block
           * taken since the last look may mean a datagram's worth. */
          atomic_store_explicit (&self->consumer_sleeping, CONSUMER_ASLEEP, memory_order_seq_cst);
          blocks_taken = gluetool_lanes_get_blocks_taken (self->lanes);
          if (blocks_taken != blocks_taken_seen || gluetool_lanes_has_refusals_sc (self->lanes))
            {
              blocks_taken_seen = blocks_taken;
              atomic_store_explicit (&self->consumer_sleeping, CONSUMER_AWAKE,
                                     memory_order_relaxed);
              break;
            }
          rest_until (self, CONSUMER_ASLEEP, next_interval_us);
        }
      gluetool_mutex_unlock (&self->lock);

      /* A pass is a region of the process (see process-private.h): sockets,
       * addresses and errors are GObjects and slices of GLib's, whose global
       * locks a child process made by fork() must not inherit held. fork()
       * waits for the pass to end: microseconds to a few milliseconds, or as
       * long as a send the kernel blocks (at most SEND_TIMEOUT_S). */
      gluetool_process_enter ();

      if (g_cancellable_is_cancelled (self->cancellable))
        abandon (self);
      else
        {
          guint64 consumed_before = gluetool_lanes_get_consumed (self->lanes);

          /* Before the drain, which takes note of the refusals. */
          if (gluetool_lanes_has_refusals_sc (self->lanes))
            overrun_until_us = g_get_monotonic_time () + OVERRUN_WINDOW_US;
          drain (self);
          busy = nap_us > 0
                 && gluetool_lanes_get_consumed (self->lanes) - consumed_before >= NAP_MIN_RECORDS;

          /* A partial batch goes out on the interval, and at once when
           * someone waits for it. */
          now = g_get_monotonic_time ();
          if (now >= next_interval_us || closing || requested > flush_completed_seen)
            send_batch (self);
          if (now >= next_interval_us)
            {
              guint64 consumed = gluetool_lanes_get_consumed (self->lanes);

              quiet = consumed == consumed_at_last_interval;
              consumed_at_last_interval = consumed;
              next_interval_us = now + self->flush_interval_us;
              reclaim_lanes = TRUE;
            }
          check_in_doubt (self);
        }
      gluetool_process_leave ();

      /* Lanes of threads that have exited go to threads to come. Outside
       * the region: it asks the process's registry, whose lock fork()'s
       * prepare handler holds while it waits for regions to end. */
      if (reclaim_lanes)
        {
          gluetool_lanes_reclaim_sc (self->lanes);
          reclaim_lanes = FALSE;
        }

      gluetool_mutex_lock (&self->lock);
      /* Every request made before this pass began is answered once what the
       * pass read is sent or lost. */
      self->in_flight = self->sender.n_spans + self->sender.in_doubt_spans;
      if (self->in_flight == 0 && requested > self->flush_completed)
        self->flush_completed = requested;
      flush_completed_seen = self->flush_completed;
      /* Sealed before @closing was set: nothing more can come. */
      if (closing && self->in_flight == 0
          && (gluetool_lanes_get_consumed (self->lanes) == gluetool_lanes_get_pushed (self->lanes)
              || g_cancellable_is_cancelled (self->cancellable)))
        self->thread_done = TRUE;
      g_cond_broadcast (&self->progress);
      if (self->thread_done)
        {
          gluetool_mutex_unlock (&self->lock);
          break;
        }
      gluetool_mutex_unlock (&self->lock);
    }

  gluetool_process_enter ();
  disconnect (self);
  gluetool_process_leave ();
  return NULL;
}

/* ---- flush() and close() ---------------------------------------------------- */

/* Under @lock: FALSE with an error when spans were lost since the last call.
 * The message names each cause that lost some, with how many and why. */
static gboolean
check_losses (GluetoolReporter *self,
              GError          **error)
{
  g_autoptr(GString) message = NULL;
  GluetoolTracerStats now;
  guint64 queue_full, too_large, failed, lost;

  gluetool_reporter_get_stats (self, &now);
  queue_full = now.spans_dropped_queue_full - self->seen.spans_dropped_queue_full;
  too_large = now.spans_dropped_too_large - self->seen.spans_dropped_too_large;
  failed = now.spans_failed_to_send - self->seen.spans_failed_to_send;
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
    g_string_append_printf (message, "%s%" G_GUINT64_FORMAT " too large for a datagram",
                            queue_full > 0 ? ", " : "", too_large);
  if (failed > 0)
    g_string_append_printf (message, "%s%" G_GUINT64_FORMAT " failed to send%s%s",
                            queue_full + too_large > 0 ? ", " : "", failed,
                            self->last_send_error != NULL ? "; last error: " : "",
                            self->last_send_error != NULL ? self->last_send_error->message : "");

  g_set_error_literal (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST,
                       message->str);
  return FALSE;
}

/* Under @lock: spans queued or read and not yet sent or lost, now. */
static guint64
count_unsent (GluetoolReporter *self)
{
  guint64 pushed = gluetool_lanes_get_pushed (self->lanes);
  guint64 consumed = gluetool_lanes_get_consumed (self->lanes);

  return (pushed > consumed ? pushed - consumed : 0) + self->in_flight;
}

/* Under @lock: what flush() and close() report, a time-out first (with
 * @unsent, what count_unsent() said then). */
static gboolean
check_unsent_and_losses (GluetoolReporter *self,
                         gboolean          timed_out,
                         guint64           unsent,
                         GError          **error)
{
  if (timed_out)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "The flush timed out with %" G_GUINT64_FORMAT " spans not sent yet",
                   unsent);
      return FALSE;
    }
  return check_losses (self, error);
}

gboolean
gluetool_reporter_flush (GluetoolReporter *self,
                         gint64            deadline_us,
                         GError          **error)
{
  guint64 request;
  gboolean timed_out;
  gboolean ok;

  gluetool_mutex_lock (&self->lock);
  request = ++self->flush_requested;
  wake_flush_thread (self);

  while (self->flush_completed < request && !self->thread_done)
    {
      if (!gluetool_cond_wait_until (&self->progress, &self->lock, deadline_us)
          && g_get_monotonic_time () >= deadline_us)
        break;
    }
  /* After close() there is nothing left to wait for: what it did not send
   * it counted as failed, which check_losses() reports. Until start(), the
   * thread is not there to answer: nothing pushed can be sent yet. */
  timed_out = self->flush_completed < request && !self->thread_done;

  ok = check_unsent_and_losses (self, timed_out, timed_out ? count_unsent (self) : 0, error);
  gluetool_mutex_unlock (&self->lock);
  return ok;
}

gboolean
gluetool_reporter_close (GluetoolReporter *self,
                         gint64            deadline_us,
                         GError          **error)
{
  gboolean timed_out = FALSE;
  guint64 unsent = 0;
  guint64 pushed, consumed;
  gboolean ok;

  /* From here the records pushed are final (see gluetool_lanes_seal()). */
  gluetool_lanes_seal (self->lanes);
  unlist_running (self);

  gluetool_mutex_lock (&self->lock);
  self->closing = TRUE;
  wake_flush_thread (self);
  /* Producers waiting for room give up now (see wait_for_room()): the seal
   * came before this lock, so each finds it when it checks under @lock, or
   * is waiting now. */
  g_cond_broadcast (&self->room);

  while (!self->thread_done)
    {
      if (!gluetool_cond_wait_until (&self->progress, &self->lock, deadline_us)
          && g_get_monotonic_time () >= deadline_us)
        break;
    }

  if (!self->thread_done)
    {
      /* Out of time: say how many are left, then make the flush thread give
       * them up. Cancelling interrupts a lookup or a blocked send, so the
       * thread ends promptly. */
      timed_out = TRUE;
      unsent = count_unsent (self);
      g_cancellable_cancel (self->cancellable);
      wake_flush_thread (self);
      while (!self->thread_done)
        gluetool_cond_wait (&self->progress, &self->lock);
    }
  gluetool_mutex_unlock (&self->lock);

  /* NULL when the thread was never started (see gluetool_reporter_start()). */
  if (self->thread != NULL)
    g_thread_join (g_steal_pointer (&self->thread));

  /* A thread never started leaves whatever was pushed behind. */
  pushed = gluetool_lanes_get_pushed (self->lanes);
  consumed = gluetool_lanes_get_consumed (self->lanes);
  if (pushed > consumed)
    count (&self->failed_to_send, pushed - consumed);

  gluetool_mutex_lock (&self->lock);
  ok = check_unsent_and_losses (self, timed_out, unsent, error);
  gluetool_mutex_unlock (&self->lock);
  return ok;
}
