/* thread-state-private.h: what the library keeps for each thread, in one
 * place, and the one order it is let go in when the thread exits
 *
 * SPDX-License-Identifier: MIT
 *
 * Each unit that keeps something per thread that must be let go of when
 * the thread exits (a recycler's actions, a stack, a reference to the
 * default tracer, a lane of the queue, the thread's record in the process
 * registry) keeps it in a slot of the calling thread's state: one struct,
 * behind one thread-local pointer for reading and one GPrivate whose
 * destroy notification lets go of every slot, in the order of the slots
 * below. Each slot's part may still use the parts of the slots after it
 * while it is let go:
 *
 *   1. RECYCLER: the finished actions the thread kept. Releasing one may
 *      run the program's notifications, and an action dropped unfinished
 *      that way finishes: it is reported (the default tracer, a lane, the
 *      registry) and taken off its stack.
 *   2. ACTION_STACK: the thread's stack of unfinished actions. Resetting it
 *      lets go of a root given by gluetool_action_set_thread_root(), which
 *      may be that action's last reference: it finishes and is reported.
 *   3. DEFAULT_TRACER: the thread's cached reference to the default
 *      tracer. It may be the last: the tracer closes, and waits for its
 *      flush thread to drain the lanes.
 *   4. LANE: the lane the thread last pushed into, handed on to the next
 *      thread that pushes, once the thread will push no more.
 *   5. PROCESS: the thread's record in the process registry (fork()'s
 *      prepare handler reads it): last, as everything above enters regions.
 *
 * A part made again while the state is let go (a late push takes a lane
 * again) is let go of in the same pass, in its order. A part made after
 * the pass, by a thread-exit notification of another library that calls
 * this one, makes a new state, which the C library lets go of in a further
 * round of notifications.
 *
 * Thread-locals that own nothing (the id generator, the wall-clock cache,
 * the encoding scratch buffer, the lane cache's keys, a flag or two) stay in
 * their units: nothing needs to happen to them at exit.
 *
 * Who may call what: every function, any thread, for its own state.
 */

#pragma once

#include <glib.h>

#include "process-private.h"

G_BEGIN_DECLS

typedef enum {
  GLUETOOL_THREAD_SLOT_RECYCLER,
  GLUETOOL_THREAD_SLOT_ACTION_STACK,
  GLUETOOL_THREAD_SLOT_DEFAULT_TRACER,
  GLUETOOL_THREAD_SLOT_LANE,
  GLUETOOL_THREAD_SLOT_PROCESS,
  GLUETOOL_THREAD_N_SLOTS
} GluetoolThreadSlot;

typedef struct {
  gpointer       data[GLUETOOL_THREAD_N_SLOTS];
  GDestroyNotify free_func[GLUETOOL_THREAD_N_SLOTS];
} GluetoolThreadState;

extern GLUETOOL_THREAD_LOCAL GluetoolThreadState *gluetool_thread_state_;

/* The calling thread's part in @slot, or NULL. One thread-local load. */
static inline gpointer
gluetool_thread_state_get (GluetoolThreadSlot slot)
{
  GluetoolThreadState *state = gluetool_thread_state_;

  return G_LIKELY (state != NULL) ? state->data[slot] : NULL;
}

/* Puts @data in @slot of the calling thread's state (made on first use),
 * to be let go with @free_func when the thread exits (in the order above)
 * or when set again: a slot holds one part at a time. */
void     gluetool_thread_state_set   (GluetoolThreadSlot slot,
                                      gpointer           data,
                                      GDestroyNotify     free_func);

G_END_DECLS
