/* sampler-private.h: whether a new trace is sampled, decided as Jaeger's
 * clients decide it
 *
 * SPDX-License-Identifier: MIT
 *
 * A sampler is asked once per trace, by the trace's root action, with the
 * trace id and the root's label; the root's children and the processes it
 * hands its context to inherit the answer. Its settings are fixed when it
 * is made: the remote sampler (remote-sampler-private.h) makes a new one
 * when the strategy changes and swaps it in whole.
 *
 * - const: always or never.
 * - probabilistic: a trace is sampled when the low 63 bits of its id's low
 *   half are at most rate * (2^63 - 1), as jaeger-client-go compares them,
 *   so every process (and every Jaeger client) that sees the same trace id
 *   with the same rate decides alike.
 * - rate limiting: a leaky bucket of credits, one per trace, refilled at
 *   the rate per second and holding max (rate, 1): bursts of a second's
 *   worth. Full at the start, as Jaeger's.
 * - per operation (a remote strategy): by the root's label, a probabilistic
 *   sampler with a lower-bound rate limiter of its own (Jaeger's
 *   guaranteed-throughput sampler) for every operation the strategy names;
 *   a label it does not name gets one of the default probability and lower
 *   bound on its first root while there are fewer than
 *   GLUETOOL_SAMPLER_MAX_OPERATIONS operations in all; labels beyond are
 *   sampled by the default probability alone, with no lower bound, tagged
 *   probabilistic (jaeger-client-go's per-operation sampler, all three).
 *
 * Who may call what: decide() any thread, at once, without a lock (a rate
 * limiter takes a compare-and-swap, and so does a label's first root with
 * a per-operation strategy); new/free the owner.
 */

#pragma once

#include <stdatomic.h>

#include <glib.h>

G_BEGIN_DECLS

/* What a sampled trace's root span says of its sampler: sampler.type is
 * the name, sampler.param a bool for const and a double otherwise. */
typedef enum {
  GLUETOOL_SAMPLER_TAG_CONST,
  GLUETOOL_SAMPLER_TAG_PROBABILISTIC,
  GLUETOOL_SAMPLER_TAG_RATE_LIMITING,
  GLUETOOL_SAMPLER_TAG_LOWER_BOUND,
} GluetoolSamplerTag;

/* sampler.type's value for @tag. (transfer none) */
const char *gluetool_sampler_tag_name (GluetoolSamplerTag tag);

typedef struct {
  gboolean sampled;
  guint8   tag;     /* GluetoolSamplerTag */
  double   param;   /* const: 1.0 or 0.0 */
} GluetoolSamplingDecision;

/* While a per-operation strategy has fewer operations than this, named or
 * added, a label it does not name is added on its first root; as Jaeger's
 * clients bound them (2000). Named operations are all kept. */
#define GLUETOOL_SAMPLER_MAX_OPERATIONS 2000

/* A leaky bucket, as one word: the time at which it would be full again
 * (the generic cell rate algorithm, the same bucket as Jaeger's credits and
 * balance, without a lock). */
typedef struct {
  gint64         interval_ns;   /* one credit's worth of time */
  gint64         burst_ns;      /* (max balance - 1) credits' worth */
  _Atomic gint64 full_at_ns;    /* (atomic) monotonic */
} GluetoolRateLimiter;

void     gluetool_rate_limiter_init         (GluetoolRateLimiter *limiter,
                                             double               per_second,
                                             double               max_balance);
/* Takes one credit at @now_ns (CLOCK_MONOTONIC) if there is one. */
gboolean gluetool_rate_limiter_check_at     (GluetoolRateLimiter *limiter,
                                             gint64               now_ns);

typedef struct _GluetoolSampler GluetoolSampler;

GluetoolSampler *gluetool_sampler_new_const         (gboolean decision);
GluetoolSampler *gluetool_sampler_new_probabilistic (double   rate);
GluetoolSampler *gluetool_sampler_new_rate_limiting (double   per_second);
/* @operations and @rates: @n_operations labels and their probabilities;
 * copied. */
GluetoolSampler *gluetool_sampler_new_per_operation (double              default_rate,
                                                     double              lower_bound_per_second,
                                                     const char *const  *operations,
                                                     const double       *rates,
                                                     guint               n_operations);
void             gluetool_sampler_free              (GluetoolSampler    *self);

/* Decides for the trace whose id's low half is @trace_id_low, started by
 * an action labelled @operation, at @now_ns (CLOCK_MONOTONIC; only rate
 * limiters read it). */
void             gluetool_sampler_decide_at         (GluetoolSampler          *self,
                                                     guint64                   trace_id_low,
                                                     const char               *operation,
                                                     gint64                    now_ns,
                                                     GluetoolSamplingDecision *decision);
void             gluetool_sampler_decide            (GluetoolSampler          *self,
                                                     guint64                   trace_id_low,
                                                     const char               *operation,
                                                     GluetoolSamplingDecision *decision);

/* Whether @self is const, and then its decision: what lets a root skip the
 * call (the default sampler is const 1). */
gboolean         gluetool_sampler_is_const          (const GluetoolSampler    *self,
                                                     gboolean                 *decision);

/* A description such as "probabilistic 0.25" or "per-operation 0.001
 * (lower bound 0.5/s, 3 operations)", for logs and tests. (transfer full) */
char            *gluetool_sampler_describe          (const GluetoolSampler    *self);
/* Whether the two decide alike (same kind and settings). */
gboolean         gluetool_sampler_equal             (const GluetoolSampler    *a,
                                                     const GluetoolSampler    *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GluetoolSampler, gluetool_sampler_free)

G_END_DECLS
