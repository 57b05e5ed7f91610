/* Workload: many blocks of one size, as a page cache or a pool of I/O
 * buffers holds them.  `same_size.js <scale> <count> <size>`: each of
 * <scale> rounds allocates <count> blocks of <size> bytes, fills every byte
 * of each, then checks and frees them all in a random order.  The peak
 * footprint is the point: count x size bytes live at once. */
#include "common.h"

#define MAX_COUNT 10000

static void *ptr[MAX_COUNT];
static uint32_t ids[MAX_COUNT], order[MAX_COUNT];

int main(int argc, char **argv) {
  long scale = scale_arg(argc, argv, 10);
  long count = argc > 2 ? strtol(argv[2], 0, 10) : 0;
  long size = argc > 3 ? strtol(argv[3], 0, 10) : 0;
  if (count < 1 || count > MAX_COUNT)
    fail("count argument must be 1..10000", 0);
  if (size < 16 || size > 1 << 20)
    fail("size argument must be 16..1048576", 0);
  uint32_t next_id = 0;
  char name[32];
  snprintf(name, sizeof name, "same-size-%ld", size);
  double t0 = emscripten_get_now();
  for (long round = 0; round < scale; round++) {
    for (long i = 0; i < count; i++) {
      unsigned char *p = take(size, ids[i] = next_id++);
      /* Fill between the stamps (take wrote the first and last 4 bytes). */
      memset(p + 4, (unsigned char)ids[i], size - 8);
      ptr[i] = p;
      order[i] = (uint32_t)i;
    }
    for (long i = count - 1; i > 0; i--) { /* Fisher-Yates */
      uint32_t j = rnd() % (uint32_t)(i + 1), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (long k = 0; k < count; k++) {
      uint32_t i = order[k];
      const unsigned char *p = ptr[i];
      if (p[4] != (unsigned char)ids[i] || p[size / 2] != (unsigned char)ids[i] ||
          p[size - 5] != (unsigned char)ids[i])
        fail("block contents changed", ids[i]);
      give(ptr[i], size, ids[i]);
    }
  }
  report(name, emscripten_get_now() - t0);
  return 0;
}
