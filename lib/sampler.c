/* sampler.c: whether a new trace is sampled, decided as Jaeger's clients
 * decide it
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>
#include <time.h>

#include "sampler-private.h"

typedef enum {
  KIND_CONST,
  KIND_PROBABILISTIC,
  KIND_RATE_LIMITING,
  KIND_PER_OPERATION,
} Kind;

/* A probabilistic sampler with a lower-bound rate limiter. */
typedef struct {
  double              rate;
  guint64             boundary;
  GluetoolRateLimiter lower_bound;
} Guaranteed;

struct _GluetoolSampler {
  Kind                kind;
  gboolean            decision;          /* const */
  double              rate;              /* probabilistic; per operation: the default */
  guint64             boundary;          /* probabilistic */
  double              per_second;        /* rate limiting; per operation: the lower bound */
  GluetoolRateLimiter limiter;           /* rate limiting */
  /* Per operation: label -> Guaranteed, never changed once made, so read
   * by any thread without a lock. */
  GHashTable         *operations;        /* (owned) (nullable) */
  Guaranteed          unnamed;           /* labels the table does not hold */
};

const char *
gluetool_sampler_tag_name (GluetoolSamplerTag tag)
{
  /* jaeger-client-go's names. */
  static const char *const names[] = {
    [GLUETOOL_SAMPLER_TAG_CONST] = "const",
    [GLUETOOL_SAMPLER_TAG_PROBABILISTIC] = "probabilistic",
    [GLUETOOL_SAMPLER_TAG_RATE_LIMITING] = "ratelimiting",
    [GLUETOOL_SAMPLER_TAG_LOWER_BOUND] = "lowerbound",
  };

  g_return_val_if_fail (tag < G_N_ELEMENTS (names), "const");
  return names[tag];
}

/* ---- The rate limiter ------------------------------------------------------- */

/* The bucket's balance at time t is max_balance - max (0, full_at - t) *
 * per_second: a credit is there while full_at is at most burst_ns ahead of
 * t, and taking it moves full_at one interval later (from t when it was in
 * the past: a bucket does not fill beyond full). */
void
gluetool_rate_limiter_init (GluetoolRateLimiter *limiter,
                            double               per_second,
                            double               max_balance)
{
  /* A rate of 0 gives the first credit (the bucket starts full) and none
   * after, as Jaeger's does. */
  double interval = per_second > 0.0 ? 1e9 / per_second : (double) (G_MAXINT64 / 4);

  limiter->interval_ns = (gint64) MIN (interval, (double) (G_MAXINT64 / 4));
  limiter->interval_ns = MAX (limiter->interval_ns, 1);
  limiter->burst_ns = (gint64) MIN ((max_balance - 1.0) * (double) limiter->interval_ns,
                                    (double) (G_MAXINT64 / 4));
  limiter->burst_ns = MAX (limiter->burst_ns, 0);
  /* Full from the start. */
  atomic_init (&limiter->full_at_ns, G_MININT64 / 4);
}

gboolean
gluetool_rate_limiter_check_at (GluetoolRateLimiter *limiter,
                                gint64               now_ns)
{
  /* Relaxed throughout: the word orders nothing else, and the
   * compare-and-swap alone makes two threads never take one credit. */
  gint64 full_at = atomic_load_explicit (&limiter->full_at_ns, memory_order_relaxed);

  for (;;)
    {
      gint64 from = MAX (full_at, now_ns);

      if (from - now_ns > limiter->burst_ns)
        return FALSE;
      if (atomic_compare_exchange_weak_explicit (&limiter->full_at_ns, &full_at,
                                                 from + limiter->interval_ns,
                                                 memory_order_relaxed, memory_order_relaxed))
        return TRUE;
    }
}

/* ---- Making one --------------------------------------------------------------- */

/* jaeger-client-go's boundary: a trace is sampled when the low 63 bits of
 * its id's low half are at most rate * (2^63 - 1). */
static guint64
boundary_for (double rate)
{
  const guint64 max_random = G_GUINT64_CONSTANT (0x7fffffffffffffff);

  return (guint64) ((double) max_random * rate);
}

static inline gboolean
below_boundary (guint64 boundary,
                guint64 trace_id_low)
{
  return boundary >= (trace_id_low & G_GUINT64_CONSTANT (0x7fffffffffffffff));
}

static GluetoolSampler *
sampler_new (Kind kind)
{
  GluetoolSampler *self = g_new0 (GluetoolSampler, 1);

  self->kind = kind;
  return self;
}

GluetoolSampler *
gluetool_sampler_new_const (gboolean decision)
{
  GluetoolSampler *self = sampler_new (KIND_CONST);

  self->decision = decision != FALSE;
  return self;
}

GluetoolSampler *
gluetool_sampler_new_probabilistic (double rate)
{
  GluetoolSampler *self;

  g_return_val_if_fail (rate >= 0.0 && rate <= 1.0, NULL);

  self = sampler_new (KIND_PROBABILISTIC);
  self->rate = rate;
  self->boundary = boundary_for (rate);
  return self;
}

GluetoolSampler *
gluetool_sampler_new_rate_limiting (double per_second)
{
  GluetoolSampler *self;

  g_return_val_if_fail (per_second >= 0.0 && isfinite (per_second), NULL);

  self = sampler_new (KIND_RATE_LIMITING);
  self->per_second = per_second;
  gluetool_rate_limiter_init (&self->limiter, per_second, MAX (per_second, 1.0));
  return self;
}

static void
guaranteed_init (Guaranteed *guaranteed,
                 double      rate,
                 double      lower_bound_per_second)
{
  guaranteed->rate = rate;
  guaranteed->boundary = boundary_for (rate);
  /* Jaeger's lower bound is a rate-limiting sampler: a bucket of
   * max (rate, 1). */
  gluetool_rate_limiter_init (&guaranteed->lower_bound, lower_bound_per_second,
                              MAX (lower_bound_per_second, 1.0));
}

GluetoolSampler *
gluetool_sampler_new_per_operation (double             default_rate,
                                    double             lower_bound_per_second,
                                    const char *const *operations,
                                    const double      *rates,
                                    guint              n_operations)
{
  GluetoolSampler *self;

  g_return_val_if_fail (default_rate >= 0.0 && default_rate <= 1.0, NULL);
  g_return_val_if_fail (lower_bound_per_second >= 0.0 && isfinite (lower_bound_per_second), NULL);
  g_return_val_if_fail (n_operations == 0 || (operations != NULL && rates != NULL), NULL);

  self = sampler_new (KIND_PER_OPERATION);
  self->rate = default_rate;
  self->per_second = lower_bound_per_second;
  self->operations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < n_operations; i++)
    {
      Guaranteed *guaranteed;

      if (g_hash_table_size (self->operations) >= GLUETOOL_SAMPLER_MAX_OPERATIONS)
        break;
      if (!(rates[i] >= 0.0 && rates[i] <= 1.0) || g_hash_table_contains (self->operations, operations[i]))
        continue;
      guaranteed = g_new0 (Guaranteed, 1);
      guaranteed_init (guaranteed, rates[i], lower_bound_per_second);
      g_hash_table_insert (self->operations, g_strdup (operations[i]), guaranteed);
    }
  guaranteed_init (&self->unnamed, default_rate, lower_bound_per_second);
  return self;
}

void
gluetool_sampler_free (GluetoolSampler *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->operations, g_hash_table_unref);
  g_free (self);
}

/* ---- Deciding ------------------------------------------------------------------ */

static void
decide_guaranteed (Guaranteed               *guaranteed,
                   guint64                   trace_id_low,
                   gint64                    now_ns,
                   GluetoolSamplingDecision *decision)
{
  /* Sampled by probability: the lower bound's credit is taken all the
   * same, so it counts every sampled trace, as Jaeger's does. */
  if (below_boundary (guaranteed->boundary, trace_id_low))
    {
      gluetool_rate_limiter_check_at (&guaranteed->lower_bound, now_ns);
      *decision = (GluetoolSamplingDecision) { TRUE, GLUETOOL_SAMPLER_TAG_PROBABILISTIC,
                                               guaranteed->rate };
      return;
    }
  *decision = (GluetoolSamplingDecision) {
    gluetool_rate_limiter_check_at (&guaranteed->lower_bound, now_ns),
    GLUETOOL_SAMPLER_TAG_LOWER_BOUND, guaranteed->rate,
  };
}

void
gluetool_sampler_decide_at (GluetoolSampler          *self,
                            guint64                   trace_id_low,
                            const char               *operation,
                            gint64                    now_ns,
                            GluetoolSamplingDecision *decision)
{
  Guaranteed *guaranteed;

  switch (self->kind)
    {
    case KIND_CONST:
      *decision = (GluetoolSamplingDecision) { self->decision, GLUETOOL_SAMPLER_TAG_CONST,
                                               self->decision ? 1.0 : 0.0 };
      break;
    case KIND_PROBABILISTIC:
      *decision = (GluetoolSamplingDecision) { below_boundary (self->boundary, trace_id_low),
                                               GLUETOOL_SAMPLER_TAG_PROBABILISTIC, self->rate };
      break;
    case KIND_RATE_LIMITING:
      *decision = (GluetoolSamplingDecision) {
        gluetool_rate_limiter_check_at (&self->limiter, now_ns),
        GLUETOOL_SAMPLER_TAG_RATE_LIMITING, self->per_second,
      };
      break;
    case KIND_PER_OPERATION:
      guaranteed = g_hash_table_lookup (self->operations, operation);
      decide_guaranteed (guaranteed != NULL ? guaranteed : &self->unnamed, trace_id_low, now_ns,
                         decision);
      break;
    default:
      g_assert_not_reached ();
    }
}

static gint64
monotonic_ns (void)
{
  struct timespec now;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return (gint64) now.tv_sec * 1000000000 + now.tv_nsec;
}

void
gluetool_sampler_decide (GluetoolSampler          *self,
                         guint64                   trace_id_low,
                         const char               *operation,
                         GluetoolSamplingDecision *decision)
{
  /* Only the rate limiters read the clock. */
  gint64 now_ns = self->kind == KIND_RATE_LIMITING || self->kind == KIND_PER_OPERATION
                  ? monotonic_ns () : 0;

  gluetool_sampler_decide_at (self, trace_id_low, operation, now_ns, decision);
}

gboolean
gluetool_sampler_is_const (const GluetoolSampler *self,
                           gboolean              *decision)
{
  *decision = self->decision;
  return self->kind == KIND_CONST;
}

/* ---- Looking at one ------------------------------------------------------------ */

char *
gluetool_sampler_describe (const GluetoolSampler *self)
{
  switch (self->kind)
    {
    case KIND_CONST:
      return g_strdup_printf ("const %d", self->decision ? 1 : 0);
    case KIND_PROBABILISTIC:
      return g_strdup_printf ("probabilistic %.15g", self->rate);
    case KIND_RATE_LIMITING:
      return g_strdup_printf ("ratelimiting %.15g", self->per_second);
    case KIND_PER_OPERATION:
      return g_strdup_printf ("per-operation %.15g (lower bound %.15g/s, %u operations)",
                              self->rate, self->per_second,
                              g_hash_table_size (self->operations));
    default:
      g_assert_not_reached ();
    }
}

static gboolean
same_operations (GHashTable *a,
                 GHashTable *b)
{
  GHashTableIter iter;
  gpointer key, value;

  if (g_hash_table_size (a) != g_hash_table_size (b))
    return FALSE;
  g_hash_table_iter_init (&iter, a);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const Guaranteed *other = g_hash_table_lookup (b, key);

      if (other == NULL || other->rate != ((const Guaranteed *) value)->rate)
        return FALSE;
    }
  return TRUE;
}

gboolean
gluetool_sampler_equal (const GluetoolSampler *a,
                        const GluetoolSampler *b)
{
  if (a->kind != b->kind)
    return FALSE;
  switch (a->kind)
    {
    case KIND_CONST:
      return a->decision == b->decision;
    case KIND_PROBABILISTIC:
      return a->rate == b->rate;
    case KIND_RATE_LIMITING:
      return a->per_second == b->per_second;
    case KIND_PER_OPERATION:
      return a->rate == b->rate && a->per_second == b->per_second
             && same_operations (a->operations, b->operations);
    default:
      g_assert_not_reached ();
    }
}
