/*
 * The page source of the native (host) builds of zee_alloc.
 *
 * src/zee_alloc.c addresses memory as 32-bit offsets from zee_native_base.
 * Here that base is a 4 GiB reservation, aligned to 4 GiB and mapped
 * PROT_NONE, so offsets behave as in wasm32.  Pages become readable and
 * writable only when committed, so a stray access beyond the committed size
 * faults at once (under ASan: a SEGV report).  Offsets [0, 64 KiB) are never
 * committed: a NULL-ish offset can't be dereferenced.  [64 KiB, base) plays
 * the program's static data and is filled with a pattern that must survive.
 *
 * zee_source_grow() is where faults are injected: it refuses growth beyond
 * the cap, on request (src_fail_next) or at random (fail_per_256).
 */
#define _GNU_SOURCE
#include "page_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define RESERVE (1ull << 32)
#define STATIC_BYTE 0x5d
#define FOREIGN_BYTE 0xf0

unsigned char *zee_native_base;
src_stats src_stat;

static src_options opt;
static uint32_t committed, fail_next, rng_state;
static uint32_t foreign[64][2]; /* [offset, bytes] of foreign regions */
static unsigned foreign_count;

/* Why: a source bug must stop the run loudly, not look like an OOM. */
static void die(const char *what, uint64_t v) {
  fprintf(stderr, "page_source: %s (0x%llx)\n", what, (unsigned long long)v);
  abort();
}

/* Reserves the 4 GiB arena once, aligned to 4 GiB so that an offset's
 * alignment is the pointer's (aligned_alloc up to 2 GiB). */
static void reserve(void) {
  if (zee_native_base)
    return;
  unsigned char *m =
      mmap(NULL, 2 * RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED)
    die("cannot reserve the 4 GiB arena", 0);
  zee_native_base = (unsigned char *)(((uintptr_t)m + RESERVE - 1) & ~(uintptr_t)(RESERVE - 1));
}

/* Makes [from, to) readable and writable, zero or junk like fresh memory. */
static void commit(uint32_t from, uint32_t to) {
  if (mprotect(zee_native_base + from, to - from, PROT_READ | PROT_WRITE))
    die("mprotect failed", from);
  if (opt.junk)
    memset(zee_native_base + from, 0xa5, to - from);
}

/* xorshift32: refusals at random points, replayable from the input. */
static uint32_t next_rand(void) {
  uint32_t x = rng_state ? rng_state : 0x9e3779b9u;
  x ^= x << 13, x ^= x >> 17, x ^= x << 5;
  return rng_state = x;
}

void src_reset(const src_options *o) {
  reserve();
  if (committed) {
    /* Drop the old contents (zeros on the next commit) and protect again. */
    madvise(zee_native_base, committed, MADV_DONTNEED);
    if (mprotect(zee_native_base, committed, PROT_NONE))
      die("mprotect failed", 0);
  }
  opt = *o;
  if (opt.base < SRC_PAGE)
    die("base below 64 KiB", opt.base);
  uint32_t start = (opt.base + SRC_PAGE - 1) & ~(SRC_PAGE - 1);
  if (opt.initial < start)
    opt.initial = start;
  if (opt.initial % SRC_PAGE || opt.cap < opt.initial)
    die("bad initial size or cap", opt.initial);
  committed = opt.initial;
  commit(SRC_PAGE, committed);
  memset(zee_native_base + SRC_PAGE, STATIC_BYTE, opt.base - SRC_PAGE);
  memset(&src_stat, 0, sizeof src_stat);
  fail_next = 0;
  foreign_count = 0;
  rng_state = opt.seed;
}

uint32_t zee_source_base(void) { return opt.base; }
uint32_t zee_source_size(void) { return committed; }

int zee_source_grow(uint32_t new_size) {
  src_stat.grows++;
  /* The core's side of the contract: whole pages, and more than we have. */
  if (new_size % SRC_PAGE || new_size <= committed)
    die("zee_source_grow: size not a page multiple above the current size", new_size);
  int refuse = new_size > opt.cap;
  if (fail_next)
    fail_next--, refuse = 1;
  if (opt.fail_per_256 && (next_rand() & 255) < opt.fail_per_256)
    refuse = 1;
  if (refuse) {
    src_stat.denied++;
    return 0;
  }
  uint64_t to = (uint64_t)new_size + (uint64_t)opt.overcommit * SRC_PAGE;
  if (to > opt.cap)
    to = new_size;
  commit(committed, (uint32_t)to);
  committed = (uint32_t)to;
  return 1;
}

void src_fail_next(uint32_t n) { fail_next = n; }

uint32_t src_foreign_grow(uint32_t n) {
  uint64_t to = (uint64_t)committed + (uint64_t)n * SRC_PAGE;
  if (to > opt.cap || foreign_count == 64)
    return 0;
  uint32_t at = committed;
  commit(at, (uint32_t)to);
  memset(zee_native_base + at, FOREIGN_BYTE, to - at);
  committed = (uint32_t)to;
  foreign[foreign_count][0] = at;
  foreign[foreign_count++][1] = (uint32_t)(to - at);
  src_stat.foreign_pages += n;
  return at;
}

int src_heap_range(uint32_t off, uint64_t len) {
  if (off < opt.base || off + len > committed)
    return 0;
  for (unsigned i = 0; i < foreign_count; i++)
    if (off < foreign[i][0] + foreign[i][1] && off + len > foreign[i][0])
      return 0;
  return 1;
}

/* Checks [from, from+len) still holds `byte`, a page at a time with memcmp
 * (a plain byte loop is slow under the fuzzer's comparison tracing). */
static int untouched(uint32_t from, uint32_t len, unsigned char byte) {
  static unsigned char want[SRC_PAGE];
  memset(want, byte, sizeof want);
  for (uint32_t at = 0; at < len; at += SRC_PAGE) {
    uint32_t n = len - at < SRC_PAGE ? len - at : SRC_PAGE;
    if (!memcmp(zee_native_base + from + at, want, n))
      continue;
    for (uint32_t i = at; i < at + n; i++)
      if (zee_native_base[from + i] != byte) {
        fprintf(stderr, "page_source: byte at offset 0x%x changed to 0x%02x (want 0x%02x)\n",
                from + i, zee_native_base[from + i], byte);
        return 1;
      }
  }
  return 0;
}

int src_verify(void) {
  if (untouched(SRC_PAGE, opt.base - SRC_PAGE, STATIC_BYTE))
    return 1;
  for (unsigned i = 0; i < foreign_count; i++)
    if (untouched(foreign[i][0], foreign[i][1], FOREIGN_BYTE))
      return 1;
  return 0;
}

uint32_t src_foreign_between(uint32_t from, uint32_t to) {
  uint32_t n = 0;
  for (unsigned i = 0; i < foreign_count; i++)
    if (foreign[i][0] >= from && foreign[i][0] < to)
      n += foreign[i][1];
  return n;
}

uint32_t src_committed(void) { return committed; }
uint32_t src_cap(void) { return opt.cap; }
