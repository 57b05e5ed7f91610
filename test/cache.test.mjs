// ZEE_CACHE (build/zee_alloc.cache.wasm, 32 frames per class): free() holds
// frames back un-merged for the next malloc of their class; they are merged
// before a page is carved, before memory grows, and by trim().
import { fresh } from './helpers/instance.mjs';
import { CHECKS } from '../js/zee_alloc.mjs';
import { snapshot, validate, renderText, renderSVG } from '../js/inspect.mjs';
import { PAGE, meta, state, listMembers, cacheMembers, spans } from './helpers/layout.mjs';

const C32 = 1; // the class of 32-byte frames (malloc(9..24))
const cache = () => fresh('cache');

describe('the cache', () => {
  test('a freed frame is held back, tagged cached, and the next malloc of its class takes it', async () => {
    const z = await cache();
    expect(z.config.cache).toBe(32);
    const p = z.malloc(24);
    z.free(p);
    expect(meta(z, p)).toMatchObject({ size: 32, cached: true, free: false, used: false, checkOk: true });
    expect(cacheMembers(z, C32)).toEqual([p]);
    expect(state(z).cached[C32]).toBe(1);
    expect(listMembers(z, C32)).not.toContain(p);
    expect(z.malloc(20)).toBe(p);
    expect(meta(z, p)).toMatchObject({ size: 32, used: true });
    expect(state(z).cached[C32]).toBe(0);
    expect(z.check()).toBe(0);
  });

  test('last in, first out, at most 32 frames a class; the frees after that merge at once', async () => {
    const z = await cache();
    const ps = Array.from({ length: 40 }, () => z.malloc(24));
    for (const p of ps) z.free(p);
    expect(state(z).cached[C32]).toBe(32);
    expect(cacheMembers(z, C32)).toEqual(ps.slice(0, 32).reverse());
    for (const p of ps.slice(32)) expect(meta(z, p).cached).toBe(false);
    expect(validate(z)).toEqual({ ok: true, violations: [] });
    expect(z.check()).toBe(0);
    // the next mallocs of the class drain the cache, most recent first
    expect([z.malloc(24), z.malloc(24)]).toEqual([ps[31], ps[30]]);
  });

  test('two cached buddies stay apart until trim() merges them, and the page goes back', async () => {
    const z = await cache();
    const a = z.malloc(24), b = z.malloc(24), c = z.malloc(24); // 32@32, then 64@64 split into b, c
    expect(c).toBe(b + 32);
    z.free(b);
    z.free(c);
    expect([meta(z, b), meta(z, c)].map((m) => [m.size, m.cached])).toEqual([[32, true], [32, true]]);
    expect(z.check()).toBe(0); // cached buddies are not a ZEE_C_BUDDY violation
    z.trim();
    expect(meta(z, b)).toMatchObject({ size: 64, free: true });
    expect(cacheMembers(z, C32)).toEqual([]);
    z.free(a); // the page empties: it becomes the spare (a goes to the cache first, trim merges it)
    z.trim();
    expect(spans(z)).toEqual([{ start: state(z).heapStart, pages: (z.memoryBytes - state(z).heapStart) / PAGE, anchored: false, tag: 0x5a530000 }]);
    expect(z.check()).toBe(0);
  });

  test('freeing a cached frame again, or passing it to realloc or malloc_usable_size, is a double free', async () => {
    const z = await cache();
    const p = z.malloc(100);
    z.free(p);
    expect(() => z.free(p)).toThrow(/double free/);
    expect(() => z.realloc(p, 200)).toThrow(/double free/);
    expect(() => z.usableSize(p)).toThrow(/double free/);
    expect(cacheMembers(z, 3)).toEqual([p]); // nothing changed
    expect(z.check()).toBe(0);
  });

  test('with memory full, a malloc that needs a bigger frame merges the cached ones instead of failing', async () => {
    const z = await fresh('cache', { initialPages: 8, maximumPages: 8 });
    const ps = [];
    for (let p; (p = z.malloc(1000)); ) ps.push(p);
    expect(ps.length).toBeGreaterThan(100);
    const bytes = z.memoryBytes;
    for (const p of ps.slice(-32)) z.free(p); // 32 neighbours: 16 pairs of cached buddies
    expect(state(z).cached[6]).toBe(32);
    const big = z.malloc(2000);
    expect(big).not.toBe(0);
    expect(state(z).cached[6]).toBe(0);
    expect(z.memoryBytes).toBe(bytes);
    expect(z.check()).toBe(0);
  });

  test('after everything is freed, a jumbo block needs no more memory than in the build without a cache', async () => {
    const grownTo = {};
    for (const variant of ['default', 'cache']) {
      const z = await fresh(variant, { initialPages: 8 });
      const ps = Array.from({ length: 200 }, (_, i) => z.malloc(16 + (i % 7) * 300));
      for (const p of ps) z.free(p);
      // frames of 32, 512, 1024 and 2048 B: 29 + 29 + min(57, 32) + min(86, 32) held back
      if (variant === 'cache') expect(state(z).cached.reduce((a, n) => a + n, 0)).toBe(122);
      const heapPages = (z.memoryBytes - state(z).heapStart) / PAGE;
      expect(z.malloc((heapPages - 1) * PAGE)).not.toBe(0);
      expect(state(z).cached.every((n) => n === 0)).toBe(true); // merged before memory grew
      expect(z.check()).toBe(0);
      grownTo[variant] = z.memoryBytes;
    }
    expect(grownTo.cache).toBeLessThanOrEqual(grownTo.default);
  });
});

test('a build without a cache takes tag 4 for a damaged header: free() reports it, zee_check() and validate() say ZEE_C_FRAME', async () => {
  const z = await fresh();
  const keep = z.malloc(24), p = z.malloc(24);
  const info = (32 | 4) >>> 0;
  z.HEAPU32[(p - 8) >>> 2] = info;
  z.HEAPU32[(p - 4) >>> 2] = (info ^ p ^ 0x5eea110c) >>> 0; // a consistent check word
  expect(() => z.free(p)).toThrow(/invalid header/);
  expect(CHECKS[z.check()]).toBe('ZEE_C_FRAME');
  const v = validate(z);
  expect(v.violations[0]).toMatchObject({ rule: 'ZEE_C_FRAME', address: p, message: expect.stringMatching(/no cache/) });
  expect(keep).toBeGreaterThan(0);
});

describe('the inspector on a cache build', () => {
  test('cached frames: their state, the cache lists, page counts and totals', async () => {
    const z = await cache();
    const keep = z.malloc(24), p = z.malloc(24), q = z.malloc(200);
    z.free(p);
    z.free(q);
    const s = snapshot(z);
    expect(s.violations).toEqual([]);
    expect(s.config.cache).toBe(32);
    expect(s.frames.find((f) => f.address === p)).toMatchObject({ size: 32, state: 'cached' });
    expect(s.frames.find((f) => f.address === q)).toMatchObject({ size: 256, state: 'cached' });
    expect(s.caches.filter((c) => c.members.length).map((c) => [c.size, c.count, c.members])).toEqual([[32, 1, [p]], [256, 1, [q]]]);
    const page = s.pages[0];
    expect(page).toMatchObject({ usedFrames: 1, cachedFrames: 2, cachedBytes: 24 + 248, inUseCount: 3 });
    expect(s.totals).toMatchObject({ cachedFrames: 2, cachedBytes: 272, usedBytes: 24 });
    expect(s.totals.freeBytes).toBe(s.totals.freeFrameBytes + 272 + s.totals.freeSpanBytes);
    expect(renderText(s)).toContain('1u 10f 2c');
    expect(renderSVG(s)).toContain(`class="zee-frame zee-cached" data-addr="${p}"`);
    expect(keep).toBeGreaterThan(0);
  });

  describe('corruption: validate() and zee_check() both name ZEE_C_CACHE', () => {
    function expectCacheRule(z) {
      const v = validate(z);
      expect(v.ok).toBe(false);
      expect(v.violations[0].rule).toBe('ZEE_C_CACHE');
      expect(CHECKS[z.check()]).toBe('ZEE_C_CACHE');
      return v.violations;
    }
    async function heldBack() {
      const z = await cache();
      const used = z.malloc(24), p = z.malloc(24);
      z.free(p);
      return { z, used, p, at: (z.stateAddress >>> 2) + 9 + 12 + C32 };
    }

    test('a cache link to a frame in use', async () => {
      const { z, used, p, at } = await heldBack();
      z.HEAPU32[at] = used;
      expect(expectCacheRule(z).map((x) => x.address)).toEqual(expect.arrayContaining([used, p]));
    });

    test('a count that disagrees with the list', async () => {
      const { z, at } = await heldBack();
      z.HEAPU32[at + 12] = 2;
      expect(expectCacheRule(z)[0].message).toMatch(/holds 1 frames; its count says 2/);
    });

    test('a cached frame on no cache', async () => {
      const { z, p, at } = await heldBack();
      z.HEAPU32[at] = 0;
      z.HEAPU32[at + 12] = 0;
      expect(expectCacheRule(z)[0]).toMatchObject({ address: p, message: expect.stringMatching(/on no cache/) });
    });

    test('a cache that loops', async () => {
      const { z, p } = await heldBack();
      z.HEAPU32[p >>> 2] = p;
      expect(expectCacheRule(z)[0].message).toMatch(/loops back/);
    });
  });
});
