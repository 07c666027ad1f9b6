/* ids.c: trace and span ids
 *
 * SPDX-License-Identifier: MIT
 */

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "ids-private.h"

/* xoshiro256** (Blackman and Vigna): four words of state, a handful of
 * instructions per id, and a period far beyond what a process can use.
 * The state is thread-local, so no two threads ever share a cache line
 * for it. It is not a cryptographic generator; trace ids do not need one. */
typedef struct {
  guint64 s[4];
  guint   generation;  /* fork_generation when seeded; 0: never */
} IdGenerator;

static _Thread_local IdGenerator thread_generator;

/* A child process made by fork() inherits the parent's generator state and
 * would repeat its ids; counting forks makes every generator seed again in
 * the child. Relaxed: fork() itself orders the handler before the child's
 * code, and only the forking thread exists in the child. */
static atomic_uint fork_generation = 1;

static void
count_fork_in_child (void)
{
  atomic_fetch_add_explicit (&fork_generation, 1, memory_order_relaxed);
}
static inline guint64
rotl (guint64 x,
      int     k)
{
  return (x << k) | (x >> (64 - k));
}

/* splitmix64, to spread a few random words over the whole state. */
static guint64
splitmix64 (guint64 *x)
{
  guint64 z = (*x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static void
seed (IdGenerator *generator)
{
  static gsize fork_handler_installed = 0;

  /* GLib's global generator is seeded from /dev/urandom; taking its lock
   * once per thread is the only shared cost. The thread's address and the
   * time separate threads even if that source were weak. */
  guint64 mix = ((guint64) g_random_int () << 32) ^ g_random_int ();

  mix ^= (guint64) (guintptr) generator;
  mix ^= (guint64) g_get_monotonic_time () << 17;
  if (g_once_init_enter (&fork_handler_installed))
    {
      pthread_atfork (NULL, NULL, count_fork_in_child);
      g_once_init_leave (&fork_handler_installed, 1);
    }

  mix ^= (guint64) getpid () << 32;
  for (guint i = 0; i < G_N_ELEMENTS (generator->s); i++)
    generator->s[i] = splitmix64 (&mix) ^ ((guint64) g_random_int () << 32);
  generator->generation = atomic_load_explicit (&fork_generation, memory_order_relaxed);
}

static inline guint64
next (IdGenerator *generator)
{
  guint64 *s = generator->s;
  guint64 result = rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

guint64
gluetool_ids_next_span_id (void)
{
  IdGenerator *generator = &thread_generator;
  guint64 id;

  if (G_UNLIKELY (generator->generation
                  != atomic_load_explicit (&fork_generation, memory_order_relaxed)))
    seed (generator);
  do
    id = next (generator);
  while (G_UNLIKELY (id == 0));
  return id;
}

void
gluetool_ids_next_trace_id (guint64 *high,
                            guint64 *low)
{
  *high = gluetool_ids_next_span_id ();
  *low = gluetool_ids_next_span_id ();
}
