/* Workload: the small-object mix of small.c, but 5% of the blocks are
 * large (32 KiB to 1 MiB); a live set of 1,000 objects, random free order. */
#include "common.h"

#define LIVE 1000

/* 5% large blocks, the rest as in small.c. */
static size_t mixed_size(void) {
  uint32_t r = rnd() % 1000;
  if (r < 50)
    return rnd_range(32 << 10, 1 << 20);
  return small_size();
}

int main(int argc, char **argv) {
  long scale = scale_arg(argc, argv, 10);
  replace_random("mixed-large", LIVE, scale * 20000, mixed_size);
  return 0;
}
