/* alloc-count.c: an LD_PRELOAD shim that counts heap allocations
 *
 * SPDX-License-Identifier: MIT
 *
 * Wraps malloc, calloc, realloc, free and the aligned allocators, counts
 * each call process-wide (atomics: any thread may allocate) and per thread
 * (thread-local: the caller's share apart from the flush thread's), and
 * hands the call to the next definition (libc's), found with
 * dlsym(RTLD_NEXT).
 *
 * dlsym() itself may allocate (glibc's dlerror state uses calloc), which
 * would come back here before the real functions are known. Those few early
 * requests are served from a static arena instead and never freed to libc.
 *
 * Plain C without GLib: it runs inside GLib's own allocations.
 */

#define _GNU_SOURCE

#include "alloc-count.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- The counters ------------------------------------------------------ */

/* Relaxed: counters only; the reader takes them after the threads it
 * measures have synchronised with it some other way (a flush, a join). */
static _Atomic uint64_t process_mallocs, process_callocs, process_reallocs,
                        process_aligned, process_frees, process_bytes;

/* initial-exec: the block is in the static TLS set up before any code of
 * this library runs, so touching it from malloc can never itself allocate. */
static _Thread_local BenchAllocCounts thread_counts __attribute__ ((tls_model ("initial-exec")));

#define COUNT(what, size)                                                           \
  do {                                                                              \
    atomic_fetch_add_explicit (&process_##what, 1, memory_order_relaxed);           \
    atomic_fetch_add_explicit (&process_bytes, (size), memory_order_relaxed);       \
    thread_counts.what++;                                                           \
    thread_counts.bytes += (size);                                                  \
  } while (0)

void
bench_alloc_counts_read (BenchAllocCounts *process,
                         BenchAllocCounts *thread)
{
  if (process != NULL)
    {
      process->mallocs = atomic_load_explicit (&process_mallocs, memory_order_relaxed);
      process->callocs = atomic_load_explicit (&process_callocs, memory_order_relaxed);
      process->reallocs = atomic_load_explicit (&process_reallocs, memory_order_relaxed);
      process->aligned = atomic_load_explicit (&process_aligned, memory_order_relaxed);
      process->frees = atomic_load_explicit (&process_frees, memory_order_relaxed);
      process->bytes = atomic_load_explicit (&process_bytes, memory_order_relaxed);
    }
  if (thread != NULL)
    *thread = thread_counts;
}

/* ---- The real functions ------------------------------------------------ */

static void *(*real_malloc) (size_t);
static void *(*real_calloc) (size_t, size_t);
static void *(*real_realloc) (void *, size_t);
static void  (*real_free) (void *);
static int   (*real_posix_memalign) (void **, size_t, size_t);
static void *(*real_aligned_alloc) (size_t, size_t);
static void *(*real_memalign) (size_t, size_t);
static void *(*real_valloc) (size_t);

/* Early requests, while dlsym() runs: a bump allocator that never frees.
 * Each block starts with its size, for realloc(). */
static _Alignas (max_align_t) unsigned char arena[16384];
static size_t arena_used;
static bool resolving;

#define ARENA_HEADER sizeof (max_align_t)

static bool
in_arena (const void *p)
{
  return (const unsigned char *) p >= arena && (const unsigned char *) p < arena + sizeof arena;
}

static void *
arena_alloc (size_t size)
{
  size_t need = ARENA_HEADER + ((size + ARENA_HEADER - 1) / ARENA_HEADER) * ARENA_HEADER;
  unsigned char *block;

  if (need > sizeof arena - arena_used)
    return NULL;
  block = arena + arena_used;
  arena_used += need;
  memcpy (block, &size, sizeof size);
  return block + ARENA_HEADER;   /* the arena is static, so already zeroed */
}

static size_t
arena_size (const void *p)
{
  size_t size;

  memcpy (&size, (const unsigned char *) p - ARENA_HEADER, sizeof size);
  return size;
}

/* Function pointers cannot be assigned from dlsym()'s void * in ISO C;
 * copying the bytes is the portable spelling. */
#define RESOLVE(name)                                                               \
  do {                                                                              \
    void *symbol = dlsym (RTLD_NEXT, #name);                                        \
    memcpy (&real_##name, &symbol, sizeof symbol);                                  \
  } while (0)

/* Runs before main() through the constructor, or earlier on the first
 * allocation (another library's constructor may allocate first). Either way
 * the process has one thread then. */
static void
resolve (void)
{
  if (real_malloc != NULL || resolving)
    return;
  resolving = true;
  RESOLVE (calloc);
  RESOLVE (realloc);
  RESOLVE (free);
  RESOLVE (posix_memalign);
  RESOLVE (aligned_alloc);
  RESOLVE (memalign);
  RESOLVE (valloc);
  /* Last: it is the "ready" flag the wrappers test. */
  RESOLVE (malloc);
  resolving = false;
}

__attribute__ ((constructor)) static void
alloc_count_init (void)
{
  resolve ();
}

/* ---- The wrappers ------------------------------------------------------ */

void *
malloc (size_t size)
{
  if (real_malloc == NULL)
    {
      if (resolving)
        return arena_alloc (size);
      resolve ();
    }
  COUNT (mallocs, size);
  return real_malloc (size);
}

void *
calloc (size_t n,
        size_t size)
{
  if (real_malloc == NULL)
    {
      if (resolving)
        return size != 0 && n > SIZE_MAX / size ? NULL : arena_alloc (n * size);
      resolve ();
    }
  COUNT (callocs, n * size);
  return real_calloc (n, size);
}

void *
realloc (void   *p,
         size_t  size)
{
  if (real_malloc == NULL)
    {
      if (resolving)
        {
          void *block = arena_alloc (size);

          if (block != NULL && p != NULL)
            memcpy (block, p, arena_size (p) < size ? arena_size (p) : size);
          return block;
        }
      resolve ();
    }
  if (in_arena (p))
    {
      /* An early block grows into a real one; the arena keeps the old. */
      void *block = malloc (size);

      if (block != NULL)
        memcpy (block, p, arena_size (p) < size ? arena_size (p) : size);
      return block;
    }
  if (size == 0 && p != NULL)
    {
      free (p);
      return NULL;
    }
  COUNT (reallocs, size);
  return real_realloc (p, size);
}

void
free (void *p)
{
  if (p == NULL || in_arena (p))
    return;
  atomic_fetch_add_explicit (&process_frees, 1, memory_order_relaxed);
  thread_counts.frees++;
  real_free (p);
}

int
posix_memalign (void   **p,
                size_t   alignment,
                size_t   size)
{
  if (real_malloc == NULL)
    resolve ();
  if (real_posix_memalign == NULL)
    return ENOMEM;
  COUNT (aligned, size);
  return real_posix_memalign (p, alignment, size);
}

void *
aligned_alloc (size_t alignment,
               size_t size)
{
  if (real_malloc == NULL)
    resolve ();
  if (real_aligned_alloc == NULL)
    return NULL;
  COUNT (aligned, size);
  return real_aligned_alloc (alignment, size);
}

void *
memalign (size_t alignment,
          size_t size)
{
  if (real_malloc == NULL)
    resolve ();
  if (real_memalign == NULL)
    return NULL;
  COUNT (aligned, size);
  return real_memalign (alignment, size);
}

void *
valloc (size_t size)
{
  if (real_malloc == NULL)
    resolve ();
  if (real_valloc == NULL)
    return NULL;
  COUNT (aligned, size);
  return real_valloc (size);
}
