/* Workload: one size class in a loop.  `fixed.js <scale> <size>`: a ring of
 * 64 live blocks of <size> bytes; each step frees a random one and
 * allocates its replacement (a malloc/free pair per step). */
#include "common.h"

#define RING 64

int main(int argc, char **argv) {
  long scale = scale_arg(argc, argv, 10);
  long size = argc > 2 ? strtol(argv[2], 0, 10) : 0;
  if (size <= 0 || size > 1 << 20)
    fail("size argument must be 1..1048576", 0);
  void *ring[RING];
  uint32_t ids[RING], next_id = 0;
  char name[32];
  snprintf(name, sizeof name, "fixed-%ld", size);
  double t0 = emscripten_get_now();
  for (int i = 0; i < RING; i++)
    ring[i] = take(size, ids[i] = next_id++);
  for (long step = 0, n = scale * 100000; step < n; step++) {
    uint32_t i = rnd() % RING;
    give(ring[i], size, ids[i]);
    ring[i] = take(size, ids[i] = next_id++);
  }
  for (int i = 0; i < RING; i++)
    give(ring[i], size, ids[i]);
  report(name, emscripten_get_now() - t0);
  return 0;
}
