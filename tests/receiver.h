/* receiver.h: a Jaeger agent stand-in for tests: a real UDP socket on
 * loopback, every datagram decoded with the c_glib reference codec
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

#include "reference.h"

G_BEGIN_DECLS

typedef struct {
  GBytes      *bytes;        /* (owned) the datagram as it arrived */
  JaegerBatch *batch;        /* (owned) (nullable) NULL when it did not decode */
  gint32       seqid;
  gint32       message_type;
} TestDatagram;

typedef struct _TestReceiver TestReceiver;

/* Binds @address (e.g. "127.0.0.1" or "::1") on a port the kernel picks and
 * starts receiving in a thread of its own. */
TestReceiver *test_receiver_new               (const char   *address);
/* The same on a given port (0: the kernel picks). */
TestReceiver *test_receiver_new_on_port       (const char   *address,
                                               guint16       port);
void          test_receiver_free              (TestReceiver *self);
guint16       test_receiver_get_port          (TestReceiver *self);

/* Waits until at least @n_spans spans have arrived, or @timeout_s passes;
 * returns the number that arrived. */
guint         test_receiver_wait_for_spans    (TestReceiver *self,
                                               guint         n_spans,
                                               double        timeout_s);
/* Waits until at least @n datagrams have arrived (good or bad). */
guint         test_receiver_wait_for_datagrams (TestReceiver *self,
                                                guint         n,
                                                double        timeout_s);

guint         test_receiver_get_n_spans       (TestReceiver *self);
guint         test_receiver_get_n_bad         (TestReceiver *self);
/* (transfer container) (element-type TestDatagram) in arrival order; the
 * elements stay owned by the receiver. */
GPtrArray    *test_receiver_get_datagrams     (TestReceiver *self);
/* (transfer container) (element-type JaegerSpan) every span, in arrival
 * order; the spans stay owned by the receiver. */
GPtrArray    *test_receiver_get_spans         (TestReceiver *self);
/* The span whose operation name is @name, or NULL. (transfer none) */
JaegerSpan   *test_receiver_find_span         (TestReceiver *self,
                                               const char   *name);

/* The same, failing the running check test when it did not arrive. */
JaegerSpan   *test_receiver_expect_span       (TestReceiver *self,
                                               const char   *name);

/* Tag lookup helpers over a GPtrArray of JaegerTag. (transfer none) */
JaegerTag    *test_find_tag                   (GPtrArray    *tags,
                                               const char   *key);
/* The span's tag @key, failing the running check test when it has none. */
JaegerTag    *test_expect_tag                 (JaegerSpan   *span,
                                               const char   *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestReceiver, test_receiver_free)

G_END_DECLS
