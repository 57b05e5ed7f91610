// The npm package's JS API (js/zee_alloc.mjs), in-process: loading from every
// kind of source, independent instances, the byte and string helpers, views
// after growth, stats and inspector conveniences, and the error codes.
// test/npm-package.test.mjs runs the packed package from a consumer's side.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  ZeeAlloc,
  ZeeAllocError,
  ZeeFaultError,
  ZeeOutOfMemoryError,
  wasmURL,
  ENOMEM,
  PAGE_SIZE,
  VARIANTS,
} from '../js/zee_alloc.mjs';

// Expects `fn` to throw a ZeeAllocError (an Error) with `code`.
async function expectCode(fn, code, Class = ZeeAllocError) {
  let error;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(Error);
  expect(error).toBeInstanceOf(Class);
  expect(error.code).toBe(code);
  return error;
}

// A module that exports every function the wrapper calls (each returns 0)
// and defines and exports its own memory instead of importing env.memory.
function moduleWithOwnMemory() {
  const names = [
    'malloc',
    'free',
    'calloc',
    'realloc',
    'aligned_alloc',
    'memalign',
    'posix_memalign',
    'malloc_usable_size',
    'zee_check',
    'zee_heap_info',
    '__errno_location',
  ];
  const utf8 = (text) => [...new TextEncoder().encode(text)];
  const leb = (n) => (n < 128 ? [n] : [(n & 127) | 128, ...leb(n >>> 7)]);
  const vec = (items) => [...leb(items.length), ...items.flat()];
  const section = (id, body) => [id, ...leb(body.length), ...body];
  const exports = [...names.map((n, i) => [...vec(utf8(n)), 0x00, i]), [...vec(utf8('memory')), 0x02, 0]];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([[0x60, 0x00, 0x01, 0x7f]])), // type 0: () -> i32
    ...section(3, vec(names.map(() => [0x00]))), // every function has type 0
    ...section(5, vec([[0x00, 0x01]])), // one memory, 1 page
    ...section(7, vec(exports)),
    ...section(10, vec(names.map(() => [0x04, 0x00, 0x41, 0x00, 0x0b]))), // i32.const 0
  ]);
}

describe('loading', () => {
  test('each packaged variant loads and reports its validation level', async () => {
    expect(VARIANTS).toEqual(['default', 'dev', 'unsafe']);
    const seen = {};
    for (const variant of [...VARIANTS, 'external']) {
      const z = await ZeeAlloc.create({ variant });
      seen[variant] = [z.variant, z.config.validation];
    }
    expect(seen).toEqual({
      default: ['default', 'external'],
      dev: ['dev', 'dev'],
      unsafe: ['unsafe', 'unsafe'],
      external: ['default', 'external'],
    });
  });

  test('caller-supplied bytes, Buffer, ArrayBuffer, WebAssembly.Module, URL and path all load', async () => {
    const url = wasmURL('dev');
    const buffer = await readFile(url);
    const arrayBuffer = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
    const module = await ZeeAlloc.compile('dev');
    expect(Object.prototype.toString.call(module)).toBe('[object WebAssembly.Module]');
    for (const wasm of [buffer, new Uint8Array(buffer), arrayBuffer, module, url, url.href, fileURLToPath(url)]) {
      const z = await ZeeAlloc.create({ wasm });
      expect(z.variant).toBe('custom');
      expect(z.config).toEqual({ validation: 'dev', threads: false });
      const p = z.malloc(100);
      expect(p % 16).toBe(0);
      z.free(p);
      expect(z.check()).toBe(0);
    }
  });

  test('initialPages and maximumPages size the instance memory', async () => {
    const z = await ZeeAlloc.create({ initialPages: 7, maximumPages: 9 });
    expect(z.memoryPages).toBe(7);
    expect(z.memoryBytes).toBe(7 * PAGE_SIZE);
    expect(z.malloc(10 * PAGE_SIZE)).toBe(0);
    expect(z.errno).toBe(ENOMEM);
    expect(z.memoryPages).toBeLessThanOrEqual(9);
    const p = z.malloc(100); // still works after the failure
    expect(p).not.toBe(0);
    expect(z.check()).toBe(0);
  });
});

describe('independent instances', () => {
  test('two instances never share a heap: same addresses, separate bytes, separate state', async () => {
    const a = await ZeeAlloc.create();
    const b = await ZeeAlloc.create();
    expect(a.memory).not.toBe(b.memory);
    expect(a.memory.buffer).not.toBe(b.memory.buffer);
    const pa = a.allocString('a'.repeat(300));
    const pb = b.allocString('b'.repeat(300));
    expect(pa).toBe(pb); // fresh heaps lay out the same way...
    expect(a.readString(pa)).toBe('a'.repeat(300)); // ...but do not share bytes
    expect(b.readString(pb)).toBe('b'.repeat(300));
    a.free(pa);
    expect(a.stats().usedBlocks).toBe(0);
    expect(b.stats().usedBlocks).toBe(1);
    expect(() => b.free(pb)).not.toThrow(); // b's block is still live in b
    expect(() => a.free(pa)).toThrow(ZeeFaultError); // a's was freed once
  });
});

describe('byte and string helpers', () => {
  let z;
  beforeEach(async () => {
    z = await ZeeAlloc.create();
  });
  afterEach(() => {
    expect(z.check()).toBe(0);
  });

  test('allocBytes copies typed arrays, ArrayBuffers, arrays of bytes and strings', () => {
    const cases = [
      [new Uint8Array([1, 2, 3]), [1, 2, 3]],
      [new Uint16Array([0x0201, 0x0403]), [1, 2, 3, 4]],
      [new Uint8Array([9, 8, 7]).buffer, [9, 8, 7]],
      [new DataView(new Uint8Array([5, 6, 7, 8]).buffer, 1, 2), [6, 7]],
      [
        [0, 255, 128],
        [0, 255, 128],
      ],
      ['hé', [0x68, 0xc3, 0xa9]],
    ];
    for (const [input, bytes] of cases) {
      const p = z.allocBytes(input);
      expect(z.usableSize(p)).toBeGreaterThanOrEqual(bytes.length);
      expect(Array.from(z.readBytes(p, bytes.length))).toEqual(bytes);
      z.free(p);
    }
  });

  test('readBytes returns a copy that survives free and growth; bytes() is a live view', () => {
    const p = z.allocBytes([1, 2, 3, 4]);
    const copy = z.readBytes(p, 4);
    const live = z.bytes(p, 4);
    z.HEAPU8[p] = 99;
    expect(copy[0]).toBe(1);
    expect(live[0]).toBe(99);
    z.free(p);
    const big = z.malloc(8 << 20); // forces growth: old buffers detach
    expect(big).not.toBe(0);
    expect(live.length).toBe(0);
    expect(Array.from(copy)).toEqual([1, 2, 3, 4]);
    z.free(big);
  });

  test('writeBytes writes at an address and returns the count', () => {
    const p = z.malloc(16);
    expect(z.writeBytes(p + 2, [7, 7, 7])).toBe(3);
    expect(Array.from(z.readBytes(p + 1, 5))).toEqual([z.HEAPU8[p + 1], 7, 7, 7, z.HEAPU8[p + 5]]);
    z.free(p);
  });

  test('strings: UTF-8 with a NUL, by length or up to the NUL, emoji included', () => {
    const text = 'zee 🐝 ä\u0000tail';
    const p = z.allocString(text);
    const n = ZeeAlloc.utf8Length(text);
    expect(n).toBe(new TextEncoder().encode(text).length);
    expect(z.HEAPU8[p + n]).toBe(0);
    expect(z.readString(p)).toBe('zee 🐝 ä'); // stops at the embedded NUL
    expect(z.readString(p, n)).toBe(text);
    z.free(p);
  });

  test('writeString never splits a character and always writes the NUL', () => {
    const p = z.malloc(16);
    expect(z.writeString(p, 'ééé', 4)).toBe(2); // 3 bytes of room: one é fits
    expect(z.readString(p)).toBe('é');
    expect(z.writeString(p, 'abc', 16)).toBe(3);
    expect(z.readString(p)).toBe('abc');
    z.free(p);
  });
});

describe('views after growth', () => {
  test('HEAPU8, HEAPU32, HEAPF64 and dataView are fresh after the memory grows', async () => {
    const z = await ZeeAlloc.create({ initialPages: 4 });
    const before = z.HEAPU8;
    expect(z.HEAPU8).toBe(before); // cached while the memory is unchanged
    const p = z.malloc(2 << 20);
    expect(z.memoryBytes).toBeGreaterThan(2 << 20);
    expect(before.length).toBe(0); // the old view is detached
    for (const view of [z.HEAPU8, z.HEAP8, z.HEAPU16, z.HEAP16, z.HEAPU32, z.HEAP32, z.HEAPF32, z.HEAPF64]) {
      expect(view.byteLength).toBe(z.memoryBytes);
    }
    z.HEAPF64[(p + 8) / 8] = 1.5;
    expect(z.dataView.getFloat64(p + 8, true)).toBe(1.5);
    z.HEAPU32[(p + (2 << 20) - 4) / 4] = 0xdeadbeef;
    expect(z.dataView.getUint32(p + (2 << 20) - 4, true)).toBe(0xdeadbeef);
    z.free(p);
  });
});

describe('stats and the inspector', () => {
  test('stats() counts blocks and bytes in use and agrees with snapshot() and validate()', async () => {
    const z = await ZeeAlloc.create();
    const small = z.malloc(100); // exact-size blocks: 100..115 usable bytes
    const large = z.malloc(100000);
    expect(z.usableSize(small)).toBeGreaterThanOrEqual(100);
    expect(z.usableSize(small)).toBeLessThanOrEqual(115);
    expect(z.usableSize(large)).toBeGreaterThanOrEqual(100000);
    expect(z.usableSize(large)).toBeLessThanOrEqual(100015);
    let s = z.stats();
    expect(s.usedBlocks).toBe(2);
    expect(s.usedBytes).toBe(z.usableSize(small) + z.usableSize(large));
    expect(s.memoryBytes).toBe(z.memoryBytes);
    expect(s.memoryPages).toBe(z.memoryPages);
    expect(z.snapshot().totals.usedBytes).toBe(s.usedBytes);
    expect(z.validate()).toEqual({ ok: true, violations: [] });
    expect(z.renderText()).toMatch(/^zee_alloc heap /);
    expect(z.renderSVG()).toMatch(/^<svg[\s>]/);
    z.free(small);
    z.free(large);
    s = z.stats();
    expect(s.usedBlocks).toBe(0);
    expect(s.usedBytes).toBe(0);
  });

  test.each([
    [120, 'ZEE_C_FRAME'], // 128 B: a frame
    [100, 'ZEE_C_SLAB'], // 112 B: a slot in a slab
  ])('validate() names the rule a damaged header breaks: malloc(%d), %s', async (n, rule) => {
    const z = await ZeeAlloc.create({ variant: 'unsafe' });
    const p = z.malloc(n);
    z.HEAPU32[(p - 4) >>> 2] ^= 1; // flip a bit of the check word
    const r = z.validate();
    expect(r.ok).toBe(false);
    expect(r.violations[0]).toMatchObject({ rule, address: p });
    await expectCode(() => z.assertHeap(), rule);
  });
});

describe('errors are ZeeAllocError with a code', () => {
  test('bad create() options', async () => {
    await expectCode(() => ZeeAlloc.create({ variant: 'fast' }), 'ZEE_BAD_OPTION');
    await expectCode(() => ZeeAlloc.create({ initialPages: 2 }), 'ZEE_BAD_OPTION');
    await expectCode(() => ZeeAlloc.create({ initialPages: 4.5 }), 'ZEE_BAD_OPTION');
    await expectCode(() => ZeeAlloc.create({ maximumPages: 65537 }), 'ZEE_BAD_OPTION');
    await expectCode(() => ZeeAlloc.create({ initialPages: 8, maximumPages: 5 }), 'ZEE_BAD_OPTION');
    await expectCode(() => ZeeAlloc.create({ wasm: 42 }), 'ZEE_BAD_OPTION');
    await expectCode(() => ZeeAlloc.create('dev'), 'ZEE_BAD_OPTION');
    const typo = await expectCode(() => ZeeAlloc.create({ initialPage: 8 }), 'ZEE_BAD_OPTION');
    expect(typo.message).toMatch(/unknown create\(\) option "initialPage"/);
  });

  test('a missing, invalid or foreign module', async () => {
    const missing = await expectCode(() => ZeeAlloc.create({ wasm: '/nonexistent/zee.wasm' }), 'ZEE_LOAD_FAILED');
    expect(missing.message).toMatch(/nonexistent/);
    await expectCode(() => ZeeAlloc.create({ wasm: new Uint8Array([1, 2, 3, 4]) }), 'ZEE_BAD_WASM');
    const empty = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]); // a valid, empty module
    const foreign = await expectCode(() => ZeeAlloc.create({ wasm: empty }), 'ZEE_BAD_WASM');
    expect(foreign.message).toMatch(/missing exports: malloc/);
    // Every export the wrapper calls, but a memory of its own: the wrapper's
    // views would never see its heap.
    const own = await expectCode(() => ZeeAlloc.create({ wasm: moduleWithOwnMemory() }), 'ZEE_BAD_WASM');
    expect(own.message).toMatch(/does not import its memory as env\.memory/);
  });

  test('arguments that are not u32 are rejected instead of wrapping', async () => {
    const z = await ZeeAlloc.create();
    for (const bad of [-1, 1.5, NaN, 2 ** 32, '8', null, undefined, 8n]) {
      await expectCode(() => z.malloc(bad), 'ZEE_BAD_ARGUMENT');
    }
    await expectCode(() => z.free(-16), 'ZEE_BAD_ARGUMENT');
    await expectCode(() => z.calloc(1, -1), 'ZEE_BAD_ARGUMENT');
    await expectCode(() => z.allocString(42), 'ZEE_BAD_ARGUMENT');
    await expectCode(() => z.allocBytes({ length: 3 }), 'ZEE_BAD_ARGUMENT');
    await expectCode(() => z.allocBytes([1, 256]), 'ZEE_BAD_ARGUMENT');
    expect(z.check()).toBe(0);
  });

  test('reads and writes past the end of memory', async () => {
    const z = await ZeeAlloc.create();
    await expectCode(() => z.readBytes(z.memoryBytes - 2, 4), 'ZEE_OUT_OF_BOUNDS');
    await expectCode(() => z.writeBytes(z.memoryBytes, [1]), 'ZEE_OUT_OF_BOUNDS');
    await expectCode(() => z.bytes(z.memoryBytes + 1, 0), 'ZEE_OUT_OF_BOUNDS');
    z.HEAPU8.fill(1, z.memoryBytes - 8); // no NUL until the end
    await expectCode(() => z.readString(z.memoryBytes - 8), 'ZEE_OUT_OF_BOUNDS');
  });

  test('checked builds throw ZeeFaultError with the fault code and pointer', async () => {
    const z = await ZeeAlloc.create({ variant: 'dev' });
    const p = z.malloc(64);
    const interior = await expectCode(() => z.free(p + 16), 'ZEE_E_HEADER', ZeeFaultError);
    expect(interior.ptr).toBe(p + 16);
    await expectCode(() => z.free(p + 4), 'ZEE_E_POINTER', ZeeFaultError);
    z.free(p);
    const twice = await expectCode(() => z.free(p), 'ZEE_E_DOUBLE_FREE', ZeeFaultError);
    expect(twice.name).toBe('ZeeFaultError');
    expect(z.check()).toBe(0);
  });

  test('allocBytes and allocString throw ZeeOutOfMemoryError at the memory cap; malloc returns 0', async () => {
    const z = await ZeeAlloc.create({ initialPages: 4, maximumPages: 8 });
    expect(z.malloc(1 << 20)).toBe(0);
    const e = await expectCode(() => z.allocBytes(new Uint8Array(1 << 20)), 'ZEE_ENOMEM', ZeeOutOfMemoryError);
    expect(e.size).toBe(1 << 20);
    await expectCode(() => z.allocString('x'.repeat(1 << 20)), 'ZEE_ENOMEM', ZeeOutOfMemoryError);
    expect(z.check()).toBe(0);
  });
});
