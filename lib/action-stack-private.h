/* action-stack-private.h: each thread's stack of unfinished actions
 *
 * SPDX-License-Identifier: MIT
 *
 * As in gluetool, every thread has a stack of the actions it started and has
 * not finished; the top is the "current" action. An action is removed by
 * identity from anywhere in the stack, so actions may finish out of order.
 *
 * Entries pushed by gluetool_action_stack_push() are borrowed: an action
 * removes itself before it goes away, so the stack never keeps an unfinished
 * action alive and dropping the last reference can finish it. The entry set
 * by gluetool_action_stack_reset() is owned: a thread's root usually comes
 * from another thread and must stay alive while this one works under it.
 *
 * A stack is owned by its thread and by every action that started on it, so
 * an action that finishes or goes away in another thread can still take
 * itself off. Each stack has its own lock, a spin lock (see stack_lock()):
 * the owner thread is nearly always the only one to take it, for a few
 * instructions, so it costs one atomic exchange per operation.
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct _GluetoolActionStack GluetoolActionStack;

/* The calling thread's stack, made on first use. (transfer none) */
GluetoolActionStack *gluetool_action_stack_get_for_thread (void);

GluetoolActionStack *gluetool_action_stack_ref    (GluetoolActionStack *stack);
void                 gluetool_action_stack_unref  (GluetoolActionStack *stack);

/* push() and remove() take the stack's lock without entering a region of
 * the process (process-private.h): call them inside one. The others enter
 * one themselves. Every entry carries its action's span id, which find()
 * and dup_found() look it up by. */
void                 gluetool_action_stack_push   (GluetoolActionStack *stack,
                                                   GObject             *action,
                                                   guint64              span_id);
/* Removes @action wherever it is; FALSE when it is not there. When the
 * entry held a reference (a thread's root), it is handed to the caller in
 * @owned_ref, so the caller decides when it may be the last one. */
gboolean             gluetool_action_stack_remove (GluetoolActionStack *stack,
                                                   GObject             *action,
                                                   GObject            **owned_ref);
/* The top of the stack, or NULL. (transfer none) */
GObject             *gluetool_action_stack_peek   (GluetoolActionStack *stack);
/* The top of the stack with a new reference, taken under the stack's lock,
 * or NULL. An action that goes away takes itself off under the same lock,
 * so the reference is never taken on freed memory. (transfer full) */
GObject             *gluetool_action_stack_dup_top (GluetoolActionStack *stack);
/* The action of span id @span_id on the stack (the nearest the top, were
 * there two), or NULL. Valid while the action is alive, as peek()'s top is.
 * (transfer none) */
GObject             *gluetool_action_stack_find   (GluetoolActionStack *stack,
                                                   guint64              span_id);
/* The same with a new reference taken under the stack's lock, as
 * dup_top() takes one, or NULL. (transfer full) */
GObject             *gluetool_action_stack_dup_found (GluetoolActionStack *stack,
                                                      guint64              span_id);
/* Empties the stack, then holds @root (owned, of span id @root_span_id) as
 * its only entry if not NULL. */
void                 gluetool_action_stack_reset  (GluetoolActionStack *stack,
                                                   GObject             *root,
                                                   guint64              root_span_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GluetoolActionStack, gluetool_action_stack_unref)

G_END_DECLS
