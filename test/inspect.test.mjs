// The heap inspector (js/inspect.mjs) on heaps the allocator made: exact
// snapshots after scripted sequences, every build, corruption written into a
// live heap (validate() and the wasm's zee_check() must name the same rule),
// every kind of source, and both renderers, including a map of 100,000+ live
// blocks.  test/inspect-layout.test.mjs covers the rules on hand-written heaps.
import { fresh, VARIANT_NAMES } from './helpers/instance.mjs';
import { LAYOUT, STATE, CHECK_CODES } from '../js/layout.mjs';
import { walk as walkHeap } from './helpers/layout.mjs';
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
const stateWord = (z, field) => z.stateAddress + 4 * STATE[field];
const mapByte = (z, a) => z.HEAPU32[stateWord(z, 'pageMap') >>> 2] + (a >>> 16);
// Writes a sound header (info and its check word) for payload p.
function header(z, p, size, tag) {
  z.HEAPU32[(p - 8) >>> 2] = size | tag;
  z.HEAPU32[(p - 4) >>> 2] = ((size | tag) ^ p ^ LAYOUT.SALT) >>> 0;
}

// A heap of 8 memory pages (the heap starts above data and stack: never hard-coded).
async function scripted() {
  const z = await fresh('default', { initialPages: 8 });
  const a = z.malloc(1); // a 16 B block
  const c = z.malloc(24); // 32 B
  const b = z.malloc(100); // 112 B: a slot in a 512 B slab, freed with it
  const d = z.malloc(70000); // a large block (above 65,512 B): 4,464 B in the top of the first page, then one whole page
  z.free(b);
  return { z, a, b, c, d };
}

// A heap with four slabs (zee_alloc.c "Slabs") in its first page P, found
// by the walk: `full` at P+512 (ten 48 B slots, all in use, on no list),
// `open` at P+1024 (48 B slots, 2 in use, 8 free), `a` at P+1536 (112 B
// slots, 3 in use) and `b` at P+2048 (112 B slots, 1 in use); the list of
// 48 B slots holds [open], the list of 112 B slots [a, b].
async function slabbed() {
  const z = await fresh();
  const small = z.malloc(8);
  for (let i = 0; i < 12; i++) z.malloc(40);
  const other = Array.from({ length: 5 }, () => z.malloc(100));
  z.free(other[0]);
  z.malloc(100000);
  const P = small - 16;
  const h = { z, small, P, full: P + 512, open: P + 1024, a: P + 1536, b: P + 2048 };
  h.slot = (slab, i) => slab + 32 + i * (z.HEAPU32[(slab + 24) >>> 2] & ~15); // slot i's payload
  h.word = (a, v) => {
    if (v !== undefined) z.HEAPU32[a >>> 2] = v;
    return z.HEAPU32[a >>> 2];
  };
  h.list = (i) => stateWord(z, 'slabs') + 4 * i;
  return h;
}

describe('snapshot of a scripted heap', () => {
  test('after malloc(1), malloc(24), malloc(100), malloc(70000), free(b): exact blocks, large block, span, lists and totals', async () => {
    const { z, a, c, d } = await scripted();
    const s = snapshot(z);
    const P = s.heapStart;
    const heapPages = s.totals.pages;
    expect(s.heapEnd).toBe(z.memoryBytes);
    expect(s.violations).toEqual([]);
    expect(s.config).toEqual({ raw: 1, validation: 'external', threads: false });
    expect([a - P, c - P, d - P]).toEqual([16, 32, PAGE - 4464]);

    expect(s.pages.map((p) => p.kind)).toEqual(['small', 'large', ...Array(heapPages - 2).fill('free-span')]);
    expect(s.pages.map((p) => p.address)).toEqual(Array.from({ length: heapPages }, (_, i) => P + i * PAGE));
    expect(s.pages[0]).toMatchObject({ count: 3, usedBlocks: 2, large: d, limit: d, spare: false, corrupt: false });

    // b's slab went back to the lists as a free 512 B frame; the top of
    // the page was carved into frames down to the large block at 61,072.
    const top = [
      [32768, 16384],
      [49152, 8192],
      [57344, 2048],
      [59392, 1024],
      [60416, 512],
      [60928, 128],
      [61056, 16],
    ];
    expect(s.pages[0].blocks.map((f) => [f.address - P, f.size, f.state])).toEqual([
      [16, 16, 'used'],
      [32, 32, 'used'],
      ...[64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384].map((x) => [x, x, 'free']),
      ...top.map(([at, size]) => [at, size, 'free']),
      [61072, 4464, 'large'],
    ]);
    expect(s.large).toEqual([
      { address: d, anchor: P, size: 70000, usable: 70000, pages: 1, inPage: 4464, end: P + 2 * PAGE },
    ]);
    expect(s.spans).toEqual([{ address: P + 2 * PAGE, pages: heapPages - 2, bytes: (heapPages - 2) * PAGE }]);
    expect(s.firstFree).toBeLessThanOrEqual(P + 2 * PAGE);
    // every free frame is on the list of its size, nothing else is
    const free = s.blocks.filter((f) => f.state === 'free');
    expect(s.freeLists.flatMap((l) => l.members).sort()).toEqual(free.map((f) => f.address).sort());
    for (const l of s.freeLists) for (const m of l.members) expect(free.find((f) => f.address === m).size).toBe(l.size);

    const freeFrameBytes = free.reduce((n, f) => n + f.size - 8, 0);
    const spanBytes = (heapPages - 2) * PAGE;
    expect(s.totals).toMatchObject({
      heapBytes: heapPages * PAGE,
      pages: heapPages,
      pagesByKind: { small: 1, large: 1, 'free-span': heapPages - 2, foreign: 0, corrupt: 0 },
      usedBytes: 8 + 24 + 70000,
      usedBlocks: 3,
      usedSmall: 2,
      usedLarge: 1,
      freeFrames: 16,
      freeFrameBytes,
      freeSpanBytes: spanBytes,
      freeSpans: 1,
      freeBytes: freeFrameBytes + spanBytes,
      metadataBytes: 8 + 8 * 18 + 8, // the page word, 18 block headers, the large block's header
      reservedBytes: 0,
      foreignBytes: 0,
      corruptBytes: 0,
      largestFreeBlock: spanBytes,
    });
    const t = s.totals;
    expect(t.fragmentation).toBeCloseTo(1 - spanBytes / (freeFrameBytes + spanBytes), 12);
    expect(t.paddingBytes).toBe(0); // a and c fill their frames, b is gone
    expect(t.usedBytes + t.freeBytes + t.metadataBytes + t.reservedBytes + t.paddingBytes).toBe(t.heapBytes);
    // the allocator's running totals agree with the walk
    expect(s.counters).toEqual({
      usedBytes: 70032,
      usedBlocks: 3,
      peakBytes: 70032 + 104,
      smallPages: 1,
      largePages: 1,
      freePages: heapPages - 2,
    });
    expect(validate(z)).toEqual({ ok: true, violations: [] });
    expect(z.check()).toBe(0);
  });

  test('slabs of slots of two sizes: each slab a block followed by its slots, full and open slabs, the slab lists, totals to the byte', async () => {
    const h = await slabbed();
    const { z, P } = h;
    const s = snapshot(z);
    expect([s.violations, z.check()]).toEqual([[], 0]);
    expect(s.slabs).toEqual([
      {
        address: h.full,
        page: P,
        size: 512,
        slotSize: 48,
        slots: 10,
        usedSlots: 10,
        freeSlots: 0,
        next: expect.any(Number),
        prev: expect.any(Number),
        freeList: [],
        listed: false,
      },
      {
        address: h.open,
        page: P,
        size: 512,
        slotSize: 48,
        slots: 10,
        usedSlots: 2,
        freeSlots: 8,
        next: 0,
        prev: 0,
        freeList: [2, 3, 4, 5, 6, 7, 8, 9].map((i) => h.slot(h.open, i)),
        listed: true,
      },
      {
        address: h.a,
        page: P,
        size: 512,
        slotSize: 112,
        slots: 4,
        usedSlots: 3,
        freeSlots: 1,
        next: h.b,
        prev: 0,
        freeList: [h.slot(h.a, 0)],
        listed: true,
      },
      {
        address: h.b,
        page: P,
        size: 512,
        slotSize: 112,
        slots: 4,
        usedSlots: 1,
        freeSlots: 3,
        next: 0,
        prev: h.a,
        freeList: [1, 2, 3].map((i) => h.slot(h.b, i)),
        listed: true,
      },
    ]);
    // the slab lists, by slot size / 16: only 48 B (3) and 112 B (7) hold slabs
    expect(s.slabLists).toHaveLength(LAYOUT.SLAB_LISTS);
    expect(s.slabLists.filter((l) => l.members.length)).toEqual([
      { index: 3, slotSize: 48, slabSize: 512, members: [h.open] },
      { index: 7, slotSize: 112, slabSize: 512, members: [h.a, h.b] },
    ]);
    expect(s.slabLists[65]).toMatchObject({ slotSize: 1040, slabSize: 8192, members: [] });
    // the blocks of [P+512, P+2560): a slab, then its slots in address order
    const page = s.pages[0];
    const inSlabs = page.blocks.filter((b) => b.address >= h.full && b.address < h.b + 512);
    const want = [];
    for (const [slab, m, used] of [
      [h.full, 48, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
      [h.open, 48, [0, 1]],
      [h.a, 112, [1, 2, 3]],
      [h.b, 112, [0]],
    ]) {
      want.push({ address: slab, page: P, size: 512, usable: 0, state: 'slab', class: -1, slotSize: m });
      for (let i = 0; i < Math.floor(480 / m); i++)
        want.push({
          address: slab + 32 + i * m,
          page: P,
          size: m,
          usable: m - 8,
          state: used.includes(i) ? 'used' : 'free-slot',
          class: -1,
          slab,
        });
    }
    expect(inSlabs).toEqual(want);
    // the test helper's walk sees the same slabs and slots
    const helperSlabs = walkHeap(z)[0].blocks.filter((b) => b.tag === LAYOUT.TAG_SLAB);
    expect(helperSlabs.map((b) => [b.addr, b.size, b.slots.length])).toEqual(
      s.slabs.map((x) => [x.address, 512, x.slots]),
    );
    expect(helperSlabs.flatMap((b) => b.slots)).toEqual(
      inSlabs
        .filter((b) => b.slab)
        .map((b) => ({
          addr: b.address,
          size: b.size,
          tag: b.state === 'used' ? LAYOUT.TAG_SLOT : LAYOUT.TAG_SLOT_FREE,
        })),
    );
    // the page word counts a slab as one block; its blocks in use are the slots
    expect(page).toMatchObject({ count: 1 + 4 + 1, usedBlocks: 1 + 16, slabs: 4, freeSlots: 12 });
    const t = s.totals;
    expect(t).toMatchObject({
      slabs: 4,
      usedSlots: 16,
      freeSlots: 12,
      freeSlotBytes: 8 * 40 + 4 * 104,
      usedSmall: 17,
      usedBlocks: 18,
      usedBytes: 8 + 12 * 40 + 4 * 104 + 100000,
    });
    expect(t.freeBytes).toBe(t.freeFrameBytes + t.freeSlotBytes + t.freeSpanBytes);
    expect(s.counters).toMatchObject({ usedBlocks: t.usedBlocks, usedBytes: t.usedBytes });
    expect(
      t.usedBytes + t.freeBytes + t.metadataBytes + t.reservedBytes + t.paddingBytes + t.foreignBytes + t.corruptBytes,
    ).toBe(t.heapBytes);
    // the page anchors the large block, so all it reserves are the unused
    // tails of the 112 B slabs: 512 - 32 - 4 * 112 = 32 B each (a 48 B slab has none)
    expect(page.large).not.toBe(0);
    expect(t.reservedBytes).toBe(2 * 32);
    // both maps show the slabs: the listing names them and their slots, the zoom draws them
    const list = renderText(s, { page: P, columns: 200 });
    expect(list).toMatch(/: small, 17 blocks in use \([^)]+\), 14 free frames and 12 free slots in 4 slabs \(/);
    expect(list).toContain(`0x${h.open.toString(16).padStart(8, '0')} slab          512 B: 10 slots of 48 B`);
    expect(list).toContain(
      `0x${h.slot(h.open, 1).toString(16).padStart(8, '0')} slot           48 B, usable 40 B, in slab`,
    );
    expect(list).toContain(`0x${h.slot(h.open, 2).toString(16).padStart(8, '0')} free slot      48 B, in slab`);
    expect(renderText(s)).toMatch(/ 17u \d+f 4s \+L\n/);
    const zoom = renderSVG(s, { page: P });
    const drawn = (state) =>
      new Set([...zoom.matchAll(new RegExp(`data-addr="(\\d+)" data-state="${state}"`, 'g'))].map((m) => Number(m[1])));
    expect([...drawn('slab')].sort()).toEqual([h.full, h.open, h.a, h.b].sort());
    expect(drawn('free-slot').size).toBe(12);
    expect([...drawn('used')].filter((a) => a >= h.full && a < h.b + 512).length).toBe(16);
    expect(zoom).toContain(`data-state="used" data-size="48" data-slab="${h.full}"`);
    expect(zoom).toMatch(/class="zee-legend">.*slab words.*free slot/);
    expect(zoom).toContain(`free slot of 48 B in slab 0x${h.open.toString(16).padStart(8, '0')}`);
  });

  test('freeing the large block: its page is free again, the top of the anchor merges back into frames', async () => {
    const { z, d } = await scripted();
    z.free(d);
    const s = snapshot(z);
    const P = s.heapStart,
      heapPages = s.totals.pages;
    expect(s.pages.map((p) => p.kind)).toEqual(['small', ...Array(heapPages - 1).fill('free-span')]);
    expect(s.spans).toEqual([{ address: P + PAGE, pages: heapPages - 1, bytes: (heapPages - 1) * PAGE }]);
    expect(s.large).toEqual([]);
    expect(s.pages[0]).toMatchObject({ count: 2, large: 0, limit: P + PAGE });
    expect(s.pages[0].blocks.map((f) => [f.address - P, f.size, f.state])).toEqual([
      [16, 16, 'used'],
      [32, 32, 'used'],
      ...[64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768].map((x) => [x, x, 'free']),
    ]);
    expect(s.totals).toMatchObject({ usedBytes: 32, usedBlocks: 2, reservedBytes: 8, metadataBytes: 8 + 12 * 8 });
    expect(s.counters).toMatchObject({ usedBytes: 32, largePages: 0, freePages: heapPages - 1 });
    expect(validate(z).ok).toBe(true);
  });

  test('an emptied page is kept as the spare until trim(); then the heap is one run of free pages with zero fragmentation', async () => {
    const { z, a, c, d } = await scripted();
    z.free(d);
    z.free(a);
    z.free(c);
    let s = snapshot(z);
    expect(s.spare).toBe(s.heapStart);
    expect(s.pages[0]).toMatchObject({ kind: 'small', spare: true, usedBlocks: 0, freeFrames: 12, count: 0 });
    expect(s.freeLists.every((l) => l.members.length === 1)).toBe(true);
    expect(validate(z).ok).toBe(true);
    // the spare serves blocks again (it stays the spare), and is valid so:
    // 48 B is a slot, slot 0 of a 512 B slab made of the page's free 512 B frame
    const e = z.malloc(40);
    expect(e).toBe(s.heapStart + 512 + 32);
    expect(snapshot(z).pages[0]).toMatchObject({ spare: true, usedBlocks: 1, slabs: 1, freeSlots: 9, count: 1 });
    expect(validate(z).ok).toBe(true);
    z.free(e);
    z.trim();
    s = snapshot(z);
    expect(s.spare).toBe(0);
    expect(s.pages.every((p) => p.kind === 'free-span')).toBe(true);
    expect(s.spans).toEqual([{ address: s.heapStart, pages: s.totals.pages, bytes: s.totals.heapBytes }]);
    expect(s.totals).toMatchObject({
      usedBytes: 0,
      usedBlocks: 0,
      freeBytes: s.totals.heapBytes,
      metadataBytes: 0,
      largestFreeBlock: s.totals.heapBytes,
      fragmentation: 0,
    });
    expect(s.freeLists.every((l) => l.members.length === 0)).toBe(true);
    expect(validate(z).ok).toBe(true);
  });

  test("a large block of whole pages is page-aligned with its header in the anchor's last 8 bytes", async () => {
    const z = await fresh('default', { initialPages: 8 });
    z.malloc(1);
    const j = z.malloc(2 * PAGE);
    const s = snapshot(z);
    expect(j).toBe(s.heapStart + PAGE);
    expect(s.large).toEqual([
      { address: j, anchor: s.heapStart, size: 2 * PAGE, usable: 2 * PAGE, pages: 2, inPage: 0, end: j + 2 * PAGE },
    ]);
    expect(s.pages[0]).toMatchObject({ large: j, limit: s.heapStart + PAGE, count: 2 });
    expect(s.pages[0].blocks.some((b) => b.state === 'large')).toBe(false); // nothing of it lies in the anchor but its header
    expect(s.pages.slice(1, 3).map((p) => p.kind)).toEqual(['large', 'large']);
    expect(s.totals.reservedBytes).toBe(0);
    expect(validate(z).ok).toBe(true);
  });

  test('a page made only for its large block (ANCHOR_ONLY): no blocks walked below it, the unused part counted as reserved', async () => {
    const z = await fresh('default', { initialPages: 8 });
    const p = z.malloc(100000);
    const s = snapshot(z);
    const A = s.pages.find((x) => x.large === p);
    expect(A).toMatchObject({ kind: 'small', anchorOnly: true, count: 1, usedBlocks: 0, freeFrames: 0, limit: p });
    expect(A.blocks.map((b) => b.state)).toEqual(['large']);
    expect(s.totals.reservedBytes).toBe(p - 8 - (A.address + 16));
    expect(validate(z).ok).toBe(true);
    z.free(p);
    expect(snapshot(z).pages.every((x) => x.kind === 'free-span')).toBe(true);
  });

  test('fragmentation = 1 - largest free block / free bytes: two free frames of one size and no span give 1/2', async () => {
    const z = await fresh('default', { initialPages: 4 });
    z.malloc(1);
    // 80 blocks of 2,000 B (2,016 with the header, at most POOL_MIN: small
    // pages; each takes a whole 2 KiB frame) over three pages, then the rest
    // filled with 16 B blocks
    const big = Array.from({ length: 80 }, () => z.malloc(2000));
    let s = snapshot(z);
    const fill = (s.totals.freeFrameBytes + 8 * s.totals.freeFrames) / 16;
    for (let i = 0; i < fill; i++) z.malloc(8);
    s = snapshot(z);
    expect(s.totals.pages).toBe(3);
    expect(s.totals.freeBytes).toBe(0);
    expect(s.totals.fragmentation).toBe(0);
    expect(s.totals.paddingBytes).toBe(80 * (2048 - 2016));
    expect(big.every((p) => p % 2048 === 0)).toBe(true);
    // free two of them, on two pages: their buddies are in use, so nothing merges
    const pick = [big[0], big[big.length - 1]];
    expect(pick[1] - pick[0]).toBeGreaterThan(PAGE);
    z.free(pick[0]);
    z.free(pick[1]);
    s = snapshot(z);
    expect(s.blocks.filter((b) => b.state === 'free').map((b) => [b.address, b.size])).toEqual(
      pick.map((a) => [a, 2048]),
    );
    expect(s.totals.freeBytes).toBe(2 * (2048 - 8));
    expect(s.totals.largestFreeBlock).toBe(2048 - 8);
    expect(s.totals.fragmentation).toBe(0.5);
    expect(validate(z).ok).toBe(true);
  });

  test('extents: a small block up to ROUND_MAX (4 KiB with the header) occupies its power-of-two frame, the rest counted as padding; above, exactly its size; a slot exactly its size', async () => {
    const z = await fresh('default', { initialPages: 8 });
    const a = z.malloc(3000); // 3,008 B: the 4 KiB frame
    const b = z.malloc(1500); // 1,520 B: above SLAB_MAX, the 2 KiB frame
    const c = z.malloc(4200); // 4,208 B: exactly that
    const d = z.malloc(100); // 112 B: a slot of exactly 112 B in a 512 B slab
    const s = snapshot(z);
    expect(s.violations).toEqual([]);
    expect(z.check()).toBe(0);
    const rec = (p) => s.blocks.find((x) => x.address === p);
    expect([a, b, c, d].map((p) => [rec(p).size, rec(p).usable, rec(p).state])).toEqual([
      [4096, 3000, 'used'],
      [2048, 1512, 'used'],
      [4208, 4200, 'used'],
      [112, 104, 'used'],
    ]);
    expect(rec(d).slab).toBe(d - 32);
    expect([a, b, c, d].map((p) => z.usableSize(p))).toEqual([3000, 1512, 4200, 104]);
    expect([a % 4096, b % 2048]).toEqual([0, 0]);
    // the next block starts where the extent ends (a slot: the next slot)
    for (const p of [a, b, c, d]) {
      const page = s.pages.find((x) => x.address === p - (p % PAGE));
      const i = page.blocks.indexOf(rec(p));
      if (i + 1 < page.blocks.length) expect(page.blocks[i + 1].address).toBe(p + rec(p).size);
    }
    const t = s.totals;
    expect(t.paddingBytes).toBe(4096 - 3008 + (2048 - 1520));
    expect(t.usedBytes).toBe(3000 + 1512 + 4200 + 104);
    expect(t.usedBytes + t.freeBytes + t.metadataBytes + t.reservedBytes + t.paddingBytes).toBe(t.heapBytes);
    expect(renderText(s, { page: s.heapStart })).toMatch(/in use\s+4096 B, usable 3000 B/);
    // the cursor is shown, a hint, not a rule
    expect(s.cursor).toBe(z.HEAPU32[stateWord(z, 'cursor') >>> 2]);
    z.HEAPU32[stateWord(z, 'cursor') >>> 2] = s.heapStart + 8;
    expect([validate(z).ok, z.check()]).toEqual([true, 0]);
  });

  test('memory grown by someone else inside the heap shows as foreign pages and is not a violation', async () => {
    const z = await fresh('default', { initialPages: 4 });
    z.malloc(1);
    const before = snapshot(z);
    z.memory.grow(2); // someone else takes two pages at the current top
    const j = z.malloc(6 * PAGE); // zee_alloc grows past them
    const s = snapshot(z);
    expect(j).toBeGreaterThan(before.heapEnd + PAGE);
    const foreign = s.pages.filter((p) => p.kind === 'foreign').map((p) => p.address);
    expect(foreign).toEqual([before.heapEnd, before.heapEnd + PAGE]);
    expect(s.totals.foreignBytes).toBe(2 * PAGE);
    expect(validate(z)).toEqual({ ok: true, violations: [] });
    expect(z.check()).toBe(0);
    expect(renderText(s)).toMatch(/other\s+\|~+\|/);
  });
});

describe('every build walks cleanly', () => {
  test.each(VARIANT_NAMES)('%s build: config decoded, heap valid after a mixed sequence', async (variant) => {
    const z = await fresh(variant);
    const ps = [1, 17, 300, 5000, 40000, 131072, 9, 70000].map((n) => z.malloc(n));
    z.free(ps[1]);
    z.free(ps[4]);
    ps[3] = z.realloc(ps[3], 100);
    ps[5] = z.realloc(ps[5], 65536);
    ps.push(z.memalign(4096, 1000), z.memalign(131072, 10));
    const s = snapshot(z);
    expect(s.config.validation).toBe({ default: 'external', dev: 'dev', unsafe: 'unsafe' }[variant]);
    expect(s.violations).toEqual([]);
    expect(z.check()).toBe(0);
    expect(s.totals.usedBlocks).toBe(8);
    expect(s.blocks.filter((f) => f.state === 'used').length + s.large.length).toBe(8);
    expect(s.counters.usedBlocks).toBe(8);
  });
});

describe('corruption: validate() and zee_check() name the same broken rule', () => {
  // Both must flag the heap, and validate's first violation is zee_check's rule.
  function expectRule(z, rule) {
    const v = validate(z);
    expect(v.ok).toBe(false);
    expect([v.violations[0].rule, CHECK_CODES[z.check()]]).toEqual([rule, rule]);
    for (const x of v.violations) {
      expect(RULES[x.rule]).toBeDefined();
      expect(typeof x.message).toBe('string');
    }
    return v.violations;
  }

  test('an overwritten block header: ZEE_C_FRAME at that block; the rest of the page is marked unreadable', async () => {
    const z = await fresh();
    z.malloc(8);
    const b = z.malloc(8);
    z.HEAPU32[(b - 8) >>> 2] = 0xdeadbeef;
    const v = expectRule(z, 'ZEE_C_FRAME');
    expect(v[0].address).toBe(b);
    const s = snapshot(z);
    expect(s.pages[0].corrupt).toBe(true);
    expect(s.blocks.find((f) => f.address === b).state).toBe('corrupt');
    expect(renderText(s)).toMatch(/INVALID: \d+ violation\(s\); first ZEE_C_FRAME/);
    expect(renderSVG(s)).toContain('class="zee-invalid"');
    expect(renderSVG(s, { page: s.heapStart })).toContain(`class="zee-block zee-corrupt" data-addr="${b}"`);
  });

  // A check word that no longer matches its payload address.
  test.each([
    ['a small block', 'ZEE_C_FRAME', 110, 0x100],
    ['a slot', 'ZEE_C_SLAB', 100, 0x100],
    ['a large block', 'ZEE_C_LARGE', 200000, 1],
  ])('a check word flipped on %s: %s at the block', async (_, rule, size, bit) => {
    const z = await fresh();
    z.malloc(8);
    const p = z.malloc(size);
    z.HEAPU32[(p - 4) >>> 2] ^= bit;
    expect(expectRule(z, rule)[0].address).toBe(p);
  });

  test('a small block whose size runs past the large block above it: ZEE_C_FRAME', async () => {
    const z = await fresh('default', { initialPages: 8 });
    z.malloc(8);
    const j = z.malloc(100000); // 34,464 B in the top of its anchor, then one page
    const s = snapshot(z);
    const anchor = s.pages.find((p) => p.large === j);
    // the block right below the large block, made a small block 16 B too long
    const below = anchor.blocks.find((b) => b.address + b.size === j);
    header(z, below.address, below.size + 16, LAYOUT.TAG_SMALL);
    expect(expectRule(z, 'ZEE_C_FRAME')[0].address).toBe(below.address);
  });

  test('a small block whose header size fits but whose extent (its power-of-two frame) runs past the large block above it: ZEE_C_FRAME', async () => {
    const z = await fresh('default', { initialPages: 8 });
    z.malloc(8);
    const j = z.malloc(100000);
    const anchor = snapshot(z).pages.find((p) => p.large === j);
    // from a free frame of 8 KiB or more up to the large block: a block of
    // exactly (room - 1040) B, then one of 1,040 B whose extent is 2 KiB
    const F = anchor.blocks.filter((b) => b.state === 'free' && b.size >= 8192).pop().address;
    const g = j - 1040;
    header(z, F, g - F, LAYOUT.TAG_SMALL);
    header(z, g, 1040, LAYOUT.TAG_SMALL);
    const v = expectRule(z, 'ZEE_C_FRAME');
    expect(v[0].address).toBe(g);
    expect(v[0].message).toMatch(/1040 B block's 2048 B run to/);
  });

  test('a large block whose size no longer ends on a page boundary: ZEE_C_LARGE', async () => {
    const z = await fresh();
    z.malloc(8);
    const j = z.malloc(200000);
    header(z, j, 200000 + 16, LAYOUT.TAG_LARGE);
    expect(expectRule(z, 'ZEE_C_LARGE')[0].address).toBe(j);
  });

  test('a page of a large block unmarked in the page map (the last, then a middle one): ZEE_C_LARGE', async () => {
    for (const which of ['last', 'middle']) {
      const z = await fresh();
      z.malloc(8);
      const j = z.malloc(200000); // 3 whole pages
      const { end } = snapshot(z).large[0];
      z.HEAPU8[mapByte(z, which === 'last' ? end - PAGE : end - 2 * PAGE)] = LAYOUT.MAP_NONE;
      expect(expectRule(z, 'ZEE_C_LARGE')[0].address).toBe(j);
    }
  });

  test('a free-list link to a block in use: ZEE_C_LIST', async () => {
    const z = await fresh();
    const used = z.malloc(1016); // 1,024 B: a power of two, a frame, not a slot
    const f = snapshot(z).freeLists[2].members[0]; // a 64 B frame
    z.HEAPU32[f >>> 2] = used;
    const v = expectRule(z, 'ZEE_C_LIST');
    expect(v.some((x) => x.address === used && /is a small block in use of 1024 B/.test(x.message))).toBe(true);
  });

  test.each([
    // 32 frames of 2 KiB (at most POOL_MIN): a second SMALL page; lists[5] holds a 512 B frame of each
    ['free list', 'freeLists', (z) => Array.from({ length: 32 }, () => z.malloc(2040))],
    // two blocks of 32 KiB (above POOL_MIN): two MID pages; mid_lists[5] holds a 512 B frame of each
    ['mid list', 'midLists', (z) => [z.malloc(32760), z.malloc(32760)]],
  ])('a broken back link in a %s: ZEE_C_LIST at the member', async (name, field, fill) => {
    const z = await fresh();
    const a = z.malloc(8);
    fill(z);
    const s = snapshot(z);
    expect(s[field][5].members.length).toBe(2);
    const f = s[field][5].members[1];
    z.HEAPU32[(f + 4) >>> 2] = a;
    const v = expectRule(z, 'ZEE_C_LIST');
    expect(v[0].address).toBe(f);
    expect(v[0].message).toMatch(new RegExp(`^${name} 512: 0x[0-9a-f]+ links back`));
  });

  test('a free list that loops: ZEE_C_LIST, and the walk terminates', async () => {
    const z = await fresh();
    z.malloc(8);
    const f = snapshot(z).freeLists[4].members[0];
    z.HEAPU32[f >>> 2] = f; // next = itself
    const v = expectRule(z, 'ZEE_C_LIST');
    expect(v.some((x) => /loops back/.test(x.message))).toBe(true);
  });

  test('a free frame taken off its list: ZEE_C_LIST_COUNT at the frame', async () => {
    const z = await fresh();
    z.malloc(8);
    const s = snapshot(z);
    const list = s.freeLists.findIndex((l) => l.members.length === 1);
    const f = s.freeLists[list].members[0];
    z.HEAPU32[(stateWord(z, 'lists') >>> 2) + list] = 0;
    expect(expectRule(z, 'ZEE_C_LIST_COUNT')[0].address).toBe(f);
  });

  test('double free of a small block with validation off (unsafe build): ZEE_C_COUNT, and the lists loop', async () => {
    const z = await fresh('unsafe');
    z.malloc(8);
    const b = z.malloc(8);
    z.malloc(100);
    z.free(b);
    z.free(b); // not detected by the unsafe build
    const v = expectRule(z, 'ZEE_C_COUNT');
    expect(v.some((x) => x.rule === 'ZEE_C_LIST' && /loops back/.test(x.message))).toBe(true);
  });

  test('double free of a large block with validation off: its anchor was released with it, so the second free lists frames of a free page (ZEE_C_LIST)', async () => {
    const z = await fresh('unsafe');
    z.malloc(8);
    const j = z.malloc(200000);
    z.free(j);
    z.free(j);
    expect(expectRule(z, 'ZEE_C_LIST')[0].message).toMatch(/is not in a small page/);
  });

  test("a page's count off by one: ZEE_C_COUNT", async () => {
    const z = await fresh();
    const a = z.malloc(8);
    z.HEAPU32[(a - 16) >>> 2] += 1;
    expect(expectRule(z, 'ZEE_C_COUNT')[0].address).toBe(a - 16);
  });

  test('a small page whose tag is gone: ZEE_C_PAGE', async () => {
    const z = await fresh();
    const a = z.malloc(8);
    z.HEAPU32[(a - 16) >>> 2] = 1;
    expect(expectRule(z, 'ZEE_C_PAGE')[0].address).toBe(a - 16);
  });

  test("a small page's large-block field pointing into the next page: ZEE_C_PAGE", async () => {
    const z = await fresh();
    const a = z.malloc(8);
    const P = a - 16;
    z.HEAPU32[(P + 4) >>> 2] = P + PAGE + 16;
    expect(expectRule(z, 'ZEE_C_PAGE')[0].address).toBe(P + 4);
  });

  test('page-map damage: a small page marked FREE or NONE leaves its frames listed outside any small page (ZEE_C_LIST); a LARGE mark where a page starts (ZEE_C_PAGE)', async () => {
    let z = await fresh();
    let a = z.malloc(8);
    z.HEAPU8[mapByte(z, a)] = LAYOUT.MAP_FREE;
    expect(expectRule(z, 'ZEE_C_LIST')[0].message).toMatch(/is not in a small page/);
    expect(snapshot(z).pages[0].kind).toBe('free-span');
    z = await fresh();
    a = z.malloc(8);
    z.HEAPU8[mapByte(z, a)] = LAYOUT.MAP_NONE;
    expect(expectRule(z, 'ZEE_C_LIST')[0].message).toMatch(/is not in a small page/);
    expect(snapshot(z).pages[0].kind).toBe('foreign');
    z = await fresh();
    a = z.malloc(8);
    z.HEAPU8[mapByte(z, a)] = LAYOUT.MAP_LARGE;
    expect(expectRule(z, 'ZEE_C_PAGE')[0].address).toBe(a - 16);
  });

  test('a free page below first_free (the search would never find it): ZEE_C_SPAN at that page', async () => {
    const z = await fresh('default', { initialPages: 8 });
    z.malloc(8);
    const { address: s, pages: k } = snapshot(z).spans[0];
    expect(k).toBeGreaterThanOrEqual(2);
    z.HEAPU32[stateWord(z, 'firstFree') >>> 2] = s + PAGE;
    expect(expectRule(z, 'ZEE_C_SPAN')[0].address).toBe(s);
    // past the heap end: every free page is below it
    z.HEAPU32[stateWord(z, 'firstFree') >>> 2] = 0x7fff0000;
    expect(expectRule(z, 'ZEE_C_SPAN')[0].address).toBe(s);
  });

  test('a free page holds nothing: its bytes may be anything', async () => {
    const z = await fresh('default', { initialPages: 8 });
    z.malloc(8);
    const { address: s, bytes } = snapshot(z).spans[0];
    z.HEAPU8.fill(0xa5, s, s + bytes);
    expect(validate(z)).toEqual({ ok: true, violations: [] });
    expect(z.check()).toBe(0);
  });

  test('two free buddies that were not merged: ZEE_C_BUDDY', async () => {
    const z = await fresh();
    z.malloc(8);
    const x = z.malloc(56); // the 64 B frame at 64
    const y = z.malloc(120); // the 128 B frame at 128
    z.free(y); // 128 @128 is whole again
    const P = x - 64;
    const u32 = z.HEAPU32,
      lists = stateWord(z, 'lists') >>> 2;
    // split the free 128 @128 into two free 64 B frames without merging them
    const head128 = u32[lists + 3];
    expect(head128).toBe(P + 128);
    u32[lists + 3] = u32[head128 >>> 2];
    if (u32[lists + 3]) u32[(u32[lists + 3] + 4) >>> 2] = 0;
    header(z, P + 128, 64, LAYOUT.TAG_FREE);
    header(z, P + 192, 64, LAYOUT.TAG_FREE);
    const head64 = u32[lists + 2];
    u32[(P + 128) >>> 2] = P + 192;
    u32[(P + 132) >>> 2] = 0;
    u32[(P + 192) >>> 2] = head64;
    u32[(P + 196) >>> 2] = P + 128;
    if (head64) u32[(head64 + 4) >>> 2] = P + 192;
    u32[lists + 2] = P + 128;
    expect(expectRule(z, 'ZEE_C_BUDDY')[0].address).toBe(P + 128);
  });

  test.each(['usedBytes', 'usedBlocks', 'smallPages', 'largePages', 'freePages'])(
    'the running total %s off by one: ZEE_C_TOTALS at that word',
    async (field) => {
      const z = await fresh();
      z.malloc(8);
      z.malloc(200000);
      z.HEAPU32[stateWord(z, field) >>> 2] += 1;
      const v = expectRule(z, 'ZEE_C_TOTALS');
      expect(v[0].address).toBe(stateWord(z, field));
      expect(v[0].message).toMatch(new RegExp(`the state's ${field} is \\d+, the walk finds \\d+`));
    },
  );

  test('a peak below the bytes in use: ZEE_C_TOTALS', async () => {
    const z = await fresh();
    z.malloc(1000);
    z.HEAPU32[stateWord(z, 'peakBytes') >>> 2] = 5;
    expect(expectRule(z, 'ZEE_C_TOTALS')[0].address).toBe(stateWord(z, 'peakBytes'));
  });

  test('assertValid throws an error listing the violations; a smashed state block is ZEE_C_STATE (only the inspector checks the magic)', async () => {
    const z = await fresh();
    z.malloc(8);
    expect(() => assertValid(z)).not.toThrow();
    z.HEAPU32[z.stateAddress >>> 2] = 0;
    expect(() => assertValid(z)).toThrow(/ZEE_C_STATE at 0x[0-9a-f]{8}: no zee_heap_info_t/);
    let err;
    try {
      assertValid(z);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ZEE_C_STATE', violations: [expect.objectContaining({ rule: 'ZEE_C_STATE' })] });
    expect(snapshot(z).pages).toEqual([]);
  });

  test('links pointing outside memory never throw or hang', async () => {
    const z = await fresh();
    const a = z.malloc(8);
    const u32 = z.HEAPU32;
    u32[(stateWord(z, 'lists') >>> 2) + 3] = 0xfffffff0;
    u32[(a - 12) >>> 2] = 0xffff0000; // the page's large-block field
    u32[stateWord(z, 'heapEnd') >>> 2] = 0xffff0000; // and the heap's end
    expect(rules(validate(z))).toEqual(['ZEE_C_STATE']);
    u32[stateWord(z, 'heapEnd') >>> 2] = z.memoryBytes;
    expect(rules(validate(z))).toEqual(expect.arrayContaining(['ZEE_C_PAGE', 'ZEE_C_LIST']));
    expect(CHECK_CODES[z.check()]).toBe('ZEE_C_PAGE');
  });
  test('the slabbed heap is as described, and sound', async () => {
    const h = await slabbed();
    const s = snapshot(h.z);
    expect([s.violations, h.z.check()]).toEqual([[], 0]);
    expect(s.slabs.map((x) => [x.address, x.slotSize, x.usedSlots, x.freeSlots, x.listed])).toEqual([
      [h.full, 48, 10, 0, false],
      [h.open, 48, 2, 8, true],
      [h.a, 112, 3, 1, true],
      [h.b, 112, 1, 3, true],
    ]);
    expect([s.slabLists[3].members, s.slabLists[7].members]).toEqual([[h.open], [h.a, h.b]]);
  });

  // One damage per rule of a slab and of the slab lists; each returns the
  // address and a pattern of the first violation.  zee_check() must say ZEE_C_SLAB too.
  test.each([
    [
      'a slab larger than 32 KiB',
      (h) => {
        header(h.z, h.open, 65536, LAYOUT.TAG_SLAB);
        return [h.open, /its size 65536 B is above 32768/];
      },
    ],
    [
      'a slab not aligned to its size',
      (h) => {
        header(h.z, h.full, 1024, LAYOUT.TAG_SLAB); // at P+512
        return [h.full, /not aligned to its size 1024 B/];
      },
    ],
    [
      "slot 0's size not a slot size (a power of two)",
      (h) => {
        header(h.z, h.slot(h.open, 0), 64, LAYOUT.TAG_SLOT);
        return [h.slot(h.open, 0), /slot 0's size 64 B is not a slot size/];
      },
    ],
    [
      "slot 0's size of slots that live in another slab size",
      (h) => {
        header(h.z, h.slot(h.open, 0), 144, LAYOUT.TAG_SLOT);
        return [h.slot(h.open, 0), /slots of 144 B live in slabs of 1024 B, not 512 B/];
      },
    ],
    [
      "a slot header's check word",
      (h) => {
        const s = h.slot(h.open, 5);
        h.word(s - 4, h.word(s - 4) ^ 0x10);
        return [s, /is not a slot's/];
      },
    ],
    [
      "a slot header's tag (a small block's)",
      (h) => {
        const s = h.slot(h.a, 1);
        header(h.z, s, 112, LAYOUT.TAG_SMALL);
        return [s, /is not a slot's \(tag 15 or 14/];
      },
    ],
    [
      'a slot of another size than slot 0',
      (h) => {
        const s = h.slot(h.open, 1);
        header(h.z, s, 96, LAYOUT.TAG_SLOT);
        return [s, /has size 96 B, slot 0 48 B/];
      },
    ],
    [
      'a slab with no slot in use',
      (h) => {
        const s = h.slot(h.b, 0); // its only slot in use, made free and listed
        header(h.z, s, 112, LAYOUT.TAG_SLOT_FREE);
        h.word(s, h.word(h.b + 12));
        h.word(h.b + 12, s);
        h.word(h.b + 8, 0);
        return [h.b, /no slot is in use/];
      },
    ],
    [
      "a slab's count of slots in use off by one",
      (h) => {
        h.word(h.open + 8, 3);
        return [h.open, /it counts 3 slots in use, its slots say 2/];
      },
    ],
    [
      'a free slot linked to a slot of another slab',
      (h) => {
        const other = h.slot(h.b, 1);
        h.word(h.open + 12, other);
        return [other, /its free list links to 0x[0-9a-f]+, not a slot of this slab/];
      },
    ],
    [
      'a free-slot link inside a slot',
      (h) => {
        const s = h.word(h.open + 12) + 16;
        h.word(h.open + 12, s);
        return [s, /not a slot of this slab/];
      },
    ],
    [
      'a slot in use on the free list',
      (h) => {
        const s = h.slot(h.open, 1);
        h.word(h.open + 12, s);
        return [s, /its free list holds 0x[0-9a-f]+, a slot in use/];
      },
    ],
    [
      'a free list of slots that loops',
      (h) => {
        const head = h.word(h.open + 12);
        h.word(h.slot(h.open, 9), head); // the last free slot links back to the first
        return [head, /its free list loops back/];
      },
    ],
    [
      'a free slot on no free list',
      (h) => {
        h.word(h.word(h.open + 12), 0); // the list ends after its first slot
        return [h.open, /its free list holds 1 slots, 8 slots are free/];
      },
    ],
    [
      'a slab list member that is not a slab',
      (h) => {
        h.word(h.list(3), h.small);
        return [h.small, /slab list 3 \(48 B slots\): 0x[0-9a-f]+ is a small block in use of 16 B/];
      },
    ],
    [
      'a slab on the list of another slot size',
      (h) => {
        h.word(h.list(3), h.b);
        h.word(h.b + 4, 0);
        return [h.b, /slab list 3 \(48 B slots\): 0x[0-9a-f]+ is a slab of 112 B slots/];
      },
    ],
    [
      'a full slab on its list',
      (h) => {
        h.word(h.list(3), h.full);
        h.word(h.full, h.open);
        h.word(h.full + 4, 0);
        h.word(h.open + 4, h.full);
        return [h.full, /is full \(no free slot\)/];
      },
    ],
    [
      'a broken back link in a slab list',
      (h) => {
        h.word(h.b + 4, 0);
        return [h.b, /links back to 0x00000000, expected 0x[0-9a-f]+/];
      },
    ],
    [
      'a slab list that loops',
      (h) => {
        h.word(h.b, h.a);
        return [h.a, /slab list 7 \(112 B slots\) loops back/];
      },
    ],
    [
      'a slab list link outside the heap',
      (h) => {
        h.word(h.list(7), 0xfffffff0);
        return [0xfffffff0, /link 0xfffffff0 \(from the head\) is not an address in a small page/];
      },
    ],
    [
      'a slab with a free slot on no list',
      (h) => {
        h.word(h.list(3), 0);
        return [h.open, /has 8 free slots but is on no slab list/];
      },
    ],
  ])('%s: ZEE_C_SLAB for both', async (_, damage) => {
    const h = await slabbed();
    const [address, message] = damage(h);
    const v = expectRule(h.z, 'ZEE_C_SLAB');
    expect(v[0]).toMatchObject({ address });
    expect(v[0].message).toMatch(message);
    // the damaged heap still snapshots and draws
    const s = snapshot(h.z);
    expect(renderText(s, { page: h.P })).toMatch(/INVALID: \d+ violation\(s\); first ZEE_C_SLAB/);
    expect(renderSVG(s, { page: h.P })).toContain('class="zee-invalid"');
  });
});

describe('mid pages (layout 6): small pages of the mid pool, their frames on mid_lists', () => {
  // A SMALL page P (a 16 B block in use) and a MID page M (a 5,000 B block:
  // 5,008 B with the header, above POOL_MIN, so from the mid pool, an exact
  // block at the bottom of the page), every other frame of both free: M's
  // are 32, 64, 1 KiB, 2 KiB, 8 KiB, 16 KiB and 32 KiB (no 16 B frame).
  async function twoPools() {
    const z = await fresh();
    const a = z.malloc(8);
    const m = z.malloc(5000);
    const s = snapshot(z);
    const P = a - 16,
      M = m - (m % PAGE);
    const head = (field, c) => z.HEAPU32[(stateWord(z, field) >>> 2) + c];
    const setHead = (field, c, v) => {
      z.HEAPU32[(stateWord(z, field) >>> 2) + c] = v;
    };
    return { z, a, m, P, M, s, head, setHead };
  }
  // Takes the head frame f off list set `from` (class c) and pushes it on
  // the list set `to` of the same class, links kept sound; returns f.
  function move(h, from, to, c) {
    const u32 = h.z.HEAPU32;
    const f = h.head(from, c);
    const next = u32[f >>> 2];
    h.setHead(from, c, next);
    if (next) u32[(next + 4) >>> 2] = 0;
    const old = h.head(to, c);
    u32[f >>> 2] = old;
    u32[(f + 4) >>> 2] = 0;
    if (old) u32[(old + 4) >>> 2] = f;
    h.setHead(to, c, f);
    return f;
  }

  test('a block above POOL_MIN lives in a MID page, walked like a small page; each pool its own free lists', async () => {
    const { z, m, P, M, s } = await twoPools();
    expect([s.violations, z.check()]).toEqual([[], 0]);
    expect(5000 + 8).toBeGreaterThan(LAYOUT.POOL_MIN);
    expect(m).toBe(M + 16); // the exact block at the bottom of the page, right after the page word
    expect(z.HEAPU8[mapByte(z, P)]).toBe(LAYOUT.MAP_SMALL);
    expect(z.HEAPU8[mapByte(z, M)]).toBe(LAYOUT.MAP_MID);
    const pages = s.pages.filter((p) => p.kind === 'small');
    expect(pages.map((p) => [p.address, p.pool])).toEqual([
      [P, 'small'],
      [M, 'mid'],
    ]);
    // the mid page: its page word, its blocks, its free frames, as any small page's
    const mid = pages[1];
    expect(mid).toMatchObject({ count: 1, usedBlocks: 1, large: 0, limit: M + PAGE, spare: false, corrupt: false });
    expect(mid.blocks.find((b) => b.address === m)).toEqual({
      address: m,
      page: M,
      size: 5008,
      usable: 5000,
      state: 'used',
      class: -1,
    });
    expect(mid.freeFrames).toBe(mid.blocks.filter((b) => b.state === 'free').length);
    expect(mid.freeFrames).toBeGreaterThan(5);
    // every free frame is on the list of its class of its page's pool, and nothing else is listed
    const listed = (lists) => lists.flatMap((l) => l.members.map((f) => [f, l.size])).sort((x, y) => x[0] - y[0]);
    const frames = (page) => page.blocks.filter((b) => b.state === 'free').map((b) => [b.address, b.size]);
    expect(listed(s.freeLists)).toEqual(frames(pages[0]));
    expect(listed(s.midLists)).toEqual(frames(mid));
    expect(s.midLists.map((l) => l.size)).toEqual(s.freeLists.map((l) => l.size));
    expect(s.totals).toMatchObject({
      freeListMembers: s.totals.freeFrames,
      freeListBytes: s.totals.freeFrameBytes,
      pagesByKind: expect.objectContaining({ small: 2 }),
    });
    // the state's heads, read as words
    for (let c = 0; c < LAYOUT.CLASSES; c++)
      expect(s.midLists[c].members[0] ?? 0).toBe(z.HEAPU32[(stateWord(z, 'midLists') >>> 2) + c]);
    expect(s.counters.smallPages).toBe(2); // small_pages counts both pools
    // the maps tell the mid page apart, and only it
    const text = renderText(s, { collapse: false });
    expect(text).toMatch(new RegExp(`^0x${M.toString(16).padStart(8, '0')} mid    \\|`, 'm'));
    expect(text).toMatch(new RegExp(`^0x${P.toString(16).padStart(8, '0')} small  \\|`, 'm'));
    expect(text).toContain('mid: a small page of the mid pool');
    const list = renderText(s, { page: M });
    expect(list).toMatch(/^page 0x[0-9a-f]{8}: mid, 1 blocks in use/m);
    expect(list).toMatch(/free frame +32 B \(mid list 32\)/);
    expect(renderText(s, { page: P })).toMatch(/free frame +32 B \(list 32\)/);
    const svg = renderSVG(s);
    expect([...svg.matchAll(/data-page="(\d+)" data-pool="mid"/g)].map((x) => Number(x[1]))).toEqual([M]);
    expect(svg).toMatch(/class="zee-legend">.*mid page/);
    const zoom = renderSVG(s, { page: M });
    expect(zoom).toContain(`data-kind="small" data-pool="mid"`);
    expect(zoom).toContain(`page 0x${M.toString(16).padStart(8, '0')} (mid):`);
    expect(zoom).toMatch(/free frame of 32 B \(on mid list 32\)/);
    expect(renderSVG(s, { page: P })).not.toContain('data-pool');
  });

  test('a large block anchored by a fresh page, and slabs, in either pool: the walk reads them alike', async () => {
    const z = await fresh();
    const j = z.malloc(100000);
    for (let i = 0; i < 12; i++) z.malloc(40);
    const s = snapshot(z);
    expect([s.violations, z.check()]).toEqual([[], 0]);
    const anchor = s.pages.find((p) => p.large === j);
    expect(anchor).toMatchObject({ kind: 'small', anchorOnly: true, count: 1 });
    expect(s.large.map((l) => l.anchor)).toEqual([anchor.address]);
    expect(s.slabs.length).toBe(2);
    for (const b of s.slabs) expect(s.pages.find((p) => p.address === b.page).kind).toBe('small');
    // the pool is the map's: flip each small page to the other pool and back,
    // and the walk follows (its frames then sit on the wrong list set)
    for (const p of s.pages.filter((x) => x.kind === 'small')) {
      const at = mapByte(z, p.address),
        old = z.HEAPU8[at];
      z.HEAPU8[at] = old === LAYOUT.MAP_MID ? LAYOUT.MAP_SMALL : LAYOUT.MAP_MID;
      const flipped = snapshot(z).pages.find((x) => x.address === p.address);
      expect(flipped.pool).toBe(p.pool === 'mid' ? 'small' : 'mid');
      z.HEAPU8[at] = old;
    }
    expect(validate(z).ok).toBe(true);
  });

  function expectRule(z, rule) {
    const v = validate(z);
    expect(v.ok).toBe(false);
    expect([v.violations[0].rule, CHECK_CODES[z.check()]]).toEqual([rule, rule]);
    return v.violations;
  }

  // One damage each; validate()'s first violation and zee_check() must agree.
  test.each([
    [
      'a frame of a MID page on lists[c] instead of mid_lists[c]',
      'ZEE_C_LIST',
      (h) => {
        const f = move(h, 'midLists', 'lists', 1);
        expect(f - (f % PAGE)).toBe(h.M);
        return [f, /^free list 32: 0x[0-9a-f]+ is a free frame of mid page 0x[0-9a-f]+, whose frames go on mid_lists/];
      },
    ],
    [
      'a frame of a SMALL page on mid_lists[c] instead of lists[c]',
      'ZEE_C_LIST',
      (h) => {
        const f = move(h, 'lists', 'midLists', 1);
        expect(f - (f % PAGE)).toBe(h.P);
        return [f, /^mid list 32: 0x[0-9a-f]+ is a free frame of small page 0x[0-9a-f]+, whose frames go on lists/];
      },
    ],
    [
      'the head of a mid list set to the head of the small list of its class (the frame on both sets)',
      'ZEE_C_LIST',
      (h) => {
        const f = h.head('lists', 3);
        h.setHead('midLists', 3, f);
        return [f, /^mid list 128: 0x[0-9a-f]+ is a free frame of small page/];
      },
    ],
    [
      'a MID page marked SMALL: its frames on mid_lists are now frames of a SMALL page',
      'ZEE_C_LIST',
      (h) => {
        h.z.HEAPU8[mapByte(h.z, h.M)] = LAYOUT.MAP_SMALL;
        return [h.head('midLists', 1), /^mid list 32: .* is a free frame of small page/]; // mid_lists[0] is empty
      },
    ],
    [
      'a SMALL page marked MID: its frames on lists are now frames of a MID page',
      'ZEE_C_LIST',
      (h) => {
        h.z.HEAPU8[mapByte(h.z, h.P)] = LAYOUT.MAP_MID;
        return [h.head('lists', 1), /^free list 32: .* is a free frame of mid page/]; // lists[0] is empty: a holds the 16 B frame
      },
    ],
    [
      'a frame of a MID page taken off its mid list',
      'ZEE_C_LIST_COUNT',
      (h) => {
        const f = h.head('midLists', 11);
        expect(h.z.HEAPU32[f >>> 2]).toBe(0); // the list's only member
        h.setHead('midLists', 11, 0);
        return [f, /^free frame 0x[0-9a-f]+ of 32768 B of mid page 0x[0-9a-f]+ is on no free list/];
      },
    ],
    [
      'a mid list that loops',
      'ZEE_C_LIST',
      (h) => {
        const f = h.head('midLists', 6);
        h.z.HEAPU32[f >>> 2] = f;
        return [f, /^mid list 1024 loops back/];
      },
    ],
    [
      'a mid-list link to a block in use',
      'ZEE_C_LIST',
      (h) => {
        h.z.HEAPU32[h.head('midLists', 2) >>> 2] = h.m;
        return [h.m, /^mid list 64: 0x[0-9a-f]+ is a small block in use of 5008 B/];
      },
    ],
    ...[4, 5, 7, 10, 0x46].map((bad) => [
      `a MID page's map mark made ${bad}${(bad & 3) === LAYOUT.MAP_SMALL ? ' (mark & 3 is SMALL, still no page kind)' : ''}`,
      'ZEE_C_PAGE',
      (h) => {
        h.z.HEAPU8[mapByte(h.z, h.M)] = bad;
        return [h.M, new RegExp(`has map mark ${bad}, none of NONE, FREE, SMALL, LARGE, MID`)];
      },
    ]),
  ])('%s: %s for both', async (_, rule, damage) => {
    const h = await twoPools();
    expect([validate(h.z).ok, h.z.check()]).toEqual([true, 0]);
    const [address, message] = damage(h);
    const v = expectRule(h.z, rule);
    expect(v[0].address).toBe(address);
    expect(v[0].message).toMatch(message);
    // the damaged heap still snapshots and draws
    const s = snapshot(h.z);
    expect(renderText(s)).toMatch(new RegExp(`INVALID: \\d+ violation\\(s\\); first ${rule}`));
    expect(renderSVG(s, { page: h.M })).toContain('class="zee-invalid"');
  });

  test('the spare may be a MID page; marked anything but SMALL or MID it is ZEE_C_PAGE for both', async () => {
    const h = await twoPools();
    h.z.free(h.m); // M empties: kept as the spare
    let s = snapshot(h.z);
    expect(s.spare).toBe(h.M);
    expect(s.pages.find((p) => p.address === h.M)).toMatchObject({ pool: 'mid', spare: true, count: 0 });
    expect([s.violations, h.z.check()]).toEqual([[], 0]);
    expect(renderText(s, { collapse: false })).toMatch(/ mid +\|\.+\| 0u 12f spare\n/);
    h.z.HEAPU8[mapByte(h.z, h.M)] = 5;
    const v = expectRule(h.z, 'ZEE_C_PAGE');
    expect(v[0]).toMatchObject({
      address: h.M,
      message: expect.stringMatching(/the spare 0x[0-9a-f]+ is not a small page/),
    });
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
  });

  test('a copy of the memory (a frozen heap) can be inspected after the live heap moved on', async () => {
    const { z, d } = await scripted();
    const frozen = z.memory.buffer.slice(0);
    const stateAddress = z.stateAddress;
    z.free(d);
    expect(snapshot({ buffer: frozen, stateAddress }).large.map((j) => j.address)).toEqual([d]);
    expect(snapshot(z).large).toEqual([]);
  });

  test('a heap nothing was allocated from yet: heap_start 0, an empty snapshot, and the inspector left it so', async () => {
    const z = await fresh();
    const before = z.memory.buffer.slice(0);
    const s = snapshot(z);
    expect(s).toMatchObject({ heapStart: 0, heapEnd: 0, pages: [], blocks: [], violations: [] });
    expect(s.totals.heapBytes).toBe(0);
    expect(Buffer.compare(Buffer.from(z.memory.buffer), Buffer.from(before))).toBe(0);
    expect(renderText(s)).toMatch(/in use 0 B in 0 blocks/);
    expect(renderSVG(s)).toMatch(/<\/svg>\n$/);
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
    expect(s.large.map((x) => x.address)).toContain(j);
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
  });
});

describe('renderText', () => {
  test('one row per page within 80 columns, with totals and a legend', async () => {
    const { z } = await scripted();
    const s = snapshot(z);
    const text = renderText(s, { collapse: false });
    const lines = text.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    const rows = lines.filter((l) => /^0x[0-9a-f]{8} /.test(l));
    expect(rows.length).toBe(s.totals.pages);
    expect(rows[0]).toMatch(/^0x[0-9a-f]{8} small  \|[#%:.]+=+\| 2u 16f \+L$/);
    expect(rows[1]).toMatch(/ large  \|=+\| 68\.4 KiB block$/);
    expect(rows[2]).toMatch(new RegExp(` free   \\|-+\\| ${s.totals.pages - 2}p free$`));
    expect(text).toMatch(/in use 68\.4 KiB in 3 blocks/);
    expect(text).toMatch(/legend: # in use/);
  });

  test('long runs of span or large pages fold into one row; columns are respected; a page listing', async () => {
    const z = await fresh('default', { initialPages: 4 });
    const a = z.malloc(1);
    z.malloc(10 * PAGE);
    const s = snapshot(z);
    const text = renderText(s, { columns: 100 });
    const lines = text.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(text).toMatch(/large  \|\s+\.\.\. 9 pages to 0x[0-9a-f]{8}\s*\|/);
    expect(lines.filter((l) => / large  \|/.test(l)).length).toBe(2);
    const list = renderText(s, { page: a });
    expect(list).toMatch(new RegExp(`  0x${a.toString(16).padStart(8, '0')} in use +16 B, usable 8 B`));
    expect(() => renderText(s, { columns: 20 })).toThrow(expect.objectContaining({ code: 'ZEE_BAD_ARGUMENT' }));
    expect(() => renderText({})).toThrow(/expected a snapshot/);
  });
});

describe('renderSVG', () => {
  test('the overview: a row per page, slices coloured by the share in use; the zoom: every block of a page with its address', async () => {
    const { z, a, c, d } = await scripted();
    const s = snapshot(z);
    const svg = renderSVG(s, { collapse: false });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/href="http|<script|@import|url\((?!#zee-hatch)/);
    expect((svg.match(/<g class="zee-page /g) || []).length).toBe(s.totals.pages);
    expect(svg).toContain(`<g class="zee-page zee-small" data-page="${s.heapStart}"`);
    expect(svg).not.toContain('data-addr'); // the overview draws no block by itself
    const zoom = renderSVG(s, { page: s.heapStart });
    const used = [
      ...new Set([...zoom.matchAll(/class="zee-block zee-used" data-addr="(\d+)"/g)].map((m) => Number(m[1]))),
    ];
    const free = new Set([...zoom.matchAll(/class="zee-block zee-free" data-addr="(\d+)"/g)].map((m) => m[1]));
    expect(used).toEqual([a, c]);
    expect(free.size).toBe(16);
    expect(zoom).toContain(`data-addr="${d}" data-state="large" data-size="4464"`);
    expect(zoom).toContain(`<title>0x${a.toString(16).padStart(8, '0')}: in use, block 16 B, usable 8 B`);
  });

  test('100,000+ live blocks of the real allocator: the map stays well under 1 MB, bounded per page, and maxBytes holds', async () => {
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
    const pages = s.totals.pages;
    const svg = renderSVG(s);
    const bytes = Buffer.byteLength(svg);
    expect(bytes).toBeLessThan(1_000_000);
    expect(bytes).toBeLessThan(5000 + 2500 * pages); // proportional to the pages
    for (const maxBytes of [Math.floor(bytes / 2), 50_000, 10_000]) {
      const cut = renderSVG(s, { maxBytes });
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(maxBytes);
      expect(cut).toMatch(/class="zee-cut">cut to fit maxBytes/);
    }
    expect(validate(z).ok).toBe(true);
    expect(z.check()).toBe(0);
  }, 60000);
});
