// zee_alloc's heap inspector: reads the allocator's structures straight from
// the wasm memory (typed-array views only; it never calls into the allocator),
// so it also works on a heap that is frozen, corrupted, or owned by an
// Emscripten app.  See README.md, "Heap inspector".
//
//   snapshot(source)  every page, frame, jumbo block, free span and free list,
//                     with totals and a fragmentation figure
//   validate(source)  { ok, violations: [{ rule, address, message }] }
//   renderText(snapshot, { columns })  /  renderSVG(snapshot)   (js/render.mjs)
//
// `source` is a ZeeAlloc instance, `{ memory | buffer, stateAddress }`, or an
// Emscripten `Module` (HEAPU8 or wasmMemory, plus `_zee_heap_info` exported).

export { renderText, renderSVG, formatBytes } from './render.mjs';

/** The layout constants of src/zee_alloc.h (layout version 2). */
export const LAYOUT = Object.freeze({
  VERSION: 2,
  PAGE_SIZE: 65536,
  META_SIZE: 8,
  MIN_FRAME: 16,
  MAX_FRAME: 32768,
  CLASSES: 12,
  TAG_FREE: 6,
  TAG_USED: 7,
  TAG_CACHED: 4,
  SALT: 0x5eea110c,
  PAGE_TAG: 0x5a450000,
  SPAN_TAG: 0x5a530000,
  INFO_MAGIC: 0x3145455a,
});

const PAGE = LAYOUT.PAGE_SIZE;
const META = LAYOUT.META_SIZE;
const MIN = LAYOUT.MIN_FRAME;
const MAX = LAYOUT.MAX_FRAME;
const CLASSES = LAYOUT.CLASSES;
const STATE_WORDS = 9 + 3 * CLASSES; // zee_heap_info_t

/**
 * The rules validate() reports.  The ZEE_C_* names match zee_check()'s codes
 * (src/zee_alloc.h), so a violation can be compared with `z.check()`.
 */
export const RULES = Object.freeze({
  ZEE_C_STATE: 'the state block (zee_heap_info_t): magic, layout version, heap bounds, end_small',
  ZEE_C_SPAN: 'free span: tag, alignment, bounds, address order, back link, anchored bit',
  ZEE_C_SPAN_MERGE: 'two free spans touch but were not merged',
  ZEE_C_PAGE: 'small page: tag, alignment, bounds, list links; the spare; only the spare may be empty',
  ZEE_C_OVERLAP: 'a page is claimed twice (small page, free span, jumbo block)',
  ZEE_C_FRAME: 'frame metadata: tag, check word, power-of-two size, aligned to its size, inside its page',
  ZEE_C_COUNT: "a small page's in-use count disagrees with its frames (+1 for a jumbo block it anchors)",
  ZEE_C_BUDDY: 'two free buddies of one size were not merged (coalesce)',
  ZEE_C_JUMBO: "jumbo metadata in an anchor's tail slot: check word, page-multiple size, inside the heap",
  ZEE_C_LIST: 'free list: member is not a free frame of its class, broken back link, or a cycle',
  ZEE_C_LIST_COUNT: 'a free frame is on no free list',
  ZEE_C_CACHE: 'cache: member is not a cached frame of its class, a cycle, a count that disagrees or exceeds the build\'s cache size, or a cached frame on no cache',
  ZEE_C_TOTALS: 'the byte totals of the walk do not add up to the heap size',
});

/** zee_check() codes by number (src/zee_alloc.h). */
export const CHECK_CODES = Object.freeze({
  0: 'ZEE_C_OK', 16: 'ZEE_C_SPAN', 17: 'ZEE_C_SPAN_MERGE', 18: 'ZEE_C_PAGE',
  19: 'ZEE_C_OVERLAP', 20: 'ZEE_C_FRAME', 21: 'ZEE_C_COUNT', 22: 'ZEE_C_BUDDY',
  23: 'ZEE_C_JUMBO', 24: 'ZEE_C_LIST', 25: 'ZEE_C_LIST_COUNT', 26: 'ZEE_C_CACHE',
});

const VALIDATION = ['unsafe', 'external', 'dev'];
const JUMBO_MATCH = ['closest', 'exact', 'first'];
const BUDDY = ['fast', 'coalesce'];
const SHRINK = ['defer', 'chunkify'];

/** An inspector input that can't be read (not a bad heap: that is a violation). */
export class InspectError extends TypeError {
  constructor(message) {
    super(`zee_alloc inspect: ${message}`);
    this.name = 'InspectError';
  }
}

const hex = (a) => '0x' + (a >>> 0).toString(16).padStart(8, '0');

// Why: tag checks, not instanceof, so buffers from another realm (a Jest vm
// context, an iframe, a worker's memory) are recognised.
const tag = (x) => Object.prototype.toString.call(x);
const isBuffer = (b) => tag(b) === '[object ArrayBuffer]' || tag(b) === '[object SharedArrayBuffer]';
const isMemory = (m) => tag(m) === '[object WebAssembly.Memory]';

// Why: every kind of source is reduced to one current buffer; views taken
// earlier go stale (length 0) when the memory grows.
function bufferOf(src) {
  if (isBuffer(src)) return src;
  if (ArrayBuffer.isView(src)) return src.buffer;
  const mem = src.memory ?? src.wasmMemory ?? src.asm?.memory ?? src.wasmExports?.memory;
  if (isMemory(mem)) return mem.buffer;
  if (src.buffer !== undefined) {
    if (isBuffer(src.buffer)) return src.buffer;
    if (ArrayBuffer.isView(src.buffer)) return src.buffer.buffer;
  }
  if (src.HEAPU8 && ArrayBuffer.isView(src.HEAPU8)) return src.HEAPU8.buffer;
  if (src.HEAP8 && ArrayBuffer.isView(src.HEAP8)) return src.HEAP8.buffer;
  return null;
}

// Why: the state address is learnt once per source from the cheapest place;
// zee_heap_info() only returns a pointer, it does not read the heap.
function stateAddressOf(src) {
  if (typeof src.stateAddress === 'number') return src.stateAddress;
  if (typeof src._zee_heap_info === 'function') return src._zee_heap_info() >>> 0;
  const ex = src.exports ?? src.asm ?? src.wasmExports;
  if (ex && typeof ex.zee_heap_info === 'function') return ex.zee_heap_info() >>> 0;
  if (ex && typeof ex._zee_heap_info === 'function') return ex._zee_heap_info() >>> 0;
  return undefined;
}

/**
 * Resolves a source to `{ buffer, stateAddress }`.  Throws an InspectError
 * naming what is missing.
 */
export function resolveSource(source) {
  if (source === null || typeof source !== 'object')
    throw new InspectError(`expected a ZeeAlloc instance, { memory | buffer, stateAddress } or an Emscripten Module, got ${source === null ? 'null' : typeof source}`);
  const buffer = bufferOf(source);
  if (!buffer)
    throw new InspectError('the source has no memory: pass { memory } (a WebAssembly.Memory), { buffer } (an ArrayBuffer), or an Emscripten Module with HEAPU8 or wasmMemory');
  if (buffer.byteLength === 0)
    throw new InspectError('the memory view is detached (length 0): memory grew since it was taken; pass the WebAssembly.Memory or a fresh view');
  const stateAddress = stateAddressOf(source);
  if (stateAddress === undefined)
    throw new InspectError('no state address: pass { stateAddress } (z.stateAddress), or export _zee_heap_info from the app (add it to EXPORTED_FUNCTIONS)');
  if (!Number.isInteger(stateAddress) || stateAddress <= 0 || stateAddress % 4 || stateAddress + 4 * STATE_WORDS > buffer.byteLength)
    throw new InspectError(`state address ${stateAddress} is not a word inside the ${buffer.byteLength}-byte memory`);
  return { buffer, stateAddress };
}

/**
 * Walks the whole heap once; returns the snapshot with its violations.
 * Every read is bounds-checked and every list walk is bounded, so a
 * corrupted heap gives violations, never an exception or an endless loop.
 */
function walk(source) {
  const { buffer, stateAddress } = resolveSource(source);
  const u32 = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  const memBytes = u32.length * 4;
  // One aligned word, or undefined outside memory.
  const rd = (a) => (a >= 0 && a + 4 <= memBytes && a % 4 === 0 ? u32[a / 4] : undefined);
  const violations = [];
  const report = (rule, address, message) => violations.push({ rule, address: address >>> 0, message });

  const st = {};
  const names = ['magic', 'layout', 'config', 'heapStart', 'heapEnd', 'spans', 'pages', 'endSmall', 'spare'];
  names.forEach((n, i) => { st[n] = u32[stateAddress / 4 + i]; });
  st.lists = Array.from({ length: CLASSES }, (_, c) => u32[stateAddress / 4 + 9 + c]);
  st.cache = Array.from({ length: CLASSES }, (_, c) => u32[stateAddress / 4 + 9 + CLASSES + c]);
  st.cached = Array.from({ length: CLASSES }, (_, c) => u32[stateAddress / 4 + 9 + 2 * CLASSES + c]);
  const config = {
    raw: st.config,
    validation: VALIDATION[st.config & 15] ?? `unknown(${st.config & 15})`,
    jumboMatch: JUMBO_MATCH[(st.config >>> 4) & 15] ?? `unknown(${(st.config >>> 4) & 15})`,
    buddy: BUDDY[(st.config >>> 8) & 15] ?? `unknown(${(st.config >>> 8) & 15})`,
    shrink: SHRINK[(st.config >>> 12) & 15] ?? `unknown(${(st.config >>> 12) & 15})`,
    cache: (st.config >>> 16) & 255,
  };
  const coalesce = config.buddy === 'coalesce';

  const snap = {
    layoutVersion: st.layout,
    stateAddress,
    config,
    memoryBytes: memBytes,
    heapStart: st.heapStart,
    heapEnd: st.heapEnd,
    spare: st.spare,
    endSmall: st.endSmall,
    pages: [],
    frames: [],
    jumbos: [],
    spans: [],
    freeLists: [],
    caches: [],
    totals: null,
    violations,
  };

  if (st.magic !== LAYOUT.INFO_MAGIC || st.layout !== LAYOUT.VERSION) {
    report('ZEE_C_STATE', stateAddress, st.magic !== LAYOUT.INFO_MAGIC
      ? `no zee_heap_info_t at ${hex(stateAddress)}: magic is ${hex(st.magic)}, expected ${hex(LAYOUT.INFO_MAGIC)}`
      : `layout version ${st.layout} is not the inspector's ${LAYOUT.VERSION}`);
    snap.totals = emptyTotals();
    return snap;
  }
  if (st.heapStart === 0) { // zee_heap_info() initialises, so only a raw buffer gets here
    snap.totals = emptyTotals();
    return snap;
  }
  let heapEnd = st.heapEnd;
  if (st.heapStart % PAGE || st.heapEnd % PAGE || st.heapStart > st.heapEnd || st.heapEnd > memBytes) {
    report('ZEE_C_STATE', stateAddress + 16, `heap bounds [${hex(st.heapStart)}, ${hex(st.heapEnd)}) are not page-aligned inside the ${memBytes}-byte memory`);
    heapEnd = Math.max(st.heapStart, Math.min(st.heapEnd, memBytes) - (Math.min(st.heapEnd, memBytes) % PAGE));
    if (st.heapStart % PAGE || st.heapStart >= memBytes) { snap.totals = emptyTotals(); return snap; }
  }
  const heapStart = st.heapStart;
  const npages = (heapEnd - heapStart) / PAGE;
  const inHeap = (a) => a >= heapStart && a < heapEnd;
  const pageIndex = (a) => (a - heapStart) / PAGE;
  // claims[i]: what owns page i (first claim wins; later claims are overlaps).
  const claims = new Array(npages).fill(null);
  const claim = (i, what, address) => {
    if (claims[i]) {
      report('ZEE_C_OVERLAP', heapStart + i * PAGE, `page ${hex(heapStart + i * PAGE)} is claimed as ${claims[i].kind} and as ${what.kind} (${hex(address)})`);
      return false;
    }
    claims[i] = what;
    return true;
  };

  // ---- free spans: address-ordered, doubly linked ------------------------
  {
    let prev = 0, prevEnd = 0;
    const seen = new Set();
    for (let s = st.spans; s; ) {
      if (s % PAGE || !inHeap(s)) {
        report('ZEE_C_SPAN', s, `span link ${hex(s)} (from ${prev ? hex(prev) : 'the state'}) is not a page inside the heap`);
        break;
      }
      if (seen.has(s)) { report('ZEE_C_SPAN', s, `the span list loops back to ${hex(s)}`); break; }
      seen.add(s);
      const w0 = rd(s), k = rd(s + 4), next = rd(s + 8), back = rd(s + 12);
      if ((w0 & ~1) >>> 0 !== LAYOUT.SPAN_TAG) {
        report('ZEE_C_SPAN', s, `span ${hex(s)} has tag ${hex(w0)}, expected ${hex(LAYOUT.SPAN_TAG)} | anchored`);
        break;
      }
      let bad = false;
      if (s <= prev) { report('ZEE_C_SPAN', s, `span ${hex(s)} follows span ${hex(prev)}: the list is not in address order`); bad = true; }
      if (!k || k > (heapEnd - s) / PAGE) { report('ZEE_C_SPAN', s, `span ${hex(s)} claims ${k} pages; 1..${(heapEnd - s) / PAGE} fit below the heap end`); bad = true; }
      if (back !== prev) { report('ZEE_C_SPAN', s, `span ${hex(s)} links back to ${hex(back)}, expected ${prev ? hex(prev) : 0}`); bad = true; }
      if (!bad && prev && prevEnd > s) report('ZEE_C_OVERLAP', s, `span ${hex(prev)} runs to ${hex(prevEnd)}, past the next span ${hex(s)}`);
      else if (!bad && prev && prevEnd === s) report('ZEE_C_SPAN_MERGE', s, `spans ${hex(prev)} and ${hex(s)} touch but were not merged`);
      const pages = Math.max(0, Math.min(k || 0, (heapEnd - s) / PAGE));
      const span = { address: s, pages, bytes: pages * PAGE, anchored: (w0 & 1) === 1 };
      snap.spans.push(span);
      for (let i = 0; i < pages; i++) claim(pageIndex(s) + i, { kind: 'free-span', span: s }, s);
      prev = s;
      prevEnd = s + pages * PAGE;
      s = next;
    }
  }

  // ---- small pages: the list linked through header word 1 ----------------
  const small = []; // page addresses in list order
  {
    let prev = 0;
    const seen = new Set();
    for (let p = st.pages; p; ) {
      if (p % PAGE || !inHeap(p)) {
        report('ZEE_C_PAGE', p, `small-page link ${hex(p)} (from ${prev ? hex(prev) : 'the state'}) is not a page inside the heap`);
        break;
      }
      if (seen.has(p)) { report('ZEE_C_PAGE', p, `the small-page list loops back to ${hex(p)}`); break; }
      seen.add(p);
      const w0 = rd(p), w1 = rd(p + 4);
      if ((w0 & 0xffff0000) >>> 0 !== LAYOUT.PAGE_TAG) {
        report('ZEE_C_PAGE', p, `small page ${hex(p)} has tag ${hex(w0)}, expected ${hex(LAYOUT.PAGE_TAG)} | count`);
        break;
      }
      const back = (w1 & 0xffff0000) >>> 0;
      if (back !== prev) report('ZEE_C_PAGE', p, `small page ${hex(p)} links back to ${hex(back)}, expected ${prev ? hex(prev) : 0}`);
      small.push(p);
      prev = p;
      p = (w1 & 0xffff) * PAGE;
    }
  }
  const smallSet = new Set(small);

  const frameAt = new Map(); // frame address -> frame record
  const corruptFrom = new Map(); // page -> first frame the walk could not read
  const freeByPage = []; // for the buddy check
  const cachedFrames = []; // every frame tagged cached, to find those on no cache
  for (const p of small) {
    const i = pageIndex(p);
    const page = {
      address: p, kind: 'small', inUseCount: rd(p) & 0xffff, usedFrames: 0, freeFrames: 0, cachedFrames: 0,
      usedBytes: 0, freeBytes: 0, cachedBytes: 0, jumbo: 0, spare: p === st.spare, corrupt: false, frames: [],
    };
    if (claims[i]) { claim(i, { kind: 'small page', page }, p); continue; }
    claims[i] = { kind: 'small', page };
    // Frames from P+16, stepping by the size in the info word at f-8.
    const free = [];
    for (let f = p + MIN; f < p + PAGE; ) {
      const info = rd(f - 8), check = rd(f - 4), size = (info & ~15) >>> 0;
      let why = null;
      const tag = info & 15;
      if (tag !== LAYOUT.TAG_FREE && tag !== LAYOUT.TAG_USED && (tag !== LAYOUT.TAG_CACHED || !config.cache))
        why = config.cache ? `tag ${tag} is none of in use (7), free (6), cached (4)` : `tag ${tag} is neither free (6) nor in use (7) (this build has no cache)`;
      else if (check !== ((info ^ f ^ LAYOUT.SALT) >>> 0)) why = `check word ${hex(check)} should be ${hex(info ^ f ^ LAYOUT.SALT)}`;
      else if (size < MIN || size > MAX || (size & (size - 1))) why = `size ${size} is not a power of two in 16..32768`;
      else if (f % size) why = `frame of ${size} B is not aligned to its size`;
      if (why) {
        report('ZEE_C_FRAME', f, `frame ${hex(f)} (metadata at ${hex(f - 8)}): ${why}`);
        page.corrupt = true;
        corruptFrom.set(p, f);
        const rec = { address: f, page: p, size: p + PAGE - f, payload: 0, state: 'corrupt', class: -1 };
        page.frames.push(rec);
        snap.frames.push(rec);
        break;
      }
      const state = tag === LAYOUT.TAG_USED ? 'used' : tag === LAYOUT.TAG_FREE ? 'free' : 'cached';
      const rec = { address: f, page: p, size, payload: size - META, state, class: Math.log2(size) - 4 };
      page.frames.push(rec);
      snap.frames.push(rec);
      frameAt.set(f, rec);
      if (state === 'used') { page.usedFrames++; page.usedBytes += size - META; }
      else if (state === 'cached') { page.cachedFrames++; page.cachedBytes += size - META; cachedFrames.push(rec); }
      else { page.freeFrames++; page.freeBytes += size - META; free.push(rec); }
      if (state === 'free' && coalesce) {
        const b = f ^ size;
        if (b % PAGE && b > f && rd(b - 8) === (size | LAYOUT.TAG_FREE))
          report('ZEE_C_BUDDY', f, `free frames ${hex(f)} and ${hex(b)} of ${size} B are buddies but were not merged`);
      }
      f += size;
    }
    freeByPage.push(free);
    // The tail slot: jumbo metadata (in use), a stale record of a freed one, or 0.
    const j = p + PAGE, tinfo = rd(j - 8), tcheck = rd(j - 4);
    const tsize = (tinfo & ~15) >>> 0;
    if ((tinfo & 15) === LAYOUT.TAG_USED) {
      let why = null;
      if (tcheck !== ((tinfo ^ j ^ LAYOUT.SALT) >>> 0)) why = `check word ${hex(tcheck)} should be ${hex(tinfo ^ j ^ LAYOUT.SALT)}`;
      else if (!tsize || tsize % PAGE) why = `size ${tsize} is not a non-zero multiple of 64 KiB`;
      else if (tsize > heapEnd - j) why = `${tsize / PAGE} pages run past the heap end ${hex(heapEnd)}`;
      if (why) report('ZEE_C_JUMBO', j, `jumbo metadata at ${hex(j - 8)} (tail of page ${hex(p)}): ${why}`);
      else {
        const n = tsize / PAGE;
        const jumbo = { address: j, anchor: p, pages: n, bytes: tsize };
        page.kind = 'anchor';
        page.jumbo = j;
        let ok = true;
        for (let k = 0; k < n; k++) {
          const q = j + k * PAGE;
          if (smallSet.has(q) && !claims[pageIndex(q)]) {
            report('ZEE_C_OVERLAP', q, `page ${hex(q)} is in jumbo block ${hex(j)} and on the small-page list`);
            ok = false;
          } else if (!claim(pageIndex(q), { kind: k ? 'jumbo-body' : 'jumbo-start', jumbo: j }, j)) ok = false;
        }
        jumbo.overlaps = !ok;
        snap.jumbos.push(jumbo);
      }
    } else if (tinfo !== 0 && ((tinfo & 15) !== LAYOUT.TAG_FREE || tcheck !== ((tinfo ^ j ^ LAYOUT.SALT) >>> 0) || tsize % PAGE || !tsize)) {
      report('ZEE_C_JUMBO', j, `tail slot ${hex(j - 8)} of page ${hex(p)} holds ${hex(tinfo)} ${hex(tcheck)}: neither 0 nor jumbo metadata`);
    }
    if (coalesce && !page.corrupt) {
      const want = page.usedFrames + page.cachedFrames + (page.jumbo ? 1 : 0); // a cached frame still counts
      if (page.inUseCount !== want)
        report('ZEE_C_COUNT', p, `page ${hex(p)} counts ${page.inUseCount} blocks in use, its frames say ${want}`);
    }
  }

  // ---- rules the C check leaves implicit ----------------------------------
  if (st.spare && !smallSet.has(st.spare))
    report('ZEE_C_PAGE', st.spare, `the spare ${hex(st.spare)} is not on the small-page list`);
  if (coalesce) {
    for (const p of small) {
      const page = claims[pageIndex(p)]?.page;
      if (page && page.address === p && !page.corrupt && page.inUseCount === 0 && !page.usedFrames && !page.cachedFrames && !page.jumbo && p !== st.spare)
        report('ZEE_C_PAGE', p, `small page ${hex(p)} is empty but is not the spare: it should have gone back to the free spans`);
    }
  }
  for (const span of snap.spans) {
    if (!span.anchored) continue;
    const below = span.address - PAGE, c = below >= heapStart ? claims[pageIndex(below)] : null;
    if (!c || c.kind !== 'small' || c.page.jumbo)
      report('ZEE_C_SPAN', span.address, `span ${hex(span.address)} is marked anchored but the page below it is not a small page with a vacant tail slot`);
  }

  // ---- free lists ------------------------------------------------------------
  const onList = new Map(); // frame -> class
  for (let c = 0; c < CLASSES; c++) {
    const size = MIN << c;
    const list = { class: c, size, members: [] };
    snap.freeLists.push(list);
    let prev = 0;
    const seen = new Set();
    for (let f = st.lists[c]; f; ) {
      if (f % size || !inHeap(f) || !(f % PAGE)) {
        report('ZEE_C_LIST', f, `free list ${size}: link ${hex(f)} (from ${prev ? hex(prev) : 'the head'}) is not a ${size}-aligned frame address inside the heap`);
        break;
      }
      if (seen.has(f)) { report('ZEE_C_LIST', f, `free list ${size} loops back to ${hex(f)}`); break; }
      seen.add(f);
      list.members.push(f);
      const next = rd(f), back = rd(f + 4);
      if (back !== prev) report('ZEE_C_LIST', f, `free list ${size}: ${hex(f)} links back to ${hex(back)}, expected ${prev ? hex(prev) : 0}`);
      const rec = frameAt.get(f);
      const pg = f - (f % PAGE);
      if (!smallSet.has(pg)) report('ZEE_C_LIST', f, `free list ${size}: ${hex(f)} is not in a small page`);
      else if (!rec) report('ZEE_C_LIST', f, corruptFrom.has(pg) && f >= corruptFrom.get(pg)
        ? `free list ${size}: ${hex(f)} lies in the unreadable part of page ${hex(pg)} (from ${hex(corruptFrom.get(pg))})`
        : `free list ${size}: ${hex(f)} is not a frame start of page ${hex(pg)}`);
      else if (rec.state !== 'free' || rec.size !== size) report('ZEE_C_LIST', f, `free list ${size}: ${hex(f)} is a ${rec.state} frame of ${rec.size} B`);
      else if (onList.has(f)) report('ZEE_C_LIST', f, `${hex(f)} is on free list ${MIN << onList.get(f)} and on free list ${size}`);
      else onList.set(f, c);
      prev = f;
      f = next;
    }
  }
  for (const free of freeByPage)
    for (const rec of free)
      if (!onList.has(rec.address)) report('ZEE_C_LIST_COUNT', rec.address, `free frame ${hex(rec.address)} of ${rec.size} B is on no free list`);

  // ---- caches: frames free() holds back, one-way LIFO lists (ZEE_CACHE) ----------
  const inCache = new Set();
  for (let c = 0; c < CLASSES; c++) {
    const size = MIN << c;
    const cache = { class: c, size, count: st.cached[c], members: [] };
    snap.caches.push(cache);
    let prev = 0;
    for (let f = st.cache[c]; f; ) {
      if (f % size || !inHeap(f) || !(f % PAGE)) {
        report('ZEE_C_CACHE', f, `cache ${size}: link ${hex(f)} (from ${prev ? hex(prev) : 'the head'}) is not a ${size}-aligned frame address inside the heap`);
        break;
      }
      if (inCache.has(f)) { report('ZEE_C_CACHE', f, `cache ${size} loops back to ${hex(f)} (or shares it with another cache)`); break; }
      inCache.add(f);
      cache.members.push(f);
      const rec = frameAt.get(f);
      if (!rec) report('ZEE_C_CACHE', f, `cache ${size}: ${hex(f)} is not a frame start of a small page`);
      else if (rec.state !== 'cached' || rec.size !== size) report('ZEE_C_CACHE', f, `cache ${size}: ${hex(f)} is a ${rec.state} frame of ${rec.size} B`);
      prev = f;
      f = rd(f);
    }
    if (cache.members.length !== st.cached[c] || st.cached[c] > config.cache)
      report('ZEE_C_CACHE', stateAddress, `cache ${size} holds ${cache.members.length} frames; its count says ${st.cached[c]} (at most ${config.cache})`);
  }
  for (const rec of cachedFrames)
    if (!inCache.has(rec.address)) report('ZEE_C_CACHE', rec.address, `cached frame ${hex(rec.address)} of ${rec.size} B is on no cache`);

  if (st.endSmall > 1) report('ZEE_C_STATE', stateAddress + 28, `end_small is ${st.endSmall}, expected 0 or 1`);
  else if (st.endSmall && npages) {
    const top = claims[npages - 1];
    if (top && (top.kind === 'jumbo-start' || top.kind === 'jumbo-body'))
      report('ZEE_C_STATE', stateAddress + 28, `end_small says the top page is small, but ${hex(heapEnd - PAGE)} is in jumbo block ${hex(top.jumbo)}`);
  }

  // ---- pages in address order, totals ------------------------------------------
  const t = emptyTotals();
  t.heapBytes = heapEnd - heapStart;
  t.pages = npages;
  for (let i = 0; i < npages; i++) {
    const address = heapStart + i * PAGE, c = claims[i];
    let page;
    if (!c) page = { address, kind: 'foreign' };
    else if (c.kind === 'small') page = c.page;
    else if (c.kind === 'free-span') page = { address, kind: 'free-span', span: c.span };
    else page = { address, kind: c.kind, jumbo: c.jumbo };
    page.index = i;
    snap.pages[i] = page;
    t.pagesByKind[page.kind]++;
    if (page.kind === 'small' || page.kind === 'anchor') {
      t.metadataBytes += 8 + 8 * page.frames.length + (page.jumbo ? 8 : 0); // header, frame slots, jumbo slot
      if (!page.jumbo) t.reservedBytes += 8; // the vacant tail slot
      for (const f of page.frames) {
        if (f.state === 'used') { t.usedBytes += f.payload; t.usedFrames++; }
        else if (f.state === 'free') { t.freeFrameBytes += f.payload; t.freeFrames++; if (f.payload > t.largestFreeBlock) t.largestFreeBlock = f.payload; }
        else if (f.state === 'cached') { t.cachedBytes += f.payload; t.cachedFrames++; if (f.payload > t.largestFreeBlock) t.largestFreeBlock = f.payload; }
        else t.corruptBytes += f.size - 8; // metadata slot already counted
      }
    } else if (page.kind === 'foreign') t.foreignBytes += PAGE;
  }
  for (const j of snap.jumbos) if (!j.overlaps) { t.usedBytes += j.bytes; t.usedJumbos++; }
  for (const s of snap.spans) { t.freeSpanBytes += s.bytes; if (s.bytes > t.largestFreeBlock) t.largestFreeBlock = s.bytes; }
  t.freeSpans = snap.spans.length;
  t.usedBlocks = t.usedFrames + t.usedJumbos;
  t.freeBytes = t.freeFrameBytes + t.cachedBytes + t.freeSpanBytes;
  t.fragmentation = t.freeBytes ? 1 - t.largestFreeBlock / t.freeBytes : 0;
  t.freeListBytes = snap.freeLists.reduce((a, l) => a + l.members.length * (l.size - META), 0);
  t.freeListMembers = snap.freeLists.reduce((a, l) => a + l.members.length, 0);
  // Two independent sums: bytes by structure must cover the heap exactly once.
  const accounted = t.usedBytes + t.freeBytes + t.metadataBytes + t.reservedBytes + t.foreignBytes + t.corruptBytes;
  if (accounted !== t.heapBytes)
    report('ZEE_C_TOTALS', heapStart, `in use ${t.usedBytes} + free ${t.freeBytes} + metadata ${t.metadataBytes} + reserved ${t.reservedBytes} + foreign ${t.foreignBytes} + corrupt ${t.corruptBytes} = ${accounted} B, but the heap is ${t.heapBytes} B`);
  if (!violations.length && (t.freeListBytes !== t.freeFrameBytes || t.freeListMembers !== t.freeFrames))
    report('ZEE_C_TOTALS', heapStart, `free lists hold ${t.freeListMembers} frames (${t.freeListBytes} B), the pages ${t.freeFrames} (${t.freeFrameBytes} B)`);
  snap.totals = t;
  return snap;
}

function emptyTotals() {
  return {
    heapBytes: 0, pages: 0,
    pagesByKind: { small: 0, anchor: 0, 'jumbo-start': 0, 'jumbo-body': 0, 'free-span': 0, foreign: 0 },
    usedBytes: 0, usedBlocks: 0, usedFrames: 0, usedJumbos: 0,
    freeBytes: 0, freeFrameBytes: 0, freeFrames: 0, cachedBytes: 0, cachedFrames: 0, freeSpanBytes: 0, freeSpans: 0,
    freeListBytes: 0, freeListMembers: 0,
    metadataBytes: 0, reservedBytes: 0, foreignBytes: 0, corruptBytes: 0,
    largestFreeBlock: 0, fragmentation: 0,
  };
}

/**
 * A plain-data (JSON-safe) picture of the heap: every page with its kind,
 * every frame, jumbo block, free span and free list, and totals.  Works on a
 * corrupted heap too: what can't be walked is marked, and `violations` lists
 * what validate() would report.
 */
export function snapshot(source) {
  return walk(source);
}

/**
 * Checks every layout rule independently of zee_check(); returns
 * `{ ok, violations: [{ rule, address, message }] }` in walk order (spans,
 * pages and frames, free lists), so for a single damage the first violation
 * names the rule zee_check() returns.
 */
export function validate(source) {
  const { violations } = walk(source);
  return { ok: violations.length === 0, violations };
}

/** Throws an Error listing the violations unless the heap is sound. */
export function assertValid(source) {
  const r = validate(source);
  if (!r.ok) {
    const lines = r.violations.slice(0, 10).map((v) => `  ${v.rule} at ${hex(v.address)}: ${v.message}`);
    const more = r.violations.length > 10 ? `\n  ... and ${r.violations.length - 10} more` : '';
    const err = new Error(`zee_alloc heap is invalid (${r.violations.length} violations):\n${lines.join('\n')}${more}`);
    err.violations = r.violations;
    throw err;
  }
  return r;
}
