/* thread-state.c: what the library keeps for each thread, let go of in one
 * order at thread exit
 *
 * SPDX-License-Identifier: MIT
 *
 * See thread-state-private.h for the order and why.
 */

#include "thread-state-private.h"

GLUETOOL_THREAD_LOCAL GluetoolThreadState *gluetool_thread_state_;

static void thread_state_free (gpointer data);

/* Owns the state: its destroy notification runs at thread exit. */
static GPrivate thread_state_owner = G_PRIVATE_INIT (thread_state_free);

/* Lets go of the part in the first slot that holds one; FALSE when none
 * does. */
static gboolean
let_go_of_one (GluetoolThreadState *state)
{
  for (guint slot = 0; slot < GLUETOOL_THREAD_N_SLOTS; slot++)
    if (state->data[slot] != NULL)
      {
        gpointer data = g_steal_pointer (&state->data[slot]);

        state->free_func[slot] (data);
        return TRUE;
      }
  return FALSE;
}

static void
thread_state_free (gpointer data)
{
  GluetoolThreadState *state = data;

  /* One part at a time, always the first left: letting go of one may make
   * another again (a late push takes a lane), which the next turn finds in
   * its place in the order. The state stays the thread's meanwhile, so
   * those parts land here rather than in a new state. */
  while (let_go_of_one (state))
    ;
  if (gluetool_thread_state_ == state)
    gluetool_thread_state_ = NULL;
  g_free (state);
}

static GluetoolThreadState *
get_or_make_state (void)
{
  GluetoolThreadState *state = gluetool_thread_state_;

  if (G_UNLIKELY (state == NULL))
    {
      state = g_new0 (GluetoolThreadState, 1);
      g_private_set (&thread_state_owner, state);
      gluetool_thread_state_ = state;
    }
  return state;
}

void
gluetool_thread_state_set (GluetoolThreadSlot slot,
                           gpointer           data,
                           GDestroyNotify     free_func)
{
  GluetoolThreadState *state;
  gpointer old;

  g_return_if_fail (slot < GLUETOOL_THREAD_N_SLOTS);
  g_return_if_fail (data == NULL || free_func != NULL);

  state = get_or_make_state ();
  old = state->data[slot];
  state->data[slot] = data;
  if (old != NULL)
    state->free_func[slot] (old);
  state->free_func[slot] = free_func;
}
