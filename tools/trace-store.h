/* trace-store.h: the spans a receiver has seen, grouped into traces, and
 * what it counted on the way
 *
 * SPDX-License-Identifier: MIT
 *
 * The store knows nothing of sockets or output formats. It holds at most a
 * set number of spans, and at most TRACE_ITEMS_PER_SPAN times as many
 * items (spans, tags, logs, log fields, references, counting each span's
 * process tags too), so a receiver left running cannot grow without bound,
 * however many tags a hostile client packs into a span: past that, spans
 * are counted but not kept, or (when the caller allows it) traces already
 * shown make room. Single-threaded.
 *
 * A receiver that shows no span (and writes no file) only needs the
 * counts: trace_store_add_scan() keeps those alone, from the datagram as
 * trace-scan.h reads it.
 */

#pragma once

#include "trace-decode.h"
#include "trace-scan.h"

G_BEGIN_DECLS

/* What the store may hold per span allowed, on average: a span with a
 * dozen tags and its process's few is well within it. */
#define TRACE_ITEMS_PER_SPAN 16

/* A Jaeger agent's largest datagram; a larger one never reaches a backend. */
#define TRACE_AGENT_MAX_PACKET_SIZE 65000

typedef struct _TraceStore TraceStore;
typedef struct _Trace Trace;

/* One Process as a client sent it; identical processes from several
 * batches share one. */
typedef struct {
  guint          ref_count;
  JaegerProcess *process;       /* (owned) */
  char          *service_name;  /* (owned) valid UTF-8 */
  GBytes        *key;           /* (owned) its compact encoding */
  GHashTable    *table;         /* (unowned) (nullable) the store's index */
} TraceProcess;

/* One span and the process that sent it. */
typedef struct {
  guint          ref_count;
  JaegerSpan    *span;          /* (owned) */
  TraceProcess  *process;       /* (owned) */
  guint64        trace_id_high;
  guint64        trace_id_low;
  guint64        span_id;
  guint64        parent_id;     /* 0 for a root */
  guint64        n_items;       /* what keeping it costs; see TRACE_ITEMS_PER_SPAN */
  Trace         *trace;         /* (unowned) (nullable) NULL when not kept */
} TraceSpan;

struct _Trace {
  guint64    id_high;
  guint64    id_low;
  GPtrArray *spans;            /* (element-type TraceSpan) (owned) in arrival order */
  gint64     last_arrival_us;  /* monotonic time its last span arrived */
  guint      n_shown;          /* spans it had when last shown; see trace_store_mark_shown() */
  guint      n_kept;           /* spans the store charges it: spans->len, or those counted */
  guint64    n_items;          /* their n_items, summed */
  GList     *link;             /* (owned by the store) its place in the store's order */
};

typedef struct {
  guint64 datagrams;          /* every datagram, good or bad */
  guint64 datagrams_compact;  /* decoded, by protocol */
  guint64 datagrams_binary;
  guint64 datagrams_bad;
  guint64 datagrams_oversize; /* larger than TRACE_AGENT_MAX_PACKET_SIZE */
  guint64 http_batches;       /* POSTed to /api/traces and decoded */
  guint64 http_bad;           /* POSTed bodies refused (400, 413, 415) */
  guint64 spans;              /* every span decoded */
  guint64 spans_not_kept;     /* past the store's limits */
  guint64 traces;             /* traces the store started */
} TraceCounts;

TraceSpan   *trace_span_ref          (TraceSpan   *span);
void         trace_span_unref        (TraceSpan   *span);

TraceStore  *trace_store_new         (guint        max_spans,
                                      gboolean     evict_shown);
void         trace_store_free        (TraceStore  *self);

/* Counts one datagram of @len bytes, before it is decoded. */
void         trace_store_count_datagram (TraceStore *self,
                                         gsize       len);
/* Counts a datagram that did not decode. */
void         trace_store_count_bad   (TraceStore  *self);

/* Counts a request body refused by the HTTP collector endpoint. */
void         trace_store_count_http_bad (TraceStore *self);

/* Takes the spans of @decoded (at monotonic time @now_us) and returns them,
 * kept or not, in batch order. (transfer full) (element-type TraceSpan) */
GPtrArray   *trace_store_add         (TraceStore         *self,
                                      const TraceDecoded *decoded,
                                      gint64              now_us);

/* Counts the spans of @scan (at monotonic time @now_us) as trace_store_add()
 * would, without keeping them: their traces hold counts alone, as if shown
 * at once, so that the summary says what it would have said. Both may feed
 * one store (with evict_shown, a receiver that marks every trace shown). */
void         trace_store_add_scan    (TraceStore      *self,
                                      const TraceScan *scan,
                                      gint64           now_us);

/* Records that every span @trace holds now has been shown: with
 * evict_shown, such a trace may make room for new ones. */
void         trace_store_mark_shown  (TraceStore  *self,
                                      Trace       *trace);

/* The traces in the order they started. (transfer container)
 * (element-type Trace) */
GPtrArray   *trace_store_get_traces  (TraceStore  *self);
const TraceCounts *trace_store_get_counts (TraceStore *self);

/* The summary: counts, and per client the batches, sequence numbers and
 * the spans it says it dropped (ClientStats). */
void         trace_store_append_summary (TraceStore *self,
                                         GString    *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceStore, trace_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceSpan, trace_span_unref)

G_END_DECLS
