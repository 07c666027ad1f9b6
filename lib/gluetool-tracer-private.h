/* gluetool-tracer-private.h: what actions need of the tracer
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gluetool/gluetool.h>

#include "sampler-private.h"

G_BEGIN_DECLS

/* The default tracer as the calling thread last saw it, or NULL when there is
 * none or it is disabled. A tracer being closed, or closed after this thread
 * last looked, is still returned: its sealed queue counts what is reported. The thread keeps it alive until its next
 * call. Reading it costs one atomic load while the default does not change:
 * no lock and no reference count is touched per action. (transfer none) */
GluetoolTracer *gluetool_tracer_get_reporting_default (void);

/* Hands one encoded Span struct to the tracer's queue. Any thread; never
 * blocks, but for the bounded wait of a full queue that the tracer's
 * queue-full-wait asks for (see gluetool_reporter_push_mp()). FALSE when it
 * was dropped (and counted). */
gboolean        gluetool_tracer_report_span_mp        (GluetoolTracer *self,
                                                       const guint8   *span,
                                                       gsize           len);

/* Whether the trace a root action labelled @label starts, whose id's low
 * half is @trace_id_low, is sampled. Any thread; never blocks, takes no
 * lock (see sampler-private.h, remote-sampler-private.h). */
void            gluetool_tracer_decide                (GluetoolTracer           *self,
                                                       guint64                   trace_id_low,
                                                       const char               *label,
                                                       GluetoolSamplingDecision *decision);

#ifdef GLUETOOL_HAVE_SOUP
/* The tracer's remote sampler, or NULL. For tests. (transfer none) */
struct _GluetoolRemoteSampler;
struct _GluetoolRemoteSampler *gluetool_tracer_peek_remote_sampler (GluetoolTracer *self);
#endif

/* Drops the default tracer the calling thread's cache held before its last
 * refresh, if any: a finishing action calls this once out of its region of
 * the process, as that may be the tracer's last reference. */
void            gluetool_tracer_drop_stale_default    (void);

/* The tracer's reporter in this process, or NULL when it is disabled. For
 * tests. (transfer none) */
struct _GluetoolReporter;
struct _GluetoolReporter *gluetool_tracer_peek_reporter (GluetoolTracer *self);

G_END_DECLS
