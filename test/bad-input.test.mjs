// The bad-input table (docs/reliability.md): one test per row, per call and
// per validation level it applies to.  Checked builds (external = default,
// dev) must throw a ZeeFaultError naming the fault and the pointer *before*
// changing anything: the heap's bytes and the allocator's state are compared
// before and after, then zee_check(), the live blocks and new allocations
// show the instance is still sound and usable.  unsafe trusts every pointer:
// only the rows with a defined outcome there are tested (see docs/reliability.md).
import { fresh } from './helpers/instance.mjs';
import { Shadow } from './helpers/shadow.mjs';
import { state, meta, blocks, PAGE } from './helpers/layout.mjs';
import { LAYOUT, STATE_WORDS } from '../js/layout.mjs';
import { ZeeFaultError, ENOMEM, EINVAL } from '../js/zee_alloc.mjs';

const CHECKED = ['default', 'dev'];
const LEVELS = ['unsafe', ...CHECKED];
const CAP = 256; // pages: huge requests fail on the cap instead of growing gigabytes
const ZEE_C_FRAME = 20;

// A capped instance with some live blocks (a frame, a slot, exact and large
// blocks) under a shadow.
async function setup(variant) {
  const z = await fresh(variant, { maximumPages: CAP });
  const sh = new Shadow(z);
  for (const n of [24, 100, 3000, 40000, 200000]) sh.add(z.malloc(n), n);
  return { z, sh };
}

// Why: "nothing changed" must cover the heap's bytes and the allocator's state.
function snapshot(z) {
  const s = state(z);
  return {
    heap: z.HEAPU8.slice(s.heapStart, s.heapEnd),
    state: z.HEAPU8.slice(z.stateAddress, z.stateAddress + 4 * STATE_WORDS),
  };
}

const CALLS = {
  free: (z, p) => z.free(p),
  realloc: (z, p) => z.realloc(p, 64),
  malloc_usable_size: (z, p) => z.usableSize(p),
};

// Two 16 B frames that are buddies: a (the lower half of a 32 B frame) and a + 16.
function buddies(z) {
  const ps = Array.from({ length: 8 }, () => z.malloc(8));
  const a = ps.find((p) => p % 32 === 0 && ps.includes(p + 16));
  return [a, a + 16];
}

// Pointer rows: how to make the pointer, and the fault a checked build reports.
const POINTER_ROWS = [
  ['a static address (the allocator state)', (z) => z.stateAddress & ~15, 'ZEE_E_POINTER'],
  ['a stack address (below the heap)', (z) => state(z).heapStart - 1024, 'ZEE_E_POINTER'],
  [
    'an interior pointer of a slot',
    (z, sh) => sh.starts.find((p) => sh.blocks.get(p).size === 100) + 32,
    'ZEE_E_HEADER',
  ],
  [
    'an interior pointer of a large block',
    (z, sh) => sh.starts.find((p) => sh.blocks.get(p).size === 200000) + PAGE,
    'ZEE_E_HEADER',
  ],
  [
    'an address inside a free frame',
    (z) => {
      const j = z.malloc(5 * PAGE);
      z.HEAPU8.fill(0x41, j, j + 5 * PAGE); // what the block leaves behind: no header
      z.free(j);
      // the largest free frame that j's extent gave back: 16 B into it, the
      // bytes before are j's old data, not a header
      const f = blocks(z)
        .filter((b) => b.state === 'free' && b.address >= j && b.address + b.size <= j + 5 * PAGE)
        .sort((x, y) => y.size - x.size)[0];
      return f.address + 16;
    },
    'ZEE_E_HEADER',
  ],
  [
    'the address of a slab (not a user block)',
    (z, sh) => sh.starts.find((p) => sh.blocks.get(p).size === 100) & -LAYOUT.SLAB_MIN, // 112 B slots: a slab of SLAB_MIN
    'ZEE_E_HEADER',
  ],
  ['an unaligned address (+1)', (z, sh) => sh.starts[0] + 1, 'ZEE_E_POINTER'],
  ['an 8-aligned address (+8)', (z, sh) => sh.starts[0] + 8, 'ZEE_E_POINTER'],
  ['a pointer past the heap', (z) => state(z).heapEnd + 16, 'ZEE_E_POINTER'],
  ['a pointer past the memory (0xfffffff0)', () => 0xfffffff0, 'ZEE_E_POINTER'],
  [
    'a frame block already freed (double free)',
    (z) => {
      const [a] = buddies(z); // its buddy stays in use: a stays a free 16 B frame
      z.free(a);
      return a;
    },
    'ZEE_E_DOUBLE_FREE',
  ],
  [
    'a frame block freed and merged with its buddy (double free)',
    (z) => {
      const [a, b] = buddies(z);
      z.free(a);
      z.free(b); // b's header is buried in a's frame, tagged as merged
      return b;
    },
    'ZEE_E_DOUBLE_FREE',
  ],
  [
    'a slot already freed (double free)',
    (z) => {
      const p = z.malloc(40); // 48 B: a slot
      z.malloc(40); // keeps its slab in use
      z.free(p);
      return p;
    },
    'ZEE_E_DOUBLE_FREE',
  ],
  [
    'a slot freed with its slab (double free)',
    (z) => {
      const p = z.malloc(40); // alone in its slab: freeing it frees the slab
      z.free(p);
      return p;
    },
    'ZEE_E_DOUBLE_FREE',
  ],
  [
    'a large block already freed (double free)',
    (z) => {
      const p = z.malloc(3 * PAGE);
      z.free(p);
      return p;
    },
    'ZEE_E_DOUBLE_FREE',
  ],
];

describe.each(CHECKED)('bad pointers, %s build: a ZeeFaultError before any change', (variant) => {
  describe.each(POINTER_ROWS)('%s', (row, make, code) => {
    test.each(Object.keys(CALLS))('%s', async (call) => {
      const { z, sh } = await setup(variant);
      const p = make(z, sh) >>> 0;
      const before = snapshot(z);
      let err;
      try {
        CALLS[call](z, p);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ZeeFaultError);
      expect(err.code).toBe(code);
      expect(err.ptr).toBe(p);
      expect(err.message).toContain(`0x${p.toString(16)}`);
      const after = snapshot(z);
      expect(Buffer.compare(after.heap, before.heap)).toBe(0);
      expect(Buffer.compare(after.state, before.state)).toBe(0);
      expect(z.check()).toBe(0);
      sh.verifyAll();
      // still usable: allocate, fill, free around the live blocks
      for (const n of [16, 500, 70000]) sh.add(z.malloc(n), n);
      for (const q of [...sh.starts]) {
        sh.remove(q);
        z.free(q);
      }
      expect(z.check()).toBe(0);
    });
  });

  test.each(Object.keys(CALLS))(
    'a header overwritten by the block before it: %s throws ZEE_E_HEADER, check() names the damage',
    async (call) => {
      const { z, sh } = await setup(variant);
      // two 32 B frames side by side: the 8 bytes past lo's usable size are hi's header
      const ps = Array.from({ length: 16 }, () => z.malloc(24));
      const lo = ps.find((p) => ps.includes(p + 32));
      expect(lo).toBeDefined();
      const hi = lo + 32;
      const saved = z.HEAPU8.slice(hi - 8, hi);
      z.HEAPU8.fill(0x41, lo + 24, lo + 32); // the overflow
      expect(z.check()).toBe(ZEE_C_FRAME);
      const before = snapshot(z);
      let err;
      try {
        CALLS[call](z, hi);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ZeeFaultError);
      expect(err.code).toBe('ZEE_E_HEADER');
      expect(err.ptr).toBe(hi);
      expect(Buffer.compare(snapshot(z).heap, before.heap)).toBe(0);
      expect(z.check()).toBe(ZEE_C_FRAME);
      // repairing the header makes the heap whole again
      z.HEAPU8.set(saved, hi - 8);
      expect(z.check()).toBe(0);
      z.free(hi);
      sh.verifyAll();
      expect(z.check()).toBe(0);
    },
  );

  test('an overwritten header of a large exact block (an overflow of the block below) is rejected too', async () => {
    const { z } = await setup(variant);
    const j = z.malloc(2 * PAGE);
    const saved = z.HEAPU8.slice(j - 8, j);
    z.HEAPU8.fill(0, j - 8, j);
    expect(() => z.free(j)).toThrow(expect.objectContaining({ code: 'ZEE_E_HEADER', ptr: j }));
    z.HEAPU8.set(saved, j - 8);
    expect(z.check()).toBe(0);
    z.free(j);
    expect(z.check()).toBe(0);
  });
});

describe('bad pointers, unsafe build: no checks', () => {
  // The one outcome unsafe defines: wasm bounds-checks the header read.
  test.each(Object.keys(CALLS))(
    '%s of a pointer past the memory traps (RuntimeError) and changes nothing',
    async (call) => {
      const { z, sh } = await setup('unsafe');
      const before = snapshot(z);
      for (const p of [state(z).heapEnd + 16, 0xfffffff0]) {
        expect(state(z).heapEnd).toBe(z.memoryBytes);
        expect(() => CALLS[call](z, p)).toThrow(WebAssembly.RuntimeError);
      }
      expect(Buffer.compare(snapshot(z).heap, before.heap)).toBe(0);
      expect(z.check()).toBe(0);
      sh.verifyAll();
    },
  );

  test('a double free is not detected at the call, and zee_check() reports the damage afterwards', async () => {
    const { z } = await setup('unsafe');
    const p = z.malloc(24); // 32 B: a frame
    z.malloc(24);
    z.free(p);
    expect(() => z.free(p)).not.toThrow();
    expect(z.check()).not.toBe(0);
  });

  test('a slot freed twice while its slab holds two more: zee_check() reports the slab (ZEE_C_SLAB)', async () => {
    const { z } = await setup('unsafe');
    const p = z.malloc(40); // 48 B: a slot
    z.malloc(40);
    z.malloc(40);
    z.free(p);
    expect(() => z.free(p)).not.toThrow();
    expect(z.check()).toBe(28); // ZEE_C_SLAB: the slab counts 1 slot in use, its headers say 3
  });
});

describe.each(LEVELS)('bad sizes and alignments, %s build', (variant) => {
  const HUGE = [0xffffffff, 0xfffffff8, 0xffff0001, 0xffff0000, 0x80000000, (CAP + 1) * PAGE].map((n) => [
    n.toString(16),
    n,
  ]);

  test.each(HUGE)('malloc(0x%s) near SIZE_MAX returns NULL with ENOMEM', async (hex, n) => {
    const { z, sh } = await setup(variant);
    z.errno = 0;
    expect(z.malloc(n)).toBe(0);
    expect(z.errno).toBe(ENOMEM);
    expect(z.check()).toBe(0);
    sh.verifyAll();
  });

  test.each(HUGE)('calloc(1, 0x%s) and calloc(that, 1) return NULL with ENOMEM', async (hex, n) => {
    const { z, sh } = await setup(variant);
    for (const [a, b] of [
      [1, n],
      [n, 1],
    ]) {
      z.errno = 0;
      expect(z.calloc(a, b)).toBe(0);
      expect(z.errno).toBe(ENOMEM);
    }
    expect(z.check()).toBe(0);
    sh.verifyAll();
  });

  test.each(HUGE)(
    'realloc(p, 0x%s) returns NULL with ENOMEM and leaves p intact (small and large p)',
    async (hex, n) => {
      const { z, sh } = await setup(variant);
      for (const p of [sh.starts[0], sh.starts[sh.starts.length - 1]]) {
        const size = z.usableSize(p);
        z.errno = 0;
        expect(z.realloc(p, n)).toBe(0);
        expect(z.errno).toBe(ENOMEM);
        expect(z.usableSize(p)).toBe(size);
        sh.verify(p);
      }
      expect(z.check()).toBe(0);
    },
  );

  test.each([
    [0x10000, 0x10000],
    [0xffffffff, 2],
    [3, 0x55555556],
    [0x80000000, 0x80000000],
  ])('calloc(%s, %s) whose product overflows returns NULL with ENOMEM', async (a, b) => {
    const { z, sh } = await setup(variant);
    z.errno = 0;
    expect(z.calloc(a, b)).toBe(0);
    expect(z.errno).toBe(ENOMEM);
    expect(z.check()).toBe(0);
    sh.verifyAll();
  });

  test('aligned_alloc(0, n) is served with the minimum alignment (16), like memalign', async () => {
    const { z, sh } = await setup(variant);
    const p = z.alignedAlloc(0, 100);
    expect(p).not.toBe(0);
    expect(p % 16).toBe(0);
    sh.add(p, 100);
    expect(z.check()).toBe(0);
  });

  test.each([3, 24, 48, 0x30000, 0x80000001, 0xffffffff])(
    'aligned_alloc(%s, n) with a non-power-of-two alignment returns NULL with EINVAL',
    async (a) => {
      const { z } = await setup(variant);
      z.errno = 0;
      expect(z.alignedAlloc(a, 100)).toBe(0);
      expect(z.errno).toBe(EINVAL);
      expect(z.check()).toBe(0);
    },
  );

  test.each([0, 1, 2, 3, 24, 0x30000, 0xffffffff])(
    'posix_memalign(&p, %s, n) returns EINVAL and leaves p alone',
    async (a) => {
      const { z } = await setup(variant);
      const out = z.malloc(4);
      z.HEAPU32[out >>> 2] = 0xdeadbeef;
      expect(z.exports.posix_memalign(out, a, 100)).toBe(EINVAL);
      expect(z.HEAPU32[out >>> 2]).toBe(0xdeadbeef);
      expect(z.check()).toBe(0);
    },
  );

  test('a huge alignment (2 GiB) fails with ENOMEM: aligned_alloc NULL, posix_memalign ENOMEM', async () => {
    const { z, sh } = await setup(variant);
    z.errno = 0;
    expect(z.alignedAlloc(0x80000000, 16)).toBe(0);
    expect(z.errno).toBe(ENOMEM);
    expect(z.posixMemalign(0x80000000, 16)).toEqual({ ptr: 0, error: ENOMEM });
    expect(z.check()).toBe(0);
    sh.verifyAll();
    // a large alignment that fits is honoured
    const p = z.alignedAlloc(1 << 20, 100);
    expect(p % (1 << 20)).toBe(0);
    sh.add(p, 100);
    expect(z.posixMemalign(4, 10).error).toBe(0);
  });

  test('realloc(p, 0) frees p and returns NULL; realloc(NULL, 0) is malloc(0)', async () => {
    const { z, sh } = await setup(variant);
    for (const n of [40, 3 * PAGE]) {
      const p = z.malloc(n);
      expect(z.realloc(p, 0)).toBe(0);
      expect(meta(z, p).tag & 1).toBe(0); // no longer in use: free (6) or buried in a merged frame (4)
      expect(z.check()).toBe(0);
    }
    const a = z.realloc(0, 0),
      b = z.realloc(0, 0);
    expect(a).not.toBe(0);
    expect(b).not.toBe(a);
    expect(z.usableSize(a)).toBe(8); // malloc(0): the smallest block, 16 B with its 8 B tail
    sh.verifyAll();
  });

  test('free(NULL) and malloc_usable_size(NULL) do nothing', async () => {
    const { z } = await setup(variant);
    const before = snapshot(z);
    z.free(0);
    expect(z.usableSize(0)).toBe(0);
    expect(Buffer.compare(snapshot(z).heap, before.heap)).toBe(0);
  });
});

test.each(CHECKED)('%s: realloc(p, 0) then free(p) is a double free', async (variant) => {
  const { z } = await setup(variant);
  const p = z.malloc(40);
  z.malloc(40);
  expect(z.realloc(p, 0)).toBe(0);
  expect(() => z.free(p)).toThrow(expect.objectContaining({ code: 'ZEE_E_DOUBLE_FREE', ptr: p }));
  expect(z.check()).toBe(0);
});
