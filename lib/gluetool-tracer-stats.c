/* gluetool-tracer-stats.c: what a tracer has done with the spans it was given
 *
 * SPDX-License-Identifier: MIT
 */

#include <gluetool/gluetool.h>
#include "sync-private.h"

/* Registered by hand: G_DEFINE_BOXED_TYPE's transparent-union cast is
 * refused by -Wpedantic in GLib 2.74. */
GType
gluetool_tracer_stats_get_type (void)
{
  static gsize type_id = 0;

  if (GLUETOOL_ONCE_INIT_ENTER (&type_id))
    {
      GType type = g_boxed_type_register_static (g_intern_static_string ("GluetoolTracerStats"),
                                                 (GBoxedCopyFunc) gluetool_tracer_stats_copy,
                                                 (GBoxedFreeFunc) gluetool_tracer_stats_free);
      GLUETOOL_ONCE_INIT_LEAVE (&type_id, type);
    }
  return type_id;
}

/**
 * gluetool_tracer_stats_copy:
 * @stats: statistics
 *
 * Copies @stats.
 *
 * Returns: (transfer full): a copy, freed with [method@Gluetool.TracerStats.free]
 *
 * Since: 0.1
 */
GluetoolTracerStats *
gluetool_tracer_stats_copy (const GluetoolTracerStats *stats)
{
  g_return_val_if_fail (stats != NULL, NULL);

  return g_memdup2 (stats, sizeof *stats);
}

/**
 * gluetool_tracer_stats_free:
 * @stats: (transfer full): statistics from [method@Gluetool.TracerStats.copy]
 *
 * Frees @stats.
 *
 * Since: 0.1
 */
void
gluetool_tracer_stats_free (GluetoolTracerStats *stats)
{
  g_free (stats);
}

/**
 * gluetool_tracer_stats_get_lost:
 * @stats: statistics
 *
 * How many spans were lost, for any reason: the sum of the three loss
 * counters.
 *
 * Returns: the number of spans lost
 *
 * Since: 0.1
 */
guint64
gluetool_tracer_stats_get_lost (const GluetoolTracerStats *stats)
{
  g_return_val_if_fail (stats != NULL, 0);

  return stats->spans_dropped_queue_full + stats->spans_dropped_too_large
         + stats->spans_failed_to_send;
}
