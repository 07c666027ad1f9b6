/* quiet-end.c: whether an object's end runs none of the program's code
 *
 * SPDX-License-Identifier: MIT
 *
 * See quiet-end-private.h.
 */

#include "process-private.h"
#include "quiet-end-private.h"

gboolean
gluetool_quiet_end_find_handler (GObject     *object,
                                 const guint *signal_ids,
                                 guint        n_signal_ids)
{
  /* A region (see process-private.h) for GLib's lock, only where it is
   * taken. */
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();

  for (guint i = 0; i < n_signal_ids; i++)
    {
      if (g_signal_handler_find (object, G_SIGNAL_MATCH_ID, signal_ids[i], 0, NULL, NULL, NULL) != 0)
        return TRUE;
    }
  return FALSE;
}
