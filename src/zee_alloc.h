/*
 * zee_alloc: a tiny buddy allocator for WebAssembly.
 *
 * The standard names (malloc, free, calloc, realloc, aligned_alloc,
 * posix_memalign, memalign, malloc_usable_size, mallinfo) are defined by
 * src/zee_alloc.c; this header adds the project's own calls and the layout
 * constants that heap inspectors rely on.  See README.md, "Layout".
 */
#ifndef ZEE_ALLOC_H
#define ZEE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Layout constants (also read by js/inspect.mjs) ------------------- */
#define ZEE_PAGE_SIZE 65536u   /* wasm page; small pages and jumbo blocks */
#define ZEE_META_SIZE 8u       /* metadata before every payload */
#define ZEE_MIN_FRAME 16u      /* smallest frame */
#define ZEE_MAX_FRAME 32768u   /* largest frame; larger requests are jumbo */
#define ZEE_CLASSES 12u        /* frame sizes 16, 32, ... 32768 */
#define ZEE_LAYOUT_VERSION 2u

#define ZEE_TAG_FREE 6u        /* low 4 bits of a free block's info word */
#define ZEE_TAG_USED 7u        /* low 4 bits of an in-use block's info word */
#define ZEE_TAG_CACHED 4u      /* low 4 bits of a freed frame held in a cache */
#define ZEE_SALT 0x5eea110cu   /* check word = info ^ payload ^ ZEE_SALT */
#define ZEE_PAGE_TAG 0x5a450000u /* small page header: tag | frames in use */
#define ZEE_SPAN_TAG 0x5a530000u /* free span header: tag | anchored bit */
#define ZEE_INFO_MAGIC 0x3145455au /* "ZEE1" */

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
  ZEE_C_SPAN = 16,       /* free span: bad tag, bounds, order or links */
  ZEE_C_SPAN_MERGE = 17, /* two free spans touch but were not merged */
  ZEE_C_PAGE = 18,       /* small page: bad tag, bounds or list links */
  ZEE_C_OVERLAP = 19,    /* a page is claimed twice (page/span/jumbo) */
  ZEE_C_FRAME = 20,      /* frame metadata: bad tag, check word, size or
                            alignment */
  ZEE_C_COUNT = 21,      /* a page's in-use count disagrees with its frames */
  ZEE_C_BUDDY = 22,      /* two free buddies were not merged (coalesce) */
  ZEE_C_JUMBO = 23,      /* jumbo metadata in an anchor slot is invalid */
  ZEE_C_LIST = 24,       /* free list: member not a free frame of its class,
                            broken back link, or cycle */
  ZEE_C_LIST_COUNT = 25, /* a free frame is on no list (or on two) */
  ZEE_C_CACHE = 26       /* cache: member not a cached frame of its class,
                            a cycle, a count that disagrees, or a cached
                            frame on no cache */
};

/*
 * Where the allocator keeps its state, for inspectors (js/inspect.mjs).
 * All addresses are byte offsets into the wasm memory (0 = none).
 */
typedef struct zee_heap_info {
  uint32_t magic;      /* ZEE_INFO_MAGIC */
  uint32_t layout;     /* ZEE_LAYOUT_VERSION */
  uint32_t config;     /* validation | jumbo << 4 | buddy << 8 | shrink << 12
                          | cache << 16 */
  uint32_t heap_start; /* first page zee_alloc may own (64 KiB-aligned) */
  uint32_t heap_end;   /* end of the last region it owns */
  uint32_t spans;      /* first free span, in address order */
  uint32_t pages;      /* first small page (list linked through headers) */
  uint32_t end_small;  /* 1 if the page below heap_end is a small page */
  uint32_t spare;      /* an empty small page kept back from release */
  uint32_t lists[ZEE_CLASSES]; /* free-list heads, 16 B .. 32 KiB */
  uint32_t cache[ZEE_CLASSES];  /* heads of the frames free() holds back */
  uint32_t cached[ZEE_CLASSES]; /* how many each cache holds */
} zee_heap_info_t;

/* The allocator's state, for inspection. */
const zee_heap_info_t *zee_heap_info(void);

/* Whole-heap consistency check: 0, or a zee_check_code. */
int zee_check(void);

/* Merges the frames held in the caches and gives the kept-back empty small
 * page (if any) to the free spans. */
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
