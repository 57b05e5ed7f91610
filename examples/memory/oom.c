/*
 * Out of memory, built three ways (see CMakeLists.txt):
 *   mem-cap             -sALLOW_MEMORY_GROWTH -sMAXIMUM_MEMORY=64MB
 *   mem-nogrow          no growth, -sABORTING_MALLOC=0
 *   mem-nogrow-aborting no growth, Emscripten's default ABORTING_MALLOC=1:
 *                       the runtime aborts inside emscripten_resize_heap
 *                       ("Aborted(OOM)") before zee_alloc can return NULL.
 * It fills the memory with 1 MiB blocks until malloc returns NULL, then
 * with ever smaller blocks down to 16 bytes, checks errno and that every
 * block is intact, frees part of it and allocates again: the program
 * notices the NULLs and keeps working.
 */
#include <emscripten/heap.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

enum { MAX_BIG = 4096 };
static unsigned char *big[MAX_BIG];

/* Allocates blocks of n bytes until NULL; they form a list through their
 * first word (the rest is stamped), so no array limits how many there are.
 * Returns the count. */
static long exhaust(size_t n, void **list, int *errno_ok) {
  long count = 0;
  for (;;) {
    errno = 0;
    void **p = malloc_fn(n);
    if (!p) {
      *errno_ok &= errno == ENOMEM;
      return count;
    }
    stamp((unsigned char *)(p + 1), n - sizeof *p);
    *p = *list;
    *list = p;
    count++;
  }
}

/* Frees a list made by exhaust(), counting blocks whose stamp changed. */
static void release_list(void *list, size_t n, long *damaged) {
  while (list) {
    void **p = list;
    list = *p;
    *damaged += !stamped((unsigned char *)(p + 1), n - sizeof *p);
    free(p);
  }
}

int main(void) {
  size_t initial = emscripten_get_heap_size();
  const zee_heap_info_t *h = zee_heap_info();
  printf("oom: memory %zu bytes\n", initial);

  /* 1. Big blocks until the memory runs out. */
  int errno_ok = 1, nbig = 0;
  for (; nbig < MAX_BIG; nbig++) {
    errno = 0;
    big[nbig] = malloc_fn(1 << 20);
    if (!big[nbig]) {
      errno_ok &= errno == ENOMEM;
      break;
    }
    stamp(big[nbig], 1 << 20);
  }
  size_t full = emscripten_get_heap_size();
  /* (the heap starts with the first allocation; zee_heap_info() changes nothing) */
  printf("oom: heap starts at %u\n", h->heap_start);
  CHECK("big-blocks", nbig > 0 && nbig < MAX_BIG && errno_ok,
        "%d x 1 MiB, then NULL with errno ENOMEM; memory %zu bytes", nbig, full);

  /* 2. The failed calls left the heap usable: smaller blocks still fit. */
  size_t sizes[] = {65536, 4096, 256, 16};
  void *lists[4] = {0};
  long counts[4];
  for (int i = 0; i < 4; i++)
    counts[i] = exhaust(sizes[i], &lists[i], &errno_ok);
  CHECK("smaller-blocks", counts[0] + counts[1] + counts[2] + counts[3] > 0 && errno_ok,
        "then %ld x 64 KiB, %ld x 4 KiB, %ld x 256 B, %ld x 16 B until NULL (ENOMEM)", counts[0],
        counts[1], counts[2], counts[3]);

  /* 3. Failing calls of every kind return NULL/ENOMEM and change nothing. */
  errno = 0;
  void *r = realloc(big[0], 100 << 20);
  int realloc_ok = r == NULL && errno == ENOMEM && stamped(big[0], 1 << 20);
  errno = 0;
  void *c = calloc_fn(1, 3 << 20);
  int calloc_ok = c == NULL && errno == ENOMEM;
  void *a = NULL;
  int pm = posix_memalign(&a, 1 << 20, 1 << 20);
  CHECK("failed-calls", realloc_ok && calloc_ok && pm == ENOMEM && a == NULL,
        "realloc keeps the old block, calloc NULL, posix_memalign ENOMEM");

  /* 4. Everything is intact; freeing makes room again. */
  long damaged = 0;
  for (int i = 0; i < nbig; i++)
    damaged += !stamped(big[i], 1 << 20);
  int check = zee_check();
  for (int i = 0; i < 4; i++)
    release_list(lists[i], sizes[i], &damaged);
  for (int i = 0; i < nbig; i += 2)
    free(big[i]), big[i] = NULL;
  int again = 0;
  for (int i = 0; i < nbig; i += 2) {
    big[i] = malloc_fn(1 << 20);
    if (big[i])
      again++, stamp(big[i], 1 << 20);
  }
  unsigned char *small = malloc_fn(100);
  CHECK("recovered", damaged == 0 && check == 0 && again == (nbig + 1) / 2 && small,
        "%ld damaged blocks, heap check %d when full; after freeing half, %d x 1 MiB fit again",
        damaged, check, again);
  free(small);
  for (int i = 0; i < nbig; i++)
    free(big[i]);
  size_t final_size = emscripten_get_heap_size();
  printf("oom: memory %zu -> %zu bytes\n", initial, final_size);
  return finish("oom");
}
