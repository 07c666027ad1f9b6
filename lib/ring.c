/* ring.c: a bounded, lock-free, multi-producer single-consumer queue of byte
 * records
 *
 * SPDX-License-Identifier: MIT
 *
 * Vyukov's bounded queue with one sequence number per slot, specialised to a
 * single consumer. Positions are 64-bit tickets that never wrap in practice
 * (2^64 pushes); a slot's index is the ticket masked by n_slots - 1.
 *
 * A slot's sequence number tells whose turn it is. For ticket t landing in a
 * slot:
 *
 *   seq == t          the slot is free for the producer holding ticket t
 *   seq == t + 1      the record of ticket t is published; the consumer's turn
 *   seq == t + n      the consumer handed it back; free for ticket t + n
 *
 * Memory ordering, as acquire/release pairs:
 *
 *   (A) publish:   the producer's release store of seq = t + 1 in
 *                  gluetool_ring_push_mp() pairs with the consumer's acquire
 *                  load of seq in gluetool_ring_peek_sc(): the record's
 *                  length, bytes and heap block are visible to the consumer
 *                  before it reads them.
 *   (B) hand back: the consumer's release store of seq = t + n in
 *                  gluetool_ring_release_sc() pairs with the producer's
 *                  acquire load of seq in gluetool_ring_push_mp(): the
 *                  consumer's reads of the old record (and its g_free() of
 *                  the old heap block) happen before the next producer
 *                  overwrites the slot.
 *   (C) consumed:  the consumer's release store of consumed_pos in
 *                  gluetool_ring_release_sc() pairs with the acquire load in
 *                  gluetool_ring_get_consumed(): whatever the consumer did
 *                  with a record before releasing it (sent it, say) is
 *                  visible to a thread that sees the record counted.
 *
 * The claimed-ticket counter (enqueue_pos) carries no data: producers claim
 * with a relaxed CAS, because the slot's seq, not the counter, orders the
 * slot's contents (pairs A and B). Readers of the counter get a number only.
 *
 * The byte budget (queued_bytes) is updated with seq_cst read-modify-writes
 * and read with seq_cst loads. It carries no data either; seq_cst puts every
 * update in the single total order that the reporter's Dekker-style
 * "is the consumer asleep" handshake needs (see ring-private.h): a producer
 * does (add bytes; load flag) and the consumer does (store flag; load
 * bytes), all seq_cst, so at least one of them sees the other.
 *
 * The budget is reserved before a ticket is claimed, because a claimed ticket
 * cannot be given back: the consumer waits, in order, for every ticket. A
 * push that then finds no free slot returns its reservation. While it holds
 * it, a concurrent push may fail on the budget although it would have fit: a
 * spurious "full" that only ever happens when the ring is close to full.
 */

#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "ring-private.h"

/* The line size to keep apart what different threads write. 64 bytes on
 * every target we build for; a larger line only costs a little sharing. */
#define RING_CACHE_LINE 64

typedef struct
{
  /* (atomic) whose turn it is; see the table at the top of the file */
  alignas (RING_CACHE_LINE) _Atomic guint64 seq;
  /* Written by the producer holding the slot, read by the consumer after an
   * acquire load of seq (pair A). Records longer than the inline space live
   * in a heap block the slot owns. */
  gsize len;
  union
  {
    guint8 *heap;                                /* (owned) len > INLINE */
    guint8  bytes[GLUETOOL_RING_INLINE_BYTES];   /* len <= INLINE */
  } data;
} RingSlot;

G_STATIC_ASSERT (sizeof (RingSlot) == GLUETOOL_RING_SLOT_BYTES);
G_STATIC_ASSERT (alignof (RingSlot) == RING_CACHE_LINE);

/* A slot was last written a whole lap ago (megabytes of records back) and
 * then read by the consumer on another core, so a producer's stores into it
 * miss, and the next locked instruction it runs waits for them: measured, a
 * fifth of a producer's time. So a producer asks for the slot a few records
 * ahead, for writing, while it fills this one. The consumer does not do the
 * same: it runs right behind the producers, and reading ahead would take
 * lines from under them just before they write. A prefetch is only a hint:
 * it orders nothing and changes no value. */
#define PREFETCH_AHEAD 8

static inline void
prefetch_slot_for_write (const RingSlot *slot)
{
#if defined (__GNUC__) || defined (__clang__)
  /* The seq, the length and the first bytes; then the rest of a typical
   * record of about a hundred bytes. */
  __builtin_prefetch (slot, 1, 3);
  __builtin_prefetch ((const guint8 *) slot + RING_CACHE_LINE, 1, 3);
#endif
}

struct _GluetoolRing
{
  /* Written by producers only (CAS); read by anyone for the claimed count. */
  alignas (RING_CACHE_LINE) _Atomic guint64 enqueue_pos;

  /* Written by producers and the consumer: its own line, so budget traffic
   * does not slow down the ticket CAS or the consumer's position. */
  alignas (RING_CACHE_LINE) _Atomic gsize queued_bytes;

  /* Written by the consumer only; atomic so other threads may read how many
   * records were consumed. */
  alignas (RING_CACHE_LINE) _Atomic guint64 consumed_pos;
  /* Consumer-only, plain: the consumer peeked and has not released yet. */
  gboolean peeked;
  /* Consumer-only, plain: bytes of released records not yet taken off
   * queued_bytes (see gluetool_ring_release_sc()). */
  gsize unreturned_bytes;

  /* Read-only after gluetool_ring_new(): on a line that is never written,
   * so every thread keeps it in its cache. */
  alignas (RING_CACHE_LINE) RingSlot *slots;   /* (owned) n_slots of them */
  guint64 mask;                                /* n_slots - 1 */
  guint n_slots;
  gsize capacity_bytes;
  gsize return_batch_bytes;
};

/* The top bit of enqueue_pos seals the ring: once set, every producer's CAS
 * on enqueue_pos fails (the word changed) and the reload sees the bit, so no
 * ticket can be claimed after gluetool_ring_seal() returns. Tickets never
 * get near 2^63. */
#define RING_SEALED (G_GUINT64_CONSTANT (1) << 63)

/* Biggest power of two that fits a guint, so that the slot count always
 * fits the getter's return type. */
#define RING_MAX_SLOTS (G_MAXUINT / 2u + 1u)

static guint
ring_n_slots_for_capacity (gsize capacity_bytes)
{
  gsize wanted = capacity_bytes / GLUETOOL_RING_SLOT_BYTES;
  gsize n = 2;

  if (wanted >= RING_MAX_SLOTS)
    return RING_MAX_SLOTS;

  /* Round down: the slots must fit the capacity, as the header promises. */
  while (n * 2 <= wanted)
    n *= 2;

  return (guint) n;
}

/* Any thread. A @capacity_bytes of 0 makes a ring that refuses every push. */
GluetoolRing *
gluetool_ring_new (gsize capacity_bytes)
{
  GluetoolRing *ring;
  guint n_slots = ring_n_slots_for_capacity (capacity_bytes);

  ring = g_aligned_alloc0 (1, sizeof (GluetoolRing), alignof (GluetoolRing));
  ring->n_slots = n_slots;
  ring->mask = (guint64) n_slots - 1;
  ring->capacity_bytes = capacity_bytes;
  ring->return_batch_bytes = MAX (MIN (GLUETOOL_RING_RETURN_BATCH_BYTES, capacity_bytes / 8), 1);
  ring->slots = g_aligned_alloc0 (n_slots, sizeof (RingSlot), alignof (RingSlot));

  for (guint i = 0; i < n_slots; i++)
    {
      /* A plain initialisation: the ring reaches other threads through
       * whatever hands them the pointer (g_thread_new, a mutex), and that
       * orders these stores before their first access. */
      atomic_init (&ring->slots[i].seq, (guint64) i);
    }

  atomic_init (&ring->enqueue_pos, 0);
  atomic_init (&ring->queued_bytes, 0);
  atomic_init (&ring->consumed_pos, 0);
  ring->peeked = FALSE;
  ring->unreturned_bytes = 0;

  return ring;
}

/* Any one thread, once every producer and the consumer are done with the
 * ring (joined, or otherwise ordered before this call). */
void
gluetool_ring_free (GluetoolRing *ring)
{
  guint64 pos;
  guint64 end;

  if (ring == NULL)
    return;

  /* Relaxed loads: the caller's join (or lock) already orders every push
   * and release before this point. */
  pos = atomic_load_explicit (&ring->consumed_pos, memory_order_relaxed);
  end = atomic_load_explicit (&ring->enqueue_pos, memory_order_relaxed) & ~RING_SEALED;

  for (; pos != end; pos++)
    {
      RingSlot *slot = &ring->slots[pos & ring->mask];
      guint64 seq = atomic_load_explicit (&slot->seq, memory_order_relaxed);

      /* Only a published record owns its block. A ticket claimed but never
       * published would be a producer still running: a caller bug. */
      if (seq == pos + 1 && slot->len > GLUETOOL_RING_INLINE_BYTES)
        g_free (slot->data.heap);
    }

  g_aligned_free (ring->slots);
  g_aligned_free (ring);
}

/* Any thread. */
guint
gluetool_ring_get_n_slots (GluetoolRing *ring)
{
  g_return_val_if_fail (ring != NULL, 0);

  return ring->n_slots;
}

/* Any thread. */
gsize
gluetool_ring_get_capacity_bytes (GluetoolRing *ring)
{
  g_return_val_if_fail (ring != NULL, 0);

  return ring->capacity_bytes;
}

/* Any thread. */
gsize
gluetool_ring_get_return_batch_bytes (GluetoolRing *ring)
{
  g_return_val_if_fail (ring != NULL, 0);

  return ring->return_batch_bytes;
}

/* Any thread, concurrently with other producers and the consumer.
 * Lock-free: a producer retries only when another producer's CAS won the
 * same ticket, which means that one made progress. */
gboolean
gluetool_ring_push_mp (GluetoolRing *ring,
                       const guint8 *record,
                       gsize         len,
                       gsize        *queued_bytes_after)
{
  RingSlot *slot;
  guint8 *heap = NULL;
  gsize queued_before;
  guint64 pos;

  g_return_val_if_fail (ring != NULL, FALSE);
  g_return_val_if_fail (record != NULL, FALSE);
  g_return_val_if_fail (len > 0, FALSE);

  /* Never fits: fail without touching the shared counter. */
  if (len > ring->capacity_bytes)
    return FALSE;

  /* Reserve the bytes first (see the top of the file for why). seq_cst: this
   * is the producer's half of the reporter's Dekker handshake. */
  queued_before = atomic_fetch_add_explicit (&ring->queued_bytes, len,
                                             memory_order_seq_cst);
  if (queued_before + len > ring->capacity_bytes)
    {
      atomic_fetch_sub_explicit (&ring->queued_bytes, len, memory_order_seq_cst);
      return FALSE;
    }

  /* A record too big for the slot is copied before a ticket is claimed, so
   * that the consumer, which waits for tickets in order, never waits for a
   * malloc. Inline records allocate nothing. */
  if (len > GLUETOOL_RING_INLINE_BYTES)
    heap = g_memdup2 (record, len);

  /* Relaxed: the ticket number orders nothing; the slot's seq does. */
  pos = atomic_load_explicit (&ring->enqueue_pos, memory_order_relaxed);

  for (;;)
    {
      guint64 seq;
      gint64 dif;

      if (G_UNLIKELY (pos & RING_SEALED))
        {
          g_free (heap);
          atomic_fetch_sub_explicit (&ring->queued_bytes, len, memory_order_seq_cst);
          return FALSE;
        }

      slot = &ring->slots[pos & ring->mask];

      /* Acquire, pairs with the consumer's release store of seq in
       * gluetool_ring_release_sc() (pair B): the consumer is done with the
       * slot's old record before we overwrite it. */
      seq = atomic_load_explicit (&slot->seq, memory_order_acquire);
      dif = (gint64) (seq - pos);

      if (dif == 0)
        {
          /* The slot is free for ticket pos: try to take the ticket.
           * Relaxed on both outcomes: on success the acquire above already
           * ordered us after the consumer; on failure pos is reloaded. */
          if (atomic_compare_exchange_weak_explicit (&ring->enqueue_pos,
                                                     &pos, pos + 1,
                                                     memory_order_relaxed,
                                                     memory_order_relaxed))
            break;
        }
      else if (dif < 0)
        {
          /* The slot still holds the record from one lap ago: full. We do
           * not wait for the consumer; we give the bytes back and fail. */
          g_free (heap);
          atomic_fetch_sub_explicit (&ring->queued_bytes, len,
                                     memory_order_seq_cst);
          return FALSE;
        }
      else
        {
          /* Another producer took ticket pos already: catch up. */
          pos = atomic_load_explicit (&ring->enqueue_pos, memory_order_relaxed);
        }
    }

  prefetch_slot_for_write (&ring->slots[(pos + PREFETCH_AHEAD) & ring->mask]);

  /* Ticket pos is ours: the slot is not read by anyone until we publish. */
  slot->len = len;
  if (heap != NULL)
    slot->data.heap = heap;
  else
    memcpy (slot->data.bytes, record, len);

  /* Release, pairs with the consumer's acquire load of seq in
   * gluetool_ring_peek_sc() (pair A): publishes len and the bytes. */
  atomic_store_explicit (&slot->seq, pos + 1, memory_order_release);

  if (queued_bytes_after != NULL)
    *queued_bytes_after = queued_before + len;

  return TRUE;
}

/* The consumer thread only. seq_cst: part of the budget's total order (see
 * the top of the file). */
static void
return_bytes (GluetoolRing *ring)
{
  if (ring->unreturned_bytes == 0)
    return;
  atomic_fetch_sub_explicit (&ring->queued_bytes, ring->unreturned_bytes, memory_order_seq_cst);
  ring->unreturned_bytes = 0;
}

/* The consumer thread only. */
gboolean
gluetool_ring_peek_sc (GluetoolRing  *ring,
                       const guint8 **record,
                       gsize         *len)
{
  RingSlot *slot;
  guint64 pos;
  guint64 seq;

  g_return_val_if_fail (ring != NULL, FALSE);
  g_return_val_if_fail (record != NULL, FALSE);
  g_return_val_if_fail (len != NULL, FALSE);

  /* Relaxed: only this thread writes consumed_pos. */
  pos = atomic_load_explicit (&ring->consumed_pos, memory_order_relaxed);
  slot = &ring->slots[pos & ring->mask];

  /* Acquire, pairs with the producer's release store of seq in
   * gluetool_ring_push_mp() (pair A): the record is complete. */
  seq = atomic_load_explicit (&slot->seq, memory_order_acquire);
  if (seq != pos + 1)
    {
      /* Empty, or the producer of ticket pos is still copying: the consumer
       * has caught up, so whatever it released is handed back now. */
      return_bytes (ring);
      return FALSE;
    }

  *len = slot->len;
  if (slot->len > GLUETOOL_RING_INLINE_BYTES)
    *record = slot->data.heap;
  else
    *record = slot->data.bytes;

  ring->peeked = TRUE;

  return TRUE;
}

/* The consumer thread only, after a successful gluetool_ring_peek_sc(). */
void
gluetool_ring_release_sc (GluetoolRing *ring)
{
  RingSlot *slot;
  guint64 pos;
  gsize len;

  g_return_if_fail (ring != NULL);
  g_return_if_fail (ring->peeked);

  ring->peeked = FALSE;

  /* Relaxed: only this thread writes consumed_pos. */
  pos = atomic_load_explicit (&ring->consumed_pos, memory_order_relaxed);
  slot = &ring->slots[pos & ring->mask];
  len = slot->len;

  if (len > GLUETOOL_RING_INLINE_BYTES)
    g_clear_pointer (&slot->data.heap, g_free);

  /* The bytes come back after the record's heap block is freed, so the
   * counter never says less than what is really held (it says more, until
   * they come back); in batches, because queued_bytes is the one line every
   * producer writes at every push, and taking it from them at every record
   * cost each side a cache miss per span. */
  ring->unreturned_bytes += len;
  if (ring->unreturned_bytes >= ring->return_batch_bytes)
    return_bytes (ring);

  /* Release, pairs with the producer's acquire load of seq in
   * gluetool_ring_push_mp() (pair B): hands the slot to ticket pos + n. */
  atomic_store_explicit (&slot->seq, pos + ring->n_slots, memory_order_release);

  /* Release, pairs with the acquire load in gluetool_ring_get_consumed()
   * (pair C). */
  atomic_store_explicit (&ring->consumed_pos, pos + 1, memory_order_release);
}

/* Any thread. */
guint64
gluetool_ring_get_claimed (GluetoolRing *ring)
{
  g_return_val_if_fail (ring != NULL, 0);

  /* Relaxed: a count, ordering nothing. Coherence still gives a thread its
   * own pushes, and any push ordered before this call by other means. */
  return atomic_load_explicit (&ring->enqueue_pos, memory_order_relaxed) & ~RING_SEALED;
}

/* Any thread. */
void
gluetool_ring_seal (GluetoolRing *ring)
{
  g_return_if_fail (ring != NULL);

  /* seq_cst: a producer whose CAS succeeded before this is counted in the
   * claimed tickets read afterwards; every later CAS fails. */
  atomic_fetch_or_explicit (&ring->enqueue_pos, RING_SEALED, memory_order_seq_cst);
}

/* Any thread. */
gboolean
gluetool_ring_is_sealed (GluetoolRing *ring)
{
  g_return_val_if_fail (ring != NULL, FALSE);

  return (atomic_load_explicit (&ring->enqueue_pos, memory_order_relaxed) & RING_SEALED) != 0;
}

/* Any thread. */
guint64
gluetool_ring_get_consumed (GluetoolRing *ring)
{
  g_return_val_if_fail (ring != NULL, 0);

  /* Acquire, pairs with the release store in gluetool_ring_release_sc()
   * (pair C). */
  return atomic_load_explicit (&ring->consumed_pos, memory_order_acquire);
}

/* Any thread. */
gsize
gluetool_ring_get_queued_bytes (GluetoolRing *ring)
{
  g_return_val_if_fail (ring != NULL, 0);

  /* seq_cst: the consumer's half of the reporter's Dekker handshake. */
  return atomic_load_explicit (&ring->queued_bytes, memory_order_seq_cst);
}
