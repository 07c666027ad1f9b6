/* gluetool-action.h: a piece of work with a label, a start and an end
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(__GLUETOOL_H_INSIDE__) && !defined(GLUETOOL_COMPILATION)
#error "Only <gluetool/gluetool.h> can be included directly."
#endif

#include <glib-object.h>

#include <gluetool/gluetool-version.h>
#include <gluetool/gluetool-span-context.h>

G_BEGIN_DECLS

/**
 * GLUETOOL_ACTION_ERROR:
 *
 * The error domain of [class@Gluetool.Action].
 *
 * Since: 0.1
 */
#define GLUETOOL_ACTION_ERROR (gluetool_action_error_quark ())

/**
 * GluetoolActionError:
 * @GLUETOOL_ACTION_ERROR_NOT_ACTIVE: the action is not on the calling thread's
 *   stack of unfinished actions (it was made in, or handed to, another
 *   thread); it is finished and reported all the same
 * @GLUETOOL_ACTION_ERROR_FINISHED: the action was finished already; nothing
 *   is reported a second time
 *
 * Errors of [method@Gluetool.Action.finish].
 *
 * Since: 0.1
 */
typedef enum {
  GLUETOOL_ACTION_ERROR_NOT_ACTIVE,
  GLUETOOL_ACTION_ERROR_FINISHED,
} GluetoolActionError;

#define GLUETOOL_TYPE_ACTION (gluetool_action_get_type ())

/* What G_DECLARE_FINAL_TYPE (GluetoolAction, gluetool_action, GLUETOOL,
 * ACTION, GObject) declares, written out for one difference: the macro makes
 * g_autoptr(GluetoolAction) call g_object_unref(), and here it calls
 * gluetool_action_release(), which is safe while another thread forks. */
GLUETOOL_AVAILABLE_IN_0_1
GType           gluetool_action_get_type         (void);

typedef struct _GluetoolAction GluetoolAction;
typedef struct { GObjectClass parent_class; } GluetoolActionClass;

GLUETOOL_AVAILABLE_IN_0_1
void            gluetool_action_release          (GluetoolAction *self);

G_GNUC_BEGIN_IGNORE_DEPRECATIONS
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GluetoolAction, gluetool_action_release)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GluetoolActionClass, g_type_class_unref)

G_GNUC_UNUSED static inline GluetoolAction *
GLUETOOL_ACTION (gpointer ptr)
{
  return G_TYPE_CHECK_INSTANCE_CAST (ptr, gluetool_action_get_type (), GluetoolAction);
}

G_GNUC_UNUSED static inline gboolean
GLUETOOL_IS_ACTION (gpointer ptr)
{
  return G_TYPE_CHECK_INSTANCE_TYPE (ptr, gluetool_action_get_type ());
}
G_GNUC_END_IGNORE_DEPRECATIONS

GLUETOOL_AVAILABLE_IN_0_1
GQuark          gluetool_action_error_quark      (void);

GLUETOOL_AVAILABLE_IN_0_1
GluetoolAction *gluetool_action_new              (const char     *label,
                                                  GluetoolAction *parent);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolAction *gluetool_action_new_with_tags    (const char     *label,
                                                  GluetoolAction *parent,
                                                  GVariant       *tags);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolAction *gluetool_action_new_with_remote_parent (const char                *label,
                                                        const GluetoolSpanContext *remote_parent,
                                                        GVariant                  *tags);
GLUETOOL_AVAILABLE_IN_0_1
gboolean        gluetool_action_finish           (GluetoolAction *self,
                                                  GError        **error);
GLUETOOL_AVAILABLE_IN_0_1
gboolean        gluetool_action_is_finished      (GluetoolAction *self);

GLUETOOL_AVAILABLE_IN_0_1
void            gluetool_action_set_tag          (GluetoolAction *self,
                                                  const char     *name,
                                                  GVariant       *value);
GLUETOOL_AVAILABLE_IN_0_1
void            gluetool_action_set_tags         (GluetoolAction *self,
                                                  GVariant       *tags);
GLUETOOL_AVAILABLE_IN_0_1
void            gluetool_action_set_tag_string   (GluetoolAction *self,
                                                  const char     *name,
                                                  const char     *value);
GLUETOOL_AVAILABLE_IN_0_1
void            gluetool_action_set_tag_int64    (GluetoolAction *self,
                                                  const char     *name,
                                                  gint64          value);
GLUETOOL_AVAILABLE_IN_0_1
void            gluetool_action_set_tag_double   (GluetoolAction *self,
                                                  const char     *name,
                                                  double          value);
GLUETOOL_AVAILABLE_IN_0_1
void            gluetool_action_set_tag_boolean  (GluetoolAction *self,
                                                  const char     *name,
                                                  gboolean        value);
GLUETOOL_AVAILABLE_IN_0_1
void            gluetool_action_add_log          (GluetoolAction *self,
                                                  GVariant       *fields);

GLUETOOL_AVAILABLE_IN_0_1
const char     *gluetool_action_get_label        (GluetoolAction *self);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolAction *gluetool_action_get_parent       (GluetoolAction *self);
GLUETOOL_AVAILABLE_IN_0_1
char           *gluetool_action_dup_trace_id     (GluetoolAction *self);
GLUETOOL_AVAILABLE_IN_0_1
guint64         gluetool_action_get_span_id      (GluetoolAction *self);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolSpanContext *gluetool_action_dup_context (GluetoolAction *self);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolAction *gluetool_action_get_current      (void);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolAction *gluetool_action_dup_current      (void);
GLUETOOL_AVAILABLE_IN_0_1
void            gluetool_action_set_thread_root  (GluetoolAction *action);

GLUETOOL_AVAILABLE_IN_0_1
void                 gluetool_action_set_default_remote_parent (const GluetoolSpanContext *remote_parent);
GLUETOOL_AVAILABLE_IN_0_1
GluetoolSpanContext *gluetool_action_dup_default_remote_parent (void);

G_END_DECLS
