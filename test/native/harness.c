/*
 * The native harness: input bytes become a sequence of zee_alloc calls
 * (malloc, calloc, realloc, memalign/aligned_alloc, free, trim, and probes
 * with interior pointers) with sizes across every frame class, large blocks
 * with every remainder, and sizes near SIZE_MAX, while the page source
 * refuses growth at chosen points and "someone else" grows the memory in
 * between.  After every call it checks:
 *   - zee_check() == 0 (the whole-heap walk);
 *   - a new block is aligned, inside the heap, off foreign pages and clear of
 *     every live block (payload and header), with the usable size of layout 3
 *     (src/zee_alloc.c, docs/c-api.md): a small block (a request of at most
 *     ZEE_MAX_SMALL bytes; 32,760 when aligned past 16) is 8 bytes short of
 *     a multiple of 16 and lies in one page; a large block is a multiple of
 *     16 that ends on a page boundary; malloc, calloc and realloc give
 *     n .. n + 15 usable bytes, except that a large block resized in place
 *     keeps the part in its anchor page (n .. n + 64 KiB - 1); aligned
 *     requests waste less than their alignment (a page, above 32 KiB);
 *   - calloc memory is zero, realloc kept the old bytes;
 *   - every live block still holds its own position-dependent pattern (its
 *     ends always; every byte, and its usable size, every few calls and at
 *     the end);
 *   - the running totals of zee_heap_info_t agree with the harness's record:
 *     live blocks, their usable bytes, the peak, the pages inside large
 *     blocks, and small + large + free pages = the pages the heap owns (its
 *     range less the foreign pages in it);
 *   - a NULL comes with errno ENOMEM (EINVAL for a bad alignment) and is
 *     accounted for: growth was refused during the call, or the request
 *     could never fit under the memory cap;
 *   - in checked builds, a pointer just freed and an interior pointer of a
 *     live block are rejected (ZEE_E_DOUBLE_FREE or ZEE_E_HEADER), naming
 *     that pointer and changing nothing;
 *   - the static data and foreign pages are untouched;
 *   - nothing initialises the heap before its first allocation; at the end,
 *     with everything freed and trimmed, the heap has no small page, no large
 *     page, no free frame and no used byte: every page it owns is free.
 * Any failure prints what broke and aborts, which libFuzzer reports.
 *
 * Input format: 4 header bytes (config, memory cap, base and initial size,
 * source flags), then one opcode byte per call followed by its arguments.
 * The whole allocator state is the zee_heap_info_t that zee_heap_info()
 * points at (src/zee_alloc.c: `static zee_heap_info_t H`) plus the page
 * map, which the core clears when it initialises a heap whose heap_start is
 * 0; so restoring H's initial value over a fresh arena gives each input a
 * fresh allocator.
 */
#include "harness.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configs.h"
#include "page_source.h"

#define PAGE 65536u
#define MAX_HEAP 0xffff0000u /* 65535 pages: the most one heap can span */
#define SLOTS 48

/* ---- The builds of the core, one per line of configs.h ---------------------- */
#define DECLARE(n, v, t)                                                                           \
  void *n##_zee_malloc(size_t);                                                                    \
  void n##_zee_free(void *);                                                                       \
  void *n##_zee_calloc(size_t, size_t);                                                            \
  void *n##_zee_realloc(void *, size_t);                                                           \
  void *n##_zee_memalign(size_t, size_t);                                                          \
  size_t n##_zee_usable_size(void *);                                                              \
  int n##_zee_check(void);                                                                         \
  const zee_heap_info_t *n##_zee_heap_info(void);                                                  \
  void n##_zee_trim(void);
ZEE_NATIVE_CONFIGS(DECLARE)
#define ENTRY(n, v, t)                                                                             \
  {#n,                                                                                             \
   v | t << 4,                                                                                     \
   v,                                                                                              \
   t,                                                                                              \
   n##_zee_malloc,                                                                                 \
   n##_zee_free,                                                                                   \
   n##_zee_calloc,                                                                                 \
   n##_zee_realloc,                                                                                \
   n##_zee_memalign,                                                                               \
   n##_zee_usable_size,                                                                            \
   n##_zee_check,                                                                                  \
   n##_zee_heap_info,                                                                              \
   n##_zee_trim},
const zee_api zee_apis[] = {ZEE_NATIVE_CONFIGS(ENTRY)};
const unsigned zee_api_count = sizeof zee_apis / sizeof zee_apis[0];

uint64_t harness_ops, harness_nulls, harness_refused, harness_rejected;
int harness_expect_fault;
jmp_buf harness_fault_jmp;
void *harness_fault_ptr;

/* Overrides the core's weak zee_fault: a fault is a finding unless a test expects it. */
void zee_fault(unsigned code, void *ptr) {
  if (harness_expect_fault) {
    harness_expect_fault = 0;
    harness_fault_ptr = ptr;
    longjmp(harness_fault_jmp, (int)code);
  }
  fprintf(stderr, "zee_alloc: unexpected fault %u at offset 0x%llx\n", code,
          (unsigned long long)((unsigned char *)ptr - zee_native_base));
  abort();
}

/* ---- Run state ------------------------------------------------------------------ */
typedef struct slot {
  unsigned char *p; /* 0 = empty */
  size_t len;       /* bytes the harness owns and patterned */
  size_t u;         /* malloc_usable_size(p) when it was accepted */
  uint8_t seed;
} slot;

static const zee_api *A;
static slot S[SLOTS];
static unsigned op_index;
static uint8_t next_seed;
static uint32_t peak; /* the highest used_bytes any call can have reached */

/* Why: one message format for every finding, with enough to replay it. */
__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...);
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "zee harness [%s, op %u]: ", A ? A->name : "?", op_index);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

static uint32_t off(const void *p) {
  return (uint32_t)((const unsigned char *)p - zee_native_base);
}

/* Where the heap must begin: the first page at or above the source's base. */
static uint32_t heap_base(void) { return (zee_source_base() + PAGE - 1) & ~(PAGE - 1); }

void harness_fresh(const zee_api *api, const src_options *o) {
  zee_heap_info_t *h = (zee_heap_info_t *)api->heap_info();
  if (h->magic != ZEE_INFO_MAGIC || h->layout != ZEE_LAYOUT_VERSION || h->config != api->config)
    fail("%s reports magic 0x%x, layout %u, config 0x%x; expected layout %u, config 0x%x: "
         "build options mismatch",
         api->name, h->magic, h->layout, h->config, ZEE_LAYOUT_VERSION, api->config);
  src_reset(o);
  memset(h, 0, sizeof *h);
  h->magic = ZEE_INFO_MAGIC;
  h->layout = ZEE_LAYOUT_VERSION;
  h->config = api->config;
  /* Calls that allocate nothing must leave the heap uninitialised. */
  api->heap_info();
  api->trim();
  api->free(NULL);
  if (api->usable_size(NULL))
    fail("%s: malloc_usable_size(NULL) is not 0", api->name);
  if (api->check())
    fail("%s: zee_check() = %d on a heap never used", api->name, api->check());
  if (h->heap_start || h->heap_end || h->spare || h->free_pages || src_stat.grows)
    fail("%s: the heap was initialised (start 0x%x, end 0x%x, %u grows) before its first "
         "allocation",
         api->name, h->heap_start, h->heap_end, src_stat.grows);
}

/* Makes sure the first allocation has happened, so that the memory above
 * the base is the heap's and memory grown after it is someone else's.
 * Returns the usable size of the block it allocated (0: none). */
static uint32_t own_heap(const zee_api *api) {
  const zee_heap_info_t *h = api->heap_info();
  if (h->heap_start)
    return 0;
  /* It may fail (growth refused): the heap is initialised all the same. */
  unsigned char *p = api->malloc(0);
  uint32_t u = p ? (uint32_t)api->usable_size(p) : 0;
  api->free(p);
  api->trim();
  if (h->heap_start != heap_base())
    fail("%s: the first allocation set heap_start 0x%x, not 0x%x", api->name, h->heap_start,
         heap_base());
  return u;
}

/* ---- Patterns -------------------------------------------------------------------
 * Block bytes come from a fixed pseudo-random table with a prime period, at
 * an offset that depends on the block's seed: a block moved by the wrong
 * offset (even by whole pages) or mixed with another block is caught, and
 * whole ranges are checked with memcmp (fast under ASan). */
#define PERIOD 65521u
static uint8_t T[PERIOD];

static void make_table(void) {
  if (T[0] | T[1])
    return;
  uint32_t x = 0x2545f491u;
  for (unsigned i = 0; i < PERIOD; i++)
    x = x * 1103515245u + 12345u, T[i] = (uint8_t)(x >> 23) | 1;
}

static size_t phase(const slot *s, size_t i) { return (s->seed * 257u + i) % PERIOD; }

static void fill(slot *s, size_t from, size_t to) {
  while (from < to) {
    size_t at = phase(s, from), n = PERIOD - at < to - from ? PERIOD - at : to - from;
    memcpy(s->p + from, T + at, n);
    from += n;
  }
}

static void verify(const slot *s, size_t from, size_t to, const char *when) {
  while (from < to) {
    size_t at = phase(s, from), n = PERIOD - at < to - from ? PERIOD - at : to - from;
    if (memcmp(s->p + from, T + at, n))
      for (size_t i = from; i < from + n; i++)
        if (s->p[i] != T[phase(s, i)])
          fail("%s: live block 0x%x (%zu bytes) changed at +%zu: 0x%02x, want 0x%02x", when,
               off(s->p), s->len, i, s->p[i], T[phase(s, i)]);
    from += n;
  }
}

/* Ends of every block after every call; every byte, and the usable size, when `full`. */
static void verify_all(int full) {
  for (unsigned i = 0; i < SLOTS; i++) {
    slot *s = &S[i];
    if (!s->p)
      continue;
    if (full || s->len <= 32)
      verify(s, 0, s->len, "check");
    else
      verify(s, 0, 16, "check"), verify(s, s->len - 16, s->len, "check");
    if (full && A->usable_size(s->p) != s->u)
      fail("live block 0x%x: usable size %zu, was %zu", off(s->p), A->usable_size(s->p), s->u);
  }
  if (full && src_verify())
    fail("static data or foreign pages were written");
}

static void check_heap(const char *after) {
  int r = A->check();
  if (r)
    fail("zee_check() = %d after %s", r, after);
}

/* Pages the heap owns: its range less the foreign pages in it. */
static uint32_t owned_pages(const zee_heap_info_t *h) {
  return (h->heap_end - h->heap_start - src_foreign_between(h->heap_start, h->heap_end)) / PAGE;
}

/* The running totals against the live blocks the harness holds. */
static void check_totals(void) {
  const zee_heap_info_t *h = A->heap_info();
  uint32_t blocks = 0, large = 0;
  uint64_t bytes = 0;
  for (unsigned i = 0; i < SLOTS; i++) {
    if (!S[i].p)
      continue;
    blocks++;
    bytes += S[i].u;
    large += (uint32_t)(S[i].u / PAGE); /* 0 for a small block */
  }
  if (h->used_blocks != blocks || h->used_bytes != bytes)
    fail("running totals: %u blocks of %u bytes; %u live blocks hold %llu", h->used_blocks,
         h->used_bytes, blocks, (unsigned long long)bytes);
  if (h->large_pages != large)
    fail("running totals: %u large pages; the live large blocks span %u", h->large_pages, large);
  if (h->used_bytes > peak)
    peak = h->used_bytes;
  if (h->peak_bytes != peak)
    fail("running totals: peak %u bytes, want %u", h->peak_bytes, peak);
  if (!h->heap_start) {
    if (h->heap_end || h->spare || h->small_pages || h->free_pages || blocks)
      fail("the heap holds pages or blocks but heap_start is 0");
    return;
  }
  if (h->heap_start != heap_base() || h->heap_end < h->heap_start || h->heap_end % PAGE ||
      h->heap_end > src_committed())
    fail("heap [0x%x, 0x%x): not page-aligned from 0x%x within the 0x%x committed bytes",
         h->heap_start, h->heap_end, heap_base(), src_committed());
  uint32_t owned = owned_pages(h);
  if (h->small_pages + h->large_pages + h->free_pages != owned)
    fail("running totals: %u small + %u large + %u free pages, but the heap owns %u",
         h->small_pages, h->large_pages, h->free_pages, owned);
}

/* ---- A new block -------------------------------------------------------------------- */
typedef enum fit {
  FIT_EXACT,    /* malloc, calloc, realloc: n .. n + 15 usable bytes */
  FIT_ALIGNED,  /* memalign past 16: n .. less than the alignment more */
  FIT_IN_PLACE, /* realloc kept a large block: its anchor part is unchanged */
} fit;

/* Small blocks keep their last 8 bytes for the next header; large ones don't. */
static int is_small(size_t u) { return u % 16 == 8; }

/* The usable size u of block o of request (n, align) against the rules of layout 3. */
static void check_fit(uint32_t o, size_t u, size_t n, size_t align, fit how, size_t old_u,
                      const char *what) {
  if (o % 16 || (uint64_t)o % align)
    fail("%s(%zu, align %zu) = 0x%x: misaligned", what, n, align, o);
  if (u < n)
    fail("%s(%zu) = 0x%x: usable size %zu too small", what, n, o, u);
  int small = is_small(u);
  if (small ? u > ZEE_MAX_SMALL || o % PAGE < 16 || o / PAGE != (o + u + 7) / PAGE
            : u % 16 || u < ZEE_MAX_FRAME || (o + u) % PAGE)
    fail("%s(%zu) = 0x%x+%zu: neither a small block (8 short of a multiple of 16, in one page) "
         "nor a large one (a multiple of 16, at least 32 KiB, that ends on a page boundary)",
         what, n, o, u);
  /* Small up to ZEE_MAX_SMALL; aligned to 32 B .. 32 KiB, small up to the
   * largest frame's payload (above it, either kind); aligned past 32 KiB, large. */
  int want_small = how != FIT_ALIGNED                   ? n <= ZEE_MAX_SMALL
                   : align > ZEE_MAX_FRAME              ? 0
                   : n <= ZEE_MAX_FRAME - ZEE_META_SIZE ? 1
                                                        : small;
  if (small != want_small)
    fail("%s(%zu, align %zu) = 0x%x+%zu: a %s block, not a %s one", what, n, align, o, u,
         small ? "small" : "large", want_small ? "small" : "large");
  size_t from = n, slack = 16; /* u < from + slack */
  if (how == FIT_ALIGNED && !small) {
    slack = align <= ZEE_MAX_FRAME ? align : PAGE;
    from = n ? n : 1;
    if (align > ZEE_MAX_FRAME && (u % PAGE || o % PAGE))
      fail("%s(%zu, align %zu) = 0x%x+%zu: not whole pages on a page boundary", what, n, align, o,
           u);
  }
  if (how == FIT_IN_PLACE) {
    slack = PAGE;
    if ((u - old_u) % PAGE)
      fail("%s(%zu) = 0x%x+%zu: kept in place, but its anchor part changed (was %zu bytes)", what,
           n, o, u, old_u);
  }
  if (u - from >= slack)
    fail("%s(%zu, align %zu) = 0x%x: usable size %zu wastes %zu bytes or more", what, n, align, o,
         u, slack);
}

static void accept_block(slot *s, unsigned char *p, size_t n, size_t align, fit how, size_t old_u,
                         int whole, const char *what) {
  uint32_t o = off(p);
  const zee_heap_info_t *h = A->heap_info();
  /* Before malloc_usable_size(p), which would fault (or read wild memory). */
  if ((uint64_t)o < (uint64_t)h->heap_start + 16 || o >= h->heap_end)
    fail("%s(%zu) = 0x%x: not inside the heap [0x%x, 0x%x)", what, n, o, h->heap_start,
         h->heap_end);
  size_t u = A->usable_size(p);
  check_fit(o, u, n, align, how, old_u, what);
  if (!src_heap_range(o - 8, (uint64_t)u + 8) || o - 8 < h->heap_start ||
      o + (uint64_t)u > h->heap_end)
    fail("%s(%zu) = 0x%x+%zu: outside the heap or on foreign pages", what, n, o, u);
  /* [p-8, p+usable) holds the block's header and payload: no two may meet. */
  for (unsigned i = 0; i < SLOTS; i++) {
    if (!S[i].p || &S[i] == s)
      continue;
    uint32_t q = off(S[i].p);
    size_t qu = S[i].u;
    if (o - 8 < q + qu && q - 8 < o + u)
      fail("%s(%zu) = 0x%x+%zu overlaps live 0x%x+%zu", what, n, o, u, q, qu);
  }
  s->p = p;
  s->u = u;
  s->len = whole ? u : n;
  if (s->len > (8u << 20))
    s->len = n; /* keep huge blocks cheap to pattern */
}

/* A NULL is fine only with the right errno and a reason. */
static void accept_null(size_t n, size_t align, uint32_t denied_before, const char *what) {
  if (errno != ENOMEM)
    fail("%s(%zu, align %zu) = NULL with errno %d, not ENOMEM", what, n, align, errno);
  uint64_t need; /* n plus the alignment slack; a sum past 2^64 never fits */
  if (__builtin_add_overflow((uint64_t)n, (uint64_t)(align > PAGE ? align : 0), &need))
    need = UINT64_MAX;
  if (src_stat.denied == denied_before && need <= src_cap())
    fail("%s(%zu, align %zu) = NULL, but no growth was refused and it fits the %u-byte cap", what,
         n, align, src_cap());
  harness_nulls++;
}

int harness_call_bad(const zee_api *api, unsigned which, unsigned char *p) {
  int got = setjmp(harness_fault_jmp);
  if (!got) {
    harness_expect_fault = 1;
    if (which == 0)
      api->free(p);
    else if (which == 1)
      api->realloc(p, 100);
    else
      api->usable_size(p);
  }
  harness_expect_fault = 0;
  return got;
}

/* Passes p to free, realloc or malloc_usable_size (which = 0, 1, 2): a
 * checked build must report it as `code` or `code2`, naming p, and change
 * nothing. */
static void expect_fault(unsigned char *p, unsigned which, int code, int code2, const char *what) {
  static const char *const calls[] = {"free", "realloc", "malloc_usable_size"};
  zee_heap_info_t before = *A->heap_info();
  int got = harness_call_bad(A, which, p);
  if (!got)
    fail("%s(0x%x) accepted %s", calls[which], off(p), what);
  if (got != code && got != code2)
    fail("%s(0x%x), %s: fault %d", calls[which], off(p), what, got);
  if (harness_fault_ptr != p)
    fail("%s(0x%x), %s: the fault names 0x%x", calls[which], off(p), what, off(harness_fault_ptr));
  if (memcmp(&before, A->heap_info(), sizeof before))
    fail("%s(0x%x), %s: the rejected call changed the allocator's state", calls[which], off(p),
         what);
  harness_rejected++;
}

/* In checked builds, a pointer just freed must be rejected when passed again. */
static void expect_rejected(unsigned char *p) {
  if (A->validation)
    expect_fault(p, 2, ZEE_E_DOUBLE_FREE, ZEE_E_HEADER, "a block just freed");
}

/* An interior pointer of a live block: its header slot holds the block's own
 * data (or a header buried by a merge), never a header of a live block. */
static void probe(slot *s, unsigned which, unsigned b) {
  if (!s->p || !A->validation)
    return;
  uint32_t o = off(s->p), q;
  uint32_t first_page = (o + PAGE) & ~(PAGE - 1),
           pages = o + s->u > first_page ? (o + (uint32_t)s->u - first_page) / PAGE : 0;
  uint32_t count = (uint32_t)((s->u - 1) / 16); /* 16-aligned addresses inside, after p */
  if (!count)
    return;
  if (b >= 192 && pages)
    q = first_page + PAGE * ((b - 192) % pages); /* page boundaries */
  else if (b >= 128)
    q = o + 16 * (count - (b - 128) % count); /* near the end */
  else
    q = o + 16 * (1 + b % count); /* near the start */
  expect_fault(zee_native_base + q, which % 3, ZEE_E_HEADER, ZEE_E_DOUBLE_FREE,
               "an interior pointer");
}

static void release(slot *s) {
  if (!s->p)
    return;
  verify(s, 0, s->len, "free");
  unsigned char *p = s->p;
  A->free(p);
  s->p = 0;
  expect_rejected(p);
}

/* ---- Reading the input ------------------------------------------------------------------ */
typedef struct reader {
  const uint8_t *p, *end;
} reader;
static unsigned byte(reader *r) { return r->p < r->end ? *r->p++ : 0; }

static const uint64_t SPECIAL_SIZES[] = {0,
                                         1,
                                         8,
                                         9,
                                         24,
                                         25,
                                         32759,
                                         32760,
                                         32761,
                                         32768,
                                         65528,
                                         65536,
                                         65537,
                                         MAX_HEAP - 1,
                                         MAX_HEAP,
                                         MAX_HEAP + 1ull,
                                         0xfffffff8u,
                                         0xffffffffu,
                                         0x100000000ull,
                                         0x7fffffffu,
                                         0x80000000u,
                                         SIZE_MAX,
                                         SIZE_MAX - 7,
                                         SIZE_MAX / 2 + 1,
                                         40u << 20,
                                         16376,
                                         16377,
                                         32744,
                                         32745,
                                         65519,
                                         65520,
                                         65521,
                                         98304,
                                         MAX_HEAP / 2,
                                         MAX_HEAP - 15,
                                         ZEE_MAX_SMALL - 1,
                                         ZEE_MAX_SMALL,
                                         ZEE_MAX_SMALL + 1};

/* Sizes around every class boundary, small ones, large ones with every
 * remainder, whole pages, special ones. */
static size_t take_size(reader *r) {
  unsigned a = byte(r), b = byte(r);
  switch (a >> 6) {
  case 0: { /* 2^k - 9 .. 2^k + 9 for k = 0 .. 15 */
    size_t base = (size_t)1 << (a & 15), d = b % 19;
    return base + d < 9 ? 0 : base + d - 9;
  }
  case 1:
    return (size_t)(a & 63) << 8 | b;
  case 2: { /* 1 .. 64 pages, +- up to 128 bytes */
    size_t pages = 1 + (a & 63);
    return b < 128 ? pages * PAGE + b : pages * PAGE - (b - 127);
  }
  default:
    /* 0 .. 104 KiB in steps of 13: every remainder of a large block's size */
    if (a & 32)
      return (size_t)((a & 31) << 8 | b) * 13;
    return (size_t)SPECIAL_SIZES[b % (sizeof SPECIAL_SIZES / sizeof SPECIAL_SIZES[0])];
  }
}

static const uint64_t ODD_ALIGNS[] = {0,
                                      3,
                                      24,
                                      48,
                                      3 * PAGE,
                                      0x80000000u,
                                      0x100000000ull,
                                      1ull << 40,
                                      SIZE_MAX,
                                      SIZE_MAX / 2 + 1,
                                      0x40000000u};

static size_t take_align(reader *r) {
  unsigned a = byte(r);
  if (a < 208)
    return (size_t)1 << (a % 24); /* 1 B .. 8 MiB */
  return (size_t)ODD_ALIGNS[a % (sizeof ODD_ALIGNS / sizeof ODD_ALIGNS[0])];
}

/* ---- The calls ------------------------------------------------------------------------------ */
static void do_malloc(slot *s, size_t n, int whole) {
  release(s);
  uint32_t d = src_stat.denied;
  errno = 0;
  unsigned char *p = A->malloc(n);
  if (!p)
    return accept_null(n, 0, d, "malloc");
  s->seed = next_seed++;
  accept_block(s, p, n, 16, FIT_EXACT, 0, whole, "malloc");
  fill(s, 0, s->len);
}

static void do_calloc(slot *s, unsigned shape, size_t n, int whole) {
  release(s);
  size_t count = 1 + shape % 16, size = n / count;
  if (shape >= 240)
    count = SIZE_MAX / 2 + 1, size = 2 + shape % 3; /* overflows */
  uint32_t d = src_stat.denied;
  errno = 0;
  unsigned char *p = A->calloc(count, size);
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    if (p || errno != ENOMEM)
      fail("calloc(%zu, %zu) overflows but gave %p, errno %d", count, size, (void *)p, errno);
    return;
  }
  if (!p)
    return accept_null(total, 0, d, "calloc");
  for (size_t i = 0; i < total; i++)
    if (p[i])
      fail("calloc(%zu, %zu) = 0x%x: byte %zu is 0x%02x", count, size, off(p), i, p[i]);
  s->seed = next_seed++;
  accept_block(s, p, total, 16, FIT_EXACT, 0, whole, "calloc");
  fill(s, 0, s->len);
}

static void do_memalign(slot *s, size_t align, size_t n, int whole) {
  release(s);
  uint32_t d = src_stat.denied;
  errno = 0;
  unsigned char *p = A->memalign(align, n);
  if (align & (align - 1)) {
    if (p || errno != EINVAL)
      fail("memalign(%zu, %zu): gave %p, errno %d; want NULL, EINVAL", align, n, (void *)p, errno);
    return;
  }
  if (!p)
    return accept_null(n, align, d, "memalign");
  s->seed = next_seed++;
  /* An alignment of 16 or less is malloc's. */
  accept_block(s, p, n, align < 16 ? 16 : align, align <= 16 ? FIT_EXACT : FIT_ALIGNED, 0, whole,
               "memalign");
  fill(s, 0, s->len);
}

static void do_realloc(slot *s, size_t n, int whole) {
  if (!s->p)
    return do_malloc(s, n, whole);
  verify(s, 0, s->len, "realloc");
  unsigned char *old = s->p;
  uint32_t d = src_stat.denied, used = A->heap_info()->used_bytes;
  errno = 0;
  unsigned char *q = A->realloc(old, n);
  if (!n) { /* realloc(p, 0) frees p and returns NULL */
    if (q)
      fail("realloc(0x%x, 0) returned 0x%x, not NULL", off(old), off(q));
    s->p = 0;
    return expect_rejected(old);
  }
  if (!q) {
    accept_null(n, 0, d, "realloc");
    return verify(s, 0, s->len, "failed realloc"); /* the old block stays */
  }
  size_t keep = s->len < n ? s->len : n;
  slot moved = *s;
  moved.p = q;
  verify(&moved, 0, keep, "realloc copy");
  s->p = 0; /* not live while its successor is checked */
  /* Only a large block can keep a size other than n .. n + 15 in place. */
  fit how = q == old && !is_small(s->u) ? FIT_IN_PLACE : FIT_EXACT;
  accept_block(&moved, q, n, 16, how, s->u, whole, "realloc");
  if (q != old) {
    /* A move holds both blocks for a moment. */
    if (used + moved.u > peak)
      peak = used + (uint32_t)moved.u;
    expect_rejected(old);
  }
  *s = moved;
  if (s->len > keep)
    fill(s, keep, s->len);
}

/* Someone else grows the memory: after the heap's first allocation, so that
 * the pages are not the heap's. */
static void foreign_grow(unsigned n) {
  uint32_t u = own_heap(A);
  if (u > peak)
    peak = u;
  src_foreign_grow(n);
}

/* Frees everything, trims, and expects every page the heap owns to be free
 * (zee_check() has counted the free pages against free_pages), with nothing
 * else left. */
static void drain(void) {
  for (unsigned i = 0; i < SLOTS; i++)
    release(&S[i]);
  A->trim();
  check_heap("freeing everything");
  check_totals();
  const zee_heap_info_t *h = A->heap_info();
  if (h->small_pages || h->large_pages || h->used_bytes || h->used_blocks || h->spare)
    fail("with nothing allocated and trimmed: %u small pages, %u large pages, %u bytes in %u "
         "blocks, spare 0x%x",
         h->small_pages, h->large_pages, h->used_bytes, h->used_blocks, h->spare);
  for (unsigned c = 0; c < ZEE_CLASSES; c++)
    if (h->lists[c] || h->mid_lists[c])
      fail("free list %u (small or mid pages) not empty with no small pages", c);
  if (h->free_pages != owned_pages(h))
    fail("%u free pages of the %u the heap owns after freeing everything", h->free_pages,
         owned_pages(h));
}

void harness_run(const uint8_t *data, size_t size, int config_override) {
  reader r = {data, data + size};
  unsigned c = byte(&r), cap = byte(&r), where = byte(&r), flags = byte(&r);
  A = &zee_apis[(config_override >= 0 ? (unsigned)config_override : c) % zee_api_count];
  src_options o = {0};
  o.base = PAGE * (1 + (where & 3)) + (where & 4 ? 16u * ((where >> 3) & 3) + 8 : 0);
  uint32_t start = (o.base + PAGE - 1) & ~(PAGE - 1);
  o.initial = start + PAGE * (where >> 5);
  o.cap = o.initial + PAGE * (2 + 2 * cap);
  o.junk = flags & 1;
  o.overcommit = (flags >> 1) & 3;
  o.fail_per_256 = (flags >> 3) & 7 ? 1u << ((flags >> 3) & 7) : 0;
  o.seed = (uint32_t)(c | cap << 8 | where << 16 | flags << 24);
  int whole = flags >> 6 & 1, paranoid = flags >> 7;
  op_index = 0;
  harness_fresh(A, &o);
  make_table();
  memset(S, 0, sizeof S);
  peak = 0;
  next_seed = (uint8_t)(c * 31 + 1);
  for (; r.p < r.end; op_index++) {
    unsigned op = byte(&r);
    slot *s = &S[byte(&r) % SLOTS];
    switch (op % 12) {
    case 0:
    case 1:
      do_malloc(s, take_size(&r), whole);
      break;
    case 2: {
      unsigned shape = byte(&r);
      do_calloc(s, shape, take_size(&r), whole);
      break;
    }
    case 3:
    case 4:
      do_realloc(s, take_size(&r), whole);
      break;
    case 5: {
      size_t al = take_align(&r);
      do_memalign(s, al, take_size(&r), whole);
      break;
    }
    case 6:
      release(s);
      break;
    case 7:
      probe(s, op >> 4, byte(&r));
      break;
    case 8:
      A->trim();
      break;
    case 9:
      foreign_grow(1 + byte(&r) % 4);
      break;
    case 10:
      src_fail_next(1 + byte(&r) % 3);
      break;
    default:
      for (unsigned i = op >> 4; i < SLOTS; i += 5)
        release(&S[i]);
      break;
    }
    harness_ops++;
    check_heap("the call");
    check_totals();
    verify_all(paranoid || op_index % 16 == 15);
  }
  verify_all(1);
  src_fail_next(0);
  drain();
  harness_refused += src_stat.denied;
  A = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  harness_run(data, size, -1);
  return 0;
}
