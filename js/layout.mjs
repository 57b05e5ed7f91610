// The layout constants and code tables of src/zee_alloc.h, in one place for
// the JS side: the wrapper (js/zee_alloc.mjs), the inspector (js/inspect.mjs)
// and the tests import them from here.  test/layout-constants.test.mjs
// checks every value against the C header, so the two cannot drift.

/** Layout constants (src/zee_alloc.h, layout version 6: mid pages, a second set of free lists). */
export const LAYOUT = Object.freeze({
  VERSION: 6,
  PAGE_SIZE: 65536,
  META_SIZE: 8,
  GRANULE: 16,
  MIN_FRAME: 16,
  MAX_FRAME: 32768,
  CLASSES: 12,
  MAX_SMALL: 65512,
  ROUND_MAX: 4096,
  SLAB_MAX: 1040,
  SLAB_SLOTS: 4,
  SLAB_MIN: 512,
  SLAB_META: 24,
  SLAB_LISTS: 66,
  POOL_MIN: 4096,
  TAG_MASK: 15,
  TAG_SMALL: 7,
  TAG_LARGE: 5,
  TAG_FREE: 6,
  TAG_MERGED: 4,
  TAG_SLAB: 12,
  TAG_SLOT: 15,
  TAG_SLOT_FREE: 14,
  SALT: 0x5eea110c,
  PAGE_TAG: 0x5a450000,
  COUNT_MASK: 0xffff,
  ANCHOR_ONLY: 1,
  INFO_MAGIC: 0x3645455a,
  MAP_NONE: 0,
  MAP_FREE: 1,
  MAP_SMALL: 2,
  MAP_LARGE: 3,
  MAP_MID: 6,
});

/**
 * zee_heap_info_t as word offsets (src/zee_alloc.h).  `lists` and `midLists`
 * are the first of CLASSES words each (the free lists of SMALL pages' and of
 * MID pages' frames), `slabs` the first of SLAB_LISTS; STATE_WORDS is the
 * size of the whole struct in words.
 */
export const STATE = Object.freeze({
  magic: 0,
  layout: 1,
  config: 2,
  heapStart: 3,
  heapEnd: 4,
  pageMap: 5,
  firstFree: 6,
  spare: 7,
  lists: 8,
  usedBytes: 20,
  usedBlocks: 21,
  peakBytes: 22,
  smallPages: 23,
  largePages: 24,
  freePages: 25,
  cursor: 26,
  slabs: 27,
  midLists: 93,
});
export const STATE_WORDS = 105;

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
  16: 'ZEE_C_SPAN',
  18: 'ZEE_C_PAGE',
  20: 'ZEE_C_FRAME',
  21: 'ZEE_C_COUNT',
  22: 'ZEE_C_BUDDY',
  23: 'ZEE_C_LARGE',
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
