/* test-e2e.c: actions through the library to a receiver over loopback UDP,
 * every datagram decoded with the c_glib reference codec
 *
 * SPDX-License-Identifier: MIT
 */

#include <check.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "receiver.h"
#include "gluetool-tracer-private.h"
#include "recycler-private.h"
#include "reporter-private.h"
#include "test-expect.h"
#include "test-resolver.h"
#include "check-tap.h"

#define WAIT_S 20.0

/* The queue-full-wait property's default: the environment or no wait. */
#define QUEUE_FULL_WAIT_UNSET -1.0

/* A tracer on loopback with settings from properties; 0/NULL (and
 * QUEUE_FULL_WAIT_UNSET) leave a setting to the environment or the default. */
static GluetoolTracer *
make_tracer_waiting (const char *host,
                     guint       port,
                     gsize       queue_size,
                     guint       max_packet_size,
                     double      flush_interval_s,
                     double      queue_full_wait_s)
{
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer;

  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "service-name", "e2e",
                           "reporting-host", host,
                           "reporting-port", port,
                           "queue-size", (guint64) queue_size,
                           "max-packet-size", max_packet_size,
                           "flush-interval", flush_interval_s,
                           "queue-full-wait", queue_full_wait_s,
                           NULL);
  ck_assert_msg (error == NULL, "tracer: %s", error ? error->message : "");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);
  return tracer;
}

static GluetoolTracer *
make_tracer (const char *host,
             guint       port,
             gsize       queue_size,
             guint       max_packet_size,
             double      flush_interval_s)
{
  return make_tracer_waiting (host, port, queue_size, max_packet_size, flush_interval_s,
                              QUEUE_FULL_WAIT_UNSET);
}





static void
assert_string_tag (GPtrArray  *tags,
                   const char *key,
                   const char *value)
{
  JaegerTag *tag = test_find_tag (tags, key);

  ck_assert_msg (tag != NULL, "no tag '%s'", key);
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_STRING);
  ck_assert (tag->__isset_vStr);
  ck_assert_str_eq (tag->vStr, value);
}

/* ---- gluetool's example: a root and two children ---------------------------- */

START_TEST (test_nested_trace)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", test_receiver_get_port (receiver),
                                                  0, 0, 0);
  g_autoptr(GluetoolAction) root = NULL;
  g_autoptr(GluetoolAction) first = NULL;
  g_autoptr(GluetoolAction) second = NULL;
  g_autoptr(GPtrArray) datagrams = NULL;
  gint64 before = g_get_real_time ();
  gint64 after;
  JaegerSpan *root_span, *first_span, *second_span;
  JaegerTag *tag;
  TestDatagram *datagram;
  GluetoolTracerStats stats;

  root = gluetool_action_new ("some label", NULL);
  gluetool_action_set_tag_string (root, "foo", "bar");
  first = gluetool_action_new ("some subtask", root);
  test_expect_finish (first);
  second = gluetool_action_new ("another subtask", gluetool_action_get_current ());
  test_expect_finish (second);
  test_expect_finish (root);
  after = g_get_real_time ();
  test_expect_close (tracer, WAIT_S);

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 3, WAIT_S), 3);
  ck_assert_uint_eq (test_receiver_get_n_bad (receiver), 0);

  root_span = test_receiver_expect_span (receiver, "some label");
  first_span = test_receiver_expect_span (receiver, "some subtask");
  second_span = test_receiver_expect_span (receiver, "another subtask");

  /* One trace, 128-bit, and the tree by parent ids. */
  ck_assert (root_span->traceIdHigh != 0 || root_span->traceIdLow != 0);
  ck_assert_int_eq (first_span->traceIdHigh, root_span->traceIdHigh);
  ck_assert_int_eq (first_span->traceIdLow, root_span->traceIdLow);
  ck_assert_int_eq (second_span->traceIdHigh, root_span->traceIdHigh);
  ck_assert_int_eq (second_span->traceIdLow, root_span->traceIdLow);
  ck_assert_int_eq (root_span->parentSpanId, 0);
  ck_assert_int_eq (first_span->parentSpanId, root_span->spanId);
  ck_assert_int_eq (second_span->parentSpanId, root_span->spanId);
  ck_assert_int_ne (first_span->spanId, second_span->spanId);
  ck_assert_int_ne (first_span->spanId, 0);
  ck_assert_int_eq ((guint64) root_span->spanId, gluetool_action_get_span_id (root));
  {
    g_autofree char *trace_id = gluetool_action_dup_trace_id (root);
    g_autofree char *wire_id = g_strdup_printf ("%016" G_GINT64_MODIFIER "x%016" G_GINT64_MODIFIER "x",
                                                (guint64) root_span->traceIdHigh,
                                                (guint64) root_span->traceIdLow);
    ck_assert_str_eq (trace_id, wire_id);
  }

  /* Sampled, with the const sampler's tags on the root only. */
  ck_assert_int_eq (root_span->flags, 1);
  ck_assert_int_eq (first_span->flags, 1);
  assert_string_tag (root_span->tags, "foo", "bar");
  assert_string_tag (root_span->tags, "sampler.type", "const");
  tag = test_expect_tag (root_span, "sampler.param");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_BOOL);
  ck_assert (tag->vBool);
  ck_assert_ptr_null (test_find_tag (first_span->tags, "sampler.type"));

  /* Wall-clock starts within the test's window; children inside the root. */
  ck_assert_int_ge (root_span->startTime, before);
  ck_assert_int_le (root_span->startTime, after);
  ck_assert_int_ge (first_span->startTime, root_span->startTime);
  ck_assert_int_ge (second_span->startTime, first_span->startTime);
  ck_assert_int_ge (root_span->duration, 0);
  ck_assert_int_le (root_span->duration, after - before);
  ck_assert_int_le (first_span->duration, root_span->duration);
  ck_assert_int_le (second_span->duration, root_span->duration);

  /* The batch: ONEWAY, numbered from 1, with statistics and the process. */
  datagrams = test_receiver_get_datagrams (receiver);
  ck_assert_uint_ge (datagrams->len, 1);
  datagram = g_ptr_array_index (datagrams, 0);
  ck_assert_int_eq (datagram->message_type, 4);
  ck_assert_int_eq (datagram->seqid, 1);
  ck_assert (datagram->batch->__isset_seqNo);
  ck_assert_int_eq (datagram->batch->seqNo, 1);
  ck_assert (datagram->batch->__isset_stats);
  ck_assert_int_eq (datagram->batch->stats->fullQueueDroppedSpans, 0);
  ck_assert_int_eq (datagram->batch->stats->tooLargeDroppedSpans, 0);
  ck_assert_int_eq (datagram->batch->stats->failedToEmitSpans, 0);
  ck_assert_str_eq (datagram->batch->process->serviceName, "e2e");
  assert_string_tag (datagram->batch->process->tags, "client-uuid",
                     gluetool_tracer_get_client_uuid (tracer));
  assert_string_tag (datagram->batch->process->tags, "hostname", g_get_host_name ());
  ck_assert_ptr_nonnull (test_find_tag (datagram->batch->process->tags, "ip"));
  tag = test_find_tag (datagram->batch->process->tags, "jaeger.version");
  ck_assert_ptr_nonnull (tag);
  ck_assert_ptr_nonnull (strstr (tag->vStr, GLUETOOL_VERSION_S));

  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, 3);
  ck_assert_uint_eq (stats.spans_sent, 3);
  ck_assert_uint_eq (stats.datagrams_sent, datagrams->len);
  ck_assert_uint_eq (gluetool_tracer_stats_get_lost (&stats), 0);
}
END_TEST

/* ---- Tags and logs of every type ----------------------------------------------- */

START_TEST (test_tag_types)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", test_receiver_get_port (receiver),
                                                  0, 0, 0);
  g_autoptr(GluetoolAction) action = NULL;
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) strv = NULL;
  const char *words[] = { "a", "b", NULL };
  JaegerSpan *span;
  JaegerTag *tag;
  gint64 before = g_get_real_time ();
  JaegerLog *log;

  g_variant_builder_add (&builder, "{sv}", "from-new", g_variant_new_string ("yes"));
  action = gluetool_action_new_with_tags ("tagged", NULL, g_variant_builder_end (&builder));

  gluetool_action_set_tag_string (action, "string", "text");
  gluetool_action_set_tag_int64 (action, "min", G_MININT64);
  gluetool_action_set_tag_int64 (action, "max", G_MAXINT64);
  gluetool_action_set_tag_double (action, "double", -2.5);
  gluetool_action_set_tag_boolean (action, "false", FALSE);
  gluetool_action_set_tag_boolean (action, "true", TRUE);
  gluetool_action_set_tag (action, "byte", g_variant_new_byte (200));
  gluetool_action_set_tag (action, "uint32", g_variant_new_uint32 (G_MAXUINT32));
  gluetool_action_set_tag (action, "uint64-big", g_variant_new_uint64 (G_MAXUINT64));
  gluetool_action_set_tag (action, "uint64-small", g_variant_new_uint64 (7));
  gluetool_action_set_tag (action, "path", g_variant_new_object_path ("/org/example"));
  gluetool_action_set_tag (action, "boxed", g_variant_new_variant (g_variant_new_int32 (-5)));
  strv = g_variant_ref_sink (g_variant_new_strv (words, -1));
  gluetool_action_set_tag (action, "strv", strv);
  gluetool_action_set_tag_string (action, "replaced", "first");
  gluetool_action_set_tag_int64 (action, "replaced", 2);
  gluetool_action_add_log (action, g_variant_new_parsed ("{'event': <'started'>, 'n': <int64 3>}"));
  test_expect_finish (action);
  test_expect_close (tracer, WAIT_S);

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  span = test_receiver_expect_span (receiver, "tagged");

  assert_string_tag (span->tags, "from-new", "yes");
  assert_string_tag (span->tags, "string", "text");
  tag = test_expect_tag (span, "min");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_LONG);
  ck_assert_int_eq (tag->vLong, G_MININT64);
  tag = test_expect_tag (span, "max");
  ck_assert_int_eq (tag->vLong, G_MAXINT64);
  tag = test_expect_tag (span, "double");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_DOUBLE);
  ck_assert (tag->vDouble == -2.5);
  tag = test_expect_tag (span, "false");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_BOOL);
  ck_assert (tag->__isset_vBool);
  ck_assert (!tag->vBool);
  tag = test_expect_tag (span, "true");
  ck_assert (tag->vBool);
  tag = test_expect_tag (span, "byte");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_LONG);
  ck_assert_int_eq (tag->vLong, 200);
  tag = test_expect_tag (span, "uint32");
  ck_assert_int_eq (tag->vLong, G_MAXUINT32);
  assert_string_tag (span->tags, "uint64-big", "18446744073709551615");
  tag = test_expect_tag (span, "uint64-small");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_LONG);
  ck_assert_int_eq (tag->vLong, 7);
  assert_string_tag (span->tags, "path", "/org/example");
  tag = test_expect_tag (span, "boxed");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_LONG);
  ck_assert_int_eq (tag->vLong, -5);
  assert_string_tag (span->tags, "strv", "['a', 'b']");

  /* Set twice: one tag, the last value. */
  tag = test_expect_tag (span, "replaced");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_LONG);
  ck_assert_int_eq (tag->vLong, 2);
  {
    guint n_replaced = 0;

    for (guint i = 0; i < span->tags->len; i++)
      n_replaced += g_str_equal (((JaegerTag *) g_ptr_array_index (span->tags, i))->key, "replaced");
    ck_assert_uint_eq (n_replaced, 1);
  }
  /* 15 tags set + the 2 sampler tags of a root. */
  ck_assert_uint_eq (span->tags->len, 17);

  ck_assert (span->__isset_logs);
  ck_assert_uint_eq (span->logs->len, 1);
  log = g_ptr_array_index (span->logs, 0);
  ck_assert_int_ge (log->timestamp, before);
  ck_assert_int_le (log->timestamp, g_get_real_time ());
  assert_string_tag (log->fields, "event", "started");
  ck_assert_int_eq (((JaegerTag *) test_find_tag (log->fields, "n"))->vLong, 3);
}
END_TEST

/* ---- Many spans, many threads ------------------------------------------------------ */

#define N_THREADS 4
#define SPANS_PER_THREAD 2500

typedef struct {
  GluetoolAction *parent;      /* (unowned) shared, or NULL: a root of its own */
  guint64         own_root;    /* its span id, when it made one */
  guint64         n_recycled;  /* actions this thread made again */
} Producer;

static gpointer
make_spans (gpointer data)
{
  Producer *producer = data;
  g_autoptr(GluetoolAction) own_root = NULL;
  GluetoolAction *parent = producer->parent;
  guint n_kept;

  if (parent == NULL)
    {
      parent = own_root = gluetool_action_new ("root", NULL);
      producer->own_root = gluetool_action_get_span_id (own_root);
    }
  for (guint i = 0; i < SPANS_PER_THREAD; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("work", parent);

      gluetool_action_set_tag_int64 (action, "i", i);
      gluetool_action_set_tag_string (action, "thread", g_thread_self () == NULL ? "?" : "worker");
      gluetool_action_set_tag_boolean (action, "ok", TRUE);
      test_expect_finish (action);
    }
  if (own_root != NULL)
    test_expect_finish (own_root);
  gluetool_recycler_get_thread_counts (&n_kept, &producer->n_recycled);
  return NULL;
}

START_TEST (test_many_threads)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", test_receiver_get_port (receiver),
                                                  0, 0, 0);
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  g_autoptr(GPtrArray) spans = NULL;
  g_autoptr(GPtrArray) datagrams = NULL;
  g_autoptr(GHashTable) span_ids = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr(GHashTable) children_per_root = g_hash_table_new (g_int64_hash, g_int64_equal);
  GThread *threads[N_THREADS];
  Producer producers[N_THREADS];
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;
  guint64 shared_root = gluetool_action_get_span_id (root);
  /* Half the threads make children of one shared root, half of a root of
   * their own: every span arrives once, under the right parent. */
  const guint n_expected = N_THREADS * SPANS_PER_THREAD + 1 + N_THREADS / 2;

  for (guint i = 0; i < N_THREADS; i++)
    {
      producers[i] = (Producer) { i % 2 == 0 ? root : NULL, 0, 0 };
      threads[i] = g_thread_new ("producer", make_spans, &producers[i]);
    }
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  test_expect_finish (root);

  /* Each thread made its actions again from its own recycler, unless
   * memory checkers turned recycling off. */
  for (guint i = 0; i < N_THREADS; i++)
    {
      if (gluetool_recycler_is_enabled ())
        ck_assert_uint_ge (producers[i].n_recycled, SPANS_PER_THREAD - 1);
      else
        ck_assert_uint_eq (producers[i].n_recycled, 0);
    }

  ck_assert_msg (gluetool_tracer_flush (tracer, WAIT_S, &error), "flush: %s",
                 error ? error->message : "");
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, n_expected, WAIT_S), n_expected);

  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, n_expected);
  ck_assert_uint_eq (stats.spans_sent, n_expected);
  ck_assert_uint_eq (gluetool_tracer_stats_get_lost (&stats), 0);

  spans = test_receiver_get_spans (receiver);
  for (guint i = 0; i < spans->len; i++)
    {
      JaegerSpan *span = g_ptr_array_index (spans, i);

      ck_assert_msg (g_hash_table_add (span_ids, &span->spanId), "span id sent twice");
      if (span->parentSpanId != 0)
        {
          guint n = GPOINTER_TO_UINT (g_hash_table_lookup (children_per_root, &span->parentSpanId));

          g_hash_table_insert (children_per_root, &span->parentSpanId, GUINT_TO_POINTER (n + 1));
        }
    }
  ck_assert_uint_eq (g_hash_table_size (children_per_root), 1 + N_THREADS / 2);
  ck_assert_uint_eq (GPOINTER_TO_UINT (g_hash_table_lookup (children_per_root, &shared_root)),
                     N_THREADS / 2 * SPANS_PER_THREAD);
  for (guint i = 1; i < N_THREADS; i += 2)
    ck_assert_uint_eq (GPOINTER_TO_UINT (g_hash_table_lookup (children_per_root,
                                                              &producers[i].own_root)),
                       SPANS_PER_THREAD);

  /* Datagrams numbered 1, 2, 3 ... with no gap, none over the limit. */
  datagrams = test_receiver_get_datagrams (receiver);
  ck_assert_uint_eq (datagrams->len, stats.datagrams_sent);
  ck_assert_uint_gt (datagrams->len, 1);
  for (guint i = 0; i < datagrams->len; i++)
    {
      TestDatagram *datagram = g_ptr_array_index (datagrams, i);

      ck_assert_uint_le (g_bytes_get_size (datagram->bytes), 65000);
      ck_assert_int_eq (datagram->batch->seqNo, i + 1);
    }
  test_expect_close (tracer, WAIT_S);
}
END_TEST

/* ---- Threads that come and go ------------------------------------------------ */

#define CHURN_SPANS_PER_THREAD 5

static gpointer
make_a_few_spans (gpointer data)
{
  for (guint i = 0; i < CHURN_SPANS_PER_THREAD; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("churn", NULL);

      if (!gluetool_action_finish (action, NULL))
        return NULL;
    }
  return data;
}

/* Threads that each report a few spans and exit, @at_once at a time, for
 * @n_waves waves, with the default queue and no wait for room: nothing is
 * dropped, whatever the flush thread does meanwhile. A thread's lane goes
 * to the next thread when it exits, so the spans take no more of the
 * queue than their bytes (here a quarter of it at most): before, each new
 * thread took a block of its own until the flush thread's next interval,
 * and a few hundred threads spent the whole queue. */
static void
check_thread_churn (guint n_waves,
                    guint at_once)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", test_receiver_get_port (receiver),
                                                  0, 0, 0);
  const guint n_expected = n_waves * at_once * CHURN_SPANS_PER_THREAD;
  g_autofree GThread **threads = g_new0 (GThread *, at_once);
  GluetoolTracerStats stats;

  for (guint wave = 0; wave < n_waves; wave++)
    {
      for (guint i = 0; i < at_once; i++)
        threads[i] = g_thread_new ("short-lived", make_a_few_spans, GUINT_TO_POINTER (1));
      for (guint i = 0; i < at_once; i++)
        ck_assert_msg (g_thread_join (threads[i]) != NULL, "a finish failed");
    }

  test_expect_close (tracer, WAIT_S);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_dropped_queue_full, 0);
  ck_assert_uint_eq (stats.spans_reported, n_expected);
  ck_assert_uint_eq (stats.spans_sent, n_expected);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, n_expected, WAIT_S), n_expected);
}

START_TEST (test_thread_churn_one_at_a_time)
{
  check_thread_churn (2000, 1);
}
END_TEST

START_TEST (test_thread_churn_eight_at_a_time)
{
  check_thread_churn (250, 8);
}
END_TEST

/* ---- After a quiet time ------------------------------------------------------ */

static void
wait_until_idle (GluetoolReporter *reporter)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);

  while (!gluetool_reporter_is_idle (reporter) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  ck_assert_msg (gluetool_reporter_is_idle (reporter), "the flush thread never went idle");
}

/* Once a whole flush interval has passed without a span, the flush thread
 * sleeps "idle", and the next span wakes it and goes out at once, rather
 * than at the end of that sleep (a second, here twenty intervals). */
START_TEST (test_span_after_quiet_time_sent_at_once)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", test_receiver_get_port (receiver),
                                                  0, 0, 0.05);
  GluetoolReporter *reporter;
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(GluetoolAction) first = gluetool_action_new ("before the quiet time", NULL);

    test_expect_finish (first);
  }
  ck_assert_msg (gluetool_tracer_flush (tracer, WAIT_S, &error), "flush: %s",
                 error ? error->message : "");
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);

  /* Two intervals at least: the thread goes idle at the second. */
  reporter = gluetool_tracer_peek_reporter (tracer);
  wait_until_idle (reporter);
  ck_assert_uint_eq (gluetool_reporter_get_idle_wakes (reporter), 0);

  {
    g_autoptr(GluetoolAction) second = gluetool_action_new ("after the quiet time", NULL);

    test_expect_finish (second);
  }
  /* No flush(): only the push's own wake sends it before the idle sleep
   * ends, which the count tells apart. */
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);
  ck_assert_uint_eq (gluetool_reporter_get_idle_wakes (reporter), 1);
  test_receiver_expect_span (receiver, "after the quiet time");
  test_expect_close (tracer, WAIT_S);
}
END_TEST

/* A thread that finishes an action and stays alive, keeping its lane and
 * its block, until told to go. */
typedef struct {
  GMutex   lock;
  GCond    go;
  gboolean may_go;
} Holder;

static gpointer
finish_one_and_hold (gpointer data)
{
  Holder *holder = data;
  g_autoptr(GluetoolAction) action = gluetool_action_new ("held lane", NULL);

  if (!gluetool_action_finish (action, NULL))
    return NULL;
  g_mutex_lock (&holder->lock);
  while (!holder->may_go)
    g_cond_wait (&holder->go, &holder->lock);
  g_mutex_unlock (&holder->lock);
  return holder;
}

/* The same when the first span after the quiet time takes a block that
 * brings the queue to a datagram's worth (other threads keep theirs): the
 * push that would wake a sleeping thread wakes an idle one too. A queue of
 * 16 blocks of 256 bytes, and datagrams of 512: two blocks in use are a
 * datagram's worth. */
START_TEST (test_block_after_quiet_time_wakes_idle_thread)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", test_receiver_get_port (receiver),
                                                  4096, 512, 0.05);
  Holder holder = { .may_go = FALSE };
  GThread *first, *second;
  GluetoolReporter *reporter = gluetool_tracer_peek_reporter (tracer);

  g_mutex_init (&holder.lock);
  g_cond_init (&holder.go);
  first = g_thread_new ("holder", finish_one_and_hold, &holder);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  wait_until_idle (reporter);

  second = g_thread_new ("holder", finish_one_and_hold, &holder);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);
  ck_assert_uint_eq (gluetool_reporter_get_idle_wakes (reporter), 1);

  g_mutex_lock (&holder.lock);
  holder.may_go = TRUE;
  g_cond_broadcast (&holder.go);
  g_mutex_unlock (&holder.lock);
  ck_assert (g_thread_join (first) == &holder);
  ck_assert (g_thread_join (second) == &holder);
  g_cond_clear (&holder.go);
  g_mutex_clear (&holder.lock);
  test_expect_close (tracer, WAIT_S);
}
END_TEST

/* ---- Limits: a small queue, a small packet, a huge span -------------------------- */

/* The smallest queue: 512 bytes, two blocks of 256. Spans with a label
 * this long are about 200 bytes, so each block holds one, whatever the
 * lengths of their random ids: two spans fill the queue, from one thread.
 * The interval is long, so only the queue's own wake-up drains it. */
#define TINY_QUEUE 512
#define TINY_QUEUE_SLOTS 2
#define BLOCK_FILLER "0123456789012345678901234567890123456789012345678901234567890123456789" \
                     "012345678901234567890123456789"

/* By default a caller never waits: a burst into a queue too small for it
 * drops what finds the queue full, counts it and says so, and everything
 * else arrives. */
START_TEST (test_tiny_queue_drops_without_waiting)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", test_receiver_get_port (receiver),
                                                  TINY_QUEUE, 0, 60.0);
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;
  const guint n_spans = 2000;
  gboolean flushed;

  for (guint i = 0; i < n_spans; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("burst/" BLOCK_FILLER, NULL);
      test_expect_finish (action);
    }
  flushed = gluetool_tracer_flush (tracer, WAIT_S, &error);

  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, n_spans);
  ck_assert_uint_eq (stats.spans_waited_for_room, 0);
  ck_assert_uint_eq (stats.spans_sent + stats.spans_dropped_queue_full, n_spans);
  ck_assert_uint_eq (stats.spans_dropped_too_large + stats.spans_failed_to_send, 0);
  if (stats.spans_dropped_queue_full > 0)
    {
      ck_assert (!flushed);
      ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR,
                                      GLUETOOL_TRACER_ERROR_SPANS_LOST), "%s", error->message);
      ck_assert_msg (strstr (error->message, "dropped because the queue was full") != NULL,
                     "%s", error->message);
    }
  else
    ck_assert_msg (flushed, "%s", error->message);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, stats.spans_sent, WAIT_S),
                     stats.spans_sent);
  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_get_n_spans (receiver), stats.spans_sent);
}
END_TEST

/* With a queue-full wait, a caller waits for the flush thread to make room
 * rather than drop: the same burst loses nothing. */
START_TEST (test_tiny_queue_with_wait_loses_nothing)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer_waiting ("127.0.0.1",
                                                          test_receiver_get_port (receiver),
                                                          TINY_QUEUE, 0, 60.0, WAIT_S);
  GluetoolTracerStats stats;
  const guint n_spans = 2000;

  for (guint i = 0; i < n_spans; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("burst/" BLOCK_FILLER, NULL);
      test_expect_finish (action);
    }
  test_expect_close (tracer, WAIT_S);

  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, n_spans);
  ck_assert_uint_eq (stats.spans_dropped_queue_full, 0);
  ck_assert_uint_eq (stats.spans_sent, n_spans);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, n_spans, WAIT_S), n_spans);
}
END_TEST

/* The flush thread stuck (resolving), the default: once the queue is full,
 * every caller drops at once, with no wait, and the drops are counted; the
 * flush error says how many and why, and the agent hears of them in the
 * next datagram once the thread moves again, which later spans reach. */
START_TEST (test_stuck_flush_thread_drops_and_counts)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  TestResolver *resolver = test_resolver_install ();
  g_autoptr(GluetoolTracer) tracer = make_tracer ("blocked.test", test_receiver_get_port (receiver),
                                                  TINY_QUEUE, 0, 60.0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) datagrams = NULL;
  g_autofree char *expected = NULL;
  GluetoolTracerStats stats;
  TestDatagram *last;
  const guint n_spans = 2000;

  for (guint i = 0; i < n_spans; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("burst/" BLOCK_FILLER, NULL);
      test_expect_finish (action);
    }

  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, n_spans);
  /* All but the few the queue holds, and none waited. */
  ck_assert_uint_eq (stats.spans_dropped_queue_full, n_spans - TINY_QUEUE_SLOTS);
  ck_assert_uint_eq (stats.spans_waited_for_room, 0);
  ck_assert_uint_eq (stats.spans_sent, 0);

  ck_assert (test_resolver_wait_blocked (resolver, WAIT_S));
  test_resolver_unblock (resolver);

  ck_assert (!gluetool_tracer_flush (tracer, WAIT_S, &error));
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST),
                 "%s", error->message);
  expected = g_strdup_printf ("%u spans were lost since the last flush: %u dropped because the "
                              "queue was full (spans were finished faster than the tracer's "
                              "thread sent them; a larger queue-size or a queue-full-wait would "
                              "keep them)", n_spans - TINY_QUEUE_SLOTS, n_spans - TINY_QUEUE_SLOTS);
  ck_assert_str_eq (error->message, expected);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, TINY_QUEUE_SLOTS, WAIT_S),
                     TINY_QUEUE_SLOTS);

  /* The next datagram tells the agent how many were dropped. */
  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("after", NULL);
    test_expect_finish (action);
  }
  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, TINY_QUEUE_SLOTS + 1, WAIT_S),
                     TINY_QUEUE_SLOTS + 1);
  test_receiver_expect_span (receiver, "after");
  datagrams = test_receiver_get_datagrams (receiver);
  last = g_ptr_array_index (datagrams, datagrams->len - 1);
  ck_assert_int_eq (last->batch->stats->fullQueueDroppedSpans, n_spans - TINY_QUEUE_SLOTS);
  ck_assert_uint_eq (test_receiver_get_n_spans (receiver), TINY_QUEUE_SLOTS + 1);

  g_clear_object (&tracer);
  test_resolver_uninstall (resolver);
}
END_TEST

/* ---- Waiting for room (queue-full-wait) -------------------------------------- */

static gpointer
finish_in_thread (gpointer label)
{
  g_autoptr(GluetoolAction) action = gluetool_action_new (label, NULL);

  return GINT_TO_POINTER (gluetool_action_finish (action, NULL));
}

/* Waits until @n callers have begun waiting for room in @tracer's queue.
 * The count moves under the lock the wait releases, so once it is seen, a
 * caller is waiting or has finished waiting. */
static gboolean
wait_for_waiters (GluetoolTracer *tracer,
                  guint64         n)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);
  GluetoolTracerStats stats;

  for (;;)
    {
      gluetool_tracer_get_stats (tracer, &stats);
      if (stats.spans_waited_for_room >= n)
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_thread_yield ();
    }
}

/* A tracer whose queue is full and stays so until the test unblocks the
 * lookup of "blocked.test": its blocks filled by "queued 0/..." and "queued 1/...". */
static GluetoolTracer *
make_full_tracer (TestReceiver *receiver,
                  double        queue_full_wait_s)
{
  GluetoolTracer *tracer = make_tracer_waiting ("blocked.test", test_receiver_get_port (receiver),
                                                TINY_QUEUE, 0, 60.0, queue_full_wait_s);
  GluetoolTracerStats stats;

  for (guint i = 0; i < TINY_QUEUE_SLOTS; i++)
    {
      g_autofree char *label = g_strdup_printf ("queued %u/" BLOCK_FILLER, i);
      g_autoptr(GluetoolAction) action = gluetool_action_new (label, NULL);

      test_expect_finish (action);
    }
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, TINY_QUEUE_SLOTS);
  ck_assert_uint_eq (stats.spans_dropped_queue_full + stats.spans_waited_for_room, 0);
  return tracer;
}

/* A caller that finds the queue full waits, and its span goes once the flush
 * thread makes room: nothing is dropped. The wait allowed is an hour, so the
 * test ends only because the room woke it. */
START_TEST (test_wait_for_room_delivers)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  TestResolver *resolver = test_resolver_install ();
  g_autoptr(GluetoolTracer) tracer = make_full_tracer (receiver, 3600.0);
  GluetoolTracerStats stats;
  GThread *waiter;

  waiter = g_thread_new ("waiter", finish_in_thread, "waited");
  ck_assert (wait_for_waiters (tracer, 1));
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, TINY_QUEUE_SLOTS);

  /* The flush thread moves, drains the queue, and the waiter's span goes in. */
  ck_assert (test_resolver_wait_blocked (resolver, WAIT_S));
  test_resolver_unblock (resolver);
  ck_assert (GPOINTER_TO_INT (g_thread_join (waiter)));

  test_expect_close (tracer, WAIT_S);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, TINY_QUEUE_SLOTS + 1);
  ck_assert_uint_eq (stats.spans_sent, TINY_QUEUE_SLOTS + 1);
  ck_assert_uint_eq (stats.spans_waited_for_room, 1);
  ck_assert_uint_eq (gluetool_tracer_stats_get_lost (&stats), 0);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, TINY_QUEUE_SLOTS + 1, WAIT_S),
                     TINY_QUEUE_SLOTS + 1);
  test_receiver_expect_span (receiver, "waited");

  g_clear_object (&tracer);
  test_resolver_uninstall (resolver);
}
END_TEST

/* A wait that runs out drops the span and counts it; as the flush thread
 * consumed nothing meanwhile, it is taken to be stuck, and the next caller
 * drops at once without waiting. The flush error names the wait. */
START_TEST (test_wait_for_room_runs_out)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  TestResolver *resolver = test_resolver_install ();
  g_autoptr(GluetoolTracer) tracer = make_full_tracer (receiver, 0.05);
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;

  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("timed out", NULL);
    test_expect_finish (action);
  }
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_waited_for_room, 1);
  ck_assert_uint_eq (stats.spans_dropped_queue_full, 1);

  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("stuck", NULL);
    test_expect_finish (action);
  }
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_waited_for_room, 1);
  ck_assert_uint_eq (stats.spans_dropped_queue_full, 2);
  ck_assert_uint_eq (stats.spans_reported, TINY_QUEUE_SLOTS + 2);

  ck_assert (test_resolver_wait_blocked (resolver, WAIT_S));
  test_resolver_unblock (resolver);
  ck_assert (!gluetool_tracer_flush (tracer, WAIT_S, &error));
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST),
                 "%s", error->message);
  ck_assert_str_eq (error->message,
                    "2 spans were lost since the last flush: 2 dropped because the queue was "
                    "full and the tracer's thread made no room within the queue-full-wait of "
                    "0.05 s");
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, TINY_QUEUE_SLOTS, WAIT_S),
                     TINY_QUEUE_SLOTS);

  test_expect_close (tracer, WAIT_S);
  ck_assert_ptr_null (test_receiver_find_span (receiver, "timed out"));
  ck_assert_ptr_null (test_receiver_find_span (receiver, "stuck"));
  g_clear_object (&tracer);
  test_resolver_uninstall (resolver);
}
END_TEST

typedef struct {
  GluetoolTracer *tracer;
  gboolean        closed;
  GError         *error;      /* (owned) (nullable) */
} Closing;

static gpointer
close_in_thread (gpointer data)
{
  Closing *closing = data;

  closing->closed = gluetool_tracer_close (closing->tracer, 3600.0, &closing->error);
  return NULL;
}

/* close() wakes a caller waiting for room at once: it gives up, its span
 * counted as reported after close. The wait allowed is an hour, and close()
 * itself cannot end while the flush thread is stuck, so the caller returns
 * only because close() woke it. */
START_TEST (test_close_wakes_waiting_caller)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  TestResolver *resolver = test_resolver_install ();
  g_autoptr(GluetoolTracer) tracer = make_full_tracer (receiver, 3600.0);
  Closing closing = { tracer, FALSE, NULL };
  GluetoolTracerStats stats;
  GThread *waiter, *closer;

  waiter = g_thread_new ("waiter", finish_in_thread, "woken by close");
  ck_assert (wait_for_waiters (tracer, 1));

  closer = g_thread_new ("closer", close_in_thread, &closing);
  ck_assert (GPOINTER_TO_INT (g_thread_join (waiter)));
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_sent, 0);

  /* Now let the flush thread, and close(), finish. */
  ck_assert (test_resolver_wait_blocked (resolver, WAIT_S));
  test_resolver_unblock (resolver);
  g_thread_join (closer);
  ck_assert (!closing.closed);
  ck_assert_msg (g_error_matches (closing.error, GLUETOOL_TRACER_ERROR,
                                  GLUETOOL_TRACER_ERROR_SPANS_LOST), "%s", closing.error->message);
  ck_assert_str_eq (closing.error->message, "1 span was lost since the last flush: 1 failed to send");
  g_clear_error (&closing.error);

  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, TINY_QUEUE_SLOTS + 1);
  ck_assert_uint_eq (stats.spans_sent, TINY_QUEUE_SLOTS);
  ck_assert_uint_eq (stats.spans_failed_to_send, 1);
  ck_assert_uint_eq (stats.spans_dropped_queue_full, 0);
  ck_assert_uint_eq (stats.spans_waited_for_room, 1);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, TINY_QUEUE_SLOTS, WAIT_S),
                     TINY_QUEUE_SLOTS);
  ck_assert_ptr_null (test_receiver_find_span (receiver, "woken by close"));

  g_clear_object (&tracer);
  test_resolver_uninstall (resolver);
}
END_TEST

START_TEST (test_small_packets_split_batches)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", test_receiver_get_port (receiver),
                                                  0, 600, 0);
  g_autoptr(GPtrArray) datagrams = NULL;
  GluetoolTracerStats stats;
  const guint n_spans = 60;
  guint n_received = 0;

  for (guint i = 0; i < n_spans; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("small", NULL);

      gluetool_action_set_tag_int64 (action, "i", i);
      test_expect_finish (action);
    }
  test_expect_close (tracer, WAIT_S);

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, n_spans, WAIT_S), n_spans);
  datagrams = test_receiver_get_datagrams (receiver);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (datagrams->len, stats.datagrams_sent);
  ck_assert_uint_gt (datagrams->len, 2);
  for (guint i = 0; i < datagrams->len; i++)
    {
      TestDatagram *datagram = g_ptr_array_index (datagrams, i);
      gsize size = g_bytes_get_size (datagram->bytes);

      ck_assert_uint_le (size, 600);
      ck_assert_ptr_nonnull (datagram->batch);
      n_received += datagram->batch->spans->len;
      /* Full datagrams: one more span would not have fitted. Each span here
       * is at least 70 bytes, so a datagram that is not the last is within
       * a span's size of the limit. */
      if (i + 1 < datagrams->len)
        ck_assert_uint_gt (size, 600 - 120);
    }
  ck_assert_uint_eq (n_received, n_spans);
}
END_TEST

START_TEST (test_too_large_span_dropped)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", test_receiver_get_port (receiver),
                                                  0, 0, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *huge = g_strnfill (70000, 'x');
  g_autofree char *nearly = g_strnfill (64000, 'y');
  GluetoolTracerStats stats;

  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("huge", NULL);
    gluetool_action_set_tag_string (action, "payload", huge);
    test_expect_finish (action);
  }
  {
    /* Fits the packet only without much else: packing must size it exactly. */
    g_autoptr(GluetoolAction) action = gluetool_action_new ("nearly", NULL);
    gluetool_action_set_tag_string (action, "payload", nearly);
    test_expect_finish (action);
  }
  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("normal", NULL);
    test_expect_finish (action);
  }

  ck_assert (!gluetool_tracer_flush (tracer, WAIT_S, &error));
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST),
                 "%s", error->message);
  ck_assert_ptr_nonnull (strstr (error->message, "too large"));
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);
  test_receiver_expect_span (receiver, "nearly");
  test_receiver_expect_span (receiver, "normal");
  ck_assert_ptr_null (test_receiver_find_span (receiver, "huge"));

  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_dropped_too_large, 1);
  ck_assert_uint_eq (stats.spans_sent, 2);
  test_expect_close (tracer, WAIT_S);
}
END_TEST

/* ---- The network misbehaving ---------------------------------------------------- */

static guint16
free_udp_port (void)
{
  g_autoptr(TestReceiver) probe = test_receiver_new ("127.0.0.1");

  return test_receiver_get_port (probe);
}

START_TEST (test_unreachable_agent_counted)
{
  guint16 port = free_udp_port ();
  g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", port, 0, 0, 0);
  g_autoptr(TestReceiver) receiver = NULL;
  GluetoolTracerStats stats;

  /* Nothing listens: the kernel's "port unreachable" comes back after each
   * datagram, and every one is counted as failed, the first included: on
   * loopback the refusal is back before the flush thread's check. */
  for (guint round = 1; round <= 20; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GluetoolAction) action = gluetool_action_new ("unheard", NULL);

      test_expect_finish (action);
      ck_assert (!gluetool_tracer_flush (tracer, WAIT_S, &error));
      ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR,
                                      GLUETOOL_TRACER_ERROR_SPANS_LOST), "%s", error->message);
      ck_assert_msg (strstr (error->message, "1 failed to send") != NULL
                     && strstr (error->message, "refused") != NULL, "%s", error->message);
      gluetool_tracer_get_stats (tracer, &stats);
      ck_assert_uint_eq (stats.spans_reported, round);
      ck_assert_uint_eq (stats.spans_failed_to_send, round);
      ck_assert_uint_eq (stats.spans_sent, 0);
      ck_assert_uint_eq (stats.datagrams_sent, 0);
    }

  /* An agent that comes up later gets the spans from then on. */
  receiver = test_receiver_new_on_port ("127.0.0.1", port);
  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("heard", NULL);
    test_expect_finish (action);
  }
  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  test_receiver_expect_span (receiver, "heard");
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_sent, 1);
  ck_assert_uint_eq (stats.spans_failed_to_send, 20);
}
END_TEST

START_TEST (test_host_not_found)
{
  TestResolver *resolver = test_resolver_install ();
  g_autoptr(GluetoolTracer) tracer = make_tracer ("nowhere.invalid", 6831, 0, 0, 0);
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;

  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("lost", NULL);
    test_expect_finish (action);
  }
  ck_assert (!gluetool_tracer_flush (tracer, WAIT_S, &error));
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST),
                 "%s", error->message);
  ck_assert_ptr_nonnull (strstr (error->message, "nowhere.invalid"));
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_failed_to_send, 1);
  ck_assert_uint_ge (test_resolver_get_n_lookups (resolver, "nowhere.invalid"), 1);

  g_clear_error (&error);
  ck_assert (gluetool_tracer_close (tracer, WAIT_S, &error));
  g_clear_object (&tracer);
  test_resolver_uninstall (resolver);
}
END_TEST

START_TEST (test_resolved_again_after_failures)
{
  TestResolver *resolver = test_resolver_install ();
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  /* "moving.test" is first ::1, where nothing listens on this port, then
   * 127.0.0.1, where the receiver is. */
  g_autoptr(GluetoolTracer) tracer = make_tracer ("moving.test", test_receiver_get_port (receiver),
                                                  0, 0, 0);
  guint rounds = 0;

  while (test_receiver_get_n_spans (receiver) == 0 && rounds++ < 200)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GluetoolAction) action = gluetool_action_new ("moving", NULL);

      test_expect_finish (action);
      gluetool_tracer_flush (tracer, WAIT_S, &error);
      test_receiver_wait_for_spans (receiver, 1, 0.01);
    }
  ck_assert_uint_ge (test_receiver_get_n_spans (receiver), 1);
  ck_assert_uint_ge (test_resolver_get_n_lookups (resolver, "moving.test"), 2);

  gluetool_tracer_close (tracer, WAIT_S, NULL);
  g_clear_object (&tracer);
  test_resolver_uninstall (resolver);
}
END_TEST

START_TEST (test_close_times_out_on_blocked_path)
{
  TestResolver *resolver = test_resolver_install ();
  g_autoptr(GluetoolTracer) tracer = make_tracer ("blocked.test", 6831, 0, 0, 0);
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;
  gint64 started;

  for (guint i = 0; i < 10; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("stuck", NULL);
      test_expect_finish (action);
    }

  /* The flush thread is stuck resolving: the spans cannot go anywhere. */
  started = g_get_monotonic_time ();
  ck_assert (!gluetool_tracer_flush (tracer, 0.05, &error));
  ck_assert_msg (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT), "%s", error->message);
  ck_assert_ptr_nonnull (strstr (error->message, "10 spans"));
  g_clear_error (&error);
  ck_assert (test_resolver_wait_blocked (resolver, WAIT_S));

  ck_assert (!gluetool_tracer_close (tracer, 0.2, &error));
  ck_assert_msg (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT), "%s", error->message);
  ck_assert_ptr_nonnull (strstr (error->message, "10 spans"));
  /* close() gave up at its deadline rather than waiting for the lookup. */
  ck_assert_int_lt (g_get_monotonic_time () - started, (gint64) (WAIT_S * G_USEC_PER_SEC));

  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, 10);
  ck_assert_uint_eq (stats.spans_sent, 0);
  ck_assert_uint_eq (stats.spans_failed_to_send, 10);
  ck_assert (gluetool_tracer_is_closed (tracer));
  ck_assert_ptr_null (gluetool_tracer_get_default ());

  g_clear_object (&tracer);
  test_resolver_unblock (resolver);
  test_resolver_uninstall (resolver);
}
END_TEST

START_TEST (test_ipv6_agent)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("::1");
  g_autoptr(GluetoolTracer) tracer = make_tracer ("[::1]", test_receiver_get_port (receiver),
                                                  0, 0, 0);

  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("over v6", NULL);
    test_expect_finish (action);
  }
  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  test_receiver_expect_span (receiver, "over v6");
}
END_TEST

/* ---- close() while other threads keep finishing actions ------------------- */

typedef struct {
  gint stop;      /* (atomic) */
  gint finished;  /* (atomic) actions finished so far */
} Producers;

static gpointer
produce_until_stopped (gpointer data)
{
  Producers *producers = data;

  while (!g_atomic_int_get (&producers->stop))
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("racing", NULL);

      test_expect_finish (action);
      g_atomic_int_inc (&producers->finished);
    }
  return NULL;
}

START_TEST (test_close_while_reporting)
{
  /* Every span reported must end as sent or counted lost, whatever close()
   * races with: a push that saw the tracer open and claimed its place after
   * close() had counted would be neither. Many short cycles give the race
   * many chances. */
  for (guint cycle = 0; cycle < 20; cycle++)
    {
      g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
      g_autoptr(GluetoolTracer) tracer = make_tracer ("127.0.0.1", test_receiver_get_port (receiver),
                                                      0, 0, 0);
      Producers producers = { 0, 0 };
      GThread *threads[3];
      GluetoolTracerStats stats;

      for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
        threads[i] = g_thread_new ("racing", produce_until_stopped, &producers);
      /* Let them get going: close() must find spans in flight. */
      while (g_atomic_int_get (&producers.finished) < 300)
        g_thread_yield ();

      gluetool_tracer_close (tracer, WAIT_S, NULL);
      g_atomic_int_set (&producers.stop, 1);
      for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
        g_thread_join (threads[i]);

      gluetool_tracer_get_stats (tracer, &stats);
      ck_assert_uint_gt (stats.spans_sent, 0);
      ck_assert_msg (stats.spans_reported == stats.spans_sent + gluetool_tracer_stats_get_lost (&stats),
                     "cycle %u: reported %" G_GUINT64_FORMAT ", sent %" G_GUINT64_FORMAT
                     ", lost %" G_GUINT64_FORMAT, cycle, stats.spans_reported, stats.spans_sent,
                     gluetool_tracer_stats_get_lost (&stats));
      ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, stats.spans_sent, WAIT_S),
                         stats.spans_sent);
    }
}
END_TEST

static Suite *
e2e_suite (void)
{
  Suite *suite = suite_create ("e2e");
  TCase *tc;

  tc = tcase_create ("trace");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_nested_trace);
  tcase_add_test (tc, test_tag_types);
  tcase_add_test (tc, test_many_threads);
  tcase_add_test (tc, test_thread_churn_one_at_a_time);
  tcase_add_test (tc, test_thread_churn_eight_at_a_time);
  tcase_add_test (tc, test_span_after_quiet_time_sent_at_once);
  tcase_add_test (tc, test_block_after_quiet_time_wakes_idle_thread);
  tcase_add_test (tc, test_close_while_reporting);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("limits");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_tiny_queue_drops_without_waiting);
  tcase_add_test (tc, test_tiny_queue_with_wait_loses_nothing);
  tcase_add_test (tc, test_stuck_flush_thread_drops_and_counts);
  tcase_add_test (tc, test_small_packets_split_batches);
  tcase_add_test (tc, test_too_large_span_dropped);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("queue-full-wait");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_wait_for_room_delivers);
  tcase_add_test (tc, test_wait_for_room_runs_out);
  tcase_add_test (tc, test_close_wakes_waiting_caller);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("network");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_unreachable_agent_counted);
  tcase_add_test (tc, test_host_not_found);
  tcase_add_test (tc, test_resolved_again_after_failures);
  tcase_add_test (tc, test_close_times_out_on_blocked_path);
  tcase_add_test (tc, test_ipv6_agent);
  suite_add_tcase (suite, tc);

  return suite;
}

int
main (void)
{
  /* The tests choose every setting, the queue-full wait included. */
  test_unset_tracing_environment ();
  return test_run_suite_tap (e2e_suite ());
}
