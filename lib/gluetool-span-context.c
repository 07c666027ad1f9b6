/* gluetool-span-context.c: being written (issue 4) */

#include <gluetool/gluetool.h>

G_DEFINE_QUARK (gluetool-span-context-error-quark, gluetool_span_context_error)
