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

/* ---- Layout constants (layout version 6) ------------------------------ */
#define ZEE_LAYOUT_VERSION 6u
#define ZEE_PAGE_SIZE 65536u /* wasm page: small pages and large blocks */
#define ZEE_META_SIZE 8u     /* the header before every payload */
#define ZEE_GRANULE 16u      /* block sizes and addresses are multiples */
#define ZEE_MIN_FRAME 16u    /* smallest buddy frame */
#define ZEE_MAX_FRAME 32768u /* largest buddy frame inside a small page */
#define ZEE_CLASSES 12u      /* free lists of frames 16, 32, ... 32768 */
#define ZEE_MAX_SMALL 65512u /* largest malloc() served by a small block */
/* Small blocks up to this size (header included) occupy a whole
 * power-of-two frame; larger ones exactly their size. */
#define ZEE_ROUND_MAX 4096u
/* Small blocks up to this size whose size is not a power of two live in
 * slabs: frames of ZEE_SLAB_SLOTS times their size (at least ZEE_SLAB_MIN),
 * carved into slots of exactly that size after ZEE_SLAB_META bytes. */
#define ZEE_SLAB_MAX 1040u
#define ZEE_SLAB_SLOTS 4u
#define ZEE_SLAB_MIN 512u
#define ZEE_SLAB_META 24u
#define ZEE_SLAB_LISTS (ZEE_SLAB_MAX / ZEE_GRANULE + 1u) /* one per slot size / 16 */
/* Small blocks of more than this size (header included), slabs excepted,
 * are served from mid pages (ZEE_MAP_MID), the rest from small pages. */
#define ZEE_POOL_MIN 4096u

/* Low 4 bits of a header's info word (the rest is the block's size). */
#define ZEE_TAG_MASK 15u
#define ZEE_TAG_SMALL 7u         /* in use: a small block, usable size - 8 */
#define ZEE_TAG_LARGE 5u         /* in use: a large block, usable size = size */
#define ZEE_TAG_FREE 6u          /* a free frame, on the free list of its size */
#define ZEE_TAG_MERGED 4u        /* a header left inside a merged free frame */
#define ZEE_TAG_SLAB 12u         /* a slab: a frame of slots of one size, not a user block */
#define ZEE_TAG_SLOT 15u         /* in use: a slot in a slab, usable size - 8 */
#define ZEE_TAG_SLOT_FREE 14u    /* a free slot, on its slab's list */
#define ZEE_SALT 0x5eea110cu     /* check word = info ^ payload address ^ SALT */
#define ZEE_PAGE_TAG 0x5a450000u /* small page word 0: tag | blocks */
#define ZEE_COUNT_MASK 0xffffu   /* ... the count of blocks in that word */
/* Small page word 1, bit 0: the page was made for its large block and
 * holds nothing else. */
#define ZEE_ANCHOR_ONLY 1u
#define ZEE_INFO_MAGIC 0x3645455au /* "ZEE6" */

/* One byte per wasm page in the page map (zee_heap_info_t.page_map); it is
 * the only record of the free pages. */
#define ZEE_MAP_NONE 0u  /* not the allocator's (below the heap, or foreign) */
#define ZEE_MAP_FREE 1u  /* a free page */
#define ZEE_MAP_SMALL 2u /* a small page */
#define ZEE_MAP_LARGE 3u /* a whole page inside a large block */
#define ZEE_MAP_MID 6u   /* a small page of the mid pool (mark & 3 == ZEE_MAP_SMALL) */

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
  ZEE_C_SPAN = 16,       /* a free page below the first-free mark */
  ZEE_C_PAGE = 18,       /* small page: tag, map mark or large-block field;
                            the spare is not a small page */
  ZEE_C_FRAME = 20,      /* a header: tag, check word, size or alignment */
  ZEE_C_COUNT = 21,      /* a page's block count disagrees with its blocks */
  ZEE_C_BUDDY = 22,      /* two free buddies were not merged */
  ZEE_C_LARGE = 23,      /* a large block: size, placement, map marks */
  ZEE_C_LIST = 24,       /* free list: member not a free frame of its class,
                            broken back link, or cycle */
  ZEE_C_LIST_COUNT = 25, /* a free frame is on no list (or on two) */
  ZEE_C_TOTALS = 26,     /* a running total disagrees with the walk */
  ZEE_C_STATE = 27,      /* the state block: first_free off a page boundary,
                            or a page-map mark below the heap */
  ZEE_C_SLAB = 28        /* a slab: size, slots, count of slots in use, its
                            free slots, or the lists of slabs with a free slot */
};

/*
 * Where the allocator keeps its state, for inspectors (js/inspect.mjs).
 * All addresses are byte offsets into the wasm memory (0 = none).  The
 * totals are kept up to date by every call, so reading them costs O(1).
 */
typedef struct zee_heap_info {
  uint32_t magic;              /* ZEE_INFO_MAGIC */
  uint32_t layout;             /* ZEE_LAYOUT_VERSION */
  uint32_t config;             /* ZEE_VALIDATION | ZEE_THREADS << 4 */
  uint32_t heap_start;         /* first page zee_alloc may own (0 until first use) */
  uint32_t heap_end;           /* end of the last page it owns */
  uint32_t page_map;           /* address of the page map: a byte per page, ZEE_MAP_* */
  uint32_t first_free;         /* no page below it is free: where searches begin */
  uint32_t spare;              /* an empty small page kept back from release */
  uint32_t lists[ZEE_CLASSES]; /* free-list heads, 16 B .. 32 KiB */
  /* Running totals */
  uint32_t used_bytes;             /* sum of malloc_usable_size() over live blocks */
  uint32_t used_blocks;            /* live blocks */
  uint32_t peak_bytes;             /* highest used_bytes so far */
  uint32_t small_pages;            /* pages that are small pages */
  uint32_t large_pages;            /* whole pages inside large blocks */
  uint32_t free_pages;             /* free pages */
  uint32_t cursor;                 /* where the last small block ended: the next exact
                                      one is tried there first (a hint, checked) */
  uint32_t slabs[ZEE_SLAB_LISTS];  /* slabs with a free slot, by slot size / 16 */
  uint32_t mid_lists[ZEE_CLASSES]; /* free-list heads of mid pages' frames (lists:
                                      small pages' frames) */
} zee_heap_info_t;

/* The allocator's state, for inspection.  Never changes the heap. */
const zee_heap_info_t *zee_heap_info(void);

/* Whole-heap consistency check: 0, or a zee_check_code. */
int zee_check(void);

/* Gives the kept-back empty small page (if any) back to the free pages. */
void zee_trim(void);

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
