/* action-stack.c: each thread's stack of unfinished actions
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "action-stack-private.h"
#include "process-private.h"
#include "thread-state-private.h"

typedef struct {
  GObject  *action;
  guint64   span_id;  /* what gluetool_action_stack_find() matches */
  gboolean  owned;
} Entry;

struct _GluetoolActionStack {
  gatomicrefcount ref_count;
  atomic_bool     locked;   /* see stack_lock() */
  /* Under the lock: a plain vector, not a GArray, so that a push and the
   * usual pop from the top are a few instructions inline, not calls. */
  Entry          *entries;
  guint           n_entries;
  guint           capacity;
};

#define STACK_INITIAL_CAPACITY 8

/* The stack's lock. Its thread is nearly always the only one to take it
 * (another takes it only to take off an action that finishes or goes away
 * there, or to look at the top), for a few instructions each time, twice per
 * action. So it spins rather than sleeps: taking it is one atomic exchange and
 * giving it back one plain store with release order, where a GMutex costs two
 * exchanges and two calls. A waiter that has spun a while yields, in case the
 * holder was preempted. Acquire on taking, release on giving back: whatever
 * one holder did to the entries happens before the next holder reads them. */
#define STACK_LOCK_SPINS 64

/* Held only inside a region of the process (see process-private.h), so
 * that fork() never copies it held: push() and remove() are called inside
 * the action's own regions (making and finishing one), and the functions
 * that are not enter one around the lock. */
static inline void
stack_lock (GluetoolActionStack *stack)
{
  guint spins = 0;

  while (atomic_exchange_explicit (&stack->locked, true, memory_order_acquire))
    {
      /* Read-only while it is held, so the line is not bounced. */
      while (atomic_load_explicit (&stack->locked, memory_order_relaxed))
        {
          if (++spins == STACK_LOCK_SPINS)
            {
              spins = 0;
              g_thread_yield ();
            }
        }
    }
}

static inline void
stack_unlock (GluetoolActionStack *stack)
{
  atomic_store_explicit (&stack->locked, false, memory_order_release);
}

static void thread_stack_free (gpointer data);

/* Caller holds the lock, or the stack is its own. Makes the vector on
 * the first push into an empty stack, and doubles it when full. */
static inline void
append_entry (GluetoolActionStack *stack,
              const Entry         *entry)
{
  if (G_UNLIKELY (stack->n_entries == stack->capacity))
    {
      stack->capacity = MAX (stack->capacity * 2, STACK_INITIAL_CAPACITY);
      stack->entries = g_renew (Entry, stack->entries, stack->capacity);
    }
  stack->entries[stack->n_entries++] = *entry;
}


static GluetoolActionStack *
gluetool_action_stack_new (void)
{
  GluetoolActionStack *stack = g_new0 (GluetoolActionStack, 1);

  g_atomic_ref_count_init (&stack->ref_count);
  atomic_init (&stack->locked, false);
  /* Empty, with no vector: the first push makes one (append_entry()). */
  return stack;
}

GluetoolActionStack *
gluetool_action_stack_ref (GluetoolActionStack *stack)
{
  g_atomic_ref_count_inc (&stack->ref_count);
  return stack;
}

void
gluetool_action_stack_unref (GluetoolActionStack *stack)
{
  if (!g_atomic_ref_count_dec (&stack->ref_count))
    return;

  /* Only owned entries can be left: a borrowed one belongs to an action,
   * and that action holds a reference to this stack. */
  gluetool_action_stack_reset (stack, NULL, 0);
  g_free (stack->entries);
  g_free (stack);
}

static void
thread_stack_free (gpointer data)
{
  GluetoolActionStack *stack = data;

  /* The thread is gone: its root is released now rather than when the last
   * of its actions goes, which also breaks the cycle of a root that started
   * on this very thread. */
  gluetool_action_stack_reset (stack, NULL, 0);
  gluetool_action_stack_unref (stack);
}

GluetoolActionStack *
gluetool_action_stack_get_for_thread (void)
{
  GluetoolActionStack *stack = gluetool_thread_state_get (GLUETOOL_THREAD_SLOT_ACTION_STACK);

  if (G_UNLIKELY (stack == NULL))
    {
      stack = gluetool_action_stack_new ();
      gluetool_thread_state_set (GLUETOOL_THREAD_SLOT_ACTION_STACK, stack, thread_stack_free);
    }
  return stack;
}

void
gluetool_action_stack_push (GluetoolActionStack *stack,
                            GObject             *action,
                            guint64              span_id)
{
  Entry entry = { action, span_id, FALSE };

  stack_lock (stack);
  append_entry (stack, &entry);
  stack_unlock (stack);
}

gboolean
gluetool_action_stack_remove (GluetoolActionStack *stack,
                              GObject             *action,
                              GObject            **owned_ref)
{
  Entry removed = { NULL, 0, FALSE };
  gboolean found = FALSE;

  stack_lock (stack);
  /* From the top down: the action finishing is nearly always the last one
   * started. */
  for (guint i = stack->n_entries; i > 0; i--)
    {
      Entry *entry = &stack->entries[i - 1];

      if (entry->action == action)
        {
          removed = *entry;
          if (i < stack->n_entries)
            memmove (entry, entry + 1, (stack->n_entries - i) * sizeof (Entry));
          stack->n_entries--;
          found = TRUE;
          break;
        }
    }
  stack_unlock (stack);

  if (removed.owned)
    *owned_ref = removed.action;
  return found;
}

GObject *
gluetool_action_stack_peek (GluetoolActionStack *stack)
{
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();
  GObject *top = NULL;

  stack_lock (stack);
  if (stack->n_entries > 0)
    top = stack->entries[stack->n_entries - 1].action;
  stack_unlock (stack);
  return top;
}

GObject *
gluetool_action_stack_dup_top (GluetoolActionStack *stack)
{
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();
  GObject *top = NULL;

  stack_lock (stack);
  /* An action being disposed is still here until its dispose takes it off;
   * GObject allows a new reference then, and the action stays alive. */
  if (stack->n_entries > 0)
    top = g_object_ref (stack->entries[stack->n_entries - 1].action);
  stack_unlock (stack);
  return top;
}

/* Caller holds the lock. From the top down: a parent is usually near the
 * top, the action started before its child. */
static GObject *
find_locked (GluetoolActionStack *stack,
             guint64              span_id)
{
  for (guint i = stack->n_entries; i > 0; i--)
    {
      Entry *entry = &stack->entries[i - 1];

      if (entry->span_id == span_id)
        return entry->action;
    }
  return NULL;
}

GObject *
gluetool_action_stack_find (GluetoolActionStack *stack,
                            guint64              span_id)
{
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();
  GObject *found;

  stack_lock (stack);
  found = find_locked (stack, span_id);
  stack_unlock (stack);
  return found;
}

GObject *
gluetool_action_stack_dup_found (GluetoolActionStack *stack,
                                 guint64              span_id)
{
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();
  GObject *found;

  stack_lock (stack);
  /* As in dup_top(): an action being disposed is still here until its
   * dispose takes it off, and GObject allows a new reference then. */
  found = find_locked (stack, span_id);
  if (found != NULL)
    g_object_ref (found);
  stack_unlock (stack);
  return found;
}

void
gluetool_action_stack_reset (GluetoolActionStack *stack,
                             GObject             *root,
                             guint64              root_span_id)
{
  g_autofree Entry *old_entries = NULL;
  guint n_old_entries;
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = NULL;

  if (root != NULL)
    g_object_ref (root);

  region = gluetool_process_region_enter ();
  stack_lock (stack);
  old_entries = g_steal_pointer (&stack->entries);
  n_old_entries = stack->n_entries;
  stack->capacity = 0;
  stack->n_entries = 0;
  if (root != NULL)
    {
      Entry entry = { root, root_span_id, TRUE };
      append_entry (stack, &entry);
    }
  stack_unlock (stack);
  /* The old entries' owned references are dropped outside: their end may
   * run the program's code. */
  g_clear_pointer (&region, gluetool_process_region_leave);

  for (guint i = 0; i < n_old_entries; i++)
    {
      Entry *entry = &old_entries[i];

      if (entry->owned)
        g_object_unref (entry->action);
    }
}
