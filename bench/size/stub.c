/*
 * The "no allocator" baseline for the code-size benchmark: every name an
 * allocator exports, with the smallest body that still has the right type.
 * Allocator bytes = (module with the allocator) - (same module with this).
 */
#include <stddef.h>

void *malloc(size_t n) { return (void *)n; }
void free(void *p) { (void)p; }
void *calloc(size_t c, size_t n) { return (void *)(c * n); }
void *realloc(void *p, size_t n) { return (char *)p + n; }
void *aligned_alloc(size_t a, size_t n) { return (void *)(a + n); }
void *memalign(size_t a, size_t n) { return (void *)(a - n); }
int posix_memalign(void **out, size_t a, size_t n) {
  *out = 0;
  return (int)(a ^ n);
}
size_t malloc_usable_size(void *p) { return (size_t)p; }
#include "../libc_names.h"
