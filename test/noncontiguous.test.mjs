// Memory that someone else grew between zee_alloc's growths becomes a foreign
// block (docs/layout.md "Memory source and foreign memory"): its header is
// the old end's last 8 bytes, it covers the foreign memory and the first 16
// bytes of the new memory, and it is never used, freed or merged.
import { fresh } from './helpers/instance.mjs';
import { Shadow, rng } from './helpers/shadow.mjs';
import { PAGE, TAG_FOREIGN, meta, state, blocks } from './helpers/layout.mjs';

/** Grows memory behind zee_alloc's back and fills the new pages with `byte`. */
function foreignGrow(z, pages, byte) {
  const start = z.memoryBytes;
  z.memory.grow(pages);
  z.HEAPU8.fill(byte, start, start + pages * PAGE);
  return [start, start + pages * PAGE];
}

/** Foreign ranges that follow each other with no growth of the allocator in between are one. */
function joined(ranges) {
  const out = [];
  for (const [s, e, byte] of ranges) {
    const last = out[out.length - 1];
    if (last && last[1] === s) last[1] = e;
    else out.push([s, e, byte]);
  }
  return out;
}

test('memory grown by someone else becomes a foreign block: no block or free frame lands in it', async () => {
  const z = await fresh('dev');
  const sh = new Shadow(z);
  const r = rng(42);
  const foreign = [];
  for (let round = 0; round < 6; round++) {
    // use up what zee_alloc has, so that its next growth comes after the gap
    for (let i = 0; i < 40; i++) {
      const n = r() < 0.7 ? r.int(1, 5000) : r.int(40000, 300000);
      sh.add(z.malloc(n), n);
    }
    foreign.push([...foreignGrow(z, 1 + round, 0xee), 0xee]);
    for (const p of sh.starts.filter((_, i) => i % 4 === 0)) {
      sh.remove(p);
      z.free(p);
    }
  }
  for (let i = 0; i < 100; i++) {
    const n = r.int(1, 200000);
    sh.add(z.malloc(n), n);
  }
  const { heapEnd } = state(z);
  const gaps = joined(foreign).filter(([s]) => s < heapEnd);
  expect(gaps.length).toBeGreaterThanOrEqual(5); // the premise: the heap grew past the gaps
  // every gap is exactly one foreign block, from its start to 16 B past its end
  const all = blocks(z);
  const foreignBlocks = all.filter((b) => b.state === 'foreign');
  expect(foreignBlocks.map((b) => [b.address, b.size])).toEqual(gaps.map(([s, e]) => [s, e - s + 16]));
  for (const [s, e] of gaps) {
    expect(s % PAGE).toBe(0);
    expect(meta(z, s)).toMatchObject({ size: e - s + 16, tag: TAG_FOREIGN, checkOk: true });
    expect(meta(z, e + 16).checkOk).toBe(true); // the next header is the heap's own
  }
  // nothing else overlaps a gap: the blocks tile the heap around them
  const inGap = (a) => gaps.some(([s, e]) => a >= s && a < e);
  for (const b of all) if (b.state !== 'foreign') expect([b.address, inGap(b.address)]).toEqual([b.address, false]);
  for (const p of sh.starts) expect(inGap(p)).toBe(false);
  for (const [s, e, byte] of foreign) expect(z.HEAPU8.subarray(s, e).every((b) => b === byte)).toBe(true);
  sh.verifyAll();
  expect(z.check()).toBe(0);
  // freed, the blocks merge back into free frames on both sides of each
  // foreign block, which stays as it is
  for (const p of [...sh.starts]) {
    sh.remove(p);
    z.free(p);
  }
  const left = blocks(z);
  expect([...new Set(left.map((b) => b.state))].sort()).toEqual(['foreign', 'free']);
  expect(left.filter((b) => b.state === 'foreign').map((b) => b.address)).toEqual(gaps.map(([s]) => s));
  for (const [s, e, byte] of foreign) expect(z.HEAPU8.subarray(s, e).every((b) => b === byte)).toBe(true);
  expect(z.check()).toBe(0);
});

test('a block never spans a foreign block; free() of the foreign block is a bad pointer', async () => {
  const z = await fresh();
  const top = z.memoryBytes;
  const a = z.malloc(top); // forces growth to well past the initial memory
  const [gs, ge] = foreignGrow(z, 3, 0x77);
  const b = z.malloc(4 * PAGE); // the free run at the top is less than a page: the heap grows past the gap
  expect(b).toBeGreaterThanOrEqual(ge + 16);
  expect(meta(z, gs)).toMatchObject({ size: ge - gs + 16, tag: TAG_FOREIGN, checkOk: true });
  expect(() => z.free(gs)).toThrow(expect.objectContaining({ code: 'ZEE_E_HEADER', ptr: gs }));
  z.free(a);
  z.free(b);
  // everything is free on both sides, but no run crosses the foreign block:
  // a block larger than either side goes above both, after more growth
  const frames = blocks(z).filter((x) => x.state === 'free');
  expect(frames.every((x) => x.address + x.size <= gs || x.address >= ge + 16)).toBe(true);
  const c = z.malloc(ge - state(z).heapStart);
  expect(c).toBeGreaterThanOrEqual(ge + 16);
  expect(z.HEAPU8.subarray(gs, ge).every((x) => x === 0x77)).toBe(true);
  z.free(c);
  expect(z.check()).toBe(0);
});
