/* Shared by the memory examples: CHECK lines (../common/check.h), stamps
 * and the final zee_check(). */
#ifndef ZEE_EXAMPLE_CHECK_H
#define ZEE_EXAMPLE_CHECK_H
#include <stdint.h>
#include <stdio.h>

#include "../common/check.h"
#include "zee_alloc.h"

/* Calls through these pointers can't be elided by the optimizer, which may
 * otherwise assume that an allocation whose result is unused succeeded. */
static void *(*volatile malloc_fn)(size_t) = malloc;
static void *(*volatile calloc_fn)(size_t, size_t) = calloc;

/* Writes a pattern tied to the block's address into every 997th byte and
 * the last one (n >= 1), so that stamped() can check it later. */
static void stamp(unsigned char *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 997)
    p[i] = (unsigned char)((uintptr_t)p >> 4 ^ i);
  p[n - 1] = 0x5a;
}
static int stamped(const unsigned char *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 997)
    if (p[i] != (unsigned char)((uintptr_t)p >> 4 ^ i))
      return 0;
  return p[n - 1] == 0x5a;
}

/* Ends a program: the heap must still be consistent. */
static int finish(const char *name) {
  int c = zee_check();
  CHECK("zee_check", c == 0, "%d", c);
  printf("%s: %d failures\n", name, failures);
  return failures;
}
#endif
