/*
 * zee_alloc: a tiny buddy allocator for WebAssembly, with exact-size blocks.
 *
 * Assumptions
 *   - wasm32 memory: pages of 64 KiB, addresses below 4 GiB.  Memory above
 *     __heap_base belongs to the allocator from the first allocation on;
 *     more is obtained with emscripten_resize_heap(), and pages someone else
 *     grew in between are skipped, so the heap may be non-contiguous.
 *   - Host builds (sanitizers, fuzzing) supply the page source functions
 *     declared under "Memory source"; all internal addresses are 32-bit
 *     offsets from zee_native_base, so the encoding is the same as in wasm.
 *   - Single-threaded unless ZEE_THREADS=1.
 *
 * Invariants
 *   - The header of every block sits in the 8 bytes right before its
 *     payload: free(p) reads p - 8 and nothing else to find the block.
 *   - A request of n <= MAX_SMALL bytes is a small block of m = roundup(n +
 *     8, 16) bytes inside one small page, whose last 8 bytes are the header
 *     slot of what follows.  If m is not a power of two and at most
 *     SLAB_MAX, it is a slot of exactly m bytes in a slab (a frame of slots
 *     of one size); else up to ROUND_MAX it occupies the power-of-two
 *     frame that holds m, above exactly m bytes.  A larger request is a large block of
 *     m = roundup(n, 16) bytes that ends on a page boundary: m % 64 KiB bytes
 *     in the top of a small page (its anchor), then m / 64 KiB whole pages.
 *     So n <= malloc_usable_size(malloc(n)) <= n + 15.  Small blocks never
 *     use their last 8 bytes, so a page's last 8 bytes are always free to
 *     hold the header of a page-aligned large block after it.
 *   - Every page the allocator owns is a small page, a free page, or a page
 *     of a large block, and the page map says which (ZEE_MAP_*).  No page
 *     below H.first_free is free.  A small page is of the small pool or
 *     the mid pool (ZEE_MAP_MID); its free frames are on H.lists or on
 *     H.mid_lists accordingly.
 *   - In a small page, blocks tile [P + 16, end): free frames (a power of
 *     two, aligned to it, on the free list of its size) and small blocks
 *     (any 16-aligned range; a slab is one, aligned to its power-of-two
 *     size).  Two free buddies never coexist.  At most one small page (the
 *     spare) is empty, and no slab is: a slab with a free slot is on the
 *     list of its slot size.
 *   - A valid free header (tag and check word) at b - 8 means that a free
 *     frame starts at b.  Merging, absorbing, carving and dropping pages turn
 *     the headers they bury into ZEE_TAG_MERGED, so a stale one never
 *     survives inside a block; only user data that forges the address-bound
 *     check word could fake one.
 *   - The running totals in H match the heap at every return.
 *
 * Debugging
 *   - ZEE_VALIDATION=2 ("dev") adds internal asserts; zee_check() walks the
 *     whole heap and names the first broken rule (zee_alloc.h).
 *   - js/inspect.mjs reads the same structures from JS without calling in.
 *   - docs/layout.md describes the layout for readers of the heap.
 *
 * Exporting
 *   - Defines malloc, free, calloc, realloc, aligned_alloc, posix_memalign,
 *     memalign, malloc_usable_size, mallinfo, the __libc_* names and the
 *     emscripten_builtin_* names Emscripten links against under
 *     -sMALLOC=none, plus the zee_* names (zee_alloc.h).
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
 * Each comment gives the option's cost in wasm bytes (-Oz, wasm-opt -Oz, the
 * full C API) against the default build, which adds 3,661 B to a module
 * (malloc and free alone: 2,912 B); `npm run bench` measures them. */

/* ZEE_VALIDATION: 0 = unsafe (trust every pointer: a bad one is undefined
 *     behaviour; -143 B), 1 = external (check the argument of free, realloc
 *     and malloc_usable_size: alignment, heap bounds, header tag and check
 *     word, double free; the default), 2 = dev (also internal asserts:
 *     +207 B). */
#ifndef ZEE_VALIDATION
#define ZEE_VALIDATION 1
#endif

/* ZEE_THREADS: 1 = a spinlock around every entry point (for -pthread;
 *     +74 B against the default built with -pthread), 0 = none (the default). */
#ifndef ZEE_THREADS
#define ZEE_THREADS 0
#endif

/* ---- Units -------------------------------------------------------------- */
#define PAGE_LOG2 16
#define PAGE_SIZE ZEE_PAGE_SIZE
#define OFFSET_MASK (PAGE_SIZE - 1)
#define MIN_LOG2 4
#define MIN_FRAME ZEE_MIN_FRAME
#define MAX_FRAME ZEE_MAX_FRAME
#define META_SIZE ZEE_META_SIZE
#define CLASSES ZEE_CLASSES
#define MAX_SMALL ZEE_MAX_SMALL
#define MAX_PAGES 65535u                  /* pages below 4 GiB, less one */
#define MAX_HEAP (MAX_PAGES << PAGE_LOG2) /* so that sizes fit in 32 bits */
#define TAG_MASK ZEE_TAG_MASK

_Static_assert(PAGE_SIZE == 1u << PAGE_LOG2, "PAGE_SIZE / PAGE_LOG2");
_Static_assert(MIN_FRAME == 1u << MIN_LOG2, "MIN_FRAME / MIN_LOG2");
_Static_assert(MAX_FRAME * 2 == PAGE_SIZE, "a page holds one frame of each size");
_Static_assert(MIN_FRAME == 2 * META_SIZE, "a free 16 B frame holds two links");
_Static_assert(CLASSES == PAGE_LOG2 - MIN_LOG2, "CLASSES");
_Static_assert(MAX_SMALL + META_SIZE + MIN_FRAME == PAGE_SIZE, "a small block fits one page");
_Static_assert(ZEE_GRANULE == MIN_FRAME, "blocks are made of frames");
_Static_assert((ZEE_TAG_SMALL & ZEE_TAG_LARGE & 1) && !(ZEE_TAG_FREE & 1) && !(ZEE_TAG_MERGED & 1),
               "bit 0 of the tag: in use");
_Static_assert(((ZEE_TAG_SMALL | ZEE_TAG_LARGE | ZEE_TAG_FREE | ZEE_TAG_MERGED) & 12) == 4 &&
                   ((ZEE_TAG_SMALL & ZEE_TAG_LARGE & ZEE_TAG_FREE & ZEE_TAG_MERGED) & 12) == 4,
               "valid tags are exactly 4..7: one compare checks them");
_Static_assert((ZEE_TAG_SMALL & 2) && !(ZEE_TAG_LARGE & 2), "bit 1: the 8-byte tail slot");

typedef uint32_t addr; /* an offset into the heap's memory; 0 = none */

/* For a few helpers with one or two callers, which -Oz keeps out of line:
 * inlined they take fewer bytes (55 B less for the full C API, measured
 * with npm run bench:functions). */
#define INLINE __attribute__((always_inline))

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
  addr size = (uint32_t)__builtin_wasm_memory_size(0) << PAGE_LOG2;
  return size ? size : MAX_HEAP; /* 65536 pages wrap to 0 */
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
__attribute__((import_module("env"), import_name("zee_fault"))) void zee_fault(unsigned code,
                                                                               void *ptr);
#elif defined(__EMSCRIPTEN__)
/* JavaScript: clang-format would break its operators (=== into == =). */
// clang-format off
EM_JS(void, zee_fault, (unsigned code, void *ptr), {
  var what = ["", 'pointer not from this heap (misaligned or out of bounds)',
              'invalid header at ptr-8 (not allocated here, interior pointer, or overwritten)',
              'double free', 'internal invariant broken'];
  err('zee_alloc: ' + (what[code] || 'fault ' + code) + ' at 0x' + (ptr >>> 0).toString(16));
  abort('zee_alloc fault ' + code);
});
// clang-format on
#else
#include <stdio.h>
#include <stdlib.h>
__attribute__((weak)) void zee_fault(unsigned code, void *ptr) {
  fprintf(stderr, "zee_alloc: fault %u at %p\n", code, ptr);
  abort();
}
#endif

#if ZEE_THREADS
static int lock_word;
/* Why: a spinlock needs no futex, so it also works on the browser's main thread. */
static void lock(void) {
  while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
    while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED)) {
    }
}
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }
#else
#define lock() ((void)0)
#define unlock() ((void)0)
#endif

/* Why: every fault funnels here so that it never returns into the caller;
 * the lock is let go first, in case the handler unwinds (the JS wrapper
 * throws), so that the next call does not spin forever. */
__attribute__((noinline, cold, unused)) static void fault(unsigned code, addr p) {
  unlock();
  zee_fault(code, to_ptr(p));
  __builtin_trap();
}

#if ZEE_VALIDATION >= 2
#define ASSERT(cond, p) ((cond) ? (void)0 : fault(ZEE_E_INTERNAL, (p)))
#else
#define ASSERT(cond, p) ((void)0)
#endif

static zee_heap_info_t H = {.magic = ZEE_INFO_MAGIC,
                            .layout = ZEE_LAYOUT_VERSION,
                            .config = ZEE_VALIDATION | ZEE_THREADS << 4};

/* The page map: one byte per page, indexed by address >> 16 (ZEE_MAP_*). */
static uint8_t page_map[MAX_PAGES + 1];
#define MAP(a) page_map[(addr)(a) >> PAGE_LOG2]
/* Small pages are of two kinds, ZEE_MAP_SMALL and ZEE_MAP_MID. */
#define SMALL_PAGE(a) ((MAP(a) & 3) == ZEE_MAP_SMALL)
_Static_assert((ZEE_MAP_MID & 3) == ZEE_MAP_SMALL && ZEE_MAP_MID != ZEE_MAP_SMALL, "map marks");

/* ---- The layout -------------------------------------------------------------
 *
 * A small page P (64 KiB), freshly carved into one free frame of each size:
 *
 *   P+0      P+8      P+16   P+32       P+64            P+32K           P+64K
 *   +--------+--------+------+-----------+---- ... -------+------- ... ----+
 *   | page   | header | 16 B |   32 B    |   64 B ...      |    32 KiB      |
 *   +--------+--------+------+-----------+---- ... -------+------- ... ----+
 *
 *   page word 0 = ZEE_PAGE_TAG | blocks whose header lies in P
 *   page word 1 = payload of the large block P anchors (0 = none),
 *                 | ANCHOR_ONLY if P was made for it and holds nothing else
 *
 * Every block [b, e) has its header at b - 8, in the last 8 bytes of the
 * block before it (or of the page word at P+8 for b = P+16):
 *
 *            b - 8          b                          e - 8         e
 *   ... -----+------+------+--------- payload ---------+-------------+-----
 *            | info | check|                            | next header |
 *   ... -----+------+------+----------------------------+-------------+-----
 *
 *   info  = size | tag   (tag 7: small block, usable size - 8;
 *                         5: large block, usable size; 6: free frame;
 *                         4: a header buried inside a merged free frame)
 *   check = info ^ b ^ ZEE_SALT
 *
 * A small block of m <= 32 KiB bytes is served from the smallest free
 * frame of 2^k >= m, at its bottom; the rest goes back as the frames that
 * tile it, like Linux's alloc_pages_exact().  m = 4320 in an 8 KiB frame:
 *
 *   f                   f+4320 +4352    +4608     +5120       +6144      f+8K
 *   +---------------------+----+--------+---------+-----------+------------+
 *   | small block, 4320 B | 32 |  256   |   512   |   1024    |    2048    |
 *   +---------------------+----+--------+---------+-----------+------------+
 *                          free frames, each aligned to its size
 *
 * Before a frame is taken or split, a hole is tried: a free frame of
 * 2^(k-1), 2^(k-2) or 2^(k-3) and the free frames after it, up to m (what
 * freed blocks left), taken from the start of the free run that holds it.
 * Above 32 KiB, a small block starts at a page's top-level frame 2^i@2^i,
 * the largest with 2^i + m <= 64 KiB, and covers the free frames after it.
 *
 * A free frame's first 8 bytes are its free-list links: next, prev.
 *
 * A large block of m bytes, r = m % 64 KiB, j = m / 64 KiB, in anchor A:
 *
 *   A                         A+64K-r   A+64K                    A+64K(1+j)
 *   +------+---- frames ---+--+---------+------- j pages ... ------------+
 *   | page |  small blocks |hd|  payload: exactly m bytes, to the page end |
 *   +------+---- frames ---+--+---------+-------------------------------+
 *
 * With r = 0 the payload is page-aligned and its header is the anchor's
 * last 8 bytes: the tail slot of the anchor's top block, always vacant.
 * A fresh anchor (r > 0, j > 0) holds the block alone: ANCHOR_ONLY in word
 * 1, [A+16, A+64K-r-8) unused, no small blocks.
 *
 * Whole pages are recorded in the page map only, a byte per page: free,
 * small (of the small or the mid pool), inside a large block, or not ours.  A free page holds
 * nothing; runs of free pages merge by themselves, and H.first_free (no page below it is free)
 * starts the first-fit search.
 */
#define PAGE_WORD 0  /* ZEE_PAGE_TAG | count */
#define PAGE_LARGE 1 /* the anchored large block's payload | ANCHOR_ONLY */
#define ANCHOR_ONLY ZEE_ANCHOR_ONLY

/* ---- Headers -------------------------------------------------------------- */

/* Writes the 8 bytes before a payload; the check word ties them to it. */
static void set_meta(addr p, uint32_t info) {
  AT(p - META_SIZE)[0] = info;
  AT(p - META_SIZE)[1] = info ^ p ^ ZEE_SALT;
}

/* Why both words: the slot may be user data, which the check word rules out. */
static int has_meta(addr p, uint32_t info) {
  return AT(p - META_SIZE)[0] == info && AT(p - META_SIZE)[1] == (info ^ p ^ ZEE_SALT);
}

/* Small blocks of up to ROUND_MAX bytes occupy the power-of-two frame that
 * holds them: a malloc/free of them is one frame off a list and back.
 * Measured: exact blocks from 1,040 B up (a replica of small-random) need
 * 6.1x the peak live bytes, not 1.8x: the small frames they give back are
 * taken by small blocks and pin the frames around them. */
#define ROUND_MAX ZEE_ROUND_MAX

/* The bytes a small block of `size` occupies from its payload on. */
static uint32_t extent(uint32_t size) {
  return size > ROUND_MAX ? size : 1u << (32 - __builtin_clz(size - 1));
}

/* What malloc_usable_size reports for a header: small blocks keep their tail. */
static uint32_t usable(uint32_t info) { return (info & ~TAG_MASK) - (info & 2) * 4; }

/* Keeps the running totals of zee_heap_info_t in step with every call:
 * `sign` is +1 for a block that comes to life, -1 for one that goes. */
static void account(uint32_t info, int32_t sign) {
  H.used_bytes += sign * (int32_t)usable(info);
  H.used_blocks += sign;
  if (H.used_bytes > H.peak_bytes)
    H.peak_bytes = H.used_bytes;
}

/* ---- Free frames ------------------------------------------------------------ */

INLINE static unsigned class_of(uint32_t size) { return __builtin_ctz(size) - MIN_LOG2; }

/* Puts f at the head of a list whose links (next, prev) are f's first 8
 * bytes: the free frames of a size, and the slabs of a slot size. */
static void list_push(addr *head, addr f) {
  addr next = *head;
  AT(f)[0] = next;
  AT(f)[1] = 0;
  if (next)
    AT(next)[1] = f;
  *head = f;
}

/* O(1) removal, needed when a buddy merges, a range is carved out or a
 * slab fills up. */
static void list_remove(addr *head, addr f) {
  addr next = AT(f)[0], prev = AT(f)[1];
  if (prev)
    AT(prev)[0] = next;
  else
    *head = next;
  if (next)
    AT(next)[1] = prev;
}

/* The free lists of frame f's page: a mid page's frames have lists of their own. */
static addr *lists_of(addr f) { return MAP(f) == ZEE_MAP_MID ? H.mid_lists : H.lists; }

/* Marks frame f free and puts it at the head of its list. */
static void push(addr f, uint32_t size) {
  set_meta(f, size | ZEE_TAG_FREE);
  list_push(&lists_of(f)[class_of(size)], f);
}

static void unlink_frame(addr f, uint32_t size) { list_remove(&lists_of(f)[class_of(size)], f); }

/* Frees frame f, merging it with its free buddies. */
INLINE static void free_frame(addr f, uint32_t size) {
  /* The buddy at page offset 0 never exists: that is the page word. */
  for (addr b; ((b = f ^ size) & OFFSET_MASK) && has_meta(b, size | ZEE_TAG_FREE); size <<= 1) {
    unlink_frame(b, size);
    set_meta(f | size, size | ZEE_TAG_MERGED); /* the upper half's header is buried */
    f &= ~size;
  }
  push(f, size);
}

/* Frees [x, y) inside one page as the aligned frames that tile it: each
 * the largest that x's alignment and the rest allow, found in O(1). */
static void release_range(addr x, addr y) {
  while (x < y) {
    uint32_t size = x & -x, fit = 1u << (31 - __builtin_clz(y - x));
    if (size > fit)
      size = fit;
    free_frame(x, size);
    x += size;
  }
}

/* Takes the free frame at f out of its list; its header will be buried. */
static void bury(addr f, uint32_t size) {
  unlink_frame(f, size);
  set_meta(f, size | ZEE_TAG_MERGED);
}

/* Where the free frames from x on reach past end, or 0 if a block in use
 * (or the page end) comes first: a hole that doesn't fit costs only reads. */
static addr free_to(addr x, addr end) {
  while (x < end) {
    uint32_t info = AT(x - META_SIZE)[0];
    if (info < MIN_FRAME || (info & TAG_MASK) != ZEE_TAG_FREE || !has_meta(x, info))
      return 0;
    x += info & ~TAG_MASK;
  }
  return x;
}

/* Takes [x, end) inside one page if the blocks from x on are free frames up
 * to end (what the last one holds beyond end goes back); else returns 0 and
 * changes nothing.  Serves every small block, holes, a large block's part
 * in its anchor, realloc's growth in place, and pages being released. */
static int absorb(addr x, addr end) {
  addr y = free_to(x, end);
  if (!y)
    return 0;
  for (addr z = x; z < y;) {
    uint32_t size = AT(z - META_SIZE)[0] & ~TAG_MASK;
    bury(z, size);
    z += size;
  }
  release_range(end, y);
  return 1;
}

/* ---- Free pages ----------------------------------------------------------- */

/* Marks n pages from s in the page map: it is the only record of which
 * pages are free, so free neighbours merge by themselves. */
static void mark(addr s, uint32_t n, uint8_t kind) {
  while (n--)
    MAP(s + (n << PAGE_LOG2)) = kind;
}

/* Gives n pages at s back to the free pages. */
static void free_pages(addr s, uint32_t n) {
  mark(s, n, ZEE_MAP_FREE);
  H.free_pages += n;
  if (s < H.first_free)
    H.first_free = s;
}

/* Takes n more pages from the source; they join the span at the top. */
static int grow(uint32_t n) {
  addr from = source_size(); /* >= heap_end: memory never shrinks */
  if (n > (MAX_HEAP - from) >> PAGE_LOG2 || !source_grow(from + (n << PAGE_LOG2)))
    return 0;
  addr end = source_size(); /* > from: the growth succeeded */
  /* Pages between heap_end and `from` were grown by someone else: MAP 0. */
  free_pages(from, (end - from) >> PAGE_LOG2);
  H.heap_end = end;
  return 1;
}

/* First allocation: the memory above __heap_base is ours. */
static void init(void) {
#ifdef __wasm__
  H.page_map = to_addr(page_map);
#else
  memset(page_map, 0, sizeof page_map); /* the native harness restarts heaps */
#endif
  H.heap_start = H.heap_end = H.first_free = (source_base() + OFFSET_MASK) & ~OFFSET_MASK;
  addr end = source_size();
  if (end > H.heap_start) {
    free_pages(H.heap_start, (end - H.heap_start) >> PAGE_LOG2);
    H.heap_end = end;
  }
}

/* ---- Small pages and anchors ------------------------------------------------ */

/* Makes a fresh page a small page whose frames tile [P+16, top). */
static void make_small_page(addr p, addr top) {
  AT(p)[PAGE_WORD] = ZEE_PAGE_TAG;
  AT(p)[PAGE_LARGE] = 0;
  H.small_pages++;
  release_range(p + MIN_FRAME, top);
}

/* Gives an empty small page back to the free pages: its frames are all
 * free and merged, so absorb() takes them whole. */
static void drop_page(addr p) {
  absorb(p + MIN_FRAME, p + PAGE_SIZE);
  if (H.spare == p)
    H.spare = 0;
  H.small_pages--;
  free_pages(p, 1);
}

/* Keeps one empty page back, so a malloc/free loop doesn't re-carve a page. */
static void page_emptied(addr p) {
  addr spare = H.spare;
  H.spare = p;
  if (spare && spare != p && !(AT(spare)[PAGE_WORD] & ZEE_COUNT_MASK))
    drop_page(spare);
}

/* The offset of the top-level frame from which a page's top r bytes are
 * taken (r > 0): the frames from there to the page end cover them. */
static uint32_t top_start(uint32_t r) { return 1u << (31 - __builtin_clz(PAGE_SIZE - r)); }

/* Takes the top r bytes of small page a if they are free, and the page anchors
 * no large block yet (its last 8 bytes are then a vacant header slot). */
INLINE static int take_top(addr a, uint32_t r) {
  addr x = a + top_start(r);
  if (AT(a)[PAGE_LARGE] || (r && !absorb(x, a + PAGE_SIZE)))
    return 0;
  release_range(x, a + PAGE_SIZE - r);
  return 1;
}

/*
 * Returns a small page A whose top r bytes are taken, with the j pages after
 * it taken for a large block (A + 64K aligned to `align`), or 0.  First fit
 * in address order over the page map: A is the small page before a run of j
 * free pages if its top is free, or else the first of j + 1 free pages,
 * made a small page (for the block alone if r and j > 0: small blocks in it
 * would pin the run once the block is freed); memory grows if nothing fits.
 * With r = j = 0 this is how small pages are made.
 */
static addr take_anchor(uint32_t r, uint32_t j, uint32_t align, uint8_t kind) {
  if (!H.heap_start)
    init(); /* here, not in malloc: the first call always lands here */
  for (int tries = 0;; tries++) {
    uint32_t run = 0;
    for (addr p = H.first_free; p < H.heap_end; p += PAGE_SIZE) {
      addr a = p - (j << PAGE_LOG2);
      run = MAP(p) == ZEE_MAP_FREE ? run + 1 : 0;
      if (!run && p == H.first_free)
        H.first_free += PAGE_SIZE;
      if ((a + PAGE_SIZE) & (align - 1))
        continue;
      if (run > j) { /* a fresh anchor, only for its block if it has pages */
        uint32_t only = j && r;
        H.free_pages--;
        MAP(a) = kind;
        make_small_page(a, only ? a + MIN_FRAME : a + PAGE_SIZE - r);
        AT(a)[PAGE_LARGE] = only;
      } else if (!(run == j && j && SMALL_PAGE(a) && take_top(a, r))) {
        continue;
      }
      mark(a + PAGE_SIZE, j, ZEE_MAP_LARGE);
      H.free_pages -= j;
      return a;
    }
    /* Grow just enough: the free run at the top of the heap counts. */
    if (source_size() != H.heap_end)
      run = 0;
    /* (>= 1: a top run of j + 1 + slack pages would have held an aligned fit) */
    uint32_t need = j + 1 - run + (align > PAGE_SIZE ? align >> PAGE_LOG2 : 0);
    if (tries || !grow(need))
      return 0;
  }
}

/* ---- Blocks ----------------------------------------------------------------- */

/* Why a few tries: holes that freed blocks left behind are reused before a
 * frame is taken or split, starting at frames of the three classes below
 * the block's own (a free run of m bytes holds one of them); the bounds
 * keep malloc O(1).  Measured: realloc-growth needs 30 % less memory than
 * with one class tried only when no frame of the block's own class is free. */
#define HOLE_TRIES 8
#define HOLE_CLASSES 3

/* Why: a hole found through a free frame's list entry starts where the free
 * run holding that frame starts, so that exact blocks pack against the
 * block below instead of leaving a gap under each (SQLite: 1.27x -> 1.19x
 * dlmalloc's heap in a trace replay).  Steps down one free frame at a time:
 * the frame ending at f is aligned to its size, so it is one of 16, 32, ...
 * up to f's own alignment.  Only for a hole that fits from f on: the run
 * below then fits too, and a miss costs no steps. */
INLINE static addr run_start(addr f) {
  for (uint32_t t = MIN_FRAME; t <= (f & -f) && ((f - t) & OFFSET_MASK) >= MIN_FRAME; t <<= 1)
    if (has_meta(f - t, t | ZEE_TAG_FREE))
      f -= t, t = MIN_FRAME / 2; /* from the smallest again */
  return f;
}

/* A small block of `size` bytes (a multiple of 16, at most 64 KiB - 16)
 * aligned to `align` (at most 32 KiB, and 16 above 32 KiB).  Up to
 * ROUND_MAX it takes the smallest free frame that holds it, whole: the
 * fast path (measured: fixed-16 is 30 % slower in wasm without it), and
 * the frames stay whole.  Above, it takes exactly its size: first right after
 * the last block (so that a run of blocks packs), then a hole, then the
 * bottom of the smallest free frame that holds it.  A fresh page, when
 * nothing fits, is found by the same steps (its bottom is a hole).  Holes
 * above 32 KiB start at a page's top-level frame (`skip` past the 32 KiB
 * frame's start). */
static addr alloc_small(uint32_t size, uint32_t align) {
  uint32_t need = size < align ? align : size, span = extent(size);
  unsigned c = 32 - MIN_LOG2 - __builtin_clz(need - 1), k, holes = c - 1;
  uint32_t skip = 0;
  addr f;
  int exact = size > ROUND_MAX && align == MIN_FRAME; /* (so c >= 8: holes is a class) */
  /* Why two pools: blocks above 4 KiB (slabs excepted, size == align) and
   * large blocks' anchors take their frames from mid pages only, so small
   * blocks, which end up scattered over their pages, never split the runs
   * that exact blocks need.  Measured (native replicas and trace replays):
   * small-random with its 1 % tail up to 8 KiB needs 1.7x its peak live
   * bytes, not 8.7x (every exact block took a fresh page); SQLite 1.19x ->
   * 1.14x dlmalloc's heap, Lua 1.23x either way.  From 2 KiB up instead:
   * small-random 1.81x its live bytes, not 1.76x; SQLite 1.15x. */
  int mid = size > ZEE_POOL_MIN && size != align;
  addr *L = mid ? H.mid_lists : H.lists;
  if (span == MIN_FRAME << c && (f = L[c])) { /* the fast path: pop a whole frame */
    list_remove(&L[c], f);
    goto found;
  }
  f = H.cursor;
  if (exact && f && absorb(f, f + size))
    goto found;
  if (size > MAX_FRAME)
    holes = CLASSES - 1, skip = top_start(size) - MAX_FRAME;
  for (;;) {
    for (k = c; k < CLASSES && !L[k]; k++) {
    }
    /* (a hole that would cross the page end fails in absorb(), at the page's
     * last 8 bytes, which never hold a free header) */
    for (unsigned h = holes, d = exact ? HOLE_CLASSES : 0; d-- && h < CLASSES; h--) {
      unsigned tries = HOLE_TRIES;
      for (f = L[h]; f && tries--; f = AT(f)[0]) {
        if (free_to(f + skip, f + skip + size)) {
          f = skip ? f + skip : run_start(f);
          absorb(f, f + size);
          goto found;
        }
      }
      if (skip) /* above 32 KiB only a top-level frame can start one */
        break;
    }
    if (k < CLASSES)
      break;
    if (!take_anchor(0, 0, MIN_FRAME, mid ? ZEE_MAP_MID : ZEE_MAP_SMALL))
      return 0; /* a fresh page: every frame free */
  }
  f = L[k];
  ASSERT(has_meta(f, (MIN_FRAME << k) | ZEE_TAG_FREE), f);
  unlink_frame(f, MIN_FRAME << k);
  release_range(f + span, f + (MIN_FRAME << k)); /* the halves above, and what it leaves */
found:
  if (exact)
    H.cursor = f + size; /* where the next exact block goes first */
  set_meta(f, size | ZEE_TAG_SMALL);
  AT(f & ~OFFSET_MASK)[PAGE_WORD]++;
  return f;
}

/* A large block of m bytes (m % align == 0, or m % 64K == 0 if align > 64K):
 * m % 64K bytes in the top of a fresh anchor page, then whole pages. */
static addr alloc_large(uint32_t m, uint32_t align) {
  uint32_t r = m & OFFSET_MASK, j = m >> PAGE_LOG2;
  addr a = take_anchor(r, j, align, ZEE_MAP_MID);
  if (!a)
    return 0;
  addr p = a + PAGE_SIZE - r;
  set_meta(p, m | ZEE_TAG_LARGE);
  AT(a)[PAGE_WORD]++;
  AT(a)[PAGE_LARGE] |= p;
  H.large_pages += j;
  return p;
}

/* Gives a small block's frames back (the block or a slab); a page left
 * empty becomes the spare. */
static void release_small(addr p, uint32_t size) {
  addr page = p & ~OFFSET_MASK;
  uint32_t span = extent(size);
  ASSERT(AT(page)[PAGE_WORD] & ZEE_COUNT_MASK, page);
  release_range(p, p + span);
  if (!(--AT(page)[PAGE_WORD] & ZEE_COUNT_MASK))
    page_emptied(page);
}

/* ---- Slabs -------------------------------------------------------------------
 *
 * A small block whose size m is not a power of two, up to SLAB_MAX, is a
 * slot in a slab: a frame of 2^k >= 4m bytes (and >= 512), aligned to it,
 * that holds slots of m bytes only, so that the power-of-two frame's slack
 * is not paid per block.  SQLite's 1,032-byte page buffers take 1,040 B,
 * not 2 KiB.
 *
 *   b - 8   b                  b+24   b+32          b+32+m
 *   +-------+------------------+------+--------------+------+------- ... ---+
 *   | slab  | next prev used   | hdr  | slot 0 ...   | hdr  | slot 1 ...    |
 *   | header| free             |      | (m - 8 B)    |      |               |
 *   +-------+------------------+------+--------------+------+------- ... ---+
 *
 *   slab header: info = 2^k | ZEE_TAG_SLAB; its page counts it as one block
 *   words: next, prev  the slabs of size m with a free slot (H.slabs[m/16])
 *          used        slots in use (a slab with none is freed at once)
 *          free        its first free slot; a free slot's word 0 is the next
 *   slots:  (2^k - 32) / m of them, headers m | ZEE_TAG_SLOT (in use) or
 *           m | ZEE_TAG_SLOT_FREE; a slot's slab is its address & -2^k
 */
#define SLAB_MAX ZEE_SLAB_MAX
#define SLAB_USED 2
#define SLAB_FREE 3
#define SLAB_META ZEE_SLAB_META
_Static_assert(SLAB_META == 16 + 8 && ZEE_SLAB_SLOTS * SLAB_MAX <= MAX_FRAME, "slab words");
_Static_assert((ZEE_TAG_SLOT & ZEE_TAG_SLOT_FREE & 8) && (ZEE_TAG_SLOT & 3) == 3 &&
                   (ZEE_TAG_SLOT ^ 1) == ZEE_TAG_SLOT_FREE && (ZEE_TAG_SLAB & 11) == 8,
               "bit 3: slabs and slots; bit 0: in use; bit 1: the tail slot");

/* Why a separate path: a power-of-two size already fills its frame. */
INLINE static int slab_sized(uint32_t m) { return m <= SLAB_MAX && (m & (m - 1)); }

/* The slab frame for slots of m bytes: the power of two >= 4m, at least
 * 512 B.  Measured (npm run bench:trace, a replica of small-random): 8m
 * leaves each size's last slab emptier (small-random 1.97x its peak live
 * bytes, not 1.81x) and packs SQLite no better; with no 512 B floor, Lua's
 * 48 B slots go four to 256 B, no better than 64 B frames. */
static uint32_t slab_size(uint32_t m) {
  uint32_t size = 1u << (32 - __builtin_clz(m * ZEE_SLAB_SLOTS - 1));
  return size < ZEE_SLAB_MIN ? ZEE_SLAB_MIN : size;
}

/* Puts free slot s first on slab b's free slots (its header says free). */
static void put_slot(addr b, addr s) {
  AT(s)[0] = AT(b)[SLAB_FREE];
  AT(b)[SLAB_FREE] = s;
}

/* A slot of m bytes: from the first slab with a free one, or a new slab. */
static addr alloc_slot(uint32_t m) {
  addr *head = &H.slabs[m / MIN_FRAME], b = *head, s;
  if (!b) {
    uint32_t size = slab_size(m);
    if (!(b = alloc_small(size, size)))
      return 0;
    set_meta(b, size | ZEE_TAG_SLAB);
    AT(b)[SLAB_USED] = AT(b)[SLAB_FREE] = 0;
    for (s = b + SLAB_META + META_SIZE + (size - SLAB_META - META_SIZE) / m * m; (s -= m) > b;) {
      set_meta(s, m | ZEE_TAG_SLOT_FREE);
      put_slot(b, s);
    }
    list_push(head, b);
  }
  s = AT(b)[SLAB_FREE];
  AT(b)[SLAB_FREE] = AT(s)[0];
  AT(b)[SLAB_USED]++;
  if (!AT(s)[0])
    list_remove(head, b); /* full */
  set_meta(s, m | ZEE_TAG_SLOT);
  return s;
}

/* Puts slot s back in its slab; frees the slab when it is empty. */
static void release_slot(addr s, uint32_t m) {
  uint32_t size = slab_size(m);
  addr *head = &H.slabs[m / MIN_FRAME], b = s & -size;
  ASSERT(has_meta(b, size | ZEE_TAG_SLAB) && AT(b)[SLAB_USED], s);
  if (!AT(b)[SLAB_FREE])
    list_push(head, b); /* it was full */
  put_slot(b, s);       /* release() marked it free */
  if (!--AT(b)[SLAB_USED]) {
    list_remove(head, b);
    release_small(b, size);
  }
}

/* Frees a block: its frames merge back, its whole pages become free pages.
 * An anchor left empty goes too, so that the run can serve the next large
 * block whole. */
static void release(addr p, uint32_t info) {
  uint32_t size = info & ~TAG_MASK;
  addr page = (p - META_SIZE) & ~OFFSET_MASK;
  account(info, -1);
  set_meta(p, info ^ 1); /* tag 6, 4 or 14: a second free() is a double free */
  if (info & 8) {
    release_slot(p, size);
  } else if (info & 2) {
    if (size > ROUND_MAX)
      H.cursor = p; /* the next exact block tries this hole (a slab never does) */
    release_small(p, size);
  } else {
    uint32_t j = size >> PAGE_LOG2, only = AT(page)[PAGE_LARGE] & ANCHOR_ONLY;
    uint32_t left = --AT(page)[PAGE_WORD] & ZEE_COUNT_MASK;
    AT(page)[PAGE_LARGE] = 0;
    H.large_pages -= j;
    free_pages(page + PAGE_SIZE, j);
    if (only) { /* (so left == 0) the anchor goes with its pages */
      H.small_pages--;
      free_pages(page, 1);
      return;
    }
    release_range(p, page + PAGE_SIZE);
    if (!left)
      drop_page(page);
  }
}

/* Resizes a small block in place: shrinks by freeing the tail, grows over
 * the free frames right after it.  Returns 0 if it can't. */
INLINE static int resize_small(addr p, uint32_t size, uint32_t want) {
  addr end = p + extent(want), old = p + extent(size);
  if (end <= old)
    release_range(end, old);
  else if (!absorb(old, end))
    return 0; /* fails at the page end, see alloc_small */
  set_meta(p, want | ZEE_TAG_SMALL);
  return 1;
}

/* Resizes a large block in place to end on the page boundary at or above
 * p + n (n <= MAX_HEAP - p): shrinks by freeing whole pages, grows over the
 * free pages after it or over new memory at the heap's top.  Returns 0 if
 * it can't. */
static int resize_large(addr p, uint32_t size, uint32_t n) {
  addr end = p + size, end2 = (p + n + OFFSET_MASK) & ~OFFSET_MASK;
  int32_t pages = (int32_t)(end2 - end) >> PAGE_LOG2;
  for (addr x = end; x < end2; x += PAGE_SIZE)
    if (MAP(x) != ZEE_MAP_FREE &&
        (x != H.heap_end || source_size() != x || !grow((end2 - x) >> PAGE_LOG2)))
      return 0;
  if (pages < 0) {
    free_pages(end2, -pages);
  } else {
    mark(end, pages, ZEE_MAP_LARGE);
    H.free_pages -= pages;
  }
  H.large_pages += pages;
  set_meta(p, (end2 - p) | ZEE_TAG_LARGE);
  return 1;
}

/* ---- Checked entry ---------------------------------------------------------- */

/* The info word of the live block at p, after the checks of the validation level. */
static uint32_t block_info(addr p) {
#if ZEE_VALIDATION >= 1
  if ((p & (MIN_FRAME - 1)) || p < H.heap_start + MIN_FRAME || p >= H.heap_end)
    fault(ZEE_E_POINTER, p);
#endif
  uint32_t info = AT(p - META_SIZE)[0];
#if ZEE_VALIDATION >= 1
  /* In use is tag 5, 7 or 15; a sound header with tag 4, 6 or 14 is a freed block. */
  uint32_t bad = AT(p - META_SIZE)[1] ^ info ^ p ^ ZEE_SALT;
  if (bad || (info & 5) != 5)
    fault(bad || !(info & 4) || (info & 10) == 8 ? ZEE_E_HEADER : ZEE_E_DOUBLE_FREE, p);
#endif
#if ZEE_VALIDATION >= 2
  uint32_t size = info & ~TAG_MASK;
  addr page = (p - META_SIZE) & ~OFFSET_MASK;
  ASSERT(SMALL_PAGE(page), p);
  if (info & 2)
    ASSERT(size >= MIN_FRAME && p + size <= page + PAGE_SIZE && (p & OFFSET_MASK), p);
  else
    ASSERT((AT(page)[PAGE_LARGE] & ~ANCHOR_ONLY) == p && size >= MAX_FRAME &&
               p + size == page + PAGE_SIZE + (size & ~OFFSET_MASK),
           p);
#endif
  return info;
}

static void *out_of_memory(void) {
  errno = ENOMEM;
  return 0;
}

/* Serves n bytes aligned to `align` (a power of two, at least 16). */
static void *allocate(size_t n, size_t align) {
  addr p;
  if (n <= (align > MIN_FRAME ? MAX_FRAME - META_SIZE : MAX_SMALL) && align <= MAX_FRAME) {
    uint32_t m = ((uint32_t)n + META_SIZE + MIN_FRAME - 1) & ~(MIN_FRAME - 1);
    p = align == MIN_FRAME && slab_sized(m) ? alloc_slot(m) : alloc_small(m, align);
  } else {
    /* r must keep the payload aligned: a multiple of align, or 0 past 32 KiB
     * (g <= 64 KiB, so the sum can't wrap) */
    uint32_t g = align > MAX_FRAME ? PAGE_SIZE : align;
    p = n > MAX_HEAP || align > MAX_HEAP / 2
            ? 0
            : alloc_large(((uint32_t)n + g - 1 + !n) & ~(g - 1), align);
  }
  if (!p)
    return out_of_memory();
  account(AT(p - META_SIZE)[0], 1);
  return to_ptr(p);
}

/* ---- Public API -------------------------------------------------------------- */

void *zee_malloc(size_t n) {
  lock();
  void *p = allocate(n, MIN_FRAME);
  unlock();
  return p;
}

void zee_free(void *ptr) {
  if (!ptr)
    return;
  lock();
  addr p = to_addr(ptr);
  release(p, block_info(p));
  unlock();
}

void *zee_calloc(size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n))
    return out_of_memory();
  void *p = zee_malloc(n);
  if (p)
    memset(p, 0, n);
  return p;
}

size_t zee_usable_size(void *ptr) {
  if (!ptr)
    return 0;
  lock();
  uint32_t info = block_info(to_addr(ptr));
  unlock();
  return usable(info);
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
  if (!ptr)
    return zee_malloc(n);
  if (!n) {
    zee_free(ptr);
    return 0;
  }
  lock();
  addr p = to_addr(ptr);
  uint32_t info = block_info(p), size = info & ~TAG_MASK, old = usable(info);
  int done = 0;
  if (n <= MAX_SMALL) {
    uint32_t want = ((uint32_t)n + META_SIZE + MIN_FRAME - 1) & ~(MIN_FRAME - 1);
    /* A slot keeps its size; a block resized to a slot size moves to a
     * slot, as Lua's reallocs do (1.24x -> 1.23x dlmalloc's heap): in place,
     * it would keep a power-of-two extent. */
    if (info & 8)
      done = want == size;
    else if (info & 2 && !slab_sized(want))
      done = resize_small(p, size, want);
  } else if (!(info & 2) && n <= MAX_HEAP - p) {
    done = resize_large(p, size, n);
  }
  void *q = ptr;
  if (done) {
    account(info, -1); /* the old size goes, the new one comes */
    account(AT(p - META_SIZE)[0], 1);
  } else {
    /* Move: the old block stays intact if the new one can't be had. */
    q = allocate(n, MIN_FRAME);
    if (q) {
      memcpy(q, ptr, n < old ? n : old);
      release(p, info);
    }
  }
  unlock();
  return q;
}

void zee_trim(void) {
  lock();
  if (H.spare && !(AT(H.spare)[PAGE_WORD] & ZEE_COUNT_MASK))
    drop_page(H.spare);
  H.spare = 0;
  unlock();
}

const zee_heap_info_t *zee_heap_info(void) { return &H; }

/* ---- Whole-heap walk: zee_check() ------------------------------------------------ */

typedef struct walk_totals {
  uint32_t used_bytes, used_blocks, small_pages, large_pages, free_pages, free_frames, open_slabs;
} walk_totals;

/* Is f a sound header of tag `tag` (the size is checked by the caller)? */
static int sound(addr f, unsigned tag) {
  uint32_t info = AT(f - META_SIZE)[0];
  return (info & TAG_MASK) == tag && has_meta(f, info);
}

/* Checks the slab at b of `size` bytes: its slots, their count and its free
 * list; counts its slots in use as blocks.  0 or a ZEE_C_* code. */
static int walk_slab(addr b, uint32_t size, walk_totals *t) {
  uint32_t m = AT(b + SLAB_META)[0] & ~TAG_MASK, used = 0, n = 0;
  if (size > MAX_FRAME || (b & (size - 1)) || !slab_sized(m) || slab_size(m) != size)
    return ZEE_C_SLAB;
  for (addr s = b + SLAB_META + META_SIZE; s + m <= b + size; s += m, n++) {
    uint32_t info = AT(s - META_SIZE)[0];
    if ((info ^ m) != ZEE_TAG_SLOT_FREE && (info ^ m) != ZEE_TAG_SLOT)
      return ZEE_C_SLAB;
    if (!has_meta(s, info))
      return ZEE_C_SLAB;
    used += (info ^ m) == ZEE_TAG_SLOT;
  }
  if (!used || AT(b)[SLAB_USED] != used)
    return ZEE_C_SLAB;
  uint32_t free = 0; /* the free list holds exactly the free slots */
  for (addr s = AT(b)[SLAB_FREE]; s; s = AT(s)[0])
    if (++free > n - used || (s & -size) != b || s < b + SLAB_META + META_SIZE ||
        (s - b - SLAB_META - META_SIZE) % m || !sound(s, ZEE_TAG_SLOT_FREE))
      return ZEE_C_SLAB;
  if (free != n - used)
    return ZEE_C_SLAB;
  t->open_slabs += free > 0;
  t->used_blocks += used;
  t->used_bytes += used * (m - META_SIZE);
  return 0;
}

/* Walks the blocks of small page p and its large block; 0 or a ZEE_C_* code. */
static int walk_page(addr p, walk_totals *t) {
  addr large = AT(p)[PAGE_LARGE] & ~ANCHOR_ONLY, limit = p + PAGE_SIZE, f = p + MIN_FRAME;
  uint32_t count = 0, slabs = 0;
  if ((AT(p)[PAGE_WORD] & ~ZEE_COUNT_MASK) != ZEE_PAGE_TAG)
    return ZEE_C_PAGE;
  if (large & OFFSET_MASK)
    limit = large;
  if (AT(p)[PAGE_LARGE] & ANCHOR_ONLY) {
    if (!large)
      return ZEE_C_PAGE;
    f = limit; /* [P + 16, large - 8) is unused */
  }
  if (large && (large < p + MIN_FRAME || large > p + PAGE_SIZE || (large & 15)))
    return ZEE_C_PAGE;
  while (f < limit) {
    uint32_t info = AT(f - META_SIZE)[0], size = info & ~TAG_MASK;
    if (!size || !has_meta(f, info))
      return ZEE_C_FRAME;
    if ((info & TAG_MASK) == ZEE_TAG_SMALL) {
      count++;
      t->used_bytes += size - META_SIZE;
      size = extent(size);
    } else if ((info & TAG_MASK) == ZEE_TAG_FREE) {
      if ((size & (size - 1)) || size > MAX_FRAME || (f & (size - 1)))
        return ZEE_C_FRAME;
      addr b = f ^ size;
      if ((b & OFFSET_MASK) && b > f && b < limit && sound(b, ZEE_TAG_FREE) &&
          (AT(b - META_SIZE)[0] & ~TAG_MASK) == size)
        return ZEE_C_BUDDY;
      t->free_frames++;
    } else if ((info & TAG_MASK) == ZEE_TAG_SLAB) {
      int r = walk_slab(f, size, t);
      if (r)
        return r;
      count++, slabs++;
    } else {
      return ZEE_C_FRAME;
    }
    if (size > limit - f)
      return ZEE_C_FRAME;
    f += size;
  }
  if (large) {
    uint32_t info = AT(large - META_SIZE)[0], size = info & ~TAG_MASK, j = size >> PAGE_LOG2;
    if (!sound(large, ZEE_TAG_LARGE) || size < MAX_FRAME ||
        large + size != p + PAGE_SIZE + (j << PAGE_LOG2) || j > (H.heap_end - p) >> PAGE_LOG2)
      return ZEE_C_LARGE;
    for (uint32_t i = 1; i <= j; i++)
      if (MAP(p + (i << PAGE_LOG2)) != ZEE_MAP_LARGE)
        return ZEE_C_LARGE;
    count++;
    t->used_bytes += size;
    t->large_pages += j;
  }
  if ((AT(p)[PAGE_WORD] & ZEE_COUNT_MASK) != count || (!count && p != H.spare))
    return ZEE_C_COUNT;
  t->used_blocks += count - slabs;
  t->small_pages++;
  return 0;
}

/* Checks every rule of the layout and the running totals. */
static int walk(void) {
  walk_totals t = {0};
  if (!H.heap_start)
    return 0;
  if ((H.first_free & OFFSET_MASK) || MAP(H.heap_start - PAGE_SIZE))
    return ZEE_C_STATE;
  if (H.spare && !SMALL_PAGE(H.spare))
    return ZEE_C_PAGE;
  for (addr p = H.heap_start; p < H.heap_end;) {
    unsigned kind = MAP(p);
    if (kind == ZEE_MAP_FREE) {
      if (p < H.first_free)
        return ZEE_C_SPAN;
      t.free_pages++;
      p += PAGE_SIZE;
    } else if (kind == ZEE_MAP_SMALL || kind == ZEE_MAP_MID) {
      int r = walk_page(p, &t);
      if (r)
        return r;
      addr large = AT(p)[PAGE_LARGE] & ~ANCHOR_ONLY;
      p += PAGE_SIZE + (large ? (AT(large - META_SIZE)[0] & ~OFFSET_MASK) : 0);
    } else if (kind == ZEE_MAP_NONE) {
      p += PAGE_SIZE; /* foreign: someone else grew it */
    } else {
      return ZEE_C_PAGE; /* a large block's page where no large block reaches */
    }
  }
  /* The free lists hold exactly the free frames walked: a small page's on
   * lists, a mid page's on mid_lists. */
  uint32_t n = 0;
  for (unsigned c = 0; c < 2 * CLASSES; c++) {
    uint32_t size = MIN_FRAME << (c % CLASSES);
    unsigned kind = c < CLASSES ? ZEE_MAP_SMALL : ZEE_MAP_MID;
    for (addr f = c < CLASSES ? H.lists[c] : H.mid_lists[c - CLASSES], prev = 0; f;
         prev = f, f = AT(f)[0])
      if (++n > t.free_frames || f < H.heap_start || f >= H.heap_end || (f & (size - 1)) ||
          !(f & OFFSET_MASK) || MAP(f) != kind || AT(f)[1] != prev ||
          !has_meta(f, size | ZEE_TAG_FREE))
        return ZEE_C_LIST;
  }
  if (n != t.free_frames)
    return ZEE_C_LIST_COUNT;
  /* The slab lists hold exactly the slabs with a free slot. */
  n = 0;
  for (unsigned i = 0; i < ZEE_SLAB_LISTS; i++)
    for (addr b = H.slabs[i], prev = 0; b; prev = b, b = AT(b)[0])
      if (++n > t.open_slabs || b < H.heap_start || b >= H.heap_end || (b & 15) || !SMALL_PAGE(b) ||
          AT(b)[1] != prev || !AT(b)[SLAB_FREE] || !slab_sized(i * MIN_FRAME) ||
          !has_meta(b, slab_size(i * MIN_FRAME) | ZEE_TAG_SLAB) ||
          (AT(b + SLAB_META)[0] & ~TAG_MASK) != i * MIN_FRAME)
        return ZEE_C_SLAB;
  if (n != t.open_slabs)
    return ZEE_C_SLAB;
  if (t.used_bytes != H.used_bytes || t.used_blocks != H.used_blocks ||
      t.small_pages != H.small_pages || t.large_pages != H.large_pages ||
      t.free_pages != H.free_pages || H.peak_bytes < H.used_bytes)
    return ZEE_C_TOTALS;
  return 0;
}

int zee_check(void) {
  lock();
  int r = walk();
  unlock();
  return r;
}

#if defined(__EMSCRIPTEN__) && !ZEE_BUILTIN_ONLY
#include <malloc.h>

/* From the running totals, in O(1).  dlmalloc's meanings: arena = bytes the
 * heap owns, uordblks = bytes in use (usable sizes), fordblks = the rest
 * (free frames and pages, headers, page words), keepcost = bytes in free
 * pages; ordblks and the other counts are not tracked (0). */
struct mallinfo mallinfo(void) {
  struct mallinfo mi = {0};
  lock();
  mi.arena = (int)((H.small_pages + H.large_pages + H.free_pages) << PAGE_LOG2);
  mi.uordblks = (int)H.used_bytes;
  mi.fordblks = mi.arena - mi.uordblks;
  mi.keepcost = (int)(H.free_pages << PAGE_LOG2);
  mi.usmblks = (int)H.peak_bytes;
  unlock();
  return mi;
}
#endif

/* ---- The names Emscripten links against under -sMALLOC=none -------------------- */
#ifdef __EMSCRIPTEN__
#define ZEE_ALIAS(name, target) __typeof(target) name __attribute__((alias(#target)))

int zee_posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *) || (align & (align - 1)))
    return EINVAL;
  void *p = zee_memalign(align, n);
  if (!p)
    return ENOMEM;
  *out = p;
  return 0;
}

ZEE_ALIAS(emscripten_builtin_malloc, zee_malloc);
ZEE_ALIAS(emscripten_builtin_free, zee_free);
ZEE_ALIAS(emscripten_builtin_memalign, zee_memalign);
ZEE_ALIAS(emscripten_builtin_calloc, zee_calloc); /* used by emsdk since late 2024 */

/* musl's own allocations (atexit, gettext); ASan's runtime lacks these too. */
ZEE_ALIAS(__libc_malloc, zee_malloc);
ZEE_ALIAS(__libc_free, zee_free);
ZEE_ALIAS(__libc_calloc, zee_calloc);
ZEE_ALIAS(__libc_realloc, zee_realloc);

#if !ZEE_BUILTIN_ONLY
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
