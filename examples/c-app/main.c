/*
 * A C program whose malloc is zee_alloc (linked with -sMALLOC=none).
 *
 * Every step checks its own result and prints one line "<step>: ok ..." or
 * "<step>: FAIL ..."; the program exits with the number of failures.  The
 * Jest test (test/emscripten.test.mjs) re-computes the printed numbers.
 *
 *   node c-app.js              run every step
 *   node c-app.js double-free  free a block twice: the checked build prints
 *                              "zee_alloc: double free at 0x..." and aborts
 *   node c-app-asan.js heap-overflow
 *                              write past a block: ASan (whose memory comes
 *                              from zee_alloc) reports a heap-buffer-overflow
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../common/check.h"
#include "zee_alloc.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZEE_ASAN 1
#endif
#endif
#ifndef ZEE_ASAN
#define ZEE_ASAN 0
#endif

/* Calls through this pointer can't be elided: LLVM may delete a calloc whose
 * result is only compared with NULL and assume it succeeded. */
static void *(*volatile calloc_fn)(size_t, size_t) = calloc;

/* True if [p, p+n) lies in memory that zee_alloc owns. */
static int in_zee_heap(const void *p, size_t n) {
  const zee_heap_info_t *h = zee_heap_info();
  uintptr_t a = (uintptr_t)p;
  return a >= h->heap_start && a + n <= h->heap_end;
}

/* The same generator as the test's, so it can recompute the qsort numbers. */
static uint32_t rng_state = 12345;
static uint32_t next_rand(void) {
  rng_state = rng_state * 1103515245u + 12345u;
  return rng_state >> 1;
}

static int compare_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void step_strings(void) {
  const char *words[] = {"zee", "alloc", "buddy", "frames", "large"};
  char *copies[5];
  size_t total = 0;
  int same = 1, distinct = 1;
  for (int i = 0; i < 5; i++) {
    copies[i] = strdup(words[i]);
    same &= copies[i] && strcmp(copies[i], words[i]) == 0 && in_zee_heap(copies[i], 1);
    total += strlen(copies[i]);
  }
  for (int i = 0; i < 5; i++)
    for (int j = i + 1; j < 5; j++)
      distinct &= copies[i] != copies[j];
  /* Grow a string with realloc, one word at a time. */
  char *joined = NULL;
  size_t len = 0;
  for (int round = 0; round < 200; round++) {
    const char *w = copies[round % 5];
    size_t wl = strlen(w);
    char *grown = realloc(joined, len + wl + 2);
    if (!grown)
      break;
    joined = grown;
    memcpy(joined + len, w, wl);
    len += wl;
    joined[len++] = ' ';
    joined[len] = 0;
  }
  int joined_ok = joined && strncmp(joined, "zee alloc buddy frames large zee ", 33) == 0 &&
                  len == 200 / 5 * (total + 5);
  CHECK("strdup", same && distinct, "5 copies, %zu chars", total);
  CHECK("realloc-string", joined_ok, "%zu chars", len);
  for (int i = 0; i < 5; i++)
    free(copies[i]);
  free(joined);
}

static void step_env(void) {
  /* setenv/getenv allocate inside musl (through emscripten_builtin_malloc too). */
  int set = setenv("ZEE_ALLOC_DEMO", "buddy-allocator", 1);
  const char *v = getenv("ZEE_ALLOC_DEMO");
  int ok = set == 0 && v && strcmp(v, "buddy-allocator") == 0;
  set = setenv("ZEE_ALLOC_DEMO", "replaced", 1);
  v = getenv("ZEE_ALLOC_DEMO");
  ok &= set == 0 && v && strcmp(v, "replaced") == 0;
  ok &= unsetenv("ZEE_ALLOC_DEMO") == 0 && getenv("ZEE_ALLOC_DEMO") == NULL;
  const char *path = getenv("PATH"); /* set by Emscripten's default environment */
  CHECK("getenv", ok, "ZEE_ALLOC_DEMO set, replaced, unset; PATH=%s", path ? path : "(none)");
}

static void step_qsort(void) {
  enum { N = 100000 };
  uint32_t *a = malloc(N * sizeof *a);
  if (!a) {
    CHECK("qsort", 0, "malloc(%u) failed", (unsigned)(N * sizeof *a));
    return;
  }
  uint64_t sum = 0;
  for (int i = 0; i < N; i++)
    sum += a[i] = next_rand() % 1000000;
  qsort(a, N, sizeof *a, compare_u32);
  int sorted = 1;
  uint64_t after = 0;
  for (int i = 0; i < N; i++) {
    after += a[i];
    if (i && a[i - 1] > a[i])
      sorted = 0;
  }
  CHECK("qsort", sorted && after == sum && in_zee_heap(a, N * sizeof *a),
        "%d ints sorted, min=%u median=%u max=%u sum=%llu", N, a[0], a[N / 2], a[N - 1],
        (unsigned long long)sum);
  free(a);
}

static void step_mmap(void) {
  /* Emscripten's anonymous mmap takes 64 KiB-aligned memory from
   * emscripten_builtin_memalign, i.e. from zee_alloc. */
  size_t sizes[3] = {100000, 65536, 3 << 20};
  unsigned char *maps[3];
  int ok = 1;
  for (int i = 0; i < 3; i++) {
    maps[i] = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (maps[i] == MAP_FAILED) {
      ok = 0;
      maps[i] = NULL;
      continue;
    }
    int zero = 1;
    for (size_t j = 0; j < sizes[i]; j += 4093)
      zero &= maps[i][j] == 0;
    ok &= zero && ((uintptr_t)maps[i] & 65535) == 0 && in_zee_heap(maps[i], sizes[i]);
    memset(maps[i], 0xA0 + i, sizes[i]);
  }
  for (int i = 0; i < 3; i++)
    if (maps[i])
      ok &= maps[i][0] == 0xA0 + i && maps[i][sizes[i] - 1] == 0xA0 + i;
  for (int i = 0; i < 3; i++)
    if (maps[i])
      ok &= munmap(maps[i], sizes[i]) == 0;
  CHECK("mmap", ok,
        "3 anonymous maps (100000, 65536, 3145728 bytes), 64 KiB-aligned, in zee heap, unmapped");
}

static void step_api(void) {
  void *z1 = malloc(0), *z2 = malloc(0);
  CHECK("malloc0", z1 && z2 && z1 != z2, "two unique pointers");
  free(z1);
  free(z2);

  errno = 0;
  void *big = calloc_fn(SIZE_MAX / 2, 4);
  CHECK("calloc-overflow", big == NULL && errno == ENOMEM, "NULL, errno ENOMEM");

  unsigned *c = calloc(1000, sizeof *c);
  int zero = c != NULL;
  for (int i = 0; c && i < 1000; i++)
    zero &= c[i] == 0;
  CHECK("calloc", zero, "1000 zeroed words");
  free(c);

  int aligned = 1;
  size_t aligns[] = {16, 64, 256, 4096, 32768, 65536, 262144};
  for (unsigned i = 0; i < sizeof aligns / sizeof *aligns; i++) {
    void *p = aligned_alloc(aligns[i], aligns[i] * 2); /* C11: size a multiple of the alignment */
    void *q = memalign(aligns[i], 70000);
    void *r = NULL;
    int e = posix_memalign(&r, aligns[i], 24);
    aligned &= p && q && r && e == 0 && ((uintptr_t)p % aligns[i]) == 0 &&
               ((uintptr_t)q % aligns[i]) == 0 && ((uintptr_t)r % aligns[i]) == 0;
    free(p);
    free(q);
    free(r);
  }
  CHECK("aligned", aligned, "aligned_alloc/memalign/posix_memalign at 16 .. 262144");

  void *r = (void *)1;
  CHECK("posix_memalign-einval", posix_memalign(&r, 24, 10) == EINVAL && r == (void *)1,
        "alignment 24 rejected, output untouched");

  int usable = 1;
  for (size_t n = 1; n < 200000; n = n * 3 + 1) {
    unsigned char *p = malloc(n);
    size_t u = p ? malloc_usable_size(p) : 0;
    usable &= p && u >= n && u <= n + 15;
    if (p)
      memset(p, 0x5a, u); /* the whole usable size is ours to write */
    free(p);
  }
  CHECK("usable_size", usable,
        "request <= malloc_usable_size <= request + 15 for 1 .. 200000 bytes");
}

static void step_mallinfo(void) {
  struct mallinfo before = mallinfo();
  enum { N = 1000 };
  void *blocks[N];
  for (int i = 0; i < N; i++)
    blocks[i] = malloc(100); /* 112-byte blocks: 104 usable */
  struct mallinfo during = mallinfo();
  for (int i = 0; i < N; i++)
    free(blocks[i]);
  struct mallinfo after = mallinfo();
  int grew = during.uordblks - before.uordblks;
  CHECK("mallinfo",
        grew == N * 104 && after.uordblks == before.uordblks && during.arena >= before.arena,
        "in-use +%d bytes for %d x malloc(100), back to %d after free, arena %d", grew, N,
        after.uordblks, during.arena);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "heap-overflow") == 0) {
    /* c-app-asan: ASan reports this write one byte past the block. */
    char *volatile p = malloc(40);
    printf("heap-overflow: writing p[40] of a 40-byte block at %p\n", (void *)p);
    fflush(stdout);
    p[40] = 'x';
    printf("heap-overflow: not detected\n");
    free(p);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "double-free") == 0) {
    char *p = malloc(40);
    printf("double-free: freeing %p twice\n", (void *)p);
    fflush(stdout);
    free(p);
    free(p); /* the checked build aborts here */
    printf("double-free: not detected\n");
    return 0;
  }
  /* config = validation | threads << 4 (zee_alloc.h) */
  printf("c-app on zee_alloc (config 0x%x)\n", (unsigned)zee_heap_info()->config);
  step_strings();
  step_env();
  step_qsort();
  step_mmap();
  step_api();
#if !ZEE_ASAN /* ASan's mallinfo() is a stub that returns zeros */
  step_mallinfo();
#endif
  int check = zee_check();
  CHECK("zee_check", check == 0, "%d", check);
  printf("c-app: %d failures\n", failures);
  return failures;
}
