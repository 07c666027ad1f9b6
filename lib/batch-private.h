/* batch-private.h: an emitBatch datagram being packed, sized exactly
 *
 * SPDX-License-Identifier: MIT
 *
 * A datagram is `emitBatch` ONEWAY around one Batch: the Process (encoded
 * once), the spans (each encoded once by the thread that finished it, and
 * copied here as they are), seqNo and the cumulative ClientStats. Every
 * datagram is sized exactly before a span goes in, never by a guessed
 * allowance: the envelope's size depends only on seqNo, the ClientStats
 * and how many spans there are, and the first two are fixed when the
 * batch's first span is added. Knows nothing of sockets or threads; its
 * one user is the UDP sender.
 */

#pragma once

#include <gio/gio.h>

#include "encoder-private.h"

G_BEGIN_DECLS

typedef struct {
  gsize                max_bytes;        /* the largest datagram */
  GluetoolBuffer       process;          /* the encoded Process; empty until set */
  GluetoolBuffer       spans;            /* the spans packed so far, back to back */
  guint                n_spans;
  gint64               seq_no;           /* Batch.seqNo of this datagram */
  GluetoolClientStats  stats;            /* what it carries, fixed at its first span */
  gsize                envelope_fixed;   /* its envelope less the spans' list header */
  GluetoolBuffer       head;             /* written by seal() */
  GluetoolBuffer       tail;
} GluetoolBatch;

void     gluetool_batch_init         (GluetoolBatch             *batch,
                                      gsize                      max_bytes);
void     gluetool_batch_clear        (GluetoolBatch             *batch);

/* Sets the Process every datagram carries, once: batches are sized with
 * it, so it never changes length afterwards. */
void     gluetool_batch_set_process  (GluetoolBatch             *batch,
                                      const guint8              *process,
                                      gsize                      len);
gboolean gluetool_batch_has_process  (GluetoolBatch             *batch);

/* Whether a span of @len fits in the batch as it is. FALSE for an empty
 * batch: see start(). */
gboolean gluetool_batch_has_room     (GluetoolBatch             *batch,
                                      gsize                      len);
/* Starts an empty batch numbered @seq_no, carrying @stats; FALSE when a
 * span of @len would not fit in a datagram even alone. */
gboolean gluetool_batch_start        (GluetoolBatch             *batch,
                                      gint64                     seq_no,
                                      const GluetoolClientStats *stats,
                                      gsize                      len);
/* Appends one encoded Span struct; the caller made sure it fits. */
void     gluetool_batch_add          (GluetoolBatch             *batch,
                                      const guint8              *span,
                                      gsize                      len);
/* Writes the head and tail around the spans and fills @vectors with the
 * three pieces of the datagram, in order; returns its length in bytes. */
gsize    gluetool_batch_seal         (GluetoolBatch             *batch,
                                      GOutputVector              vectors[3]);
/* Empties the batch, sent or not. */
void     gluetool_batch_empty        (GluetoolBatch             *batch);

G_END_DECLS
