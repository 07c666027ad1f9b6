/* trace-strategies.c: a Jaeger sampling strategies file, parsed, and the
 * answers Jaeger's sampling endpoint gives from it
 *
 * SPDX-License-Identifier: MIT
 *
 * How Jaeger's static strategy store resolves a file (with its default
 * behaviour since the "include default operation strategies" fix), which
 * this mirrors:
 *
 *  - A strategy of type "probabilistic" samples with probability "param";
 *    "ratelimiting" samples at most "param" traces a second (truncated to
 *    an integer). Any other type stands for probabilistic 0.001, with a
 *    warning.
 *  - Without a "default_strategy", the default is probabilistic 0.001.
 *  - A strategy with a non-empty "operation_strategies" list gets an
 *    operationSampling: its defaultSamplingProbability is the strategy's
 *    own probability when it is probabilistic, else 0.001; its lower bound
 *    is 0; each operation's probabilistic strategy is listed (a
 *    rate-limiting one is left out, with a warning: operations are only
 *    sampled by probability).
 *  - When the default has an operationSampling, every service gets one
 *    too: a service without operations of its own takes the default's
 *    (with its own probability as defaultSamplingProbability when it is
 *    probabilistic); a service with some keeps them, followed by the
 *    default's operations it does not name.
 *  - A service not in the file gets the default as it is. A service
 *    listed twice gets its last entry.
 *
 * The answer is the JSON of Jaeger's Thrift SamplingStrategyResponse as an
 * agent serves it on /sampling: "strategyType" is "PROBABILISTIC" or
 * "RATE_LIMITING", with "probabilisticSampling": {"samplingRate"} or
 * "rateLimitingSampling": {"maxTracesPerSecond"}, then, when there is one,
 * "operationSampling" with "defaultSamplingProbability",
 * "defaultLowerBoundTracesPerSecond", "perOperationStrategies" (each
 * {"operation", "probabilisticSampling": {"samplingRate"}}) and
 * "defaultUpperBoundTracesPerSecond" (0: the file format has no way to set
 * it).
 */

#include "trace-strategies.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>

/* Jaeger's probability when nothing else is given. */
#define DEFAULT_PROBABILITY 0.001

/* maxTracesPerSecond is an i16 in the Thrift answer an agent sends. */
#define MAX_TRACES_PER_SECOND_LIMIT G_MAXINT16

typedef struct {
  char   *operation;
  double  probability;
} OperationStrategy;

typedef struct {
  gboolean  rate_limiting;
  double    probability;        /* when probabilistic */
  gint      max_traces;         /* when rate-limiting */
  gboolean  has_operations;     /* an operationSampling */
  double    default_probability;
  GArray   *operations;         /* (element-type OperationStrategy) */
} Strategy;

struct _TraceStrategies {
  Strategy   *default_strategy;
  GHashTable *services;         /* service name -> Strategy* */
  GPtrArray  *warnings;         /* (element-type utf8) */
};

static void
operation_strategy_clear (gpointer data)
{
  OperationStrategy *op = data;

  g_clear_pointer (&op->operation, g_free);
}

static Strategy *
strategy_new (void)
{
  Strategy *strategy = g_new0 (Strategy, 1);

  strategy->probability = DEFAULT_PROBABILITY;
  strategy->default_probability = DEFAULT_PROBABILITY;
  strategy->operations = g_array_new (FALSE, TRUE, sizeof (OperationStrategy));
  g_array_set_clear_func (strategy->operations, operation_strategy_clear);
  return strategy;
}

static void
strategy_free (Strategy *strategy)
{
  if (strategy == NULL)
    return;
  g_array_unref (strategy->operations);
  g_free (strategy);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Strategy, strategy_free)

static void
strategy_add_operation (Strategy   *strategy,
                        const char *operation,
                        double      probability)
{
  OperationStrategy op = { g_strdup (operation), probability };

  g_array_append_val (strategy->operations, op);
}

static gboolean
strategy_names_operation (const Strategy *strategy,
                          const char     *operation)
{
  for (guint i = 0; i < strategy->operations->len; i++)
    if (g_str_equal (g_array_index (strategy->operations, OperationStrategy, i).operation,
                     operation))
      return TRUE;
  return FALSE;
}

/* ---- Reading the file --------------------------------------------------------------- */

static gboolean G_GNUC_PRINTF (2, 3)
fail (GError     **error,
      const char  *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, message);
  return FALSE;
}

/* @member of @object, NULL when absent or null (as Go reads both). */
static JsonNode *
get_member (JsonObject *object,
            const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  return node == NULL || JSON_NODE_HOLDS_NULL (node) ? NULL : node;
}

static gboolean
get_string (JsonObject  *object,
            const char  *member,
            const char  *where,
            const char **value,
            GError     **error)
{
  JsonNode *node = get_member (object, member);

  *value = "";
  if (node == NULL)
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return fail (error, "%s: \"%s\" must be a string", where, member);
  *value = json_node_get_string (node);
  return TRUE;
}

static gboolean
get_number (JsonObject  *object,
            const char  *member,
            const char  *where,
            double      *value,
            GError     **error)
{
  JsonNode *node = get_member (object, member);
  GType type;

  *value = 0;
  if (node == NULL)
    return TRUE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    *value = (double) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    *value = json_node_get_double (node);
  else
    return fail (error, "%s: \"%s\" must be a number", where, member);
  return TRUE;
}

/* (nullable) the array @member of @object */
static gboolean
get_array (JsonObject  *object,
           const char  *member,
           const char  *where,
           JsonArray  **value,
           GError     **error)
{
  JsonNode *node = get_member (object, member);

  *value = NULL;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return fail (error, "%s: \"%s\" must be a list", where, member);
  *value = json_node_get_array (node);
  return TRUE;
}

static JsonObject *
element_object (JsonArray *array,
                guint      i)
{
  JsonNode *node = json_array_get_element (array, i);

  return JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* Reads "type" and "param" of @object into @strategy's own sampling. */
static gboolean
read_type_and_param (TraceStrategies *self,
                     JsonObject      *object,
                     const char      *where,
                     Strategy        *strategy,
                     GError         **error)
{
  const char *type;
  double param;

  if (!get_string (object, "type", where, &type, error)
      || !get_number (object, "param", where, &param, error))
    return FALSE;

  if (g_str_equal (type, "probabilistic"))
    {
      if (!(param >= 0 && param <= 1))
        return fail (error, "%s: a probability of %g, where 0 to 1 is possible", where, param);
      strategy->rate_limiting = FALSE;
      strategy->probability = param;
    }
  else if (g_str_equal (type, "ratelimiting"))
    {
      if (!(param >= 0 && param < MAX_TRACES_PER_SECOND_LIMIT + 1))
        return fail (error, "%s: %g traces a second, where 0 to %d is possible", where,
                     param, MAX_TRACES_PER_SECOND_LIMIT);
      strategy->rate_limiting = TRUE;
      strategy->max_traces = (gint) param;  /* truncated, as Jaeger does */
    }
  else
    {
      g_ptr_array_add (self->warnings,
                       g_strdup_printf ("%s: unknown type \"%s\": probabilistic %g, as "
                                        "Jaeger does", where, type, DEFAULT_PROBABILITY));
      strategy->rate_limiting = FALSE;
      strategy->probability = DEFAULT_PROBABILITY;
    }
  return TRUE;
}

/* A service's or the default's strategy, with its own operations. */
static Strategy *
read_strategy (TraceStrategies *self,
               JsonObject      *object,
               const char      *where,
               GError         **error)
{
  g_autoptr(Strategy) strategy = strategy_new ();
  JsonArray *operations;

  if (!read_type_and_param (self, object, where, strategy, error)
      || !get_array (object, "operation_strategies", where, &operations, error))
    return NULL;
  if (operations == NULL || json_array_get_length (operations) == 0)
    return g_steal_pointer (&strategy);

  strategy->has_operations = TRUE;
  strategy->default_probability = strategy->rate_limiting ? DEFAULT_PROBABILITY
                                                          : strategy->probability;
  for (guint i = 0; i < json_array_get_length (operations); i++)
    {
      JsonObject *element = element_object (operations, i);
      g_autofree char *element_where = g_strdup_printf ("%s, operation_strategies[%u]",
                                                        where, i);
      g_autoptr(Strategy) op = strategy_new ();
      const char *name;

      if (element == NULL)
        {
          fail (error, "%s: not an object", element_where);
          return NULL;
        }
      if (!get_string (element, "operation", element_where, &name, error)
          || !read_type_and_param (self, element, element_where, op, error))
        return NULL;
      if (op->rate_limiting)
        {
          g_ptr_array_add (self->warnings,
                           g_strdup_printf ("%s: operations are only sampled by "
                                            "probability; left out, as Jaeger does",
                                            element_where));
          continue;
        }
      strategy_add_operation (strategy, name, op->probability);
    }
  return g_steal_pointer (&strategy);
}

/* What a service gets of the default's operations. */
static void
merge_default_operations (Strategy       *service,
                          const Strategy *fallback)
{
  if (!fallback->has_operations)
    return;
  if (!service->has_operations)
    {
      service->has_operations = TRUE;
      service->default_probability = service->rate_limiting ? fallback->default_probability
                                                            : service->probability;
    }
  for (guint i = 0; i < fallback->operations->len; i++)
    {
      const OperationStrategy *op = &g_array_index (fallback->operations,
                                                    OperationStrategy, i);

      if (!strategy_names_operation (service, op->operation))
        strategy_add_operation (service, op->operation, op->probability);
    }
}

static gboolean
read_services (TraceStrategies  *self,
               JsonArray        *services,
               GError          **error)
{
  for (guint i = 0; services != NULL && i < json_array_get_length (services); i++)
    {
      JsonObject *element = element_object (services, i);
      g_autofree char *where = g_strdup_printf ("service_strategies[%u]", i);
      Strategy *strategy;
      const char *name;

      if (element == NULL)
        return fail (error, "%s: not an object", where);
      if (!get_string (element, "service", where, &name, error))
        return FALSE;
      strategy = read_strategy (self, element, where, error);
      if (strategy == NULL)
        return FALSE;
      merge_default_operations (strategy, self->default_strategy);
      g_hash_table_replace (self->services, g_strdup (name), strategy);
    }
  return TRUE;
}

TraceStrategies *
trace_strategies_parse (const char  *text,
                        gsize        len,
                        GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(TraceStrategies) self = NULL;
  JsonObject *root;
  JsonNode *fallback;
  JsonArray *services;

  g_return_val_if_fail (text != NULL || len == 0, NULL);
  g_return_val_if_fail (len <= G_MAXSSIZE, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!json_parser_load_from_data (parser, text, (gssize) len, error))
    return NULL;
  if (json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      fail (error, "not a JSON object with \"default_strategy\" and \"service_strategies\"");
      return NULL;
    }
  root = json_node_get_object (json_parser_get_root (parser));

  self = g_new0 (TraceStrategies, 1);
  self->services = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) strategy_free);
  self->warnings = g_ptr_array_new_with_free_func (g_free);

  fallback = get_member (root, "default_strategy");
  if (fallback != NULL && !JSON_NODE_HOLDS_OBJECT (fallback))
    {
      fail (error, "\"default_strategy\" must be an object");
      return NULL;
    }
  self->default_strategy = fallback != NULL
                           ? read_strategy (self, json_node_get_object (fallback),
                                            "default_strategy", error)
                           : strategy_new ();
  if (self->default_strategy == NULL)
    return NULL;

  if (!get_array (root, "service_strategies", "the file", &services, error)
      || !read_services (self, services, error))
    return NULL;

  return g_steal_pointer (&self);
}

GPtrArray *
trace_strategies_get_warnings (const TraceStrategies *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->warnings;
}

void
trace_strategies_free (TraceStrategies *self)
{
  if (self == NULL)
    return;
  strategy_free (self->default_strategy);
  g_clear_pointer (&self->services, g_hash_table_unref);
  g_clear_pointer (&self->warnings, g_ptr_array_unref);
  g_free (self);
}

/* ---- The answer ---------------------------------------------------------------------- */

static void
add_probabilistic (JsonBuilder *builder,
                   double       probability)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "samplingRate");
  json_builder_add_double_value (builder, probability);
  json_builder_end_object (builder);
}

static void
add_operation_sampling (JsonBuilder    *builder,
                        const Strategy *strategy)
{
  json_builder_set_member_name (builder, "operationSampling");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "defaultSamplingProbability");
  json_builder_add_double_value (builder, strategy->default_probability);
  json_builder_set_member_name (builder, "defaultLowerBoundTracesPerSecond");
  json_builder_add_double_value (builder, 0);
  json_builder_set_member_name (builder, "perOperationStrategies");
  json_builder_begin_array (builder);
  for (guint i = 0; i < strategy->operations->len; i++)
    {
      const OperationStrategy *op = &g_array_index (strategy->operations,
                                                    OperationStrategy, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "operation");
      json_builder_add_string_value (builder, op->operation);
      json_builder_set_member_name (builder, "probabilisticSampling");
      add_probabilistic (builder, op->probability);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "defaultUpperBoundTracesPerSecond");
  json_builder_add_double_value (builder, 0);
  json_builder_end_object (builder);
}

char *
trace_strategies_answer (const TraceStrategies *self,
                         const char            *service)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  const Strategy *strategy;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (service != NULL, NULL);

  strategy = g_hash_table_lookup (self->services, service);
  if (strategy == NULL)
    strategy = self->default_strategy;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "strategyType");
  if (strategy->rate_limiting)
    {
      json_builder_add_string_value (builder, "RATE_LIMITING");
      json_builder_set_member_name (builder, "rateLimitingSampling");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "maxTracesPerSecond");
      json_builder_add_int_value (builder, strategy->max_traces);
      json_builder_end_object (builder);
    }
  else
    {
      json_builder_add_string_value (builder, "PROBABILISTIC");
      json_builder_set_member_name (builder, "probabilisticSampling");
      add_probabilistic (builder, strategy->probability);
    }
  if (strategy->has_operations)
    add_operation_sampling (builder, strategy);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}
