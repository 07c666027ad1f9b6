/* workload.h: the span every benchmark reports, so that all of them measure
 * the same thing
 *
 * SPDX-License-Identifier: MIT
 *
 * The benchmarks' workload: a child of one root with three tags (a string, an
 * integer and a boolean), finished explicitly and then released, as a caller
 * that does not use g_autoptr would.
 */

#pragma once

#include <gluetool/gluetool.h>

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
