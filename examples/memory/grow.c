/*
 * Memory growth: allocate far past INITIAL_MEMORY (16 MiB) with
 * -sALLOW_MEMORY_GROWTH.  zee_alloc grows the memory only through
 * emscripten_resize_heap(), so Emscripten's JS views (HEAPU8, ...) are
 * re-created on every growth and stdio keeps working; this program checks
 * the views from JS after each step.  Then it frees everything and does it
 * again: the second round must fit in the memory the first one grew.
 */
#include <emscripten/em_js.h>
#include <emscripten/heap.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Checks from JS that the runtime's views cover the whole current memory
 * and show the byte C just wrote at p: 1 if so. */
/* JavaScript: clang-format would break its operators (=== into == =). */
// clang-format off
EM_JS(int, js_views_see, (const unsigned char *p, int value), {
  var buffer = wasmMemory.buffer;
  return HEAPU8.buffer === buffer && HEAPU8.length === buffer.byteLength &&
         HEAPU32.length * 4 === buffer.byteLength && HEAPU8[p] === value ? 1 : 0;
});
// clang-format on

enum { JUMBOS = 192, JUMBO = 1 << 20, SMALLS = 20000 };
static unsigned char *jumbos[JUMBOS];
static unsigned char *smalls[SMALLS];

/* Allocates 192 MiB of jumbo blocks and 20000 small ones, checking as it goes. */
static int fill_heap(const char *round) {
  int views_ok = 1, all = 1;
  for (int i = 0; i < JUMBOS; i++) {
    jumbos[i] = malloc(JUMBO + i * 4096);
    if (!jumbos[i]) {
      all = 0;
      break;
    }
    stamp(jumbos[i], JUMBO + i * 4096);
    views_ok &= js_views_see(jumbos[i] + JUMBO - 1, jumbos[i][JUMBO - 1]);
    for (int k = 0; k < SMALLS / JUMBOS; k++) {
      int s = i * (SMALLS / JUMBOS) + k;
      size_t n = 1 + (s * 37) % 2000;
      smalls[s] = malloc(n);
      if (!smalls[s]) {
        all = 0;
        break;
      }
      stamp(smalls[s], n);
    }
  }
  int intact = all;
  for (int i = 0; all && i < JUMBOS; i++)
    intact &= stamped(jumbos[i], JUMBO + i * 4096);
  for (int s = 0; all && s < SMALLS / JUMBOS * JUMBOS; s++)
    intact &= stamped(smalls[s], 1 + (s * 37) % 2000);
  CHECK(round, all && intact && views_ok,
        "%d jumbo blocks (1 MiB+), %d small blocks, contents intact, JS views valid after every "
        "growth; memory %zu bytes",
        JUMBOS, SMALLS / JUMBOS * JUMBOS, emscripten_get_heap_size());
  return all;
}

static void free_heap(void) {
  for (int i = 0; i < JUMBOS; i++)
    free(jumbos[i]), jumbos[i] = NULL;
  for (int s = 0; s < SMALLS; s++)
    free(smalls[s]), smalls[s] = NULL;
}

int main(void) {
  size_t initial = emscripten_get_heap_size();
  printf("grow: initial memory %zu bytes\n", initial);
  fill_heap("round-1");
  size_t after_first = emscripten_get_heap_size();
  free_heap();
  fill_heap("round-2");
  size_t after_second = emscripten_get_heap_size();
  free_heap();
  CHECK("reuse", after_second == after_first && after_first > 10 * initial,
        "memory %zu -> %zu bytes in round 1, %zu after round 2", initial, after_first,
        after_second);

  /* A jumbo block at the top of the heap grows in place with the memory. */
  unsigned char *top = malloc(8 << 20);
  stamp(top, 8 << 20);
  unsigned char *grown = realloc(top, 64 << 20);
  int kept = grown && stamped(grown, 8 << 20);
  if (grown)
    memset(grown + (8 << 20), 1, 56 << 20);
  CHECK("realloc-top", kept && js_views_see(grown + (64 << 20) - 1, 1),
        "8 MiB -> 64 MiB %s, contents kept, memory %zu bytes", grown == top ? "in place" : "moved",
        emscripten_get_heap_size());
  free(grown);
  return finish("grow");
}
