/*
 * The native harness: input bytes become a sequence of zee_alloc calls
 * (malloc, calloc, realloc, memalign/aligned_alloc, free, and probes with
 * interior pointers and with the addresses of free frames, free slots, slabs
 * and foreign blocks) with sizes across every frame class, around the slab,
 * rounding and pool limits, blocks of many pages with every remainder, and
 * sizes near SIZE_MAX, while the page source refuses growth at chosen points
 * and "someone else" grows the memory in between.  The rules it holds the
 * core to are those of heap layout 7 (docs/layout.md).  After every call:
 *   - zee_check() == 0 (the core's own whole-heap walk);
 *   - a new block is aligned, inside the heap, off foreign pages and clear of
 *     every live block (payload and header); its usable size is exactly
 *     roundup(n + 8, 16) - 8 for every call that gives one (malloc, calloc,
 *     realloc, aligned requests); its header says a slot exactly when that
 *     size is not a power of two, at most ZEE_SLAB_MAX, and the alignment
 *     is 16, and a slot lies in a slab of the size its slot size implies;
 *     the extent of a block (its power-of-two frame up to ZEE_ROUND_MAX, its
 *     exact size above) meets no other block's extent or slab;
 *   - realloc keeps a block in place when it must (a slot resized to its own
 *     slot size, a block shrunk within its extent to a size that is no slot
 *     size) and moves it when it must (a slot to another slot size, a block
 *     to a slot size);
 *   - calloc memory is zero, realloc kept the old bytes;
 *   - every live block still holds its own position-dependent pattern (its
 *     ends always; every byte, and its usable size, every few calls and at
 *     the end);
 *   - the running totals of zee_heap_info_t agree with the harness's record:
 *     live blocks, their usable bytes, the peak; the heap starts 16 bytes
 *     above __heap_base rounded to 16, and ends on a page boundary where the
 *     foreign memory above it (if any) begins;
 *   - a NULL comes with errno ENOMEM (EINVAL for a bad alignment) and is
 *     accounted for: growth was refused during the call, or the request
 *     could never fit under the memory cap;
 *   - in checked builds, a pointer just freed, an interior pointer of a live
 *     block, and the address of anything in the heap that is not a live
 *     block are rejected (ZEE_E_DOUBLE_FREE or ZEE_E_HEADER), naming that
 *     pointer and changing nothing;
 *   - every few calls, the harness walks the heap itself, header by header:
 *     it is tiled from heap_start to exactly heap_end by blocks in use,
 *     free frames, slabs and foreign blocks; the blocks in use and the
 *     slots in use are exactly the live blocks it holds; the foreign blocks
 *     cover exactly the memory someone else grew inside the heap;
 *   - the static data and foreign pages are untouched;
 *   - nothing initialises the heap before its first allocation; at the end,
 *     with everything freed, the heap holds nothing but free frames and
 *     foreign blocks, the free lists hold exactly those frames, no two of
 *     which could have merged (each free run is tiled by the fewest aligned
 *     frames), no slab is left, and one block takes the whole free run at
 *     the top of the heap while growth is refused.
 * Any failure prints what broke and aborts, which libFuzzer reports.
 *
 * Input format: 4 header bytes (config, memory cap, base and initial size,
 * source flags), then one opcode byte per call followed by its arguments.
 * The whole allocator state is the zee_heap_info_t that zee_heap_info()
 * points at (src/zee_alloc.c: `static zee_heap_info_t H`) plus the pool
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
  const zee_heap_info_t *n##_zee_heap_info(void);
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
   n##_zee_heap_info},
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
  int in_slab;      /* its header says a slot (ZEE_TAG_SLOT) */
  uint8_t seed;
} slot;

static const zee_api *A;
static slot S[SLOTS];
static unsigned op_index;
static uint8_t next_seed;
static uint32_t peak;                /* the highest used_bytes any call can have reached */
static zee_heap_info_t unused_state; /* the state block of a heap never used */

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

/* ---- The layout, as docs/layout.md states it -------------------------------------
 * Computed here from the documented rules, not taken from the core, so that
 * the core can't be checked against itself. */

/* The block of a request of n bytes: roundup(n + 8, 16) (0: it can't exist). */
static uint32_t block_of(size_t n) {
  return n > MAX_HEAP ? 0 : (uint32_t)((n + ZEE_META_SIZE + ZEE_GRANULE - 1) & ~(size_t)15);
}

static uint32_t pow2_at_least(uint32_t m) {
  return m <= ZEE_MIN_FRAME ? ZEE_MIN_FRAME : 1u << (32 - __builtin_clz(m - 1));
}

/* The bytes a block of m bytes occupies from its payload on. */
static uint32_t extent_of(uint32_t m) { return m > ZEE_ROUND_MAX ? m : pow2_at_least(m); }

/* A block of m bytes at alignment 16 is a slot in a slab. */
static int slab_sized(uint32_t m) { return m <= ZEE_SLAB_MAX && (m & (m - 1)); }

/* The slab of slots of m bytes: the power of two >= 4m, at least 512. */
static uint32_t slab_size(uint32_t m) {
  uint32_t s = pow2_at_least(m * ZEE_SLAB_SLOTS);
  return s < ZEE_SLAB_MIN ? ZEE_SLAB_MIN : s;
}

static uint32_t *word(uint32_t a) { return (uint32_t *)(void *)(zee_native_base + a); }

/* The info word of the header of payload a if it is sound (its check word
 * ties it to a), else 0 (no header has size 0). */
static uint32_t header(uint32_t a) {
  uint32_t info = word(a - ZEE_META_SIZE)[0];
  return word(a - ZEE_META_SIZE)[1] == (info ^ a ^ ZEE_SALT) ? info : 0;
}

/* Where the heap must begin: 16 bytes above the source's base rounded to 16. */
static uint32_t heap_base(void) { return ((zee_source_base() + 15) & ~15u) + ZEE_GRANULE; }

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
  unused_state = *h;
  /* Calls that allocate nothing must leave the heap uninitialised. */
  api->heap_info();
  api->free(NULL);
  if (api->usable_size(NULL))
    fail("%s: malloc_usable_size(NULL) is not 0", api->name);
  if (api->check())
    fail("%s: zee_check() = %d on a heap never used", api->name, api->check());
  if (memcmp(h, &unused_state, sizeof *h) || src_stat.grows)
    fail("%s: the heap was initialised (start 0x%x, end 0x%x, %u grows) before its first "
         "allocation",
         api->name, h->heap_start, h->heap_end, src_stat.grows);
}

/* Makes sure the first allocation has happened, so that the memory above
 * the base is the heap's and memory grown after it is someone else's.
 * Returns the usable size of the block it allocated (0: none); the heap
 * stays uninitialised if its first growth was refused. */
static uint32_t own_heap(const zee_api *api) {
  const zee_heap_info_t *h = api->heap_info();
  if (h->heap_start)
    return 0;
  unsigned char *p = api->malloc(0);
  uint32_t u = p ? (uint32_t)api->usable_size(p) : 0;
  api->free(p);
  if (h->heap_start ? h->heap_start != heap_base() : !!p)
    fail("%s: the first allocation set heap_start 0x%x, not 0x%x", api->name, h->heap_start,
         heap_base());
  return u;
}

/* The live block whose payload is at o, or 0. */
static slot *live_at(uint32_t o) {
  for (unsigned i = 0; i < SLOTS; i++)
    if (S[i].p && off(S[i].p) == o)
      return &S[i];
  return 0;
}

static unsigned live_count(void) {
  unsigned n = 0;
  for (unsigned i = 0; i < SLOTS; i++)
    n += !!S[i].p;
  return n;
}

/* ---- The harness's own walk of the heap ------------------------------------------
 * One tile per header, from heap_start to heap_end: blocks in use (ZEE_TAG_USED,
 * `size` their extent), free frames, slabs and foreign blocks; the slots of a
 * slab are reported after it as tiles of their own (ZEE_TAG_SLOT or
 * ZEE_TAG_SLOT_FREE), which the walk does not step over. */
typedef struct tile {
  uint32_t at, size, tag;
} tile;
typedef void (*tile_fn)(const tile *t, void *ctx);

static void walk_slab(const char *when, uint32_t b, uint32_t size, tile_fn fn, void *ctx,
                      unsigned *found) {
  uint32_t first = header(b + ZEE_SLAB_META + ZEE_META_SIZE), m = first & ~ZEE_TAG_MASK, used = 0;
  if (size > PAGE / 2 || (size & (size - 1)) || b % size || !slab_sized(m) || slab_size(m) != size)
    fail("%s: slab at 0x%x of %u bytes: not a power-of-two frame aligned to its size that "
         "slab_size(%u) gives",
         when, b, size, m);
  for (uint32_t s = b + ZEE_SLAB_META + ZEE_META_SIZE; s + m <= b + size; s += m) {
    uint32_t info = header(s);
    if (info != (m | ZEE_TAG_SLOT) && info != (m | ZEE_TAG_SLOT_FREE))
      fail("%s: slot 0x%x of the slab at 0x%x: header 0x%x, not a slot of %u bytes", when, s, b,
           info, m);
    if (info == (m | ZEE_TAG_SLOT)) {
      slot *l = live_at(s);
      if (!l || !l->in_slab || l->u + ZEE_META_SIZE != m)
        fail("%s: slot 0x%x (%u bytes) in use, but the harness holds no such slot", when, s, m);
      used++, (*found)++;
    }
    tile t = {s, m, info & ZEE_TAG_MASK};
    if (fn)
      fn(&t, ctx);
  }
  if (!used || word(b)[2] != used)
    fail("%s: slab at 0x%x counts %u slots in use, holds %u", when, b, word(b)[2], used);
}

/* Walks the heap, checking each tile against the layout and the harness's
 * record, and calls fn (if any) for each. */
static void walk_heap(const char *when, tile_fn fn, void *ctx) {
  const zee_heap_info_t *h = A->heap_info();
  unsigned found = 0;
  uint32_t foreign = 0;
  if (!h->heap_start)
    return;
  if (word(h->heap_end - ZEE_META_SIZE)[0])
    fail("%s: the word at heap_end - 8 is 0x%x, not 0", when, word(h->heap_end - ZEE_META_SIZE)[0]);
  for (uint32_t at = h->heap_start; at < h->heap_end;) {
    uint32_t info = header(at), size = info & ~ZEE_TAG_MASK, tag = info & ZEE_TAG_MASK, step = size;
    if (!size)
      fail("%s: no sound header at 0x%x (walking from heap_start 0x%x)", when, at, h->heap_start);
    if (tag == ZEE_TAG_USED) {
      slot *l = live_at(at);
      if (!l || l->in_slab || l->u + ZEE_META_SIZE != size)
        fail("%s: a block in use at 0x%x (%u bytes) that the harness does not hold", when, at,
             size);
      found++;
      step = extent_of(size);
    } else if (tag == ZEE_TAG_FREE) {
      if ((size & (size - 1)) || at % size)
        fail("%s: free frame at 0x%x of %u bytes: not a power of two aligned to its size", when, at,
             size);
    } else if (tag == ZEE_TAG_FOREIGN) {
      uint32_t grown = size - ZEE_GRANULE;
      if (at % PAGE || !grown || (at + grown) % PAGE || !src_foreign_between(at, at + 1) ||
          src_foreign_between(at, at + grown) != grown)
        fail("%s: foreign block at 0x%x of %u bytes does not cover exactly foreign memory and 16 "
             "bytes",
             when, at, size);
      foreign += grown;
    } else if (tag != ZEE_TAG_SLAB) {
      fail("%s: header 0x%x at 0x%x: no block, free frame, slab or foreign block", when, info, at);
    }
    if (step > h->heap_end - at)
      fail("%s: the tile at 0x%x (%u bytes) reaches past heap_end 0x%x", when, at, step,
           h->heap_end);
    tile t = {at, step, tag};
    if (fn)
      fn(&t, ctx);
    if (tag == ZEE_TAG_SLAB)
      walk_slab(when, at, size, fn, ctx, &found);
    at += step;
  }
  if (found != live_count())
    fail("%s: the walk found %u of the %u live blocks", when, found, live_count());
  if (foreign != src_foreign_between(h->heap_start, h->heap_end))
    fail("%s: foreign blocks cover %u bytes; %u bytes of the heap's range were grown by someone "
         "else",
         when, foreign, src_foreign_between(h->heap_start, h->heap_end));
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
  if (full)
    walk_heap("walk", 0, 0);
}

static void check_heap(const char *after) {
  int r = A->check();
  if (r)
    fail("zee_check() = %d after %s", r, after);
}

/* The running totals against the live blocks the harness holds, and the
 * heap's bounds against the memory. */
static void check_totals(void) {
  const zee_heap_info_t *h = A->heap_info();
  uint32_t blocks = 0;
  uint64_t bytes = 0;
  for (unsigned i = 0; i < SLOTS; i++) {
    if (!S[i].p)
      continue;
    blocks++;
    bytes += S[i].u;
  }
  if (h->used_blocks != blocks || h->used_bytes != bytes)
    fail("running totals: %u blocks of %u bytes; %u live blocks hold %llu", h->used_blocks,
         h->used_bytes, blocks, (unsigned long long)bytes);
  if (h->used_bytes > peak)
    peak = h->used_bytes;
  if (h->peak_bytes != peak)
    fail("running totals: peak %u bytes, want %u", h->peak_bytes, peak);
  if (!h->heap_start) {
    if (memcmp(h, &unused_state, sizeof *h))
      fail("heap_start is 0, but the state block changed (heap_end 0x%x, cursor 0x%x, %u blocks)",
           h->heap_end, h->cursor, h->used_blocks);
    return;
  }
  uint32_t committed = src_committed();
  if (h->heap_start != heap_base() || h->heap_end % PAGE || h->heap_end <= h->heap_start ||
      h->heap_end > committed)
    fail("heap [0x%x, 0x%x): not from 0x%x to a page boundary within the 0x%x committed bytes",
         h->heap_start, h->heap_end, heap_base(), committed);
  /* Every growth of the heap takes all the memory there is, so above its
   * end lies only what someone else grew since. */
  if (src_foreign_between(h->heap_end, committed) != committed - h->heap_end)
    fail("heap_end 0x%x: the memory up to 0x%x is not all foreign, yet not the heap's", h->heap_end,
         committed);
}

/* ---- A new block -------------------------------------------------------------------- */

/* Block o of usable size u for a request of n bytes aligned to `align` (16
 * for malloc, calloc and realloc) against the rules of the layout. */
static void check_fit(uint32_t o, size_t u, size_t n, size_t align, const char *what) {
  uint32_t m = block_of(n), info = header(o);
  int want_slot = align <= ZEE_GRANULE && slab_sized(m);
  if (o % ZEE_GRANULE || (uint64_t)o % align)
    fail("%s(%zu, align %zu) = 0x%x: misaligned", what, n, align, o);
  if (u != m - ZEE_META_SIZE)
    fail("%s(%zu) = 0x%x: usable size %zu, want %u (a block of roundup(n + 8, 16) = %u bytes)",
         what, n, o, u, m - ZEE_META_SIZE, m);
  if (info != (m | (want_slot ? ZEE_TAG_SLOT : ZEE_TAG_USED)))
    fail("%s(%zu, align %zu) = 0x%x: header 0x%x, want a %s of %u bytes", what, n, align, o, info,
         want_slot ? "slot" : "block", m);
}

/* What a live block holds from its payload on, [*from, *to): a block its
 * extent, a slot its slab (whose header is at *from - 8). */
static void claim(const slot *s, uint32_t *from, uint32_t *to) {
  uint32_t o = off(s->p), m = (uint32_t)s->u + ZEE_META_SIZE;
  if (s->in_slab) {
    uint32_t size = slab_size(m);
    *from = o & -size;
    *to = *from + size;
  } else {
    *from = o;
    *to = o + extent_of(m);
  }
}

static void accept_block(slot *s, unsigned char *p, size_t n, size_t align, int whole,
                         const char *what) {
  uint32_t o = off(p), from, to;
  const zee_heap_info_t *h = A->heap_info();
  /* Before malloc_usable_size(p), which would fault (or read wild memory). */
  if (o < h->heap_start || o >= h->heap_end)
    fail("%s(%zu) = 0x%x: not inside the heap [0x%x, 0x%x)", what, n, o, h->heap_start,
         h->heap_end);
  size_t u = A->usable_size(p);
  check_fit(o, u, n, align, what);
  slot fresh = {p, 0, u, (header(o) & ZEE_TAG_MASK) == ZEE_TAG_SLOT, 0};
  claim(&fresh, &from, &to);
  uint32_t m = (uint32_t)u + ZEE_META_SIZE;
  if (fresh.in_slab &&
      (header(from) != (slab_size(m) | ZEE_TAG_SLAB) || o < from + ZEE_SLAB_META + ZEE_META_SIZE ||
       (o - from - ZEE_SLAB_META - ZEE_META_SIZE) % m || o + m > to))
    fail("%s(%zu) = 0x%x: a slot of %u bytes, but not one of a slab of %u bytes at 0x%x", what, n,
         o, m, slab_size(m), from);
  if (from < h->heap_start || to > h->heap_end ||
      !src_heap_range(from - ZEE_META_SIZE, (uint64_t)(to - from) + ZEE_META_SIZE))
    fail("%s(%zu) = 0x%x: [0x%x, 0x%x) is outside the heap or on foreign pages", what, n, o, from,
         to);
  for (unsigned i = 0; i < SLOTS; i++) {
    if (!S[i].p || &S[i] == s)
      continue;
    uint32_t q = off(S[i].p), qf, qt;
    size_t qu = S[i].u;
    /* [p-8, p+usable) holds the block's header and payload: no two may meet. */
    if (o - 8 < q + qu && q - 8 < o + u)
      fail("%s(%zu) = 0x%x+%zu overlaps live 0x%x+%zu", what, n, o, u, q, qu);
    /* Nor may extents and slabs, which free() gives back whole; slots share
     * their slab. */
    claim(&S[i], &qf, &qt);
    if (from < qt && qf < to && !(fresh.in_slab && S[i].in_slab && from == qf && to == qt))
      fail("%s(%zu) = 0x%x holds [0x%x, 0x%x), which meets [0x%x, 0x%x) of live 0x%x", what, n, o,
           from, to, qf, qt, q);
  }
  s->p = p;
  s->u = u;
  s->in_slab = fresh.in_slab;
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
 * data, a header buried by a merge, or a stale slot header of a slab freed
 * before, never a header of a live block. */
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

/* The addresses in the heap that are no live block, and the fault each must
 * get: free frames and free slots were freed (ZEE_E_DOUBLE_FREE); slabs and
 * foreign blocks never were blocks (ZEE_E_HEADER). */
#define MAX_CANDIDATES 4096
typedef struct candidates {
  uint32_t at[MAX_CANDIDATES + 2];
  int code[MAX_CANDIDATES + 2];
  unsigned n;
} candidates;

static void collect(const tile *t, void *ctx) {
  candidates *c = ctx;
  if (t->tag == ZEE_TAG_USED || t->tag == ZEE_TAG_SLOT || c->n == MAX_CANDIDATES)
    return;
  c->at[c->n] = t->at;
  c->code[c->n++] =
      t->tag == ZEE_TAG_FREE || t->tag == ZEE_TAG_SLOT_FREE ? ZEE_E_DOUBLE_FREE : ZEE_E_HEADER;
}

/* Passes one of those addresses (or one just outside the heap) to a checked call. */
static void probe_structure(unsigned which, unsigned pick) {
  static candidates c;
  const zee_heap_info_t *h = A->heap_info();
  if (!A->validation || !h->heap_start)
    return;
  c.n = 0;
  walk_heap("a structure probe", collect, &c);
  c.at[c.n] = h->heap_start - ZEE_GRANULE, c.code[c.n++] = ZEE_E_POINTER;
  c.at[c.n] = h->heap_end, c.code[c.n++] = ZEE_E_POINTER;
  unsigned i = pick % c.n;
  uint32_t at = c.at[i];
  const char *what = c.code[i] == ZEE_E_POINTER  ? "an address just outside the heap"
                     : c.code[i] == ZEE_E_HEADER ? "a slab or a foreign block"
                                                 : "a free frame or a free slot";
  expect_fault(zee_native_base + at, which % 3, c.code[i], c.code[i], what);
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

/* Sizes on both sides of the layout's limits (a block of m = roundup(n + 8,
 * 16) bytes: n = m - 8 is the largest request of m bytes), and sizes no heap
 * can hold. */
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
                                         ZEE_SLAB_MAX - ZEE_META_SIZE - 1,
                                         ZEE_SLAB_MAX - ZEE_META_SIZE,
                                         ZEE_SLAB_MAX - ZEE_META_SIZE + 1,
                                         ZEE_ROUND_MAX - ZEE_META_SIZE - 1,
                                         ZEE_ROUND_MAX - ZEE_META_SIZE,
                                         ZEE_ROUND_MAX - ZEE_META_SIZE + 1,
                                         ZEE_POOL_MIN - ZEE_META_SIZE + 16,
                                         ZEE_SLAB_MIN / ZEE_SLAB_SLOTS - ZEE_META_SIZE,
                                         ZEE_SLAB_MIN / ZEE_SLAB_SLOTS - ZEE_META_SIZE + 1,
                                         PAGE - ZEE_META_SIZE - 16,
                                         2 * PAGE - ZEE_META_SIZE,
                                         2 * PAGE - ZEE_META_SIZE + 1};

/* Sizes around every class boundary, small ones, blocks of many pages with
 * every remainder, whole pages, special ones. */
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
    /* 0 .. 104 KiB in steps of 13: every remainder of a block's size */
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
  accept_block(s, p, n, 16, whole, "malloc");
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
  accept_block(s, p, total, 16, whole, "calloc");
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
  accept_block(s, p, n, align < 16 ? 16 : align, whole, "memalign");
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
  /* A slot keeps its place for its own slot size only, and moves for any
   * other; a block shrinks in place within its extent, and moves to become
   * a slot (docs/layout.md, "Slabs" and "Placing an exact block"). */
  uint32_t m0 = (uint32_t)s->u + ZEE_META_SIZE, m = block_of(n);
  int must_stay = s->in_slab ? m == m0 : !slab_sized(m) && extent_of(m) <= extent_of(m0);
  int must_move = s->in_slab ? m != m0 : slab_sized(m);
  if (q == old && must_move)
    fail("realloc(0x%x, %zu): a %s of %u bytes kept its place as %u bytes", off(old), n,
         s->in_slab ? "slot" : "block", m0, m);
  if (q != old && must_stay)
    fail("realloc(0x%x, %zu): a %s of %u bytes moved to 0x%x instead of being resized in place",
         off(old), n, s->in_slab ? "slot" : "block", m0, off(q));
  s->p = 0; /* not live while its successor is checked */
  accept_block(&moved, q, n, 16, whole, "realloc");
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
 * the pages are not the heap's (if that allocation's growth was refused,
 * the heap would own them when it starts: no growth then). */
static void foreign_grow(unsigned n) {
  uint32_t u = own_heap(A);
  if (u > peak)
    peak = u;
  if (A->heap_info()->heap_start)
    src_foreign_grow(n);
}

/* ---- The heap with nothing allocated ------------------------------------------------------ */
#define MAX_TILES 16384
typedef struct tiles {
  tile t[MAX_TILES];
  unsigned n;
} tiles;

static void keep_tile(const tile *t, void *ctx) {
  tiles *f = ctx;
  if (f->n == MAX_TILES)
    fail("more than %u free frames with nothing allocated", MAX_TILES);
  f->t[f->n++] = *t;
}

/* The tile that starts at `at` (tiles are in address order), or -1. */
static int tile_at(const tiles *f, uint32_t at) {
  unsigned lo = 0, hi = f->n;
  while (lo < hi) {
    unsigned mid = (lo + hi) / 2;
    if (f->t[mid].at < at)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < f->n && f->t[lo].at == at ? (int)lo : -1;
}

/* With nothing allocated, the heap holds only free frames and foreign
 * blocks; each free run between them is tiled by frames no two of which
 * could have merged (no frame's buddy lies in its run); the free lists hold
 * exactly those frames, once each, with sound back links; no slab is left.
 * With `take_top`, one block then takes the whole free run at the top of the
 * heap while growth is refused, and giving it back restores all that. */
static void check_empty(const char *when, int take_top) {
  static tiles F;
  static uint8_t listed[MAX_TILES];
  const zee_heap_info_t *h = A->heap_info();
  check_heap(when);
  check_totals();
  if (h->used_bytes || h->used_blocks)
    fail("%s: %u bytes in %u blocks are in use", when, h->used_bytes, h->used_blocks);
  for (unsigned i = 0; i < ZEE_SLAB_LISTS; i++)
    if (h->slabs[i])
      fail("%s: the list of slabs of %u-byte slots holds 0x%x", when, i * 16, h->slabs[i]);
  if (!h->heap_start)
    return;
  F.n = 0;
  walk_heap(when, keep_tile, &F);
  unsigned frames = 0;
  uint32_t top = h->heap_start; /* where the free run at the top of the heap starts */
  for (unsigned i = 0; i < F.n;) {
    if (F.t[i].tag == ZEE_TAG_FOREIGN) {
      top = F.t[i].at + F.t[i].size;
      i++;
      continue;
    }
    if (F.t[i].tag != ZEE_TAG_FREE)
      fail("%s: a tile with tag %u at 0x%x", when, F.t[i].tag, F.t[i].at);
    unsigned last = i; /* the free run is tiles i .. last */
    while (last + 1 < F.n && F.t[last + 1].tag == ZEE_TAG_FREE)
      last++;
    uint32_t run = F.t[i].at, end = F.t[last].at + F.t[last].size;
    for (; i <= last; i++) {
      const tile *t = &F.t[i];
      uint32_t buddy = t->at ^ t->size, lo = buddy < t->at ? buddy : t->at;
      if (lo >= run && (uint64_t)lo + 2ull * t->size <= end)
        fail("%s: the free frame of %u bytes at 0x%x and its buddy 0x%x lie in one free run "
             "[0x%x, 0x%x): they could have merged",
             when, t->size, t->at, buddy, run, end);
      frames++;
    }
  }
  memset(listed, 0, F.n);
  unsigned on_lists = 0;
  for (unsigned c = 0; c < ZEE_CLASSES + ZEE_POOL_CLASSES; c++) {
    uint32_t size = ZEE_MIN_FRAME << (c % ZEE_CLASSES);
    uint32_t head = c < ZEE_CLASSES ? h->lists[c] : h->mid_lists[c - ZEE_CLASSES];
    for (uint32_t f = head, prev = 0; f; prev = f, f = word(f)[0]) {
      int j = tile_at(&F, f);
      if (j < 0 || F.t[j].tag != ZEE_TAG_FREE || F.t[j].size != size || listed[j]++)
        fail("%s: the %s list of %u-byte frames holds 0x%x: not a free frame of that size, or "
             "listed twice",
             when, c < ZEE_CLASSES ? "small pool's (or common)" : "mid pool's", size, f);
      if (word(f)[1] != prev)
        fail("%s: free frame 0x%x links back to 0x%x, not 0x%x", when, f, word(f)[1], prev);
      on_lists++;
    }
  }
  if (on_lists != frames)
    fail("%s: the free lists hold %u frames; the heap has %u", when, on_lists, frames);
  if (!take_top)
    return;
  /* Growth refused: the request must be served from the free frames that
   * can hold it, of the other pool if need be (docs/layout.md). */
  uint32_t n = h->heap_end - top - ZEE_META_SIZE;
  src_fail_next(~0u);
  errno = 0;
  unsigned char *p = A->malloc(n);
  src_fail_next(0);
  if (!p)
    fail("%s: malloc(%u), the free run [0x%x, 0x%x) at the top of the heap, gave NULL with growth "
         "refused",
         when, n, top, h->heap_end);
  slot *s = &S[0];
  s->seed = next_seed++;
  accept_block(s, p, n, 16, 0, "malloc");
  s->len = s->len < 4096 ? s->len : 4096;
  fill(s, 0, s->len);
  check_heap("taking the top of the heap");
  check_totals();
  release(s);
  check_empty("giving the top of the heap back", 0);
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
    case 8: {
      unsigned lo = byte(&r);
      probe_structure(op >> 4, lo | byte(&r) << 8);
      break;
    }
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
  for (unsigned i = 0; i < SLOTS; i++)
    release(&S[i]);
  check_empty("freeing everything", 1);
  harness_refused += src_stat.denied;
  A = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  harness_run(data, size, -1);
  return 0;
}
