/* test-recycler.c: finished actions made again, and only when nobody can
 * tell
 *
 * SPDX-License-Identifier: MIT
 *
 * Each test turns recycling on whatever G_SLICE says (the valgrind setup
 * sets always-malloc, which turns it off) and releases what its thread kept
 * afterwards, so every test starts with an empty recycler, forked or not.
 *
 * Whether an object is freed is watched through a weak reference on an
 * object it holds (its parent), never by touching memory that may be freed.
 */

#include <check.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "recycler-private.h"
#include "receiver.h"
#include "test-expect.h"
#include "check-tap.h"

#define WAIT_S 20.0

static void
fixture_setup (void)
{
  gluetool_recycler_set_enabled (TRUE);
  gluetool_recycler_clear_thread ();
  ck_assert_ptr_null (gluetool_action_get_current ());
}

static void
fixture_teardown (void)
{
  gluetool_action_set_thread_root (NULL);
  gluetool_recycler_clear_thread ();
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

  gluetool_action_set_tag_string (first, "only-first", "yes");
  first_address = finish_and_drop (first);

  second = gluetool_action_new ("second", NULL);
  ck_assert_uint_eq ((guintptr) second, first_address);

  /* Nothing of the first life is left. */
  ck_assert_str_eq (gluetool_action_get_label (second), "second");
  ck_assert_ptr_null (gluetool_action_get_parent (second));
  ck_assert (!gluetool_action_is_finished (second));
  ck_assert_ptr_eq (gluetool_action_get_current (), second);
  ck_assert_uint_ne (gluetool_action_get_span_id (second), first_span_id);

  test_expect_finish (second);
  test_expect_finish (root);
}
END_TEST

START_TEST (test_held_action_not_made_again)
{
  g_autoptr(GluetoolAction) first = gluetool_action_new ("first", NULL);
  g_autoptr(GluetoolAction) second = NULL;

  test_expect_finish (first);
  second = gluetool_action_new ("second", NULL);

  ck_assert_ptr_ne (second, first);
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

  for (guint i = 0; i < 100; i++)
    {
      GluetoolAction *child = gluetool_action_new ("child", root);

      ck_assert_uint_eq ((guintptr) child, address);
      ck_assert_ptr_eq (gluetool_action_get_parent (child), root);
      gluetool_action_set_tag_int64 (child, "i", i);
      finish_and_drop (child);
    }
  test_expect_finish (root);
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
}
END_TEST

/* A handler connected after finishing cannot be seen without GLib's global
 * signal lock at the last unref; the action is kept, and the handler is
 * destroyed before the action is made again, never run by its next life. */
START_TEST (test_handler_connected_after_finish_destroyed_on_reuse)
{
  GluetoolAction *action = gluetool_action_new ("first", NULL);
  g_autoptr(GluetoolAction) again = NULL;
  gboolean destroyed = FALSE;
  guintptr address = (guintptr) action;

  test_expect_finish (action);
  g_signal_connect_data (action, "notify", G_CALLBACK (on_signal), &destroyed,
                         set_flag_closure, 0);
  g_object_unref (action);

  again = gluetool_action_new ("again", NULL);
  ck_assert_uint_eq ((guintptr) again, address);
  ck_assert (destroyed);
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

/* ---- Threads, and switching it off -------------------------------------------- */

typedef struct {
  GluetoolAction *parent;
} ChildWork;

static gpointer
make_child_thread (gpointer data)
{
  ChildWork *work = data;

  gluetool_recycler_set_enabled (TRUE);
  finish_and_drop (gluetool_action_new ("child", work->parent));
  return NULL;
}

/* A thread keeps its finished actions until it exits: then they go, and
 * with them their references to their parents. */
START_TEST (test_thread_exit_releases_kept_actions)
{
  GluetoolAction *parent = gluetool_action_new ("parent", NULL);
  ChildWork work = { parent };
  gboolean parent_gone = FALSE;

  g_object_weak_ref (G_OBJECT (parent), set_flag, &parent_gone);
  g_thread_join (g_thread_new ("child", make_child_thread, &work));

  finish_and_drop (parent);
  ck_assert (parent_gone);
}
END_TEST

/* The same shape on one thread: kept, the child holds its parent; off, it
 * is freed at its last unref. */
START_TEST (test_disabled_keeps_nothing)
{
  for (guint enabled = 0; enabled <= 1; enabled++)
    {
      GluetoolAction *parent = gluetool_action_new ("parent", NULL);
      gboolean parent_gone = FALSE;

      gluetool_recycler_set_enabled (enabled);
      g_object_weak_ref (G_OBJECT (parent), set_flag, &parent_gone);
      finish_and_drop (gluetool_action_new ("child", parent));
      finish_and_drop (parent);
      ck_assert_msg (parent_gone == !enabled, "recycling %s: parent %s", enabled ? "on" : "off",
                     parent_gone ? "freed" : "alive");

      gluetool_recycler_clear_thread ();
      ck_assert (parent_gone);
    }
}
END_TEST

/* Whether the environment turns recycling on; fails the test on an error. */
static gboolean
enabled_for (const char *recycle_actions,
             const char *g_slice)
{
  g_autoptr(GError) error = NULL;
  gboolean enabled = gluetool_recycler_enabled_for_environment (recycle_actions, g_slice, &error);

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
  ck_assert (!gluetool_recycler_enabled_for_environment ("yes", "always-malloc", &error));
  ck_assert_ptr_nonnull (error);
  ck_assert_ptr_nonnull (strstr (error->message, GLUETOOL_RECYCLER_ENV));
  ck_assert_ptr_nonnull (strstr (error->message, "'yes'"));
  g_clear_error (&error);
  ck_assert (gluetool_recycler_enabled_for_environment ("2", NULL, &error));
  ck_assert_ptr_nonnull (error);
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
  test_expect_finish (root);
  test_expect_close (tracer, WAIT_S);

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 3, WAIT_S), 3);

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
}
END_TEST

static Suite *
recycler_suite (void)
{
  Suite *s = suite_create ("recycler");
  TCase *tc;

  tc = tcase_create ("made-again");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_dropped_action_made_again);
  tcase_add_test (tc, test_held_action_not_made_again);
  tcase_add_test (tc, test_loop_reuses_one_action);
  suite_add_tcase (s, tc);

  tc = tcase_create ("unnoticed");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_weak_ref_notified_at_last_unref);
  tcase_add_test (tc, test_finished_handler_destroyed_at_last_unref);
  tcase_add_test (tc, test_handler_connected_after_finish_destroyed_on_reuse);
  tcase_add_test (tc, test_weak_ref_after_finish_released_later);
  suite_add_tcase (s, tc);

  tc = tcase_create ("switches");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_thread_exit_releases_kept_actions);
  tcase_add_test (tc, test_disabled_keeps_nothing);
  tcase_add_test (tc, test_environment_switches);
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
  return test_run_suite_tap (recycler_suite ());
}
