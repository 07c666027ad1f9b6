/* recycler-private.h: finished objects each thread keeps, to make again
 *
 * SPDX-License-Identifier: MIT
 *
 * On GLib 2.74, g_object_new() and the last g_object_unref() of even a bare
 * final type cost about 280 ns together: a class reference (a shared atomic),
 * a slice, and on the way out a notify queue (another allocation, under a
 * global lock before GLib 2.80, a lock of the object's own since),
 * data-list bit locks and the global signal lock. That is more than all
 * the rest of an action, encoding included. So each thread keeps a reference
 * to the last few objects it was given, and hands one out again once nobody
 * else can reach it: its reference count is 1 (only ours) and it carries no
 * qdata (no weak reference, weak pointer, toggle reference, watched closure
 * or user data). Nobody can take a new reference to such an object, since
 * taking one needs a reference, a weak one, or a pointer borrowed from
 * something that holds one; the caller must keep no borrowed pointer to an
 * object it keeps (actions: stacks point only at unfinished actions, and an
 * action keeps no pointer to its parent, only its ids).
 *
 * The unit knows GObject, not actions: the caller decides what may be kept
 * and resets what it takes. ref_count and qdata are private fields of
 * GObject (gobject.h marks them so), read here, atomically as GLib updates
 * them, and nowhere else in the library but the handler flag's unit. What
 * the recycler assumes of them is not GLib's API, so it is checked once per
 * process on the GLib loaded (gluetool_recycler_ensure_checked()); if any
 * step of that self-check fails, nothing is ever kept, and one message
 * (g_message()) says which step failed.
 *
 * Memory checkers need every object freed when its last user lets go, so
 * with G_SLICE=always-malloc or debug-blocks in the environment nothing is
 * kept, unless GLUETOOL_TRACING_RECYCLE_ACTIONS says otherwise (0 or 1,
 * either way). G_SLICE is read as the library's own switch, because it is
 * what memory-checker setups set: GLib itself ignores it since 2.76, where
 * the slice allocator became plain malloc().
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* How many finished objects a thread keeps at most. */
#define GLUETOOL_RECYCLER_CAPACITY 32

/* Runs the self-check and reads the environment, once per process (a
 * g_once, inside a region of the process: see process-private.h); later
 * calls cost an acquire load. Until it has run, nothing is kept. Outside
 * any region, as it may write a message. */
void     gluetool_recycler_ensure_checked (void);

/* Whether objects are kept: the self-check passed and the environment
 * (GLUETOOL_TRACING_RECYCLE_ACTIONS and G_SLICE, read by
 * gluetool_config_recycle_actions_from_env()) or a test turns recycling on. FALSE until gluetool_recycler_ensure_checked()
 * has run. Any thread, anywhere. */
gboolean gluetool_recycler_is_enabled   (void);
/* For tests: overrides the environment for the whole process (a failed
 * self-check still keeps recycling off). Runs the self-check first if it
 * has not run. */
void     gluetool_recycler_set_enabled  (gboolean enabled);

/* The steps of the self-check, in the order they run. Each but the last
 * three makes the object reachable in a way GLib records in the object,
 * and checks that the recycler's test ("reference count 1 and no qdata")
 * answers "reachable". */
typedef enum {
  GLUETOOL_RECYCLER_CHECK_NONE,         /* no step (passed; or none forced) */
  GLUETOOL_RECYCLER_CHECK_NEW_OBJECT,   /* a new object answers "unreachable" */
  GLUETOOL_RECYCLER_CHECK_WEAK_REF,     /* g_object_weak_ref() */
  GLUETOOL_RECYCLER_CHECK_G_WEAK_REF,   /* g_weak_ref_init() */
  GLUETOOL_RECYCLER_CHECK_TOGGLE_REF,   /* g_object_add_toggle_ref() */
  GLUETOOL_RECYCLER_CHECK_CONNECT_OBJECT, /* g_signal_connect_object() targeting it */
  GLUETOOL_RECYCLER_CHECK_QDATA,        /* g_object_set_qdata() */
  /* In dispose(), during the last unref: gluetool_recycler_is_quiet_in_dispose()
   * and _is_alone_in_dispose() say yes for a clean object, and "quiet" says
   * no for one with a weak reference. */
  GLUETOOL_RECYCLER_CHECK_DISPOSE,
  /* A reference taken in dispose(): not finalized; afterwards reference
   * count 1, no qdata, the notification queued in dispose() dispatched,
   * properties set, read and notified. */
  GLUETOOL_RECYCLER_CHECK_RESURRECTED,
  /* The next last unref disposes it again and finalizes it. */
  GLUETOOL_RECYCLER_CHECK_FINALIZED,
  GLUETOOL_RECYCLER_N_CHECKS
} GluetoolRecyclerCheck;

/* For tests: runs the self-check again, with step @failing made to fail
 * (GLUETOOL_RECYCLER_CHECK_NONE: none), and sets whether objects are kept
 * by its outcome, with the same message as the first run. Returns the step
 * that failed, or GLUETOOL_RECYCLER_CHECK_NONE. Outside any region; not
 * while other threads use the recycler. */
GluetoolRecyclerCheck gluetool_recycler_check_again (GluetoolRecyclerCheck failing);

/* From @object's dispose(), during its last g_object_unref(): whether its
 * qdata holds nothing but the notify queue GObject keeps there until
 * dispose() returns, i.e. nothing of anyone's to notify or release (no
 * weak reference, toggle reference, watched closure or data). The caller
 * chains up to GObject's dispose() after; any thread, anywhere. */
gboolean gluetool_recycler_is_quiet_in_dispose (GObject *object);
/* The same, and nobody else holds a reference: what
 * gluetool_recycler_keep_from_dispose() needs, read after chaining up. */
gboolean gluetool_recycler_is_alone_in_dispose (GObject *object);

/* Outside dispose(): whether the caller's reference to @object is its only
 * one and it has no qdata at all (no weak or toggle reference, no data).
 * FALSE, the safe answer, when the self-check did not pass: the fields it
 * reads are GObject's private ones. For gluetool_action_release(). */
gboolean gluetool_recycler_is_only_reference (GObject *object);

/* Keeps a new reference to @object in the calling thread's recycler. When
 * it is full, the oldest object kept is released (g_object_unref()), which
 * frees it if nobody else holds it. Does nothing when disabled, when
 * @object has qdata (weak references must hear of its end on time), or
 * when GLib's flag says it ever had a signal handler (handler-flag-private.h:
 * it would never be made again). The caller decides about handlers GLib's
 * flag cannot vouch for. Returns whether it was kept. From an object's
 * dispose(), keeping it brings it back from its last unref: GObject then
 * does not finalize it.
 *
 * An object released by the recycler with no qdata and no signal handler
 * is released inside a region of the process (process-private.h), so that
 * fork() never copies the GLib locks its end takes (the signal lock; before
 * GLib 2.76 the slice allocator's, malloc()'s since, which the C library
 * keeps safe across fork()) held: nothing of the program's can run then. */
gboolean gluetool_recycler_keep         (GObject *object);
/* The same from @object's own dispose(), during its last g_object_unref():
 * the caller has checked gluetool_recycler_is_alone_in_dispose(). */
gboolean gluetool_recycler_keep_from_dispose (GObject *object);

/* An object this thread kept that nobody else can reach any more, or NULL.
 * One that was given a signal handler since it was kept is not made
 * again: it is set in @stale instead, for the caller to release
 * (g_object_unref()) outside its region of the process, as the handler's
 * destroy notification is the program's code. GLib's flag tells without a
 * lock, blocked handlers included; where it is not trusted, unblocked
 * handlers are looked for under GLib's global signal lock, so call it
 * inside a region. (transfer full) */
GObject *gluetool_recycler_take         (GObject **stale);

/* How many objects the calling thread keeps now, and how many it has made
 * again so far: for tests, which cannot tell a recycled object from a new
 * one at the same address. */
void     gluetool_recycler_get_thread_counts (guint   *n_kept,
                                              guint64 *n_taken);

/* Releases every object the calling thread keeps (also done at thread
 * exit; the main thread never exits that way). */
void     gluetool_recycler_clear_thread (void);

G_END_DECLS
