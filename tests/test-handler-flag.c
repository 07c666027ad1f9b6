/* test-handler-flag.c: GLib's per-object "ever had a signal handler" flag,
 * read without GLib's signal lock
 *
 * SPDX-License-Identifier: MIT
 *
 * Every test works forked (check's default) and with CK_FORK=no: each one
 * drops the objects it makes, joins the threads it starts, and puts back
 * what the probe found.
 */

#include <check.h>

#include <glib-object.h>

#include "handler-flag-private.h"
#include "check-tap.h"

static void
fixture_setup (void)
{
  gluetool_handler_flag_ensure_probed ();
}

static void
fixture_teardown (void)
{
  gluetool_handler_flag_force_unknown (FALSE);
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
}

/* The GLib the project supports (Debian 12's 2.74, and later) keeps the
 * flag on 64-bit systems: the probe must vouch for it there, or every
 * action would take GLib's global lock again without a word. */
START_TEST (test_probe_passes_on_supported_glib)
{
  if (GLIB_SIZEOF_VOID_P != 8 || glib_check_version (2, 74, 0) != NULL)
    return;
  ck_assert (gluetool_handler_flag_probe_passed ());
  ck_assert_uint_ne (atomic_load (&gluetool_handler_flag_bit_), 0);
}
END_TEST

START_TEST (test_never_then_ever)
{
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  gulong id;

  if (!gluetool_handler_flag_probe_passed ())
    return;
  ck_assert_int_eq (gluetool_handler_flag_read (object), GLUETOOL_HANDLER_FLAG_NEVER);

  id = g_signal_connect (object, "notify", G_CALLBACK (on_notify), NULL);
  ck_assert_int_eq (gluetool_handler_flag_read (object), GLUETOOL_HANDLER_FLAG_EVER);

  /* Blocked, or gone: the flag does not forget. */
  g_signal_handler_block (object, id);
  ck_assert_int_eq (gluetool_handler_flag_read (object), GLUETOOL_HANDLER_FLAG_EVER);
  g_signal_handler_disconnect (object, id);
  ck_assert_int_eq (gluetool_handler_flag_read (object), GLUETOOL_HANDLER_FLAG_EVER);
}
END_TEST

/* Property bindings and weak references are not signal handlers. */
START_TEST (test_weak_refs_do_not_count)
{
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  GObject *weak = object;

  if (!gluetool_handler_flag_probe_passed ())
    return;
  g_object_add_weak_pointer (object, (gpointer *) &weak);
  ck_assert_int_eq (gluetool_handler_flag_read (object), GLUETOOL_HANDLER_FLAG_NEVER);
  g_object_remove_weak_pointer (object, (gpointer *) &weak);
}
END_TEST

START_TEST (test_forced_unknown)
{
  g_autoptr(GObject) fresh = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GObject) handled = g_object_new (G_TYPE_OBJECT, NULL);
  gboolean passed = gluetool_handler_flag_probe_passed ();

  g_signal_connect (handled, "notify", G_CALLBACK (on_notify), NULL);

  gluetool_handler_flag_force_unknown (TRUE);
  ck_assert_int_eq (gluetool_handler_flag_read (fresh), GLUETOOL_HANDLER_FLAG_UNKNOWN);
  ck_assert_int_eq (gluetool_handler_flag_read (handled), GLUETOOL_HANDLER_FLAG_UNKNOWN);
  /* What the probe found is still known. */
  ck_assert_int_eq (gluetool_handler_flag_probe_passed (), passed);

  gluetool_handler_flag_force_unknown (FALSE);
  if (!passed)
    return;
  ck_assert_int_eq (gluetool_handler_flag_read (fresh), GLUETOOL_HANDLER_FLAG_NEVER);
  ck_assert_int_eq (gluetool_handler_flag_read (handled), GLUETOOL_HANDLER_FLAG_EVER);
}
END_TEST

typedef struct {
  GAsyncQueue *objects;    /* (owned) handed over, one at a time */
  guint        n_objects;
  guint        n_wrong;    /* read once the thread is joined */
} HandOver;

static gpointer
read_handed_over_thread (gpointer data)
{
  HandOver *hand_over = data;

  for (guint i = 0; i < hand_over->n_objects; i++)
    {
      g_autoptr(GObject) object = g_async_queue_pop (hand_over->objects);
      GluetoolHandlerFlag expected = i % 2 == 0 ? GLUETOOL_HANDLER_FLAG_EVER
                                                : GLUETOOL_HANDLER_FLAG_NEVER;

      if (gluetool_handler_flag_read (object) != expected)
        hand_over->n_wrong++;
    }
  return NULL;
}

/* A handler connected before the object is handed to another thread (here
 * through a queue, whose lock orders the two) is seen there. */
START_TEST (test_seen_by_the_thread_handed_to)
{
  HandOver hand_over = { g_async_queue_new (), 1000, 0 };
  GThread *reader;

  if (!gluetool_handler_flag_probe_passed ())
    {
      g_async_queue_unref (hand_over.objects);
      return;
    }
  reader = g_thread_new ("flag-reader", read_handed_over_thread, &hand_over);
  for (guint i = 0; i < hand_over.n_objects; i++)
    {
      GObject *object = g_object_new (G_TYPE_OBJECT, NULL);

      if (i % 2 == 0)
        g_signal_connect (object, "notify", G_CALLBACK (on_notify), NULL);
      g_async_queue_push (hand_over.objects, object);
    }
  g_thread_join (reader);
  g_async_queue_unref (hand_over.objects);
  ck_assert_uint_eq (hand_over.n_wrong, 0);
}
END_TEST

static Suite *
handler_flag_suite (void)
{
  Suite *s = suite_create ("handler-flag");
  TCase *tc = tcase_create ("flag");

  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_probe_passes_on_supported_glib);
  tcase_add_test (tc, test_never_then_ever);
  tcase_add_test (tc, test_weak_refs_do_not_count);
  tcase_add_test (tc, test_forced_unknown);
  tcase_add_test (tc, test_seen_by_the_thread_handed_to);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return test_run_suite_tap (handler_flag_suite ());
}
