/* gluetool-span-context.h: a span's identity, as it travels between processes
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(__GLUETOOL_H_INSIDE__) && !defined(GLUETOOL_COMPILATION)
#error "Only <gluetool/gluetool.h> can be included directly."
#endif

#include <glib-object.h>

#include <gluetool/gluetool-version.h>

G_BEGIN_DECLS

/**
 * GLUETOOL_SPAN_CONTEXT_ERROR:
 *
 * The error domain of [struct@Gluetool.SpanContext].
 *
 * Since: 0.1
 */
#define GLUETOOL_SPAN_CONTEXT_ERROR (gluetool_span_context_error_quark ())

/**
 * GluetoolSpanContextError:
 * @GLUETOOL_SPAN_CONTEXT_ERROR_INVALID: a `traceparent` or `uber-trace-id`
 *   value does not follow its format; the message says what is wrong
 *
 * Errors of [struct@Gluetool.SpanContext].
 *
 * Since: 0.1
 */
typedef enum {
  GLUETOOL_SPAN_CONTEXT_ERROR_INVALID,
} GluetoolSpanContextError;

/**
 * GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED:
 *
 * The Jaeger flag, and the W3C `trace-flags` bit, saying the trace is
 * sampled (recorded).
 *
 * Since: 0.1
 */
#define GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED 0x01

/**
 * GLUETOOL_SPAN_CONTEXT_FLAG_DEBUG:
 *
 * Jaeger's debug flag (only meaningful together with
 * %GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED). W3C gives this bit another meaning,
 * so it is never written into a `traceparent`.
 *
 * Since: 0.1
 */
#define GLUETOOL_SPAN_CONTEXT_FLAG_DEBUG 0x02

/**
 * GLUETOOL_SPAN_CONTEXT_ENV_TRACEPARENT:
 *
 * The environment variable that carries a W3C `traceparent` to a child
 * process, as OpenTelemetry's environment carrier does: `TRACEPARENT`.
 *
 * Since: 0.1
 */
#define GLUETOOL_SPAN_CONTEXT_ENV_TRACEPARENT "TRACEPARENT"

/**
 * GLUETOOL_SPAN_CONTEXT_HEADER_TRACEPARENT:
 *
 * The W3C Trace Context header name, lower case: `traceparent`.
 *
 * Since: 0.1
 */
#define GLUETOOL_SPAN_CONTEXT_HEADER_TRACEPARENT "traceparent"

/**
 * GLUETOOL_SPAN_CONTEXT_HEADER_UBER_TRACE_ID:
 *
 * Jaeger's trace context header name, lower case: `uber-trace-id`.
 *
 * Since: 0.1
 */
#define GLUETOOL_SPAN_CONTEXT_HEADER_UBER_TRACE_ID "uber-trace-id"

#define GLUETOOL_TYPE_SPAN_CONTEXT (gluetool_span_context_get_type ())

typedef struct _GluetoolSpanContext GluetoolSpanContext;

GLUETOOL_AVAILABLE_IN_0_1
GType                gluetool_span_context_get_type              (void) G_GNUC_CONST;
GLUETOOL_AVAILABLE_IN_0_1
GQuark               gluetool_span_context_error_quark           (void);

GLUETOOL_AVAILABLE_IN_0_1
GluetoolSpanContext *gluetool_span_context_new                   (guint64                    trace_id_high,
                                                                  guint64                    trace_id_low,
                                                                  guint64                    span_id,
                                                                  guint64                    parent_span_id,
                                                                  guint8                     flags);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolSpanContext *gluetool_span_context_new_from_traceparent  (const char                *traceparent,
                                                                  GError                   **error);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolSpanContext *gluetool_span_context_new_from_uber_trace_id (const char               *uber_trace_id,
                                                                  GError                   **error);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolSpanContext *gluetool_span_context_new_from_environ      (const char * const        *envp,
                                                                  GError                   **error);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolSpanContext *gluetool_span_context_new_from_headers      (GHashTable                *headers,
                                                                  GError                   **error);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolSpanContext *gluetool_span_context_copy                  (const GluetoolSpanContext *self);
GLUETOOL_AVAILABLE_IN_0_1
void                 gluetool_span_context_free                  (GluetoolSpanContext       *self);
GLUETOOL_AVAILABLE_IN_0_1
gboolean             gluetool_span_context_equal                 (const GluetoolSpanContext *a,
                                                                  const GluetoolSpanContext *b);

GLUETOOL_AVAILABLE_IN_0_1
guint64              gluetool_span_context_get_trace_id_high     (const GluetoolSpanContext *self);
GLUETOOL_AVAILABLE_IN_0_1
guint64              gluetool_span_context_get_trace_id_low      (const GluetoolSpanContext *self);
GLUETOOL_AVAILABLE_IN_0_1
char                *gluetool_span_context_dup_trace_id          (const GluetoolSpanContext *self);
GLUETOOL_AVAILABLE_IN_0_1
guint64              gluetool_span_context_get_span_id           (const GluetoolSpanContext *self);
GLUETOOL_AVAILABLE_IN_0_1
guint64              gluetool_span_context_get_parent_span_id    (const GluetoolSpanContext *self);
GLUETOOL_AVAILABLE_IN_0_1
guint8               gluetool_span_context_get_flags             (const GluetoolSpanContext *self);
GLUETOOL_AVAILABLE_IN_0_1
gboolean             gluetool_span_context_is_sampled            (const GluetoolSpanContext *self);

GLUETOOL_AVAILABLE_IN_0_1
char                *gluetool_span_context_to_traceparent        (const GluetoolSpanContext *self);
GLUETOOL_AVAILABLE_IN_0_1
char                *gluetool_span_context_to_uber_trace_id      (const GluetoolSpanContext *self);
GLUETOOL_AVAILABLE_IN_0_1
char               **gluetool_span_context_inject_environ        (const GluetoolSpanContext *self,
                                                                  char                     **envp);
GLUETOOL_AVAILABLE_IN_0_1
void                 gluetool_span_context_inject_headers        (const GluetoolSpanContext *self,
                                                                  GHashTable                *headers);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GluetoolSpanContext, gluetool_span_context_free)

G_END_DECLS
