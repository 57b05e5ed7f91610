/*
 * The native harness: input bytes become a sequence of zee_alloc calls
 * (malloc, calloc, realloc, memalign/aligned_alloc, free, trim) with sizes
 * across every frame class, jumbo sizes and sizes near SIZE_MAX, while the
 * page source refuses growth at chosen points and "someone else" grows the
 * memory in between.  After every call it checks:
 *   - zee_check() == 0 (the whole-heap walk);
 *   - a new block is aligned, inside the heap, off foreign pages, clear of
 *     every live block (payload and metadata), with a plausible usable size;
 *   - calloc memory is zero, realloc kept the old bytes;
 *   - every live block still holds its own position-dependent pattern
 *     (ends always; every byte every few calls and at the end);
 *   - a NULL comes with errno ENOMEM (EINVAL for a bad alignment) and is
 *     accounted for: growth was refused during the call, or the request
 *     could never fit under the memory cap;
 *   - in checked builds, a pointer just freed is rejected if passed again;
 *   - the static data and foreign pages are untouched;
 *   - at the end, with everything freed and trimmed, coalescing builds give
 *     every page back to the free spans.
 * Any failure prints what broke and aborts, which libFuzzer reports.
 *
 * Input format: 4 header bytes (config, memory cap, base and initial size,
 * source flags), then one opcode byte per call followed by its arguments.
 * The whole allocator state is the zee_heap_info_t that zee_heap_info()
 * points at (src/zee_alloc.c: `static zee_heap_info_t H`), so restoring its
 * initial value over a fresh arena gives each input a fresh allocator.
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
#define MAX_JUMBO 0xffff0000u
#define SLOTS 48

/* ---- The builds of the core, one per line of configs.h ---------------------- */
#define DECLARE(n, v, j, b, s, c)                               \
  void *n##_zee_malloc(size_t);                                 \
  void n##_zee_free(void *);                                    \
  void *n##_zee_calloc(size_t, size_t);                         \
  void *n##_zee_realloc(void *, size_t);                        \
  void *n##_zee_memalign(size_t, size_t);                       \
  size_t n##_zee_usable_size(void *);                           \
  int n##_zee_check(void);                                      \
  const zee_heap_info_t *n##_zee_heap_info(void);               \
  void n##_zee_trim(void);
ZEE_NATIVE_CONFIGS(DECLARE)
#define ENTRY(n, v, j, b, s, c)                                                     \
  {#n, v | j << 4 | b << 8 | s << 12 | c << 16, v, n##_zee_malloc, n##_zee_free,              \
   n##_zee_calloc, n##_zee_realloc, n##_zee_memalign, n##_zee_usable_size,         \
   n##_zee_check, n##_zee_heap_info, n##_zee_trim},
const zee_api zee_apis[] = {ZEE_NATIVE_CONFIGS(ENTRY)};
const unsigned zee_api_count = sizeof zee_apis / sizeof zee_apis[0];

uint64_t harness_ops, harness_nulls, harness_refused;
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
  uint8_t seed;
} slot;

static const zee_api *A;
static slot S[SLOTS];
static unsigned op_index;
static uint8_t next_seed;

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

static uint32_t off(const void *p) { return (uint32_t)((const unsigned char *)p - zee_native_base); }

void harness_fresh(const zee_api *api, const src_options *o) {
  zee_heap_info_t *h = (zee_heap_info_t *)api->heap_info();
  if (h->magic != ZEE_INFO_MAGIC || h->config != api->config)
    fail("%s reports config 0x%x, expected 0x%x: build options mismatch", api->name,
         h->config, api->config);
  src_reset(o);
  memset(h, 0, sizeof *h);
  h->magic = ZEE_INFO_MAGIC;
  h->layout = ZEE_LAYOUT_VERSION;
  h->config = api->config;
  api->heap_info(); /* init now: memory grown later is someone else's */
}

/* ---- Patterns -------------------------------------------------------------------
 * Block bytes come from a fixed pseudo-random table with a prime period, at
 * an offset that depends on the block's seed: a block moved by the wrong
 * offset (even by whole pages) or mixed with another block is caught, and
 * whole ranges are checked with memcmp (fast under ASan). */
#define PERIOD 65521u
static uint8_t T[PERIOD];

static void make_table(void) {
  if (T[0] | T[1]) return;
  uint32_t x = 0x2545f491u;
  for (unsigned i = 0; i < PERIOD; i++) x = x * 1103515245u + 12345u, T[i] = (uint8_t)(x >> 23) | 1;
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

/* Ends of every block after every call; every byte when `full`. */
static void verify_all(int full) {
  for (unsigned i = 0; i < SLOTS; i++) {
    slot *s = &S[i];
    if (!s->p) continue;
    if (full || s->len <= 32) verify(s, 0, s->len, "check");
    else verify(s, 0, 16, "check"), verify(s, s->len - 16, s->len, "check");
  }
  if (full && src_verify()) fail("static data or foreign pages were written");
}

static void check_heap(const char *after) {
  int r = A->check();
  if (r) fail("zee_check() = %d after %s", r, after);
}

/* ---- A new block -------------------------------------------------------------------- */
static void accept_block(slot *s, unsigned char *p, size_t n, size_t align, int whole, const char *what) {
  uint32_t o = off(p);
  if (o % 16 || (align > 16 && align <= MAX_JUMBO && o % align))
    fail("%s(%zu, align %zu) = 0x%x: misaligned", what, n, align, o);
  size_t u = A->usable_size(p);
  if (u < n) fail("%s(%zu) = 0x%x: usable size %zu too small", what, n, o, u);
  if (u < PAGE - 8 ? (((u + 8) & (u + 7)) || o % (u + 8)) : (u % PAGE || o % PAGE))
    fail("%s(%zu) = 0x%x: usable size %zu is neither a frame nor whole pages", what, n, o, u);
  if (!src_heap_range(o - 8, (uint64_t)u + 8))
    fail("%s(%zu) = 0x%x+%zu: outside the heap or on foreign pages", what, n, o, u);
  /* [p-8, p+usable) holds the block's metadata and payload: no two may meet. */
  for (unsigned i = 0; i < SLOTS; i++) {
    if (!S[i].p || &S[i] == s) continue;
    uint32_t q = off(S[i].p);
    size_t qu = A->usable_size(S[i].p);
    if (o - 8 < q + qu && q - 8 < o + u)
      fail("%s(%zu) = 0x%x+%zu overlaps live 0x%x+%zu", what, n, o, u, q, qu);
  }
  s->p = p;
  s->len = whole ? u : n;
  if (s->len > (8u << 20)) s->len = n; /* keep huge blocks cheap to pattern */
}

/* A NULL is fine only with the right errno and a reason. */
static void accept_null(size_t n, size_t align, uint32_t denied_before, const char *what) {
  if (errno != ENOMEM) fail("%s(%zu, align %zu) = NULL with errno %d, not ENOMEM", what, n, align, errno);
  uint64_t need; /* n plus the alignment slack; a sum past 2^64 never fits */
  if (__builtin_add_overflow((uint64_t)n, (uint64_t)(align > PAGE ? align : 0), &need)) need = UINT64_MAX;
  if (src_stat.denied == denied_before && need <= src_cap())
    fail("%s(%zu, align %zu) = NULL, but no growth was refused and it fits the %u-byte cap",
         what, n, align, src_cap());
  harness_nulls++;
}

/* In checked builds, a pointer just freed must be rejected when passed again. */
static void expect_rejected(unsigned char *p) {
  if (!A->validation) return;
  int code = setjmp(harness_fault_jmp);
  if (!code) {
    harness_expect_fault = 1;
    A->usable_size(p);
    harness_expect_fault = 0;
    fail("malloc_usable_size(0x%x) accepted a block just freed", off(p));
  }
  if (code != ZEE_E_DOUBLE_FREE && code != ZEE_E_HEADER)
    fail("a pointer just freed (0x%x) gave fault %d", off(p), code);
  if (harness_fault_ptr != p) fail("fault reported 0x%x, not 0x%x", off(harness_fault_ptr), off(p));
}

static void release(slot *s) {
  if (!s->p) return;
  verify(s, 0, s->len, "free");
  unsigned char *p = s->p;
  A->free(p);
  s->p = 0;
  expect_rejected(p);
}

/* ---- Reading the input ------------------------------------------------------------------ */
typedef struct reader { const uint8_t *p, *end; } reader;
static unsigned byte(reader *r) { return r->p < r->end ? *r->p++ : 0; }

static const uint64_t SPECIAL_SIZES[] = {
    0, 1, 8, 9, 24, 25, 32759, 32760, 32761, 32768, 65528, 65536, 65537,
    MAX_JUMBO - 1, MAX_JUMBO, MAX_JUMBO + 1ull, 0xfffffff8u, 0xffffffffu, 0x100000000ull,
    0x7fffffffu, 0x80000000u, SIZE_MAX, SIZE_MAX - 7, SIZE_MAX / 2 + 1, 40u << 20};

/* Sizes around every class boundary, small ones, jumbo ones, special ones. */
static size_t take_size(reader *r) {
  unsigned a = byte(r), b = byte(r);
  switch (a >> 6) {
  case 0: { /* 2^k - 9 .. 2^k + 9 for k = 0 .. 15 */
    size_t base = (size_t)1 << (a & 15), d = b % 19;
    return base + d < 9 ? 0 : base + d - 9;
  }
  case 1: return (size_t)(a & 63) << 8 | b;
  case 2: { /* 1 .. 64 pages, +- up to 128 bytes */
    size_t pages = 1 + (a & 63);
    return b < 128 ? pages * PAGE + b : pages * PAGE - (b - 127);
  }
  default: return (size_t)SPECIAL_SIZES[b % (sizeof SPECIAL_SIZES / sizeof SPECIAL_SIZES[0])];
  }
}

static const uint64_t ODD_ALIGNS[] = {0, 3, 24, 48, 3 * PAGE, 0x80000000u, 0x100000000ull,
                                      1ull << 40, SIZE_MAX, SIZE_MAX / 2 + 1};

static size_t take_align(reader *r) {
  unsigned a = byte(r);
  if (a < 208) return (size_t)1 << (a % 24); /* 1 B .. 8 MiB */
  return (size_t)ODD_ALIGNS[a % (sizeof ODD_ALIGNS / sizeof ODD_ALIGNS[0])];
}

/* ---- The calls ------------------------------------------------------------------------------ */
static void do_malloc(slot *s, size_t n, int whole) {
  release(s);
  uint32_t d = src_stat.denied;
  errno = 0;
  unsigned char *p = A->malloc(n);
  if (!p) return accept_null(n, 0, d, "malloc");
  s->seed = next_seed++;
  accept_block(s, p, n, 16, whole, "malloc");
  fill(s, 0, s->len);
}

static void do_calloc(slot *s, unsigned shape, size_t n, int whole) {
  release(s);
  size_t count = 1 + shape % 16, size = n / count;
  if (shape >= 240) count = SIZE_MAX / 2 + 1, size = 2 + shape % 3; /* overflows */
  uint32_t d = src_stat.denied;
  errno = 0;
  unsigned char *p = A->calloc(count, size);
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    if (p || errno != ENOMEM) fail("calloc(%zu, %zu) overflows but gave %p, errno %d", count, size, (void *)p, errno);
    return;
  }
  if (!p) return accept_null(total, 0, d, "calloc");
  for (size_t i = 0; i < total; i++)
    if (p[i]) fail("calloc(%zu, %zu) = 0x%x: byte %zu is 0x%02x", count, size, off(p), i, p[i]);
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
    if (p || errno != EINVAL) fail("memalign(%zu, %zu): gave %p, errno %d; want NULL, EINVAL", align, n, (void *)p, errno);
    return;
  }
  if (!p) return accept_null(n, align, d, "memalign");
  s->seed = next_seed++;
  accept_block(s, p, n, align, whole, "memalign");
  fill(s, 0, s->len);
}

static void do_realloc(slot *s, size_t n, int whole) {
  if (!s->p) return do_malloc(s, n, whole);
  verify(s, 0, s->len, "realloc");
  unsigned char *old = s->p;
  uint32_t d = src_stat.denied;
  errno = 0;
  unsigned char *q = A->realloc(old, n);
  if (!n) { /* realloc(p, 0) frees p and returns NULL */
    if (q) fail("realloc(0x%x, 0) returned 0x%x, not NULL", off(old), off(q));
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
  accept_block(&moved, q, n, 16, whole, "realloc");
  if (q != old) expect_rejected(old);
  *s = moved;
  if (s->len > keep) fill(s, keep, s->len);
}

/* Frees everything, then: in coalescing builds, after trim, every page must
 * be a free span again (H.pages empty, free lists empty, spans = heap). */
static void drain(void) {
  for (unsigned i = 0; i < SLOTS; i++) release(&S[i]);
  A->trim();
  check_heap("freeing everything");
  if (!(A->config >> 8 & 1)) return;
  const zee_heap_info_t *h = A->heap_info();
  if (h->pages) fail("small page 0x%x still listed with nothing allocated", h->pages);
  for (unsigned c = 0; c < ZEE_CLASSES; c++)
    if (h->lists[c]) fail("free list %u not empty with no small pages", c);
  uint32_t span_bytes = 0;
  for (uint32_t sp = h->spans; sp; sp = ((uint32_t *)(zee_native_base + sp))[2])
    span_bytes += ((uint32_t *)(zee_native_base + sp))[1] * PAGE;
  uint32_t owned = h->heap_end - h->heap_start - src_foreign_between(h->heap_start, h->heap_end);
  if (span_bytes != owned)
    fail("free spans hold %u of the heap's %u bytes after freeing everything", span_bytes, owned);
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
  harness_fresh(A, &o);
  make_table();
  memset(S, 0, sizeof S);
  next_seed = (uint8_t)(c * 31 + 1);
  for (op_index = 0; r.p < r.end; op_index++) {
    unsigned op = byte(&r);
    slot *s = &S[byte(&r) % SLOTS];
    switch (op % 12) {
    case 0: case 1: do_malloc(s, take_size(&r), whole); break;
    case 2: { unsigned shape = byte(&r); do_calloc(s, shape, take_size(&r), whole); break; }
    case 3: case 4: do_realloc(s, take_size(&r), whole); break;
    case 5: { size_t al = take_align(&r); do_memalign(s, al, take_size(&r), whole); break; }
    case 6: case 7: release(s); break;
    case 8: A->trim(); break;
    case 9: src_foreign_grow(1 + byte(&r) % 4); break;
    case 10: src_fail_next(1 + byte(&r) % 3); break;
    default: for (unsigned i = op >> 4; i < SLOTS; i += 5) release(&S[i]); break;
    }
    harness_ops++;
    check_heap("the call");
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
