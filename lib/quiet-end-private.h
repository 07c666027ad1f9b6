/* quiet-end-private.h: whether an object's end runs none of the program's
 * code, so the library may end it inside a region or keep it
 *
 * SPDX-License-Identifier: MIT
 *
 * An object's end is quiet when nobody is told of it and nothing of the
 * program's is released with it: no qdata (weak references, toggle
 * references, data with destroy notifications) and no signal handler,
 * ever by GLib's flag (handler-flag-private.h), else none now. Only such
 * an object is dropped inside a region of the process (process-private.h)
 * or kept by the recycler (recycler-private.h) from its dispose(). GObject,
 * not actions: the caller names every signal its type has.
 *
 * The answers from GLib's flag and the recycler are inline, as
 * gluetool_action_release() asks for every action; the look under GLib's
 * signal lock, where the flag is not trusted, is not.
 *
 * Who may call what: any thread, outside any region (the look under GLib's
 * signal lock enters one of its own).
 */

#pragma once

#include <glib-object.h>

#include "handler-flag-private.h"
#include "recycler-private.h"

G_BEGIN_DECLS

/* Whether @object has a handler of one of @signal_ids, blocked or not,
 * detailed or not: one look under GLib's signal lock per signal. */
gboolean gluetool_quiet_end_find_handler (GObject     *object,
                                          const guint *signal_ids,
                                          guint        n_signal_ids);

/* Any handler, blocked or not, detailed or not; @signal_ids are every
 * signal @object's type has. GLib's flag tells without a lock (a superset:
 * a handler since disconnected counts, so such an object is freed rather
 * than kept). Without it, matching by signal id alone finds them all: one
 * look under GLib's signal lock per signal; the recycler's generic look
 * lists a type's signals (an allocation each), too dear for every object
 * dropped. */
static inline gboolean
gluetool_quiet_end_has_any_handler (GObject     *object,
                                    const guint *signal_ids,
                                    guint        n_signal_ids)
{
  GluetoolHandlerFlag flag = gluetool_handler_flag_read (object);

  if (flag != GLUETOOL_HANDLER_FLAG_UNKNOWN)
    return flag == GLUETOOL_HANDLER_FLAG_EVER;
  return gluetool_quiet_end_find_handler (object, signal_ids, n_signal_ids);
}

/* Outside dispose(): whether the caller's reference, which it still holds,
 * is the last one, and @object's end is quiet. Nothing can change that
 * before the caller lets go: giving the object qdata or a handler takes a
 * reference, or a weak one, and the caller's is the only one. */
static inline gboolean
gluetool_quiet_end_is_last_reference (GObject     *object,
                                      const guint *signal_ids,
                                      guint        n_signal_ids)
{
  /* GObject's private fields, read by the recycler, whose self-check
   * vouches for them. */
  gluetool_recycler_ensure_checked ();
  if (!gluetool_recycler_is_only_reference (object))
    return FALSE;

  return !gluetool_quiet_end_has_any_handler (object, signal_ids, n_signal_ids);
}

/* From @object's dispose(), during its last g_object_unref() and before
 * chaining up: whether its end is quiet, so that it may be kept (see
 * gluetool_recycler_is_alone_in_dispose()). */
static inline gboolean
gluetool_quiet_end_in_dispose (GObject     *object,
                               const guint *signal_ids,
                               guint        n_signal_ids)
{
  return gluetool_recycler_is_quiet_in_dispose (object)
         && !gluetool_quiet_end_has_any_handler (object, signal_ids, n_signal_ids);
}

G_END_DECLS
