// Reads zee_alloc's documented encoding (layout 6) straight from memory, for
// white-box tests.  The constants come from js/layout.mjs, which a test
// compares with src/zee_alloc.h.
import { LAYOUT, STATE, STATE_WORDS } from '../../js/layout.mjs';

export const PAGE = LAYOUT.PAGE_SIZE;
export const {
  TAG_SMALL,
  TAG_LARGE,
  TAG_FREE,
  TAG_MERGED,
  TAG_SLAB,
  TAG_SLOT,
  TAG_SLOT_FREE,
  SALT,
  PAGE_TAG,
  MAP_FREE,
  MAP_SMALL,
  MAP_LARGE,
  MAP_MID,
} = LAYOUT;

/** The 8 header bytes before payload p. */
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
    small: tag === TAG_SMALL,
    large: tag === TAG_LARGE,
    free: tag === TAG_FREE,
    slot: tag === TAG_SLOT,
    freeSlot: tag === TAG_SLOT_FREE,
    slab: tag === TAG_SLAB,
    checkOk: check === (info ^ p ^ SALT) >>> 0,
  };
}

/** zee_heap_info_t, as JS numbers (field names of js/layout.mjs STATE). */
export function state(z) {
  const u32 = z.HEAPU32,
    at = z.stateAddress >>> 2;
  const out = {};
  for (const [name, i] of Object.entries(STATE)) out[name] = u32[at + i];
  out.lists = [...u32.subarray(at + STATE.lists, at + STATE.lists + LAYOUT.CLASSES)];
  out.midLists = [...u32.subarray(at + STATE.midLists, at + STATE.midLists + LAYOUT.CLASSES)];
  out.slabs = [...u32.subarray(at + STATE.slabs, at + STATE.slabs + LAYOUT.SLAB_LISTS)];
  out.words = STATE_WORDS;
  return out;
}

/** The page-map byte of the page holding address a. */
export const mapOf = (z, a) => z.HEAPU8[state(z).pageMap + (a >>> 16)];

/** Members of the free list of class c (size 16 << c), following next links:
 * of small pages' frames, or with `mid` of mid pages' frames. */
export function listMembers(z, c, mid = false) {
  const out = [];
  for (let f = state(z)[mid ? 'midLists' : 'lists'][c]; f && out.length < 100000; f = z.HEAPU32[f >>> 2]) out.push(f);
  return out;
}

/** The slabs with a free slot of slot size 16 * i, following next links. */
export function slabMembers(z, i) {
  const out = [];
  for (let b = state(z).slabs[i]; b && out.length < 100000; b = z.HEAPU32[b >>> 2]) out.push(b);
  return out;
}

/**
 * The slots of the slab at b of `size` bytes: [{ addr, size, tag }] (addr is
 * the payload), as many of slot 0's size as fit after the slab's words.
 */
function slotsOf(z, b, size) {
  const m = meta(z, b + LAYOUT.SLAB_META + 8).size,
    slots = [];
  for (let s = b + LAYOUT.SLAB_META + 8; m && s + m <= b + size && slots.length < 5000; s += m) {
    const x = meta(z, s);
    slots.push({ addr: s, size: x.size, tag: x.tag });
  }
  return slots;
}

/**
 * The heap in address order: [{ kind: 'span', start, pages } (a maximal run
 * of free pages: the page map is their only record) |
 * { kind: 'small', start, mid, count, large, blocks: [{ addr, size, tag }] } |
 * { kind: 'foreign', start }].  A small page's `large` is the payload of the
 * large block it anchors ({ addr, size, pages }) or null; `mid` says the
 * page is of the mid pool (map mark MAP_MID).  A slab is one
 * block of its whole size S (tag TAG_SLAB) with its `slots`.
 */
export function walk(z) {
  const st = state(z),
    u32 = z.HEAPU32,
    u8 = z.HEAPU8,
    out = [];
  for (let p = st.heapStart; p && p < st.heapEnd && out.length < 70000;) {
    const kind = u8[st.pageMap + (p >>> 16)];
    if (kind === MAP_FREE) {
      const last = out[out.length - 1];
      if (last?.kind === 'span' && last.start + last.pages * PAGE === p) last.pages++;
      else out.push({ kind: 'span', start: p, pages: 1 });
      p += PAGE;
    } else if (kind === MAP_SMALL || kind === MAP_MID) {
      const word1 = u32[(p + 4) >>> 2],
        largeAt = (word1 & ~LAYOUT.ANCHOR_ONLY) >>> 0,
        limit = largeAt % PAGE ? largeAt : p + PAGE,
        blocks = [];
      // (a page made only for its large block holds no small blocks)
      for (let f = word1 & LAYOUT.ANCHOR_ONLY ? limit : p + 16; f < limit && blocks.length < 5000;) {
        const m = meta(z, f);
        blocks.push({ addr: f, size: m.size, tag: m.tag });
        if (!m.size) break;
        if (m.slab) blocks[blocks.length - 1].slots = slotsOf(z, f, m.size);
        // what a block in use occupies: up to ROUND_MAX its power-of-two frame
        f += m.tag === LAYOUT.TAG_SMALL && m.size <= LAYOUT.ROUND_MAX ? 2 ** Math.ceil(Math.log2(m.size)) : m.size;
      }
      let large = null;
      if (largeAt) {
        const m = meta(z, largeAt);
        large = { addr: largeAt, size: m.size, pages: Math.floor(m.size / PAGE) };
      }
      out.push({
        kind: 'small',
        start: p,
        mid: kind === MAP_MID,
        count: u32[p >>> 2] & LAYOUT.COUNT_MASK,
        large,
        blocks,
      });
      p += PAGE + (large ? large.pages * PAGE : 0);
    } else {
      out.push({ kind: 'foreign', start: p });
      p += PAGE;
    }
  }
  return out;
}

/** Free spans as [{ start, pages }], in address order. */
export const spans = (z) =>
  walk(z)
    .filter((x) => x.kind === 'span')
    .map(({ start, pages }) => ({ start, pages }));

/** Small pages' addresses, in address order. */
export const smallPages = (z) =>
  walk(z)
    .filter((x) => x.kind === 'small')
    .map((x) => x.start);

export const pageOf = (p) => (p & ~(PAGE - 1)) >>> 0;
export const inUseCount = (z, page) => z.HEAPU32[page >>> 2] & LAYOUT.COUNT_MASK;
