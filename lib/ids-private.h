/* ids-private.h: trace and span ids
 *
 * SPDX-License-Identifier: MIT
 *
 * Ids come from a generator that each thread seeds from the kernel's random
 * source, once and again after fork(), so making an id takes no lock and
 * touches no shared memory.
 * An id is never zero: zero means "none" on the wire (a root's parent) and in
 * every propagation format.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A 64-bit id, never 0. Any thread. */
guint64 gluetool_ids_next_span_id  (void);
/* A 128-bit trace id, never all zero. Any thread. */
void    gluetool_ids_next_trace_id (guint64 *high,
                                    guint64 *low);
/* A random (version 4) UUID as text, from the kernel's random source: no
 * lock, so a child process made by fork() can make one. (transfer full) */
char   *gluetool_ids_dup_uuid_string (void);

G_END_DECLS
