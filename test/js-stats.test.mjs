// stats(): the allocator's running totals, read in O(1) from its state block
// (zee_heap_info_t), never by walking the heap.  The inspector module is made
// unloadable for this whole file, so every stats() below runs without it.
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';

jest.unstable_mockModule('../js/inspect.mjs', () => {
  throw new Error('the inspector is not installed in this test');
});
const { ZeeAlloc, ZeeAllocError, PAGE_SIZE } = await import('../js/zee_alloc.mjs');
const { LAYOUT, STATE, STATE_WORDS } = await import('../js/layout.mjs');

// A small deterministic PRNG (mulberry32), so a failure replays.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The field names of `export interface name { ... }` in a declaration file.
function interfaceFields(file, name) {
  const text = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
  const m = new RegExp(`^export interface ${name}\\b[^{]*\\{([\\s\\S]*?)^\\}`, 'm').exec(text);
  if (!m) throw new Error(`${file} has no interface ${name}`);
  return [...m[1].matchAll(/^  (?:readonly )?(\w+)\??:/gm)].map((f) => f[1]).sort();
}

test('stats() works when the inspector cannot be loaded; snapshot() says why it cannot', async () => {
  const z = await ZeeAlloc.create();
  const p = z.malloc(100);
  expect(z.stats()).toMatchObject({ usedBlocks: 1, usedBytes: z.usableSize(p) });
  let error;
  try {
    z.snapshot();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ZeeAllocError);
  expect(error.code).toBe('ZEE_NO_INSPECTOR');
  expect(error.message).toMatch(/the inspector is not installed in this test/);
});

test('a fresh instance: no heap yet, only the memory', async () => {
  const z = await ZeeAlloc.create({ initialPages: 5 });
  expect(z.stats()).toEqual({
    heapStart: 0,
    heapEnd: 0,
    heapBytes: 0,
    pages: 0,
    usedBytes: 0,
    usedBlocks: 0,
    peakBytes: 0,
    memoryBytes: 5 * PAGE_SIZE,
    memoryPages: 5,
  });
  expect(z.stats().heapStart).toBe(0); // reading the state did not start the heap
});

test('the fields are the ones types/zee_alloc.d.mts declares for ZeeStats', async () => {
  const z = await ZeeAlloc.create();
  z.malloc(1);
  expect(Object.keys(z.stats()).sort()).toEqual(interfaceFields('types/zee_alloc.d.mts', 'ZeeStats'));
});

test('the totals follow a mixed workload of every allocation call', async () => {
  const z = await ZeeAlloc.create({ variant: 'dev' });
  const random = rng(12345);
  const live = new Map(); // ptr -> usable size
  let used = 0,
    peak = 0;
  const add = (p) => {
    if (p) {
      live.set(p, z.usableSize(p));
      used += live.get(p);
    }
  };
  const drop = (p) => {
    used -= live.get(p);
    live.delete(p);
  };
  const size = () => (random() < 0.9 ? 1 + Math.floor(random() * 2000) : 30000 + Math.floor(random() * 300000));
  for (let i = 0; i < 3000; i++) {
    const r = random();
    const ptrs = [...live.keys()];
    const victim = ptrs[Math.floor(random() * ptrs.length)];
    if (r < 0.35 || !victim) add(z.malloc(size()));
    else if (r < 0.45) add(z.calloc(1 + Math.floor(random() * 20), 1 + Math.floor(random() * 100)));
    else if (r < 0.5) add(z.alignedAlloc(2 ** (4 + Math.floor(random() * 14)), size()));
    else if (r < 0.65) {
      const q = z.realloc(victim, size());
      // A realloc that moves holds both blocks while it copies: that is the peak.
      if (q && q !== victim) peak = Math.max(peak, used + z.usableSize(q));
      if (q) {
        drop(victim);
        add(q);
      }
    } else {
      z.free(victim);
      drop(victim);
    }
    peak = Math.max(peak, used);
    const s = z.stats();
    if (s.usedBlocks !== live.size || s.usedBytes !== used || s.peakBytes !== peak) {
      throw new Error(
        `step ${i}: stats say ${s.usedBlocks} blocks, ${s.usedBytes} B, peak ${s.peakBytes}; expected ${live.size}, ${used}, ${peak}`,
      );
    }
  }
  const s = z.stats();
  expect(s.usedBlocks).toBe(live.size);
  expect(s.heapBytes).toBe(s.heapEnd - s.heapStart);
  // The heap starts 16 bytes above a granule of static data and ends on a page
  // boundary: `pages` counts the pages it reaches into.
  expect(s.heapStart % 16).toBe(0);
  expect(s.heapEnd % PAGE_SIZE).toBe(0);
  expect(s.pages).toBe(s.heapEnd / PAGE_SIZE - Math.floor(s.heapStart / PAGE_SIZE));
  // Only the allocator grew this memory, and it owns everything above its start.
  expect(s.heapEnd).toBe(s.memoryBytes);
  for (const p of live.keys()) z.free(p);
  expect(z.stats()).toMatchObject({ usedBlocks: 0, usedBytes: 0, peakBytes: peak });
  expect(z.check()).toBe(0);
});

test('a large block counts its usable size (its size + 8 rounded to 16, less 8), and free() takes it off', async () => {
  const z = await ZeeAlloc.create();
  const big = z.malloc(5 * PAGE_SIZE);
  let s = z.stats();
  expect(s).toMatchObject({ usedBlocks: 1, usedBytes: 5 * PAGE_SIZE + 8, peakBytes: 5 * PAGE_SIZE + 8 });
  expect(z.usableSize(big)).toBe(5 * PAGE_SIZE + 8);
  const odd = z.malloc(3 * PAGE_SIZE + 100); // + 8 = 196,716, rounded to 196,720
  s = z.stats();
  expect(s).toMatchObject({ usedBlocks: 2, usedBytes: 5 * PAGE_SIZE + 8 + 3 * PAGE_SIZE + 104 });
  const end = s.heapEnd;
  z.free(big);
  expect(z.stats()).toMatchObject({ usedBlocks: 1, usedBytes: 3 * PAGE_SIZE + 104, heapEnd: end });
  z.free(odd);
  // Wasm memory never shrinks: the heap keeps its end, all of it free, and the
  // peak remembers both blocks.
  expect(z.stats()).toMatchObject({ usedBlocks: 0, usedBytes: 0, heapEnd: end, peakBytes: 8 * PAGE_SIZE + 112 });
  expect(z.check()).toBe(0);
});

test('memory another party grew inside the heap counts in heapBytes, never in usedBytes or usedBlocks', async () => {
  const z = await ZeeAlloc.create();
  const p = z.malloc(100); // the heap starts and takes all the memory above __heap_base
  const before = z.stats();
  expect(before.heapEnd).toBe(z.memoryBytes);
  z.memory.grow(1); // a page the allocator does not own
  const q = z.malloc(3 * PAGE_SIZE); // the heap grows past it: the page becomes a foreign block
  const s = z.stats();
  expect(q).toBeGreaterThanOrEqual(before.heapEnd + PAGE_SIZE);
  expect(s.heapStart).toBe(before.heapStart);
  expect(s.heapEnd).toBe(z.memoryBytes);
  expect(s.heapBytes).toBe(s.heapEnd - s.heapStart);
  expect(s).toMatchObject({ usedBlocks: 2, usedBytes: z.usableSize(p) + z.usableSize(q) });
  expect(z.check()).toBe(0);
});

test('stats() reads the state block only: a 100,000-block heap overwritten with garbage reports the same totals', async () => {
  const z = await ZeeAlloc.create();
  for (let i = 0; i < 100000; i++) if (!z.malloc(16 + (i % 5) * 8)) throw new Error(`malloc failed at ${i}`);
  const before = z.stats();
  expect(before.usedBlocks).toBe(100000);
  expect(before.pages).toBeGreaterThan(50);
  // The state block is static data, below the heap.
  expect(z.stateAddress + 4 * STATE_WORDS).toBeLessThanOrEqual(before.heapStart);
  z.HEAPU8.fill(0xa5, before.heapStart - 16, before.heapEnd); // every header, slab word and free-list link
  expect(z.check()).not.toBe(0); // a walk of the heap sees the damage...
  expect(z.stats()).toEqual(before); // ...stats() never looks at it
});

test('a state block of another layout version is refused with a clear error', async () => {
  const z = await ZeeAlloc.create();
  const at = (z.stateAddress >>> 2) + STATE.layout;
  const layout = z.HEAPU32[at];
  z.HEAPU32[at] = 2;
  try {
    for (const read of [() => z.stats(), () => z.config]) {
      let error;
      try {
        read();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ZeeAllocError);
      expect(error.code).toBe('ZEE_BAD_WASM');
      expect(error.message).toMatch(new RegExp(`layout version 2, this wrapper reads version ${LAYOUT.VERSION}$`));
    }
  } finally {
    z.HEAPU32[at] = layout;
  }
  expect(z.stats().usedBlocks).toBe(0);
});
