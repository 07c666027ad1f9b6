/* test-action.c: actions, their thread stacks, ids and tags, without the
 * network
 *
 * SPDX-License-Identifier: MIT
 *
 * No tracer is made: finished actions have nowhere to report, which is what
 * lets these tests look at the action API alone.
 *
 * Every test works forked (check's default) and with CK_FORK=no: each one
 * finishes the actions it starts and joins the threads it starts, and the
 * fixture empties the main thread's stack afterwards whatever happened.
 * Threads other than the test's own never call ck_assert: they write down
 * what they saw, and the test thread checks it once they are joined.
 *
 * Criticals and warnings are counted by a log writer installed once, in
 * main(). Criticals stay fatal (G_DEBUG=fatal-criticals) except in the tests
 * that call expect_criticals().
 */

#include <check.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gluetool/gluetool.h>

#include "check-tap.h"
#include "debug-private.h"
#include "process-private.h"
#include "sync-private.h"

/* ---- Counting log messages ------------------------------------------------- */

typedef struct {
  GMutex lock;
  guint  n_criticals;
  guint  n_warnings;
  char  *last_message;   /* (owned) (nullable) of the last critical or warning */
  /* The library's debug messages, and those of them written while the
   * writing thread was inside a region of the process. */
  guint  n_debug;
  guint  n_debug_in_region;
  GString *debug_text;   /* (owned) (nullable) the messages, a line each */
} LogCounts;

static LogCounts log_counts;

static gboolean       criticals_expected;
static GLogLevelFlags saved_fatal_mask;
/* Levels that the current test expects: counted, not printed. (atomic) */
static gint           quiet_levels;

static const char *
field_value (const GLogField *fields,
             gsize            n_fields,
             const char      *key)
{
  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, key))
        return fields[i].value;
    }
  return NULL;
}

static GLogWriterOutput
counting_writer (GLogLevelFlags   log_level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  if ((log_level & G_LOG_LEVEL_DEBUG) && g_strcmp0 (field_value (fields, n_fields, "GLIB_DOMAIN"),
                                                    "Gluetool") == 0)
    {
      GluetoolThreadRecord *record = gluetool_process_thread_record_;

      gluetool_mutex_lock (&log_counts.lock);
      log_counts.n_debug++;
      if (record != NULL && atomic_load (&record->depth) > 0)
        log_counts.n_debug_in_region++;
      if (log_counts.debug_text == NULL)
        log_counts.debug_text = g_string_new (NULL);
      g_string_append_printf (log_counts.debug_text, "%s\n",
                              field_value (fields, n_fields, "MESSAGE"));
      gluetool_mutex_unlock (&log_counts.lock);
      /* Not printed: stdout is the TAP stream. */
      return G_LOG_WRITER_HANDLED;
    }
  if (log_level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      const char *message = NULL;

      for (gsize i = 0; i < n_fields; i++)
        {
          if (g_str_equal (fields[i].key, "MESSAGE"))
            message = fields[i].value;
        }

      gluetool_mutex_lock (&log_counts.lock);
      if (log_level & G_LOG_LEVEL_CRITICAL)
        log_counts.n_criticals++;
      else
        log_counts.n_warnings++;
      g_free (log_counts.last_message);
      log_counts.last_message = g_strdup (message);
      gluetool_mutex_unlock (&log_counts.lock);

      if (log_level & (GLogLevelFlags) g_atomic_int_get (&quiet_levels))
        return G_LOG_WRITER_HANDLED;
    }

  /* The default writer prints, and aborts on what is fatal. */
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

static guint
get_n_criticals (void)
{
  guint n;

  gluetool_mutex_lock (&log_counts.lock);
  n = log_counts.n_criticals;
  gluetool_mutex_unlock (&log_counts.lock);
  return n;
}

static guint
get_n_warnings (void)
{
  guint n;

  gluetool_mutex_lock (&log_counts.lock);
  n = log_counts.n_warnings;
  gluetool_mutex_unlock (&log_counts.lock);
  return n;
}

/* Checks that the last critical or warning contains @text. */
static void
assert_last_message_contains (const char *text)
{
  g_autofree char *message = NULL;

  gluetool_mutex_lock (&log_counts.lock);
  message = g_strdup (log_counts.last_message);
  gluetool_mutex_unlock (&log_counts.lock);

  ck_assert_msg (message != NULL && strstr (message, text) != NULL,
                 "last message '%s' does not contain '%s'",
                 message != NULL ? message : "(none)", text);
}

/* Makes criticals non-fatal (and quiet) until the end of the test. */
static void
expect_criticals (void)
{
  if (!criticals_expected)
    saved_fatal_mask = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  criticals_expected = TRUE;
  g_atomic_int_or (&quiet_levels, G_LOG_LEVEL_CRITICAL);
}

/* Keeps warnings quiet until the end of the test; they are still counted. */
static void
expect_warnings (void)
{
  g_atomic_int_or (&quiet_levels, G_LOG_LEVEL_WARNING);
}

static void
fixture_setup (void)
{
  gluetool_mutex_lock (&log_counts.lock);
  log_counts.n_criticals = 0;
  log_counts.n_warnings = 0;
  g_clear_pointer (&log_counts.last_message, g_free);
  gluetool_mutex_unlock (&log_counts.lock);

  ck_assert_ptr_null (gluetool_action_get_current ());
}

static void
fixture_teardown (void)
{
  g_atomic_int_set (&quiet_levels, 0);
  if (criticals_expected)
    {
      g_log_set_always_fatal (saved_fatal_mask);
      criticals_expected = FALSE;
    }
  /* A failed test may have left actions on this thread's stack. */
  gluetool_action_set_thread_root (NULL);
}

/* ---- Helpers ---------------------------------------------------------------- */

/* Counts emissions of ::finished, and where the last one ran. */
typedef struct {
  gint     count;     /* (atomic) */
  GThread *thread;    /* read once the emitting thread is joined */
} FinishedProbe;

static void
on_finished (GluetoolAction *action,
             gpointer        user_data)
{
  FinishedProbe *probe = user_data;

  probe->thread = g_thread_self ();
  g_atomic_int_inc (&probe->count);
}

static void
watch_finished (GluetoolAction *action,
                FinishedProbe  *probe)
{
  g_signal_connect (action, "finished", G_CALLBACK (on_finished), probe);
}

static void
finish_ok (GluetoolAction *action)
{
  g_autoptr(GError) error = NULL;

  ck_assert_msg (gluetool_action_finish (action, &error),
                 "finishing '%s' failed: %s", gluetool_action_get_label (action),
                 error != NULL ? error->message : "?");
  ck_assert_ptr_null (error);
  ck_assert (gluetool_action_is_finished (action));
}

static void
finish_fails (GluetoolAction      *action,
              GluetoolActionError  code)
{
  g_autoptr(GError) error = NULL;

  ck_assert (!gluetool_action_finish (action, &error));
  ck_assert_ptr_nonnull (error);
  ck_assert_msg (g_error_matches (error, GLUETOOL_ACTION_ERROR, (gint) code),
                 "finishing '%s': wanted code %d, got %s (%d)",
                 gluetool_action_get_label (action), code, error->message, error->code);
  ck_assert (gluetool_action_is_finished (action));
}

/* Waits until @count threads have arrived; reusable. */
typedef struct {
  GMutex lock;
  GCond  cond;
  guint  n_threads;
  guint  waiting;
  guint  generation;
} Barrier;

static void
barrier_init (Barrier *barrier,
              guint    n_threads)
{
  g_mutex_init (&barrier->lock);
  g_cond_init (&barrier->cond);
  barrier->n_threads = n_threads;
  barrier->waiting = 0;
  barrier->generation = 0;
}

static void
barrier_clear (Barrier *barrier)
{
  g_mutex_clear (&barrier->lock);
  g_cond_clear (&barrier->cond);
}

static void
barrier_wait (Barrier *barrier)
{
  guint generation;

  gluetool_mutex_lock (&barrier->lock);
  generation = barrier->generation;
  if (++barrier->waiting == barrier->n_threads)
    {
      barrier->waiting = 0;
      barrier->generation++;
      g_cond_broadcast (&barrier->cond);
    }
  else
    {
      while (generation == barrier->generation)
        gluetool_cond_wait (&barrier->cond, &barrier->lock);
    }
  gluetool_mutex_unlock (&barrier->lock);
}

/* ---- Labels, parents, the stack ---------------------------------------------- */

START_TEST (test_label_and_parent)
{
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  g_autoptr(GluetoolAction) child = gluetool_action_new ("child", root);
  g_autofree char *label = NULL;
  g_autoptr(GluetoolAction) parent = NULL;

  ck_assert (GLUETOOL_IS_ACTION (root));
  ck_assert_str_eq (gluetool_action_get_label (root), "root");
  ck_assert_str_eq (gluetool_action_get_label (child), "child");
  ck_assert_ptr_null (gluetool_action_get_parent (root));
  ck_assert_ptr_eq (gluetool_action_get_parent (child), root);

  g_object_get (child, "label", &label, "parent", &parent, NULL);
  ck_assert_str_eq (label, "child");
  ck_assert_ptr_eq (parent, root);

  /* The parent is never taken from the stack implicitly. */
  {
    g_autoptr(GluetoolAction) other_root = gluetool_action_new ("other root", NULL);

    ck_assert_ptr_null (gluetool_action_get_parent (other_root));
    finish_ok (other_root);
  }

  ck_assert (!gluetool_action_is_finished (root));
  finish_ok (child);
  /* Found while the parent is unfinished on this thread's stack, the child
   * finished or not; not once the parent is finished. */
  ck_assert_ptr_eq (gluetool_action_get_parent (child), root);
  finish_ok (root);
  ck_assert_ptr_null (gluetool_action_get_parent (child));
  g_clear_object (&parent);
  g_object_get (child, "parent", &parent, NULL);
  ck_assert_ptr_null (parent);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

typedef struct {
  GluetoolAction *child;            /* (unowned) */
  GluetoolAction *parent_seen;      /* what get_parent() gave there */
  GluetoolAction *property_seen;    /* (owned) what the property gave there */
} ParentElsewhere;

static gpointer
get_parent_thread (gpointer data)
{
  ParentElsewhere *pe = data;

  pe->parent_seen = gluetool_action_get_parent (pe->child);
  g_object_get (pe->child, "parent", &pe->property_seen, NULL);
  return NULL;
}

/* A thread whose stack does not hold the parent does not find it. */
START_TEST (test_parent_not_found_in_other_thread)
{
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  g_autoptr(GluetoolAction) child = gluetool_action_new ("child", root);
  ParentElsewhere pe = { .child = child, .parent_seen = root, .property_seen = NULL };

  g_thread_join (g_thread_new ("parent-getter", get_parent_thread, &pe));
  ck_assert_ptr_null (pe.parent_seen);
  ck_assert_ptr_null (pe.property_seen);
  ck_assert_ptr_eq (gluetool_action_get_parent (child), root);
  finish_ok (child);
  finish_ok (root);
}
END_TEST

/* A parent dropped before its unfinished child is finished then: the child
 * holds no reference to it. The child no longer finds it, and keeps its
 * ids. */
START_TEST (test_drop_parent_before_child)
{
  GluetoolAction *parent = gluetool_action_new ("parent", NULL);
  g_autoptr(GluetoolAction) child = gluetool_action_new ("child", parent);
  g_autoptr(GluetoolSpanContext) context = NULL;
  guint64 parent_span_id = gluetool_action_get_span_id (parent);
  GluetoolAction *weak = parent;
  FinishedProbe probe = { 0 };

  watch_finished (parent, &probe);
  g_object_add_weak_pointer (G_OBJECT (parent), (gpointer *) &weak);
  g_object_unref (parent);

  ck_assert_ptr_null (weak);
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);
  ck_assert (!gluetool_action_is_finished (child));
  ck_assert_ptr_eq (gluetool_action_get_current (), child);
  ck_assert_ptr_null (gluetool_action_get_parent (child));
  context = gluetool_action_dup_context (child);
  ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (context), parent_span_id);
  finish_ok (child);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

/* The reference dup_current() gives is the caller's own: the action lives on
 * after every other reference is dropped, finished by its dispose. */
START_TEST (test_dup_current_keeps_alive)
{
  GluetoolAction *action = gluetool_action_new ("held", NULL);
  GluetoolAction *current;

  current = gluetool_action_dup_current ();
  ck_assert_ptr_eq (current, action);
  g_object_unref (action);
  /* Still alive and still current: our reference keeps it. */
  ck_assert_str_eq (gluetool_action_get_label (current), "held");
  ck_assert_ptr_eq (gluetool_action_get_current (), current);
  ck_assert (!gluetool_action_is_finished (current));
  g_object_unref (current);
  ck_assert_ptr_null (gluetool_action_get_current ());
  ck_assert_ptr_null (gluetool_action_dup_current ());
}
END_TEST

/* A forked child must not repeat its parent's ids: both generators start from
 * the same state at fork(). */
START_TEST (test_fork_does_not_repeat_ids)
{
  g_autoptr(GluetoolAction) before = gluetool_action_new ("before fork", NULL);
  g_autoptr(GluetoolAction) parent_side = NULL;
  g_autofree char *parent_id = NULL;
  char child_id[33] = { 0 };
  int fds[2];
  int status = 0;
  pid_t pid;

  ck_assert_int_eq (pipe (fds), 0);
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0)
    {
      GluetoolAction *child_side = gluetool_action_new ("in child", NULL);
      g_autofree char *id = gluetool_action_dup_trace_id (child_side);
      gboolean written = write (fds[1], id, 32) == 32;

      _exit (written ? 0 : 1);
    }
  close (fds[1]);
  parent_side = gluetool_action_new ("in parent", NULL);
  parent_id = gluetool_action_dup_trace_id (parent_side);
  ck_assert_int_eq (read (fds[0], child_id, 32), 32);
  close (fds[0]);
  /* Only reaped: the 32 bytes read are the child's answer. (Its exit status
   * is not asserted: under valgrind it reports the child's own leaks, as
   * _exit() skips every cleanup.) */
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  ck_assert_str_ne (parent_id, child_id);
  gluetool_action_finish (parent_side, NULL);
  gluetool_action_finish (before, NULL);
}
END_TEST

/* As language bindings make one: g_object_new() with the construct
 * properties starts the action, as gluetool_action_new() does. */
START_TEST (test_made_with_properties)
{
  g_autoptr(GluetoolAction) root = g_object_new (GLUETOOL_TYPE_ACTION, "label", "root", NULL);
  g_autoptr(GluetoolAction) child = g_object_new (GLUETOOL_TYPE_ACTION,
                                                  "label", "child", "parent", root, NULL);
  g_autoptr(GluetoolSpanContext) root_context = NULL;
  g_autoptr(GluetoolSpanContext) child_context = NULL;

  ck_assert_str_eq (gluetool_action_get_label (root), "root");
  ck_assert_ptr_null (gluetool_action_get_parent (root));
  ck_assert_ptr_eq (gluetool_action_get_parent (child), root);
  ck_assert_ptr_eq (gluetool_action_get_current (), child);
  ck_assert_uint_ne (gluetool_action_get_span_id (root), 0);

  root_context = gluetool_action_dup_context (root);
  child_context = gluetool_action_dup_context (child);
  ck_assert_uint_eq (gluetool_span_context_get_trace_id_low (child_context),
                     gluetool_span_context_get_trace_id_low (root_context));
  ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (child_context),
                     gluetool_action_get_span_id (root));

  finish_ok (child);
  ck_assert_ptr_eq (gluetool_action_get_current (), root);
  finish_ok (root);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

START_TEST (test_current_follows_stack)
{
  g_autoptr(GluetoolAction) a = NULL;
  g_autoptr(GluetoolAction) b = NULL;
  g_autoptr(GluetoolAction) c = NULL;

  ck_assert_ptr_null (gluetool_action_get_current ());

  a = gluetool_action_new ("a", NULL);
  ck_assert_ptr_eq (gluetool_action_get_current (), a);
  b = gluetool_action_new ("b", gluetool_action_get_current ());
  ck_assert_ptr_eq (gluetool_action_get_current (), b);
  ck_assert_ptr_eq (gluetool_action_get_parent (b), a);
  c = gluetool_action_new ("c", gluetool_action_get_current ());
  ck_assert_ptr_eq (gluetool_action_get_current (), c);

  finish_ok (c);
  ck_assert_ptr_eq (gluetool_action_get_current (), b);
  finish_ok (b);
  ck_assert_ptr_eq (gluetool_action_get_current (), a);
  finish_ok (a);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

START_TEST (test_finish_out_of_order)
{
  g_autoptr(GluetoolAction) a = gluetool_action_new ("a", NULL);
  g_autoptr(GluetoolAction) b = gluetool_action_new ("b", a);
  g_autoptr(GluetoolAction) c = gluetool_action_new ("c", b);

  /* The middle one: the top stays. */
  finish_ok (b);
  ck_assert_ptr_eq (gluetool_action_get_current (), c);
  /* b is gone from the stack, so the top one reveals a. */
  finish_ok (c);
  ck_assert_ptr_eq (gluetool_action_get_current (), a);
  finish_ok (a);
  ck_assert_ptr_null (gluetool_action_get_current ());

  /* The bottom one first. */
  {
    g_autoptr(GluetoolAction) d = gluetool_action_new ("d", NULL);
    g_autoptr(GluetoolAction) e = gluetool_action_new ("e", d);

    finish_ok (d);
    ck_assert_ptr_eq (gluetool_action_get_current (), e);
    finish_ok (e);
    ck_assert_ptr_null (gluetool_action_get_current ());
  }
}
END_TEST

START_TEST (test_finish_twice)
{
  g_autoptr(GluetoolAction) action = gluetool_action_new ("twice", NULL);
  FinishedProbe probe = { 0 };

  watch_finished (action, &probe);
  ck_assert (!gluetool_action_is_finished (action));
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 0);

  finish_ok (action);
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);
  ck_assert_ptr_eq (probe.thread, g_thread_self ());

  finish_fails (action, GLUETOOL_ACTION_ERROR_FINISHED);
  finish_fails (action, GLUETOOL_ACTION_ERROR_FINISHED);
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);

  /* Without an error to fill in, it fails all the same. */
  ck_assert (!gluetool_action_finish (action, NULL));
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

/* ---- Threads ------------------------------------------------------------------ */

typedef struct {
  GluetoolAction *action;         /* (unowned) */
  gboolean        ok;
  GError         *error;          /* (owned) */
  GluetoolAction *current_after;  /* what the worker saw on its own stack */
} FinishElsewhere;

static gpointer
finish_elsewhere_thread (gpointer data)
{
  FinishElsewhere *fe = data;

  fe->ok = gluetool_action_finish (fe->action, &fe->error);
  fe->current_after = gluetool_action_get_current ();
  return NULL;
}

START_TEST (test_finish_in_other_thread)
{
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  g_autoptr(GluetoolAction) action = gluetool_action_new ("made in main", root);
  FinishedProbe probe = { 0 };
  FinishElsewhere fe = { .action = action };
  GThread *thread;

  watch_finished (action, &probe);
  ck_assert_ptr_eq (gluetool_action_get_current (), action);

  thread = g_thread_new ("finisher", finish_elsewhere_thread, &fe);
  g_thread_join (thread);

  ck_assert (!fe.ok);
  ck_assert_ptr_nonnull (fe.error);
  ck_assert_msg (g_error_matches (fe.error, GLUETOOL_ACTION_ERROR,
                                  GLUETOOL_ACTION_ERROR_NOT_ACTIVE),
                 "wrong error: %s", fe.error->message);
  g_clear_error (&fe.error);
  ck_assert_ptr_null (fe.current_after);

  /* Reported all the same, once, from the thread that finished it. */
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);
  ck_assert_ptr_eq (probe.thread, thread);
  ck_assert (gluetool_action_is_finished (action));

  /* The home thread's stack no longer holds it. */
  ck_assert_ptr_eq (gluetool_action_get_current (), root);
  finish_fails (action, GLUETOOL_ACTION_ERROR_FINISHED);
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);

  finish_ok (root);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

typedef struct {
  GluetoolAction *root;                  /* (unowned) */
  GluetoolAction *current_at_start;
  GluetoolAction *current_after_root;
  GluetoolAction *child;                 /* (unowned) only compared after */
  GluetoolAction *child_parent;
  GluetoolAction *current_after_child;
  gboolean        same_trace;
  gboolean        child_finish_ok;
  GluetoolAction *current_after_finish;
  GluetoolAction *current_after_reset;
} RootWorker;

static gpointer
root_worker_thread (gpointer data)
{
  RootWorker *rw = data;
  g_autoptr(GluetoolAction) child = NULL;
  g_autofree char *root_trace = NULL;
  g_autofree char *child_trace = NULL;

  rw->current_at_start = gluetool_action_get_current ();
  gluetool_action_set_thread_root (rw->root);
  rw->current_after_root = gluetool_action_get_current ();

  child = gluetool_action_new ("worker child", gluetool_action_get_current ());
  rw->child = child;
  rw->child_parent = gluetool_action_get_parent (child);
  rw->current_after_child = gluetool_action_get_current ();

  root_trace = gluetool_action_dup_trace_id (rw->root);
  child_trace = gluetool_action_dup_trace_id (child);
  rw->same_trace = g_str_equal (root_trace, child_trace);

  rw->child_finish_ok = gluetool_action_finish (child, NULL);
  rw->current_after_finish = gluetool_action_get_current ();

  gluetool_action_set_thread_root (NULL);
  rw->current_after_reset = gluetool_action_get_current ();
  return NULL;
}

START_TEST (test_thread_root_in_worker)
{
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  g_autoptr(GluetoolAction) main_child = gluetool_action_new ("main child", root);
  RootWorker rw = { .root = root };
  FinishedProbe root_probe = { 0 };

  watch_finished (root, &root_probe);
  g_thread_join (g_thread_new ("root-worker", root_worker_thread, &rw));

  ck_assert_ptr_null (rw.current_at_start);
  ck_assert_ptr_eq (rw.current_after_root, root);
  ck_assert_ptr_nonnull (rw.child);
  ck_assert_ptr_eq (rw.child_parent, root);
  ck_assert_ptr_eq (rw.current_after_child, rw.child);
  ck_assert (rw.same_trace);
  ck_assert (rw.child_finish_ok);
  ck_assert_ptr_eq (rw.current_after_finish, root);
  ck_assert_ptr_null (rw.current_after_reset);

  /* The worker neither finished the root nor touched this thread's stack. */
  ck_assert_int_eq (g_atomic_int_get (&root_probe.count), 0);
  ck_assert (!gluetool_action_is_finished (root));
  ck_assert_ptr_eq (gluetool_action_get_current (), main_child);
  finish_ok (main_child);
  ck_assert_ptr_eq (gluetool_action_get_current (), root);
  finish_ok (root);
  ck_assert_ptr_null (gluetool_action_get_current ());
  ck_assert_int_eq (g_atomic_int_get (&root_probe.count), 1);
}
END_TEST

typedef struct {
  GluetoolAction *root;   /* (unowned) */
  gboolean        finish_ok;
  GluetoolAction *current_after;
} FinishRootWorker;

static gpointer
finish_root_thread (gpointer data)
{
  FinishRootWorker *fw = data;

  gluetool_action_set_thread_root (fw->root);
  /* The root is on this thread's stack: finishing it here is no mistake. */
  fw->finish_ok = gluetool_action_finish (fw->root, NULL);
  fw->current_after = gluetool_action_get_current ();
  return NULL;
}

/* A worker finishes the root it works under. It was active there, and it must
 * also leave the stack of the thread that started it: otherwise that stack
 * keeps a pointer to a finished action, which dangles once it is freed. */
START_TEST (test_finish_thread_root_in_worker)
{
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  FinishRootWorker fw = { .root = root };
  FinishedProbe probe = { 0 };

  watch_finished (root, &probe);
  g_thread_join (g_thread_new ("root-finisher", finish_root_thread, &fw));

  ck_assert (fw.finish_ok);
  ck_assert_ptr_null (fw.current_after);
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);
  ck_assert (gluetool_action_is_finished (root));

  ck_assert_msg (gluetool_action_get_current () != root,
                 "the finished root is still the current action of the thread that made it");
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

static gpointer
set_root_and_exit_thread (gpointer data)
{
  gluetool_action_set_thread_root (data);
  return NULL;
}

/* A worker that ends with a root still set releases it. */
START_TEST (test_thread_root_released_at_thread_exit)
{
  GluetoolAction *root = gluetool_action_new ("root", NULL);
  GluetoolAction *weak = root;
  FinishedProbe probe = { 0 };

  watch_finished (root, &probe);
  g_object_add_weak_pointer (G_OBJECT (root), (gpointer *) &weak);

  g_thread_join (g_thread_new ("root-holder", set_root_and_exit_thread, root));

  ck_assert_int_eq (g_atomic_int_get (&probe.count), 0);
  ck_assert_ptr_eq (gluetool_action_get_current (), root);
  finish_ok (root);
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);

  /* Only this reference is left. */
  g_object_unref (root);
  ck_assert_ptr_null (weak);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

static gpointer
adopt_root_and_exit_thread (gpointer data)
{
  GluetoolAction *root = data;   /* (owned) */

  gluetool_action_set_thread_root (root);
  /* Now the thread's stack holds the last reference. */
  g_object_unref (root);
  return NULL;
}

/* A worker holding the last reference to an unfinished root ends: the root is
 * finished as it goes away, and taken off the stack it was started on. */
START_TEST (test_thread_exit_drops_last_ref_to_root)
{
  GluetoolAction *root = gluetool_action_new ("root", NULL);
  GluetoolAction *weak = root;
  FinishedProbe probe = { 0 };

  watch_finished (root, &probe);
  g_object_add_weak_pointer (G_OBJECT (root), (gpointer *) &weak);
  ck_assert_ptr_eq (gluetool_action_get_current (), root);

  g_thread_join (g_thread_new ("root-adopter", adopt_root_and_exit_thread,
                               g_steal_pointer (&root)));

  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);
  ck_assert_ptr_null (weak);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

START_TEST (test_set_thread_root_null_empties)
{
  g_autoptr(GluetoolAction) a = gluetool_action_new ("a", NULL);
  g_autoptr(GluetoolAction) b = gluetool_action_new ("b", a);
  FinishedProbe probe_a = { 0 }, probe_b = { 0 };

  watch_finished (a, &probe_a);
  watch_finished (b, &probe_b);
  ck_assert_ptr_eq (gluetool_action_get_current (), b);

  gluetool_action_set_thread_root (NULL);
  ck_assert_ptr_null (gluetool_action_get_current ());
  /* Still unfinished, and no longer on the stack: finishing them reports
   * them but fails. */
  ck_assert (!gluetool_action_is_finished (a));
  ck_assert (!gluetool_action_is_finished (b));
  finish_fails (b, GLUETOOL_ACTION_ERROR_NOT_ACTIVE);
  finish_fails (a, GLUETOOL_ACTION_ERROR_NOT_ACTIVE);
  ck_assert_int_eq (g_atomic_int_get (&probe_a.count), 1);
  ck_assert_int_eq (g_atomic_int_get (&probe_b.count), 1);

  /* Emptying an empty stack is fine too. */
  gluetool_action_set_thread_root (NULL);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

START_TEST (test_set_thread_root_same_thread)
{
  g_autoptr(GluetoolAction) other = gluetool_action_new ("other", NULL);
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  g_autoptr(GluetoolAction) child = NULL;

  /* [other, root] becomes [root]. */
  gluetool_action_set_thread_root (root);
  ck_assert_ptr_eq (gluetool_action_get_current (), root);

  child = gluetool_action_new ("child", gluetool_action_get_current ());
  ck_assert_ptr_eq (gluetool_action_get_current (), child);
  finish_ok (child);
  ck_assert_ptr_eq (gluetool_action_get_current (), root);
  finish_ok (root);
  ck_assert_ptr_null (gluetool_action_get_current ());

  finish_fails (other, GLUETOOL_ACTION_ERROR_NOT_ACTIVE);
}
END_TEST

#define N_THREADS 8
#define DEPTH     32

typedef struct {
  guint    index;
  Barrier *barrier;
  guint    n_failures;
  char    *first_failure;   /* (owned) (nullable) */
} StackWorker;

static void
stack_worker_fail (StackWorker *sw,
                   const char  *format,
                   ...) G_GNUC_PRINTF (2, 3);

static void
stack_worker_fail (StackWorker *sw,
                   const char  *format,
                   ...)
{
  va_list args;

  sw->n_failures++;
  if (sw->first_failure != NULL)
    return;
  va_start (args, format);
  sw->first_failure = g_strdup_vprintf (format, args);
  va_end (args);
}

static void
stack_worker_expect_current (StackWorker    *sw,
                             GluetoolAction *expected,
                             const char     *when)
{
  GluetoolAction *current = gluetool_action_get_current ();

  if (current != expected)
    stack_worker_fail (sw, "thread %u, %s: current is '%s', wanted '%s'", sw->index, when,
                       current != NULL ? gluetool_action_get_label (current) : "(none)",
                       expected != NULL ? gluetool_action_get_label (expected) : "(none)");
}

static gpointer
stack_worker_thread (gpointer data)
{
  StackWorker *sw = data;
  GluetoolAction *actions[DEPTH];
  const guint middle = DEPTH / 2;

  stack_worker_expect_current (sw, NULL, "at start");

  for (guint i = 0; i < DEPTH; i++)
    {
      g_autofree char *label = g_strdup_printf ("thread %u depth %u", sw->index, i);

      actions[i] = gluetool_action_new (label, i > 0 ? actions[i - 1] : NULL);
      stack_worker_expect_current (sw, actions[i], "building");
    }

  /* Every thread has a full stack now; each still sees its own top. */
  barrier_wait (sw->barrier);
  stack_worker_expect_current (sw, actions[DEPTH - 1], "all built");

  /* One out of order, then the rest from the top down. */
  if (!gluetool_action_finish (actions[middle], NULL))
    stack_worker_fail (sw, "thread %u: finishing the middle failed", sw->index);
  stack_worker_expect_current (sw, actions[DEPTH - 1], "middle finished");
  barrier_wait (sw->barrier);

  for (guint i = DEPTH; i > 0; i--)
    {
      if (i - 1 == middle)
        continue;
      if (!gluetool_action_finish (actions[i - 1], NULL))
        stack_worker_fail (sw, "thread %u: finishing depth %u failed", sw->index, i - 1);
      if (i - 1 > 0)
        stack_worker_expect_current (sw, actions[i - 2 == middle ? i - 3 : i - 2], "unwinding");
    }
  stack_worker_expect_current (sw, NULL, "at end");

  for (guint i = 0; i < DEPTH; i++)
    g_object_unref (actions[i]);
  return NULL;
}

START_TEST (test_many_threads)
{
  StackWorker workers[N_THREADS];
  GThread *threads[N_THREADS];
  Barrier barrier;
  g_autoptr(GluetoolAction) main_action = gluetool_action_new ("main", NULL);

  barrier_init (&barrier, N_THREADS);
  for (guint i = 0; i < N_THREADS; i++)
    {
      workers[i] = (StackWorker) { .index = i, .barrier = &barrier };
      threads[i] = g_thread_new ("stack-worker", stack_worker_thread, &workers[i]);
    }
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  barrier_clear (&barrier);

  for (guint i = 0; i < N_THREADS; i++)
    {
      ck_assert_msg (workers[i].n_failures == 0, "%u failures, first: %s",
                     workers[i].n_failures, workers[i].first_failure);
      g_free (workers[i].first_failure);
    }

  /* None of that touched this thread's stack. */
  ck_assert_ptr_eq (gluetool_action_get_current (), main_action);
  finish_ok (main_action);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

/* ---- Dropping the last reference ----------------------------------------------- */

START_TEST (test_drop_last_ref_finishes)
{
  GluetoolAction *weak_outer = NULL;
  GluetoolAction *weak_inner = NULL;
  FinishedProbe outer_probe = { 0 }, inner_probe = { 0 };

  {
    g_autoptr(GluetoolAction) outer = gluetool_action_new ("outer", NULL);

    watch_finished (outer, &outer_probe);
    weak_outer = outer;
    g_object_add_weak_pointer (G_OBJECT (outer), (gpointer *) &weak_outer);

    {
      g_autoptr(GluetoolAction) inner = gluetool_action_new ("inner", outer);

      watch_finished (inner, &inner_probe);
      weak_inner = inner;
      g_object_add_weak_pointer (G_OBJECT (inner), (gpointer *) &weak_inner);
      ck_assert_ptr_eq (gluetool_action_get_current (), inner);
    }

    ck_assert_ptr_null (weak_inner);
    ck_assert_int_eq (g_atomic_int_get (&inner_probe.count), 1);
    ck_assert_int_eq (g_atomic_int_get (&outer_probe.count), 0);
    ck_assert (!gluetool_action_is_finished (outer));
    ck_assert_ptr_eq (gluetool_action_get_current (), outer);
  }

  ck_assert_ptr_null (weak_outer);
  ck_assert_int_eq (g_atomic_int_get (&outer_probe.count), 1);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

/* A finished action that goes away is not finished again. */
START_TEST (test_drop_finished_action)
{
  FinishedProbe probe = { 0 };
  GluetoolAction *action = gluetool_action_new ("finished first", NULL);
  GluetoolAction *weak = action;

  watch_finished (action, &probe);
  g_object_add_weak_pointer (G_OBJECT (action), (gpointer *) &weak);
  finish_ok (action);
  g_object_unref (action);

  ck_assert_ptr_null (weak);
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

static gpointer
unref_thread (gpointer data)
{
  g_object_unref (data);
  return NULL;
}

/* The last reference goes in another thread: the action is finished there
 * and taken off the stack it started on. */
START_TEST (test_drop_last_ref_in_other_thread)
{
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  GluetoolAction *action = gluetool_action_new ("handed over", root);
  GluetoolAction *weak = action;
  FinishedProbe probe = { 0 };
  GThread *thread;

  watch_finished (action, &probe);
  g_object_add_weak_pointer (G_OBJECT (action), (gpointer *) &weak);
  ck_assert_ptr_eq (gluetool_action_get_current (), action);

  thread = g_thread_new ("unref", unref_thread, g_steal_pointer (&action));
  g_thread_join (thread);

  ck_assert_ptr_null (weak);
  ck_assert_int_eq (g_atomic_int_get (&probe.count), 1);
  ck_assert_ptr_eq (probe.thread, thread);
  ck_assert_ptr_eq (gluetool_action_get_current (), root);
  finish_ok (root);
}
END_TEST

/* ---- Ids ----------------------------------------------------------------------- */

static void
assert_trace_id_format (const char *trace_id)
{
  ck_assert_uint_eq (strlen (trace_id), 32);
  for (const char *p = trace_id; *p != '\0'; p++)
    ck_assert_msg (g_ascii_isdigit (*p) || (*p >= 'a' && *p <= 'f'),
                   "'%s' is not lower-case hex", trace_id);
  ck_assert_str_ne (trace_id, "00000000000000000000000000000000");
}

START_TEST (test_ids)
{
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  g_autoptr(GluetoolAction) child = gluetool_action_new ("child", root);
  g_autoptr(GluetoolAction) grandchild = gluetool_action_new ("grandchild", child);
  g_autoptr(GluetoolAction) other_root = gluetool_action_new ("other root", NULL);
  g_autofree char *root_trace = gluetool_action_dup_trace_id (root);
  g_autofree char *child_trace = gluetool_action_dup_trace_id (child);
  g_autofree char *grandchild_trace = gluetool_action_dup_trace_id (grandchild);
  g_autofree char *other_trace = gluetool_action_dup_trace_id (other_root);
  GluetoolAction *all[] = { root, child, grandchild, other_root };

  assert_trace_id_format (root_trace);
  assert_trace_id_format (other_trace);
  ck_assert_str_eq (child_trace, root_trace);
  ck_assert_str_eq (grandchild_trace, root_trace);
  ck_assert_str_ne (other_trace, root_trace);

  for (gsize i = 0; i < G_N_ELEMENTS (all); i++)
    {
      ck_assert_uint_ne (gluetool_action_get_span_id (all[i]), 0);
      for (gsize j = 0; j < i; j++)
        ck_assert_uint_ne (gluetool_action_get_span_id (all[i]),
                           gluetool_action_get_span_id (all[j]));
    }

  /* Ids stay what they were once finished. */
  {
    guint64 span_id = gluetool_action_get_span_id (child);
    g_autofree char *after = NULL;

    finish_ok (grandchild);
    finish_ok (child);
    after = gluetool_action_dup_trace_id (child);
    ck_assert_str_eq (after, root_trace);
    ck_assert_uint_eq (gluetool_action_get_span_id (child), span_id);
  }

  finish_ok (other_root);
  finish_ok (root);
}
END_TEST

START_TEST (test_roots_get_new_traces)
{
  g_autoptr(GHashTable) traces = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
      char *trace_id = gluetool_action_dup_trace_id (root);

      ck_assert_msg (g_hash_table_add (traces, trace_id), "trace id %s came twice", trace_id);
      finish_ok (root);
    }
  ck_assert_uint_eq (g_hash_table_size (traces), 200);
}
END_TEST

/* ---- Tags ---------------------------------------------------------------------- */

START_TEST (test_new_with_tags)
{
  g_autoptr(GVariantBuilder) builder = g_variant_builder_new (G_VARIANT_TYPE_VARDICT);
  g_autoptr(GluetoolAction) root = NULL;
  g_autoptr(GluetoolAction) child = NULL;
  GVariant *tags;

  g_variant_builder_add (builder, "{sv}", "string", g_variant_new_string ("value"));
  g_variant_builder_add (builder, "{sv}", "int", g_variant_new_int32 (-5));
  g_variant_builder_add (builder, "{sv}", "big", g_variant_new_uint64 (G_MAXUINT64));
  g_variant_builder_add (builder, "{sv}", "double", g_variant_new_double (2.5));
  g_variant_builder_add (builder, "{sv}", "bool", g_variant_new_boolean (TRUE));
  g_variant_builder_add (builder, "{sv}", "boxed",
                         g_variant_new_variant (g_variant_new_int64 (7)));
  g_variant_builder_add (builder, "{sv}", "array", g_variant_new_parsed ("['a', 'b']"));
  tags = g_variant_builder_end (builder);

  /* Our own reference besides the floating one, to see what became of it. */
  ck_assert (g_variant_is_floating (tags));
  g_variant_ref (tags);

  root = gluetool_action_new_with_tags ("tagged", NULL, tags);
  ck_assert_ptr_nonnull (root);
  ck_assert_str_eq (gluetool_action_get_label (root), "tagged");
  ck_assert_ptr_eq (gluetool_action_get_current (), root);
  /* The floating reference was taken (sunk), not merely borrowed. */
  ck_assert (!g_variant_is_floating (tags));
  g_variant_unref (tags);

  /* A floating dictionary straight from a constructor, and no tags at all. */
  child = gluetool_action_new_with_tags ("child", root,
                                         g_variant_new_parsed ("{'k': <'v'>, 'n': <@u 3>}"));
  ck_assert_ptr_eq (gluetool_action_get_parent (child), root);
  finish_ok (child);

  {
    g_autoptr(GluetoolAction) untagged = gluetool_action_new_with_tags ("untagged", NULL, NULL);

    ck_assert_ptr_eq (gluetool_action_get_current (), untagged);
    finish_ok (untagged);
  }

  finish_ok (root);
  ck_assert_uint_eq (get_n_criticals (), 0);
  ck_assert_uint_eq (get_n_warnings (), 0);
}
END_TEST

START_TEST (test_set_tags_floating)
{
  g_autoptr(GluetoolAction) action = gluetool_action_new ("tags", NULL);
  g_autoptr(GVariant) owned = g_variant_ref_sink (g_variant_new_string ("kept"));
  GVariant *floating = g_variant_new_int64 (42);
  GVariant *floating_dict = g_variant_new_parsed ("{'a': <1>, 'b': <'two'>, 'c': <3.0>}");

  /* set_tag() takes a floating reference. */
  g_variant_ref (floating);
  gluetool_action_set_tag (action, "floating", floating);
  ck_assert (!g_variant_is_floating (floating));
  g_variant_unref (floating);

  /* A reference that is not floating is only borrowed. */
  gluetool_action_set_tag (action, "owned", owned);
  ck_assert_str_eq (g_variant_get_string (owned, NULL), "kept");

  /* set_tags() too. */
  g_variant_ref (floating_dict);
  gluetool_action_set_tags (action, floating_dict);
  ck_assert (!g_variant_is_floating (floating_dict));
  g_variant_unref (floating_dict);

  /* Every kind of value, each from a fresh floating reference. */
  gluetool_action_set_tag (action, "byte", g_variant_new_byte (200));
  gluetool_action_set_tag (action, "int16", g_variant_new_int16 (-3));
  gluetool_action_set_tag (action, "uint16", g_variant_new_uint16 (3));
  gluetool_action_set_tag (action, "int32", g_variant_new_int32 (G_MININT32));
  gluetool_action_set_tag (action, "uint32", g_variant_new_uint32 (G_MAXUINT32));
  gluetool_action_set_tag (action, "int64", g_variant_new_int64 (G_MININT64));
  gluetool_action_set_tag (action, "uint64", g_variant_new_uint64 (G_MAXUINT64));
  gluetool_action_set_tag (action, "handle", g_variant_new_handle (4));
  gluetool_action_set_tag (action, "double", g_variant_new_double (-0.5));
  gluetool_action_set_tag (action, "boolean", g_variant_new_boolean (FALSE));
  gluetool_action_set_tag (action, "path", g_variant_new_object_path ("/org/example"));
  gluetool_action_set_tag (action, "signature", g_variant_new_signature ("a{sv}"));
  gluetool_action_set_tag (action, "variant",
                           g_variant_new_variant (g_variant_new_variant (g_variant_new_string ("x"))));
  gluetool_action_set_tag (action, "tuple", g_variant_new ("(si)", "t", 1));
  gluetool_action_set_tag (action, "maybe", g_variant_new_maybe (G_VARIANT_TYPE_INT32, NULL));
  gluetool_action_set_tags (action, g_variant_new_parsed ("@a{sv} {}"));

  /* The typed setters. */
  gluetool_action_set_tag_string (action, "s", "text");
  gluetool_action_set_tag_int64 (action, "i", G_MAXINT64);
  gluetool_action_set_tag_double (action, "d", 1e300);
  gluetool_action_set_tag_boolean (action, "b", TRUE);

  /* Replacing tags over and over, and more than fit inline. */
  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *name = g_strdup_printf ("tag-%u", i % 40);
      g_autofree char *value = g_strnfill (i, 'v');

      gluetool_action_set_tag (action, name, g_variant_new_string (value));
      gluetool_action_set_tag_int64 (action, "replaced", i);
      gluetool_action_set_tag_string (action, "s", value);
    }

  finish_ok (action);
  ck_assert_uint_eq (get_n_criticals (), 0);
  ck_assert_uint_eq (get_n_warnings (), 0);
}
END_TEST

typedef struct {
  gboolean finished_seen;
  guint    calls;
} TaggingHandler;

static void
on_finished_set_tags (GluetoolAction *action,
                      gpointer        user_data)
{
  TaggingHandler *th = user_data;

  th->calls++;
  th->finished_seen = gluetool_action_is_finished (action);
  gluetool_action_set_tag_string (action, "result", "done");
  gluetool_action_set_tag_int64 (action, "count", 3);
  gluetool_action_set_tag_double (action, "ratio", 0.5);
  gluetool_action_set_tag_boolean (action, "ok", TRUE);
  gluetool_action_set_tag (action, "variant", g_variant_new_string ("late"));
  gluetool_action_set_tags (action, g_variant_new_parsed ("{'more': <1>}"));
  gluetool_action_add_log (action, g_variant_new_parsed ("{'event': <'finishing'>}"));
}

/* A handler of ::finished runs before the span is encoded, so it may still
 * set tags: no critical. */
START_TEST (test_finished_handler_sets_tags)
{
  g_autoptr(GluetoolAction) action = gluetool_action_new ("handled", NULL);
  TaggingHandler th = { 0 };

  g_signal_connect (action, "finished", G_CALLBACK (on_finished_set_tags), &th);
  finish_ok (action);

  ck_assert_uint_eq (th.calls, 1);
  ck_assert (th.finished_seen);
  ck_assert_uint_eq (get_n_criticals (), 0);
  ck_assert_uint_eq (get_n_warnings (), 0);
}
END_TEST

static void
on_finished_after_set_tag (GluetoolAction *action,
                           gpointer        user_data)
{
  guint *calls = user_data;

  (*calls)++;
  gluetool_action_set_tag_string (action, "too", "late");
}

/* A handler connected after the class handler runs once the span was
 * encoded: its tag would be lost, so it is told. */
START_TEST (test_finished_after_handler_too_late)
{
  g_autoptr(GluetoolAction) action = gluetool_action_new ("after", NULL);
  guint calls = 0;

  expect_criticals ();
  g_signal_connect_after (action, "finished", G_CALLBACK (on_finished_after_set_tag), &calls);
  finish_ok (action);

  ck_assert_uint_eq (calls, 1);
  ck_assert_uint_eq (get_n_criticals (), 1);
  assert_last_message_contains ("after");
}
END_TEST

START_TEST (test_set_tag_after_finish)
{
  g_autoptr(GluetoolAction) action = gluetool_action_new ("done already", NULL);
  GVariant *floating = g_variant_new_string ("lost");
  guint expected = 0;

  expect_criticals ();
  finish_ok (action);
  ck_assert_uint_eq (get_n_criticals (), 0);

  /* The floating reference is still taken: no leak (valgrind, ASan). */
  g_variant_ref (floating);
  gluetool_action_set_tag (action, "a", floating);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  assert_last_message_contains ("done already");
  ck_assert (!g_variant_is_floating (floating));
  g_variant_unref (floating);

  gluetool_action_set_tags (action, g_variant_new_parsed ("{'b': <1>}"));
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  gluetool_action_set_tag_string (action, "c", "x");
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  gluetool_action_set_tag_int64 (action, "d", 1);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  gluetool_action_set_tag_double (action, "e", 1.0);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  gluetool_action_set_tag_boolean (action, "f", TRUE);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  gluetool_action_add_log (action, g_variant_new_parsed ("{'g': <'h'>}"));
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  assert_last_message_contains ("finished");

  /* The action is as it was. */
  ck_assert (gluetool_action_is_finished (action));
  ck_assert_str_eq (gluetool_action_get_label (action), "done already");
  finish_fails (action, GLUETOOL_ACTION_ERROR_FINISHED);
}
END_TEST

/* ---- UTF-8 ---------------------------------------------------------------------- */

START_TEST (test_invalid_utf8_label)
{
  g_autoptr(GluetoolAction) action = NULL;
  g_autofree char *property_label = NULL;
  const char *label;

  expect_warnings ();
  action = gluetool_action_new ("bad \xff label", NULL);
  ck_assert_ptr_nonnull (action);
  ck_assert_uint_eq (get_n_warnings (), 1);
  assert_last_message_contains ("UTF-8");

  label = gluetool_action_get_label (action);
  ck_assert (g_utf8_validate (label, -1, NULL));
  /* The bad byte became U+FFFD; the rest is kept. */
  ck_assert_str_eq (label, "bad \xef\xbf\xbd label");
  g_object_get (action, "label", &property_label, NULL);
  ck_assert_str_eq (property_label, label);

  /* Tag names and string values are mended the same way. */
  gluetool_action_set_tag_string (action, "name\xfe", "value\xc3");
  ck_assert_uint_eq (get_n_warnings (), 3);
  gluetool_action_set_tag_int64 (action, "n\xff", 1);
  ck_assert_uint_eq (get_n_warnings (), 4);
  gluetool_action_set_tag (action, "v\xff", g_variant_new_boolean (TRUE));
  ck_assert_uint_eq (get_n_warnings (), 5);
  /* A valid label warns about nothing. */
  {
    g_autoptr(GluetoolAction) fine = gluetool_action_new ("caf\xc3\xa9 \xe2\x9c\x93", action);

    ck_assert_str_eq (gluetool_action_get_label (fine), "caf\xc3\xa9 \xe2\x9c\x93");
    finish_ok (fine);
  }
  ck_assert_uint_eq (get_n_warnings (), 5);

  finish_ok (action);
  ck_assert_uint_eq (get_n_criticals (), 0);
}
END_TEST

/* ---- Preconditions --------------------------------------------------------------- */

START_TEST (test_preconditions)
{
  g_autoptr(GluetoolAction) action = NULL;
  g_autoptr(GObject) not_an_action = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GVariant) not_a_dict = g_variant_ref_sink (g_variant_new_int32 (1));
  g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_string ("v"));
  g_autoptr(GError) error = NULL;
  guint expected = 0;

  expect_criticals ();

  ck_assert_ptr_null (gluetool_action_new (NULL, NULL));
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  assert_last_message_contains ("label != NULL");

  ck_assert_ptr_null (gluetool_action_new ("bad parent", (GluetoolAction *) not_an_action));
  ck_assert_uint_eq (get_n_criticals (), ++expected);

  ck_assert_ptr_null (gluetool_action_new_with_tags ("bad tags", NULL, not_a_dict));
  ck_assert_uint_eq (get_n_criticals (), ++expected);

  /* None of those started an action. */
  ck_assert_ptr_null (gluetool_action_get_current ());

  action = gluetool_action_new ("fine", NULL);
  ck_assert_uint_eq (get_n_criticals (), expected);

  gluetool_action_set_tags (action, not_a_dict);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  assert_last_message_contains ("g_variant_is_of_type");
  gluetool_action_set_tags (action, NULL);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  gluetool_action_set_tag (action, NULL, value);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  gluetool_action_set_tag (action, "name", NULL);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  gluetool_action_set_tag_string (action, "name", NULL);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  gluetool_action_add_log (action, not_a_dict);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  /* A refused variant is left to its owner, whole. */
  ck_assert_int_eq (g_variant_get_int32 (not_a_dict), 1);

  ck_assert (!gluetool_action_finish (NULL, NULL));
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  ck_assert_ptr_null (gluetool_action_get_label (NULL));
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  ck_assert_ptr_null (gluetool_action_get_parent (NULL));
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  ck_assert_ptr_null (gluetool_action_dup_trace_id (NULL));
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  ck_assert_uint_eq (gluetool_action_get_span_id (NULL), 0);
  ck_assert_uint_eq (get_n_criticals (), ++expected);

  gluetool_action_set_thread_root ((GluetoolAction *) not_an_action);
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  ck_assert_ptr_eq (gluetool_action_get_current (), action);

  /* An error already set: refused before anything happens. */
  g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "earlier");
  ck_assert (!gluetool_action_finish (action, &error));
  ck_assert_uint_eq (get_n_criticals (), ++expected);
  ck_assert (!gluetool_action_is_finished (action));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_FAILED));
  ck_assert_ptr_eq (gluetool_action_get_current (), action);
  g_clear_error (&error);

  finish_ok (action);
  ck_assert_uint_eq (get_n_criticals (), expected);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

/* ---- Debug messages ---------------------------------------------------------- */

/* The library's debug messages run the program's log writer, the program's
 * own code, which may wait for a thread that forks: never from inside a
 * region of the process, which that fork() would wait for. Those made
 * inside one (an action's start and finish) are written once it ends. */
START_TEST (test_debug_written_outside_regions)
{
  g_autoptr(GluetoolAction) root = NULL;
  g_autoptr(GluetoolAction) child = NULL;
  g_autofree char *text = NULL;
  guint n_debug, n_in_region;

  gluetool_mutex_lock (&log_counts.lock);
  log_counts.n_debug = log_counts.n_debug_in_region = 0;
  if (log_counts.debug_text != NULL)
    g_string_truncate (log_counts.debug_text, 0);
  gluetool_mutex_unlock (&log_counts.lock);

  g_setenv ("G_MESSAGES_DEBUG", "Gluetool", TRUE);
  gluetool_debug_refresh ();
  root = gluetool_action_new ("debugged", NULL);
  child = gluetool_action_new ("debugged child", root);
  finish_ok (child);
  finish_ok (root);
  g_unsetenv ("G_MESSAGES_DEBUG");
  gluetool_debug_refresh ();

  gluetool_mutex_lock (&log_counts.lock);
  n_debug = log_counts.n_debug;
  n_in_region = log_counts.n_debug_in_region;
  /* A line each, every one after a newline. */
  text = g_strconcat ("\n", log_counts.debug_text != NULL ? log_counts.debug_text->str : "", NULL);
  gluetool_mutex_unlock (&log_counts.lock);
  /* Two starts and two ends (and, in a new process, the probe's report). */
  ck_assert_uint_ge (n_debug, 4);
  ck_assert_uint_eq (n_in_region, 0);
  ck_assert_msg (strstr (text, "\nAction 'debugged' started") != NULL
                 && strstr (text, "\nAction 'debugged child' finished") != NULL,
                 "debug messages:\n%s", text);
}
END_TEST

static Suite *
action_suite (void)
{
  Suite *s = suite_create ("action");
  TCase *tc;

  tc = tcase_create ("stack");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_label_and_parent);
  tcase_add_test (tc, test_made_with_properties);
  tcase_add_test (tc, test_current_follows_stack);
  tcase_add_test (tc, test_dup_current_keeps_alive);
  tcase_add_test (tc, test_fork_does_not_repeat_ids);
  tcase_add_test (tc, test_finish_out_of_order);
  tcase_add_test (tc, test_finish_twice);
  tcase_add_test (tc, test_drop_last_ref_finishes);
  tcase_add_test (tc, test_drop_parent_before_child);
  tcase_add_test (tc, test_drop_finished_action);
  tcase_add_test (tc, test_set_thread_root_null_empties);
  tcase_add_test (tc, test_set_thread_root_same_thread);
  suite_add_tcase (s, tc);

  tc = tcase_create ("threads");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_finish_in_other_thread);
  tcase_add_test (tc, test_parent_not_found_in_other_thread);
  tcase_add_test (tc, test_thread_root_in_worker);
  tcase_add_test (tc, test_finish_thread_root_in_worker);
  tcase_add_test (tc, test_thread_root_released_at_thread_exit);
  tcase_add_test (tc, test_thread_exit_drops_last_ref_to_root);
  tcase_add_test (tc, test_many_threads);
  tcase_add_test (tc, test_drop_last_ref_in_other_thread);
  suite_add_tcase (s, tc);

  tc = tcase_create ("ids");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_ids);
  tcase_add_test (tc, test_roots_get_new_traces);
  suite_add_tcase (s, tc);

  tc = tcase_create ("tags");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_new_with_tags);
  tcase_add_test (tc, test_set_tags_floating);
  tcase_add_test (tc, test_finished_handler_sets_tags);
  tcase_add_test (tc, test_finished_after_handler_too_late);
  tcase_add_test (tc, test_set_tag_after_finish);
  tcase_add_test (tc, test_invalid_utf8_label);
  suite_add_tcase (s, tc);

  tc = tcase_create ("debug");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_debug_written_outside_regions);
  suite_add_tcase (s, tc);

  tc = tcase_create ("preconditions");
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
  tcase_add_test (tc, test_preconditions);
  suite_add_tcase (s, tc);

  return s;
}

int
main (void)
{
  int status;

  /* Once per process, before any test logs anything. */
  g_log_set_writer_func (counting_writer, NULL, NULL);

  status = test_run_suite_tap (action_suite ());

  g_clear_pointer (&log_counts.last_message, g_free);
  if (log_counts.debug_text != NULL)
    g_string_free (g_steal_pointer (&log_counts.debug_text), TRUE);
  return status;
}
