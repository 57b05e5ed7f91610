// The heap inspector (js/inspect.mjs) on heaps the allocator made (layout 8:
// one buddy heap): snapshots after scripted sequences, checked against the
// layout's rules and against the test helpers' own walk of the heap; every
// build; damage written into a live heap, where validate() and the wasm's
// zee_check() must name the same rule; heaps smashed at random; every kind
// of source; and both renderers on the new snapshot.  Hand-written heaps
// are in test/inspect-layout.test.mjs, random damage of every rule in
// test/inspect-differential.test.mjs.
import { fresh, VARIANT_NAMES } from './helpers/instance.mjs';
import { LAYOUT, CHECK_CODES } from '../js/layout.mjs';
import { blocks as helperBlocks, freeRuns, setMeta, stateWord, listFor, poolOf } from './helpers/layout.mjs';
import { rng, seedFromEnv } from './helpers/shadow.mjs';
import {
  snapshot,
  validate,
  assertValid,
  renderText,
  renderSVG,
  resolveSource,
  RULES,
  InspectError,
} from '../js/inspect.mjs';

const PAGE = LAYOUT.PAGE_SIZE;
const rules = (v) => v.violations.map((x) => x.rule);
const hex8 = (a) => '0x' + a.toString(16).padStart(8, '0');
const word = (z, a, v) => {
  if (v !== undefined) z.HEAPU32[a >>> 2] = v >>> 0;
  return z.HEAPU32[a >>> 2];
};
const pageOf = (a) => a - (a % PAGE);
const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);

// The block records that tile the heap (slots lie inside their slabs).
const tiles = (s) => s.blocks.filter((b) => b.slab === undefined);

/**
 * The rules every sound snapshot keeps, checked from its own records: the
 * blocks tile [heapStart, heapEnd); they are the blocks the test helpers'
 * walk finds; each free frame is on exactly the list of its size and pool;
 * the runs, the pages and the byte totals add up.
 */
function expectConsistent(z, s) {
  const recs = tiles(s);
  expect(recs[0].address).toBe(s.heapStart);
  for (let i = 1; i < recs.length; i++) expect(recs[i].address).toBe(recs[i - 1].address + recs[i - 1].size);
  expect(recs.at(-1).address + recs.at(-1).size).toBe(s.heapEnd);
  expect(recs.map(({ address, size, headerSize, state }) => ({ address, size, headerSize, state }))).toEqual(
    helperBlocks(z).map(({ address, size, headerSize, state }) => ({ address, size, headerSize, state })),
  );
  // free frames and the lists: each frame on the list of its size and of its page's pool
  const free = recs.filter((b) => b.state === 'free');
  const listed = new Map();
  for (const l of [...s.freeLists, ...s.midLists]) for (const m of l.members) listed.set(m, l);
  expect(listed.size).toBe(free.length);
  for (const f of free) {
    const { mid, c } = listFor(z, f.address, f.size);
    expect([f.address, listed.get(f.address)?.pool, f.class]).toEqual([
      f.address,
      mid ? 'mid' : c < 12 ? 'small' : 'none',
      c,
    ]);
    expect(f.pool).toBe(f.size < PAGE ? (mid ? 'mid' : 'small') : 'none');
  }
  // the runs of free frames: the helper's, and the top one
  expect(s.freeRuns).toEqual(freeRuns(z).map(({ start, bytes, frames }) => ({ address: start, bytes, frames })));
  const top = s.freeRuns.at(-1);
  expect(s.totals.topFreeBytes).toBe(top && top.address + top.bytes === s.heapEnd ? top.bytes : 0);
  // the pages: one per 64 KiB from heapStart's page, each byte counted once
  const first = pageOf(s.heapStart);
  expect(s.pages.map((p) => [p.address, p.index])).toEqual(
    Array.from({ length: (s.heapEnd - first) / PAGE }, (_, i) => [first + i * PAGE, i]),
  );
  for (const p of s.pages) {
    const owned = Math.min(p.address + PAGE, s.heapEnd) - Math.max(p.address, s.heapStart - 16);
    expect([
      p.address,
      p.usedBytes + p.freeBytes + p.slabBytes + p.foreignBytes + p.corruptBytes + p.metadataBytes,
    ]).toEqual([p.address, owned]);
    expect(p.pool).toBe(poolOf(z, p.address) ? 'mid' : 'small');
    expect(p.blocks).toEqual(s.blocks.filter((b) => pageOf(b.address) === p.address).map((b) => b.address));
  }
  const t = s.totals;
  expect(t.pages).toBe(s.pages.length);
  expect(Object.values(t.pagesByKind).reduce((a, b) => a + b, 0)).toBe(t.pages);
  expect(t.heapBytes).toBe(s.heapEnd - s.heapStart);
  expect(t.usedBytes + t.freeBytes + t.metadataBytes + t.paddingBytes + t.foreignBytes + t.corruptBytes).toBe(
    t.heapBytes,
  );
  expect([t.freeListBytes, t.freeListMembers]).toEqual([t.freeFrameBytes, t.freeFrames]);
  expect(t.freeBytes).toBe(t.freeFrameBytes + t.freeSlotBytes);
  expect(t.fragmentation).toBeCloseTo(t.freeBytes ? 1 - t.largestFreeBlock / t.freeBytes : 0, 12);
  expect(t.fragmentation).toBeGreaterThanOrEqual(0);
  expect(s.counters).toMatchObject({ usedBytes: t.usedBytes, usedBlocks: t.usedBlocks });
}

// malloc(1), malloc(100) (a slot, freed with its slab), malloc(5000) (exact,
// mid pool), malloc(70000) (exact, above a page), on 8 pages of memory.
async function scripted() {
  const z = await fresh('default', { initialPages: 8 });
  const a = z.malloc(1);
  const b = z.malloc(100);
  const c = z.malloc(5000);
  const d = z.malloc(70000);
  z.free(b);
  return { z, a, b, c, d };
}

// Four slabs: 44 blocks of 40 B (48 B slots, 42 to a 2048 B slab: one full,
// one with 2 in use) and 13 of 150 B (160 B slots, 12 to a 2048 B slab, a
// 96 B tail left over), the first of those freed.
async function slabbed() {
  const z = await fresh();
  const small = z.malloc(8);
  const s48 = Array.from({ length: 44 }, () => z.malloc(40));
  const s160 = Array.from({ length: 13 }, () => z.malloc(150));
  z.free(s160[0]);
  const slabOf = (p) => p - (p % 2048);
  return { z, small, full: slabOf(s48[0]), open: slabOf(s48[42]), a: slabOf(s160[1]), b: slabOf(s160[12]) };
}

describe('snapshot of a scripted heap', () => {
  test('malloc(1), malloc(100), malloc(5000), malloc(70000), free of the slot: its blocks, pools, lists, runs, pages and totals', async () => {
    const { z, a, b, c, d } = await scripted();
    const s = snapshot(z);
    expect([s.violations, z.check()]).toEqual([[], 0]);
    expect(s).toMatchObject({
      layoutVersion: 8,
      stateAddress: z.stateAddress,
      config: { raw: 1, validation: 'external', threads: false },
      memoryBytes: z.memoryBytes,
      heapEnd: z.memoryBytes,
      poolMap: word(z, stateWord(z, 'poolMap')),
      cursor: word(z, stateWord(z, 'cursor')),
    });
    expect(s.heapStart % 16).toBe(0);
    expect(a).toBe(s.heapStart); // the first block: a 16 B frame at the heap's start
    expectConsistent(z, s);
    const rec = (p) => s.blocks.find((x) => x.address === p);
    expect(rec(a)).toEqual({
      address: a,
      page: pageOf(a),
      size: 16,
      headerSize: 16,
      usable: 8,
      state: 'used',
      class: -1,
      pool: 'none',
    });
    // above ROUND_MAX, blocks occupy exactly their size
    expect(rec(c)).toMatchObject({ size: 5008, headerSize: 5008, usable: 5000, state: 'used' });
    expect(rec(d)).toMatchObject({ size: 70016, headerSize: 70016, usable: 70008, state: 'used' });
    // blocks above POOL_MIN take the mid pool: the pages where they end are mid pages
    for (const end of [c + 5008, d + 70016]) expect(s.pages.find((p) => p.address === pageOf(end)).pool).toBe('mid');
    expect(s.midLists.some((l) => l.members.length)).toBe(true);
    // the slab that held b went back whole: no slab, no slot, b inside a free frame
    expect([s.slabs, rec(b)]).toEqual([[], undefined]);
    const around = tiles(s).find((x) => x.address <= b && b < x.address + x.size);
    expect(around.state).toBe('free');
    // nothing above d: the top run is what lies above its end
    expect(
      tiles(s)
        .filter((x) => x.address > d)
        .every((x) => x.state === 'free'),
    ).toBe(true);
    expect(s.totals.topFreeBytes).toBe(s.heapEnd - (d + 70016));
    // frames of 64 KiB and more: on lists[c >= 12] only, of no pool
    const big = tiles(s).filter((x) => x.state === 'free' && x.size >= PAGE);
    expect(big.length).toBeGreaterThan(0);
    for (const f of big) expect(s.freeLists[f.class].members).toContain(f.address);
    expect(s.freeLists.map((l) => l.pool)).toEqual([...Array(12).fill('small'), ...Array(16).fill('none')]);
    expect(s.midLists.map((l) => [l.size, l.pool])).toEqual(Array.from({ length: 12 }, (_, c) => [16 << c, 'mid']));

    const free = tiles(s).filter((x) => x.state === 'free');
    expect(s.counters).toEqual({ usedBytes: 8 + 5000 + 70008, usedBlocks: 3, peakBytes: 8 + 104 + 5000 + 70008 });
    expect(s.totals).toEqual({
      heapBytes: s.heapEnd - s.heapStart,
      pages: s.pages.length,
      pagesByKind: expect.any(Object),
      usedBytes: 75016,
      usedBlocks: 3,
      usedSlots: 0,
      freeBytes: free.reduce((n, f) => n + f.size, 0),
      freeFrameBytes: free.reduce((n, f) => n + f.size, 0),
      freeFrames: free.length,
      freeSlotBytes: 0,
      freeSlots: 0,
      freeListBytes: free.reduce((n, f) => n + f.size, 0),
      freeListMembers: free.length,
      slabs: 0,
      metadataBytes: 3 * 8, // the header slot that ends each block in use
      paddingBytes: 0, // a fills its 16 B frame, c and d are exact
      foreignBytes: 0,
      corruptBytes: 0,
      topFreeBytes: s.heapEnd - (d + 70016),
      largestFreeBlock: Math.max(...s.freeRuns.map((r) => r.bytes)),
      fragmentation: expect.any(Number),
    });
    // a block's header counts with it: the metadata of the pages are the 8
    // unused bytes below a's header and the heap's last 8 bytes
    expect(s.pages.map((p) => p.metadataBytes)).toEqual([8, ...Array(s.pages.length - 2).fill(0), 8]);
    expect(validate(z)).toEqual({ ok: true, violations: [] });
  });

  test('slabs of two slot sizes: each slab a block followed by its slots, full and open slabs, the slab lists, totals to the byte', async () => {
    const h = await slabbed();
    const { z } = h;
    const s = snapshot(z);
    expect([s.violations, z.check()]).toEqual([[], 0]);
    expectConsistent(z, s);
    const slot = (b, m, i) => b + 32 + i * m;
    const slab = (address, m, used, free, extra) => ({
      address,
      page: pageOf(address),
      size: 2048,
      slotSize: m,
      slots: Math.floor(2016 / m),
      usedSlots: used,
      freeSlots: free.length,
      next: expect.any(Number),
      prev: expect.any(Number),
      freeList: free.map((i) => slot(address, m, i)),
      listed: free.length > 0,
      ...extra,
    });
    // free slots go out lowest first, so a slab's free list is in address order
    expect(s.slabs).toEqual([
      slab(h.full, 48, 42, []),
      slab(h.open, 48, 2, range(2, 42), { next: 0, prev: 0 }),
      slab(h.a, 160, 11, [0], { next: h.b, prev: 0 }), // freed into when full: back at the head
      slab(h.b, 160, 1, range(1, 12), { next: 0, prev: h.a }),
    ]);
    expect(s.slabLists).toHaveLength(LAYOUT.SLAB_LISTS);
    expect(s.slabLists.filter((l) => l.members.length)).toEqual([
      { index: 3, slotSize: 48, slabSize: 2048, members: [h.open] },
      { index: 10, slotSize: 160, slabSize: 2048, members: [h.a, h.b] },
    ]);
    // slot sizes are the multiples of 16 that are no power of two: other lists hold no slabs
    expect(s.slabLists[65]).toMatchObject({ slotSize: 1040, slabSize: 8192, members: [] });
    expect([0, 1, 2, 4, 8, 16, 32, 64].map((i) => s.slabLists[i].slabSize)).toEqual(Array(8).fill(0));
    // a slab's record, then its slots in address order
    const want = [];
    for (const [b, m, used] of [
      [h.full, 48, range(0, 42)],
      [h.open, 48, [0, 1]],
      [h.a, 160, range(1, 12)],
      [h.b, 160, [0]],
    ]) {
      want.push({
        address: b,
        page: pageOf(b),
        size: 2048,
        headerSize: 2048,
        usable: 0,
        state: 'slab',
        class: -1,
        pool: 'none',
        slotSize: m,
      });
      for (let i = 0; i < Math.floor(2016 / m); i++)
        want.push({
          address: slot(b, m, i),
          page: pageOf(b),
          size: m,
          headerSize: m,
          usable: m - 8,
          state: used.includes(i) ? 'used' : 'free-slot',
          class: -1,
          pool: 'none',
          slab: b,
        });
    }
    expect(s.blocks.filter((x) => x.address >= h.full && x.address < h.b + 2048)).toEqual(want);
    // the helper's walk reads the same slots
    const helperSlots = helperBlocks(z)
      .filter((x) => x.state === 'slab')
      .flatMap((x) => x.slots);
    expect(helperSlots.map((x) => [x.address, x.size, x.state])).toEqual(
      want.filter((x) => x.slab).map((x) => [x.address, x.size, x.state === 'used' ? 'used' : 'free']),
    );
    // the bytes: slot payloads in use or free; 8 B ending every slot and
    // block in use, and a slab's first 32 B, metadata; a 160 B slab's
    // unused tail (2048 - 32 - 12 * 160 = 96 B) padding
    expect(s.totals).toMatchObject({
      slabs: 4,
      usedSlots: 56,
      freeSlots: 52,
      freeSlotBytes: 40 * 40 + 12 * 152,
      usedBlocks: 57,
      usedBytes: 8 + 44 * 40 + 12 * 152,
      metadataBytes: 8 + 4 * 32 + 8 * (42 + 42 + 12 + 12),
      paddingBytes: 2 * 96,
    });
    // the page: slots by their state, the rest of each slab as slab bytes
    const page = s.pages.find((p) => p.address === pageOf(h.full));
    expect(page.slabBytes).toBe(2 * (2048 - 42 * 48) + 2 * (2048 - 12 * 160));
    expect(page.kind).toBe('mixed');
    // the largest free block is the top run, not a slot
    expect(s.totals.largestFreeBlock).toBe(Math.max(...s.freeRuns.map((r) => r.bytes)));
  });

  test('extents: up to ROUND_MAX a block occupies its power-of-two frame (the rest is padding), above it exactly its size; a slot exactly its size; an aligned request of a slot size is a frame', async () => {
    const z = await fresh('default', { initialPages: 8 });
    const cases = [
      [z.malloc(24), 32, 32, 'used'], // 32 B: a power of two, a frame
      [z.malloc(40), 48, 48, 'used'], // 48 B: a slot
      [z.memalign(64, 40), 48, 64, 'used'], // 48 B aligned to 64: the 64 B frame, not a slot
      [z.malloc(1500), 1520, 2048, 'used'], // above SLAB_MAX: the 2 KiB frame
      [z.malloc(4088), 4096, 4096, 'used'], // ROUND_MAX exactly
      [z.malloc(4089), 4112, 4112, 'used'], // just above: exact
    ];
    const s = snapshot(z);
    expect([s.violations, z.check()]).toEqual([[], 0]);
    expectConsistent(z, s);
    for (const [p, m, ext, state] of cases)
      expect(s.blocks.find((x) => x.address === p)).toMatchObject({ headerSize: m, size: ext, usable: m - 8, state });
    expect(s.blocks.find((x) => x.address === cases[1][0]).slab).toBeDefined();
    expect(s.blocks.find((x) => x.address === cases[2][0]).slab).toBeUndefined();
    expect(cases.map(([p]) => z.usableSize(p))).toEqual(cases.map(([, m]) => m - 8));
    // padding: the frames' slack (the slot's slab is a 2048 B slab of 42 slots of 48 B, no tail)
    expect(s.totals.paddingBytes).toBe(64 - 48 + (2048 - 1520));
  });

  test('everything freed: the heap is one run of free frames, every page free, fragmentation 0; one 16 B block kept in the middle splits it in two', async () => {
    const z = await fresh('default', { initialPages: 4 });
    const ps = [1, 100, 3000, 5000, 70000, 300].map((n) => z.malloc(n));
    for (const p of ps) z.free(p);
    let s = snapshot(z);
    expect([s.violations, z.check()]).toEqual([[], 0]);
    expectConsistent(z, s);
    expect(s.freeRuns).toEqual([{ address: s.heapStart, bytes: s.totals.heapBytes, frames: expect.any(Number) }]);
    expect(s.totals).toMatchObject({
      usedBytes: 0,
      usedBlocks: 0,
      metadataBytes: 0,
      freeBytes: s.totals.heapBytes,
      topFreeBytes: s.totals.heapBytes,
      largestFreeBlock: s.totals.heapBytes,
      fragmentation: 0,
    });
    expect(s.pages.every((p) => p.kind === 'free')).toBe(true);
    expect(s.counters.peakBytes).toBeGreaterThan(70000);
    // a block of 16 B in the middle: two runs, and the smaller one is the fragmented share
    const runs = freeRuns(z);
    const q = z.memalign(PAGE, 1); // at a page boundary inside the run
    s = snapshot(z);
    expectConsistent(z, s);
    expect(s.freeRuns.map((r) => r.address)).toEqual([runs[0].start, q + 16]);
    const [lo, hi] = s.freeRuns.map((r) => r.bytes);
    expect(lo + hi + 16).toBe(s.totals.heapBytes);
    expect(s.totals.fragmentation).toBeCloseTo(Math.min(lo, hi) / (lo + hi), 12);
    expect(validate(z).ok).toBe(true);
  });

  test('memory grown by someone else between two growths is a foreign block: a page boundary to 16 B past one, its pages foreign, no violation', async () => {
    const z = await fresh('default', { initialPages: 4 });
    z.malloc(1);
    const before = snapshot(z);
    z.memory.grow(2); // someone else takes two pages at the current top
    const j = z.malloc(5 * PAGE); // zee_alloc grows past them
    const s = snapshot(z);
    expect([s.violations, z.check()]).toEqual([[], 0]);
    expectConsistent(z, s);
    const foreign = s.blocks.filter((b) => b.state === 'foreign');
    expect(foreign).toEqual([
      {
        address: before.heapEnd,
        page: before.heapEnd,
        size: 2 * PAGE + 16,
        headerSize: 2 * PAGE + 16,
        usable: 0,
        state: 'foreign',
        class: -1,
        pool: 'none',
      },
    ]);
    expect(j).not.toBe(0); // the growth past the foreign memory serves the block
    expect(j).toBeGreaterThanOrEqual(before.heapEnd + 2 * PAGE + 16);
    expect(s.pages.filter((p) => p.kind === 'foreign').map((p) => p.address)).toEqual([
      before.heapEnd,
      before.heapEnd + PAGE,
    ]);
    // its header lies in the page below it, its last 8 bytes in the page above
    expect(s.pages.find((p) => p.address === before.heapEnd - PAGE).foreignBytes).toBe(8);
    expect(s.pages.find((p) => p.address === before.heapEnd + 2 * PAGE).foreignBytes).toBe(8);
    expect(s.totals.foreignBytes).toBe(2 * PAGE + 16);
  });

  test('blocks above POOL_MIN cut from a frame of 64 KiB make its page a mid page; the free frames below 64 KiB there are on mid_lists', async () => {
    const z = await fresh('default', { initialPages: 8 });
    // Why first: the first block of a fresh heap is placed at the bottom of
    // the heap's one free run, in frames that init() left in the small pool.
    z.malloc(1);
    const mids = [5000, 9000, 20000, 4200].map((n) => z.malloc(n));
    const smalls = [8, 100, 3000].map((n) => z.malloc(n));
    z.free(mids[1]);
    const s = snapshot(z);
    expect([s.violations, z.check()]).toEqual([[], 0]);
    expectConsistent(z, s);
    const poolAt = (p) => s.pages.find((x) => x.address === pageOf(p)).pool;
    expect(mids.filter((_, i) => i !== 1).map(poolAt)).toEqual(['mid', 'mid', 'mid']);
    expect(smalls.map(poolAt)).toEqual(['small', 'small', 'small']);
    const midFrames = s.blocks.filter((b) => b.state === 'free' && b.pool === 'mid');
    expect(midFrames.length).toBeGreaterThan(0);
    expect(new Set(s.midLists.flatMap((l) => l.members))).toEqual(new Set(midFrames.map((b) => b.address)));
  });
});

describe('every build walks cleanly', () => {
  test.each(VARIANT_NAMES)('%s build: config decoded, heap valid after a mixed sequence', async (variant) => {
    const z = await fresh(variant);
    const ps = [1, 17, 300, 5000, 40000, 131072, 9, 70000, 1032, 1040].map((n) => z.malloc(n));
    z.free(ps[1]);
    z.free(ps[5]);
    ps[3] = z.realloc(ps[3], 9000);
    const s = snapshot(z);
    expect(s.config).toEqual({
      raw: { default: 1, dev: 2, unsafe: 0 }[variant],
      validation: { default: 'external', dev: 'dev', unsafe: 'unsafe' }[variant],
      threads: false,
    });
    expect([s.violations, z.check()]).toEqual([[], 0]);
    expectConsistent(z, s);
    expect(assertValid(z)).toEqual({ ok: true, violations: [] });
  });
});

describe('damage: validate() and zee_check() name the same rule, and the walk says what it could not read', () => {
  // The rule zee_check() returns, and validate()'s violations.
  const verdict = (z) => {
    const v = validate(z);
    return { check: CHECK_CODES[z.check()], first: v.violations[0]?.rule, v };
  };

  test("an overwritten header: ZEE_C_FRAME at that block; the rest of the heap is one unreadable block, and the sums it spoils aren't judged", async () => {
    const { z, c } = await scripted();
    word(z, c - 8, 0x41414141);
    const { check, v } = verdict(z);
    expect(check).toBe('ZEE_C_FRAME');
    // one violation: the free frames past c are still listed, but the walk
    // never met them, so neither their lists nor the totals are judged
    expect(v.violations).toEqual([
      {
        rule: 'ZEE_C_FRAME',
        address: c,
        message: expect.stringMatching(/^block 0x[0-9a-f]{8} \(header 0x41414141 .*check word/),
      },
    ]);
    const s = snapshot(z);
    expect(tiles(s).at(-1)).toMatchObject({
      address: c,
      size: s.heapEnd - c,
      state: 'corrupt',
      why: expect.stringMatching(/check word/),
    });
    expect(s.totals.corruptBytes).toBe(s.heapEnd - c);
    expect(s.pages.filter((p) => p.address + PAGE > c).every((p) => p.kind === 'corrupt')).toBe(true);
    const t = s.totals;
    expect(t.usedBytes + t.freeBytes + t.metadataBytes + t.paddingBytes + t.corruptBytes).toBe(t.heapBytes);
  });

  test('a header of tag MERGED (one buried by a merge) where a block starts: ZEE_C_FRAME naming it', async () => {
    const { z, c } = await scripted();
    setMeta(z, c, 5008, LAYOUT.TAG_MERGED);
    const { check, first, v } = verdict(z);
    expect([check, first]).toEqual(['ZEE_C_FRAME', 'ZEE_C_FRAME']);
    expect(v.violations[0].message).toMatch(/tag 4 is none of .*: a header buried inside a merged frame/);
  });

  // Why zee_check() too: its walk must judge the step that leaves the heap,
  // not only the steps that stay inside it.
  test('a block in use whose size runs past heap_end: ZEE_C_FRAME at it', async () => {
    const { z, d } = await scripted();
    const s = snapshot(z);
    setMeta(z, d, s.heapEnd - d + 16, LAYOUT.TAG_USED);
    const { check, v } = verdict(z);
    expect(v.violations[0]).toMatchObject({
      rule: 'ZEE_C_FRAME',
      address: d,
      message: expect.stringMatching(/past heap_end/),
    });
    expect(check).toBe('ZEE_C_FRAME');
  });

  test('a slot whose header is smashed: ZEE_C_SLAB at the slot; the slab is one unreadable block and the walk goes on after it', async () => {
    const h = await slabbed();
    const slot = h.a + 32 + 2 * 160;
    word(h.z, slot - 8, 0);
    const { check, v } = verdict(h.z);
    expect(check).toBe('ZEE_C_SLAB');
    expect(v.violations[0]).toMatchObject({
      rule: 'ZEE_C_SLAB',
      address: slot,
      message: expect.stringMatching(/^slab 0x[0-9a-f]+ of 2048 B .*: slot /),
    });
    const s = snapshot(h.z);
    expect(s.blocks.find((b) => b.address === h.a)).toMatchObject({ state: 'corrupt', size: 2048 });
    expect(s.slabs.map((x) => x.address)).toEqual([h.full, h.open, h.b]); // the one after it was read
    expect(tiles(s).at(-1).address + tiles(s).at(-1).size).toBe(s.heapEnd);
  });

  test.each([
    ['a next link to a block in use', (z, f, used) => word(z, f, used)],
    ['a next link past the memory', (z, f) => word(z, f, 0xfffffff0)],
    ['a back link off by 16', (z, f) => word(z, f + 4, word(z, f + 4) + 16)],
    ['a next link to itself (a loop)', (z, f) => word(z, f, f)],
  ])('a free frame with %s: ZEE_C_LIST, and the walk of its list ends', async (_name, damage) => {
    const { z, a } = await scripted();
    const s = snapshot(z);
    const f = s.blocks.find((b) => b.state === 'free' && b.size < PAGE).address;
    damage(z, f, a);
    const { check, first } = verdict(z);
    expect([check, first]).toEqual(['ZEE_C_LIST', 'ZEE_C_LIST']);
  });

  test('a frame of a small-pool page on mid_lists: ZEE_C_LIST naming the list it belongs on', async () => {
    const { z } = await scripted();
    const s = snapshot(z);
    const l = s.freeLists.find((x) => x.class < 12 && x.members.length);
    word(z, stateWord(z, 'midLists', l.class), l.members[0]);
    const { check, v } = verdict(z);
    expect(check).toBe('ZEE_C_LIST');
    expect(v.violations[0]).toMatchObject({
      rule: 'ZEE_C_LIST',
      address: l.members[0],
      message: `mid_lists[${l.class}] (${l.size} B): ${hex8(l.members[0])} is a free frame of a small-pool page, whose frames go on lists[${l.class}] (${l.size} B)`,
    });
  });

  test('a header forged inside a block in use and pushed on its list: ZEE_C_LIST (it is no block of the heap) for both', async () => {
    const { z, d } = await scripted();
    const f = d + 16; // inside d's payload, aligned to 16
    setMeta(z, f, 16, LAYOUT.TAG_FREE);
    const { mid } = listFor(z, f, 16);
    const head = stateWord(z, mid ? 'midLists' : 'lists', 0),
      old = word(z, head);
    word(z, f, old);
    word(z, f + 4, 0);
    if (old) word(z, old + 4, f);
    word(z, head, f);
    const { check, v } = verdict(z);
    expect(check).toBe('ZEE_C_LIST');
    expect(v.violations[0]).toMatchObject({
      rule: 'ZEE_C_LIST',
      address: f,
      message: expect.stringMatching(/has a free frame's header but is not a block of the heap/),
    });
  });

  test('a free frame unlinked from its list: ZEE_C_LIST_COUNT at the frame, naming its list', async () => {
    const { z } = await scripted();
    const s = snapshot(z);
    const l = s.midLists.find((x) => x.members.length === 1);
    word(z, stateWord(z, 'midLists', l.class), 0);
    const { check, v } = verdict(z);
    expect(check).toBe('ZEE_C_LIST_COUNT');
    expect(v.violations).toEqual([
      {
        rule: 'ZEE_C_LIST_COUNT',
        address: l.members[0],
        message: `free frame ${hex8(l.members[0])} of ${l.size} B is on no free list (it belongs on mid_lists[${l.class}] (${l.size} B))`,
      },
    ]);
  });

  test('two free buddies that were not merged: ZEE_C_BUDDY at the lower one', async () => {
    const { z } = await scripted();
    const s = snapshot(z);
    const f = s.blocks.find((b) => b.state === 'free' && b.size >= 1024 && b.size < PAGE);
    const half = f.size / 2;
    setMeta(z, f.address, half, LAYOUT.TAG_FREE);
    setMeta(z, f.address + half, half, LAYOUT.TAG_FREE);
    const { check, v } = verdict(z);
    expect(check).toBe('ZEE_C_BUDDY');
    expect(v.violations[0]).toEqual({
      rule: 'ZEE_C_BUDDY',
      address: f.address,
      message: `free frames ${hex8(f.address)} and ${hex8(f.address + half)} of ${half} B are buddies but were not merged`,
    });
  });

  test('a foreign block inside a page: ZEE_C_FOREIGN', async () => {
    const { z } = await scripted();
    const f = snapshot(z).blocks.find((b) => b.state === 'free' && b.address % PAGE);
    setMeta(z, f.address, f.size, LAYOUT.TAG_FOREIGN);
    const { check, v } = verdict(z);
    expect(check).toBe('ZEE_C_FOREIGN');
    expect(v.violations[0]).toMatchObject({ rule: 'ZEE_C_FOREIGN', address: f.address });
  });

  test.each([
    ['usedBytes', 1],
    ['usedBlocks', 1],
  ])('the state’s %s off by %d: ZEE_C_TOTALS at that word', async (field, by) => {
    const { z } = await scripted();
    word(z, stateWord(z, field), word(z, stateWord(z, field)) + by);
    const { check, v } = verdict(z);
    expect(check).toBe('ZEE_C_TOTALS');
    expect(v.violations).toEqual([
      {
        rule: 'ZEE_C_TOTALS',
        address: stateWord(z, field),
        message: expect.stringMatching(new RegExp(`the state's ${field} is \\d+, the walk finds \\d+`)),
      },
    ]);
  });

  test('the peak below the bytes in use: ZEE_C_TOTALS', async () => {
    const { z } = await scripted();
    word(z, stateWord(z, 'peakBytes'), 100);
    expect(verdict(z)).toMatchObject({ check: 'ZEE_C_TOTALS', first: 'ZEE_C_TOTALS' });
  });

  test.each([
    ['the word at heap_end - 8 set', (z, s) => word(z, s.heapEnd - 8, 1)],
    ['the cursor off a granule', (z, s) => word(z, stateWord(z, 'cursor'), s.heapStart + 4)],
    ['the cursor past heap_end', (z, s) => word(z, stateWord(z, 'cursor'), s.heapEnd + 16)],
    ['heap_end off a page boundary', (z, s) => word(z, stateWord(z, 'heapEnd'), s.heapEnd - 16)],
    ['heap_start off a granule', (z, s) => word(z, stateWord(z, 'heapStart'), s.heapStart + 8)],
  ])('%s: ZEE_C_STATE for both', async (_name, damage) => {
    const { z } = await scripted();
    damage(z, snapshot(z));
    expect(verdict(z)).toMatchObject({ check: 'ZEE_C_STATE', first: 'ZEE_C_STATE' });
  });

  test('a cursor anywhere in the heap on a granule is a hint, not a rule', async () => {
    const { z, a } = await scripted();
    word(z, stateWord(z, 'cursor'), a + 32);
    expect(verdict(z)).toMatchObject({ check: 'ZEE_C_OK', v: { ok: true } });
  });

  test('state words only the inspector reads: the magic, the layout version, a config word, heap_end past the memory, the pool map outside it or off a word (zee_check() uses its own)', async () => {
    for (const [field, value, message] of [
      ['magic', 0, /no zee_heap_info_t at .*: magic is 0x00000000/],
      ['layout', 7, /layout version 7 is not the inspector's 8/],
      ['config', 0x41, /config word 0x00000041 is not ZEE_VALIDATION/],
      ['heapEnd', 0x7fff0000, /heap bounds .*inside the \d+-byte memory/],
      ['poolMap', 0xfffffff0, /the pool map at 0xfffffff0 .* is not 4-aligned inside/],
      ['poolMap', 0, /the pool map at 0x00000000/],
      ['poolMap', 0x402, /the pool map at 0x00000402 \(a bit per page .*32-bit words\)/], // off a word
    ]) {
      const { z } = await scripted();
      word(z, stateWord(z, field), value);
      const v = validate(z);
      expect([field, v.violations[0]]).toEqual([
        field,
        { rule: 'ZEE_C_STATE', address: expect.any(Number), message: expect.stringMatching(message) },
      ]);
      // the walk goes on past a config word it can't decode, not past the others
      expect([field, snapshot(z).pages.length > 0]).toEqual([field, field === 'config']);
      // zee_check() trusts its own state here (and would read past the memory at heap_end - 8)
      if (field !== 'heapEnd') expect([field, z.check()]).toEqual([field, 0]);
    }
  });

  test('a double free with validation off (unsafe build): both see the heap broken, by the same rule', async () => {
    for (const n of [1, 100, 5000, 70000]) {
      const z = await fresh('unsafe', { initialPages: 8 });
      z.malloc(1);
      const p = z.malloc(n);
      z.malloc(3000);
      z.free(p);
      z.free(p);
      const { check, first } = verdict(z);
      expect([n, first]).toEqual([n, check]);
      expect(check).not.toBe('ZEE_C_OK');
    }
  });

  test('assertValid throws an error with the first rule as its code and every violation', async () => {
    const { z } = await scripted();
    word(z, stateWord(z, 'usedBlocks'), 9);
    word(z, stateWord(z, 'peakBytes'), 0);
    let err;
    try {
      assertValid(z);
    } catch (e) {
      err = e;
    }
    expect(err.code).toBe('ZEE_C_TOTALS');
    expect(err.violations.map((x) => x.rule)).toEqual(['ZEE_C_TOTALS', 'ZEE_C_TOTALS']);
    expect(err.message).toMatch(/^zee_alloc heap is invalid \(2 violations\):\n {2}ZEE_C_TOTALS at 0x/);
  });

  test('a heap smashed at random (words over headers, links, lists and the state block) gives violations, never an exception or an endless walk', async () => {
    const seed = seedFromEnv();
    console.log(`inspect smash: seed ${seed} (replay with ZEE_SEED=${seed})`);
    const r = rng(seed);
    for (let round = 0; round < 30; round++) {
      const { z } = await scripted();
      const s = snapshot(z);
      const words = r.int(1, 200);
      for (let i = 0; i < words; i++) {
        const a =
          r() < 0.2
            ? stateWord(z, 'heapStart') + 4 * r.int(0, 120)
            : s.heapStart - 16 + 4 * r.int(0, (s.heapEnd - s.heapStart) / 4 + 3);
        word(z, a, r() < 0.5 ? Math.floor(r() * 2 ** 32) : r.pick([0, 16, s.heapStart, s.heapEnd - 8, a, 0xfffffff0]));
      }
      const t0 = Date.now();
      const snap = snapshot(z);
      expect(Date.now() - t0).toBeLessThan(5000);
      // every rule it names is one of zee_check()'s codes
      for (const x of snap.violations) expect(Object.keys(RULES)).toContain(x.rule);
      renderText(snap);
      renderSVG(snap, { maxBytes: 100_000 });
    }
  });
});

describe('sources', () => {
  test('a ZeeAlloc, { memory, stateAddress }, { buffer, stateAddress } and a Module-like object give the same snapshot', async () => {
    const { z } = await scripted();
    const ref = snapshot(z);
    const stateAddress = z.stateAddress;
    expect(snapshot({ memory: z.memory, stateAddress })).toEqual(ref);
    expect(snapshot({ buffer: z.memory.buffer, stateAddress })).toEqual(ref);
    expect(snapshot({ HEAPU8: new Uint8Array(z.memory.buffer), _zee_heap_info: () => stateAddress })).toEqual(ref);
    expect(snapshot({ wasmMemory: z.memory, _zee_heap_info: () => stateAddress })).toEqual(ref);
    expect(JSON.parse(JSON.stringify(ref))).toEqual(ref);
  });

  test('a copy of the memory (a frozen heap) can be inspected after the live heap moved on', async () => {
    const { z, d } = await scripted();
    const frozen = z.memory.buffer.slice(0);
    const stateAddress = z.stateAddress;
    z.free(d);
    const used = (s) => s.blocks.filter((b) => b.state === 'used').map((b) => b.address);
    expect(used(snapshot({ buffer: frozen, stateAddress }))).toContain(d);
    expect(used(snapshot(z))).not.toContain(d);
  });

  test('a heap nothing was allocated from yet: heap_start 0, an empty snapshot, and the inspector left it so', async () => {
    const z = await fresh();
    const before = z.memory.buffer.slice(0);
    const s = snapshot(z);
    expect(s).toMatchObject({ heapStart: 0, heapEnd: 0, pages: [], blocks: [], freeRuns: [], violations: [] });
    expect(s.totals.heapBytes).toBe(0);
    expect(Buffer.compare(Buffer.from(z.memory.buffer), Buffer.from(before))).toBe(0);
    expect(typeof renderText(s)).toBe('string');
    expect(renderSVG(s)).toMatch(/<\/svg>\n?$/);
  });

  test('snapshots follow memory growth (views are re-taken)', async () => {
    const z = await fresh('default', { initialPages: 4 });
    const src = { memory: z.memory, stateAddress: z.stateAddress };
    z.malloc(1);
    const before = snapshot(src).totals.heapBytes;
    const j = z.malloc(20 * PAGE);
    const s = snapshot(src);
    expect(s.totals.heapBytes).toBeGreaterThan(before);
    expect(s.heapEnd).toBe(z.memoryBytes);
    expect(s.blocks.find((b) => b.address === j)).toMatchObject({ state: 'used', headerSize: 20 * PAGE + 16 });
  });

  test('bad sources get clear errors with code ZEE_BAD_ARGUMENT', async () => {
    const z = await fresh();
    expect(() => snapshot()).toThrow(InspectError);
    expect(() => snapshot(42)).toThrow(/expected a ZeeAlloc instance/);
    expect(() => snapshot({ stateAddress: 4 })).toThrow(/has no memory/);
    expect(() => snapshot({ memory: z.memory })).toThrow(/no state address.*EXPORTED_FUNCTIONS/);
    expect(() => snapshot({ memory: z.memory, stateAddress: z.memoryBytes })).toThrow(/not a word inside/);
    const stale = new Uint8Array(z.memory.buffer);
    z.memory.grow(1);
    expect(() => validate({ HEAPU8: stale, stateAddress: z.stateAddress })).toThrow(/detached/);
    expect(() => snapshot(7)).toThrow(expect.objectContaining({ name: 'InspectError', code: 'ZEE_BAD_ARGUMENT' }));
    expect(resolveSource(z).stateAddress).toBe(z.stateAddress);
  });

  test('RULES are exactly the zee_check() codes', () => {
    const codes = Object.values(CHECK_CODES).filter((n) => n !== 'ZEE_C_OK');
    expect(Object.keys(RULES).sort()).toEqual(codes.sort());
    expect(Object.isFrozen(RULES)).toBe(true);
  });
});

// The maps are js/render.mjs's (test/inspect-layout.test.mjs and the viewer's
// tests hold their details); here they only draw real snapshots of the new shape.
describe('renderers on real snapshots', () => {
  test('renderText and renderSVG draw the scripted heap, and a page of it', async () => {
    const { z, a } = await scripted();
    const s = snapshot(z);
    const text = renderText(s);
    expect(text.trimEnd().split('\n').length).toBeGreaterThan(s.pages.length);
    expect(renderText(s, { page: a })).toContain(hex8(a));
    const svg = renderSVG(s);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(renderSVG(s, { page: a })).toContain(`data-addr="${a}"`);
  });

  test('100,000+ live blocks of the real allocator: the SVG stays under 1 MB and maxBytes holds', async () => {
    const z = await fresh('default', { initialPages: 64 });
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;
    const live = [];
    for (let i = 0; i < 130000; i++) {
      const p = z.malloc(1 + Math.floor(rnd() * 120));
      expect(p).not.toBe(0);
      live.push(p);
    }
    for (let i = 0; i < live.length; i += 5) z.free(live[i]); // holes everywhere
    const s = snapshot(z);
    expect(s.violations).toEqual([]);
    expect(s.totals.usedBlocks).toBeGreaterThanOrEqual(100000);
    const bytes = Buffer.byteLength(renderSVG(s));
    expect(bytes).toBeLessThan(1_000_000);
    for (const maxBytes of [Math.floor(bytes / 2), 50_000, 10_000])
      expect(Buffer.byteLength(renderSVG(s, { maxBytes }))).toBeLessThanOrEqual(maxBytes);
    expect(validate(z).ok).toBe(true);
    expect(z.check()).toBe(0);
  }, 60000);
});
