/* gluetool-tracer.h: where finished actions go
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(__GLUETOOL_H_INSIDE__) && !defined(GLUETOOL_COMPILATION)
#error "Only <gluetool/gluetool.h> can be included directly."
#endif

#include <gio/gio.h>

#include <gluetool/gluetool-version.h>
#include <gluetool/gluetool-tracer-stats.h>

G_BEGIN_DECLS

/**
 * GLUETOOL_TRACER_ERROR:
 *
 * The error domain of [class@Gluetool.Tracer].
 *
 * Since: 0.1
 */
#define GLUETOOL_TRACER_ERROR (gluetool_tracer_error_quark ())

/**
 * GluetoolTracerError:
 * @GLUETOOL_TRACER_ERROR_INVALID_CONFIG: an argument, a property or a
 *   `GLUETOOL_TRACING_*` variable has a value that cannot be used
 * @GLUETOOL_TRACER_ERROR_SPANS_LOST: spans were dropped or could not be sent;
 *   the message says how many and why
 *
 * Errors of [class@Gluetool.Tracer]. A flush that runs out of time fails with
 * %G_IO_ERROR_TIMED_OUT instead.
 *
 * Since: 0.1
 */
typedef enum {
  GLUETOOL_TRACER_ERROR_INVALID_CONFIG,
  GLUETOOL_TRACER_ERROR_SPANS_LOST,
} GluetoolTracerError;

/**
 * GluetoolSamplerType:
 * @GLUETOOL_SAMPLER_TYPE_DEFAULT: not given: `GLUETOOL_TRACING_SAMPLER_TYPE`
 *   decides, else const
 * @GLUETOOL_SAMPLER_TYPE_CONST: every trace (param 1, the default) or none
 *   (param 0)
 * @GLUETOOL_SAMPLER_TYPE_PROBABILISTIC: a trace with the probability given
 *   by the param, from 0 to 1, decided from the trace id as Jaeger's
 *   clients decide, so every process of a trace decides alike
 * @GLUETOOL_SAMPLER_TYPE_RATE_LIMITING: at most param traces per second,
 *   with bursts of one second's worth
 * @GLUETOOL_SAMPLER_TYPE_REMOTE: as a Jaeger agent's sampling endpoint
 *   says, asked again at every refresh interval; param is the probability
 *   sampled with until its first answer
 *
 * How a tracer decides which new traces are sampled; see
 * [property@Gluetool.Tracer:sampler-type]. `GLUETOOL_TRACING_SAMPLER_TYPE`
 * names them as Jaeger's clients do: `const`, `probabilistic`,
 * `ratelimiting`, `remote`.
 *
 * Since: 0.1
 */
typedef enum {
  GLUETOOL_SAMPLER_TYPE_DEFAULT,
  GLUETOOL_SAMPLER_TYPE_CONST,
  GLUETOOL_SAMPLER_TYPE_PROBABILISTIC,
  GLUETOOL_SAMPLER_TYPE_RATE_LIMITING,
  GLUETOOL_SAMPLER_TYPE_REMOTE,
} GluetoolSamplerType;

#define GLUETOOL_TYPE_TRACER (gluetool_tracer_get_type ())

GLUETOOL_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (GluetoolTracer, gluetool_tracer, GLUETOOL, TRACER, GObject)

GLUETOOL_AVAILABLE_IN_0_1
GQuark          gluetool_tracer_error_quark        (void);

GLUETOOL_AVAILABLE_IN_0_1
GluetoolTracer *gluetool_tracer_new                (const char      *service_name,
                                                    const char      *reporting_host,
                                                    guint            reporting_port,
                                                    GError         **error);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolTracer *gluetool_tracer_get_default        (void);
GLUETOOL_AVAILABLE_IN_0_1
gboolean        gluetool_tracer_is_enabled         (GluetoolTracer  *self);
GLUETOOL_AVAILABLE_IN_0_1
gboolean        gluetool_tracer_is_closed          (GluetoolTracer  *self);
GLUETOOL_AVAILABLE_IN_0_1
const char     *gluetool_tracer_get_service_name   (GluetoolTracer  *self);
GLUETOOL_AVAILABLE_IN_0_1
const char     *gluetool_tracer_get_reporting_host (GluetoolTracer  *self);
GLUETOOL_AVAILABLE_IN_0_1
guint           gluetool_tracer_get_reporting_port (GluetoolTracer  *self);
GLUETOOL_AVAILABLE_IN_0_1
const char     *gluetool_tracer_get_client_uuid    (GluetoolTracer  *self);
GLUETOOL_AVAILABLE_IN_0_1
void            gluetool_tracer_get_stats          (GluetoolTracer      *self,
                                                    GluetoolTracerStats *stats);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolSamplerType gluetool_tracer_get_sampler_type  (GluetoolTracer  *self);
GLUETOOL_AVAILABLE_IN_0_1
double          gluetool_tracer_get_sampler_param  (GluetoolTracer  *self);
GLUETOOL_AVAILABLE_IN_0_1
char           *gluetool_tracer_dup_sampling_strategy (GluetoolTracer *self);
GLUETOOL_AVAILABLE_IN_0_1
gboolean        gluetool_tracer_flush              (GluetoolTracer  *self,
                                                    double           timeout_s,
                                                    GError         **error);
GLUETOOL_AVAILABLE_IN_0_1
gboolean        gluetool_tracer_close              (GluetoolTracer  *self,
                                                    double           flush_timeout_s,
                                                    GError         **error);

G_END_DECLS
