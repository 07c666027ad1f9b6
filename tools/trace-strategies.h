/* trace-strategies.h: a Jaeger sampling strategies file, parsed, and the
 * answers Jaeger's sampling endpoint gives from it
 *
 * SPDX-License-Identifier: MIT
 *
 * The file is in the format of Jaeger's file-based strategy store
 * (--sampling.strategies-file): a "default_strategy" and a list of
 * "service_strategies", each with a "type" ("probabilistic" or
 * "ratelimiting"), a "param" and optionally "operation_strategies". The
 * answer is the JSON a Jaeger agent gives on port 5778 for GET
 * /sampling?service=NAME. The strategies are resolved as Jaeger resolves
 * them: see trace-strategies.c. Needs json-glib only, not libsoup.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _TraceStrategies TraceStrategies;

/* Parses the text of a strategies file. Returns NULL with @error set
 * (G_IO_ERROR_INVALID_DATA, or json-glib's parser error) when it is not
 * JSON, a member has the wrong type, a probability is outside 0 to 1 or a
 * rate outside 0 to 32767 (what the agent's answer can carry). What Jaeger
 * only warns about (an unknown type, which stands for probabilistic 0.001;
 * a rate-limiting operation strategy, which is left out) is accepted and
 * listed in trace_strategies_get_warnings(). */
TraceStrategies *trace_strategies_parse        (const char             *text,
                                                gsize                   len,
                                                GError                **error);

/* (transfer none) (element-type utf8) what Jaeger would log as warnings */
GPtrArray       *trace_strategies_get_warnings (const TraceStrategies  *self);

/* The answer for @service: the JSON text of a SamplingStrategyResponse. */
char            *trace_strategies_answer       (const TraceStrategies  *self,
                                                const char             *service);

void             trace_strategies_free         (TraceStrategies        *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceStrategies, trace_strategies_free)

G_END_DECLS
