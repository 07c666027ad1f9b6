/* alloc-count.h: what the allocation-counting shim (alloc-count.c, loaded
 * with LD_PRELOAD) tells the program it is loaded into
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <stdint.h>

typedef struct {
  uint64_t mallocs;     /* malloc() */
  uint64_t callocs;     /* calloc() */
  uint64_t reallocs;    /* realloc() with a size: it may move the block */
  uint64_t aligned;     /* posix_memalign(), aligned_alloc(), memalign(), valloc() */
  uint64_t frees;       /* free() of a block, not of NULL */
  uint64_t bytes;       /* bytes asked for by all of the above */
} BenchAllocCounts;

/* The shim's one export. The program looks it up with dlsym(RTLD_DEFAULT)
 * rather than linking it, so that it can tell whether the shim is loaded.
 * @process: every thread's allocations since the start; @thread: the calling
 * thread's. Either may be NULL. */
#define BENCH_ALLOC_COUNTS_SYMBOL "bench_alloc_counts_read"
typedef void (*BenchAllocCountsReadFunc) (BenchAllocCounts *process,
                                          BenchAllocCounts *thread);

void bench_alloc_counts_read (BenchAllocCounts *process,
                              BenchAllocCounts *thread);

/* Allocations in all: every call that may hand out a new block. */
static inline uint64_t
bench_alloc_counts_total (const BenchAllocCounts *counts)
{
  return counts->mallocs + counts->callocs + counts->reallocs + counts->aligned;
}
