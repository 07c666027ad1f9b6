/* test-headers.c: the public headers compile on their own, strictly
 *
 * SPDX-License-Identifier: MIT
 */

#include <gluetool/gluetool.h>

int
main (void)
{
  /* Using a few names proves the declarations are visible, not just parsed. */
  GType types[] = { GLUETOOL_TYPE_ACTION, GLUETOOL_TYPE_TRACER, GLUETOOL_TYPE_TRACER_STATS,
                    GLUETOOL_TYPE_SPAN_CONTEXT, GLUETOOL_TYPE_ACTION_ERROR,
                    GLUETOOL_TYPE_TRACER_ERROR, GLUETOOL_TYPE_SPAN_CONTEXT_ERROR };
  /* GluetoolAction's type is declared by hand, for a g_autoptr() cleanup of
   * the library's: its casts and cleanups compile as the macro's would. */
  g_autoptr(GluetoolAction) action = NULL;
  g_autoptr(GluetoolActionClass) action_class = NULL;

  return GLUETOOL_CHECK_VERSION (0, 0, 0) && G_N_ELEMENTS (types) == 7
         && GLUETOOL_ACTION (action) == NULL && !GLUETOOL_IS_ACTION (action)
         && action_class == NULL ? 0 : 1;
}
