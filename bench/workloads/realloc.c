/* Workload: realloc growth of many buffers, round-robin so that neighbours
 * compete for the room to grow in place.  Phase 1 doubles 256 buffers from
 * 8 B to 16 KiB; phase 2 grows 256 buffers 1 byte at a time to 512 B.  Every
 * byte written is read back after the moves. */
#include "common.h"

#define BUFS 256
#define DOUBLE_TO 16384
#define STEP_TO 512

static unsigned char *buf[BUFS];

/* The byte stored at offset i of buffer b. */
static inline unsigned char pat(uint32_t b, size_t i) {
  return (unsigned char)(b * 131 + i * 7 + (i >> 8));
}

/* realloc that fails the run on NULL and keeps the counters. */
static unsigned char *grow_to(unsigned char *p, size_t old, size_t n, uint32_t b) {
  unsigned char *q = realloc(p, n);
  if (!q)
    fail("realloc returned NULL", b);
  if ((uintptr_t)q & 7)
    fail("realloc result not 8-aligned", b);
  ops++;
  live_bytes += n - old;
  if (live_bytes > peak_live)
    peak_live = live_bytes;
  return q;
}

int main(int argc, char **argv) {
  long scale = scale_arg(argc, argv, 10);
  double t0 = emscripten_get_now();
  for (long rep = 0; rep < scale; rep++) {
    /* Phase 1: doubling; bytes 0 and n-1 of each size are written. */
    for (uint32_t b = 0; b < BUFS; b++) {
      buf[b] = grow_to(0, 0, 8, b);
      buf[b][0] = pat(b, 0);
      buf[b][7] = pat(b, 7);
    }
    for (size_t n = 8; n < DOUBLE_TO; n *= 2)
      for (uint32_t b = 0; b < BUFS; b++) {
        buf[b] = grow_to(buf[b], n, 2 * n, b);
        buf[b][2 * n - 1] = pat(b, 2 * n - 1);
      }
    for (uint32_t b = 0; b < BUFS; b++) {
      for (size_t n = 8; n <= DOUBLE_TO; n *= 2) {
        if (buf[b][n - 1] != pat(b, n - 1))
          fail("realloc lost bytes", b);
        checksum = checksum * 31 + buf[b][n - 1];
      }
      if (buf[b][0] != pat(b, 0))
        fail("realloc lost bytes", b);
      free(buf[b]);
      ops++;
      live_bytes -= DOUBLE_TO;
    }
    /* Phase 2: +1 byte steps; every byte is written once and checked. */
    for (uint32_t b = 0; b < BUFS; b++) {
      buf[b] = grow_to(0, 0, 1, b);
      buf[b][0] = pat(b, 0);
    }
    for (size_t n = 1; n < STEP_TO; n++)
      for (uint32_t b = 0; b < BUFS; b++) {
        buf[b] = grow_to(buf[b], n, n + 1, b);
        buf[b][n] = pat(b, n);
      }
    for (uint32_t b = 0; b < BUFS; b++) {
      for (size_t i = 0; i < STEP_TO; i++) {
        if (buf[b][i] != pat(b, i))
          fail("realloc lost bytes", b);
        checksum = checksum * 31 + buf[b][i];
      }
      free(buf[b]);
      ops++;
      live_bytes -= STEP_TO;
    }
  }
  report("realloc-growth", emscripten_get_now() - t0);
  return 0;
}
