/* recycler.c: finished objects each thread keeps, to make again
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <gio/gio.h>

#include "handler-flag-private.h"
#include "process-private.h"
#include "config-private.h"
#include "recycler-private.h"
#include "sync-private.h"
#include "thread-state-private.h"

/* Only a few of the most recent objects are looked at when taking one: in
 * the usual pattern (finish, unref, make the next) the last object kept is
 * free already, and a thread whose actions all stay referenced should not
 * pay for a scan of every slot each time it makes one. */
#define TAKE_SCAN_DEPTH 4

typedef struct {
  guint    n_kept;
  guint    next_to_check;                     /* see gluetool_recycler_keep() */
  guint64  n_taken;                           /* made again, ever */
  GObject *kept[GLUETOOL_RECYCLER_CAPACITY];  /* (owned) oldest first */
} Recycler;

static void recycler_free (gpointer data);


/* -1 until the once (see run_check_once()) has run: nothing is kept then.
 * Then 1 when the self-check passed and the environment (or a test) turns
 * recycling on, else 0. Relaxed: the value is the whole answer, and nothing
 * else is read on its strength. */
static atomic_int enabled = -1;

/* What the once found, read and written only after it (by the test hooks,
 * which g_once orders after it). */
static gboolean self_check_passed;
static gboolean environment_enabled;

/* Where GObject keeps an object's notify queue in its qdata while
 * g_object_unref() runs dispose(). Written in the once, before any object
 * that the recycler looks at is made (gluetool_recycler_ensure_checked()
 * runs before the first action), and read by threads that object reached
 * through whatever handed it over. */
static GQuark notify_queue_quark;

static gsize checked;
/* Set once the once is over: the cheap check that
 * gluetool_recycler_ensure_checked() makes. */
static atomic_bool check_finished;

gboolean
gluetool_recycler_is_enabled (void)
{
  return atomic_load_explicit (&enabled, memory_order_relaxed) > 0;
}

/* ---- What the recycler reads of GObject -------------------------------------- */

/* Nobody but the recycler can reach @object. The user's last unref was an
 * atomic decrement, and this seq_cst load reads its result, so everything the
 * user did to the object before happens before it is made again. qdata
 * carries GData's flag bits too (GObject keeps its toggle-reference and
 * floating flags there), which only ever make the answer "reachable". */
static inline gboolean
is_unreachable (GObject *object)
{
  return g_atomic_int_get ((gint *) &object->ref_count) == 1
         && g_atomic_pointer_get (&object->qdata) == NULL;
}

static gboolean
has_qdata (GObject *object)
{
  return g_atomic_pointer_get (&object->qdata) != NULL;
}

static void
count_qdata (GQuark   key,
             gpointer data,
             gpointer user_data)
{
  guint *n = user_data;

  (*n)++;
}

gboolean
gluetool_recycler_is_quiet_in_dispose (GObject *object)
{
  guint n = 0;

  if (!has_qdata (object))
    return TRUE;
  /* A notify_queue_quark still 0 (the once has not run) finds nothing:
   * "not quiet", the safe answer. */
  g_datalist_foreach (&object->qdata, count_qdata, &n);
  return n == 1 && g_datalist_id_get_data (&object->qdata, notify_queue_quark) != NULL;
}

gboolean
gluetool_recycler_is_alone_in_dispose (GObject *object)
{
  return g_atomic_int_get ((gint *) &object->ref_count) == 1
         && gluetool_recycler_is_quiet_in_dispose (object);
}

gboolean
gluetool_recycler_is_only_reference (GObject *object)
{
  /* seq_cst, as g_object_unref() reads them: a count of 1 comes after every
   * other holder's decrement, so all they did to the object happens before
   * whatever the caller does next. */
  return self_check_passed
         && g_atomic_int_get ((gint *) &object->ref_count) == 1
         && g_atomic_pointer_get (&object->qdata) == NULL;
}

/* ---- The self-check's own type ------------------------------------------------ */

/* What happened to a probe object, on the stack of the step that made it. */
typedef struct {
  guint     n_disposed;
  guint     n_finalized;
  guint     n_dispatched;       /* notifications of "value" dispatched */
  gboolean  quiet_in_dispose;   /* the last dispose(), before chaining up */
  gboolean  alone_in_dispose;   /* the same, after */
  gboolean  resurrect;          /* the next dispose() takes a reference... */
  GObject  *resurrected;        /* (owned) ...kept here */
} ProbeLog;

/* A bare final type with one property, whose dispose() behaves as an
 * action's does, and which counts its ends and its notifications. */
#define GLUETOOL_TYPE_RECYCLER_PROBE (gluetool_recycler_probe_get_type ())
G_DECLARE_FINAL_TYPE (GluetoolRecyclerProbe, gluetool_recycler_probe, GLUETOOL, RECYCLER_PROBE, GObject)

struct _GluetoolRecyclerProbe {
  GObject   parent_instance;
  int       value;
  ProbeLog *log;  /* (unowned) */
};

G_DEFINE_FINAL_TYPE (GluetoolRecyclerProbe, gluetool_recycler_probe, G_TYPE_OBJECT)

enum {
  PROBE_PROP_0,
  PROBE_PROP_VALUE,
  PROBE_N_PROPS
};

static GParamSpec *probe_properties[PROBE_N_PROPS];

static void
gluetool_recycler_probe_dispose (GObject *object)
{
  GluetoolRecyclerProbe *self = GLUETOOL_RECYCLER_PROBE (object);
  ProbeLog *log = self->log;

  log->n_disposed++;
  log->quiet_in_dispose = gluetool_recycler_is_quiet_in_dispose (object);
  /* GObject froze notifications for dispose(): this one is queued, and
   * dispatched only if the object is brought back. */
  g_object_notify_by_pspec (object, probe_properties[PROBE_PROP_VALUE]);

  G_OBJECT_CLASS (gluetool_recycler_probe_parent_class)->dispose (object);

  log->alone_in_dispose = gluetool_recycler_is_alone_in_dispose (object);
  if (log->resurrect)
    {
      log->resurrect = FALSE;
      log->resurrected = g_object_ref (object);
    }
}

static void
gluetool_recycler_probe_finalize (GObject *object)
{
  GluetoolRecyclerProbe *self = GLUETOOL_RECYCLER_PROBE (object);

  self->log->n_finalized++;
  G_OBJECT_CLASS (gluetool_recycler_probe_parent_class)->finalize (object);
}

/* Counted here rather than by a "notify" handler: emitting "notify" would
 * run the program's emission hooks, if it added any, and the self-check
 * runs inside a region, where nothing of the program's may run. */
static void
gluetool_recycler_probe_dispatch_properties_changed (GObject     *object,
                                                     guint        n_pspecs,
                                                     GParamSpec **pspecs)
{
  GluetoolRecyclerProbe *self = GLUETOOL_RECYCLER_PROBE (object);

  for (guint i = 0; i < n_pspecs; i++)
    if (pspecs[i] == probe_properties[PROBE_PROP_VALUE])
      self->log->n_dispatched++;
}

static void
gluetool_recycler_probe_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  GluetoolRecyclerProbe *self = GLUETOOL_RECYCLER_PROBE (object);

  switch (prop_id)
    {
    case PROBE_PROP_VALUE:
      self->value = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gluetool_recycler_probe_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  GluetoolRecyclerProbe *self = GLUETOOL_RECYCLER_PROBE (object);

  switch (prop_id)
    {
    case PROBE_PROP_VALUE:
      g_value_set_int (value, self->value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gluetool_recycler_probe_class_init (GluetoolRecyclerProbeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = gluetool_recycler_probe_dispose;
  object_class->finalize = gluetool_recycler_probe_finalize;
  object_class->dispatch_properties_changed = gluetool_recycler_probe_dispatch_properties_changed;
  object_class->set_property = gluetool_recycler_probe_set_property;
  object_class->get_property = gluetool_recycler_probe_get_property;

  probe_properties[PROBE_PROP_VALUE] =
    g_param_spec_int ("value", NULL, NULL, G_MININT, G_MAXINT, 0,
                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, PROBE_N_PROPS, probe_properties);
}

static void
gluetool_recycler_probe_init (GluetoolRecyclerProbe *self)
{
}

static GObject *
probe_new (ProbeLog *log)
{
  GluetoolRecyclerProbe *probe = g_object_new (GLUETOOL_TYPE_RECYCLER_PROBE, NULL);

  probe->log = log;
  return G_OBJECT (probe);
}

/* ---- The self-check -------------------------------------------------------------- */

static const char *const check_names[GLUETOOL_RECYCLER_N_CHECKS] = {
  "none",
  "a new object",
  "g_object_weak_ref()",
  "g_weak_ref_init()",
  "g_object_add_toggle_ref()",
  "g_signal_connect_object()",
  "g_object_set_qdata()",
  "dispose()",
  "a reference taken in dispose()",
  "the next unref",
};

static void
on_weak_notify (gpointer  data,
                GObject  *where_the_object_was)
{
}

static void
on_toggle_notify (gpointer  data,
                  GObject  *object,
                  gboolean  is_last_ref)
{
}

static void
on_other_notify (GObject    *other,
                 GParamSpec *pspec,
                 gpointer    probe)
{
}

/* What a reachability step holds the probe by, to let go of after. */
typedef struct {
  GWeakRef  weak_ref;
  GObject  *other;       /* (owned) the instance whose handler targets the probe */
  gulong    handler_id;
} Hold;

static GQuark
probe_quark (void)
{
  return g_quark_from_static_string ("gluetool-recycler-probe");
}

static void
take_hold (GObject               *probe,
           GluetoolRecyclerCheck  way,
           Hold                  *hold)
{
  switch (way)
    {
    case GLUETOOL_RECYCLER_CHECK_WEAK_REF:
      g_object_weak_ref (probe, on_weak_notify, NULL);
      break;
    case GLUETOOL_RECYCLER_CHECK_G_WEAK_REF:
      g_weak_ref_init (&hold->weak_ref, probe);
      break;
    case GLUETOOL_RECYCLER_CHECK_TOGGLE_REF:
      g_object_add_toggle_ref (probe, on_toggle_notify, NULL);
      break;
    case GLUETOOL_RECYCLER_CHECK_CONNECT_OBJECT:
      /* The handler is another object's; GObject watches its closure from
       * the probe, to disconnect it when the probe goes. */
      hold->other = g_object_new (G_TYPE_OBJECT, NULL);
      hold->handler_id = g_signal_connect_object (hold->other, "notify", G_CALLBACK (on_other_notify),
                                                  probe, 0);
      break;
    case GLUETOOL_RECYCLER_CHECK_QDATA:
      g_object_set_qdata (probe, probe_quark (), hold);
      break;
    case GLUETOOL_RECYCLER_CHECK_NONE:
    case GLUETOOL_RECYCLER_CHECK_NEW_OBJECT:
    case GLUETOOL_RECYCLER_CHECK_DISPOSE:
    case GLUETOOL_RECYCLER_CHECK_RESURRECTED:
    case GLUETOOL_RECYCLER_CHECK_FINALIZED:
    case GLUETOOL_RECYCLER_N_CHECKS:
    default:
      g_assert_not_reached ();
    }
}

static void
let_go (GObject               *probe,
        GluetoolRecyclerCheck  way,
        Hold                  *hold)
{
  switch (way)
    {
    case GLUETOOL_RECYCLER_CHECK_WEAK_REF:
      g_object_weak_unref (probe, on_weak_notify, NULL);
      break;
    case GLUETOOL_RECYCLER_CHECK_G_WEAK_REF:
      g_weak_ref_clear (&hold->weak_ref);
      break;
    case GLUETOOL_RECYCLER_CHECK_TOGGLE_REF:
      g_object_remove_toggle_ref (probe, on_toggle_notify, NULL);
      break;
    case GLUETOOL_RECYCLER_CHECK_CONNECT_OBJECT:
      g_signal_handler_disconnect (hold->other, hold->handler_id);
      g_clear_object (&hold->other);
      break;
    case GLUETOOL_RECYCLER_CHECK_QDATA:
      g_object_set_qdata (probe, probe_quark (), NULL);
      break;
    case GLUETOOL_RECYCLER_CHECK_NONE:
    case GLUETOOL_RECYCLER_CHECK_NEW_OBJECT:
    case GLUETOOL_RECYCLER_CHECK_DISPOSE:
    case GLUETOOL_RECYCLER_CHECK_RESURRECTED:
    case GLUETOOL_RECYCLER_CHECK_FINALIZED:
    case GLUETOOL_RECYCLER_N_CHECKS:
    default:
      g_assert_not_reached ();
    }
}

/* A new probe, held @way by a holder other than its one reference (which
 * plays the recycler's), must look reachable. Returns a failure, or NULL. */
static const char *
check_reachable (GluetoolRecyclerCheck way)
{
  ProbeLog log = { 0 };
  GObject *probe = probe_new (&log);
  Hold hold = { 0 };
  gboolean unreachable;

  take_hold (probe, way, &hold);
  unreachable = is_unreachable (probe);
  let_go (probe, way, &hold);
  g_object_unref (probe);
  return unreachable ? "the object looks unreachable while held that way" : NULL;
}

static const char *
check_new_object (void)
{
  ProbeLog log = { 0 };
  GObject *probe = probe_new (&log);
  gboolean unreachable = is_unreachable (probe);

  g_object_unref (probe);
  return unreachable ? NULL : "a new object with one reference looks reachable";
}

/* What an action's dispose() reads: a clean object is quiet and alone; one
 * with a weak reference is not quiet. */
static const char *
check_dispose (void)
{
  ProbeLog clean = { 0 };
  ProbeLog watched = { 0 };
  GObject *probe = probe_new (&watched);

  g_object_weak_ref (probe, on_weak_notify, NULL);
  g_object_unref (probe);
  g_object_unref (probe_new (&clean));

  if (clean.n_disposed != 1 || watched.n_disposed != 1)
    return "dispose() did not run once at the last unref";
  if (!clean.quiet_in_dispose)
    return "the qdata of an object nobody watches holds more than the notify queue";
  if (!clean.alone_in_dispose)
    return "an object nobody else holds does not look alone after chaining up";
  if (watched.quiet_in_dispose)
    return "an object with a weak reference looks quiet";
  return NULL;
}

/* A reference taken in dispose() brings the object back clean; the next
 * last unref ends it. Fills in the failure of both steps, or NULL. */
static void
check_resurrection (const char **resurrected_failure,
                    const char **finalized_failure)
{
  ProbeLog log = { .resurrect = TRUE };
  GObject *probe = probe_new (&log);
  int value = 0;

  *resurrected_failure = NULL;
  *finalized_failure = NULL;

  g_object_unref (probe);
  if (log.n_finalized != 0 || log.resurrected != probe)
    {
      /* Gone, for all the reference taken: nothing more to look at. */
      *resurrected_failure = "the object was finalized";
      *finalized_failure = "not reached";
      return;
    }
  if (!is_unreachable (probe))
    *resurrected_failure = "its reference count is not 1, or it has qdata";
  else if (log.n_dispatched != 1)
    *resurrected_failure = "the notification queued in dispose() was not dispatched";

  g_object_set (probe, "value", 7, NULL);
  g_object_get (probe, "value", &value, NULL);
  if (*resurrected_failure == NULL && (value != 7 || log.n_dispatched != 2))
    *resurrected_failure = "setting a property was not kept or not notified";

  g_clear_object (&log.resurrected);
  if (log.n_disposed != 2 || log.n_finalized != 1)
    *finalized_failure = "the object was not disposed and finalized";
}

/* Every step, each on objects of its own. Returns the first step that
 * failed (or @forced, made to fail), with @failure set, or
 * GLUETOOL_RECYCLER_CHECK_NONE. Every step runs, so a forced failure
 * exercises the rest as a real one would not stop them either. */
static GluetoolRecyclerCheck
self_check (GluetoolRecyclerCheck   forced,
            const char            **failure)
{
  const char *failures[GLUETOOL_RECYCLER_N_CHECKS] = { NULL };

  failures[GLUETOOL_RECYCLER_CHECK_NEW_OBJECT] = check_new_object ();
  for (GluetoolRecyclerCheck way = GLUETOOL_RECYCLER_CHECK_WEAK_REF;
       way <= GLUETOOL_RECYCLER_CHECK_QDATA; way++)
    failures[way] = check_reachable (way);
  failures[GLUETOOL_RECYCLER_CHECK_DISPOSE] = check_dispose ();
  check_resurrection (&failures[GLUETOOL_RECYCLER_CHECK_RESURRECTED],
                      &failures[GLUETOOL_RECYCLER_CHECK_FINALIZED]);

  if (forced != GLUETOOL_RECYCLER_CHECK_NONE && failures[forced] == NULL)
    failures[forced] = "made to fail by a test";

  for (GluetoolRecyclerCheck step = GLUETOOL_RECYCLER_CHECK_NEW_OBJECT;
       step < GLUETOOL_RECYCLER_N_CHECKS; step++)
    {
      if (failures[step] != NULL)
        {
          *failure = failures[step];
          return step;
        }
    }
  return GLUETOOL_RECYCLER_CHECK_NONE;
}

/* Once per process, or again for a test. The self-check runs none of the
 * program's code (its probe type's callbacks are its own), so it runs
 * inside a region; the message is written after, outside. */
static void
report_check (GluetoolRecyclerCheck  failed,
              const char            *failure)
{
  if (failed == GLUETOOL_RECYCLER_CHECK_NONE)
    g_debug ("Finished actions may be recycled: GLib %u.%u.%u passes the recycler's self-check",
             glib_major_version, glib_minor_version, glib_micro_version);
  else
    g_message ("Finished actions are not recycled: GLib %u.%u.%u fails the recycler's "
               "self-check (%s: %s)", glib_major_version, glib_minor_version,
               glib_micro_version, check_names[failed], failure);
}

static void
publish_enabled (void)
{
  atomic_store_explicit (&enabled, self_check_passed && environment_enabled ? 1 : 0,
                         memory_order_relaxed);
}

/* The environment and the self-check, once. The whole g_once is a region
 * (see process-private.h), for the reason handler-flag.c gives: fork()
 * between entering the once and leaving it would leave the child's once
 * "in progress" for ever. A thread waiting here for another's check waits
 * inside a region, which cannot hold fork() up for ever: the thread
 * checking is inside one too, and never waits for fork(). The messages,
 * which run the program's log writer, are written after the region by the
 * thread that checked. */
static void
run_check_once (void)
{
  g_autoptr(GError) error = NULL;
  GluetoolRecyclerCheck failed = GLUETOOL_RECYCLER_CHECK_NONE;
  const char *failure = NULL;
  gboolean ran = FALSE;
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();

  if (GLUETOOL_ONCE_INIT_ENTER (&checked))
    {
      notify_queue_quark = g_quark_from_static_string ("GObject-notify-queue");
      environment_enabled = gluetool_config_recycle_actions_from_env (&error);
      failed = self_check (GLUETOOL_RECYCLER_CHECK_NONE, &failure);
      self_check_passed = failed == GLUETOOL_RECYCLER_CHECK_NONE;
      publish_enabled ();
      ran = TRUE;
      GLUETOOL_ONCE_INIT_LEAVE (&checked, 1);
      /* Release, pairing with the acquire in
       * gluetool_recycler_ensure_checked(): a thread that sees it set skips
       * the once and may read what it wrote. */
      atomic_store_explicit (&check_finished, true, memory_order_release);
    }
  g_clear_pointer (&region, gluetool_process_region_leave);

  if (!ran)
    return;
  if (error != NULL)
    g_warning ("%s: ignored, so G_SLICE decides whether finished actions are recycled",
               error->message);
  report_check (failed, failure);
}

void
gluetool_recycler_ensure_checked (void)
{
  if (G_LIKELY (atomic_load_explicit (&check_finished, memory_order_acquire)))
    return;
  run_check_once ();
}

void
gluetool_recycler_set_enabled (gboolean is_enabled)
{
  gluetool_recycler_ensure_checked ();
  environment_enabled = is_enabled;
  publish_enabled ();
}

/* The check makes and drops objects of GLib's: a region (see
 * process-private.h). */
static GluetoolRecyclerCheck
self_check_in_region (GluetoolRecyclerCheck   failing,
                      const char            **failure)
{
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();

  return self_check (failing, failure);
}

GluetoolRecyclerCheck
gluetool_recycler_check_again (GluetoolRecyclerCheck failing)
{
  GluetoolRecyclerCheck failed;
  const char *failure = NULL;

  g_return_val_if_fail (failing < GLUETOOL_RECYCLER_N_CHECKS, GLUETOOL_RECYCLER_CHECK_NONE);

  gluetool_recycler_ensure_checked ();
  failed = self_check_in_region (failing, &failure);

  self_check_passed = failed == GLUETOOL_RECYCLER_CHECK_NONE;
  publish_enabled ();
  report_check (failed, failure);
  return failed;
}

/* ---- Kept objects ---------------------------------------------------------------- */

static Recycler *
get_thread_recycler (void)
{
  Recycler *recycler = gluetool_thread_state_get (GLUETOOL_THREAD_SLOT_RECYCLER);

  if (G_UNLIKELY (recycler == NULL))
    {
      recycler = g_new0 (Recycler, 1);
      gluetool_thread_state_set (GLUETOOL_THREAD_SLOT_RECYCLER, recycler, recycler_free);
    }
  return recycler;
}

/* Whether @object has any signal handler, blocked or not, of any signal of
 * its type or its ancestors'. GLib's flag answers without a lock (a
 * superset: handlers since disconnected count). Without it, the look is
 * under GLib's global signal lock, once per signal, and it allocates: not
 * for the hot path (an action's dispose() knows its two signals and looks
 * at those alone). */
static gboolean
has_any_handler (GObject *object)
{
  GluetoolHandlerFlag flag = gluetool_handler_flag_read (object);

  if (flag != GLUETOOL_HANDLER_FLAG_UNKNOWN)
    return flag == GLUETOOL_HANDLER_FLAG_EVER;

  for (GType type = G_OBJECT_TYPE (object); type != 0; type = g_type_parent (type))
    {
      guint n_ids = 0;
      g_autofree guint *ids = g_signal_list_ids (type, &n_ids);

      /* Matching the id alone finds blocked handlers and detailed ones too. */
      for (guint i = 0; i < n_ids; i++)
        if (g_signal_handler_find (object, G_SIGNAL_MATCH_ID, ids[i], 0, NULL, NULL, NULL) != 0)
          return TRUE;
    }
  return FALSE;
}

/* Drops @object's reference inside a region, and returns TRUE, when nothing
 * of the program's can run in its end; else FALSE, and the caller drops it
 * outside. (transfer full when TRUE) */
static gboolean
release_quietly_in_region (GObject *object)
{
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();

  if (has_qdata (object) || has_any_handler (object))
    return FALSE;
  g_object_unref (object);
  return TRUE;
}

/* Drops the recycler's reference, usually the last. Inside a region when
 * nothing of the program's can run in the object's end: no qdata (weak
 * references, toggle references, data with destroy notifications), and no
 * signal handler, blocked or not, connected since it was kept. Not on the
 * hot path, so the thorough look is affordable. (transfer full) */
static void
release (GObject *object)
{
  if (!release_quietly_in_region (object))
    g_object_unref (object);
}

static void
release_all (Recycler *recycler)
{
  /* Released one by one, the array consistent at each unref: an object's
   * finalize runs code the recycler does not know, which may keep or take
   * objects on this very thread. */
  while (recycler->n_kept > 0)
    {
      GObject *object = recycler->kept[--recycler->n_kept];

      recycler->kept[recycler->n_kept] = NULL;
      release (object);
    }
}

static void
recycler_free (gpointer data)
{
  Recycler *recycler = data;

  release_all (recycler);
  g_free (recycler);
}

/* Takes entry @i out, keeping the order of the others. (transfer full) */
static GObject *
remove_at (Recycler *recycler,
           guint     i)
{
  GObject *object = recycler->kept[i];

  /* Usually the newest (gluetool_recycler_take()): nothing to move. */
  if (i + 1 < recycler->n_kept)
    memmove (&recycler->kept[i], &recycler->kept[i + 1],
             (recycler->n_kept - i - 1) * sizeof recycler->kept[0]);
  recycler->kept[--recycler->n_kept] = NULL;
  /* The entries after it moved down one: the next to check moves with them. */
  if (i < recycler->next_to_check)
    recycler->next_to_check--;
  return object;
}

static gboolean keep (GObject *object);

/* Whether @object, kept with no handler, was given one since. GLib's flag
 * tells without a lock, blocked handlers and handlers since disconnected
 * included; it was clear when the object was kept (see keep()). Without
 * the flag, one look under GLib's signal lock, for unblocked handlers: a
 * blocked one stays until the object is released. The user's last unref,
 * which is_unreachable() read, orders any connection before this read. */
static gboolean
has_handler_since_kept (GObject *object)
{
  GluetoolHandlerFlag flag = gluetool_handler_flag_read (object);

  if (flag != GLUETOOL_HANDLER_FLAG_UNKNOWN)
    return flag == GLUETOOL_HANDLER_FLAG_EVER;
  return g_signal_handler_find (object, G_SIGNAL_MATCH_UNBLOCKED, 0, 0, NULL, NULL, NULL) != 0;
}

gboolean
gluetool_recycler_keep (GObject *object)
{
  /* Whoever holds a weak reference (or a toggle reference, or data) expects
   * to hear of the object's end at the last g_object_unref(), which keeping
   * it would put off. */
  if (has_qdata (object))
    return FALSE;
  return keep (object);
}

gboolean
gluetool_recycler_keep_from_dispose (GObject *object)
{
  return keep (object);
}

static gboolean
keep (GObject *object)
{
  Recycler *recycler;
  GObject *given_up = NULL;
  GObject *oldest = NULL;

  if (!gluetool_recycler_is_enabled ())
    return FALSE;
  /* One that ever had a signal handler would be handed back as stale by
   * gluetool_recycler_take(): GLib's flag stays set. */
  if (gluetool_handler_flag_read (object) == GLUETOOL_HANDLER_FLAG_EVER)
    return FALSE;

  recycler = get_thread_recycler ();

  /* An object may have been given qdata since it was kept (a weak reference
   * taken after finishing): it can never be made again, and whoever watches
   * it waits for it to go. One kept object is looked at per call, in turn
   * (the cursor wraps, and follows the entries when one before it goes), so
   * none waits longer than about CAPACITY calls however the thread reuses
   * its newest ones, and a call reads one more line at most. */
  if (recycler->n_kept > 0)
    {
      guint i;

      if (recycler->next_to_check >= recycler->n_kept)
        recycler->next_to_check = 0;
      i = recycler->next_to_check++;
      if (has_qdata (recycler->kept[i]))
        given_up = remove_at (recycler, i);
    }
  if (recycler->n_kept == GLUETOOL_RECYCLER_CAPACITY)
    oldest = remove_at (recycler, 0);
  recycler->kept[recycler->n_kept++] = g_object_ref (object);

  /* Last, with the array consistent: freeing one runs code the recycler
   * does not know, which may come back here. */
  if (given_up != NULL)
    release (given_up);
  if (oldest != NULL)
    release (oldest);
  return TRUE;
}

GObject *
gluetool_recycler_take (GObject **stale)
{
  Recycler *recycler;
  guint depth;

  if (!gluetool_recycler_is_enabled ())
    return NULL;

  recycler = gluetool_thread_state_get (GLUETOOL_THREAD_SLOT_RECYCLER);
  if (recycler == NULL)
    return NULL;

  depth = MIN (recycler->n_kept, TAKE_SCAN_DEPTH);
  for (guint i = recycler->n_kept; i > recycler->n_kept - depth; i--)
    {
      GObject *object = recycler->kept[i - 1];

      if (!is_unreachable (object))
        continue;

      remove_at (recycler, i - 1);
      /* A handler connected since it was kept, which its last
       * g_object_unref() would have destroyed: it is not made again, but
       * handed back to be released outside the caller's region, as the
       * handler's destroy notification is the program's code. */
      if (has_handler_since_kept (object))
        {
          *stale = object;
          return NULL;
        }
      recycler->n_taken++;
      return object;
    }
  return NULL;
}

void
gluetool_recycler_get_thread_counts (guint   *n_kept,
                                     guint64 *n_taken)
{
  Recycler *recycler = gluetool_thread_state_get (GLUETOOL_THREAD_SLOT_RECYCLER);

  *n_kept = recycler != NULL ? recycler->n_kept : 0;
  *n_taken = recycler != NULL ? recycler->n_taken : 0;
}

void
gluetool_recycler_clear_thread (void)
{
  Recycler *recycler = gluetool_thread_state_get (GLUETOOL_THREAD_SLOT_RECYCLER);

  if (recycler != NULL)
    release_all (recycler);
}
