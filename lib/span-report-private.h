/* span-report-private.h: a finished action's span, encoded and handed to a
 * tracer's queue
 *
 * SPDX-License-Identifier: MIT
 *
 * A trace root carries sampler.type and sampler.param, as other Jaeger
 * clients send them; the default sampler's are encoded once per process.
 * The span is encoded into the finishing thread's scratch space, big enough
 * for nearly every span, so encoding allocates only for unusually large
 * ones. Nothing of GObject: the action gives its fields.
 *
 * Who may call what: any thread, outside any region (pushing may wait for
 * room in the queue, see gluetool_tracer_report_span_mp()).
 */

#pragma once

#include <glib.h>

#include "encoder-private.h"
#include "gluetool-tracer-private.h"
#include "sampler-private.h"

G_BEGIN_DECLS

/* Encodes @span, with @sampler_tag's sampler tags when it is a trace root
 * (parent_span_id 0; @span's tags_head is set to them), and hands it to
 * @tracer. */
void gluetool_span_report (GluetoolTracer     *tracer,
                           GluetoolSpanFields *span,
                           GluetoolSamplerTag  sampler_tag,
                           double              sampler_param);

G_END_DECLS
