// Every packaged build (validation level) reports its options and survives the
// random workload; the page policy (first fit in address order) is checked on
// the default build.
import { fresh } from './helpers/instance.mjs';
import { seedFromEnv } from './helpers/shadow.mjs';
import { runRandom } from './helpers/workload.mjs';
import { PAGE, state } from './helpers/layout.mjs';
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

test('first fit: a large request takes the lowest run of free pages that fits', async () => {
  const z = await fresh();
  const a = z.malloc(6 * PAGE),
    g1 = z.malloc(PAGE),
    b = z.malloc(3 * PAGE),
    g2 = z.malloc(PAGE);
  z.free(a);
  z.free(b);
  z.trim();
  expect(z.malloc(2 * PAGE)).toBe(a); // 7 free pages there: anchor + 2 taken
  expect(z.malloc(2 * PAGE)).toBe(a + 3 * PAGE); // the rest of that run
  expect(z.malloc(2 * PAGE)).toBe(b); // then b's run
  expect([g1, g2].every(Boolean)).toBe(true);
  expect(z.check()).toBe(0);
});
