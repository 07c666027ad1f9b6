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

/* One operation's sampler, by label. Never changed once published but for
 * its rate limiter. */
typedef struct {
  guint               hash;
  gboolean            named;             /* by the strategy, not made on first use */
  char               *label;             /* (owned) */
  Guaranteed          guaranteed;
} Operation;

/* Open addressing, a power of two at least twice the most operations (the
 * strategy's, or GLUETOOL_SAMPLER_MAX_OPERATIONS when that is more): a
 * probe always ends at an empty slot. Slots only go from NULL to an
 * operation, so lookups take no lock, and a new label is added with one
 * compare-and-swap. */
#define MIN_OPERATION_SLOTS 4096
G_STATIC_ASSERT (MIN_OPERATION_SLOTS >= 2 * GLUETOOL_SAMPLER_MAX_OPERATIONS);

struct _GluetoolSampler {
  Kind                kind;
  gboolean            decision;          /* const */
  double              rate;              /* probabilistic; per operation: the default */
  guint64             boundary;          /* probabilistic; per operation: the default's */
  double              per_second;        /* rate limiting; per operation: the lower bound */
  GluetoolRateLimiter limiter;           /* rate limiting */
  /* Per operation: every operation the strategy names, then each other
   * label on its first root while there are fewer than
   * GLUETOOL_SAMPLER_MAX_OPERATIONS in all, as jaeger-client-go's
   * per-operation sampler adds them; labels beyond are decided by @boundary
   * alone (its default sampler: plain probabilistic, no lower bound). */
  Operation *_Atomic *operations;        /* (owned) (nullable) slot_mask + 1 slots (atomic) */
  guint               slot_mask;
  atomic_uint         n_operations;      /* (atomic) claimed, named or not */
  guint               n_named;
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

/* The slot of @label: where it is, or the empty slot where it would go.
 * Acquire: an operation read here is seen whole (see add_operation()). */
static Operation *
find_operation (const GluetoolSampler *self,
                const char            *label,
                guint                  hash,
                guint                 *slot)
{
  for (guint i = hash;; i++)
    {
      Operation *operation;

      *slot = i & self->slot_mask;
      operation = atomic_load_explicit (&self->operations[*slot], memory_order_acquire);
      if (operation == NULL || (operation->hash == hash && g_str_equal (operation->label, label)))
        return operation;
    }
}

static Operation *
operation_new (const char *label,
               guint       hash,
               gboolean    named,
               double      rate,
               double      lower_bound_per_second)
{
  Operation *operation = g_new0 (Operation, 1);

  operation->hash = hash;
  operation->named = named;
  operation->label = g_strdup (label);
  guaranteed_init (&operation->guaranteed, rate, lower_bound_per_second);
  return operation;
}

static void
operation_free (Operation *operation)
{
  g_free (operation->label);
  g_free (operation);
}

/* The operation of @label, added on its first root while there is room;
 * NULL beyond the bound. Any thread: a count claimed first keeps the table
 * within its bound, and the compare-and-swap (release, pairing with
 * find_operation()'s acquire) publishes the operation whole; of two
 * threads adding one label, the loser frees its copy and takes the
 * winner's. */
static Operation *
add_operation (GluetoolSampler *self,
               const char      *label,
               guint            hash)
{
  Operation *operation;
  Operation *mine;
  guint slot;

  if (atomic_fetch_add_explicit (&self->n_operations, 1, memory_order_relaxed)
      >= GLUETOOL_SAMPLER_MAX_OPERATIONS)
    {
      atomic_fetch_sub_explicit (&self->n_operations, 1, memory_order_relaxed);
      return NULL;
    }
  mine = operation_new (label, hash, FALSE, self->rate, self->per_second);
  for (;;)
    {
      Operation *expected = NULL;

      operation = find_operation (self, label, hash, &slot);
      if (operation != NULL)
        break;
      if (atomic_compare_exchange_strong_explicit (&self->operations[slot], &expected, mine,
                                                   memory_order_release, memory_order_acquire))
        return mine;
      /* Another label took the slot meanwhile: look again from there. */
    }
  /* The same label, added by another thread first. */
  atomic_fetch_sub_explicit (&self->n_operations, 1, memory_order_relaxed);
  operation_free (mine);
  return operation;
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
  self->boundary = boundary_for (default_rate);
  self->per_second = lower_bound_per_second;
  /* Room for every named operation, however many, and for labels added up
   * to the bound: twice the larger, a power of two. */
  self->slot_mask = MIN_OPERATION_SLOTS - 1;
  while (self->slot_mask / 2 < n_operations)
    self->slot_mask = self->slot_mask * 2 + 1;
  self->operations = g_new0 (Operation *_Atomic, self->slot_mask + 1);
  /* Not shared yet: plain stores would do; the atomics say what is. */
  for (guint i = 0; i < n_operations; i++)
    {
      guint hash = g_str_hash (operations[i]);
      Operation *operation;
      guint slot;

      if (!(rates[i] >= 0.0 && rates[i] <= 1.0))
        continue;
      operation = find_operation (self, operations[i], hash, &slot);
      /* Named twice: the later one, as a map filled in order keeps it. */
      if (operation != NULL)
        {
          guaranteed_init (&operation->guaranteed, rates[i], lower_bound_per_second);
          continue;
        }
      atomic_store_explicit (&self->operations[slot],
                             operation_new (operations[i], hash, TRUE, rates[i],
                                            lower_bound_per_second),
                             memory_order_relaxed);
      self->n_named++;
    }
  atomic_init (&self->n_operations, self->n_named);
  return self;
}

void
gluetool_sampler_free (GluetoolSampler *self)
{
  if (self == NULL)
    return;
  if (self->operations != NULL)
    {
      for (guint i = 0; i <= self->slot_mask; i++)
        {
          Operation *operation = atomic_load_explicit (&self->operations[i], memory_order_relaxed);

          if (operation != NULL)
            operation_free (operation);
        }
      g_free (self->operations);
    }
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
                            const char               *label,
                            gint64                    now_ns,
                            GluetoolSamplingDecision *decision)
{
  Operation *operation;
  guint hash;
  guint slot;

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
      hash = g_str_hash (label);
      operation = find_operation (self, label, hash, &slot);
      if (G_UNLIKELY (operation == NULL))
        operation = add_operation (self, label, hash);
      if (operation != NULL)
        decide_guaranteed (&operation->guaranteed, trace_id_low, now_ns, decision);
      else
        /* Beyond the bound: the default sampler alone. */
        *decision = (GluetoolSamplingDecision) { below_boundary (self->boundary, trace_id_low),
                                                 GLUETOOL_SAMPLER_TAG_PROBABILISTIC, self->rate };
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
                              self->rate, self->per_second, self->n_named);
    default:
      g_assert_not_reached ();
    }
}

/* The strategy's operations alike; those added on first use do not count. */
static gboolean
same_operations (const GluetoolSampler *a,
                 const GluetoolSampler *b)
{
  if (a->n_named != b->n_named)
    return FALSE;
  for (guint i = 0; i <= a->slot_mask; i++)
    {
      Operation *mine = atomic_load_explicit (&a->operations[i], memory_order_acquire);
      Operation *other;
      guint slot;

      if (mine == NULL || !mine->named)
        continue;
      other = find_operation (b, mine->label, mine->hash, &slot);
      if (other == NULL || !other->named || other->guaranteed.rate != mine->guaranteed.rate)
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
             && same_operations (a, b);
    default:
      g_assert_not_reached ();
    }
}
