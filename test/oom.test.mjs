// Out of memory: a heap capped by maximumPages returns NULL with ENOMEM,
// keeps every live block intact, stays consistent, and keeps serving.
import { fresh } from './helpers/instance.mjs';
import { Shadow } from './helpers/shadow.mjs';
import { ENOMEM, PAGE_SIZE as PAGE } from '../js/zee_alloc.mjs';
import { STATE_WORDS } from '../js/layout.mjs';

const MAX_PAGES = 64; // 4 MiB of wasm memory

test('a request larger than the cap returns NULL, then smaller ones succeed', async () => {
  const z = await fresh('default', { maximumPages: MAX_PAGES });
  z.errno = 0;
  expect(z.malloc(8 << 20)).toBe(0);
  expect(z.errno).toBe(ENOMEM);
  expect(z.check()).toBe(0);
  const p = z.malloc(1 << 20);
  expect(p).not.toBe(0);
  expect(z.malloc(100)).not.toBe(0);
  expect(z.check()).toBe(0);
});

test('a failed request changes neither the heap nor the allocator state', async () => {
  const z = await fresh('default', { maximumPages: MAX_PAGES });
  const live = [z.malloc(100), z.malloc(5000), z.malloc(300000), z.alignedAlloc(4096, 10)];
  z.free(live[1]); // a hole, so that a request could be tempted to take it
  const heap = () => {
    const { heapStart, heapEnd } = z.stats();
    return Buffer.from(z.readBytes(heapStart - 16, heapEnd - heapStart + 16));
  };
  const stateWords = () => [...z.HEAPU32.subarray(z.stateAddress >>> 2, (z.stateAddress >>> 2) + STATE_WORDS)];
  const before = { heap: heap(), state: stateWords(), memory: z.memoryBytes };
  const failing = [
    () => z.malloc(MAX_PAGES * PAGE),
    () => z.calloc(MAX_PAGES, PAGE),
    () => z.alignedAlloc(1 << 22, 100), // an alignment the capped memory cannot reach
    () => z.realloc(live[2], MAX_PAGES * PAGE),
  ];
  for (const call of failing) {
    z.errno = 0;
    expect(call()).toBe(0);
    expect(z.errno).toBe(ENOMEM);
    expect(z.memoryBytes).toBe(before.memory);
    expect(stateWords()).toEqual(before.state);
    expect(heap().equals(before.heap)).toBe(true); // every header, link and payload byte
  }
  expect(z.check()).toBe(0);
});

test('filling the capped heap: every NULL is ENOMEM, live blocks stay intact, frees make room again', async () => {
  const z = await fresh('default', { maximumPages: MAX_PAGES });
  const sh = new Shadow(z);
  const sizes = [256 * 1024, 40000, 3000, 100, 16];
  let nulls = 0;
  for (const n of sizes) {
    for (;;) {
      z.errno = 0;
      const p = z.malloc(n);
      if (!p) {
        expect(z.errno).toBe(ENOMEM);
        nulls++;
        break;
      }
      sh.add(p, n);
    }
    expect(z.check()).toBe(0);
  }
  expect(nulls).toBe(sizes.length);
  expect(z.memoryBytes).toBe(MAX_PAGES * PAGE);
  sh.verifyAll();
  // aligned and realloc requests fail cleanly too, leaving their block alone
  expect(z.alignedAlloc(1 << 20, 100)).toBe(0);
  const victim = sh.starts[sh.starts.length - 1];
  expect(z.realloc(victim, 2 << 20)).toBe(0);
  sh.verifyAll();
  expect(z.check()).toBe(0);
  // free a third of the blocks, and the same sizes fit again
  const freed = sh.starts.filter((_, i) => i % 3 === 0);
  for (const p of freed) {
    sh.remove(p);
    z.free(p);
  }
  expect(z.malloc(3000)).not.toBe(0);
  expect(z.check()).toBe(0);
  sh.verifyAll();
});

test('an instance with no room to grow at all still serves from its initial pages', async () => {
  const z = await fresh('default', { initialPages: 8, maximumPages: 8 });
  const ps = [];
  let p;
  while ((p = z.malloc(1000))) ps.push(p);
  expect(ps.length).toBeGreaterThan(50);
  expect(z.errno).toBe(ENOMEM);
  expect(z.check()).toBe(0);
  for (const q of ps) z.free(q);
  expect(z.malloc(PAGE * 2)).not.toBe(0);
  expect(z.check()).toBe(0);
});
