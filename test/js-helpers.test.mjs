// The JS wrapper's helpers under real use: a source that is a view of the
// same heap when malloc grows the memory, helpers that free what they
// allocated when they fail, methods taken off the instance, writes that
// would run past the end of a block, and array-likes of bytes.
import { ZeeAlloc, ZeeAllocError, ZeeFaultError, PAGE_SIZE, VARIANTS } from '../js/zee_alloc.mjs';
import { STATE } from '../js/layout.mjs';

// Expects `fn` to throw a ZeeAllocError with `code`; returns the error.
function expectCode(fn, code, Class = ZeeAllocError) {
  let error;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(Class);
  expect(error.code).toBe(code);
  return error;
}

// Makes the instance's HEAPU8/HEAPU32 getters throw, as a failing write would.
function breakViews(z) {
  for (const name of ['HEAPU8', 'HEAPU32']) {
    Object.defineProperty(z, name, {
      configurable: true,
      get() {
        throw new Error(`${name} unavailable`);
      },
    });
  }
  return () => {
    delete z.HEAPU8;
    delete z.HEAPU32;
  };
}

describe('allocBytes from a view of the same heap', () => {
  test('the copy survives the growth that malloc causes, and only one block is added', async () => {
    const z = await ZeeAlloc.create({ initialPages: 3 });
    const src = z.malloc(100000);
    for (let i = 0; i < 100000; i++) z.HEAPU8[src + i] = (i * 7) & 255;
    const pages = z.memoryPages;
    const before = z.stats().usedBlocks;
    const view = z.bytes(src, 100000);
    const copy = z.allocBytes(view);
    expect(z.memoryPages).toBeGreaterThan(pages); // the premise: malloc grew the memory...
    expect(view.length).toBe(0); // ...and detached the caller's view
    expect(z.stats().usedBlocks).toBe(before + 1);
    const got = z.readBytes(copy, 100000);
    expect(got.every((b, i) => b === ((i * 7) & 255))).toBe(true);
    z.free(copy);
    z.free(src);
    expect(z.check()).toBe(0);
  });

  test('typed-array and DataView views of the heap at an offset are copied by their bytes', async () => {
    const z = await ZeeAlloc.create({ initialPages: 3 });
    const src = z.malloc(80000);
    z.HEAPU32.set([0x04030201, 0x08070605, 0x0c0b0a09], (src + 4) >>> 2);
    const views = [
      () => new Uint32Array(z.memory.buffer, src + 4, 3),
      () => new DataView(z.memory.buffer, src + 4, 12),
    ];
    for (const view of views) {
      const p = z.allocBytes(view()); // each may grow the memory (and detach a view taken before)
      expect(Array.from(z.readBytes(p, 12))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      z.free(p);
    }
    z.free(src);
    expect(z.stats().usedBlocks).toBe(0);
  });

  test('a view detached before the call is refused, and nothing is allocated', async () => {
    const z = await ZeeAlloc.create({ initialPages: 3 });
    const p = z.allocString('hello');
    const stale = z.bytes(p, 5);
    const big = z.malloc(1 << 20); // grows: `stale` is detached
    expect(stale.length).toBe(0);
    const used = z.stats().usedBlocks;
    const e = expectCode(() => z.allocBytes(stale), 'ZEE_BAD_ARGUMENT');
    expect(e.message).toMatch(/detached ArrayBuffer/);
    expectCode(() => z.writeBytes(big, stale), 'ZEE_BAD_ARGUMENT');
    expect(z.stats().usedBlocks).toBe(used);
    expect(z.allocBytes(z.bytes(p, 5))).not.toBe(0); // a fresh view works
  });
});

describe('helpers free what they allocated when they fail', () => {
  test.each([
    ['allocBytes', (z) => z.allocBytes(new Uint8Array(100))],
    ['allocString', (z) => z.allocString('lost?')],
    ['posixMemalign', (z) => z.posixMemalign(64, 100)],
  ])('%s: a write that throws leaves no block behind', async (_name, call) => {
    const z = await ZeeAlloc.create();
    const keep = z.malloc(32); // the heap is in use before the call
    const { usedBlocks, usedBytes } = z.stats();
    const restore = breakViews(z);
    expect(() => call(z)).toThrow(/unavailable/);
    restore();
    expect(z.stats()).toMatchObject({ usedBlocks, usedBytes });
    expect(z.check()).toBe(0);
    z.free(keep);
  });

  test('posixMemalign frees its scratch word on success and on failure', async () => {
    const z = await ZeeAlloc.create();
    const ok = z.posixMemalign(256, 1000);
    expect(ok.error).toBe(0);
    expect(ok.ptr % 256).toBe(0);
    expect(z.stats().usedBlocks).toBe(1);
    expect(z.posixMemalign(24, 10)).toEqual({ ptr: 0, error: 28 }); // EINVAL: not a power of two
    expect(z.stats().usedBlocks).toBe(1);
    z.free(ok.ptr);
    expect(z.stats().usedBlocks).toBe(0);
  });
});

describe('methods taken off the instance', () => {
  test('destructured methods work and stay with their own instance', async () => {
    const a = await ZeeAlloc.create();
    const b = await ZeeAlloc.create();
    const {
      malloc,
      free,
      usableSize,
      allocString,
      readString,
      writeString,
      allocBytes,
      readBytes,
      writeBytes,
      calloc,
      realloc,
      alignedAlloc,
      memalign,
      posixMemalign,
      bytes,
      check,
      assertHeap,
      stats,
    } = a;
    const p = malloc(10);
    expect(p).not.toBe(0);
    expect(usableSize(p)).toBeGreaterThanOrEqual(10);
    const s = allocString('bound');
    expect(readString(s)).toBe('bound');
    expect(writeString(s, 'BOUND', 6)).toBe(5);
    const q = allocBytes([1, 2, 3]);
    expect(writeBytes(q, [4])).toBe(1);
    expect(Array.from(readBytes(q, 3))).toEqual([4, 2, 3]);
    expect(Array.from(bytes(q, 2))).toEqual([4, 2]);
    const c = calloc(4, 4);
    const r = realloc(c, 100);
    const al = alignedAlloc(64, 10);
    const m = memalign(128, 10);
    const pm = posixMemalign(32, 10);
    expect([al % 64, m % 128, pm.ptr % 32, pm.error]).toEqual([0, 0, 0, 0]);
    expect(stats().usedBlocks).toBe(7);
    expect(b.stats().usedBlocks).toBe(0); // all of it went to `a`
    for (const ptr of [p, s, q, r, al, m, pm.ptr]) free(ptr);
    free(malloc(1 << 20));
    expect(check()).toBe(0);
    expect(() => assertHeap()).not.toThrow();
    expect(stats().usedBlocks).toBe(0);
  });

  test('every public method of the class is bound, none is enumerable', async () => {
    const z = await ZeeAlloc.create();
    const methods = Object.getOwnPropertyNames(ZeeAlloc.prototype).filter(
      (n) =>
        n !== 'constructor' &&
        !n.startsWith('_') &&
        typeof Object.getOwnPropertyDescriptor(ZeeAlloc.prototype, n).value === 'function',
    );
    expect(methods).toEqual(
      expect.arrayContaining(['malloc', 'free', 'stats', 'snapshot', 'validate', 'renderText', 'renderSVG']),
    );
    for (const name of methods) {
      expect([name, Object.prototype.hasOwnProperty.call(z, name)]).toEqual([name, true]);
      expect(z[name]).not.toBe(ZeeAlloc.prototype[name]);
    }
    expect(Object.keys(z).filter((k) => methods.includes(k))).toEqual([]);
    const { snapshot, validate } = z;
    expect(validate().ok).toBe(true);
    expect(snapshot().heapStart).toBe(z.stats().heapStart);
  });
});

describe('writes past the end of a block', () => {
  // Two neighbours: the first is the block written to, the second must survive.
  async function neighbours(variant) {
    const z = await ZeeAlloc.create({ variant });
    const a = z.malloc(8);
    const b = z.malloc(8);
    z.HEAPU8.fill(0xbb, b, b + 8);
    return { z, a, b, after: z.readBytes(a + z.usableSize(a), b + 8 - a - z.usableSize(a)) };
  }

  test.each(['default', 'dev'])('%s: writeString and writeBytes refuse more than the block holds', async (variant) => {
    const { z, a, b, after } = await neighbours(variant);
    const usable = z.usableSize(a);
    const e = expectCode(() => z.writeString(a, 'x'.repeat(500), 1000), 'ZEE_BAD_ARGUMENT');
    expect(e.message).toBe(
      `zee_alloc: writeString: capacity 1000 exceeds the ${usable} usable bytes of the block at 0x${a.toString(16)}`,
    );
    expect(e.ptr).toBe(a);
    expectCode(() => z.writeString(a, '', usable + 1), 'ZEE_BAD_ARGUMENT'); // the capacity, not the string, is refused
    expectCode(() => z.writeBytes(a, new Uint8Array(usable + 1)), 'ZEE_BAD_ARGUMENT');
    expectCode(() => z.writeBytes(a, 'y'.repeat(usable + 1)), 'ZEE_BAD_ARGUMENT');
    // Nothing was written: the next header and block are as they were.
    expect(z.readBytes(a + usable, after.length)).toEqual(after);
    expect(z.check()).toBe(0);
    // Exactly the usable size is accepted.
    expect(z.writeString(a, 'x'.repeat(500), usable)).toBe(usable - 1);
    expect(z.writeBytes(a, new Uint8Array(usable).fill(1))).toBe(usable);
    z.free(b);
    z.free(a);
    expect(z.check()).toBe(0);
  });

  test('writes at an interior pointer or outside the heap are checked against the memory only', async () => {
    const z = await ZeeAlloc.create();
    const p = z.malloc(64);
    expect(z.writeBytes(p + 16, new Uint8Array(48).fill(3))).toBe(48); // interior: not a block start
    expect(z.writeString(p + 32, 'abc', 32)).toBe(3);
    expect(z.readString(p + 32)).toBe('abc');
    const below = z.stats().heapStart - 64; // static data / stack, not the heap
    const saved = z.readBytes(below, 16);
    expect(z.writeBytes(below, new Uint8Array(16))).toBe(16);
    z.writeBytes(below, saved);
    z.free(p);
    expect(z.check()).toBe(0);
  });

  test('a stale header left inside a live block does not make its interior look like a block', async () => {
    const z = await ZeeAlloc.create({ variant: 'dev' });
    const a = z.malloc(8);
    const b = z.malloc(8);
    const guard = z.malloc(8);
    expect(b - a).toBe(16); // neighbours
    z.free(b);
    const c = z.realloc(a, 24); // grows in place over b: b's header is buried, tagged as merged
    expect(c).toBe(a);
    expect(z.usableSize(c)).toBe(24);
    // The premise: b's old header is still there and answers as a free block.
    let fault;
    try {
      z.usableSize(b);
    } catch (e) {
      fault = e;
    }
    expect(fault).toBeInstanceOf(ZeeFaultError);
    expect(fault.code).toBe('ZEE_E_DOUBLE_FREE');
    // So a write at the interior pointer b is checked against memory only.
    expect(z.writeBytes(b, new Uint8Array(8).fill(9))).toBe(8); // the last 8 of c's 24 bytes
    expect(Array.from(z.readBytes(c + 16, 8))).toEqual(new Array(8).fill(9));
    z.free(c);
    z.free(guard);
    expect(z.check()).toBe(0);
  });

  test('a threaded build is never asked about an address that may not be a block', async () => {
    // Its malloc_usable_size faults under its lock, which an unwinding fault
    // would leave held: the wrapper must not probe.  The config word says
    // "threads" here; the calls are counted through a stand-in exports object.
    const z = await ZeeAlloc.create({ variant: 'dev' });
    const p = z.malloc(64);
    const calls = [];
    const real = z.exports;
    z.exports = { ...real, malloc_usable_size: (ptr) => (calls.push(ptr), real.malloc_usable_size(ptr)) };
    z.writeBytes(p + 16, [1]); // interior: probed in a single-threaded build
    expect(calls).toEqual([p + 16]);
    const config = (z.stateAddress >>> 2) + STATE.config;
    z.HEAPU32[config] |= 1 << 4;
    try {
      expect(z.config.threads).toBe(true);
      calls.length = 0;
      z.writeBytes(p + 16, [1]);
      z.writeString(p, 'abc', 64);
      expect(calls).toEqual([]);
    } finally {
      z.HEAPU32[config] &= ~(1 << 4);
      z.exports = real;
    }
    z.free(p);
    expect(z.check()).toBe(0);
  });

  test('unsafe: the block is not consulted, only the memory bounds', async () => {
    const { z, a, b, after } = await neighbours('unsafe');
    const usable = z.usableSize(a);
    expect(z.writeBytes(a, new Uint8Array(usable + 1).fill(1))).toBe(usable + 1); // one byte into the next header
    z.writeBytes(a + usable, after); // put it back
    expect(z.check()).toBe(0);
    z.free(b);
    z.free(a);
    expectCode(() => z.writeBytes(z.memoryBytes - 1, [1, 2]), 'ZEE_OUT_OF_BOUNDS');
  });

  test('every packaged variant still accepts writes that fit', async () => {
    for (const variant of VARIANTS) {
      const z = await ZeeAlloc.create({ variant });
      const p = z.malloc(100);
      const n = z.usableSize(p);
      expect(z.writeBytes(p, new Uint8Array(n).fill(5))).toBe(n);
      expect(z.writeString(p, 'fits', n)).toBe(4);
      const big = z.malloc(3 * PAGE_SIZE);
      expect(z.writeBytes(big, new Uint8Array(z.usableSize(big)))).toBe(z.usableSize(big));
      z.free(big);
      z.free(p);
      expect(z.check()).toBe(0);
    }
  });
});

describe('byte sources: what the types accept, the runtime accepts', () => {
  let z;
  beforeEach(async () => {
    z = await ZeeAlloc.create();
  });
  afterEach(() => {
    expect(z.check()).toBe(0);
  });

  test('array-likes of integers 0..255 are copied', () => {
    const p = z.malloc(16);
    expect(z.writeBytes(p, { length: 2, 0: 1, 1: 2 })).toBe(2);
    expect(Array.from(z.readBytes(p, 2))).toEqual([1, 2]);
    const q = z.allocBytes({ length: 3, 0: 0, 1: 128, 2: 255 });
    expect(Array.from(z.readBytes(q, 3))).toEqual([0, 128, 255]);
    expect(z.writeBytes(p, { length: 0 })).toBe(0);
    z.free(q);
    z.free(p);
  });

  test.each([
    [[256], 'data[0] is 256'],
    [[1, -1], 'data[1] is -1'],
    [[1.5], 'data[0] is 1.5'],
    [['1'], 'data[0] is "1"'],
    [[NaN], 'data[0] is NaN'],
    [{ length: 2, 0: 1 }, 'data[1] is undefined'],
    [{ length: -1 }, "an array-like's length must be an integer in [0, 2^32), got -1"],
    [{ length: 1.5 }, "an array-like's length must be an integer in [0, 2^32), got 1.5"],
    [{ length: 2 ** 32 }, "an array-like's length must be an integer in [0, 2^32), got 4294967296"],
    [{ length: '2' }, 'an array-like\'s length must be an integer in [0, 2^32), got "2"'],
    [42, 'expected a Uint8Array, typed array, DataView, ArrayBuffer, string or array-like of bytes, got 42'],
    [null, 'expected a Uint8Array, typed array, DataView, ArrayBuffer, string or array-like of bytes, got null'],
  ])('writeBytes(p, %p) is a ZEE_BAD_ARGUMENT naming the problem, and allocBytes allocates nothing', (data, why) => {
    const p = z.malloc(16);
    const saved = z.readBytes(p, 16);
    const e = expectCode(() => z.writeBytes(p, data), 'ZEE_BAD_ARGUMENT');
    expect(e.message).toContain(`writeBytes: ${why}`);
    expect(z.readBytes(p, 16)).toEqual(saved);
    const used = z.stats().usedBlocks;
    expectCode(() => z.allocBytes(data), 'ZEE_BAD_ARGUMENT');
    expect(z.stats().usedBlocks).toBe(used);
    z.free(p);
  });

  test('typed arrays of any element type are copied by their bytes', () => {
    const p = z.allocBytes(new Int8Array([-1, 1]));
    expect(Array.from(z.readBytes(p, 2))).toEqual([255, 1]);
    const q = z.allocBytes(new Uint8ClampedArray([300, 7]));
    expect(Array.from(z.readBytes(q, 2))).toEqual([255, 7]);
    const r = z.allocBytes(new Float64Array([1]).subarray(0, 1));
    expect(Array.from(z.readBytes(r, 8))).toEqual([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    for (const x of [p, q, r]) z.free(x);
  });
});

describe('what the docs promise about strings and pointers', () => {
  test('lone surrogates are written as U+FFFD; invalid UTF-8 reads back as U+FFFD', async () => {
    const z = await ZeeAlloc.create();
    const p = z.allocString('a\uD800b\uDFFF');
    expect(Array.from(z.readBytes(p, 9))).toEqual([0x61, 0xef, 0xbf, 0xbd, 0x62, 0xef, 0xbf, 0xbd, 0]);
    expect(ZeeAlloc.utf8Length('\uD800')).toBe(3);
    expect(z.readString(p)).toBe('a\uFFFDb\uFFFD');
    const q = z.allocBytes([0x61, 0xff, 0x62, 0]);
    expect(z.readString(q)).toBe('a\uFFFDb');
    z.free(q);
    z.free(p);
  });

  test('pointers are plain numbers per instance: another instance frees its own block at that address', async () => {
    const a = await ZeeAlloc.create();
    const b = await ZeeAlloc.create();
    const pa = a.malloc(100);
    const pb = b.malloc(100);
    expect(pa).toBe(pb); // fresh heaps lay out alike
    b.free(pa); // a's pointer, given to b: b cannot tell, and frees its own block
    expect(b.stats().usedBlocks).toBe(0);
    expect(a.stats().usedBlocks).toBe(1);
    expect(() => b.free(pb)).toThrow(ZeeFaultError); // now a double free in b
    a.free(pa);
  });
});
