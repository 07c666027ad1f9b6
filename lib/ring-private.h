/* ring-private.h: a bounded, lock-free, multi-producer single-consumer queue
 * of byte records
 *
 * SPDX-License-Identifier: MIT
 *
 * The ring knows nothing of spans: a record is an opaque run of bytes that is
 * copied in by a producer and read in place by the consumer.
 *
 * Design: a power-of-two array of fixed slots, each with a sequence number
 * (Vyukov's bounded queue, specialised to one consumer). A producer first
 * reserves the record's bytes in the byte budget, then claims a ticket with
 * a CAS on the enqueue position, copies the record into the slot (inline
 * when it fits, otherwise into a heap block the slot points to) and
 * publishes it by storing the slot's sequence with release order. The
 * consumer reads a slot once its sequence says it is published (acquire),
 * and hands the slot back by advancing the sequence one lap (release).
 * ring.c lists every acquire/release pair.
 *
 * Producers never block, never wait for the consumer and never allocate
 * unless a record is larger than a slot's inline space. A push fails when no
 * slot is free or when the bytes queued would exceed the byte budget. Under
 * contention near full, a push may fail while another push holds a
 * reservation it is about to give back: "full" is never reported for a ring
 * that was far from full.
 *
 * Records are consumed in ticket order. A claimed ticket whose producer is
 * still copying holds back the records behind it: peek fails meanwhile,
 * even though get_claimed() > get_consumed() and get_queued_bytes() > 0.
 * The copy is short (a memcpy of at most GLUETOOL_RING_INLINE_BYTES, or a
 * pointer store for heap records, which are copied before the ticket is
 * claimed), so a consumer that must reach a ticket may yield and retry.
 *
 * Who may call what:
 *   _mp functions: any thread, concurrently.
 *   _sc functions: the one consumer thread only.
 *   others: any thread; they read counters.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GluetoolRing GluetoolRing;

/* Records up to this many bytes are stored inside the slot. */
#define GLUETOOL_RING_INLINE_BYTES 232
/* What one slot costs, inline space and bookkeeping included. */
#define GLUETOOL_RING_SLOT_BYTES   256
/* The consumer hands released bytes back at most this many at a time (see
 * gluetool_ring_release_sc()): a quarter of a full datagram's worth. */
#define GLUETOOL_RING_RETURN_BATCH_BYTES 16384

/* A ring whose slots and queued bytes both fit @capacity_bytes: the slot count
 * is capacity_bytes / GLUETOOL_RING_SLOT_BYTES rounded down to a power of two
 * (at least 2, at most 2^31), and at most @capacity_bytes of record bytes
 * are queued at once. A @capacity_bytes of 0 gives a ring that refuses every
 * push. Free with gluetool_ring_free(). */
GluetoolRing *gluetool_ring_new              (gsize          capacity_bytes);
/* Frees the ring and every record still in it. No thread may use it any more. */
void          gluetool_ring_free             (GluetoolRing  *ring);

guint         gluetool_ring_get_n_slots      (GluetoolRing  *ring);
gsize         gluetool_ring_get_capacity_bytes (GluetoolRing *ring);

/* Copies @len (> 0) bytes of @record into the ring; the caller's buffer is
 * free for reuse on return. Returns FALSE, copying nothing and leaving every
 * counter as it was, when the ring is full (slots or bytes) or @len exceeds
 * the capacity. On success *@queued_bytes_after (when not
 * NULL) is the number of record bytes queued right after this push,
 * this one included; the update is sequentially consistent, so a producer
 * that then reads a "consumer is asleep" flag with seq_cst order cannot miss
 * a consumer that set the flag before reading the queued bytes. */
gboolean      gluetool_ring_push_mp          (GluetoolRing  *ring,
                                              const guint8  *record,
                                              gsize          len,
                                              gsize         *queued_bytes_after);

/* The oldest record, left in place, or FALSE when the next slot is not
 * published yet (empty, or a producer is still copying into it); a FALSE
 * return also hands back the bytes of every record released so far. The
 * pointer stays valid until gluetool_ring_release_sc(). */
gboolean      gluetool_ring_peek_sc          (GluetoolRing  *ring,
                                              const guint8 **record,
                                              gsize         *len);
/* Frees the record the last successful peek returned, and hands its slot
 * back to the producers at once. Its bytes go back in batches: when the
 * released bytes not yet returned reach gluetool_ring_get_return_batch_bytes(),
 * and whenever a peek finds nothing to consume. Until then they still count
 * in gluetool_ring_get_queued_bytes(), so a producer may find the budget full
 * that many bytes early. Only after a successful peek. */
void          gluetool_ring_release_sc       (GluetoolRing  *ring);

/* GLUETOOL_RING_RETURN_BATCH_BYTES, or an eighth of the capacity when that
 * is less (at least 1). */
gsize         gluetool_ring_get_return_batch_bytes (GluetoolRing *ring);

/* Tickets claimed by producers so far: every successful push has one, in the
 * order the records will be consumed. A record with ticket t is consumed once
 * gluetool_ring_get_consumed() > t. */
guint64       gluetool_ring_get_claimed      (GluetoolRing  *ring);
/* Makes every later push fail, so that gluetool_ring_get_claimed() is final
 * from then on: a producer either claimed its ticket before, and will
 * publish it, or fails. Any thread; once. */
void          gluetool_ring_seal             (GluetoolRing  *ring);
/* Whether gluetool_ring_seal() was called: tells a failed push apart from
 * one that found the ring full. */
gboolean      gluetool_ring_is_sealed        (GluetoolRing  *ring);
/* Records released by the consumer so far. */
guint64       gluetool_ring_get_consumed     (GluetoolRing  *ring);
/* Record bytes queued right now: pushed (or being pushed) and not yet
 * released. A seq_cst load: the consumer's half of the "asleep" handshake
 * described at gluetool_ring_push_mp(). */
gsize         gluetool_ring_get_queued_bytes (GluetoolRing  *ring);

G_END_DECLS
