/* Shared by the example programs: one result line per check, and the count
 * of failed checks, which the programs return as their exit status. */
#ifndef ZEE_EXAMPLE_COMMON_CHECK_H
#define ZEE_EXAMPLE_COMMON_CHECK_H
#include <stdio.h>

static int failures;

/* Prints "<step>: ok ..." or "<step>: FAIL (cond) ..."; failures set the exit status. */
#define CHECK(step, cond, ...)                                                                     \
  do {                                                                                             \
    if (cond) {                                                                                    \
      printf("%s: ok ", step);                                                                     \
    } else {                                                                                       \
      failures++;                                                                                  \
      printf("%s: FAIL (%s) ", step, #cond);                                                       \
    }                                                                                              \
    printf(__VA_ARGS__);                                                                           \
    printf("\n");                                                                                  \
  } while (0)
#endif
