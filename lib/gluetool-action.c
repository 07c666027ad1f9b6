/* gluetool-action.c: a piece of work with a label, a start and an end
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "action-stack-private.h"
#include "debug-private.h"
#include "gluetool-span-context-private.h"
#include "gluetool-tracer-private.h"
#include "handler-flag-private.h"
#include "ids-private.h"
#include "monotonic-clock-private.h"
#include "process-private.h"
#include "quiet-end-private.h"
#include "recycler-private.h"
#include "remote-parent-private.h"
#include "span-report-private.h"
#include "tag-set-private.h"
#include "wall-clock-private.h"

/**
 * GluetoolAction:
 *
 * An action is a piece of work with a label, a start and an end, a parent and
 * tags, as in gluetool's `gluetool.action`. It starts when it is made and is
 * pushed on the calling thread's stack of unfinished actions;
 * [func@Gluetool.Action.get_current] is the top of that stack.
 * [method@Gluetool.Action.finish] takes it off and emits
 * [signal@Gluetool.Action::finished], whose class handler reports the action
 * as a Jaeger span to the default [class@Gluetool.Tracer].
 *
 * An action without a parent starts a new trace. The parent is never taken
 * from the thread's stack implicitly, as in gluetool; pass
 * [func@Gluetool.Action.get_current] to nest under the current action.
 *
 * Traces cross processes: [method@Gluetool.Action.dup_context] gives an
 * action's [struct@Gluetool.SpanContext] to hand to another process, and
 * [ctor@Gluetool.Action.new_with_remote_parent] starts an action under one
 * received. A process started with `TRACEPARENT` in its environment (see
 * [method@Gluetool.SpanContext.inject_environ]) starts its actions without
 * a parent under that remote span, so it joins its parent process's trace
 * with no code; see [func@Gluetool.Action.set_default_remote_parent] for
 * the details and the ways to turn that off.
 *
 * Dropping the last reference to an unfinished action finishes it, so
 * `g_autoptr(GluetoolAction)` works as Python's `with` block does:
 *
 * ```c
 * {
 *   g_autoptr(GluetoolAction) action = gluetool_action_new ("some label", NULL);
 *
 *   gluetool_action_set_tag_string (action, "foo", "bar");
 *   do_the_work ();
 * } // finished and reported here
 * ```
 *
 * In C, `g_autoptr(GluetoolAction)` drops its reference with
 * [method@Gluetool.Action.release] rather than g_object_unref(): the same,
 * but safe while another thread calls fork().
 *
 * A child holds no reference to its parent, only its ids, so a parent
 * dropped before its children finishes then, and they are still reported
 * as its children (see [method@Gluetool.Action.get_parent]).
 *
 * An action's tags and logs may be set from one thread at a time, and not
 * while another thread finishes it: finishing encodes them. Finishing may
 * happen from any thread.
 *
 * A finished action is recycled: [method@Gluetool.Action.finish] hands it to
 * the finishing thread, and once nobody else holds a reference, that
 * thread's next [ctor@Gluetool.Action.new] makes the same object again rather
 * than a new one, which saves more than the rest of the action costs. An
 * action dropped unfinished is finished and kept the same way. An action
 * that has weak references or qdata when it finishes, or that ever had a
 * signal handler, is not kept, so whoever watches it hears of its end at
 * the last g_object_unref(); a weak reference taken after finishing (as
 * g_assert_finalize_object() does) hears of it within the next 32 actions
 * that thread finishes, or when the thread exits. `G_SLICE=always-malloc`
 * turns recycling off, for memory checkers;
 * `GLUETOOL_TRACING_RECYCLE_ACTIONS=0` or `1` decides either way.
 *
 * Since: 0.1
 */

struct _GluetoolAction {
  GObject              parent_instance;

  char                *label;              /* label_storage, or (owned) when longer */
  gsize                label_len;
  GluetoolActionStack *home_stack;         /* (owned) the stack it was pushed on */

  guint64              trace_id_high;
  guint64              trace_id_low;
  guint64              span_id;
  guint64              parent_span_id;     /* 0 for a root */
  GluetoolSpanIds      ids;                /* the four, encoded at start */
  gboolean             ids_encoded;        /* else the span encodes them */
  gboolean             parent_is_local;    /* an action of this process, given to new() */
  guint8               flags;              /* Jaeger's, GLUETOOL_SPAN_CONTEXT_FLAG_* */
  /* A trace root's sampler, for its sampler.* tags: GluetoolSamplerTag. */
  guint8               sampler_tag;
  double               sampler_param;
  gint64               start_time_us;      /* wall clock, for the span */
  gint64               start_monotonic_us; /* for the duration */
  gint64               duration_us;

  atomic_bool          finished;           /* (atomic) */
  gboolean             started;
  gboolean             sealed;             /* the span is encoded: no more tags */

  /* The construct properties, until constructed() starts the action with
   * them (only when made by g_object_new() with properties). */
  /* Set by dispose() when finalize() follows and is to end its region. */
  GluetoolProcessRegion *region_to_end_in_finalize;
  char                *construct_label;    /* (owned) (nullable) */
  GluetoolAction      *construct_parent;   /* (owned) (nullable) */

  GluetoolTagSet       tags;
  GluetoolBuffer       logs;               /* encoded Log structs */
  guint                n_logs;

  /* Most labels fit here, which saves an allocation per action. */
  char                 label_storage[48];
};

enum {
  PROP_0,
  PROP_LABEL,
  PROP_PARENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* With GObject's "notify", every signal an action has: the ones whose
 * handlers decide whether its end is quiet (see quiet-end-private.h). */
enum {
  FINISHED,
  NOTIFY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (GluetoolAction, gluetool_action, G_TYPE_OBJECT)

/**
 * gluetool_action_error_quark:
 *
 * The error domain of [class@Gluetool.Action], as %GLUETOOL_ACTION_ERROR.
 *
 * Returns: the error domain's quark
 *
 * Since: 0.1
 */
G_DEFINE_QUARK (gluetool-action-error-quark, gluetool_action_error)

/* What valid_utf8() repaired, owned by the caller; almost always %NULL,
 * so it is freed at scope exit only when set: g_autofree would call
 * g_free(NULL) for every name and label. */
typedef char *RepairedText;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (RepairedText, g_free, NULL)

/* Jaeger requires UTF-8. Invalid bytes are replaced rather than the text
 * refused, so the span still arrives, and the caller is told. Labels and
 * tag names are mostly ASCII: their bytes are passed over one test each,
 * and GLib's validation starts at the first that is not, which begins a
 * character. Returns @text, or its repaired copy (then put in *@repaired
 * for the caller to free), with its length in *@len: the check found the
 * end, so nobody needs strlen() after it. */
static const char *
valid_utf8 (const char  *what,
            const char  *text,
            char       **repaired,
            gsize       *len)
{
  const guchar *rest = (const guchar *) text;
  const char *end;

  while (*rest != '\0' && *rest < 0x80)
    rest++;
  if (G_LIKELY (*rest == '\0'))
    {
      *len = (gsize) ((const char *) rest - text);
      return text;
    }
  if (g_utf8_validate ((const char *) rest, -1, &end))
    {
      *len = (gsize) (end - text);
      return text;
    }
  g_warning ("%s is not valid UTF-8; invalid bytes were replaced", what);
  *repaired = g_utf8_make_valid (text, -1);
  *len = strlen (*repaired);
  return *repaired;
}

/* ---- The span -------------------------------------------------------------- */

/* The class handler of ::finished: seals the action and reports its span.
 * Outside any region. */
static void
gluetool_action_real_finished (GluetoolAction *self)
{
  GluetoolTracer *tracer;
  GluetoolSpanFields span;

  self->sealed = TRUE;
  /* Unsampled: neither encoded nor queued, and not lost either. */
  if (!(self->flags & GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED))
    return;
  tracer = gluetool_tracer_get_reporting_default ();
  if (tracer == NULL)
    return;

  span = (GluetoolSpanFields) {
    .trace_id_low = self->trace_id_low,
    .trace_id_high = self->trace_id_high,
    .span_id = self->span_id,
    .parent_span_id = self->parent_span_id,
    .ids = self->ids_encoded ? &self->ids : NULL,
    .operation_name = self->label,
    .operation_name_len = self->label_len,
    .flags = self->flags,
    .start_time_us = self->start_time_us,
    .duration_us = self->duration_us,
    .tags = gluetool_tag_set_as_list (&self->tags),
    .logs = { self->logs.data, self->logs.len, self->n_logs },
  };
  gluetool_span_report (tracer, &span, self->sampler_tag, self->sampler_param);
}

/* ---- Life cycle ------------------------------------------------------------ */

/* What may warn, and so run the program's log writer, is done before the
 * region that starts an action: the label's UTF-8 check, and reading
 * TRACEPARENT on first use. So is what may wait for another thread doing
 * it once: the probe of GLib's handler flag, the recycler's self-check
 * and the clock's probe, which must have run before the first action is
 * made (see handler-flag-private.h, recycler-private.h,
 * monotonic-clock-private.h). Returns the label to use, as valid_utf8()
 * does. */
static const char *
prepare_to_start (const char  *label,
                  char       **repaired_label,
                  gsize       *label_len)
{
  gluetool_handler_flag_ensure_probed ();
  gluetool_recycler_ensure_checked ();
  gluetool_remote_parent_ensure_read ();
  gluetool_monotonic_clock_ensure_probed ();
  return valid_utf8 ("Action label", label, repaired_label, label_len);
}

/* A new trace's root asks the default tracer's sampler; with no tracer,
 * the trace is sampled, as no span is sent anyway and a child process may
 * have a tracer of its own. Inside a region: the tracer's cache may be
 * refreshed, and the stale one is dropped by the caller once out
 * (gluetool_tracer_drop_stale_default()). */
static inline void
decide_sampling (GluetoolAction *self)
{
  GluetoolTracer *tracer = gluetool_tracer_get_reporting_default ();
  GluetoolSamplingDecision decision;

  if (tracer == NULL)
    {
      self->flags = GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED;
      self->sampler_tag = GLUETOOL_SAMPLER_TAG_CONST;
      self->sampler_param = 1.0;
      return;
    }
  gluetool_tracer_decide (tracer, self->trace_id_low, self->label, &decision);
  self->flags = decision.sampled ? GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED : 0;
  self->sampler_tag = decision.tag;
  self->sampler_param = decision.param;
}

/* The label, in the action's own storage when it fits. */
static inline void
set_label (GluetoolAction *self,
           const char     *label,
           gsize           label_len)
{
  self->label_len = label_len;
  if (self->label_len < sizeof self->label_storage)
    {
      gluetool_copy_bytes ((guint8 *) self->label_storage, label, self->label_len);
      self->label_storage[self->label_len] = '\0';
      self->label = self->label_storage;
    }
  else
    self->label = g_strndup (label, self->label_len);
}

/* The calling thread's stack, which the action is pushed on. A recycled
 * action usually started on this very thread: its stack is kept rather
 * than let go and taken again. */
static inline void
take_home_stack (GluetoolAction *self)
{
  GluetoolActionStack *stack = gluetool_action_stack_get_for_thread ();

  if (self->home_stack != stack)
    {
      g_clear_pointer (&self->home_stack, gluetool_action_stack_unref);
      self->home_stack = gluetool_action_stack_ref (stack);
    }
}

/* The remote span's child, so not a trace root: parent_span_id is not 0,
 * and no sampler tags are added. The remote side decided whether the trace
 * is sampled; Jaeger's debug flag samples it whatever the sampled flag
 * says, and is kept for the whole subtree. */
static inline void
join_remote_parent (GluetoolAction            *self,
                    const GluetoolSpanContext *remote_parent)
{
  self->trace_id_high = remote_parent->trace_id_high;
  self->trace_id_low = remote_parent->trace_id_low;
  self->parent_span_id = remote_parent->span_id;
  self->flags = remote_parent->flags
                & (GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED | GLUETOOL_SPAN_CONTEXT_FLAG_DEBUG);
  if (self->flags & GLUETOOL_SPAN_CONTEXT_FLAG_DEBUG)
    self->flags |= GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED;
}

/* The trace, the parent span and the flags: @parent's; else
 * @remote_parent's, or the process's default remote parent's; else a new
 * trace's, sampled as the default tracer decides. */
static inline void
set_trace (GluetoolAction            *self,
           GluetoolAction            *parent,
           const GluetoolSpanContext *remote_parent)
{
  GluetoolSpanContext default_parent;

  /* The parent's ids are copied, and no reference is kept: threads that
   * make children of one shared action would all write its reference
   * count, one cache line bouncing between their cores at every child.
   * get_parent() finds the parent again by its span id. */
  self->parent_is_local = parent != NULL;
  if (parent != NULL)
    {
      self->trace_id_high = parent->trace_id_high;
      self->trace_id_low = parent->trace_id_low;
      self->parent_span_id = parent->span_id;
      self->flags = parent->flags;
      return;
    }

  if (remote_parent == NULL && gluetool_remote_parent_get (&default_parent))
    remote_parent = &default_parent;
  if (remote_parent != NULL)
    {
      join_remote_parent (self, remote_parent);
      return;
    }
  gluetool_ids_next_trace_id (&self->trace_id_high, &self->trace_id_low);
  decide_sampling (self);
}

/* The span's four id fields, encoded once (see GluetoolSpanIds), a child
 * copying its parent's; only for a span that will be encoded, sampled with
 * a tracer to report it. Else, should a tracer come before the action
 * finishes, its span encodes them from the ids. */
static inline void
encode_ids (GluetoolAction *self,
            GluetoolAction *parent)
{
  self->ids_encoded = FALSE;
  if (!(self->flags & GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED))
    return;
  /* A child of a parent that had a tracer needs no look for one. */
  if (parent != NULL && parent->ids_encoded)
    gluetool_span_ids_encode_child (&self->ids, &parent->ids, self->span_id);
  else if (gluetool_tracer_get_reporting_default () != NULL)
    gluetool_span_ids_encode (&self->ids, self->trace_id_low, self->trace_id_high, self->span_id,
                              self->parent_span_id);
  else
    return;
  self->ids_encoded = TRUE;
}

/* Actions made by gluetool_action_new() start there, not in constructed():
 * an action is made for every unit of work, and GObject's construct-property
 * machinery (a notify queue, a GValue per property) would cost more than the
 * rest of the action; a recycled one is not constructed at all. Made by
 * g_object_new() with "label" and "parent" (as language bindings do), an
 * action starts in constructed(). Inside a region; @label is valid UTF-8
 * (see prepare_to_start()). */
static void
start (GluetoolAction            *self,
       const char                *label,
       gsize                      label_len,
       GluetoolAction            *parent,
       const GluetoolSpanContext *remote_parent)
{
  set_label (self, label, label_len);
  take_home_stack (self);

  self->start_monotonic_us = gluetool_monotonic_clock_now_us ();
  self->start_time_us = gluetool_wall_clock_at (self->start_monotonic_us);

  set_trace (self, parent, remote_parent);
  self->span_id = gluetool_ids_next_span_id ();
  encode_ids (self, parent);

  gluetool_action_stack_push (self->home_stack, G_OBJECT (self), self->span_id);
  self->started = TRUE;
  gluetool_process_count_unfinished (+1);

  GLUETOOL_DEBUG ("Action '%s' started (trace %016" G_GINT64_MODIFIER "x%016" G_GINT64_MODIFIER "x"
           ", span %016" G_GINT64_MODIFIER "x, parent %016" G_GINT64_MODIFIER "x)",
           self->label, self->trace_id_high, self->trace_id_low, self->span_id,
           self->parent_span_id);
}

static gboolean finish_action (GluetoolAction  *self,
                               gboolean         may_keep,
                               GError         **error);

static inline gboolean
is_unfinished (GluetoolAction *self)
{
  return self->started && !atomic_load_explicit (&self->finished, memory_order_acquire);
}

/* Finishes an action whose last reference is being dropped. From another
 * thread it is not on that thread's stack, which is no mistake here. */
static void
finish_dropped (GluetoolAction *self,
                gboolean        may_keep)
{
  g_autoptr(GError) error = NULL;

  if (!finish_action (self, may_keep, &error)
      && !g_error_matches (error, GLUETOOL_ACTION_ERROR, GLUETOOL_ACTION_ERROR_NOT_ACTIVE))
    GLUETOOL_DEBUG ("Action '%s' dropped: %s", self->label, error->message);
}

static void
gluetool_action_dispose (GObject *object)
{
  GluetoolAction *self = GLUETOOL_ACTION (object);
  g_autoptr(GluetoolProcessRegion) region = NULL;
  gboolean finished_here = FALSE;
  gboolean quiet;
  gboolean alone;

  /* The last reference to an unfinished action is gone: it is finished now,
   * as leaving a Python `with` block would. */
  if (is_unfinished (self))
    {
      finish_dropped (self, FALSE);
      finished_here = TRUE;
    }

  /* GObject's dispose() destroys the signal handlers under GLib's global
   * signal lock, and what g_object_unref() does between dispose() and
   * finalize() takes that lock again. A child process made by fork() must
   * not copy it held, so this runs in a region (see process-private.h) when
   * nothing of the program's can run in it: no qdata to notify (weak
   * references, data) and no signal handler to destroy. The region lasts to
   * the end of finalize() when finalize() follows. What the program's own
   * g_object_unref() does before dispose() (GLib 2.74 freezes the notify
   * queue under a global lock) and after finalize() (the slice allocator)
   * is beyond reach from here; the library's own last unrefs (the
   * recycler's, gluetool_action_release()'s, which is g_autoptr's) are
   * regions around the whole g_object_unref(). The test that hangs without
   * this one: test-fork's "unreffing". */
  region = gluetool_process_region_enter ();
  quiet = gluetool_quiet_end_in_dispose (object, signals, N_SIGNALS);
  if (!quiet)
    g_clear_pointer (&region, gluetool_process_region_leave);

  G_OBJECT_CLASS (gluetool_action_parent_class)->dispose (object);

  if (!quiet)
    return;

  /* Nobody else holds the action (nobody can find it any more: finishing
   * took it off every stack) and GObject's dispose() left no qdata. */
  alone = gluetool_recycler_is_alone_in_dispose (object);

  /* Dropped unfinished by the program's own g_object_unref(): kept by this
   * thread's recycler rather than freed, which saves both the end and the
   * next g_object_new(). GObject allows this: with a reference taken in
   * dispose(), g_object_unref() does not finalize, and the region ends
   * here. */
  if (alone && finished_here && gluetool_recycler_keep_from_dispose (object))
    return;

  /* Otherwise finalize() follows when nobody else holds it, and ends the
   * region itself. */
  if (alone)
    self->region_to_end_in_finalize = g_steal_pointer (&region);
}

/* What an action owns besides its home stack, let go of when it is freed or
 * made again. */
static void
release_contents (GluetoolAction *self)
{
  if (self->label != self->label_storage)
    g_free (self->label);
  self->label = NULL;
  gluetool_tag_set_clear (&self->tags);
  gluetool_buffer_clear (&self->logs);
}

static void
gluetool_action_finalize (GObject *object)
{
  GluetoolAction *self = GLUETOOL_ACTION (object);
  /* dispose()'s, when it began one (see there). */
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED =
    g_steal_pointer (&self->region_to_end_in_finalize);

  g_clear_pointer (&self->home_stack, gluetool_action_stack_unref);
  g_clear_pointer (&self->construct_label, g_free);
  g_clear_object (&self->construct_parent);
  release_contents (self);

  G_OBJECT_CLASS (gluetool_action_parent_class)->finalize (object);
}

/* Set while gluetool_action_new() makes an object, which it starts itself. */
static GLUETOOL_THREAD_LOCAL gboolean making_in_new;

static void
gluetool_action_constructed (GObject *object)
{
  GluetoolAction *self = GLUETOOL_ACTION (object);
  g_autofree char *label = g_steal_pointer (&self->construct_label);
  g_autoptr(GluetoolAction) parent = g_steal_pointer (&self->construct_parent);
  g_auto (RepairedText) repaired_label = NULL;
  const char *valid_label;
  gsize label_len;
  /* Last, so it ends before @parent is dropped. */
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = NULL;

  G_OBJECT_CLASS (gluetool_action_parent_class)->constructed (object);

  if (making_in_new)
    return;
  if (label == NULL)
    {
      g_critical ("A GluetoolAction was made without a label; its span is named \"\"");
      label = g_strdup ("");
    }
  /* Prepared, then started in a region, as in new_action(). */
  valid_label = prepare_to_start (label, &repaired_label, &label_len);
  region = gluetool_process_region_enter ();
  start (self, valid_label, label_len, parent, NULL);
  g_clear_pointer (&region, gluetool_process_region_leave);
  gluetool_tracer_drop_stale_default ();
}

static void
gluetool_action_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  GluetoolAction *self = GLUETOOL_ACTION (object);

  switch (prop_id)
    {
    case PROP_LABEL:
      g_free (self->construct_label);
      self->construct_label = g_value_dup_string (value);
      break;
    case PROP_PARENT:
      g_set_object (&self->construct_parent, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* The parent, found on the calling thread's stack by its span id (see
 * gluetool_action_get_parent()), with a reference taken under the stack's
 * lock, or NULL. (transfer full) */
static GluetoolAction *
dup_parent (GluetoolAction *self)
{
  if (!self->parent_is_local)
    return NULL;
  return (GluetoolAction *) gluetool_action_stack_dup_found (gluetool_action_stack_get_for_thread (),
                                                             self->parent_span_id);
}

static void
gluetool_action_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  GluetoolAction *self = GLUETOOL_ACTION (object);

  switch (prop_id)
    {
    case PROP_LABEL:
      g_value_set_string (value, self->label);
      break;
    case PROP_PARENT:
      g_value_take_object (value, dup_parent (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
install_properties (GObjectClass *object_class)
{
  /**
   * GluetoolAction:label:
   *
   * What the action does; the span's operation name. An action made with
   * g_object_new() and this property (as language bindings make one)
   * starts when it is constructed, as [ctor@Gluetool.Action.new] does.
   *
   * Since: 0.1
   */
  properties[PROP_LABEL] =
    g_param_spec_string ("label", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * GluetoolAction:parent:
   *
   * The action this one is started under, or %NULL for the first action of
   * a new trace. Read, it is what [method@Gluetool.Action.get_parent]
   * finds: the parent while it is unfinished on the calling thread's stack,
   * else %NULL (the action holds no reference to it); the value holds a
   * reference taken under the stack's lock, so it is safe to read even
   * when another thread may drop the last other reference to the parent.
   *
   * Since: 0.1
   */
  properties[PROP_PARENT] =
    g_param_spec_object ("parent", NULL, NULL, GLUETOOL_TYPE_ACTION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
install_signals (GObjectClass *object_class)
{
  /**
   * GluetoolAction::finished:
   * @self: the action
   *
   * Emitted once, when the action is finished, in the thread that finishes
   * it. The class handler, which runs last, reports the span to the default
   * tracer; a handler connected with g_signal_connect() sees the action's
   * final tags and can still add some.
   *
   * The signal is emitted only for an action that has a handler of this
   * signal connected, and not blocked, when it finishes. For every other
   * action the class handler is called directly, as an emission would call
   * it alone, so emission hooks (g_signal_add_emission_hook()) run only for
   * actions that have such a handler: a hook alone does not make actions
   * emit, as finding one would cost every action GLib's global signal lock.
   *
   * Since: 0.1
   */
  signals[FINISHED] =
    g_signal_new_class_handler ("finished",
                                G_TYPE_FROM_CLASS (object_class),
                                G_SIGNAL_RUN_LAST,
                                G_CALLBACK (gluetool_action_real_finished),
                                NULL, NULL,
                                g_cclosure_marshal_VOID__VOID,
                                G_TYPE_NONE, 0);
  signals[NOTIFY] = g_signal_lookup ("notify", G_TYPE_OBJECT);
}

static void
gluetool_action_class_init (GluetoolActionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = gluetool_action_constructed;
  object_class->dispose = gluetool_action_dispose;
  object_class->finalize = gluetool_action_finalize;
  object_class->get_property = gluetool_action_get_property;
  object_class->set_property = gluetool_action_set_property;

  install_properties (object_class);
  install_signals (object_class);
}

/* The state of a new action, as gluetool_action_init() leaves it, and as a
 * recycled one is made again: every field start() does not set. */
static void
init_contents (GluetoolAction *self)
{
  atomic_init (&self->finished, false);
  self->started = FALSE;
  self->sealed = FALSE;
  self->trace_id_high = 0;
  self->trace_id_low = 0;
  self->span_id = 0;
  self->parent_span_id = 0;
  self->ids_encoded = FALSE;
  self->parent_is_local = FALSE;
  self->flags = 0;
  self->sampler_tag = GLUETOOL_SAMPLER_TAG_CONST;
  self->sampler_param = 1.0;
  self->start_time_us = 0;
  self->start_monotonic_us = 0;
  self->duration_us = 0;
  gluetool_tag_set_init (&self->tags);
  gluetool_buffer_init (&self->logs, NULL, 0);
  self->n_logs = 0;
}

static void
gluetool_action_init (GluetoolAction *self)
{
  init_contents (self);
}

/* A finished action the calling thread kept that nobody holds any more
 * (see recycler-private.h), made new; else a new one. A recycled action
 * still holds its old home stack: start() keeps it when it is the one it
 * needs. A kept one given a handler since is handed back in @stale, for
 * the caller to drop outside its region. */
static GluetoolAction *
make_action (GObject **stale)
{
  GObject *recycled = gluetool_recycler_take (stale);

  if (recycled != NULL)
    {
      GluetoolAction *self = GLUETOOL_ACTION (recycled);

      release_contents (self);
      init_contents (self);
      return self;
    }
  {
    GluetoolAction *self;

    making_in_new = TRUE;
    self = g_object_new (GLUETOOL_TYPE_ACTION, NULL);
    making_in_new = FALSE;
    return self;
  }
}

/* Arguments checked by the caller; @tags not floating. */
static GluetoolAction *
new_action (const char                *label,
            GluetoolAction            *parent,
            const GluetoolSpanContext *remote_parent,
            GVariant                  *tags)
{
  g_auto (RepairedText) repaired_label = NULL;
  gsize label_len;
  const char *valid_label = prepare_to_start (label, &repaired_label, &label_len);
  g_autoptr(GObject) stale = NULL;
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = NULL;
  GluetoolAction *self;

  /* A region (see process-private.h): making an object with properties and
   * looking at a recycled one's handlers take GLib's global locks, and the
   * thread's stack its own lock. Nothing in it warns or drops an object
   * whose end runs the program's code: the tags, which may warn, are set
   * after it, and @stale is dropped after it. */
  region = gluetool_process_region_enter ();
  self = make_action (&stale);
  start (self, valid_label, label_len, parent, remote_parent);
  g_clear_pointer (&region, gluetool_process_region_leave);
  gluetool_tracer_drop_stale_default ();

  if (tags != NULL)
    gluetool_action_set_tags (self, tags);
  return self;
}

/* ---- Public API ------------------------------------------------------------ */

/**
 * gluetool_action_new:
 * @label: what the action does: the span's operation name
 * @parent: (nullable): the action this one is part of, or %NULL to start a
 *   new trace
 *
 * Starts an action and pushes it on the calling thread's stack of
 * unfinished actions.
 *
 * Without a parent, the action starts a new trace, unless the process has a
 * default remote parent (from `TRACEPARENT`, see
 * [func@Gluetool.Action.set_default_remote_parent]): then it is a child of
 * that remote span, as with [ctor@Gluetool.Action.new_with_remote_parent].
 *
 * Returns: (transfer full): the new action
 *
 * Since: 0.1
 */
GluetoolAction *
gluetool_action_new (const char     *label,
                     GluetoolAction *parent)
{
  return gluetool_action_new_with_tags (label, parent, NULL);
}

/**
 * gluetool_action_new_with_tags:
 * @label: what the action does: the span's operation name
 * @parent: (nullable): the action this one is part of, or %NULL to start a
 *   new trace
 * @tags: (nullable): tags to start with, a dictionary (`a{sv}`); a floating
 *   reference is taken
 *
 * Starts an action with tags; see [ctor@Gluetool.Action.new] and
 * [method@Gluetool.Action.set_tags].
 *
 * Returns: (transfer full): the new action
 *
 * Since: 0.1
 */
GluetoolAction *
gluetool_action_new_with_tags (const char     *label,
                               GluetoolAction *parent,
                               GVariant       *tags)
{
  /* Sunk first, so that a refused call does not leak a floating one. */
  g_autoptr(GVariant) owned_tags = tags != NULL ? g_variant_ref_sink (tags) : NULL;

  g_return_val_if_fail (label != NULL, NULL);
  g_return_val_if_fail (parent == NULL || GLUETOOL_IS_ACTION (parent), NULL);
  g_return_val_if_fail (tags == NULL || g_variant_is_of_type (tags, G_VARIANT_TYPE_VARDICT), NULL);

  return new_action (label, parent, NULL, owned_tags);
}

/**
 * gluetool_action_new_with_remote_parent:
 * @label: what the action does: the span's operation name
 * @remote_parent: the span, in another process, that this action is part of
 * @tags: (nullable): tags to start with, a dictionary (`a{sv}`); a floating
 *   reference is taken
 *
 * Starts an action as a child of a span of another process, whose context
 * came from [ctor@Gluetool.SpanContext.new_from_traceparent], from a
 * carrier, or from [method@Gluetool.Action.dup_context] over there: the
 * action joins that trace, its parent span id is the remote span id, and its
 * [property@Gluetool.Action:parent] is %NULL. It is not a trace root, so it
 * carries no sampler tags, and the tracer's sampler is not asked: the
 * remote sampled flag decides whether the action and its children are
 * sent, and Jaeger's debug flag, passed on to the action and its children,
 * samples them whatever that flag says. Otherwise it is as [ctor@Gluetool.Action.new]
 * with [method@Gluetool.Action.set_tags].
 *
 * Returns: (transfer full): the new action
 *
 * Since: 0.1
 */
GluetoolAction *
gluetool_action_new_with_remote_parent (const char                *label,
                                        const GluetoolSpanContext *remote_parent,
                                        GVariant                  *tags)
{
  /* Sunk first, so that a refused call does not leak a floating one. */
  g_autoptr(GVariant) owned_tags = tags != NULL ? g_variant_ref_sink (tags) : NULL;

  g_return_val_if_fail (label != NULL, NULL);
  g_return_val_if_fail (remote_parent != NULL, NULL);
  g_return_val_if_fail (tags == NULL || g_variant_is_of_type (tags, G_VARIANT_TYPE_VARDICT), NULL);

  return new_action (label, NULL, remote_parent, owned_tags);
}

/**
 * gluetool_action_finish:
 * @self: an action
 * @error: return location for a #GError
 *
 * Ends the action, takes it off the calling thread's stack wherever it is in
 * it (actions may finish out of order) and emits
 * [signal@Gluetool.Action::finished], which reports it. The calling thread
 * then keeps the action, to make it again once nobody else holds it (see
 * [class@Gluetool.Action]).
 *
 * Returns: %TRUE on success; %FALSE with %GLUETOOL_ACTION_ERROR_NOT_ACTIVE
 *   when the action was not on the calling thread's stack (it is finished
 *   and reported all the same), or with %GLUETOOL_ACTION_ERROR_FINISHED when
 *   it was finished already (nothing is reported again)
 *
 * Since: 0.1
 */
gboolean
gluetool_action_finish (GluetoolAction *self,
                        GError        **error)
{
  g_return_val_if_fail (GLUETOOL_IS_ACTION (self), FALSE);
  g_return_val_if_fail (self->started, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return finish_action (self, TRUE, error);
}

/* Takes @self off the calling thread's stack and, when it started on
 * another, off that one too; a thread's root comes off with its stack's
 * reference, handed to @root_ref or @home_root_ref. Returns whether it was
 * on the calling thread's stack. Inside the caller's region. */
static gboolean
take_off_stacks (GluetoolAction *self,
                 GObject       **root_ref,
                 GObject       **home_root_ref)
{
  GluetoolActionStack *stack = gluetool_action_stack_get_for_thread ();
  gboolean was_active = gluetool_action_stack_remove (stack, G_OBJECT (self), root_ref);

  /* Finished in another thread (as that thread's root, or not on its stack
   * at all): the stack it started on must not keep its borrowed pointer. */
  if (self->home_stack != stack)
    gluetool_action_stack_remove (self->home_stack, G_OBJECT (self), home_root_ref);
  return was_active;
}

/* Emitting costs a closure invocation and a marshaller; with no handler
 * connected, only the class handler would run, so it is called directly.
 * Whether any handler was ever connected decides both whether to look
 * for one of ::finished and whether the action may be kept: returns
 * whether to emit, and sets @may_have_handlers. Inside the caller's
 * region. */
static gboolean
look_for_handlers (GluetoolAction *self,
                   gboolean       *may_have_handlers)
{
  switch (gluetool_handler_flag_read (G_OBJECT (self)))
    {
    case GLUETOOL_HANDLER_FLAG_NEVER:
      /* The usual case, from GLib's flag: no lock at all. */
      *may_have_handlers = FALSE;
      return FALSE;
    case GLUETOOL_HANDLER_FLAG_EVER:
      /* One look under GLib's signal lock. Never kept, whatever it finds:
       * the flag stays set, so it could never be made again. */
      *may_have_handlers = TRUE;
      return g_signal_has_handler_pending (self, signals[FINISHED], 0, FALSE);
    case GLUETOOL_HANDLER_FLAG_UNKNOWN:
    default:
      /* GLib's flag is not trusted: one look under GLib's signal lock, for
       * unblocked handlers of any signal, tells both, and a second whether
       * to emit. A blocked handler is not seen, and is destroyed when the
       * recycler releases the action. */
      *may_have_handlers = g_signal_handler_find (self, G_SIGNAL_MATCH_UNBLOCKED, 0, 0, NULL, NULL,
                                                  NULL) != 0;
      return *may_have_handlers && g_signal_has_handler_pending (self, signals[FINISHED], 0, FALSE);
    }
}

/* Reports the span, emitting ::finished when it has a handler (see
 * look_for_handlers()), and seals the action. Outside any region. */
static void
report (GluetoolAction *self,
        gboolean        emit)
{
  if (emit)
    g_signal_emit (self, signals[FINISHED], 0);
  else
    gluetool_action_real_finished (self);
  gluetool_tracer_drop_stale_default ();
  self->sealed = TRUE;
}

/* @may_keep: whether the calling thread's recycler may keep the action to
 * make it again; not from dispose(), which decides that itself once
 * GObject's own dispose() has run (see gluetool_action_dispose()). */
static gboolean
finish_action (GluetoolAction  *self,
               gboolean         may_keep,
               GError         **error)
{
  /* A thread's root is held by its stack: taking it off hands that
   * reference here, to be dropped once the action is no longer used. */
  g_autoptr(GObject) root_ref = NULL;
  g_autoptr(GObject) home_root_ref = NULL;
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = NULL;
  gboolean was_active;
  gboolean may_have_handlers;
  gboolean emit;

  /* acq_rel: of two threads finishing at once, exactly one goes on, and it
   * sees everything the other did to the action before. */
  if (atomic_exchange_explicit (&self->finished, true, memory_order_acq_rel))
    {
      g_set_error (error, GLUETOOL_ACTION_ERROR, GLUETOOL_ACTION_ERROR_FINISHED,
                   "Action '%s' was finished already", self->label);
      return FALSE;
    }

  /* A region (see process-private.h) for the stacks' locks and GLib's
   * global signal lock. Reporting the span comes after it, as it does when
   * a handler of ::finished is emitted: it takes no lock of GLib's, and it
   * may wait for room in the queue, which a region must never do. */
  region = gluetool_process_region_enter ();
  gluetool_process_count_unfinished (-1);
  /* At least 0: another thread's clock may be a little behind. */
  self->duration_us = MAX (gluetool_monotonic_clock_now_us () - self->start_monotonic_us, 0);
  was_active = take_off_stacks (self, &root_ref, &home_root_ref);
  GLUETOOL_DEBUG ("Action '%s' finished after %" G_GINT64_FORMAT " us", self->label, self->duration_us);
  emit = look_for_handlers (self, &may_have_handlers);
  g_clear_pointer (&region, gluetool_process_region_leave);

  report (self, emit);

  /* Kept to be made again once the caller lets go (see recycler-private.h).
   * Not with handlers connected: the caller may count on their destroy
   * notifications at its last unref. */
  if (may_keep && !may_have_handlers)
    gluetool_recycler_keep (G_OBJECT (self));

  if (!was_active)
    {
      g_set_error (error, GLUETOOL_ACTION_ERROR, GLUETOOL_ACTION_ERROR_NOT_ACTIVE,
                   "Action '%s' is not active in this thread; it was reported anyway",
                   self->label);
      return FALSE;
    }
  return TRUE;
}

/**
 * gluetool_action_is_finished:
 * @self: an action
 *
 * Whether [method@Gluetool.Action.finish] was called.
 *
 * Returns: %TRUE once finished
 *
 * Since: 0.1
 */
gboolean
gluetool_action_is_finished (GluetoolAction *self)
{
  g_return_val_if_fail (GLUETOOL_IS_ACTION (self), FALSE);

  return atomic_load_explicit (&self->finished, memory_order_acquire);
}

/**
 * gluetool_action_release: (skip)
 * @self: (nullable) (transfer full): an action, or %NULL
 *
 * Drops the caller's reference to @self, as g_object_unref() does, and
 * finishes the action first when that reference is the last and it is
 * unfinished, as dropping the last reference always does (see
 * [class@Gluetool.Action]). `g_autoptr(GluetoolAction)` calls it at the
 * end of its scope; `g_clear_pointer (&action, gluetool_action_release)`
 * does the same for a pointer kept elsewhere.
 *
 * Unlike g_object_unref(), it is safe while another thread calls fork():
 * a child process never inherits one of GLib's global locks held because
 * this thread was ending an action at that instant. The last reference to
 * an action is dropped inside the library's fork protection, where GLib
 * 2.74's g_object_unref() takes GObject's global notify lock before any
 * code of the library runs. That protection never runs the program's own
 * code, so an action whose end runs some is released by g_object_unref(),
 * outside it, as before: one with a signal handler connected (ever, where
 * GLib tells), weak references, toggle references or data
 * (g_object_set_data()). A reference that is not the last is a plain
 * decrement, which takes no lock; it too goes through g_object_unref(),
 * which is left with the end when the other holders let go at the same
 * instant.
 *
 * %NULL is ignored, as g_free() ignores it: a list that g_autolist() frees
 * may hold some.
 *
 * Language bindings release their references themselves: for C.
 *
 * Since: 0.1
 */
void
gluetool_action_release (GluetoolAction *self)
{
  g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = NULL;

  if (self == NULL)
    return;
  g_return_if_fail (GLUETOOL_IS_ACTION (self));

  if (!gluetool_quiet_end_is_last_reference (G_OBJECT (self), signals, N_SIGNALS))
    {
      g_object_unref (self);
      return;
    }

  /* Finished as finish() does, outside any region of this function's:
   * finishing may drop a stale default tracer, whose end may wait for its
   * flush thread and warn, never inside a region. It hands the action to
   * this thread's recycler, so the unref below is then a plain decrement. */
  if (is_unfinished (self))
    finish_dropped (self, TRUE);

  /* The end inside a region, GObject's start of it included: freezing the
   * notify queue, dispose() (see there), the signal lock, finalize() and
   * the slice allocator. */
  region = gluetool_process_region_enter ();
  g_object_unref (self);
}

/* Tags set after the span was encoded would be lost without a word. Handlers
 * of ::finished run before that and may still set some. */
#define RETURN_IF_FINISHED(self)                                                \
  G_STMT_START {                                                                \
    if (G_UNLIKELY ((self)->sealed))                                            \
      {                                                                         \
        g_critical ("%s: action '%s' is finished; a tag or log set now would "  \
                    "never be reported", G_STRFUNC, (self)->label);             \
        return;                                                                 \
      }                                                                         \
  } G_STMT_END

/* An unsampled action is never sent, so its tags and logs are not kept
 * (as Jaeger's clients do): what it costs is the action alone. */
#define RETURN_IF_UNSAMPLED(self)                                               \
  G_STMT_START {                                                                \
    if (!((self)->flags & GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED))                  \
      return;                                                                   \
  } G_STMT_END

/**
 * gluetool_action_set_tag:
 * @self: an action
 * @name: the tag's name
 * @value: the tag's value; a floating reference is taken
 *
 * Sets a tag, replacing one of the same name. Booleans become Jaeger `BOOL`
 * tags; integers of every width `LONG` (a `uint64` beyond the `int64` range
 * is sent as its decimal text); doubles `DOUBLE`; strings, object paths and
 * signatures `STRING`; a variant is unwrapped first; anything else is sent as
 * its printed text (g_variant_print()).
 *
 * Since: 0.1
 */
void
gluetool_action_set_tag (GluetoolAction *self,
                         const char     *name,
                         GVariant       *value)
{
  g_autoptr(GVariant) owned_value = NULL;
  g_auto (RepairedText) repaired_name = NULL;
  gsize name_len;

  g_return_if_fail (GLUETOOL_IS_ACTION (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (value != NULL);

  owned_value = g_variant_ref_sink (value);
  RETURN_IF_FINISHED (self);
  RETURN_IF_UNSAMPLED (self);
  name = valid_utf8 ("Tag name", name, &repaired_name, &name_len);
  gluetool_tag_set_add_variant (&self->tags, name, name_len, owned_value);
}

/**
 * gluetool_action_set_tags:
 * @self: an action
 * @tags: a dictionary (`a{sv}`) of tags; a floating reference is taken
 *
 * Sets every tag in @tags as [method@Gluetool.Action.set_tag] does.
 *
 * Since: 0.1
 */
void
gluetool_action_set_tags (GluetoolAction *self,
                          GVariant       *tags)
{
  g_autoptr(GVariant) owned_tags = NULL;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_return_if_fail (tags != NULL);
  owned_tags = g_variant_ref_sink (tags);
  g_return_if_fail (GLUETOOL_IS_ACTION (self));
  g_return_if_fail (g_variant_is_of_type (tags, G_VARIANT_TYPE_VARDICT));
  RETURN_IF_FINISHED (self);
  RETURN_IF_UNSAMPLED (self);

  g_variant_iter_init (&iter, owned_tags);
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &value))
    gluetool_tag_set_add_variant (&self->tags, name, strlen (name), value);
}

/**
 * gluetool_action_set_tag_string:
 * @self: an action
 * @name: the tag's name
 * @value: the tag's value
 *
 * Sets a `STRING` tag, replacing one of the same name. Bytes that are not
 * valid UTF-8 are replaced (Jaeger requires UTF-8), with a warning.
 *
 * Since: 0.1
 */
void
gluetool_action_set_tag_string (GluetoolAction *self,
                                const char     *name,
                                const char     *value)
{
  g_auto (RepairedText) repaired_name = NULL;
  g_auto (RepairedText) repaired_value = NULL;
  gsize name_len, value_len;

  g_return_if_fail (GLUETOOL_IS_ACTION (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (value != NULL);
  RETURN_IF_FINISHED (self);
  RETURN_IF_UNSAMPLED (self);

  name = valid_utf8 ("Tag name", name, &repaired_name, &name_len);
  value = valid_utf8 ("Tag value", value, &repaired_value, &value_len);
  gluetool_tag_set_add_string (&self->tags, name, name_len, value, value_len);
}

/**
 * gluetool_action_set_tag_int64:
 * @self: an action
 * @name: the tag's name
 * @value: the tag's value
 *
 * Sets a `LONG` tag, replacing one of the same name.
 *
 * Since: 0.1
 */
void
gluetool_action_set_tag_int64 (GluetoolAction *self,
                               const char     *name,
                               gint64          value)
{
  g_auto (RepairedText) repaired_name = NULL;
  gsize name_len;

  g_return_if_fail (GLUETOOL_IS_ACTION (self));
  g_return_if_fail (name != NULL);
  RETURN_IF_FINISHED (self);
  RETURN_IF_UNSAMPLED (self);

  name = valid_utf8 ("Tag name", name, &repaired_name, &name_len);
  gluetool_tag_set_add_long (&self->tags, name, name_len, value);
}

/**
 * gluetool_action_set_tag_double:
 * @self: an action
 * @name: the tag's name
 * @value: the tag's value
 *
 * Sets a `DOUBLE` tag, replacing one of the same name.
 *
 * Since: 0.1
 */
void
gluetool_action_set_tag_double (GluetoolAction *self,
                                const char     *name,
                                double          value)
{
  g_auto (RepairedText) repaired_name = NULL;
  gsize name_len;

  g_return_if_fail (GLUETOOL_IS_ACTION (self));
  g_return_if_fail (name != NULL);
  RETURN_IF_FINISHED (self);
  RETURN_IF_UNSAMPLED (self);

  name = valid_utf8 ("Tag name", name, &repaired_name, &name_len);
  gluetool_tag_set_add_double (&self->tags, name, name_len, value);
}

/**
 * gluetool_action_set_tag_boolean:
 * @self: an action
 * @name: the tag's name
 * @value: the tag's value
 *
 * Sets a `BOOL` tag, replacing one of the same name.
 *
 * Since: 0.1
 */
void
gluetool_action_set_tag_boolean (GluetoolAction *self,
                                 const char     *name,
                                 gboolean        value)
{
  g_auto (RepairedText) repaired_name = NULL;
  gsize name_len;

  g_return_if_fail (GLUETOOL_IS_ACTION (self));
  g_return_if_fail (name != NULL);
  RETURN_IF_FINISHED (self);
  RETURN_IF_UNSAMPLED (self);

  name = valid_utf8 ("Tag name", name, &repaired_name, &name_len);
  gluetool_tag_set_add_bool (&self->tags, name, name_len, value);
}

/**
 * gluetool_action_add_log:
 * @self: an action
 * @fields: a dictionary (`a{sv}`) of fields; a floating reference is taken
 *
 * Adds a log to the span, stamped with the current time; its fields are
 * typed as tags are (see [method@Gluetool.Action.set_tag]).
 *
 * Since: 0.1
 */
void
gluetool_action_add_log (GluetoolAction *self,
                         GVariant       *fields)
{
  g_autoptr(GVariant) owned_fields = NULL;
  GluetoolTagSet encoded_fields;
  GluetoolEncodedList list;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_return_if_fail (fields != NULL);
  owned_fields = g_variant_ref_sink (fields);
  g_return_if_fail (GLUETOOL_IS_ACTION (self));
  g_return_if_fail (g_variant_is_of_type (fields, G_VARIANT_TYPE_VARDICT));
  RETURN_IF_FINISHED (self);
  RETURN_IF_UNSAMPLED (self);

  gluetool_tag_set_init (&encoded_fields);
  g_variant_iter_init (&iter, owned_fields);
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &value))
    gluetool_tag_set_add_variant (&encoded_fields, name, strlen (name), value);

  list = gluetool_tag_set_as_list (&encoded_fields);
  gluetool_encode_log (&self->logs, g_get_real_time (), list.data, list.len, list.count);
  self->n_logs++;
  gluetool_tag_set_clear (&encoded_fields);
}

/**
 * gluetool_action_get_label:
 * @self: an action
 *
 * What the action does.
 *
 * Returns: (transfer none): the label
 *
 * Since: 0.1
 */
const char *
gluetool_action_get_label (GluetoolAction *self)
{
  g_return_val_if_fail (GLUETOOL_IS_ACTION (self), NULL);

  return self->label;
}

/**
 * gluetool_action_get_parent:
 * @self: an action
 *
 * The action @self was started under, while that action is unfinished and
 * on the calling thread's stack: started by this thread, or set as its root
 * with [method@Gluetool.Action.set_thread_root].
 *
 * An action holds no reference to its parent, so that threads making
 * children of one shared action do not all write its reference count. It
 * copies the parent's trace id and span id when it starts, and is reported
 * with them whatever becomes of the parent; this function looks on the
 * calling thread's stack for the unfinished action with that span id. So
 * it is %NULL:
 *
 * - once the parent is finished (a parent dropped unfinished is finished
 *   then, whatever its children);
 * - in a thread whose stack does not hold the parent;
 * - for an action without a parent, or started under a remote one
 *   ([ctor@Gluetool.Action.new_with_remote_parent], `TRACEPARENT`).
 *
 * It still finds the parent after @self is finished, as long as the parent
 * is unfinished on the stack. [method@Gluetool.Action.dup_context] gives
 * the parent's span id in every case.
 *
 * As with [func@Gluetool.Action.get_current], the pointer is valid while
 * the parent is alive: as long as the calling thread holds a reference to
 * it, which is the usual case for an action it started. When another thread
 * may drop the last reference, read [property@Gluetool.Action:parent]
 * instead, which gives a reference of the caller's own.
 *
 * Returns: (transfer none) (nullable): the parent, or %NULL when it is not
 *   an unfinished action on the calling thread's stack
 *
 * Since: 0.1
 */
GluetoolAction *
gluetool_action_get_parent (GluetoolAction *self)
{
  g_return_val_if_fail (GLUETOOL_IS_ACTION (self), NULL);

  if (!self->parent_is_local)
    return NULL;
  return (GluetoolAction *) gluetool_action_stack_find (gluetool_action_stack_get_for_thread (),
                                                        self->parent_span_id);
}

/**
 * gluetool_action_dup_trace_id:
 * @self: an action
 *
 * The trace id, as Jaeger shows it: 32 lower-case hex digits.
 *
 * Returns: (transfer full): the trace id
 *
 * Since: 0.1
 */
char *
gluetool_action_dup_trace_id (GluetoolAction *self)
{
  g_return_val_if_fail (GLUETOOL_IS_ACTION (self), NULL);

  return g_strdup_printf ("%016" G_GINT64_MODIFIER "x%016" G_GINT64_MODIFIER "x",
                          self->trace_id_high, self->trace_id_low);
}

/**
 * gluetool_action_get_span_id:
 * @self: an action
 *
 * The span id, never 0.
 *
 * Returns: the span id
 *
 * Since: 0.1
 */
guint64
gluetool_action_get_span_id (GluetoolAction *self)
{
  g_return_val_if_fail (GLUETOOL_IS_ACTION (self), 0);

  return self->span_id;
}

/**
 * gluetool_action_dup_context:
 * @self: an action
 *
 * The action's span context, to hand to another process (as a
 * `traceparent`, an `uber-trace-id`, an environment or headers: see
 * [struct@Gluetool.SpanContext]) so that its work joins this trace as a
 * child of this action.
 *
 * Returns: (transfer full): the span context
 *
 * Since: 0.1
 */
GluetoolSpanContext *
gluetool_action_dup_context (GluetoolAction *self)
{
  g_return_val_if_fail (GLUETOOL_IS_ACTION (self), NULL);

  return gluetool_span_context_new (self->trace_id_high, self->trace_id_low, self->span_id,
                                    self->parent_span_id, self->flags);
}

/**
 * gluetool_action_set_default_remote_parent:
 * @remote_parent: (nullable): the remote span that actions without a parent
 *   start under, or %NULL for none: they start new traces
 *
 * Sets the process's default remote parent: the span, in another process,
 * that every action started without a parent becomes a child of.
 *
 * By default it is read once per process, when the first action without a
 * parent starts, from the `TRACEPARENT` environment variable (see
 * [method@Gluetool.SpanContext.inject_environ]), so a program started by a
 * traced program, for example by `gluetool-trace run`, joins its trace with
 * no code. An unset or empty `TRACEPARENT` means none. One that is not a
 * valid `traceparent` is ignored with a warning. Two ways turn this off:
 *
 * - `GLUETOOL_TRACING_IGNORE_TRACEPARENT` set to any non-empty value in the
 *   environment: `TRACEPARENT` is not read;
 * - this function, with %NULL: called before the first action without a
 *   parent, the environment is not read at all; called later, it replaces
 *   what was read.
 *
 * A program that starts a trace per request, say, turns it off; a program
 * that got its parent's context some other way sets it here. Any thread may
 * call this; actions already started keep their parents.
 *
 * Since: 0.1
 */
void
gluetool_action_set_default_remote_parent (const GluetoolSpanContext *remote_parent)
{
  gluetool_remote_parent_set (remote_parent);
}

/**
 * gluetool_action_dup_default_remote_parent:
 *
 * The process's default remote parent; see
 * [func@Gluetool.Action.set_default_remote_parent]. Reads `TRACEPARENT` if
 * that was not done yet.
 *
 * Returns: (transfer full) (nullable): the default remote parent, or %NULL
 *   when actions without a parent start new traces
 *
 * Since: 0.1
 */
GluetoolSpanContext *
gluetool_action_dup_default_remote_parent (void)
{
  GluetoolSpanContext context;

  if (!gluetool_remote_parent_get (&context))
    return NULL;
  return gluetool_span_context_copy (&context);
}

/**
 * gluetool_action_get_current:
 *
 * The action on top of the calling thread's stack: the one started last and
 * not finished yet, or the thread's root.
 *
 * The pointer is valid while the action is alive: as long as the calling
 * thread holds a reference to it, which is the usual case for an action it
 * started. When another thread may drop the last reference, use
 * [func@Gluetool.Action.dup_current].
 *
 * Returns: (transfer none) (nullable): the current action, or %NULL when the
 *   stack is empty
 *
 * Since: 0.1
 */
GluetoolAction *
gluetool_action_get_current (void)
{
  return (GluetoolAction *) gluetool_action_stack_peek (gluetool_action_stack_get_for_thread ());
}

/**
 * gluetool_action_dup_current:
 *
 * The action on top of the calling thread's stack, as
 * [func@Gluetool.Action.get_current], with a reference of the caller's own:
 * safe even when another thread may drop the last other reference to it.
 *
 * Returns: (transfer full) (nullable): the current action, or %NULL when the
 *   stack is empty
 *
 * Since: 0.1
 */
GluetoolAction *
gluetool_action_dup_current (void)
{
  return (GluetoolAction *) gluetool_action_stack_dup_top (gluetool_action_stack_get_for_thread ());
}

/**
 * gluetool_action_set_thread_root:
 * @action: (nullable): the action to work under, or %NULL for an empty stack
 *
 * Replaces the calling thread's stack with [@action], as gluetool does when a
 * worker thread starts on behalf of an action of another thread. The thread
 * keeps a reference to @action until its stack is replaced again or the
 * thread ends. Actions that were on the stack stay unfinished; finishing them
 * later in this thread fails with %GLUETOOL_ACTION_ERROR_NOT_ACTIVE.
 *
 * Since: 0.1
 */
void
gluetool_action_set_thread_root (GluetoolAction *action)
{
  g_return_if_fail (action == NULL || GLUETOOL_IS_ACTION (action));

  gluetool_action_stack_reset (gluetool_action_stack_get_for_thread (), (GObject *) action,
                               action != NULL ? action->span_id : 0);
}
