/* trace-format-json.h: spans as JSON lines, and traces in the JSON shape of
 * the Jaeger query API
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "trace-store.h"

G_BEGIN_DECLS

/* One span as one line of JSON (without the newline): hex ids ("traceID"
 * 16 or 32 digits as Jaeger writes it, "spanID" and "parentSpanID" 16, the
 * parent all zeros for a root), "operationName", "serviceName",
 * "startTime" (µs since the epoch), "duration" (µs), "flags", "references",
 * "tags" and "logs" (typed as in Jaeger's JSON: {"key", "type", "value"}),
 * and "process" (service and tags). Text is made valid UTF-8 first; a
 * double that JSON cannot hold (NaN, infinities) is written as a string.
 * (transfer full) */
char *trace_format_json_span   (TraceSpan *span);

/* @traces (element-type Trace) as one JSON document shaped like the Jaeger
 * query API's answer to GET /api/traces: {"data": [{"traceID", "spans",
 * "processes", "warnings"}], "total", "limit", "offset", "errors"}, which
 * Jaeger UI opens as a JSON file. A span's parent becomes a CHILD_OF
 * reference, as Jaeger's own conversion does. @length may be NULL.
 * (transfer full) */
char *trace_format_jaeger_json (GPtrArray *traces,
                                gsize     *length);

G_END_DECLS
