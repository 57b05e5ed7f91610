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

enum { LARGES = 192, LARGE = 1 << 20, SMALLS = 20000 };
static unsigned char *larges[LARGES];
static unsigned char *smalls[SMALLS];

/* Allocates 192 MiB of large blocks and 20000 small ones, checking as it goes. */
static int fill_heap(const char *round) {
  int views_ok = 1, all = 1;
  for (int i = 0; i < LARGES; i++) {
    larges[i] = malloc(LARGE + i * 4096);
    if (!larges[i]) {
      all = 0;
      break;
    }
    stamp(larges[i], LARGE + i * 4096);
    views_ok &= js_views_see(larges[i] + LARGE - 1, larges[i][LARGE - 1]);
    for (int k = 0; k < SMALLS / LARGES; k++) {
      int s = i * (SMALLS / LARGES) + k;
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
  for (int i = 0; all && i < LARGES; i++)
    intact &= stamped(larges[i], LARGE + i * 4096);
  for (int s = 0; all && s < SMALLS / LARGES * LARGES; s++)
    intact &= stamped(smalls[s], 1 + (s * 37) % 2000);
  CHECK(round, all && intact && views_ok,
        "%d large blocks (1 MiB+), %d small blocks, contents intact, JS views valid after every "
        "growth; memory %zu bytes",
        LARGES, SMALLS / LARGES * LARGES, emscripten_get_heap_size());
  return all;
}

static void free_heap(void) {
  for (int i = 0; i < LARGES; i++)
    free(larges[i]), larges[i] = NULL;
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

  /* realloc grows a large block in place over the free frames after it:
   * here the extent of the block freed right above it.  (Each block is its
   * size + 8 rounded to 16, so the two lie end to end.) */
  unsigned char *low = malloc(8 << 20), *above = malloc(56 << 20);
  int adjacent = low && above == low + (8 << 20) + 16;
  free(above);
  stamp(low, 8 << 20);
  size_t mem = emscripten_get_heap_size();
  unsigned char *grown = realloc(low, 64 << 20);
  int kept = grown == low && stamped(grown, 8 << 20);
  CHECK("realloc-in-place", adjacent && kept && emscripten_get_heap_size() == mem,
        "8 MiB -> 64 MiB in place over the freed block after it, contents kept, memory %zu bytes",
        emscripten_get_heap_size());

  /* Past the free frames after it, a block moves rather than grow over new
   * memory at the top of the heap (a hole below might take it).  Asked for
   * more than the whole memory, it moves to the top, which grows by what the
   * new block lacks: the views follow, the contents move with it. */
  size_t want = emscripten_get_heap_size();
  memset(grown, 0xa7, 64 << 20);
  unsigned char *moved = realloc(grown, want);
  int same = moved != NULL;
  for (size_t i = 0; same && i < (64 << 20); i += 4093)
    same &= moved[i] == 0xa7;
  if (moved)
    moved[want - 1] = 7;
  CHECK("realloc-top", same && moved != grown && js_views_see(moved + want - 1, 7),
        "64 MiB -> %zu bytes moved to %lu, contents kept, memory %zu bytes", want,
        (unsigned long)(uintptr_t)moved, emscripten_get_heap_size());
  free(moved ? moved : grown);
  return finish("grow");
}
