/* sender-peer.c: where a sender's peer was, for a forked child
 *
 * SPDX-License-Identifier: MIT
 *
 * See GluetoolPeerAddress in sender-private.h. A sequence lock with one
 * writer, the flush thread, and readers in a child made by fork(), which
 * read the copy of the memory fork() made: no reader ever runs while the
 * writer writes in the same process, so a reader never waits or retries,
 * it only has to know whether the copy it holds was whole.
 */

#include "sender-private.h"

void
gluetool_peer_address_publish (GluetoolPeerAddress *self,
                               GSocketAddress      *address)
{
  gssize len = address != NULL ? g_socket_address_get_native_size (address) : -1;
  guint version = atomic_load_explicit (&self->version, memory_order_relaxed);

  if (len <= 0 || (gsize) len > sizeof self->native)
    return;
  atomic_store_explicit (&self->version, version + 1, memory_order_relaxed);
  /* The odd version must be in memory before the address changes: a fork()
   * that copies the new bytes then copies the odd number too. */
  atomic_thread_fence (memory_order_release);
  if (g_socket_address_to_native (address, &self->native, (gsize) len, NULL))
    self->native_len = (gsize) len;
  atomic_store_explicit (&self->version, version + 2, memory_order_release);
}

GSocketAddress *
gluetool_peer_address_dup (GluetoolPeerAddress *self)
{
  guint version = atomic_load_explicit (&self->version, memory_order_acquire);

  if (version == 0 || version % 2 != 0)
    return NULL;
  return g_socket_address_new_from_native (&self->native, self->native_len);
}
