/* process.c: which process this is, its threads, and what fork() waits for
 *
 * SPDX-License-Identifier: MIT
 *
 * See process-private.h for what the regions and the held locks are for.
 * The orderings, pair by pair:
 * - a thread's depth store (enter) and the prepare handler's depth load:
 *   Dekker's handshake with the forking flag, explained above
 *   gluetool_process_enter();
 * - a thread's release store of its depth (leave) and the prepare handler's
 *   acquire load of it: whatever the region did happens before fork();
 * - the forking flag is written under @fork_lock's protection only by the
 *   forking thread; a thread that saw it set waits on @fork_lock, which the
 *   forking thread holds from before it set the flag until after fork().
 */

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "process-private.h"
#include "thread-state-private.h"
#include "sync-private.h"

atomic_uint gluetool_process_generation_ = 1;
atomic_uint gluetool_process_forking_ = 0;
GLUETOOL_THREAD_LOCAL GluetoolThreadRecord *gluetool_process_thread_record_;

/* Held by the forking thread from its prepare handler to its parent or
 * child handler; a thread that finds a fork in progress waits on it. */
static GMutex fork_lock;

/* The registry of threads. */
static GMutex registry_lock;
static GluetoolThreadRecord *threads;          /* (owned) under registry_lock */
static guint64 last_thread_serial;             /* under registry_lock */
static gint64 unfinished_of_exited_threads;    /* under registry_lock */

/* Locks taken across fork(), in the order registered, each once. They are
 * appended under @held_locks_lock, which the prepare handler takes before
 * it reads them (so it never finds one half appended, and no fork() copies
 * @held_locks_lock held) and releases after fork(). */
#define MAX_HELD_LOCKS 8
static GMutex held_locks_lock;
static GMutex *held_locks[MAX_HELD_LOCKS];
static guint n_held_locks;                     /* under held_locks_lock */
/* How many of them the prepare handler took: what the parent and child
 * handlers release, whatever was registered meanwhile. */
static guint n_held_across_fork;

static void
unregister_thread (gpointer data)
{
  GluetoolThreadRecord *record = data;

  if (gluetool_process_thread_record_ == record)
    gluetool_process_thread_record_ = NULL;

  gluetool_mutex_lock (&registry_lock);
  if (record->prev != NULL)
    record->prev->next = record->next;
  else
    threads = record->next;
  if (record->next != NULL)
    record->next->prev = record->prev;
  unfinished_of_exited_threads += atomic_load_explicit (&record->unfinished, memory_order_relaxed);
  gluetool_mutex_unlock (&registry_lock);

  /* Kept messages were written when the thread's last region ended, before
   * it exited; nothing is left here, but nothing would leak either. */
  g_clear_pointer (&record->deferred_debug, g_ptr_array_unref);
  g_aligned_free (record);
}


static void
prepare_fork (void)
{
  GluetoolThreadRecord *own = gluetool_process_thread_record_;
  guint n_held;

  gluetool_mutex_lock (&fork_lock);
  gluetool_mutex_lock (&registry_lock);

  atomic_store_explicit (&gluetool_process_forking_, 1, memory_order_seq_cst);
  gluetool_process_fence_rare_side ();

  /* A region is short and never waits for the program's own code, so this
   * ends; it yields rather than sleeps, as it is usually already over. The
   * forking thread may itself be inside one (fork() from a weak-reference
   * notification, say): it is not waited for. */
  for (GluetoolThreadRecord *record = threads; record != NULL; record = record->next)
    {
      if (record == own)
        continue;
      while (atomic_load_explicit (&record->depth, memory_order_acquire) != 0)
        sched_yield ();
    }

  gluetool_mutex_lock (&held_locks_lock);
  n_held = n_held_locks;
  for (guint i = 0; i < n_held; i++)
    gluetool_mutex_lock (held_locks[i]);
  n_held_across_fork = n_held;
}

static void
release_after_fork (void)
{
  guint n_held = n_held_across_fork;

  for (guint i = n_held; i > 0; i--)
    gluetool_mutex_unlock (held_locks[i - 1]);
  gluetool_mutex_unlock (&held_locks_lock);
  atomic_store_explicit (&gluetool_process_forking_, 0, memory_order_release);
  gluetool_mutex_unlock (&registry_lock);
  gluetool_mutex_unlock (&fork_lock);
}

static void
after_fork_in_parent (void)
{
  release_after_fork ();
}

static void
after_fork_in_child (void)
{
  GluetoolThreadRecord *own = gluetool_process_thread_record_;
  GluetoolThreadRecord *record = threads;

  atomic_fetch_add_explicit (&gluetool_process_generation_, 1, memory_order_relaxed);

  /* Only this thread came along: the others' records describe nothing
   * here, and the actions they had started will never finish here. */
  while (record != NULL)
    {
      GluetoolThreadRecord *next = record->next;

      if (record != own)
        g_aligned_free (record);
      record = next;
    }
  threads = own;
  if (own != NULL)
    own->prev = own->next = NULL;
  /* Debug messages this thread kept in a region it forked from are the
   * parent's to write. Those of the threads left behind (one between its
   * last region's end and writing them) go with their records. Not freed:
   * GLib's allocator may be locked by a thread the fork left behind. */
  if (own != NULL)
    own->deferred_debug = NULL;
  unfinished_of_exited_threads = 0;

  release_after_fork ();
}

void
gluetool_process_ensure_fork_handlers (void)
{
  static gsize installed = 0;

  if (GLUETOOL_ONCE_INIT_ENTER (&installed))
    {
      pthread_atfork (prepare_fork, after_fork_in_parent, after_fork_in_child);
      GLUETOOL_ONCE_INIT_LEAVE (&installed, 1);
    }
}

gboolean
gluetool_process_thread_is_alive (guint64 serial)
{
  gboolean alive = FALSE;

  /* Inside a region this would wait for the registry's lock, which the
   * prepare handler holds while it waits for the region to end. */
  g_return_val_if_fail (atomic_load_explicit (&gluetool_process_get_thread_record ()->depth,
                                              memory_order_relaxed) == 0, TRUE);

  gluetool_mutex_lock (&registry_lock);
  for (GluetoolThreadRecord *record = threads; record != NULL && !alive; record = record->next)
    alive = record->serial == serial;
  gluetool_mutex_unlock (&registry_lock);
  return alive;
}

void
gluetool_process_hold_across_fork (GMutex *lock)
{
  gboolean held = FALSE;
  guint n;

  gluetool_process_ensure_fork_handlers ();
  /* Ordered with fork() by @held_locks_lock: either the prepare handler
   * takes the lock registered here, or this waits for fork() to return. The
   * caller must not hold a lock registered already: the prepare handler
   * may be waiting for it while holding @held_locks_lock. */
  gluetool_mutex_lock (&held_locks_lock);
  n = n_held_locks;
  for (guint i = 0; i < n && !held; i++)
    held = held_locks[i] == lock;
  if (!held && n < MAX_HELD_LOCKS)
    {
      held_locks[n] = lock;
      n_held_locks = n + 1;
      held = TRUE;
    }
  gluetool_mutex_unlock (&held_locks_lock);
  g_return_if_fail (held);
}

GluetoolThreadRecord *
gluetool_process_register_thread_ (void)
{
  GluetoolThreadRecord *record;

  gluetool_process_ensure_fork_handlers ();

  record = g_aligned_alloc0 (1, sizeof *record, 64);
  atomic_init (&record->depth, 0);
  atomic_init (&record->unfinished, 0);

  gluetool_mutex_lock (&registry_lock);
  record->serial = ++last_thread_serial;
  record->next = threads;
  if (threads != NULL)
    threads->prev = record;
  threads = record;
  gluetool_mutex_unlock (&registry_lock);

  gluetool_process_thread_record_ = record;
  /* Taken out of the registry when the thread exits, after everything else
   * the thread keeps (see thread-state-private.h); the thread-local pointer
   * is for the fast path. */
  gluetool_thread_state_set (GLUETOOL_THREAD_SLOT_PROCESS, record, unregister_thread);
  return record;
}

void
gluetool_process_wait_for_fork_ (GluetoolThreadRecord *record)
{
  atomic_store_explicit (&record->depth, 0, memory_order_release);
  gluetool_mutex_lock (&fork_lock);
  gluetool_mutex_unlock (&fork_lock);
}

guint64
gluetool_process_get_unfinished (void)
{
  gint64 sum;

  gluetool_mutex_lock (&registry_lock);
  sum = unfinished_of_exited_threads;
  for (GluetoolThreadRecord *record = threads; record != NULL; record = record->next)
    sum += atomic_load_explicit (&record->unfinished, memory_order_relaxed);
  gluetool_mutex_unlock (&registry_lock);

  /* An action started by a thread that fork() left behind may be finished
   * by one that came along, which counts it down without it ever having
   * been counted up here. */
  return sum > 0 ? (guint64) sum : 0;
}
