/* Workload: the shape of the Zig zee_alloc benchmark: for each size from
 * 8 B to 8 KiB (powers of two, and each minus 8 to miss the classes),
 * allocate a batch of N blocks of that size, then free the whole batch. */
#include "common.h"

#define BATCH 1000

static void *ptr[BATCH];

int main(int argc, char **argv) {
  long scale = scale_arg(argc, argv, 10);
  uint32_t next_id = 0;
  double t0 = emscripten_get_now();
  for (long rep = 0; rep < scale * 4; rep++) {
    for (size_t size = 8; size <= 8192; size *= 2) {
      for (int odd = 0; odd < 2; odd++) {
        size_t n = odd && size > 8 ? size - 8 : size;
        uint32_t first = next_id;
        for (int i = 0; i < BATCH; i++)
          ptr[i] = take(n, next_id++);
        for (int i = 0; i < BATCH; i++)
          give(ptr[i], n, first + i);
      }
    }
  }
  report("zig-batch", emscripten_get_now() - t0);
  return 0;
}
