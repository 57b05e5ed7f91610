// Types of zee-alloc/inspect (js/inspect.mjs, js/render.mjs): the heap
// inspector reads the allocator's structures (layout 8, docs/layout.md) from
// the memory alone.  The CommonJS copy, dist/cjs/inspect.d.cts, is generated
// by scripts/build-commonjs.mjs.

import type { WasmMemory } from './wasm.mjs';
import type { ZeeCheckCode } from './zee_alloc.mjs';

/**
 * What the inspector can read: a ZeeAlloc instance, `{ memory | buffer,
 * stateAddress }`, or an Emscripten Module (HEAPU8 or wasmMemory, with
 * `_zee_heap_info` exported).
 */
export type InspectSource =
  | { memory: WasmMemory; stateAddress: number }
  | { buffer: ArrayBufferLike | ArrayBufferView; stateAddress: number }
  | { HEAPU8: Uint8Array; _zee_heap_info: () => number }
  | { HEAPU8: Uint8Array; stateAddress: number }
  | { wasmMemory: WasmMemory; _zee_heap_info: () => number }
  | { readonly memory: WasmMemory; readonly stateAddress: number; readonly exports: unknown };

/** The rules validate() reports: zee_check()'s codes, less ZEE_C_OK. */
export type Rule = Exclude<ZeeCheckCode, 'ZEE_C_OK'>;

export interface Violation {
  rule: Rule;
  /** The address where the rule is broken (a block, a page, a state word). */
  address: number;
  message: string;
}

export interface ValidationResult {
  ok: boolean;
  violations: Violation[];
}

/**
 * A block of the heap, in address order: the blocks tile [heapStart,
 * heapEnd).  A slab is a block too, followed in `blocks` by its slots
 * (which lie inside it).
 */
export interface BlockInfo {
  /** Payload address (its header is the 8 bytes before). */
  address: number;
  /** The page (64 KiB, address & ~0xffff) holding its first byte. */
  page: number;
  /**
   * Bytes from the payload to the next block (its extent): for 'used', the
   * power-of-two frame that holds its header size if that is at most
   * ROUND_MAX (4096), else exactly the header size; a slot: its size; for
   * 'free', 'slab' and 'foreign', the header size.
   */
  size: number;
  /** The size field of its header (m); for 'corrupt', whatever its header says. */
  headerSize: number;
  /** malloc_usable_size(): headerSize - 8 for 'used', size - 8 for 'free' and 'free-slot'; 0 for the rest. */
  usable: number;
  /**
   * 'used': a block or a slot in use; 'free': a free frame; 'slab': a slab
   * (its words, slot headers and unused tail); 'free-slot': a free slot of a
   * slab; 'foreign': memory someone else grew (and the 16 bytes after it);
   * 'corrupt': the rest of the heap from a header the walk could not read,
   * or a whole slab whose own rules are broken (its size is sound, so the
   * walk goes on after it).
   */
  state: 'used' | 'free' | 'slab' | 'free-slot' | 'foreign' | 'corrupt';
  /** Free frames: the class of its free list, log2(size) - 4; otherwise -1. */
  class: number;
  /** Free frames below 64 KiB: the pool whose list holds it (its page's pool map byte); 'none' for larger frames and other blocks. */
  pool: 'small' | 'mid' | 'none';
  /** A slot ('used' or 'free-slot'): the address of its slab. */
  slab?: number;
  /** A 'slab': the size of its slots. */
  slotSize?: number;
  /** For 'corrupt': why the walk stopped there. */
  why?: string;
}

export type PageKind = 'used' | 'free' | 'mixed' | 'foreign' | 'corrupt';

/**
 * A wasm page (64 KiB) of [heapStart & ~0xffff, heapEnd): what its bytes
 * hold.  A block's header counts with it, so a block covers [address - 8,
 * address - 8 + size), and those ranges tile [heapStart - 8, heapEnd - 8);
 * each byte counts in usedBytes, freeBytes, slabBytes, foreignBytes or
 * corruptBytes of the page it lies in, by the block that covers it (a
 * slab: its header, words and unused tail are slabBytes, each slot with its
 * header used or free).  The 8 unused bytes below the first header and the
 * heap's last 8 bytes are metadataBytes.  So the six add up to the bytes of
 * the page inside [heapStart - 16, heapEnd).
 */
export interface PageInfo {
  address: number;
  /** Position from 0 at heapStart's page. */
  index: number;
  /** The pool map byte: the pool of its free frames below 64 KiB. */
  pool: 'small' | 'mid';
  /**
   * 'free': of the heap's own bytes, only free frames and free slots;
   * 'used': only blocks in use and slabs (their slots all in use); 'mixed':
   * both; 'foreign': nothing but a foreign block; 'corrupt': the walk could
   * not read part of it.  Foreign bytes and metadata don't count.
   */
  kind: PageKind;
  /** Bytes of blocks in use and of slots in use (each with its header). */
  usedBytes: number;
  /** Bytes of free frames and free slots (each with its header). */
  freeBytes: number;
  /** Bytes of slabs other than their slots (words, slot headers, tails). */
  slabBytes: number;
  foreignBytes: number;
  corruptBytes: number;
  metadataBytes: number;
  /** Blocks whose payload starts in this page (addresses). */
  blocks: number[];
}

export interface FreeListInfo {
  class: number;
  /** Frame size of the list. */
  size: number;
  /** 'small' or 'mid' for classes below POOL_CLASSES (12), 'none' above. */
  pool: 'small' | 'mid' | 'none';
  /** Frame addresses in list order. */
  members: number[];
}

/** A slab: a block of `size` bytes holding `slots` slots of `slotSize` bytes. */
export interface SlabInfo {
  /** Its address b (its header is at b - 8; slot i's payload at b + 32 + i * slotSize). */
  address: number;
  page: number;
  /** S: a power of two, at least 4 slots' bytes and at least 512. */
  size: number;
  slotSize: number;
  /** Slots it holds: (size - 32) / slotSize, rounded down. */
  slots: number;
  usedSlots: number;
  freeSlots: number;
  /** Its words 0 and 1: the links of its slab list (stale while it is full). */
  next: number;
  prev: number;
  /** Its free slots in list order (from its word 3). */
  freeList: number[];
  /** Whether it is on the slab list of its slot size. */
  listed: boolean;
}

/** A list of slabs with a free slot (the state's slabs[index]). */
export interface SlabListInfo {
  index: number;
  /** index * 16: the slot size of its slabs. */
  slotSize: number;
  /** The size of those slabs; 0 where slotSize is no slot size (0 and the powers of two), a list that holds none. */
  slabSize: number;
  /** Slab addresses in list order. */
  members: number[];
}

/** A maximal run of free frames (free frames next to each other). */
export interface FreeRunInfo {
  address: number;
  bytes: number;
  /** Its frames. */
  frames: number;
}

/**
 * The walk's sums, in bytes unless named otherwise.  usedBytes, freeBytes,
 * metadataBytes, paddingBytes, foreignBytes and corruptBytes add up to
 * heapBytes: every byte of [heapStart, heapEnd) counts once.
 */
export interface SnapshotTotals {
  /** heapEnd - heapStart. */
  heapBytes: number;
  pages: number;
  pagesByKind: Record<PageKind, number>;
  /** malloc_usable_size() summed over the blocks in use (slots included). */
  usedBytes: number;
  usedBlocks: number;
  /** Slots in use (counted in usedBlocks too). */
  usedSlots: number;
  /** freeFrameBytes + freeSlotBytes. */
  freeBytes: number;
  /** Free frames' sizes (all their bytes: a free frame is free memory, header slot included). */
  freeFrameBytes: number;
  freeFrames: number;
  /** Free slots' usable bytes (slot size - 8 each: free for blocks of their slot size only). */
  freeSlotBytes: number;
  freeSlots: number;
  /** The sizes of the members of all free lists (lists and midLists): freeFrameBytes on a sound heap. */
  freeListBytes: number;
  freeListMembers: number;
  slabs: number;
  /**
   * Headers: the 8 bytes that end each block in use and each slot (where
   * the next header lies), and each slab's first 32 bytes (its words and
   * slot 0's header).
   */
  metadataBytes: number;
  /** What blocks up to ROUND_MAX occupy beyond their header size (the rest of their power-of-two frame), and slabs' unused tails. */
  paddingBytes: number;
  /** Foreign blocks' extents: memory someone else grew, and the 16 bytes after it. */
  foreignBytes: number;
  /** 'corrupt' blocks' extents: what the walk could not read. */
  corruptBytes: number;
  /** The free run at the top of the heap (what the next growth starts from). */
  topFreeBytes: number;
  /** The largest run of free frames, in bytes, or the largest free slot's usable bytes if larger. */
  largestFreeBlock: number;
  /** 1 - largestFreeBlock / freeBytes (0 when nothing is free): the share of free memory outside the largest free block. */
  fragmentation: number;
}

export interface SnapshotConfig {
  /** The config word of the state block. */
  raw: number;
  validation: string;
  threads: boolean;
}

/** The running totals the allocator keeps in its state block. */
export interface HeapCounters {
  usedBytes: number;
  usedBlocks: number;
  peakBytes: number;
}

/** A JSON-safe picture of the heap. */
export interface Snapshot {
  layoutVersion: number;
  stateAddress: number;
  config: SnapshotConfig;
  memoryBytes: number;
  /** 0 until the first allocation (then pages and blocks are empty). */
  heapStart: number;
  heapEnd: number;
  poolMap: number;
  /**
   * The state's cursor: where the last exact block ended (or the hole a
   * freed one left), or 0.  A hint the allocator checks before use: only its
   * alignment (16) and its bound (at most heapEnd) are rules (ZEE_C_STATE).
   */
  cursor: number;
  counters: HeapCounters;
  pages: PageInfo[];
  blocks: BlockInfo[];
  /** The maximal runs of free frames, in address order. */
  freeRuns: FreeRunInfo[];
  /** Every slab the walk read, in address order (one that breaks a rule is a 'corrupt' block instead). */
  slabs: SlabInfo[];
  /** The state's lists[c] (28 classes: 16 B .. 2 GiB; below 64 KiB the small pool's frames). */
  freeLists: FreeListInfo[];
  /** The state's mid_lists[c] (12 classes): the mid pool's frames. */
  midLists: FreeListInfo[];
  /** The 66 lists of slabs with a free slot, by slot size / 16. */
  slabLists: SlabListInfo[];
  totals: SnapshotTotals;
  violations: Violation[];
}

export interface RenderTextOptions {
  /** Width of the map in characters (default 80, at least 60): a page's row has `columns - 38` cells. */
  columns?: number;
  /**
   * Fold runs of 3+ alike pages (free pages, the pages inside one block,
   * foreign or unreadable pages) into two rows: the first page, then the
   * rest (default true).  A page where a block in use or a slab starts is never folded.
   */
  collapse?: boolean;
  /**
   * List the blocks of the page holding this address, one per line, instead
   * of the map: those that start before the page or run past it say by how much.
   */
  page?: number;
}

export interface RenderSVGOptions {
  /** Width of a page's bar in pixels (default 1024). */
  width?: number;
  /** Cells per page in the overview, a power of two 1..1024 (default 64: 1 KiB each). */
  slices?: number;
  /**
   * Fold runs of 3+ alike pages (free pages, the pages inside one block,
   * foreign or unreadable pages) into two rows (default true).
   */
  collapse?: boolean;
  title?: string;
  /** The most bytes the SVG may take: fewer slices, then no tooltips, then fewer rows (the SVG says what it cut). */
  maxBytes?: number;
  /**
   * Draw the blocks of the page holding this address one by one instead of
   * the overview, clipped to the page (`data-clipped` on those that reach past it).
   */
  page?: number;
  /** Rows the zoomed page is drawn in, a power of two 1..256 (default 16: 4 KiB each). */
  lines?: number;
}

/** The layout constants of src/zee_alloc.h (js/layout.mjs). */
export declare const LAYOUT: Readonly<{
  VERSION: number;
  PAGE_SIZE: number;
  META_SIZE: number;
  GRANULE: number;
  MIN_FRAME: number;
  CLASSES: number;
  POOL_CLASSES: number;
  ROUND_MAX: number;
  SLAB_MAX: number;
  SLAB_SLOTS: number;
  SLAB_MIN: number;
  SLAB_META: number;
  SLAB_LISTS: number;
  POOL_MIN: number;
  GROW_MIN_PAGES: number;
  TAG_MASK: number;
  TAG_USED: number;
  TAG_FREE: number;
  TAG_MERGED: number;
  TAG_FOREIGN: number;
  TAG_SLAB: number;
  TAG_SLOT: number;
  TAG_SLOT_FREE: number;
  SALT: number;
  INFO_MAGIC: number;
  POOL_SMALL: number;
  POOL_MID: number;
}>;
/** Rule name -> what it checks. */
export declare const RULES: Readonly<Record<Rule, string>>;
/** zee_check() result -> rule name (0: 'ZEE_C_OK'). */
export declare const CHECK_CODES: Readonly<Record<number, string>>;

/** An argument the inspector or a renderer can't use (a bad heap is a violation instead). */
export declare class InspectError extends TypeError {
  constructor(message: string, code?: string);
  readonly name: 'InspectError';
  /** 'ZEE_BAD_ARGUMENT'. */
  readonly code: string;
}

export declare function resolveSource(source: InspectSource): { buffer: ArrayBufferLike; stateAddress: number };
export declare function snapshot(source: InspectSource): Snapshot;
export declare function validate(source: InspectSource): ValidationResult;
/** Throws an Error with `code` (the first rule broken) and `violations` unless the heap is sound. */
export declare function assertValid(source: InspectSource): ValidationResult;
export declare function renderText(snapshot: Snapshot, options?: RenderTextOptions): string;
export declare function renderSVG(snapshot: Snapshot, options?: RenderSVGOptions): string;
/** A byte count as "512 B", "1.5 KiB", "64 KiB", "1.1 MiB" (as the maps print them). */
export declare function formatBytes(bytes: number): string;
