/* recycler.c: finished objects each thread keeps, to make again
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdatomic.h>
#include <string.h>

#include <gio/gio.h>

#include "handler-flag-private.h"
#include "process-private.h"
#include "recycler-private.h"

/* Only a few of the most recent objects are looked at when taking one: in
 * the usual pattern (finish, unref, make the next) the last object kept is
 * free already, and a thread whose actions all stay referenced should not
 * pay for a scan of every slot each time it makes one. */
#define TAKE_SCAN_DEPTH 4

typedef struct {
  guint    n_kept;
  guint    next_to_check;                     /* see gluetool_recycler_keep() */
  guint64  n_taken;                           /* made again, ever */
  GObject *kept[GLUETOOL_RECYCLER_CAPACITY];  /* (owned) oldest first */
} Recycler;

static void recycler_free (gpointer data);

static GPrivate thread_recycler = G_PRIVATE_INIT (recycler_free);

/* -1 until first read; then 0 or 1. Relaxed: every thread computes the same
 * value from the environment, and a test that overrides it does so before
 * it makes objects. */
static atomic_int enabled = -1;

gboolean
gluetool_recycler_enabled_for_environment (const char  *recycle_actions,
                                           const char  *g_slice,
                                           GError     **error)
{
  g_auto(GStrv) tokens = NULL;

  if (recycle_actions != NULL && *recycle_actions != '\0')
    {
      if (g_str_equal (recycle_actions, "1"))
        return TRUE;
      if (g_str_equal (recycle_actions, "0"))
        return FALSE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s is '%s'; expected 0 or 1 (or empty)", GLUETOOL_RECYCLER_ENV, recycle_actions);
      /* Then as if it were unset. */
    }

  if (g_slice == NULL)
    return TRUE;
  /* The separators g_parse_debug_string() accepts. */
  tokens = g_strsplit_set (g_slice, ":;, \t", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      if (g_ascii_strcasecmp (tokens[i], "always-malloc") == 0
          || g_ascii_strcasecmp (tokens[i], "debug-blocks") == 0
          || g_ascii_strcasecmp (tokens[i], "all") == 0)
        return FALSE;
    }
  return TRUE;
}

gboolean
gluetool_recycler_is_enabled (void)
{
  int state = atomic_load_explicit (&enabled, memory_order_relaxed);

  if (G_UNLIKELY (state < 0))
    {
      g_autoptr(GError) error = NULL;

      state = gluetool_recycler_enabled_for_environment (g_getenv (GLUETOOL_RECYCLER_ENV),
                                                         g_getenv ("G_SLICE"), &error) ? 1 : 0;
      /* Threads racing here would each warn once: harmless. */
      if (error != NULL)
        g_warning ("%s: ignored, so G_SLICE decides whether finished actions are recycled",
                   error->message);
      atomic_store_explicit (&enabled, state, memory_order_relaxed);
    }
  return state != 0;
}

void
gluetool_recycler_set_enabled (gboolean is_enabled)
{
  atomic_store_explicit (&enabled, is_enabled ? 1 : 0, memory_order_relaxed);
}

static Recycler *
get_thread_recycler (void)
{
  Recycler *recycler = g_private_get (&thread_recycler);

  if (G_UNLIKELY (recycler == NULL))
    {
      recycler = g_new0 (Recycler, 1);
      g_private_set (&thread_recycler, recycler);
    }
  return recycler;
}

/* Whether @object has any signal handler, blocked or not, of any signal of
 * its type or its ancestors'. GLib's flag answers without a lock (a
 * superset: handlers since disconnected count). Without it, the look is
 * under GLib's global signal lock, once per signal, and it allocates: not
 * for the hot path (an action's dispose() knows its two signals and looks
 * at those alone). */
static gboolean
has_any_handler (GObject *object)
{
  GluetoolHandlerFlag flag = gluetool_handler_flag_read (object);

  if (flag != GLUETOOL_HANDLER_FLAG_UNKNOWN)
    return flag == GLUETOOL_HANDLER_FLAG_EVER;

  for (GType type = G_OBJECT_TYPE (object); type != 0; type = g_type_parent (type))
    {
      guint n_ids = 0;
      g_autofree guint *ids = g_signal_list_ids (type, &n_ids);

      /* Matching the id alone finds blocked handlers and detailed ones too. */
      for (guint i = 0; i < n_ids; i++)
        if (g_signal_handler_find (object, G_SIGNAL_MATCH_ID, ids[i], 0, NULL, NULL, NULL) != 0)
          return TRUE;
    }
  return FALSE;
}

/* Drops the recycler's reference, usually the last. Inside a region when
 * nothing of the program's can run in the object's end: no qdata (weak
 * references, toggle references, data with destroy notifications), and no
 * signal handler, blocked or not, connected since it was kept. Not on the
 * hot path, so the thorough look is affordable. (transfer full) */
static void
release (GObject *object)
{
  gboolean quiet;

  gluetool_process_enter ();
  quiet = g_atomic_pointer_get (&object->qdata) == NULL
          && !has_any_handler (object);
  if (quiet)
    g_object_unref (object);
  gluetool_process_leave ();

  if (!quiet)
    g_object_unref (object);
}

static void
release_all (Recycler *recycler)
{
  /* Released one by one, the array consistent at each unref: an object's
   * finalize runs code the recycler does not know, which may keep or take
   * objects on this very thread. */
  while (recycler->n_kept > 0)
    {
      GObject *object = recycler->kept[--recycler->n_kept];

      recycler->kept[recycler->n_kept] = NULL;
      release (object);
    }
}

static void
recycler_free (gpointer data)
{
  Recycler *recycler = data;

  release_all (recycler);
  g_free (recycler);
}

/* Nobody but the recycler can reach @object. The user's last unref was an
 * atomic decrement, and this seq_cst load reads its result, so everything the
 * user did to the object before happens before it is made again. */
static inline gboolean
is_unreachable (GObject *object)
{
  return g_atomic_int_get ((gint *) &object->ref_count) == 1
         && g_atomic_pointer_get (&object->qdata) == NULL;
}

/* Takes entry @i out, keeping the order of the others. (transfer full) */
static GObject *
remove_at (Recycler *recycler,
           guint     i)
{
  GObject *object = recycler->kept[i];

  memmove (&recycler->kept[i], &recycler->kept[i + 1],
           (recycler->n_kept - i - 1) * sizeof recycler->kept[0]);
  recycler->kept[--recycler->n_kept] = NULL;
  /* The entries after it moved down one: the next to check moves with them. */
  if (i < recycler->next_to_check)
    recycler->next_to_check--;
  return object;
}

static gboolean keep (GObject *object);

/* Whether @object, kept with no handler, was given one since. GLib's flag
 * tells without a lock, blocked handlers and handlers since disconnected
 * included; it was clear when the object was kept (see keep()). Without
 * the flag, one look under GLib's signal lock, for unblocked handlers: a
 * blocked one stays until the object is released. The user's last unref,
 * which is_unreachable() read, orders any connection before this read. */
static gboolean
has_handler_since_kept (GObject *object)
{
  GluetoolHandlerFlag flag = gluetool_handler_flag_read (object);

  if (flag != GLUETOOL_HANDLER_FLAG_UNKNOWN)
    return flag == GLUETOOL_HANDLER_FLAG_EVER;
  return g_signal_handler_find (object, G_SIGNAL_MATCH_UNBLOCKED, 0, 0, NULL, NULL, NULL) != 0;
}

gboolean
gluetool_recycler_keep (GObject *object)
{
  /* Whoever holds a weak reference (or a toggle reference, or data) expects
   * to hear of the object's end at the last g_object_unref(), which keeping
   * it would put off. */
  if (g_atomic_pointer_get (&object->qdata) != NULL)
    return FALSE;
  return keep (object);
}

gboolean
gluetool_recycler_keep_from_dispose (GObject *object)
{
  return keep (object);
}

static gboolean
keep (GObject *object)
{
  Recycler *recycler;
  GObject *given_up = NULL;
  GObject *oldest = NULL;

  if (!gluetool_recycler_is_enabled ())
    return FALSE;
  /* One that ever had a signal handler would be handed back as stale by
   * gluetool_recycler_take(): GLib's flag stays set. */
  if (gluetool_handler_flag_read (object) == GLUETOOL_HANDLER_FLAG_EVER)
    return FALSE;

  recycler = get_thread_recycler ();

  /* An object may have been given qdata since it was kept (a weak reference
   * taken after finishing): it can never be made again, and whoever watches
   * it waits for it to go. One kept object is looked at per call, in turn
   * (the cursor wraps, and follows the entries when one before it goes), so
   * none waits longer than about CAPACITY calls however the thread reuses
   * its newest ones, and a call reads one more line at most. */
  if (recycler->n_kept > 0)
    {
      guint i;

      if (recycler->next_to_check >= recycler->n_kept)
        recycler->next_to_check = 0;
      i = recycler->next_to_check++;
      if (g_atomic_pointer_get (&recycler->kept[i]->qdata) != NULL)
        given_up = remove_at (recycler, i);
    }
  if (recycler->n_kept == GLUETOOL_RECYCLER_CAPACITY)
    oldest = remove_at (recycler, 0);
  recycler->kept[recycler->n_kept++] = g_object_ref (object);

  /* Last, with the array consistent: freeing one runs code the recycler
   * does not know, which may come back here. */
  if (given_up != NULL)
    release (given_up);
  if (oldest != NULL)
    release (oldest);
  return TRUE;
}

GObject *
gluetool_recycler_take (GObject **stale)
{
  Recycler *recycler;
  guint depth;

  if (!gluetool_recycler_is_enabled ())
    return NULL;

  recycler = g_private_get (&thread_recycler);
  if (recycler == NULL)
    return NULL;

  depth = MIN (recycler->n_kept, TAKE_SCAN_DEPTH);
  for (guint i = recycler->n_kept; i > recycler->n_kept - depth; i--)
    {
      GObject *object = recycler->kept[i - 1];

      if (!is_unreachable (object))
        continue;

      remove_at (recycler, i - 1);
      /* A handler connected since it was kept, which its last
       * g_object_unref() would have destroyed: it is not made again, but
       * handed back to be released outside the caller's region, as the
       * handler's destroy notification is the program's code. */
      if (has_handler_since_kept (object))
        {
          *stale = object;
          return NULL;
        }
      recycler->n_taken++;
      return object;
    }
  return NULL;
}

void
gluetool_recycler_get_thread_counts (guint   *n_kept,
                                     guint64 *n_taken)
{
  Recycler *recycler = g_private_get (&thread_recycler);

  *n_kept = recycler != NULL ? recycler->n_kept : 0;
  *n_taken = recycler != NULL ? recycler->n_taken : 0;
}

void
gluetool_recycler_clear_thread (void)
{
  Recycler *recycler = g_private_get (&thread_recycler);

  if (recycler != NULL)
    release_all (recycler);
}
