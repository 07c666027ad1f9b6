/* trace-layout.c: a trace's spans in the order a tree or a timeline shows
 * them, each with its depth
 *
 * SPDX-License-Identifier: MIT
 */

#include "trace-layout.h"

typedef struct {
  TraceSpan *span;
  guint      depth;
  gboolean   is_last;
  gboolean   parent_missing;
  gboolean   in_cycle;
} Frame;

static gint64
span_end (JaegerSpan *span)
{
  /* Durations come from the network: no overflow, whatever they say. */
  if (span->duration > 0 && span->startTime > G_MAXINT64 - span->duration)
    return G_MAXINT64;
  if (span->duration < 0 && span->startTime < G_MININT64 - span->duration)
    return G_MININT64;
  return span->startTime + span->duration;
}

static gint
compare_start (gconstpointer a,
               gconstpointer b)
{
  const TraceSpan *sa = *(TraceSpan * const *) a;
  const TraceSpan *sb = *(TraceSpan * const *) b;

  if (sa->span->startTime != sb->span->startTime)
    return sa->span->startTime < sb->span->startTime ? -1 : 1;
  return 0;  /* the sort is stable: arrival order breaks ties */
}

/* Pushes @siblings (sorted) so that the first is popped first. */
static void
push_siblings (GArray    *stack,
               GPtrArray *siblings,
               guint      depth,
               gboolean   in_cycle)
{
  for (guint i = siblings->len; i > 0; i--)
    {
      TraceSpan *span = g_ptr_array_index (siblings, i - 1);
      Frame frame = {
        .span = span,
        .depth = depth,
        .is_last = i == siblings->len,
        .parent_missing = depth == 0 && span->parent_id != 0 && !in_cycle,
        .in_cycle = in_cycle,
      };

      g_array_append_val (stack, frame);
    }
}

static void
walk (TraceLayout *layout,
      GArray      *stack,
      GHashTable  *children,
      GHashTable  *visited)
{
  while (stack->len > 0)
    {
      Frame frame = g_array_index (stack, Frame, stack->len - 1);
      GPtrArray *kids;
      TraceRow row;

      g_array_set_size (stack, stack->len - 1);
      if (!g_hash_table_add (visited, frame.span))
        continue;  /* a duplicate id already showed these children */

      kids = g_hash_table_lookup (children, &frame.span->span_id);
      row = (TraceRow) {
        .span = frame.span,
        .depth = frame.depth,
        .is_last = frame.is_last,
        .has_children = FALSE,
        .parent_missing = frame.parent_missing,
        .in_cycle = frame.in_cycle,
      };
      if (kids != NULL)
        for (guint i = 0; i < kids->len && !row.has_children; i++)
          row.has_children = !g_hash_table_contains (visited, g_ptr_array_index (kids, i));
      g_array_append_val (layout->rows, row);

      if (kids != NULL)
        {
          /* Sorted once, when first reached. */
          g_ptr_array_sort (kids, compare_start);
          push_siblings (stack, kids, frame.depth + 1, FALSE);
        }
    }
}

TraceLayout *
trace_layout_new (Trace *trace)
{
  g_autoptr(GHashTable) by_id = NULL;
  g_autoptr(GHashTable) children = NULL;
  g_autoptr(GHashTable) visited = NULL;
  g_autoptr(GHashTable) seen_services = NULL;
  g_autoptr(GPtrArray) roots = NULL;
  g_autoptr(GArray) stack = NULL;
  TraceLayout *layout;
  GPtrArray *spans;

  g_return_val_if_fail (trace != NULL, NULL);

  spans = trace->spans;
  layout = g_new0 (TraceLayout, 1);
  layout->rows = g_array_sized_new (FALSE, FALSE, sizeof (TraceRow), spans->len);
  layout->services = g_ptr_array_new ();
  layout->start_us = G_MAXINT64;
  layout->end_us = G_MININT64;

  /* Keys point into the spans, which outlive this function. */
  by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  children = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                    (GDestroyNotify) g_ptr_array_unref);
  seen_services = g_hash_table_new (g_str_hash, g_str_equal);
  roots = g_ptr_array_new ();

  for (guint i = 0; i < spans->len; i++)
    {
      TraceSpan *span = g_ptr_array_index (spans, i);

      if (!g_hash_table_contains (by_id, &span->span_id))
        g_hash_table_insert (by_id, &span->span_id, span);
      layout->start_us = MIN (layout->start_us, span->span->startTime);
      layout->end_us = MAX (layout->end_us, span_end (span->span));
      if (g_hash_table_add (seen_services, span->process->service_name))
        g_ptr_array_add (layout->services, span->process->service_name);
    }
  if (spans->len == 0)
    layout->start_us = layout->end_us = 0;

  for (guint i = 0; i < spans->len; i++)
    {
      TraceSpan *span = g_ptr_array_index (spans, i);
      GPtrArray *siblings;

      if (span->parent_id == 0 || span->parent_id == span->span_id
          || !g_hash_table_contains (by_id, &span->parent_id))
        {
          g_ptr_array_add (roots, span);
          continue;
        }
      siblings = g_hash_table_lookup (children, &span->parent_id);
      if (siblings == NULL)
        {
          siblings = g_ptr_array_new ();
          g_hash_table_insert (children, &span->parent_id, siblings);
        }
      g_ptr_array_add (siblings, span);
    }

  visited = g_hash_table_new (NULL, NULL);
  stack = g_array_new (FALSE, FALSE, sizeof (Frame));

  g_ptr_array_sort (roots, compare_start);
  push_siblings (stack, roots, 0, FALSE);
  walk (layout, stack, children, visited);

  /* What no root reaches has parents in a loop; each such span starts a
   * top-level group of its own, in arrival order. */
  for (guint i = 0; i < spans->len && layout->rows->len < spans->len; i++)
    {
      TraceSpan *span = g_ptr_array_index (spans, i);
      Frame frame = { .span = span, .depth = 0, .is_last = TRUE, .in_cycle = TRUE };

      if (g_hash_table_contains (visited, span))
        continue;
      g_array_append_val (stack, frame);
      walk (layout, stack, children, visited);
    }

  return layout;
}

void
trace_layout_free (TraceLayout *layout)
{
  if (layout == NULL)
    return;
  g_array_unref (layout->rows);
  g_ptr_array_unref (layout->services);
  g_free (layout);
}

gint64
trace_layout_offset (TraceLayout *layout,
                     gint64       time_us)
{
  gint64 start;

  g_return_val_if_fail (layout != NULL, 0);

  start = layout->start_us;
  if (start > 0 && time_us < G_MININT64 + start)
    return G_MININT64;
  if (start < 0 && time_us > G_MAXINT64 + start)
    return G_MAXINT64;
  return time_us - start;
}

gboolean
trace_span_has_error (JaegerSpan *span)
{
  for (guint i = 0; span->tags != NULL && i < span->tags->len; i++)
    {
      JaegerTag *tag = g_ptr_array_index (span->tags, i);

      if (g_strcmp0 (tag->key, "error") == 0)
        return (tag->vType == JAEGER_TAG_TYPE_BOOL && tag->__isset_vBool && tag->vBool)
               || (tag->vType == JAEGER_TAG_TYPE_STRING && g_strcmp0 (tag->vStr, "true") == 0);
    }
  return FALSE;
}
