/* debug.c: debug messages that cost nothing when nobody reads them
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdatomic.h>

#include "debug-private.h"

enum {
  DEBUG_UNKNOWN,
  DEBUG_ON,
  DEBUG_OFF,
};

/* Relaxed: a stale answer only shows or hides one more message. */
static atomic_int debug_state = DEBUG_UNKNOWN;

void
gluetool_debug_refresh (void)
{
  gboolean on = !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);

  atomic_store_explicit (&debug_state, on ? DEBUG_ON : DEBUG_OFF, memory_order_relaxed);
}

gboolean
gluetool_debug_enabled (void)
{
  int state = atomic_load_explicit (&debug_state, memory_order_relaxed);

  if (G_UNLIKELY (state == DEBUG_UNKNOWN))
    {
      gluetool_debug_refresh ();
      state = atomic_load_explicit (&debug_state, memory_order_relaxed);
    }
  return state == DEBUG_ON;
}
