// Edge cases of the C API, one per test, through the JS wrapper.
import { fresh } from './helpers/instance.mjs';
import { PAGE, meta, spans, state } from './helpers/layout.mjs';
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
  expect(meta(z, q).tag).toBe(LAYOUT.TAG_FREE);
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
  expect(meta(z, q).tag).toBe(LAYOUT.TAG_SMALL);
  expect(z.usableSize(q)).toBe(120);
  expect(z.HEAPU8.subarray(q, q + 97).every((b) => b === 3)).toBe(true);
  expect(meta(z, p).tag).toBe(LAYOUT.TAG_SLOT_FREE);
});

test('realloc grows a small block in place over the free frames after it', () => {
  const p = z.malloc(110); // a fresh page: 128 B, the frame 128@128; the frames above it free
  expect(p % PAGE).toBe(128);
  z.HEAPU8.fill(7, p, p + 110);
  const q = z.realloc(p, 1496);
  expect(q).toBe(p);
  expect(z.usableSize(q)).toBe(1496); // 1496 + 8 is already a multiple of 16
  expect(meta(z, q).size).toBe(1504);
  expect(z.HEAPU8.subarray(q, q + 110).every((b) => b === 7)).toBe(true);
  expect(meta(z, q + 2048).free).toBe(true); // it takes its 2 KiB frame; the rest went back
});

test('realloc of a frame block to a slot size moves it to a slot', () => {
  const p = z.malloc(24); // 32 B: a frame
  z.HEAPU8.fill(4, p, p + 24);
  const q = z.realloc(p, 70); // 80 B: in place it would keep a 128 B frame
  expect(q).not.toBe(p);
  expect(meta(z, q)).toMatchObject({ size: 80, tag: LAYOUT.TAG_SLOT });
  expect(z.HEAPU8.subarray(q, q + 24).every((b) => b === 4)).toBe(true);
  expect(meta(z, p).tag).toBe(LAYOUT.TAG_FREE);
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
  const j = z.malloc(100000); // 34,464 B in the top of its anchor, then one page
  expect(z.realloc(j, 99990)).toBe(j);
  expect(z.realloc(j, 131072)).toBe(j); // one more page, taken from the span after it
  expect(z.usableSize(j)).toBe(100000 + PAGE);
});

test('realloc grows a large block in place into the free pages after it', () => {
  const j = z.malloc(2 * PAGE);
  z.HEAPU8.fill(9, j, j + 2 * PAGE);
  const q = z.realloc(j, 5 * PAGE);
  expect(q).toBe(j);
  expect(z.usableSize(q)).toBe(5 * PAGE);
  expect(z.HEAPU8.subarray(q, q + 2 * PAGE).every((b) => b === 9)).toBe(true);
});

test('realloc grows a large block at the top of the heap by growing memory', () => {
  const j = z.malloc(PAGE);
  const mem = z.memoryBytes;
  const q = z.realloc(j, 64 * PAGE);
  expect(q).toBe(j);
  expect(z.memoryBytes).toBeGreaterThan(mem);
  expect(z.memoryBytes).toBeLessThanOrEqual(j + 64 * PAGE + 2 * PAGE);
});

test('realloc moves between frames and large blocks keeping the contents', () => {
  const p = z.malloc(3000);
  for (let i = 0; i < 3000; i++) z.HEAPU8[p + i] = i & 255;
  const j = z.realloc(p, 200000);
  expect((j + 200000) % PAGE).toBe(0); // a large block ends on a page boundary
  expect(z.usableSize(j)).toBe(200000);
  for (let i = 0; i < 3000; i++) expect(z.HEAPU8[j + i]).toBe(i & 255);
  const back = z.realloc(j, 0x100000); // large growth, may move
  expect(z.HEAPU8[back + 2999]).toBe(2999 & 255);
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
    expect(meta(z, q + 16).free).toBe(true);
  });

  test('a large aligned block keeps its payload aligned inside its anchor', () => {
    for (const a of [32, 1024, 32768]) {
      const p = z.alignedAlloc(a, 70000);
      expect(p % a).toBe(0);
      expect((p + z.usableSize(p)) % PAGE).toBe(0);
      expect(z.usableSize(p)).toBeGreaterThanOrEqual(70000);
      expect(z.usableSize(p)).toBeLessThan(70000 + a);
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

  test('up to 65,512 B is a small block in one page: above 32 KiB it starts at a top-level frame', () => {
    const a = z.malloc(32760),
      b = z.malloc(32761),
      c = z.malloc(65512),
      d = z.malloc(65513);
    expect(meta(z, a)).toMatchObject({ small: true, size: 32768 });
    expect(z.usableSize(a)).toBe(32760);
    // 32,784 B, exactly, inside one page
    expect(meta(z, b)).toMatchObject({ small: true, size: 32784 });
    expect((b % PAGE) + 32784).toBeLessThanOrEqual(PAGE);
    expect(z.usableSize(b)).toBe(32776);
    // 65,520 B: the whole page after its first 16 bytes
    expect(meta(z, c)).toMatchObject({ small: true, size: 65520 });
    expect(c % PAGE).toBe(16);
    expect(z.usableSize(c)).toBe(65512);
    // one byte more: a large block of 65,520 B that ends on the page boundary
    expect(meta(z, d)).toMatchObject({ large: true, size: 65520 });
    expect((d + 65520) % PAGE).toBe(0);
    expect(z.usableSize(d)).toBe(65520);
  });

  test('a block of 32..64 KiB fits in one page, next to blocks above 4 KiB (a mid page)', () => {
    const mem = z.memoryBytes;
    const q = z.malloc(5000);
    const p = z.malloc(50000);
    expect(p - (p % PAGE)).toBe(q - (q % PAGE)); // the same page
    expect(p).toBe(q + 5008); // 50,016 B right after the 5,008 B block (the cursor)
    expect(z.usableSize(p)).toBe(50008);
    expect(z.memoryBytes).toBe(mem);
  });

  test('exact 2^n large sizes are page-aligned with exactly 2^n bytes of payload', () => {
    for (let n = 16; n <= 23; n++) {
      const p = z.malloc(2 ** n);
      expect(p % PAGE).toBe(0);
      expect(z.usableSize(p)).toBe(2 ** n);
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
    const a = z.malloc(8),
      b = z.malloc(8),
      c = z.malloc(8); // 16@16, 16@32, 16@48
    z.free(b);
    z.free(c); // c is the upper half: it merges into 32@32 and its header ends up inside
    expect(() => z.free(c)).toThrow(expect.objectContaining({ code: 'ZEE_E_DOUBLE_FREE', ptr: c }));
    expect(() => z.free(b)).toThrow(expect.objectContaining({ code: 'ZEE_E_DOUBLE_FREE', ptr: b }));
    expect(z.check()).toBe(0);
    expect(a).toBeGreaterThan(0);
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

  test('malloc of sizes near SIZE_MAX returns NULL with ENOMEM', () => {
    for (const n of [0xffffffff, 0xfffffff0, 0xffff0001, 0xfffe0000]) {
      z.errno = 0;
      expect(z.malloc(n)).toBe(0);
      expect(z.errno).toBe(ENOMEM);
    }
    expect(spans(z).length).toBeGreaterThan(0);
  });
});
