// zee_alloc's JS wrapper: loads the prebuilt .wasm (Node, browsers, bundlers,
// workers) and exposes one independent heap per ZeeAlloc instance, with
// typed-array views that follow memory growth, byte/string helpers, O(1)
// stats read from the allocator's running totals, and the heap inspector
// (js/inspect.mjs, loaded by create(): the data flows from this wrapper to the
// inspector, never the other way).  docs/js-api.md is the reference.
//
// dist/cjs/zee_alloc.cjs is generated from this file by
// scripts/build-commonjs.mjs: edit this file, never the output.  Keep it plain
// ESM without top-level await.
import { LAYOUT, STATE, FAULTS, CHECK_CODES, decodeConfig } from './layout.mjs';

const PAGE = LAYOUT.PAGE_SIZE;
// The packaged modules are linked with -sINITIAL_MEMORY=196608
// (scripts/build.mjs): data and a 64 KiB stack fit in 3 pages.
const MIN_PAGES = 3;
const MAX_PAGES = 65536;
const DEFAULT_INITIAL_PAGES = 4;

/** errno values (Emscripten's musl). */
export const ENOMEM = 48;
export const EINVAL = 28;
export const PAGE_SIZE = PAGE;

/** Faults a checked build reports: number -> [code, description] (js/layout.mjs). */
export { FAULTS };

/** zee_check() results: number -> name (js/layout.mjs CHECK_CODES). */
export const CHECKS = CHECK_CODES;

/** The validation levels shipped in the package, one .wasm build each. */
export const VARIANTS = Object.freeze(['default', 'dev', 'unsafe']);

/** Every error this module throws: `code` names the failure. */
export class ZeeAllocError extends Error {
  constructor(message, code, details = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'ZeeAllocError';
    this.code = code;
    if (details.ptr !== undefined) this.ptr = details.ptr;
  }
}

/** A checked build found a bad pointer or a damaged heap (code ZEE_E_*). */
export class ZeeFaultError extends ZeeAllocError {
  constructor(fault, ptr) {
    const [code, what] = FAULTS[fault] || ['ZEE_E_UNKNOWN', `fault ${fault}`];
    super(`zee_alloc: ${what} at 0x${ptr.toString(16)}`, code, { ptr });
    this.name = 'ZeeFaultError';
    this.fault = fault;
  }
}

/** A helper (allocBytes, allocString) could not get memory (code ZEE_ENOMEM). */
export class ZeeOutOfMemoryError extends ZeeAllocError {
  constructor(size) {
    super(`zee_alloc: out of memory allocating ${size} bytes`, 'ZEE_ENOMEM');
    this.name = 'ZeeOutOfMemoryError';
    this.size = size;
  }
}

// Literal `new URL(..., import.meta.url)` per file, so that bundlers that
// understand the pattern (webpack 5, Vite, Parcel) see and copy each asset.
const WASM_URLS = {
  default: () => new URL('../dist/zee_alloc.wasm', import.meta.url),
  dev: () => new URL('../dist/zee_alloc.dev.wasm', import.meta.url),
  unsafe: () => new URL('../dist/zee_alloc.unsafe.wasm', import.meta.url),
};
const VARIANT_ALIASES = { external: 'default' };

/** The URL of the packaged .wasm for a validation variant. */
export function wasmURL(variant = 'default') {
  const name = VARIANT_ALIASES[variant] ?? variant;
  if (!Object.prototype.hasOwnProperty.call(WASM_URLS, name)) {
    throw new ZeeAllocError(
      `zee_alloc: unknown variant ${JSON.stringify(variant)} (expected one of ${VARIANTS.join(', ')})`,
      'ZEE_BAD_OPTION',
    );
  }
  return WASM_URLS[name]();
}

const badOption = (message) => new ZeeAllocError(`zee_alloc: ${message}`, 'ZEE_BAD_OPTION');
const badArgument = (message) => new ZeeAllocError(`zee_alloc: ${message}`, 'ZEE_BAD_ARGUMENT');

// Why: `x >>> 0` would silently turn -1 into 4 GiB - 1 and 1.5 into 1.
function u32(value, what) {
  if (typeof value !== 'number' || value >>> 0 !== value)
    throw badArgument(`${what} must be an integer in [0, 2^32), got ${describe(value)}`);
  return value;
}

// A short, safe rendering of a bad value for error messages.
function describe(value) {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Object.prototype.toString.call(value);
}

function pagesOption(value, name, min) {
  if (!Number.isInteger(value) || value < min || value > MAX_PAGES) {
    throw badOption(
      `${name} must be an integer number of 64 KiB pages in [${min}, ${MAX_PAGES}], got ${describe(value)}`,
    );
  }
  return value;
}

// Why: file: URLs cannot be fetched in Node; read them from disk instead.
async function readFileURL(url) {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(url);
  } catch (cause) {
    throw new ZeeAllocError(`zee_alloc: cannot read ${url.href}: ${cause.message}`, 'ZEE_LOAD_FAILED', { cause });
  }
}

// Brand checks, not instanceof: sources may come from another realm (a
// worker, an iframe, a test sandbox).
const tag = (x) => Object.prototype.toString.call(x);
const isModule = (x) => tag(x) === '[object WebAssembly.Module]';
const isBytes = (x) =>
  ArrayBuffer.isView(x) || tag(x) === '[object ArrayBuffer]' || tag(x) === '[object SharedArrayBuffer]';
const isResponse = (x) =>
  !!x && typeof x === 'object' && typeof x.arrayBuffer === 'function' && typeof x.ok === 'boolean';

const hasScheme = (s) => /^[a-z][a-z0-9+.-]*:/i.test(s) && !/^[a-z]:[\\/]/i.test(s);
const baseURL = () => (typeof location !== 'undefined' && location.href) || undefined;

// Turns options.wasm (or the packaged URL) into bytes, a Module or a Response.
async function resolveSource(source) {
  if (isModule(source) || isBytes(source)) return source;
  if (typeof source === 'string') {
    if (!hasScheme(source) && typeof process === 'object' && process.versions?.node) {
      const { pathToFileURL } = await import('node:url');
      source = pathToFileURL(source);
    } else {
      source = new URL(source, baseURL());
    }
  }
  if (source instanceof URL || tag(source) === '[object URL]') {
    source = new URL(source.href);
    if (source.protocol === 'file:') return readFileURL(source);
    try {
      return await fetch(source);
    } catch (cause) {
      throw new ZeeAllocError(`zee_alloc: cannot fetch ${source.href}: ${cause.message}`, 'ZEE_LOAD_FAILED', { cause });
    }
  }
  if (source && typeof source.then === 'function') return resolveSource(await source);
  if (isResponse(source)) return source;
  throw badOption(
    `wasm must be a WebAssembly.Module, an ArrayBuffer or typed array, a URL, a path, or a Response, got ${describe(source)}`,
  );
}

// Streams the module when it is served as application/wasm; otherwise (wrong
// MIME type, no streaming support) compiles the downloaded bytes.
async function instantiateResponse(response, imports) {
  if (!response.ok) {
    throw new ZeeAllocError(
      `zee_alloc: fetching ${response.url || 'the wasm module'} failed: HTTP ${response.status}`,
      'ZEE_LOAD_FAILED',
    );
  }
  if (typeof WebAssembly.instantiateStreaming === 'function') {
    try {
      return await WebAssembly.instantiateStreaming(response.clone(), imports);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e; // TypeError: not application/wasm
    }
  }
  return WebAssembly.instantiate(await response.arrayBuffer(), imports);
}

// Returns { module, instance } whatever the source is.
async function instantiateSource(source, imports) {
  const resolved = await resolveSource(source);
  if (isModule(resolved)) return { module: resolved, instance: await WebAssembly.instantiate(resolved, imports) };
  if (isBytes(resolved)) return WebAssembly.instantiate(resolved, imports);
  return instantiateResponse(resolved, imports);
}

// Compiled packaged modules, one per variant: later instances skip the fetch.
const moduleCache = new Map();

// Returns { module, instance } for a packaged variant.
async function instantiatePackaged(variant, imports) {
  const cached = moduleCache.get(variant);
  if (cached) {
    const module = await cached;
    return { module, instance: await WebAssembly.instantiate(module, imports) };
  }
  const result = instantiateSource(wasmURL(variant), imports);
  const module = result.then((r) => r.module);
  moduleCache.set(variant, module);
  module.catch(() => moduleCache.delete(variant)); // a failed load may be retried
  return result;
}

// Why: a CompileError or LinkError should say which option or file is wrong.
function wrapLoadError(e, what) {
  if (e instanceof ZeeAllocError) return e;
  if (e instanceof WebAssembly.CompileError)
    return new ZeeAllocError(`zee_alloc: ${what} is not a valid wasm module: ${e.message}`, 'ZEE_BAD_WASM', {
      cause: e,
    });
  if (e instanceof WebAssembly.LinkError)
    return new ZeeAllocError(
      `zee_alloc: ${what} does not link (is it a zee_alloc module, and is initialPages large enough?): ${e.message}`,
      'ZEE_BAD_WASM',
      { cause: e },
    );
  return new ZeeAllocError(`zee_alloc: loading ${what} failed: ${e && e.message}`, 'ZEE_LOAD_FAILED', { cause: e });
}

// The inspector, loaded by the first create() (shared by all instances) so
// that snapshot() and validate() can stay synchronous.  Nothing else in this
// file needs it: stats() reads the allocator's own totals.
let inspectorPromise = null;
function loadInspector() {
  inspectorPromise ??= import('./inspect.mjs').then(
    (module) => ({ module }),
    (error) => ({ error }),
  );
  return inspectorPromise;
}

// Why: a misspelt option (initialPage) must not be silently ignored.
const CREATE_OPTIONS = ['variant', 'initialPages', 'maximumPages', 'wasm'];

// What the wrapper calls (scripts/build.mjs exports them all).
const REQUIRED_EXPORTS = [
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

// Does the module report faults through the wrapper's env.zee_fault (which
// throws a ZeeFaultError and leaves the heap as it was)?  A module built
// without it traps or aborts on a bad pointer instead.
const importsFaultHook = (module) =>
  WebAssembly.Module.imports(module).some((i) => i.module === 'env' && i.name === 'zee_fault');

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8');
const hex = (n) => `0x${n.toString(16)}`;

/**
 * One independent zee_alloc heap in its own wasm instance and memory.
 * Create with `await ZeeAlloc.create(options)`.  Every public method is bound
 * to its instance, so `const { malloc, free } = z` works.
 */
export class ZeeAlloc {
  /**
   * @param {object} [options]
   * @param {'default'|'external'|'dev'|'unsafe'} [options.variant] validation
   *        level: each is a separate .wasm build (default: 'default' =
   *        external, checks the pointers given to free/realloc/usableSize)
   * @param {number} [options.initialPages] initial memory in 64 KiB pages (4)
   * @param {number} [options.maximumPages] memory cap in pages; allocations
   *        beyond it fail with NULL / ENOMEM (65536 = 4 GiB)
   * @param {BufferSource|WebAssembly.Module|URL|string|Response|Promise<Response>} [options.wasm]
   *        the module to run instead of the packaged one: bytes, a compiled
   *        module (e.g. from a bundler or posted to a worker), a URL or path
   */
  static async create(options = {}) {
    if (options === null || typeof options !== 'object')
      throw badOption(`create() options must be an object, got ${describe(options)}`);
    const unknown = Object.keys(options).filter((k) => !CREATE_OPTIONS.includes(k));
    if (unknown.length)
      throw badOption(
        `unknown create() option ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected ${CREATE_OPTIONS.join(', ')})`,
      );
    const custom = options.wasm !== undefined;
    const requested = options.variant ?? 'default';
    const variant = VARIANT_ALIASES[requested] ?? requested;
    if (!custom) wasmURL(variant); // validates the name
    const initial = pagesOption(options.initialPages ?? DEFAULT_INITIAL_PAGES, 'initialPages', custom ? 1 : MIN_PAGES);
    const maximum = pagesOption(options.maximumPages ?? MAX_PAGES, 'maximumPages', 1);
    if (maximum < initial) throw badOption(`maximumPages (${maximum}) is below initialPages (${initial})`);

    const memory = new WebAssembly.Memory({ initial, maximum });
    const imports = {
      env: {
        memory,
        zee_fault: (code, ptr) => {
          throw new ZeeFaultError(code, ptr >>> 0);
        },
        emscripten_notify_memory_growth: () => {},
      },
    };
    const inspector = loadInspector();
    let loaded;
    try {
      loaded = custom ? await instantiateSource(options.wasm, imports) : await instantiatePackaged(variant, imports);
    } catch (e) {
      throw wrapLoadError(e, custom ? 'options.wasm' : `the packaged ${variant} module`);
    }
    const { module, instance } = loaded;
    const missing = REQUIRED_EXPORTS.filter((name) => typeof instance.exports[name] !== 'function');
    if (missing.length)
      throw new ZeeAllocError(
        `zee_alloc: options.wasm is not a zee_alloc module (missing exports: ${missing.join(', ')})`,
        'ZEE_BAD_WASM',
      );
    // Why: a module with a memory of its own would allocate in memory that
    // the views, helpers and stats() of this wrapper never see.
    if (
      !WebAssembly.Module.imports(module).some((i) => i.module === 'env' && i.name === 'memory' && i.kind === 'memory')
    ) {
      throw new ZeeAllocError(
        'zee_alloc: options.wasm does not import its memory as env.memory (link it with -sIMPORTED_MEMORY=1)',
        'ZEE_BAD_WASM',
      );
    }
    const z = new ZeeAlloc(memory, instance.exports, custom ? 'custom' : variant);
    z._faultHook = importsFaultHook(module);
    z._inspector = await inspector;
    return z;
  }

  /**
   * Compiles a packaged variant once, e.g. to post the WebAssembly.Module to
   * workers, which then call `ZeeAlloc.create({ wasm: module })`.
   */
  static async compile(variant = 'default') {
    const url = wasmURL(variant);
    const source = await resolveSource(url);
    try {
      if (isResponse(source)) {
        if (!source.ok)
          throw new ZeeAllocError(`zee_alloc: fetching ${url.href} failed: HTTP ${source.status}`, 'ZEE_LOAD_FAILED');
        if (typeof WebAssembly.compileStreaming === 'function') {
          try {
            return await WebAssembly.compileStreaming(source.clone());
          } catch (e) {
            if (!(e instanceof TypeError)) throw e;
          }
        }
        return await WebAssembly.compile(await source.arrayBuffer());
      }
      return await WebAssembly.compile(source);
    } catch (e) {
      throw wrapLoadError(e, `the packaged ${variant} module`);
    }
  }

  /** Use ZeeAlloc.create(); the constructor is internal. */
  constructor(memory, exports, variant = 'custom') {
    if (!(memory instanceof WebAssembly.Memory) || !exports || typeof exports.malloc !== 'function') {
      throw badArgument('use `await ZeeAlloc.create(options)` to make a ZeeAlloc');
    }
    /** The instance's own WebAssembly.Memory. */
    this.memory = memory;
    /** The raw wasm exports (malloc, free, zee_check, ...). */
    this.exports = exports;
    /** 'default' | 'dev' | 'unsafe' | 'custom' (a caller-supplied module). */
    this.variant = variant;
    this._inspector = null;
    // Set by create() from the module's imports; a hand-made instance is
    // assumed to trap on bad pointers, so the write checks stay off.
    this._faultHook = false;
    this._state = 0; // address of zee_heap_info_t, read once
    // Why: `const { malloc, free } = z` must keep working, as it does for
    // Emscripten's Module functions.
    for (const name of BOUND_METHODS) {
      Object.defineProperty(this, name, {
        value: this[name].bind(this),
        writable: true,
        configurable: true,
        enumerable: false,
      });
    }
    exports._initialize?.();
  }

  // ---- views: re-created whenever the memory has grown -------------------
  _view(key, Type) {
    const buffer = this.memory.buffer;
    let view = this[key];
    if (!view || view.buffer !== buffer) this[key] = view = new Type(buffer);
    return view;
  }
  get HEAP8() {
    return this._view('_i8', Int8Array);
  }
  get HEAPU8() {
    return this._view('_u8', Uint8Array);
  }
  get HEAP16() {
    return this._view('_i16', Int16Array);
  }
  get HEAPU16() {
    return this._view('_u16', Uint16Array);
  }
  get HEAP32() {
    return this._view('_i32', Int32Array);
  }
  get HEAPU32() {
    return this._view('_u32', Uint32Array);
  }
  get HEAPF32() {
    return this._view('_f32', Float32Array);
  }
  get HEAPF64() {
    return this._view('_f64', Float64Array);
  }
  /** A DataView of the whole memory (little-endian like wasm). */
  get dataView() {
    return this._view('_dv', DataView);
  }
  /** A view of `length` bytes at `ptr`; take it again after any allocation. */
  bytes(ptr, length) {
    this._range(ptr, length, 'bytes');
    return new Uint8Array(this.memory.buffer, ptr, length);
  }
  /** Memory size in bytes. */
  get memoryBytes() {
    return this.memory.buffer.byteLength;
  }
  /** Memory size in 64 KiB pages. */
  get memoryPages() {
    return this.memory.buffer.byteLength / PAGE;
  }

  _range(ptr, length, what) {
    u32(ptr, `${what}: ptr`);
    u32(length, `${what}: length`);
    if (ptr + length > this.memory.buffer.byteLength) {
      throw new ZeeAllocError(
        `zee_alloc: ${what}: [${hex(ptr)}, +${length}) is outside the ${this.memory.buffer.byteLength}-byte memory`,
        'ZEE_OUT_OF_BOUNDS',
        { ptr },
      );
    }
  }

  // The usable size of the block that starts at `ptr`, when the module can
  // tell: a checked build (it answers malloc_usable_size for a live block's
  // start and faults for anything else) that reports faults through the
  // wrapper.  undefined for 0, for an unsafe build, and for any address that
  // is not a live block's start (an interior pointer, static data, the
  // stack): those writes are checked against the memory's bounds only.
  _blockSize(ptr) {
    if (!ptr || !this._faultHook || !this._checked()) return undefined;
    try {
      return this.exports.malloc_usable_size(ptr) >>> 0;
    } catch (e) {
      // Not a live block's start (malloc_usable_size only reads: the heap is
      // as it was).  ZEE_E_INTERNAL, a broken heap in a dev build, is raised.
      if (e instanceof ZeeFaultError && NOT_A_BLOCK.has(e.code)) return undefined;
      throw e;
    }
  }
  // Refuses to write `length` bytes at `ptr` past the end of its block.
  _fits(ptr, length, what, name) {
    const usable = this._blockSize(ptr);
    if (usable !== undefined && length > usable) {
      throw new ZeeAllocError(
        `zee_alloc: ${what}: ${name} ${length} exceeds the ${usable} usable bytes of the block at ${hex(ptr)}`,
        'ZEE_BAD_ARGUMENT',
        { ptr },
      );
    }
  }
  // Can malloc_usable_size be asked about any address?  Only in a checked
  // build, and not in a threaded one: it faults while holding its lock, and
  // the lock would stay held when the fault unwinds.
  _checked() {
    const base = this._stateBase();
    const heap = this.HEAPU32;
    if (heap[base + STATE.magic] !== LAYOUT.INFO_MAGIC || heap[base + STATE.layout] !== LAYOUT.VERSION) return false;
    const { validation, threads } = decodeConfig(heap[base + STATE.config]);
    return validation !== 'unsafe' && !threads;
  }

  // ---- the C allocation calls (0 = NULL, errno tells why) -------------------
  malloc(size) {
    return this.exports.malloc(u32(size, 'malloc: size')) >>> 0;
  }
  free(ptr) {
    this.exports.free(u32(ptr, 'free: ptr'));
  }
  calloc(count, size) {
    return this.exports.calloc(u32(count, 'calloc: count'), u32(size, 'calloc: size')) >>> 0;
  }
  realloc(ptr, size) {
    return this.exports.realloc(u32(ptr, 'realloc: ptr'), u32(size, 'realloc: size')) >>> 0;
  }
  /** aligned_alloc: align must be a power of two; 0 on failure. */
  alignedAlloc(align, size) {
    return this.exports.aligned_alloc(u32(align, 'alignedAlloc: align'), u32(size, 'alignedAlloc: size')) >>> 0;
  }
  memalign(align, size) {
    return this.exports.memalign(u32(align, 'memalign: align'), u32(size, 'memalign: size')) >>> 0;
  }
  /** posix_memalign: returns { ptr, error } with error 0, EINVAL (28) or ENOMEM (48). */
  posixMemalign(align, size) {
    u32(align, 'posixMemalign: align');
    u32(size, 'posixMemalign: size');
    // The C call writes its result through a pointer: a 4-byte scratch block,
    // freed however the call ends.
    const out = this.exports.malloc(4) >>> 0;
    if (!out) return { ptr: 0, error: ENOMEM };
    try {
      this.HEAPU32[out >>> 2] = 0;
      const error = this.exports.posix_memalign(out, align, size);
      return { ptr: error ? 0 : this.HEAPU32[out >>> 2], error };
    } finally {
      this.exports.free(out);
    }
  }
  /** malloc_usable_size: the bytes the block really holds (0 for NULL). */
  usableSize(ptr) {
    return this.exports.malloc_usable_size(u32(ptr, 'usableSize: ptr')) >>> 0;
  }
  /** errno as left by the last failing call (ENOMEM = 48, EINVAL = 28). */
  get errno() {
    return this.HEAP32[this.exports.__errno_location() >>> 2];
  }
  set errno(v) {
    this.HEAP32[this.exports.__errno_location() >>> 2] = v;
  }

  // ---- bytes and strings in and out ---------------------------------------
  /** Copies `data` into a new block; returns its address (free it with free()). */
  allocBytes(data) {
    let src = toBytes(data, 'allocBytes');
    const { length } = src;
    // malloc may grow the memory, which detaches every view of it: a source
    // that is a view of this heap is taken again after the call.
    const own = src.buffer === this.memory.buffer;
    const offset = src.byteOffset;
    const ptr = this.exports.malloc(length) >>> 0;
    if (!ptr) throw new ZeeOutOfMemoryError(length);
    try {
      if (own) src = new Uint8Array(this.memory.buffer, offset, length);
      this.HEAPU8.set(src, ptr);
    } catch (e) {
      this.exports.free(ptr);
      throw e;
    }
    return ptr;
  }
  /**
   * Copies `data` to `ptr`; returns the number of bytes written.  Refuses to
   * write past the end of the block when `ptr` is a live block's start in a
   * checked build.
   */
  writeBytes(ptr, data) {
    const src = toBytes(data, 'writeBytes');
    this._range(ptr, src.length, 'writeBytes');
    this._fits(ptr, src.length, 'writeBytes', 'data length');
    this.HEAPU8.set(src, ptr);
    return src.length;
  }
  /** A copy of `length` bytes at `ptr` (stays valid after growth and free). */
  readBytes(ptr, length) {
    this._range(ptr, length, 'readBytes');
    return this.HEAPU8.slice(ptr, ptr + length);
  }
  /** Encodes `str` as UTF-8 plus a NUL byte in a new block; returns its address. */
  allocString(str) {
    if (typeof str !== 'string') throw badArgument(`allocString: expected a string, got ${describe(str)}`);
    const encoded = textEncoder.encode(str);
    const ptr = this.exports.malloc(encoded.length + 1) >>> 0;
    if (!ptr) throw new ZeeOutOfMemoryError(encoded.length + 1);
    try {
      const heap = this.HEAPU8;
      heap.set(encoded, ptr);
      heap[ptr + encoded.length] = 0;
    } catch (e) {
      this.exports.free(ptr);
      throw e;
    }
    return ptr;
  }
  /**
   * Writes `str` as UTF-8 plus a NUL into the `capacity` bytes at `ptr`,
   * never splitting a character; returns the bytes written without the NUL.
   * Refuses a capacity past the end of the block when `ptr` is a live
   * block's start in a checked build.
   */
  writeString(ptr, str, capacity) {
    if (typeof str !== 'string') throw badArgument(`writeString: expected a string, got ${describe(str)}`);
    this._range(ptr, capacity, 'writeString');
    if (capacity < 1) throw badArgument('writeString: capacity must leave room for the NUL byte');
    this._fits(ptr, capacity, 'writeString', 'capacity');
    const { written } = textEncoder.encodeInto(str, this.HEAPU8.subarray(ptr, ptr + capacity - 1));
    this.HEAPU8[ptr + written] = 0;
    return written;
  }
  /** Decodes UTF-8 at `ptr`: up to the first NUL, or exactly `byteLength` bytes. */
  readString(ptr, byteLength) {
    const heap = this.HEAPU8;
    if (byteLength === undefined) {
      u32(ptr, 'readString: ptr');
      const end = ptr < heap.length ? heap.indexOf(0, ptr) : -1;
      if (end < 0)
        throw new ZeeAllocError(`zee_alloc: readString: no NUL byte after ${hex(ptr)}`, 'ZEE_OUT_OF_BOUNDS', { ptr });
      return textDecoder.decode(heap.subarray(ptr, end));
    }
    this._range(ptr, byteLength, 'readString');
    return textDecoder.decode(heap.subarray(ptr, ptr + byteLength));
  }
  /** The UTF-8 size of `str` in bytes, without a NUL. */
  static utf8Length(str) {
    if (typeof str !== 'string') throw badArgument(`utf8Length: expected a string, got ${describe(str)}`);
    return textEncoder.encode(str).length;
  }

  // ---- heap checks, state and inspection ----------------------------------
  /** zee_check(): 0, or the code of the first broken rule (CHECKS). O(heap). */
  check() {
    return this.exports.zee_check();
  }
  /** Throws a ZeeAllocError naming the broken rule unless the heap is sound. */
  assertHeap() {
    const r = this.check();
    if (r)
      throw new ZeeAllocError(
        `zee_alloc: heap check failed: ${CHECK_CODES[r] || r}`,
        CHECK_CODES[r] || 'ZEE_C_UNKNOWN',
      );
  }
  /** Address of the allocator's state (zee_heap_info_t), for inspectors. */
  get stateAddress() {
    if (!this._state) this._state = this.exports.zee_heap_info() >>> 0; // a static block: it never moves
    return this._state;
  }
  // The state block's index in HEAPU32, once its magic and layout version
  // are the ones js/layout.mjs describes.
  _stateBase() {
    return this.stateAddress >>> 2;
  }
  _stateWords(what) {
    const base = this._stateBase();
    const heap = this.HEAPU32;
    const magic = heap[base + STATE.magic],
      layout = heap[base + STATE.layout];
    if (magic !== LAYOUT.INFO_MAGIC || layout !== LAYOUT.VERSION) {
      throw new ZeeAllocError(
        magic !== LAYOUT.INFO_MAGIC
          ? `zee_alloc: ${what}: no zee_heap_info_t at ${hex(this.stateAddress)} (magic ${hex(magic)}, expected ${hex(LAYOUT.INFO_MAGIC)})`
          : `zee_alloc: ${what}: the module keeps layout version ${layout}, this wrapper reads version ${LAYOUT.VERSION}`,
        'ZEE_BAD_WASM',
      );
    }
    return heap.subarray(base, base + STATE_WORDS_USED);
  }
  /** The compile-time options of the running module: { validation, threads }. */
  get config() {
    return decodeConfig(this._stateWords('config')[STATE.config]);
  }
  /**
   * The allocator's running totals and the memory size.  O(1): a few words
   * of the state block, which every allocation call keeps up to date; it
   * never walks the heap (snapshot() does) and works without the inspector.
   */
  stats() {
    const s = this._stateWords('stats');
    const heapStart = s[STATE.heapStart],
      heapEnd = s[STATE.heapEnd];
    const heapBytes = heapEnd - heapStart;
    const memoryBytes = this.memory.buffer.byteLength;
    return {
      heapStart,
      heapEnd,
      heapBytes,
      // heapStart lies inside a page that it shares with static data (the
      // heap begins right above __heap_base), so heapBytes is not a whole
      // number of pages: count the pages the heap reaches into.
      pages: Math.ceil(heapBytes / PAGE),
      usedBytes: s[STATE.usedBytes],
      usedBlocks: s[STATE.usedBlocks],
      peakBytes: s[STATE.peakBytes],
      memoryBytes,
      memoryPages: memoryBytes / PAGE,
    };
  }

  _inspect(what) {
    const loaded = this._inspector;
    if (!loaded || loaded.error || typeof loaded.module[what] !== 'function') {
      const why = loaded?.error ? `: ${loaded.error.message}` : '';
      throw new ZeeAllocError(
        `zee_alloc: the inspector (zee-alloc/inspect) is not available${why}`,
        'ZEE_NO_INSPECTOR',
        { cause: loaded?.error },
      );
    }
    return loaded.module;
  }
  /** A snapshot of every block, free frame, slab and free list (zee-alloc/inspect). O(heap). */
  snapshot() {
    return this._inspect('snapshot').snapshot(this);
  }
  /** Layout problems found by the inspector; empty when the heap is sound. O(heap). */
  validate() {
    return this._inspect('validate').validate(this);
  }
  /** A text heap map of `snapshot` (default: a new one); options as zee-alloc/inspect renderText. */
  renderText(snapshot, options) {
    return this._inspect('renderText').renderText(snapshot ?? this.snapshot(), options);
  }
  /** A self-contained SVG heap map of `snapshot` (default: a new one); options as zee-alloc/inspect renderSVG. */
  renderSVG(snapshot, options) {
    return this._inspect('renderSVG').renderSVG(snapshot ?? this.snapshot(), options);
  }
}

// The faults malloc_usable_size raises for an address that is not a live
// block's start: outside the heap or misaligned, no valid header, a free block
// (a stale header left inside a live block looks like one).
const NOT_A_BLOCK = new Set(['ZEE_E_POINTER', 'ZEE_E_HEADER', 'ZEE_E_DOUBLE_FREE']);

// The words of zee_heap_info_t that stats() and config read (through peakBytes).
const STATE_WORDS_USED = STATE.peakBytes + 1;

// Every public method, bound to its instance by the constructor.
const BOUND_METHODS = Object.getOwnPropertyNames(ZeeAlloc.prototype).filter((name) => {
  const d = Object.getOwnPropertyDescriptor(ZeeAlloc.prototype, name);
  return name !== 'constructor' && !name.startsWith('_') && typeof d.value === 'function';
});

// Why: a view whose memory grew (or was transferred) has no bytes left, and
// copying it would silently copy nothing.
function isDetached(buffer) {
  if (buffer.byteLength !== 0) return false;
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

// Why: accept every byte source a JS caller is likely to have, and name the
// first element that is not a byte.
function toBytes(data, what) {
  if (typeof data === 'string') return textEncoder.encode(data);
  if (ArrayBuffer.isView(data) || isBytes(data)) {
    const buffer = ArrayBuffer.isView(data) ? data.buffer : data;
    if (isDetached(buffer)) {
      throw badArgument(
        `${what}: the data is a view of a detached ArrayBuffer (a heap view detaches when the memory grows: take the view again after allocating)`,
      );
    }
    if (!ArrayBuffer.isView(data)) return new Uint8Array(data);
    return tag(data) === '[object Uint8Array]' ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data !== null && typeof data === 'object' && 'length' in data) {
    const { length } = data;
    if (typeof length !== 'number' || length >>> 0 !== length) {
      throw badArgument(`${what}: an array-like's length must be an integer in [0, 2^32), got ${describe(length)}`);
    }
    for (let i = 0; i < length; i++) {
      // all checked before anything is allocated
      const b = data[i];
      if (typeof b !== 'number' || (b & 255) !== b)
        throw badArgument(`${what}: data[${i}] is ${describe(b)}, expected an integer byte in [0, 255]`);
    }
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = data[i];
    return bytes;
  }
  throw badArgument(
    `${what}: expected a Uint8Array, typed array, DataView, ArrayBuffer, string or array-like of bytes, got ${describe(data)}`,
  );
}

export default ZeeAlloc;
