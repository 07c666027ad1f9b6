/* thread-types.c: the GLib types the library's threads use, registered
 * before the threads start
 *
 * SPDX-License-Identifier: MIT
 *
 * See thread-types-private.h.
 */

#include <gio/gio.h>

#ifdef GLUETOOL_HAVE_SOUP
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#endif

#include "thread-types-private.h"

/* Initializes @type's class (and so registers every type its class_init
 * needs) here, rather than in whichever thread would first need it. */
static void
ensure_class (GType type)
{
  g_type_class_unref (g_type_class_ref (type));
}

void
gluetool_thread_types_ensure_network (void)
{
  /* The default resolver: its class, and the object the flush thread asks. */
  g_object_unref (g_resolver_get_default ());
  ensure_class (G_TYPE_INET_ADDRESS);
  ensure_class (G_TYPE_INET_SOCKET_ADDRESS);
  ensure_class (G_TYPE_SOCKET);
  ensure_class (G_TYPE_TASK);
  ensure_class (G_TYPE_CANCELLABLE);
}

#ifdef GLUETOOL_HAVE_SOUP
void
gluetool_thread_types_ensure_http (void)
{
  gluetool_thread_types_ensure_network ();
  ensure_class (G_TYPE_NETWORK_ADDRESS);
  ensure_class (G_TYPE_SOCKET_CLIENT);
  ensure_class (SOUP_TYPE_SESSION);
  ensure_class (SOUP_TYPE_MESSAGE);
  ensure_class (JSON_TYPE_PARSER);
}
#endif
