/*
 * The other names Emscripten links against under -sMALLOC=none (musl's
 * __libc_* and the runtime's emscripten_builtin_*), forwarded to the
 * standard calls.  Included by the benchmark's stand-in allocators
 * (size/stub.c, control/overlap.c) after they define malloc & co.
 */
#ifndef BENCH_LIBC_NAMES_H
#define BENCH_LIBC_NAMES_H
void *__libc_malloc(size_t n) { return malloc(n); }
void __libc_free(void *p) { free(p); }
void *__libc_calloc(size_t c, size_t n) { return calloc(c, n); }
void *__libc_realloc(void *p, size_t n) { return realloc(p, n); }
void *emscripten_builtin_malloc(size_t n) { return malloc(n); }
void emscripten_builtin_free(void *p) { free(p); }
void *emscripten_builtin_memalign(size_t a, size_t n) { return memalign(a, n); }
#endif
