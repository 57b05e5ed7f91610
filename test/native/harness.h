/* The native harness (harness.c), shared by the fuzzer and the regression runner. */
#ifndef ZEE_HARNESS_H
#define ZEE_HARNESS_H
#include <stddef.h>
#include <stdint.h>

#include "zee_alloc.h"

/* One build of the core, its zee_* names renamed to <config>_zee_*. */
typedef struct zee_api {
  const char *name;
  uint32_t config; /* the zee_heap_info config word it must report */
  int validation;  /* ZEE_VALIDATION */
  int threads;     /* ZEE_THREADS */
  void *(*malloc)(size_t);
  void (*free)(void *);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  void *(*memalign)(size_t, size_t);
  size_t (*usable_size)(void *);
  int (*check)(void);
  const zee_heap_info_t *(*heap_info)(void);
} zee_api;

extern const zee_api zee_apis[];
extern const unsigned zee_api_count;

/* Runs one input; config_override >= 0 ignores the input's config byte. */
void harness_run(const uint8_t *data, size_t size, int config_override);
/* Gives `api` a fresh arena and a fresh allocator state: the heap is not
 * initialised until its first allocation (heap_start 0). */
struct src_options;
void harness_fresh(const zee_api *api, const struct src_options *o);
/* Operations executed, NULLs accepted (with their cause), growth requests
 * refused, and bad pointers (freed or interior) rejected so far (all inputs). */
extern uint64_t harness_ops, harness_nulls, harness_refused, harness_rejected;

/* While non-zero, zee_fault() longjmps to harness_fault_jmp instead of aborting. */
#include <setjmp.h>
extern int harness_expect_fault;
extern jmp_buf harness_fault_jmp;
extern void *harness_fault_ptr;
/* Passes p to free, realloc(p, 100) or malloc_usable_size (which = 0, 1, 2)
 * of `api`, catching the fault a checked build reports: returns its code,
 * or 0 if the call accepted p. */
int harness_call_bad(const zee_api *api, unsigned which, unsigned char *p);
#endif
