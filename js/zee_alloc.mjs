// zee_alloc's JS wrapper: loads dist/zee_alloc.wasm (Node or browser) and
// exposes the allocator with typed-array views that follow memory growth.

const PAGE = 65536;
// The modules are linked with -sINITIAL_MEMORY=196608 (scripts/build.mjs):
// data and a 64 KiB stack fit in 3 pages, the heap starts above them.
const MIN_PAGES = 3;

/** Names of the faults a checked build reports (src/zee_alloc.h). */
export const FAULTS = {
  1: ['ZEE_E_POINTER', 'pointer not from this heap (misaligned or out of bounds)'],
  2: ['ZEE_E_HEADER', 'invalid header at ptr-8 (never allocated, interior pointer, or header overwritten)'],
  3: ['ZEE_E_DOUBLE_FREE', 'double free'],
  4: ['ZEE_E_INTERNAL', 'internal invariant broken'],
};

/** Names of zee_check() results (src/zee_alloc.h). */
export const CHECKS = {
  0: 'ZEE_C_OK', 16: 'ZEE_C_SPAN', 17: 'ZEE_C_SPAN_MERGE', 18: 'ZEE_C_PAGE',
  19: 'ZEE_C_OVERLAP', 20: 'ZEE_C_FRAME', 21: 'ZEE_C_COUNT', 22: 'ZEE_C_BUDDY',
  23: 'ZEE_C_JUMBO', 24: 'ZEE_C_LIST', 25: 'ZEE_C_LIST_COUNT',
};

/** Every error this module throws: `code` names the failure. */
export class ZeeAllocError extends Error {
  constructor(message, code, ptr) {
    super(message);
    this.name = 'ZeeAllocError';
    this.code = code;
    if (ptr !== undefined) this.ptr = ptr;
  }
}

/** A checked build found a bad pointer or a damaged heap. */
export class ZeeFaultError extends ZeeAllocError {
  constructor(fault, ptr) {
    const [code, what] = FAULTS[fault] || ['ZEE_E_UNKNOWN', `fault ${fault}`];
    super(`zee_alloc: ${what} at 0x${ptr.toString(16)}`, code, ptr);
    this.name = 'ZeeFaultError';
    this.fault = fault;
  }
}

const VARIANT_FILES = {
  default: 'zee_alloc.wasm',
  external: 'zee_alloc.wasm',
  dev: 'zee_alloc.dev.wasm',
  unsafe: 'zee_alloc.unsafe.wasm',
};

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

async function loadBytes(variant) {
  const file = VARIANT_FILES[variant];
  if (!file) throw new ZeeAllocError(`unknown variant "${variant}"`, 'ZEE_BAD_OPTION');
  const url = new URL(`../dist/${file}`, import.meta.url);
  if (isNode && url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return readFile(url);
  }
  return url;
}

async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof URL || typeof source === 'string') {
    const response = fetch(source);
    if (WebAssembly.compileStreaming) {
      try {
        return await WebAssembly.compileStreaming(response);
      } catch (e) {
        // Served without application/wasm: fall back to bytes.
      }
    }
    return WebAssembly.compile(await (await response).arrayBuffer());
  }
  return WebAssembly.compile(source);
}

/**
 * One independent zee_alloc heap in its own wasm instance.
 * Create with `await ZeeAlloc.create(options)`.
 */
export class ZeeAlloc {
  /**
   * @param {object} [options]
   * @param {'default'|'dev'|'unsafe'} [options.variant] validation level build
   * @param {number} [options.initialPages] initial memory in 64 KiB pages
   * @param {number} [options.maximumPages] memory cap in pages (OOM beyond it)
   * @param {BufferSource|WebAssembly.Module|URL|string} [options.wasm] module
   *        bytes, a compiled module, or a URL to fetch (default: the package's
   *        own dist/ file)
   */
  static async create(options = {}) {
    const module = await compile(options.wasm ?? (await loadBytes(options.variant ?? 'default')));
    const initial = Math.max(options.initialPages ?? 4, MIN_PAGES);
    const maximum = options.maximumPages ?? 65536;
    if (!(maximum >= initial)) throw new ZeeAllocError(`maximumPages (${maximum}) is below the module's ${initial} pages`, 'ZEE_BAD_OPTION');
    const memory = new WebAssembly.Memory({ initial, maximum });
    const self = new ZeeAlloc(memory);
    const instance = await WebAssembly.instantiate(module, {
      env: {
        memory,
        zee_fault: (code, ptr) => { throw new ZeeFaultError(code, ptr >>> 0); },
        emscripten_notify_memory_growth: () => {},
      },
    });
    self._bind(instance.exports);
    return self;
  }

  constructor(memory) {
    this.memory = memory;
    this._u8 = null;
  }

  _bind(exports) {
    this.exports = exports;
    exports._initialize?.();
  }

  // ---- views ----------------------------------------------------------
  /** Bytes of the whole heap; a fresh view whenever memory has grown. */
  get HEAPU8() {
    if (!this._u8 || this._u8.buffer !== this.memory.buffer) this._u8 = new Uint8Array(this.memory.buffer);
    return this._u8;
  }
  get HEAPU32() {
    if (!this._u32 || this._u32.buffer !== this.memory.buffer) this._u32 = new Uint32Array(this.memory.buffer);
    return this._u32;
  }
  get HEAP32() {
    if (!this._i32 || this._i32.buffer !== this.memory.buffer) this._i32 = new Int32Array(this.memory.buffer);
    return this._i32;
  }
  /** A view of `length` bytes at `ptr`; re-take it after any allocation. */
  bytes(ptr, length) { return new Uint8Array(this.memory.buffer, ptr, length); }
  /** Memory size in bytes. */
  get memoryBytes() { return this.memory.buffer.byteLength; }

  // ---- allocation -----------------------------------------------------
  malloc(size) { return this.exports.malloc(size >>> 0) >>> 0; }
  free(ptr) { this.exports.free(ptr >>> 0); }
  calloc(count, size) { return this.exports.calloc(count >>> 0, size >>> 0) >>> 0; }
  realloc(ptr, size) { return this.exports.realloc(ptr >>> 0, size >>> 0) >>> 0; }
  /** aligned_alloc: align must be a power of two; 0 on failure. */
  alignedAlloc(align, size) { return this.exports.aligned_alloc(align >>> 0, size >>> 0) >>> 0; }
  memalign(align, size) { return this.exports.memalign(align >>> 0, size >>> 0) >>> 0; }
  /** posix_memalign: returns { ptr, error } with error 0, EINVAL (28) or ENOMEM (48). */
  posixMemalign(align, size) {
    const out = this.exports.malloc(4) >>> 0;
    if (!out) return { ptr: 0, error: 48 };
    this.HEAPU32[out >>> 2] = 0;
    const error = this.exports.posix_memalign(out, align >>> 0, size >>> 0);
    const ptr = this.HEAPU32[out >>> 2];
    this.exports.free(out);
    return { ptr, error };
  }
  usableSize(ptr) { return this.exports.malloc_usable_size(ptr >>> 0) >>> 0; }
  /** errno as left by the last failing call (ENOMEM = 48, EINVAL = 28). */
  get errno() { return this.HEAP32[this.exports.__errno_location() >>> 2]; }
  set errno(v) { this.HEAP32[this.exports.__errno_location() >>> 2] = v; }
  /** zee_check(): 0, or the code of the first broken rule. */
  check() { return this.exports.zee_check(); }
  /** Throws a ZeeAllocError naming the broken rule unless the heap is sound. */
  assertHeap() {
    const r = this.check();
    if (r) throw new ZeeAllocError(`zee_alloc: heap check failed: ${CHECKS[r] || r}`, CHECKS[r] || 'ZEE_C_UNKNOWN');
  }
  /** Address of the allocator's state (zee_heap_info_t), for inspectors. */
  get stateAddress() { return this.exports.zee_heap_info() >>> 0; }
  /** Gives the kept-back empty page to the free spans. */
  trim() { this.exports.zee_trim(); }
}

export const ENOMEM = 48;
export const EINVAL = 28;
export const PAGE_SIZE = PAGE;

export default ZeeAlloc;
