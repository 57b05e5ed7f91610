/*
 * A deliberately broken allocator (a negative control): every block comes
 * from one 1 KiB buffer, so live blocks overlap.  bench/run.mjs runs a
 * workload against it and requires the workload's self-check to FAIL; if it
 * passed, the checks could not catch a broken allocator.
 */
#include <stddef.h>
#include <stdint.h>

static unsigned char arena[1024] __attribute__((aligned(16)));
static size_t next;

void *malloc(size_t n) {
  void *p = arena + next;
  next = (next + 16) % (sizeof arena - 256);
  return n <= 256 ? p : 0;
}
void free(void *p) { (void)p; }
void *calloc(size_t c, size_t n) { return c && n ? 0 : malloc(0); }
void *realloc(void *p, size_t n) { return n ? 0 : p; }
void *memalign(size_t a, size_t n) { return a <= 16 ? malloc(n) : 0; }
void *aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) { return (*out = memalign(a, n)) ? 0 : 12; }
size_t malloc_usable_size(void *p) { return p ? 16 : 0; }
#include "../libc_names.h"
