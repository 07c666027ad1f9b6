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

#include <string.h>

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

/* Starts an empty batch numbered @seq_no, carrying @stats; FALSE when a
 * span of @len would not fit in a datagram even alone. */
gboolean gluetool_batch_start        (GluetoolBatch             *batch,
                                      gint64                     seq_no,
                                      const GluetoolClientStats *stats,
                                      gsize                      len);
/* Writes the head and tail around the spans and fills @vectors with the
 * three pieces of the datagram, in order; returns its length in bytes. */
gsize    gluetool_batch_seal         (GluetoolBatch             *batch,
                                      GOutputVector              vectors[3]);
/* Empties the batch, sent or not. */
void     gluetool_batch_empty        (GluetoolBatch             *batch);

/* The datagram's bytes with @n_spans spans of @spans_len bytes in all. */
static inline gsize
gluetool_batch_datagram_size (const GluetoolBatch *batch,
                              guint                n_spans,
                              gsize                spans_len)
{
  return batch->envelope_fixed + gluetool_list_header_size (n_spans) + batch->process.len
         + spans_len;
}

/* Whether a span of @len fits in the batch as it is; FALSE for an empty
 * batch (see start()). Inline, as are add() and the sizes they use: the
 * flush thread calls them for every span, and the calls cost more than
 * the sums. */
static inline gboolean
gluetool_batch_has_room (const GluetoolBatch *batch,
                         gsize                len)
{
  return batch->n_spans > 0
         && gluetool_batch_datagram_size (batch, batch->n_spans + 1, batch->spans.len + len)
            <= batch->max_bytes;
}

/* Appends one encoded Span struct the batch has room for (start() or
 * has_room() said so): the spans' buffer holds a whole datagram from
 * init() on. */
static inline void
gluetool_batch_add (GluetoolBatch *batch,
                    const guint8  *span,
                    gsize          len)
{
  g_assert (batch->spans.len + len <= batch->spans.capacity);
  memcpy (batch->spans.data + batch->spans.len, span, len);
  batch->spans.len += len;
  batch->n_spans++;
}

G_END_DECLS
