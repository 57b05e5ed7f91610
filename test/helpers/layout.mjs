// Reads zee_alloc's documented encoding (layout 7: one buddy heap,
// docs/layout.md) straight from memory, for white-box tests.  It is a second,
// deliberately plain reading of the layout, independent of js/inspect.mjs:
// no rule checking, no bounds beyond what a sound heap needs.  The constants
// come from js/layout.mjs, which a test compares with src/zee_alloc.h.
import { LAYOUT, STATE, STATE_WORDS } from '../../js/layout.mjs';

export const PAGE = LAYOUT.PAGE_SIZE;
export const {
  TAG_USED,
  TAG_FREE,
  TAG_MERGED,
  TAG_FOREIGN,
  TAG_SLAB,
  TAG_SLOT,
  TAG_SLOT_FREE,
  SALT,
  POOL_SMALL,
  POOL_MID,
} = LAYOUT;

/** The page (64 KiB) holding address a. */
export const pageOf = (a) => (a & ~(PAGE - 1)) >>> 0;

/** The bytes a block in use of header size m occupies (zee_alloc.c extent()). */
export const extent = (m) => (m <= LAYOUT.ROUND_MAX ? 2 ** Math.ceil(Math.log2(m)) : m);

/** Is a block of m bytes (header included) a slot in a slab, when its alignment is 16? */
export const isSlotSize = (m) => m <= LAYOUT.SLAB_MAX && (m & (m - 1)) !== 0;

/** The slab for slots of m bytes: the power of two >= 4m, at least 512 B (zee_alloc.c slab_size()). */
export const slabSize = (m) => Math.max(LAYOUT.SLAB_MIN, 2 ** Math.ceil(Math.log2(m * LAYOUT.SLAB_SLOTS)));

/** The 8 header bytes before payload p, decoded. */
export function meta(z, p) {
  const u32 = z.HEAPU32;
  const info = u32[(p - 8) >>> 2],
    check = u32[(p - 4) >>> 2],
    tag = info & LAYOUT.TAG_MASK;
  return {
    info,
    check,
    tag,
    size: (info & ~LAYOUT.TAG_MASK) >>> 0,
    used: tag === TAG_USED,
    free: tag === TAG_FREE,
    merged: tag === TAG_MERGED,
    foreign: tag === TAG_FOREIGN,
    slab: tag === TAG_SLAB,
    slot: tag === TAG_SLOT,
    freeSlot: tag === TAG_SLOT_FREE,
    checkOk: check === (info ^ p ^ SALT) >>> 0,
  };
}

/** Writes a sound header (info and its check word) for payload p: for building or damaging heaps. */
export function setMeta(z, p, size, tag) {
  const info = (size | tag) >>> 0;
  z.HEAPU32[(p - 8) >>> 2] = info;
  z.HEAPU32[(p - 4) >>> 2] = (info ^ p ^ SALT) >>> 0;
}

/** zee_heap_info_t, as JS numbers (field names of js/layout.mjs STATE; the arrays whole). */
export function state(z) {
  const u32 = z.HEAPU32,
    at = z.stateAddress >>> 2;
  const out = {};
  for (const [name, i] of Object.entries(STATE)) out[name] = u32[at + i];
  out.lists = [...u32.subarray(at + STATE.lists, at + STATE.lists + LAYOUT.CLASSES)];
  out.midLists = [...u32.subarray(at + STATE.midLists, at + STATE.midLists + LAYOUT.POOL_CLASSES)];
  out.slabs = [...u32.subarray(at + STATE.slabs, at + STATE.slabs + LAYOUT.SLAB_LISTS)];
  out.words = STATE_WORDS;
  return out;
}

/** The byte address of a state field (a STATE name), plus `i` words for the arrays. */
export const stateWord = (z, field, i = 0) => z.stateAddress + 4 * (STATE[field] + i);

/** The pool of the page holding address a: POOL_SMALL (0) or POOL_MID (1); page i is bit i % 32 of word i / 32. */
export const poolOf = (z, a) => (z.HEAPU8[state(z).poolMap + (a >>> 19)] >>> ((a >>> 16) & 7)) & 1;

/**
 * Members of the free list of class c (frames of 16 << c bytes), following
 * next links: lists[c], or with `mid` mid_lists[c] (c < 12).
 */
export function listMembers(z, c, mid = false) {
  const out = [];
  for (let f = state(z)[mid ? 'midLists' : 'lists'][c]; f && out.length < 1e6; f = z.HEAPU32[f >>> 2]) out.push(f);
  return out;
}

/**
 * Where free frame f of `size` bytes belongs: { mid, c } for mid_lists[c]
 * (below 64 KiB in a page of the mid pool) or lists[c].
 */
export function listFor(z, f, size) {
  const c = Math.log2(size) - 4;
  return { mid: size < PAGE && poolOf(z, f) !== POOL_SMALL, c };
}

/** The slabs with a free slot of slot size 16 * i, following next links. */
export function slabMembers(z, i) {
  const out = [];
  for (let b = state(z).slabs[i]; b && out.length < 1e6; b = z.HEAPU32[b >>> 2]) out.push(b);
  return out;
}

/**
 * The slots of the slab at b of `size` bytes: [{ address, size, tag, state }]
 * (state 'used' or 'free'; address is the payload), as many of slot 0's size
 * as fit after the slab's words.
 */
export function slotsOf(z, b, size) {
  const first = b + LAYOUT.SLAB_META + 8,
    m = meta(z, first).size,
    slots = [];
  for (let s = first; m && s + m <= b + size && slots.length < 5000; s += m) {
    const x = meta(z, s);
    slots.push({ address: s, size: x.size, tag: x.tag, state: x.slot ? 'used' : 'free' });
  }
  return slots;
}

/** The state a header's tag names in blocks(): 'used', 'free', 'slab', 'foreign', or 'bad' for any other. */
const STATES = { [TAG_USED]: 'used', [TAG_FREE]: 'free', [TAG_SLAB]: 'slab', [TAG_FOREIGN]: 'foreign' };

/**
 * The blocks that tile the heap, in address order: [{ address, size (its
 * extent: what it occupies from its payload on), headerSize, tag, state,
 * pool }] where pool is its page's pool-map byte; a slab adds `slots`
 * (slotsOf()).  The walk steps from heap_start by each extent; it stops at
 * a header whose tag is none of the four or whose size is 0 (that block is
 * the last, with state 'bad'), so a damaged heap gives a short list.
 */
export function blocks(z) {
  const st = state(z),
    out = [];
  for (let f = st.heapStart; f && f < st.heapEnd && out.length < 1e6;) {
    const m = meta(z, f);
    const rec = {
      address: f,
      size: m.used ? extent(m.size) : m.size,
      headerSize: m.size,
      tag: m.tag,
      state: (m.size && STATES[m.tag]) || 'bad',
      pool: poolOf(z, f),
    };
    if (m.slab) rec.slots = slotsOf(z, f, m.size);
    out.push(rec);
    if (rec.state === 'bad') break;
    f += rec.size;
  }
  return out;
}

/** blocks(), by the name the older helpers used. */
export const walk = blocks;

/** The free frames, in address order: [{ address, size, pool }]. */
export const freeFrames = (z) =>
  blocks(z)
    .filter((b) => b.state === 'free')
    .map(({ address, size, pool }) => ({ address, size, pool }));

/** Maximal runs of free frames next to each other: [{ start, end, bytes, frames }], in address order. */
export function freeRuns(z) {
  const out = [];
  let run = null;
  for (const b of blocks(z)) {
    if (b.state !== 'free') run = null;
    else if (run && run.end === b.address) {
      run.end += b.size;
      run.bytes += b.size;
      run.frames++;
    } else out.push((run = { start: b.address, end: b.address + b.size, bytes: b.size, frames: 1 }));
  }
  return out;
}
