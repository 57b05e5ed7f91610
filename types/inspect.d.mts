// Types of zee-alloc/inspect (js/inspect.mjs, js/render.mjs): the heap
// inspector reads the allocator's structures (layout 6, docs/layout.md) from
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

export type PageKind = 'small' | 'large' | 'free-span' | 'foreign' | 'corrupt';

/**
 * A block of a small page.  A slab is a block too, followed in the lists by
 * its slots (which lie inside it).
 */
export interface BlockInfo {
  /** Payload address (its header is the 8 bytes before). */
  address: number;
  /** The small page holding it. */
  page: number;
  /**
   * Bytes from the payload to the next block: for 'used', the block's extent
   * (the power-of-two frame that holds its header size if that is at most
   * ROUND_MAX, 4096, else exactly the header size; a slot: its size); for
   * 'slab', the slab's size; for 'large', its bytes in this page.
   */
  size: number;
  /** malloc_usable_size(): header size - 8 for 'used', size - 8 for 'free' and 'free-slot'; 0 for 'slab' and 'corrupt'. */
  usable: number;
  /**
   * 'used': a small block or a slot in use; 'free': a free frame; 'slab': a
   * slab (its words, slot headers and unused tail); 'free-slot': a free slot
   * of a slab; 'large': the part of an anchored large block inside this page;
   * 'corrupt': the rest of the page (or of a slab) from where the walk could
   * not read.
   */
  state: 'used' | 'free' | 'slab' | 'free-slot' | 'large' | 'corrupt';
  /** Free frames: the class of its free list, log2(size) - 4 (in `freeLists` or, in a mid page, `midLists`); otherwise -1. */
  class: number;
  /** A slot ('used' or 'free-slot'): the address of its slab. */
  slab?: number;
  /** A 'slab': the size of its slots. */
  slotSize?: number;
  /** For 'corrupt': why the walk stopped there. */
  why?: string;
}

/**
 * A small page's pool, by its page-map mark: 'small' (SMALL), or 'mid'
 * (MID: a small page of the mid pool, whose free frames are on mid_lists).
 */
export type SmallPagePool = 'small' | 'mid';

/** A small page of either pool (map mark SMALL or MID): the same rules hold for both. */
export interface SmallPageInfo {
  address: number;
  /** Position in the heap, from 0 at heapStart. */
  index: number;
  kind: 'small';
  pool: SmallPagePool;
  /** The block count in the page word: blocks in use whose header lies here, a slab as one. */
  count: number;
  /** Blocks in use, slots included. */
  usedBlocks: number;
  freeFrames: number;
  slabs: number;
  freeSlots: number;
  usedBytes: number;
  /** Usable bytes of its free frames and free slots. */
  freeBytes: number;
  /** Payload address of the large block this page anchors, or 0. */
  large: number;
  /** Where its blocks end: the anchored large block's start, else the page end. */
  limit: number;
  /** The page was made for its large block and holds nothing else (ANCHOR_ONLY). */
  anchorOnly: boolean;
  /** Whether this is the state's spare (the page last kept back when it emptied). */
  spare: boolean;
  /** Part of the page could not be walked (see its 'corrupt' block). */
  corrupt: boolean;
  blocks: BlockInfo[];
}

/** A whole page inside a large block. */
export interface LargePageInfo {
  address: number;
  index: number;
  kind: 'large';
  /** The large block's payload address. */
  large: number;
}

/** A free page (marked FREE in the page map; it holds nothing). */
export interface SpanPageInfo {
  address: number;
  index: number;
  kind: 'free-span';
  /** The first page of the run of free pages it belongs to. */
  span: number;
}

/** A page inside the heap's range that someone else grew (map mark 0). */
export interface ForeignPageInfo {
  address: number;
  index: number;
  kind: 'foreign';
}

/** A page the walk could not read: a map mark no page can start with. */
export interface CorruptPageInfo {
  address: number;
  index: number;
  kind: 'corrupt';
  /** The map mark found. */
  mark: number;
}

export type PageInfo = SmallPageInfo | LargePageInfo | SpanPageInfo | ForeignPageInfo | CorruptPageInfo;

export interface LargeBlockInfo {
  /** Payload address. */
  address: number;
  /** The small page whose top it starts in (its header is there). */
  anchor: number;
  /** m: its size in bytes, all usable. */
  size: number;
  usable: number;
  /** Whole pages after the anchor (m div 64 KiB). */
  pages: number;
  /** Its bytes inside the anchor (m mod 64 KiB). */
  inPage: number;
  /** address + size: a page boundary. */
  end: number;
}

/** A run of free pages (a maximal one: free pages merge by themselves). */
export interface SpanInfo {
  address: number;
  pages: number;
  bytes: number;
}

export interface FreeListInfo {
  class: number;
  /** Frame size of the list. */
  size: number;
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
  /** The size of those slabs (0 for index 0, which holds none). */
  slabSize: number;
  /** Slab addresses in list order. */
  members: number[];
}

export interface SnapshotTotals {
  heapBytes: number;
  pages: number;
  pagesByKind: Record<PageKind, number>;
  /** malloc_usable_size() summed over the blocks in use. */
  usedBytes: number;
  usedBlocks: number;
  usedSmall: number;
  usedLarge: number;
  /** Free frames and free slots (usable bytes) and free pages. */
  freeBytes: number;
  freeFrameBytes: number;
  freeFrames: number;
  freeSlotBytes: number;
  freeSlots: number;
  freeSpanBytes: number;
  freeSpans: number;
  /** The members of both sets of free lists (freeLists and midLists). */
  freeListBytes: number;
  freeListMembers: number;
  slabs: number;
  /** Slots in use (counted in usedSmall and usedBlocks too). */
  usedSlots: number;
  /** Page words, block and slot headers (the anchored large blocks' included), slabs' words. */
  metadataBytes: number;
  /** The vacant slot at the end of every small page that anchors no large block, an anchor-only page's unused part, slabs' unused tails. */
  reservedBytes: number;
  /** What small blocks up to ROUND_MAX occupy beyond their header size: the rest of their power-of-two frame. */
  paddingBytes: number;
  foreignBytes: number;
  corruptBytes: number;
  /** The largest free frame (usable bytes) or run of free pages. */
  largestFreeBlock: number;
  /** 1 - largestFreeBlock / freeBytes (0 when nothing is free). */
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
  smallPages: number;
  largePages: number;
  freePages: number;
}

/** A JSON-safe picture of the heap. */
export interface Snapshot {
  layoutVersion: number;
  stateAddress: number;
  config: SnapshotConfig;
  memoryBytes: number;
  /** 0 until the first allocation (then pages is empty). */
  heapStart: number;
  heapEnd: number;
  pageMap: number;
  /** No page below it is free (where the allocator's search begins). */
  firstFree: number;
  spare: number;
  /** The state's cursor: where the last small block ended, or 0.  A hint the allocator checks before use, not a rule. */
  cursor: number;
  counters: HeapCounters;
  pages: PageInfo[];
  blocks: BlockInfo[];
  large: LargeBlockInfo[];
  /** The runs of free pages, in address order. */
  spans: SpanInfo[];
  /** Every slab the walk read, in address order. */
  slabs: SlabInfo[];
  /** The state's lists[c]: the free frames of SMALL pages, by class. */
  freeLists: FreeListInfo[];
  /** The state's mid_lists[c]: the free frames of MID pages, by class. */
  midLists: FreeListInfo[];
  /** The 66 lists of slabs with a free slot, by slot size / 16. */
  slabLists: SlabListInfo[];
  totals: SnapshotTotals;
  violations: Violation[];
}

export interface RenderTextOptions {
  /** Width of the map in characters (default 80, at least 60). */
  columns?: number;
  /** Fold runs of 3+ large pages of one block, free or foreign pages into one row (default true). */
  collapse?: boolean;
  /** List the blocks of the page holding this address instead of the map. */
  page?: number;
}

export interface RenderSVGOptions {
  /** Width of a page's bar in pixels (default 1024). */
  width?: number;
  /** Cells per small page in the overview, a power of two 1..1024 (default 64: 1 KiB each). */
  slices?: number;
  /** Fold runs of 3+ large pages of one block, free or foreign pages into one row (default true). */
  collapse?: boolean;
  title?: string;
  /** The most bytes the SVG may take: fewer slices, then no tooltips, then fewer rows (the SVG says what it cut). */
  maxBytes?: number;
  /** Draw the page holding this address block by block instead of the overview. */
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
  MAX_FRAME: number;
  CLASSES: number;
  MAX_SMALL: number;
  ROUND_MAX: number;
  SLAB_MAX: number;
  SLAB_SLOTS: number;
  SLAB_MIN: number;
  SLAB_META: number;
  SLAB_LISTS: number;
  POOL_MIN: number;
  TAG_MASK: number;
  TAG_SMALL: number;
  TAG_LARGE: number;
  TAG_FREE: number;
  TAG_MERGED: number;
  TAG_SLAB: number;
  TAG_SLOT: number;
  TAG_SLOT_FREE: number;
  SALT: number;
  PAGE_TAG: number;
  COUNT_MASK: number;
  ANCHOR_ONLY: number;
  INFO_MAGIC: number;
  MAP_NONE: number;
  MAP_FREE: number;
  MAP_SMALL: number;
  MAP_LARGE: number;
  MAP_MID: number;
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
