// Every packaged build (validation level) reports its options and survives the
// random workload; the page-span policy (closest fit, existing anchors first)
// is checked on the default build.
import { fresh } from './helpers/instance.mjs';
import { seedFromEnv } from './helpers/shadow.mjs';
import { runRandom } from './helpers/workload.mjs';
import { PAGE, state, spans } from './helpers/layout.mjs';
import { decodeConfig } from '../js/layout.mjs';

const seed = seedFromEnv();
console.log(`variants seed ${seed} (replay with ZEE_SEED=${seed})`);

const CONFIG = { default: 'external', dev: 'dev', unsafe: 'unsafe' };

describe.each(Object.keys(CONFIG))('variant %s', (variant) => {
  test('reports its validation level in zee_heap_info.config', async () => {
    const z = await fresh(variant);
    expect(decodeConfig(state(z).config)).toEqual({ validation: CONFIG[variant], threads: false });
  });

  test('random workload of 30,000 operations stays consistent', async () => {
    const z = await fresh(variant);
    const res = runRandom(z, { seed, ops: 30000, maxSize: 1 << 19 });
    expect(res.counts.free).toBeGreaterThan(5000);
    expect(z.check()).toBe(0);
  }, 60000);
});

test('closest fit: a large request takes the smallest span that fits', async () => {
  const z = await fresh();
  const a = z.malloc(6 * PAGE), g1 = z.malloc(PAGE), b = z.malloc(3 * PAGE), g2 = z.malloc(PAGE);
  z.free(a);
  z.free(b);
  expect(z.malloc(2 * PAGE)).toBe(b);
  expect([g1, g2].every(Boolean)).toBe(true);
  expect(z.check()).toBe(0);
});

test('closest fit: a span after a page that can anchor wins over a smaller one that needs an anchor carved', async () => {
  const z = await fresh();
  // x's anchor keeps a small block (sx), so freeing x leaves a span after a
  // small page; y's anchor empties with it and merges into y's span.
  const x = z.malloc(5 * PAGE), sx = z.malloc(16), g1 = z.malloc(PAGE), y = z.malloc(2 * PAGE), g2 = z.malloc(PAGE);
  z.free(x);
  z.free(y);
  z.trim();
  expect(spans(z).filter((s) => s.start === x || s.start === y - PAGE)).toEqual([
    { start: x, pages: 5 }, { start: y - PAGE, pages: 3 }]);
  expect(z.malloc(2 * PAGE)).toBe(x);
  expect([sx, g1, g2].every(Boolean)).toBe(true);
  expect(z.check()).toBe(0);
});
