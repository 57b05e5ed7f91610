// Every compile-time option builds and survives the random workload.
import { fresh } from './helpers/instance.mjs';
import { seedFromEnv } from './helpers/shadow.mjs';
import { runRandom } from './helpers/workload.mjs';
import { PAGE, meta, state, spans } from './helpers/layout.mjs';

const seed = seedFromEnv();
console.log(`variants seed ${seed} (replay with ZEE_SEED=${seed})`);

const CONFIG = {
  default: 0x101, dev: 0x102, unsafe: 0x100, fast: 0x001, chunkify: 0x1101,
  exact: 0x111, first: 0x121, 'dev-fast-chunkify': 0x1002, cache: 0x200101,
};

describe.each(Object.keys(CONFIG))('variant %s', (variant) => {
  test('reports its options in zee_heap_info.config', async () => {
    const z = await fresh(variant);
    expect(state(z).config).toBe(CONFIG[variant]);
  });

  test('random workload of 30,000 operations stays consistent', async () => {
    const z = await fresh(variant);
    const res = runRandom(z, { seed, ops: 30000, maxSize: 1 << 19 });
    expect(res.counts.free).toBeGreaterThan(5000);
    expect(z.check()).toBe(0);
  }, 60000);
});

test('fast: freed buddies are never merged', async () => {
  const z = await fresh('fast');
  const a = z.malloc(8), b = z.malloc(8), c = z.malloc(8);
  z.free(b);
  z.free(c);
  expect(meta(z, b)).toMatchObject({ size: 16, free: true });
  expect(meta(z, c)).toMatchObject({ size: 16, free: true });
  expect(z.malloc(8)).toBe(c); // LIFO reuse of the 16 B frames
  expect(a).toBeGreaterThan(0);
});

test('chunkify: shrinking realloc gives the upper halves back', async () => {
  const z = await fresh('chunkify');
  const p = z.malloc(4000);
  expect(z.realloc(p, 100)).toBe(p);
  expect(meta(z, p).size).toBe(128);
  expect(meta(z, p + 128)).toMatchObject({ size: 128, free: true });
  expect(meta(z, p + 2048)).toMatchObject({ size: 2048, free: true });
  const j = z.malloc(8 * PAGE);
  const guard = z.malloc(PAGE);
  expect(z.realloc(j, 2 * PAGE + 1)).toBe(j);
  expect(z.usableSize(j)).toBe(3 * PAGE);
  expect(spans(z).some((s) => s.start === j + 3 * PAGE && s.pages === 5)).toBe(true);
  expect(guard).toBeGreaterThan(0);
  expect(z.check()).toBe(0);
});

test('exact: a jumbo request skips spans that do not fit exactly', async () => {
  const z = await fresh('exact');
  const big = z.malloc(6 * PAGE);
  const guard = z.malloc(PAGE);
  z.free(big); // a 6-page span (anchored) in the middle of the heap
  const j = z.malloc(2 * PAGE);
  expect(j < big || j >= big + 6 * PAGE).toBe(true);
  const k = z.malloc(6 * PAGE);
  expect(k).toBe(big);
  expect(guard).toBeGreaterThan(0);
  expect(z.check()).toBe(0);
});

test('closest: a jumbo request takes the smallest span that fits', async () => {
  const z = await fresh();
  const a = z.malloc(6 * PAGE), g1 = z.malloc(PAGE), b = z.malloc(3 * PAGE), g2 = z.malloc(PAGE);
  z.free(a);
  z.free(b);
  expect(z.malloc(2 * PAGE)).toBe(b);
  expect([g1, g2].every(Boolean)).toBe(true);
});

test('closest: a span that has an anchor wins over a smaller one that needs an anchor carved', async () => {
  const z = await fresh();
  // x's anchor keeps a small block (sx), so freeing x leaves an anchored span;
  // y's anchor empties with it, so y leaves a span that starts with no anchor.
  const x = z.malloc(5 * PAGE), sx = z.malloc(16), g1 = z.malloc(PAGE), y = z.malloc(2 * PAGE), g2 = z.malloc(PAGE);
  z.free(x);
  z.free(y);
  expect(spans(z).map(({ start, pages, anchored }) => ({ start, pages, anchored }))).toEqual([
    { start: x, pages: 5, anchored: true }, { start: y - PAGE, pages: 3, anchored: false }]);
  expect(z.malloc(2 * PAGE)).toBe(x);
  expect([sx, g1, g2].every(Boolean)).toBe(true);
  expect(z.check()).toBe(0);
});

test('first: a jumbo request takes the lowest span that fits', async () => {
  const z = await fresh('first');
  const a = z.malloc(6 * PAGE), g1 = z.malloc(PAGE), b = z.malloc(3 * PAGE), g2 = z.malloc(PAGE);
  z.free(a);
  z.free(b);
  expect(z.malloc(2 * PAGE)).toBe(a);
  expect([g1, g2].every(Boolean)).toBe(true);
});
