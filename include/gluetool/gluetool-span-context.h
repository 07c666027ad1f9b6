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

/* Being written (issue 4): the API below is the contract. */

#define GLUETOOL_SPAN_CONTEXT_ERROR (gluetool_span_context_error_quark ())

typedef enum {
  GLUETOOL_SPAN_CONTEXT_ERROR_INVALID,
} GluetoolSpanContextError;

#define GLUETOOL_TYPE_SPAN_CONTEXT (gluetool_span_context_get_type ())

typedef struct _GluetoolSpanContext GluetoolSpanContext;

GLUETOOL_AVAILABLE_IN_0_1
GType                gluetool_span_context_get_type         (void) G_GNUC_CONST;
GLUETOOL_AVAILABLE_IN_0_1
GQuark               gluetool_span_context_error_quark      (void);

G_END_DECLS
