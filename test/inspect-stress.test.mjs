// Stress: validate() after every operation of the seeded random workload, on
// every build variant.  ZEE_SEED=<n> replays a run; ZEE_INSPECT_OPS=<n>
// scales the default build's operation count (others get a share of it).
import { fresh, VARIANT_NAMES } from './helpers/instance.mjs';
import { seedFromEnv } from './helpers/shadow.mjs';
import { runRandom } from './helpers/workload.mjs';
import { validate, snapshot, renderText, renderSVG } from '../js/inspect.mjs';

const OPS = Number(process.env.ZEE_INSPECT_OPS || 80000);
// fast+chunkify never merges, so its heap (and each walk) grows large: fewer ops.
const share = { default: 1, 'dev-fast-chunkify': 1 / 40 };

test.each(VARIANT_NAMES)('%s build: validate() passes after every operation of the random stress', async (variant) => {
  const seed = seedFromEnv();
  const ops = Math.round(OPS * (share[variant] ?? 1 / 4));
  console.log(`inspect stress ${variant}: seed ${seed}, ${ops} ops (replay with ZEE_SEED=${seed})`);
  const z = await fresh(variant);
  let checked = 0, maxFrames = 0, maxCached = 0, sawJumbo = false, sawSpan = false;
  const t0 = Date.now();
  const res = runRandom(z, {
    seed, ops, maxSize: 1 << 19, maxLive: 300,
    onOp(i) {
      const s = snapshot(z);
      if (s.violations.length) {
        const v = s.violations[0];
        throw new Error(`${variant}: op ${i} (seed ${seed}) broke ${v.rule} at 0x${v.address.toString(16)}: ${v.message}`);
      }
      checked++;
      if (s.frames.length > maxFrames) maxFrames = s.frames.length;
      if (s.jumbos.length) sawJumbo = true;
      if (s.spans.length) sawSpan = true;
      if (s.totals.cachedFrames > maxCached) maxCached = s.totals.cachedFrames;
      // the walk's totals agree with its own lists
      if (s.totals.freeListBytes !== s.totals.freeFrameBytes) throw new Error(`op ${i}: free lists and pages disagree`);
    },
  });
  expect(checked).toBe(ops);
  expect(res.counts.free).toBeGreaterThan(ops / 4);
  expect(sawJumbo && sawSpan).toBe(true);
  expect(maxFrames).toBeGreaterThan(50);
  // only the cache build holds frames back, and there the walk sees it fill up
  if (z.config.cache) expect(maxCached).toBeGreaterThan(z.config.cache);
  else expect(maxCached).toBe(0);
  // everything was freed: no block in use, the heap still valid and drawable
  const end = snapshot(z);
  expect(validate(z)).toEqual({ ok: true, violations: [] });
  expect(end.totals.usedBlocks).toBe(0);
  expect(renderText(end)).toMatch(/in use 0 B in 0 blocks/);
  expect(renderSVG(end)).toMatch(/<\/svg>\n$/);
  console.log(`inspect stress ${variant}: ${checked} validations in ${Date.now() - t0} ms, memory ${z.memoryBytes} B`);
}, 120000);
