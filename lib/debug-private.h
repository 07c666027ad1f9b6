/* debug-private.h: debug messages that cost nothing when nobody reads them
 *
 * SPDX-License-Identifier: MIT
 *
 * g_debug() formats its message before the writer decides to drop it, and
 * asking whether it would (g_log_writer_default_would_drop()) reads the
 * environment each time. Both are too slow for every action, so the answer
 * is kept and asked again only when a tracer is made, which is when a
 * program sets up tracing. Set G_MESSAGES_DEBUG=Gluetool (or all) before.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Asks GLib again whether debug messages of this library are shown. */
void     gluetool_debug_refresh (void);
/* The last answer; any thread. */
gboolean gluetool_debug_enabled (void);

#define GLUETOOL_DEBUG(...)                                                     \
  G_STMT_START {                                                                \
    if (G_UNLIKELY (gluetool_debug_enabled ()))                                 \
      g_debug (__VA_ARGS__);                                                    \
  } G_STMT_END

G_END_DECLS
