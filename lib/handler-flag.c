/* handler-flag.c: whether an object may ever have had a signal handler,
 * without GLib's global signal lock
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdbool.h>

#include "handler-flag-private.h"
#include "process-private.h"
#include "sync-private.h"

atomic_uint gluetool_handler_flag_bit_;

/* What the probe found: the bit, or 0. Written inside the once. */
static guint probed_bit;
static gsize probed;
/* Set once the once is over: the cheap check every new action makes. */
static atomic_bool probe_finished;

/* ---- The probe's own type ------------------------------------------------- */

/* A bare final type with one detailed signal, so the probe connects to a
 * signal that is not "notify" on an object nobody else knows. */
#define GLUETOOL_TYPE_HANDLER_PROBE (gluetool_handler_probe_get_type ())
G_DECLARE_FINAL_TYPE (GluetoolHandlerProbe, gluetool_handler_probe, GLUETOOL, HANDLER_PROBE, GObject)

struct _GluetoolHandlerProbe {
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (GluetoolHandlerProbe, gluetool_handler_probe, G_TYPE_OBJECT)

static guint probe_signal;

static void
gluetool_handler_probe_class_init (GluetoolHandlerProbeClass *klass)
{
  probe_signal = g_signal_new ("probed", G_TYPE_FROM_CLASS (klass),
                               G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                               0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
gluetool_handler_probe_init (GluetoolHandlerProbe *self)
{
}

/* ---- The probe -------------------------------------------------------------- */

static void
on_probed (GObject  *object,
           gpointer  user_data)
{
}

/* The ways a handler can be connected, each tried on an object of its own. */
typedef enum {
  CONNECT_DATA,
  CONNECT_DATA_DETAILED,
  CONNECT_DATA_AFTER,
  CONNECT_CLOSURE,
  CONNECT_CLOSURE_BY_ID,
  CONNECT_OBJECT,
  CONNECT_BLOCKED,
  /* Last: the bit the others set must be among the ones it sets. */
  CONNECT_NOTIFY,
  N_CONNECT_WAYS
} ConnectWay;

static const char *const connect_way_names[N_CONNECT_WAYS] = {
  "g_signal_connect_data()",
  "g_signal_connect_data() with a detail",
  "g_signal_connect_data() after",
  "g_signal_connect_closure()",
  "g_signal_connect_closure_by_id()",
  "g_signal_connect_object()",
  "a handler blocked at once",
  "a handler of \"notify\"",
};

static guint
read_word (GObject *object)
{
  return atomic_load_explicit ((atomic_uint *) (gpointer) ((guint8 *) object
                                                           + GLUETOOL_HANDLER_FLAG_WORD_OFFSET),
                               memory_order_relaxed);
}

static gulong
connect_one_way (GObject    *object,
                 GObject    *other,
                 ConnectWay  way)
{
  switch (way)
    {
    case CONNECT_DATA:
      return g_signal_connect_data (object, "probed", G_CALLBACK (on_probed), NULL, NULL, 0);
    case CONNECT_DATA_DETAILED:
      return g_signal_connect_data (object, "probed::detail", G_CALLBACK (on_probed), NULL, NULL, 0);
    case CONNECT_DATA_AFTER:
      return g_signal_connect_data (object, "probed", G_CALLBACK (on_probed), NULL, NULL,
                                    G_CONNECT_AFTER);
    case CONNECT_CLOSURE:
      return g_signal_connect_closure (object, "probed",
                                       g_cclosure_new (G_CALLBACK (on_probed), NULL, NULL), FALSE);
    case CONNECT_CLOSURE_BY_ID:
      return g_signal_connect_closure_by_id (object, probe_signal,
                                             g_quark_from_static_string ("detail"),
                                             g_cclosure_new (G_CALLBACK (on_probed), NULL, NULL),
                                             TRUE);
    case CONNECT_OBJECT:
      return g_signal_connect_object (object, "probed", G_CALLBACK (on_probed), other, 0);
    case CONNECT_BLOCKED:
      {
        gulong id = g_signal_connect_data (object, "probed", G_CALLBACK (on_probed), NULL, NULL, 0);

        g_signal_handler_block (object, id);
        return id;
      }
    case CONNECT_NOTIFY:
      return g_signal_connect_data (object, "notify", G_CALLBACK (on_probed), NULL, NULL, 0);
    case N_CONNECT_WAYS:
    default:
      g_assert_not_reached ();
    }
}

/* Connects a handler @way to a new object and disconnects it, checking the
 * word at each step. Returns the bits it set, or 0 with @failure set. */
static guint
probe_one_way (ConnectWay    way,
               guint         bit,
               const char  **failure)
{
  g_autoptr(GObject) object = g_object_new (GLUETOOL_TYPE_HANDLER_PROBE, NULL);
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  guint connected;
  gulong id;

  if (read_word (object) != 0)
    {
      *failure = "a new object does not read 0";
      return 0;
    }

  id = connect_one_way (object, other, way);
  connected = read_word (object);
  if (id == 0 || g_signal_handler_find (object, G_SIGNAL_MATCH_ID,
                                        way == CONNECT_NOTIFY ? g_signal_lookup ("notify", G_TYPE_OBJECT)
                                                              : probe_signal,
                                        0, NULL, NULL, NULL) != id)
    {
      *failure = "GLib did not connect the probe's handler";
      return 0;
    }
  if (way == CONNECT_NOTIFY ? (connected & bit) == 0
      : (connected == 0 || (connected & (connected - 1)) != 0 || (bit != 0 && connected != bit)))
    {
      *failure = "connecting did not set the same single bit";
      return 0;
    }

  g_signal_handler_disconnect (object, id);
  if (read_word (object) != connected)
    {
      *failure = "disconnecting changed the word";
      return 0;
    }
  return connected;
}

/* GObject's layout: 64-bit, a 32-bit ref_count followed by a 32-bit word of
 * padding before qdata, which is the last field. Then every way of
 * connecting, on objects of their own. Returns the bit, or 0 with @failure
 * set (and @failed_way, when a way failed). */
static guint
probe (const char **failure,
       const char **failed_way)
{
  guint bit = 0;

  if (GLIB_SIZEOF_VOID_P != 8 || sizeof (guint) != 4
      || G_STRUCT_OFFSET (GObject, ref_count) + 2 * sizeof (guint) != G_STRUCT_OFFSET (GObject, qdata)
      || G_STRUCT_OFFSET (GObject, qdata) + sizeof (gpointer) != sizeof (GObject))
    {
      *failure = "GObject has no padding word after ref_count";
      return 0;
    }

  for (ConnectWay way = 0; way < N_CONNECT_WAYS; way++)
    {
      guint connected = probe_one_way (way, bit, failure);

      if (connected == 0)
        {
          *failed_way = connect_way_names[way];
          return 0;
        }
      if (way != CONNECT_NOTIFY)
        bit = connected;
    }
  return bit;
}

/* The probe, once. The whole g_once is a region (see process-private.h),
 * not only the probe's GLib calls: fork() between entering the once and
 * leaving it would leave the child's once "in progress" for ever, and its
 * first action waiting on it. A thread that waits here for another's probe
 * waits inside a region, which cannot hold fork() up for ever: the thread
 * probing is inside a region too, and a thread already inside one never
 * waits for fork(). The probe runs none of the program's code; the debug
 * message, which runs the program's log writer, is written after the
 * region, by the thread that probed. Once per process, so g_debug() itself. */
static void
run_probe_once (void)
{
  const char *failure = NULL;
  const char *failed_way = NULL;
  gboolean ran = FALSE;
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();

  if (GLUETOOL_ONCE_INIT_ENTER (&probed))
    {
      probed_bit = probe (&failure, &failed_way);
      atomic_store_explicit (&gluetool_handler_flag_bit_, probed_bit, memory_order_relaxed);
      ran = TRUE;
      GLUETOOL_ONCE_INIT_LEAVE (&probed, 1);
      /* Release, pairing with the acquire in ensure_probed(): a thread that
       * sees it set skips the once and reads probed_bit. */
      atomic_store_explicit (&probe_finished, true, memory_order_release);
    }
  g_clear_pointer (&region, gluetool_process_region_leave);

  if (!ran)
    return;
  if (probed_bit != 0)
    g_debug ("Signal handlers are looked for without GLib's lock: GLib %u.%u.%u marks an "
             "object that ever had one with bit 0x%x", glib_major_version, glib_minor_version,
             glib_micro_version, probed_bit);
  else
    g_debug ("Signal handlers are looked for under GLib's lock: %s%s%s",
             failed_way != NULL ? failed_way : "", failed_way != NULL ? ": " : "", failure);
}

void
gluetool_handler_flag_ensure_probed (void)
{
  if (G_LIKELY (atomic_load_explicit (&probe_finished, memory_order_acquire)))
    return;
  run_probe_once ();
}

gboolean
gluetool_handler_flag_probe_passed (void)
{
  gluetool_handler_flag_ensure_probed ();
  return probed_bit != 0;
}

void
gluetool_handler_flag_force_unknown (gboolean force)
{
  gluetool_handler_flag_ensure_probed ();
  atomic_store_explicit (&gluetool_handler_flag_bit_, force ? 0 : probed_bit,
                         memory_order_relaxed);
}
