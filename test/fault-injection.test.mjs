// Fault injection in wasm: memory growth fails at random points, because the
// memory is capped (maximumPages, i.e. -sMAXIMUM_MEMORY) and "someone else"
// grows it at random moments, taking pages the allocator then can't have.
// The random workload (test/soak.mjs) goes on after every failure: the heap
// stays consistent (zee_check() and js/inspect.mjs), no live block is damaged
// (shadow model), foreign pages are never touched, and every NULL comes with
// ENOMEM and is accounted for: the cap left no room for the growth the
// request needed.  The native counterpart is the fuzz harness's page source
// (test/native/page_source.c), which refuses growth on request and at random.
import { fresh } from './helpers/instance.mjs';
import { Shadow } from './helpers/shadow.mjs';
import { workload } from './soak.mjs';
import { ENOMEM } from '../js/zee_alloc.mjs';

const PAGE = 65536;
const VARIANTS = ['default', 'dev', 'unsafe'];

describe.each(VARIANTS)('%s build', (variant) => {
  test.each([
    [16, 1],
    [32, 2],
    [48, 3],
  ])(
    'capped at %s pages with foreign growth (seed %s): NULLs accounted, heap and blocks intact',
    async (pages, seed) => {
      const z = await fresh(variant, { maximumPages: pages });
      const c = workload(z, {
        seed: seed * 7919 + pages,
        ops: 12000,
        maxLive: 200,
        maxLarge: 6 * PAGE,
        maxBytes: pages * PAGE,
        foreign: 0.01,
        checkEvery: 1,
        fullEvery: 3000,
      });
      expect(c.ops).toBe(12000);
      expect(c.nulls).toBeGreaterThan(20); // growth really did fail, many times
      expect(c.malloc + c.calloc + c.realloc + c.aligned + c.posix - c.nulls).toBeGreaterThan(2000);
      expect(c.foreignPages).toBeGreaterThan(0);
      expect(c.peakMemory).toBeLessThanOrEqual(pages * PAGE);
      expect(z.check()).toBe(0);
    },
  );
});

test.each(['default', 'dev', 'unsafe'])(
  '%s: after OOM, freeing blocks lets the same requests succeed again',
  async (variant) => {
    const z = await fresh(variant, { maximumPages: 20 });
    const sh = new Shadow(z);
    for (const n of [100000, 5000, 100]) {
      let p;
      while ((p = z.malloc(n))) sh.add(p, n);
      expect(z.errno).toBe(ENOMEM);
    }
    expect(z.memoryBytes).toBe(20 * PAGE);
    expect(z.check()).toBe(0);
    sh.verifyAll();
    // free every other block: each size is served again
    for (const p of sh.starts.filter((_, i) => i % 2 === 0)) {
      sh.remove(p);
      z.free(p);
    }
    for (const n of [5000, 100]) {
      const p = z.malloc(n);
      expect(p).not.toBe(0);
      sh.add(p, n);
    }
    sh.verifyAll();
    // everything freed: the frames merge back, and the capped memory holds
    // one large block again
    for (const p of [...sh.starts]) {
      sh.remove(p);
      z.free(p);
    }
    const big = z.malloc(12 * PAGE);
    expect(big).not.toBe(0);
    expect(z.check()).toBe(0);
  },
);

test('growth refused in the middle of a realloc keeps the old block and its bytes', async () => {
  const z = await fresh('dev', { maximumPages: 16 });
  const sh = new Shadow(z);
  const p = z.malloc(3 * PAGE);
  sh.add(p, 3 * PAGE);
  // someone else takes all the memory that is left
  z.memory.grow(16 - z.memoryBytes / PAGE);
  z.errno = 0;
  expect(z.realloc(p, 8 * PAGE)).toBe(0);
  expect(z.errno).toBe(ENOMEM);
  sh.verify(p);
  expect(z.usableSize(p)).toBe(3 * PAGE + 8); // its request + 8, rounded to 16, less the 8 B header slot
  expect(z.check()).toBe(0);
});
