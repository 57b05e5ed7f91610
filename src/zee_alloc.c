/*
 * zee_alloc: a tiny buddy allocator for WebAssembly, with exact-size blocks.
 *
 * Assumptions
 *   - wasm32 memory: pages of 64 KiB, addresses below 4 GiB.  Memory above
 *     __heap_base belongs to the allocator from the first allocation on;
 *     more is obtained with emscripten_resize_heap(), and memory someone
 *     else grew in between is stepped over, so the heap may have holes.
 *   - Host builds (sanitizers, fuzzing) supply the page source functions
 *     declared under "Memory source"; all internal addresses are 32-bit
 *     offsets from zee_native_base, so the encoding is the same as in wasm.
 *   - Single-threaded unless ZEE_THREADS=1.
 *
 * Invariants
 *   - The heap is one buddy space: [H.heap_start, H.heap_end) is tiled by
 *     blocks in use, free frames, slabs and foreign blocks, one after the
 *     other.  Each has its 8-byte header right before its first byte, so
 *     free(p) reads p - 8 and nothing else, and the heap can be walked.
 *   - A request of n bytes is a block of m = roundup(n + 8, 16) bytes; its
 *     last 8 bytes hold the header of what follows.  Up to ROUND_MAX it
 *     occupies the power-of-two frame that holds it; up to SLAB_MAX, if m
 *     is not a power of two, it is a slot of exactly m bytes in a slab; else
 *     it occupies exactly m bytes.  So n <= malloc_usable_size(malloc(n)) <=
 *     n + 15.
 *   - A free frame is a power of two, 16 B to 2 GiB, aligned to its size
 *     (as an address), on the free list of its size; two free buddies never
 *     coexist.  A free frame below 64 KiB is on the lists of its page's pool
 *     (the pool map: small or mid), a larger one on the common lists.
 *   - A valid free header (tag and check word) at b - 8 means that a free
 *     frame starts at b.  Merging and carving turn the headers they bury
 *     into ZEE_TAG_MERGED, so a stale one never survives inside a block;
 *     only user data that forges the address-bound check word could fake
 *     one.  The word at H.heap_end - 8 is 0: no header.
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
 * full C API) against the default build, which adds 2,605 B to a module
 * (malloc and free alone: 2,164 B); `npm run bench` measures them. */

/* ZEE_VALIDATION: 0 = unsafe (trust every pointer: a bad one is undefined
 *     behaviour; -112 B), 1 = external (check the argument of free, realloc
 *     and malloc_usable_size: alignment, heap bounds, header tag and check
 *     word, double free; the default), 2 = dev (also internal asserts:
 *     +88 B). */
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
#define META_SIZE ZEE_META_SIZE
#define CLASSES ZEE_CLASSES
#define POOL_CLASSES ZEE_POOL_CLASSES
#define MAX_PAGES 65535u                  /* pages below 4 GiB, less one */
#define MAX_HEAP (MAX_PAGES << PAGE_LOG2) /* so that sizes fit in 32 bits */
#define TAG_MASK ZEE_TAG_MASK

_Static_assert(PAGE_SIZE == 1u << PAGE_LOG2, "PAGE_SIZE / PAGE_LOG2");
_Static_assert(MIN_FRAME == 1u << MIN_LOG2, "MIN_FRAME / MIN_LOG2");
_Static_assert(MIN_FRAME == 2 * META_SIZE, "a free 16 B frame holds two links");
_Static_assert(CLASSES == 32 - 1 - MIN_LOG2 + 1, "CLASSES: frames 16 B .. 2 GiB");
_Static_assert(POOL_CLASSES == PAGE_LOG2 - MIN_LOG2, "POOL_CLASSES: frames below a page");
_Static_assert(ZEE_GRANULE == MIN_FRAME, "blocks are made of frames");
_Static_assert((ZEE_TAG_USED & ZEE_TAG_SLOT & 7) == 7 && (ZEE_TAG_FREE & 7) == 6 &&
                   (ZEE_TAG_SLOT_FREE & 7) == 6 && (ZEE_TAG_MERGED & 7) == 4 &&
                   (ZEE_TAG_SLAB & 7) == 4 && !(ZEE_TAG_FOREIGN & 4),
               "tag & 7: 7 in use, 6 free, 4 or less never a user block");

typedef uint32_t addr; /* an offset into the heap's memory; 0 = none */

/* For a few helpers with one or two callers, which -Oz keeps out of line:
 * inlined they take fewer bytes (measured with npm run bench:functions). */
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

/* The pool of the block being placed (set by alloc() and resize()). */
static int pool_now;

/* The pool map: a bit per page (ZEE_POOL_*), page i at bit i % 32 of word
 * i / 32.  Why bits: a byte per page took 64 KiB of static data, which the
 * heap pays for (small-random 1.31x -> 1.27x dlmalloc's memory; +34 B). */
static uint32_t pool_map[(MAX_PAGES + 1) / 32];

/* The pool of a's page. */
static int pool_of(addr a) { return pool_map[a >> (PAGE_LOG2 + 5)] >> (a >> PAGE_LOG2 & 31) & 1; }

/* Gives a's page the pool of the block being placed.  Why rotates: the
 * page's bit at bit 0 is set with no mask (fewer bytes). */
static void set_pool(addr a) {
  uint32_t *w = &pool_map[a >> (PAGE_LOG2 + 5)];
  unsigned i = a >> PAGE_LOG2 & 31;
  *w = __builtin_rotateleft32((__builtin_rotateright32(*w, i) & ~1u) | pool_now, i);
}

/* ---- The layout -------------------------------------------------------------
 *
 * The heap is one buddy space, from heap_start (16 B above __heap_base,
 * rounded to 16) to heap_end (the end of the wasm memory it owns):
 *
 *   heap_start - 16   heap_start                                   heap_end
 *   +--------+--------+------------ ... -------------+-----------+--+
 *   | unused | header | blocks, free frames, slabs ...            |0 |
 *   +--------+--------+------------ ... -------------+-----------+--+
 *                                                    (the last 8 bytes:
 *                                                     no header here)
 *
 * Every block [b, e) has its header at b - 8, in the last 8 bytes of the
 * block before it:
 *
 *            b - 8          b                          e - 8         e
 *   ... -----+------+------+--------- payload ---------+-------------+-----
 *            | info | check|                            | next header |
 *   ... -----+------+------+----------------------------+-------------+-----
 *
 *   info  = size | tag   (tag 7: a block in use, usable size - 8;
 *                         6: a free frame; 4: a header buried inside a
 *                         merged free frame; 9: a foreign block)
 *   check = info ^ b ^ ZEE_SALT
 *
 * A block of m bytes above ROUND_MAX is served from the bottom of the
 * smallest free frame of 2^k >= m; the rest goes back as the frames that
 * tile it, like Linux's alloc_pages_exact().  m = 4320 in an 8 KiB frame:
 *
 *   f                   f+4320 +4352    +4608     +5120       +6144      f+8K
 *   +---------------------+----+--------+---------+-----------+------------+
 *   |    block, 4320 B    | 32 |  256   |   512   |   1024    |    2048    |
 *   +---------------------+----+--------+---------+-----------+------------+
 *                          free frames, each aligned to its size
 *
 * Freeing gives [b, b + m) back as the aligned frames that tile it, each
 * merged with its free buddies.  Before a frame is split, a hole is tried:
 * a run of free frames that freed blocks left, found through one of its
 * frames and taken from the run's start.
 *
 * A free frame's first 8 bytes are its free-list links: next, prev.
 *
 * Memory someone else grew between the heap's end and new memory is a
 * foreign block: its header sits in the old end's last 8 bytes, and it
 * covers the foreign memory and the first 16 bytes of the new memory, so
 * that the next header is ours:
 *
 *   old end - 8   old end              new memory      +16
 *   ----+------+--+------- foreign ------+--------------+------ frames ...
 *       |hd: 9 |  |  (not ours)          | 16 B of ours |hd|
 *   ----+------+--+----------------------+--------------+------
 */

/* ---- Headers -------------------------------------------------------------- */

/* Writes the 8 bytes before a payload; the check word ties them to it. */
static void set_meta(addr p, uint32_t info) {
  AT(p - META_SIZE)[0] = info;
  AT(p - META_SIZE)[1] = info ^ p ^ ZEE_SALT;
}

/* Why both words: the slot may be user data, which the check word rules out.
 * (One test of both: fewer bytes than two.) */
static int has_meta(addr p, uint32_t info) {
  return !((AT(p - META_SIZE)[0] ^ info) | (AT(p - META_SIZE)[1] ^ info ^ p ^ ZEE_SALT));
}

/* Blocks of up to ROUND_MAX bytes occupy the power-of-two frame that
 * holds them: a malloc/free of them is one frame off a list and back.
 * Measured (page layout): exact blocks from 1,040 B up (a replica of
 * small-random) need 6.1x the peak live bytes, not 1.8x: the small frames
 * they give back are taken by small blocks and pin the frames around them. */
#define ROUND_MAX ZEE_ROUND_MAX

/* The bytes a block of `size` occupies from its payload on. */
static uint32_t extent(uint32_t size) {
  return size > ROUND_MAX ? size : 1u << (32 - __builtin_clz(size - 1));
}

/* What malloc_usable_size reports for a header: the size less the tail slot. */
INLINE static uint32_t usable(uint32_t info) { return (info & ~TAG_MASK) - META_SIZE; }

/* Keeps the running totals of zee_heap_info_t in step with every call:
 * `bytes` of usable size and `blocks` come (> 0) or go (< 0).  Why not a
 * header and a sign: realloc's in-place resize is then one call. */
static void account(int32_t bytes, int32_t blocks) {
  H.used_bytes += bytes;
  H.used_blocks += blocks;
  if (H.used_bytes > H.peak_bytes)
    H.peak_bytes = H.used_bytes;
}

/* ---- Free frames ------------------------------------------------------------ */

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

/* Why two pools: blocks above POOL_MIN (slabs excepted) split frames of
 * mid pages only, and the rest frames of small pages, so small blocks,
 * which end up scattered, never pin the runs that exact blocks need.
 * Measured: small-random with a 1 % tail up to 8 KiB needs 6.4x
 * dlmalloc's memory with one pool.  Frames of 64 KiB and more cover whole
 * pages and belong to no pool. */
_Static_assert(offsetof(zee_heap_info_t, mid_lists) ==
                   offsetof(zee_heap_info_t, lists) + CLASSES * sizeof(uint32_t),
               "mid_lists follow lists: one index from the state word reaches both");
/* The free list of frames of 2^k bytes; mid is 0 or 1 (a pool bit, or a
 * block's size against POOL_MIN).  Why k, not the class: callers have it. */
static addr *list_at(unsigned k, int mid) {
  return (addr *)&H + offsetof(zee_heap_info_t, lists) / 4 + k - MIN_LOG2 +
         ((k < PAGE_LOG2) & mid) * CLASSES;
}

/* The free list of frame f of `size` bytes. */
static addr *list_of(addr f, uint32_t size) { return list_at(__builtin_ctz(size), pool_of(f)); }

/* Frees frame f, merging it with its free buddies inside the heap. */
INLINE static void free_frame(addr f, uint32_t size) {
  for (addr b; (b = f ^ size) - H.heap_start < H.heap_end - H.heap_start &&
               has_meta(b, size | ZEE_TAG_FREE);
       size <<= 1) {
    list_remove(list_of(b, size), b);
    set_meta(f | size, size | ZEE_TAG_MERGED); /* the upper half's header is buried */
    f &= b;                                    /* the lower of the two: f & ~size */
  }
  set_meta(f, size | ZEE_TAG_FREE);
  list_push(list_of(f, size), f);
}

/* Frees [x, y) as the aligned frames that tile it: each the largest that
 * x's alignment and the rest allow, found in O(1). */
static void release_range(addr x, addr y) {
  while (x < y) {
    unsigned k = __builtin_ctz(x), fit = 31 - __builtin_clz(y - x); /* log2s (x > 0) */
    uint32_t size = 1u << (k < fit ? k : fit);
    free_frame(x, size);
    x += size;
  }
}

/* Why: a block takes free frames of its own pool only (and frames of 64 KiB
 * or more, which belong to none), in holes too: SQLite needs 1.06x
 * dlmalloc's heap, not 1.10x, and mixed-large 1.18x its peak live bytes,
 * not 1.29x (trace replay, native replica).  Nonzero if so (no branch:
 * fewer bytes). */
static int in_pool(addr f, uint32_t size) { return size >> PAGE_LOG2 | (pool_of(f) == pool_now); }

/* Where the free frames from x on (of the block's pool) reach past end, or 0
 * if anything else comes first: a hole that doesn't fit costs only reads. */
static addr free_to(addr x, addr end) {
  while (x < end) {
    uint32_t info = AT(x - META_SIZE)[0];
    if (info < MIN_FRAME || (info & TAG_MASK) != ZEE_TAG_FREE || !has_meta(x, info) ||
        !in_pool(x, info))
      return 0;
    x += info & ~TAG_MASK;
  }
  return x;
}

/* Takes [x, end) if the blocks from s on (s <= x, s a free frame) are free
 * frames up to end: [s, x) and what the last one holds beyond end go back;
 * else returns 0 and changes nothing.  Serves every block but the popped
 * ones, holes, growth at the top and realloc's resizing in place (with
 * end <= s = x it frees [end, s): a shrink needs no other call).  Pieces
 * cut from a frame of 64 KiB or more start a page of the block's pool. */
static int absorb(addr s, addr x, addr end) {
  addr y = free_to(s, end);
  uint32_t size = 0;
  if (!y)
    return 0;
  for (addr z = s; z < y; z += size) {
    size = AT(z - META_SIZE)[0] & ~TAG_MASK;
    list_remove(list_of(z, size), z);
    set_meta(z, size | ZEE_TAG_MERGED);
  }
  if (size >= PAGE_SIZE && end < y) /* end's page lies inside that frame */
    set_pool(end);
  release_range(s, x);
  release_range(end, y);
  return 1;
}

/* Why: a hole found through a free frame's list entry starts where the free
 * run holding that frame starts, so that exact blocks pack against the
 * block below instead of leaving a gap under each (SQLite: 1.27x -> 1.19x
 * dlmalloc's heap in a trace replay).  Steps down one free frame at a time:
 * the frame ending at f is aligned to its size, so it is one of 16, 32, ...
 * up to f's own alignment. */
static addr run_start(addr f) {
  for (uint32_t t = MIN_FRAME; t <= (f & -f) && f - t >= H.heap_start; t <<= 1)
    if (has_meta(f - t, t | ZEE_TAG_FREE) && in_pool(f - t, t))
      f -= t, t = MIN_FRAME / 2; /* from the smallest again */
  return f;
}

/* ---- Growth ----------------------------------------------------------------- */

/* Makes new memory [x, end) the heap's top: free frames, the pool of the
 * block being placed for x's page (fresh: no frame of it is listed), and no
 * header at end - 8. */
static int adopt(addr x, addr end) {
  set_pool(x);
  release_range(x, end);
  AT(end - META_SIZE)[0] = 0;
  H.heap_end = end;
  return 1;
}

/* Grows the memory, now `from` bytes (source_size()), to hold `want` (a
 * byte address) and frees what is new; memory someone else grew first
 * becomes a foreign block.  One emscripten_resize_heap() call (two if the
 * floor is refused), and O(log) frames, per growth.
 * Why a floor (ZEE_GROW_MIN_PAGES): growing by exactly the pages a request
 * lacks took a call per page of SQLite's heap, as dlmalloc's sbrk does; two
 * pages at least halve the calls (SQLite 209 instead of 423, Lua 108
 * instead of 194) for at most a page never used.  Where the floor can't be
 * had, exactly what is lacking is asked for. */
INLINE static int grow(addr want, addr from) {
  addr x = H.heap_end, end = (want + OFFSET_MASK) & ~OFFSET_MASK;
  addr floor = from + ZEE_GROW_MIN_PAGES * PAGE_SIZE; /* wraps only past the largest heap */
  if (want > MAX_HEAP || !((end < floor && source_grow(floor)) || source_grow(end)))
    return 0;
  if (from != x) {
    set_meta(x, (from + MIN_FRAME - x) | ZEE_TAG_FOREIGN);
    x = from + MIN_FRAME;
  }
  return adopt(x, source_size()); /* > from: the growth succeeded */
}

/* First use: the memory above __heap_base is ours (a page is grown if there
 * is none).  16 B are left out, where the first frame's header goes. */
INLINE static int init(void) {
  addr x = ((source_base() + MIN_FRAME - 1) & ~(MIN_FRAME - 1)) + MIN_FRAME;
#ifdef __wasm__
  H.pool_map = to_addr(pool_map);
#else
  memset(pool_map, 0, sizeof pool_map); /* the native harness restarts heaps */
#endif
  if (source_size() < x + MIN_FRAME && !source_grow((x + MIN_FRAME + OFFSET_MASK) & ~OFFSET_MASK))
    return 0;
  H.heap_start = H.heap_end = x;
  return adopt(x, source_size());
}

/* Where a block of `size` bytes aligned to `align` starts at or above s,
 * or 0 if it would reach past the largest heap (no address wraps). */
static addr fit_at(addr s, uint32_t size, uint32_t align) {
  addr x = (s + align - 1) & -align;
  return x < s || size > MAX_HEAP - x ? 0 : x;
}

/* Takes `span` bytes aligned to `align` from the free run at s; 0 if they
 * aren't free (or s is 0).  Why: each way alloc() places a block ends so. */
static addr take(addr s, uint32_t span, uint32_t align) {
  addr x = fit_at(s, span, align);
  return x && absorb(s, x, x + span) ? x : 0;
}

/* ---- Blocks ----------------------------------------------------------------- */

/* Why a few tries: holes that freed blocks left behind are reused before a
 * frame is split, starting at frames of the three classes below the
 * block's own (a free run of m bytes holds one of them); the bounds keep
 * malloc O(1).  Measured (page layout): realloc-growth needs 30 % less
 * memory than with one class tried only when no frame of the block's own
 * class is free.  Above 64 KiB every free frame of 32 KiB up to the
 * block's class is tried: the Lua interpreter needs 1.20x dlmalloc's
 * heap, not 1.22x, and mixed-large 1.18x its peak live bytes, not 1.42x
 * (trace replay, native replica).  Why a hole's whole run counts, not
 * just the frames from the one found up: SQLite needs 1.048x dlmalloc's
 * heap, not 1.068x (trace replay).  Why a split below 64 KiB still takes
 * the frame's bottom: from the start of its run, same-size-4300 needed
 * 1.044x its peak live bytes, not 1.059x, but zig-batch took 6-10 % more
 * time in wasm. */
#define HOLE_TRIES 8
#define HOLE_CLASSES 3

/* A block of `size` bytes (a multiple of 16) aligned to `align`, when no
 * free frame of its size could be popped (allocate()).  Up to ROUND_MAX it
 * takes the smallest free frame that holds it, whole.  Above, it takes
 * exactly its size: first right after the last block if both lie in one
 * page (so that a run of blocks packs), then a hole, then the bottom of the
 * smallest free frame that holds it (above 64 KiB, the start of the free
 * run around it), then the top of the heap.  The caller writes the block's
 * header. */
static addr alloc(uint32_t size, uint32_t align) {
  uint32_t need = size < align ? align : size, span = extent(size);
  unsigned c = 32 - __builtin_clz(need - 1); /* log2 of the frame */
  int exact = size > ROUND_MAX && align == MIN_FRAME, big = size > PAGE_SIZE;
  int mid = size > ZEE_POOL_MIN && size != align;
  addr f;
  /* The block's pool; then, out of memory, the other pool's frames: a
   * request never fails while free frames could hold it.  Why `grown`:
   * after a growth only the top is tried again (one loop for both). */
  for (int pass = 0, grown = 0;;) {
    pool_now = mid;
    f = H.cursor;
    /* Why one page: a cursor that runs across pages walks up to the top of
     * the heap past the holes below it (realloc-growth's memory grew 2.3x
     * over 50 rounds that each free everything).  (!big: f + size can't
     * wrap past 4 GiB into the cursor's page.) */
    if (exact && !big && (f ^ (f + size)) < PAGE_SIZE && (f = take(f, span, align)))
      goto found;
    /* The classes below the block's, down (holes), then its own and up
     * (whose first frame always holds it).  A hole, or a block above
     * 64 KiB, starts where the frame's free run starts. */
    unsigned d = big ? c - PAGE_LOG2 + 1 : exact ? HOLE_CLASSES : 0;
    unsigned i = grown ? CLASSES + MIN_LOG2 : 0, h; /* grown: no class, the top only */
    for (; (h = i < d ? c - 1 - i : c + i - d) < CLASSES + MIN_LOG2; i++) {
      unsigned tries = big || h >= c ? ~0u : HOLE_TRIES;
      for (f = *list_at(h, mid); f && tries--; f = AT(f)[0]) {
        addr x = take(exact && (h < c || big) ? run_start(f) : f, span, align);
        if (x) {
          f = x;
          goto found;
        }
        ASSERT(h < c, f); /* a frame's header that doesn't say free */
      }
    }
    /* The free run at the top of the heap, grown by what is missing. */
    if (!H.heap_start && !init())
      return 0;
    addr s = run_start(H.heap_end), from;
    if ((f = take(s, span, align)))
      goto found;
    from = source_size(); /* past foreign memory, if any */
    addr x = fit_at(from != H.heap_end ? from + MIN_FRAME : s, span, align);
    if (!grown++ && x && grow(x + span, from))
      continue;
    if (pass++)
      return 0;
    mid ^= 1, grown = 0;
  }
found:
  if (exact)
    H.cursor = f + size; /* where the next exact block goes first */
  return f;              /* allocate() writes the header (alloc_slot() a slab's) */
}

/* ---- Slabs -------------------------------------------------------------------
 *
 * A block whose size m is not a power of two, up to SLAB_MAX, is a slot in
 * a slab: a frame of 2^k >= 4m bytes (and >= 2 KiB), aligned to it, that
 * holds slots of m bytes only, so that the power-of-two frame's slack is
 * not paid per block.  SQLite's 1,032-byte page buffers take 1,040 B, not
 * 2 KiB.
 *
 *   b - 8   b                  b+24   b+32          b+32+m
 *   +-------+------------------+------+--------------+------+------- ... ---+
 *   | slab  | next prev used   | hdr  | slot 0 ...   | hdr  | slot 1 ...    |
 *   | header| free             |      | (m - 8 B)    |      |               |
 *   +-------+------------------+------+--------------+------+------- ... ---+
 *
 *   slab header: info = 2^k | ZEE_TAG_SLAB
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
_Static_assert(SLAB_META == 16 + 8 && ZEE_SLAB_SLOTS * SLAB_MAX <= PAGE_SIZE / 2, "slab words");
_Static_assert((ZEE_TAG_SLOT & ZEE_TAG_SLOT_FREE & 8) && (ZEE_TAG_SLOT ^ 1) == ZEE_TAG_SLOT_FREE &&
                   (ZEE_TAG_SLAB & 9) == 8,
               "bit 3: slabs and slots; bit 0: in use");

/* Why a separate path: a power-of-two size already fills its frame. */
INLINE static int slab_sized(uint32_t m) { return m <= SLAB_MAX && (m & (m - 1)); }

/* The slab frame for slots of m bytes: the power of two >= 4m, at least
 * 2 KiB.  Measured (npm run bench:trace, a replica of small-random): 8m
 * leaves each size's last slab emptier (small-random 1.97x its peak live
 * bytes, not 1.81x) and packs SQLite no better.  Why 2 KiB: a slab's 32 B
 * of words and header were 3.6 % of Lua's heap in 512 B slabs (the trace
 * replay: Lua 1.20x -> 1.165x dlmalloc's heap, small-random 1.31x ->
 * 1.27x; mixed-large 1.11x -> 1.125x; 1 KiB changes nothing, since 48 B
 * slots fill 512 and 1,024 B slabs alike, and 4 KiB is no better). */
static uint32_t slab_size(uint32_t m) {
  /* The bits below ZEE_SLAB_MIN set: the power of two is at least that. */
  return 1u << (32 - __builtin_clz((m * ZEE_SLAB_SLOTS - 1) | (ZEE_SLAB_MIN - 1)));
}

/* Puts free slot s first on slab b's free slots (its header says free). */
static void put_slot(addr b, addr s) {
  AT(s)[0] = AT(b)[SLAB_FREE];
  AT(b)[SLAB_FREE] = s;
}

/* A slot of m bytes: from the first slab with a free one, or a new slab. */
INLINE static addr alloc_slot(uint32_t m) {
  addr *head = &H.slabs[m / MIN_FRAME], b = *head, s;
  if (!b) {
    uint32_t size = slab_size(m);
    if (!(b = alloc(size, size)))
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
  return s;               /* allocate() writes its header */
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
    release_range(b, b + size);
  }
}

/* Frees a block: its frames merge back with their free buddies. */
static void release(addr p, uint32_t info) {
  uint32_t size = info & ~TAG_MASK;
  account(META_SIZE - size, -1);
  if (info & 8) {
    set_meta(p, info ^ 1); /* tag 14: a second free() is a double free */
    release_slot(p, size);
  } else {
    if (size > ROUND_MAX)
      H.cursor = p; /* the next exact block tries this hole (a slab never does) */
    release_range(p, p + extent(size)); /* p - 8 becomes tag 6 or 4: a double free */
  }
}

/* Resizes a block in place: shrinks by freeing the tail, grows over the
 * free frames right after it.  Returns 0 if it can't.  Why not over new
 * memory at the top of the heap: a block there would grow the heap while
 * holes below could hold it (realloc-growth: 1.16x its peak live bytes,
 * not 1.45x; Lua 1.20x dlmalloc's heap either way). */
INLINE static int resize(addr p, uint32_t size, uint32_t want) {
  addr end = p + extent(want), old = p + extent(size);
  pool_now = want > ZEE_POOL_MIN;
  if (!absorb(old, old, end)) /* (end <= old: frees the tail) */
    return 0;
  set_meta(p, want | ZEE_TAG_USED);
  return 1;
}

/* ---- Checked entry ---------------------------------------------------------- */

/* The info word of the live block at p, after the checks of the validation
 * level.  Why one fault() call: each call site costs bytes in every entry
 * point that inlines this. */
static uint32_t block_info(addr p) {
#if ZEE_VALIDATION >= 1
  unsigned code = ZEE_E_POINTER;
  uint32_t info = 0;
  if (!(p & (MIN_FRAME - 1)) && p >= H.heap_start && p < H.heap_end) {
    /* In use is tag 7 or 15; a sound header with tag 6 or 14 is a freed
     * block, and 4 one that has merged since; 9 (foreign) and 12 (slab) are
     * no block's (of the tags the core writes, just those have bit 3 and
     * not bit 1). */
    info = AT(p - META_SIZE)[0];
    uint32_t bad = AT(p - META_SIZE)[1] ^ info ^ p ^ ZEE_SALT;
    code = bad || (info & 10) == 8 ? ZEE_E_HEADER : (info & 7) != 7 ? ZEE_E_DOUBLE_FREE : 0;
  }
  if (code)
    fault(code, p);
#else
  uint32_t info = AT(p - META_SIZE)[0];
#endif
  ASSERT(extent(info & ~TAG_MASK) <= H.heap_end - p, p);
  return info;
}

static void *out_of_memory(void) {
  errno = ENOMEM;
  return 0;
}

/* Serves n bytes aligned to `align` (a power of two, at least 16).  Why the
 * pop here, before alloc(): a block of a power-of-two size whose frame is
 * free is a list pop and a header, and alloc()'s set-up costs more than
 * that (fixed-16: 25 % less time in wasm and 23 % fewer instructions native
 * than with the pop in alloc(), for 8 B more; 49 B in all). */
static void *allocate(size_t n, size_t align) {
  addr p = 0;
  uint32_t tag = ZEE_TAG_USED;
  uint32_t m = ((uint32_t)n + META_SIZE + MIN_FRAME - 1) & ~(MIN_FRAME - 1);
  if (n <= MAX_HEAP - META_SIZE && align <= MAX_HEAP / 2) { /* (so m <= MAX_HEAP) */
    addr *L;
    if (align > MIN_FRAME)
      p = alloc(m, align);
    else if (m & (m - 1))
      p = m <= SLAB_MAX ? (tag = ZEE_TAG_SLOT, alloc_slot(m)) : alloc(m, align);
    else if ((p = *(L = list_at(__builtin_ctz(m), m > ZEE_POOL_MIN)))) {
      list_remove(L, p); /* the fast path: pop a whole frame of the block's pool */
    } else
      p = alloc(m, align);
  }
  if (!p)
    return out_of_memory();
  set_meta(p, m | tag); /* here, not in alloc() and alloc_slot(): one call */
  account(m - META_SIZE, 1);
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
    n = ~(size_t)0; /* more than the largest heap: ENOMEM */
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
  uint32_t want = ((uint32_t)n + META_SIZE + MIN_FRAME - 1) & ~(MIN_FRAME - 1);
  int done = 0;
  /* A slot keeps its size; a block resized to a slot size moves to a
   * slot, as Lua's reallocs do (1.24x -> 1.23x dlmalloc's heap): in place,
   * it would keep a power-of-two extent. */
  if (n <= MAX_HEAP - p - META_SIZE)
    done = info & 8 ? want == size : !slab_sized(want) && resize(p, size, want);
  void *q = ptr;
  if (done) {
    account(want - size, 0); /* the header now says want (a slot: want == size) */
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

const zee_heap_info_t *zee_heap_info(void) { return &H; }

/* ---- Whole-heap walk: zee_check() ------------------------------------------------ */

typedef struct walk_totals {
  uint32_t used_bytes, used_blocks, free_frames, open_slabs;
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
  if (size > PAGE_SIZE / 2 || (size & (size - 1)) || (b & (size - 1)) || !slab_sized(m) ||
      slab_size(m) != size)
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

/* Checks the block at f and counts it; its extent, or 0 after setting *r
 * to a ZEE_C_* code. */
static uint32_t walk_block(addr f, walk_totals *t, int *r) {
  uint32_t info = AT(f - META_SIZE)[0], size = info & ~TAG_MASK, tag = info & TAG_MASK;
  *r = ZEE_C_FRAME;
  if (!size || !has_meta(f, info))
    return 0;
  if (tag == ZEE_TAG_USED) {
    t->used_blocks++;
    t->used_bytes += size - META_SIZE;
    size = extent(size);
  } else if (tag == ZEE_TAG_FREE) {
    addr b = f ^ size;
    if ((size & (size - 1)) || (f & (size - 1)))
      return 0;
    if (b > f && b < H.heap_end && sound(b, ZEE_TAG_FREE) &&
        (AT(b - META_SIZE)[0] & ~TAG_MASK) == size) {
      *r = ZEE_C_BUDDY;
      return 0;
    }
    t->free_frames++;
  } else if (tag == ZEE_TAG_SLAB) {
    if ((*r = walk_slab(f, size, t)))
      return 0;
  } else if (tag == ZEE_TAG_FOREIGN) {
    if ((f & OFFSET_MASK) || ((f + size - MIN_FRAME) & OFFSET_MASK)) {
      *r = ZEE_C_FOREIGN;
      return 0;
    }
  } else {
    return 0;
  }
  *r = size > H.heap_end - f ? ZEE_C_FRAME : 0;
  return size;
}

/* Checks every rule of the layout and the running totals. */
static int walk(void) {
  walk_totals t = {0};
  int r = 0;
  if (!H.heap_start)
    return 0;
  if ((H.heap_end & OFFSET_MASK) || H.heap_end <= H.heap_start || (H.heap_start & 15) ||
      AT(H.heap_end - META_SIZE)[0] || (H.cursor & 15) || H.cursor > H.heap_end)
    return ZEE_C_STATE;
  for (addr f = H.heap_start; f < H.heap_end;) {
    f += walk_block(f, &t, &r);
    if (r)
      return r; /* (before an extent past the end could leave the loop) */
  }
  /* The free lists hold exactly the free frames walked, each on its pool's. */
  uint32_t n = 0;
  for (unsigned c = 0; c < CLASSES + POOL_CLASSES; c++) {
    uint32_t size = MIN_FRAME << (c % CLASSES);
    addr *L = c < CLASSES ? &H.lists[c] : &H.mid_lists[c - CLASSES];
    for (addr f = *L, prev = 0; f; prev = f, f = AT(f)[0])
      if (++n > t.free_frames || f < H.heap_start || f >= H.heap_end || (f & (size - 1)) ||
          L != list_of(f, size) || AT(f)[1] != prev || !has_meta(f, size | ZEE_TAG_FREE))
        return ZEE_C_LIST;
  }
  if (n != t.free_frames)
    return ZEE_C_LIST_COUNT;
  /* The slab lists hold exactly the slabs with a free slot. */
  n = 0;
  for (unsigned i = 0; i < ZEE_SLAB_LISTS; i++)
    for (addr b = H.slabs[i], prev = 0; b; prev = b, b = AT(b)[0])
      if (++n > t.open_slabs || b < H.heap_start || b >= H.heap_end || (b & 15) ||
          AT(b)[1] != prev || !AT(b)[SLAB_FREE] || !slab_sized(i * MIN_FRAME) ||
          !has_meta(b, slab_size(i * MIN_FRAME) | ZEE_TAG_SLAB) ||
          (AT(b + SLAB_META)[0] & ~TAG_MASK) != i * MIN_FRAME)
        return ZEE_C_SLAB;
  if (n != t.open_slabs)
    return ZEE_C_SLAB;
  if (t.used_bytes != H.used_bytes || t.used_blocks != H.used_blocks || H.peak_bytes < H.used_bytes)
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
 * (free frames, headers, slab slack), keepcost = the free run at the top of
 * the heap (frames of 64 KiB and more, and the mid pool's); ordblks and the
 * other counts are not tracked (0). */
struct mallinfo mallinfo(void) {
  struct mallinfo mi = {0};
  lock();
  if (H.heap_start) {
    mi.arena = (int)(H.heap_end - H.heap_start);
    pool_now = ZEE_POOL_MID; /* the run a large block would take */
    mi.keepcost = (int)(H.heap_end - run_start(H.heap_end));
  }
  mi.uordblks = (int)H.used_bytes;
  mi.fordblks = mi.arena - mi.uordblks;
  mi.usmblks = (int)H.peak_bytes;
  unlock();
  return mi;
}
#endif

/* ---- The names Emscripten links against under -sMALLOC=none -------------------- */
#ifdef __EMSCRIPTEN__
#define ZEE_ALIAS(name, target) __typeof(target) name __attribute__((alias(#target)))

int zee_posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *))
    return EINVAL;
  void *p = zee_memalign(align, n);
  if (!p)
    return errno; /* EINVAL (not a power of two) or ENOMEM, as musl does */
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
