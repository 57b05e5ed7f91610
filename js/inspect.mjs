// zee_alloc's heap inspector (layout 6): reads the
// allocator's structures straight from the wasm memory through typed-array
// views.  It never calls into the allocator and never writes: an instance's
// or a Module's zee_heap_info() export is only asked for the state block's
// address (pass `stateAddress` to skip even that).  So it also works on a
// heap that is frozen (a copy of the memory), corrupted, or owned by an
// Emscripten app.  A state block with heap_start == 0 is an empty heap: the
// allocator has not taken any page yet.
//
//   snapshot(source)  every page (small, large, free-span, foreign; a small
//                     page of either pool, SMALL or MID), every block of
//                     every small page (a slab and its slots included),
//                     every large block, slab, run of free pages, free list
//                     (both sets) and slab list, with totals and a
//                     fragmentation figure, and the allocator's own running
//                     counters
//   validate(source)  { ok, violations: [{ rule, address, message }] }
//   renderText(snapshot, options) / renderSVG(snapshot, options)  (js/render.mjs)
//
// `source` is a ZeeAlloc instance, `{ memory | buffer, stateAddress }`, or an
// Emscripten `Module` (HEAPU8 or wasmMemory, plus `_zee_heap_info` exported).
//
// The walk follows the page map from heap_start to heap_end, one page (or a
// small page and the large block it anchors) at a time.  Every read is
// bounds-checked, every loop advances by at least one block or page and every
// list walk stops at a repeat, so a smashed heap gives violations, never an
// exception or an endless loop.

import { LAYOUT, STATE, STATE_WORDS, decodeConfig } from './layout.mjs';
import { InspectError } from './render.mjs';

export { renderText, renderSVG, formatBytes, InspectError } from './render.mjs';
export { LAYOUT, CHECK_CODES } from './layout.mjs';

const PAGE = LAYOUT.PAGE_SIZE;
const META = LAYOUT.META_SIZE;
const MIN = LAYOUT.MIN_FRAME;
const MAX = LAYOUT.MAX_FRAME;
const CLASSES = LAYOUT.CLASSES;
const SALT = LAYOUT.SALT;
const SLAB_LISTS = LAYOUT.SLAB_LISTS;
const SLAB_META = LAYOUT.SLAB_META;

/**
 * The rules validate() reports.  The ZEE_C_* names are zee_check()'s codes
 * (src/zee_alloc.h, CHECK_CODES), so a violation can be compared with
 * `CHECK_CODES[z.check()]`.
 */
export const RULES = Object.freeze({
  ZEE_C_STATE:
    'the state block (zee_heap_info_t): magic, layout version, config, heap bounds, page map inside memory with no mark below heap_start, first_free on a page boundary',
  ZEE_C_SPAN: 'a free page below first_free (the first-fit search would never find it)',
  ZEE_C_PAGE:
    'small page (SMALL or MID): tag, large-block field; a map mark that no page can start with (LARGE where no large block reaches, or a value none of NONE, FREE, SMALL, LARGE, MID); the spare is not a small page',
  ZEE_C_FRAME:
    "a block header in a small page: tag, check word, size (its extent within the page's limit: a block in use up to ROUND_MAX its power-of-two frame; a free frame: a power of two 16..32768 aligned to its size)",
  ZEE_C_COUNT:
    "a small page's block count disagrees with its blocks in use (+1 for the large block it anchors), or an empty small page is not the spare",
  ZEE_C_BUDDY: 'two free buddies of one size were not merged',
  ZEE_C_LARGE:
    'a large block: header (tag, check word), size (at least 32768, ends on a page boundary), pages inside the heap, every whole page marked LARGE in the page map',
  ZEE_C_LIST:
    "free list: member is not a free frame of its class and of its list set's pool (lists: a SMALL page's frames, mid_lists: a MID page's), broken back link, or a loop",
  ZEE_C_LIST_COUNT: 'a free frame is on no free list of either set (or on two)',
  ZEE_C_TOTALS:
    'a running total of the state (used bytes and blocks, peak, small, large and free pages) disagrees with the walk',
  ZEE_C_SLAB:
    "a slab: its size (a power of two up to 32768, aligned to it, the slab size of its slots), a slot header (tag, check word, slot 0's size), its count of slots in use (never 0), its free list (exactly its free slots, no loop); a list of slabs with a free slot: a member that is not such a slab of the list's slot size, a broken back link, or a slab with a free slot on no list",
});

const hex = (a) => '0x' + (a >>> 0).toString(16).padStart(8, '0');
// What a block record is, in words, for messages.
const blockKind = (rec) =>
  ({
    used: rec.slab ? 'a slot in use' : 'a small block in use',
    'free-slot': 'a free slot',
    slab: 'a slab',
    large: 'a large block',
  })[rec.state] ?? 'a free frame';
const log2 = (x) => 31 - Math.clz32(x);
const isPow2 = (x) => x > 0 && (x & (x - 1)) === 0;
// The bytes a small block of header size m occupies from its payload on
// (zee_alloc.c extent()): up to ROUND_MAX the power-of-two frame that holds
// it, above exactly m.  (m is a multiple of 16; 0 stays 0, a broken header.)
const extent = (m) => (m > 0 && m <= LAYOUT.ROUND_MAX ? 2 ** (32 - Math.clz32(m - 1)) : m);
// Is m (a multiple of 16) a slot size: not a power of two, at most SLAB_MAX?
const isSlotSize = (m) => m <= LAYOUT.SLAB_MAX && !isPow2(m) && m > 0;
// The slab that holds slots of m bytes: the power of two >= SLAB_SLOTS * m,
// at least SLAB_MIN (zee_alloc.c slab_size()).
const slabSize = (m) => Math.max(LAYOUT.SLAB_MIN, 2 ** (32 - Math.clz32(m * LAYOUT.SLAB_SLOTS - 1)));

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

// Why: zee_heap_info() only returns the state's address; it reads and
// changes nothing, so asking it is not a call into the allocator's work.
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
 * (code 'ZEE_BAD_ARGUMENT') naming what is missing.
 */
export function resolveSource(source) {
  if (source === null || typeof source !== 'object')
    throw new InspectError(
      `expected a ZeeAlloc instance, { memory | buffer, stateAddress } or an Emscripten Module, got ${source === null ? 'null' : typeof source}`,
    );
  const buffer = bufferOf(source);
  if (!buffer)
    throw new InspectError(
      'the source has no memory: pass { memory } (a WebAssembly.Memory), { buffer } (an ArrayBuffer), or an Emscripten Module with HEAPU8 or wasmMemory',
    );
  if (buffer.byteLength === 0)
    throw new InspectError(
      'the memory view is detached (length 0): memory grew since it was taken; pass the WebAssembly.Memory or a fresh view',
    );
  const stateAddress = stateAddressOf(source);
  if (stateAddress === undefined)
    throw new InspectError(
      'no state address: pass { stateAddress } (z.stateAddress), or export _zee_heap_info from the app (add it to EXPORTED_FUNCTIONS)',
    );
  if (
    !Number.isInteger(stateAddress) ||
    stateAddress <= 0 ||
    stateAddress % 4 ||
    stateAddress + 4 * STATE_WORDS > buffer.byteLength
  )
    throw new InspectError(`state address ${stateAddress} is not a word inside the ${buffer.byteLength}-byte memory`);
  return { buffer, stateAddress };
}

function emptyTotals() {
  return {
    heapBytes: 0,
    pages: 0,
    pagesByKind: { small: 0, large: 0, 'free-span': 0, foreign: 0, corrupt: 0 },
    usedBytes: 0,
    usedBlocks: 0,
    usedSmall: 0,
    usedLarge: 0,
    freeBytes: 0,
    freeFrameBytes: 0,
    freeFrames: 0,
    freeSpanBytes: 0,
    freeSpans: 0,
    freeSlotBytes: 0,
    freeSlots: 0,
    freeListBytes: 0,
    freeListMembers: 0,
    slabs: 0,
    usedSlots: 0,
    metadataBytes: 0,
    reservedBytes: 0,
    paddingBytes: 0,
    foreignBytes: 0,
    corruptBytes: 0,
    largestFreeBlock: 0,
    fragmentation: 0,
  };
}

/**
 * Walks the whole heap once; returns the snapshot with its violations, in
 * walk order: the state, the pages in address order (free pages, small pages
 * and their blocks, large blocks), the free lists, the spare, the running
 * totals.
 */
function walk(source) {
  const { buffer, stateAddress } = resolveSource(source);
  const memBytes = buffer.byteLength - (buffer.byteLength % 4);
  const u32 = new Uint32Array(buffer, 0, memBytes >>> 2);
  const u8 = new Uint8Array(buffer, 0, memBytes);
  // One aligned word, or undefined outside memory.
  const rd = (a) => (a >= 0 && a + 4 <= memBytes && a % 4 === 0 ? u32[a / 4] : undefined);
  const violations = [];
  const report = (rule, address, message) => violations.push({ rule, address: address >>> 0, message });

  const w = (i) => u32[stateAddress / 4 + i];
  const st = {
    magic: w(STATE.magic),
    layout: w(STATE.layout),
    config: w(STATE.config),
    heapStart: w(STATE.heapStart),
    heapEnd: w(STATE.heapEnd),
    pageMap: w(STATE.pageMap),
    firstFree: w(STATE.firstFree),
    spare: w(STATE.spare),
    lists: Array.from({ length: CLASSES }, (_, c) => w(STATE.lists + c)),
    midLists: Array.from({ length: CLASSES }, (_, c) => w(STATE.midLists + c)),
    slabs: Array.from({ length: SLAB_LISTS }, (_, i) => w(STATE.slabs + i)),
  };
  const counters = {
    usedBytes: w(STATE.usedBytes),
    usedBlocks: w(STATE.usedBlocks),
    peakBytes: w(STATE.peakBytes),
    smallPages: w(STATE.smallPages),
    largePages: w(STATE.largePages),
    freePages: w(STATE.freePages),
  };
  const snap = {
    layoutVersion: st.layout,
    stateAddress,
    config: { raw: st.config, ...decodeConfig(st.config) },
    memoryBytes: memBytes,
    heapStart: st.heapStart,
    heapEnd: st.heapEnd,
    pageMap: st.pageMap,
    firstFree: st.firstFree,
    spare: st.spare,
    cursor: w(STATE.cursor),
    counters,
    pages: [],
    blocks: [],
    large: [],
    spans: [],
    slabs: [],
    freeLists: Array.from({ length: CLASSES }, (_, c) => ({ class: c, size: MIN << c, members: [] })),
    midLists: Array.from({ length: CLASSES }, (_, c) => ({ class: c, size: MIN << c, members: [] })),
    slabLists: Array.from({ length: SLAB_LISTS }, (_, i) => ({
      index: i,
      slotSize: i * MIN,
      slabSize: i ? slabSize(i * MIN) : 0,
      members: [],
    })),
    totals: emptyTotals(),
    violations,
  };
  const stateAt = (field) => stateAddress + 4 * STATE[field];

  if (st.magic !== LAYOUT.INFO_MAGIC || st.layout !== LAYOUT.VERSION) {
    report(
      'ZEE_C_STATE',
      stateAddress,
      st.magic !== LAYOUT.INFO_MAGIC
        ? `no zee_heap_info_t at ${hex(stateAddress)}: magic is ${hex(st.magic)}, expected ${hex(LAYOUT.INFO_MAGIC)}`
        : `layout version ${st.layout} is not the inspector's ${LAYOUT.VERSION}`,
    );
    return snap;
  }
  if ((st.config & 15) > 2 || st.config >>> 5)
    report(
      'ZEE_C_STATE',
      stateAt('config'),
      `config word ${hex(st.config)} is not ZEE_VALIDATION (0..2) | ZEE_THREADS << 4`,
    );
  if (st.heapStart === 0) {
    // Nothing taken yet: no list may hold anything and every counter is 0.
    if (
      st.heapEnd ||
      st.firstFree ||
      st.spare ||
      st.lists.some((x) => x) ||
      st.midLists.some((x) => x) ||
      st.slabs.some((x) => x)
    )
      report(
        'ZEE_C_STATE',
        stateAt('heapEnd'),
        'heap_start is 0 (nothing allocated yet) but heap_end, first_free, the spare, a free list (lists or mid_lists) or a slab list is set',
      );
    for (const [name, v] of Object.entries(counters))
      if (v) report('ZEE_C_TOTALS', stateAt(name), `the heap is empty (heap_start 0) but the state's ${name} is ${v}`);
    return snap;
  }
  if (st.heapStart % PAGE || st.heapEnd % PAGE || st.heapStart >= st.heapEnd || st.heapEnd > memBytes) {
    report(
      'ZEE_C_STATE',
      stateAt('heapStart'),
      `heap bounds [${hex(st.heapStart)}, ${hex(st.heapEnd)}) are not whole pages inside the ${memBytes}-byte memory`,
    );
    return snap;
  }
  const heapStart = st.heapStart,
    heapEnd = st.heapEnd;
  if (!st.pageMap || st.pageMap + heapEnd / PAGE > memBytes) {
    report(
      'ZEE_C_STATE',
      stateAt('pageMap'),
      `the page map at ${hex(st.pageMap)} (a byte per page up to ${hex(heapEnd)}) is not inside the ${memBytes}-byte memory`,
    );
    return snap;
  }
  // Why: no page below heap_start is the allocator's, and its anchor search
  // may look one page below a run of free pages, so a mark there is damage;
  // it is also how a page_map word moved up shows (the allocator indexes its
  // own map, so only readers like this one follow that word).
  if (heapStart && u8[st.pageMap + heapStart / PAGE - 1] !== LAYOUT.MAP_NONE) {
    report(
      'ZEE_C_STATE',
      stateAt('pageMap'),
      `the page map at ${hex(st.pageMap)} marks the page below heap_start ${u8[st.pageMap + heapStart / PAGE - 1]} (expected NONE): a wrong page_map word, or that byte is damaged`,
    );
    return snap;
  }
  // Why only alignment: first_free is a lower bound (a free page below it is
  // ZEE_C_SPAN), but the search steps from it a page at a time, so an
  // unaligned one would carve pages at unaligned addresses.
  if (st.firstFree % PAGE)
    report('ZEE_C_STATE', stateAt('firstFree'), `first_free ${hex(st.firstFree)} is not a page boundary`);
  const mark = (a) => u8[st.pageMap + a / PAGE];
  const inHeap = (a) => a >= heapStart && a < heapEnd;
  // A small page is marked SMALL or MID (its pool); (mark & 3) === SMALL is
  // not enough, as any other value is corrupt.
  const isSmallMark = (m) => m === LAYOUT.MAP_SMALL || m === LAYOUT.MAP_MID;
  // The small page at P in words, its pool named: "small page 0x…" or "mid page 0x…".
  const pageName = (P) => `${mark(P) === LAYOUT.MAP_MID ? 'mid' : 'small'} page ${hex(P)}`;
  const t = snap.totals;
  t.heapBytes = heapEnd - heapStart;
  t.pages = t.heapBytes / PAGE;

  // The spare before the pages, as zee_check() does: a spare the map does
  // not mark SMALL or MID is its first finding, whatever the walk would meet.
  const spareBad = st.spare && (!inHeap(st.spare) || !isSmallMark(mark(st.spare)));
  if (spareBad) report('ZEE_C_PAGE', st.spare, `the spare ${hex(st.spare)} is not a small page`);

  const blockAt = new Map(); // payload address -> block, for the lists
  const smallAt = new Map(); // page address -> small page
  const slabAt = new Map(); // slab address -> slab, for the slab lists
  const addPage = (page) => {
    page.index = (page.address - heapStart) / PAGE;
    snap.pages.push(page);
    t.pagesByKind[page.kind]++;
    return page;
  };
  const addBlock = (page, rec) => {
    page.blocks.push(rec);
    snap.blocks.push(rec);
    if (rec.state !== 'corrupt') blockAt.set(rec.address, rec);
    return rec;
  };
  let walkedAll = true; // false once a part of the heap could not be read

  // ---- pages in address order ----------------------------------------------
  let run = null; // the run of free pages being walked
  for (let a = heapStart; a < heapEnd;) {
    const m = mark(a);
    if (m === LAYOUT.MAP_FREE) {
      if (a < st.firstFree)
        report('ZEE_C_SPAN', a, `page ${hex(a)} is free but lies below first_free ${hex(st.firstFree)}`);
      if (!run) snap.spans.push((run = { address: a, pages: 0, bytes: 0 }));
      run.pages++;
      run.bytes += PAGE;
      addPage({ address: a, kind: 'free-span', span: run.address });
      t.freeSpanBytes += PAGE;
      a += PAGE;
      continue;
    }
    run = null;
    if (isSmallMark(m)) a = walkSmall(a);
    else if (m === LAYOUT.MAP_NONE) {
      addPage({ address: a, kind: 'foreign' });
      t.foreignBytes += PAGE;
      a += PAGE;
    } else {
      report(
        'ZEE_C_PAGE',
        a,
        m === LAYOUT.MAP_LARGE
          ? `page ${hex(a)} is marked LARGE (a page inside a large block) but no large block reaches it`
          : `page ${hex(a)} has map mark ${m}, none of NONE, FREE, SMALL, LARGE, MID (${LAYOUT.MAP_NONE}..${LAYOUT.MAP_LARGE}, ${LAYOUT.MAP_MID})`,
      );
      addPage({ address: a, kind: 'corrupt', mark: m });
      t.corruptBytes += PAGE;
      walkedAll = false;
      a += PAGE;
    }
  }

  // The small page at P and the large block it anchors; returns the next
  // page to walk.  Bytes: the page header and every block header are
  // metadata; a block's payload (size - 8) is in use or free; what a small
  // block's extent holds beyond its header size is padding; the slot at the
  // page end is the anchored large block's header, or reserved.  A slab is
  // a block too: its words and slot headers are metadata, its slots' payloads
  // in use or free, its unused tail reserved (addSlab()).
  function walkSmall(P) {
    const w0 = rd(P),
      w1 = rd(P + 4);
    const page = addPage({
      address: P,
      kind: 'small',
      pool: mark(P) === LAYOUT.MAP_MID ? 'mid' : 'small',
      count: w0 & LAYOUT.COUNT_MASK,
      usedBlocks: 0,
      freeFrames: 0,
      slabs: 0,
      freeSlots: 0,
      usedBytes: 0,
      freeBytes: 0,
      large: 0,
      limit: P + PAGE,
      spare: P === st.spare,
      corrupt: false,
      blocks: [],
    });
    smallAt.set(P, page);
    t.metadataBytes += 8 + 8; // the page header, the header slot at P+8
    let why = null;
    if ((w0 & ~LAYOUT.COUNT_MASK) >>> 0 !== LAYOUT.PAGE_TAG) {
      report('ZEE_C_PAGE', P, `${pageName(P)} has ${hex(w0)} in its header, expected ${hex(LAYOUT.PAGE_TAG)} | count`);
      why = 'the page header is broken';
    } else if (w1 && (w1 % 16 > LAYOUT.ANCHOR_ONLY || w1 < P + 16 || w1 > P + PAGE + LAYOUT.ANCHOR_ONLY)) {
      report(
        'ZEE_C_PAGE',
        P + 4,
        `${pageName(P)}: large-block field ${hex(w1)} is not a 16-aligned address in [${hex(P + 16)}, ${hex(P + PAGE)}] (| ANCHOR_ONLY)`,
      );
      why = "the page's large-block field is broken";
    } else if (w1 === LAYOUT.ANCHOR_ONLY) {
      report('ZEE_C_PAGE', P + 4, `${pageName(P)}: marked ANCHOR_ONLY but anchors no large block`);
      why = "the page's large-block field is broken";
    }
    if (why) {
      unreadable(page, P + 16, P + PAGE - 8, why);
      t.reservedBytes += 8;
      return P + PAGE;
    }
    const p = w1 & ~LAYOUT.ANCHOR_ONLY; // payload of the large block this page anchors, or 0
    if (p) {
      page.large = p;
      page.limit = Math.min(p, P + PAGE);
    }
    const limit = page.limit;
    // A page made for its large block holds nothing else: [P+16, p-8) is unused.
    page.anchorOnly = !!(w1 & LAYOUT.ANCHOR_ONLY);
    if (page.anchorOnly && limit > P + 16) t.reservedBytes += limit - 8 - (P + 16);
    let counted = 0; // the blocks the page word counts: blocks in use (a slab as one), the large block
    for (let f = page.anchorOnly ? limit : P + 16; f < limit;) {
      const info = rd(f - 8),
        check = rd(f - 4),
        tg = info & 15,
        header = (info & ~15) >>> 0;
      // What it occupies: a small block its extent (zee_alloc.c extent()), a free frame or a slab its size.
      const size = tg === LAYOUT.TAG_SMALL ? extent(header) : header;
      const slab = tg === LAYOUT.TAG_SLAB;
      const pastLimit = () =>
        f + size > limit
          ? `its ${size === header ? size : `${header} B block's ${size}`} B run to ${hex(f + size)}, past ${limit < P + PAGE ? `the large block at ${hex(limit)}` : 'the page end'}`
          : null;
      let bad = null;
      if (tg !== LAYOUT.TAG_FREE && tg !== LAYOUT.TAG_SMALL && !slab)
        bad = `tag ${tg} is none of a small block's (${LAYOUT.TAG_SMALL}), a free frame's (${LAYOUT.TAG_FREE}) or a slab's (${LAYOUT.TAG_SLAB})`;
      else if (check !== (info ^ f ^ SALT) >>> 0) bad = `check word ${hex(check)} should be ${hex(info ^ f ^ SALT)}`;
      else if (tg === LAYOUT.TAG_FREE && !(isPow2(size) && size >= MIN && size <= MAX))
        bad = `a free frame of ${size} B: not a power of two in ${MIN}..${MAX}`;
      else if (tg === LAYOUT.TAG_FREE && f % size) bad = `a free frame of ${size} B is not aligned to its size`;
      else if (size < MIN) bad = `a ${slab ? 'slab' : 'small block'} of ${size} B`;
      // (a slab's own rules come first, as in zee_check(): below)
      else if (!slab) bad = pastLimit();
      t.metadataBytes += f === P + 16 ? 0 : 8; // its header (the one at P+8 is counted)
      if (bad) {
        report('ZEE_C_FRAME', f, `block ${hex(f)} (header at ${hex(f - 8)}) of ${pageName(P)}: ${bad}`);
        unreadable(page, f, limit - 8, bad);
        break;
      }
      if (slab) {
        const r = readSlab(P, f, size);
        bad = pastLimit();
        if (bad) report('ZEE_C_FRAME', f, `slab ${hex(f)} (header at ${hex(f - 8)}) of ${pageName(P)}: ${bad}`);
        // Past its own size the page can't be walked unless that size is sound.
        if (bad || !r.sized) {
          unreadable(page, f, limit - 8, bad ?? r.why);
          break;
        }
        counted++;
        page.slabs++;
        if (r.why) unreadable(page, f, f + size - 8, r.why);
        else addSlab(page, r.slab, r.slots);
        f += size;
        continue;
      }
      const used = tg === LAYOUT.TAG_SMALL;
      const rec = addBlock(page, {
        address: f,
        page: P,
        size,
        usable: header - META,
        state: used ? 'used' : 'free',
        class: used ? -1 : log2(size) - 4,
      });
      if (used) {
        counted++;
        page.usedBlocks++;
        page.usedBytes += rec.usable;
        t.usedSmall++;
        t.usedBytes += rec.usable;
        t.paddingBytes += size - header;
      } else {
        page.freeFrames++;
        page.freeBytes += rec.usable;
        t.freeFrames++;
        t.freeFrameBytes += rec.usable;
        if (rec.usable > t.largestFreeBlock) t.largestFreeBlock = rec.usable;
        // Its buddy f ^ size, if above it, is the next block: both free and
        // of one size means they were not merged.  (A buddy at page offset 0
        // never exists; one below was checked when the walk passed it.)
        const b = f ^ size;
        if (
          b > f &&
          b < limit &&
          rd(b - 8) === (size | LAYOUT.TAG_FREE) &&
          rd(b - 4) === ((size | LAYOUT.TAG_FREE) ^ b ^ SALT) >>> 0
        )
          report('ZEE_C_BUDDY', f, `free frames ${hex(f)} and ${hex(b)} of ${size} B are buddies but were not merged`);
      }
      f += size;
    }
    // The slot before the limit: the large block's header, else reserved.
    if (p) t.metadataBytes += limit === P + 16 ? 0 : 8;
    else t.reservedBytes += 8;

    const next = p ? walkLarge(page, p) : P + PAGE;
    if (!page.corrupt) {
      const want = counted + (page.large ? 1 : 0);
      if (page.count !== want)
        report('ZEE_C_COUNT', P, `${pageName(P)} counts ${page.count} blocks in use, its blocks say ${want}`);
      else if (want === 0 && P !== st.spare)
        report(
          'ZEE_C_COUNT',
          P,
          `${pageName(P)} is empty but is not the spare: it should have gone back to the free pages`,
        );
    }
    return next;
  }

  // [from, to) of a page can't be walked: one corrupt block.
  function unreadable(page, from, to, why) {
    page.corrupt = true;
    walkedAll = false;
    addBlock(page, { address: from, page: page.address, size: to - from, usable: 0, state: 'corrupt', class: -1, why });
    t.corruptBytes += to - from;
  }

  // Is there a sound header of tag `tg` before payload s (size unchecked)?
  function sound(s, tg) {
    const info = rd(s - 8);
    return (info & 15) === tg && rd(s - 4) === (info ^ s ^ SALT) >>> 0;
  }

  // The slab at b of `size` bytes in small page P (its header is sound), as
  // zee_check()'s walk_slab() checks it: its size, its slots, its count of
  // slots in use, its free list.  Reports the first broken rule; returns
  // { slab, slots }, or { why } with `sized` when its size is still sound
  // (so the walk can go on after it).
  function readSlab(P, b, size) {
    const slot0 = b + SLAB_META + META,
      m = (rd(slot0 - 8) & ~15) >>> 0; // slot 0's size
    // Reported at the slab, or at the slot that breaks the rule.
    const fail = (why, sized, at = b) => {
      report('ZEE_C_SLAB', at, `slab ${hex(b)} (header at ${hex(b - 8)}) of ${pageName(P)}: ${why}`);
      walkedAll = false;
      return { why, sized };
    };
    if (size > MAX) return fail(`its size ${size} B is above ${MAX}`, false);
    if (b & (size - 1)) return fail(`it is not aligned to its size ${size} B`, false);
    const sized = isPow2(size);
    if (!isSlotSize(m))
      return fail(
        `slot 0's size ${m} B is not a slot size (a multiple of 16 up to ${LAYOUT.SLAB_MAX}, not a power of two)`,
        sized,
        slot0,
      );
    if (slabSize(m) !== size)
      return fail(
        `slot 0's size ${m} B: slots of ${m} B live in slabs of ${slabSize(m)} B, not ${size} B`,
        sized,
        slot0,
      );
    const slots = [];
    let used = 0;
    for (let s = slot0; s + m <= b + size; s += m) {
      const info = rd(s - 8);
      if (!sound(s, LAYOUT.TAG_SLOT) && !sound(s, LAYOUT.TAG_SLOT_FREE))
        return fail(
          `slot ${hex(s)}: header ${hex(info)} ${hex(rd(s - 4))} is not a slot's (tag ${LAYOUT.TAG_SLOT} or ${LAYOUT.TAG_SLOT_FREE}, check word ${hex(info ^ s ^ SALT)})`,
          true,
          s,
        );
      if ((info & ~15) >>> 0 !== m)
        return fail(`slot ${hex(s)} has size ${(info & ~15) >>> 0} B, slot 0 ${m} B`, true, s);
      const inUse = (info & 15) === LAYOUT.TAG_SLOT;
      used += inUse;
      slots.push({ address: s, inUse });
    }
    const usedWord = rd(b + 8);
    if (!used) return fail('no slot is in use (an empty slab is freed at once)', true);
    if (usedWord !== used) return fail(`it counts ${usedWord} slots in use, its slots say ${used}`, true);
    // Its free list: exactly its free slots, each on a slot boundary of this slab.
    const free = slots.length - used,
      freeList = [];
    const seen = new Set();
    for (let s = rd(b + 12); s;) {
      if (seen.has(s)) return fail(`its free list loops back to ${hex(s)}`, true, s);
      if (freeList.length === free)
        return fail(`its free list holds more than its ${free} free slots (${hex(s)} is one more)`, true, s);
      if ((s & -size) >>> 0 !== b || ((s - b - SLAB_META - META) >>> 0) % m)
        return fail(`its free list links to ${hex(s)}, not a slot of this slab`, true, s);
      if (!sound(s, LAYOUT.TAG_SLOT_FREE)) {
        const what = slots.some((x) => x.address === s) ? 'a slot in use' : 'not a free slot';
        return fail(`its free list holds ${hex(s)}, ${what}`, true, s);
      }
      seen.add(s);
      freeList.push(s);
      s = rd(s);
    }
    if (freeList.length !== free)
      return fail(`its free list holds ${freeList.length} slots, ${free} slots are free`, true);
    const slab = {
      address: b,
      page: P,
      size,
      slotSize: m,
      slots: slots.length,
      usedSlots: used,
      freeSlots: free,
      next: rd(b),
      prev: rd(b + 4),
      freeList,
      listed: false,
    };
    return { slab, slots, sized: true };
  }

  // A sound slab of small page `page`: its record, then one per slot.
  function addSlab(page, slab, slots) {
    const m = slab.slotSize,
      b = slab.address;
    snap.slabs.push(slab);
    slabAt.set(b, slab);
    addBlock(page, {
      address: b,
      page: page.address,
      size: slab.size,
      usable: 0,
      state: 'slab',
      class: -1,
      slotSize: m,
    });
    for (const { address, inUse } of slots)
      addBlock(page, {
        address,
        page: page.address,
        size: m,
        usable: m - META,
        state: inUse ? 'used' : 'free-slot',
        class: -1,
        slab: b,
      });
    page.usedBlocks += slab.usedSlots;
    page.freeSlots += slab.freeSlots;
    page.usedBytes += slab.usedSlots * (m - META);
    page.freeBytes += slab.freeSlots * (m - META);
    t.slabs++;
    t.usedSlots += slab.usedSlots;
    t.usedSmall += slab.usedSlots;
    t.usedBytes += slab.usedSlots * (m - META);
    t.freeSlots += slab.freeSlots;
    t.freeSlotBytes += slab.freeSlots * (m - META);
    // Its words and slot headers are metadata; after its last slot, its tail
    // is unused but for the next block's header.
    t.metadataBytes += SLAB_META + slots.length * META;
    t.reservedBytes += slab.size - SLAB_META - META - slots.length * m;
  }

  // The large block with payload p anchored by small page A; returns the
  // page after it.
  function walkLarge(page, p) {
    const A = page.address;
    const info = rd(p - 8),
      check = rd(p - 4),
      m = (info & ~15) >>> 0,
      tg = info & 15;
    const inPage = A + PAGE - p; // its bytes inside the anchor
    let bad = null;
    if (tg !== LAYOUT.TAG_LARGE) bad = `tag ${tg} is not a large block's (${LAYOUT.TAG_LARGE})`;
    else if (check !== (info ^ p ^ SALT) >>> 0) bad = `check word ${hex(check)} should be ${hex(info ^ p ^ SALT)}`;
    else {
      if (m < MAX) bad = `size ${m} is below ${MAX}`;
      else if ((p + m) % PAGE) bad = `it ends at ${hex(p + m)}, not on a page boundary`;
      else if (m - inPage > heapEnd - A - PAGE)
        bad = `its ${(m - inPage) / PAGE} whole pages after the anchor run past the heap end ${hex(heapEnd)}`;
      else {
        for (let q = A + PAGE; q < p + m; q += PAGE) {
          if (mark(q) === LAYOUT.MAP_LARGE) continue;
          bad = `its page ${hex(q)} has map mark ${mark(q)}, expected LARGE (${LAYOUT.MAP_LARGE})`;
          break;
        }
      }
    }
    if (bad) {
      report('ZEE_C_LARGE', p, `large block ${hex(p)} (header at ${hex(p - 8)}, anchored by ${hex(A)}): ${bad}`);
      if (inPage) unreadable(page, p, A + PAGE, bad);
      else {
        page.corrupt = true;
        walkedAll = false;
      }
      return A + PAGE;
    }
    const j = (m - inPage) / PAGE;
    snap.large.push({ address: p, anchor: A, size: m, usable: m, pages: j, inPage, end: p + m });
    blockAt.set(p, { address: p, page: A, size: m, usable: m, state: 'large', class: -1 });
    if (inPage) {
      page.blocks.push({ address: p, page: A, size: inPage, usable: inPage, state: 'large', class: -1 });
      snap.blocks.push(page.blocks[page.blocks.length - 1]);
    }
    t.usedLarge++;
    t.usedBytes += m;
    for (let i = 1; i <= j; i++) addPage({ address: A + i * PAGE, kind: 'large', large: p });
    return A + (j + 1) * PAGE;
  }

  // ---- free lists: lists[c] holds SMALL pages' free frames of class c,
  // mid_lists[c] MID pages' (zee_check() walks lists, then mid_lists)
  const onList = new Map(); // frame -> the name of the list it is on
  for (const [pool, heads, lists] of [
    ['small', st.lists, snap.freeLists],
    ['mid', st.midLists, snap.midLists],
  ])
    for (let c = 0; c < CLASSES; c++) walkFreeList(pool, heads[c], lists[c]);
  for (const rec of snap.blocks)
    if (rec.state === 'free' && !onList.has(rec.address))
      report(
        'ZEE_C_LIST_COUNT',
        rec.address,
        `free frame ${hex(rec.address)} of ${rec.size} B of ${pageName(rec.page)} is on no free list`,
      );

  // The free list of class list.class of pool `pool` ('small': lists[c],
  // 'mid': mid_lists[c]) from `head`: each member a free frame of that size
  // in a page of that pool, linked back, on no other list.
  function walkFreeList(pool, head, list) {
    const size = list.size,
      name = `${pool === 'mid' ? 'mid list' : 'free list'} ${size}`;
    const seen = new Set();
    for (let f = head, prev = 0; f;) {
      if (f % 16 || !inHeap(f) || f % PAGE === 0) {
        report(
          'ZEE_C_LIST',
          f,
          `${name}: link ${hex(f)} (from ${prev ? hex(prev) : 'the head'}) is not a block address inside the heap`,
        );
        return;
      }
      if (seen.has(f)) {
        report('ZEE_C_LIST', f, `${name} loops back to ${hex(f)}`);
        return;
      }
      seen.add(f);
      list.members.push(f);
      const rec = blockAt.get(f),
        pg = f - (f % PAGE);
      if (!rec || rec.state !== 'free') {
        // Its words are not links: the walk of this list stops here.
        report(
          'ZEE_C_LIST',
          f,
          !rec
            ? smallAt.has(pg)
              ? `${name}: ${hex(f)} is not the start of a block of ${pageName(pg)}${smallAt.get(pg).corrupt ? ' (or lies in its unreadable part)' : ''}`
              : `${name}: ${hex(f)} is not in a small page`
            : `${name}: ${hex(f)} is ${blockKind(rec)} of ${rec.size} B`,
        );
        return;
      }
      const own = smallAt.get(rec.page).pool;
      if (rec.size !== size) report('ZEE_C_LIST', f, `${name}: ${hex(f)} is a free frame of ${rec.size} B`);
      else if (own !== pool)
        report(
          'ZEE_C_LIST',
          f,
          `${name}: ${hex(f)} is a free frame of ${pageName(pg)}, whose frames go on ${own === 'mid' ? 'mid_lists' : 'lists'}`,
        );
      else if (onList.has(f)) report('ZEE_C_LIST', f, `${hex(f)} is on ${onList.get(f)} and on ${name}`);
      else onList.set(f, name);
      const back = rd(f + 4);
      if (back !== prev)
        report('ZEE_C_LIST', f, `${name}: ${hex(f)} links back to ${hex(back)}, expected ${prev ? hex(prev) : 0}`);
      prev = f;
      f = rd(f);
    }
  }

  // ---- slab lists: exactly the slabs with a free slot, each on the list of its slot size
  for (const list of snap.slabLists) walkSlabList(list);
  for (const slab of snap.slabs)
    if (slab.freeSlots && !slab.listed)
      report(
        'ZEE_C_SLAB',
        slab.address,
        `slab ${hex(slab.address)} of ${slab.slotSize} B slots has ${slab.freeSlots} free slots but is on no slab list`,
      );

  // The list of slabs with a free slot of list.slotSize bytes: each member a
  // slab the walk read, of that slot size, with a free slot, linked back.
  function walkSlabList(list) {
    const name = `slab list ${list.index} (${list.slotSize} B slots)`;
    const seen = new Set();
    for (let b = st.slabs[list.index], prev = 0; b;) {
      if (b % 16 || !inHeap(b) || !isSmallMark(mark(b - (b % PAGE)))) {
        report(
          'ZEE_C_SLAB',
          b,
          `${name}: link ${hex(b)} (from ${prev ? hex(prev) : 'the head'}) is not an address in a small page`,
        );
        return;
      }
      if (seen.has(b)) {
        report('ZEE_C_SLAB', b, `${name} loops back to ${hex(b)}`);
        return;
      }
      seen.add(b);
      list.members.push(b);
      const slab = slabAt.get(b);
      if (!slab) {
        // Its words are not links: the walk of this list stops here.
        const rec = blockAt.get(b);
        report('ZEE_C_SLAB', b, `${name}: ${hex(b)} is ${rec ? `${blockKind(rec)} of ${rec.size} B` : 'not a slab'}`);
        return;
      }
      if (slab.slotSize !== list.slotSize)
        report('ZEE_C_SLAB', b, `${name}: ${hex(b)} is a slab of ${slab.slotSize} B slots`);
      else if (!slab.freeSlots) report('ZEE_C_SLAB', b, `${name}: ${hex(b)} is full (no free slot)`);
      else slab.listed = true;
      const back = rd(b + 4);
      if (back !== prev)
        report('ZEE_C_SLAB', b, `${name}: ${hex(b)} links back to ${hex(back)}, expected ${prev ? hex(prev) : 0}`);
      prev = b;
      b = rd(b);
    }
  }

  // ---- the spare: the start of a small page (emptied once; it may be in use again)
  if (st.spare && !spareBad && !smallAt.has(st.spare))
    report('ZEE_C_PAGE', st.spare, `the spare ${hex(st.spare)} is not a small page`);

  // ---- totals: the walk's sums, then the state's running counters --------
  t.usedBlocks = t.usedSmall + t.usedLarge;
  t.freeBytes = t.freeFrameBytes + t.freeSlotBytes + t.freeSpanBytes;
  t.freeSpans = snap.spans.length;
  for (const s of snap.spans) if (s.bytes > t.largestFreeBlock) t.largestFreeBlock = s.bytes;
  t.fragmentation = t.freeBytes ? 1 - t.largestFreeBlock / t.freeBytes : 0;
  const allLists = [...snap.freeLists, ...snap.midLists];
  t.freeListMembers = allLists.reduce((n, l) => n + l.members.length, 0);
  t.freeListBytes = allLists.reduce((n, l) => n + l.members.length * (l.size - META), 0);
  // Why: a walk that skipped unreadable parts can't count them; the rule
  // that stopped it is reported already.  (A large block's pages are counted
  // from its header: a LARGE mark elsewhere is a ZEE_C_PAGE already.)
  if (walkedAll) {
    const walked = {
      usedBytes: t.usedBytes,
      usedBlocks: t.usedBlocks,
      smallPages: t.pagesByKind.small,
      largePages: t.pagesByKind.large,
      freePages: t.freeSpanBytes / PAGE,
    };
    for (const [name, v] of Object.entries(walked))
      if (counters[name] !== v)
        report('ZEE_C_TOTALS', stateAt(name), `the state's ${name} is ${counters[name]}, the walk finds ${v}`);
  }
  if (counters.peakBytes < counters.usedBytes)
    report(
      'ZEE_C_TOTALS',
      stateAt('peakBytes'),
      `the state's peakBytes ${counters.peakBytes} is below its usedBytes ${counters.usedBytes}`,
    );
  return snap;
}

/**
 * A plain-data (JSON-safe) picture of the heap: every page with its kind,
 * every block of every small page, every large block, run of free pages
 * (`spans`) and free list, the state's running counters, and totals.  Works
 * on a corrupted heap too: what can't be walked is marked `corrupt`, and
 * `violations` lists what validate() reports.
 */
export function snapshot(source) {
  return walk(source);
}

/**
 * Checks every layout rule independently of zee_check(); returns
 * `{ ok, violations: [{ rule, address, message }] }` in walk order (the
 * state, the pages in address order with their blocks and large blocks, the
 * free lists, the spare, the running totals), so for a single
 * damage the first violation names the rule zee_check() returns.
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
    err.code = r.violations[0].rule;
    err.violations = r.violations;
    throw err;
  }
  return r;
}
