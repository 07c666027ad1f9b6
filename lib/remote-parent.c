/* remote-parent.c: the remote span that actions without a parent start
 * under, for the whole process
 *
 * SPDX-License-Identifier: MIT
 *
 * See remote-parent-private.h.
 */

#include <stdatomic.h>
#include <stdbool.h>

#include "config-private.h"
#include "debug-private.h"
#include "gluetool-span-context-private.h"
#include "process-private.h"
#include "remote-parent-private.h"
#include "sync-private.h"

/* The remote span that actions without a parent start under: read from
 * TRACEPARENT once, on first use, unless the program set one first. By value
 * under the lock, so replacing it frees nothing that a reader might hold.
 * @has_default_remote_parent mirrors @default_remote_parent_set so that the
 * usual case, no remote parent, costs roots one relaxed load and no lock; a
 * root racing with a change may see either value, as it could anyway.
 *
 * The reading is done under the lock, not in a g_once: the lock is held
 * across fork() (see process-private.h), so a child never copies the
 * reading half done, which a g_once would leave "in progress" for ever in
 * the child, its first action waiting on it. Nothing under the lock enters
 * a region (the prepare handler takes the lock after the regions drain). */
G_LOCK_DEFINE_STATIC (default_remote_parent);
static GluetoolSpanContext default_remote_parent;     /* under the lock */
static gboolean            default_remote_parent_set; /* under the lock */
static gboolean            default_remote_parent_read; /* under the lock */
static atomic_bool         has_default_remote_parent;
static atomic_bool         default_remote_parent_ready;  /* read or set */

/* Code outside the library's regions takes the lock too, so fork() takes
 * it (see process-private.h). */
static void
ensure_remote_parent_lock_held_across_fork (void)
{
  gluetool_process_hold_across_fork (&G_LOCK_NAME (default_remote_parent));
}

/* Caller holds the lock. */
static void
store_default_remote_parent (const GluetoolSpanContext *context)
{
  default_remote_parent_set = context != NULL;
  if (context != NULL)
    default_remote_parent = *context;
  atomic_store_explicit (&has_default_remote_parent, context != NULL, memory_order_relaxed);
}

/* Caller holds the lock. From now on the environment is not read; release,
 * pairs with the acquire in gluetool_remote_parent_ensure_read(). */
static void
mark_default_remote_parent_read (void)
{
  default_remote_parent_read = TRUE;
  atomic_store_explicit (&default_remote_parent_ready, true, memory_order_release);
}

/* Caller holds the lock. Returns why TRACEPARENT was ignored, for the
 * caller to warn once the lock is let go, or NULL. (transfer full) */
static char *
read_default_remote_parent_from_environment (void)
{
  g_autoptr(GluetoolSpanContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const char *traceparent = gluetool_config_traceparent_from_env ();

  if (traceparent == NULL)
    return NULL;

  context = gluetool_span_context_new_from_traceparent (traceparent, &error);
  if (context == NULL)
    {
      /* Once per process: the program runs on, its roots start new traces. */
      return g_strdup_printf ("Ignoring %s: %s; actions without a parent start new traces",
                              GLUETOOL_SPAN_CONTEXT_ENV_TRACEPARENT, error->message);
    }
  store_default_remote_parent (context);
  return NULL;
}

/* The warning, which runs the program's log writer, is written once the
 * lock is let go. */
static G_GNUC_NO_INLINE void
initialize_default_remote_parent (void)
{
  g_autofree char *warning = NULL;
  gboolean ran = FALSE;

  ensure_remote_parent_lock_held_across_fork ();
  gluetool_mutex_lock (&G_LOCK_NAME (default_remote_parent));
  if (!default_remote_parent_read)
    {
      warning = read_default_remote_parent_from_environment ();
      mark_default_remote_parent_read ();
      ran = TRUE;
    }
  gluetool_mutex_unlock (&G_LOCK_NAME (default_remote_parent));

  if (warning != NULL)
    g_warning ("%s", warning);
  else if (ran && atomic_load_explicit (&has_default_remote_parent, memory_order_relaxed))
    GLUETOOL_DEBUG ("Actions without a parent start under the remote span %s",
                    gluetool_config_traceparent_from_env ());
}

void
gluetool_remote_parent_ensure_read (void)
{
  if (G_UNLIKELY (!atomic_load_explicit (&default_remote_parent_ready, memory_order_acquire)))
    initialize_default_remote_parent ();
}

gboolean
gluetool_remote_parent_get (GluetoolSpanContext *context)
{
  gboolean found;

  gluetool_remote_parent_ensure_read ();
  if (G_LIKELY (!atomic_load_explicit (&has_default_remote_parent, memory_order_relaxed)))
    return FALSE;

  gluetool_mutex_lock (&G_LOCK_NAME (default_remote_parent));
  found = default_remote_parent_set;
  if (found)
    *context = default_remote_parent;
  gluetool_mutex_unlock (&G_LOCK_NAME (default_remote_parent));
  return found;
}

void
gluetool_remote_parent_set (const GluetoolSpanContext *context)
{
  ensure_remote_parent_lock_held_across_fork ();
  gluetool_mutex_lock (&G_LOCK_NAME (default_remote_parent));
  /* Set before first use: the program decided, and the environment is not
   * read (nor warned about) later. */
  mark_default_remote_parent_read ();
  store_default_remote_parent (context);
  gluetool_mutex_unlock (&G_LOCK_NAME (default_remote_parent));
}
