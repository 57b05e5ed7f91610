/*
 * Shared by the workloads: a seeded RNG, block stamps that catch a broken
 * allocator (overlap, lost contents, bad alignment), live-byte accounting,
 * and the one-line JSON result that bench/run.mjs reads.
 *
 * Every workload is deterministic: its checksum depends only on the data it
 * wrote and read back, never on addresses, so all three allocators must
 * print the same checksum.  Any failed check exits with status 1.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <emscripten.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t checksum = 0;
static uint64_t ops = 0;
static size_t live_bytes = 0, peak_live = 0;

/* xorshift64*: fast and the same on every allocator. */
static inline uint32_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Uniform in [lo, hi]. */
static inline uint32_t rnd_range(uint32_t lo, uint32_t hi) { return lo + rnd() % (hi - lo + 1); }

/* Prints why the run failed and stops with a non-zero status. */
/* Sizes of a small-object heap (as in typical C/C++ programs): 90% 8-128 B,
 * skewed small; 9% up to 1 KiB; 1% up to 4 KiB. */
/* The largest size of small_size()'s 1 % tail (small.c's second argument). */
static uint32_t small_tail_max = 4096;

static inline size_t small_size(void) {
  uint32_t r = rnd() % 1000;
  if (r < 900) {
    uint32_t a = rnd() % 121, b = rnd() % 121;
    return 8 + a * b / 120;
  }
  if (r < 990)
    return rnd_range(129, 1024);
  return rnd_range(1025, small_tail_max);
}

static void fail(const char *what, uint32_t id) {
  printf("{\"error\":\"%s (block %u)\"}\n", what, id);
  fflush(stdout);
  exit(1);
}

/* A stamp is written to the first and last 4 bytes of a block (or both to
 * one word when the block is smaller than 8), so two overlapping blocks, a
 * block cut short, or a copy that lost bytes all fail the check. */
static inline uint32_t stamp_of(uint32_t id, size_t n) { return (id * 2654435761u) ^ (uint32_t)n; }

/* Allocates n bytes for block `id`, checks alignment, writes its stamps. */
static inline void *take(size_t n, uint32_t id) {
  unsigned char *p = malloc(n);
  if (!p)
    fail("malloc returned NULL", id);
  if ((uintptr_t)p & 7)
    fail("malloc result not 8-aligned", id);
  ops++;
  live_bytes += n;
  if (live_bytes > peak_live)
    peak_live = live_bytes;
  uint32_t s = stamp_of(id, n);
  if (n >= 8) {
    memcpy(p, &s, 4);
    memcpy(p + n - 4, &s, 4);
  } else if (n) {
    p[0] = (unsigned char)s;
    p[n - 1] = (unsigned char)(s >> 8);
  }
  return p;
}

/* Checks block `id`'s stamps and folds them into the checksum. */
static inline void check(const void *q, size_t n, uint32_t id) {
  const unsigned char *p = q;
  uint32_t s = stamp_of(id, n), a, b;
  if (n >= 8) {
    memcpy(&a, p, 4);
    memcpy(&b, p + n - 4, 4);
    if (a != s || b != s)
      fail("block contents changed", id);
  } else if (n) {
    if (p[0] != (unsigned char)s || p[n - 1] != (unsigned char)(s >> 8))
      fail("block contents changed", id);
  }
  checksum = checksum * 31 + s;
}

/* Verifies then frees block `id`. */
static inline void give(void *p, size_t n, uint32_t id) {
  check(p, n, id);
  free(p);
  ops++;
  live_bytes -= n;
}

/* The result line: run.mjs parses this.  mem = final wasm memory size. */
static void report(const char *name, double ms) {
  printf("{\"workload\":\"%s\",\"ops\":%llu,\"ms\":%.3f,\"checksum\":\"%016llx\","
         "\"peak_live\":%zu,\"mem\":%lu}\n",
         name, (unsigned long long)ops, ms, (unsigned long long)checksum, peak_live,
         (unsigned long)__builtin_wasm_memory_size(0) * 65536ul);
}

/* The random-replacement shape of small.c and mixed.c: `live` blocks with
 * sizes from size_fn, then `steps` steps that each free a random block and
 * allocate its replacement, then everything freed.  Timed and reported. */
#define REPLACE_MAX_LIVE 10000
static void replace_random(const char *name, int live, long steps, size_t (*size_fn)(void)) {
  static void *ptr[REPLACE_MAX_LIVE];
  static size_t len[REPLACE_MAX_LIVE];
  static uint32_t ids[REPLACE_MAX_LIVE];
  uint32_t next_id = 0;
  if (live > REPLACE_MAX_LIVE)
    fail("live set too large", (uint32_t)live);
  double t0 = emscripten_get_now();
  for (int i = 0; i < live; i++)
    ptr[i] = take(len[i] = size_fn(), ids[i] = next_id++);
  for (long step = 0; step < steps; step++) {
    uint32_t i = rnd() % live;
    give(ptr[i], len[i], ids[i]);
    ptr[i] = take(len[i] = size_fn(), ids[i] = next_id++);
  }
  for (int i = 0; i < live; i++)
    give(ptr[i], len[i], ids[i]);
  report(name, emscripten_get_now() - t0);
}

/* The scale argument (argv[1]) multiplies the iteration count; --quick uses 1. */
static long scale_arg(int argc, char **argv, long dflt) {
  long s = argc > 1 ? strtol(argv[1], 0, 10) : dflt;
  if (s <= 0) {
    printf("{\"error\":\"bad scale argument\"}\n");
    exit(2);
  }
  return s;
}

#endif
