/* process-private.h: the process the library runs in: which one it is after
 * fork(), the threads that use the library, and what fork() waits for
 *
 * SPDX-License-Identifier: MIT
 *
 * fork() copies the calling thread only. Whatever another thread held at
 * that moment stays held for ever in the child: a lock of the library's, or
 * one of GLib's global locks (GLib takes one to look up signal handlers,
 * and before 2.80 one to make an object with properties). This unit makes
 * sure the child inherits none of them from the library's own work:
 *
 * - Locks. A lock of the library's that a child may take is registered
 *   with gluetool_process_hold_across_fork() when there are few of it (the
 *   process default tracer's, the queues' list): the prepare handler takes
 *   it, and both sides release it after fork(). This is the mechanism to
 *   use wherever it fits.
 * - Regions, for what the prepare handler cannot take: GLib's global locks
 *   (making an object with properties, looking up signal handlers, the end
 *   of an object, the slice allocator) and the locks of which there is one
 *   per thread (the action stacks'). A region is a GluetoolProcessRegion,
 *   entered and left in one function; fork() waits, in the prepare handler,
 *   until no other thread is inside one, and a thread that arrives
 *   meanwhile waits until fork() has returned. A region never runs the
 *   program's own code (signal handlers are called outside) and never
 *   waits (a span is reported after the region that finished its action),
 *   so it cannot wait for the thread that forks. Each one left is there
 *   because a test hangs without it: docs/design.md, "fork()", lists them. A debug message made inside one is written when
 *   the thread's last region ends (debug-private.h).
 * - Generations. The child handler counts the fork, so every object that
 *   belongs to one process (a tracer's flush thread and queue, a thread's
 *   id generator) can tell it was inherited with one relaxed load, and the
 *   child replaces it on first use (see gluetool-tracer.c).
 *
 * The registry of threads also keeps each thread's count of actions started
 * minus actions finished, so a tracer being closed can say how many actions
 * are still unfinished without a counter that every thread writes.
 *
 * Who may call what: every function, any thread. Regions nest.
 */

#pragma once

#include <stdatomic.h>

#include <glib.h>

#include "debug-private.h"

G_BEGIN_DECLS

/* The per-thread variables the hot path reads. In a shared library the
 * default TLS model calls __tls_get_addr() at every access (measured: a
 * fifth of an action's instructions once regions were added), and a TLS
 * descriptor (-mtls-dialect=gnu2) still calls a resolver, twenty times an
 * action (100 instructions of its 2,840, see bench/RESULTS.md). The
 * initial-exec model reads them at a fixed offset from the thread pointer.
 * A library loaded with dlopen() (as language bindings load it) gets that
 * offset from the C library's reserve for such libraries, 512 bytes by
 * default in glibc: the library's thread-locals must stay well within it
 * (144 bytes now; nothing large, such as a buffer, is a thread-local). */
#define GLUETOOL_THREAD_LOCAL _Thread_local __attribute__ ((tls_model ("initial-exec")))

/* 1 in the process that loaded the library, one more in each child made by
 * fork() since. Relaxed: only the forking thread exists when it changes,
 * and fork() orders the change before the child's code. */
extern atomic_uint gluetool_process_generation_;

static inline guint
gluetool_process_get_generation (void)
{
  return atomic_load_explicit (&gluetool_process_generation_, memory_order_relaxed);
}

/* Installs the fork handlers, once. Every other function here does too;
 * call it where a fork-sensitive object is made before any region runs. */
void     gluetool_process_ensure_fork_handlers (void);

/* A lock that fork() must not copy while another thread holds it: taken
 * by the prepare handler (in the order registered) and released after
 * fork() in both processes. At most a few. Registering one again does
 * nothing, so an owner calls this before it first takes the lock, without
 * a once-guard of its own; it takes a mutex: not for a hot path. */
void     gluetool_process_hold_across_fork     (GMutex *lock);

/* The calling thread's record. Only its own thread writes @depth and
 * @unfinished; fork()'s prepare handler and get_unfinished() read them. */
typedef struct _GluetoolThreadRecord GluetoolThreadRecord;
struct _GluetoolThreadRecord {
  atomic_uint           depth;       /* (atomic) regions entered, not left */
  _Atomic gint64        unfinished;  /* (atomic) actions started - finished */
  guint64               serial;      /* set once; never reused in a process */
  GluetoolThreadRecord *prev;        /* under the registry lock */
  GluetoolThreadRecord *next;        /* under the registry lock */
  /* (owned) (nullable) this thread's only: debug messages made inside a
   * region, written when its last region ends (see debug-private.h). */
  GPtrArray            *deferred_debug;
} __attribute__ ((aligned (64)));

extern GLUETOOL_THREAD_LOCAL GluetoolThreadRecord *gluetool_process_thread_record_;
extern atomic_uint gluetool_process_forking_;

GluetoolThreadRecord *gluetool_process_register_thread_ (void);
void                  gluetool_process_wait_for_fork_   (GluetoolThreadRecord *record);

static inline GluetoolThreadRecord *
gluetool_process_get_thread_record (void)
{
  GluetoolThreadRecord *record = gluetool_process_thread_record_;

  if (G_UNLIKELY (record == NULL))
    record = gluetool_process_register_thread_ ();
  return record;
}

/* A unique number for the calling thread, never reused in this process. */
static inline guint64
gluetool_process_get_thread_serial (void)
{
  return gluetool_process_get_thread_record ()->serial;
}

/* Whether the thread of that serial number is still running in this
 * process. Takes the registry's lock: not for a hot path, and never inside
 * a region (the prepare handler holds that lock while it waits for regions
 * to end); there it says TRUE, with a critical warning. */
gboolean gluetool_process_thread_is_alive      (guint64 serial);

/* Dekker's handshake between a side that runs all the time and a side that
 * runs rarely: each stores its flag, then loads the other's; whatever the
 * interleaving, at least one of them sees the other's store. Each side
 * needs its store ordered before its load: sequentially consistent
 * accesses on the frequent side, a sequentially consistent fence between
 * them on the rare side. (membarrier(), which would let the frequent side
 * pay only a compiler barrier, was measured and did not pay: see
 * docs/design.md, "fork()".)
 *
 * The frequent side: stores @value in @flag, ordered before the caller's
 * next seq_cst load. */
static inline void
gluetool_process_announce (atomic_uint *flag,
                           guint        value)
{
  atomic_store_explicit (flag, value, memory_order_seq_cst);
}

/* The rare side, between its seq_cst store and its loads. */
static inline void
gluetool_process_fence_rare_side (void)
{
  atomic_thread_fence (memory_order_seq_cst);
}

/* The calling thread enters a region (see above). The handshake with the
 * prepare handler is Dekker's (see gluetool_process_announce()): this
 * thread stores its depth, then loads the forking flag; the prepare
 * handler stores the flag, then loads every depth. Either this thread sees
 * the flag and steps back, or the handler sees it inside and waits. The
 * seq_cst load of the flag keeps the region's own accesses after it. */
static inline void
gluetool_process_enter (void)
{
  GluetoolThreadRecord *record = gluetool_process_get_thread_record ();
  guint depth = atomic_load_explicit (&record->depth, memory_order_relaxed);

  /* Nested: the prepare handler is waiting for this thread, if for any. */
  if (depth > 0)
    {
      atomic_store_explicit (&record->depth, depth + 1, memory_order_relaxed);
      return;
    }
  for (;;)
    {
      gluetool_process_announce (&record->depth, depth + 1);
      if (G_LIKELY (!atomic_load_explicit (&gluetool_process_forking_, memory_order_seq_cst)))
        return;
      /* A fork() is waiting for regions to empty: step back out, wait
       * for it to return, try again. */
      gluetool_process_wait_for_fork_ (record);
    }
}

/* Release: the prepare handler that reads depth 0 sees everything the
 * region did, locks released included. */
static inline void
gluetool_process_leave (void)
{
  GluetoolThreadRecord *record = gluetool_process_thread_record_;
  guint depth = atomic_load_explicit (&record->depth, memory_order_relaxed);

  atomic_store_explicit (&record->depth, depth - 1, memory_order_release);
  if (G_UNLIKELY (depth == 1 && record->deferred_debug != NULL))
    gluetool_debug_write_deferred (g_steal_pointer (&record->deferred_debug));
}

/* A region that ends when its variable goes out of scope, so that no
 * return path can miss the leave, as G_MUTEX_AUTO_LOCK() does for a mutex:
 *
 *   g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();
 *
 * To end it early, and once only: g_clear_pointer (&region,
 * gluetool_process_region_leave). The value is the thread's record (never
 * NULL), which spares the leave a thread-local load. Every region of the
 * library is one of these, entered and left in one function but one: an
 * action's dispose() hands its region to its finalize(), in the same
 * g_object_unref() (gluetool-action.c says why). The flush thread steps out
 * of its pass, with leave() and enter(), for what waits on the network: a
 * name lookup (sender-udp.c), the HTTP sender's poll and back-off
 * (sender-http.c). */
typedef GluetoolThreadRecord GluetoolProcessRegion;

static inline GluetoolProcessRegion *
gluetool_process_region_enter (void)
{
  gluetool_process_enter ();
  return gluetool_process_thread_record_;
}

/* Release, as in gluetool_process_leave(). */
static inline void
gluetool_process_region_leave (GluetoolProcessRegion *region)
{
  guint depth = atomic_load_explicit (&region->depth, memory_order_relaxed);

  atomic_store_explicit (&region->depth, depth - 1, memory_order_release);
  /* Out of the last region: what was kept may run the program's code now. */
  if (G_UNLIKELY (depth == 1 && region->deferred_debug != NULL))
    gluetool_debug_write_deferred (g_steal_pointer (&region->deferred_debug));
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GluetoolProcessRegion, gluetool_process_region_leave)

/* The calling thread started (+1) or finished (-1) an action. A plain
 * increment of a counter only this thread writes; relaxed, as it orders
 * nothing. */
static inline void
gluetool_process_count_unfinished (int delta)
{
  GluetoolThreadRecord *record = gluetool_process_get_thread_record ();
  gint64 now = atomic_load_explicit (&record->unfinished, memory_order_relaxed);

  atomic_store_explicit (&record->unfinished, now + delta, memory_order_relaxed);
}
/* Actions started and not finished in this process, summed over its
 * threads; exact when no thread starts or finishes one meanwhile. Actions
 * started by threads that a fork() left behind are not counted. */
guint64  gluetool_process_get_unfinished       (void);

G_END_DECLS
