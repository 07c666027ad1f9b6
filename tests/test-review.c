/* test-review.c: reproducers for the lanes/reporter review (not for merging)
 *
 * SPDX-License-Identifier: MIT
 */

#include <check.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "check-tap.h"
#include "config-private.h"
#include "lanes-private.h"
#include "process-private.h"
#include "reporter-private.h"
#include "sync-private.h"

/* ---- 1. Large (heap) records never count a refusal: idle blocks are never
 * taken back for them. */
typedef struct {
  GluetoolLanes *lanes;
  GMutex lock;
  GCond cond;
  guint n_pushed;
  gboolean release;
} Idle;

static gpointer
push_small_and_stay (gpointer data)
{
  Idle *idle = data;
  guint8 buffer[32] = { 0 };
  gboolean ok = gluetool_lanes_push (idle->lanes, buffer, sizeof buffer, NULL, NULL);

  gluetool_mutex_lock (&idle->lock);
  idle->n_pushed++;
  g_cond_broadcast (&idle->cond);
  while (!idle->release)
    gluetool_cond_wait (&idle->cond, &idle->lock);
  gluetool_mutex_unlock (&idle->lock);
  return GINT_TO_POINTER (ok);
}

static gpointer
push_large (gpointer data)
{
  GluetoolLanes *lanes = data;
  guint8 buffer[300] = { 0 };
  gboolean ok = FALSE;

  /* The consumer runs give_back_idle between tries. */
  for (guint i = 0; i < 20 && !ok; i++)
    {
      ok = gluetool_lanes_push (lanes, buffer, sizeof buffer, NULL, NULL);
      if (!ok)
        {
          gluetool_lanes_give_back_idle_sc (lanes);  /* main is not reading now */
          g_usleep (1000);
        }
    }
  return GINT_TO_POINTER (ok);
}

START_TEST (test_heap_record_after_idle_lanes)
{
  Idle idle = { .lanes = gluetool_lanes_new (4096) };
  GThread *threads[16];
  const guint8 *record;
  gsize len;

  g_mutex_init (&idle.lock);
  g_cond_init (&idle.cond);
  ck_assert_uint_eq (gluetool_lanes_get_block_bytes (idle.lanes), 256);
  for (guint i = 0; i < 16; i++)
    threads[i] = g_thread_new ("idle", push_small_and_stay, &idle);
  gluetool_mutex_lock (&idle.lock);
  while (idle.n_pushed < 16)
    gluetool_cond_wait (&idle.cond, &idle.lock);
  gluetool_mutex_unlock (&idle.lock);
  while (gluetool_lanes_peek_sc (idle.lanes, &record, &len))
    gluetool_lanes_release_sc (idle.lanes);
  ck_assert_uint_eq (gluetool_lanes_get_consumed (idle.lanes), 16);

  /* The queue is empty; 16 idle lanes hold its 16 blocks. */
  {
    GThread *t = g_thread_new ("large", push_large, idle.lanes);
    gboolean ok = GPOINTER_TO_INT (g_thread_join (t));

    ck_assert_msg (ok, "a large record never gets in while idle lanes hold every block");
  }

  gluetool_mutex_lock (&idle.lock);
  idle.release = TRUE;
  g_cond_broadcast (&idle.cond);
  gluetool_mutex_unlock (&idle.lock);
  for (guint i = 0; i < 16; i++)
    g_thread_join (threads[i]);
  gluetool_lanes_free (idle.lanes);
}
END_TEST

/* ---- 2. Reporter: a new thread's spans are dropped for a whole flush
 * interval while the queue is empty, because idle lanes hold every block
 * and nothing makes the flush thread take them back. */
typedef struct {
  GluetoolReporter *reporter;
  GMutex lock;
  GCond cond;
  guint n_pushed;
  gboolean release;
} ReporterIdle;

static gpointer
report_one_and_stay (gpointer data)
{
  ReporterIdle *idle = data;
  guint8 span[40] = { 0 };
  gboolean ok = gluetool_reporter_push_mp (idle->reporter, span, sizeof span);

  gluetool_mutex_lock (&idle->lock);
  idle->n_pushed++;
  g_cond_broadcast (&idle->cond);
  while (!idle->release)
    gluetool_cond_wait (&idle->cond, &idle->lock);
  gluetool_mutex_unlock (&idle->lock);
  return GINT_TO_POINTER (ok);
}

typedef struct {
  GluetoolReporter *reporter;
  gint64 first_ok_after_us;   /* -1: never within the try time */
  guint n_dropped;
} NewThreadResult;

static gpointer
report_until_accepted (gpointer data)
{
  NewThreadResult *result = data;
  guint8 span[40] = { 0 };
  gint64 start = g_get_monotonic_time ();

  result->first_ok_after_us = -1;
  while (g_get_monotonic_time () - start < 1500 * 1000)
    {
      if (gluetool_reporter_push_mp (result->reporter, span, sizeof span))
        {
          result->first_ok_after_us = g_get_monotonic_time () - start;
          break;
        }
      result->n_dropped++;
      g_usleep (10 * 1000);
    }
  return NULL;
}

static void
run_idle_lanes_reporter (double queue_full_wait_s)
{
  GluetoolConfig config = {
    .service_name = (char *) "review",
    .reporting_host = (char *) "127.0.0.1",
    .reporting_port = 9,  /* discard: nothing listens, refusals are fine */
    .flush_timeout_s = 5,
    .flush_interval_s = 30,
    .queue_size = 4096,
    .max_packet_size = 65000,
    .queue_full_wait_s = queue_full_wait_s,
  };
  ReporterIdle idle = { 0 };
  NewThreadResult result = { 0 };
  GThread *threads[16];
  GThread *late;
  g_autoptr(GError) error = NULL;

  idle.reporter = gluetool_reporter_new (&config);
  ck_assert (gluetool_reporter_start (idle.reporter));
  g_mutex_init (&idle.lock);
  g_cond_init (&idle.cond);
  for (guint i = 0; i < 16; i++)
    threads[i] = g_thread_new ("idle", report_one_and_stay, &idle);
  gluetool_mutex_lock (&idle.lock);
  while (idle.n_pushed < 16)
    gluetool_cond_wait (&idle.cond, &idle.lock);
  gluetool_mutex_unlock (&idle.lock);
  /* Everything pushed is read and sent (or failed: nothing listens). */
  gluetool_reporter_flush (idle.reporter, g_get_monotonic_time () + 5 * G_USEC_PER_SEC, NULL);
  g_usleep (50 * 1000);  /* let the flush thread go back to sleep */

  result.reporter = idle.reporter;
  late = g_thread_new ("late", report_until_accepted, &result);
  g_thread_join (late);
  g_printerr ("queue_full_wait %g s: first accepted after %" G_GINT64_FORMAT " us, %u dropped before\n",
              queue_full_wait_s, result.first_ok_after_us, result.n_dropped);

  gluetool_mutex_lock (&idle.lock);
  idle.release = TRUE;
  g_cond_broadcast (&idle.cond);
  gluetool_mutex_unlock (&idle.lock);
  for (guint i = 0; i < 16; i++)
    g_thread_join (threads[i]);
  gluetool_reporter_close (idle.reporter, g_get_monotonic_time () + G_USEC_PER_SEC, NULL);
  gluetool_reporter_unref (idle.reporter);

  ck_assert_msg (result.first_ok_after_us >= 0 && result.first_ok_after_us < 500 * 1000,
                 "a new thread's spans were dropped for %" G_GINT64_FORMAT " us (%u of them) "
                 "while the queue was empty", result.first_ok_after_us, result.n_dropped);
}

START_TEST (test_idle_lanes_drop_mode)
{
  run_idle_lanes_reporter (0.0);
}
END_TEST

START_TEST (test_idle_lanes_wait_mode)
{
  run_idle_lanes_reporter (0.3);
}
END_TEST

/* ---- 3. give_back_idle and a lane made between its two walks. */
#define RACE_THREADS 4
#define RACE_RECORDS 50

typedef struct {
  GluetoolLanes *lanes;
  atomic_bool   *stop;
  guint32        id;
  atomic_bool    done;
  GThread       *thread;
} RaceWorker;

static gpointer
race_producer (gpointer data)
{
  RaceWorker *w = data;
  guint8 buffer[64];

  for (guint32 i = 0; i < RACE_RECORDS; i++)
    {
      memcpy (buffer, &w->id, 4);
      memcpy (buffer + 4, &i, 4);
      memset (buffer + 8, (int) (w->id + i), sizeof buffer - 8);
      while (!gluetool_lanes_push (w->lanes, buffer, sizeof buffer, NULL, NULL))
        {
          if (atomic_load (w->stop))
            goto out;
          g_usleep (200);
        }
      g_usleep (20);
    }
out:
  atomic_store (&w->done, true);
  return NULL;
}

typedef struct {
  GluetoolLanes *lanes;
  atomic_bool    stop;
  atomic_uint    spawned;
} Spawner;

static gpointer
spawn_workers (gpointer data)
{
  Spawner *sp = data;
  RaceWorker *workers[RACE_THREADS] = { NULL };

  while (!atomic_load (&sp->stop))
    {
      for (guint k = 0; k < RACE_THREADS; k++)
        {
          if (workers[k] != NULL && atomic_load (&workers[k]->done))
            {
              g_thread_join (workers[k]->thread);
              g_free (workers[k]);
              workers[k] = NULL;
            }
          if (workers[k] == NULL)
            {
              workers[k] = g_new0 (RaceWorker, 1);
              workers[k]->lanes = sp->lanes;
              workers[k]->stop = &sp->stop;
              workers[k]->id = atomic_fetch_add (&sp->spawned, 1);
              atomic_init (&workers[k]->done, false);
              workers[k]->thread = g_thread_new ("p", race_producer, workers[k]);
            }
        }
      g_usleep (100);
    }
  for (guint k = 0; k < RACE_THREADS; k++)
    if (workers[k] != NULL)
      {
        g_thread_join (workers[k]->thread);
        g_free (workers[k]);
      }
  return NULL;
}

START_TEST (test_steal_new_lane_race)
{
  Spawner sp = { .lanes = gluetool_lanes_new (16 * 256) };
  GluetoolLanes *lanes = sp.lanes;
  guint64 read = 0, bad = 0;
  gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  const guint8 *record;
  gsize len;
  GThread *spawner;

  atomic_init (&sp.stop, false);
  atomic_init (&sp.spawned, 0);
  spawner = g_thread_new ("spawner", spawn_workers, &sp);
  while (g_get_monotonic_time () < end)
    {
      while (gluetool_lanes_peek_sc (lanes, &record, &len))
        {
          guint32 id, i;

          memcpy (&id, record, 4);
          memcpy (&i, record + 4, 4);
          if (len != 64 || record[8] != (guint8) (id + i) || record[63] != (guint8) (id + i))
            bad++;
          gluetool_lanes_release_sc (lanes);
          read++;
        }
      gluetool_lanes_give_back_idle_sc (lanes);
    }
  atomic_store (&sp.stop, true);
  /* Keep reading so blocked producers finish. */
  while (TRUE)
    {
      gboolean any = FALSE;

      while (gluetool_lanes_peek_sc (lanes, &record, &len))
        {
          gluetool_lanes_release_sc (lanes);
          read++;
          any = TRUE;
        }
      gluetool_lanes_give_back_idle_sc (lanes);
      if (!any)
        break;
    }
  g_thread_join (spawner);
  while (gluetool_lanes_peek_sc (lanes, &record, &len))
    {
      gluetool_lanes_release_sc (lanes);
      read++;
    }
  g_printerr ("steal race: %u threads, %u lanes, %" G_GUINT64_FORMAT " read, pushed %"
              G_GUINT64_FORMAT ", bad %" G_GUINT64_FORMAT "\n", atomic_load (&sp.spawned),
              gluetool_lanes_get_n_lanes (lanes), read, gluetool_lanes_get_pushed (lanes), bad);
  ck_assert_uint_eq (bad, 0);
  ck_assert_uint_eq (gluetool_lanes_get_consumed (lanes), gluetool_lanes_get_pushed (lanes));
  gluetool_lanes_free (lanes);
}
END_TEST

/* ---- 4. A push from a thread-exit destructor that runs after the
 * registry's: it goes to the cached lane of a thread the registry calls
 * dead, which the consumer may reclaim and hand to another thread. */
typedef struct {
  GluetoolLanes *lanes;
  atomic_int     stage;    /* 1: the exiting thread is unregistered; 2: reclaimed */
  atomic_bool    go;
  guint32        pushed_by_exiting;
} Exiting;

static Exiting *exiting_state;

static void
push_at_exit (gpointer data)
{
  Exiting *e = data;
  guint8 buffer[64];

  atomic_store (&e->stage, 1);
  while (atomic_load (&e->stage) != 2)
    g_thread_yield ();
  /* Now race another thread that was handed the same lane. */
  while (!atomic_load (&e->go))
    ;
  for (guint32 i = 0; i < 20000; i++)
    {
      guint32 id = 1;

      memcpy (buffer, &id, 4);
      memcpy (buffer + 4, &i, 4);
      memset (buffer + 8, (int) (id + i), sizeof buffer - 8);
      if (gluetool_lanes_push (e->lanes, buffer, sizeof buffer, NULL, NULL))
        e->pushed_by_exiting++;
    }
}

static GPrivate exit_key = G_PRIVATE_INIT (push_at_exit);

static gpointer
exiting_thread (gpointer data)
{
  Exiting *e = data;
  guint8 buffer[64] = { 0 };
  guint32 id = 1, i = G_MAXUINT32;

  memcpy (buffer, &id, 4);
  memcpy (buffer + 4, &i, 4);
  memset (buffer + 8, (int) (id + i), sizeof buffer - 8);
  /* Registers the thread and caches its lane; the key below is made after
   * the registry's, so its destructor runs after the registry's. */
  ck_assert (gluetool_lanes_push (e->lanes, buffer, sizeof buffer, NULL, NULL));
  g_private_set (&exit_key, e);
  return NULL;
}

static gpointer
second_thread (gpointer data)
{
  Exiting *e = data;
  guint8 buffer[64];
  guint32 n = 0;

  for (guint32 i = 0; i < 20000; i++)
    {
      guint32 id = 2;

      if (i == 0)
        {
          /* first push: find_lane takes the reclaimed lane over */
          memcpy (buffer, &id, 4);
          memcpy (buffer + 4, &i, 4);
          memset (buffer + 8, (int) (id + i), sizeof buffer - 8);
          if (gluetool_lanes_push (e->lanes, buffer, sizeof buffer, NULL, NULL))
            n++;
          atomic_store (&e->go, true);
          continue;
        }
      memcpy (buffer, &id, 4);
      memcpy (buffer + 4, &i, 4);
      memset (buffer + 8, (int) (id + i), sizeof buffer - 8);
      if (gluetool_lanes_push (e->lanes, buffer, sizeof buffer, NULL, NULL))
        n++;
    }
  return GUINT_TO_POINTER (n);
}

START_TEST (test_push_after_unregister)
{
  Exiting e = { .lanes = gluetool_lanes_new (8 * 1024 * 1024) };
  guint8 buffer[64] = { 0 };
  GThread *t, *u;
  guint64 read = 0, bad = 0;
  guint32 last[3] = { 0 };
  gboolean started[3] = { FALSE };
  const guint8 *record;
  gsize len;

  exiting_state = &e;
  atomic_init (&e.stage, 0);
  atomic_init (&e.go, false);
  /* The main thread registers first: the registry's key is made first. */
  (void) gluetool_process_get_thread_serial ();
  (void) buffer;

  t = g_thread_new ("exiting", exiting_thread, &e);
  while (atomic_load (&e.stage) != 1)
    g_thread_yield ();
  while (gluetool_lanes_peek_sc (e.lanes, &record, &len))
    {
      gluetool_lanes_release_sc (e.lanes);
      read++;
    }
  /* The thread is still running its destructors, but the registry says it
   * has exited: its lane is reclaimed. */
  if (g_getenv ("REVIEW_NO_RECLAIM") == NULL)
    gluetool_lanes_reclaim_sc (e.lanes);
  atomic_store (&e.stage, 2);
  u = g_thread_new ("second", second_thread, &e);
  g_thread_join (u);
  g_thread_join (t);
  while (gluetool_lanes_peek_sc (e.lanes, &record, &len))
    {
      guint32 id, i;

      memcpy (&id, record, 4);
      memcpy (&i, record + 4, 4);
      if (len != 64 || id < 1 || id > 2 || record[8] != (guint8) (id + i)
          || record[63] != (guint8) (id + i) || (started[id] && i != last[id] + 1))
        bad++;
      else
        {
          started[id] = TRUE;
          last[id] = i;
        }
      gluetool_lanes_release_sc (e.lanes);
      read++;
    }
  g_printerr ("after unregister: %u lanes, pushed %" G_GUINT64_FORMAT ", read %" G_GUINT64_FORMAT
              ", bad %" G_GUINT64_FORMAT "\n", gluetool_lanes_get_n_lanes (e.lanes),
              gluetool_lanes_get_pushed (e.lanes), read, bad);
  ck_assert_uint_eq (bad, 0);
  ck_assert_uint_eq (gluetool_lanes_get_pushed (e.lanes), read);
  gluetool_lanes_free (e.lanes);
}
END_TEST


/* ---- 5. Does the library itself push after the registry's destructor? */
#include "gluetool/gluetool.h"

typedef struct {
  GluetoolAction *root;
  GMutex lock;
  GCond cond;
  gboolean worked;
  gboolean dropped;
} RootWorker;

static gpointer
root_worker (gpointer data)
{
  RootWorker *w = data;
  g_autoptr(GError) error = NULL;

  gluetool_action_set_thread_root (w->root);
  {
    g_autoptr(GluetoolAction) child = gluetool_action_new ("child", NULL);

    ck_assert (gluetool_action_finish (child, &error));
  }
  gluetool_mutex_lock (&w->lock);
  w->worked = TRUE;
  g_cond_broadcast (&w->cond);
  while (!w->dropped)
    gluetool_cond_wait (&w->cond, &w->lock);
  gluetool_mutex_unlock (&w->lock);
  /* Exits holding the last reference to the unfinished root. */
  return NULL;
}

START_TEST (test_root_finished_at_thread_exit)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                                     "service-name", "review",
                                                     "reporting-host", "127.0.0.1",
                                                     "reporting-port", 9, NULL);
  RootWorker w = { 0 };
  GThread *t;

  ck_assert (tracer != NULL);
  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  w.root = gluetool_action_new ("root", NULL);
  t = g_thread_new ("worker", root_worker, &w);
  gluetool_mutex_lock (&w.lock);
  while (!w.worked)
    gluetool_cond_wait (&w.cond, &w.lock);
  g_clear_object (&w.root);
  w.dropped = TRUE;
  g_cond_broadcast (&w.cond);
  gluetool_mutex_unlock (&w.lock);
  g_thread_join (t);
  gluetool_tracer_close (tracer, 2.0, NULL);
}
END_TEST

static Suite *
review_suite (void)
{
  Suite *suite = suite_create ("review");
  TCase *tc = tcase_create ("review");

  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_heap_record_after_idle_lanes);
  tcase_add_test (tc, test_idle_lanes_drop_mode);
  tcase_add_test (tc, test_idle_lanes_wait_mode);
  tcase_add_test (tc, test_steal_new_lane_race);
  tcase_add_test (tc, test_push_after_unregister);
  tcase_add_test (tc, test_root_finished_at_thread_exit);
  suite_add_tcase (suite, tc);
  return suite;
}

int
main (void)
{
  return test_run_suite_tap (review_suite ());
}
