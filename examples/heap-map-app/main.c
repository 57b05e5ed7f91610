/*
 * The C side of the heap-map app.  run.mjs calls app_step(1), app_step(2),
 * ... and after each step prints the heap map that js/inspect.mjs reads from
 * the wasm memory, cross-checked against the allocator's own numbers
 * (app_in_use() is mallinfo().uordblks, app_live_blocks() what the app
 * itself holds).  Each step prints what it did.
 */
#include <emscripten/em_js.h>
#include <emscripten/emscripten.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zee_alloc.h"

/* Re-creates the runtime's views after a raw memory.grow (the helper's name
 * differs across Emscripten versions). */
/* JavaScript: clang-format would break its operators (=== into == =). */
// clang-format off
EM_JS(void, js_refresh_views, (void), {
  if (typeof updateMemoryViews == 'function') updateMemoryViews();
  else if (typeof updateGlobalBufferAndViews == 'function') updateGlobalBufferAndViews(wasmMemory.buffer);
});
// clang-format on

typedef struct node {
  struct node *next;
  unsigned id;
  char tag[12];
} node;

enum { NODES = 1000 };
static node *nodes[NODES];
static char *names[8];
static unsigned char *image, *big;
static void *aligned[3];
static int live, foreign_pages;

/* Blocks the app holds right now (the inspector must count at least these). */
EMSCRIPTEN_KEEPALIVE int app_live_blocks(void) { return live; }

/* Pages the app took for itself with memory.grow. */
EMSCRIPTEN_KEEPALIVE int app_foreign_pages(void) { return foreign_pages; }

/* Payload bytes in use, from the allocator's own heap walk. */
EMSCRIPTEN_KEEPALIVE int app_in_use(void) { return mallinfo().uordblks; }

/* Runs step n; returns 0 when there is no such step. */
EMSCRIPTEN_KEEPALIVE int app_step(int n) {
  switch (n) {
  case 1: {
    const char *words[8] = {"alpha", "bravo",   "charlie", "delta",
                            "echo",  "foxtrot", "golf",    "hotel"};
    for (int i = 0; i < 8; i++)
      names[i] = strdup(words[i]), live++;
    for (int i = 0; i < NODES; i++) {
      nodes[i] = malloc(sizeof(node));
      nodes[i]->next = i ? nodes[i - 1] : NULL;
      nodes[i]->id = i;
      snprintf(nodes[i]->tag, sizeof nodes[i]->tag, "n%u", i);
      live++;
    }
    image = calloc(200, 1024);
    live++;
    printf("step 1: 8 strings, %d list nodes of %zu bytes, a 200 KiB image\n", NODES, sizeof(node));
    return 1;
  }
  case 2: {
    for (int i = 0; i < NODES; i += 2)
      free(nodes[i]), nodes[i] = NULL, live--;
    image = realloc(image, 1 << 20);
    for (int i = 0; i < 3; i++)
      aligned[i] = aligned_alloc(4096, 3000), live++;
    printf("step 2: freed every other node, image grown to 1 MiB, 3 blocks aligned to 4 KiB\n");
    return 1;
  }
  case 3: {
    /* App code takes two pages for itself: the map shows them as foreign. */
    size_t at = __builtin_wasm_memory_grow(0, 2);
    js_refresh_views();
    memset((void *)(at * 65536), 0xEE, 2 * 65536);
    foreign_pages = 2;
    /* More than the free memory left: the heap grows past those pages. */
    big = malloc(12 << 20);
    live++;
    printf("step 3: app code took 2 pages at 0x%zx, then a 12 MiB block at %p\n", at * 65536,
           (void *)big);
    return 1;
  }
  case 4: {
    for (int i = 0; i < NODES; i++)
      if (nodes[i])
        free(nodes[i]), nodes[i] = NULL, live--;
    for (int i = 0; i < 3; i++)
      free(aligned[i]), live--;
    free(image), live--;
    free(big), live--;
    printf("step 4: freed all but the 8 strings\n");
    return 1;
  }
  default:
    return 0;
  }
}

int main(void) {
  printf("heap-map-app: zee_alloc config 0x%x\n", zee_heap_info()->config);
  return 0;
}
