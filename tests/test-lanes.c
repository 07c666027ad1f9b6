/* test-lanes.c: the span queue, one lane per producer thread
 *
 * SPDX-License-Identifier: MIT
 */

#include <check.h>
#include <stdatomic.h>
#include <string.h>

#include "check-tap.h"
#include "lanes-private.h"
#include "sync-private.h"

/* A record that says who pushed it and which one it is, padded to @len. */
static gsize
make_record (guint8  *buffer,
             gsize    len,
             guint32  producer,
             guint32  index)
{
  g_assert (len >= 8);
  memcpy (buffer, &producer, 4);
  memcpy (buffer + 4, &index, 4);
  for (gsize i = 8; i < len; i++)
    buffer[i] = (guint8) (producer + index + i);
  return len;
}

/* Whether @record is whole, as make_record() made it. Plain checks, not
 * check's assertions: each of those writes to check's log, too slow for
 * the hundreds of thousands of records the thread tests read. */
static gboolean
read_record (const guint8 *record,
             gsize         len,
             guint32      *producer,
             guint32      *index)
{
  if (len < 8)
    return FALSE;
  memcpy (producer, record, 4);
  memcpy (index, record + 4, 4);
  for (gsize i = 8; i < len; i++)
    if (record[i] != (guint8) (*producer + *index + i))
      return FALSE;
  return TRUE;
}

static void
check_record (const guint8 *record,
              gsize         len,
              guint32      *producer,
              guint32      *index)
{
  ck_assert (read_record (record, len, producer, index));
}

/* Reads and releases every record queued now; returns how many. */
static guint
release_all (GluetoolLanes *lanes)
{
  const guint8 *record;
  gsize len;
  guint n = 0;

  while (gluetool_lanes_peek_sc (lanes, &record, &len))
    {
      gluetool_lanes_release_sc (lanes);
      n++;
    }
  return n;
}

START_TEST (test_one_thread_in_order)
{
  GluetoolLanes *lanes = gluetool_lanes_new (64 * 1024);
  guint8 buffer[300];
  const guint8 *record;
  gsize len;

  ck_assert (!gluetool_lanes_peek_sc (lanes, &record, &len));
  for (guint32 i = 0; i < 100; i++)
    ck_assert (gluetool_lanes_push (lanes, buffer, make_record (buffer, 8 + i, 7, i), NULL, NULL));
  ck_assert_uint_eq (gluetool_lanes_get_pushed (lanes), 100);
  ck_assert_uint_eq (gluetool_lanes_get_n_lanes (lanes), 1);

  for (guint32 i = 0; i < 100; i++)
    {
      guint32 producer, index;

      ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
      ck_assert_uint_eq (len, 8 + i);
      check_record (record, len, &producer, &index);
      ck_assert_uint_eq (producer, 7);
      ck_assert_uint_eq (index, i);
      gluetool_lanes_release_sc (lanes);
    }
  ck_assert (!gluetool_lanes_peek_sc (lanes, &record, &len));
  ck_assert_uint_eq (gluetool_lanes_get_consumed (lanes), 100);
  ck_assert_uint_eq (gluetool_lanes_get_queued_bytes (lanes), 0);
  gluetool_lanes_free (lanes);
}
END_TEST

/* The budget: a full queue refuses, copying nothing, and takes records
 * again once the consumer has read whole blocks. */
START_TEST (test_budget)
{
  GluetoolLanes *lanes = gluetool_lanes_new (4096);
  gsize block = gluetool_lanes_get_block_bytes (lanes);
  guint8 buffer[100];
  const guint8 *record;
  gsize len;
  guint32 n = 0;

  ck_assert_uint_eq (block, 256);
  while (gluetool_lanes_push (lanes, buffer, make_record (buffer, sizeof buffer, 1, n), NULL, NULL))
    n++;
  /* Two records of 108 bytes a block, 16 blocks. */
  ck_assert_uint_eq (n, 32);
  ck_assert (!gluetool_lanes_is_sealed (lanes));
  ck_assert_uint_eq (gluetool_lanes_get_pushed (lanes), 32);

  /* Reading three records frees one block: the producer moved on from it. */
  for (guint32 i = 0; i < 3; i++)
    {
      guint32 producer, index;

      ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
      check_record (record, len, &producer, &index);
      ck_assert_uint_eq (index, i);
      gluetool_lanes_release_sc (lanes);
    }
  ck_assert (gluetool_lanes_push (lanes, buffer, make_record (buffer, sizeof buffer, 1, n), NULL, NULL));
  gluetool_lanes_free (lanes);
}
END_TEST

/* Records larger than a block live on the heap, and count in the budget. */
START_TEST (test_large_records)
{
  GluetoolLanes *lanes = gluetool_lanes_new (4096);
  g_autofree guint8 *big = g_malloc (1500);
  const guint8 *record;
  gsize len;
  guint32 producer, index;

  ck_assert (gluetool_lanes_push (lanes, big, make_record (big, 1500, 2, 0), NULL, NULL));
  ck_assert (gluetool_lanes_push (lanes, big, make_record (big, 1500, 2, 1), NULL, NULL));
  /* 3000 bytes on the heap and a block: no room for 1500 more. */
  ck_assert (!gluetool_lanes_push (lanes, big, make_record (big, 1500, 2, 2), NULL, NULL));

  ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
  ck_assert_uint_eq (len, 1500);
  check_record (record, len, &producer, &index);
  ck_assert_uint_eq (index, 0);
  gluetool_lanes_release_sc (lanes);
  ck_assert (gluetool_lanes_push (lanes, big, make_record (big, 1500, 2, 2), NULL, NULL));

  /* One left unread on purpose: free() frees it. */
  ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
  gluetool_lanes_release_sc (lanes);
  gluetool_lanes_free (lanes);
}
END_TEST

START_TEST (test_too_large_and_empty)
{
  GluetoolLanes *none = gluetool_lanes_new (0);
  GluetoolLanes *small = gluetool_lanes_new (1024);
  g_autofree guint8 *big = g_malloc0 (2048);

  ck_assert (!gluetool_lanes_push (none, big, 10, NULL, NULL));
  ck_assert (!gluetool_lanes_push (small, big, 2048, NULL, NULL));
  ck_assert_uint_eq (gluetool_lanes_get_pushed (small), 0);
  gluetool_lanes_free (none);
  gluetool_lanes_free (small);
}
END_TEST

START_TEST (test_seal)
{
  GluetoolLanes *lanes = gluetool_lanes_new (64 * 1024);
  guint8 buffer[50];
  const guint8 *record;
  gsize len;

  ck_assert (gluetool_lanes_push (lanes, buffer, make_record (buffer, sizeof buffer, 1, 0), NULL, NULL));
  gluetool_lanes_seal (lanes);
  ck_assert (gluetool_lanes_is_sealed (lanes));
  ck_assert (!gluetool_lanes_push (lanes, buffer, sizeof buffer, NULL, NULL));
  ck_assert_uint_eq (gluetool_lanes_get_pushed (lanes), 1);
  /* What was pushed before is still there to read. */
  ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
  gluetool_lanes_release_sc (lanes);
  ck_assert (!gluetool_lanes_peek_sc (lanes, &record, &len));
  gluetool_lanes_free (lanes);
}
END_TEST

/* took_block and the budget in use, which the reporter wakes its flush
 * thread by. */
START_TEST (test_took_block)
{
  GluetoolLanes *lanes = gluetool_lanes_new (4096);
  guint8 buffer[100];
  gboolean took = FALSE;
  gsize in_use = 0;

  ck_assert (gluetool_lanes_push (lanes, buffer, sizeof buffer, &took, &in_use));
  ck_assert (took);
  ck_assert_uint_eq (in_use, 256);
  ck_assert_uint_eq (gluetool_lanes_get_blocks_taken (lanes), 1);
  ck_assert (gluetool_lanes_push (lanes, buffer, sizeof buffer, &took, &in_use));
  ck_assert (!took);
  ck_assert (gluetool_lanes_push (lanes, buffer, sizeof buffer, &took, &in_use));
  ck_assert (took);
  ck_assert_uint_eq (in_use, 512);
  ck_assert_uint_eq (gluetool_lanes_get_blocks_taken (lanes), 2);
  gluetool_lanes_free (lanes);
}
END_TEST

/* ---- Threads --------------------------------------------------------------- */

#define N_PRODUCERS 4
#define RECORDS_PER_PRODUCER 20000

typedef struct {
  GluetoolLanes *lanes;
  guint32 id;
  gsize max_len;        /* records of 8 to max_len - 1 bytes */
  guint64 refused;      /* full: tried again */
  GMutex *lock;
  GCond *cond;
  gboolean *go;
} Producer;

static gpointer
produce (gpointer data)
{
  Producer *producer = data;
  guint8 buffer[400];

  gluetool_mutex_lock (producer->lock);
  while (!*producer->go)
    gluetool_cond_wait (producer->cond, producer->lock);
  gluetool_mutex_unlock (producer->lock);

  for (guint32 i = 0; i < RECORDS_PER_PRODUCER; i++)
    {
      /* Sizes from 8 up, some records larger than a block when max_len
       * allows. */
      gsize len = 8 + (i * 37 + producer->id * 11) % (producer->max_len - 8);

      make_record (buffer, len, producer->id, i);
      while (!gluetool_lanes_push (producer->lanes, buffer, len, NULL, NULL))
        {
          producer->refused++;
          g_thread_yield ();
        }
    }
  return NULL;
}

/* N_PRODUCERS threads push RECORDS_PER_PRODUCER records each, of 8 to
 * @max_len - 1 bytes, into a queue of @capacity bytes while this thread
 * reads: every record arrives once, whole, in its producer's order, and
 * each thread had a lane of its own. When @give_back is set, the reader
 * takes idle lanes' blocks back whenever it finds nothing to read. */
static void
check_producers_and_consumer (gsize    capacity,
                              gsize    max_len,
                              gboolean give_back)
{
  GluetoolLanes *lanes = gluetool_lanes_new (capacity);
  Producer producers[N_PRODUCERS];
  GThread *threads[N_PRODUCERS];
  guint32 next_index[N_PRODUCERS] = { 0 };
  guint64 total = (guint64) N_PRODUCERS * RECORDS_PER_PRODUCER;
  guint64 read = 0;
  guint64 n_bad = 0;
  GMutex lock;
  GCond cond;
  gboolean go = FALSE;

  g_mutex_init (&lock);
  g_cond_init (&cond);
  for (guint32 p = 0; p < N_PRODUCERS; p++)
    {
      producers[p] = (Producer) { lanes, p, max_len, 0, &lock, &cond, &go };
      threads[p] = g_thread_new ("producer", produce, &producers[p]);
    }
  gluetool_mutex_lock (&lock);
  go = TRUE;
  g_cond_broadcast (&cond);
  gluetool_mutex_unlock (&lock);

  while (read < total)
    {
      const guint8 *record;
      gsize len;
      guint32 producer = G_MAXUINT32, index = 0;

      if (!gluetool_lanes_peek_sc (lanes, &record, &len))
        {
          if (give_back)
            gluetool_lanes_give_back_idle_sc (lanes);
          g_thread_yield ();
          continue;
        }
      if (!read_record (record, len, &producer, &index)
          || producer >= N_PRODUCERS || index != next_index[producer])
        {
          n_bad++;
          break;
        }
      next_index[producer]++;
      gluetool_lanes_release_sc (lanes);
      read++;
    }

  ck_assert_uint_eq (n_bad, 0);
  for (guint p = 0; p < N_PRODUCERS; p++)
    g_thread_join (threads[p]);
  for (guint p = 0; p < N_PRODUCERS; p++)
    ck_assert_uint_eq (next_index[p], RECORDS_PER_PRODUCER);
  ck_assert_uint_eq (gluetool_lanes_get_pushed (lanes), total);
  ck_assert_uint_eq (gluetool_lanes_get_consumed (lanes), total);
  ck_assert_uint_eq (gluetool_lanes_get_n_lanes (lanes), N_PRODUCERS);
  g_cond_clear (&cond);
  g_mutex_clear (&lock);
  gluetool_lanes_free (lanes);
}

/* Some records larger than a block (8 KiB: blocks of 512 bytes). */
START_TEST (test_producers_and_consumer)
{
  check_producers_and_consumer (8192, 400, FALSE);
}
END_TEST

/* More threads than blocks: two blocks, four producers. A lane keeps its
 * last block, so without the consumer taking idle lanes' blocks back (and
 * producers starting their own block over) two of them would never push.
 * Records fit a block: a larger one needs budget that two blocks in use
 * leave to nobody. */
START_TEST (test_more_threads_than_blocks)
{
  GluetoolLanes *probe = gluetool_lanes_new (512);

  ck_assert_uint_eq (gluetool_lanes_get_block_bytes (probe), 256);
  gluetool_lanes_free (probe);
  check_producers_and_consumer (512, 120, TRUE);
}
END_TEST

/* A lone producer whose records are read as it goes starts its block over
 * rather than taking others: it never runs short. */
START_TEST (test_block_started_over)
{
  GluetoolLanes *lanes = gluetool_lanes_new (512);
  guint8 buffer[100];

  for (guint32 i = 0; i < 1000; i++)
    {
      const guint8 *record;
      gsize len;
      guint32 producer, index;

      ck_assert (gluetool_lanes_push (lanes, buffer, make_record (buffer, sizeof buffer, 3, i),
                                      NULL, NULL));
      ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
      ck_assert (read_record (record, len, &producer, &index));
      ck_assert_uint_eq (index, i);
      gluetool_lanes_release_sc (lanes);
    }
  /* One block, started over 499 times. */
  ck_assert_uint_eq (gluetool_lanes_get_blocks_taken (lanes), 1);
  gluetool_lanes_free (lanes);
}
END_TEST

typedef struct {
  GluetoolLanes *lanes;
  guint64 pushed;
} Pusher;

static gpointer
push_until_sealed (gpointer data)
{
  Pusher *pusher = data;
  guint8 buffer[64];

  memset (buffer, 1, sizeof buffer);
  while (!gluetool_lanes_is_sealed (pusher->lanes))
    {
      if (gluetool_lanes_push (pusher->lanes, buffer, sizeof buffer, NULL, NULL))
        pusher->pushed++;
      else
        g_thread_yield ();
    }
  return NULL;
}

/* Sealing while threads push: afterwards the count is final, and every
 * record counted can be read. */
START_TEST (test_seal_while_pushing)
{
  for (guint round = 0; round < 20; round++)
    {
      GluetoolLanes *lanes = gluetool_lanes_new (1024 * 1024);
      Pusher pushers[2] = { { lanes, 0 }, { lanes, 0 } };
      GThread *threads[2];
      const guint8 *record;
      gsize len;
      guint64 final, read = 0;

      threads[0] = g_thread_new ("pusher", push_until_sealed, &pushers[0]);
      threads[1] = g_thread_new ("pusher", push_until_sealed, &pushers[1]);
      /* Let them push a little, without sleeping: read some first. */
      while (read < 100 * (round + 1))
        if (gluetool_lanes_peek_sc (lanes, &record, &len))
          {
            gluetool_lanes_release_sc (lanes);
            read++;
          }
      gluetool_lanes_seal (lanes);
      final = gluetool_lanes_get_pushed (lanes);
      read += release_all (lanes);
      ck_assert_uint_eq (read, final);
      g_thread_join (threads[0]);
      g_thread_join (threads[1]);
      ck_assert_uint_eq (pushers[0].pushed + pushers[1].pushed, final);
      ck_assert_uint_eq (gluetool_lanes_get_pushed (lanes), final);
      gluetool_lanes_free (lanes);
    }
}
END_TEST

static gpointer
push_one_and_exit (gpointer data)
{
  GluetoolLanes *lanes = data;
  guint8 buffer[32] = { 0 };

  return GINT_TO_POINTER (gluetool_lanes_push (lanes, buffer, sizeof buffer, NULL, NULL));
}

/* The lane of a thread that exited goes to the next new thread once read,
 * with its block: threads that come and go do not grow the queue. */
START_TEST (test_lanes_of_exited_threads_reused)
{
  GluetoolLanes *lanes = gluetool_lanes_new (4096);

  for (guint i = 0; i < 50; i++)
    {
      GThread *thread = g_thread_new ("short-lived", push_one_and_exit, lanes);
      const guint8 *record;
      gsize len;

      ck_assert (g_thread_join (thread) != NULL);
      ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
      ck_assert_uint_eq (len, 32);
      gluetool_lanes_release_sc (lanes);
      ck_assert (!gluetool_lanes_peek_sc (lanes, &record, &len));
      gluetool_lanes_reclaim_sc (lanes);
    }
  /* 16 blocks of 256 bytes: without reuse, 50 threads would have needed
   * 50 blocks and 50 lanes. */
  ck_assert_uint_eq (gluetool_lanes_get_n_lanes (lanes), 1);
  ck_assert_uint_eq (gluetool_lanes_get_pushed (lanes), 50);
  gluetool_lanes_free (lanes);
}
END_TEST

typedef struct {
  GluetoolLanes *lanes;
  guint32        index;
} IndexedPush;

static gpointer
push_indexed_and_exit (gpointer data)
{
  IndexedPush *push = data;
  guint8 buffer[32];

  return GINT_TO_POINTER (gluetool_lanes_push (push->lanes, buffer,
                                               make_record (buffer, sizeof buffer, 3, push->index),
                                               NULL, NULL));
}

/* A thread that exits hands its lane on at once, unread records and all:
 * threads that come and go faster than the consumer reads spend no more
 * of the budget than one thread pushing as much. Here nothing is read
 * until the end: 60 threads, one after another, each push one record
 * into a queue of 16 blocks of 5 records each. Handed on only once read,
 * the lanes would have needed 60 blocks. */
START_TEST (test_unread_lane_handed_on)
{
  GluetoolLanes *lanes = gluetool_lanes_new (4096);
  IndexedPush push = { lanes, 0 };
  const guint8 *record;
  gsize len;
  guint32 expected = 0;

  for (guint i = 0; i < 60; i++)
    {
      GThread *thread;

      push.index = i;
      thread = g_thread_new ("short-lived", push_indexed_and_exit, &push);
      ck_assert_msg (g_thread_join (thread) != NULL, "thread %u found no room", i);
    }
  ck_assert_uint_eq (gluetool_lanes_get_n_lanes (lanes), 1);

  /* One lane, so in the order the threads pushed. */
  while (gluetool_lanes_peek_sc (lanes, &record, &len))
    {
      guint32 producer, index;

      check_record (record, len, &producer, &index);
      ck_assert_uint_eq (producer, 3);
      ck_assert_uint_eq (index, expected);
      expected++;
      gluetool_lanes_release_sc (lanes);
    }
  ck_assert_uint_eq (expected, 60);
  gluetool_lanes_free (lanes);
}
END_TEST

/* A thread that pushes into two queues has a lane in each, and a queue
 * made where a freed one was is not mistaken for it. */
START_TEST (test_two_queues_one_thread)
{
  for (guint i = 0; i < 3; i++)
    {
      GluetoolLanes *a = gluetool_lanes_new (4096);
      GluetoolLanes *b = gluetool_lanes_new (4096);
      guint8 buffer[16] = { 0 };
      const guint8 *record;
      gsize len;

      for (guint j = 0; j < 5; j++)
        {
          ck_assert (gluetool_lanes_push (a, buffer, sizeof buffer, NULL, NULL));
          ck_assert (gluetool_lanes_push (b, buffer, 8, NULL, NULL));
        }
      ck_assert_uint_eq (gluetool_lanes_get_n_lanes (a), 1);
      ck_assert_uint_eq (gluetool_lanes_get_n_lanes (b), 1);
      ck_assert (gluetool_lanes_peek_sc (b, &record, &len));
      ck_assert_uint_eq (len, 8);
      gluetool_lanes_release_sc (b);
      gluetool_lanes_free (a);
      gluetool_lanes_free (b);
    }
}
END_TEST

/* A producer starts its block over while records of the round before are
 * read and the new round's are not: free() frees the new round's heap copy
 * (a leak under the sanitizers and valgrind otherwise), and a reader finds
 * the new round from its start. */
static void
fill_restarted_block (GluetoolLanes *lanes,
                      guint8        *big,
                      gsize          big_len)
{
  guint8 small[100];
  const guint8 *record;
  gsize len;
  guint32 producer, index;

  /* Blocks of 256 bytes: two 100-byte records fill one. */
  ck_assert_uint_eq (gluetool_lanes_get_block_bytes (lanes), 256);
  for (guint32 i = 0; i < 2; i++)
    ck_assert (gluetool_lanes_push (lanes, small, make_record (small, sizeof small, 4, i),
                                    NULL, NULL));
  for (guint32 i = 0; i < 2; i++)
    {
      ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
      check_record (record, len, &producer, &index);
      ck_assert_uint_eq (index, i);
      gluetool_lanes_release_sc (lanes);
    }
  /* The block is full and read: the next record starts it over, and the
   * large one after it lives on the heap. */
  ck_assert (gluetool_lanes_push (lanes, small, make_record (small, sizeof small, 4, 2),
                                  NULL, NULL));
  ck_assert (gluetool_lanes_push (lanes, big, make_record (big, big_len, 4, 3), NULL, NULL));
  ck_assert_uint_eq (gluetool_lanes_get_blocks_taken (lanes), 1);
}

START_TEST (test_restarted_block_read_and_freed)
{
  g_autofree guint8 *big = g_malloc (600);
  GluetoolLanes *lanes = gluetool_lanes_new (4096);
  const guint8 *record;
  gsize len;
  guint32 producer, index;

  fill_restarted_block (lanes, big, 600);
  for (guint32 i = 2; i < 4; i++)
    {
      ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
      check_record (record, len, &producer, &index);
      ck_assert_uint_eq (index, i);
      ck_assert_uint_eq (len, i == 3 ? 600 : 100);
      gluetool_lanes_release_sc (lanes);
    }
  ck_assert (!gluetool_lanes_peek_sc (lanes, &record, &len));
  gluetool_lanes_free (lanes);

  /* The same, left unread: free() finds the heap copy. */
  lanes = gluetool_lanes_new (4096);
  fill_restarted_block (lanes, big, 600);
  ck_assert_uint_eq (gluetool_lanes_get_pushed (lanes) - gluetool_lanes_get_consumed (lanes), 2);
  gluetool_lanes_free (lanes);
}
END_TEST

/* Threads that pushed once and stay alive, idle, each keep a block. They
 * report under @lock, and never assert: a failed check in a thread other
 * than the test's would unwind the wrong stack (with CK_FORK=no). */
typedef struct {
  GluetoolLanes *lanes;
  GMutex        *lock;
  GCond         *cond;
  guint         *n_tried;      /* first pushes tried */
  guint         *n_pushed;     /* pushes that went in, first or second */
  gboolean      *leave;        /* go on to the second push */
  gboolean      *give_up;      /* stop trying the second push */
} IdlePusher;

static gpointer
push_then_idle (gpointer data)
{
  IdlePusher *idle = data;
  guint8 buffer[64];
  gboolean pushed = gluetool_lanes_push (idle->lanes, buffer,
                                         make_record (buffer, sizeof buffer, 5, 0), NULL, NULL);

  gluetool_mutex_lock (idle->lock);
  (*idle->n_tried)++;
  *idle->n_pushed += pushed ? 1 : 0;
  g_cond_broadcast (idle->cond);
  while (!*idle->leave)
    gluetool_cond_wait (idle->cond, idle->lock);
  gluetool_mutex_unlock (idle->lock);

  /* Its block was taken back meanwhile: it takes another, when the
   * consumer has one to give. */
  for (;;)
    {
      gboolean give_up;

      if (gluetool_lanes_push (idle->lanes, buffer, make_record (buffer, sizeof buffer, 5, 1),
                               NULL, NULL))
        {
          gluetool_mutex_lock (idle->lock);
          (*idle->n_pushed)++;
          gluetool_mutex_unlock (idle->lock);
          break;
        }
      gluetool_mutex_lock (idle->lock);
      give_up = *idle->give_up;
      gluetool_mutex_unlock (idle->lock);
      if (give_up)
        break;
      g_thread_yield ();
    }
  return NULL;
}

/* How long the consumer below keeps reading before it calls the idle
 * threads off: a guard against a hang, far beyond what the test needs. */
#define IDLE_GUARD_S 60

/* Every block is held by an idle thread: a new thread's push is refused,
 * and says so; once the consumer has read the idle lanes, it takes their
 * blocks back, and the push goes in, a large record's too. */
START_TEST (test_idle_lanes_give_blocks_back)
{
  enum { N_IDLE = 16 };
  GluetoolLanes *lanes = gluetool_lanes_new (4096);
  IdlePusher idle[N_IDLE];
  GThread *threads[N_IDLE];
  g_autofree guint8 *big = g_malloc (1000);
  guint8 buffer[64];
  const guint8 *record;
  gsize len;
  guint n_tried = 0;
  guint n_pushed = 0;
  gboolean leave = FALSE;
  gboolean give_up = FALSE;
  guint n_read = 0;
  gint64 guard;
  GMutex lock;
  GCond cond;

  g_mutex_init (&lock);
  g_cond_init (&cond);
  /* 16 blocks of 256 bytes, one per idle thread. */
  ck_assert_uint_eq (gluetool_lanes_get_block_bytes (lanes), 256);
  for (guint i = 0; i < N_IDLE; i++)
    {
      idle[i] = (IdlePusher) { lanes, &lock, &cond, &n_tried, &n_pushed, &leave, &give_up };
      threads[i] = g_thread_new ("idle", push_then_idle, &idle[i]);
    }
  gluetool_mutex_lock (&lock);
  while (n_tried < N_IDLE)
    gluetool_cond_wait (&cond, &lock);
  gluetool_mutex_unlock (&lock);
  ck_assert_uint_eq (n_pushed, N_IDLE);

  ck_assert (!gluetool_lanes_has_refusals_sc (lanes));
  ck_assert (!gluetool_lanes_push (lanes, buffer, make_record (buffer, sizeof buffer, 6, 0),
                                   NULL, NULL));
  ck_assert (!gluetool_lanes_push (lanes, big, make_record (big, 1000, 6, 1), NULL, NULL));
  ck_assert (gluetool_lanes_has_refusals_sc (lanes));

  /* Unread lanes are not taken from. */
  ck_assert (!gluetool_lanes_give_back_idle_sc (lanes));
  ck_assert (!gluetool_lanes_push (lanes, buffer, make_record (buffer, sizeof buffer, 6, 0),
                                   NULL, NULL));
  ck_assert_uint_eq (release_all (lanes), N_IDLE);
  ck_assert (gluetool_lanes_give_back_idle_sc (lanes));
  ck_assert (!gluetool_lanes_has_refusals_sc (lanes));

  ck_assert (gluetool_lanes_push (lanes, buffer, make_record (buffer, sizeof buffer, 6, 0),
                                  NULL, NULL));
  ck_assert (gluetool_lanes_push (lanes, big, make_record (big, 1000, 6, 1), NULL, NULL));
  for (guint32 i = 0; i < 2; i++)
    {
      guint32 producer, index;

      ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
      check_record (record, len, &producer, &index);
      ck_assert_uint_eq (producer, 6);
      ck_assert_uint_eq (index, i);
      gluetool_lanes_release_sc (lanes);
    }

  /* The idle threads push again: the consumer reads and takes idle
   * blocks back (this thread's lane holds one now) until all have. */
  gluetool_mutex_lock (&lock);
  n_pushed = 0;
  leave = TRUE;
  g_cond_broadcast (&cond);
  gluetool_mutex_unlock (&lock);
  guard = g_get_monotonic_time () + IDLE_GUARD_S * G_USEC_PER_SEC;
  for (;;)
    {
      guint done;

      gluetool_mutex_lock (&lock);
      done = n_pushed;
      if (g_get_monotonic_time () > guard)
        give_up = TRUE;
      gluetool_mutex_unlock (&lock);
      n_read += release_all (lanes);
      if (done == N_IDLE || give_up)
        break;
      gluetool_lanes_give_back_idle_sc (lanes);
      g_thread_yield ();
    }
  for (guint i = 0; i < N_IDLE; i++)
    g_thread_join (threads[i]);
  ck_assert_msg (!give_up, "the idle threads never all pushed again");
  ck_assert_uint_eq (n_read, N_IDLE);
  ck_assert_uint_eq (gluetool_lanes_get_pushed (lanes), 2 * N_IDLE + 2);
  g_cond_clear (&cond);
  g_mutex_clear (&lock);
  gluetool_lanes_free (lanes);
}
END_TEST

/* A thread-local's destroy notification may push after the thread left
 * the process's registry (whose own notification ran first): the thread
 * is registered again and the record arrives. The threads count their
 * pushes instead of asserting (see IdlePusher). */
static GluetoolLanes *exit_lanes;
static atomic_uint exit_pushes_failed;

static void
push_at_thread_exit (gpointer data)
{
  guint8 buffer[32];

  if (!gluetool_lanes_push (exit_lanes, buffer,
                            make_record (buffer, sizeof buffer, 7, GPOINTER_TO_UINT (data)),
                            NULL, NULL))
    atomic_fetch_add (&exit_pushes_failed, 1);
}

static GPrivate pushes_at_exit = G_PRIVATE_INIT (push_at_thread_exit);

static gpointer
push_now_and_at_exit (gpointer data)
{
  guint8 buffer[32];

  /* The registry's thread-local is made by this first push; this one,
   * made after it, has its notification run after the registry's (GLib's
   * thread-locals are POSIX keys, whose destructors glibc runs in the
   * order the keys were made). */
  if (!gluetool_lanes_push (exit_lanes, buffer, make_record (buffer, sizeof buffer, 7, 0),
                            NULL, NULL))
    atomic_fetch_add (&exit_pushes_failed, 1);
  g_private_set (&pushes_at_exit, GUINT_TO_POINTER (1));
  return data;
}

START_TEST (test_push_from_thread_exit)
{
  const guint8 *record;
  gsize len;

  exit_lanes = gluetool_lanes_new (4096);
  atomic_store (&exit_pushes_failed, 0);
  for (guint round = 0; round < 3; round++)
    {
      guint seen = 0;

      g_thread_join (g_thread_new ("exiting", push_now_and_at_exit, NULL));
      ck_assert_uint_eq (atomic_load (&exit_pushes_failed), 0);
      /* The push at exit came as another thread (registered again): into
       * the lane the thread handed back, or, when its destructor ran
       * before the hand-back's, into a second one. */
      ck_assert_uint_le (gluetool_lanes_get_n_lanes (exit_lanes), 2);
      /* In two lanes: no order between them. */
      for (guint32 i = 0; i < 2; i++)
        {
          guint32 producer, index;

          ck_assert (gluetool_lanes_peek_sc (exit_lanes, &record, &len));
          check_record (record, len, &producer, &index);
          ck_assert_uint_eq (producer, 7);
          ck_assert_uint_lt (index, 2);
          seen |= 1u << index;
          gluetool_lanes_release_sc (exit_lanes);
        }
      ck_assert_uint_eq (seen, 3);
      ck_assert (!gluetool_lanes_peek_sc (exit_lanes, &record, &len));
      /* Both of the thread's lanes are handed on: later threads reuse them. */
      gluetool_lanes_reclaim_sc (exit_lanes);
    }
  ck_assert_uint_le (gluetool_lanes_get_n_lanes (exit_lanes), 2);
  gluetool_lanes_free (exit_lanes);
}
END_TEST

static Suite *
lanes_suite (void)
{
  Suite *suite = suite_create ("lanes");
  TCase *basics = tcase_create ("basics");
  TCase *threads = tcase_create ("threads");

  tcase_add_test (basics, test_one_thread_in_order);
  tcase_add_test (basics, test_budget);
  tcase_add_test (basics, test_large_records);
  tcase_add_test (basics, test_too_large_and_empty);
  tcase_add_test (basics, test_seal);
  tcase_add_test (basics, test_took_block);
  tcase_add_test (basics, test_two_queues_one_thread);
  tcase_add_test (basics, test_block_started_over);
  tcase_add_test (basics, test_restarted_block_read_and_freed);
  suite_add_tcase (suite, basics);

  tcase_set_timeout (threads, 120);
  tcase_add_test (threads, test_producers_and_consumer);
  tcase_add_test (threads, test_more_threads_than_blocks);
  tcase_add_test (threads, test_seal_while_pushing);
  tcase_add_test (threads, test_lanes_of_exited_threads_reused);
  tcase_add_test (threads, test_unread_lane_handed_on);
  tcase_add_test (threads, test_idle_lanes_give_blocks_back);
  tcase_add_test (threads, test_push_from_thread_exit);
  suite_add_tcase (suite, threads);
  return suite;
}

int
main (void)
{
  return test_run_suite_tap (lanes_suite ());
}
