// Types of zee-alloc's JS API (js/zee_alloc.mjs).  The CommonJS copy,
// dist/cjs/zee_alloc.d.cts, is generated from this file by
// scripts/build-commonjs.mjs.
import type { WasmModule, WasmMemory, FetchResponse, WebURL } from './wasm.mjs';
import type { Snapshot, ValidationResult, RenderTextOptions, RenderSVGOptions } from './inspect.mjs';

/** A validation level; each is a separate .wasm build in dist/. */
export type Variant = 'default' | 'external' | 'dev' | 'unsafe';

/** Where a module can come from: bytes, a compiled module, a URL, a path, a response. */
export type WasmSource =
  WasmModule | ArrayBuffer | ArrayBufferView | WebURL | string | FetchResponse | PromiseLike<FetchResponse>;

/**
 * Anything allocBytes()/writeBytes() copy into the heap: the bytes of a
 * typed array, DataView or (Shared)ArrayBuffer; a string as UTF-8; or an
 * array-like of integers 0..255 (anything else throws ZEE_BAD_ARGUMENT).
 */
export type ByteSource = ArrayBuffer | SharedArrayBuffer | ArrayBufferView | ArrayLike<number> | string;

export interface CreateOptions {
  /** Validation level (a separate build): 'default' (= 'external'), 'dev' or 'unsafe'. */
  variant?: Variant;
  /** Initial memory in 64 KiB pages (default 4; at least 3 for the packaged builds). */
  initialPages?: number;
  /** Memory cap in 64 KiB pages; beyond it malloc returns 0 with errno ENOMEM (default 65536). */
  maximumPages?: number;
  /** Run this module instead of the packaged one (bundlers, workers, custom builds). */
  wasm?: WasmSource;
}

/** The compile-time options of the running module (js/layout.mjs decodeConfig). */
export interface ZeeConfig {
  /** ZEE_VALIDATION: which pointers the module checks. */
  validation: 'unsafe' | 'external' | 'dev' | `unknown(${number})`;
  /** ZEE_THREADS: a lock around every call. */
  threads: boolean;
}

/**
 * The allocator's running totals and the memory size, read in O(1) from its
 * state block (docs/js-api.md "stats()").  The heap fields are 0 until the
 * first allocation.
 */
export interface ZeeStats {
  /** Address of the heap's first block: 16 bytes above __heap_base, rounded to 16 (0 until the first allocation). */
  heapStart: number;
  /** End of the memory the heap owns, a page boundary (0 until the first allocation). */
  heapEnd: number;
  /** heapEnd - heapStart: blocks, free frames, slabs and foreign blocks (memory others grew in between). */
  heapBytes: number;
  /** The 64 KiB pages the heap reaches into (the first one it shares with static data and the stack). */
  pages: number;
  /** Sum of usableSize() over the live blocks. */
  usedBytes: number;
  /** Live blocks. */
  usedBlocks: number;
  /** The highest usedBytes so far. */
  peakBytes: number;
  /** Size of the whole wasm memory in bytes (data, stack and heap). */
  memoryBytes: number;
  /** Size of the whole wasm memory in 64 KiB pages. */
  memoryPages: number;
}

/** The raw exports of a zee_alloc module (addresses and sizes are u32 in i32s). */
export interface ZeeExports {
  malloc(size: number): number;
  free(ptr: number): void;
  calloc(count: number, size: number): number;
  realloc(ptr: number, size: number): number;
  aligned_alloc(align: number, size: number): number;
  memalign(align: number, size: number): number;
  posix_memalign(out: number, align: number, size: number): number;
  malloc_usable_size(ptr: number): number;
  zee_check(): number;
  zee_heap_info(): number;
  __errno_location(): number;
  [name: string]: unknown;
}

/** Codes of the errors this package throws. */
export type ZeeErrorCode =
  | 'ZEE_BAD_OPTION'
  | 'ZEE_BAD_ARGUMENT'
  | 'ZEE_OUT_OF_BOUNDS'
  | 'ZEE_ENOMEM'
  | 'ZEE_LOAD_FAILED'
  | 'ZEE_BAD_WASM'
  | 'ZEE_NO_INSPECTOR'
  | ZeeFaultCode
  | ZeeCheckCode
  | 'ZEE_C_UNKNOWN';
/** Faults a checked build reports when free/realloc/usableSize get a bad pointer. */
export type ZeeFaultCode = 'ZEE_E_POINTER' | 'ZEE_E_HEADER' | 'ZEE_E_DOUBLE_FREE' | 'ZEE_E_INTERNAL' | 'ZEE_E_UNKNOWN';
/** Names of zee_check() results (js/layout.mjs CHECK_CODES). */
export type ZeeCheckCode =
  | 'ZEE_C_OK'
  | 'ZEE_C_FRAME'
  | 'ZEE_C_BUDDY'
  | 'ZEE_C_FOREIGN'
  | 'ZEE_C_LIST'
  | 'ZEE_C_LIST_COUNT'
  | 'ZEE_C_TOTALS'
  | 'ZEE_C_STATE'
  | 'ZEE_C_SLAB';

export declare const ENOMEM: 48;
export declare const EINVAL: 28;
export declare const PAGE_SIZE: 65536;
/** Fault number -> [code, description] (frozen). */
export declare const FAULTS: Readonly<Record<number, readonly [Exclude<ZeeFaultCode, 'ZEE_E_UNKNOWN'>, string]>>;
/** zee_check() result -> name (frozen; the same object as js/layout.mjs CHECK_CODES). */
export declare const CHECKS: Readonly<Record<number, ZeeCheckCode>>;
/** The validation levels shipped in the package (frozen). */
export declare const VARIANTS: readonly ['default', 'dev', 'unsafe'];

/** The URL of the packaged .wasm for a variant (for preloading or bundler configs). */
export declare function wasmURL(variant?: Variant): WebURL;

/** Every error this package throws: `code` names the failure. */
export declare class ZeeAllocError extends Error {
  constructor(message: string, code: ZeeErrorCode, details?: { ptr?: number; cause?: unknown });
  readonly code: ZeeErrorCode;
  /** The pointer concerned, if any. */
  readonly ptr?: number;
}

/** A checked build found a bad pointer or a damaged heap. */
export declare class ZeeFaultError extends ZeeAllocError {
  constructor(fault: number, ptr: number);
  readonly code: ZeeFaultCode;
  readonly fault: number;
  readonly ptr: number;
}

/** allocBytes()/allocString() could not get memory. */
export declare class ZeeOutOfMemoryError extends ZeeAllocError {
  constructor(size: number);
  readonly code: 'ZEE_ENOMEM';
  /** The number of bytes asked for. */
  readonly size: number;
}

/**
 * One independent zee_alloc heap in its own wasm instance and memory.  Every
 * method is bound to its instance: `const { malloc, free } = z` works.
 */
export declare class ZeeAlloc {
  /** Loads (once per variant) and instantiates a module with a fresh memory. */
  static create(options?: CreateOptions): Promise<ZeeAlloc>;
  /** Compiles a packaged variant, e.g. to post the module to workers. */
  static compile(variant?: Variant): Promise<WasmModule>;
  /** The UTF-8 size of a string in bytes, without a NUL. */
  static utf8Length(str: string): number;
  /** Internal: use ZeeAlloc.create(). */
  constructor(memory: WasmMemory, exports: ZeeExports, variant?: string);

  /** The instance's own memory. */
  readonly memory: WasmMemory;
  /** The raw wasm exports. */
  readonly exports: ZeeExports;
  /** The packaged variant running, or 'custom' for options.wasm. */
  readonly variant: 'default' | 'dev' | 'unsafe' | 'custom';
  /** The compile-time options of the running module. */
  readonly config: ZeeConfig;

  // Views of the whole memory; each getter returns a fresh view after growth.
  readonly HEAP8: Int8Array;
  readonly HEAPU8: Uint8Array;
  readonly HEAP16: Int16Array;
  readonly HEAPU16: Uint16Array;
  readonly HEAP32: Int32Array;
  readonly HEAPU32: Uint32Array;
  readonly HEAPF32: Float32Array;
  readonly HEAPF64: Float64Array;
  readonly dataView: DataView;
  /** A view of `length` bytes at `ptr`; take it again after any allocation. */
  bytes(ptr: number, length: number): Uint8Array;
  /** Memory size in bytes. */
  readonly memoryBytes: number;
  /** Memory size in 64 KiB pages. */
  readonly memoryPages: number;

  /** Returns the block's address, or 0 with errno = ENOMEM. */
  malloc(size: number): number;
  /** Frees a block (0 is ignored); checked builds throw ZeeFaultError on a bad pointer. */
  free(ptr: number): void;
  /** Zeroed count * size bytes, or 0 (also on overflow). */
  calloc(count: number, size: number): number;
  /** Resizes (moving if needed); realloc(0, n) = malloc(n); realloc(p, 0) frees p and returns 0. */
  realloc(ptr: number, size: number): number;
  /** A block aligned to `align` (a power of two), or 0 with errno = EINVAL or ENOMEM. */
  alignedAlloc(align: number, size: number): number;
  memalign(align: number, size: number): number;
  /** error is 0, EINVAL (28) or ENOMEM (48). */
  posixMemalign(align: number, size: number): { ptr: number; error: number };
  /** The bytes the block really holds (0 for NULL). */
  usableSize(ptr: number): number;
  /** errno as left by the last failing call. */
  errno: number;

  /** Copies data (even a view of this heap) into a new block; throws ZeeOutOfMemoryError when memory runs out. */
  allocBytes(data: ByteSource): number;
  /**
   * Copies data to ptr; returns the number of bytes written.  Checked builds
   * refuse (ZEE_BAD_ARGUMENT) more bytes than the block at ptr holds when ptr
   * is a live block's start.
   */
  writeBytes(ptr: number, data: ByteSource): number;
  /** A copy of `length` bytes at `ptr`. */
  readBytes(ptr: number, length: number): Uint8Array;
  /** The string as UTF-8 plus a NUL byte, in a new block. */
  allocString(str: string): number;
  /**
   * Writes UTF-8 plus a NUL into `capacity` bytes; returns the bytes written
   * without the NUL.  Checked builds refuse (ZEE_BAD_ARGUMENT) a capacity
   * beyond the block when ptr is a live block's start.
   */
  writeString(ptr: number, str: string, capacity: number): number;
  /** Decodes UTF-8 up to the first NUL, or exactly `byteLength` bytes. */
  readString(ptr: number, byteLength?: number): string;

  /** zee_check(): 0, or the number of the first broken rule (see CHECKS).  Walks the heap. */
  check(): number;
  /** Throws a ZeeAllocError naming the broken rule unless zee_check() passes. */
  assertHeap(): void;
  /** The address of the allocator's state block (for inspectors). */
  readonly stateAddress: number;

  /** Every block, free frame, slab and free list (zee-alloc/inspect).  Walks the heap. */
  snapshot(): Snapshot;
  /** Checks every layout rule from JS.  Walks the heap. */
  validate(): ValidationResult;
  /** A text heap map, one row per page. */
  renderText(snapshot?: Snapshot, options?: RenderTextOptions): string;
  /** A self-contained SVG heap map. */
  renderSVG(snapshot?: Snapshot, options?: RenderSVGOptions): string;
  /** The allocator's running totals plus the memory size: O(1), never walks the heap. */
  stats(): ZeeStats;
}

export default ZeeAlloc;
