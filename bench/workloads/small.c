/* Workload: random sizes from a small-object distribution (90% 8-128 B,
 * skewed small; 9% up to 1 KiB; 1% up to 4 KiB, or up to the second
 * argument), a live set of 10,000 objects and random free order: each step
 * frees a random live object and allocates a new one in its place.
 * `small.js <scale> [tail max]`. */
#include "common.h"

#define LIVE 10000

int main(int argc, char **argv) {
  long scale = scale_arg(argc, argv, 10);
  if (argc > 2)
    small_tail_max = (uint32_t)strtoul(argv[2], 0, 10);
  if (small_tail_max < 1025) {
    printf("{\"error\":\"bad tail size\"}\n");
    return 2;
  }
  replace_random("small-random", LIVE, scale * 50000, small_size);
  return 0;
}
