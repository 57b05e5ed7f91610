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
int posix_memalign(void **out, size_t a, size_t n) { *out = 0; return (int)(a ^ n); }
size_t malloc_usable_size(void *p) { return (size_t)p; }
void *__libc_malloc(size_t n) { return malloc(n); }
void __libc_free(void *p) { free(p); }
void *__libc_calloc(size_t c, size_t n) { return calloc(c, n); }
void *__libc_realloc(void *p, size_t n) { return realloc(p, n); }
void *emscripten_builtin_malloc(size_t n) { return malloc(n); }
void emscripten_builtin_free(void *p) { free(p); }
void *emscripten_builtin_memalign(size_t a, size_t n) { return memalign(a, n); }
