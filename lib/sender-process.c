/* sender-process.c: the Process struct every batch carries, whatever the
 * transport
 *
 * SPDX-License-Identifier: MIT
 *
 * See sender-private.h. Encoded once per sender, in the flush thread, in
 * the compact protocol: the UDP sender sends it as it is, the HTTP sender
 * transcodes it, so both carry the same tags.
 */

#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <gluetool/gluetool.h>

#include "sender-private.h"
#include "tracer-tags-private.h"

#define JAEGER_VERSION_TAG "C-gluetool-action-" GLUETOOL_VERSION_S

/* The address other clients report as "ip": the first IPv4 address of an
 * interface that is up and not loopback, else @socket's own address (when
 * there is one), else 127.0.0.1. */
static char *
dup_host_ip (GSocket *socket)
{
  struct ifaddrs *interfaces = NULL;
  char *ip = NULL;
  g_autoptr(GSocketAddress) local = NULL;

  if (getifaddrs (&interfaces) == 0)
    {
      for (struct ifaddrs *i = interfaces; i != NULL && ip == NULL; i = i->ifa_next)
        {
          g_autoptr(GSocketAddress) address = NULL;
          GInetAddress *inet;

          if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
          address = g_socket_address_new_from_native (i->ifa_addr, sizeof (struct sockaddr_in));
          if (address == NULL)
            continue;
          inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
          if (!g_inet_address_get_is_loopback (inet))
            ip = g_inet_address_to_string (inet);
        }
      freeifaddrs (interfaces);
    }
  if (ip != NULL)
    return ip;

  if (socket != NULL)
    local = g_socket_get_local_address (socket, NULL);
  if (local != NULL && G_IS_INET_SOCKET_ADDRESS (local))
    return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
  return g_strdup ("127.0.0.1");
}

void
gluetool_sender_encode_process (GluetoolBuffer *process,
                                const char     *service_name,
                                const char     *client_uuid,
                                GPtrArray      *tags_of_tracer,
                                GSocket        *socket)
{
  guint8 tags_storage[512];
  GluetoolBuffer tags;
  g_autofree char *ip = dup_host_ip (socket);
  const char *hostname = g_get_host_name ();
  GluetoolEncodedList list;
  guint n_tags;

  gluetool_buffer_init (&tags, tags_storage, sizeof tags_storage);
  gluetool_encode_tag_string (&tags, "jaeger.version", strlen ("jaeger.version"),
                              JAEGER_VERSION_TAG, strlen (JAEGER_VERSION_TAG));
  gluetool_encode_tag_string (&tags, "hostname", strlen ("hostname"),
                              hostname, strlen (hostname));
  gluetool_encode_tag_string (&tags, "ip", strlen ("ip"), ip, strlen (ip));
  /* A STRING client-uuid is what agents key ClientStats by. */
  gluetool_encode_tag_string (&tags, "client-uuid", strlen ("client-uuid"),
                              client_uuid, strlen (client_uuid));
  n_tags = 4;
  if (tags_of_tracer != NULL)
    n_tags += gluetool_tracer_tags_encode (tags_of_tracer, &tags);
  list = (GluetoolEncodedList) { tags.data, tags.len, n_tags };

  gluetool_encode_process (process, service_name, strlen (service_name), &list);
  gluetool_buffer_clear (&tags);
}
