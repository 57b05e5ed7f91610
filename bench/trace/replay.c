/*
 * Replays a trace of trace.c through a native (host) build of zee_alloc and
 * prints one JSON line: the heap zee_alloc needed at its peak, and the
 * peaks of three cost models of the same calls:
 *   dl     dlmalloc's chunks on wasm32: roundup(n + 4, 8), at least 16
 *   pow2   every block of m = roundup(n + 8, 16) up to 4 KiB in a
 *          power-of-two frame (layout 4's rule), exactly m above
 *   exact  m for every block (no fragmentation at all)
 * Usage: zee_replay TRACE   (built and run by bench/trace/run.mjs)
 */
#include <stdio.h>
#include <stdlib.h>

#include "page_source.h"
#include "zee_alloc.h"

#define SLOT(a) ((a) >> 4) /* zee_alloc's addresses are 16-aligned */
#define SLOTS (1u << 28)   /* the wasm32 address space in 16 B steps */

static uint32_t *where, *size; /* by traced address: replayed offset, size */
static uint64_t models[3], peaks[3];

static uint32_t round_to(uint32_t n, uint32_t g) { return (n + g - 1) & ~(g - 1); }

/* Adds (sign +1) or removes (-1) a block of n bytes in each cost model. */
static void model(uint32_t n, int sign) {
  uint32_t m = round_to(n + 8, 16), dl = round_to(n + 4, 8), pow2 = 16;
  while (pow2 < m)
    pow2 <<= 1;
  uint32_t cost[3] = {dl < 16 ? 16 : dl, m > 4096 ? m : pow2, m};
  for (int i = 0; i < 3; i++) {
    models[i] += sign * (int64_t)cost[i];
    if (models[i] > peaks[i])
      peaks[i] = models[i];
  }
}

static void die(const char *what, long i) {
  fprintf(stderr, "zee_replay: %s at record %ld\n", what, i);
  exit(1);
}

static void track(uint32_t traced, void *p, uint32_t n, long i) {
  if (!p)
    die("out of memory", i);
  where[SLOT(traced)] = (uint32_t)((unsigned char *)p - zee_native_base);
  size[SLOT(traced)] = n;
  model(n, 1);
}

static void *replayed(uint32_t traced, long i) {
  if (!where[SLOT(traced)])
    die("a pointer the trace never allocated", i);
  model(size[SLOT(traced)], -1);
  void *p = zee_native_base + where[SLOT(traced)];
  where[SLOT(traced)] = 0;
  return p;
}

int main(int argc, char **argv) {
  FILE *f = argc == 2 ? fopen(argv[1], "rb") : NULL;
  if (!f) {
    fprintf(stderr, "usage: zee_replay TRACE\n");
    return 2;
  }
  where = calloc(SLOTS, 4), size = calloc(SLOTS, 4);
  src_options o = {.base = 262144, .initial = 262144, .cap = 0xffff0000u};
  src_reset(&o);
  uint32_t r[4], peak = 0;
  long i = 0;
  for (; fread(r, sizeof r, 1, f) == 1; i++) {
    uint32_t op = r[0], result = r[1], n = r[2], arg = r[3];
    if (op == 2) {
      zee_free(replayed(result, i));
    } else if (op == 3) {
      void *old = arg ? replayed(arg, i) : NULL;
      if (!result && n) /* a failed realloc: the block stays */
        die("the traced program ran out of memory", i);
      void *p = zee_realloc(old, n);
      if (result)
        track(result, p, n, i);
    } else if (result) {
      track(result, op == 4 ? zee_memalign(arg, n) : zee_malloc(n), n, i);
    }
    if (zee_source_size() > peak)
      peak = zee_source_size();
  }
  int check = zee_check();
  uint32_t heap = peak - o.base;
  printf("{\"records\":%ld,\"heap\":%u,\"dl_model\":%llu,\"pow2_model\":%llu,\"exact_model\":%llu,"
         "\"heap_vs_dl_model\":%.3f,\"check\":%d}\n",
         i, heap, (unsigned long long)peaks[0], (unsigned long long)peaks[1],
         (unsigned long long)peaks[2], (double)heap / peaks[0], check);
  return check != 0;
}
