/*
 * zee_alloc: a tiny buddy allocator for WebAssembly.
 *
 * The standard names (malloc, free, calloc, realloc, aligned_alloc,
 * posix_memalign, memalign, malloc_usable_size, mallinfo) are defined by
 * src/zee_alloc.c; this header adds the project's own calls and the layout
 * constants that heap inspectors rely on (js/layout.mjs mirrors them, and a
 * test compares the two).  The layout is drawn in src/zee_alloc.c and
 * described in docs/layout.md.
 */
#ifndef ZEE_ALLOC_H
#define ZEE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Layout constants (layout version 8) ------------------------------ */
#define ZEE_LAYOUT_VERSION 8u
#define ZEE_PAGE_SIZE 65536u /* wasm page: the unit of growth and of the pool map */
#define ZEE_META_SIZE 8u     /* the header before every payload */
#define ZEE_GRANULE 16u      /* block sizes and addresses are multiples */
#define ZEE_MIN_FRAME 16u    /* smallest buddy frame */
#define ZEE_CLASSES 28u      /* free lists of frames 16, 32, ... 2 GiB */
#define ZEE_POOL_CLASSES 12u /* frames below 64 KiB belong to their page's pool */
/* Blocks up to this size (header included) occupy a whole power-of-two
 * frame; larger ones exactly their size. */
#define ZEE_ROUND_MAX 4096u
/* Blocks up to this size whose size is not a power of two live in slabs:
 * frames of ZEE_SLAB_SLOTS times their size (at least ZEE_SLAB_MIN), carved
 * into slots of exactly that size after ZEE_SLAB_META bytes. */
#define ZEE_SLAB_MAX 1040u
#define ZEE_SLAB_SLOTS 4u
#define ZEE_SLAB_MIN 2048u
#define ZEE_SLAB_META 24u
#define ZEE_SLAB_LISTS (ZEE_SLAB_MAX / ZEE_GRANULE + 1u) /* one per slot size / 16 */
/* Blocks of more than this size (header included), slabs excepted, split
 * frames of mid pages (ZEE_POOL_MID), the rest frames of small pages. */
#define ZEE_POOL_MIN 4096u
/* The memory grows by the pages a request lacks, but by at least this many
 * at a call when the memory's maximum allows. */
#define ZEE_GROW_MIN_PAGES 2u

/* Low 4 bits of a header's info word (the rest is the block's size). */
#define ZEE_TAG_MASK 15u
#define ZEE_TAG_USED 7u            /* in use: a block, usable size - 8 */
#define ZEE_TAG_FREE 6u            /* a free frame, on the free list of its size */
#define ZEE_TAG_MERGED 4u          /* a header left inside a merged free frame */
#define ZEE_TAG_FOREIGN 9u         /* memory someone else grew, and the 16 B after it */
#define ZEE_TAG_SLAB 12u           /* a slab: a frame of slots of one size, not a user block */
#define ZEE_TAG_SLOT 15u           /* in use: a slot in a slab, usable size - 8 */
#define ZEE_TAG_SLOT_FREE 14u      /* a free slot, on its slab's list */
#define ZEE_SALT 0x5eea110cu       /* check word = info ^ payload address ^ SALT */
#define ZEE_INFO_MAGIC 0x3845455au /* "ZEE8" */

/* One bit per wasm page in the pool map (zee_heap_info_t.pool_map; page i
 * is bit i % 32 of 32-bit word i / 32): the pool of the page's free frames
 * below 64 KiB. */
#define ZEE_POOL_SMALL 0u
#define ZEE_POOL_MID 1u

/* ---- Faults reported by checked builds (argument of the fault hook) --- */
enum zee_fault_code {
  ZEE_E_POINTER = 1,     /* not a heap pointer: misaligned or outside the heap */
  ZEE_E_HEADER = 2,      /* no valid header at p-8: never allocated, interior
                            pointer, or header overwritten */
  ZEE_E_DOUBLE_FREE = 3, /* the block is already free */
  ZEE_E_INTERNAL = 4     /* dev builds: an internal invariant is broken */
};

/* ---- Results of zee_check() (0 means the heap is consistent) --------- */
enum zee_check_code {
  ZEE_C_OK = 0,
  ZEE_C_FRAME = 20,      /* a header: tag, check word, size, alignment, or an
                            extent past the heap's end */
  ZEE_C_BUDDY = 22,      /* two free buddies were not merged */
  ZEE_C_FOREIGN = 23,    /* a foreign block not on a page boundary */
  ZEE_C_LIST = 24,       /* free list: member not a free frame of its class
                            and pool, broken back link, or cycle */
  ZEE_C_LIST_COUNT = 25, /* a free frame is on no list (or on two) */
  ZEE_C_TOTALS = 26,     /* a running total disagrees with the walk */
  ZEE_C_STATE = 27,      /* the state block: heap bounds, the word at
                            heap_end - 8, the cursor */
  ZEE_C_SLAB = 28        /* a slab: size, slots, count of slots in use, its
                            free slots, or the lists of slabs with a free slot */
};

/*
 * Where the allocator keeps its state, for inspectors (js/inspect.mjs).
 * All addresses are byte offsets into the wasm memory (0 = none).  The
 * totals are kept up to date by every call, so reading them costs O(1).
 */
typedef struct zee_heap_info {
  uint32_t magic;                       /* ZEE_INFO_MAGIC */
  uint32_t layout;                      /* ZEE_LAYOUT_VERSION */
  uint32_t config;                      /* ZEE_VALIDATION | ZEE_THREADS << 4 */
  uint32_t heap_start;                  /* the first frame (0 until first use) */
  uint32_t heap_end;                    /* end of the memory it owns (a page boundary) */
  uint32_t pool_map;                    /* address of the pool map: a bit per page */
  uint32_t cursor;                      /* where the last exact block ended: the next
                                           one is tried there first (a hint, checked) */
  uint32_t used_bytes;                  /* sum of malloc_usable_size() over live blocks */
  uint32_t used_blocks;                 /* live blocks */
  uint32_t peak_bytes;                  /* highest used_bytes so far */
  uint32_t lists[ZEE_CLASSES];          /* free-list heads, 16 B .. 2 GiB (below 64 KiB:
                                           small pages' frames) */
  uint32_t mid_lists[ZEE_POOL_CLASSES]; /* mid pages' frames, 16 B .. 32 KiB */
  uint32_t slabs[ZEE_SLAB_LISTS];       /* slabs with a free slot, by slot size / 16 */
} zee_heap_info_t;

/* The allocator's state, for inspection.  Never changes the heap. */
const zee_heap_info_t *zee_heap_info(void);

/* Whole-heap consistency check: 0, or a zee_check_code. */
int zee_check(void);

/* The project's names for the standard calls (same functions). */
void *zee_malloc(size_t size);
void zee_free(void *ptr);
void *zee_calloc(size_t count, size_t size);
void *zee_realloc(void *ptr, size_t size);
void *zee_memalign(size_t align, size_t size);
size_t zee_usable_size(void *ptr);

#ifdef __cplusplus
}
#endif

#endif
