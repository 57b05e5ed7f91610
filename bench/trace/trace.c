/*
 * A tracing malloc for the real programs of bench/run.mjs: every call goes
 * to zee_alloc (built with ZEE_BUILTIN_ONLY=1, so that these definitions are
 * the program's malloc) and is logged as four little-endian words
 *   {op, result, size, arg}   op 1 malloc/calloc, 2 free, 3 realloc
 *                             (arg = the old pointer), 4 aligned (arg = align)
 * to the file trace.bin in the working directory (NODERAWFS).  Records are
 * buffered in static memory and written with write(), which never allocates.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "zee_alloc.h"

#define RECORDS 4096

static uint32_t records[RECORDS][4];
static int used, fd = -1;

/* Why a destructor: the program's exit() must flush the last records. */
__attribute__((destructor)) static void flush(void) {
  if (fd < 0)
    fd = open("trace.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, records, used * sizeof records[0]) != (ssize_t)(used * sizeof records[0]))
    abort();
  used = 0;
}

static void record(uint32_t op, void *result, size_t size, uintptr_t arg) {
  uint32_t *r = records[used];
  r[0] = op, r[1] = (uint32_t)(uintptr_t)result, r[2] = (uint32_t)size, r[3] = (uint32_t)arg;
  if (++used == RECORDS)
    flush();
}

void *malloc(size_t n) {
  void *p = zee_malloc(n);
  record(1, p, n, 0);
  return p;
}

void free(void *p) {
  if (p)
    record(2, p, 0, 0);
  zee_free(p);
}

void *calloc(size_t count, size_t size) {
  void *p = zee_calloc(count, size);
  record(1, p, count * size, 0);
  return p;
}

void *realloc(void *old, size_t n) {
  void *p = zee_realloc(old, n);
  record(3, p, n, (uintptr_t)old);
  return p;
}

void *memalign(size_t align, size_t n) {
  void *p = zee_memalign(align, n);
  record(4, p, n, align);
  return p;
}

void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

int posix_memalign(void **out, size_t align, size_t n) {
  void *p = memalign(align, n);
  if (!p)
    return ENOMEM;
  *out = p;
  return 0;
}

size_t malloc_usable_size(void *p) { return zee_usable_size(p); }
