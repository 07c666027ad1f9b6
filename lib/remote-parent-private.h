/* remote-parent-private.h: the remote span that actions without a parent
 * start under, for the whole process
 *
 * SPDX-License-Identifier: MIT
 *
 * Read from TRACEPARENT (see config-private.h) once, on first use, unless
 * the program set one first (gluetool_action_set_default_remote_parent()).
 * Reading it costs a root action one relaxed load when there is none, the
 * usual case, and a lock when there is one. Reading it for the first time
 * may warn (a TRACEPARENT that does not parse), so callers do it before
 * their region of the process.
 *
 * Who may call what: every function, any thread.
 */

#pragma once

#include <gluetool/gluetool.h>

G_BEGIN_DECLS

/* Reads TRACEPARENT if nothing was read or set yet. Outside any region: it
 * may write a warning. */
void     gluetool_remote_parent_ensure_read (void);
/* Copies the default remote parent into @context; FALSE when there is none.
 * Reads TRACEPARENT first if need be. */
gboolean gluetool_remote_parent_get         (GluetoolSpanContext       *context);
/* Sets it (@context NULL: none); TRACEPARENT is not read afterwards. */
void     gluetool_remote_parent_set         (const GluetoolSpanContext *context);

G_END_DECLS
