/* handler-flag-private.h: whether an object may ever have had a signal
 * handler, without GLib's global signal lock
 *
 * SPDX-License-Identifier: MIT
 *
 * Asking GLib whether an object has a signal handler (g_signal_handler_find(),
 * g_signal_has_handler_pending()) takes GLib's process-wide signal lock: two
 * threads finishing actions would meet on it at every span. GLib (2.74 and
 * later, on 64-bit systems) keeps a private word of flags in GObject's
 * padding, after ref_count, and every g_signal_connect*() sets one bit of it
 * for good: it is never cleared, not even when the handler is disconnected.
 * GLib reads it only to skip work when emitting: the handler lookup of an
 * emission that would run nothing else, and notifications nobody listens
 * to. It does not trust it at an object's end: g_object_unref() and
 * GObject's dispose() call g_signal_handlers_destroy(), which takes the
 * signal lock and looks the object up, whatever the word says (GLib 2.74
 * to 2.84 alike). This unit reads it with one relaxed load.
 *
 * The word is private to GLib, so it is not trusted blindly: a probe, run
 * once per process, checks on the GLib loaded that GObject has the padding
 * word, that a new object reads 0 there, and that every way of connecting a
 * handler (g_signal_connect_data(), _closure(), _closure_by_id(),
 * _object(), a detailed one, one blocked at once, "notify") sets the same
 * single bit, which stays set after the handler is disconnected. If any
 * check fails, every read says "unknown" and callers ask GLib under its
 * lock, as they did before this unit.
 *
 * The answer is a superset: "ever" for an object whose handlers were all
 * disconnected (or are blocked) since. "never" is exact for every handler
 * connected before the read in happens-before order (see
 * gluetool_handler_flag_read()).
 *
 * Emission hooks (g_signal_add_emission_hook()) are per signal, not per
 * object, and leave no mark here: nothing tells without the lock that one
 * was added.
 *
 * Who may call what: gluetool_handler_flag_ensure_probed() from outside any
 * region of the process (process-private.h), as it may write a debug
 * message; the rest from any thread, anywhere.
 */

#pragma once

#include <stdatomic.h>

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  /* The probe did not vouch for GLib's flag (or has not run): ask GLib. */
  GLUETOOL_HANDLER_FLAG_UNKNOWN,
  /* No signal handler was ever connected to the object. */
  GLUETOOL_HANDLER_FLAG_NEVER,
  /* One was connected at some point; it may be blocked, or gone since. */
  GLUETOOL_HANDLER_FLAG_EVER,
} GluetoolHandlerFlag;

/* Where GLib keeps the word: the padding after ref_count (checked by the
 * probe before anything reads there). */
#define GLUETOOL_HANDLER_FLAG_WORD_OFFSET (G_STRUCT_OFFSET (GObject, ref_count) + sizeof (guint))

/* The bit the probe found, or 0 when the flag is not trusted (not probed
 * yet, the probe failed, or a test forced the fallback). Written once by
 * the probe (and by the test hook), read relaxed: whoever reads it has an
 * object made after the probe, by a thread whose gluetool_action_new()
 * waited for the probe's g_once, so the object reached the reader after
 * the store. A reader that saw 0 all the same would only take the slow
 * path. */
extern atomic_uint gluetool_handler_flag_bit_;

/* Runs the probe once per process (g_once, inside a region); later calls
 * cost an acquire load. Outside any region. */
void gluetool_handler_flag_ensure_probed (void);

/* Whether the probe vouched for GLib's flag on this GLib (running it if
 * needed), whatever a test forced since. */
gboolean gluetool_handler_flag_probe_passed (void);

/* For tests: TRUE makes every read say UNKNOWN, as if the probe had failed,
 * so callers take their fallback path; FALSE restores what the probe found.
 * Not while other threads read. */
void gluetool_handler_flag_force_unknown (gboolean force);

/* Whether @object may ever have had a signal handler, for any signal. One
 * relaxed load of the object's word, and one of the probe's bit.
 *
 * Ordering: GLib sets the bit with an atomic OR when the handler is
 * connected. A connection that happens before this read (the same thread,
 * or one that handed the object over through a lock, a release store, or
 * the reference count GLib drops with a full barrier) is seen: coherence of
 * the word orders the OR before the load. A connection racing with the
 * read on another thread may or may not be seen; GLib makes no promise for
 * that race either (an emission that races with a connect may or may not
 * run the new handler). Relaxed is enough because nothing else is read on
 * the strength of the answer but GLib's own state, which GLib's lock
 * orders. */
static inline GluetoolHandlerFlag
gluetool_handler_flag_read (GObject *object)
{
  guint bit = atomic_load_explicit (&gluetool_handler_flag_bit_, memory_order_relaxed);
  atomic_uint *word;

  if (G_UNLIKELY (bit == 0))
    return GLUETOOL_HANDLER_FLAG_UNKNOWN;
  word = (atomic_uint *) (gpointer) ((guint8 *) object + GLUETOOL_HANDLER_FLAG_WORD_OFFSET);
  return (atomic_load_explicit (word, memory_order_relaxed) & bit) != 0
         ? GLUETOOL_HANDLER_FLAG_EVER
         : GLUETOOL_HANDLER_FLAG_NEVER;
}

G_END_DECLS
