// The inspector against heaps written by hand, byte by byte, from the layout 6
// spec (src/zee_alloc.h, js/layout.mjs): exact snapshots and totals, then one
// damage per rule, each expected as the first violation.  These heaps don't
// come from the allocator, so the inspector's rules are tested on their own,
// including states the allocator never produces (a LARGE mark at a page start,
// an unknown map byte, a free page below first_free).
import { LAYOUT, STATE, STATE_WORDS } from '../js/layout.mjs';
import { snapshot, validate, assertValid, renderText, renderSVG, RULES, InspectError } from '../js/inspect.mjs';

const PAGE = LAYOUT.PAGE_SIZE;
// The bytes a small block of size m occupies (zee_alloc.c extent()).
const extent = (m) => (m <= LAYOUT.ROUND_MAX ? 2 ** Math.ceil(Math.log2(m)) : m);
const HEAP_PAGE = 2; // the heap starts at page 2; the state and page map sit in page 0
const STATE_AT = 1024;
const MAP_AT = 8192;

/**
 * A hand-written heap of `pages` pages.  Pages are described in any order,
 * then finish() links the free lists (in address order), sets first_free to
 * the first free page, and writes the running totals.
 */
function heapOf(pages, { extraPages = 0 } = {}) {
  const buffer = new ArrayBuffer((HEAP_PAGE + pages + extraPages) * PAGE);
  const u32 = new Uint32Array(buffer),
    u8 = new Uint8Array(buffer);
  const heapStart = HEAP_PAGE * PAGE;
  const P = (i) => heapStart + i * PAGE;
  const wr = (a, v) => {
    u32[a >>> 2] = v >>> 0;
  };
  const header = (p, size, tag) => {
    wr(p - 8, size | tag);
    wr(p - 4, (size | tag) ^ p ^ LAYOUT.SALT);
  };
  const free = []; // [address, size, pool]
  const openSlabs = []; // [address, slot size]: slabs with a free slot
  const freePages = [];
  const c = { usedBytes: 0, usedBlocks: 0, smallPages: 0, largePages: 0, freePages: 0 };
  const h = {
    buffer,
    u32,
    u8,
    heapStart,
    P,
    wr,
    header,
    heapEnd: P(pages),
    src: { buffer, stateAddress: STATE_AT },
    stateWord: (field) => STATE_AT + 4 * STATE[field],
    mapAt: (i) => MAP_AT + HEAP_PAGE + i,
    /**
     * The slab at b of `size` bytes: slots of m bytes after its 24 bytes of
     * words, those of the indexes in `used` in use, the others free and
     * listed in address order.  Returns the slots' payload addresses.
     */
    slab(b, size, { m, used }) {
      const slots = [];
      for (let s = b + 32; s + m <= b + size; s += m) {
        header(s, m, used.includes(slots.length) ? LAYOUT.TAG_SLOT : LAYOUT.TAG_SLOT_FREE);
        slots.push(s);
      }
      const freeSlots = slots.filter((_, k) => !used.includes(k));
      freeSlots.forEach((s, k) => wr(s, freeSlots[k + 1] ?? 0));
      wr(b + 8, used.length);
      wr(b + 12, freeSlots[0] ?? 0);
      c.usedBytes += used.length * (m - 8);
      c.usedBlocks += used.length;
      if (freeSlots.length) openSlabs.push([b, m]);
      return slots;
    },
    /**
     * Small page i tiled from P+16 by blocks [size, 'u' | 'f'] or
     * [size, 's', { m, used }] (a slab, see slab()); `large`: m of the block
     * it anchors.  A block in use of size m occupies its extent: up to
     * ROUND_MAX the power-of-two frame that holds it, above exactly m.
     * `mid`: a page of the mid pool (map mark MID, its free frames on
     * mid_lists).
     */
    small(i, blocks, { large = 0, loose = false, mid = false } = {}) {
      const base = P(i);
      let f = base + 16,
        used = 0;
      const out = [];
      for (const [size, kind, slots] of blocks) {
        header(f, size, { u: LAYOUT.TAG_SMALL, s: LAYOUT.TAG_SLAB }[kind] ?? LAYOUT.TAG_FREE);
        out.push(f);
        if (kind === 'u') {
          used++;
          c.usedBytes += size - 8;
          c.usedBlocks++;
        } else if (kind === 's') {
          used++; // the page counts a slab as one block
          h.slab(f, size, slots);
        } else free.push([f, size, mid ? 'mid' : 'small']);
        f += kind === 'u' ? extent(size) : size;
      }
      let p = 0;
      if (large) {
        p = base + PAGE - (large & 0xffff);
        if (p !== f)
          throw new Error(`test heap: page ${i}'s blocks end at ${f - base}, the large block starts at ${p - base}`);
        header(p, large, LAYOUT.TAG_LARGE);
        const j = large >>> 16;
        for (let k = 1; k <= j; k++) u8[MAP_AT + HEAP_PAGE + i + k] = LAYOUT.MAP_LARGE;
        c.usedBytes += large;
        c.usedBlocks++;
        c.largePages += j;
        used++;
      } else if (f !== base + PAGE && !loose)
        throw new Error(`test heap: page ${i}'s blocks end at ${f - base}, not at the page end`);
      wr(base, LAYOUT.PAGE_TAG | used);
      wr(base + 4, p);
      u8[MAP_AT + HEAP_PAGE + i] = mid ? LAYOUT.MAP_MID : LAYOUT.MAP_SMALL;
      c.smallPages++; // small_pages counts the pages of both pools
      return { blocks: out, large: p };
    },
    /** An empty small page: one free frame of each size 16..32768. */
    emptySmall(i, options) {
      const blocks = [];
      for (let s = 16; s <= 32768; s *= 2) blocks.push([s, 'f']);
      return h.small(i, blocks, options);
    },
    /** k free pages from page i: marked FREE in the map, nothing else. */
    free(i, k) {
      for (let n = 0; n < k; n++) {
        u8[MAP_AT + HEAP_PAGE + i + n] = LAYOUT.MAP_FREE;
        freePages.push(P(i + n));
      }
      c.freePages += k;
      return P(i);
    },
    finish({ spare = 0 } = {}) {
      wr(STATE_AT + 4 * STATE.magic, LAYOUT.INFO_MAGIC);
      wr(STATE_AT + 4 * STATE.layout, LAYOUT.VERSION);
      wr(STATE_AT + 4 * STATE.config, 1);
      wr(STATE_AT + 4 * STATE.heapStart, heapStart);
      wr(STATE_AT + 4 * STATE.heapEnd, P(pages));
      wr(STATE_AT + 4 * STATE.pageMap, MAP_AT);
      wr(STATE_AT + 4 * STATE.spare, spare);
      wr(STATE_AT + 4 * STATE.firstFree, freePages.length ? Math.min(...freePages) : P(pages));
      for (const [pool, at] of [
        ['small', STATE.lists],
        ['mid', STATE.midLists],
      ])
        for (let k = 0; k < LAYOUT.CLASSES; k++) {
          const members = free
            .filter(([, s, p]) => s === LAYOUT.MIN_FRAME << k && p === pool)
            .map(([f]) => f)
            .sort((a, b) => a - b);
          members.forEach((f, n) => {
            wr(f, members[n + 1] ?? 0);
            wr(f + 4, members[n - 1] ?? 0);
          });
          wr(STATE_AT + 4 * (at + k), members[0] ?? 0);
        }
      for (let i = 0; i < LAYOUT.SLAB_LISTS; i++) {
        const members = openSlabs
          .filter(([, m]) => m === i * 16)
          .map(([b]) => b)
          .sort((a, b) => a - b);
        members.forEach((b, n) => {
          wr(b, members[n + 1] ?? 0);
          wr(b + 4, members[n - 1] ?? 0);
        });
        wr(STATE_AT + 4 * (STATE.slabs + i), members[0] ?? 0);
      }
      wr(STATE_AT + 4 * STATE.usedBytes, c.usedBytes);
      wr(STATE_AT + 4 * STATE.usedBlocks, c.usedBlocks);
      wr(STATE_AT + 4 * STATE.peakBytes, c.usedBytes + 4096);
      wr(STATE_AT + 4 * STATE.smallPages, c.smallPages);
      wr(STATE_AT + 4 * STATE.largePages, c.largePages);
      wr(STATE_AT + 4 * STATE.freePages, c.freePages);
      return h;
    },
  };
  return h;
}

// The reference heap, 8 pages:
//   0  small: 16 B in use @16, free 32..8192, 16 KiB in use @16K... up to
//      the large block at 48 KiB (m = 64 KiB + 16 KiB: 16 KiB here + page 1)
//   1  the large block's whole page
//   2  small: 4 KiB in use @4096, the rest free frames (16 @16 .. 2 KiB @2 KiB,
//      8 KiB @8 KiB, 16 KiB @16 KiB, 32 KiB @32 KiB)
//   3-4 two free pages
//   5  foreign (someone else's)
//   6  a free page
//   7  the spare: an empty small page
function reference({ page2: blocks2 } = {}) {
  const h = heapOf(8);
  const b0 = [
    [16, 'u'],
    [32, 'f'],
    [64, 'f'],
    [128, 'f'],
    [256, 'f'],
    [512, 'f'],
    [1024, 'f'],
    [2048, 'f'],
    [4096, 'f'],
    [8192, 'f'],
    [16384, 'f'],
    [16384, 'u'],
  ];
  const page0 = h.small(0, b0, { large: PAGE + 16384 });
  const page2 = h.small(
    2,
    blocks2 ?? [
      [16, 'f'],
      [32, 'f'],
      [64, 'f'],
      [128, 'f'],
      [256, 'f'],
      [512, 'f'],
      [1024, 'f'],
      [2048, 'f'],
      [4096, 'u'],
      [8192, 'f'],
      [16384, 'f'],
      [32768, 'f'],
    ],
    { loose: !!blocks2 },
  );
  h.free(3, 2);
  h.free(6, 1);
  h.emptySmall(7);
  h.finish({ spare: h.P(7) });
  return { h, page0, page2 };
}

const rules = (v) => v.violations.map((x) => x.rule);
function expectFirst(h, rule, address) {
  const v = validate(h.src);
  expect(v.ok).toBe(false);
  expect(v.violations[0]).toMatchObject(address === undefined ? { rule } : { rule, address });
  for (const x of v.violations) expect(RULES[x.rule]).toBeDefined();
  return v.violations;
}

describe('a hand-written heap: every page kind', () => {
  test('the walk finds every page, block, large block, span and free list, and exact totals', () => {
    const { h, page0, page2 } = reference();
    const s = snapshot(h.src);
    const P = h.P;
    expect(s.violations).toEqual([]);
    expect(s.pages.map((p) => p.kind)).toEqual([
      'small',
      'large',
      'small',
      'free-span',
      'free-span',
      'foreign',
      'free-span',
      'small',
    ]);
    expect(s.pages.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(s.pages[0]).toMatchObject({
      count: 3,
      usedBlocks: 2,
      freeFrames: 10,
      large: P(0) + 49152,
      limit: P(0) + 49152,
      spare: false,
      corrupt: false,
    });
    expect(s.pages[1]).toMatchObject({ kind: 'large', large: P(0) + 49152 });
    expect(s.pages[7]).toMatchObject({ spare: true, count: 0, usedBlocks: 0, freeFrames: 12 });
    expect(s.large).toEqual([
      {
        address: page0.large,
        anchor: P(0),
        size: PAGE + 16384,
        usable: PAGE + 16384,
        pages: 1,
        inPage: 16384,
        end: P(2),
      },
    ]);
    expect(s.spans).toEqual([
      { address: P(3), pages: 2, bytes: 2 * PAGE },
      { address: P(6), pages: 1, bytes: PAGE },
    ]);
    expect(s.pages.filter((p) => p.kind === 'free-span').map((p) => p.span)).toEqual([P(3), P(3), P(6)]);
    expect(s.firstFree).toBe(P(3));
    // the anchor's blocks, ending with the large block's part in the page
    expect(s.pages[0].blocks.map((b) => [b.address - P(0), b.size, b.state])).toEqual([
      [16, 16, 'used'],
      ...[32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384].map((x) => [x, x, 'free']),
      [32768, 16384, 'used'],
      [49152, 16384, 'large'],
    ]);
    expect(s.blocks.filter((b) => b.state === 'used').map((b) => b.address)).toEqual([
      page0.blocks[0],
      page0.blocks[11],
      page2.blocks[8],
    ]);
    expect(s.freeLists[0].members).toEqual([P(2) + 16, P(7) + 16]);
    expect(s.freeLists[11].members).toEqual([P(2) + 32768, P(7) + 32768]);
    expect(s.counters).toMatchObject({ usedBlocks: 4, smallPages: 3, largePages: 1, freePages: 3 });

    const used = 8 + 16376 + 4088 + PAGE + 16384;
    const freeFrames = 32768 - 32 - 8 * 10 + (65536 - 16 - 4096) - 8 * 11 + (65536 - 16) - 8 * 12;
    expect(s.totals).toMatchObject({
      heapBytes: 8 * PAGE,
      pages: 8,
      pagesByKind: { small: 3, large: 1, 'free-span': 3, foreign: 1, corrupt: 0 },
      usedBytes: used,
      usedBlocks: 4,
      usedSmall: 3,
      usedLarge: 1,
      freeFrameBytes: freeFrames,
      freeFrames: 10 + 11 + 12,
      freeSpanBytes: 3 * PAGE,
      freeSpans: 2,
      freeBytes: freeFrames + 3 * PAGE,
      freeListMembers: 33,
      freeListBytes: freeFrames,
      // page 0: header, 12 block headers, the large header; pages 2 and 7: header, 12 block headers
      metadataBytes: 8 + 8 * 12 + 8 + 8 + 8 * 12 + 8 + 8 * 12,
      reservedBytes: 16,
      foreignBytes: PAGE,
      corruptBytes: 0,
      largestFreeBlock: 2 * PAGE,
    });
    const t = s.totals;
    expect(
      t.usedBytes + t.freeBytes + t.metadataBytes + t.reservedBytes + t.paddingBytes + t.foreignBytes + t.corruptBytes,
    ).toBe(t.heapBytes);
    expect(t.fragmentation).toBeCloseTo(1 - (2 * PAGE) / t.freeBytes, 12);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(assertValid(h.src)).toEqual({ ok: true, violations: [] });
  });

  test('free pages hold nothing: whatever their bytes say, the map alone makes them free', () => {
    const { h } = reference();
    new Uint32Array(h.buffer, h.P(3), (2 * PAGE) / 4).fill(0xdeadbeef);
    new Uint32Array(h.buffer, h.P(6), PAGE / 4).fill(0x5a450001); // even a small page's tag
    expect(validate(h.src)).toEqual({ ok: true, violations: [] });
  });

  test('a large block that starts on the page boundary (size a multiple of 64 KiB) and one inside its anchor only', () => {
    const h = heapOf(4);
    const full = [];
    for (let s = 16; s <= 32768; s *= 2) full.push([s, s === 16 ? 'u' : 'f']);
    const a = h.small(0, full, { large: 2 * PAGE }); // header in the anchor's last 8 bytes, pages 1-2
    const b = h.small(
      3,
      [
        [16, 'u'],
        [32, 'f'],
        [64, 'f'],
        [128, 'f'],
        [256, 'f'],
        [512, 'f'],
        [1024, 'f'],
        [2048, 'f'],
        [4096, 'f'],
        [8192, 'f'],
        [16384, 'f'],
      ],
      { large: 32768 },
    );
    h.finish();
    const s = snapshot(h.src);
    expect(s.violations).toEqual([]);
    expect(a.large).toBe(h.P(1));
    expect(s.large).toEqual([
      { address: h.P(1), anchor: h.P(0), size: 2 * PAGE, usable: 2 * PAGE, pages: 2, inPage: 0, end: h.P(3) },
      { address: h.P(3) + 32768, anchor: h.P(3), size: 32768, usable: 32768, pages: 0, inPage: 32768, end: h.P(4) },
    ]);
    expect(b.large).toBe(h.P(3) + 32768);
    expect(s.pages.map((p) => p.kind)).toEqual(['small', 'large', 'large', 'small']);
    expect(s.totals.reservedBytes).toBe(0);
    expect(s.totals.usedBytes).toBe(8 + 2 * PAGE + 8 + 32768);
    const t = s.totals;
    expect(t.usedBytes + t.freeBytes + t.metadataBytes + t.paddingBytes).toBe(t.heapBytes);
  });

  test('extents: a block in use up to ROUND_MAX fills its power-of-two frame (the rest is padding), one above takes exactly its size; a free page holds the cursor', () => {
    const h = heapOf(2);
    const fr = (...sizes) => sizes.map((x) => [x, 'f']);
    const { blocks } = h.small(0, [
      ...fr(16, 32, 64, 128, 256, 512, 1024, 2048),
      [3008, 'u'], // @4096: the 4 KiB frame
      [112, 'u'], // @8192: the 128 B frame
      ...fr(128, 256, 512, 1024, 2048, 4096),
      [4208, 'u'], // @16384: exactly 4,208 B
      ...fr(16, 128, 256, 512, 1024, 2048, 8192, 32768),
    ]);
    h.free(1, 1);
    h.finish();
    // the cursor is a hint: anywhere, even a free page, is no violation
    h.wr(h.stateWord('cursor'), h.P(1) + 40);
    const s = snapshot(h.src);
    expect(s.violations).toEqual([]);
    expect(s.cursor).toBe(h.P(1) + 40);
    const used = s.blocks.filter((b) => b.state === 'used').map((b) => [b.address - h.P(0), b.size, b.usable]);
    expect(used).toEqual([
      [4096, 4096, 3000],
      [8192, 128, 104],
      [16384, 4208, 4200],
    ]);
    expect(blocks.map((f) => f - h.P(0)).slice(8, 11)).toEqual([4096, 8192, 8320]);
    expect(blocks[blocks.length - 1] - h.P(0)).toBe(32768);
    const t = s.totals;
    expect(t).toMatchObject({
      usedBytes: 3000 + 104 + 4200,
      usedSmall: 3,
      paddingBytes: 4096 - 3008 + 128 - 112,
      reservedBytes: 8,
    });
    expect(t.usedBytes + t.freeBytes + t.metadataBytes + t.reservedBytes + t.paddingBytes).toBe(t.heapBytes);
    expect(renderText(s, { page: h.P(0) })).toMatch(/in use\s+4096 B, usable 3000 B/);
    // one byte granule more and the 4 KiB block's frame is 8 KiB, past the next block: the walk reads a header inside its frame no more
    h.header(blocks[8], 4112, LAYOUT.TAG_SMALL);
    expect(validate(h.src).violations[0]).toMatchObject({ rule: 'ZEE_C_FRAME', address: blocks[8] + 4112 });
  });

  test('heap_start 0 is an empty heap (nothing taken yet): no pages, no violations; a counter set there is ZEE_C_TOTALS', () => {
    const h = heapOf(1);
    h.wr(h.stateWord('magic'), LAYOUT.INFO_MAGIC);
    h.wr(h.stateWord('layout'), LAYOUT.VERSION);
    h.wr(h.stateWord('config'), 2);
    const s = snapshot(h.src);
    expect(s).toMatchObject({
      heapStart: 0,
      pages: [],
      blocks: [],
      violations: [],
      config: { validation: 'dev', threads: false },
    });
    expect(s.totals.heapBytes).toBe(0);
    h.wr(h.stateWord('usedBlocks'), 1);
    expectFirst(h, 'ZEE_C_TOTALS', h.stateWord('usedBlocks'));
  });
});

describe('one damage, one rule: the first violation names it', () => {
  test.each([
    [
      'a small block header overwritten',
      'ZEE_C_FRAME',
      (h, r) => {
        h.wr(r.page0.blocks[0] - 8, 0x41414141);
        return r.page0.blocks[0];
      },
    ],
    [
      'a check word flipped',
      'ZEE_C_FRAME',
      (h, r) => {
        h.u32[(r.page2.blocks[8] - 4) >>> 2] ^= 0x100;
        return r.page2.blocks[8];
      },
    ],
    [
      'the MERGED tag (4) met by the walk',
      'ZEE_C_FRAME',
      (h, r) => {
        const f = r.page2.blocks[3];
        h.header(f, 128, LAYOUT.TAG_MERGED);
        return f;
      },
    ],
    [
      'a free frame that is not a power of two',
      'ZEE_C_FRAME',
      (h, r) => {
        const f = r.page2.blocks[7];
        h.header(f, 2048 - 16, LAYOUT.TAG_FREE);
        return f;
      },
    ],
    [
      'a small block running past the page end',
      'ZEE_C_FRAME',
      (h) => {
        const f = h.P(7) + 32768;
        h.header(f, 32768 + 16, LAYOUT.TAG_SMALL);
        return f;
      },
    ],
    [
      'a block whose size fits but whose extent (the 2 KiB frame of 1,040 B) runs past the page end',
      'ZEE_C_FRAME',
      (h) => {
        const f = h.P(7) + 32768,
          g = f + 31728;
        h.header(f, 31728, LAYOUT.TAG_SMALL);
        h.header(g, 1040, LAYOUT.TAG_SMALL);
        return g;
      },
    ],
    [
      'a block that runs into the anchored large block',
      'ZEE_C_FRAME',
      (h, r) => {
        const f = r.page0.blocks[11];
        h.header(f, 16384 + 32, LAYOUT.TAG_SMALL);
        return f;
      },
    ],
    [
      "a page's count off by one",
      'ZEE_C_COUNT',
      (h) => {
        h.u32[h.P(2) >>> 2] += 1;
        return h.P(2);
      },
    ],
    [
      'a small page tag overwritten',
      'ZEE_C_PAGE',
      (h) => {
        h.wr(h.P(2), 3);
        return h.P(2);
      },
    ],
    [
      'a large-block field pointing outside its page',
      'ZEE_C_PAGE',
      (h) => {
        h.wr(h.P(2) + 4, h.P(3) + 16);
        return h.P(2) + 4;
      },
    ],
    [
      'ANCHOR_ONLY on a page that anchors no large block',
      'ZEE_C_PAGE',
      (h) => {
        h.wr(h.P(2) + 4, LAYOUT.ANCHOR_ONLY);
        return h.P(2) + 4;
      },
    ],
    [
      'ANCHOR_ONLY on an anchor whose lower part holds blocks: they go uncounted',
      'ZEE_C_COUNT',
      (h) => {
        h.u32[(h.P(0) + 4) >>> 2] |= LAYOUT.ANCHOR_ONLY;
        return h.P(0);
      },
    ],
    [
      'an empty small page that is not the spare',
      'ZEE_C_COUNT',
      (h) => {
        h.wr(h.stateWord('spare'), 0);
        return h.P(7);
      },
    ],
    [
      'a spare that is not a small page (found before the pages, as zee_check() does)',
      'ZEE_C_PAGE',
      (h) => {
        h.wr(h.stateWord('spare'), h.P(3));
        return h.P(3);
      },
    ],
    [
      'a LARGE map mark at a page start',
      'ZEE_C_PAGE',
      (h) => {
        h.u8[h.mapAt(5)] = LAYOUT.MAP_LARGE;
        return h.P(5);
      },
    ],
    [
      'an unknown map mark',
      'ZEE_C_PAGE',
      (h) => {
        h.u8[h.mapAt(5)] = 9;
        return h.P(5);
      },
    ],
    [
      'a large block header with another tag',
      'ZEE_C_LARGE',
      (h, r) => {
        h.header(r.page0.large, PAGE + 16384, LAYOUT.TAG_SMALL);
        return r.page0.large;
      },
    ],
    [
      'a large block size that does not end on a page boundary',
      'ZEE_C_LARGE',
      (h, r) => {
        h.header(r.page0.large, PAGE + 16384 + 16, LAYOUT.TAG_LARGE);
        return r.page0.large;
      },
    ],
    [
      'a large block below 32 KiB',
      'ZEE_C_LARGE',
      (h) => {
        const p = h.P(7) + 49152;
        h.header(p, 16384, LAYOUT.TAG_LARGE);
        h.wr(h.P(7) + 4, p);
        h.header(h.P(7) + 32768, 16384, LAYOUT.TAG_FREE);
        return p;
      },
    ],
    [
      'a large block running past the heap end',
      'ZEE_C_LARGE',
      (h, r) => {
        h.header(r.page0.large, 9 * PAGE + 16384, LAYOUT.TAG_LARGE);
        return r.page0.large;
      },
    ],
    [
      "a large block's page not marked LARGE",
      'ZEE_C_LARGE',
      (h, r) => {
        h.u8[h.mapAt(1)] = LAYOUT.MAP_SMALL;
        return r.page0.large;
      },
    ],
    [
      'a free page below first_free',
      'ZEE_C_SPAN',
      (h) => {
        h.wr(h.stateWord('firstFree'), h.P(4));
        return h.P(3);
      },
    ],
    [
      'first_free past every free page',
      'ZEE_C_SPAN',
      (h) => {
        h.wr(h.stateWord('firstFree'), h.P(8));
        return h.P(3);
      },
    ],
    [
      'a foreign page marked free, below first_free',
      'ZEE_C_SPAN',
      (h) => {
        h.u8[h.mapAt(5)] = LAYOUT.MAP_FREE;
        h.wr(h.stateWord('firstFree'), h.P(6));
        return h.P(3);
      },
    ],
    [
      'a free-list link to a block in use',
      'ZEE_C_LIST',
      (h, r) => {
        h.wr(r.page2.blocks[0], r.page2.blocks[8]);
        return r.page2.blocks[8];
      },
    ],
    [
      'a free-list link outside the heap',
      'ZEE_C_LIST',
      (h, r) => {
        h.wr(r.page2.blocks[0], 0xfffffff0);
        return 0xfffffff0;
      },
    ],
    [
      'a broken free-list back link',
      'ZEE_C_LIST',
      (h) => {
        h.wr(h.P(7) + 16 + 4, 0);
        return h.P(7) + 16;
      },
    ],
    [
      'a free-list loop',
      'ZEE_C_LIST',
      (h) => {
        h.wr(h.P(7) + 16, h.P(2) + 16);
        return h.P(2) + 16;
      },
    ],
    [
      'a free frame on the list of another size',
      'ZEE_C_LIST',
      (h) => {
        h.wr(h.stateWord('lists') + 4, h.P(2) + 16);
        return h.P(2) + 16;
      },
    ],
    [
      'a free frame on no list',
      'ZEE_C_LIST_COUNT',
      (h) => {
        h.wr(h.stateWord('lists') + 4 * 11, h.P(7) + 32768);
        h.wr(h.P(7) + 32768 + 4, 0);
        return h.P(2) + 32768;
      },
    ],
    ...['usedBytes', 'usedBlocks', 'smallPages', 'largePages', 'freePages'].map((name) => [
      `the running total ${name} off by one`,
      'ZEE_C_TOTALS',
      (h) => {
        h.u32[h.stateWord(name) >>> 2] += 1;
        return h.stateWord(name);
      },
    ]),
    [
      'a peak below the bytes in use',
      'ZEE_C_TOTALS',
      (h) => {
        h.wr(h.stateWord('peakBytes'), 10);
        return h.stateWord('peakBytes');
      },
    ],
    [
      'the magic',
      'ZEE_C_STATE',
      (h) => {
        h.wr(h.stateWord('magic'), 0);
        return STATE_AT;
      },
    ],
    [
      'the layout version',
      'ZEE_C_STATE',
      (h) => {
        h.wr(h.stateWord('layout'), 2);
        return STATE_AT;
      },
    ],
    [
      'heap bounds past the memory',
      'ZEE_C_STATE',
      (h) => {
        h.wr(h.stateWord('heapEnd'), h.buffer.byteLength + PAGE);
        return h.stateWord('heapStart');
      },
    ],
    [
      'a page map outside the memory',
      'ZEE_C_STATE',
      (h) => {
        h.wr(h.stateWord('pageMap'), h.buffer.byteLength - 2);
        return h.stateWord('pageMap');
      },
    ],
    [
      'a page map pointer moved up by a page',
      'ZEE_C_STATE',
      (h) => {
        h.wr(h.stateWord('pageMap'), MAP_AT + 1);
        return h.stateWord('pageMap');
      },
    ],
    [
      'a mark on the page below the heap',
      'ZEE_C_STATE',
      (h) => {
        h.u8[h.mapAt(-1)] = LAYOUT.MAP_SMALL;
        return h.stateWord('pageMap');
      },
    ],
    [
      'an unknown config word',
      'ZEE_C_STATE',
      (h) => {
        h.wr(h.stateWord('config'), 0x103);
        return h.stateWord('config');
      },
    ],
    [
      'first_free off a page boundary',
      'ZEE_C_STATE',
      (h) => {
        h.wr(h.stateWord('firstFree'), h.P(3) - 16);
        return h.stateWord('firstFree');
      },
    ],
  ])('%s: %s', (_, rule, damage) => {
    const r = reference();
    expect(validate(r.h.src).ok).toBe(true);
    const at = damage(r.h, r);
    expectFirst(r.h, rule, at);
    // the damaged heap still snapshots and draws
    const s = snapshot(r.h.src);
    expect(renderText(s)).toMatch(new RegExp(`INVALID: \\d+ violation\\(s\\); first ${rule}`));
    expect(renderSVG(s)).toContain('class="zee-invalid"');
  });

  test('structural damage written with the builder: a block past the page end (ZEE_C_FRAME), two free buddies (ZEE_C_BUDDY)', () => {
    const frames = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384].map((s) => [s, 'f']);
    // 16 KiB in use at 32 KiB, then a block of 32 KiB at 48 KiB: 16 KiB past the page end
    let r = reference({ page2: [...frames, [16384, 'u'], [32768, 'u']] });
    expectFirst(r.h, 'ZEE_C_FRAME', r.page2.blocks[12]);
    // the free 128 @128 split into two free 64 B buddies, both on the 64 B list
    r = reference({
      page2: [
        [16, 'f'],
        [32, 'f'],
        [64, 'f'],
        [64, 'f'],
        [64, 'f'],
        [256, 'f'],
        [512, 'f'],
        [1024, 'f'],
        [2048, 'f'],
        [4096, 'u'],
        [8192, 'f'],
        [16384, 'f'],
        [32768, 'f'],
      ],
    });
    expect(snapshot(r.h.src).freeLists[2].members).toEqual([
      r.h.P(0) + 64,
      r.h.P(2) + 64,
      r.h.P(2) + 128,
      r.h.P(2) + 192,
      r.h.P(7) + 64,
    ]);
    expectFirst(r.h, 'ZEE_C_BUDDY', r.h.P(2) + 128);
  });

  test('an unreadable page: the rest of it is one corrupt block, the bytes still add up, and the map marks it', () => {
    const { h, page2 } = reference();
    h.wr(page2.blocks[5] - 8, 0);
    const s = snapshot(h.src);
    expect(s.violations[0]).toMatchObject({ rule: 'ZEE_C_FRAME', address: page2.blocks[5] });
    const bad = s.blocks.find((b) => b.state === 'corrupt');
    expect(bad).toMatchObject({ address: page2.blocks[5], page: h.P(2), size: h.P(3) - 8 - page2.blocks[5] });
    expect(s.pages[2].corrupt).toBe(true);
    const t = s.totals;
    expect(t.corruptBytes).toBe(bad.size);
    expect(
      t.usedBytes + t.freeBytes + t.metadataBytes + t.reservedBytes + t.paddingBytes + t.foreignBytes + t.corruptBytes,
    ).toBe(t.heapBytes);
    // no ZEE_C_TOTALS noise from a walk that could not count everything
    expect(rules(validate(h.src))).not.toContain('ZEE_C_TOTALS');
    const row = renderText(s, { collapse: false })
      .split('\n')
      .find((l) => l.startsWith(`0x${h.P(2).toString(16).padStart(8, '0')}`));
    expect(row).toMatch(/^\S+ small  \|!+\| 0u 5f CORRUPT$/); // every cell holds some of the unreadable part
    const zoom = renderSVG(s, { page: h.P(2) });
    expect(zoom).toContain(`class="zee-block zee-corrupt" data-addr="${page2.blocks[5]}"`);
  });

  test('links far outside memory never throw or hang', () => {
    const { h } = reference();
    h.wr(h.stateWord('firstFree'), 0xfff00000);
    h.wr(h.stateWord('lists') + 12, 0xfffffff0);
    h.wr(h.P(0) + 4, 0xffff0000);
    h.wr(h.P(7), 0xffffffff);
    const v = validate(h.src);
    expect(rules(v)).toEqual(expect.arrayContaining(['ZEE_C_SPAN', 'ZEE_C_PAGE', 'ZEE_C_LIST']));
  });

  test('a large block of several pages: each of its pages must be marked LARGE, and the spare may be in use', () => {
    const h = heapOf(5);
    const full = [];
    for (let s = 16; s <= 32768; s *= 2) full.push([s, s === 16 ? 'u' : 'f']);
    const a = h.small(0, full, { large: 3 * PAGE }); // pages 1-3
    h.free(4, 1);
    h.finish({ spare: h.P(0) }); // the spare, serving blocks again
    expect(validate(h.src)).toEqual({ ok: true, violations: [] });
    expect(snapshot(h.src).pages.map((p) => p.kind)).toEqual(['small', 'large', 'large', 'large', 'free-span']);
    h.u8[h.mapAt(2)] = LAYOUT.MAP_FREE; // the middle page
    expectFirst(h, 'ZEE_C_LARGE', a.large);
    expect(validate(h.src).violations[0].message).toMatch(/its page 0x00040000 has map mark 1, expected LARGE/);
  });

  test('a small block of a whole page (65,520 B, the largest) is sound', () => {
    const h = heapOf(1);
    const {
      blocks: [b],
    } = h.small(0, [[PAGE - 16, 'u']]);
    h.finish();
    const s = snapshot(h.src);
    expect(s.violations).toEqual([]);
    expect(s.blocks).toEqual([
      { address: b, page: h.P(0), size: PAGE - 16, usable: LAYOUT.MAX_SMALL, state: 'used', class: -1 },
    ]);
    expect(s.totals).toMatchObject({ usedBytes: LAYOUT.MAX_SMALL, metadataBytes: 16, reservedBytes: 8 });
  });
});

describe('slabs written by hand', () => {
  // Page 0: 16 B in use, free frames 32..256, a full slab of ten 48 B slots
  // at 512, free frames 1024..4096, an 8 KiB slab of seven 1,040 B slots at
  // 8 KiB (slots 0 and 3 in use), free frames of 16 and 32 KiB.
  function slabPage() {
    const h = heapOf(1);
    const fr = (...sizes) => sizes.map((x) => [x, 'f']);
    const { blocks } = h.small(0, [
      [16, 'u'],
      ...fr(32, 64, 128, 256),
      [512, 's', { m: 48, used: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }],
      ...fr(1024, 2048, 4096),
      [8192, 's', { m: 1040, used: [0, 3] }],
      ...fr(16384, 32768),
    ]);
    h.finish();
    return { h, small: blocks[0], full: blocks[5], open: blocks[9] };
  }

  // Page 0 anchors a large block from P + at to its end (and counts it).
  function anchor(h, at) {
    const large = h.P(0) + at;
    h.wr(h.P(0) + 4, large);
    h.u32[h.P(0) >>> 2]++;
    h.header(large, PAGE - at, LAYOUT.TAG_LARGE);
  }

  test('every slab and slot, the slab list and the totals, to the byte', () => {
    const { h, full, open } = slabPage();
    const s = snapshot(h.src);
    expect(s.violations).toEqual([]);
    expect([full, open].map((b) => b - h.P(0))).toEqual([512, 8192]);
    expect(s.slabs.map((x) => [x.address, x.size, x.slotSize, x.slots, x.usedSlots, x.freeSlots, x.listed])).toEqual([
      [full, 512, 48, 10, 10, 0, false],
      [open, 8192, 1040, 7, 2, 5, true],
    ]);
    expect(s.slabs[1].freeList).toEqual([1, 2, 4, 5, 6].map((i) => open + 32 + 1040 * i));
    expect(s.slabLists[65]).toEqual({ index: 65, slotSize: 1040, slabSize: 8192, members: [open] });
    expect(s.pages[0]).toMatchObject({ count: 3, usedBlocks: 13, freeFrames: 9, slabs: 2, freeSlots: 5 });
    const t = s.totals;
    expect(t).toMatchObject({
      usedBytes: 8 + 10 * 40 + 2 * 1032,
      usedBlocks: 13,
      usedSlots: 12,
      freeSlots: 5,
      freeSlotBytes: 5 * 1032,
      slabs: 2,
      // the page word and the slot at P+8; 11 block headers; each slab's 24 B of words and its slot headers
      metadataBytes: 16 + 8 * 11 + (24 + 8 * 10) + (24 + 8 * 7),
      // the page end's slot; the 1,040 B slab's tail (8192 - 32 - 7 * 1040); the 48 B slab has none
      reservedBytes: 8 + 880,
      paddingBytes: 0,
    });
    expect(t.usedBytes + t.freeBytes + t.metadataBytes + t.reservedBytes + t.paddingBytes).toBe(t.heapBytes);
  });

  // Damage the allocator never makes, so only the inspector is asked: each
  // the first violation, at its address.
  test.each([
    [
      'slots of 1,040 B in a 16 KiB slab (not the slab size of its slots)',
      'ZEE_C_SLAB',
      (h) => {
        const b = h.P(0) + 16384;
        h.header(b, 16384, LAYOUT.TAG_SLAB);
        h.slab(b, 16384, { m: 1040, used: [0] });
        return [b + 32, /slots of 1040 B live in slabs of 8192 B, not 16384 B/];
      },
    ],
    [
      'a slab whose own rules hold but which runs into the large block above it',
      'ZEE_C_FRAME',
      (h) => {
        // a large block from P+20 KiB: the 8 KiB slab at 16 KiB runs 4 KiB into it
        anchor(h, 20480);
        const b = h.P(0) + 16384;
        h.header(b, 8192, LAYOUT.TAG_SLAB);
        h.slab(b, 8192, { m: 1040, used: [0] });
        return [
          b,
          /slab 0x[0-9a-f]+ \(header at 0x[0-9a-f]+\) of small page 0x[0-9a-f]+: its 8192 B run to 0x[0-9a-f]+, past the large block/,
        ];
      },
    ],
    [
      'a slab of a wrong slot size that also runs into the large block: its own rule first, as zee_check() checks',
      'ZEE_C_SLAB',
      (h) => {
        anchor(h, 20480);
        const b = h.P(0) + 16384;
        h.header(b, 8192, LAYOUT.TAG_SLAB);
        h.slab(b, 8192, { m: 1024, used: [0] });
        return [b + 32, /slot 0's size 1024 B is not a slot size/];
      },
    ],
  ])('%s: %s', (_, rule, damage) => {
    const { h } = slabPage();
    const [address, message] = damage(h);
    const v = expectFirst(h, rule, address);
    expect(v[0].message).toMatch(message);
    expect(renderText(snapshot(h.src))).toMatch(new RegExp(`INVALID: \\d+ violation\\(s\\); first ${rule}`));
  });
});

describe('mid pages written by hand (map mark MID)', () => {
  // 0  SMALL: 16 B in use, free frames 32..32768 (on lists)
  // 1  MID: free frames 16..256, a slab of 48 B slots at 512 (2 in use),
  //    free 1024, 2048, an exact block of 8 KiB in use at 4 KiB (malloc(8184):
  //    above POOL_MIN, 4 KiB), free 4 KiB at 12 KiB, 16 KiB in use at 16 KiB,
  //    free 32 KiB (its frames on mid_lists)
  // 2  MID: free frames 16..16384, anchoring a large block of 32 KiB + 1 page
  // 3  that large block's page
  // 4  the spare: an empty MID page
  // 5  a free page
  function midHeap() {
    const h = heapOf(6);
    const fr = (...sizes) => sizes.map((x) => [x, 'f']);
    const small = h.small(0, [[16, 'u'], ...fr(32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)]);
    const mid = h.small(
      1,
      [
        ...fr(16, 32, 64, 128, 256),
        [512, 's', { m: 48, used: [0, 1] }],
        ...fr(1024, 2048),
        [8192, 'u'],
        [4096, 'f'],
        [16384, 'u'],
        [32768, 'f'],
      ],
      { mid: true },
    );
    const anchor = h.small(2, fr(16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384), {
      large: PAGE + 32768,
      mid: true,
    });
    h.emptySmall(4, { mid: true });
    h.free(5, 1);
    h.finish({ spare: h.P(4) });
    return { h, small, mid, anchor };
  }

  test('MID pages are walked like small pages: blocks, a slab, an anchored large block, the spare; frames on mid_lists', () => {
    const { h, mid, anchor } = midHeap();
    const P = h.P;
    const s = snapshot(h.src);
    expect(s.violations).toEqual([]);
    expect(s.pages.map((p) => [p.kind, p.pool])).toEqual([
      ['small', 'small'],
      ['small', 'mid'],
      ['small', 'mid'],
      ['large', undefined],
      ['small', 'mid'],
      ['free-span', undefined],
    ]);
    expect(s.pages[1]).toMatchObject({ count: 3, usedBlocks: 4, freeFrames: 9, slabs: 1, freeSlots: 8 });
    expect(s.pages[2]).toMatchObject({ count: 1, large: anchor.large, limit: anchor.large });
    expect(s.pages[4]).toMatchObject({ spare: true, count: 0, freeFrames: 12 });
    expect(s.large).toEqual([
      {
        address: anchor.large,
        anchor: P(2),
        size: PAGE + 32768,
        usable: PAGE + 32768,
        pages: 1,
        inPage: 32768,
        end: P(4),
      },
    ]);
    // the slab in the mid page is on its slab list
    expect(s.slabs.map((b) => [b.address, b.page, b.listed])).toEqual([[mid.blocks[5], P(1), true]]);
    expect(s.slabLists[3].members).toEqual([mid.blocks[5]]);
    // lists: SMALL page 0's frames only; mid_lists: those of pages 1, 2 and 4, in address order
    expect(s.freeLists.map((l) => l.members)).toEqual(s.freeLists.map((l) => (l.size === 16 ? [] : [P(0) + l.size])));
    expect(s.midLists[0].members).toEqual([P(1) + 16, P(2) + 16, P(4) + 16]);
    expect(s.midLists[5].members).toEqual([P(2) + 512, P(4) + 512]); // page 1's 512 B is a slab
    expect(s.midLists[11].members).toEqual([P(1) + 32768, P(4) + 32768]);
    expect(s.midLists[8].members).toEqual([P(1) + 12288, P(2) + 4096, P(4) + 4096]); // page 1's past its 8 KiB block
    expect(s.pages[1].blocks.find((b) => b.address === P(1) + 4096)).toMatchObject({ size: 8192, usable: 8184 });
    const t = s.totals;
    expect(t).toMatchObject({
      pagesByKind: { small: 4, large: 1, 'free-span': 1, foreign: 0, corrupt: 0 },
      freeFrames: 11 + 9 + 11 + 12,
      freeListMembers: 11 + 9 + 11 + 12,
      freeListBytes: t.freeFrameBytes,
      usedBlocks: 1 + 2 + 2 + 1,
      usedBytes: 8 + 2 * 40 + 8184 + 16376 + PAGE + 32768,
    });
    expect(s.counters).toMatchObject({ smallPages: 4, largePages: 1, freePages: 1 });
    expect(
      t.usedBytes + t.freeBytes + t.metadataBytes + t.reservedBytes + t.paddingBytes + t.foreignBytes + t.corruptBytes,
    ).toBe(t.heapBytes);
    // text: MID pages labelled `mid`, the rest as before
    const rows = renderText(s, { collapse: false })
      .split('\n')
      .filter((l) => /^0x[0-9a-f]{8} /.test(l));
    expect(rows.map((r) => r.slice(11, 17).trim())).toEqual(['small', 'mid', 'mid', 'large', 'mid', 'free']);
    expect(rows[4]).toMatch(/\|\.+\| 0u 12f spare$/);
    // SVG: the three MID pages carry data-pool="mid" and an outline, the SMALL one neither
    const svg = renderSVG(s, { collapse: false });
    const rowOf = (i) => svg.split('\n').find((l) => l.includes(`data-page="${P(i)}"`));
    for (const i of [1, 2, 4]) expect(rowOf(i)).toMatch(/data-pool="mid".*fill="none" stroke="#[0-9a-f]{6}"/);
    for (const i of [0, 3, 5]) expect(rowOf(i)).not.toMatch(/data-pool|fill="none"/);
    expect(rowOf(1)).toContain('<title>' + `0x${P(1).toString(16).padStart(8, '0')} mid page: 4 blocks in use`);
  });

  test('a SMALL-only heap draws as before: no mid label, legend line or outline', () => {
    const s = snapshot(reference().h.src);
    expect(renderText(s)).not.toMatch(/\bmid\b/);
    expect(renderSVG(s)).not.toMatch(/data-pool|mid page/);
  });

  test.each([
    [
      'a frame of a MID page on lists[c]',
      'ZEE_C_LIST',
      (h) => {
        // mid_lists[0] = [P1+16, P2+16, P4+16]: P1+16 moved to the head of lists[0] (empty)
        const f = h.P(1) + 16;
        h.wr(h.stateWord('midLists'), h.P(2) + 16);
        h.wr(h.P(2) + 16 + 4, 0);
        h.wr(h.stateWord('lists'), f);
        h.wr(f, 0);
        return [f, /^free list 16: 0x00030010 is a free frame of mid page 0x00030000, whose frames go on mid_lists/];
      },
    ],
    [
      'a frame of a SMALL page on mid_lists[c]',
      'ZEE_C_LIST',
      (h) => {
        // lists[1] = [P0+32]: moved to the head of mid_lists[1]
        const f = h.P(0) + 32,
          old = h.u32[(h.stateWord('midLists') + 4) >>> 2];
        h.wr(h.stateWord('lists') + 4, 0);
        h.wr(h.stateWord('midLists') + 4, f);
        h.wr(f, old);
        h.wr(old + 4, f);
        return [f, /^mid list 32: 0x00020020 is a free frame of small page 0x00020000, whose frames go on lists/];
      },
    ],
    [
      'a frame of a MID page on the mid list of another size',
      'ZEE_C_LIST',
      (h) => {
        h.wr(h.stateWord('midLists') + 4, h.P(1) + 16);
        return [h.P(1) + 16, /^mid list 32: 0x[0-9a-f]+ is a free frame of 16 B/];
      },
    ],
    [
      'a broken back link in a mid list',
      'ZEE_C_LIST',
      (h) => {
        h.wr(h.P(4) + 32768 + 4, 0);
        return [h.P(4) + 32768, /^mid list 32768: 0x[0-9a-f]+ links back to 0x00000000/];
      },
    ],
    [
      'a mid-list link outside the heap',
      'ZEE_C_LIST',
      (h) => {
        h.wr(h.P(1) + 64, 0xfffffff0);
        return [0xfffffff0, /^mid list 64: link 0xfffffff0 \(from 0x[0-9a-f]+\) is not a block address/];
      },
    ],
    [
      'a frame of a MID page on no list',
      'ZEE_C_LIST_COUNT',
      (h) => {
        h.wr(h.stateWord('midLists') + 4 * 11, h.P(4) + 32768);
        h.wr(h.P(4) + 32768 + 4, 0);
        return [h.P(1) + 32768, /of mid page 0x00030000 is on no free list/];
      },
    ],
    ...[4, 5, 7, 8, 10, 14, 255].map((bad) => [
      `map mark ${bad} on a MID page`,
      'ZEE_C_PAGE',
      (h) => {
        h.u8[h.mapAt(1)] = bad;
        return [h.P(1), new RegExp(`page 0x00030000 has map mark ${bad}, none of NONE, FREE, SMALL, LARGE, MID`)];
      },
    ]),
    [
      'the MID spare marked 5 (found before the pages)',
      'ZEE_C_PAGE',
      (h) => {
        h.u8[h.mapAt(4)] = 5;
        return [h.P(4), /the spare 0x00060000 is not a small page/];
      },
    ],
    [
      'a mid list head set while heap_start is 0',
      'ZEE_C_STATE',
      (h) => {
        h.wr(h.stateWord('heapStart'), 0);
        h.wr(h.stateWord('heapEnd'), 0);
        h.wr(h.stateWord('firstFree'), 0);
        h.wr(h.stateWord('spare'), 0);
        for (const field of ['lists', 'slabs']) for (let i = 0; i < 66; i++) h.wr(h.stateWord(field) + 4 * i, 0);
        for (let c = 0; c < LAYOUT.CLASSES; c++) h.wr(h.stateWord('midLists') + 4 * c, c === 7 ? h.P(1) + 2048 : 0);
        return [h.stateWord('heapEnd'), /a free list \(lists or mid_lists\)/];
      },
    ],
    [
      "a MID page's mark made LARGE (no large block reaches it)",
      'ZEE_C_PAGE',
      (h) => {
        h.u8[h.mapAt(1)] = LAYOUT.MAP_LARGE;
        return [h.P(1), /is marked LARGE .* but no large block reaches it/];
      },
    ],
  ])('%s: %s', (_, rule, damage) => {
    const r = midHeap();
    expect(validate(r.h.src).ok).toBe(true);
    const [at, message] = damage(r.h, r);
    const v = expectFirst(r.h, rule, at);
    expect(v[0].message).toMatch(message);
    const s = snapshot(r.h.src);
    if (rule !== 'ZEE_C_STATE')
      expect(renderText(s)).toMatch(new RegExp(`INVALID: \\d+ violation\\(s\\); first ${rule}`));
    expect(renderSVG(s)).toContain('class="zee-invalid"');
  });
});

describe('renderers on a hand-written heap', () => {
  test('renderText: a row per page with kind, cells and notes; a page listing with `page`', () => {
    const { h } = reference();
    const s = snapshot(h.src);
    const text = renderText(s, { collapse: false });
    const lines = text.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    const rows = lines.filter((l) => /^0x[0-9a-f]{8} /.test(l));
    expect(rows.map((r) => r.slice(11, 17).trim())).toEqual([
      'small',
      'large',
      'small',
      'free',
      'free',
      'other',
      'free',
      'small',
    ]);
    expect(rows[0]).toMatch(/\|[#%:.=]+\| 2u 10f \+L$/);
    expect(rows[0]).toMatch(/=+\|/); // the large block's part ends the anchor's row
    expect(rows[1]).toMatch(/\|=+\| 80 KiB block$/);
    expect(rows[3]).toMatch(/\|-+\| 2p free$/);
    expect(rows[5]).toMatch(/\|~+\|$/);
    expect(rows[7]).toMatch(/\|\.+\| 0u 12f spare$/);
    const list = renderText(s, { page: h.P(0) + 100 });
    expect(list).toMatch(/page 0x00020000: small, 2 blocks in use/);
    expect(list.split('\n').filter((l) => /^  0x/.test(l)).length).toBe(13);
    expect(list).toMatch(/large block 81920 B, 16384 B here \+ 1 pages/);
    expect(() => renderText(s, { page: h.P(8) })).toThrow(/is not a page of this heap/);
  });

  test('renderSVG overview: a row per page, the small ones as 64 slices coloured by the share in use', () => {
    const { h } = reference();
    const s = snapshot(h.src);
    const svg = renderSVG(s, { collapse: false });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/href="http|<script|@import|url\((?!#zee-hatch)/);
    expect(svg).toContain('data-slices="64"');
    const rowsDrawn = [...svg.matchAll(/<g class="zee-page zee-([a-z-]+)" data-page="(\d+)"/g)].map((m) => [
      m[1],
      Number(m[2]),
    ]);
    expect(rowsDrawn).toEqual(s.pages.map((p) => [p.kind, p.address]));
    // the spare is all free: one run of the "0% in use" colour over the bar
    const spare = svg.split('\n').find((l) => l.includes(`data-page="${h.P(7)}"`));
    expect(spare).toMatch(/<path fill="#66bd63" d="M150 0h1024v16h-1024z"\/>/);
    // page 2: slice 4 (4 KiB..5 KiB) holds the 4 KiB block in use: deep red
    const p2 = svg.split('\n').find((l) => l.includes(`data-page="${h.P(2)}"`));
    expect(p2).toMatch(/<path fill="#b10026" d="M214 0h64v16h-64z"\/>/); // slices 4-7: the 4 KiB block
    expect(() => renderSVG(s, { slices: 3 })).toThrow(InspectError);
  });

  test('renderSVG zoom: one page, every block a box with its address, state and tooltip', () => {
    const { h, page0 } = reference();
    const s = snapshot(h.src);
    const svg = renderSVG(s, { page: h.P(0) });
    expect(svg).toContain(`class="zee-zoom" data-page="${h.P(0)}" data-kind="small"`);
    const boxes = new Map(
      [...svg.matchAll(/class="zee-block zee-(\w+)" data-addr="(\d+)" data-state="\w+" data-size="(\d+)"/g)].map(
        (m) => [Number(m[2]), [m[1], Number(m[3])]],
      ),
    );
    expect([...boxes.keys()]).toEqual(s.pages[0].blocks.map((b) => b.address));
    expect(boxes.get(page0.blocks[0])).toEqual(['used', 16]);
    expect(boxes.get(page0.large)).toEqual(['large', 16384]);
    expect(svg).toContain(`<title>0x${page0.blocks[0].toString(16).padStart(8, '0')}: in use, block 16 B, usable 8 B`);
    // the 16 KiB free frame at 16 KiB: line 4 (4 KiB per line) from x=90, 4 lines of 1024 px
    expect((svg.match(new RegExp(`data-addr="${h.P(0) + 16384}"`, 'g')) || []).length).toBe(4);
    const large = renderSVG(s, { page: h.P(1) });
    expect(large).toContain(
      `class="zee-block zee-large" data-addr="${page0.large}" data-state="large" data-size="${PAGE + 16384}"`,
    );
    expect(renderSVG(s, { page: h.P(5) })).toContain('not zee_alloc&#39;s');
  });

  test('bad renderer arguments throw InspectError with code ZEE_BAD_ARGUMENT', () => {
    const { h } = reference();
    const s = snapshot(h.src);
    const bad = [
      () => renderSVG({}),
      () => renderText(null),
      () => renderSVG(s, { maxbytes: 10 }),
      () => renderSVG(s, { width: 10 }),
      () => renderSVG(s, { slices: 0 }),
      () => renderSVG(s, { maxBytes: -1 }),
      () => renderSVG(s, { maxBytes: 100 }),
      () => renderSVG(s, { page: 'x' }),
      () => renderSVG(s, { page: 0 }),
      () => renderSVG(s, { lines: 3 }),
      () => renderSVG(s, { collapse: 1 }),
      () => renderText(s, { columns: 20 }),
      () => renderText(s, 5),
    ];
    for (const f of bad) {
      let err;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InspectError);
      expect(err).toMatchObject({ name: 'InspectError', code: 'ZEE_BAD_ARGUMENT' });
      expect(err.message).toMatch(/^zee_alloc inspect: (renderSVG|renderText): /);
    }
    expect(() => snapshot({ buffer: h.buffer, stateAddress: 3 })).toThrow(
      expect.objectContaining({ code: 'ZEE_BAD_ARGUMENT' }),
    );
  });
});

describe('a map that scales: aggregated cells and maxBytes', () => {
  // `pages` small pages of 1,025 blocks: 16 B and 32 B in use, then 64 B
  // blocks, a fifth of those (at odd multiples of 64) free (chosen by a
  // seeded generator, so slices differ), never two free buddies (the buddy of
  // a free one, below it, is in use).  128 pages hold over 100,000 blocks in use.
  function crowded(pages) {
    const h = heapOf(pages);
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) / 65536;
    for (let i = 0; i < pages; i++) {
      const blocks = [
        [16, 'u'],
        [32, 'u'],
      ];
      for (let k = 1; k < PAGE / 64; k++) blocks.push([64, k % 2 && rnd() < 0.4 ? 'f' : 'u']);
      h.small(i, blocks);
    }
    return h.finish();
  }

  test('100,000+ blocks: the SVG size depends on the pages, not the blocks', () => {
    const h = crowded(128);
    const s = snapshot(h.src);
    expect(s.violations).toEqual([]);
    expect(s.totals.usedBlocks).toBeGreaterThan(100_000);
    const svg = renderSVG(s);
    expect(svg.length).toBeLessThan(400_000);
    expect(svg.length / 128).toBeLessThan(2500);
    // twice the pages, about twice the bytes
    const svg2 = renderSVG(snapshot(crowded(256).src));
    expect(svg2.length / svg.length).toBeGreaterThan(1.8);
    expect(svg2.length / svg.length).toBeLessThan(2.2);
  });

  test('maxBytes: fewer slices first, then fewer rows, and the SVG says what was cut', () => {
    const s = snapshot(crowded(128).src);
    const full = renderSVG(s);
    expect(full).not.toContain('zee-cut');
    const size = Buffer.byteLength(full);
    for (const maxBytes of [size - 1, Math.round(size / 2), Math.round(size / 8), 20_000, 8_000]) {
      const svg = renderSVG(s, { maxBytes });
      expect(Buffer.byteLength(svg)).toBeLessThanOrEqual(maxBytes);
      expect(svg).toMatch(/class="zee-cut">cut to fit maxBytes \d+: /);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      const slices = Number(/data-slices="(\d+)"/.exec(svg)[1]);
      const shown = Number(/data-rows-shown="(\d+)"/.exec(svg)[1]);
      expect((svg.match(/<g class="zee-page /g) || []).length).toBe(shown);
      if (shown < 128) expect([slices, svg.includes('data-tooltips="0"')]).toEqual([1, true]);
      if (slices < 64) expect(svg).toContain(`${slices} slice${slices > 1 ? 's' : ''} of`);
    }
    // just below the full size: one halving of the slices is enough, every row stays
    const near = renderSVG(s, { maxBytes: size - 1 });
    expect(/data-slices="(\d+)"/.exec(near)[1]).toBe('32');
    expect(/data-rows-shown="(\d+)"/.exec(near)[1]).toBe('128');
    expect(Number(/data-rows-shown="(\d+)"/.exec(renderSVG(s, { maxBytes: 8_000 }))[1])).toBeLessThan(128);
    // a zoom into a page of 1,025 blocks drops its tooltips, then its boxes
    const page = s.pages[0].address;
    const zoom = renderSVG(s, { page });
    expect((zoom.match(/<title>/g) || []).length).toBeGreaterThan(1025);
    const slim = renderSVG(s, { page, maxBytes: zoom.length - 1 });
    expect(Buffer.byteLength(slim)).toBeLessThan(zoom.length);
    expect(slim).toContain('no tooltips');
    const tiny = renderSVG(s, { page, maxBytes: 20_000 });
    expect(Buffer.byteLength(tiny)).toBeLessThanOrEqual(20_000);
    expect(tiny).toContain('blocks not drawn one by one');
  });
});

test('every rule has a description and STATE_WORDS covers the state block', () => {
  expect(Object.keys(RULES).sort()).toEqual([
    'ZEE_C_BUDDY',
    'ZEE_C_COUNT',
    'ZEE_C_FRAME',
    'ZEE_C_LARGE',
    'ZEE_C_LIST',
    'ZEE_C_LIST_COUNT',
    'ZEE_C_PAGE',
    'ZEE_C_SLAB',
    'ZEE_C_SPAN',
    'ZEE_C_STATE',
    'ZEE_C_TOTALS',
  ]);
  // mid_lists is the last field: after the slab lists, CLASSES words
  expect(STATE.midLists).toBe(STATE.slabs + LAYOUT.SLAB_LISTS);
  expect(STATE_WORDS).toBe(STATE.midLists + LAYOUT.CLASSES);
});
