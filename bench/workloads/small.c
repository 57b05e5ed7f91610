/* Workload: random sizes from a small-object distribution (90% 8-128 B,
 * skewed small; 9% up to 1 KiB; 1% up to 4 KiB), a live set of 10,000
 * objects and random free order: each step frees a random live object and
 * allocates a new one in its place. */
#include "common.h"

#define LIVE 10000

static void *ptr[LIVE];
static size_t len[LIVE];
static uint32_t ids[LIVE];

int main(int argc, char **argv) {
  long scale = scale_arg(argc, argv, 10);
  uint32_t next_id = 0;
  double t0 = emscripten_get_now();
  for (int i = 0; i < LIVE; i++) ptr[i] = take(len[i] = small_size(), ids[i] = next_id++);
  for (long step = 0, n = scale * 50000; step < n; step++) {
    uint32_t i = rnd() % LIVE;
    give(ptr[i], len[i], ids[i]);
    ptr[i] = take(len[i] = small_size(), ids[i] = next_id++);
  }
  for (int i = 0; i < LIVE; i++) give(ptr[i], len[i], ids[i]);
  report("small-random", emscripten_get_now() - t0);
  return 0;
}
