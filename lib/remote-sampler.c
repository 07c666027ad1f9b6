/* remote-sampler.c: a sampler whose strategy a Jaeger agent's sampling
 * endpoint gives
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdatomic.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <gluetool/gluetool.h>

#include "config-private.h"
#include "debug-private.h"
#include "process-private.h"
#include "remote-sampler-private.h"
#include "sync-private.h"
#include "thread-types-private.h"

/* A request not done this long after it started fails, however its
 * answer trickles in; never longer than the interval, so a slow endpoint
 * does not delay the next request. */
#define MAX_TIMEOUT_S 5

struct _GluetoolRemoteSampler {
  char            *url;            /* (owned) the endpoint with ?service=NAME */
  char            *tls_ca_file;    /* (owned) (nullable) certificates trusted over https */
  gint64           refresh_us;
  guint            timeout_s;

  /* The strategy in force. Swapped by the thread (seq_cst, against the
   * roots' seq_cst accesses, see swap_in()); read by roots. */
  GluetoolSampler *_Atomic current;  /* (owned) (atomic) */
  /* Roots deciding right now, in two counts: a root counts itself in the
   * one of @epoch's parity, and the thread, after a swap, moves @epoch on
   * and waits for the other count to drain. Roots that come after the move
   * count in the other one, so the wait ends however steady the load. */
  atomic_uint      epoch;            /* (atomic) moved on by the thread only */
  atomic_uint      readers[2];       /* (atomic) */
  atomic_uint      n_retired;        /* (atomic) relaxed: a sampler swapped out, not yet
                                      * freed (0 or 1), for tests */

  atomic_uint      n_polls;          /* (atomic) relaxed: counts for tests */
  atomic_uint      n_failures;       /* (atomic) relaxed */
  gboolean         failing;          /* the thread's: a failure logged, none good since */
  gboolean         ca_trusted;       /* the thread's: tls_ca_file's set on its session */

  GMutex           lock;
  GCond            wake;
  gboolean         stopping;         /* under @lock */
  GCancellable    *cancellable;      /* (owned) cancelled by stop(): cancels a request under way */
  GThread         *thread;           /* (owned) (nullable) */
  guint            generation;       /* the process that started the thread */
};

/* ---- Deciding ------------------------------------------------------------------ */

/* Counts the calling root in the count of @epoch's parity, as it reads
 * @epoch after counting itself, and returns that parity. If the thread
 * moved @epoch meanwhile, the root counts itself again in the new one: a
 * root's count is always one whose epoch was current after it counted (see
 * swap_in() for why that matters). All seq_cst: see swap_in(). */
static guint
reader_enter (GluetoolRemoteSampler *self)
{
  for (;;)
    {
      guint epoch = atomic_load_explicit (&self->epoch, memory_order_seq_cst);

      atomic_fetch_add_explicit (&self->readers[epoch & 1], 1, memory_order_seq_cst);
      if (G_LIKELY (atomic_load_explicit (&self->epoch, memory_order_seq_cst) == epoch))
        return epoch & 1;
      /* Relaxed: this root loaded no sampler under this count. */
      atomic_fetch_sub_explicit (&self->readers[epoch & 1], 1, memory_order_relaxed);
    }
}

/* Release: the thread that reads the count drained (seq_cst, so at least
 * acquire) and frees the sampler sees this root done with it. */
static void
reader_exit (GluetoolRemoteSampler *self,
             guint                  parity)
{
  atomic_fetch_sub_explicit (&self->readers[parity], 1, memory_order_release);
}

void
gluetool_remote_sampler_decide (GluetoolRemoteSampler    *self,
                                guint64                   trace_id_low,
                                const char               *operation,
                                GluetoolSamplingDecision *decision)
{
  guint parity = reader_enter (self);

  gluetool_sampler_decide (atomic_load_explicit (&self->current, memory_order_seq_cst),
                           trace_id_low, operation, decision);
  reader_exit (self, parity);
}

char *
gluetool_remote_sampler_describe (GluetoolRemoteSampler *self)
{
  guint parity = reader_enter (self);
  char *description;

  /* As decide(): counted while the sampler is read. */
  description = gluetool_sampler_describe (atomic_load_explicit (&self->current,
                                                                 memory_order_seq_cst));
  reader_exit (self, parity);
  return description;
}

guint
gluetool_remote_sampler_get_n_retired (GluetoolRemoteSampler *self)
{
  return atomic_load_explicit (&self->n_retired, memory_order_relaxed);
}

void
gluetool_remote_sampler_get_counts (GluetoolRemoteSampler *self,
                                    guint                 *n_polls,
                                    guint                 *n_failures)
{
  *n_polls = atomic_load_explicit (&self->n_polls, memory_order_relaxed);
  *n_failures = atomic_load_explicit (&self->n_failures, memory_order_relaxed);
}

/* ---- Swapping ------------------------------------------------------------------ */

/* Loads of a count before the wait yields the core, then yields before it
 * sleeps: a root counted now is done within a few loads, unless its thread
 * was preempted while counted. */
#define DRAIN_SPINS  64
#define DRAIN_YIELDS 256
#define DRAIN_SLEEP_US 50

static void
wait_for_drain (GluetoolRemoteSampler *self,
                guint                  parity)
{
  /* seq_cst: see swap_in(). */
  for (guint i = 0; atomic_load_explicit (&self->readers[parity], memory_order_seq_cst) != 0; i++)
    {
      if (i < DRAIN_SPINS)
        continue;
      if (i < DRAIN_SPINS + DRAIN_YIELDS)
        g_thread_yield ();
      else
        g_usleep (DRAIN_SLEEP_US);
    }
}

/* Publishes @sampler and frees the one it replaces once no root can be
 * using it. The swap, the move of @epoch, the roots' accesses to @epoch,
 * the counts and @current, and the drain's loads are all seq_cst: they
 * fall in one order, which each thread's own order respects.
 *
 * A root R that holds the old sampler loaded @current before the exchange
 * below. R's count is of the epoch E it read, after counting itself, before
 * that load (reader_enter()), so before this move of @epoch from `epoch`:
 * E <= epoch. If E == epoch, R's increment came before the move, so before
 * the drain's loads, which count R until its release decrement: the drain
 * waits for it. If E < epoch, R counted itself before the swap that moved
 * @epoch from E, whose drain therefore waited for R to be done: R let go of
 * every sampler before that swap returned, so before this one began.
 *
 * The drain ends: after the move, a root that enters counts in the other
 * count (one that read the old epoch first takes itself away again at
 * once), so the drained count only falls. */
static void
swap_in (GluetoolRemoteSampler *self,
         GluetoolSampler       *sampler)
{
  GluetoolSampler *old = atomic_exchange_explicit (&self->current, sampler, memory_order_seq_cst);
  /* Relaxed: only this thread moves it. */
  guint epoch = atomic_load_explicit (&self->epoch, memory_order_relaxed);

  atomic_store_explicit (&self->n_retired, 1, memory_order_relaxed);
  atomic_store_explicit (&self->epoch, epoch + 1, memory_order_seq_cst);
  wait_for_drain (self, epoch & 1);
  gluetool_sampler_free (old);
  atomic_store_explicit (&self->n_retired, 0, memory_order_relaxed);
}

/* ---- The answer ---------------------------------------------------------------- */

static gboolean
bad_answer (GError    **error,
            const char *why)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, why);
  return FALSE;
}

static GluetoolSampler *
no_sampler (GError    **error,
            const char *why)
{
  bad_answer (error, why);
  return NULL;
}

/* A number member of @object, within [@min, @max]. */
static gboolean
get_number (JsonObject *object,
            const char *name,
            double      min,
            double      max,
            double     *out,
            GError    **error)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;
  GType type = node != NULL && JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node)
                                                            : G_TYPE_INVALID;

  if (type == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else if (type == G_TYPE_INT64)
    *out = (double) json_node_get_int (node);
  else
    {
      g_autofree char *why = g_strdup_printf ("'%s' is missing or not a number", name);

      return bad_answer (error, why);
    }
  if (!(*out >= min && *out <= max))
    {
      g_autofree char *why = g_strdup_printf ("'%s' %g is out of range", name, *out);

      return bad_answer (error, why);
    }
  return TRUE;
}

static JsonObject *
get_object (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static GluetoolSampler *
per_operation_from_json (JsonObject *operation_sampling,
                         GError    **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GArray) rates = g_array_new (FALSE, FALSE, sizeof (double));
  JsonNode *list_node = json_object_get_member (operation_sampling, "perOperationStrategies");
  double default_rate, lower_bound = 0.0;

  if (!get_number (operation_sampling, "defaultSamplingProbability", 0.0, 1.0, &default_rate,
                   error))
    return NULL;
  if (json_object_has_member (operation_sampling, "defaultLowerBoundTracesPerSecond")
      && !get_number (operation_sampling, "defaultLowerBoundTracesPerSecond", 0.0,
                      GLUETOOL_MAX_SAMPLER_RATE, &lower_bound, error))
    return NULL;

  if (list_node != NULL && JSON_NODE_HOLDS_ARRAY (list_node))
    {
      JsonArray *list = json_node_get_array (list_node);

      for (guint i = 0; i < json_array_get_length (list); i++)
        {
          JsonNode *element = json_array_get_element (list, i);
          JsonObject *strategy = JSON_NODE_HOLDS_OBJECT (element) ? json_node_get_object (element)
                                                                  : NULL;
          const char *name = strategy != NULL ? json_object_get_string_member_with_default (
                                                  strategy, "operation", NULL)
                                              : NULL;
          double rate;

          if (name == NULL)
            return no_sampler (error, "a per-operation strategy has no operation");
          if (!get_number (get_object (strategy, "probabilisticSampling"), "samplingRate", 0.0, 1.0,
                           &rate, error))
            return NULL;
          g_ptr_array_add (names, (gpointer) name);
          g_array_append_val (rates, rate);
        }
    }
  return gluetool_sampler_new_per_operation (default_rate, lower_bound,
                                             (const char *const *) names->pdata,
                                             (const double *) (void *) rates->data, names->len);
}

/* strategyType: a name, as the agent's /sampling answers, or the Thrift
 * enum's number, as its legacy endpoint did. */
static gboolean
is_strategy (JsonObject *answer,
             const char *name,
             gint64      number)
{
  JsonNode *node = json_object_get_member (answer, "strategyType");

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return g_str_equal (json_node_get_string (node), name);
  return json_node_get_value_type (node) == G_TYPE_INT64 && json_node_get_int (node) == number;
}

/* A sampler for a SamplingStrategyResponse, as jaeger-client-go reads one:
 * operationSampling, when there is one, wins over strategyType. */
static GluetoolSampler *
sampler_from_answer (const char *text,
                     gsize       len,
                     GError    **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonObject *answer;
  JsonObject *operation_sampling;
  double number;

  if (!json_parser_load_from_data (parser, text, (gssize) len, error))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return no_sampler (error, "not a JSON object");
  answer = json_node_get_object (json_parser_get_root (parser));

  operation_sampling = get_object (answer, "operationSampling");
  if (operation_sampling != NULL)
    return per_operation_from_json (operation_sampling, error);
  if (is_strategy (answer, "PROBABILISTIC", 0))
    {
      if (!get_number (get_object (answer, "probabilisticSampling"), "samplingRate", 0.0, 1.0,
                       &number, error))
        return NULL;
      return gluetool_sampler_new_probabilistic (number);
    }
  if (is_strategy (answer, "RATE_LIMITING", 1))
    {
      if (!get_number (get_object (answer, "rateLimitingSampling"), "maxTracesPerSecond", 0.0,
                       GLUETOOL_MAX_SAMPLER_RATE, &number, error))
        return NULL;
      return gluetool_sampler_new_rate_limiting (number);
    }
  return no_sampler (error, "no strategyType this client knows");
}

/* ---- Asking ----------------------------------------------------------------------- */

/* One request, done asynchronously on the poll thread's own context so that
 * a deadline for the whole of it can fire there: libsoup's timeout bounds
 * each read, and an endpoint that drips its answer a byte at a time would
 * hold a request for as long as it likes. */
typedef struct {
  GMainContext *context;       /* the poll thread's */
  GCancellable *cancellable;   /* (owned) this request's: the deadline's or stop()'s */
  gboolean      timed_out;
  GAsyncResult *result;        /* (owned) (nullable) of the call under way */
} Request;

static void
keep_result (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Request *request = data;

  request->result = g_object_ref (result);
}

/* Runs the poll thread's context until the call under way is done. (transfer full) */
static GAsyncResult *
wait_for_result (Request *request)
{
  while (request->result == NULL)
    g_main_context_iteration (request->context, TRUE);
  return g_steal_pointer (&request->result);
}

static gboolean
deadline_passed (gpointer data)
{
  Request *request = data;

  request->timed_out = TRUE;
  g_cancellable_cancel (request->cancellable);
  return G_SOURCE_REMOVE;
}

/* stop()'s cancellation, on its thread, cancels this request too. */
static void
stop_cancels_request (GCancellable *stop,
                      gpointer      data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

/* The body, at most the cap; a longer one is an error. */
static GBytes *
read_body (Request      *request,
           GInputStream *stream,
           GError      **error)
{
  g_autofree guint8 *data = g_malloc (GLUETOOL_REMOTE_SAMPLER_MAX_BODY + 1);
  g_autoptr(GAsyncResult) result = NULL;
  gsize len = 0;

  g_input_stream_read_all_async (stream, data, GLUETOOL_REMOTE_SAMPLER_MAX_BODY + 1,
                                 G_PRIORITY_DEFAULT, request->cancellable, keep_result, request);
  result = wait_for_result (request);
  if (!g_input_stream_read_all_finish (stream, result, &len, error))
    return NULL;
  if (len > GLUETOOL_REMOTE_SAMPLER_MAX_BODY)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "the answer is larger than %d bytes", GLUETOOL_REMOTE_SAMPLER_MAX_BODY);
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&data), len);
}

static GBytes *
get_body (GluetoolRemoteSampler *self,
          SoupSession           *session,
          Request               *request,
          GError               **error)
{
  g_autoptr(SoupMessage) message = soup_message_new (SOUP_METHOD_GET, self->url);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GInputStream) stream = NULL;
  guint status;

  if (message == NULL)
    {
      bad_answer (error, "the URL does not parse");
      return NULL;
    }
  soup_session_send_async (session, message, G_PRIORITY_DEFAULT, request->cancellable,
                           keep_result, request);
  result = wait_for_result (request);
  stream = soup_session_send_finish (session, result, error);
  if (stream == NULL)
    return NULL;
  status = soup_message_get_status (message);
  if (status != SOUP_STATUS_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "HTTP %u %s", status,
                   soup_message_get_reason_phrase (message));
      return NULL;
    }
  return read_body (request, stream, error);
}

static GluetoolSampler *
ask (GluetoolRemoteSampler *self,
     SoupSession           *session,
     GError               **error)
{
  Request request = {
    .context = g_main_context_get_thread_default (),
    .cancellable = g_cancellable_new (),
  };
  g_autoptr(GSource) deadline = g_timeout_source_new (self->timeout_s * 1000);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) local_error = NULL;
  gulong stop_handler;

  g_source_set_callback (deadline, deadline_passed, &request, NULL);
  g_source_attach (deadline, request.context);
  /* Called at once when stop() came first. */
  stop_handler = g_cancellable_connect (self->cancellable, G_CALLBACK (stop_cancels_request),
                                        request.cancellable, NULL);
  body = get_body (self, session, &request, &local_error);
  /* Waits for a stop_cancels_request() under way on stop()'s thread. */
  g_cancellable_disconnect (self->cancellable, stop_handler);
  g_source_destroy (deadline);
  g_clear_object (&request.cancellable);

  if (body == NULL)
    {
      /* Cancelled by the deadline, not by stop(): a failure like any. */
      if (request.timed_out && !g_cancellable_is_cancelled (self->cancellable))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no whole answer within %u s",
                     self->timeout_s);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return sampler_from_answer (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
}

/* Sets the tls-ca-file's certificates on @session, and tries again before
 * each request until they can be used: asking with the system's instead
 * would trust authorities the user did not choose for this endpoint. */
static gboolean
ensure_ca_trusted (GluetoolRemoteSampler *self,
                   SoupSession           *session,
                   GError               **error)
{
  g_autoptr(GTlsDatabase) database = NULL;
  g_autoptr(GError) local_error = NULL;

  if (self->tls_ca_file == NULL || self->ca_trusted)
    return TRUE;
  database = g_tls_file_database_new (self->tls_ca_file, &local_error);
  if (database == NULL)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                   "the certificates of the tls-ca-file %s cannot be used, so it is not asked: %s",
                   self->tls_ca_file, local_error->message);
      return FALSE;
    }
  soup_session_set_tls_database (session, database);
  self->ca_trusted = TRUE;
  return TRUE;
}

static void
poll_once (GluetoolRemoteSampler *self,
           SoupSession           *session)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolSampler) sampler = NULL;

  if (ensure_ca_trusted (self, session, &error))
    sampler = ask (self, session, &error);
  atomic_fetch_add_explicit (&self->n_polls, 1, memory_order_relaxed);
  if (sampler == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      atomic_fetch_add_explicit (&self->n_failures, 1, memory_order_relaxed);
      /* Once per streak: an endpoint down for a day says so once. A
       * message, not a warning: nothing is lost, and sampling goes on. */
      if (!self->failing)
        {
          g_autofree char *in_force = gluetool_remote_sampler_describe (self);

          g_message ("Sampling strategy from %s: %s; sampling with %s until it answers",
                     self->url, error->message, in_force);
          self->failing = TRUE;
        }
      return;
    }
  if (self->failing)
    GLUETOOL_DEBUG ("Sampling strategy from %s: answering again", self->url);
  self->failing = FALSE;
  if (gluetool_sampler_equal (sampler, atomic_load_explicit (&self->current,
                                                             memory_order_relaxed)))
    return;
  {
    g_autofree char *description = gluetool_sampler_describe (sampler);

    GLUETOOL_DEBUG ("Sampling strategy from %s: %s", self->url, description);
  }
  swap_in (self, g_steal_pointer (&sampler));
}

/* Sleeps until the next request is due or stop() is called; FALSE then. */
static gboolean
wait_for_next (GluetoolRemoteSampler *self)
{
  gint64 deadline = g_get_monotonic_time () + self->refresh_us;
  gboolean go_on;

  gluetool_mutex_lock (&self->lock);
  while (!self->stopping && g_get_monotonic_time () < deadline)
    gluetool_cond_wait_until (&self->wake, &self->lock, deadline);
  go_on = !self->stopping;
  gluetool_mutex_unlock (&self->lock);
  return go_on;
}

static gpointer
poll_thread (gpointer data)
{
  GluetoolRemoteSampler *self = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(SoupSession) session = NULL;

  /* The session and everything it does belong to this thread's context. */
  g_main_context_push_thread_default (context);
  /* No "timeout": it bounds each read, where ask()'s deadline bounds the
   * whole request. */
  session = soup_session_new_with_options ("user-agent", "gluetool-action/" GLUETOOL_VERSION_S " ",
                                           NULL);
  do
    poll_once (self, session);
  while (wait_for_next (self));
  g_clear_object (&session);
  /* What the session left to do (closing connections) is done before the
   * context goes. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* ---- Life cycle ------------------------------------------------------------------ */

GluetoolRemoteSampler *
gluetool_remote_sampler_new (const char *endpoint,
                             const char *service_name,
                             double      initial_rate,
                             double      refresh_interval_s)
{
  return gluetool_remote_sampler_new_full (endpoint, NULL, service_name, initial_rate,
                                           refresh_interval_s);
}

GluetoolRemoteSampler *
gluetool_remote_sampler_new_full (const char *endpoint,
                                  const char *tls_ca_file,
                                  const char *service_name,
                                  double      initial_rate,
                                  double      refresh_interval_s)
{
  GluetoolRemoteSampler *self = g_new0 (GluetoolRemoteSampler, 1);
  g_autofree char *escaped = g_uri_escape_string (service_name, NULL, FALSE);
  g_autoptr(GError) error = NULL;

  self->url = g_strdup_printf ("%s?service=%s", endpoint, escaped);
  self->tls_ca_file = g_strdup (tls_ca_file);
  self->refresh_us = (gint64) (refresh_interval_s * G_USEC_PER_SEC);
  self->timeout_s = (guint) CLAMP (refresh_interval_s, 1.0, MAX_TIMEOUT_S);
  atomic_init (&self->current, gluetool_sampler_new_probabilistic (initial_rate));
  atomic_init (&self->epoch, 0);
  atomic_init (&self->readers[0], 0);
  atomic_init (&self->readers[1], 0);
  atomic_init (&self->n_retired, 0);
  atomic_init (&self->n_polls, 0);
  atomic_init (&self->n_failures, 0);
  g_mutex_init (&self->lock);
  g_cond_init (&self->wake);
  self->cancellable = g_cancellable_new ();
  self->generation = gluetool_process_get_generation ();
  gluetool_thread_types_ensure_http ();
  self->thread = g_thread_try_new ("gluetool-sampler", poll_thread, self, &error);
  if (self->thread == NULL)
    g_message ("Sampling strategy from %s will not be asked: %s; sampling with probability %g",
               self->url, error->message, initial_rate);
  return self;
}

void
gluetool_remote_sampler_stop (GluetoolRemoteSampler *self)
{
  /* A child process made by fork() has no poll thread: the parent's is not
   * its to join, and the lock may have been copied held. */
  if (self->thread == NULL || self->generation != gluetool_process_get_generation ())
    return;

  gluetool_mutex_lock (&self->lock);
  self->stopping = TRUE;
  g_cond_signal (&self->wake);
  gluetool_mutex_unlock (&self->lock);
  g_cancellable_cancel (self->cancellable);
  g_thread_join (g_steal_pointer (&self->thread));
}

void
gluetool_remote_sampler_free (GluetoolRemoteSampler *self)
{
  if (self == NULL)
    return;
  gluetool_remote_sampler_stop (self);
  /* In a child, the parent's thread and its objects are left as they are
   * (see reporter-private.h for why a child frees nothing of theirs). */
  if (self->thread != NULL)
    return;
  gluetool_sampler_free (atomic_load_explicit (&self->current, memory_order_relaxed));
  g_clear_object (&self->cancellable);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->wake);
  g_free (self->url);
  g_free (self->tls_ca_file);
  g_free (self);
}
