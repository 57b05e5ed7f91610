// Memory that someone else grew between zee_alloc's growths is never used.
import { fresh } from './helpers/instance.mjs';
import { Shadow, rng } from './helpers/shadow.mjs';
import { PAGE, spans, smallPages, state } from './helpers/layout.mjs';

/** Grows memory behind zee_alloc's back and fills the new pages with `byte`. */
function foreignGrow(z, pages, byte) {
  const start = z.memoryBytes;
  z.memory.grow(pages);
  z.HEAPU8.fill(byte, start, start + pages * PAGE);
  return [start, start + pages * PAGE];
}

test('pages grown by someone else are skipped: no block, span or page lands in them', async () => {
  const z = await fresh('dev');
  const sh = new Shadow(z);
  const r = rng(42);
  const foreign = [];
  for (let round = 0; round < 6; round++) {
    // use up what zee_alloc has, so that its next growth comes after the gap
    for (let i = 0; i < 40; i++) {
      const n = r() < 0.7 ? r.int(1, 5000) : r.int(40000, 300000);
      const p = z.malloc(n);
      sh.add(p, n);
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
  const inGap = (a) => foreign.some(([s, e]) => a >= s && a < e);
  for (const p of sh.starts) expect(inGap(p)).toBe(false);
  for (const sp of spans(z))
    for (let q = sp.start; q < sp.start + sp.pages * PAGE; q += PAGE) expect(inGap(q)).toBe(false);
  for (const pg of smallPages(z)) expect(inGap(pg)).toBe(false);
  for (const [s, e, byte] of foreign) expect(z.HEAPU8.subarray(s, e).every((b) => b === byte)).toBe(true);
  sh.verifyAll();
  expect(z.check()).toBe(0);
  // zee_alloc grew again after every gap (so each gap sits inside its heap)
  for (const [, e] of foreign.slice(0, -1)) expect(sh.starts.some((p) => p > e)).toBe(true);
  expect(state(z).heapEnd).toBeGreaterThan(foreign[foreign.length - 2][1]);
});

test('a large block never spans a foreign gap, and its anchor is in the same region', async () => {
  const z = await fresh();
  const top = z.memoryBytes;
  const a = z.malloc(top); // forces growth up to well past the initial memory
  const [gs, ge] = foreignGrow(z, 3, 0x77);
  const b = z.malloc(4 * PAGE);
  expect(b >= ge || b + 4 * PAGE <= gs).toBe(true);
  expect(b - PAGE >= ge || b <= gs).toBe(true);
  expect(z.HEAPU8.subarray(gs, ge).every((x) => x === 0x77)).toBe(true);
  z.free(a);
  z.free(b);
  expect(z.check()).toBe(0);
});
