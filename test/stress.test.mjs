// Seeded random stress over every entry point, with the JS shadow model.
// ZEE_SEED=<n> replays a run; ZEE_STRESS_OPS=<n> makes it longer (default 200,000).
import { fresh } from './helpers/instance.mjs';
import { seedFromEnv } from './helpers/shadow.mjs';
import { runRandom } from './helpers/workload.mjs';
import { spans, smallPages, state } from './helpers/layout.mjs';

const OPS = Number(process.env.ZEE_STRESS_OPS || 200000);

test(`random stress: ${OPS} mixed operations, sizes 1 B .. 1 MiB, no corruption`, async () => {
  const seed = seedFromEnv();
  console.log(`stress seed ${seed} (replay with ZEE_SEED=${seed})`);
  const z = await fresh();
  const t0 = Date.now();
  const res = runRandom(z, { seed, ops: OPS });
  console.log(
    `stress: ${OPS} ops in ${Date.now() - t0} ms, peak live ${res.peakLiveBytes} B, memory ${res.memoryBytes} B`,
    res.counts,
  );
  expect(res.counts.free).toBeGreaterThan(OPS / 4);
  expect(res.counts.realloc + res.counts.aligned + res.counts.calloc).toBeGreaterThan(OPS / 10);
  // Everything was freed: only the spare page may remain a small page.
  z.trim();
  expect(smallPages(z)).toEqual([]);
  expect(state(z).lists.every((h) => h === 0)).toBe(true);
  expect(spans(z).length).toBeGreaterThanOrEqual(1);
  expect(z.check()).toBe(0);
}, 300000);
