/* bench-lanes.c: throughput of the span queue with span-sized records
 *
 * SPDX-License-Identifier: MIT
 *
 * Run with: meson test -C build --benchmark --verbose lanes
 *
 * Producers push 150-byte records (about a 3-tag span) as fast as they can;
 * one consumer thread copies each record out, as the flush thread does when
 * it packs a datagram, and releases it. A push that finds the queue full is
 * counted and tried again, so every run moves the same number of records and
 * the failure count says how often producers outran the consumer (a real
 * producer would have dropped the span instead).
 *
 * Prints plain figures, medians over several runs; asserts no time.
 */

#include <glib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lanes-private.h"

#define RECORD_BYTES        150
#define QUEUE_CAPACITY_BYTES (1024 * 1024)
#define RECORDS_PER_RUN     (2 * 1000 * 1000)
#define N_RUNS              7
#define DATAGRAM_BYTES      65000

typedef struct
{
  GluetoolLanes *lanes;
  guint n_producers;
  guint64 records_per_producer;
  /* Producers and the consumer spin (yielding) on this before starting, so
   * thread creation stays out of the timed part. Written by the main thread
   * only: relaxed is enough, nothing is published through it. */
  _Atomic gboolean go;
} Run;

typedef struct
{
  Run *run;
  guint id;
  guint64 full_count;   /* written by the producer, read after the join */
} Producer;

static gpointer
producer_thread (gpointer data)
{
  Producer *producer = data;
  Run *run = producer->run;
  guint8 record[RECORD_BYTES];

  memset (record, 'a' + (int) producer->id, sizeof record);

  while (!atomic_load_explicit (&run->go, memory_order_relaxed))
    g_thread_yield ();

  for (guint64 i = 0; i < run->records_per_producer; i++)
    {
      memcpy (record, &i, sizeof i);
      while (!gluetool_lanes_push (run->lanes, record, sizeof record, NULL, NULL))
        {
          producer->full_count++;
          g_thread_yield ();
        }
    }

  return NULL;
}

/* The consumer: copies every record into a datagram-sized buffer, as the
 * flush thread does, and returns how many bytes it copied so the work is not
 * optimised away. */
static gpointer
consumer_thread (gpointer data)
{
  Run *run = data;
  g_autofree guint8 *datagram = g_malloc (DATAGRAM_BYTES);
  const guint64 total = run->n_producers * run->records_per_producer;
  guint64 consumed = 0;
  gsize offset = 0;
  guint64 checksum = 0;

  while (!atomic_load_explicit (&run->go, memory_order_relaxed))
    g_thread_yield ();

  while (consumed < total)
    {
      const guint8 *record;
      gsize len;

      if (!gluetool_lanes_peek_sc (run->lanes, &record, &len))
        {
          g_thread_yield ();
          continue;
        }

      if (offset + len > DATAGRAM_BYTES)
        {
          checksum += datagram[offset - 1];
          offset = 0;
        }
      memcpy (datagram + offset, record, len);
      offset += len;
      gluetool_lanes_release_sc (run->lanes);
      consumed++;
    }

  return GSIZE_TO_POINTER ((gsize) (checksum + offset));
}

typedef struct
{
  double ns_per_record;
  double records_per_s;
  guint64 full_count;
} Result;

static Result
run_threaded (guint n_producers)
{
  Run run = { 0, };
  g_autofree Producer *producers = g_new0 (Producer, n_producers);
  g_autofree GThread **threads = g_new0 (GThread *, n_producers);
  GThread *consumer;
  gint64 start;
  gint64 end;
  Result result = { 0, };
  guint64 total;

  run.lanes = gluetool_lanes_new (QUEUE_CAPACITY_BYTES);
  run.n_producers = n_producers;
  run.records_per_producer = RECORDS_PER_RUN / n_producers;
  total = run.records_per_producer * n_producers;
  atomic_init (&run.go, FALSE);

  consumer = g_thread_new ("bench-consumer", consumer_thread, &run);
  for (guint i = 0; i < n_producers; i++)
    {
      producers[i].run = &run;
      producers[i].id = i;
      threads[i] = g_thread_new ("bench-producer", producer_thread, &producers[i]);
    }

  start = g_get_monotonic_time ();
  atomic_store_explicit (&run.go, TRUE, memory_order_relaxed);
  for (guint i = 0; i < n_producers; i++)
    {
      g_thread_join (threads[i]);
      result.full_count += producers[i].full_count;
    }
  g_thread_join (consumer);
  end = g_get_monotonic_time ();

  g_assert_cmpuint (gluetool_lanes_get_consumed (run.lanes), ==, total);
  gluetool_lanes_free (run.lanes);

  result.ns_per_record = (end - start) * 1000.0 / total;
  result.records_per_s = total / ((end - start) / 1e6);
  return result;
}

/* push then pop in one thread, nobody else touching the queue: the cost of
 * the operations themselves, without cache-line transfers. */
static Result
run_uncontended (void)
{
  GluetoolLanes *lanes = gluetool_lanes_new (QUEUE_CAPACITY_BYTES);
  guint8 record[RECORD_BYTES];
  guint64 checksum = 0;
  gint64 start;
  gint64 end;
  Result result = { 0, };

  memset (record, 'x', sizeof record);
  start = g_get_monotonic_time ();
  for (guint64 i = 0; i < RECORDS_PER_RUN; i++)
    {
      const guint8 *out;
      gsize len;

      memcpy (record, &i, sizeof i);
      if (!gluetool_lanes_push (lanes, record, sizeof record, NULL, NULL))
        result.full_count++;
      if (gluetool_lanes_peek_sc (lanes, &out, &len))
        {
          checksum += out[0];
          gluetool_lanes_release_sc (lanes);
        }
    }
  end = g_get_monotonic_time ();
  gluetool_lanes_free (lanes);

  /* Keeps the loop's reads alive; never true. */
  if (checksum == G_MAXUINT64)
    printf ("%" G_GUINT64_FORMAT "\n", checksum);

  result.ns_per_record = (end - start) * 1000.0 / RECORDS_PER_RUN;
  result.records_per_s = RECORDS_PER_RUN / ((end - start) / 1e6);
  return result;
}

static int
cmp_double (gconstpointer a,
            gconstpointer b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return (x > y) - (x < y);
}

static int
cmp_guint64 (gconstpointer a,
             gconstpointer b)
{
  guint64 x = *(const guint64 *) a;
  guint64 y = *(const guint64 *) b;

  return (x > y) - (x < y);
}

static void
print_median (const char *label,
              Result      results[N_RUNS])
{
  double ns[N_RUNS];
  double per_s[N_RUNS];
  guint64 full[N_RUNS];

  for (guint i = 0; i < N_RUNS; i++)
    {
      ns[i] = results[i].ns_per_record;
      per_s[i] = results[i].records_per_s;
      full[i] = results[i].full_count;
    }
  qsort (ns, N_RUNS, sizeof ns[0], cmp_double);
  qsort (per_s, N_RUNS, sizeof per_s[0], cmp_double);
  qsort (full, N_RUNS, sizeof full[0], cmp_guint64);

  /* The best run too: on a shared machine the median moves with other
   * load, the best much less. */
  printf ("%-26s %7.1f ns per push+pop (best %5.1f)  %10.0f spans/s  %8" G_GUINT64_FORMAT
          " pushes failed for full (min %" G_GUINT64_FORMAT ", max %" G_GUINT64_FORMAT ")\n",
          label, ns[N_RUNS / 2], ns[0], per_s[N_RUNS / 2], full[N_RUNS / 2],
          full[0], full[N_RUNS - 1]);
}

int
main (void)
{
  Result results[N_RUNS];
  GluetoolLanes *probe = gluetool_lanes_new (QUEUE_CAPACITY_BYTES);

  printf ("lanes: %d-byte records, %d-byte queue (%" G_GSIZE_FORMAT "-byte blocks), "
          "%d records per run, median of %d runs, %u CPUs\n",
          RECORD_BYTES, QUEUE_CAPACITY_BYTES, gluetool_lanes_get_block_bytes (probe),
          RECORDS_PER_RUN, N_RUNS, g_get_num_processors ());
  gluetool_lanes_free (probe);

  for (guint i = 0; i < N_RUNS; i++)
    results[i] = run_uncontended ();
  print_median ("uncontended (one thread):", results);

  for (guint i = 0; i < N_RUNS; i++)
    results[i] = run_threaded (1);
  print_median ("1 producer + consumer:", results);

  for (guint i = 0; i < N_RUNS; i++)
    results[i] = run_threaded (2);
  print_median ("2 producers + consumer:", results);

  return 0;
}
