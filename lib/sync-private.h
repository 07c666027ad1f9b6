/* sync-private.h: GLib's mutexes and conditions, as ThreadSanitizer sees them
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

#include <glib.h>

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

/* g_once_init_enter()'s fast path is inline here, its publication in GLib. */
#define GLUETOOL_ONCE_INIT_ENTER(location)                                      \
  (g_once_init_enter (location) ? TRUE : (GLUETOOL_TSAN_ACQUIRE (location), FALSE))
#define GLUETOOL_ONCE_INIT_LEAVE(location, value)                               \
  G_STMT_START {                                                                \
    GLUETOOL_TSAN_RELEASE (location);                                           \
    g_once_init_leave ((location), (value));                                    \
  } G_STMT_END

G_END_DECLS
