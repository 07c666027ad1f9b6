/* test-ring.c: the lock-free MPSC ring of byte records
 *
 * SPDX-License-Identifier: MIT
 *
 * Results go out as TAP on stdout, which meson parses (protocol: 'tap').
 * Every test works both forked (check's default) and with CK_FORK=no: each
 * one makes and frees its own ring and joins every thread it starts.
 * Threads other than the test's own never call ck_assert: they only count,
 * and the test thread checks what they report once joined.
 */

#include <check.h>
#include <glib.h>
#include <string.h>

#include "ring-private.h"
#include "check-tap.h"

/* Every passing ck_assert() writes its location to check's log, one
 * syscall each: too slow for loops over hundreds of thousands of records.
 * Hot loops check with this, which only calls into check on failure. */
#define REQUIRE(cond, ...) \
  G_STMT_START { \
    if (G_UNLIKELY (!(cond))) \
      ck_abort_msg (__VA_ARGS__); \
  } G_STMT_END

/* A deterministic mix of two numbers (splitmix64's finaliser), so that a
 * record's length and bytes follow from its producer id and sequence number,
 * and the consumer can check both without a side channel. */
static guint64
mix64 (guint64 a,
       guint64 b)
{
  guint64 z = a * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + b;

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static void
fill_pattern (guint8 *buf,
              gsize   len,
              guint64 seed)
{
  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) (seed + i * 131 + (i >> 8));
}

static gboolean
pattern_matches (const guint8 *buf,
                 gsize         len,
                 guint64       seed)
{
  for (gsize i = 0; i < len; i++)
    if (buf[i] != (guint8) (seed + i * 131 + (i >> 8)))
      return FALSE;
  return TRUE;
}

/* Pops the oldest record, checks it is @len bytes of pattern @seed. */
static void
expect_record (GluetoolRing *ring,
               gsize         len,
               guint64       seed)
{
  const guint8 *record = NULL;
  gsize got_len = 0;

  REQUIRE (gluetool_ring_peek_sc (ring, &record, &got_len),
           "no record to peek (seed %" G_GUINT64_FORMAT ")", seed);
  REQUIRE (got_len == len, "record of %" G_GSIZE_FORMAT " bytes, wanted %" G_GSIZE_FORMAT,
           got_len, len);
  REQUIRE (pattern_matches (record, got_len, seed),
           "record bytes differ (seed %" G_GUINT64_FORMAT ")", seed);
  gluetool_ring_release_sc (ring);
}

/* Nothing left to consume: the failed peek also hands back every byte the
 * consumer released (they go back in batches). */
static void
expect_drained (GluetoolRing *ring)
{
  const guint8 *record = NULL;
  gsize len = 0;

  REQUIRE (!gluetool_ring_peek_sc (ring, &record, &len), "a record is left");
  REQUIRE (gluetool_ring_get_queued_bytes (ring) == 0,
           "%" G_GSIZE_FORMAT " bytes still queued", gluetool_ring_get_queued_bytes (ring));
}

static gboolean
push_pattern (GluetoolRing *ring,
              gsize         len,
              guint64       seed,
              gsize        *queued_after)
{
  g_autofree guint8 *buf = g_malloc (len);

  fill_pattern (buf, len, seed);
  return gluetool_ring_push_mp (ring, buf, len, queued_after);
}

START_TEST (test_slot_count)
{
  static const struct { gsize capacity; guint n_slots; } cases[] = {
    { 0, 2 },
    { 1, 2 },
    { GLUETOOL_RING_SLOT_BYTES, 2 },
    { 3 * GLUETOOL_RING_SLOT_BYTES, 2 },
    { 4 * GLUETOOL_RING_SLOT_BYTES, 4 },
    { 7 * GLUETOOL_RING_SLOT_BYTES + 255, 4 },
    { 8 * GLUETOOL_RING_SLOT_BYTES, 8 },
    { 1024 * 1024, 4096 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GluetoolRing *ring = gluetool_ring_new (cases[i].capacity);

      ck_assert_uint_eq (gluetool_ring_get_n_slots (ring), cases[i].n_slots);
      ck_assert_uint_eq (gluetool_ring_get_capacity_bytes (ring), cases[i].capacity);
      ck_assert_uint_eq (gluetool_ring_get_claimed (ring), 0);
      ck_assert_uint_eq (gluetool_ring_get_consumed (ring), 0);
      ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), 0);
      gluetool_ring_free (ring);
    }
}
END_TEST

START_TEST (test_zero_capacity_refuses)
{
  GluetoolRing *ring = gluetool_ring_new (0);
  const guint8 byte = 1;

  ck_assert (!gluetool_ring_push_mp (ring, &byte, 1, NULL));
  ck_assert_uint_eq (gluetool_ring_get_claimed (ring), 0);
  ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), 0);
  gluetool_ring_free (ring);
}
END_TEST

START_TEST (test_push_peek_release_in_order)
{
  GluetoolRing *ring = gluetool_ring_new (16 * GLUETOOL_RING_SLOT_BYTES);
  const guint8 *record = NULL;
  gsize len = 0;

  /* Empty: nothing to peek, and peeking twice changes nothing. */
  ck_assert (!gluetool_ring_peek_sc (ring, &record, &len));
  ck_assert (!gluetool_ring_peek_sc (ring, &record, &len));

  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *text = g_strdup_printf ("record %u", i);

      ck_assert (gluetool_ring_push_mp (ring, (const guint8 *) text, strlen (text), NULL));
    }

  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *text = g_strdup_printf ("record %u", i);

      ck_assert (gluetool_ring_peek_sc (ring, &record, &len));
      ck_assert_uint_eq (len, strlen (text));
      ck_assert_mem_eq (record, text, len);

      /* Peeking again without releasing gives the same record. */
      ck_assert (gluetool_ring_peek_sc (ring, &record, &len));
      ck_assert_mem_eq (record, text, len);

      gluetool_ring_release_sc (ring);
    }

  ck_assert (!gluetool_ring_peek_sc (ring, &record, &len));
  gluetool_ring_free (ring);
}
END_TEST

START_TEST (test_record_sizes)
{
  static const gsize sizes[] = {
    1,
    GLUETOOL_RING_INLINE_BYTES - 1,
    GLUETOOL_RING_INLINE_BYTES,
    GLUETOOL_RING_INLINE_BYTES + 1,
    GLUETOOL_RING_SLOT_BYTES,
    64 * 1024,
  };
  GluetoolRing *ring = gluetool_ring_new (256 * 1024);

  /* One at a time, then all queued at once. */
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      ck_assert (push_pattern (ring, sizes[i], i, NULL));
      expect_record (ring, sizes[i], i);
    }

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    ck_assert (push_pattern (ring, sizes[i], 100 + i, NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    expect_record (ring, sizes[i], 100 + i);

  expect_drained (ring);
  gluetool_ring_free (ring);
}
END_TEST

/* The caller's buffer may be reused at once: the ring keeps its own copy,
 * inline or on the heap. */
START_TEST (test_record_is_copied)
{
  GluetoolRing *ring = gluetool_ring_new (64 * 1024);
  guint8 small[16];
  guint8 big[GLUETOOL_RING_INLINE_BYTES * 3];

  fill_pattern (small, sizeof small, 7);
  fill_pattern (big, sizeof big, 8);
  ck_assert (gluetool_ring_push_mp (ring, small, sizeof small, NULL));
  ck_assert (gluetool_ring_push_mp (ring, big, sizeof big, NULL));
  memset (small, 0, sizeof small);
  memset (big, 0, sizeof big);

  expect_record (ring, sizeof small, 7);
  expect_record (ring, sizeof big, 8);
  gluetool_ring_free (ring);
}
END_TEST

START_TEST (test_wrap_around)
{
  /* 4 slots, 1 KiB budget: every few pushes wrap the ring. */
  GluetoolRing *ring = gluetool_ring_new (4 * GLUETOOL_RING_SLOT_BYTES);
  const guint n_records = 40000;
  guint64 pushed = 0;
  guint64 popped = 0;

  ck_assert_uint_eq (gluetool_ring_get_n_slots (ring), 4);

  while (popped < n_records)
    {
      /* Fill as far as the ring lets us (by slots or by bytes), then drain
       * a varying number, so the positions drift through every slot. */
      while (pushed < n_records)
        {
          gsize len = 1 + mix64 (pushed, 1) % 400;

          if (!push_pattern (ring, len, pushed, NULL))
            break;
          pushed++;
        }

      for (guint64 k = (popped % 3) + 1; k > 0 && popped < pushed; k--)
        {
          expect_record (ring, 1 + mix64 (popped, 1) % 400, popped);
          popped++;
        }
    }

  ck_assert_uint_eq (gluetool_ring_get_claimed (ring), n_records);
  ck_assert_uint_eq (gluetool_ring_get_consumed (ring), n_records);
  expect_drained (ring);
  gluetool_ring_free (ring);
}
END_TEST

START_TEST (test_full_by_slots)
{
  GluetoolRing *ring = gluetool_ring_new (4 * GLUETOOL_RING_SLOT_BYTES);
  gsize queued_after = 0;

  for (guint i = 0; i < 4; i++)
    ck_assert (push_pattern (ring, 10, i, NULL));

  /* Every slot taken, budget far from spent. */
  queued_after = 12345;
  ck_assert (!push_pattern (ring, 10, 4, &queued_after));
  ck_assert (!push_pattern (ring, 1, 4, &queued_after));
  /* A big record fails the same way, and frees the copy it made. */
  ck_assert (!push_pattern (ring, GLUETOOL_RING_INLINE_BYTES + 1, 4, &queued_after));
  ck_assert_uint_eq (queued_after, 12345);
  ck_assert_uint_eq (gluetool_ring_get_claimed (ring), 4);
  ck_assert_uint_eq (gluetool_ring_get_consumed (ring), 0);
  ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), 40);

  /* One release, one slot back at once; its 10 bytes come back with the
   * next batch (128 bytes here), so they still count. */
  ck_assert_uint_eq (gluetool_ring_get_return_batch_bytes (ring), 128);
  expect_record (ring, 10, 0);
  ck_assert (push_pattern (ring, 10, 4, &queued_after));
  ck_assert_uint_eq (queued_after, 50);
  ck_assert (!push_pattern (ring, 10, 5, NULL));

  for (guint i = 1; i <= 4; i++)
    expect_record (ring, 10, i);

  ck_assert_uint_eq (gluetool_ring_get_claimed (ring), 5);
  ck_assert_uint_eq (gluetool_ring_get_consumed (ring), 5);
  expect_drained (ring);
  gluetool_ring_free (ring);
}
END_TEST

START_TEST (test_full_by_bytes)
{
  const gsize capacity = 4 * GLUETOOL_RING_SLOT_BYTES;
  GluetoolRing *ring = gluetool_ring_new (capacity);
  gsize queued_after = 0;

  /* Larger than the whole budget: never fits. */
  ck_assert (!push_pattern (ring, capacity + 1, 0, &queued_after));
  ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), 0);

  ck_assert (push_pattern (ring, 600, 1, &queued_after));
  ck_assert_uint_eq (queued_after, 600);

  /* Two slots are free, but 600 + 500 is over budget. */
  queued_after = 12345;
  ck_assert (!push_pattern (ring, 500, 2, &queued_after));
  ck_assert_uint_eq (queued_after, 12345);
  ck_assert_uint_eq (gluetool_ring_get_claimed (ring), 1);
  ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), 600);

  /* Exactly up to the budget is fine; one byte more is not. */
  ck_assert (push_pattern (ring, capacity - 600, 3, &queued_after));
  ck_assert_uint_eq (queued_after, capacity);
  ck_assert (!push_pattern (ring, 1, 4, NULL));
  ck_assert_uint_eq (gluetool_ring_get_claimed (ring), 2);
  ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), capacity);

  /* Releasing the 600 bytes makes room for the 500. */
  expect_record (ring, 600, 1);
  ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), capacity - 600);
  ck_assert (push_pattern (ring, 500, 2, &queued_after));
  ck_assert_uint_eq (queued_after, capacity - 100);

  expect_record (ring, capacity - 600, 3);
  expect_record (ring, 500, 2);
  /* Both were a batch or more (128 bytes here): back already. */
  ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), 0);
  gluetool_ring_free (ring);
}
END_TEST

START_TEST (test_counters)
{
  GluetoolRing *ring = gluetool_ring_new (64 * GLUETOOL_RING_SLOT_BYTES);
  gsize batch = gluetool_ring_get_return_batch_bytes (ring);
  gsize expected_bytes = 0;
  gsize unreturned = 0;
  gsize queued_after = 0;

  /* An eighth of the capacity, below the default batch. */
  ck_assert_uint_eq (batch, 64 * GLUETOOL_RING_SLOT_BYTES / 8);

  for (guint i = 0; i < 20; i++)
    {
      gsize len = 1 + i * 37;

      ck_assert (push_pattern (ring, len, i, &queued_after));
      expected_bytes += len;
      ck_assert_uint_eq (queued_after, expected_bytes);
      ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), expected_bytes);
      ck_assert_uint_eq (gluetool_ring_get_claimed (ring), i + 1);
      ck_assert_uint_eq (gluetool_ring_get_consumed (ring), 0);
    }

  for (guint i = 0; i < 20; i++)
    {
      const guint8 *record;
      gsize len;

      /* A peek alone consumes nothing. */
      ck_assert (gluetool_ring_peek_sc (ring, &record, &len));
      ck_assert_uint_eq (gluetool_ring_get_consumed (ring), i);
      ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), expected_bytes);

      /* The bytes come back once a batch's worth is released. */
      gluetool_ring_release_sc (ring);
      unreturned += len;
      if (unreturned >= batch)
        {
          expected_bytes -= unreturned;
          unreturned = 0;
        }
      ck_assert_uint_eq (gluetool_ring_get_consumed (ring), i + 1);
      ck_assert_uint_eq (gluetool_ring_get_queued_bytes (ring), expected_bytes);
      ck_assert_uint_eq (gluetool_ring_get_claimed (ring), 20);
    }

  /* Some were returned in batches, the rest wait for the peek that finds
   * nothing. */
  ck_assert_uint_eq (expected_bytes, unreturned);
  ck_assert_uint_gt (unreturned, 0);
  expect_drained (ring);
  gluetool_ring_free (ring);
}
END_TEST

/* Records left in the ring, inline and on the heap, one of them peeked but
 * not released, are freed with it: valgrind and ASan catch a leak. */
START_TEST (test_free_with_records_left)
{
  GluetoolRing *ring = gluetool_ring_new (64 * 1024);
  const guint8 *record;
  gsize len;

  ck_assert (push_pattern (ring, 5000, 1, NULL));
  ck_assert (push_pattern (ring, 10, 2, NULL));
  ck_assert (push_pattern (ring, GLUETOOL_RING_INLINE_BYTES + 1, 3, NULL));
  ck_assert (gluetool_ring_peek_sc (ring, &record, &len));
  ck_assert_uint_eq (len, 5000);

  gluetool_ring_free (ring);
  gluetool_ring_free (NULL);
}
END_TEST

/* Several producers and one consumer. */

typedef struct
{
  const char *name;
  guint n_producers;
  guint64 records_per_producer;
  gsize capacity_bytes;
  gsize max_len;   /* record lengths are spread over [HEADER_LEN, max_len] */
} MpscCase;

static const MpscCase mpsc_cases[] = {
  /* A tiny ring: producers find it full all the time and retry. About a
   * quarter of the records are too big for a slot's inline space. */
  { "4 producers, 8 slots", 4, 200000, 8 * GLUETOOL_RING_SLOT_BYTES, 300 },
  /* Big heap records against the byte budget rather than the slot count. */
  { "2 producers, heap records", 2, 50000, 32 * 1024, 6000 },
};

/* producer id, then sequence number, then pattern bytes */
#define HEADER_LEN (sizeof (guint32) + sizeof (guint64))

typedef struct
{
  GluetoolRing *ring;
  const MpscCase *mpsc;
  guint32 id;
  guint64 full_count;   /* written by the producer, read after the join */
} Producer;

static gsize
mpsc_record_len (const MpscCase *mpsc,
                 guint32         id,
                 guint64         seq)
{
  return HEADER_LEN + mix64 (id, seq) % (mpsc->max_len - HEADER_LEN + 1);
}

static gpointer
producer_thread (gpointer data)
{
  Producer *producer = data;
  g_autofree guint8 *buf = g_malloc (producer->mpsc->max_len);

  for (guint64 seq = 0; seq < producer->mpsc->records_per_producer; seq++)
    {
      gsize len = mpsc_record_len (producer->mpsc, producer->id, seq);

      memcpy (buf, &producer->id, sizeof producer->id);
      memcpy (buf + sizeof producer->id, &seq, sizeof seq);
      fill_pattern (buf + HEADER_LEN, len - HEADER_LEN, mix64 (seq, producer->id));

      /* Full: let the consumer run, then try again. A real producer would
       * drop the record instead; the test wants every one of them. */
      while (!gluetool_ring_push_mp (producer->ring, buf, len, NULL))
        {
          producer->full_count++;
          g_thread_yield ();
        }
    }

  return NULL;
}

START_TEST (test_mpsc)
{
  const MpscCase *mpsc = &mpsc_cases[_i];
  GluetoolRing *ring = gluetool_ring_new (mpsc->capacity_bytes);
  g_autofree Producer *producers = g_new0 (Producer, mpsc->n_producers);
  g_autofree GThread **threads = g_new0 (GThread *, mpsc->n_producers);
  g_autofree guint64 *next_seq = g_new0 (guint64, mpsc->n_producers);
  const guint64 total = mpsc->n_producers * mpsc->records_per_producer;
  guint64 received = 0;
  guint64 full_count = 0;
  guint64 heap_records = 0;

  for (guint i = 0; i < mpsc->n_producers; i++)
    {
      producers[i].ring = ring;
      producers[i].mpsc = mpsc;
      producers[i].id = i;
      threads[i] = g_thread_new ("ring-producer", producer_thread, &producers[i]);
    }

  /* The test thread is the consumer. It waits for records by polling the
   * ring (yielding when it is empty) until it has them all. */
  while (received < total)
    {
      const guint8 *record;
      gsize len;
      guint32 id;
      guint64 seq;

      if (!gluetool_ring_peek_sc (ring, &record, &len))
        {
          g_thread_yield ();
          continue;
        }

      REQUIRE (len >= HEADER_LEN, "record of %" G_GSIZE_FORMAT " bytes", len);
      memcpy (&id, record, sizeof id);
      memcpy (&seq, record + sizeof id, sizeof seq);
      REQUIRE (id < mpsc->n_producers, "producer id %u", id);

      /* In order per producer, no gap, no repeat: exactly once. */
      REQUIRE (seq == next_seq[id],
               "producer %u: record %" G_GUINT64_FORMAT ", wanted %" G_GUINT64_FORMAT,
               id, seq, next_seq[id]);
      REQUIRE (len == mpsc_record_len (mpsc, id, seq),
               "producer %u record %" G_GUINT64_FORMAT ": %" G_GSIZE_FORMAT " bytes",
               id, seq, len);
      REQUIRE (pattern_matches (record + HEADER_LEN, len - HEADER_LEN, mix64 (seq, id)),
               "producer %u record %" G_GUINT64_FORMAT ": bytes differ", id, seq);

      if (len > GLUETOOL_RING_INLINE_BYTES)
        heap_records++;
      next_seq[id]++;
      received++;
      gluetool_ring_release_sc (ring);
    }

  for (guint i = 0; i < mpsc->n_producers; i++)
    {
      g_thread_join (threads[i]);
      full_count += producers[i].full_count;
      ck_assert_uint_eq (next_seq[i], mpsc->records_per_producer);
    }

  ck_assert_uint_eq (gluetool_ring_get_claimed (ring), total);
  ck_assert_uint_eq (gluetool_ring_get_consumed (ring), total);
  expect_drained (ring);
  /* The run really went through the heap path and the "full" path. */
  ck_assert_msg (heap_records > 0, "%s: no record took the heap path", mpsc->name);
  ck_assert_msg (full_count > 0, "%s: no push ever found the ring full", mpsc->name);

  gluetool_ring_free (ring);
}
END_TEST

static Suite *
ring_suite (void)
{
  Suite *s = suite_create ("ring");
  TCase *tc;

  /* Timeouts leave room for valgrind and the sanitizers: the slowest run,
   * under valgrind, takes about 20 s in all. */
  tc = tcase_create ("single-thread");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_slot_count);
  tcase_add_test (tc, test_zero_capacity_refuses);
  tcase_add_test (tc, test_push_peek_release_in_order);
  tcase_add_test (tc, test_record_sizes);
  tcase_add_test (tc, test_record_is_copied);
  tcase_add_test (tc, test_wrap_around);
  tcase_add_test (tc, test_full_by_slots);
  tcase_add_test (tc, test_full_by_bytes);
  tcase_add_test (tc, test_counters);
  tcase_add_test (tc, test_free_with_records_left);
  suite_add_tcase (s, tc);

  tc = tcase_create ("threads");
  tcase_set_timeout (tc, 120);
  tcase_add_loop_test (tc, test_mpsc, 0, G_N_ELEMENTS (mpsc_cases));
  suite_add_tcase (s, tc);

  return s;
}

int
main (void)
{
  int status;

  status = test_run_suite_tap (ring_suite ());

  return status;
}
