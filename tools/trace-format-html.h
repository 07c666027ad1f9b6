/* trace-format-html.h: traces as one self-contained HTML page with a
 * waterfall timeline per trace
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "trace-store.h"

G_BEGIN_DECLS

/* One HTML page for @traces (element-type Trace): per trace, a timeline
 * whose bars are placed by start and duration, nested by parent, coloured
 * by service; hovering a bar shows its tags, and clicking a row opens its
 * tags, logs, process and ids. Plain HTML and CSS in the page itself: no
 * script, no network resource, so it opens anywhere, from a file, offline.
 * All text from the spans is escaped. @summary (nullable) is shown at the
 * end as preformatted text. (transfer full) */
char *trace_format_html (GPtrArray  *traces,
                         const char *summary,
                         gsize      *length);

G_END_DECLS
