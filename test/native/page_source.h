/* The host page source of the native builds (page_source.c). */
#ifndef ZEE_PAGE_SOURCE_H
#define ZEE_PAGE_SOURCE_H
#include <stdint.h>

#define SRC_PAGE 65536u

typedef struct src_options {
  uint32_t base;         /* zee_source_base(): end of the "static data" (>= 64 KiB) */
  uint32_t initial;      /* bytes committed at start (page multiple, >= base rounded up) */
  uint32_t cap;          /* no growth beyond this many bytes (like -sMAXIMUM_MEMORY) */
  uint32_t overcommit;   /* extra pages a successful grow adds (like a geometric step) */
  uint32_t fail_per_256; /* chance of refusing any grow, in 1/256 */
  uint32_t seed;         /* the refusals' PRNG seed */
  int junk;              /* fill fresh pages with junk instead of zeros */
} src_options;

typedef struct src_stats {
  uint32_t grows, denied; /* zee_source_grow() calls and refusals */
  uint32_t foreign_pages; /* pages grown "by someone else" */
} src_stats;

extern src_stats src_stat;
/* The arena (offset 0 of the heap's 32-bit address space). */
extern unsigned char *zee_native_base;

/* The core's page source (src/zee_alloc.c, "Memory source"): the end of the
 * static data, and the committed size. */
uint32_t zee_source_base(void);
uint32_t zee_source_size(void);
int zee_source_grow(uint32_t new_size);

/* A fresh arena: everything released, then `o` applied. */
void src_reset(const src_options *o);
/* Refuse the next n growth requests. */
void src_fail_next(uint32_t n);
/* Someone else grows memory by n pages: returns their offset, or 0 at the cap.
 * The pages are filled with a pattern that src_verify() checks. */
uint32_t src_foreign_grow(uint32_t n);
/* Is [off, off+len) inside committed memory and outside foreign pages and
 * the static data?  (Where a heap block may lie.) */
int src_heap_range(uint32_t off, uint64_t len);
/* Checks the static data and the foreign pages are untouched; 0 if so. */
int src_verify(void);
/* Bytes of foreign pages inside [from, to). */
uint32_t src_foreign_between(uint32_t from, uint32_t to);
uint32_t src_committed(void);
uint32_t src_cap(void);
#endif
