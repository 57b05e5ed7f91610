// Seeded random stress over every entry point, with the JS shadow model.
// ZEE_SEED=<n> replays a run; ZEE_STRESS_OPS=<n> makes it longer (default 200,000).
import { fresh } from './helpers/instance.mjs';
import { seedFromEnv } from './helpers/shadow.mjs';
import { runRandom } from './helpers/workload.mjs';
import { state, blocks } from './helpers/layout.mjs';

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
  // Everything was freed: the frames merged back into the aligned frames
  // that tile the heap, each as large as its address and the heap's end allow.
  const { heapStart, heapEnd, usedBytes, usedBlocks } = state(z);
  expect([usedBytes, usedBlocks]).toEqual([0, 0]);
  const expected = [];
  for (let x = heapStart; x < heapEnd;) {
    const fit = 2 ** Math.floor(Math.log2(heapEnd - x));
    const size = Math.min((x & -x) >>> 0, fit);
    expected.push([x, size]);
    x += size;
  }
  const all = blocks(z);
  expect(all.every((b) => b.state === 'free')).toBe(true);
  expect(all.map((b) => [b.address, b.size])).toEqual(expected);
  expect(z.check()).toBe(0);
}, 300000);
