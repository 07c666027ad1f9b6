/* test-lanes.c: the span queue, one lane per producer thread
 *
 * SPDX-License-Identifier: MIT
 */

#include <check.h>
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
      while (gluetool_lanes_peek_sc (lanes, &record, &len))
        {
          gluetool_lanes_release_sc (lanes);
          read++;
        }
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

/* A lane is not handed on before it is read to the end. */
START_TEST (test_unread_lane_kept)
{
  GluetoolLanes *lanes = gluetool_lanes_new (4096);
  GThread *thread = g_thread_new ("short-lived", push_one_and_exit, lanes);
  const guint8 *record;
  gsize len;

  ck_assert (g_thread_join (thread) != NULL);
  gluetool_lanes_reclaim_sc (lanes);
  thread = g_thread_new ("short-lived", push_one_and_exit, lanes);
  ck_assert (g_thread_join (thread) != NULL);
  ck_assert_uint_eq (gluetool_lanes_get_n_lanes (lanes), 2);
  for (guint i = 0; i < 2; i++)
    {
      ck_assert (gluetool_lanes_peek_sc (lanes, &record, &len));
      gluetool_lanes_release_sc (lanes);
    }
  ck_assert (!gluetool_lanes_peek_sc (lanes, &record, &len));
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
  suite_add_tcase (suite, basics);

  tcase_set_timeout (threads, 120);
  tcase_add_test (threads, test_producers_and_consumer);
  tcase_add_test (threads, test_more_threads_than_blocks);
  tcase_add_test (threads, test_seal_while_pushing);
  tcase_add_test (threads, test_lanes_of_exited_threads_reused);
  tcase_add_test (threads, test_unread_lane_kept);
  suite_add_tcase (suite, threads);
  return suite;
}

int
main (void)
{
  return test_run_suite_tap (lanes_suite ());
}
