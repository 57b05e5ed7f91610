/* Workload: random sizes from a small-object distribution (90% 8-128 B,
 * skewed small; 9% up to 1 KiB; 1% up to 4 KiB), a live set of 10,000
 * objects and random free order: each step frees a random live object and
 * allocates a new one in its place. */
#include "common.h"

#define LIVE 10000

int main(int argc, char **argv) {
  long scale = scale_arg(argc, argv, 10);
  replace_random("small-random", LIVE, scale * 50000, small_size);
  return 0;
}
