/* test-recycler.c: finished actions made again, and only when nobody can
 * tell
 *
 * SPDX-License-Identifier: MIT
 *
 * Each test turns recycling on whatever G_SLICE says (the valgrind setup
 * sets always-malloc, which turns it off) and releases what its thread kept
 * afterwards, so every test starts with an empty recycler, forked or not.
 *
 * GSlice hands a freed block straight back to the next allocation of its
 * size, so an action at the same address as a dropped one proves nothing;
 * the recycler's per-thread counts say whether it was kept and made again.
 */

#include <check.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "handler-flag-private.h"
#include "config-private.h"
#include "recycler-private.h"
#include "receiver.h"
#include "test-expect.h"
#include "check-tap.h"
#include "sync-private.h"

#define WAIT_S 20.0

/* Whether the running test reads GLib's handler flag: the probe vouched for
 * it, and the test case did not force the fallback (GLib's locked look). */
static gboolean flag_trusted;

static void
fixture_setup (void)
{
  gluetool_recycler_set_enabled (TRUE);
  gluetool_recycler_clear_thread ();
  flag_trusted = gluetool_handler_flag_probe_passed ();
  ck_assert_ptr_null (gluetool_action_get_current ());
}

static void
fixture_teardown (void)
{
  gluetool_action_set_thread_root (NULL);
  gluetool_recycler_clear_thread ();
}

/* The same tests, with GLib's flag ignored as if the probe had failed. */
static void
fallback_fixture_setup (void)
{
  fixture_setup ();
  gluetool_handler_flag_force_unknown (TRUE);
  flag_trusted = FALSE;
}

static void
fallback_fixture_teardown (void)
{
  fixture_teardown ();
  gluetool_handler_flag_force_unknown (FALSE);
}

static guint
n_kept (void)
{
  guint kept;
  guint64 taken;

  gluetool_recycler_get_thread_counts (&kept, &taken);
  return kept;
}

static guint64
n_taken (void)
{
  guint kept;
  guint64 taken;

  gluetool_recycler_get_thread_counts (&kept, &taken);
  return taken;
}

static void
set_flag (gpointer  data,
          GObject  *where_the_object_was)
{
  gboolean *flag = data;

  *flag = TRUE;
}

static void
set_flag_closure (gpointer  data,
                  GClosure *closure)
{
  gboolean *flag = data;

  *flag = TRUE;
}

static void
on_signal (GObject *object,
           gpointer user_data)
{
}

typedef struct {
  gint count;
} FinishedProbe;

static void
count_finished (GluetoolAction *action,
                gpointer        user_data)
{
  FinishedProbe *probe = user_data;

  probe->count++;
}

/* A finished action that nobody holds, made again: the address an action
 * had is only ever compared, as a number. */
static guintptr
finish_and_drop (GluetoolAction *action)
{
  guintptr address = (guintptr) action;

  test_expect_finish (action);
  g_object_unref (action);
  return address;
}

/* ---- Made again -------------------------------------------------------------- */

START_TEST (test_dropped_action_made_again)
{
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  GluetoolAction *first = gluetool_action_new ("a label longer than the forty-seven bytes kept inline", root);
  g_autoptr(GluetoolAction) second = NULL;
  guint64 first_span_id = gluetool_action_get_span_id (first);
  guintptr first_address;

  g_autoptr(GluetoolSpanContext) context = NULL;
  guint64 taken_before;

  gluetool_action_set_tag_string (first, "only-first", "yes");
  first_address = finish_and_drop (first);
  ck_assert_uint_eq (n_kept (), 1);

  taken_before = n_taken ();
  second = gluetool_action_new ("second", NULL);
  ck_assert_uint_eq ((guintptr) second, first_address);
  ck_assert_uint_eq (n_taken (), taken_before + 1);
  ck_assert_uint_eq (n_kept (), 0);

  /* Nothing of the first life is left: it was a child, it is a root now. */
  ck_assert_str_eq (gluetool_action_get_label (second), "second");
  ck_assert_ptr_null (gluetool_action_get_parent (second));
  context = gluetool_action_dup_context (second);
  ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (context), 0);
  ck_assert_uint_ne (gluetool_span_context_get_trace_id_low (context)
                     ^ gluetool_span_context_get_trace_id_high (context), 0);
  ck_assert (!gluetool_action_is_finished (second));
  ck_assert_ptr_eq (gluetool_action_get_current (), second);
  ck_assert_uint_ne (gluetool_action_get_span_id (second), first_span_id);

  test_expect_finish (second);
  test_expect_finish (root);
}
END_TEST

/* Dropped unfinished, the g_autoptr way: finished by its last unref, and
 * kept all the same, as nobody else holds it; reported once. */
START_TEST (test_dropped_unfinished_action_made_again)
{
  g_autoptr(GluetoolAction) second = NULL;
  GluetoolAction *first = gluetool_action_new ("first", NULL);
  guintptr first_address = (guintptr) first;
  FinishedProbe probe = { 0 };
  guint64 taken_before;

  g_object_unref (first);
  ck_assert_uint_eq (n_kept (), 1);
  ck_assert_ptr_null (gluetool_action_get_current ());

  taken_before = n_taken ();
  second = gluetool_action_new ("second", NULL);
  ck_assert_uint_eq ((guintptr) second, first_address);
  ck_assert_uint_eq (n_taken (), taken_before + 1);
  ck_assert_str_eq (gluetool_action_get_label (second), "second");
  ck_assert (!gluetool_action_is_finished (second));

  /* The signal still works on the object made again. */
  g_signal_connect (second, "finished", G_CALLBACK (count_finished), &probe);
  test_expect_finish (second);
  ck_assert_int_eq (probe.count, 1);
}
END_TEST

/* Watched when dropped unfinished: freed at that unref, as without
 * recycling, so the watcher hears of it at once. */
START_TEST (test_dropped_unfinished_watched_action_freed)
{
  GluetoolAction *watched = gluetool_action_new ("watched", NULL);
  GluetoolAction *handled = gluetool_action_new ("handled", NULL);
  FinishedProbe probe = { 0 };
  gboolean gone = FALSE;
  gboolean handler_destroyed = FALSE;

  g_object_weak_ref (G_OBJECT (watched), set_flag, &gone);
  g_object_unref (watched);
  ck_assert (gone);

  g_signal_connect_data (handled, "finished", G_CALLBACK (count_finished), &probe,
                         (GClosureNotify) set_flag_closure, 0);
  g_signal_connect_data (handled, "finished", G_CALLBACK (on_signal), &handler_destroyed,
                         (GClosureNotify) set_flag_closure, 0);
  g_object_unref (handled);
  ck_assert_int_eq (probe.count, 1);
  ck_assert (handler_destroyed);
  ck_assert_uint_eq (n_kept (), 0);
}
END_TEST

START_TEST (test_held_action_not_made_again)
{
  g_autoptr(GluetoolAction) first = gluetool_action_new ("first", NULL);
  g_autoptr(GluetoolAction) second = NULL;

  guint64 taken_before;

  test_expect_finish (first);
  ck_assert_uint_eq (n_kept (), 1);
  taken_before = n_taken ();
  second = gluetool_action_new ("second", NULL);

  ck_assert_ptr_ne (second, first);
  ck_assert_uint_eq (n_taken (), taken_before);
  ck_assert_str_eq (gluetool_action_get_label (first), "first");
  ck_assert (gluetool_action_is_finished (first));
  test_expect_finish (second);
}
END_TEST

/* A loop of children of one parent: every child after the first is the
 * same object, made again. */
START_TEST (test_loop_reuses_one_action)
{
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  guintptr address = finish_and_drop (gluetool_action_new ("child", root));
  guint64 taken_before = n_taken ();

  for (guint i = 0; i < 100; i++)
    {
      GluetoolAction *child = gluetool_action_new ("child", root);

      ck_assert_uint_eq ((guintptr) child, address);
      ck_assert_ptr_eq (gluetool_action_get_parent (child), root);
      gluetool_action_set_tag_int64 (child, "i", i);
      finish_and_drop (child);
    }
  ck_assert_uint_eq (n_taken (), taken_before + 100);
  test_expect_finish (root);
}
END_TEST

/* A child holds no reference to its parent, finished or not: a parent held
 * by g_autoptr finishes at the end of its scope although a child it had is
 * kept by the recycler and another is held by the caller. The held child
 * finds its parent while the parent is unfinished on this thread's stack,
 * finished child or not, and no longer once the parent is gone. */
START_TEST (test_children_do_not_hold_parent)
{
  FinishedProbe probe = { 0 };
  GluetoolAction *held_child;
  gboolean parent_gone = FALSE;

  {
    g_autoptr(GluetoolAction) parent = gluetool_action_new ("parent", NULL);

    g_object_weak_ref (G_OBJECT (parent), set_flag, &parent_gone);
    g_signal_connect (parent, "finished", G_CALLBACK (count_finished), &probe);
    finish_and_drop (gluetool_action_new ("kept child", parent));
    ck_assert_uint_eq (n_kept (), 1);
    held_child = gluetool_action_new ("held child", parent);
    ck_assert_ptr_eq (gluetool_action_get_parent (held_child), parent);
    test_expect_finish (held_child);
    ck_assert_ptr_eq (gluetool_action_get_parent (held_child), parent);
  } /* the parent's last reference */

  ck_assert (parent_gone);
  ck_assert_int_eq (probe.count, 1);
  ck_assert_ptr_null (gluetool_action_get_current ());
  ck_assert_ptr_null (gluetool_action_get_parent (held_child));
  g_object_unref (held_child);
}
END_TEST

/* A parent dropped before its unfinished child is finished, and reported,
 * at that moment, and kept by the recycler as any action dropped alone.
 * The child no longer finds it, and is reported as its child all the same. */
START_TEST (test_parent_dropped_before_child)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = gluetool_tracer_new ("recycler", "127.0.0.1",
                                                          test_receiver_get_port (receiver),
                                                          &error);
  GluetoolAction *parent;
  GluetoolAction *child;
  g_autoptr(GluetoolAction) property_parent = NULL;
  g_autofree char *parent_trace_id = NULL;
  g_autofree char *child_trace_id = NULL;
  guint64 parent_span_id;
  JaegerSpan *parent_span;
  JaegerSpan *child_span;

  ck_assert_ptr_null (error);
  parent = gluetool_action_new ("parent", NULL);
  child = gluetool_action_new ("child", parent);
  parent_span_id = gluetool_action_get_span_id (parent);
  parent_trace_id = gluetool_action_dup_trace_id (parent);
  ck_assert_ptr_eq (gluetool_action_get_parent (child), parent);

  g_object_unref (parent);
  ck_assert_uint_eq (n_kept (), 1);
  ck_assert_ptr_eq (gluetool_action_get_current (), child);
  ck_assert_ptr_null (gluetool_action_get_parent (child));
  g_object_get (child, "parent", &property_parent, NULL);
  ck_assert_ptr_null (property_parent);

  /* Reported already: the flush sends it while the child is unfinished. */
  ck_assert_msg (gluetool_tracer_flush (tracer, WAIT_S, &error), "flush: %s",
                 error != NULL ? error->message : "");
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  parent_span = test_receiver_expect_span (receiver, "parent");
  ck_assert_int_eq (parent_span->spanId, (gint64) parent_span_id);
  ck_assert (!gluetool_action_is_finished (child));

  child_trace_id = gluetool_action_dup_trace_id (child);
  ck_assert_str_eq (child_trace_id, parent_trace_id);
  finish_and_drop (child);
  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);
  child_span = test_receiver_expect_span (receiver, "child");
  ck_assert_int_eq (child_span->parentSpanId, (gint64) parent_span_id);
  ck_assert_int_eq (child_span->traceIdLow, parent_span->traceIdLow);
  ck_assert_int_eq (child_span->traceIdHigh, parent_span->traceIdHigh);
}
END_TEST

/* A parent finished before its child (out of order) and dropped is made
 * again while the child is unfinished: the child holds no reference, and
 * finds no parent once its parent is a new action with a new span id. */
START_TEST (test_parent_made_again_while_child_unfinished)
{
  GluetoolAction *parent = gluetool_action_new ("parent", NULL);
  g_autoptr(GluetoolAction) child = gluetool_action_new ("child", parent);
  g_autoptr(GluetoolAction) next = NULL;
  g_autoptr(GluetoolSpanContext) child_context = NULL;
  guint64 parent_span_id = gluetool_action_get_span_id (parent);
  guintptr parent_address;
  guint64 taken_before;

  parent_address = finish_and_drop (parent);
  ck_assert_uint_eq (n_kept (), 1);

  taken_before = n_taken ();
  next = gluetool_action_new ("next", NULL);
  ck_assert_uint_eq ((guintptr) next, parent_address);
  ck_assert_uint_eq (n_taken (), taken_before + 1);
  ck_assert_uint_ne (gluetool_action_get_span_id (next), parent_span_id);
  ck_assert_ptr_null (gluetool_action_get_parent (child));
  child_context = gluetool_action_dup_context (child);
  ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (child_context), parent_span_id);
  test_expect_finish (next);
  test_expect_finish (child);
}
END_TEST

typedef struct {
  GMutex          lock;
  GCond           cond;
  GluetoolAction *finished;    /* handed to the test thread */
  gboolean        dropped;     /* the test thread let go of it */
  guintptr        address;
  gboolean        made_again;  /* what the worker saw */
} CrossThread;

static gpointer
finish_here_drop_there_thread (gpointer data)
{
  CrossThread *cross = data;
  GluetoolAction *action = gluetool_action_new ("finished here", NULL);
  GluetoolAction *next;
  guint64 taken_before;

  gluetool_recycler_set_enabled (TRUE);
  cross->address = (guintptr) action;
  gluetool_action_finish (action, NULL);

  gluetool_mutex_lock (&cross->lock);
  cross->finished = action;
  g_cond_signal (&cross->cond);
  while (!cross->dropped)
    gluetool_cond_wait (&cross->cond, &cross->lock);
  gluetool_mutex_unlock (&cross->lock);

  taken_before = n_taken ();
  next = gluetool_action_new ("next", NULL);
  cross->made_again = (guintptr) next == cross->address && n_taken () == taken_before + 1;
  gluetool_action_finish (next, NULL);
  g_object_unref (next);
  return NULL;
}

/* Finished and kept by one thread, dropped by another: the first makes it
 * again. */
START_TEST (test_finished_in_one_thread_dropped_in_another)
{
  CrossThread cross = { 0 };
  GThread *thread;

  g_mutex_init (&cross.lock);
  g_cond_init (&cross.cond);
  thread = g_thread_new ("finisher", finish_here_drop_there_thread, &cross);

  gluetool_mutex_lock (&cross.lock);
  while (cross.finished == NULL)
    gluetool_cond_wait (&cross.cond, &cross.lock);
  g_object_unref (cross.finished);
  cross.dropped = TRUE;
  g_cond_signal (&cross.cond);
  gluetool_mutex_unlock (&cross.lock);

  g_thread_join (thread);
  ck_assert (cross.made_again);
  g_mutex_clear (&cross.lock);
  g_cond_clear (&cross.cond);
}
END_TEST

/* ---- Kept only when nobody can tell ------------------------------------------ */

START_TEST (test_weak_ref_notified_at_last_unref)
{
  GluetoolAction *action = gluetool_action_new ("watched", NULL);
  gboolean gone = FALSE;

  g_object_weak_ref (G_OBJECT (action), set_flag, &gone);
  finish_and_drop (action);
  ck_assert (gone);
  ck_assert_uint_eq (n_kept (), 0);
}
END_TEST

/* Handlers of any signal, connected before finishing, keep it from being
 * kept, so their destroy notifications come at the last unref. */
START_TEST (test_notify_handler_destroyed_at_last_unref)
{
  GluetoolAction *action = gluetool_action_new ("handled", NULL);
  gboolean destroyed = FALSE;

  g_signal_connect_data (action, "notify::label", G_CALLBACK (on_signal), &destroyed,
                         set_flag_closure, 0);
  finish_and_drop (action);
  ck_assert (destroyed);
  ck_assert_uint_eq (n_kept (), 0);
}
END_TEST

START_TEST (test_finished_handler_destroyed_at_last_unref)
{
  GluetoolAction *action = gluetool_action_new ("handled", NULL);
  gboolean destroyed = FALSE;

  g_signal_connect_data (action, "finished", G_CALLBACK (on_signal), &destroyed,
                         set_flag_closure, 0);
  finish_and_drop (action);
  ck_assert (destroyed);
  ck_assert_uint_eq (n_kept (), 0);
}
END_TEST

/* A handler connected after finishing cannot be seen without GLib's global
 * signal lock at the last unref; the action is kept, and the handler is
 * destroyed before the action is made again, never run by its next life. */
/* A handler connected to a kept action: the action is not made again but
 * released when the thread next makes one (outside the region fork()
 * waits for, as the handler's destroy notification is the program's). */
START_TEST (test_handler_connected_after_finish_destroyed_on_reuse)
{
  GluetoolAction *action = gluetool_action_new ("first", NULL);
  g_autoptr(GluetoolAction) again = NULL;
  gboolean destroyed = FALSE;
  guint64 taken_before;

  test_expect_finish (action);
  g_signal_connect_data (action, "notify", G_CALLBACK (on_signal), &destroyed,
                         set_flag_closure, 0);
  g_object_unref (action);
  ck_assert_uint_eq (n_kept (), 1);

  taken_before = n_taken ();
  again = gluetool_action_new ("again", NULL);
  ck_assert (destroyed);
  ck_assert_uint_eq (n_taken (), taken_before);
  ck_assert_uint_eq (n_kept (), 0);
  ck_assert_uint_eq (g_signal_handler_find (again, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
                                            &destroyed), 0);
  test_expect_finish (again);
}
END_TEST

/* A weak reference taken after finishing is honoured too: the action is
 * never made again, and it is freed (the weak reference notified) once the
 * recycler lets go of it, at the latest after GLUETOOL_RECYCLER_CAPACITY
 * more actions, even behind an older kept action that is still held and a
 * thread that keeps making its newest one again. */
START_TEST (test_weak_ref_after_finish_released_later)
{
  g_autoptr(GluetoolAction) held = gluetool_action_new ("held", NULL);
  GluetoolAction *action = NULL;
  guintptr address;
  gboolean gone = FALSE;
  guint n_made = 0;

  test_expect_finish (held);
  action = gluetool_action_new ("watched late", NULL);
  address = (guintptr) action;
  test_expect_finish (action);
  g_object_weak_ref (G_OBJECT (action), set_flag, &gone);
  g_object_unref (action);

  while (!gone)
    {
      GluetoolAction *other = gluetool_action_new ("other", NULL);

      ck_assert_uint_ne ((guintptr) other, address);
      ck_assert_ptr_ne (other, held);
      finish_and_drop (other);
      n_made++;
      ck_assert_uint_le (n_made, GLUETOOL_RECYCLER_CAPACITY);
    }
}
END_TEST

/* ---- Signal handlers: GLib's flag, and the fallback without it ---------------- */

/* Each test runs twice: reading GLib's flag ("handlers"), and with the
 * fallback forced ("handlers-fallback"). They differ only where the
 * fallback's look, for handlers connected and not blocked now, cannot see
 * what the flag remembers (a blocked handler, or one disconnected): the
 * fallback keeps such an action, the flag does not. */

static GluetoolTracer *
make_tracer (TestReceiver *receiver)
{
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer = gluetool_tracer_new ("recycler", "127.0.0.1",
                                                test_receiver_get_port (receiver), &error);

  ck_assert_msg (tracer != NULL, "tracer: %s", error != NULL ? error->message : "");
  return tracer;
}

/* What a handler of ::finished saw. */
typedef struct {
  gint     count;
  guintptr action;          /* the address it was given */
  gboolean was_finished;
  gboolean destroyed;       /* the handler's destroy notification ran */
} HandlerSeen;

static void
set_seen_destroyed (gpointer  data,
                    GClosure *closure)
{
  HandlerSeen *seen = data;

  seen->destroyed = TRUE;
}

static void
on_finished_record (GluetoolAction *action,
                    gpointer        user_data)
{
  HandlerSeen *seen = user_data;

  seen->count++;
  seen->action = (guintptr) action;
  seen->was_finished = gluetool_action_is_finished (action);
  gluetool_action_set_tag_string (action, "by-handler", "yes");
}

/* A handler of ::finished runs, sees the action finished, and may still
 * tag it; the action is not kept, so the handler's end comes at the last
 * unref. */
START_TEST (test_finished_handler_runs)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer (receiver);
  GluetoolAction *action = gluetool_action_new ("handled", NULL);
  HandlerSeen seen = { 0 };
  guintptr address;

  g_signal_connect_data (action, "finished", G_CALLBACK (on_finished_record), &seen,
                         set_seen_destroyed, 0);
  address = finish_and_drop (action);
  ck_assert_int_eq (seen.count, 1);
  ck_assert_uint_eq (seen.action, address);
  ck_assert (seen.was_finished);
  ck_assert (seen.destroyed);
  ck_assert_uint_eq (n_kept (), 0);

  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  ck_assert_str_eq (test_expect_tag (test_receiver_expect_span (receiver, "handled"),
                                     "by-handler")->vStr, "yes");
}
END_TEST

/* A blocked handler does not run; the action is reported all the same. */
START_TEST (test_blocked_handler)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer (receiver);
  GluetoolAction *action = gluetool_action_new ("blocked", NULL);
  HandlerSeen seen = { 0 };
  gulong id;

  id = g_signal_connect (action, "finished", G_CALLBACK (on_finished_record), &seen);
  g_signal_handler_block (action, id);
  finish_and_drop (action);
  ck_assert_int_eq (seen.count, 0);
  ck_assert_uint_eq (n_kept (), flag_trusted ? 0 : 1);

  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  ck_assert_ptr_null (test_find_tag (test_receiver_expect_span (receiver, "blocked")->tags,
                                     "by-handler"));
}
END_TEST

/* A handler connected and disconnected before the end: the action is
 * reported, finished or dropped unfinished, and GLib's flag, which does not
 * forget, keeps it from being recycled. */
START_TEST (test_disconnected_handler)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer (receiver);
  GluetoolAction *finished = gluetool_action_new ("disconnected, finished", NULL);
  GluetoolAction *dropped = gluetool_action_new ("disconnected, dropped", NULL);
  HandlerSeen seen = { 0 };

  g_signal_handler_disconnect (finished, g_signal_connect (finished, "finished",
                                                           G_CALLBACK (on_finished_record), &seen));
  g_signal_handler_disconnect (dropped, g_signal_connect (dropped, "finished",
                                                          G_CALLBACK (on_finished_record), &seen));
  g_object_unref (dropped);
  ck_assert_uint_eq (n_kept (), flag_trusted ? 0 : 1);
  finish_and_drop (finished);
  ck_assert_uint_eq (n_kept (), flag_trusted ? 0 : 2);
  ck_assert_int_eq (seen.count, 0);

  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);
  test_receiver_expect_span (receiver, "disconnected, finished");
  test_receiver_expect_span (receiver, "disconnected, dropped");
}
END_TEST

/* A handler of "notify" only: ::finished has none, so the class handler
 * reports the action; it is not kept, so the handler goes at the last
 * unref. */
START_TEST (test_notify_handler)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer (receiver);
  GluetoolAction *action = gluetool_action_new ("notified", NULL);
  gboolean destroyed = FALSE;

  g_signal_connect_data (action, "notify", G_CALLBACK (on_signal), &destroyed,
                         set_flag_closure, 0);
  finish_and_drop (action);
  ck_assert (destroyed);
  ck_assert_uint_eq (n_kept (), 0);

  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  test_receiver_expect_span (receiver, "notified");
}
END_TEST

typedef struct {
  guint    count;
  guintptr action;
} HookSeen;

static gboolean
count_emission (GSignalInvocationHint *hint,
                guint                  n_params,
                const GValue          *params,
                gpointer               user_data)
{
  HookSeen *seen = user_data;

  seen->count++;
  seen->action = (guintptr) g_value_get_object (&params[0]);
  return TRUE;
}

/* An emission hook of ::finished runs for an action that has a handler of
 * it, not blocked, and, as documented, for no other action: those are not
 * emitted. */
START_TEST (test_emission_hook)
{
  HookSeen hooked = { 0 };
  HandlerSeen seen = { 0 };
  GluetoolAction *handled = gluetool_action_new ("handled", NULL);
  GluetoolAction *blocked = gluetool_action_new ("blocked", NULL);
  GluetoolAction *bare = gluetool_action_new ("bare", NULL);
  guint signal_id = g_signal_lookup ("finished", GLUETOOL_TYPE_ACTION);
  gulong hook;
  guintptr address;

  ck_assert_uint_ne (signal_id, 0);
  hook = g_signal_add_emission_hook (signal_id, 0, count_emission, &hooked, NULL);
  g_signal_connect (handled, "finished", G_CALLBACK (on_finished_record), &seen);
  g_signal_handler_block (blocked, g_signal_connect (blocked, "finished",
                                                     G_CALLBACK (on_finished_record), &seen));

  test_expect_finish (bare);
  test_expect_finish (blocked);
  ck_assert_uint_eq (hooked.count, 0);
  address = finish_and_drop (handled);
  ck_assert_uint_eq (hooked.count, 1);
  ck_assert_uint_eq (hooked.action, address);
  ck_assert_int_eq (seen.count, 1);

  g_signal_remove_emission_hook (signal_id, hook);
  g_object_unref (blocked);
  g_object_unref (bare);
}
END_TEST

/* Actions that never had a handler are made again, finished or dropped
 * unfinished. */
START_TEST (test_no_handler_recycled)
{
  guintptr address = finish_and_drop (gluetool_action_new ("first", NULL));
  guint64 taken_before = n_taken ();

  for (guint i = 0; i < 10; i++)
    {
      GluetoolAction *action = gluetool_action_new ("again", NULL);

      ck_assert_uint_eq ((guintptr) action, address);
      if (i % 2 == 0)
        finish_and_drop (action);
      else
        g_object_unref (action);
      ck_assert_uint_eq (n_kept (), 1);
    }
  ck_assert_uint_eq (n_taken (), taken_before + 10);
}
END_TEST

/* A blocked handler connected to a kept action: GLib's flag sees it, and
 * the action is released, not made again. The fallback sees only handlers
 * not blocked, and makes it again with the handler, which stays until the
 * recycler releases it. */
START_TEST (test_blocked_handler_after_finish)
{
  GluetoolAction *action = gluetool_action_new ("first", NULL);
  gboolean destroyed = FALSE;
  guint64 taken_before;
  guintptr address = (guintptr) action;

  test_expect_finish (action);
  g_signal_handler_block (action, g_signal_connect_data (action, "finished", G_CALLBACK (on_signal),
                                                         &destroyed, set_flag_closure, 0));
  g_object_unref (action);
  ck_assert_uint_eq (n_kept (), 1);

  taken_before = n_taken ();
  action = gluetool_action_new ("again", NULL);
  if (flag_trusted)
    {
      ck_assert (destroyed);
      ck_assert_uint_eq (n_taken (), taken_before);
    }
  else
    {
      ck_assert (!destroyed);
      ck_assert_uint_eq ((guintptr) action, address);
      ck_assert_uint_eq (n_taken (), taken_before + 1);
    }
  finish_and_drop (action);
  gluetool_recycler_clear_thread ();
  ck_assert (destroyed);
}
END_TEST

/* ---- Threads, and switching it off -------------------------------------------- */

typedef struct {
  guint kept_before_exit;
} ExitWork;

static gpointer
keep_one_thread (gpointer data)
{
  ExitWork *work = data;

  gluetool_recycler_set_enabled (TRUE);
  finish_and_drop (gluetool_action_new ("kept by a thread that ends", NULL));
  work->kept_before_exit = n_kept ();
  return NULL;
}

/* A thread's kept actions go when it exits (valgrind and ASan would report
 * them otherwise: this suite runs with leak checking). */
START_TEST (test_thread_exit_releases_kept_actions)
{
  ExitWork work = { 0 };

  g_thread_join (g_thread_new ("keeper", keep_one_thread, &work));
  ck_assert_uint_eq (work.kept_before_exit, 1);
}
END_TEST

/* Off, nothing is kept or made again. */
START_TEST (test_disabled_keeps_nothing)
{
  guint64 taken_before = n_taken ();

  gluetool_recycler_set_enabled (FALSE);
  for (guint i = 0; i < 3; i++)
    finish_and_drop (gluetool_action_new ("not kept", NULL));
  ck_assert_uint_eq (n_kept (), 0);
  ck_assert_uint_eq (n_taken (), taken_before);

  gluetool_recycler_set_enabled (TRUE);
  finish_and_drop (gluetool_action_new ("kept", NULL));
  ck_assert_uint_eq (n_kept (), 1);
}
END_TEST

/* Whether the environment turns recycling on; fails the test on an error. */
static gboolean
enabled_for (const char *recycle_actions,
             const char *g_slice)
{
  g_autoptr(GError) error = NULL;
  gboolean enabled = gluetool_config_recycle_actions (recycle_actions, g_slice, &error);

  ck_assert_msg (error == NULL, "%s", error != NULL ? error->message : "");
  return enabled;
}

START_TEST (test_environment_switches)
{
  g_autoptr(GError) error = NULL;

  ck_assert (enabled_for (NULL, NULL));
  ck_assert (enabled_for (NULL, ""));
  ck_assert (enabled_for (NULL, "always-mallocs"));
  ck_assert (!enabled_for (NULL, "always-malloc"));
  ck_assert (!enabled_for (NULL, "debug-blocks"));
  ck_assert (!enabled_for (NULL, "all"));
  ck_assert (!enabled_for (NULL, "debug-blocks:always-malloc"));
  ck_assert (!enabled_for (NULL, "foo, Always-Malloc"));

  /* The library's own switch wins either way; empty means unset. */
  ck_assert (enabled_for ("1", "always-malloc"));
  ck_assert (!enabled_for ("0", NULL));
  ck_assert (!enabled_for ("", "always-malloc"));

  /* Anything else is an error, and G_SLICE decides. */
  ck_assert (!gluetool_config_recycle_actions ("yes", "always-malloc", &error));
  ck_assert_ptr_nonnull (error);
  ck_assert_ptr_nonnull (strstr (error->message, GLUETOOL_CONFIG_ENV_RECYCLE_ACTIONS));
  ck_assert_ptr_nonnull (strstr (error->message, "'yes'"));
  g_clear_error (&error);
  ck_assert (gluetool_config_recycle_actions ("2", NULL, &error));
  ck_assert_ptr_nonnull (error);
}
END_TEST

/* ---- The self-check ------------------------------------------------------------- */

/* What the library says at G_LOG_LEVEL_MESSAGE, counted by the writer
 * main() installs, and kept quiet. */
static struct {
  GMutex  lock;
  guint   n_messages;
  char   *last_message;  /* (owned) (nullable) */
} messages;

static GLogWriterOutput
counting_writer (GLogLevelFlags   log_level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  const char *domain = NULL;
  const char *text = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        text = fields[i].value;
    }
  if ((log_level & G_LOG_LEVEL_MASK) == G_LOG_LEVEL_MESSAGE && g_strcmp0 (domain, "Gluetool") == 0)
    {
      g_mutex_lock (&messages.lock);
      messages.n_messages++;
      g_free (messages.last_message);
      messages.last_message = g_strdup (text);
      g_mutex_unlock (&messages.lock);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

/* How many messages since the last call, and the last one's text. */
static guint
take_messages (char **last_message)
{
  guint n;

  g_mutex_lock (&messages.lock);
  n = messages.n_messages;
  messages.n_messages = 0;
  *last_message = g_steal_pointer (&messages.last_message);
  g_mutex_unlock (&messages.lock);
  return n;
}

static void
check_fixture_teardown (void)
{
  g_autofree char *message = NULL;

  /* Back to what this GLib gives, for the tests after (CK_FORK=no). */
  ck_assert_int_eq (gluetool_recycler_check_again (GLUETOOL_RECYCLER_CHECK_NONE),
                    GLUETOOL_RECYCLER_CHECK_NONE);
  take_messages (&message);
  gluetool_recycler_set_enabled (TRUE);
  fixture_teardown ();
}

/* The GLib the project supports (Debian 12's 2.74, and later) passes: else
 * every action would cost a GObject made and freed again, with a message
 * but no failure. */
START_TEST (test_self_check_passes)
{
  g_autofree char *message = NULL;
  GluetoolAction *action;
  GluetoolAction *watched;

  take_messages (&message);
  ck_assert_int_eq (gluetool_recycler_check_again (GLUETOOL_RECYCLER_CHECK_NONE),
                    GLUETOOL_RECYCLER_CHECK_NONE);
  ck_assert_uint_eq (take_messages (&message), 0);
  ck_assert (gluetool_recycler_is_enabled ());

  /* On, a weak pointer taken after finish() outlives the unref. */
  action = gluetool_action_new ("kept", NULL);
  watched = action;
  test_expect_finish (action);
  g_object_add_weak_pointer (G_OBJECT (action), (gpointer *) &watched);
  g_object_unref (action);
  ck_assert_ptr_nonnull (watched);
  ck_assert_uint_eq (n_kept (), 1);
  gluetool_recycler_clear_thread ();
  ck_assert_ptr_null (watched);
}
END_TEST

/* Any step failing turns recycling off, whatever the environment or a test
 * says, with one message naming the step; actions are then freed at their
 * last unref. */
START_TEST (test_failed_self_check_turns_recycling_off)
{
  for (GluetoolRecyclerCheck step = GLUETOOL_RECYCLER_CHECK_NEW_OBJECT;
       step < GLUETOOL_RECYCLER_N_CHECKS; step++)
    {
      g_autofree char *message = NULL;
      GluetoolAction *action;
      GluetoolAction *watched;
      guint64 taken_before = n_taken ();

      take_messages (&message);
      g_clear_pointer (&message, g_free);
      ck_assert_int_eq (gluetool_recycler_check_again (step), step);
      ck_assert_uint_eq (take_messages (&message), 1);
      ck_assert_ptr_nonnull (strstr (message, "not recycled"));
      ck_assert_ptr_nonnull (strstr (message, "made to fail by a test"));
      ck_assert (!gluetool_recycler_is_enabled ());
      gluetool_recycler_set_enabled (TRUE);
      ck_assert (!gluetool_recycler_is_enabled ());

      /* Finished, then dropped: freed at once, the weak pointer cleared. */
      action = gluetool_action_new ("freed", NULL);
      watched = action;
      test_expect_finish (action);
      g_object_add_weak_pointer (G_OBJECT (action), (gpointer *) &watched);
      g_object_unref (action);
      ck_assert_ptr_null (watched);

      /* Dropped unfinished: not kept either, and nothing is made again. */
      g_object_unref (gluetool_action_new ("dropped", NULL));
      ck_assert_uint_eq (n_kept (), 0);
      g_object_unref (gluetool_action_new ("new", NULL));
      ck_assert_uint_eq (n_taken (), taken_before);
    }
}
END_TEST

/* The failing step is named: the message says which assumption broke. */
START_TEST (test_failed_self_check_names_the_step)
{
  g_autofree char *message = NULL;

  take_messages (&message);
  g_clear_pointer (&message, g_free);
  ck_assert_int_eq (gluetool_recycler_check_again (GLUETOOL_RECYCLER_CHECK_TOGGLE_REF),
                    GLUETOOL_RECYCLER_CHECK_TOGGLE_REF);
  ck_assert_uint_eq (take_messages (&message), 1);
  ck_assert_ptr_nonnull (strstr (message, "g_object_add_toggle_ref()"));
  g_clear_pointer (&message, g_free);

  ck_assert_int_eq (gluetool_recycler_check_again (GLUETOOL_RECYCLER_CHECK_RESURRECTED),
                    GLUETOOL_RECYCLER_CHECK_RESURRECTED);
  ck_assert_uint_eq (take_messages (&message), 1);
  ck_assert_ptr_nonnull (strstr (message, "a reference taken in dispose()"));
}
END_TEST

/* ---- On the wire ------------------------------------------------------------- */

/* The span of an action made again carries its own label, ids, parent and
 * tags only. */
START_TEST (test_made_again_reports_only_its_own)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = gluetool_tracer_new ("recycler", "127.0.0.1",
                                                          test_receiver_get_port (receiver),
                                                          &error);
  g_autoptr(GluetoolAction) root = NULL;
  GluetoolAction *first;
  GluetoolAction *second;
  GluetoolAction *third;
  guint64 root_span_id;
  guintptr address;
  JaegerSpan *span;

  ck_assert_ptr_null (error);
  root = gluetool_action_new ("root", NULL);
  root_span_id = gluetool_action_get_span_id (root);

  first = gluetool_action_new ("first, with a label longer than the inline storage", NULL);
  gluetool_action_set_tag_string (first, "first-only", "x");
  gluetool_action_set_tag_int64 (first, "shared", 1);
  address = finish_and_drop (first);

  second = gluetool_action_new ("second", root);
  ck_assert_uint_eq ((guintptr) second, address);
  gluetool_action_set_tag_int64 (second, "shared", 2);
  finish_and_drop (second);

  /* A child made again as a root. */
  third = gluetool_action_new ("third", NULL);
  ck_assert_uint_eq ((guintptr) third, address);
  finish_and_drop (third);

  test_expect_finish (root);
  test_expect_close (tracer, WAIT_S);

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 4, WAIT_S), 4);

  span = test_receiver_expect_span (receiver, "first, with a label longer than the inline storage");
  ck_assert_int_eq (span->parentSpanId, 0);
  ck_assert_ptr_nonnull (test_find_tag (span->tags, "first-only"));
  ck_assert_int_eq (test_expect_tag (span, "shared")->vLong, 1);

  span = test_receiver_expect_span (receiver, "second");
  ck_assert_int_eq (span->parentSpanId, (gint64) root_span_id);
  ck_assert_ptr_null (test_find_tag (span->tags, "first-only"));
  ck_assert_int_eq (test_expect_tag (span, "shared")->vLong, 2);
  /* Not a root: no sampler tags. */
  ck_assert_ptr_null (test_find_tag (span->tags, "sampler.type"));

  span = test_receiver_expect_span (receiver, "third");
  ck_assert_int_eq (span->parentSpanId, 0);
  ck_assert_ptr_null (test_find_tag (span->tags, "shared"));
  ck_assert_ptr_nonnull (test_find_tag (span->tags, "sampler.type"));
}
END_TEST

static void
add_handler_tests (TCase *tc)
{
  tcase_add_test (tc, test_finished_handler_runs);
  tcase_add_test (tc, test_blocked_handler);
  tcase_add_test (tc, test_disconnected_handler);
  tcase_add_test (tc, test_notify_handler);
  tcase_add_test (tc, test_emission_hook);
  tcase_add_test (tc, test_no_handler_recycled);
  tcase_add_test (tc, test_blocked_handler_after_finish);
  /* Handlers seen before, with the flag and without. */
  tcase_add_test (tc, test_finished_handler_destroyed_at_last_unref);
  tcase_add_test (tc, test_notify_handler_destroyed_at_last_unref);
  tcase_add_test (tc, test_handler_connected_after_finish_destroyed_on_reuse);
  tcase_add_test (tc, test_dropped_unfinished_watched_action_freed);
}

static Suite *
recycler_suite (void)
{
  Suite *s = suite_create ("recycler");
  TCase *tc;

  tc = tcase_create ("made-again");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_dropped_action_made_again);
  tcase_add_test (tc, test_dropped_unfinished_action_made_again);
  tcase_add_test (tc, test_held_action_not_made_again);
  tcase_add_test (tc, test_loop_reuses_one_action);
  tcase_add_test (tc, test_finished_in_one_thread_dropped_in_another);
  suite_add_tcase (s, tc);

  tc = tcase_create ("parents");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_children_do_not_hold_parent);
  tcase_add_test (tc, test_parent_dropped_before_child);
  tcase_add_test (tc, test_parent_made_again_while_child_unfinished);
  suite_add_tcase (s, tc);

  tc = tcase_create ("unnoticed");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_weak_ref_notified_at_last_unref);
  tcase_add_test (tc, test_weak_ref_after_finish_released_later);
  suite_add_tcase (s, tc);

  tc = tcase_create ("handlers");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_set_timeout (tc, 60);
  add_handler_tests (tc);
  suite_add_tcase (s, tc);

  tc = tcase_create ("handlers-fallback");
  tcase_add_checked_fixture (tc, fallback_fixture_setup, fallback_fixture_teardown);
  tcase_set_timeout (tc, 60);
  add_handler_tests (tc);
  suite_add_tcase (s, tc);

  tc = tcase_create ("switches");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_thread_exit_releases_kept_actions);
  tcase_add_test (tc, test_disabled_keeps_nothing);
  tcase_add_test (tc, test_environment_switches);
  suite_add_tcase (s, tc);

  tc = tcase_create ("self-check");
  tcase_add_checked_fixture (tc, fixture_setup, check_fixture_teardown);
  tcase_add_test (tc, test_self_check_passes);
  tcase_add_test (tc, test_failed_self_check_turns_recycling_off);
  tcase_add_test (tc, test_failed_self_check_names_the_step);
  suite_add_tcase (s, tc);

  tc = tcase_create ("wire");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_made_again_reports_only_its_own);
  suite_add_tcase (s, tc);

  return s;
}

int
main (void)
{
  int status;

  /* Once per process, before anything logs. */
  g_log_set_writer_func (counting_writer, NULL, NULL);
  status = test_run_suite_tap (recycler_suite ());
  g_clear_pointer (&messages.last_message, g_free);
  return status;
}
