/* Workload: the small-object mix of small.c, but 5% of the blocks are
 * large (32 KiB to 1 MiB); a live set of 1,000 objects, random free order. */
#include "common.h"

#define LIVE 1000

/* 5% large blocks, the rest as in small.c. */
static size_t mixed_size(void) {
  uint32_t r = rnd() % 1000;
  if (r < 50) return rnd_range(32 << 10, 1 << 20);
  return small_size();
}

static void *ptr[LIVE];
static size_t len[LIVE];
static uint32_t ids[LIVE];

int main(int argc, char **argv) {
  long scale = scale_arg(argc, argv, 10);
  uint32_t next_id = 0;
  double t0 = emscripten_get_now();
  for (int i = 0; i < LIVE; i++) ptr[i] = take(len[i] = mixed_size(), ids[i] = next_id++);
  for (long step = 0, n = scale * 20000; step < n; step++) {
    uint32_t i = rnd() % LIVE;
    give(ptr[i], len[i], ids[i]);
    ptr[i] = take(len[i] = mixed_size(), ids[i] = next_id++);
  }
  for (int i = 0; i < LIVE; i++) give(ptr[i], len[i], ids[i]);
  report("mixed-large", emscripten_get_now() - t0);
  return 0;
}
