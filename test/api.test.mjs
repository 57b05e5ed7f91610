// Edge cases of the C API, one per test, through the JS wrapper.
import { fresh } from './helpers/instance.mjs';
import { PAGE, meta, state, blocks, freeRuns } from './helpers/layout.mjs';
import { ENOMEM, EINVAL } from '../js/zee_alloc.mjs';
import { LAYOUT } from '../js/layout.mjs';

let z;
beforeEach(async () => {
  z = await fresh();
});
afterEach(() => {
  expect(z.check()).toBe(0);
});

test('malloc(0) returns a unique, freeable pointer', () => {
  const a = z.malloc(0),
    b = z.malloc(0);
  expect(a).not.toBe(0);
  expect(b).not.toBe(0);
  expect(a).not.toBe(b);
  expect(z.usableSize(a)).toBe(8);
  z.free(a);
  z.free(b);
});

test('free(NULL) does nothing', () => {
  const before = JSON.stringify(state(z));
  z.free(0);
  expect(JSON.stringify(state(z))).toBe(before);
});

test('calloc overflow returns NULL with ENOMEM and changes nothing', () => {
  z.errno = 0;
  expect(z.calloc(0x10000, 0x10000)).toBe(0);
  expect(z.errno).toBe(ENOMEM);
  expect(z.calloc(0xffffffff, 2)).toBe(0);
  expect(z.calloc(2, 0x80000000)).toBe(0);
});

test('calloc zeroes reused memory', () => {
  const p = z.malloc(1000);
  z.HEAPU8.fill(0xab, p, p + 1000);
  z.free(p);
  const q = z.calloc(10, 100);
  expect(q).toBe(p);
  expect(z.HEAPU8.subarray(q, q + 1000).every((b) => b === 0)).toBe(true);
});

test('realloc(NULL, n) behaves as malloc(n)', () => {
  const p = z.realloc(0, 100);
  expect(p).not.toBe(0);
  expect(z.usableSize(p)).toBe(104); // 100 + 8 rounded to 16, less the 8 B tail
});

test('realloc(p, 0) frees p and returns NULL', () => {
  const p = z.malloc(100); // 112 B: a slot
  const q = z.malloc(120); // 128 B: a frame
  expect(z.realloc(p, 0)).toBe(0);
  expect(z.realloc(q, 0)).toBe(0);
  expect(meta(z, p).tag).toBe(LAYOUT.TAG_SLOT_FREE);
  // a free frame, or (merged with its free buddy) a header buried inside one
  expect([LAYOUT.TAG_FREE, LAYOUT.TAG_MERGED]).toContain(meta(z, q).tag);
  expect(state(z).usedBlocks).toBe(0);
  expect(() => z.free(p)).toThrow(/double free/);
  expect(() => z.free(q)).toThrow(/double free/);
});

test('realloc of a slot stays in place for the same slot size and moves for another', () => {
  const p = z.malloc(100); // 112 B
  z.HEAPU8.fill(3, p, p + 100);
  expect(z.realloc(p, 97)).toBe(p); // 97 + 8 rounds to 112 too
  expect(z.usableSize(p)).toBe(104);
  const q = z.realloc(p, 120); // 128 B: a power of two, a frame of its own
  expect(q).not.toBe(p);
  expect(meta(z, q).tag).toBe(LAYOUT.TAG_USED);
  expect(z.usableSize(q)).toBe(120);
  expect(z.HEAPU8.subarray(q, q + 97).every((b) => b === 3)).toBe(true);
  expect(meta(z, p).tag).toBe(LAYOUT.TAG_SLOT_FREE);
});

test('realloc grows a frame block in place over the free frames after it', () => {
  const p = z.malloc(110); // 128 B: the first block, at the bottom of a frame whose upper halves are free
  expect(p).toBe(state(z).heapStart);
  z.HEAPU8.fill(7, p, p + 110);
  const q = z.realloc(p, 1496);
  expect(q).toBe(p);
  expect(z.usableSize(q)).toBe(1496); // 1496 + 8 is already a multiple of 16
  expect(meta(z, q).size).toBe(1504);
  expect(z.HEAPU8.subarray(q, q + 110).every((b) => b === 7)).toBe(true);
  expect(meta(z, q + 2048).tag).toBe(LAYOUT.TAG_FREE); // it takes a 2 KiB extent; the rest went back
});

test('realloc of a frame block to a slot size moves it to a slot', () => {
  const p = z.malloc(24); // 32 B: a frame
  z.HEAPU8.fill(4, p, p + 24);
  const q = z.realloc(p, 70); // 80 B: in place it would keep a 128 B frame
  expect(q).not.toBe(p);
  expect(meta(z, q)).toMatchObject({ size: 80, tag: LAYOUT.TAG_SLOT });
  expect(z.HEAPU8.subarray(q, q + 24).every((b) => b === 4)).toBe(true);
  expect([LAYOUT.TAG_FREE, LAYOUT.TAG_MERGED]).toContain(meta(z, p).tag);
});

test('realloc shrinks in place by freeing the tail', () => {
  const p = z.malloc(4000);
  z.HEAPU8.fill(5, p, p + 4000);
  const q = z.realloc(p, 10);
  expect(q).toBe(p);
  expect(z.usableSize(q)).toBe(24);
  expect(meta(z, q).size).toBe(32);
  expect(meta(z, q + 32).free).toBe(true);
  expect(z.HEAPU8.subarray(q, q + 10).every((b) => b === 5)).toBe(true);
  // the freed tail serves the next request of the old size in place
  expect(z.realloc(q, 4000)).toBe(q);
});

test('realloc within the usable size stays in place', () => {
  const p = z.malloc(90); // 112 B: usable 104
  expect(z.realloc(p, 104)).toBe(p);
  expect(z.usableSize(p)).toBe(104);
  const j = z.malloc(100000); // 100,016 B exactly
  z.free(z.malloc(PAGE)); // free frames after j: room to grow into below the heap's end
  expect(z.usableSize(j)).toBe(100008);
  expect(z.realloc(j, 100008)).toBe(j);
  expect(z.realloc(j, 99990)).toBe(j); // shrinks to 100,000 B: the last 16 B go back
  expect(z.usableSize(j)).toBe(99992);
  expect(z.realloc(j, 131072)).toBe(j); // over the free frames after it
  expect(z.usableSize(j)).toBe(131080);
});

test('realloc grows a large block in place over the free frames after it', () => {
  const j = z.malloc(2 * PAGE);
  const next = z.malloc(5 * PAGE);
  expect(next).toBe(j + 2 * PAGE + 16); // right after j
  z.free(next); // its extent: free frames after j
  z.HEAPU8.fill(9, j, j + 2 * PAGE);
  const mem = z.memoryBytes;
  const q = z.realloc(j, 5 * PAGE);
  expect(q).toBe(j);
  expect(z.usableSize(q)).toBe(5 * PAGE + 8);
  expect(z.HEAPU8.subarray(q, q + 2 * PAGE).every((b) => b === 9)).toBe(true);
  expect(z.memoryBytes).toBe(mem);
});

test('realloc of a block the free frames after it cannot hold moves, even at the top of the heap', () => {
  // Growing over new memory at the top would grow the heap while holes below
  // could hold the block (docs/layout.md): it moves, and the memory grows by
  // what the new block lacks.
  const j = z.malloc(PAGE);
  const top = freeRuns(z).at(-1);
  expect(top.start).toBe(j + PAGE + 16); // nothing above it but free frames
  z.HEAPU8.fill(3, j, j + PAGE);
  const q = z.realloc(j, 64 * PAGE);
  expect(q).not.toBe(j);
  expect(z.usableSize(q)).toBe(64 * PAGE + 8);
  expect(z.HEAPU8.subarray(q, q + PAGE).every((b) => b === 3)).toBe(true);
  expect(z.memoryBytes).toBe(Math.ceil((q + 64 * PAGE + 16) / PAGE) * PAGE);
  expect(() => z.free(j)).toThrow(expect.objectContaining({ code: 'ZEE_E_DOUBLE_FREE' })); // the old block went back
});

test('realloc moves between frames, slots and exact blocks keeping the contents', () => {
  const guard = z.malloc(3000); // 3,008 B: a 4 KiB frame
  const p = z.malloc(3000);
  z.malloc(3000); // so that p has a block in use after it and must move to grow
  for (let i = 0; i < 3000; i++) z.HEAPU8[p + i] = i & 255;
  const j = z.realloc(p, 200000);
  expect(z.usableSize(j)).toBe(200008);
  for (let i = 0; i < 3000; i++) expect(z.HEAPU8[j + i]).toBe(i & 255);
  const s = z.realloc(j, 500); // 512 B: a power of two, it shrinks in place
  expect(s).toBe(j);
  const t = z.realloc(s, 300); // 320 B: a slot size, it moves to a slot
  expect(t).not.toBe(s);
  expect(meta(z, t).tag).toBe(LAYOUT.TAG_SLOT);
  for (let i = 0; i < 300; i++) expect(z.HEAPU8[t + i]).toBe(i & 255);
  expect(guard).toBeGreaterThan(0);
});

describe('aligned allocation', () => {
  const aligns = [];
  for (let a = 16; a <= 1 << 20; a *= 2) aligns.push(a);

  test.each(aligns)('aligned_alloc(%i, n) is aligned, for small and large n', (a) => {
    for (const n of [1, a - 8, a, 3 * a + 5]) {
      const p = z.alignedAlloc(a, n);
      expect(p).not.toBe(0);
      expect(p % a).toBe(0);
      expect(z.usableSize(p)).toBeGreaterThanOrEqual(n);
      z.HEAPU8.fill(1, p, p + n);
    }
  });

  test.each(aligns)('posix_memalign(%i) and memalign(%i) are aligned', (a) => {
    const { ptr, error } = z.posixMemalign(a, 100);
    expect(error).toBe(0);
    expect(ptr % a).toBe(0);
    const m = z.memalign(a, 100);
    expect(m % a).toBe(0);
  });

  test('alignment up to 32 KiB costs no more than the exact size: the frame of A gives back its rest', () => {
    const p = z.alignedAlloc(4096, 100);
    expect(p % 4096).toBe(0);
    expect(meta(z, p).size).toBe(112);
    const q = z.alignedAlloc(32768, 1);
    expect(q % 32768).toBe(0);
    expect(meta(z, q).size).toBe(16);
    expect(meta(z, q + 16).tag).toBe(LAYOUT.TAG_FREE);
  });

  test('a large aligned block is aligned and exact: usable n .. n + 15', () => {
    for (const a of [32, 1024, 32768, 65536]) {
      const p = z.alignedAlloc(a, 70000);
      expect(p % a).toBe(0);
      expect(z.usableSize(p)).toBe(70008);
    }
  });

  test('a non-power-of-two alignment fails with EINVAL', () => {
    z.errno = 0;
    expect(z.alignedAlloc(24, 100)).toBe(0);
    expect(z.errno).toBe(EINVAL);
    expect(z.posixMemalign(48, 100).error).toBe(EINVAL);
    expect(z.posixMemalign(2, 100).error).toBe(EINVAL); // below sizeof(void *)
  });
});

describe('size boundaries', () => {
  test('n + 8 rounded to 16: 8 fits 16 B, 9 needs 32 B', () => {
    expect(meta(z, z.malloc(8)).size).toBe(16);
    expect(meta(z, z.malloc(9)).size).toBe(32);
    expect(meta(z, z.malloc(4312)).size).toBe(4320); // SQLite's page cache entry: not 8 KiB
  });

  test('every block is its request + 8 rounded to 16, whatever its size: no page rounding', () => {
    for (const n of [32760, 32761, 65512, 65513, PAGE, 3 * PAGE, 1 << 20]) {
      const p = z.malloc(n);
      const m = Math.ceil((n + 8) / 16) * 16;
      expect([n, meta(z, p).size, z.usableSize(p)]).toEqual([n, m, m - 8]);
    }
  });

  test('a block of 32..64 KiB packs right after a block above 4 KiB (the cursor), in one page', () => {
    const mem = z.memoryBytes;
    const q = z.malloc(5000);
    const p = z.malloc(50000);
    expect(p).toBe(q + 5008); // 50,016 B right after the 5,008 B block
    expect(p - (p % PAGE)).toBe(q - (q % PAGE)); // the same page
    expect(z.usableSize(p)).toBe(50008);
    expect(z.memoryBytes).toBe(mem);
  });

  test('aligned_alloc(65536, n) places a block on a page boundary, for programs that want whole pages', () => {
    for (let n = 16; n <= 20; n++) {
      const p = z.alignedAlloc(PAGE, 2 ** n);
      expect(p % PAGE).toBe(0);
      expect(z.usableSize(p)).toBe(2 ** n + 8);
    }
  });
});

describe('checked builds', () => {
  test('a bad free throws a ZeeFaultError with the pointer, and the heap stays usable', () => {
    const p = z.malloc(64);
    let err;
    try {
      z.free(p + 16);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ZEE_E_HEADER');
    expect(err.ptr).toBe(p + 16);
    expect(err.message).toContain((p + 16).toString(16));
    expect(z.check()).toBe(0);
    z.free(p);
    expect(z.malloc(64)).toBe(p);
  });

  test('a double free is reported even after the block merged with its buddy', () => {
    const ps = Array.from({ length: 8 }, () => z.malloc(8)); // 16 B frames
    const a = ps.find((p) => p % 32 === 0 && ps.includes(p + 16)),
      b = a + 16; // buddies: a 32 B frame's two halves
    z.free(a);
    z.free(b); // b merges into a's frame: its header is buried, tagged as merged
    expect(meta(z, b).tag).toBe(LAYOUT.TAG_MERGED);
    expect(() => z.free(b)).toThrow(expect.objectContaining({ code: 'ZEE_E_DOUBLE_FREE', ptr: b }));
    expect(() => z.free(a)).toThrow(expect.objectContaining({ code: 'ZEE_E_DOUBLE_FREE', ptr: a }));
    expect(z.check()).toBe(0);
  });

  test('thousands of reported faults leave the C stack pointer and the heap as they were', () => {
    const p = z.malloc(100);
    const sp = z.exports.stackSave();
    let thrown = 0;
    for (let i = 0; i < 3000; i++) {
      for (const bad of [() => z.free(p + 16), () => z.realloc(p + 32, 5), () => z.usableSize(7)]) {
        try {
          bad();
        } catch (e) {
          thrown++;
        }
      }
    }
    expect(thrown).toBe(9000);
    expect(z.exports.stackSave()).toBe(sp);
    expect(z.usableSize(p)).toBe(104);
  });

  test('malloc of sizes near SIZE_MAX returns NULL with ENOMEM and changes nothing', () => {
    z.free(z.malloc(1)); // the heap exists
    const before = { state: state(z), blocks: blocks(z), memory: z.memoryBytes };
    for (const n of [0xffffffff, 0xfffffff8, 0xfffffff0, 0xffff0001, 0xfffe0000]) {
      z.errno = 0;
      expect(z.malloc(n)).toBe(0);
      expect(z.errno).toBe(ENOMEM);
      z.errno = 0;
      expect(z.alignedAlloc(1 << 30, n)).toBe(0);
      expect(z.errno).toBe(ENOMEM);
    }
    expect({ state: state(z), blocks: blocks(z), memory: z.memoryBytes }).toEqual(before);
  });
});
