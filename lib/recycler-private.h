/* recycler-private.h: finished objects each thread keeps, to make again
 *
 * SPDX-License-Identifier: MIT
 *
 * On GLib 2.74, g_object_new() and the last g_object_unref() of even a bare
 * final type cost about 280 ns together: a class reference (a shared atomic),
 * a slice, and on the way out a notify queue (another allocation and a global
 * lock), data-list bit locks and the global signal lock. That is more than all
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
 * and resets what it takes. Reading ref_count and qdata, public fields of
 * GObject, is done atomically, as GLib updates them.
 *
 * Memory checkers need every object freed when its last user lets go, so
 * with G_SLICE=always-malloc or debug-blocks in the environment (GLib's own
 * switch for them) nothing is kept, unless GLUETOOL_TRACING_RECYCLE_ACTIONS
 * says otherwise (0 or 1, either way).
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* How many finished objects a thread keeps at most. */
#define GLUETOOL_RECYCLER_CAPACITY 32

/* "1" or "0" turns recycling on or off whatever G_SLICE says. */
#define GLUETOOL_RECYCLER_ENV "GLUETOOL_TRACING_RECYCLE_ACTIONS"

/* Whether objects are kept: read from the environment once. */
gboolean gluetool_recycler_is_enabled   (void);
/* Whether GLUETOOL_RECYCLER_ENV and G_SLICE of those values (NULL: unset)
 * let objects be kept. A value of the first that is neither empty, "0" nor
 * "1" is ignored, with @error set. */
gboolean gluetool_recycler_enabled_for_environment (const char  *recycle_actions,
                                                    const char  *g_slice,
                                                    GError     **error);
/* For tests: overrides the environment for the whole process. */
void     gluetool_recycler_set_enabled  (gboolean enabled);

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
 * fork() never copies the GLib locks its end takes (the signal lock, the
 * slice allocator's) held: nothing of the program's can run then. */
gboolean gluetool_recycler_keep         (GObject *object);
/* The same from @object's own dispose(), during its last g_object_unref():
 * the caller has checked that its qdata holds nothing but the notify queue
 * GObject keeps there until dispose() returns. */
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
