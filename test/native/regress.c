/*
 * The regression runner: the fuzz harness without libFuzzer, built with
 * ASan and UBSan.
 *   regress [--all-configs] PATH...   runs every input file (PATHs are files
 *        or directories); --all-configs runs each under every build of the
 *        core instead of the one its first byte names.
 *   regress --bad-input               runs the bad-input table natively.
 *   regress --random N SEED           runs N random inputs (fault injection:
 *        every one refuses growth at random points) under every build.
 * Exit status 0 means every input passed; a failure aborts with a report.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "page_source.h"

static int all_configs;
static unsigned files, runs;

/* Why: a corpus entry that can't be read must fail the run, not shrink it. */
static void run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  static uint8_t buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  files++;
  if (all_configs) {
    for (unsigned c = 0; c < zee_api_count; c++, runs++) harness_run(buf, n, (int)c);
  } else {
    harness_run(buf, n, -1);
    runs++;
  }
}

static void run_path(const char *path) {
  struct stat st;
  if (stat(path, &st)) { perror(path); exit(2); }
  if (!S_ISDIR(st.st_mode)) return run_file(path);
  DIR *d = opendir(path);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
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
static unsigned char before[1 << 21];
static zee_heap_info_t info_before;

__attribute__((noreturn)) static void bad(const char *row, const char *what) {
  fprintf(stderr, "bad-input [%s] %s: %s\n", A->name, row, what);
  exit(1);
}

/* Calls fn(p) expecting fault `code` for p, with the heap left byte-for-byte
 * as it was and zee_check() still `check_after`. */
static void expect_fault(const char *row, int which, unsigned char *p, int code, int check_after) {
  uint32_t used = src_committed();
  if (used > sizeof before) bad(row, "heap too large to snapshot");
  memcpy(before, zee_native_base + SRC_PAGE, used - SRC_PAGE); /* page 0 is never mapped */
  memcpy(&info_before, A->heap_info(), sizeof info_before);
  int got = setjmp(harness_fault_jmp);
  if (!got) {
    harness_expect_fault = 1;
    if (which == 0) A->free(p);
    else if (which == 1) A->realloc(p, 100);
    else A->usable_size(p);
    harness_expect_fault = 0;
    bad(row, which == 0 ? "free accepted it" : which == 1 ? "realloc accepted it" : "usable_size accepted it");
  }
  if (got != code) {
    fprintf(stderr, "bad-input [%s] %s: fault %d, want %d\n", A->name, row, got, code);
    exit(1);
  }
  /* Host builds map a pointer outside the 4 GiB arena to offset 1 (still a
   * POINTER fault); inside it, the fault names the pointer itself. */
  int outside = (uintptr_t)(p - zee_native_base) >> 32 != 0;
  if (harness_fault_ptr != (outside ? zee_native_base + 1 : p)) bad(row, "the fault names another pointer");
  if (memcmp(before, zee_native_base + SRC_PAGE, used - SRC_PAGE) || memcmp(&info_before, A->heap_info(), sizeof info_before))
    bad(row, "the rejected call changed the heap");
  if (A->check() != check_after) bad(row, "zee_check() changed");
  cases++;
}

static void all_calls(const char *row, unsigned char *p, int code, int check_after) {
  for (int w = 0; w < 3; w++) expect_fault(row, w, p, code, check_after);
}

static void bad_pointers(void) {
  unsigned char local[32] __attribute__((aligned(16)));
  unsigned char *small = A->malloc(100), *jumbo = A->malloc(3 * 65536);
  unsigned char *gone = A->malloc(5 * 65536);
  A->free(gone); /* its pages are now a free span (or merged into one) */
  const zee_heap_info_t *h = A->heap_info();
  if (!small || !jumbo || !h->spans) bad("setup", "allocation failed");
  all_calls("stack address", local, ZEE_E_POINTER, 0);
  all_calls("static address", static_byte, ZEE_E_POINTER, 0);
  all_calls("interior pointer (small)", small + 16, ZEE_E_HEADER, 0);
  all_calls("interior pointer (jumbo)", jumbo + 65536, ZEE_E_HEADER, 0);
  all_calls("address in a free span", zee_native_base + h->spans + 16, ZEE_E_HEADER, 0);
  all_calls("unaligned (+1)", small + 1, ZEE_E_POINTER, 0);
  all_calls("unaligned (+8)", small + 8, ZEE_E_POINTER, 0);
  all_calls("past the heap", zee_native_base + h->heap_end + 16, ZEE_E_POINTER, 0);
  all_calls("far past the heap", zee_native_base + 0xfffffff0u, ZEE_E_POINTER, 0);
  /* Double free: small and jumbo. */
  unsigned char *a = A->malloc(40), *j = A->malloc(70000);
  A->free(a);
  A->free(j);
  all_calls("double free (small)", a, ZEE_E_DOUBLE_FREE, 0);
  all_calls("double free (jumbo)", j, ZEE_E_DOUBLE_FREE, 0);
  /* Header overwritten by an overflow of the block before it. */
  unsigned char *lo = 0, *hi = 0, *ps[64];
  for (int i = 0; i < 64 && !hi; i++) {
    ps[i] = A->malloc(24);
    for (int k = 0; k < i; k++)
      if (ps[i] == ps[k] + 32) lo = ps[k], hi = ps[i];
  }
  if (!hi) bad("header overwritten", "no adjacent pair of 32 B frames");
  unsigned char saved[8];
  memcpy(saved, lo + 24, 8);
  memset(lo + 24, 0x41, 8); /* 8 bytes past lo's usable size: hi's header */
  all_calls("header overwritten", hi, ZEE_E_HEADER, ZEE_C_FRAME);
  memcpy(lo + 24, saved, 8);
  if (A->check()) bad("header overwritten", "heap not sound after restoring the header");
  A->free(hi);
  A->free(small);
  A->free(jumbo);
  if (A->check()) bad("afterwards", "heap not sound");
}

static void bad_sizes(void) {
  static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 7, SIZE_MAX / 2 + 1, 0x100000000ull,
                                0xffff0001u, 0xfffffff8u};
  unsigned char *keep = A->malloc(100);
  memset(keep, 0x77, 100);
  for (unsigned i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    errno = 0;
    if (A->malloc(huge[i]) || errno != ENOMEM) bad("malloc near SIZE_MAX", "not NULL/ENOMEM");
    errno = 0;
    if (A->calloc(1, huge[i]) || errno != ENOMEM) bad("calloc near SIZE_MAX", "not NULL/ENOMEM");
    errno = 0;
    if (A->realloc(keep, huge[i]) || errno != ENOMEM) bad("realloc near SIZE_MAX", "not NULL/ENOMEM");
    for (int k = 0; k < 100; k++)
      if (keep[k] != 0x77) bad("realloc near SIZE_MAX", "the old block changed");
    cases += 3;
  }
  errno = 0;
  if (A->calloc(SIZE_MAX / 2 + 1, 2) || errno != ENOMEM) bad("calloc overflow", "not NULL/ENOMEM");
  errno = 0;
  if (A->calloc(0x100000001ull, 0x100000001ull) || errno != ENOMEM) bad("calloc overflow", "not NULL/ENOMEM");
  static const size_t odd[] = {3, 24, 48, 65536 * 3, SIZE_MAX};
  for (unsigned i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    errno = 0;
    if (A->memalign(odd[i], 16) || errno != EINVAL) bad("aligned_alloc non-power-of-two", "not NULL/EINVAL");
  }
  errno = 0;
  if (A->memalign(1ull << 40, 16) || errno != ENOMEM) bad("aligned_alloc huge", "not NULL/ENOMEM");
  unsigned char *z = A->memalign(0, 16);
  if (!z || ((uintptr_t)z & 15)) bad("aligned_alloc(0, n)", "not a 16-aligned block");
  A->free(z);
  if (A->realloc(keep, 0)) bad("realloc to 0", "did not return NULL");
  if (A->validation) all_calls("realloc to 0 then free", keep, ZEE_E_DOUBLE_FREE, 0);
  if (A->check()) bad("sizes", "heap not sound");
  cases += 10;
}

static void bad_input(void) {
  for (unsigned c = 0; c < zee_api_count; c++) {
    A = &zee_apis[c];
    src_options o = {.base = 65536 + 1000, .initial = 0, .cap = 1u << 30};
    harness_fresh(A, &o);
    if (A->validation) bad_pointers();
    bad_sizes();
  }
  printf("bad-input: %u cases passed over %u builds\n", cases, zee_api_count);
}

/* Random inputs whose header always asks the page source to refuse some
 * growth (1/8 .. 1/2 of the requests) under a small cap: native fault
 * injection without libFuzzer, replayable from SEED. */
static void random_inputs(unsigned n, uint32_t seed) {
  static uint8_t buf[2048];
  uint32_t x = seed | 1;
  for (unsigned k = 0; k < n; k++) {
    size_t len = 64 + k % (sizeof buf - 64);
    for (size_t i = 0; i < len; i++) x ^= x << 13, x ^= x >> 17, x ^= x << 5, buf[i] = (uint8_t)(x >> 7);
    buf[1] %= 32;                                        /* cap: up to 64 pages above the start */
    buf[3] = (uint8_t)((buf[3] & ~0x38u) | (5 + k % 3) << 3); /* refuse 1/8, 1/4 or 1/2 */
    for (unsigned c = 0; c < zee_api_count; c++, runs++) harness_run(buf, len, (int)c);
    files++;
  }
}

int main(int argc, char **argv) {
  int any = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--all-configs")) all_configs = 1;
    else if (!strcmp(argv[i], "--bad-input")) bad_input(), any = 1;
    else if (!strcmp(argv[i], "--random") && i + 2 < argc) {
      char *e1, *e2;
      unsigned long n = strtoul(argv[i + 1], &e1, 10), seed = strtoul(argv[i + 2], &e2, 0);
      if (*e1 || *e2 || !n) { fprintf(stderr, "regress: --random needs a count and a seed\n"); return 2; }
      random_inputs((unsigned)n, (uint32_t)seed);
      i += 2, any = 1;
    }
    else run_path(argv[i]), any = 1;
  }
  if (!any) {
    fprintf(stderr, "usage: regress [--all-configs] PATH... | --bad-input | --random N SEED\n");
    return 2;
  }
  if (files)
    printf("regress: %u inputs, %u runs, %llu calls, %llu NULLs accounted, %llu growths refused, no finding\n",
           files, runs, (unsigned long long)harness_ops, (unsigned long long)harness_nulls,
           (unsigned long long)harness_refused);
  return 0;
}
