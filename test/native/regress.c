/*
 * The regression runner: the fuzz harness without libFuzzer, built with
 * ASan and UBSan.
 *   regress [--all-configs] PATH...   runs every input file (PATHs are files
 *        or directories); --all-configs runs each under every build of the
 *        core instead of the one its first byte names.
 *   regress --bad-input               runs the bad-input table natively.
 *   regress --random N SEED           runs N random inputs (fault injection:
 *        every one refuses growth at random points) under every build.
 * Exit status 0 means every input passed; a failure aborts with a report,
 * and a run that takes longer than WATCHDOG seconds (a call that left a
 * threads build's lock held hangs the next one) exits with one.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "page_source.h"

static int all_configs;
static unsigned files, runs;

/* ---- The watchdog ---------------------------------------------------------------- */
#define WATCHDOG 60
#define STR_(x) #x
#define STR(x) STR_(x)
static char running[4200]; /* what is running, for the watchdog's report */

/* Why write(): it is async-signal-safe, and the run may be stuck anywhere. */
static void watchdog(int sig) {
  static const char msg[] =
      "regress: still running after " STR(WATCHDOG) " s (a lock left held, or a loop): ";
  (void)sig;
  if (write(2, msg, sizeof msg - 1) >= 0 && write(2, running, strlen(running)) >= 0)
    (void)!write(2, "\n", 1);
  _exit(3);
}

/* Runs one input under one build, or its own, with the watchdog set. */
static void run_one(const char *what, const uint8_t *buf, size_t n, int config) {
  snprintf(running, sizeof running, "%s under %s", what,
           config >= 0 ? zee_apis[config].name : "the build its first byte names");
  alarm(WATCHDOG);
  harness_run(buf, n, config);
  alarm(0);
  runs++;
}

/* Why: a corpus entry that can't be read must fail the run, not shrink it. */
static void run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  static uint8_t buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  files++;
  if (all_configs) {
    for (unsigned c = 0; c < zee_api_count; c++)
      run_one(path, buf, n, (int)c);
  } else {
    run_one(path, buf, n, -1);
  }
}

static void run_path(const char *path) {
  struct stat st;
  if (stat(path, &st)) {
    perror(path);
    exit(2);
  }
  if (!S_ISDIR(st.st_mode))
    return run_file(path);
  DIR *d = opendir(path);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    run_path(sub);
  }
  closedir(d);
}

/* ---- The bad-input table, natively ---------------------------------------------- */
static const zee_api *A;
static unsigned cases;
static unsigned char static_byte[64] __attribute__((aligned(16)));
static unsigned char before[1 << 23];
static zee_heap_info_t info_before;

__attribute__((noreturn)) static void bad(const char *row, const char *what) {
  fprintf(stderr, "bad-input [%s] %s: %s\n", A->name, row, what);
  exit(1);
}

/* Calls fn(p) expecting fault `code` for p, with the heap left byte-for-byte
 * as it was and zee_check() still `check_after`. */
static void expect_fault(const char *row, int which, unsigned char *p, int code, int check_after) {
  uint32_t used = src_committed();
  if (used > sizeof before)
    bad(row, "heap too large to snapshot");
  memcpy(before, zee_native_base + SRC_PAGE, used - SRC_PAGE); /* page 0 is never mapped */
  memcpy(&info_before, A->heap_info(), sizeof info_before);
  int got = harness_call_bad(A, (unsigned)which, p);
  if (!got)
    bad(row, which == 0   ? "free accepted it"
             : which == 1 ? "realloc accepted it"
                          : "usable_size accepted it");
  if (got != code) {
    fprintf(stderr, "bad-input [%s] %s: fault %d, want %d\n", A->name, row, got, code);
    exit(1);
  }
  /* Host builds map a pointer outside the 4 GiB arena to offset 1 (still a
   * POINTER fault); inside it, the fault names the pointer itself. */
  int outside = (uintptr_t)(p - zee_native_base) >> 32 != 0;
  if (harness_fault_ptr != (outside ? zee_native_base + 1 : p))
    bad(row, "the fault names another pointer");
  if (memcmp(before, zee_native_base + SRC_PAGE, used - SRC_PAGE) ||
      memcmp(&info_before, A->heap_info(), sizeof info_before))
    bad(row, "the rejected call changed the heap");
  if (A->check() != check_after)
    bad(row, "zee_check() changed");
  cases++;
}

static void all_calls(const char *row, unsigned char *p, int code, int check_after) {
  for (int w = 0; w < 3; w++)
    expect_fault(row, w, p, code, check_after);
}

/* Before the first allocation the heap owns nothing: every pointer is out of bounds. */
static void before_first_allocation(void) {
  unsigned char *would_be = zee_native_base + ((zee_source_base() + 15) & ~15u) + 16;
  all_calls("before the first allocation: the heap's first block", would_be, ZEE_E_POINTER, 0);
  all_calls("before the first allocation: static address", static_byte, ZEE_E_POINTER, 0);
  if (A->heap_info()->heap_start)
    bad("before the first allocation", "a rejected call initialised the heap");
}

/* Is there a header at q - 8 that a merge buried (tag MERGED, sound check word)? */
static int buried_at(const unsigned char *q) {
  const uint32_t *w = (const uint32_t *)(const void *)(q - 8);
  return (w[0] & ZEE_TAG_MASK) == ZEE_TAG_MERGED &&
         w[1] == (w[0] ^ (uint32_t)(q - zee_native_base) ^ ZEE_SALT);
}

/* An interior pointer of a live block over a buried header: 32-byte blocks
 * freed merge their frames; the 128-byte blocks cut from them hold the
 * buried headers (blocks stay live until the heap is dropped). */
static unsigned char *over_buried_header(void) {
  unsigned char *p[64];
  for (int i = 0; i < 64; i++)
    p[i] = A->malloc(24);
  for (int i = 0; i < 64; i++)
    A->free(p[i]);
  for (int i = 0; i < 64; i++) {
    unsigned char *b = A->malloc(120);
    for (unsigned char *q = b + 16; b && q < b + 120; q += 16)
      if (buried_at(q))
        return q;
  }
  bad("setup", "no 128-byte block over a header buried by a merge");
}

/* Two live blocks of `n` bytes, the second right after the first (`step`
 * bytes on): a request of n bytes is a block of step bytes. */
static void adjacent_pair(const char *row, size_t n, size_t step, unsigned char **lo,
                          unsigned char **hi) {
  unsigned char *ps[64];
  *lo = *hi = 0;
  for (int i = 0; i < 64 && !*hi; i++) {
    ps[i] = A->malloc(n);
    for (int k = 0; k < i; k++)
      if (ps[i] == ps[k] + step)
        *lo = ps[k], *hi = ps[i];
  }
  if (!*hi)
    bad(row, "no two adjacent blocks");
}

/* An overflow of 8 bytes past lo's usable size overwrites hi's header: free
 * reports it, zee_check() reports `check` until it is repaired. */
static void overwritten(const char *row, size_t n, size_t step, int check) {
  unsigned char *lo, *hi, saved[8];
  adjacent_pair(row, n, step, &lo, &hi);
  if (A->usable_size(lo) != step - 8)
    bad(row, "not a block of the expected size");
  memcpy(saved, lo + step - 8, 8);
  memset(lo + step - 8, 0x41, 8);
  all_calls(row, hi, ZEE_E_HEADER, check);
  memcpy(lo + step - 8, saved, 8);
  if (A->check())
    bad(row, "heap not sound after restoring the header");
  A->free(hi);
}

static void bad_pointers(void) {
  unsigned char local[32] __attribute__((aligned(16)));
  const zee_heap_info_t *h = A->heap_info();
  /* A slot (112 B in a slab of ZEE_SLAB_MIN), a block in a 2 KiB frame, an exact
   * block, and one of three pages and a bit. */
  unsigned char *slot = A->malloc(100), *framed = A->malloc(2000), *exact = A->malloc(10000),
                *large = A->malloc(3 * 65536 + 100);
  unsigned char *gone = A->malloc(5 * 65536);
  if (!slot || !framed || !exact || !large || !gone)
    bad("setup", "allocation failed");
  /* The memory of a freed block, marked so that whatever free() writes
   * there (frame headers) can be told from what it left alone. */
  memset(gone, 0x41, 5 * 65536);
  A->free(gone);
  unsigned char *in_free = gone + 65536 + 16;
  while (in_free < gone + 5 * 65536 && (in_free[-8] != 0x41 || in_free[-1] != 0x41))
    in_free += 16;
  /* The slab that holds `slot`: slabs of 112-byte slots are ZEE_SLAB_MIN bytes. */
  unsigned char *slab =
      zee_native_base + ((uint32_t)(slot - zee_native_base) & ~(ZEE_SLAB_MIN - 1));
  if (((const uint32_t *)(const void *)(slab - 8))[0] != (ZEE_SLAB_MIN | ZEE_TAG_SLAB))
    bad("setup", "a 100-byte block is not a slot of a ZEE_SLAB_MIN-byte slab");
  /* A foreign block: someone else grows a page, then the heap grows past it. */
  uint32_t old_end = h->heap_end;
  if (src_foreign_grow(1) != old_end)
    bad("setup", "the foreign page does not start at the heap's end");
  unsigned char *past = A->malloc((h->heap_end - h->heap_start) + 65536);
  if (!past || h->heap_end <= old_end + 65536)
    bad("setup", "the heap did not grow past the foreign page");
  unsigned char *foreign = zee_native_base + old_end;
  all_calls("stack address", local, ZEE_E_POINTER, 0);
  all_calls("static address", static_byte, ZEE_E_POINTER, 0);
  all_calls("below the heap's first block", zee_native_base + h->heap_start - 16, ZEE_E_POINTER, 0);
  all_calls("interior pointer (slot)", slot + 16, ZEE_E_HEADER, 0);
  all_calls("interior pointer (block in a power-of-two frame)", framed + 16, ZEE_E_HEADER, 0);
  all_calls("interior pointer (block of exact size)", exact + 16, ZEE_E_HEADER, 0);
  /* A page boundary inside a block often holds the header of a frame that a
   * carve buried (docs/layout.md: a buried header is a double free). */
  unsigned char *boundary =
      zee_native_base + (((uint32_t)(large - zee_native_base) + 65536) & ~65535u);
  all_calls("interior pointer (block of many pages, on a page boundary)", boundary,
            buried_at(boundary) ? ZEE_E_DOUBLE_FREE : ZEE_E_HEADER, 0);
  all_calls("interior pointer over a buried header", over_buried_header(), ZEE_E_DOUBLE_FREE, 0);
  if (in_free < gone + 5 * 65536)
    all_calls("address inside a free frame", in_free, ZEE_E_HEADER, 0);
  else
    bad("setup", "free() wrote over every 16th word of the freed block");
  all_calls("a slab (not a user block)", slab, ZEE_E_HEADER, 0);
  all_calls("a foreign block", foreign, ZEE_E_HEADER, 0);
  all_calls("inside foreign memory", foreign + 4096, ZEE_E_HEADER, 0);
  all_calls("unaligned (+1)", slot + 1, ZEE_E_POINTER, 0);
  all_calls("unaligned (+8)", slot + 8, ZEE_E_POINTER, 0);
  all_calls("the heap's end", zee_native_base + h->heap_end, ZEE_E_POINTER, 0);
  all_calls("past the heap", zee_native_base + h->heap_end + 16, ZEE_E_POINTER, 0);
  all_calls("far past the heap", zee_native_base + 0xfffffff0u, ZEE_E_POINTER, 0);
  /* Double free: a slot, a block in a frame, exact blocks of one page and of
   * several; each merged with its free neighbours or not. */
  unsigned char *a = A->malloc(40), *f = A->malloc(56), *j = A->malloc(70000),
                *w = A->malloc(2 * 65536);
  A->free(a);
  A->free(f);
  A->free(j);
  A->free(w);
  all_calls("double free (slot)", a, ZEE_E_DOUBLE_FREE, 0);
  all_calls("double free (block in a frame)", f, ZEE_E_DOUBLE_FREE, 0);
  all_calls("double free (exact block)", j, ZEE_E_DOUBLE_FREE, 0);
  all_calls("double free (exact block of whole pages and 16 bytes)", w, ZEE_E_DOUBLE_FREE, 0);
  /* Headers overwritten by an overflow of the block before: blocks in
   * 32-byte frames, slots of 48 bytes, exact blocks packed end to end. */
  overwritten("header overwritten (block in a frame)", 24, 32, ZEE_C_FRAME);
  overwritten("header overwritten (slot)", 40, 48, ZEE_C_SLAB);
  overwritten("header overwritten (exact block)", 5000, 5008, ZEE_C_FRAME);
  A->free(slot);
  A->free(framed);
  A->free(exact);
  A->free(large);
  A->free(past);
  if (A->check())
    bad("afterwards", "heap not sound");
}

/* Brings the cursor (where the next exact block is tried first) to the last
 * 16 bytes of a page, where the end of a block just past the largest heap
 * (0xffff0000 bytes) wraps into the same page: such requests must still be
 * refused.  Exact blocks fill the page up to there (the blocks stay live
 * until the heap is dropped). */
static void cursor_at_page_end(void) {
  const zee_heap_info_t *h = A->heap_info();
  for (int i = 0; i < 16; i++) {
    uint32_t c = h->cursor, room = 65536 - c % 65536;
    if (c && room == 16)
      return;
    A->malloc(c && room - 16 > 4096 ? room - 16 - 8 : 5000);
  }
  bad("setup", "the cursor does not reach the last 16 bytes of a page");
}

static void bad_sizes(void) {
  static const size_t huge[] = {SIZE_MAX,    SIZE_MAX - 7, SIZE_MAX / 2 + 1, 0x100000000ull,
                                0xffff0001u, 0xfffffff8u,  0xffff0000u,      0xfffefff9u};
  unsigned char *keep = A->malloc(100);
  cursor_at_page_end();
  memset(keep, 0x77, 100);
  for (unsigned i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    char row[64];
    snprintf(row, sizeof row, "a size past the largest heap (0x%zx)", huge[i]);
    errno = 0;
    if (A->malloc(huge[i]) || errno != ENOMEM)
      bad(row, "malloc: not NULL/ENOMEM");
    errno = 0;
    if (A->calloc(1, huge[i]) || errno != ENOMEM)
      bad(row, "calloc: not NULL/ENOMEM");
    errno = 0;
    if (A->realloc(keep, huge[i]) || errno != ENOMEM)
      bad(row, "realloc: not NULL/ENOMEM");
    for (int k = 0; k < 100; k++)
      if (keep[k] != 0x77)
        bad(row, "realloc: the old block changed");
    cases += 3;
  }
  errno = 0;
  if (A->calloc(SIZE_MAX / 2 + 1, 2) || errno != ENOMEM)
    bad("calloc overflow", "not NULL/ENOMEM");
  errno = 0;
  if (A->calloc(0x100000001ull, 0x100000001ull) || errno != ENOMEM)
    bad("calloc overflow", "not NULL/ENOMEM");
  static const size_t odd[] = {3, 24, 48, 65536 * 3, SIZE_MAX};
  for (unsigned i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    errno = 0;
    if (A->memalign(odd[i], 16) || errno != EINVAL)
      bad("aligned_alloc non-power-of-two", "not NULL/EINVAL");
  }
  errno = 0;
  if (A->memalign(1ull << 40, 16) || errno != ENOMEM)
    bad("aligned_alloc huge", "not NULL/ENOMEM");
  errno = 0;
  if (A->memalign(0x80000000u, 16) || errno != ENOMEM)
    bad("aligned_alloc 2 GiB", "not NULL/ENOMEM");
  unsigned char *z = A->memalign(0, 16);
  if (!z || ((uintptr_t)z & 15))
    bad("aligned_alloc(0, n)", "not a 16-aligned block");
  A->free(z);
  if (A->realloc(keep, 0))
    bad("realloc to 0", "did not return NULL");
  if (A->validation)
    all_calls("realloc to 0 then free", keep, ZEE_E_DOUBLE_FREE, 0);
  if (A->check())
    bad("sizes", "heap not sound");
  cases += 11;
}

/* Faults in every checked build, sizes and alignments in every build. */
static void bad_input(void) {
  unsigned checked = 0;
  for (unsigned c = 0; c < zee_api_count; c++) {
    A = &zee_apis[c];
    src_options o = {.base = 65536 + 1000, .initial = 0, .cap = 1u << 30};
    snprintf(running, sizeof running, "the bad-input table under %s", A->name);
    alarm(WATCHDOG);
    harness_fresh(A, &o);
    if (A->validation)
      before_first_allocation(), bad_pointers(), checked++;
    bad_sizes();
    alarm(0);
  }
  printf("bad-input: %u cases passed over %u builds (%u with pointer checks)\n", cases,
         zee_api_count, checked);
}

/* Random inputs whose header always asks the page source to refuse some
 * growth (1/8 .. 1/2 of the requests) under a small cap: native fault
 * injection without libFuzzer, replayable from SEED. */
static void random_inputs(unsigned n, uint32_t seed) {
  static uint8_t buf[2048];
  uint32_t x = seed | 1;
  for (unsigned k = 0; k < n; k++) {
    size_t len = 64 + k % (sizeof buf - 64);
    for (size_t i = 0; i < len; i++)
      x ^= x << 13, x ^= x >> 17, x ^= x << 5, buf[i] = (uint8_t)(x >> 7);
    buf[1] %= 32; /* cap: up to 64 pages above the start */
    buf[3] = (uint8_t)((buf[3] & ~0x38u) | (5 + k % 3) << 3); /* refuse 1/8, 1/4 or 1/2 */
    char what[64];
    snprintf(what, sizeof what, "random input %u (seed 0x%x)", k, (unsigned)seed);
    for (unsigned c = 0; c < zee_api_count; c++)
      run_one(what, buf, len, (int)c);
    files++;
  }
}

int main(int argc, char **argv) {
  int any = 0;
  signal(SIGALRM, watchdog);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--all-configs"))
      all_configs = 1;
    else if (!strcmp(argv[i], "--bad-input"))
      bad_input(), any = 1;
    else if (!strcmp(argv[i], "--random") && i + 2 < argc) {
      char *e1, *e2;
      unsigned long n = strtoul(argv[i + 1], &e1, 10), seed = strtoul(argv[i + 2], &e2, 0);
      if (*e1 || *e2 || !n) {
        fprintf(stderr, "regress: --random needs a count and a seed\n");
        return 2;
      }
      random_inputs((unsigned)n, (uint32_t)seed);
      i += 2, any = 1;
    } else
      run_path(argv[i]), any = 1;
  }
  if (!any) {
    fprintf(stderr, "usage: regress [--all-configs] PATH... | --bad-input | --random N SEED\n");
    return 2;
  }
  if (files)
    printf("regress: %u inputs, %u runs, %llu calls, %llu NULLs accounted, %llu growths refused, "
           "%llu bad pointers rejected, no finding\n",
           files, runs, (unsigned long long)harness_ops, (unsigned long long)harness_nulls,
           (unsigned long long)harness_refused, (unsigned long long)harness_rejected);
  return 0;
}
