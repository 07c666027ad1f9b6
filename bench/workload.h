/* workload.h: the span every benchmark reports, so that all of them measure
 * the same thing
 *
 * SPDX-License-Identifier: MIT
 *
 * The benchmarks' workload: a child of one root with three tags (a string, an
 * integer and a boolean), finished explicitly and then released, as a caller
 * that does not use g_autoptr would; and the queue-full wait of the
 * benchmarks that need every span delivered.
 */

#pragma once

#include <gluetool/gluetool.h>

/* The benchmarks that count what a delivered span costs (e2e, throughput,
 * rss, alloc) make spans flat out, faster than loopback UDP carries them for
 * longer than the queue absorbs, and on a busy machine the flush thread may
 * get no core for tens of milliseconds. By default a span that finds the
 * queue full is dropped at once (bench-burst and bench-full-queue measure
 * that); these benchmarks ask for the bounded wait instead, longer than any
 * such absence, so that every span is delivered and counted. Before the
 * first tracer; children started later inherit it. */
static inline void
bench_wait_when_queue_full (void)
{
  g_setenv ("GLUETOOL_TRACING_QUEUE_FULL_WAIT", "1", TRUE);
}

static inline void
bench_report_span (GluetoolAction *root,
                   guint64         i)
{
  GluetoolAction *action = gluetool_action_new ("bench span", root);

  gluetool_action_set_tag_string (action, "component", "bench");
  gluetool_action_set_tag_int64 (action, "i", (gint64) i);
  gluetool_action_set_tag_boolean (action, "ok", TRUE);
  gluetool_action_finish (action, NULL);
  g_object_unref (action);
}
