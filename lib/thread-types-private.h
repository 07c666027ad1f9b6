/* thread-types-private.h: the GLib types the library's threads use,
 * registered before the threads start
 *
 * SPDX-License-Identifier: MIT
 *
 * GLib 2.74 can deadlock two threads that meet a type for the first time:
 * one registers a type with an interface (inside that type's g_once, then
 * taking GLib's class-init lock to add the interface) while the other
 * initializes a class that needs the type (holding the class-init lock,
 * then waiting on that g_once). A remote sampler's thread making its
 * SoupSession while the flush thread made its first GInetSocketAddress
 * did, now and then, in fresh processes: neither thread moved again, and
 * no strategy ever came. So the thread that makes a tracer registers the
 * types its threads make, and initializes the classes they initialize,
 * before any of them starts; a thread then meets only types that exist.
 *
 * Who may call what: any thread, before it starts a thread of the
 * library's; cheap after the first call.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What a flush thread sending UDP datagrams makes: sockets, addresses,
 * the resolver and its tasks. */
void gluetool_thread_types_ensure_network (void);

#ifdef GLUETOOL_HAVE_SOUP
/* What a thread that speaks HTTP makes: the above, libsoup's session and
 * messages, and json-glib's parser. */
void gluetool_thread_types_ensure_http    (void);
#endif

G_END_DECLS
