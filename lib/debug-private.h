/* debug-private.h: debug messages that cost nothing when nobody reads them
 *
 * SPDX-License-Identifier: MIT
 *
 * g_debug() formats its message before the writer decides to drop it, and
 * asking whether it would (g_log_writer_default_would_drop()) reads the
 * environment each time. Both are too slow for every action, so the answer
 * is kept and asked again only when a tracer is made, which is when a
 * program sets up tracing. Set G_MESSAGES_DEBUG=Gluetool (or all) before.
 *
 * A message is written by the program's log writer, which is the program's
 * own code: inside a region of the process (see process-private.h), where
 * none may run, it is kept and written when the thread's last region ends.
 */

#pragma once

#include <stdatomic.h>

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  GLUETOOL_DEBUG_UNKNOWN,
  GLUETOOL_DEBUG_ON,
  GLUETOOL_DEBUG_OFF,
} GluetoolDebugState;

/* The answer; only through the functions below. Relaxed: a stale answer
 * only shows or hides one more message. */
extern atomic_int gluetool_debug_state_;

/* Asks GLib again whether debug messages of this library are shown. */
void     gluetool_debug_refresh (void);

/* The last answer, asked the first time; any thread. Inline: every
 * action's start and end ask. */
static inline gboolean
gluetool_debug_enabled (void)
{
  int state = atomic_load_explicit (&gluetool_debug_state_, memory_order_relaxed);

  if (G_UNLIKELY (state == GLUETOOL_DEBUG_UNKNOWN))
    {
      gluetool_debug_refresh ();
      state = atomic_load_explicit (&gluetool_debug_state_, memory_order_relaxed);
    }
  return state == GLUETOOL_DEBUG_ON;
}

/* g_debug(), or later when inside a region; for GLUETOOL_DEBUG(). */
void     gluetool_debug_write (const char *file,
                               const char *line,
                               const char *func,
                               const char *format,
                               ...) G_GNUC_PRINTF (4, 5);

/* Writes, in order, the messages kept in @deferred (a GPtrArray, or NULL)
 * while the thread was inside a region, and frees it. */
void     gluetool_debug_write_deferred (GPtrArray *deferred);

#define GLUETOOL_DEBUG(...)                                                     \
  G_STMT_START {                                                                \
    if (G_UNLIKELY (gluetool_debug_enabled ()))                                 \
      gluetool_debug_write (__FILE__, G_STRINGIFY (__LINE__), G_STRFUNC,        \
                            __VA_ARGS__);                                       \
  } G_STMT_END

G_END_DECLS
