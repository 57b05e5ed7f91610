// The layout constants and code tables of src/zee_alloc.h, in one place for
// the JS side: the wrapper (js/zee_alloc.mjs), the inspector (js/inspect.mjs)
// and the tests import them from here.  test/layout-constants.test.mjs
// checks every value against the C header, so the two cannot drift.

/** Layout constants (src/zee_alloc.h, layout version 8: one buddy heap, a pool bit per page). */
export const LAYOUT = Object.freeze({
  VERSION: 8,
  PAGE_SIZE: 65536,
  META_SIZE: 8,
  GRANULE: 16,
  MIN_FRAME: 16,
  CLASSES: 28,
  POOL_CLASSES: 12,
  ROUND_MAX: 4096,
  SLAB_MAX: 1040,
  SLAB_SLOTS: 4,
  SLAB_MIN: 2048,
  SLAB_META: 24,
  SLAB_LISTS: 66,
  POOL_MIN: 4096,
  GROW_MIN_PAGES: 2,
  TAG_MASK: 15,
  TAG_USED: 7,
  TAG_FREE: 6,
  TAG_MERGED: 4,
  TAG_FOREIGN: 9,
  TAG_SLAB: 12,
  TAG_SLOT: 15,
  TAG_SLOT_FREE: 14,
  SALT: 0x5eea110c,
  INFO_MAGIC: 0x3845455a,
  POOL_SMALL: 0,
  POOL_MID: 1,
});

/**
 * zee_heap_info_t as word offsets (src/zee_alloc.h).  `lists` is the first
 * of CLASSES words (frames 16 B .. 2 GiB; below 64 KiB the small pool's),
 * `midLists` the first of POOL_CLASSES (the mid pool's frames), `slabs` the
 * first of SLAB_LISTS; STATE_WORDS is the size of the whole struct in words.
 */
export const STATE = Object.freeze({
  magic: 0,
  layout: 1,
  config: 2,
  heapStart: 3,
  heapEnd: 4,
  poolMap: 5,
  cursor: 6,
  usedBytes: 7,
  usedBlocks: 8,
  peakBytes: 9,
  lists: 10,
  midLists: 38,
  slabs: 50,
});
export const STATE_WORDS = 116;

/** Faults a checked build reports: code -> [name, message] (enum zee_fault_code). */
export const FAULTS = Object.freeze({
  1: Object.freeze(['ZEE_E_POINTER', 'pointer not from this heap (misaligned or out of bounds)']),
  2: Object.freeze([
    'ZEE_E_HEADER',
    'invalid header at ptr-8 (never allocated, interior pointer, or header overwritten)',
  ]),
  3: Object.freeze(['ZEE_E_DOUBLE_FREE', 'double free']),
  4: Object.freeze(['ZEE_E_INTERNAL', 'internal invariant broken']),
});

/** zee_check() results: code -> name (enum zee_check_code). */
export const CHECK_CODES = Object.freeze({
  0: 'ZEE_C_OK',
  20: 'ZEE_C_FRAME',
  22: 'ZEE_C_BUDDY',
  23: 'ZEE_C_FOREIGN',
  24: 'ZEE_C_LIST',
  25: 'ZEE_C_LIST_COUNT',
  26: 'ZEE_C_TOTALS',
  27: 'ZEE_C_STATE',
  28: 'ZEE_C_SLAB',
});

/** The validation levels by the value of ZEE_VALIDATION (config & 15). */
export const VALIDATION = Object.freeze(['unsafe', 'external', 'dev']);

/** The config word as names: { validation, threads }. */
export function decodeConfig(config) {
  return { validation: VALIDATION[config & 15] ?? `unknown(${config & 15})`, threads: !!((config >>> 4) & 1) };
}
