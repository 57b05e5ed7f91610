// White-box tests of layout 3 (docs/layout.md, the diagrams in src/zee_alloc.c):
// they read headers at p - 8, page words, the page map, free lists and spans
// through typed-array views, and check the exact-size rule for every size.
import { fresh } from './helpers/instance.mjs';
import {
  PAGE,
  SALT,
  PAGE_TAG,
  TAG_SMALL,
  TAG_LARGE,
  TAG_FREE,
  TAG_MERGED,
  MAP_FREE,
  MAP_SMALL,
  MAP_LARGE,
  MAP_MID,
  meta,
  state,
  mapOf,
  listMembers,
  spans,
  smallPages,
  walk,
  pageOf,
  inUseCount,
} from './helpers/layout.mjs';
import { LAYOUT, CHECK_CODES, STATE } from '../js/layout.mjs';
import { rng, seedFromEnv } from './helpers/shadow.mjs';

const STEPS = 200000;

const roundUp = (n, g) => Math.ceil(n / g) * g;
const codeOf = (name) => Number(Object.keys(CHECK_CODES).find((k) => CHECK_CODES[k] === name));

/** Is a small block of m bytes (header included) a slot in a slab? */
const isSlotSize = (m) => m <= LAYOUT.SLAB_MAX && (m & (m - 1)) !== 0;
/** The slab frame for slots of m bytes: the power of two >= 4m, at least 512 B. */
const slabSize = (m) => Math.max(LAYOUT.SLAB_MIN, 2 ** Math.ceil(Math.log2(m * LAYOUT.SLAB_SLOTS)));
/** Is b a sound slab of slots of m bytes (header, and slot 0's size)? */
const slabAt = (z, b, m) =>
  meta(z, b).info === (slabSize(m) | LAYOUT.TAG_SLAB) && meta(z, b).checkOk && (meta(z, b + 32).info & ~15) === m;
/** The slab words at b: next, prev, used, free. */
const slabWords = (z, b) => {
  const [next, prev, used, free] = z.HEAPU32.subarray(b >>> 2, (b >>> 2) + 4);
  return { next, prev, used, free };
};
/** The slabs of slot size m that have a free slot (heap_info.slabs[m / 16]). */
const openSlabs = (z, m) => {
  const out = [];
  for (let b = z.HEAPU32[(z.stateAddress >>> 2) + STATE.slabs + m / 16]; b && out.length < 1000; b = z.HEAPU32[b >>> 2])
    out.push(b);
  return out;
};

/** The blocks of the small page holding p: [{ addr, size, tag }] from P+16. */
const blocksOf = (z, p) => walk(z).find((x) => x.kind === 'small' && x.start === pageOf(p)).blocks;

describe('state block', () => {
  test('zee_heap_info() changes nothing: the heap starts at the first allocation', async () => {
    const z = await fresh();
    const before = state(z);
    expect(before.magic).toBe(LAYOUT.INFO_MAGIC);
    expect(before.layout).toBe(LAYOUT.VERSION);
    expect(before.config).toBe(1); // external validation, no threads
    expect(before.heapStart).toBe(0);
    expect(z.exports.zee_heap_info()).toBe(z.stateAddress);
    expect(state(z)).toEqual(before);
    z.free(z.malloc(1));
    const after = state(z);
    expect(after.heapStart % PAGE).toBe(0);
    expect(after.heapStart).toBeGreaterThan(0);
    expect(after.heapEnd).toBe(z.memoryBytes);
    expect(after.pageMap).toBeGreaterThan(0);
    expect(after.pageMap + (after.heapEnd >>> 16)).toBeLessThan(after.heapStart); // the map is static data
  });
});

describe('exact-size blocks', () => {
  test('every n from 1 to 2 MiB: n <= usable <= n + 15, small below 32,761 B, large ending on a page boundary', async () => {
    const z = await fresh();
    const u32 = () => z.HEAPU32;
    let checked = 0;
    for (let n = 1; n <= 2 << 20; n++) {
      const p = z.malloc(n);
      const usable = z.usableSize(p);
      if (usable < n || usable > n + 15) throw new Error(`malloc(${n}): usable ${usable}`);
      const info = u32()[(p - 8) >>> 2],
        size = (info & ~15) >>> 0;
      const m = roundUp(n + 8, 16);
      if (isSlotSize(m)) {
        // a slot of exactly m bytes in a slab of slabSize(m), aligned to it
        const b = p & -slabSize(m);
        if ((info & 15) !== LAYOUT.TAG_SLOT || size !== m || (p - b - 32) % m || !slabAt(z, b, m))
          throw new Error(`malloc(${n}) at 0x${p.toString(16)}: slot header 0x${info.toString(16)}`);
      } else if (n <= LAYOUT.MAX_SMALL) {
        // roundup(n + 8, 16) bytes inside one page, at or above P+16
        if ((info & 15) !== TAG_SMALL || size !== m || p % PAGE < 16 || (p % PAGE) + size > PAGE)
          throw new Error(`malloc(${n}) at 0x${p.toString(16)}: small header 0x${info.toString(16)}`);
      } else {
        // roundup(n, 16) bytes from the top of the anchor to a page boundary
        const anchor = pageOf(p - 8);
        if (
          (info & 15) !== TAG_LARGE ||
          size !== roundUp(n, 16) ||
          (p + size) % PAGE ||
          (u32()[(anchor + 4) >>> 2] & ~LAYOUT.ANCHOR_ONLY) !== p ||
          p - anchor !== PAGE - (size % PAGE)
        )
          throw new Error(`malloc(${n}) at 0x${p.toString(16)}: large header 0x${info.toString(16)}`);
      }
      if (u32()[(p - 4) >>> 2] !== (info ^ p ^ SALT) >>> 0) throw new Error(`malloc(${n}): check word`);
      z.free(p);
      if (n % 65536 === 0 || n === LAYOUT.MAX_SMALL + 1) {
        expect(z.check()).toBe(0);
        checked++;
      }
    }
    expect(checked).toBe(33);
    z.trim();
    expect(smallPages(z)).toEqual([]);
    expect(state(z).usedBytes).toBe(0);
  }, 120000);

  test('a fresh page: 16 bytes of page word and first header, then one free frame of each size', async () => {
    const z = await fresh();
    const p = z.malloc(1);
    const page = pageOf(p);
    expect(p).toBe(page + 16);
    expect(z.HEAPU32[page >>> 2]).toBe((PAGE_TAG | 1) >>> 0); // tag | blocks in use
    expect(z.HEAPU32[(page + 4) >>> 2]).toBe(0); // anchors no large block
    expect(mapOf(z, page)).toBe(MAP_SMALL);
    const blocks = blocksOf(z, p);
    expect(blocks.map((b) => b.addr - page)).toEqual([16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]);
    expect(blocks.map((b) => b.size)).toEqual(blocks.map((b) => b.addr - page));
    expect(blocks[0].tag).toBe(TAG_SMALL);
    expect(blocks.slice(1).every((b) => b.tag === TAG_FREE)).toBe(true);
    for (let c = 1; c < 12; c++) expect(listMembers(z, c)).toContain(page + (16 << c));
  });

  test('from 1,041 B to 4 KiB a block takes its whole power-of-two frame; above, exactly its size, packed one after another', async () => {
    const z = await fresh();
    const small = z.malloc(1500); // 1,512 B: the 2 KiB frame
    expect(small % 2048).toBe(0);
    expect(meta(z, small)).toMatchObject({ size: 1520, tag: TAG_SMALL, checkOk: true });
    expect(z.usableSize(small)).toBe(1512);
    expect(meta(z, small + 2048).tag).not.toBe(TAG_SMALL); // the frame's last 528 B are padding
    const a = z.malloc(4312),
      b = z.malloc(4312); // SQLite's page-cache entries: 4,320 B each, not 8 KiB
    expect(meta(z, a)).toMatchObject({ size: 4320, tag: TAG_SMALL, checkOk: true });
    // above ZEE_POOL_MIN (4 KiB) a block takes its frames from a mid page
    expect(mapOf(z, small)).toBe(MAP_SMALL);
    expect(mapOf(z, a)).toBe(MAP_MID);
    expect(z.usableSize(a)).toBe(4312);
    expect(b).toBe(a + 4320);
    expect(meta(z, b + 4320)).toMatchObject({ tag: TAG_FREE, checkOk: true }); // the rest: free frames
    const free = blocksOf(z, b + 4320).filter((x) => x.addr >= b + 4320 && x.tag === TAG_FREE);
    for (const x of free) {
      expect(x.addr % x.size).toBe(0); // each aligned to its size
      expect(listMembers(z, Math.log2(x.size) - 4, true)).toContain(x.addr); // a mid page's list
      expect(listMembers(z, Math.log2(x.size) - 4)).not.toContain(x.addr);
    }
    z.free(a);
    z.free(b);
    z.free(small);
    z.trim();
    expect(smallPages(z)).toEqual([]); // every frame merged back: the page went back
    expect(z.check()).toBe(0);
  });

  test('a freed block leaves a hole that the next block of its size reuses', async () => {
    const z = await fresh();
    const a = z.malloc(4312),
      b = z.malloc(4312),
      c = z.malloc(4312);
    z.free(b);
    expect(z.malloc(4312)).toBe(b);
    z.free(a);
    expect(z.malloc(4200)).toBe(a); // a smaller exact block fits the hole too
    expect(c).toBe(b + 4320);
    expect(z.check()).toBe(0);
  });

  test('a row of buffers doubled in turn reuses the holes its neighbours leave (bounded pages)', async () => {
    const z = await fresh();
    const bufs = Array.from({ length: 256 }, () => z.malloc(8));
    for (let n = 8; n < 16384; n *= 2)
      for (let i = 0; i < bufs.length; i++) {
        bufs[i] = z.realloc(bufs[i], 2 * n);
        z.HEAPU8[bufs[i] + 2 * n - 1] = i & 255;
      }
    bufs.forEach((p, i) => expect(z.HEAPU8[p + 16383]).toBe(i & 255));
    const s = z.stats();
    // 256 blocks of 16,400 B need 86 pages (three to a page); holes tried
    // from frames of three classes keep the heap at 105 pages, where trying
    // one class only when no frame of the block's own class was free needed 152.
    expect(s.smallPages + s.largePages + s.freePages).toBeLessThanOrEqual(112);
    bufs.forEach((p) => z.free(p));
    expect(z.check()).toBe(0);
  });

  test('buddies merge on free; the buried upper header says merged, so a second free is a double free', async () => {
    const z = await fresh();
    const a = z.malloc(8),
      b = z.malloc(8),
      c = z.malloc(8);
    const page = pageOf(a);
    expect([a, b, c].map((p) => p - page)).toEqual([16, 32, 48]);
    z.free(b);
    expect(listMembers(z, 0)).toContain(page + 32);
    z.free(c);
    expect(meta(z, page + 32)).toMatchObject({ size: 32, tag: TAG_FREE, checkOk: true });
    expect(meta(z, c)).toMatchObject({ tag: TAG_MERGED, checkOk: true });
    expect(listMembers(z, 1)).toContain(page + 32);
    expect(inUseCount(z, page)).toBe(1);
    expect(() => z.free(c)).toThrow(expect.objectContaining({ code: 'ZEE_E_DOUBLE_FREE' }));
    expect(z.check()).toBe(0);
  });

  test('realloc grows into the free frames after a block and shrinks by freeing its tail', async () => {
    const z = await fresh();
    const p = z.malloc(110); // 128 B: a frame (a slot would move)
    z.HEAPU8.fill(3, p, p + 100);
    expect(z.realloc(p, 3000)).toBe(p);
    expect(meta(z, p).size).toBe(3008);
    expect(z.realloc(p, 50)).toBe(p);
    expect(meta(z, p).size).toBe(64); // its 64 B frame (48 B would move to a slot)
    expect(meta(z, p + 64).tag).toBe(TAG_FREE);
    expect(z.HEAPU8.subarray(p, p + 50).every((x) => x === 3)).toBe(true);
    expect(z.check()).toBe(0);
  });
});

describe('slabs', () => {
  test('a size that is not a power of two, up to 1,040 B, is a slot of exactly its size in a slab of 4x it (at least 512 B)', async () => {
    const z = await fresh();
    const p = Array.from({ length: 11 }, () => z.malloc(40)); // 48 B each
    const b = p[0] - 32; // slot 0's payload is 32 B into its slab
    expect(b % 512).toBe(0);
    expect(meta(z, b)).toMatchObject({ info: 512 | LAYOUT.TAG_SLAB, checkOk: true });
    // (512 - 32) / 48 = 10 slots, back to back; the 11th opens a second slab
    expect(p.slice(0, 10).map((q) => q - b)).toEqual([...Array(10).keys()].map((i) => 32 + 48 * i));
    expect(p[10] & -512).not.toBe(b);
    for (const q of p) {
      expect(meta(z, q)).toMatchObject({ size: 48, tag: LAYOUT.TAG_SLOT, checkOk: true });
      expect(z.usableSize(q)).toBe(40);
    }
    expect(slabWords(z, b)).toMatchObject({ used: 10, free: 0 });
    expect(openSlabs(z, 48)).toEqual([p[10] & -512]); // a full slab is on no list
    const page = pageOf(b);
    expect(inUseCount(z, page)).toBe(2); // a page counts a slab as one block
    expect(state(z).usedBlocks).toBe(11); // the totals count slots
    expect(state(z).usedBytes).toBe(11 * 40);
    z.free(p[3]);
    expect(meta(z, p[3])).toMatchObject({ size: 48, tag: LAYOUT.TAG_SLOT_FREE, checkOk: true });
    expect(slabWords(z, b)).toMatchObject({ used: 9, free: p[3] });
    expect(openSlabs(z, 48)).toEqual([b, p[10] & -512]); // back on its list, first
    expect(z.malloc(33)).toBe(p[3]); // the freed slot is reused first
    expect(z.check()).toBe(0);
  });

  test("SQLite's 1,032 B page buffers: 1,040 B slots, seven in an 8 KiB slab, not 2 KiB frames", async () => {
    const z = await fresh();
    const p = Array.from({ length: 14 }, () => z.malloc(1032));
    const slabs = [...new Set(p.map((q) => q & -8192))];
    expect(slabs.length).toBe(2);
    for (const b of slabs) expect(slabAt(z, b, 1040)).toBe(true);
    expect(p.slice(0, 7).map((q) => q - slabs[0])).toEqual([...Array(7).keys()].map((i) => 32 + 1040 * i));
    expect(z.usableSize(p[0])).toBe(1032);
    p.forEach((q) => z.free(q));
    expect(z.check()).toBe(0);
  });

  test('freeing the last slot in use frees the slab: its frame merges back and the page empties', async () => {
    const z = await fresh();
    const p = Array.from({ length: 5 }, () => z.malloc(70)); // 80 B slots in a 512 B slab
    const b = p[0] - 32,
      page = pageOf(b);
    p.forEach((q) => z.free(q));
    expect(openSlabs(z, 80)).toEqual([]);
    expect(meta(z, b).tag).toBe(TAG_FREE); // the slab's frame is a free frame again
    expect(inUseCount(z, page)).toBe(0);
    expect(state(z).spare).toBe(page);
    z.trim();
    expect(smallPages(z)).toEqual([]);
    expect(z.check()).toBe(0);
  });

  test('a freed slot is a double free; the slab address and a slot interior are not blocks', async () => {
    const z = await fresh();
    const p = z.malloc(40),
      q = z.malloc(40);
    z.free(p);
    expect(() => z.free(p)).toThrow(expect.objectContaining({ code: 'ZEE_E_DOUBLE_FREE' }));
    expect(() => z.free(p - 32)).toThrow(expect.objectContaining({ code: 'ZEE_E_HEADER' })); // the slab itself
    expect(() => z.free(q + 16)).toThrow(expect.objectContaining({ code: 'ZEE_E_HEADER' }));
    z.free(q);
    expect(z.check()).toBe(0);
  });

  test('an alignment above 16 B or a power-of-two size is never a slot', async () => {
    const z = await fresh();
    const a = z.alignedAlloc(32, 40),
      b = z.malloc(56); // 64 B
    expect(meta(z, a)).toMatchObject({ size: 48, tag: TAG_SMALL }); // with 16 B alignment, a slot
    expect(meta(z, b)).toMatchObject({ size: 64, tag: TAG_SMALL });
    expect(a % 32).toBe(0);
    z.free(a);
    z.free(b);
    expect(z.check()).toBe(0);
  });
});

describe('large blocks', () => {
  test('100,000 B on a small page: 34,464 B in the top of that page, then one whole page; the anchor keeps serving small blocks', async () => {
    const z = await fresh();
    const s = z.malloc(110); // a small page whose top half is free
    const p = z.malloc(100000);
    const anchor = pageOf(p);
    expect(anchor).toBe(pageOf(s));
    expect(p - anchor).toBe(PAGE - (100000 % PAGE));
    expect((p + 100000) % PAGE).toBe(0);
    expect(meta(z, p)).toMatchObject({ size: 100000, tag: TAG_LARGE, checkOk: true });
    expect(z.HEAPU32[(anchor + 4) >>> 2]).toBe(p); // ANCHOR_ONLY clear
    expect(mapOf(z, anchor)).toBe(MAP_SMALL);
    expect(mapOf(z, anchor + PAGE)).toBe(MAP_LARGE);
    const below = blocksOf(z, p);
    expect(below[below.length - 1].addr + below[below.length - 1].size).toBe(p); // blocks tile [A+16, p)
    expect(below.filter((b) => b.tag !== TAG_FREE).map((b) => b.addr)).toEqual([s]);
    const q = z.malloc(1000);
    expect(pageOf(q)).toBe(anchor);
    z.free(p);
    z.free(q);
    z.free(s);
    expect(z.check()).toBe(0);
  });

  test('100,000 B with no small page to anchor it: a page made only for it (ANCHOR_ONLY), both pages free again after free()', async () => {
    const z = await fresh();
    const p = z.malloc(100000);
    const anchor = pageOf(p);
    expect(p - anchor).toBe(PAGE - (100000 % PAGE));
    expect(z.HEAPU32[(anchor + 4) >>> 2]).toBe(p | LAYOUT.ANCHOR_ONLY);
    expect(z.HEAPU32[anchor >>> 2] & LAYOUT.COUNT_MASK).toBe(1); // the large block alone
    expect(z.check()).toBe(0);
    const q = z.malloc(1000); // small blocks go elsewhere: the page below p holds nothing else
    expect(pageOf(q)).not.toBe(anchor);
    const pages = z.stats().freePages;
    z.free(p);
    expect(mapOf(z, anchor)).toBe(MAP_FREE);
    expect(mapOf(z, anchor + PAGE)).toBe(MAP_FREE);
    expect(z.stats().freePages).toBe(pages + 2);
    expect(() => z.free(p)).toThrow(expect.objectContaining({ code: 'ZEE_E_DOUBLE_FREE' }));
    z.free(q);
    expect(z.check()).toBe(0);
  });

  test('zee_check(): ANCHOR_ONLY without a large block, or over small blocks', async () => {
    const z = await fresh();
    const s = z.malloc(100);
    const P = pageOf(s);
    z.HEAPU32[(P + 4) >>> 2] = LAYOUT.ANCHOR_ONLY;
    expect(CHECK_CODES[z.check()]).toBe('ZEE_C_PAGE');
    z.HEAPU32[(P + 4) >>> 2] = 0;
    const p = z.malloc(100000); // anchored in P's top, beside s
    expect(pageOf(p)).toBe(P);
    z.HEAPU32[(P + 4) >>> 2] |= LAYOUT.ANCHOR_ONLY;
    expect(CHECK_CODES[z.check()]).toBe('ZEE_C_COUNT');
    z.HEAPU32[(P + 4) >>> 2] &= ~LAYOUT.ANCHOR_ONLY;
    expect(z.check()).toBe(0);
  });

  test("a multiple of 64 KiB is page-aligned with its header in the anchor's last 8 bytes", async () => {
    const z = await fresh();
    const p = z.malloc(3 * PAGE);
    expect(p % PAGE).toBe(0);
    expect(z.usableSize(p)).toBe(3 * PAGE);
    const anchor = p - PAGE;
    expect(z.HEAPU32[(anchor + 4) >>> 2]).toBe(p);
    expect(meta(z, p)).toMatchObject({ size: 3 * PAGE, tag: TAG_LARGE });
    expect(mapOf(z, p + 2 * PAGE)).toBe(MAP_LARGE);
    // the anchor's top frame is whole and free: its tail slot is the header
    expect(meta(z, anchor + 32768)).toMatchObject({ size: 32768, tag: TAG_FREE });
    z.free(p);
    expect(meta(z, p).tag).toBe(TAG_MERGED);
    expect(() => z.free(p)).toThrow(expect.objectContaining({ code: 'ZEE_E_DOUBLE_FREE' }));
    expect(z.check()).toBe(0);
  });

  test('first fit: a large block takes the lowest run of j + 1 free pages; the first becomes its anchor', async () => {
    const z = await fresh();
    const a = z.malloc(3 * PAGE),
      b = z.malloc(2 * PAGE),
      c = z.malloc(2 * PAGE);
    z.free(a); // 4 free pages (anchor and block) at the bottom
    z.free(b); // 3 more, right after them: one run of 7
    const d = z.malloc(5 * PAGE);
    expect(d).toBe(a); // the run starts at a's anchor, which becomes d's anchor
    expect(mapOf(z, d - PAGE)).toBe(MAP_MID); // a fresh anchor is a mid page
    const e = z.malloc(PAGE);
    expect(e).toBeGreaterThan(c); // the one page left there is not enough for anchor + page
    expect(c).toBeGreaterThan(0);
    expect(z.check()).toBe(0);
  });

  test('realloc of a large block grows over the span after it, and shrinks by freeing whole pages', async () => {
    const z = await fresh();
    const p = z.malloc(100000);
    z.HEAPU8.fill(4, p, p + 100000);
    expect(z.realloc(p, 300000)).toBe(p);
    expect(z.usableSize(p)).toBe(100000 + 4 * PAGE); // 34,464 B + whole pages
    const large = state(z).largePages;
    expect(z.realloc(p, 90000)).toBe(p);
    expect(z.usableSize(p)).toBe(100000);
    expect(state(z).largePages).toBe(large - 4);
    expect(z.HEAPU8.subarray(p, p + 90000).every((x) => x === 4)).toBe(true);
    expect(z.check()).toBe(0);
  });
});

describe('pools: small pages and mid pages', () => {
  test('blocks above 4 KiB (slabs excepted) and fresh anchors take mid pages; the rest small pages', async () => {
    const z = await fresh();
    const kinds = {
      slot: z.malloc(100), // 112 B: a slot, its slab a 512 B frame
      frame: z.malloc(56), // 64 B: a whole frame
      round: z.malloc(1500), // 1,512 B: a 2 KiB frame
      bigSlab: z.malloc(1032), // 1,040 B: a slot in an 8 KiB slab (size == alignment)
      round4k: z.malloc(3000), // 3,008 B: a 4 KiB frame, at most 4 KiB
      exact: z.malloc(5000), // 5,008 B exactly
      top: z.malloc(40000), // 40,016 B in the top of one page
      large: z.malloc(3 * PAGE + 100), // a fresh anchor for it alone, then 3 pages
    };
    const mid = { exact: true, top: true };
    for (const [name, p] of Object.entries(kinds))
      if (name === 'large') expect(mapOf(z, p - 8)).toBe(MAP_MID);
      else expect([name, mapOf(z, p)]).toEqual([name, mid[name] ? MAP_MID : MAP_SMALL]);
    expect(pageOf(kinds.exact)).not.toBe(pageOf(kinds.round4k));
    // a mid page's free frames are on the mid lists, a small page's on the others
    for (const x of blocksOf(z, kinds.exact).filter((b) => b.tag === TAG_FREE))
      expect(listMembers(z, Math.log2(x.size) - 4, true)).toContain(x.addr);
    for (const x of blocksOf(z, kinds.frame).filter((b) => b.tag === TAG_FREE))
      expect(listMembers(z, Math.log2(x.size) - 4)).toContain(x.addr);
    expect(z.check()).toBe(0);
    for (const p of Object.values(kinds)) z.free(p);
    z.trim();
    expect(smallPages(z)).toEqual([]);
    expect(state(z).midLists.every((f) => f === 0)).toBe(true);
    expect(z.check()).toBe(0);
  });

  test('small blocks churning beside blocks of 1-8 KiB keep the heap within 3x its peak live bytes (seeded)', async () => {
    const seed = seedFromEnv();
    console.log(`pools churn: ZEE_SEED=${seed}`);
    const r = rng(seed),
      z = await fresh();
    // small-random-8k's sizes: 90 % 8-128 B, 9 % to 1 KiB, 1 % 1-8 KiB
    const size = () => {
      const x = r();
      return x < 0.9 ? r.int(8, 128) : x < 0.99 ? r.int(129, 1024) : r.int(1025, 8192);
    };
    const live = [];
    let bytes = 0,
      peak = 0;
    for (let i = 0; i < 4000; i++) {
      const n = size();
      live.push([z.malloc(n), n]);
      bytes += n;
    }
    for (let step = 0; step < STEPS; step++) {
      const i = r.int(0, live.length - 1);
      z.free(live[i][0]);
      const n = size();
      bytes += n - live[i][1];
      live[i] = [z.malloc(n), n];
      peak = Math.max(peak, bytes);
    }
    const st = state(z);
    const owned = (st.smallPages + st.largePages + st.freePages) * PAGE;
    console.log(`pools churn: ${owned} B owned for ${peak} B live at the peak (${(owned / peak).toFixed(2)}x)`);
    expect(owned).toBeLessThan(3 * peak);
    expect(z.check()).toBe(0);
  });
});

describe('pages and spans', () => {
  test('free pages are only marks in the page map; the first-free mark starts the search', async () => {
    const z = await fresh();
    const p = z.malloc(5 * PAGE); // after a fresh anchor: the heap's first small page
    z.HEAPU8.fill(0x6b, p, p + 5 * PAGE);
    expect(z.malloc(100) - (p - PAGE)).not.toBeLessThan(PAGE); // a small block: a small page
    const q = z.malloc(5000); // a block above 4 KiB: in the anchor's frames (a mid page)
    expect(pageOf(q)).toBe(p - PAGE);
    z.free(p);
    const run = spans(z).find((x) => x.start === p);
    expect(run.pages).toBeGreaterThanOrEqual(5); // may run on into the free pages after it
    for (let i = 0; i < 5; i++) expect(mapOf(z, p + i * PAGE)).toBe(MAP_FREE);
    expect(z.HEAPU8.subarray(p, p + 5 * PAGE).every((x) => x === 0x6b)).toBe(true); // nothing written
    expect(state(z).firstFree).toBeLessThanOrEqual(p);
    z.free(q); // the anchor empties: it is the spare until trim() gives it back
    expect(state(z).spare).toBe(p - PAGE);
    z.trim();
    expect(spans(z).find((x) => x.start === p - PAGE).pages).toBe(run.pages + 1);
    expect(z.check()).toBe(0);
  });

  test('free neighbours merge by themselves: a freed run joins the free pages on both sides', async () => {
    const z = await fresh();
    const blocks = [1, 2, 3].map(() => z.malloc(2 * PAGE));
    const anchors = blocks.map((p) => p - PAGE);
    expect(anchors[1]).toBe(anchors[0] + 3 * PAGE); // three runs of anchor + two pages, in a row
    expect(anchors[2]).toBe(anchors[1] + 3 * PAGE);
    const guard = z.malloc(5 * PAGE); // keeps the runs away from the top
    z.free(blocks[0]);
    z.free(blocks[2]);
    z.free(blocks[1]);
    z.trim(); // the spare (the last emptied anchor) goes too
    expect(spans(z).find((x) => x.start === anchors[0])).toEqual({ start: anchors[0], pages: 9 });
    const large = z.malloc(8 * PAGE); // one run: anchor + 8 pages
    expect(large).toBe(anchors[0] + PAGE);
    expect(guard).toBeGreaterThan(anchors[2]);
    expect(z.check()).toBe(0);
  });

  test('memory growth appends to the span at the top of the heap', async () => {
    const z = await fresh();
    const p = z.malloc(1);
    const mem = z.memoryBytes;
    const big = z.malloc(mem); // needs more memory than there is
    expect(z.memoryBytes).toBeGreaterThan(mem);
    z.free(big);
    z.trim();
    const top = spans(z).at(-1);
    expect(top.start + top.pages * PAGE).toBe(state(z).heapEnd);
    expect(p).toBeGreaterThan(0);
    expect(z.check()).toBe(0);
  });

  test('an emptied page is kept as the spare, then trim gives it back', async () => {
    const z = await fresh();
    const p = z.malloc(100);
    const page = pageOf(p);
    z.free(p);
    expect(state(z).spare).toBe(page);
    expect(smallPages(z)).toEqual([page]);
    z.trim();
    expect(state(z).spare).toBe(0);
    expect(smallPages(z)).toEqual([]);
    expect(mapOf(z, page)).toBe(MAP_FREE);
    expect(z.check()).toBe(0);
  });
});

describe('running totals', () => {
  test('used bytes and blocks, peak and pages by kind follow every call', async () => {
    const z = await fresh();
    const a = z.malloc(110),
      b = z.malloc(100000),
      c = z.malloc(3 * PAGE);
    let s = state(z);
    expect(s.usedBytes).toBe(120 + 100000 + 3 * PAGE);
    expect(s.usedBlocks).toBe(3);
    expect(s.largePages).toBe(1 + 3);
    expect(s.smallPages).toBe(smallPages(z).length);
    expect(s.freePages).toBe(spans(z).reduce((t, x) => t + x.pages, 0));
    z.free(b);
    expect(z.realloc(a, 1496)).toBe(a);
    s = state(z);
    expect(s.usedBytes).toBe(1496 + 3 * PAGE);
    expect(s.usedBlocks).toBe(2);
    expect(s.peakBytes).toBe(120 + 100000 + 3 * PAGE);
    z.free(a);
    z.free(c);
    expect(state(z).usedBytes).toBe(0);
    expect(z.check()).toBe(0);
  });

  test.each([
    ['usedBytes', 1],
    ['usedBlocks', 1],
    ['smallPages', 1],
    ['largePages', 1],
    ['freePages', 1],
  ])('a corrupted %s is caught by zee_check() as ZEE_C_TOTALS', async (field, delta) => {
    const z = await fresh();
    z.malloc(5000);
    z.malloc(3 * PAGE);
    const at =
      (z.stateAddress >>> 2) + { usedBytes: 20, usedBlocks: 21, smallPages: 23, largePages: 24, freePages: 25 }[field];
    z.HEAPU32[at] += delta;
    expect(z.check()).toBe(codeOf('ZEE_C_TOTALS'));
    z.HEAPU32[at] -= delta;
    expect(z.check()).toBe(0);
  });
});

describe('zee_check() names the broken rule', () => {
  test.each([
    [
      'a small block header',
      'ZEE_C_FRAME',
      (z, p) => {
        z.HEAPU32[(p - 4) >>> 2] ^= 1;
      },
    ],
    [
      'a page count',
      'ZEE_C_COUNT',
      (z, p) => {
        z.HEAPU32[pageOf(p) >>> 2] += 1;
      },
    ],
    [
      'a free-list back link',
      'ZEE_C_LIST',
      (z, p) => {
        const f = listMembers(
          z,
          [...Array(12).keys()].find((c) => listMembers(z, c).length),
        )[0];
        z.HEAPU32[(f + 4) >>> 2] = p;
      },
    ],
    [
      'the first-free mark above a free page',
      'ZEE_C_SPAN',
      (z) => {
        z.HEAPU32[(z.stateAddress >>> 2) + 6] = spans(z)[0].start + PAGE;
      },
    ],
    [
      'a large block header',
      'ZEE_C_LARGE',
      (z, p, big) => {
        z.HEAPU32[(big - 4) >>> 2] ^= 16;
      },
    ],
    [
      'a map byte of a small page',
      'ZEE_C_PAGE',
      (z, p) => {
        z.HEAPU8[state(z).pageMap + (p >>> 16)] = MAP_LARGE;
      },
    ],
    [
      'a slot header',
      'ZEE_C_SLAB',
      (z, p, big, slot) => {
        z.HEAPU32[(slot - 4) >>> 2] ^= 1;
      },
    ],
    [
      "a slab's count of slots in use",
      'ZEE_C_SLAB',
      (z, p, big, slot) => {
        z.HEAPU32[((slot - 32) >>> 2) + 2] += 1;
      },
    ],
    [
      'the list of slabs with a free slot',
      'ZEE_C_SLAB',
      (z) => {
        z.HEAPU32[(z.stateAddress >>> 2) + STATE.slabs + 3] = 0; // the 48 B slab is on no list
      },
    ],
  ])('%s → %s', async (what, rule, damage) => {
    const z = await fresh();
    const p = z.malloc(240); // 256 B: a frame
    const big = z.malloc(100000);
    const span = z.malloc(4 * PAGE);
    const slot = z.malloc(30); // 48 B: slot 0 of a slab with free slots
    z.free(span); // its pages become a free span
    expect(spans(z).length).toBeGreaterThan(0);
    expect(z.check()).toBe(0);
    damage(z, p, big, slot);
    expect(CHECK_CODES[z.check()]).toBe(rule);
  });
});

describe('zee_check() and the state block', () => {
  test.each([
    [
      'first_free off a page boundary',
      'ZEE_C_STATE',
      (z) => {
        z.HEAPU32[(z.stateAddress >>> 2) + 6] += 16;
      },
    ],
    [
      'a page-map mark below the heap',
      'ZEE_C_STATE',
      (z) => {
        z.HEAPU8[state(z).pageMap + (state(z).heapStart >>> 16) - 1] = MAP_SMALL;
      },
    ],
    [
      'a spare that is not a small page',
      'ZEE_C_PAGE',
      (z) => {
        z.HEAPU32[(z.stateAddress >>> 2) + 7] = spans(z)[0].start;
      },
    ],
  ])('%s → %s', async (what, rule, damage) => {
    const z = await fresh();
    const big = z.malloc(4 * PAGE);
    z.malloc(100);
    z.free(big); // free pages to point at
    expect(z.check()).toBe(0);
    damage(z);
    expect(CHECK_CODES[z.check()]).toBe(rule);
  });
});
