// Reads zee_alloc's documented encoding straight from memory (white-box).
export const PAGE = 65536;
export const TAG_FREE = 6;
export const TAG_USED = 7;
export const TAG_CACHED = 4;
export const SALT = 0x5eea110c;
export const PAGE_TAG = 0x5a450000;
export const SPAN_TAG = 0x5a530000;
export const INFO_MAGIC = 0x3145455a;

/** The 8 metadata bytes before payload p. */
export function meta(z, p) {
  const u32 = z.HEAPU32;
  const info = u32[(p - 8) >>> 2], check = u32[(p - 4) >>> 2];
  return {
    info, check, size: (info & ~15) >>> 0, used: (info & 15) === TAG_USED,
    free: (info & 15) === TAG_FREE, cached: (info & 15) === TAG_CACHED,
    checkOk: check === ((info ^ p ^ SALT) >>> 0),
  };
}

/** zee_heap_info_t, as JS numbers. */
export function state(z) {
  const u32 = z.HEAPU32, at = z.stateAddress >>> 2;
  const f = [...u32.subarray(at, at + 9 + 3 * 12)];
  return {
    magic: f[0], layout: f[1], config: f[2], heapStart: f[3], heapEnd: f[4],
    spans: f[5], pages: f[6], endSmall: f[7], spare: f[8], lists: f.slice(9, 21),
    cache: f.slice(21, 33), cached: f.slice(33, 45),
  };
}

/** Members of the cache of class c (most recently freed first). */
export function cacheMembers(z, c) {
  const out = [];
  for (let f = state(z).cache[c]; f && out.length < 1000; f = z.HEAPU32[f >>> 2]) out.push(f);
  return out;
}

/** Members of free list of class c (size 16 << c), following next links. */
export function listMembers(z, c) {
  const out = [];
  for (let f = state(z).lists[c]; f && out.length < 100000; f = z.HEAPU32[f >>> 2]) out.push(f);
  return out;
}

/** Free spans as [{ start, pages, anchored }]. */
export function spans(z) {
  const out = [], u32 = z.HEAPU32;
  for (let s = state(z).spans; s && out.length < 70000; s = u32[(s + 8) >>> 2])
    out.push({ start: s, pages: u32[(s + 4) >>> 2], anchored: !!(u32[s >>> 2] & 1), tag: (u32[s >>> 2] & ~1) >>> 0 });
  return out;
}

/** Small pages on the small-page list. */
export function smallPages(z) {
  const out = [], u32 = z.HEAPU32;
  for (let p = state(z).pages; p && out.length < 70000; p = (u32[(p + 4) >>> 2] << 16) >>> 0) out.push(p);
  return out;
}

/** Frames of small page p, walked by size from p+16. */
export function frames(z, p) {
  const out = [];
  for (let f = p + 16; f < p + PAGE;) {
    const m = meta(z, f);
    out.push({ addr: f, ...m });
    if (!m.size) break;
    f += m.size;
  }
  return out;
}

export const pageOf = (p) => (p & ~(PAGE - 1)) >>> 0;
export const inUseCount = (z, page) => z.HEAPU32[page >>> 2] & 0xffff;
