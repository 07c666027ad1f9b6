/* sync-private.h: GLib's mutexes and conditions, as ThreadSanitizer sees
 * them, and a futex
 *
 * SPDX-License-Identifier: MIT
 *
 * GMutex and GCond are built on futexes inside GLib, which is not built
 * with ThreadSanitizer: a build of this library with -fsanitize=thread
 * would see two threads touch what one lock protects, and not the lock,
 * and call it a race. So the library (and its tests) lock through these:
 * in such a build they tell ThreadSanitizer that taking a mutex acquires
 * what its last unlock released (on the mutex's address); in every other
 * build they are exactly GLib's calls. A condition wait unlocks and locks
 * again inside GLib, so it is announced the same way.
 *
 * g_once_init_leave() is GLib's too: GLUETOOL_ONCE_INIT_ENTER()/_LEAVE()
 * say that what the winner set up is published by leaving.
 */

#pragma once

#include <stdatomic.h>
#include <time.h>

#include <glib.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define GLUETOOL_UNDER_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GLUETOOL_UNDER_THREAD_SANITIZER 1
#endif
#endif

#ifdef GLUETOOL_UNDER_THREAD_SANITIZER
#include <sanitizer/tsan_interface.h>
#define GLUETOOL_TSAN_ACQUIRE(address) __tsan_acquire ((void *) (address))
#define GLUETOOL_TSAN_RELEASE(address) __tsan_release ((void *) (address))
#else
#define GLUETOOL_TSAN_ACQUIRE(address) ((void) 0)
#define GLUETOOL_TSAN_RELEASE(address) ((void) 0)
#endif

G_BEGIN_DECLS

static inline void
gluetool_mutex_lock (GMutex *mutex)
{
  g_mutex_lock (mutex);
  GLUETOOL_TSAN_ACQUIRE (mutex);
}

static inline void
gluetool_mutex_unlock (GMutex *mutex)
{
  GLUETOOL_TSAN_RELEASE (mutex);
  g_mutex_unlock (mutex);
}

static inline void
gluetool_cond_wait (GCond  *cond,
                    GMutex *mutex)
{
  GLUETOOL_TSAN_RELEASE (mutex);
  g_cond_wait (cond, mutex);
  GLUETOOL_TSAN_ACQUIRE (mutex);
}

static inline gboolean
gluetool_cond_wait_until (GCond  *cond,
                          GMutex *mutex,
                          gint64  end_time)
{
  gboolean signalled;

  GLUETOOL_TSAN_RELEASE (mutex);
  signalled = g_cond_wait_until (cond, mutex, end_time);
  GLUETOOL_TSAN_ACQUIRE (mutex);
  return signalled;
}

/* A futex: a thread sleeps while a word holds a value, and another wakes it
 * after changing the word, with no lock between them (the kernel checks the
 * word and queues the sleeper atomically). ThreadSanitizer need not see it:
 * it only wakes, and what the woken thread reads is ordered by atomics. */
#if defined(__linux__)
#define GLUETOOL_HAVE_FUTEX 1

/* Sleeps while *@word is @expected, until woken or g_get_monotonic_time()
 * reaches @deadline_us (both count CLOCK_MONOTONIC). Returns at once when
 * the word holds another value, and may return early (a signal): the
 * caller looks again. */
static inline void
gluetool_futex_wait_until (atomic_int *word,
                           int         expected,
                           gint64      deadline_us)
{
  struct timespec deadline = {
    .tv_sec = (time_t) (deadline_us / G_USEC_PER_SEC),
    .tv_nsec = (long) (deadline_us % G_USEC_PER_SEC) * 1000,
  };

  /* FUTEX_WAIT_BITSET takes an absolute deadline on CLOCK_MONOTONIC. */
  syscall (SYS_futex, word, FUTEX_WAIT_BITSET_PRIVATE, expected, &deadline, NULL,
           FUTEX_BITSET_MATCH_ANY);
}

/* Wakes one thread sleeping on @word, if any. Never blocks. */
static inline void
gluetool_futex_wake_one (atomic_int *word)
{
  syscall (SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
#endif

/* g_once_init_enter()'s fast path is inline here, its publication in GLib. */
#define GLUETOOL_ONCE_INIT_ENTER(location)                                      \
  (g_once_init_enter (location) ? TRUE : (GLUETOOL_TSAN_ACQUIRE (location), FALSE))
#define GLUETOOL_ONCE_INIT_LEAVE(location, value)                               \
  G_STMT_START {                                                                \
    GLUETOOL_TSAN_RELEASE (location);                                           \
    g_once_init_leave ((location), (value));                                    \
  } G_STMT_END

G_END_DECLS
