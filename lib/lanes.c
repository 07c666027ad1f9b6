/* lanes.c: the span queue: a lane of byte records per producer thread, read
 * by one consumer
 *
 * SPDX-License-Identifier: MIT
 *
 * See lanes-private.h for the design. Memory ordering, pair by pair:
 *
 *   (A) publish:  a producer's release store of a block's @committed pairs
 *                 with the consumer's acquire load of it: the record's
 *                 header and bytes (and its heap copy) are visible to the
 *                 consumer before it reads them.
 *   (B) next:     a producer's release store of a block's @next (or of the
 *                 lane's @first) pairs with the consumer's acquire load of
 *                 it: the block's last @committed store, made before, is
 *                 visible too, so a consumer that sees @next reads the
 *                 block's final length and may give it back once read.
 *   (C) pool:     blocks go back to the pool, and come out of it, under
 *                 @pool_lock: the consumer's reads of a block happen before
 *                 a producer that takes it writes into it.
 *   (D) lane:     a lane changes hands by compare-and-swap of @owner. A
 *                 thread that exits swaps its serial for 0 with release
 *                 (hand_back_lane()); the thread that takes the lane over
 *                 swaps 0 for its serial with acquire, and sees the lane's
 *                 producer fields as the last owner left them, its last
 *                 push included. A lane whose thread left without handing
 *                 it back (it had pushed to another queue since) is
 *                 reclaimed by the consumer: it swaps the dead serial for
 *                 LANE_RECLAIMING (so neither that thread's late hand-back
 *                 nor a new thread can take the lane meanwhile), resets
 *                 the lane's fields and stores owner = 0 with release. That thread's last
 *                 push happened before it left the process's registry,
 *                 which the consumer asked under the registry's lock.
 *   (E) list:     a new lane is pushed on the list by compare-and-swap with
 *                 release; walkers load @lanes_head and each @next_lane
 *                 with acquire, so they see a lane's fields initialised.
 *   (F) seal:     Dekker's handshake (process-private.h): a producer
 *                 announces @writing = 1, then loads @sealed seq_cst;
 *                 gluetool_lanes_seal() stores @sealed seq_cst, runs a
 *                 seq_cst fence, then loads each lane's @writing with
 *                 acquire until 0. Either the producer sees the seal and
 *                 fails, or the sealer waits for its push, whose release
 *                 store of @writing = 0 makes the record visible.
 *   (G) wake:     @blocks_taken is incremented seq_cst after a block is
 *                 taken, and read seq_cst: the reporter's "is the consumer
 *                 asleep" handshake rests on it (see flush-thread.c).
 *   (H) again:    the consumer's release store of a lane's @consumed pairs
 *                 with its producer's acquire load of it: once every record
 *                 of the lane is released, the consumer reads nothing of the
 *                 last block but its @committed and @restarts, so the
 *                 producer may write the block again from the start. It
 *                 stores @committed = 0, then @restarts + 1 with release,
 *                 then records as usual (pair A). The consumer loads
 *                 @committed (acquire), then @restarts: a length from the
 *                 new round comes with the new count (the release of the
 *                 records' @committed follows the count's), and a changed
 *                 count sends the consumer back to the block's start before
 *                 it reads at an offset of the old round. The count is read
 *                 again after @next (pair B), before the block is given
 *                 back: a round the producer filled before moving on is
 *                 then visible, and read first.
 *   (I) back:     the consumer takes an idle lane's last block back for
 *                 threads that found the pool empty. Dekker's handshake
 *                 again, as for the seal: the consumer stores @stealing = 1
 *                 seq_cst, runs a seq_cst fence, and goes on only if the
 *                 lane's @writing is 0 (acquire: the producer's last push is
 *                 visible); a producer announces @writing = 1, then loads
 *                 @stealing seq_cst, and when it is 1 steps back and waits
 *                 for 0 (acquire, pairing with the consumer's release store
 *                 once it has reset the lane's fields). Either the consumer
 *                 sees the push and leaves the lane alone, or the producer
 *                 waits the few instructions the consumer needs.
 *
 * Counters a lane's producer alone writes (@pushed, @pushed_bytes) are
 * stored relaxed: they order nothing, and readers that need the records
 * themselves synchronise through (A) or (F).
 */

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "lanes-private.h"
#include "process-private.h"
#include "sync-private.h"
#include "thread-state-private.h"

/* The line size that keeps apart what different threads write. */
#define LANES_CACHE_LINE 64

/* A record in a block: a header, then its bytes (or a pointer to its heap
 * copy), padded so the next header is aligned. */
typedef struct
{
  guint32 len;
  guint32 is_heap;
} RecordHeader;

#define RECORD_ALIGN 8u

typedef struct _Block Block;
struct _Block
{
  /* (atomic) bytes of whole records in @data: the producer stores it with
   * release after each record (pair A). */
  _Atomic gsize committed;
  /* (atomic) the lane's next block, stored once by the producer when this
   * one is full (pair B); NULL until then. */
  Block *_Atomic next;
  /* (atomic) how often the producer started the block over (pair H). */
  atomic_uint restarts;
  /* In the pool's free list, under @pool_lock. */
  Block *next_free;
  alignas (RECORD_ALIGN) guint8 data[];
};

typedef struct _Lane Lane;
struct _Lane
{
  /* The producer's line: its thread alone writes these while it owns the
   * lane. */
  alignas (LANES_CACHE_LINE) atomic_uint writing;  /* (atomic) pair F */
  Block           *tail;                          /* the block it writes into */
  gsize            tail_used;                     /* its bytes used so far */
  gsize            tail_prefetched;               /* bytes of it asked for, see prefetch_ahead() */
  _Atomic guint64  pushed;                        /* (atomic) records, ever */
  _Atomic gsize    pushed_bytes;                  /* (atomic) record bytes, ever */
  Block *_Atomic   first;                         /* (atomic) the first block, pair B */

  /* Who owns it (a thread serial, 0: nobody), and the list; written when a
   * lane changes hands or is made. */
  alignas (LANES_CACHE_LINE) _Atomic guint64 owner; /* (atomic) pair D */
  Lane            *next_lane;                     /* set before the lane is listed */
  /* (atomic) pair I. Here, on a line rarely written, as producers read it
   * at every push. */
  atomic_uint      stealing;

  /* The consumer's line. */
  alignas (LANES_CACHE_LINE) Block *head;          /* the block it reads; NULL: see @first */
  gsize            head_read;                     /* bytes of it read */
  guint            head_restarts;                 /* its @restarts when last read */
  guint64          pushed_at_last_look;           /* see give_back_idle_sc() */
  _Atomic guint64  consumed;                      /* (atomic) records released, ever */
  _Atomic gsize    consumed_bytes;                /* (atomic) record bytes released, ever */
};

struct _GluetoolLanes
{
  /* Read by producers on every push; written once. */
  alignas (LANES_CACHE_LINE) guint64 id;          /* unique in the process */
  gsize            capacity_bytes;
  gsize            block_bytes;                   /* header included */
  gsize            block_payload;                 /* bytes of records a block holds */
  guint            max_blocks;
  gboolean         has_prefetchw;                 /* see prefetch_for_write() */
  atomic_bool      sealed;                        /* (atomic) pair F */

  /* The list of queues alive, for threads that exit (see hand_back_lane());
   * under live_queues_lock. */
  GluetoolLanes   *next_live;

  /* Lanes, newest first (pair E); pushed, never removed before free(). */
  alignas (LANES_CACHE_LINE) Lane *_Atomic lanes_head;
  atomic_uint      n_lanes;                       /* (atomic) */

  /* The budget: taken by producers once per block, given back by the
   * consumer once per block. */
  alignas (LANES_CACHE_LINE) GMutex pool_lock;
  Block           *free_blocks;                   /* (owned) under pool_lock */
  guint            n_blocks_made;                 /* under pool_lock */
  /* (atomic) written under pool_lock; producers look at it without the
   * lock before they take it (see take_block()). */
  atomic_uint      n_blocks_in_use;
  gsize            heap_bytes_in_use;             /* under pool_lock: large records */
  _Atomic guint64  blocks_taken;                  /* (atomic) pair G */
  /* (atomic) pushes that found the pool empty: the consumer then takes
   * idle lanes' blocks back (pair I). Written only when a push fails. */
  _Atomic guint64  refusals;
  guint64          refusals_seen;                 /* the consumer's */

  /* The consumer's. */
  alignas (LANES_CACHE_LINE) Lane *cursor;         /* the lane it reads; NULL: start over */
  guint            read_from_cursor;              /* records read from it in a row */
  Lane            *peeked_lane;                   /* the last successful peek's, or NULL */
  gsize            peeked_size;                   /* its record's bytes in the block */
  gsize            peeked_len;
  gboolean         peeked_heap;
  _Atomic guint64  consumed;                      /* (atomic) records released, ever */
};

/* How far past its last record a producer asks for the block's lines. A few
 * records' worth: the lines arrive while the caller does the rest of its
 * work between two pushes. */
#define PREFETCH_AHEAD_BYTES 512

/* The consumer moves on to the next lane after this many records of one. */
#define MAX_READ_IN_A_ROW 64

#define MIN_BLOCK_BYTES 256

/* A lane's owner while the consumer empties it for the next thread (see
 * gluetool_lanes_reclaim_sc()): no thread's serial. */
#define LANE_RECLAIMING G_MAXUINT64

static atomic_ullong last_lanes_id;

/* The calling thread's lane in the queue it last pushed to. Only compared
 * by id: a queue freed since is never touched through it. */
static GLUETOOL_THREAD_LOCAL guint64 cached_lanes_id;
static GLUETOOL_THREAD_LOCAL guint64 cached_serial;
static GLUETOOL_THREAD_LOCAL Lane   *cached_lane;

/* The queues alive. A thread that exits looks its cached queue up here
 * before it hands its lane back: the queue may have been freed since its
 * last push. Taken at a queue's making and freeing and at a thread's exit,
 * never per record; held across fork() (see process-private.h), as an
 * exiting thread may hold it outside any region. */
static GMutex         live_queues_lock;
static GluetoolLanes *live_queues;                /* under live_queues_lock */

static void hand_back_lane (gpointer unused);

static inline gsize
round_up (gsize n)
{
  return (n + RECORD_ALIGN - 1) & ~(gsize) (RECORD_ALIGN - 1);
}

/* Bytes a record of @len takes in a block, header included. */
static inline gsize
record_size (GluetoolLanes *lanes,
             gsize          len,
             gboolean      *is_heap)
{
  gsize inline_size = sizeof (RecordHeader) + round_up (len);

  *is_heap = inline_size > lanes->block_payload;
  return *is_heap ? sizeof (RecordHeader) + round_up (sizeof (guint8 *)) : inline_size;
}

/* Whether the CPU has PREFETCHW (CPUID 0x80000001, ECX bit 8). */
static gboolean
cpu_has_prefetchw (void)
{
#if defined(__x86_64__) || defined(__i386__)
  unsigned int eax, ebx, ecx, edx;

  return __get_cpuid (0x80000001, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 8)) != 0;
#else
  return FALSE;
#endif
}

GluetoolLanes *
gluetool_lanes_new (gsize capacity_bytes)
{
  GluetoolLanes *lanes = g_aligned_alloc0 (1, sizeof (GluetoolLanes), alignof (GluetoolLanes));
  gsize block_bytes = MIN (capacity_bytes / 16, (gsize) GLUETOOL_LANES_MAX_BLOCK_BYTES);

  /* The fences of the seal handshake are chosen with the fork handlers. */
  gluetool_process_ensure_fork_handlers ();

  block_bytes = MAX (round_up (block_bytes), (gsize) MIN_BLOCK_BYTES);
  lanes->id = atomic_fetch_add_explicit (&last_lanes_id, 1, memory_order_relaxed) + 1;
  lanes->capacity_bytes = capacity_bytes;
  lanes->block_bytes = block_bytes;
  lanes->block_payload = block_bytes - offsetof (Block, data);
  lanes->max_blocks = capacity_bytes == 0 ? 0 : (guint) MIN (MAX (capacity_bytes / block_bytes, 2), G_MAXUINT);
  lanes->has_prefetchw = cpu_has_prefetchw ();
  atomic_init (&lanes->sealed, false);
  atomic_init (&lanes->lanes_head, NULL);
  atomic_init (&lanes->n_lanes, 0);
  g_mutex_init (&lanes->pool_lock);
  atomic_init (&lanes->n_blocks_in_use, 0);
  atomic_init (&lanes->blocks_taken, 0);
  atomic_init (&lanes->refusals, 0);
  atomic_init (&lanes->consumed, 0);

  gluetool_process_hold_across_fork (&live_queues_lock);
  gluetool_mutex_lock (&live_queues_lock);
  lanes->next_live = live_queues;
  live_queues = lanes;
  gluetool_mutex_unlock (&live_queues_lock);
  return lanes;
}

/* Takes @lanes off the list of queues alive: no exiting thread looks at
 * its lanes from then on. */
static void
forget_live_queue (GluetoolLanes *lanes)
{
  gluetool_mutex_lock (&live_queues_lock);
  for (GluetoolLanes **link = &live_queues; *link != NULL; link = &(*link)->next_live)
    if (*link == lanes)
      {
        *link = lanes->next_live;
        break;
      }
  gluetool_mutex_unlock (&live_queues_lock);
}

void
gluetool_lanes_free (GluetoolLanes *lanes)
{
  const guint8 *record;
  gsize len;
  Lane *lane;

  if (lanes == NULL)
    return;

  forget_live_queue (lanes);

  /* What is still queued is read as the consumer reads it, so the heap
   * copies of large records are freed wherever each block's round stands:
   * a producer may have started a block over since it was last read. */
  while (gluetool_lanes_peek_sc (lanes, &record, &len))
    gluetool_lanes_release_sc (lanes);

  /* Relaxed: the caller ordered every push and read before this call. */
  lane = atomic_load_explicit (&lanes->lanes_head, memory_order_relaxed);
  while (lane != NULL)
    {
      Lane *next_lane = lane->next_lane;
      Block *block = lane->head != NULL ? lane->head
                     : atomic_load_explicit (&lane->first, memory_order_relaxed);

      while (block != NULL)
        {
          Block *next = atomic_load_explicit (&block->next, memory_order_relaxed);

          g_free (block);
          block = next;
        }
      g_aligned_free (lane);
      lane = next_lane;
    }

  while (lanes->free_blocks != NULL)
    {
      Block *block = lanes->free_blocks;

      lanes->free_blocks = block->next_free;
      g_free (block);
    }
  g_mutex_clear (&lanes->pool_lock);
  g_aligned_free (lanes);
}

gsize
gluetool_lanes_get_capacity_bytes (GluetoolLanes *lanes)
{
  g_return_val_if_fail (lanes != NULL, 0);

  return lanes->capacity_bytes;
}

gsize
gluetool_lanes_get_block_bytes (GluetoolLanes *lanes)
{
  g_return_val_if_fail (lanes != NULL, 0);

  return lanes->block_bytes;
}

/* ---- Producers ------------------------------------------------------------- */

static inline guint
blocks_in_use (GluetoolLanes *lanes)
{
  return atomic_load_explicit (&lanes->n_blocks_in_use, memory_order_relaxed);
}

/* Under @pool_lock: whether @extra more bytes fit the budget. */
static gboolean
budget_has_room (GluetoolLanes *lanes,
                 gsize          extra)
{
  gsize in_use = (gsize) blocks_in_use (lanes) * lanes->block_bytes + lanes->heap_bytes_in_use;

  return in_use + extra <= MAX (lanes->capacity_bytes, (gsize) lanes->max_blocks * lanes->block_bytes);
}

/* Under @pool_lock. */
static gsize
budget_in_use (GluetoolLanes *lanes)
{
  return (gsize) blocks_in_use (lanes) * lanes->block_bytes + lanes->heap_bytes_in_use;
}

/* A block for the calling thread's lane, its previous one (if any) handed
 * to the consumer. FALSE when the budget is spent. */
static gboolean
take_block (GluetoolLanes *lanes,
            Lane          *lane,
            gsize         *bytes_in_use)
{
  Block *block = NULL;

  /* A look without the lock first: an overrun queue refuses push after
   * push, and each one taking the lock that the flush thread takes to give
   * blocks back would have the two wake each other (a futex call for the
   * producer, some microseconds). Relaxed: a block given back an instant
   * ago may be missed, as it would have been an instant earlier. */
  if (blocks_in_use (lanes) >= lanes->max_blocks)
    goto refused;

  gluetool_mutex_lock (&lanes->pool_lock);
  if (blocks_in_use (lanes) < lanes->max_blocks && budget_has_room (lanes, lanes->block_bytes))
    {
      if (lanes->free_blocks != NULL)
        {
          block = lanes->free_blocks;
          lanes->free_blocks = block->next_free;
        }
      else
        {
          block = g_malloc (lanes->block_bytes);
          lanes->n_blocks_made++;
        }
      atomic_store_explicit (&lanes->n_blocks_in_use, blocks_in_use (lanes) + 1,
                             memory_order_relaxed);
      *bytes_in_use = budget_in_use (lanes);
    }
  gluetool_mutex_unlock (&lanes->pool_lock);

  if (block == NULL)
    {
    refused:
      /* seq_cst: the reporter's "is the consumer asleep" handshake, as
       * for @blocks_taken. */
      atomic_fetch_add_explicit (&lanes->refusals, 1, memory_order_seq_cst);
      return FALSE;
    }

  /* Plain initialisation: nobody can reach the block until it is linked
   * below, with release. */
  atomic_init (&block->committed, 0);
  atomic_init (&block->next, NULL);
  atomic_init (&block->restarts, 0);
  block->next_free = NULL;

  /* Release, pair B: the old block's final @committed goes with it. */
  if (lane->tail != NULL)
    atomic_store_explicit (&lane->tail->next, block, memory_order_release);
  else
    atomic_store_explicit (&lane->first, block, memory_order_release);
  lane->tail = block;
  lane->tail_used = 0;
  lane->tail_prefetched = 0;

  /* seq_cst, pair G. */
  atomic_fetch_add_explicit (&lanes->blocks_taken, 1, memory_order_seq_cst);
  return TRUE;
}

static Lane *
make_lane (guint64 owner)
{
  Lane *lane = g_aligned_alloc0 (1, sizeof (Lane), alignof (Lane));

  atomic_init (&lane->writing, 0);
  atomic_init (&lane->pushed, 0);
  atomic_init (&lane->pushed_bytes, 0);
  atomic_init (&lane->first, NULL);
  atomic_init (&lane->owner, owner);
  atomic_init (&lane->stealing, 0);
  atomic_init (&lane->consumed, 0);
  atomic_init (&lane->consumed_bytes, 0);
  return lane;
}

/* The calling thread's lane: its own if it has one, else one a thread that
 * exited left (pair D), else a new one (pair E). Once per thread and queue,
 * unless the thread alternates between queues. */
static G_GNUC_NO_INLINE Lane *
find_lane (GluetoolLanes *lanes)
{
  guint64 serial = gluetool_process_get_thread_serial ();
  Lane *head = atomic_load_explicit (&lanes->lanes_head, memory_order_acquire);
  Lane *lane;

  for (lane = head; lane != NULL; lane = lane->next_lane)
    if (atomic_load_explicit (&lane->owner, memory_order_relaxed) == serial)
      goto found;

  for (lane = head; lane != NULL; lane = lane->next_lane)
    {
      guint64 nobody = 0;

      if (atomic_compare_exchange_strong_explicit (&lane->owner, &nobody, serial,
                                                   memory_order_acquire, memory_order_relaxed))
        goto found;
    }

  lane = make_lane (serial);
  lane->next_lane = head;
  while (!atomic_compare_exchange_weak_explicit (&lanes->lanes_head, &lane->next_lane, lane,
                                                 memory_order_release, memory_order_acquire))
    ;
  atomic_fetch_add_explicit (&lanes->n_lanes, 1, memory_order_relaxed);

found:
  cached_lanes_id = lanes->id;
  cached_serial = serial;
  cached_lane = lane;
  /* A mark (the lane is in the cache): the thread's exit hands the lane
   * back, whichever queue it is in by then. */
  if (gluetool_thread_state_get (GLUETOOL_THREAD_SLOT_LANE) == NULL)
    gluetool_thread_state_set (GLUETOOL_THREAD_SLOT_LANE, GINT_TO_POINTER (1), hand_back_lane);
  return lane;
}

/* At the calling thread's exit: hands the lane it last pushed into back,
 * so that the next thread to push takes it over at once, with its block
 * and whatever of it is still unread (the consumer reads a lane's records
 * in order, whoever pushed them). Without this, the lanes of exited
 * threads waited for the consumer's reclaim_sc() at its next interval, and
 * threads that come and go faster than that spent the budget on lanes
 * nobody would push into again. A lane of another queue the thread pushed
 * into before is reclaimed by the consumer, as before.
 *
 * A push after this, from what the thread lets go of later (see
 * thread-state-private.h), finds the cache cleared, takes a lane again and
 * sets the mark again, so this runs once more. */
static void
hand_back_lane (gpointer unused)
{
  guint64 id = cached_lanes_id;
  guint64 serial = cached_serial;
  Lane *lane = cached_lane;

  (void) unused;
  cached_lanes_id = 0;
  cached_lane = NULL;
  if (lane == NULL)
    return;

  gluetool_mutex_lock (&live_queues_lock);
  for (GluetoolLanes *lanes = live_queues; lanes != NULL; lanes = lanes->next_live)
    if (lanes->id == id)
      {
        /* Release, pair D. From the serial only: if the registry's
         * destructor ran first, the consumer may have reclaimed the lane
         * and another thread taken it over. */
        atomic_compare_exchange_strong_explicit (&lane->owner, &serial, 0,
                                                 memory_order_release, memory_order_relaxed);
        break;
      }
  gluetool_mutex_unlock (&live_queues_lock);
}

static inline Lane *
get_lane (GluetoolLanes *lanes)
{
  GluetoolThreadRecord *record = gluetool_process_thread_record_;

  /* The serial too: a thread-exit destructor that runs after the
   * registry's registers the thread again, under a new serial, and its
   * old lane may be reclaimed meanwhile (pair D). */
  if (G_LIKELY (cached_lanes_id == lanes->id && record != NULL && record->serial == cached_serial))
    return cached_lane;
  return find_lane (lanes);
}

/* Asks for the cache line at @address, to be written soon. GCC makes
 * __builtin_prefetch (address, 1) a plain PREFETCHT0 on x86 unless built
 * for a CPU known to have PREFETCHW, and a line brought in shared must
 * still be taken from the other caches at the store. */
static inline void
prefetch_for_write (GluetoolLanes *lanes,
                    const guint8  *address)
{
#if defined(__x86_64__) || defined(__i386__)
  if (G_LIKELY (lanes->has_prefetchw))
    {
      __asm__ volatile ("prefetchw %0" : : "m" (*address));
      return;
    }
#endif
  __builtin_prefetch (address, 1, 3);
}

/* Asks for the lines the lane's next records go to. The consumer read the
 * block's lines before (a block is used again once read), so they sit in
 * its core's cache; a store to one waits for it to come over, and the
 * caller's next locked instruction (taking a reference, say) waits for
 * every such store. Asked for now, the lines come while the caller does
 * the rest of its work: a third of a lone producer's time per span, when
 * measured with bench-e2e. */
static inline void
prefetch_ahead (GluetoolLanes *lanes,
                Lane          *lane)
{
  gsize until = MIN (lane->tail_used + PREFETCH_AHEAD_BYTES, lanes->block_payload);
  gsize from = MAX (lane->tail_prefetched, lane->tail_used);

  for (; from < until; from += LANES_CACHE_LINE)
    prefetch_for_write (lanes, lane->tail->data + from);
  lane->tail_prefetched = MAX (from, lane->tail_prefetched);
}

/* Copies a record into the lane's last block; the caller made room. */
static inline void
write_record (GluetoolLanes *lanes,
              Lane          *lane,
              const guint8  *record,
              gsize          len,
              guint8        *heap,
              gsize          size)
{
  guint8 *at = lane->tail->data + lane->tail_used;
  RecordHeader header = { (guint32) len, heap != NULL };

  memcpy (at, &header, sizeof header);
  if (heap != NULL)
    memcpy (at + sizeof header, &heap, sizeof heap);
  else
    memcpy (at + sizeof header, record, len);
  lane->tail_used += size;

  /* Release, pair A: publishes the header and the bytes. */
  atomic_store_explicit (&lane->tail->committed, lane->tail_used, memory_order_release);

  prefetch_ahead (lanes, lane);
}

/* Whether the consumer has released every record of @lane (pair H). */
static inline gboolean
lane_is_read_to_end (Lane *lane)
{
  return atomic_load_explicit (&lane->consumed, memory_order_acquire)
         == atomic_load_explicit (&lane->pushed, memory_order_relaxed);
}

/* Starts the lane's last block over: its records are all read (pair H).
 * Cheaper than taking another block, and needs none: without it, a thread
 * whose block is full would depend on a free block, and with more threads
 * than blocks (a small queue) none might ever come back. */
static void
restart_block (Lane *lane)
{
  Block *block = lane->tail;

  atomic_store_explicit (&block->committed, 0, memory_order_relaxed);
  atomic_store_explicit (&block->restarts,
                         atomic_load_explicit (&block->restarts, memory_order_relaxed) + 1,
                         memory_order_release);
  lane->tail_used = 0;
  lane->tail_prefetched = 0;
}

gboolean
gluetool_lanes_push (GluetoolLanes *lanes,
                     const guint8  *record,
                     gsize          len,
                     gboolean      *took_block,
                     gsize         *bytes_in_use)
{
  Lane *lane;
  guint8 *heap = NULL;
  gboolean is_heap;
  gsize size;
  gsize in_use = 0;
  gboolean took = FALSE;
  gboolean pushed = FALSE;

  g_return_val_if_fail (lanes != NULL, FALSE);
  g_return_val_if_fail (record != NULL, FALSE);
  g_return_val_if_fail (len > 0 && len <= G_MAXUINT32, FALSE);

  if (took_block != NULL)
    *took_block = FALSE;
  if (G_UNLIKELY (len > lanes->capacity_bytes))
    return FALSE;

  lane = get_lane (lanes);
  size = record_size (lanes, len, &is_heap);

  /* Pairs F and I: announce the push, then look for the seal, and for the
   * consumer taking the lane's block back. */
  for (;;)
    {
      gluetool_process_announce (&lane->writing, 1);
      if (G_LIKELY (!atomic_load_explicit (&lane->stealing, memory_order_seq_cst)))
        break;
      atomic_store_explicit (&lane->writing, 0, memory_order_release);
      while (atomic_load_explicit (&lane->stealing, memory_order_acquire))
        g_thread_yield ();
    }
  if (G_UNLIKELY (atomic_load_explicit (&lanes->sealed, memory_order_seq_cst)))
    goto out;

  if (G_UNLIKELY (is_heap))
    {
      /* A record larger than a block: rare, so the budget lock per record
       * is affordable. */
      gboolean fits;

      gluetool_mutex_lock (&lanes->pool_lock);
      fits = budget_has_room (lanes, len);
      if (fits)
        lanes->heap_bytes_in_use += len;
      gluetool_mutex_unlock (&lanes->pool_lock);
      if (!fits)
        {
          /* Idle lanes' blocks may be what fills the budget. */
          atomic_fetch_add_explicit (&lanes->refusals, 1, memory_order_seq_cst);
          goto out;
        }
      heap = g_memdup2 (record, len);
    }

  if (lane->tail != NULL && lane->tail_used + size > lanes->block_payload
      && lane_is_read_to_end (lane))
    restart_block (lane);
  else if (lane->tail == NULL || lane->tail_used + size > lanes->block_payload)
    {
      if (!take_block (lanes, lane, &in_use))
        {
          if (heap != NULL)
            {
              g_free (heap);
              gluetool_mutex_lock (&lanes->pool_lock);
              lanes->heap_bytes_in_use -= len;
              gluetool_mutex_unlock (&lanes->pool_lock);
            }
          goto out;
        }
      took = TRUE;
    }

  write_record (lanes, lane, record, len, heap, size);
  /* Relaxed: counts only this thread writes (see the top of the file). */
  atomic_store_explicit (&lane->pushed,
                         atomic_load_explicit (&lane->pushed, memory_order_relaxed) + 1,
                         memory_order_relaxed);
  atomic_store_explicit (&lane->pushed_bytes,
                         atomic_load_explicit (&lane->pushed_bytes, memory_order_relaxed) + len,
                         memory_order_relaxed);
  pushed = TRUE;

out:
  /* Release, pair F: a sealer that reads 0 sees the record. */
  atomic_store_explicit (&lane->writing, 0, memory_order_release);
  if (took_block != NULL)
    *took_block = took;
  if (took && bytes_in_use != NULL)
    *bytes_in_use = in_use;
  return pushed;
}

/* ---- The consumer ---------------------------------------------------------- */

/* Gives a block read to the end back to the pool (pair C). */
static void
give_back_block (GluetoolLanes *lanes,
                 Block         *block)
{
  gluetool_mutex_lock (&lanes->pool_lock);
  block->next_free = lanes->free_blocks;
  lanes->free_blocks = block;
  atomic_store_explicit (&lanes->n_blocks_in_use, blocks_in_use (lanes) - 1,
                         memory_order_relaxed);
  gluetool_mutex_unlock (&lanes->pool_lock);
}

/* Points the peek at the record at @lane's head_read. */
static inline void
peek_record (GluetoolLanes *lanes,
             Lane          *lane)
{
  RecordHeader header;
  gboolean is_heap;

  memcpy (&header, lane->head->data + lane->head_read, sizeof header);
  lanes->peeked_lane = lane;
  lanes->peeked_len = header.len;
  lanes->peeked_heap = header.is_heap;
  lanes->peeked_size = record_size (lanes, header.len, &is_heap);
}

/* The peeked record's bytes: in the block, or on the heap it points to. */
static inline void
hand_out_peeked (GluetoolLanes  *lanes,
                 Lane           *lane,
                 const guint8  **record,
                 gsize          *len)
{
  guint8 *at = lane->head->data + lane->head_read + sizeof (RecordHeader);

  if (G_UNLIKELY (lanes->peeked_heap))
    {
      guint8 *heap;

      memcpy (&heap, at, sizeof heap);
      *record = heap;
    }
  else
    *record = at;
  *len = lanes->peeked_len;
}

/* The next record of @lane, left in place. */
static gboolean
lane_peek (GluetoolLanes *lanes,
           Lane          *lane)
{
  Block *block = lane->head;

  if (block == NULL)
    {
      /* Acquire, pair B. */
      block = atomic_load_explicit (&lane->first, memory_order_acquire);
      if (block == NULL)
        return FALSE;
      lane->head = block;
      lane->head_read = 0;
      lane->head_restarts = 0;
    }

  for (;;)
    {
      /* Acquire, pair A. */
      gsize committed = atomic_load_explicit (&block->committed, memory_order_acquire);
      /* Pair H: after the length, so a length of a new round comes with
       * its count. */
      guint restarts = atomic_load_explicit (&block->restarts, memory_order_relaxed);
      Block *next;

      if (G_UNLIKELY (restarts != lane->head_restarts))
        {
          lane->head_restarts = restarts;
          lane->head_read = 0;
          continue;
        }
      if (lane->head_read < committed)
        {
          peek_record (lanes, lane);
          return TRUE;
        }

      /* Acquire, pair B: once the producer has moved on, @committed is
       * final; loaded again above before the block is given back. */
      next = atomic_load_explicit (&block->next, memory_order_acquire);
      if (next == NULL)
        return FALSE;
      /* The producer may have started the block over, and filled it again,
       * since the loads above: what it did before moving on is visible
       * now, a new round included. */
      if (atomic_load_explicit (&block->restarts, memory_order_relaxed) != lane->head_restarts
          || lane->head_read < atomic_load_explicit (&block->committed, memory_order_relaxed))
        continue;

      lane->head = next;
      lane->head_read = 0;
      lane->head_restarts = 0;
      give_back_block (lanes, block);
      block = next;
    }
}

/* Looks for the next record in every lane, from the cursor. */
static G_GNUC_NO_INLINE gboolean
peek_slow (GluetoolLanes  *lanes,
           const guint8  **record,
           gsize          *len)
{
  Lane *start;
  Lane *lane;
  gboolean wrapped = FALSE;

  if (lanes->cursor == NULL || lanes->read_from_cursor >= MAX_READ_IN_A_ROW)
    {
      Lane *next = lanes->cursor != NULL ? lanes->cursor->next_lane : NULL;

      /* Acquire, pair E. */
      lanes->cursor = next != NULL ? next : atomic_load_explicit (&lanes->lanes_head,
                                                                  memory_order_acquire);
      lanes->read_from_cursor = 0;
    }
  start = lane = lanes->cursor;

  while (lane != NULL)
    {
      if (lane_peek (lanes, lane))
        {
          hand_out_peeked (lanes, lane, record, len);
          lanes->cursor = lane;
          lanes->read_from_cursor++;
          return TRUE;
        }

      /* Round the list once, from the cursor: its end leads to its head. */
      lane = lane->next_lane;
      if (lane == NULL && !wrapped)
        {
          wrapped = TRUE;
          lane = atomic_load_explicit (&lanes->lanes_head, memory_order_acquire);
        }
      if (lane == start)
        break;
    }

  lanes->cursor = NULL;
  lanes->peeked_lane = NULL;
  return FALSE;
}

gboolean
gluetool_lanes_peek_sc (GluetoolLanes  *lanes,
                        const guint8  **record,
                        gsize          *len)
{
  Lane *lane;

  g_return_val_if_fail (lanes != NULL, FALSE);
  g_return_val_if_fail (record != NULL, FALSE);
  g_return_val_if_fail (len != NULL, FALSE);

  /* The usual case, without the slow path's registers and loops: the
   * lane read last has its next record in the block it is reading, as
   * lane_peek() would find it (pair A, then pair H, in its order). */
  lane = lanes->cursor;
  if (G_LIKELY (lane != NULL && lanes->read_from_cursor < MAX_READ_IN_A_ROW && lane->head != NULL))
    {
      Block *block = lane->head;
      /* Acquire, pair A. */
      gsize committed = atomic_load_explicit (&block->committed, memory_order_acquire);
      guint restarts = atomic_load_explicit (&block->restarts, memory_order_relaxed);

      if (G_LIKELY (restarts == lane->head_restarts && lane->head_read < committed))
        {
          peek_record (lanes, lane);
          hand_out_peeked (lanes, lane, record, len);
          lanes->read_from_cursor++;
          return TRUE;
        }
    }
  return peek_slow (lanes, record, len);
}

void
gluetool_lanes_release_sc (GluetoolLanes *lanes)
{
  Lane *lane;

  g_return_if_fail (lanes != NULL);
  g_return_if_fail (lanes->peeked_lane != NULL);

  lane = g_steal_pointer (&lanes->peeked_lane);
  if (lanes->peeked_heap)
    {
      guint8 *heap;

      memcpy (&heap, lane->head->data + lane->head_read + sizeof (RecordHeader), sizeof heap);
      g_free (heap);
      gluetool_mutex_lock (&lanes->pool_lock);
      lanes->heap_bytes_in_use -= lanes->peeked_len;
      gluetool_mutex_unlock (&lanes->pool_lock);
    }
  lane->head_read += lanes->peeked_size;

  /* Release, pair H: the record is read before its producer may write
   * over it. Only the consumer writes the count. */
  atomic_store_explicit (&lane->consumed,
                         atomic_load_explicit (&lane->consumed, memory_order_relaxed) + 1,
                         memory_order_release);
  atomic_store_explicit (&lane->consumed_bytes,
                         atomic_load_explicit (&lane->consumed_bytes, memory_order_relaxed)
                         + lanes->peeked_len,
                         memory_order_relaxed);
  atomic_store_explicit (&lanes->consumed,
                         atomic_load_explicit (&lanes->consumed, memory_order_relaxed) + 1,
                         memory_order_relaxed);
}

/* Gives @lane's blocks back to the pool and leaves it as new: it has no
 * block and everything pushed into it is read. Its producer is gone or held
 * off (pairs D and I). */
static void
empty_lane (GluetoolLanes *lanes,
            Lane          *lane)
{
  Block *block = lane->head != NULL ? lane->head
                 : atomic_load_explicit (&lane->first, memory_order_relaxed);

  while (block != NULL)
    {
      Block *next = atomic_load_explicit (&block->next, memory_order_relaxed);

      give_back_block (lanes, block);
      block = next;
    }
  lane->head = NULL;
  lane->head_read = 0;
  lane->head_restarts = 0;
  lane->tail = NULL;
  lane->tail_used = 0;
  lane->tail_prefetched = 0;
  atomic_store_explicit (&lane->first, NULL, memory_order_relaxed);
  if (lanes->cursor == lane)
    lanes->cursor = NULL;
}

gboolean
gluetool_lanes_has_refusals_sc (GluetoolLanes *lanes)
{
  return atomic_load_explicit (&lanes->refusals, memory_order_seq_cst) != lanes->refusals_seen;
}

/* Whether @lane looks idle: holding a block, everything it pushed read,
 * and nothing pushed since the last look. A thread that keeps pushing is
 * left alone without the handshake: a queue overrun by one busy producer
 * finds its pushes refused at every pass, and flagging its lane each time
 * would have it step back and wait for the consumer at its next push. */
static gboolean
lane_looks_idle (Lane *lane)
{
  guint64 pushed = atomic_load_explicit (&lane->pushed, memory_order_relaxed);
  /* @first is set with the lane's first block and cleared only when the
   * lane is emptied: read here instead of @tail, the producer's own. */
  gboolean idle = atomic_load_explicit (&lane->first, memory_order_relaxed) != NULL
                  && pushed == atomic_load_explicit (&lane->consumed, memory_order_relaxed)
                  && pushed == lane->pushed_at_last_look;

  lane->pushed_at_last_look = pushed;
  return idle;
}

gboolean
gluetool_lanes_give_back_idle_sc (GluetoolLanes *lanes)
{
  guint64 refusals;
  Lane *head;
  gboolean any_idle = FALSE;
  gboolean gave_back = FALSE;

  g_return_val_if_fail (lanes != NULL, FALSE);

  refusals = atomic_load_explicit (&lanes->refusals, memory_order_relaxed);
  if (G_LIKELY (refusals == lanes->refusals_seen))
    return FALSE;
  lanes->refusals_seen = refusals;

  /* Pair I, the rare side, for every idle-looking lane at once: one fence
   * for all. The second walk visits exactly the lanes the first flagged: a
   * lane listed in between has no flag, and its producer is not held off.
   * The choice is only a guess (the producer may be pushing as it is
   * made): the handshake below decides. */
  head = atomic_load_explicit (&lanes->lanes_head, memory_order_acquire);
  for (Lane *lane = head; lane != NULL; lane = lane->next_lane)
    if (lane_looks_idle (lane))
      {
        atomic_store_explicit (&lane->stealing, 1, memory_order_seq_cst);
        any_idle = TRUE;
      }
  if (!any_idle)
    return FALSE;
  gluetool_process_fence_rare_side ();

  for (Lane *lane = head; lane != NULL; lane = lane->next_lane)
    {
      if (!atomic_load_explicit (&lane->stealing, memory_order_relaxed))
        continue;
      /* Not pushing now (and so, until @stealing is 0 again), everything it
       * pushed read: its block holds nothing anyone needs. */
      if (atomic_load_explicit (&lane->writing, memory_order_acquire) == 0
          && lane->tail != NULL
          && atomic_load_explicit (&lane->pushed, memory_order_relaxed)
             == atomic_load_explicit (&lane->consumed, memory_order_relaxed))
        {
          empty_lane (lanes, lane);
          gave_back = TRUE;
        }
      /* Release, pair I: the producer sees the lane reset. */
      atomic_store_explicit (&lane->stealing, 0, memory_order_release);
    }
  return gave_back;
}

void
gluetool_lanes_reclaim_sc (GluetoolLanes *lanes)
{
  g_return_if_fail (lanes != NULL);

  for (Lane *lane = atomic_load_explicit (&lanes->lanes_head, memory_order_acquire);
       lane != NULL; lane = lane->next_lane)
    {
      guint64 owner = atomic_load_explicit (&lane->owner, memory_order_acquire);

      if (owner == 0 || owner == LANE_RECLAIMING || gluetool_process_thread_is_alive (owner))
        continue;
      /* Its thread is gone, and so are its pushes (pair D): read it to
       * the end before it changes hands. */
      if (atomic_load_explicit (&lane->pushed, memory_order_relaxed)
          != atomic_load_explicit (&lane->consumed, memory_order_relaxed))
        continue;

      /* Claimed first, pair D: the exiting thread's own hand-back (its
       * registry record may go before it) then fails, and so does a new
       * thread's take-over, until the lane is emptied. */
      if (!atomic_compare_exchange_strong_explicit (&lane->owner, &owner, LANE_RECLAIMING,
                                                    memory_order_acquire, memory_order_relaxed))
        continue;
      empty_lane (lanes, lane);
      /* Release, pair D. */
      atomic_store_explicit (&lane->owner, 0, memory_order_release);
    }
}

/* ---- Counters and the seal ------------------------------------------------- */

guint64
gluetool_lanes_get_pushed (GluetoolLanes *lanes)
{
  guint64 sum = 0;

  g_return_val_if_fail (lanes != NULL, 0);

  for (Lane *lane = atomic_load_explicit (&lanes->lanes_head, memory_order_acquire);
       lane != NULL; lane = lane->next_lane)
    sum += atomic_load_explicit (&lane->pushed, memory_order_relaxed);
  return sum;
}

guint64
gluetool_lanes_get_consumed (GluetoolLanes *lanes)
{
  g_return_val_if_fail (lanes != NULL, 0);

  return atomic_load_explicit (&lanes->consumed, memory_order_relaxed);
}

gsize
gluetool_lanes_get_queued_bytes (GluetoolLanes *lanes)
{
  gsize sum = 0;

  g_return_val_if_fail (lanes != NULL, 0);

  for (Lane *lane = atomic_load_explicit (&lanes->lanes_head, memory_order_acquire);
       lane != NULL; lane = lane->next_lane)
    sum += atomic_load_explicit (&lane->pushed_bytes, memory_order_relaxed)
           - atomic_load_explicit (&lane->consumed_bytes, memory_order_relaxed);
  return sum;
}

guint64
gluetool_lanes_get_blocks_taken (GluetoolLanes *lanes)
{
  g_return_val_if_fail (lanes != NULL, 0);

  /* seq_cst, pair G. */
  return atomic_load_explicit (&lanes->blocks_taken, memory_order_seq_cst);
}

guint
gluetool_lanes_get_n_lanes (GluetoolLanes *lanes)
{
  g_return_val_if_fail (lanes != NULL, 0);

  return atomic_load_explicit (&lanes->n_lanes, memory_order_relaxed);
}

void
gluetool_lanes_seal (GluetoolLanes *lanes)
{
  g_return_if_fail (lanes != NULL);

  /* Pair F, the rare side. */
  atomic_store_explicit (&lanes->sealed, true, memory_order_seq_cst);
  gluetool_process_fence_rare_side ();

  /* A push in progress is a copy of a few hundred bytes, and perhaps a
   * block taken: it ends soon, so yielding is enough. */
  for (Lane *lane = atomic_load_explicit (&lanes->lanes_head, memory_order_acquire);
       lane != NULL; lane = lane->next_lane)
    while (atomic_load_explicit (&lane->writing, memory_order_acquire) != 0)
      g_thread_yield ();
}

gboolean
gluetool_lanes_is_sealed (GluetoolLanes *lanes)
{
  g_return_val_if_fail (lanes != NULL, FALSE);

  return atomic_load_explicit (&lanes->sealed, memory_order_relaxed);
}
