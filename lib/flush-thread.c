/* flush-thread.c: the thread that drains the queue into a sender
 *
 * SPDX-License-Identifier: MIT
 *
 * See flush-thread-private.h. Three protocols meet the producers here, each
 * explained where it is: the wake-up protocol (above wake_if_sleeping()),
 * the wait for room in a full queue (above gluetool_flush_thread_wait_for_room())
 * and flush()/close() requests (under @lock: above gluetool_flush_thread_flush()).
 */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "debug-private.h"
#include "flush-thread-private.h"
#include "process-private.h"
#include "sync-private.h"

struct _GluetoolFlushThread {
  /* The wake-up protocol's word (see wake_if_sleeping()): producers read it
   * at every push; the flush thread writes it when it sleeps and wakes. On
   * a line of its own. (atomic) */
  _Alignas (64)
  atomic_int       state;

  /* A full queue (see gluetool_flush_thread_wait_for_room()). Producers
   * write here only when they find the queue full and wait; the flush
   * thread reads @room_waiters every @room_check_bytes it releases. */
  _Alignas (64)
  atomic_uint      room_waiters;         /* (atomic) waiting for room, or about to */
  /* The queue's consumed count when a wait for room last ran out with the
   * flush thread having consumed nothing, or G_MAXUINT64. Producers only;
   * relaxed: a hint that the flush thread is stuck. (atomic) */
  _Atomic guint64  stuck_at_consumed;
  _Atomic guint64  idle_wakes;           /* (atomic) producers that woke it from idle */

  /* Settings and what the thread works with. */
  _Alignas (64)
  GluetoolLanes   *lanes;                /* (unowned) */
  GluetoolSender  *sender;               /* (owned) the flush thread's, once started */
  gint64           flush_interval_us;
  gsize            wake_bytes;
  gsize            room_check_bytes;     /* see announce_room() */
  gint64           nap_us;               /* see nap_us_for_queue() */

  GMutex           lock;
  GCond            wake;                 /* to the thread, where there is no futex */
  GCond            progress;             /* from it: a pass ended */
  GCond            room;                 /* from it, and stop(): see gluetool_flush_thread_wait_for_room() */
  guint64          flush_requested;      /* (under lock) */
  guint64          flush_completed;      /* (under lock) */
  guint64          in_flight;            /* (under lock) read but not yet sent or lost */
  gboolean         closing;              /* (under lock) */
  gboolean         thread_done;          /* (under lock) */
  GThread         *thread;               /* (owned) (nullable) (under lock) */
};

static gpointer flush_thread_main (gpointer data);

GluetoolFlushThread *
gluetool_flush_thread_new (const GluetoolFlushThreadSettings *settings,
                           GluetoolLanes                     *lanes,
                           GluetoolSender                    *sender)
{
  GluetoolFlushThread *self = g_aligned_alloc0 (1, sizeof (GluetoolFlushThread), 64);

  atomic_init (&self->state, 0);
  atomic_init (&self->room_waiters, 0);
  atomic_init (&self->stuck_at_consumed, G_MAXUINT64);
  atomic_init (&self->idle_wakes, 0);
  self->lanes = lanes;
  self->sender = sender;
  self->flush_interval_us = settings->flush_interval_us;
  self->wake_bytes = MAX (settings->wake_bytes, 1);
  self->room_check_bytes = gluetool_lanes_get_block_bytes (lanes);
  g_mutex_init (&self->lock);
  g_cond_init (&self->wake);
  g_cond_init (&self->progress);
  g_cond_init (&self->room);
  /* Until start(), flush() and stop() have no thread to wait for. */
  self->thread_done = TRUE;
  return self;
}

void
gluetool_flush_thread_free (GluetoolFlushThread *self)
{
  guint64 unsent;

  if (self == NULL)
    return;
  /* Owners stop it with a deadline first; this is the last resort, which
   * must not leave a thread running on freed memory. */
  if (self->thread != NULL)
    gluetool_flush_thread_stop (self, g_get_monotonic_time (), &unsent);
  gluetool_sender_free (self->sender);
  g_cond_clear (&self->wake);
  g_cond_clear (&self->progress);
  g_cond_clear (&self->room);
  g_mutex_clear (&self->lock);
  g_aligned_free (self);
}

gboolean
gluetool_flush_thread_start (GluetoolFlushThread *self)
{
  gboolean running;

  gluetool_mutex_lock (&self->lock);
  if (self->thread == NULL && !self->closing)
    {
      self->thread_done = FALSE;
      self->thread = g_thread_new ("gluetool-flush", flush_thread_main, self);
    }
  running = self->thread != NULL;
  gluetool_mutex_unlock (&self->lock);
  return running;
}

gboolean
gluetool_flush_thread_is_self (GluetoolFlushThread *self)
{
  gboolean is_self;

  gluetool_mutex_lock (&self->lock);
  is_self = self->thread == g_thread_self ();
  gluetool_mutex_unlock (&self->lock);
  return is_self;
}

GluetoolSender *
gluetool_flush_thread_peek_sender (GluetoolFlushThread *self)
{
  return self->sender;
}

/* ---- Waking the thread ---------------------------------------------------- */

/* The wake-up protocol. A producer must not take a lock or make a system
 * call for a span, yet a sleeping flush thread must wake once about a
 * datagram's worth (wake_bytes) is queued. Producers write nothing shared
 * per span (see lanes-private.h), so they look only when a push takes a new
 * block from the queue's pool, about once a hundred spans: then the budget
 * in use (whole blocks, an upper bound of the bytes queued) is compared
 * with wake_bytes. The flush thread, holding @lock, stores
 * @state = 1 and then reads the count of blocks taken; the
 * producer counts its block and then reads @state. All four
 * accesses are seq_cst, so at least one side sees the other's: either the
 * flush thread sees a block taken since it last looked and does a pass
 * instead of sleeping, or the producer sees it asleep, swaps the flag back
 * to 0 and wakes it. The sleep is a futex wait on the flag itself, which
 * returns at once when the flag is no longer 1: a wake that comes before
 * the wait is not lost, and the producer takes no lock, so it never waits
 * for the flush thread, even for the instant the flush thread holds @lock.
 * (Where there is no futex, the flush thread waits on @wake under @lock,
 * and the producer takes and releases @lock before it signals.) flush() and
 * close() swap the flag too (wake_for_request()), under @lock, which the
 * flush thread holds from its look at their requests until it sleeps.
 * Spans that fill no block wait for the flush interval, as a partial
 * datagram does. Any producer may be the one to wake it, but only one does:
 * the first to swap @state back to 0. The others would each pay a
 * futex system call in the tens of microseconds before the woken thread gets
 * a core (on a busy two-core machine that is hundreds of pushes), which
 * measured as 10-15% of a producer's time. */

/* What the flush thread is doing, in @state. */
#define CONSUMER_AWAKE   0
#define CONSUMER_ASLEEP  1  /* a producer that fills a block wakes it */
#define CONSUMER_NAPPING 2  /* only a refused push, flush() or close() wakes it */
#define CONSUMER_IDLE    3  /* nothing queued: the next push wakes it */

/* How long the flush thread sleeps with nothing queued, at least: it has
 * nothing to send, and the next push wakes it (see wake_if_idle()). Only a
 * wake missed in the race described there waits this long. */
#define IDLE_SLEEP_US G_USEC_PER_SEC

static inline void
wake_consumer (GluetoolFlushThread *self)
{
#ifdef GLUETOOL_HAVE_FUTEX
  gluetool_futex_wake_one (&self->state);
#else
  gluetool_mutex_lock (&self->lock);
  gluetool_mutex_unlock (&self->lock);
  g_cond_signal (&self->wake);
#endif
}

static inline void
wake_if_sleeping (GluetoolFlushThread *self)
{
  int asleep = CONSUMER_ASLEEP;

  /* The load first, so that the usual case (the flush thread awake) writes
   * nothing to a line the flush thread writes at every sleep. A nap is
   * left alone: it is there so that producers filling blocks do not pay
   * for wakes. */
  if (atomic_load_explicit (&self->state, memory_order_seq_cst) == CONSUMER_ASLEEP
      && atomic_compare_exchange_strong_explicit (&self->state, &asleep, CONSUMER_AWAKE,
                                                  memory_order_seq_cst, memory_order_seq_cst))
    wake_consumer (self);
}

/* After any push: the flush thread sleeps with nothing queued, so this span
 * would otherwise wait for the end of that sleep. Waking it here keeps the
 * wait of a span that comes after a quiet time, the one a process that
 * dies without exit handlers loses, to a pass of the flush thread. It costs
 * every push one relaxed load of a line the flush thread writes only when
 * it goes to sleep or wakes, and the pushing thread a futex call at most
 * once per sleep with nothing queued: the thread goes idle only after a
 * whole interval without a span, so never while spans keep coming.
 *
 * The handshake is not Dekker's: no fence orders the push before the load,
 * as one per span would cost more than everything else here. The flush
 * thread stores CONSUMER_IDLE seq_cst and then looks at the bytes queued;
 * a push whose bytes it misses and that misses the flag in turn (both
 * stores still in their store buffers) leaves its span for the end of the
 * idle sleep, IDLE_SLEEP_US or the flush interval if longer: as late as
 * before this wake existed, and rare. */
static inline void
wake_if_idle (GluetoolFlushThread *self)
{
  int idle = CONSUMER_IDLE;

  if (G_UNLIKELY (atomic_load_explicit (&self->state, memory_order_relaxed) == CONSUMER_IDLE)
      && atomic_compare_exchange_strong_explicit (&self->state, &idle, CONSUMER_AWAKE,
                                                  memory_order_relaxed, memory_order_relaxed))
    {
      atomic_fetch_add_explicit (&self->idle_wakes, 1, memory_order_relaxed);
      wake_consumer (self);
    }
}

void
gluetool_flush_thread_pushed (GluetoolFlushThread *self,
                              gboolean             took_block,
                              gsize                bytes_in_use)
{
  if (G_UNLIKELY (took_block) && bytes_in_use >= self->wake_bytes)
    wake_if_sleeping (self);
  /* Idle is not asleep: a block taken by a thread that had none (a queue
   * whose other lanes hold theirs) may be the first span after a quiet
   * time too. */
  wake_if_idle (self);
}

/* The same after a refused push (the budget spent), which ends a nap too:
 * the budget may be spent by idle lanes' blocks, which only a pass of the
 * flush thread takes back, and a producer waiting for room would otherwise
 * wait out the nap. The flush thread stores either state, then reads the
 * count of refusals; the refused push counted itself before this load.
 * Both seq_cst, as above. */
void
gluetool_flush_thread_refused (GluetoolFlushThread *self)
{
  if (atomic_load_explicit (&self->state, memory_order_seq_cst) != CONSUMER_AWAKE
      && atomic_exchange_explicit (&self->state, CONSUMER_AWAKE, memory_order_seq_cst)
         != CONSUMER_AWAKE)
    wake_consumer (self);
}

/* Wakes the flush thread, whatever its sleep, for a request made under
 * @lock (held by the caller). */
static void
wake_for_request (GluetoolFlushThread *self)
{
  g_cond_signal (&self->wake);
#ifdef GLUETOOL_HAVE_FUTEX
  if (atomic_exchange_explicit (&self->state, CONSUMER_AWAKE, memory_order_seq_cst)
      != CONSUMER_AWAKE)
    gluetool_futex_wake_one (&self->state);
#endif
}

/* The flush thread waits in @state (stored already) until woken or
 * @deadline_us. Called with @lock held; returns with it held. */
static void
rest_until (GluetoolFlushThread *self,
            int                  state,
            gint64               deadline_us)
{
#ifdef GLUETOOL_HAVE_FUTEX
  gluetool_mutex_unlock (&self->lock);
  gluetool_futex_wait_until (&self->state, state, deadline_us);
  gluetool_mutex_lock (&self->lock);
#else
  (void) state;
  gluetool_cond_wait_until (&self->wake, &self->lock, deadline_us);
#endif
  atomic_store_explicit (&self->state, CONSUMER_AWAKE, memory_order_relaxed);
}

gboolean
gluetool_flush_thread_is_idle (GluetoolFlushThread *self)
{
  return atomic_load_explicit (&self->state, memory_order_relaxed) == CONSUMER_IDLE;
}

guint64
gluetool_flush_thread_get_idle_wakes (GluetoolFlushThread *self)
{
  return atomic_load_explicit (&self->idle_wakes, memory_order_relaxed);
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
 * - fork() is not held up. fork() waits until no thread is inside a region
 *   of the process (see process-private.h), so a region never waits: an
 *   action reports its span after its finishing region has ended, and a
 *   push made inside a region all the same (none of the library's is)
 *   drops at once rather than wait. */

/* Whether the calling thread is inside a region of the process. Only the
 * thread itself writes its depth: relaxed. */
static gboolean
is_in_region (void)
{
  GluetoolThreadRecord *record = gluetool_process_get_thread_record ();

  return atomic_load_explicit (&record->depth, memory_order_relaxed) > 0;
}

/* Under @lock: pushes once there is room, until the queue is sealed or
 * @deadline_us. */
static gboolean
push_when_room (GluetoolFlushThread *self,
                const guint8        *span,
                gsize                len,
                gint64               deadline_us,
                gboolean            *took_block,
                gsize               *bytes_in_use)
{
  for (;;)
    {
      if (gluetool_lanes_push (self->lanes, span, len, took_block, bytes_in_use))
        return TRUE;
      if (gluetool_lanes_is_sealed (self->lanes) || g_get_monotonic_time () >= deadline_us)
        return FALSE;
      gluetool_cond_wait_until (&self->room, &self->lock, deadline_us);
    }
}

gboolean
gluetool_flush_thread_wait_for_room (GluetoolFlushThread *self,
                                     const guint8        *span,
                                     gsize                len,
                                     gint64               wait_us,
                                     _Atomic guint64     *waits)
{
  guint64 consumed_before = gluetool_lanes_get_consumed (self->lanes);
  gboolean pushed;
  gboolean took_block = FALSE;
  gsize bytes_in_use = 0;
  gint64 deadline_us;

  if (consumed_before == atomic_load_explicit (&self->stuck_at_consumed, memory_order_relaxed)
      || is_in_region ())
    return FALSE;

  /* The caller woke the flush thread if it rested (refused()). */
  deadline_us = g_get_monotonic_time () + wait_us;

  gluetool_mutex_lock (&self->lock);
  atomic_fetch_add_explicit (&self->room_waiters, 1, memory_order_relaxed);
  /* Counted under @lock: a thread that reads the count and then takes
   * @lock (close(), say) finds this one waiting, or done. */
  atomic_fetch_add_explicit (waits, 1, memory_order_relaxed);
  /* Pairs with the fence in announce_room(): see above. */
  atomic_thread_fence (memory_order_seq_cst);
  pushed = push_when_room (self, span, len, deadline_us, &took_block, &bytes_in_use);
  /* Relaxed: a count read too high only costs the flush thread a signal. */
  atomic_fetch_sub_explicit (&self->room_waiters, 1, memory_order_relaxed);
  gluetool_mutex_unlock (&self->lock);

  if (!pushed && !gluetool_lanes_is_sealed (self->lanes)
      && gluetool_lanes_get_consumed (self->lanes) == consumed_before)
    {
      atomic_store_explicit (&self->stuck_at_consumed, consumed_before, memory_order_relaxed);
      GLUETOOL_DEBUG ("The span queue is full and the flush thread sent nothing for %"
                      G_GINT64_FORMAT " us: dropping spans without waiting until it moves again",
                      wait_us);
    }

  if (pushed)
    gluetool_flush_thread_pushed (self, took_block, bytes_in_use);
  return pushed;
}

/* Tells producers waiting for room that records were released since the
 * last announcement. Flush thread only. */
static void
announce_room (GluetoolFlushThread *self)
{
  /* Pairs with the fence in gluetool_flush_thread_wait_for_room(): a waiter
   * whose fence comes after this one sees the records released before it;
   * one whose fence came first is counted in the load below. */
  atomic_thread_fence (memory_order_seq_cst);
  if (G_LIKELY (atomic_load_explicit (&self->room_waiters, memory_order_relaxed) == 0))
    return;
  /* Taking @lock waits until the waiter counted is waiting; the broadcast
   * after the release, as in wake_consumer(). */
  gluetool_mutex_lock (&self->lock);
  gluetool_mutex_unlock (&self->lock);
  g_cond_broadcast (&self->room);
}

/* ---- A pass: draining the queue into the sender ----------------------------- */

static void
remember_loss (GluetoolFlushThread *self,
               const GError        *error)
{
  self->sender->owner_funcs->remember_loss (self->sender->owner, error);
}

/* Moves every record pushed so far out of the queue into the sender. */
static void
drain (GluetoolFlushThread *self)
{
  GluetoolSender *sender = self->sender;
  gboolean ready = FALSE;
  const guint8 *record;
  gsize len;
  guint released = 0;
  gsize released_bytes = 0;

  while (gluetool_lanes_peek_sc (self->lanes, &record, &len))
    {
      /* Until the sender has its peer, spans fail as they come (its
       * back-off makes the retries cheap). */
      if (!ready)
        {
          g_autoptr(GError) error = NULL;

          ready = gluetool_sender_prepare (sender, &error);
          if (!ready)
            remember_loss (self, error);
        }

      /* A send may lose the peer; then prepare again at the next record. */
      if (ready)
        ready = gluetool_sender_add_span (sender, record, len);
      else
        gluetool_send_count (&sender->counts->failed_to_send, 1);
      gluetool_lanes_release_sc (self->lanes);
      released++;
      released_bytes += len;
      if (released_bytes >= self->room_check_bytes)
        {
          announce_room (self);
          released_bytes = 0;
        }
    }

  /* Blocks of idle threads go back to the pool if a push found it empty:
   * room too. The peek that ended the loop handed back every block read to
   * the end. */
  if (gluetool_lanes_give_back_idle_sc (self->lanes) || released > 0)
    announce_room (self);
}

/* Counts everything still queued as failed: stop() ran out of time. */
static void
abandon (GluetoolFlushThread *self)
{
  const guint8 *record;
  gsize len;

  gluetool_sender_abandon (self->sender);
  while (gluetool_lanes_peek_sc (self->lanes, &record, &len))
    {
      gluetool_send_count (&self->sender->counts->failed_to_send, 1);
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
 * datagram). A refused push ends it (see gluetool_flush_thread_refused()). The longer
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
watch_for_records (GluetoolFlushThread *self,
                   guint64              blocks_taken_seen,
                   gint64               deadline_us)
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

/* ---- The loop ------------------------------------------------------------------ */

/* What the loop carries from one pass to the next. */
typedef struct {
  gint64   next_interval_us;
  gboolean quiet;                     /* the last interval read no span */
  guint64  consumed_at_last_interval;
  gboolean busy;                      /* the last pass moved NAP_MIN_RECORDS or more */
  gint64   overrun_until_us;          /* watch, don't sleep, until then */
  guint64  blocks_taken_seen;
  guint64  flush_completed_seen;
  /* What the pass about to run was asked for, read under @lock. */
  gboolean closing;
  guint64  requested;
} Loop;

/* The ways to wait, each under @lock, each TRUE when there is work now
 * (the loop then runs a pass) and FALSE after a wait (the loop looks
 * again). */

/* An overrun queue: watch the counters for a while, without @lock, so
 * flush() and close() are not held up. The state is not set, so no
 * producer pays for a wake. */
static gboolean
watch_overrun (GluetoolFlushThread *self,
               Loop                *loop,
               gint64               now_us)
{
  gboolean more;

  gluetool_mutex_unlock (&self->lock);
  more = watch_for_records (self, loop->blocks_taken_seen,
                            MIN (MIN (now_us + OVERRUN_WATCH_US, loop->overrun_until_us),
                                 loop->next_interval_us));
  gluetool_mutex_lock (&self->lock);
  if (more)
    loop->blocks_taken_seen = gluetool_lanes_get_blocks_taken (self->lanes);
  return more;
}

/* After a busy pass: a nap that only a refused push ends (see
 * gluetool_flush_thread_refused() for why these are seq_cst). */
static gboolean
nap (GluetoolFlushThread *self,
     Loop                *loop,
     gint64               now_us)
{
  loop->busy = FALSE;
  atomic_store_explicit (&self->state, CONSUMER_NAPPING, memory_order_seq_cst);
  /* A refused push may need the idle lanes' blocks back now. */
  if (gluetool_lanes_has_refusals_sc (self->lanes))
    {
      atomic_store_explicit (&self->state, CONSUMER_AWAKE, memory_order_relaxed);
      return TRUE;
    }
  rest_until (self, CONSUMER_NAPPING, MIN (now_us + self->nap_us, loop->next_interval_us));
  return FALSE;
}

/* A whole interval without a span, and none now: nothing to send until a
 * push, which wakes it (see wake_if_idle()). The first span after a quiet
 * time goes out at once, as at an interval; those after it wait for the
 * next one. */
static gboolean
go_idle (GluetoolFlushThread *self,
         Loop                *loop,
         gint64               now_us)
{
  atomic_store_explicit (&self->state, CONSUMER_IDLE, memory_order_seq_cst);
  if (gluetool_lanes_get_queued_bytes (self->lanes) == 0
      && !gluetool_lanes_has_refusals_sc (self->lanes))
    rest_until (self, CONSUMER_IDLE, MAX (loop->next_interval_us, now_us + IDLE_SLEEP_US));
  else
    atomic_store_explicit (&self->state, CONSUMER_AWAKE, memory_order_relaxed);

  if (gluetool_lanes_get_queued_bytes (self->lanes) == 0)
    return FALSE;
  loop->next_interval_us = g_get_monotonic_time ();
  return TRUE;
}

/* Until the interval, or a producer's wake (see wake_if_sleeping() for
 * why these are seq_cst). A block taken since the last look may mean a
 * datagram's worth. */
static gboolean
sleep_until_interval (GluetoolFlushThread *self,
                      Loop                *loop)
{
  guint64 blocks_taken;

  atomic_store_explicit (&self->state, CONSUMER_ASLEEP, memory_order_seq_cst);
  blocks_taken = gluetool_lanes_get_blocks_taken (self->lanes);
  if (blocks_taken != loop->blocks_taken_seen || gluetool_lanes_has_refusals_sc (self->lanes))
    {
      loop->blocks_taken_seen = blocks_taken;
      atomic_store_explicit (&self->state, CONSUMER_AWAKE, memory_order_relaxed);
      return TRUE;
    }
  rest_until (self, CONSUMER_ASLEEP, loop->next_interval_us);
  return FALSE;
}

/* Under @lock: waits until there is a pass to run, and notes what it was
 * asked for. */
static void
wait_for_work (GluetoolFlushThread *self,
               Loop                *loop)
{
  for (;;)
    {
      gint64 now_us;
      gboolean work;

      loop->closing = self->closing;
      loop->requested = self->flush_requested;
      if (loop->closing || loop->requested > self->flush_completed)
        return;
      now_us = g_get_monotonic_time ();
      if (now_us >= loop->next_interval_us
          || gluetool_lanes_get_queued_bytes (self->lanes) >= self->wake_bytes)
        return;

      if (now_us < loop->overrun_until_us)
        work = watch_overrun (self, loop, now_us);
      else if (loop->busy)
        work = nap (self, loop, now_us);
      else if (loop->quiet && gluetool_sender_get_n_unsettled (self->sender) == 0
               && gluetool_lanes_get_queued_bytes (self->lanes) == 0)
        work = go_idle (self, loop, now_us);
      else
        work = sleep_until_interval (self, loop);
      if (work)
        return;
    }
}

/* A pass: drains, sends a partial batch when its time has come, settles.
 * A region of the process (see process-private.h): sockets, addresses and
 * errors are GObjects and slices of GLib's, whose global locks a child
 * process made by fork() must not inherit held. fork() waits for the pass
 * to end: microseconds to a few milliseconds, or as long as a send the
 * kernel blocks. Returns whether the lanes of exited threads are due to be
 * reclaimed (outside the region: see gluetool_lanes_reclaim_sc()). */
static gboolean
run_pass (GluetoolFlushThread *self,
          Loop                *loop)
{
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();
  gboolean reclaim = FALSE;
  guint64 consumed_before;
  gint64 now_us;

  if (g_cancellable_is_cancelled (self->sender->cancellable))
    {
      abandon (self);
      return FALSE;
    }

  consumed_before = gluetool_lanes_get_consumed (self->lanes);
  /* Before the drain, which takes note of the refusals. */
  if (gluetool_lanes_has_refusals_sc (self->lanes))
    loop->overrun_until_us = g_get_monotonic_time () + OVERRUN_WINDOW_US;
  drain (self);
  loop->busy = self->nap_us > 0
               && gluetool_lanes_get_consumed (self->lanes) - consumed_before >= NAP_MIN_RECORDS;

  /* A partial batch goes out on the interval, and at once when someone
   * waits for it. */
  now_us = g_get_monotonic_time ();
  if (now_us >= loop->next_interval_us || loop->closing
      || loop->requested > loop->flush_completed_seen)
    gluetool_sender_send (self->sender);
  if (now_us >= loop->next_interval_us)
    {
      guint64 consumed = gluetool_lanes_get_consumed (self->lanes);

      loop->quiet = consumed == loop->consumed_at_last_interval;
      loop->consumed_at_last_interval = consumed;
      loop->next_interval_us = now_us + self->flush_interval_us;
      reclaim = TRUE;
    }
  gluetool_sender_settle (self->sender);
  return reclaim;
}

/* Under @lock: answers the requests made before the pass began, once what
 * it read is sent or lost; TRUE when the thread is done. */
static gboolean
answer_requests (GluetoolFlushThread *self,
                 Loop                *loop)
{
  self->in_flight = gluetool_sender_get_n_unsettled (self->sender);
  if (self->in_flight == 0 && loop->requested > self->flush_completed)
    self->flush_completed = loop->requested;
  loop->flush_completed_seen = self->flush_completed;
  /* Sealed before @closing was set: nothing more can come. */
  if (loop->closing && self->in_flight == 0
      && (gluetool_lanes_get_consumed (self->lanes) == gluetool_lanes_get_pushed (self->lanes)
          || g_cancellable_is_cancelled (self->sender->cancellable)))
    self->thread_done = TRUE;
  g_cond_broadcast (&self->progress);
  return self->thread_done;
}

/* Regions (see process-private.h), as a pass is: making and letting go of
 * the sender's socket and addresses. */
static void
prepare_sender (GluetoolFlushThread *self)
{
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();
  g_autoptr(GError) error = NULL;

  if (!gluetool_sender_prepare (self->sender, &error))
    GLUETOOL_DEBUG ("Not ready to send yet: %s", error->message);
}

static void
stop_sender (GluetoolFlushThread *self)
{
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();

  gluetool_sender_stop (self->sender);
}

static gpointer
flush_thread_main (gpointer data)
{
  GluetoolFlushThread *self = data;
  Loop loop = { .next_interval_us = g_get_monotonic_time () + self->flush_interval_us };
  gboolean done = FALSE;

  self->nap_us = nap_us_for_queue (gluetool_lanes_get_capacity_bytes (self->lanes));
  become_background_thread ();

  /* Ready before any span is waiting: a failure costs nothing yet, and a
   * child process made by fork() from here on starts from the address. */
  prepare_sender (self);

  while (!done)
    {
      gluetool_mutex_lock (&self->lock);
      wait_for_work (self, &loop);
      gluetool_mutex_unlock (&self->lock);

      /* Lanes of threads that have exited go to threads to come. Outside
       * the region: it asks the process's registry, whose lock fork()'s
       * prepare handler holds while it waits for regions to end. */
      if (run_pass (self, &loop))
        gluetool_lanes_reclaim_sc (self->lanes);

      gluetool_mutex_lock (&self->lock);
      done = answer_requests (self, &loop);
      gluetool_mutex_unlock (&self->lock);
    }

  stop_sender (self);
  return NULL;
}

/* ---- flush() and stop() ------------------------------------------------------ */

/* Under @lock: spans queued or read and not yet sent or lost, now. */
static guint64
count_unsent (GluetoolFlushThread *self)
{
  guint64 pushed = gluetool_lanes_get_pushed (self->lanes);
  guint64 consumed = gluetool_lanes_get_consumed (self->lanes);

  return (pushed > consumed ? pushed - consumed : 0) + self->in_flight;
}

/* Records of different lanes have no order, so no count of records can
 * say that everything pushed before a point is done. flush() counts a
 * request instead and wakes the thread; the thread notes the requests made
 * before each pass begins, and answers them when the pass has read every
 * lane to the end and sent (or counted as lost) what it read. What was
 * pushed before the request is visible to that pass, through @lock. */
gboolean
gluetool_flush_thread_flush (GluetoolFlushThread *self,
                             gint64               deadline_us,
                             guint64             *unsent)
{
  guint64 request;
  gboolean done;

  gluetool_mutex_lock (&self->lock);
  request = ++self->flush_requested;
  wake_for_request (self);

  while (self->flush_completed < request && !self->thread_done)
    {
      if (!gluetool_cond_wait_until (&self->progress, &self->lock, deadline_us)
          && g_get_monotonic_time () >= deadline_us)
        break;
    }
  /* After stop() there is nothing left to wait for: what it did not send it
   * counted as failed. Until start(), the thread is not there to answer:
   * nothing pushed can be sent yet. */
  done = self->flush_completed >= request || self->thread_done;
  *unsent = done ? 0 : count_unsent (self);
  gluetool_mutex_unlock (&self->lock);
  return done;
}

gboolean
gluetool_flush_thread_stop (GluetoolFlushThread *self,
                            gint64               deadline_us,
                            guint64             *unsent)
{
  gboolean timed_out = FALSE;
  GThread *thread;

  *unsent = 0;
  gluetool_mutex_lock (&self->lock);
  self->closing = TRUE;
  wake_for_request (self);
  /* Producers waiting for room give up now: the queue was sealed before
   * this lock, so each finds it when it checks under @lock, or is waiting
   * now. */
  g_cond_broadcast (&self->room);

  while (!self->thread_done)
    {
      if (!gluetool_cond_wait_until (&self->progress, &self->lock, deadline_us)
          && g_get_monotonic_time () >= deadline_us)
        break;
    }

  if (!self->thread_done)
    {
      /* Out of time: say how many are left, then make the thread give them
       * up. Cancelling interrupts a lookup or a blocked send, so the thread
       * ends promptly. */
      timed_out = TRUE;
      *unsent = count_unsent (self);
      g_cancellable_cancel (self->sender->cancellable);
      wake_for_request (self);
      while (!self->thread_done)
        gluetool_cond_wait (&self->progress, &self->lock);
    }
  /* Under @lock, as is_self() reads it; NULL when never started. */
  thread = g_steal_pointer (&self->thread);
  gluetool_mutex_unlock (&self->lock);

  if (thread != NULL)
    g_thread_join (thread);
  return !timed_out;
}
