/*
 * zee_alloc: a tiny buddy allocator for WebAssembly.
 *
 * Assumptions
 *   - wasm32 memory: pages of 64 KiB, addresses below 4 GiB.  Memory above
 *     __heap_base belongs to the allocator at start-up; more is obtained with
 *     emscripten_resize_heap(), and pages someone else grew in between are
 *     skipped, so the heap may be non-contiguous.
 *   - Host builds (sanitizers, fuzzing) supply the page source functions
 *     declared under "Memory source"; all internal addresses are 32-bit
 *     offsets from zee_native_base, so the encoding is the same as in wasm.
 *   - Single-threaded unless ZEE_THREADS=1.
 *
 * Invariants
 *   - The metadata of every block sits in the 8 bytes right before its
 *     payload: free(p) reads p - 8 and nothing else to find the block.
 *   - Every page the allocator owns is exactly one of: a small page (on the
 *     small-page list), a free span page (on the span list), or a jumbo page
 *     (reachable from the tail slot of its anchor, the small page before it).
 *   - A frame of size 2^n starts at a page offset that is a non-zero multiple
 *     of 2^n.  A free frame is on exactly one free list, that of its size;
 *     a cached frame (ZEE_CACHE) on exactly one cache, that of its size,
 *     and its page still counts it as in use.
 *   - coalesce: no two free buddies of one size exist (cached frames are
 *     merged only when the caches are flushed); a small page whose frames
 *     are all free (and that anchors no jumbo block) is released, except
 *     one kept back as the "spare" until zee_trim() or another page
 *     empties.  Free spans never touch: adjacent spans are merged.
 *
 * Debugging
 *   - ZEE_VALIDATION=2 ("dev") adds internal asserts; zee_check() walks the
 *     whole heap and names the first broken rule (zee_alloc.h).
 *   - js/inspect.mjs reads the same structures from JS without calling in.
 *
 * Exporting
 *   - Defines malloc, free, calloc, realloc, aligned_alloc, posix_memalign,
 *     memalign, malloc_usable_size, mallinfo, the __libc_* names and the
 *     emscripten_builtin_* names Emscripten links against under
 *     -sMALLOC=none, plus zee_* names (zee_alloc.h).
 *   - ZEE_BUILTIN_ONLY=1 defines only the emscripten_builtin_* and __libc_*
 *     names (for ASan builds, where the sanitizer owns malloc and mallinfo).
 *     Host builds define only the zee_* names.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zee_alloc.h"

#ifdef __EMSCRIPTEN__
#include <emscripten/em_js.h>
#include <emscripten/heap.h>
#endif

/* ---- Compile-time options ---------------------------------------------
 * Each comment gives the option's cost in wasm bytes (-Oz, wasm-opt -Oz,
 * full API) against the default build, which adds 2,948 B to a module
 * (malloc+free alone: 2,127 B).  `npm run bench` reproduces these numbers
 * (emcc 3.1.6; bench/results/latest.json). */

/* ZEE_VALIDATION: 0 = unsafe (trust every pointer; -124 B),
 * 1 = external (check the argument of free/realloc/malloc_usable_size:
 *     alignment, heap bounds, header tag and check word, double free;
 *     the default),
 * 2 = dev (also internal asserts: +179 B). */
#ifndef ZEE_VALIDATION
#define ZEE_VALIDATION 1
#endif

/* ZEE_JUMBO_MATCH: which free span serves a jumbo block.
 * 0 = closest (the smallest span that fits, and one that already has an
 *     anchor before any that needs one carved; the default),
 * 1 = exact (only a span that fits with no pages left over, or the span at
 *     the top of the heap; never splits other spans; -60 B),
 * 2 = first (the lowest-addressed span that fits; -85 B). */
#ifndef ZEE_JUMBO_MATCH
#define ZEE_JUMBO_MATCH 0
#endif

/* ZEE_BUDDY: 0 = fast (never merge frames, never release small pages;
 *     -565 B), 1 = coalesce (merge free buddies, give empty pages back to
 *     the free spans, grow frames in place on realloc; the default). */
#ifndef ZEE_BUDDY
#define ZEE_BUDDY 1
#endif

/* ZEE_SHRINK: 0 = defer (a shrinking realloc keeps the block as is; the
 *     default), 1 = chunkify (split the unused tail off: halves of a frame
 *     go back to the free lists, whole pages of a jumbo block to the free
 *     spans; +106 B). */
#ifndef ZEE_SHRINK
#define ZEE_SHRINK 0
#endif

/* ZEE_CACHE: how many freed frames of each size class free() holds back
 *     un-merged for the next malloc of that class (like a thread cache):
 *     0 = none (the default), 1..255 (+348 B at 32).  It skips the split and
 *     merge work when one size is freed and allocated again, and the frees
 *     that fill it are not coalesced until the frames are merged: before a
 *     new small page is carved, before memory grows, and in zee_trim().  So
 *     it never makes the heap grow, but it can make the pages it pins serve
 *     other requests.  Coalesce only: under fast, free lists already work
 *     this way. */
#ifndef ZEE_CACHE
#define ZEE_CACHE 0
#endif
#if !ZEE_BUDDY
#undef ZEE_CACHE
#define ZEE_CACHE 0
#endif
_Static_assert(ZEE_CACHE >= 0 && ZEE_CACHE <= 255, "ZEE_CACHE fits its 8 bits of config");

/* ZEE_THREADS: 1 = a spinlock around every entry point (for -pthread;
 *     +67 B against the default built with -pthread), 0 = none (the default). */
#ifndef ZEE_THREADS
#define ZEE_THREADS 0
#endif

/* ---- Units ------------------------------------------------------------- */
#define PAGE_LOG2 16
#define PAGE_SIZE ZEE_PAGE_SIZE
#define MIN_LOG2 4
#define MIN_FRAME ZEE_MIN_FRAME
#define MAX_LOG2 15
#define MAX_FRAME ZEE_MAX_FRAME
#define META_SIZE ZEE_META_SIZE
#define CLASSES ZEE_CLASSES
#define MAX_SMALL (MAX_FRAME - META_SIZE) /* largest request a frame serves */
#define MAX_PAGES 65535u                  /* pages below 4 GiB */
#define MAX_JUMBO (MAX_PAGES << PAGE_LOG2)
#define OFFSET_MASK (PAGE_SIZE - 1)

_Static_assert(PAGE_SIZE == 1u << PAGE_LOG2, "PAGE_SIZE / PAGE_LOG2");
_Static_assert(MIN_FRAME == 1u << MIN_LOG2, "MIN_FRAME / MIN_LOG2");
_Static_assert(MAX_FRAME == 1u << MAX_LOG2, "MAX_FRAME / MAX_LOG2");
_Static_assert(MAX_FRAME * 2 == PAGE_SIZE, "a page holds one frame of each size");
_Static_assert(MIN_FRAME == 2 * META_SIZE, "a free 16 B frame holds two links");
_Static_assert(CLASSES == MAX_LOG2 - MIN_LOG2 + 1, "CLASSES");

typedef uint32_t addr; /* an offset into the heap's memory; 0 = none */

/* ---- Memory source ------------------------------------------------------ */
#ifdef __wasm__
#define AT(a) ((uint32_t *)(uintptr_t)(a))
static addr to_addr(const void *p) { return (addr)(uintptr_t)p; }
static void *to_ptr(addr a) { return (void *)(uintptr_t)a; }
#else
/* Host builds: 32-bit offsets from a 64 KiB-aligned arena. */
extern unsigned char *zee_native_base;
#define AT(a) ((uint32_t *)(void *)(zee_native_base + (a)))
/* Why: a pointer outside the arena must fail validation, not wrap. */
static addr to_addr(const void *p) {
  uintptr_t d = (uintptr_t)p - (uintptr_t)zee_native_base;
  return d >> 32 ? 1 : (addr)d;
}
static void *to_ptr(addr a) { return zee_native_base + a; }
#endif

#ifdef __EMSCRIPTEN__
extern unsigned char __heap_base;
/* Where the heap may begin (below it: data and stack). */
static addr source_base(void) { return (addr)(uintptr_t)&__heap_base; }
/* Current memory size; the 4 GiB page is left out so sizes fit in 32 bits. */
static addr source_size(void) {
  uint32_t n = (uint32_t)__builtin_wasm_memory_size(0);
  return (n > MAX_PAGES ? MAX_PAGES : n) << PAGE_LOG2;
}
/* Grow through Emscripten so its JS heap views stay valid. */
static int source_grow(addr new_size) { return emscripten_resize_heap(new_size); }
#else
addr zee_source_base(void);
addr zee_source_size(void);
int zee_source_grow(addr new_size);
#define source_base zee_source_base
#define source_size zee_source_size
#define source_grow zee_source_grow
#endif

/* ---- Faults ---------------------------------------------------------------
 * One reporting function.  The npm module imports it from JS (which throws
 * an Error); Emscripten apps print to stderr and abort; host builds print
 * and abort.  It is called before anything is changed, so the heap stays
 * consistent if the handler unwinds instead of aborting. */
#if defined(ZEE_FAULT_IMPORT)
__attribute__((import_module("env"), import_name("zee_fault"))) void
zee_fault(unsigned code, void *ptr);
#elif defined(__EMSCRIPTEN__)
EM_JS(void, zee_fault, (unsigned code, void *ptr), {
  var what = ["", 'pointer not from this heap (misaligned or out of bounds)',
              'invalid header at ptr-8 (not allocated here, interior pointer, or overwritten)',
              'double free', 'internal invariant broken'];
  err('zee_alloc: ' + (what[code] || 'fault ' + code) + ' at 0x' + (ptr >>> 0).toString(16));
  abort('zee_alloc fault ' + code);
});
#else
#include <stdio.h>
#include <stdlib.h>
__attribute__((weak)) void zee_fault(unsigned code, void *ptr) {
  fprintf(stderr, "zee_alloc: fault %u at %p\n", code, ptr);
  abort();
}
#endif

/* Why: every fault funnels here so that it never returns into the caller. */
__attribute__((noinline, cold, unused)) static void fault(unsigned code, addr p) {
  zee_fault(code, to_ptr(p));
  __builtin_trap();
}

#if ZEE_VALIDATION >= 2
#define ASSERT(cond, p) ((cond) ? (void)0 : fault(ZEE_E_INTERNAL, (p)))
#else
#define ASSERT(cond, p) ((void)0)
#endif

#if ZEE_THREADS
static int lock_word;
/* Why: a spinlock needs no futex, so it also works on the browser's main thread. */
static void lock(void) {
  while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
    while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED)) {}
}
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }
#else
#define lock() ((void)0)
#define unlock() ((void)0)
#endif

static zee_heap_info_t H = {
    .magic = ZEE_INFO_MAGIC,
    .layout = ZEE_LAYOUT_VERSION,
    .config = ZEE_VALIDATION | ZEE_JUMBO_MATCH << 4 | ZEE_BUDDY << 8 | ZEE_SHRINK << 12 |
              ZEE_CACHE << 16};

/* ---- The layout -----------------------------------------------------------
 *
 * A small page P (64 KiB), freshly carved:
 *
 *   P+0      P+8      P+16   P+32       P+64            P+32K           P+64K
 *   +--------+--------+------+-----------+---- ... -------+------- ... ----+
 *   | header | meta16 | 16 B |   32 B    |   64 B ...      |    32 KiB      |
 *   +--------+--------+------+-----------+---- ... -------+------- ... ----+
 *
 * A frame f of size 2^n spans [f, f + 2^n): its payload is [f, f + 2^n - 8)
 * and its last 8 bytes are the metadata slot of whatever starts at f + 2^n.
 *
 *            f - 8          f                          f + 2^n - 8   f + 2^n
 *   ... -----+------+------+--------- payload ---------+-------------+-----
 *            | info | check|                            | next's meta |
 *   ... -----+------+------+----------------------------+-------------+-----
 *
 *   info  = size | tag   (size: 16 .. 32768 for frames, n * 65536 for jumbo;
 *                         tag: 7 = in use, 6 = free, 4 = cached: freed but
 *                         held back un-merged, see ZEE_CACHE)
 *   check = info ^ payload address ^ ZEE_SALT
 *
 * Page header, [P, P+8):
 *   word 0 = ZEE_PAGE_TAG | frames in use (+1 while a jumbo block follows)
 *   word 1 = (previous small page) | (next small page >> 16)
 *            (pages are 64 KiB-aligned, so 16 bits each name a page)
 *
 * A free frame's first 8 bytes are its links: word 0 = next, word 1 = prev.
 * A cached frame's first word links the cache of its class (LIFO, one way):
 *
 *   H.cache[c] --> f1 [next] --> f2 [next] --> 0      (H.cached[c] = 2)
 *
 * A jumbo block of n pages, anchored by the small page A before it:
 *
 *   A                                  A+64K-8  J = A+64K          J + n*64K
 *   +--------+------- frames ... -------+------+------- payload ... --------+
 *   | header |                          | meta |   exactly n * 64 KiB      |
 *   +--------+------- frames ... -------+------+----------------------------+
 *
 * A free span of k pages S (bookkeeping lives in its first 16 bytes):
 *   word 0 = ZEE_SPAN_TAG | anchored   (anchored: the page before S is a
 *            small page, so a jumbo block may start at S itself)
 *   word 1 = k,  word 2 = next span,  word 3 = previous span  (address order)
 */

/* Class index of a power-of-two size. */
static unsigned class_of(uint32_t size) { return __builtin_ctz(size) - MIN_LOG2; }

/* The first 8 bytes of a free frame hold its free-list links. */
static void push(unsigned c, addr f) {
  addr head = H.lists[c];
  AT(f)[0] = head;
  AT(f)[1] = 0;
  if (head) AT(head)[1] = f;
  H.lists[c] = f;
}

#if ZEE_BUDDY
/* O(1) removal, needed when a buddy is merged or a page is released. */
static void unlink_frame(unsigned c, addr f) {
  addr next = AT(f)[0], prev = AT(f)[1];
  if (prev) AT(prev)[0] = next; else H.lists[c] = next;
  if (next) AT(next)[1] = prev;
}
#endif

/* Writes the 8 bytes before a payload; the check word ties them to it. */
static void set_meta(addr p, uint32_t info) {
  AT(p - META_SIZE)[0] = info;
  AT(p - META_SIZE)[1] = info ^ p ^ ZEE_SALT;
}

/* ---- Free spans ----------------------------------------------------------- */

/* Address order lets neighbours merge without reading pages we don't own. */
static void unlink_span(addr s) {
  addr next = AT(s)[2], prev = AT(s)[3];
  if (prev) AT(prev)[2] = next; else H.spans = next;
  if (next) AT(next)[3] = prev;
}

/* Merges span b into span a when b starts where a ends. */
static void absorb(addr a, addr b) {
  if (a && b && a + (AT(a)[1] << PAGE_LOG2) == b) {
    AT(a)[1] += AT(b)[1]; /* the lower span keeps its anchored bit */
    unlink_span(b);
  }
}

/* Gives n pages at s to the free spans, merging with touching spans. */
static void free_pages(addr s, uint32_t n, uint32_t anchored) {
  addr prev = 0, next = H.spans;
  while (next && next < s) prev = next, next = AT(next)[2];
  AT(s)[0] = ZEE_SPAN_TAG | anchored;
  AT(s)[1] = n;
  AT(s)[2] = next;
  AT(s)[3] = prev;
  if (prev) AT(prev)[2] = s; else H.spans = s;
  if (next) AT(next)[3] = s;
  absorb(s, next);
  absorb(prev, s);
}

/* Owns [from, end): the pages become a free span at the top of the heap. */
static void adopt(addr from, addr end, uint32_t anchored) {
  if (end <= from) return;
  free_pages(from, (end - from) >> PAGE_LOG2, anchored);
  H.heap_end = end;
}

/* Takes memory from the source: `n` more pages, added to the free spans. */
static int grow(uint32_t n) {
  addr cur = source_size(), from = cur < H.heap_end ? H.heap_end : cur, end = H.heap_end;
  if (!n || n > (MAX_JUMBO - from) >> PAGE_LOG2) return 0;
  if (!source_grow(from + (n << PAGE_LOG2))) return 0;
  /* Pages between heap_end and `cur` were grown by someone else: skip them. */
  adopt(from, source_size(), from == H.heap_end && H.end_small);
  return H.heap_end != end;
}

/* First call: the memory above __heap_base is ours. */
static void init(void) {
  H.heap_start = H.heap_end = (source_base() + OFFSET_MASK) & ~OFFSET_MASK;
  adopt(H.heap_start, source_size(), 0);
}

/* ---- Small pages ------------------------------------------------------------ */

/* Carves a fresh page into one free frame of each size, 16@16 .. 32K@32K. */
static void make_small_page(addr p) {
  addr head = H.pages;
  AT(p)[0] = ZEE_PAGE_TAG;
  AT(p)[1] = head >> PAGE_LOG2;
  if (head) AT(head)[1] = p | (AT(head)[1] & OFFSET_MASK);
  H.pages = p;
  AT(p + PAGE_SIZE - META_SIZE)[0] = 0; /* no jumbo block follows yet */
  for (uint32_t size = MIN_FRAME; size <= MAX_FRAME; size <<= 1) {
    set_meta(p + size, size | ZEE_TAG_FREE);
    push(class_of(size), p + size);
  }
  if (p + PAGE_SIZE == H.heap_end) H.end_small = 1;
}

#if ZEE_BUDDY
/* Unlinks an empty small page's frames and the page, and frees the page. */
static void drop_small_page(addr p, uint32_t pages) {
  for (uint32_t size = MIN_FRAME; size <= MAX_FRAME; size <<= 1) {
    ASSERT(AT(p + size - META_SIZE)[0] == (size | ZEE_TAG_FREE), p + size);
    unlink_frame(class_of(size), p + size);
  }
  uint32_t w = AT(p)[1];
  addr prev = w & ~OFFSET_MASK, next = w << PAGE_LOG2;
  if (prev) AT(prev)[1] = (AT(prev)[1] & ~OFFSET_MASK) | (next >> PAGE_LOG2);
  else H.pages = next;
  if (next) AT(next)[1] = prev | (AT(next)[1] & OFFSET_MASK);
  if (H.spare == p) H.spare = 0;
  free_pages(p, pages, 0);
}

/* Keeps one empty page back, so a malloc/free loop doesn't re-carve a page. */
static void page_emptied(addr p) {
  addr spare = H.spare;
  H.spare = p;
  if (spare && spare != p && !(AT(spare)[0] & 0xffff)) drop_small_page(spare, 1);
}
#endif

#if ZEE_CACHE
static int flush(void);
#else
#define flush() 0
#endif

/* ---- Finding pages ------------------------------------------------------------ */

/* Round up to a power of two `align`. */
static addr align_up(addr a, uint32_t align) { return (a + align - 1) & ~(align - 1); }

/*
 * Returns n pages at an `align`-aligned address, taken from the free spans
 * (growing memory if none fits), or 0.  With `jumbo`, the page before the
 * result is a small page with a vacant tail slot: either the one already
 * before an anchored span, or a new one carved from the span.
 */
static addr take_pages(uint32_t n, uint32_t align, int jumbo) {
  if (!H.heap_start) init(); /* here, not in malloc: the first call always lands here */
  for (int tries = 0;; tries++) {
    addr best = 0, best_at = 0, last = 0;
#if ZEE_JUMBO_MATCH == 0
    uint32_t best_pages = ~0u;
#endif
    for (addr s = H.spans; s; s = AT(s)[2]) {
      uint32_t k = AT(s)[1];
      addr end = s + (k << PAGE_LOG2), at = s;
      last = s;
      if (jumbo && !((AT(s)[0] & 1) && !(s & (align - 1))))
        at = align_up(s + PAGE_SIZE, align);
      if (at < s || at >= end || (end - at) >> PAGE_LOG2 < n) continue;
#if ZEE_JUMBO_MATCH == 1
      if (jumbo && end - at != n << PAGE_LOG2 && end != H.heap_end) continue;
#endif
#if ZEE_JUMBO_MATCH == 0
      /* A span that needs a new anchor carved ranks after every span that
       * has one: the anchor costs a page, and small frames in it pin it. */
      uint32_t score = k | (uint32_t)(at != s) << 16;
      if (score < best_pages) best = s, best_at = at, best_pages = score;
      if (score == n) break; /* nothing fits closer */
#else
      best = s, best_at = at;
      break;
#endif
    }
    if (best) {
      uint32_t k = AT(best)[1], anchored = AT(best)[0] & 1;
      addr end = best + (k << PAGE_LOG2), tail = best_at + (n << PAGE_LOG2);
      unlink_span(best);
      if (best_at != best) {
        /* Only jumbo blocks move off the span start: carve their anchor. */
        addr anchor = best_at - PAGE_SIZE;
        if (anchor != best) free_pages(best, (anchor - best) >> PAGE_LOG2, anchored);
        make_small_page(anchor);
      }
      if (tail != end) free_pages(tail, (end - tail) >> PAGE_LOG2, !jumbo);
      return best_at;
    }
    if (tries) return 0;
    if (flush()) { /* merging held-back frames may have freed whole pages */
      tries = -1;
      continue;
    }
    /* Grow just enough: the top span (if it touches the new memory) counts. */
    uint32_t have = 0, anchored = H.end_small;
    if (source_size() != H.heap_end) anchored = 0;
    else if (last && last + (AT(last)[1] << PAGE_LOG2) == H.heap_end)
      have = AT(last)[1], anchored = AT(last)[0] & 1;
    uint32_t need = n + (jumbo ? (align > PAGE_SIZE ? align >> PAGE_LOG2 : !anchored) : 0);
    if (!grow(need > have ? need - have : 1)) return 0;
  }
}

/* ---- Frames ---------------------------------------------------------------------- */

/* Pops a frame of class c, splitting a larger one or carving a new page. */
static addr alloc_frame(unsigned c) {
  unsigned k = c;
  while (k < CLASSES && !H.lists[k]) k++;
  if (k == CLASSES && flush()) /* merged frames may serve it without a new page */
    for (k = c; k < CLASSES && !H.lists[k]; k++) {}
  if (k == CLASSES) {
    addr p = take_pages(1, PAGE_SIZE, 0);
    if (!p) return 0;
    make_small_page(p);
    k = c;
  }
  addr f = H.lists[k], next = AT(f)[0];
  ASSERT(AT(f - META_SIZE)[0] == ((MIN_FRAME << k) | ZEE_TAG_FREE), f);
  H.lists[k] = next; /* pop the head (it has no prev): 20 B for ~6% on fixed-size loops */
  if (next) AT(next)[1] = 0;
  while (k > c) { /* keep the lower half, free the upper half */
    uint32_t half = MIN_FRAME << --k;
    set_meta(f + half, half | ZEE_TAG_FREE);
    push(k, f + half);
  }
  set_meta(f, (MIN_FRAME << c) | ZEE_TAG_USED);
#if ZEE_BUDDY
  AT(f & ~OFFSET_MASK)[0]++;
#endif
  return f;
}

/* Frees frame f of size s, merging it with free buddies under coalesce. */
static void free_frame(addr f, uint32_t s) {
  /* Marked free first: if f is an upper half, its header ends up inside the
   * merged frame, and a later free(f) must still read as a double free. */
  set_meta(f, s | ZEE_TAG_FREE);
#if ZEE_BUDDY
  uint32_t s0 = s;
  for (addr b; (b = f ^ s) & OFFSET_MASK; s <<= 1) {
    /* The buddy at page offset 0 never exists: that is the page head. */
    if (AT(b - META_SIZE)[0] != (s | ZEE_TAG_FREE)) break;
    unlink_frame(class_of(s), b);
    f &= ~s;
  }
  if (s != s0) set_meta(f, s | ZEE_TAG_FREE); /* the merged frame */
#endif
  push(class_of(s), f);
#if ZEE_BUDDY
  addr page = f & ~OFFSET_MASK;
  ASSERT(AT(page)[0] & 0xffff, page);
  if (!(--AT(page)[0] & 0xffff)) page_emptied(page);
#endif
}

/* ---- Jumbo blocks ------------------------------------------------------------------ */

/* n bytes as whole pages at an `align`-aligned address (align >= 64 KiB). */
static addr alloc_jumbo(size_t n, uint32_t align) {
  if (n > MAX_JUMBO) return 0;
  uint32_t pages = ((addr)n + OFFSET_MASK) >> PAGE_LOG2;
  addr j = take_pages(pages, align, 1);
  if (!j) return 0;
  set_meta(j, pages << PAGE_LOG2 | ZEE_TAG_USED);
#if ZEE_BUDDY
  AT(j - PAGE_SIZE)[0]++; /* the anchor stays while the jumbo block lives */
#endif
  if (j + (pages << PAGE_LOG2) == H.heap_end) H.end_small = 0;
  return j;
}

/* Returns a jumbo block's pages (and its anchor, if now empty) to the spans. */
static void free_jumbo(addr j, uint32_t size) {
  set_meta(j, size | ZEE_TAG_FREE);
#if ZEE_BUDDY
  addr anchor = j - PAGE_SIZE;
  if (!(--AT(anchor)[0] & 0xffff)) {
    drop_small_page(anchor, (size >> PAGE_LOG2) + 1);
    return;
  }
#endif
  free_pages(j, size >> PAGE_LOG2, 1);
}

/* Grows a jumbo block in place from the span right after it, if any. */
static int extend_jumbo(addr j, uint32_t size, uint32_t want) {
  addr end = j + size;
  for (int tries = 0;; tries++) {
    addr s = H.spans;
    while (s && s < end) s = AT(s)[2];
    uint32_t have = s == end ? AT(s)[1] << PAGE_LOG2 : 0;
    if (have >= want - size) {
      uint32_t k = AT(s)[1];
      unlink_span(s);
      if (have != want - size) free_pages(j + want, k - ((want - size) >> PAGE_LOG2), 0);
      set_meta(j, want | ZEE_TAG_USED);
      if (j + want == H.heap_end) H.end_small = 0;
      return 1;
    }
    /* At the top of the heap, growing memory extends the block. */
    if (tries || end + have != H.heap_end || source_size() != H.heap_end ||
        !grow((want - size - have) >> PAGE_LOG2))
      return 0;
  }
}

/* ---- Checked entry ------------------------------------------------------------------ */

/* Tags 7 (in use), 6 (free) and, with a cache, 4 (cached) are the only valid ones. */
static int bad_tag(uint32_t info) {
#if ZEE_CACHE
  return !((1u << ZEE_TAG_USED | 1u << ZEE_TAG_FREE | 1u << ZEE_TAG_CACHED) >> (info & 15) & 1);
#else
  return (info & 14) != ZEE_TAG_FREE;
#endif
}

/* The info word of the block at p, after the checks of the validation level. */
static uint32_t block_info(addr p) {
#if ZEE_VALIDATION >= 1
  if ((p & (MIN_FRAME - 1)) || p < H.heap_start + MIN_FRAME || p >= H.heap_end)
    fault(ZEE_E_POINTER, p);
  uint32_t info = AT(p - META_SIZE)[0];
  if (bad_tag(info) || AT(p - META_SIZE)[1] != (info ^ p ^ ZEE_SALT)) fault(ZEE_E_HEADER, p);
  if (!(info & 1)) fault(ZEE_E_DOUBLE_FREE, p);
#else
  uint32_t info = AT(p - META_SIZE)[0];
#endif
#if ZEE_VALIDATION >= 2
  uint32_t size = info & ~15u;
  if (size < PAGE_SIZE)
    ASSERT(!(size & (size - 1)) && size >= MIN_FRAME && !(p & (size - 1)) &&
               (p & OFFSET_MASK), p);
  else
    ASSERT(!(p & OFFSET_MASK) && !(size & OFFSET_MASK) && size <= H.heap_end - p, p);
#endif
  return info & ~15u;
}

static void release(addr p, uint32_t size) {
  if (size < PAGE_SIZE) free_frame(p, size);
  else free_jumbo(p, size);
}

#if ZEE_CACHE
/* Holds a freed frame back un-merged while its class's cache has room: the
 * next malloc of that class takes it without a split, and this free skips
 * the merge.  The page keeps counting it as in use. */
static int hold(addr f, uint32_t size) {
  if (size >= PAGE_SIZE) return 0;
  unsigned c = class_of(size);
  if (H.cached[c] >= ZEE_CACHE) return 0;
  set_meta(f, size | ZEE_TAG_CACHED); /* a later free(f) is a double free */
  AT(f)[0] = H.cache[c];
  H.cache[c] = f;
  H.cached[c]++;
  return 1;
}

/* Merges every held-back frame, so that the cache never costs a page. */
static int flush(void) {
  int any = 0;
  for (unsigned c = 0; c < CLASSES; c++) {
    for (addr f; (f = H.cache[c]); any = 1) {
      H.cache[c] = AT(f)[0];
      free_frame(f, MIN_FRAME << c);
    }
    H.cached[c] = 0;
  }
  return any;
}
#else
#define hold(f, size) 0
#endif

static void *out_of_memory(void) {
  errno = ENOMEM;
  return 0;
}

/* Serves n bytes aligned to `align` (a power of two, at least 16). */
static void *allocate(size_t n, size_t align) {
  addr p;
  if (n <= MAX_SMALL && align <= MAX_FRAME) {
    /* The frame: the power of two >= max(n + 8, align); align >= 16. */
    uint32_t need = n + META_SIZE < align ? align : n + META_SIZE;
    unsigned c = 32 - MIN_LOG2 - __builtin_clz(need - 1);
#if ZEE_CACHE
    if ((p = H.cache[c])) { /* the frame of this class freed last */
      H.cache[c] = AT(p)[0];
      H.cached[c]--;
      set_meta(p, (MIN_FRAME << c) | ZEE_TAG_USED);
      return to_ptr(p);
    }
#endif
    p = alloc_frame(c);
  } else {
    p = align > MAX_JUMBO ? 0 : alloc_jumbo(n ? n : 1, align < PAGE_SIZE ? PAGE_SIZE : align);
  }
  return p ? to_ptr(p) : out_of_memory();
}

/* ---- Public API ------------------------------------------------------------------------ */

void *zee_malloc(size_t n) {
  lock();
  void *p = allocate(n, MIN_FRAME);
  unlock();
  return p;
}

void zee_free(void *ptr) {
  if (!ptr) return;
  lock();
  addr p = to_addr(ptr);
  uint32_t size = block_info(p);
  if (!hold(p, size)) release(p, size);
  unlock();
}

void *zee_calloc(size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) return out_of_memory();
  void *p = zee_malloc(n);
  if (p) memset(p, 0, n);
  return p;
}

size_t zee_usable_size(void *ptr) {
  if (!ptr) return 0;
  lock();
  uint32_t size = block_info(to_addr(ptr));
  unlock();
  return size < PAGE_SIZE ? size - META_SIZE : size;
}

void *zee_memalign(size_t align, size_t n) {
  if (align & (align - 1)) {
    errno = EINVAL;
    return 0;
  }
  lock();
  void *p = allocate(n, align < MIN_FRAME ? MIN_FRAME : align);
  unlock();
  return p;
}

void *zee_realloc(void *ptr, size_t n) {
  if (!ptr) return zee_malloc(n);
  if (!n) {
    zee_free(ptr);
    return 0;
  }
  lock();
  addr p = to_addr(ptr);
  uint32_t size = block_info(p);
  void *q = ptr;
  if (size < PAGE_SIZE) {
    if (n <= size - META_SIZE) {
#if ZEE_SHRINK
      /* Give back upper halves while the lower half still fits n. */
      uint32_t s = size;
      while (s > MIN_FRAME && n <= s / 2 - META_SIZE) {
        s /= 2;
        set_meta(p + s, s | ZEE_TAG_FREE);
        push(class_of(s), p + s);
      }
      set_meta(p, s | ZEE_TAG_USED);
#endif
      goto done;
    }
#if ZEE_BUDDY
    if (n <= MAX_SMALL) {
      /* Grow in place if every upper buddy up to the needed size is free. */
      uint32_t want = 2u << (31 - __builtin_clz(n + META_SIZE - 1)), s = size;
      while (s < want && !(p & s) && AT(p + s - META_SIZE)[0] == (s | ZEE_TAG_FREE))
        s <<= 1;
      if (s == want) {
        for (s = size; s < want; s <<= 1) unlink_frame(class_of(s), p + s);
        set_meta(p, want | ZEE_TAG_USED);
        goto done;
      }
    }
#endif
  } else {
    uint32_t want = n > MAX_JUMBO ? 0 : ((addr)n + OFFSET_MASK) & ~OFFSET_MASK;
    if (want && want <= size) {
#if ZEE_SHRINK
      if (want < size) {
        free_pages(p + want, (size - want) >> PAGE_LOG2, 0);
        set_meta(p, want | ZEE_TAG_USED);
      }
#endif
      goto done;
    }
    if (want && extend_jumbo(p, size, want)) goto done;
  }
  {
    /* Move: the old block stays intact if the new one can't be had. */
    q = allocate(n, MIN_FRAME);
    if (q) {
      uint32_t keep = size < PAGE_SIZE ? size - META_SIZE : size;
      memcpy(q, ptr, n < keep ? n : keep);
      release(p, size);
    }
  }
done:
  unlock();
  return q;
}

void zee_trim(void) {
#if ZEE_BUDDY
  lock();
  flush();
  if (H.spare && !(AT(H.spare)[0] & 0xffff)) drop_small_page(H.spare, 1);
  H.spare = 0;
  unlock();
#endif
}

const zee_heap_info_t *zee_heap_info(void) {
  lock(); /* the first call may race with a malloc in another thread */
  if (!H.heap_start) init();
  unlock();
  return &H;
}

/* ---- Whole-heap walk: zee_check() and mallinfo() -------------------------------------- */

typedef struct walk_stats {
  uint32_t pages, used_bytes, used_blocks, free_bytes, free_frames, span_pages;
  uint32_t cached_bytes, cached_frames;
} walk_stats;

/* Is page p inside a free span?  (Used to find pages claimed twice.) */
static int in_span(addr p) {
  for (addr s = H.spans; s && s <= p; s = AT(s)[2])
    if (p < s + (AT(s)[1] << PAGE_LOG2)) return 1;
  return 0;
}

/* Frame or jumbo metadata at p: 0 if tag and check word are sound. */
static int bad_meta(addr p) {
  uint32_t info = AT(p - META_SIZE)[0];
  return bad_tag(info) || AT(p - META_SIZE)[1] != (info ^ p ^ ZEE_SALT);
}

/* Checks every rule of the layout, filling in totals on the way. */
static int walk(walk_stats *st) {
  memset(st, 0, sizeof *st);
  if (!H.heap_start) return 0;
  addr prev = 0;
  uint32_t guard = 0;
  for (addr s = H.spans; s; prev = s, s = AT(s)[2]) {
    if (s >= H.heap_end) return ZEE_C_SPAN; /* before any read: s may be wild */
    uint32_t k = AT(s)[1];
    if (++guard > MAX_PAGES || (s & OFFSET_MASK) || s < H.heap_start || s <= prev ||
        (AT(s)[0] & ~1u) != ZEE_SPAN_TAG || !k || k > (H.heap_end - s) >> PAGE_LOG2 ||
        AT(s)[3] != prev)
      return ZEE_C_SPAN;
    if (prev && prev + (AT(prev)[1] << PAGE_LOG2) > s) return ZEE_C_OVERLAP;
    if (prev && prev + (AT(prev)[1] << PAGE_LOG2) == s) return ZEE_C_SPAN_MERGE;
    st->span_pages += k;
  }
  prev = 0;
  guard = 0;
  for (addr p = H.pages; p; prev = p, p = AT(p)[1] << PAGE_LOG2) {
    if (++guard > MAX_PAGES || (p & OFFSET_MASK) || p < H.heap_start ||
        p >= H.heap_end || (AT(p)[0] & ~0xffffu) != ZEE_PAGE_TAG ||
        (AT(p)[1] & ~OFFSET_MASK) != prev)
      return ZEE_C_PAGE;
    if (in_span(p)) return ZEE_C_OVERLAP;
    st->pages++;
    uint32_t used = 0;
    for (addr f = p + MIN_FRAME; f < p + PAGE_SIZE;) {
      uint32_t info = AT(f - META_SIZE)[0], size = info & ~15u;
      if (bad_meta(f) || size < MIN_FRAME || size > MAX_FRAME || (size & (size - 1)) ||
          (f & (size - 1)))
        return ZEE_C_FRAME;
      if (info & 1) {
        used++;
        st->used_bytes += size - META_SIZE;
      } else if ((info & 15) == ZEE_TAG_CACHED) {
        used++; /* the page counts it until the cache lets it go */
        st->cached_frames++;
        st->cached_bytes += size - META_SIZE;
      } else {
        st->free_frames++;
        st->free_bytes += size - META_SIZE;
#if ZEE_BUDDY
        addr b = f ^ size;
        if ((b & OFFSET_MASK) && b > f && AT(b - META_SIZE)[0] == (size | ZEE_TAG_FREE))
          return ZEE_C_BUDDY;
#endif
      }
      f += size;
    }
    addr j = p + PAGE_SIZE;
    uint32_t info = AT(j - META_SIZE)[0];
    if ((info & 15) == ZEE_TAG_USED) {
      uint32_t size = info & ~15u;
      if (bad_meta(j) || !size || (size & OFFSET_MASK) || size > H.heap_end - j)
        return ZEE_C_JUMBO;
      for (addr q = j; q < j + size; q += PAGE_SIZE) {
        if (in_span(q)) return ZEE_C_OVERLAP;
        for (addr o = H.pages; o; o = AT(o)[1] << PAGE_LOG2)
          if (o == q) return ZEE_C_OVERLAP;
      }
      used++;
      st->used_bytes += size;
      st->pages += size >> PAGE_LOG2;
    }
    st->used_blocks += used;
#if ZEE_BUDDY
    if ((AT(p)[0] & 0xffff) != used) return ZEE_C_COUNT;
#endif
  }
  uint32_t listed = 0;
  for (unsigned c = 0; c < CLASSES; c++) {
    prev = 0;
    for (addr f = H.lists[c]; f; prev = f, f = AT(f)[0]) {
      uint32_t size = MIN_FRAME << c;
      addr page = f & ~OFFSET_MASK;
      if (++listed > st->free_frames || f < H.heap_start || f >= H.heap_end ||
          (f & (size - 1)) || !(f & OFFSET_MASK) || AT(f)[1] != prev ||
          (AT(page)[0] & ~0xffffu) != ZEE_PAGE_TAG || in_span(page) || bad_meta(f) ||
          AT(f - META_SIZE)[0] != (size | ZEE_TAG_FREE))
        return ZEE_C_LIST;
    }
  }
  if (listed != st->free_frames) return ZEE_C_LIST_COUNT;
  uint32_t held = 0;
  for (unsigned c = 0; c < CLASSES; c++) {
    uint32_t size = MIN_FRAME << c, n = 0;
    for (addr f = H.cache[c]; f; f = AT(f)[0]) {
      addr page = f & ~OFFSET_MASK;
      if (++held > st->cached_frames || ++n > ZEE_CACHE || f < H.heap_start ||
          f >= H.heap_end || (f & (size - 1)) || !(f & OFFSET_MASK) ||
          (AT(page)[0] & ~0xffffu) != ZEE_PAGE_TAG || in_span(page) || bad_meta(f) ||
          AT(f - META_SIZE)[0] != (size | ZEE_TAG_CACHED))
        return ZEE_C_CACHE;
    }
    if (n != H.cached[c]) return ZEE_C_CACHE;
  }
  if (held != st->cached_frames) return ZEE_C_CACHE;
  return 0;
}

int zee_check(void) {
  walk_stats st;
  lock();
  int r = walk(&st);
  unlock();
  return r;
}

#if defined(__EMSCRIPTEN__) && !defined(ZEE_NO_MALLOC_NAMES) && !ZEE_BUILTIN_ONLY
#include <malloc.h>

/* dlmalloc's meanings: arena = bytes owned, ordblks = free and cached frames,
 * uordblks = bytes in use (payloads), fordblks = bytes free (payloads and
 * spans); keepcost = free span bytes. */
struct mallinfo mallinfo(void) {
  struct mallinfo mi = {0};
  walk_stats st;
  lock();
  walk(&st);
  mi.arena = (int)((st.pages + st.span_pages) << PAGE_LOG2);
  mi.ordblks = (int)(st.free_frames + st.cached_frames);
  mi.uordblks = (int)st.used_bytes;
  mi.keepcost = (int)(st.span_pages << PAGE_LOG2);
  mi.fordblks = (int)(st.free_bytes + st.cached_bytes + mi.keepcost);
  unlock();
  return mi;
}
#endif

/* ---- The names Emscripten links against under -sMALLOC=none -------------------------- */
#ifdef __EMSCRIPTEN__
#define ZEE_ALIAS(name, target) __typeof(target) name __attribute__((alias(#target)))

int zee_posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
  void *p = zee_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

ZEE_ALIAS(emscripten_builtin_malloc, zee_malloc);
ZEE_ALIAS(emscripten_builtin_free, zee_free);
ZEE_ALIAS(emscripten_builtin_memalign, zee_memalign);
ZEE_ALIAS(emscripten_builtin_calloc, zee_calloc); /* used by emsdk since late 2024 */

#if !defined(ZEE_NO_MALLOC_NAMES)
/* musl's own allocations (atexit, gettext); ASan's runtime lacks these too. */
ZEE_ALIAS(__libc_malloc, zee_malloc);
ZEE_ALIAS(__libc_free, zee_free);
ZEE_ALIAS(__libc_calloc, zee_calloc);
ZEE_ALIAS(__libc_realloc, zee_realloc);
#endif

#if !ZEE_BUILTIN_ONLY && !defined(ZEE_NO_MALLOC_NAMES)
ZEE_ALIAS(malloc, zee_malloc);
ZEE_ALIAS(free, zee_free);
ZEE_ALIAS(calloc, zee_calloc);
ZEE_ALIAS(realloc, zee_realloc);
ZEE_ALIAS(memalign, zee_memalign);
ZEE_ALIAS(aligned_alloc, zee_memalign);
ZEE_ALIAS(posix_memalign, zee_posix_memalign);
ZEE_ALIAS(malloc_usable_size, zee_usable_size);
#endif
#endif
