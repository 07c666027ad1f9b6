/* gluetool-tracer.c: where finished actions go
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "config-private.h"
#include "debug-private.h"
#include "gluetool-tracer-private.h"
#include "ids-private.h"
#include "process-private.h"
#ifdef GLUETOOL_HAVE_SOUP
#include "remote-sampler-private.h"
#endif
#include "reporter-private.h"
#include "sampler-private.h"
#include "sync-private.h"
#include "thread-state-private.h"

/**
 * GluetoolTracer:
 *
 * A tracer sends every finished [class@Gluetool.Action] to a Jaeger agent
 * (or an OpenTelemetry Collector with the `jaeger` receiver's
 * `thrift_compact` protocol) as a span, over UDP.
 *
 * Each setting comes from the argument or property when one is given, else
 * from its `GLUETOOL_TRACING_*` environment variable, else from its default:
 *
 * | setting | variable | default |
 * | --- | --- | --- |
 * | service name | `GLUETOOL_TRACING_SERVICE_NAME` | `gluetool` |
 * | reporting host | `GLUETOOL_TRACING_REPORTING_HOST` | `127.0.0.1` |
 * | reporting port | `GLUETOOL_TRACING_REPORTING_PORT` | 6831 |
 * | flush timeout of close() | `GLUETOOL_TRACING_FLUSH_TIMEOUT` | 30 s |
 * | flush interval | `GLUETOOL_TRACING_FLUSH_INTERVAL` | 0.1 s |
 * | queue size | `GLUETOOL_TRACING_QUEUE_SIZE` | 4 MiB |
 * | max packet size | `GLUETOOL_TRACING_MAX_PACKET_SIZE` | 65000 bytes |
 * | wait for room in a full queue | `GLUETOOL_TRACING_QUEUE_FULL_WAIT` | 0 s: none |
 * | flush at a normal exit | `GLUETOOL_TRACING_EXIT_FLUSH_TIMEOUT` | 2 s at most |
 * | sampler | `GLUETOOL_TRACING_SAMPLER_TYPE` | `const` |
 * | sampler's param | `GLUETOOL_TRACING_SAMPLER_PARAM` | 1 for const |
 * | remote sampler's endpoint | `GLUETOOL_TRACING_SAMPLING_ENDPOINT` | `http://REPORTING_HOST:5778/sampling` |
 * | remote sampler's refresh | `GLUETOOL_TRACING_SAMPLER_REFRESH_INTERVAL` | 60 s |
 * | process tags | `GLUETOOL_TRACING_TAGS` | none |
 *
 * A value that cannot be used (a port of `abc`, `0` or `70000`, an empty
 * service name) makes the constructor fail with
 * %GLUETOOL_TRACER_ERROR_INVALID_CONFIG; no value is ever replaced by a
 * default silently. `GLUETOOL_TRACING_DISABLE` set to anything but the empty
 * string makes a disabled tracer: no socket, no thread, actions report
 * nothing.
 *
 * The first tracer made becomes the process default, which every action
 * reports to, until it is closed. Spans are queued by the finishing thread
 * without blocking and sent by the tracer's own thread, which resolves the
 * host (again after failures) and packs spans into datagrams no larger than
 * the max packet size. When the queue is full, a finishing thread drops its
 * span at once, unless [property@Gluetool.Tracer:queue-full-wait] lets it
 * wait a bounded time for room. Nothing is lost silently: every span is
 * counted as sent or as lost (see [method@Gluetool.Tracer.get_stats]), and
 * [method@Gluetool.Tracer.flush] says when any was lost.
 *
 * Close a tracer with [method@Gluetool.Tracer.close] before the program
 * ends. Dropping the last reference to a tracer that was not closed closes
 * it, waiting up to its flush timeout. Actions still unfinished when the
 * default tracer closes are never reported: close() says how many.
 *
 * A tracer survives fork(). The child process inherits it without its
 * thread, so on first use there the tracer starts over: it leaves the spans
 * the parent had queued to the parent (counted in
 * [struct@Gluetool.TracerStats]'s `spans_left_to_parent`), takes a new
 * client-uuid, counts its statistics from zero, and starts a thread of its
 * own when the child first reports a span. The first tracer the child makes
 * becomes the child's default in place of the inherited one. fork() waits
 * for other threads to leave the library's own locks, so a child never
 * inherits one held.
 *
 * Since: 0.1
 */

struct _GluetoolTracer {
  GObject              parent_instance;

  GluetoolConfigRequest request;        /* construct properties; strings owned */
  GluetoolConfig        config;         /* in force once initialised */
  char                 *disabled_uuid;  /* (owned) (nullable) the client-uuid when disabled */
  /* NULL when disabled. Replaced once per process in a child made by fork()
   * (see get_reporter()); the acquire loads pair with the release of that
   * compare-and-swap, so a thread that sees the new one sees it whole. */
  GluetoolReporter *_Atomic reporter;   /* (owned) (atomic) (nullable) */
  guint                 made_in_generation; /* the process generation that made it */
  guint64               unfinished_at_close; /* written by close(), once */
  guint                 closed_in_generation; /* the process generation close() ran in */
  atomic_bool           closed;         /* (atomic) */
  gboolean              initialized;
  /* Which new traces are sampled: one of the two, fixed once initialised
   * (see gluetool_tracer_decide()). */
  GluetoolSampler      *sampler;        /* (owned) (nullable) */
#ifdef GLUETOOL_HAVE_SOUP
  GluetoolRemoteSampler *remote_sampler; /* (owned) (nullable) */
#endif
};

enum {
  PROP_0,
  PROP_SERVICE_NAME,
  PROP_REPORTING_HOST,
  PROP_REPORTING_PORT,
  PROP_FLUSH_TIMEOUT,
  PROP_FLUSH_INTERVAL,
  PROP_QUEUE_SIZE,
  PROP_MAX_PACKET_SIZE,
  PROP_QUEUE_FULL_WAIT,
  PROP_EXIT_FLUSH_TIMEOUT,
  PROP_ENABLED,
  PROP_CLIENT_UUID,
  PROP_SAMPLER_TYPE,
  PROP_SAMPLER_PARAM,
  PROP_SAMPLING_ENDPOINT,
  PROP_SAMPLER_REFRESH_INTERVAL,
  PROP_TAGS,
  PROP_ENDPOINT,
  PROP_MAX_BATCH_SIZE,
  PROP_AUTH_TOKEN,
  PROP_USER,
  PROP_PASSWORD,
  PROP_TLS_CA_FILE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void gluetool_tracer_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (GluetoolTracer, gluetool_tracer, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      gluetool_tracer_initable_iface_init))

/**
 * gluetool_tracer_error_quark:
 *
 * The error domain of [class@Gluetool.Tracer], as %GLUETOOL_TRACER_ERROR.
 *
 * Returns: the error domain's quark
 *
 * Since: 0.1
 */
G_DEFINE_QUARK (gluetool-tracer-error-quark, gluetool_tracer_error)

/* ---- The reporter of this process ----------------------------------------- */

/* In a child process made by fork(), the inherited reporter is replaced by
 * one of the child's own (see reporter-private.h), once: of two threads
 * racing here, the one whose compare-and-swap succeeds installs its
 * reporter and abandons the inherited one; the other drops its own. */
static GluetoolReporter *
replace_inherited_reporter (GluetoolTracer   *self,
                            GluetoolReporter *inherited)
{
  GluetoolReporter *expected = inherited;
  GluetoolReporter *own =
    gluetool_reporter_new_for_child (inherited,
                                     atomic_load_explicit (&self->closed, memory_order_relaxed));

  if (atomic_compare_exchange_strong_explicit (&self->reporter, &expected, own,
                                               memory_order_acq_rel, memory_order_acquire))
    {
      GLUETOOL_DEBUG ("Tracer for '%s' inherited by process %d: starting over",
                      self->config.service_name, (int) getpid ());
      gluetool_reporter_abandon_inherited (inherited);
      return own;
    }
  gluetool_reporter_unref (own);
  return expected;
}

/* The tracer's reporter, this process's own, or NULL when disabled. */
static GluetoolReporter *
get_reporter (GluetoolTracer *self)
{
  GluetoolReporter *reporter = atomic_load_explicit (&self->reporter, memory_order_acquire);

  if (G_UNLIKELY (reporter != NULL && !gluetool_reporter_belongs_to_this_process (reporter)))
    reporter = replace_inherited_reporter (self, reporter);
  return reporter;
}

/* The same, its flush thread started: for pushing spans. The usual case
 * costs the load of the reporter and two relaxed loads; only the first
 * span in a new process (or after close(), where pushes fail anyway) takes
 * the slow path. */
static inline GluetoolReporter *
get_running_reporter (GluetoolTracer *self)
{
  GluetoolReporter *reporter = atomic_load_explicit (&self->reporter, memory_order_acquire);

  if (G_UNLIKELY (reporter != NULL && !gluetool_reporter_is_running_here (reporter)))
    {
      /* A region: replacing an inherited reporter and starting its thread
       * make GObjects and take GLib's locks, which a fork() from another
       * thread must not copy held. Neither waits for anything of the
       * program's. */
      g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();

      reporter = get_reporter (self);
      gluetool_reporter_start (reporter);
    }
  return reporter;
}

struct _GluetoolReporter *
gluetool_tracer_peek_reporter (GluetoolTracer *self)
{
  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), NULL);

  return get_reporter (self);
}

/* ---- The process default --------------------------------------------------- */

/* The default is read on every finish, so it is cached per thread and only
 * re-read, under the lock, when @default_generation moves. The generation is
 * bumped under the lock after the pointer changes; the release/acquire pair
 * on it means a thread that sees the new number and then takes the lock sees
 * the new pointer (the lock alone would do; the atomic is what lets the
 * common path skip the lock). */
G_LOCK_DEFINE_STATIC (default_tracer);
static GluetoolTracer *default_tracer;          /* (owned) (nullable) under the lock */
static atomic_uint default_generation = 1;

/* Code outside the library's regions takes the lock too (get_default()),
 * so fork() takes it, rather than let a child inherit it held. */
static void
ensure_default_lock_held_across_fork (void)
{
  gluetool_process_hold_across_fork (&G_LOCK_NAME (default_tracer));
}

typedef struct {
  guint           generation;
  GluetoolTracer *tracer;                        /* (owned) (nullable) */
  /* The tracer the cache held before, until the thread is out of its
   * region (see gluetool_tracer_drop_stale_default()). */
  GluetoolTracer *stale;                         /* (owned) (nullable) */
} DefaultCache;

static void
default_cache_free (gpointer data)
{
  DefaultCache *cache = data;

  g_clear_object (&cache->tracer);
  g_clear_object (&cache->stale);
  g_free (cache);
}


/* Whether this thread's cache holds a stale tracer: checked by every
 * finish, so a thread-local rather than a GPrivate look-up. */
static GLUETOOL_THREAD_LOCAL gboolean has_stale_default;

static DefaultCache *
get_default_cache (void)
{
  DefaultCache *cache = gluetool_thread_state_get (GLUETOOL_THREAD_SLOT_DEFAULT_TRACER);

  if (G_UNLIKELY (cache == NULL))
    {
      ensure_default_lock_held_across_fork ();
      cache = g_new0 (DefaultCache, 1);
      gluetool_thread_state_set (GLUETOOL_THREAD_SLOT_DEFAULT_TRACER, cache, default_cache_free);
    }
  return cache;
}

static void
refresh_default_cache (DefaultCache *cache)
{
  GluetoolTracer *old_tracer = cache->tracer;

  gluetool_mutex_lock (&G_LOCK_NAME (default_tracer));
  cache->tracer = default_tracer != NULL ? g_object_ref (default_tracer) : NULL;
  cache->generation = atomic_load_explicit (&default_generation, memory_order_relaxed);
  gluetool_mutex_unlock (&G_LOCK_NAME (default_tracer));

  /* Not dropped here: this may be the last reference, and disposing a tracer
   * closes it, which takes the lock and may wait for its thread, while a
   * finishing action calls this inside a region of the process. The caller
   * drops it once out (gluetool_tracer_drop_stale_default()). */
  if (cache->stale == NULL)
    cache->stale = old_tracer;
  else if (old_tracer != NULL)
    g_object_unref (old_tracer);  /* not reached: one refresh per region */
  has_stale_default = cache->stale != NULL;
}

void
gluetool_tracer_drop_stale_default (void)
{
  DefaultCache *cache;

  if (G_LIKELY (!has_stale_default))
    return;
  has_stale_default = FALSE;
  cache = gluetool_thread_state_get (GLUETOOL_THREAD_SLOT_DEFAULT_TRACER);
  if (cache != NULL)
    g_clear_object (&cache->stale);
}

GluetoolTracer *
gluetool_tracer_get_reporting_default (void)
{
  DefaultCache *cache = get_default_cache ();

  /* Acquire pairs with the release increments in set_default()/unset_default(). */
  if (G_UNLIKELY (cache->generation
                  != atomic_load_explicit (&default_generation, memory_order_acquire)))
    refresh_default_cache (cache);

  /* A closed tracer is still returned until this thread sees the default
   * change: its sealed queue counts the span as failed to send, rather than
   * the span vanishing while close() flushes. */
  if (cache->tracer == NULL
      || atomic_load_explicit (&cache->tracer->reporter, memory_order_relaxed) == NULL)
    return NULL;
  return cache->tracer;
}

/* The first tracer made in a process becomes its default: when there is
 * none, or when the default was inherited from the parent process, which
 * the child keeps using only until it makes a tracer of its own. */
static void
become_default_if_none (GluetoolTracer *self)
{
  g_autoptr(GluetoolTracer) inherited = NULL;

  ensure_default_lock_held_across_fork ();
  gluetool_mutex_lock (&G_LOCK_NAME (default_tracer));
  if (default_tracer == NULL || default_tracer->made_in_generation != self->made_in_generation)
    {
      inherited = g_steal_pointer (&default_tracer);
      default_tracer = g_object_ref (self);
      atomic_fetch_add_explicit (&default_generation, 1, memory_order_release);
    }
  gluetool_mutex_unlock (&G_LOCK_NAME (default_tracer));

  /* Outside the lock: this may be the last reference, and disposing a
   * tracer takes the lock. */
  if (inherited != NULL)
    GLUETOOL_DEBUG ("Tracer for '%s' replaces the one inherited from the parent process "
                    "as the default", self->config.service_name);
}

static void
stop_being_default (GluetoolTracer *self)
{
  g_autoptr(GluetoolTracer) old_default = NULL;

  gluetool_mutex_lock (&G_LOCK_NAME (default_tracer));
  if (default_tracer == self)
    {
      old_default = g_steal_pointer (&default_tracer);
      atomic_fetch_add_explicit (&default_generation, 1, memory_order_release);
    }
  gluetool_mutex_unlock (&G_LOCK_NAME (default_tracer));

  /* This thread's cache would otherwise keep the closed tracer until its
   * next action finishes. */
  refresh_default_cache (get_default_cache ());
  gluetool_tracer_drop_stale_default ();
}

/**
 * gluetool_tracer_get_default:
 *
 * The process default tracer: the first tracer made, until it is closed.
 * The pointer is valid while the tracer is alive, which the default tracer
 * is until [method@Gluetool.Tracer.close]; a thread that may race with
 * another thread's close() should hold a reference of its own first.
 *
 * Returns: (transfer none) (nullable): the default tracer, or %NULL
 *
 * Since: 0.1
 */
GluetoolTracer *
gluetool_tracer_get_default (void)
{
  GluetoolTracer *tracer;

  gluetool_mutex_lock (&G_LOCK_NAME (default_tracer));
  tracer = default_tracer;
  gluetool_mutex_unlock (&G_LOCK_NAME (default_tracer));
  return tracer;
}

/* ---- GObject ----------------------------------------------------------------- */

/* ---- Sampling ------------------------------------------------------------------ */

static void
make_sampler (GluetoolTracer *self)
{
  double param = self->config.sampler_param;

  switch (self->config.sampler_type)
    {
    case GLUETOOL_SAMPLER_TYPE_PROBABILISTIC:
      self->sampler = gluetool_sampler_new_probabilistic (param);
      break;
    case GLUETOOL_SAMPLER_TYPE_RATE_LIMITING:
      self->sampler = gluetool_sampler_new_rate_limiting (param);
      break;
    case GLUETOOL_SAMPLER_TYPE_REMOTE:
#ifdef GLUETOOL_HAVE_SOUP
      /* Not for a disabled tracer, which asks nobody anything. */
      if (!self->config.disabled)
        {
          self->remote_sampler =
            gluetool_remote_sampler_new_full (self->config.sampling_endpoint,
                                              self->config.tls_ca_file, self->config.service_name,
                                              param, self->config.sampler_refresh_interval_s);
          break;
        }
#endif
      self->sampler = gluetool_sampler_new_probabilistic (param);
      break;
    case GLUETOOL_SAMPLER_TYPE_CONST:
    case GLUETOOL_SAMPLER_TYPE_DEFAULT:
    default:
      self->sampler = gluetool_sampler_new_const (param != 0.0);
      break;
    }
}

void
gluetool_tracer_decide (GluetoolTracer           *self,
                        guint64                   trace_id_low,
                        const char               *label,
                        GluetoolSamplingDecision *decision)
{
#ifdef GLUETOOL_HAVE_SOUP
  if (G_UNLIKELY (self->remote_sampler != NULL))
    {
      gluetool_remote_sampler_decide (self->remote_sampler, trace_id_low, label, decision);
      return;
    }
#endif
  gluetool_sampler_decide (self->sampler, trace_id_low, label, decision);
}

#ifdef GLUETOOL_HAVE_SOUP
struct _GluetoolRemoteSampler *
gluetool_tracer_peek_remote_sampler (GluetoolTracer *self)
{
  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), NULL);

  return self->remote_sampler;
}
#endif

/**
 * gluetool_tracer_get_sampler_type:
 * @self: a tracer
 *
 * The sampler in force; see [property@Gluetool.Tracer:sampler-type].
 *
 * Returns: the sampler's type, never %GLUETOOL_SAMPLER_TYPE_DEFAULT
 *
 * Since: 0.1
 */
GluetoolSamplerType
gluetool_tracer_get_sampler_type (GluetoolTracer *self)
{
  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), GLUETOOL_SAMPLER_TYPE_DEFAULT);
  g_return_val_if_fail (self->initialized, GLUETOOL_SAMPLER_TYPE_DEFAULT);

  return self->config.sampler_type;
}

/**
 * gluetool_tracer_get_sampler_param:
 * @self: a tracer
 *
 * The sampler's param in force; see [property@Gluetool.Tracer:sampler-param].
 *
 * Returns: the param
 *
 * Since: 0.1
 */
double
gluetool_tracer_get_sampler_param (GluetoolTracer *self)
{
  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), 0.0);
  g_return_val_if_fail (self->initialized, 0.0);

  return self->config.sampler_param;
}

/**
 * gluetool_tracer_dup_sampling_strategy:
 * @self: a tracer
 *
 * What the tracer samples new traces with now, in words: `const 1`,
 * `probabilistic 0.25`, `ratelimiting 10`, or for a per-operation strategy
 * `per-operation 0.001 (lower bound 0.5/s, 3 operations)`. With the remote
 * sampler, this is the strategy last received (or the initial one), and
 * changes at run time.
 *
 * Returns: (transfer full): the strategy, for people and tests to read
 *
 * Since: 0.1
 */
char *
gluetool_tracer_dup_sampling_strategy (GluetoolTracer *self)
{
  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), NULL);
  g_return_val_if_fail (self->initialized, NULL);

#ifdef GLUETOOL_HAVE_SOUP
  if (self->remote_sampler != NULL)
    return gluetool_remote_sampler_describe (self->remote_sampler);
#endif
  return gluetool_sampler_describe (self->sampler);
}

static gboolean
gluetool_tracer_initable_init (GInitable     *initable,
                               GCancellable  *cancellable,
                               GError       **error)
{
  GluetoolTracer *self = GLUETOOL_TRACER (initable);

  g_return_val_if_fail (!self->initialized, FALSE);

  if (!gluetool_config_load (&self->config, &self->request, error))
    return FALSE;

  gluetool_debug_refresh ();
  make_sampler (self);
  self->initialized = TRUE;
  self->made_in_generation = gluetool_process_get_generation ();
  if (self->config.disabled)
    self->disabled_uuid = gluetool_ids_dup_uuid_string ();
  else
    {
      GluetoolReporter *reporter = gluetool_reporter_new (&self->config);

      gluetool_reporter_start (reporter);
      atomic_store_explicit (&self->reporter, reporter, memory_order_release);
    }

  GLUETOOL_DEBUG ("Tracer for service '%s' %s %s:%u", self->config.service_name,
           self->config.disabled ? "disabled; would report to" : "reporting to",
           self->config.reporting_host, self->config.reporting_port);

  become_default_if_none (self);
  return TRUE;
}

static void
gluetool_tracer_initable_iface_init (GInitableIface *iface)
{
  iface->init = gluetool_tracer_initable_init;
}

static void
gluetool_tracer_dispose (GObject *object)
{
  GluetoolTracer *self = GLUETOOL_TRACER (object);

  /* The default tracer holds a reference to itself until closed, so this is a
   * tracer that was never the default, or was closed already. Closing here
   * waits up to the flush timeout, as close() with 0 does: dropping a tracer
   * must not drop its spans. */
  if (self->initialized && !atomic_load_explicit (&self->closed, memory_order_relaxed))
    {
      g_autoptr(GError) error = NULL;

      if (!gluetool_tracer_close (self, 0.0, &error))
        g_warning ("Tracer for '%s' dropped without close(): %s",
                   self->config.service_name, error->message);
    }

  G_OBJECT_CLASS (gluetool_tracer_parent_class)->dispose (object);
}

static void
gluetool_tracer_finalize (GObject *object)
{
  GluetoolTracer *self = GLUETOOL_TRACER (object);

  GluetoolReporter *reporter = atomic_exchange_explicit (&self->reporter, NULL, memory_order_acquire);

  /* Closed before this process was forked, and never used here since: it
   * is not this process's to free (see reporter-private.h). */
  if (reporter != NULL && !gluetool_reporter_belongs_to_this_process (reporter))
    gluetool_reporter_abandon_inherited (reporter);
  else if (reporter != NULL)
    gluetool_reporter_unref (reporter);
  /* No action can be deciding with them: a root holds the tracer while
   * it decides (see gluetool_tracer_get_reporting_default()). */
  g_clear_pointer (&self->sampler, gluetool_sampler_free);
#ifdef GLUETOOL_HAVE_SOUP
  g_clear_pointer (&self->remote_sampler, gluetool_remote_sampler_free);
#endif
  gluetool_config_clear (&self->config);
  g_free ((char *) self->request.service_name);
  g_free ((char *) self->request.reporting_host);
  g_free ((char *) self->request.sampling_endpoint);
  g_free ((char *) self->request.tags);
  g_free ((char *) self->request.endpoint);
  g_free ((char *) self->request.auth_token);
  g_free ((char *) self->request.user);
  g_free ((char *) self->request.password);
  g_free ((char *) self->request.tls_ca_file);
  g_free (self->disabled_uuid);

  G_OBJECT_CLASS (gluetool_tracer_parent_class)->finalize (object);
}

static void
gluetool_tracer_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  GluetoolTracer *self = GLUETOOL_TRACER (object);

  /* Once initialised, the settings in force; before, what was asked for. */
  switch (prop_id)
    {
    case PROP_SERVICE_NAME:
      g_value_set_string (value, self->initialized ? self->config.service_name
                                                   : self->request.service_name);
      break;
    case PROP_REPORTING_HOST:
      g_value_set_string (value, self->initialized ? self->config.reporting_host
                                                   : self->request.reporting_host);
      break;
    case PROP_REPORTING_PORT:
      g_value_set_uint (value, self->initialized ? self->config.reporting_port
                                                 : self->request.reporting_port);
      break;
    case PROP_FLUSH_TIMEOUT:
      g_value_set_double (value, self->initialized ? self->config.flush_timeout_s
                                                   : self->request.flush_timeout_s);
      break;
    case PROP_FLUSH_INTERVAL:
      g_value_set_double (value, self->initialized ? self->config.flush_interval_s
                                                   : self->request.flush_interval_s);
      break;
    case PROP_QUEUE_SIZE:
      g_value_set_uint64 (value, self->initialized ? self->config.queue_size
                                                   : self->request.queue_size);
      break;
    case PROP_MAX_PACKET_SIZE:
      g_value_set_uint (value, self->initialized ? self->config.max_packet_size
                                                 : self->request.max_packet_size);
      break;
    case PROP_QUEUE_FULL_WAIT:
      if (self->initialized)
        g_value_set_double (value, self->config.queue_full_wait_s);
      else
        g_value_set_double (value, self->request.has_queue_full_wait
                                     ? self->request.queue_full_wait_s
                                     : GLUETOOL_QUEUE_FULL_WAIT_UNSET);
      break;
    case PROP_EXIT_FLUSH_TIMEOUT:
      if (self->initialized)
        g_value_set_double (value, self->config.exit_flush_timeout_s);
      else
        g_value_set_double (value, self->request.has_exit_flush_timeout
                                     ? self->request.exit_flush_timeout_s
                                     : GLUETOOL_EXIT_FLUSH_TIMEOUT_UNSET);
      break;
    case PROP_ENABLED:
      g_value_set_boolean (value, atomic_load_explicit (&self->reporter, memory_order_relaxed) != NULL);
      break;
    case PROP_CLIENT_UUID:
      g_value_set_string (value, self->initialized ? gluetool_tracer_get_client_uuid (self) : NULL);
      break;
    case PROP_SAMPLER_TYPE:
      g_value_set_enum (value, self->initialized ? self->config.sampler_type
                                                 : self->request.sampler_type);
      break;
    case PROP_SAMPLER_PARAM:
      if (self->initialized)
        g_value_set_double (value, self->config.sampler_param);
      else
        g_value_set_double (value, self->request.has_sampler_param ? self->request.sampler_param
                                                                   : GLUETOOL_SAMPLER_PARAM_UNSET);
      break;
    case PROP_SAMPLING_ENDPOINT:
      g_value_set_string (value, self->initialized ? self->config.sampling_endpoint
                                                   : self->request.sampling_endpoint);
      break;
    case PROP_SAMPLER_REFRESH_INTERVAL:
      g_value_set_double (value, self->initialized ? self->config.sampler_refresh_interval_s
                                                   : self->request.sampler_refresh_interval_s);
      break;
    case PROP_TAGS:
      g_value_set_string (value, self->request.tags);
      break;
    case PROP_ENDPOINT:
      g_value_set_string (value, self->initialized ? self->config.endpoint : self->request.endpoint);
      break;
    case PROP_MAX_BATCH_SIZE:
      g_value_set_uint64 (value, self->initialized ? self->config.max_batch_size
                                                   : self->request.max_batch_size);
      break;
    case PROP_USER:
      g_value_set_string (value, self->initialized ? self->config.user : self->request.user);
      break;
    case PROP_TLS_CA_FILE:
      g_value_set_string (value, self->initialized ? self->config.tls_ca_file
                                                   : self->request.tls_ca_file);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gluetool_tracer_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  GluetoolTracer *self = GLUETOOL_TRACER (object);

  switch (prop_id)
    {
    case PROP_SERVICE_NAME:
      g_free ((char *) self->request.service_name);
      self->request.service_name = g_value_dup_string (value);
      break;
    case PROP_REPORTING_HOST:
      g_free ((char *) self->request.reporting_host);
      self->request.reporting_host = g_value_dup_string (value);
      break;
    case PROP_REPORTING_PORT:
      self->request.reporting_port = g_value_get_uint (value);
      break;
    case PROP_FLUSH_TIMEOUT:
      self->request.flush_timeout_s = g_value_get_double (value);
      break;
    case PROP_FLUSH_INTERVAL:
      self->request.flush_interval_s = g_value_get_double (value);
      break;
    case PROP_QUEUE_SIZE:
      self->request.queue_size = (gsize) MIN (g_value_get_uint64 (value), G_MAXSIZE);
      break;
    case PROP_MAX_PACKET_SIZE:
      self->request.max_packet_size = g_value_get_uint (value);
      break;
    case PROP_QUEUE_FULL_WAIT:
      /* -1, the default, leaves it to the environment; 0 is "do not wait",
       * asked for, and beats the variable like any value given. */
      self->request.queue_full_wait_s = g_value_get_double (value);
      self->request.has_queue_full_wait =
        self->request.queue_full_wait_s != GLUETOOL_QUEUE_FULL_WAIT_UNSET;
      break;
    case PROP_EXIT_FLUSH_TIMEOUT:
      /* As above: -1 leaves it to the environment, 0 turns it off. */
      self->request.exit_flush_timeout_s = g_value_get_double (value);
      self->request.has_exit_flush_timeout =
        self->request.exit_flush_timeout_s != GLUETOOL_EXIT_FLUSH_TIMEOUT_UNSET;
      break;
    case PROP_SAMPLER_TYPE:
      self->request.sampler_type = g_value_get_enum (value);
      break;
    case PROP_SAMPLER_PARAM:
      /* As above: -1 leaves it to the environment. */
      self->request.sampler_param = g_value_get_double (value);
      self->request.has_sampler_param =
        self->request.sampler_param != GLUETOOL_SAMPLER_PARAM_UNSET;
      break;
    case PROP_SAMPLING_ENDPOINT:
      g_free ((char *) self->request.sampling_endpoint);
      self->request.sampling_endpoint = g_value_dup_string (value);
      break;
    case PROP_SAMPLER_REFRESH_INTERVAL:
      self->request.sampler_refresh_interval_s = g_value_get_double (value);
      break;
    case PROP_TAGS:
      g_free ((char *) self->request.tags);
      self->request.tags = g_value_dup_string (value);
      break;
    case PROP_ENDPOINT:
      g_free ((char *) self->request.endpoint);
      self->request.endpoint = g_value_dup_string (value);
      break;
    case PROP_MAX_BATCH_SIZE:
      self->request.max_batch_size = (gsize) MIN (g_value_get_uint64 (value), G_MAXSIZE);
      break;
    case PROP_AUTH_TOKEN:
      g_free ((char *) self->request.auth_token);
      self->request.auth_token = g_value_dup_string (value);
      break;
    case PROP_USER:
      g_free ((char *) self->request.user);
      self->request.user = g_value_dup_string (value);
      break;
    case PROP_PASSWORD:
      g_free ((char *) self->request.password);
      self->request.password = g_value_dup_string (value);
      break;
    case PROP_TLS_CA_FILE:
      g_free ((char *) self->request.tls_ca_file);
      self->request.tls_ca_file = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Where and how spans are sent: the agent, the flush thread's timing, the
 * queue. */
static void
install_reporting_properties (void)
{
  /* Out-of-range values are accepted here and refused by initialisation
   * with a GError, which a property's range check cannot give. */
  GParamFlags construct = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  /**
   * GluetoolTracer:service-name:
   *
   * The service the spans belong to; %NULL for `GLUETOOL_TRACING_SERVICE_NAME`,
   * else `gluetool`.
   *
   * Since: 0.1
   */
  properties[PROP_SERVICE_NAME] =
    g_param_spec_string ("service-name", NULL, NULL, NULL, construct);

  /**
   * GluetoolTracer:reporting-host:
   *
   * The agent's host name or address; %NULL for
   * `GLUETOOL_TRACING_REPORTING_HOST`, else `127.0.0.1`. Names are resolved
   * in the tracer's thread, never in the caller's.
   *
   * Since: 0.1
   */
  properties[PROP_REPORTING_HOST] =
    g_param_spec_string ("reporting-host", NULL, NULL, NULL, construct);

  /**
   * GluetoolTracer:reporting-port:
   *
   * The agent's UDP port for compact-protocol `emitBatch`; 0 for
   * `GLUETOOL_TRACING_REPORTING_PORT`, else 6831.
   *
   * Since: 0.1
   */
  properties[PROP_REPORTING_PORT] =
    g_param_spec_uint ("reporting-port", NULL, NULL, 0, G_MAXUINT, 0, construct);

  /**
   * GluetoolTracer:flush-timeout:
   *
   * Seconds [method@Gluetool.Tracer.close] waits when it is given no timeout;
   * 0 for `GLUETOOL_TRACING_FLUSH_TIMEOUT`, else 30.
   *
   * Since: 0.1
   */
  properties[PROP_FLUSH_TIMEOUT] =
    g_param_spec_double ("flush-timeout", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0, construct);

  /**
   * GluetoolTracer:flush-interval:
   *
   * Seconds a span may wait for more to fill its datagram; 0 for
   * `GLUETOOL_TRACING_FLUSH_INTERVAL`, else 0.1.
   *
   * It bounds what a process that ends without exit handlers (`_exit()`, a
   * crash) loses: the spans of the last interval at most. A tracer's thread
   * that found no span for a whole interval sleeps until the next one, which
   * wakes it and is sent at once, so an idle tracer does not wake up ten
   * times a second.
   *
   * Since: 0.1
   */
  properties[PROP_FLUSH_INTERVAL] =
    g_param_spec_double ("flush-interval", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0, construct);

  /**
   * GluetoolTracer:queue-size:
   *
   * Bytes of encoded spans the queue holds before it drops them; 0 for
   * `GLUETOOL_TRACING_QUEUE_SIZE`, else 4 MiB. The queue has one slot of
   * 256 bytes per 256 bytes of this size (rounded down to a power of two);
   * a span larger than a slot also takes a heap block.
   *
   * Since: 0.1
   */
  properties[PROP_QUEUE_SIZE] =
    g_param_spec_uint64 ("queue-size", NULL, NULL, 0, G_MAXUINT64, 0, construct);

  /**
   * GluetoolTracer:max-packet-size:
   *
   * The largest datagram sent, in bytes; 0 for
   * `GLUETOOL_TRACING_MAX_PACKET_SIZE`, else 65000, the most a Jaeger agent
   * reads.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_PACKET_SIZE] =
    g_param_spec_uint ("max-packet-size", NULL, NULL, 0, G_MAXUINT, 0, construct);

  /**
   * GluetoolTracer:queue-full-wait:
   *
   * The most seconds [method@Gluetool.Action.finish] waits for room when it
   * finds the tracer's queue full, from 0 to 3600; -1 (the default) for
   * `GLUETOOL_TRACING_QUEUE_FULL_WAIT`, else 0.
   *
   * With 0, a span that finds the queue full is dropped at once and counted
   * (`spans_dropped_queue_full`, and the next flush() or close() fails with
   * %GLUETOOL_TRACER_ERROR_SPANS_LOST): the finishing thread never waits for
   * the tracer's thread or the network, and a drop costs it well under a
   * microsecond.
   *
   * With a wait, the finishing thread sleeps until the tracer's thread
   * makes room, close() is called, or the wait is over, when the span is
   * dropped and counted as above: at most this long per span, plus the
   * scheduler's delay in waking it. When a wait ends with the tracer's
   * thread having sent nothing at all (stuck resolving the agent's name,
   * say), later spans are dropped at once, without waiting, until it moves
   * again: a stuck thread costs the program one wait, not one per span.
   * fork() does not wait for a thread waiting here.
   *
   * Since: 0.1
   */
  properties[PROP_QUEUE_FULL_WAIT] =
    g_param_spec_double ("queue-full-wait", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE,
                         GLUETOOL_QUEUE_FULL_WAIT_UNSET, construct);

  /**
   * GluetoolTracer:exit-flush-timeout:
   *
   * The most seconds a normal exit of the process (`exit()`, or a return
   * from `main()`) waits for the spans this tracer has queued to be sent,
   * from 0 to 3600; -1 (the default) for
   * `GLUETOOL_TRACING_EXIT_FLUSH_TIMEOUT`, else 2. 0 sends nothing at exit.
   *
   * So a program that never calls [method@Gluetool.Tracer.close] (a test
   * run by `check` in a forked child, a tool that returns from `main()`)
   * still delivers its spans. The flush runs from an `atexit()` handler, in
   * whichever thread called `exit()`, and usually takes a few milliseconds:
   * the bound is for an agent that cannot be reached or a name that does
   * not resolve. It prints nothing when every span was sent, and one
   * message (not a warning) naming what was lost otherwise. A tracer closed
   * before the exit has nothing left to send. `_exit()`, a crash and a
   * signal that kills the process run no handler: see the README for what
   * they lose.
   *
   * Since: 0.1
   */
  properties[PROP_EXIT_FLUSH_TIMEOUT] =
    g_param_spec_double ("exit-flush-timeout", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE,
                         GLUETOOL_EXIT_FLUSH_TIMEOUT_UNSET, construct);
}

/* What a tracer says of itself once made. */
static void
install_state_properties (void)
{
  /**
   * GluetoolTracer:enabled:
   *
   * Whether the tracer sends spans: %FALSE when `GLUETOOL_TRACING_DISABLE`
   * was set when it was made.
   *
   * Since: 0.1
   */
  properties[PROP_ENABLED] =
    g_param_spec_boolean ("enabled", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * GluetoolTracer:client-uuid:
   *
   * A random id sent as the process tag `client-uuid`, which agents key the
   * client's statistics by. A child process made by fork() gets a new one,
   * as its statistics and `seqNo` start over.
   *
   * Since: 0.1
   */
  properties[PROP_CLIENT_UUID] =
    g_param_spec_string ("client-uuid", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

/* Which traces are sampled, and the tags of the process. */
static void
install_sampling_properties (void)
{
  /* Out-of-range values are accepted here and refused by initialisation
   * with a GError, which a property's range check cannot give. */
  GParamFlags construct = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  /**
   * GluetoolTracer:sampler-type:
   *
   * Which new traces are sampled (sent); %GLUETOOL_SAMPLER_TYPE_DEFAULT for
   * `GLUETOOL_TRACING_SAMPLER_TYPE`, else const. Read once initialised, the
   * type in force.
   *
   * The root action of a trace asks the sampler when it starts; its
   * children, and the processes its context is handed to, inherit the
   * answer. An action started under a remote parent (`TRACEPARENT`, a
   * carrier) takes the remote side's sampled flag instead, and Jaeger's
   * debug flag samples it whatever the flag says. An unsampled action is
   * an action like any other (ids, the stack, get_current(), its context
   * with the sampled flag off), but it is neither encoded nor queued when
   * it finishes, and is not counted as lost. A sampled root carries the
   * tags `sampler.type` and `sampler.param`, as Jaeger's clients send them.
   *
   * Since: 0.1
   */
  properties[PROP_SAMPLER_TYPE] =
    g_param_spec_enum ("sampler-type", NULL, NULL, GLUETOOL_TYPE_SAMPLER_TYPE,
                       GLUETOOL_SAMPLER_TYPE_DEFAULT, construct);

  /**
   * GluetoolTracer:sampler-param:
   *
   * The sampler's param; -1 (the default) for
   * `GLUETOOL_TRACING_SAMPLER_PARAM`, else the type's default. const: 1
   * (every trace, the default) or 0 (none); probabilistic: the probability,
   * from 0 to 1 (default 0.001); ratelimiting: traces per second (default
   * 1); remote: the probability sampled with until the endpoint's first
   * good answer (default 0.001, as Jaeger's clients).
   *
   * Since: 0.1
   */
  properties[PROP_SAMPLER_PARAM] =
    g_param_spec_double ("sampler-param", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE,
                         GLUETOOL_SAMPLER_PARAM_UNSET, construct);

  /**
   * GluetoolTracer:sampling-endpoint:
   *
   * Where the remote sampler asks for its strategy, an http:// URL without
   * a query (`?service=NAME` is added); %NULL for
   * `GLUETOOL_TRACING_SAMPLING_ENDPOINT`, else
   * `http://REPORTING_HOST:5778/sampling`, a Jaeger agent's.
   *
   * Since: 0.1
   */
  properties[PROP_SAMPLING_ENDPOINT] =
    g_param_spec_string ("sampling-endpoint", NULL, NULL, NULL, construct);

  /**
   * GluetoolTracer:sampler-refresh-interval:
   *
   * Seconds between the remote sampler's requests; 0 for
   * `GLUETOOL_TRACING_SAMPLER_REFRESH_INTERVAL`, else 60.
   *
   * Since: 0.1
   */
  properties[PROP_SAMPLER_REFRESH_INTERVAL] =
    g_param_spec_double ("sampler-refresh-interval", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0,
                         construct);

  /**
   * GluetoolTracer:tags:
   *
   * Tags of the process, sent with every batch next to `hostname` and
   * `client-uuid`, as `key=value` pairs separated by commas; %NULL for
   * `GLUETOOL_TRACING_TAGS`, else none. The grammar is `JAEGER_TAGS`': a
   * value `${NAME}` or `${NAME:default}` is the environment variable NAME,
   * or the default when it is unset or empty. A value is typed only where
   * the type keeps it exactly as written: `true` and `false` are booleans,
   * a whole number in its plain decimal form a long (not `007` or `+5`), a
   * number with a point or an exponent a double when that is its shortest
   * form (`0.5`, not `1.10` or `1e3`), the rest strings; a value in double
   * quotes is a string, the quotes dropped, neither expanded nor typed. A
   * pair without `=` or with an empty key is an error.
   *
   * Since: 0.1
   */
  properties[PROP_TAGS] =
    g_param_spec_string ("tags", NULL, NULL, NULL, construct);
}

/* HTTP to a collector instead of UDP to an agent. */
static void
install_http_properties (void)
{
  /* Out-of-range values are accepted here and refused by initialisation
   * with a GError, which a property's range check cannot give. */
  GParamFlags construct = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  /**
   * GluetoolTracer:endpoint:
   *
   * A Jaeger collector's URL, such as `http://collector:14268/api/traces`;
   * %NULL for `GLUETOOL_TRACING_ENDPOINT`, else none. When set, spans are
   * posted there over HTTP (`https://` through GIO's TLS) as Thrift binary
   * `Batch`es, instead of sent to the agent over UDP, and the reporting
   * host and port are not used. Initialisation fails with
   * %GLUETOOL_TRACER_ERROR_INVALID_CONFIG when it is not such a URL, holds
   * a user or password, or the library was built without HTTP support.
   *
   * Since: 0.1
   */
  properties[PROP_ENDPOINT] =
    g_param_spec_string ("endpoint", NULL, NULL, NULL, construct);

  /**
   * GluetoolTracer:max-batch-size:
   *
   * The most bytes of spans one HTTP request carries; 0 for
   * `GLUETOOL_TRACING_MAX_BATCH_SIZE`, else 1 MiB (what a default nginx in
   * front of a collector accepts). A span too large for a batch alone is
   * dropped and counted as too large. Used only with an
   * [property@Gluetool.Tracer:endpoint].
   *
   * Since: 0.1
   */
  properties[PROP_MAX_BATCH_SIZE] =
    g_param_spec_uint64 ("max-batch-size", NULL, NULL, 0, G_MAXUINT64, 0, construct);

  /**
   * GluetoolTracer:auth-token:
   *
   * A bearer token sent to the [property@Gluetool.Tracer:endpoint] as
   * `Authorization: Bearer TOKEN`; %NULL for `GLUETOOL_TRACING_AUTH_TOKEN`.
   * Write-only, and never printed. Not with a
   * [property@Gluetool.Tracer:user].
   *
   * Since: 0.1
   */
  properties[PROP_AUTH_TOKEN] =
    g_param_spec_string ("auth-token", NULL, NULL, NULL,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * GluetoolTracer:user:
   *
   * The user for HTTP basic authentication to the
   * [property@Gluetool.Tracer:endpoint]; %NULL for `GLUETOOL_TRACING_USER`.
   *
   * Since: 0.1
   */
  properties[PROP_USER] =
    g_param_spec_string ("user", NULL, NULL, NULL, construct);

  /**
   * GluetoolTracer:password:
   *
   * The password that goes with [property@Gluetool.Tracer:user]; %NULL for
   * `GLUETOOL_TRACING_PASSWORD`. Write-only, and never printed.
   *
   * Since: 0.1
   */
  properties[PROP_PASSWORD] =
    g_param_spec_string ("password", NULL, NULL, NULL,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * GluetoolTracer:tls-ca-file:
   *
   * A file of PEM certificates to trust for `https://` endpoints (the
   * [property@Gluetool.Tracer:endpoint] and the
   * [property@Gluetool.Tracer:sampling-endpoint]) instead of the system's:
   * a private certificate authority's, say. %NULL for
   * `GLUETOOL_TRACING_TLS_CA_FILE`, else the system's. A relative path is
   * taken from the working directory at initialisation, and reads back
   * made absolute from then on. Initialisation fails
   * with %GLUETOOL_TRACER_ERROR_INVALID_CONFIG when the file cannot be read
   * or holds no certificate, when GIO has no TLS support (glib-networking),
   * or when the library was built without HTTP support. A collector whose
   * certificate does not verify (not signed by a trusted authority, or not
   * for the endpoint's host) gets no span: they count as failed to send, and
   * [method@Gluetool.Tracer.flush] says why.
   *
   * Since: 0.1
   */
  properties[PROP_TLS_CA_FILE] =
    g_param_spec_string ("tls-ca-file", NULL, NULL, NULL, construct);
}

static void
gluetool_tracer_class_init (GluetoolTracerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = gluetool_tracer_dispose;
  object_class->finalize = gluetool_tracer_finalize;
  object_class->get_property = gluetool_tracer_get_property;
  object_class->set_property = gluetool_tracer_set_property;

  install_reporting_properties ();
  install_state_properties ();
  install_sampling_properties ();
  install_http_properties ();
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gluetool_tracer_init (GluetoolTracer *self)
{
  atomic_init (&self->closed, false);
}

/* ---- Public API ---------------------------------------------------------- */

/**
 * gluetool_tracer_new:
 * @service_name: (nullable): the service name, or %NULL for the environment
 *   or the default
 * @reporting_host: (nullable): the agent's host, or %NULL for the environment
 *   or the default
 * @reporting_port: the agent's port, or 0 for the environment or the default
 * @error: return location for a #GError
 *
 * Makes a tracer and starts its thread; the first tracer made becomes the
 * default that actions report to. Nothing is resolved or sent before the
 * tracer's thread runs, so this never blocks on the network.
 *
 * For the other settings, use g_initable_new() with the properties.
 *
 * Returns: (transfer full): a new tracer, or %NULL with
 *   %GLUETOOL_TRACER_ERROR_INVALID_CONFIG
 *
 * Since: 0.1
 */
GluetoolTracer *
gluetool_tracer_new (const char *service_name,
                     const char *reporting_host,
                     guint       reporting_port,
                     GError    **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (GLUETOOL_TYPE_TRACER, NULL, error,
                         "service-name", service_name,
                         "reporting-host", reporting_host,
                         "reporting-port", reporting_port,
                         NULL);
}

/**
 * gluetool_tracer_is_enabled:
 * @self: a tracer
 *
 * Whether the tracer sends spans; see [property@Gluetool.Tracer:enabled].
 *
 * Returns: %TRUE unless tracing was disabled
 *
 * Since: 0.1
 */
gboolean
gluetool_tracer_is_enabled (GluetoolTracer *self)
{
  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), FALSE);

  return atomic_load_explicit (&self->reporter, memory_order_relaxed) != NULL;
}

/**
 * gluetool_tracer_is_closed:
 * @self: a tracer
 *
 * Whether [method@Gluetool.Tracer.close] was called.
 *
 * Returns: %TRUE once closed
 *
 * Since: 0.1
 */
gboolean
gluetool_tracer_is_closed (GluetoolTracer *self)
{
  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), FALSE);

  return atomic_load_explicit (&self->closed, memory_order_relaxed);
}

/**
 * gluetool_tracer_get_service_name:
 * @self: a tracer
 *
 * The service name in force.
 *
 * Returns: (transfer none): the service name
 *
 * Since: 0.1
 */
const char *
gluetool_tracer_get_service_name (GluetoolTracer *self)
{
  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), NULL);
  g_return_val_if_fail (self->initialized, NULL);

  return self->config.service_name;
}

/**
 * gluetool_tracer_get_reporting_host:
 * @self: a tracer
 *
 * The agent's host in force, as given (not resolved).
 *
 * Returns: (transfer none): the host
 *
 * Since: 0.1
 */
const char *
gluetool_tracer_get_reporting_host (GluetoolTracer *self)
{
  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), NULL);
  g_return_val_if_fail (self->initialized, NULL);

  return self->config.reporting_host;
}

/**
 * gluetool_tracer_get_reporting_port:
 * @self: a tracer
 *
 * The agent's port in force.
 *
 * Returns: the port
 *
 * Since: 0.1
 */
guint
gluetool_tracer_get_reporting_port (GluetoolTracer *self)
{
  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), 0);
  g_return_val_if_fail (self->initialized, 0);

  return self->config.reporting_port;
}

/**
 * gluetool_tracer_get_client_uuid:
 * @self: a tracer
 *
 * See [property@Gluetool.Tracer:client-uuid].
 *
 * Returns: (transfer none): the client id sent with every batch; valid
 *   while the tracer is alive
 *
 * Since: 0.1
 */
const char *
gluetool_tracer_get_client_uuid (GluetoolTracer *self)
{
  GluetoolReporter *reporter;

  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), NULL);
  g_return_val_if_fail (self->initialized, NULL);

  reporter = get_reporter (self);
  return reporter != NULL ? gluetool_reporter_get_client_uuid (reporter) : self->disabled_uuid;
}

/**
 * gluetool_tracer_get_stats:
 * @self: a tracer
 * @stats: (out caller-allocates): where to store the statistics
 *
 * Reads the tracer's counters. They are read one by one while spans move, so
 * they are exact only when nothing is being reported, e.g. after
 * [method@Gluetool.Tracer.flush] or [method@Gluetool.Tracer.close]. In a
 * child process made by fork(), they count from the fork.
 *
 * Since: 0.1
 */
void
gluetool_tracer_get_stats (GluetoolTracer      *self,
                           GluetoolTracerStats *stats)
{
  GluetoolReporter *reporter;

  g_return_if_fail (GLUETOOL_IS_TRACER (self));
  g_return_if_fail (stats != NULL);

  memset (stats, 0, sizeof *stats);
  reporter = get_reporter (self);
  if (reporter != NULL)
    gluetool_reporter_get_stats (reporter, stats);
  /* A child process made by fork() counts from the fork: a close() in the
   * parent is not its own. */
  if (self->closed_in_generation == gluetool_process_get_generation ())
    stats->actions_unfinished_at_close = self->unfinished_at_close;
}

gboolean
gluetool_tracer_report_span_mp (GluetoolTracer *self,
                                const guint8   *span,
                                gsize           len)
{
  GluetoolReporter *reporter = get_running_reporter (self);

  return reporter != NULL && gluetool_reporter_push_mp (reporter, span, len);
}

static gint64
deadline_after (double timeout_s)
{
  /* Timeouts beyond a century are as good as none. */
  return g_get_monotonic_time () + (gint64) (MIN (timeout_s, 3.0e9) * G_USEC_PER_SEC);
}

/**
 * gluetool_tracer_flush:
 * @self: a tracer
 * @timeout_s: the most seconds to wait
 * @error: return location for a #GError
 *
 * Waits until every span finished before this call has been sent. Spans
 * finished meanwhile by other threads may go too, but are not waited for.
 *
 * Returns: %TRUE when all of them were sent; %FALSE with %G_IO_ERROR_TIMED_OUT
 *   when some were still unsent at the deadline (the message says how many),
 *   or with %GLUETOOL_TRACER_ERROR_SPANS_LOST when spans were dropped or
 *   failed to send since the last flush (the message says how many and why)
 *
 * Since: 0.1
 */
gboolean
gluetool_tracer_flush (GluetoolTracer *self,
                       double          timeout_s,
                       GError        **error)
{
  GluetoolReporter *reporter;

  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), FALSE);
  g_return_val_if_fail (timeout_s >= 0.0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  reporter = get_reporter (self);
  if (reporter == NULL)
    return TRUE;
  return gluetool_reporter_flush (reporter, deadline_after (timeout_s), error);
}

/**
 * gluetool_tracer_close:
 * @self: a tracer
 * @flush_timeout_s: the most seconds to wait for spans to be sent; 0 or less
 *   for [property@Gluetool.Tracer:flush-timeout]
 * @error: return location for a #GError
 *
 * Sends every span finished so far, stops the tracer's thread and, if this
 * is the default tracer, ends that. Spans finished by other threads while
 * close() runs are not sent and are counted as failed to send. Once close()
 * has returned, actions finished afterwards report to the next tracer made,
 * or nowhere: tracing is off until then. A second call, even one made while
 * the first is still flushing, returns %TRUE at once without waiting.
 *
 * With @flush_timeout_s 0 or less, the timeout is the one in force when the
 * tracer was made (`GLUETOOL_TRACING_FLUSH_TIMEOUT` is read then, not now).
 *
 * Closing the default tracer while actions are unfinished (started by any
 * thread of the process and not yet finished) loses their spans: they are
 * counted in [struct@Gluetool.TracerStats]'s `actions_unfinished_at_close`
 * and close() fails with %GLUETOOL_TRACER_ERROR_SPANS_LOST saying how many
 * (or, when it also timed out, says so in the time-out's message).
 *
 * In a child process made by fork(), close() sends what the child reported
 * and never waits for the parent's thread, which the child does not have.
 *
 * Returns: %TRUE when every span was sent; %FALSE with %G_IO_ERROR_TIMED_OUT
 *   when spans were still unsent at the deadline (the message says how many;
 *   they are given up and counted as failed), or with
 *   %GLUETOOL_TRACER_ERROR_SPANS_LOST when spans were lost since the last
 *   flush or actions were unfinished. The tracer is closed either way.
 *
 * Since: 0.1
 */
gboolean
gluetool_tracer_close (GluetoolTracer *self,
                       double          flush_timeout_s,
                       GError        **error)
{
  g_autoptr(GluetoolTracer) keep_alive = NULL;
  g_autoptr(GError) local_error = NULL;
  GluetoolReporter *reporter;
  gboolean ok = TRUE;

  g_return_val_if_fail (GLUETOOL_IS_TRACER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (atomic_exchange_explicit (&self->closed, true, memory_order_acq_rel))
    return TRUE;

  /* Ending the default may drop the last reference other than the caller's,
   * and close() is also called from dispose. */
  keep_alive = g_object_ref (self);

  if (flush_timeout_s <= 0.0)
    flush_timeout_s = self->config.flush_timeout_s;

  /* Actions report to the default tracer when they finish: those still
   * unfinished now will never be sent. */
  self->closed_in_generation = gluetool_process_get_generation ();
  if (gluetool_tracer_get_default () == self)
    self->unfinished_at_close = gluetool_process_get_unfinished ();

  GLUETOOL_DEBUG ("Closing tracer for '%s', waiting up to %g s for spans to be sent",
           self->config.service_name, flush_timeout_s);
#ifdef GLUETOOL_HAVE_SOUP
  if (self->remote_sampler != NULL)
    gluetool_remote_sampler_stop (self->remote_sampler);
#endif
  reporter = get_reporter (self);
  if (reporter != NULL)
    ok = gluetool_reporter_close (reporter, deadline_after (flush_timeout_s), &local_error);

  stop_being_default (self);

  if (self->unfinished_at_close > 0 && reporter != NULL)
    {
      g_autofree char *unfinished =
        g_strdup_printf ("%" G_GUINT64_FORMAT " %s unfinished when the tracer closed "
                         "and will never be reported", self->unfinished_at_close,
                         self->unfinished_at_close == 1 ? "action was" : "actions were");

      if (ok)
        g_set_error_literal (&local_error, GLUETOOL_TRACER_ERROR,
                             GLUETOOL_TRACER_ERROR_SPANS_LOST, unfinished);
      else
        g_prefix_error (&local_error, "%s; ", unfinished);
      ok = FALSE;
    }

  if (!ok)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return ok;
}
