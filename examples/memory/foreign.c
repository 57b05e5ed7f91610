/*
 * Coexistence: other code takes wasm pages for itself while zee_alloc runs.
 *   - JS calls wasmMemory.grow() directly (as a JS library with its own
 *     arena might), then refreshes Emscripten's views;
 *   - C calls __builtin_wasm_memory_grow() directly (app code, never the
 *     allocator), and asks JS to refresh the views before printing again.
 * zee_alloc must skip those pages: no block may overlap them, their contents
 * must survive, and the heap (now non-contiguous) must stay consistent.
 */
#include <emscripten/em_js.h>
#include <emscripten/heap.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Re-creates the runtime's views after a raw memory.grow (the helper's name
 * differs across Emscripten versions). */
/* JavaScript: clang-format would break its operators (=== into == =). */
// clang-format off
EM_JS(void, js_refresh_views, (void), {
  if (typeof updateMemoryViews == 'function') updateMemoryViews();
  else if (typeof updateGlobalBufferAndViews == 'function') updateGlobalBufferAndViews(wasmMemory.buffer);
});
// clang-format on

/* JS takes n pages with a raw grow and fills them; returns their address. */
/* JavaScript: clang-format would break its operators (=== into == =). */
// clang-format off
EM_JS(unsigned, js_take_pages, (unsigned n, unsigned fill), {
  var old = wasmMemory.grow(n);
  js_refresh_views();
  new Uint8Array(wasmMemory.buffer, old * 65536, n * 65536).fill(fill);
  return old * 65536;
});
// clang-format on

/* 1 if JS still sees `fill` in every byte of the n pages at addr. */
/* JavaScript: clang-format would break its operators (=== into == =). */
// clang-format off
EM_JS(int, js_pages_hold, (unsigned addr, unsigned n, unsigned fill), {
  var bytes = new Uint8Array(wasmMemory.buffer, addr, n * 65536);
  return bytes.every(function(b) { return b === fill; }) && HEAPU8.buffer === wasmMemory.buffer ? 1 : 0;
});
// clang-format on

typedef struct region {
  uintptr_t start, end;
  unsigned char fill;
  const char *who;
} region;

static region regions[4];
static int nregions;

/* True if [p, p+n) (with its 8 bytes of metadata) touches a foreign region. */
static int overlaps_foreign(const void *p, size_t n) {
  uintptr_t a = (uintptr_t)p - 8, b = (uintptr_t)p + n;
  for (int i = 0; i < nregions; i++)
    if (a < regions[i].end && regions[i].start < b)
      return 1;
  return 0;
}

enum { BLOCKS = 6000 };
static unsigned char *blocks[BLOCKS];
static size_t sizes[BLOCKS];

/* Allocates blocks [from, to): mixed small and large sizes. */
static void allocate(int from, int to) {
  for (int i = from; i < to; i++) {
    sizes[i] = i % 50 == 0 ? (size_t)(1 << 20) + i : 1 + (i * 131) % 3000;
    blocks[i] = malloc(sizes[i]);
    if (blocks[i])
      stamp(blocks[i], sizes[i]);
  }
}

int main(void) {
  size_t initial = emscripten_get_heap_size();
  printf("foreign: memory %zu bytes\n", initial);
  allocate(0, BLOCKS / 3);

  /* JS takes 5 pages above zee_alloc's heap. */
  unsigned js = js_take_pages(5, 0xAB);
  regions[nregions++] = (region){js, js + 5 * 65536, 0xAB, "js"};
  allocate(BLOCKS / 3, 2 * BLOCKS / 3);

  /* C app code takes 3 pages with a raw memory.grow. */
  size_t old_pages = __builtin_wasm_memory_grow(0, 3);
  uintptr_t raw = old_pages * 65536;
  js_refresh_views(); /* until then the runtime's views are detached: no stdio */
  memset((void *)raw, 0xCD, 3 * 65536);
  regions[nregions++] = (region){raw, raw + 3 * 65536, 0xCD, "raw"};
  allocate(2 * BLOCKS / 3, BLOCKS);

  int all = 1, clear = 1, intact = 1, above = 0;
  for (int i = 0; i < BLOCKS; i++) {
    all &= blocks[i] != NULL;
    if (!blocks[i])
      continue;
    clear &= !overlaps_foreign(blocks[i], sizes[i]);
    intact &= stamped(blocks[i], sizes[i]);
    above += (uintptr_t)blocks[i] > regions[1].end;
  }
  CHECK("regions", js_pages_hold(js, 5, 0xAB) && js_pages_hold(raw, 3, 0xCD),
        "js took 5 pages at +%zu, app code took 3 raw pages at +%zu (offsets from the initial "
        "memory end); contents untouched",
        (size_t)js - initial, (size_t)raw - initial);
  CHECK("blocks", all && clear && intact && above > 0,
        "%d blocks, none overlapping the foreign pages, %d above them, contents intact", BLOCKS,
        above);
  const zee_heap_info_t *h = zee_heap_info();
  CHECK("heap", h->heap_end > raw && zee_check() == 0,
        "heap spans the foreign pages (non-contiguous) and is consistent; memory %zu bytes",
        emscripten_get_heap_size());

  for (int i = 0; i < BLOCKS; i++)
    free(blocks[i]);
  /* After everything is freed the foreign pages are still not handed out. */
  int reused_foreign = 0;
  for (int i = 0; i < 200; i++) {
    blocks[i] = malloc(i % 2 ? 70000 : 20000);
    reused_foreign |= blocks[i] && overlaps_foreign(blocks[i], i % 2 ? 70000 : 20000);
  }
  for (int i = 0; i < 200; i++)
    free(blocks[i]);
  CHECK("after-free", !reused_foreign && js_pages_hold(js, 5, 0xAB) && js_pages_hold(raw, 3, 0xCD),
        "new blocks still avoid the foreign pages");
  return finish("foreign");
}
