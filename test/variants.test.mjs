// Every packaged build (validation level) reports its options and survives the
// random workload; the placement of large blocks in the holes freed blocks
// leave is checked on every build (it must not depend on the checks).
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

test.each(Object.keys(CONFIG))(
  '%s: large requests pack into the hole a freed block left, from its start, before the memory grows',
  async (variant) => {
    const z = await fresh(variant);
    const a = z.malloc(6 * PAGE), // 6 pages + 16 B: the hole
      g = z.malloc(PAGE); // a guard, so that the hole is not the free run at the top
    expect(g).toBe(a + 6 * PAGE + 16); // placed end to end
    z.free(a);
    const memory = z.memoryBytes;
    const m = 2 * PAGE + 16; // the extent of a block of 2 pages: its header, rounded to 16
    const b = z.malloc(2 * PAGE),
      c = z.malloc(2 * PAGE);
    expect([b, c]).toEqual([a, a + m]); // the run from its start, one block after the other
    expect(z.memoryBytes).toBe(memory);
    // What is left of the hole (6 pages + 16 - 2m = 2 pages - 16) is too small:
    // the next one goes above the guard, and the memory grows.
    const d = z.malloc(2 * PAGE);
    expect(d).toBeGreaterThan(g);
    expect(z.memoryBytes).toBeGreaterThan(memory);
    // Freed, the three blocks and the rest of the hole merge back into one run
    // that a block of the hole's whole size fits in again, at a.
    for (const p of [b, c, d]) z.free(p);
    expect(z.malloc(6 * PAGE)).toBe(a);
    expect(z.check()).toBe(0);
  },
);
