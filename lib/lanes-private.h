/* lanes-private.h: the span queue: a lane of byte records per producer
 * thread, read by one consumer
 *
 * SPDX-License-Identifier: MIT
 *
 * The queue knows nothing of spans: a record is an opaque run of bytes that
 * a producer copies in and the consumer reads in place.
 *
 * Why lanes. Producers on different cores that push into one shared queue
 * all write its head (a ticket, a byte count) for every record, and that
 * line moving between cores cost more than the rest of a push. Here each
 * thread that pushes has a lane of its own, found through a thread-local
 * cache, so a producer writes only lines no other producer writes. The
 * consumer visits the lanes in turn. Records of one lane are read in the
 * order they were pushed; records of different lanes have no order, which
 * spans do not need.
 *
 * Storage and budget. A lane is a chain of fixed-size blocks. A push copies
 * its record into the lane's last block and publishes it with one release
 * store of the block's committed length. Blocks come from the queue's pool,
 * which is the byte budget: a queue of capacity C holds C / block bytes
 * blocks, made when first needed. A producer takes a block under the pool's
 * mutex when its own is full, once per block (a hundred spans or so), and
 * the consumer gives a block back once it has read it and the producer has
 * moved on. A record too large for a block lives in a heap copy the block
 * points to, counted against the same budget. So a push fails, copying
 * nothing, when its lane's block is full and the budget has no block left.
 * Each lane keeps its last block while its thread lives: started over once
 * read to the end, so a lone producer needs no other, and taken back by the
 * consumer when a push finds the pool empty and the lane is idle (see
 * gluetool_lanes_give_back_idle_sc()).
 *
 * Threads. A lane belongs to one thread (by its serial number, see
 * process-private.h). A thread that exits hands the lane it last pushed
 * into back at once, block and unread records included, and the next
 * thread to push takes it over: threads that come and go reuse a few
 * lanes, however fast they come. A lane the thread left in another queue
 * is handed back by gluetool_lanes_reclaim_sc() once read to the end.
 *
 * Sealing. gluetool_lanes_seal() makes every later push fail and waits for
 * the pushes in progress to end, so that after it returns the set of
 * records is final: every record is either readable or was never pushed.
 * The handshake is Dekker's, made cheap for producers as process-private.h
 * explains for regions.
 *
 * Who may call what:
 *   push: any thread, concurrently.
 *   _sc functions: the one consumer thread only (or, once nothing else
 *   uses the queue, any one thread).
 *   seal: any thread but a producer in the middle of a push, once.
 *   others: any thread; they read counters.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GluetoolLanes GluetoolLanes;

/* Blocks are this many bytes at most (a queue smaller than 16 of them gets
 * smaller blocks, 256 bytes at least). */
#define GLUETOOL_LANES_MAX_BLOCK_BYTES (16 * 1024)

/* A queue of @capacity_bytes: blocks of min(capacity / 16, 16 KiB) bytes,
 * 256 at least, and as many as fit (2 at least). A @capacity_bytes of 0
 * gives a queue that refuses every push. Free with gluetool_lanes_free(). */
GluetoolLanes *gluetool_lanes_new                (gsize          capacity_bytes);
/* Frees the queue and every record still in it. No thread may push or
 * consume any more; threads that pushed may still be alive (their cached
 * lane is never looked at again: every queue has an id of its own). */
void           gluetool_lanes_free               (GluetoolLanes *lanes);

gsize          gluetool_lanes_get_capacity_bytes (GluetoolLanes *lanes);
gsize          gluetool_lanes_get_block_bytes    (GluetoolLanes *lanes);

/* Copies @len (> 0) bytes of @record into the calling thread's lane; the
 * caller's buffer is free for reuse on return. Returns FALSE, copying
 * nothing, when the budget is spent or the queue is sealed. *@took_block
 * (when not NULL) is set to whether the push took a new block from the
 * pool; then *@bytes_in_use is the budget in use right after (blocks
 * taken, whole, plus large records), a cheap upper bound of the bytes
 * queued for deciding to wake the consumer (see the reporter). Both are
 * updated seq_cst, so a producer that then reads a "consumer is asleep"
 * flag seq_cst cannot miss a consumer that set the flag before it read
 * gluetool_lanes_get_blocks_taken(). */
gboolean       gluetool_lanes_push               (GluetoolLanes *lanes,
                                                  const guint8  *record,
                                                  gsize          len,
                                                  gboolean      *took_block,
                                                  gsize         *bytes_in_use);

/* The next record of some lane, left in place, or FALSE when no lane has
 * one. The pointer stays valid until gluetool_lanes_release_sc(). Visits
 * every lane before it returns FALSE, and moves on to the next lane after
 * a few dozen records of one, so no producer starves the others. */
gboolean       gluetool_lanes_peek_sc            (GluetoolLanes  *lanes,
                                                  const guint8  **record,
                                                  gsize          *len);
/* Frees the record the last successful peek returned. */
void           gluetool_lanes_release_sc         (GluetoolLanes  *lanes);
/* When pushes found the pool empty since the last call, takes the blocks
 * of lanes that are idle (nothing pushed since the last such call) and read
 * to the end back to the pool, so a thread whose lane has no block gets
 * one: a lane keeps its last block otherwise, and with more threads than
 * blocks the others would wait for ever. A lane that went idle is taken
 * from at the second call after, not the first. One fence (see
 * process-private.h) per call that finds an idle lane; cheap otherwise.
 * The flush thread calls it after every drain. */
gboolean       gluetool_lanes_give_back_idle_sc  (GluetoolLanes  *lanes);
/* Whether a push found the budget spent since the last give_back_idle. A
 * seq_cst load: the consumer's half of the "asleep" handshake. */
gboolean       gluetool_lanes_has_refusals_sc    (GluetoolLanes  *lanes);
/* Hands back the lanes of threads that have exited, once read to the end,
 * with their blocks. Takes the process's registry lock: call it now and
 * then (the reporter does at each flush interval), not per record, and
 * never inside a region of the process (see process-private.h: fork()'s
 * prepare handler holds that lock while it waits for regions to end). */
void           gluetool_lanes_reclaim_sc         (GluetoolLanes  *lanes);

/* Records pushed so far, summed over the lanes. */
guint64        gluetool_lanes_get_pushed         (GluetoolLanes  *lanes);
/* Records the consumer has released so far. */
guint64        gluetool_lanes_get_consumed       (GluetoolLanes  *lanes);
/* Record bytes pushed and not yet released, summed over the lanes. */
gsize          gluetool_lanes_get_queued_bytes   (GluetoolLanes  *lanes);
/* Blocks producers have taken from the pool so far. A seq_cst load: the
 * consumer's half of the "asleep" handshake described at push. */
guint64        gluetool_lanes_get_blocks_taken   (GluetoolLanes  *lanes);
/* The lanes made so far, for tests. */
guint          gluetool_lanes_get_n_lanes        (GluetoolLanes  *lanes);

/* Makes every later push fail and returns once no push is in progress:
 * gluetool_lanes_get_pushed() is final from then on. */
void           gluetool_lanes_seal               (GluetoolLanes  *lanes);
/* Whether gluetool_lanes_seal() was called: tells a failed push apart from
 * one that found the budget spent. */
gboolean       gluetool_lanes_is_sealed          (GluetoolLanes  *lanes);

G_END_DECLS
