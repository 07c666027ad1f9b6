/* trace-store.c: the spans a receiver has seen, grouped into traces, and
 * what it counted on the way
 *
 * SPDX-License-Identifier: MIT
 */

#include "trace-store.h"

#include "trace-text.h"

#include <string.h>

/* Clients are told apart by their client-uuid; a sender that makes up a
 * new one per datagram must not grow the table without end, so past this
 * many the rest share one entry. */
#define MAX_CLIENTS 1024
#define OTHER_CLIENTS "(more clients)"
/* Names kept per client, in bytes: enough to tell clients apart, and a
 * table of MAX_CLIENTS stays small whatever the names' length. */
#define MAX_CLIENT_NAME 200

typedef struct {
  char    *key;               /* (owned) client-uuid, or the service's name */
  char    *service_name;      /* (owned) valid UTF-8 */
  char    *client_uuid;       /* (owned) (nullable) */
  guint64  batches;
  guint64  batches_with_seq_no;
  gint64   min_seq_no;
  gint64   max_seq_no;
  gboolean have_stats;
  gint64   stats_seq_no;      /* the seqNo of the batch the stats came from */
  gint64   full_queue_dropped;
  gint64   too_large_dropped;
  gint64   failed_to_emit;
} TraceClient;

struct _TraceStore {
  guint        max_spans;
  guint64      max_items;     /* max_spans * TRACE_ITEMS_PER_SPAN */
  gboolean     evict_shown;
  guint        n_kept;        /* spans held by the traces */
  guint64      n_items;       /* their n_items, summed */
  guint64      n_unencodable; /* processes that could not be fingerprinted */

  GHashTable  *traces;        /* (owned) Trace* -> Trace*, keyed by its ids */
  GQueue       order;         /* (owned) Trace*, oldest first */
  GHashTable  *processes;     /* (owned) GBytes* -> TraceProcess* (weak) */
  GHashTable  *clients;       /* (owned) key -> TraceClient* */

  TraceCounts  counts;
};

/* ---- Processes and spans ----------------------------------------------------- */

static TraceProcess *
trace_process_ref (TraceProcess *process)
{
  process->ref_count++;
  return process;
}

static void
trace_process_unref (TraceProcess *process)
{
  if (--process->ref_count > 0)
    return;

  /* The index holds processes weakly: the last span gone, it goes. */
  if (process->table != NULL)
    g_hash_table_remove (process->table, process->key);
  g_clear_object (&process->process);
  g_free (process->service_name);
  g_bytes_unref (process->key);
  g_free (process);
}

TraceSpan *
trace_span_ref (TraceSpan *span)
{
  g_return_val_if_fail (span != NULL, NULL);
  g_return_val_if_fail (span->ref_count > 0, NULL);

  span->ref_count++;
  return span;
}

void
trace_span_unref (TraceSpan *span)
{
  g_return_if_fail (span != NULL);
  g_return_if_fail (span->ref_count > 0);

  if (--span->ref_count > 0)
    return;

  g_clear_object (&span->span);
  trace_process_unref (span->process);
  g_free (span);
}

/* The process of @batch, shared with earlier batches that sent the same. */
static TraceProcess *
lookup_process (TraceStore  *self,
                JaegerBatch *batch)
{
  g_autoptr(GBytes) key = NULL;
  TraceProcess *process;

  /* The encoding is a complete fingerprint (name, every tag, in order);
   * should it ever fail, the batch gets a process of its own. */
  key = gluetool_reference_encode_struct (THRIFT_STRUCT (batch->process), NULL);
  if (key != NULL)
    {
      process = g_hash_table_lookup (self->processes, key);
      if (process != NULL)
        return trace_process_ref (process);
    }
  else
    {
      char *unique = g_strdup_printf ("unencodable %" G_GUINT64_FORMAT,
                                      ++self->n_unencodable);

      key = g_bytes_new_take (unique, strlen (unique));
    }

  process = g_new0 (TraceProcess, 1);
  process->ref_count = 1;
  process->process = g_object_ref (batch->process);
  process->service_name = trace_text_utf8 (batch->process->serviceName);
  process->key = g_bytes_ref (key);
  process->table = self->processes;
  g_hash_table_insert (self->processes, process->key, process);
  return process;
}

/* ---- Traces -------------------------------------------------------------------- */

static guint
trace_hash (gconstpointer key)
{
  const Trace *trace = key;
  guint64 mixed = trace->id_low ^ (trace->id_high * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  return (guint) (mixed ^ (mixed >> 32));
}

static gboolean
trace_equal (gconstpointer a,
             gconstpointer b)
{
  const Trace *ta = a;
  const Trace *tb = b;

  return ta->id_low == tb->id_low && ta->id_high == tb->id_high;
}

static void
trace_free (Trace *trace)
{
  for (guint i = 0; i < trace->spans->len; i++)
    ((TraceSpan *) g_ptr_array_index (trace->spans, i))->trace = NULL;
  g_ptr_array_unref (trace->spans);
  g_free (trace);
}

static Trace *
lookup_trace (TraceStore *self,
              guint64     id_high,
              guint64     id_low)
{
  Trace probe = { .id_high = id_high, .id_low = id_low };
  Trace *trace = g_hash_table_lookup (self->traces, &probe);

  if (trace != NULL)
    return trace;

  trace = g_new0 (Trace, 1);
  trace->id_high = id_high;
  trace->id_low = id_low;
  trace->spans = g_ptr_array_new_with_free_func ((GDestroyNotify) trace_span_unref);
  g_queue_push_tail (&self->order, trace);
  trace->link = self->order.tail;
  g_hash_table_add (self->traces, trace);
  self->counts.traces++;
  return trace;
}

static void
remove_trace (TraceStore *self,
              Trace      *trace)
{
  self->n_items -= trace->n_items;
  self->n_kept -= trace->n_kept;
  g_queue_delete_link (&self->order, trace->link);
  g_hash_table_remove (self->traces, trace);
  trace_free (trace);
}

static gboolean
has_room (TraceStore *self,
          guint       n_spans,
          guint64     n_items)
{
  return self->max_spans - self->n_kept >= n_spans
         && self->max_items - self->n_items >= n_items;
}

/* Makes room by dropping traces that were shown in full, oldest first,
 * until there is room for @n_spans spans of @n_items items or none is left
 * to drop. One pass over the traces at most. */
static void
evict_shown (TraceStore *self,
             guint       n_spans,
             guint64     n_items)
{
  GList *link = self->order.head;

  while (link != NULL && !has_room (self, n_spans, n_items))
    {
      Trace *trace = link->data;

      link = link->next;
      if (trace->n_shown == trace->spans->len)
        remove_trace (self, trace);
    }
}

/* Charges one more span of @n_items to @trace, which it reached at @now_us. */
static void
charge (TraceStore *self,
        Trace      *trace,
        guint64     n_items,
        gint64      now_us)
{
  trace->last_arrival_us = now_us;
  trace->n_kept++;
  trace->n_items += n_items;
  self->n_kept++;
  self->n_items += n_items;
}

/* ---- Clients --------------------------------------------------------------------- */

static void
trace_client_free (TraceClient *client)
{
  g_free (client->key);
  g_free (client->service_name);
  g_free (client->client_uuid);
  g_free (client);
}

static const char *
find_client_uuid (JaegerProcess *process)
{
  if (process->tags == NULL)
    return NULL;
  for (guint i = 0; i < process->tags->len; i++)
    {
      JaegerTag *tag = g_ptr_array_index (process->tags, i);

      /* Only a STRING tag: an agent ignores any other (PROTOCOL.md §4.6). */
      if (g_strcmp0 (tag->key, "client-uuid") == 0
          && tag->vType == JAEGER_TAG_TYPE_STRING && tag->__isset_vStr
          && tag->vStr != NULL)
        return tag->vStr;
    }
  return NULL;
}

/* At most MAX_CLIENT_NAME bytes of @text, as valid UTF-8. */
static char *
short_name (const char *text)
{
  g_autofree char *valid = trace_text_utf8 (text);
  const char *end = valid;

  while (*end != '\0')
    {
      const char *next = g_utf8_next_char (end);

      if (next - valid > MAX_CLIENT_NAME)
        break;
      end = next;
    }
  return g_strndup (valid, (gsize) (end - valid));
}

/* What a batch says about its client, whichever way it was read. */
typedef struct {
  const char *service_name;  /* (nullable) */
  const char *client_uuid;   /* (nullable) */
  gboolean    has_seq_no;
  gint64      seq_no;
  gboolean    has_stats;
  gint64      full_queue_dropped;
  gint64      too_large_dropped;
  gint64      failed_to_emit;
} ClientReport;

static ClientReport
report_of_batch (JaegerBatch *batch)
{
  ClientReport report = {
    .service_name = batch->process->serviceName,
    .client_uuid = find_client_uuid (batch->process),
    .has_seq_no = batch->__isset_seqNo,
    .seq_no = batch->seqNo,
    .has_stats = batch->__isset_stats && batch->stats != NULL,
  };

  if (report.has_stats)
    {
      report.full_queue_dropped = batch->stats->fullQueueDroppedSpans;
      report.too_large_dropped = batch->stats->tooLargeDroppedSpans;
      report.failed_to_emit = batch->stats->failedToEmitSpans;
    }
  return report;
}

static void
count_client (TraceStore         *self,
              const ClientReport *report)
{
  g_autofree char *uuid = report->client_uuid != NULL ? short_name (report->client_uuid) : NULL;
  g_autofree char *service = short_name (report->service_name);
  g_autofree char *key = NULL;
  TraceClient *client;

  key = uuid != NULL ? g_strconcat ("uuid:", uuid, NULL)
                     : g_strconcat ("service:", service, NULL);
  client = g_hash_table_lookup (self->clients, key);
  if (client == NULL && g_hash_table_size (self->clients) >= MAX_CLIENTS)
    {
      g_free (key);
      key = g_strdup (OTHER_CLIENTS);
      client = g_hash_table_lookup (self->clients, key);
    }
  if (client == NULL)
    {
      client = g_new0 (TraceClient, 1);
      client->key = g_steal_pointer (&key);
      if (g_str_equal (client->key, OTHER_CLIENTS))
        client->service_name = g_strdup (OTHER_CLIENTS);
      else
        {
          client->service_name = g_steal_pointer (&service);
          client->client_uuid = g_steal_pointer (&uuid);
        }
      g_hash_table_insert (self->clients, client->key, client);
    }

  client->batches++;
  if (report->has_seq_no)
    {
      if (client->batches_with_seq_no == 0 || report->seq_no < client->min_seq_no)
        client->min_seq_no = report->seq_no;
      if (client->batches_with_seq_no == 0 || report->seq_no > client->max_seq_no)
        client->max_seq_no = report->seq_no;
      client->batches_with_seq_no++;
    }

  /* The counters are cumulative: the batch with the highest seqNo has the
   * latest (without seqNo, the one that arrived last). */
  if (report->has_stats
      && (!client->have_stats || !report->has_seq_no
          || report->seq_no >= client->stats_seq_no))
    {
      client->have_stats = TRUE;
      client->stats_seq_no = report->has_seq_no ? report->seq_no : G_MININT64;
      client->full_queue_dropped = report->full_queue_dropped;
      client->too_large_dropped = report->too_large_dropped;
      client->failed_to_emit = report->failed_to_emit;
    }
}

/* ---- The store ------------------------------------------------------------------- */

TraceStore *
trace_store_new (guint    max_spans,
                 gboolean evict_shown)
{
  TraceStore *self = g_new0 (TraceStore, 1);

  self->max_spans = max_spans;
  self->max_items = (guint64) max_spans * TRACE_ITEMS_PER_SPAN;
  self->evict_shown = evict_shown;
  self->traces = g_hash_table_new (trace_hash, trace_equal);
  g_queue_init (&self->order);
  self->processes = g_hash_table_new (g_bytes_hash, g_bytes_equal);
  self->clients = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) trace_client_free);
  return self;
}

void
trace_store_free (TraceStore *self)
{
  GHashTableIter iter;
  gpointer value;

  if (self == NULL)
    return;

  g_queue_clear_full (&self->order, (GDestroyNotify) trace_free);
  g_hash_table_unref (self->traces);

  /* Spans handed out may outlive the store; their processes must not
   * reach back into the index. */
  g_hash_table_iter_init (&iter, self->processes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    ((TraceProcess *) value)->table = NULL;
  g_hash_table_unref (self->processes);

  g_hash_table_unref (self->clients);
  g_free (self);
}

void
trace_store_count_datagram (TraceStore *self,
                            gsize       len)
{
  g_return_if_fail (self != NULL);

  self->counts.datagrams++;
  if (len > TRACE_AGENT_MAX_PACKET_SIZE)
    self->counts.datagrams_oversize++;
}

void
trace_store_count_bad (TraceStore *self)
{
  g_return_if_fail (self != NULL);

  self->counts.datagrams_bad++;
}

void
trace_store_count_http_bad (TraceStore *self)
{
  g_return_if_fail (self != NULL);

  self->counts.http_bad++;
}

static guint64
count_items (JaegerSpan    *span,
             JaegerProcess *process)
{
  guint64 n = 1;

  if (span->tags != NULL)
    n += span->tags->len;
  if (span->references != NULL)
    n += span->references->len;
  for (guint i = 0; span->logs != NULL && i < span->logs->len; i++)
    {
      JaegerLog *log = g_ptr_array_index (span->logs, i);

      n += 1 + (log->fields != NULL ? log->fields->len : 0);
    }
  /* The process is shared, but charging it to every span keeps the count
   * an upper bound whichever span outlives the others. */
  if (process->tags != NULL)
    n += process->tags->len;
  return n;
}

static void
count_protocol (TraceStore    *self,
                TraceProtocol  protocol)
{
  switch (protocol)
    {
    case TRACE_PROTOCOL_COMPACT:
      self->counts.datagrams_compact++;
      break;
    case TRACE_PROTOCOL_BINARY:
      self->counts.datagrams_binary++;
      break;
    case TRACE_PROTOCOL_HTTP:
      self->counts.http_batches++;
      break;
    }
}

GPtrArray *
trace_store_add (TraceStore         *self,
                 const TraceDecoded *decoded,
                 gint64              now_us)
{
  JaegerBatch *batch;
  TraceProcess *process;
  GPtrArray *added;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (decoded != NULL && JAEGER_IS_BATCH (decoded->batch), NULL);

  batch = decoded->batch;
  count_protocol (self, decoded->protocol);
  {
    ClientReport report = report_of_batch (batch);

    count_client (self, &report);
  }

  added = g_ptr_array_new_full (batch->spans->len, (GDestroyNotify) trace_span_unref);
  if (batch->spans->len == 0)
    return added;

  if (self->evict_shown)
    {
      guint64 n_items = 0;

      for (guint i = 0; i < batch->spans->len; i++)
        n_items += count_items (g_ptr_array_index (batch->spans, i), batch->process);
      if (!has_room (self, batch->spans->len, n_items))
        evict_shown (self, batch->spans->len, n_items);
    }

  process = lookup_process (self, batch);
  for (guint i = 0; i < batch->spans->len; i++)
    {
      JaegerSpan *jaeger_span = g_ptr_array_index (batch->spans, i);
      TraceSpan *span = g_new0 (TraceSpan, 1);
      Trace *trace;

      span->ref_count = 1;
      span->span = g_object_ref (jaeger_span);
      span->process = trace_process_ref (process);
      /* i64 on the wire, unsigned bits everywhere else (hex, JSON). */
      span->trace_id_high = (guint64) jaeger_span->traceIdHigh;
      span->trace_id_low = (guint64) jaeger_span->traceIdLow;
      span->span_id = (guint64) jaeger_span->spanId;
      span->parent_id = (guint64) jaeger_span->parentSpanId;
      span->n_items = count_items (jaeger_span, batch->process);
      g_ptr_array_add (added, span);
      self->counts.spans++;

      if (!has_room (self, 1, span->n_items))
        {
          self->counts.spans_not_kept++;
          continue;
        }

      trace = lookup_trace (self, span->trace_id_high, span->trace_id_low);
      span->trace = trace;
      g_ptr_array_add (trace->spans, trace_span_ref (span));
      charge (self, trace, span->n_items, now_us);
    }
  trace_process_unref (process);

  return added;
}

void
trace_store_add_scan (TraceStore      *self,
                      const TraceScan *scan,
                      gint64           now_us)
{
  ClientReport report;
  guint n_spans;

  g_return_if_fail (self != NULL);
  g_return_if_fail (scan != NULL && scan->spans != NULL);

  report = (ClientReport) {
    .service_name = scan->service_name,
    .client_uuid = scan->client_uuid,
    .has_seq_no = scan->has_seq_no,
    .seq_no = scan->seq_no,
    .has_stats = scan->has_stats,
    .full_queue_dropped = scan->full_queue_dropped,
    .too_large_dropped = scan->too_large_dropped,
    .failed_to_emit = scan->failed_to_emit,
  };
  count_protocol (self, scan->protocol);
  count_client (self, &report);

  n_spans = scan->spans->len;
  if (n_spans == 0)
    return;

  /* Step for step what trace_store_add() does, with every trace shown. */
  if (self->evict_shown)
    {
      guint64 n_items = 0;

      for (guint i = 0; i < n_spans; i++)
        n_items += g_array_index (scan->spans, TraceScannedSpan, i).n_items;
      if (!has_room (self, n_spans, n_items))
        evict_shown (self, n_spans, n_items);
    }

  for (guint i = 0; i < n_spans; i++)
    {
      const TraceScannedSpan *span = &g_array_index (scan->spans, TraceScannedSpan, i);
      Trace *trace;

      self->counts.spans++;
      if (!has_room (self, 1, span->n_items))
        {
          self->counts.spans_not_kept++;
          continue;
        }
      trace = lookup_trace (self, span->trace_id_high, span->trace_id_low);
      charge (self, trace, span->n_items, now_us);
    }
}

void
trace_store_mark_shown (TraceStore *self,
                        Trace      *trace)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (trace != NULL);

  trace->n_shown = trace->spans->len;
}

GPtrArray *
trace_store_get_traces (TraceStore *self)
{
  GPtrArray *traces;

  g_return_val_if_fail (self != NULL, NULL);

  traces = g_ptr_array_sized_new (self->order.length);
  for (GList *link = self->order.head; link != NULL; link = link->next)
    g_ptr_array_add (traces, link->data);
  return traces;
}

const TraceCounts *
trace_store_get_counts (TraceStore *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return &self->counts;
}

static gint
compare_clients (gconstpointer a,
                 gconstpointer b)
{
  const TraceClient *ca = *(TraceClient * const *) a;
  const TraceClient *cb = *(TraceClient * const *) b;
  int by_name = g_strcmp0 (ca->service_name, cb->service_name);

  return by_name != 0 ? by_name : g_strcmp0 (ca->key, cb->key);
}

/* Clients may send anything; totals saturate rather than wrap, and a
 * negative count (which no client means) adds nothing. */
static gint64
add_saturating (gint64 total,
                gint64 value)
{
  if (value <= 0)
    return total;
  if (total > G_MAXINT64 - value)
    return G_MAXINT64;
  return total + value;
}

void
trace_store_append_summary (TraceStore *self,
                            GString    *out)
{
  g_autoptr(GPtrArray) clients = NULL;
  const TraceCounts *c;
  gint64 full_queue = 0, too_large = 0, failed = 0;
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (self != NULL);
  g_return_if_fail (out != NULL);

  c = &self->counts;
  g_string_append (out, "summary:\n");
  g_string_append_printf (out,
                          "  datagrams:     %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
                          " compact, %" G_GUINT64_FORMAT " binary)\n",
                          c->datagrams, c->datagrams_compact, c->datagrams_binary);
  g_string_append_printf (out, "  bad datagrams: %" G_GUINT64_FORMAT "\n",
                          c->datagrams_bad);
  if (c->datagrams_oversize > 0)
    g_string_append_printf (out, "  over %u bytes: %" G_GUINT64_FORMAT
                            " (a Jaeger agent drops these)\n",
                            (guint) TRACE_AGENT_MAX_PACKET_SIZE,
                            c->datagrams_oversize);
  /* Only when HTTP was used: scripts read the lines above and below. */
  if (c->http_batches > 0 || c->http_bad > 0)
    g_string_append_printf (out, "  HTTP batches:  %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
                            " bad)\n", c->http_batches, c->http_bad);
  g_string_append_printf (out, "  spans:         %" G_GUINT64_FORMAT, c->spans);
  if (c->spans_not_kept > 0)
    g_string_append_printf (out, " (%" G_GUINT64_FORMAT " not kept: over the "
                            "limit of %u spans, or of %" G_GUINT64_FORMAT " tags, logs "
                            "and references)", c->spans_not_kept, self->max_spans,
                            self->max_items);
  g_string_append_c (out, '\n');
  g_string_append_printf (out, "  traces:        %" G_GUINT64_FORMAT "\n", c->traces);

  clients = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, self->clients);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (clients, value);
  g_ptr_array_sort (clients, compare_clients);

  for (guint i = 0; i < clients->len; i++)
    {
      TraceClient *client = g_ptr_array_index (clients, i);

      full_queue = add_saturating (full_queue, client->full_queue_dropped);
      too_large = add_saturating (too_large, client->too_large_dropped);
      failed = add_saturating (failed, client->failed_to_emit);
    }
  g_string_append_printf (out, "  dropped by clients (ClientStats): %" G_GINT64_FORMAT
                          " queue full, %" G_GINT64_FORMAT " too large, %"
                          G_GINT64_FORMAT " failed to send\n",
                          full_queue, too_large, failed);

  g_string_append_printf (out, "  clients:       %u\n", clients->len);
  for (guint i = 0; i < clients->len; i++)
    {
      TraceClient *client = g_ptr_array_index (clients, i);

      g_string_append (out, "    ");
      trace_text_append_safe (out, client->service_name, 60);
      if (client->client_uuid != NULL)
        {
          g_string_append (out, " (client-uuid ");
          trace_text_append_safe (out, client->client_uuid, 40);
          g_string_append_c (out, ')');
        }
      g_string_append_printf (out, ": %" G_GUINT64_FORMAT " batch%s",
                              client->batches, client->batches == 1 ? "" : "es");
      if (client->batches_with_seq_no > 0)
        {
          /* Unsigned, so that hostile extremes cannot overflow. */
          guint64 span = (guint64) client->max_seq_no - (guint64) client->min_seq_no;
          guint64 missing = span >= client->batches_with_seq_no
                              ? span + 1 - client->batches_with_seq_no : 0;

          g_string_append_printf (out, ", seqNo %" G_GINT64_FORMAT " to %"
                                  G_GINT64_FORMAT ", %" G_GUINT64_FORMAT " missing",
                                  client->min_seq_no, client->max_seq_no, missing);
        }
      if (client->have_stats)
        g_string_append_printf (out, ", dropped %" G_GINT64_FORMAT " queue full, %"
                                G_GINT64_FORMAT " too large, %" G_GINT64_FORMAT
                                " failed to send",
                                client->full_queue_dropped,
                                client->too_large_dropped,
                                client->failed_to_emit);
      else
        g_string_append (out, ", no ClientStats");
      g_string_append_c (out, '\n');
    }
}
