/* ids.c: trace and span ids
 *
 * SPDX-License-Identifier: MIT
 */

#include <sys/random.h>
#include <unistd.h>

#include "ids-private.h"
#include "process-private.h"

/* xoshiro256** (Blackman and Vigna): four words of state, a handful of
 * instructions per id, and a period far beyond what a process can use.
 * The state is thread-local, so no two threads ever share a cache line
 * for it. It is not a cryptographic generator; trace ids do not need one. */
typedef struct {
  guint64 s[4];
  guint   generation;  /* the process generation when seeded; 0: never */
} IdGenerator;

static GLUETOOL_THREAD_LOCAL IdGenerator thread_generator;

static inline guint64
rotl (guint64 x,
      int     k)
{
  return (x << k) | (x >> (64 - k));
}

/* splitmix64, to spread a few words over the whole state. */
static guint64
splitmix64 (guint64 *x)
{
  guint64 z = (*x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Random bytes from the kernel. Not GLib's generator: it takes a global
 * lock, which a child process made by fork() may find held for ever by a
 * thread that did not come along. Where the kernel has none to give yet
 * (early boot), the time, the process id and @place stand in: ids must
 * differ, not be secret. */
static void
fill_random (void   *buffer,
             gsize   len,
             gconstpointer place)
{
  guint8 *bytes = buffer;
  gsize got = 0;

  while (got < len)
    {
      gssize n = getrandom (bytes + got, len - got, GRND_NONBLOCK);

      if (n <= 0)
        break;
      got += (gsize) n;
    }
  if (got < len)
    {
      guint64 mix = (guint64) g_get_real_time () ^ ((guint64) g_get_monotonic_time () << 21)
                    ^ ((guint64) getpid () << 40) ^ (guint64) (guintptr) place;

      for (gsize i = got; i < len; i++)
        bytes[i] = (guint8) splitmix64 (&mix);
    }
}

/* A thread seeds on first use, and again in a child process made by
 * fork(), which inherits the parent's state and would repeat its ids. */
static void
seed (IdGenerator *generator)
{
  guint64 mix = 0;

  gluetool_process_ensure_fork_handlers ();
  fill_random (&mix, sizeof mix, generator);
  /* The thread's address and the process separate threads and children
   * even if the kernel's source were weak. */
  mix ^= (guint64) (guintptr) generator ^ ((guint64) getpid () << 32);
  for (guint i = 0; i < G_N_ELEMENTS (generator->s); i++)
    generator->s[i] = splitmix64 (&mix);
  generator->generation = gluetool_process_get_generation ();
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

  if (G_UNLIKELY (generator->generation != gluetool_process_get_generation ()))
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

char *
gluetool_ids_dup_uuid_string (void)
{
  guint8 bytes[16] = { 0 };

  /* Version 4 (random), RFC 4122 variant. */
  fill_random (bytes, sizeof bytes, bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                          bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5],
                          bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11],
                          bytes[12], bytes[13], bytes[14], bytes[15]);
}
