/* batch.c: an emitBatch datagram being packed, sized exactly
 *
 * SPDX-License-Identifier: MIT
 */

#include "batch-private.h"

/* The message seqid mirrors Batch.seqNo (the agent ignores it), kept
 * positive so that it stays short. */
static gint32
seqid_for (gint64 seq_no)
{
  return (gint32) (seq_no & G_MAXINT32);
}

void
gluetool_batch_init (GluetoolBatch *batch,
                     gsize          max_bytes)
{
  *batch = (GluetoolBatch) { .max_bytes = max_bytes };
  gluetool_buffer_init (&batch->process, NULL, 0);
  gluetool_buffer_init (&batch->head, NULL, 0);
  gluetool_buffer_init (&batch->tail, NULL, 0);
  /* Allocated once, a datagram's size. */
  gluetool_buffer_init (&batch->spans, NULL, 0);
  gluetool_buffer_reserve (&batch->spans, max_bytes);
}

void
gluetool_batch_clear (GluetoolBatch *batch)
{
  gluetool_buffer_clear (&batch->process);
  gluetool_buffer_clear (&batch->head);
  gluetool_buffer_clear (&batch->tail);
  gluetool_buffer_clear (&batch->spans);
}

void
gluetool_batch_set_process (GluetoolBatch *batch,
                            const guint8  *process,
                            gsize          len)
{
  g_return_if_fail (batch->process.len == 0);

  gluetool_buffer_append (&batch->process, process, len);
}

gboolean
gluetool_batch_has_process (GluetoolBatch *batch)
{
  return batch->process.len > 0;
}

gboolean
gluetool_batch_start (GluetoolBatch             *batch,
                      gint64                     seq_no,
                      const GluetoolClientStats *stats,
                      gsize                      len)
{
  g_return_val_if_fail (batch->n_spans == 0, FALSE);

  batch->seq_no = seq_no;
  batch->stats = *stats;
  /* Whatever the batch's length, its seqNo and stats are these. */
  batch->envelope_fixed = gluetool_batch_envelope_size_without_list (seqid_for (seq_no), seq_no,
                                                                     stats);
  return gluetool_batch_datagram_size (batch, 1, len) <= batch->max_bytes;
}

gsize
gluetool_batch_seal (GluetoolBatch *batch,
                     GOutputVector  vectors[3])
{
  batch->head.len = 0;
  gluetool_encode_batch_head (&batch->head, seqid_for (batch->seq_no),
                              batch->process.data, batch->process.len, batch->n_spans);
  batch->tail.len = 0;
  gluetool_encode_batch_tail (&batch->tail, batch->seq_no, &batch->stats);

  vectors[0] = (GOutputVector) { batch->head.data, batch->head.len };
  vectors[1] = (GOutputVector) { batch->spans.data, batch->spans.len };
  vectors[2] = (GOutputVector) { batch->tail.data, batch->tail.len };
  return batch->head.len + batch->spans.len + batch->tail.len;
}

void
gluetool_batch_empty (GluetoolBatch *batch)
{
  batch->spans.len = 0;
  batch->n_spans = 0;
}
