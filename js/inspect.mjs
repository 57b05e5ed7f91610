// zee_alloc's heap inspector (layout 8: one buddy heap, docs/layout.md): reads
// the allocator's structures straight from the wasm memory through
// typed-array views.  It never calls into the allocator and never writes: an
// instance's or a Module's zee_heap_info() export is only asked for the state
// block's address (pass `stateAddress` to skip even that).  So it also works
// on a heap that is frozen (a copy of the memory), corrupted, or owned by an
// Emscripten app.  A state block with heap_start == 0 is an empty heap: the
// allocator has not been used yet.
//
//   snapshot(source)  every block of the heap in address order (blocks in
//                     use, free frames, slabs followed by their slots,
//                     foreign blocks), a summary of every 64 KiB page, the
//                     runs of free frames, every slab, free list (both
//                     pools) and slab list, totals with a fragmentation
//                     figure, and the allocator's own running counters
//   validate(source)  { ok, violations: [{ rule, address, message }] }
//   renderText(snapshot, options) / renderSVG(snapshot, options)  (js/render.mjs)
//
// `source` is a ZeeAlloc instance, `{ memory | buffer, stateAddress }`, or an
// Emscripten `Module` (HEAPU8 or wasmMemory, plus `_zee_heap_info` exported).
//
// The walk reads a header at heap_start - 8, steps over the block's extent,
// reads the next header, and so on to heap_end: the order and the rules of
// zee_check() (walk(), walk_block() and walk_slab() in src/zee_alloc.c), so
// that on a single damage the first violation names the rule zee_check()
// returns.  Every read is bounds-checked, every loop advances by at least
// 16 bytes and every list walk stops at a repeat, so a smashed heap gives
// violations, never an exception or an endless loop.

import { LAYOUT, STATE, STATE_WORDS, decodeConfig } from './layout.mjs';
import { InspectError } from './render.mjs';

export { renderText, renderSVG, formatBytes, InspectError } from './render.mjs';
export { LAYOUT, CHECK_CODES } from './layout.mjs';

const PAGE = LAYOUT.PAGE_SIZE;
const META = LAYOUT.META_SIZE;
const MIN = LAYOUT.MIN_FRAME;
const CLASSES = LAYOUT.CLASSES;
const POOL_CLASSES = LAYOUT.POOL_CLASSES;
const SALT = LAYOUT.SALT;
const SLAB_LISTS = LAYOUT.SLAB_LISTS;
const SLOT0 = LAYOUT.SLAB_META + META; // slot 0's payload, from its slab's address
const TAG = LAYOUT.TAG_MASK;

/**
 * The rules validate() reports.  The ZEE_C_* names are zee_check()'s codes
 * (src/zee_alloc.h, CHECK_CODES), so a violation can be compared with
 * `CHECK_CODES[z.check()]`.
 */
export const RULES = Object.freeze({
  ZEE_C_STATE:
    'the state block (zee_heap_info_t): magic, layout version 8, config, heap bounds (heap_end a page boundary above heap_start and inside memory, heap_start 16-aligned), the pool map 4-aligned and inside memory, no header at heap_end - 8 (the word is 0), the cursor 16-aligned and at most heap_end',
  ZEE_C_FRAME:
    "a header met by the walk: its tag (a block in use, a free frame, a slab or a foreign block), its check word, its size (not 0; a free frame's a power of two aligned to it), or an extent past the heap's end",
  ZEE_C_BUDDY: 'two free buddies of one size were not merged',
  ZEE_C_FOREIGN: 'a foreign block that does not start on a page boundary or end 16 bytes past one',
  ZEE_C_LIST:
    "free list: a member that is not a free frame of the list's size inside the heap and aligned to it, a frame on the other pool's list (below 64 KiB, lists holds the frames of small-pool pages and mid_lists those of mid-pool pages; larger frames only lists), a broken back link, a frame on two lists, or a loop",
  ZEE_C_LIST_COUNT: 'a free frame is on no free list',
  ZEE_C_TOTALS:
    'a running total of the state (used bytes, used blocks) disagrees with the walk, or the peak is below the bytes in use',
  ZEE_C_SLAB:
    "a slab: its size (a power of two up to 32768, aligned to it, the slab size of slot 0's size, which is a slot size), a slot header (tag, check word, size), its count of slots in use (never 0), its free list (exactly its free slots, no loop); a list of slabs with a free slot: a member that is not such a slab of the list's slot size, a broken back link, a loop, or a slab with a free slot on no list",
});

const hex = (a) => '0x' + (a >>> 0).toString(16).padStart(8, '0');
const log2 = (x) => 31 - Math.clz32(x);
const isPow2 = (x) => x > 0 && (x & (x - 1)) === 0;
// The bytes a block in use of header size m occupies from its payload on
// (zee_alloc.c extent()): up to ROUND_MAX the power-of-two frame that holds
// it, above exactly m.  (m is a nonzero multiple of 16.)
const extent = (m) => (m <= LAYOUT.ROUND_MAX ? 2 ** (32 - Math.clz32(m - 1)) : m);
// Is m (a multiple of 16) a slot size: not a power of two, at most SLAB_MAX?
const isSlotSize = (m) => m > 0 && m <= LAYOUT.SLAB_MAX && !isPow2(m);
// The slab that holds slots of m bytes: the power of two >= SLAB_SLOTS * m,
// at least SLAB_MIN (zee_alloc.c slab_size()).
const slabSize = (m) => Math.max(LAYOUT.SLAB_MIN, 2 ** (32 - Math.clz32(m * LAYOUT.SLAB_SLOTS - 1)));
// What a record is, in words, for messages.
const kindOf = (rec) =>
  ({
    used: rec.slab ? 'a slot in use' : 'a block in use',
    free: 'a free frame',
    'free-slot': 'a free slot',
    slab: 'a slab',
    foreign: 'a foreign block',
    corrupt: 'an unreadable part of the heap',
  })[rec.state];

// Why: tag checks, not instanceof, so buffers from another realm (a Jest vm
// context, an iframe, a worker's memory) are recognised.
const brand = (x) => Object.prototype.toString.call(x);
const isBuffer = (b) => brand(b) === '[object ArrayBuffer]' || brand(b) === '[object SharedArrayBuffer]';
const isMemory = (m) => brand(m) === '[object WebAssembly.Memory]';

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
    pagesByKind: { used: 0, free: 0, mixed: 0, foreign: 0, corrupt: 0 },
    usedBytes: 0,
    usedBlocks: 0,
    usedSlots: 0,
    freeBytes: 0,
    freeFrameBytes: 0,
    freeFrames: 0,
    freeSlotBytes: 0,
    freeSlots: 0,
    freeListBytes: 0,
    freeListMembers: 0,
    slabs: 0,
    metadataBytes: 0,
    paddingBytes: 0,
    foreignBytes: 0,
    corruptBytes: 0,
    topFreeBytes: 0,
    largestFreeBlock: 0,
    fragmentation: 0,
  };
}

/**
 * Walks the whole heap once; returns the snapshot with its violations, in
 * zee_check()'s order: the state block, the blocks in address order, the
 * free lists (lists, then mid_lists), the free frames on none, the slab
 * lists, the running totals.
 */
// The pool of the page holding address a: page i is bit i % 32 of the pool
// map's 32-bit word i / 32, so (little-endian) bit i % 8 of byte i / 8.
const poolBit = (u8, map, a) => {
  const i = Math.floor(a / PAGE);
  return (u8[map + (i >>> 3)] >>> (i & 7)) & 1;
};

function walk(source) {
  const { buffer, stateAddress } = resolveSource(source);
  const memBytes = buffer.byteLength - (buffer.byteLength % 4);
  const u32 = new Uint32Array(buffer, 0, memBytes >>> 2);
  const u8 = new Uint8Array(buffer, 0, memBytes);
  // One aligned word, or undefined outside memory (which fails every comparison).
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
    poolMap: w(STATE.poolMap),
    cursor: w(STATE.cursor),
    lists: Array.from({ length: CLASSES }, (_, c) => w(STATE.lists + c)),
    midLists: Array.from({ length: POOL_CLASSES }, (_, c) => w(STATE.midLists + c)),
    slabs: Array.from({ length: SLAB_LISTS }, (_, i) => w(STATE.slabs + i)),
  };
  const counters = {
    usedBytes: w(STATE.usedBytes),
    usedBlocks: w(STATE.usedBlocks),
    peakBytes: w(STATE.peakBytes),
  };
  const listInfo = (c, pool) => ({ class: c, size: MIN << c, pool, members: [] });
  const snap = {
    layoutVersion: st.layout,
    stateAddress,
    config: { raw: st.config, ...decodeConfig(st.config) },
    memoryBytes: memBytes,
    heapStart: st.heapStart,
    heapEnd: st.heapEnd,
    poolMap: st.poolMap,
    cursor: st.cursor,
    counters,
    pages: [],
    blocks: [],
    freeRuns: [],
    slabs: [],
    freeLists: Array.from({ length: CLASSES }, (_, c) => listInfo(c, c < POOL_CLASSES ? 'small' : 'none')),
    midLists: Array.from({ length: POOL_CLASSES }, (_, c) => listInfo(c, 'mid')),
    slabLists: Array.from({ length: SLAB_LISTS }, (_, i) => ({
      index: i,
      slotSize: i * MIN,
      slabSize: isSlotSize(i * MIN) ? slabSize(i * MIN) : 0,
      members: [],
    })),
    totals: emptyTotals(),
    violations,
  };
  const stateAt = (field) => stateAddress + 4 * STATE[field];

  // ---- the state block ---------------------------------------------------
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
    // Never used: no list may hold anything and every counter is 0.
    // (zee_check() returns 0 here whatever the rest says: only the
    // inspector looks further.)
    if (st.heapEnd || st.cursor || [...st.lists, ...st.midLists, ...st.slabs].some((x) => x))
      report(
        'ZEE_C_STATE',
        stateAt('heapEnd'),
        'heap_start is 0 (never used) but heap_end, the cursor, a free list (lists or mid_lists) or a slab list is set',
      );
    for (const [name, v] of Object.entries(counters))
      if (v) report('ZEE_C_TOTALS', stateAt(name), `the heap is empty (heap_start 0) but the state's ${name} is ${v}`);
    return snap;
  }
  const heapStart = st.heapStart,
    heapEnd = st.heapEnd;
  if (heapEnd % PAGE || heapEnd <= heapStart || heapStart % 16 || heapEnd > memBytes) {
    report(
      'ZEE_C_STATE',
      stateAt(heapEnd % PAGE || heapEnd <= heapStart || heapEnd > memBytes ? 'heapEnd' : 'heapStart'),
      `heap bounds [${hex(heapStart)}, ${hex(heapEnd)}): heap_end must be a page boundary above heap_start, inside the ${memBytes}-byte memory, and heap_start 16-aligned`,
    );
    return snap;
  }
  // Why: the allocator indexes its own array; only readers like this one
  // follow the word, and without it no frame's list can be told.
  if (!st.poolMap || st.poolMap % 4 || st.poolMap + Math.ceil(heapEnd / PAGE / 32) * 4 > memBytes) {
    report(
      'ZEE_C_STATE',
      stateAt('poolMap'),
      `the pool map at ${hex(st.poolMap)} (a bit per page up to ${hex(heapEnd)}, in 32-bit words) is not 4-aligned inside the ${memBytes}-byte memory`,
    );
    return snap;
  }
  if (rd(heapEnd - META) !== 0)
    report(
      'ZEE_C_STATE',
      heapEnd - META,
      `the word at heap_end - 8 (${hex(heapEnd - META)}) is ${hex(rd(heapEnd - META))}, not 0: a header would start a block at heap_end`,
    );
  if (st.cursor % 16 || st.cursor > heapEnd)
    report(
      'ZEE_C_STATE',
      stateAt('cursor'),
      `the cursor ${hex(st.cursor)} is not a 16-aligned address at most heap_end ${hex(heapEnd)}`,
    );
  // The allocator's pool_of(): page i's pool is bit i % 32 of word i / 32;
  // ZEE_POOL_MID (1) sends the page's frames below 64 KiB to mid_lists.
  const midPage = (a) => poolBit(u8, st.poolMap, a) === LAYOUT.POOL_MID;
  const poolName = (a) => (midPage(a) ? 'mid' : 'small');
  const t = snap.totals;
  t.heapBytes = heapEnd - heapStart;

  // Is there a sound header of tag `tg` before payload s (its size unchecked)?
  const sound = (s, tg) => {
    const info = rd(s - META);
    return info !== undefined && (info & TAG) === tg && rd(s - 4) === (info ^ s ^ SALT) >>> 0;
  };
  const sizeAt = (s) => ((rd(s - META) ?? 0) & ~TAG) >>> 0;

  const recAt = new Map(); // address -> block record (slots included), for the lists
  const slabAt = new Map(); // slab address -> slab, for the slab lists
  const records = []; // the blocks that tile the heap (no slots), for pages and runs
  // Set when a part of the heap could not be read: the walk's sums are then
  // partial, so the rules that compare them (a frame on no list, the totals,
  // an open slab on no list) are not judged.
  let walkedAll = true;
  const add = (rec, tile = true) => {
    snap.blocks.push(rec);
    if (rec.state !== 'corrupt') recAt.set(rec.address, rec);
    if (tile) records.push(rec);
    return rec;
  };
  const corrupt = (from, to, why, headerSize = 0) => {
    walkedAll = false;
    t.corruptBytes += to - from;
    add({
      address: from,
      page: from - (from % PAGE),
      size: to - from,
      headerSize,
      usable: 0,
      state: 'corrupt',
      class: -1,
      pool: 'none',
      why,
    });
  };

  // ---- the blocks, from heap_start to heap_end (zee_check()'s walk_block())
  for (let f = heapStart; f < heapEnd;) {
    const info = rd(f - META),
      check = rd(f - 4),
      size = (info & ~TAG) >>> 0,
      tg = info & TAG;
    const at = `block ${hex(f)} (header ${hex(info)} ${hex(check)} at ${hex(f - META)})`;
    let bad = null,
      ext = size;
    if (!size) bad = 'its size is 0';
    else if (check !== (info ^ f ^ SALT) >>> 0) bad = `its check word should be ${hex(info ^ f ^ SALT)}`;
    else if (tg === LAYOUT.TAG_USED) ext = extent(size);
    else if (tg === LAYOUT.TAG_FREE) {
      if (!isPow2(size) || f % size) bad = `a free frame of ${size} B: not a power of two aligned to its size`;
      else {
        // Its buddy f ^ size, if above it, is the next block: both free and
        // of one size means they were not merged.  (One below was checked
        // when the walk passed it.)
        const b = (f ^ size) >>> 0;
        if (b > f && b < heapEnd && sound(b, LAYOUT.TAG_FREE) && sizeAt(b) === size)
          report('ZEE_C_BUDDY', f, `free frames ${hex(f)} and ${hex(b)} of ${size} B are buddies but were not merged`);
      }
    } else if (tg === LAYOUT.TAG_SLAB) {
      // A slab's own rules come before its extent, as in zee_check().
      const r = readSlab(f, size);
      if (!r.ok) {
        if (!r.sized) {
          corrupt(f, heapEnd, r.why, size);
          break;
        }
        corrupt(f, f + size, r.why, size); // its size is sound: the walk goes on after it
        f += size;
        continue;
      }
      addSlab(r.slab, r.slots);
      f += size;
      continue;
    } else if (tg === LAYOUT.TAG_FOREIGN) {
      if (f % PAGE || (f + size - MIN) % PAGE)
        report(
          'ZEE_C_FOREIGN',
          f,
          `foreign block ${hex(f)} of ${size} B: it must start on a page boundary and end 16 B past one (it ends at ${hex(f + size)})`,
        );
    } else
      bad = `tag ${tg} is none of a block in use (${LAYOUT.TAG_USED}), a free frame (${LAYOUT.TAG_FREE}), a slab (${LAYOUT.TAG_SLAB}) or a foreign block (${LAYOUT.TAG_FOREIGN})${tg === LAYOUT.TAG_MERGED ? ': a header buried inside a merged frame or a block' : ''}`;
    if (!bad && ext > heapEnd - f)
      bad = `its ${ext === size ? '' : `${size} B block's `}extent of ${ext} B runs to ${hex(f + ext)}, past heap_end ${hex(heapEnd)}`;
    if (bad) {
      report('ZEE_C_FRAME', f, `${at}: ${bad}`);
      corrupt(f, heapEnd, bad, size);
      break;
    }
    const base = { address: f, page: f - (f % PAGE), size: ext, headerSize: size };
    if (tg === LAYOUT.TAG_USED) {
      add({ ...base, usable: size - META, state: 'used', class: -1, pool: 'none' });
      t.usedBlocks++;
      t.usedBytes += size - META;
      t.paddingBytes += ext - size;
      t.metadataBytes += META;
    } else if (tg === LAYOUT.TAG_FREE) {
      add({
        ...base,
        usable: size - META,
        state: 'free',
        class: log2(size) - 4,
        pool: size < PAGE ? poolName(f) : 'none',
      });
      t.freeFrames++;
      t.freeFrameBytes += size;
    } else {
      add({ ...base, usable: 0, state: 'foreign', class: -1, pool: 'none' });
      t.foreignBytes += size;
    }
    f += ext;
  }

  // The slab at b of `size` bytes (its header is sound), as zee_check()'s
  // walk_slab() checks it: its size, its slots, its count of slots in use,
  // its free list.  Reports the first broken rule; returns { ok, slab,
  // slots }, or { why, sized } where `sized` says the walk can step over it.
  function readSlab(b, size) {
    const m = sizeAt(b + SLOT0); // slot 0's size
    const sized = size <= PAGE / 2 && isPow2(size) && b % size === 0;
    const fail = (why, at = b) => {
      report('ZEE_C_SLAB', at, `slab ${hex(b)} of ${size} B (header at ${hex(b - META)}): ${why}`);
      return { ok: false, why, sized };
    };
    if (!sized) return fail(`its size is not a power of two up to ${PAGE / 2} B aligned to it`);
    if (!isSlotSize(m))
      return fail(
        `slot 0's size ${m} B is not a slot size (a multiple of 16 up to ${LAYOUT.SLAB_MAX}, not a power of two)`,
        b + SLOT0,
      );
    if (slabSize(m) !== size)
      return fail(`slot 0's size ${m} B: slots of ${m} B live in slabs of ${slabSize(m)} B, not ${size} B`, b + SLOT0);
    const slots = [];
    let used = 0;
    for (let s = b + SLOT0; s + m <= b + size; s += m) {
      const inUse = sound(s, LAYOUT.TAG_SLOT);
      if ((!inUse && !sound(s, LAYOUT.TAG_SLOT_FREE)) || sizeAt(s) !== m)
        return fail(
          `slot ${hex(s)}: header ${hex(rd(s - META))} ${hex(rd(s - 4))} is not a slot of ${m} B (tag ${LAYOUT.TAG_SLOT} or ${LAYOUT.TAG_SLOT_FREE}, check word ${hex(rd(s - META) ^ s ^ SALT)})`,
          s,
        );
      used += inUse;
      slots.push({ address: s, inUse });
    }
    const usedWord = rd(b + 8);
    if (!used) return fail('no slot is in use (an empty slab is freed at once)');
    if (usedWord !== used) return fail(`it counts ${usedWord} slots in use, its slots say ${used}`);
    // Its free list: exactly its free slots, each a slot of this slab.
    const free = slots.length - used,
      freeList = [],
      seen = new Set();
    for (let s = rd(b + 12); s; s = rd(s)) {
      if (seen.has(s)) return fail(`its free list loops back to ${hex(s)}`, s);
      if (freeList.length === free)
        return fail(`its free list holds more than its ${free} free slots (${hex(s)} is one more)`, s);
      if (s < b + SLOT0 || s >= b + size || (s - b - SLOT0) % m)
        return fail(`its free list links to ${hex(s)}, not a slot of this slab`, s);
      if (!sound(s, LAYOUT.TAG_SLOT_FREE)) return fail(`its free list holds ${hex(s)}, a slot in use`, s);
      seen.add(s);
      freeList.push(s);
    }
    if (freeList.length !== free) return fail(`its free list holds ${freeList.length} slots, ${free} slots are free`);
    const slab = {
      address: b,
      page: b - (b % PAGE),
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
    return { ok: true, slab, slots };
  }

  // A sound slab: its record, then one per slot.  Bytes: its 24 bytes of
  // words and slot 0's header are metadata, each slot's payload in use or
  // free and its last 8 bytes (the next slot's header) metadata, its tail
  // after the last slot padding.
  function addSlab(slab, slots) {
    const m = slab.slotSize,
      b = slab.address;
    snap.slabs.push(slab);
    slabAt.set(b, slab);
    add({
      address: b,
      page: slab.page,
      size: slab.size,
      headerSize: slab.size,
      usable: 0,
      state: 'slab',
      class: -1,
      pool: 'none',
      slotSize: m,
    });
    for (const { address, inUse } of slots)
      add(
        {
          address,
          page: slab.page,
          size: m,
          headerSize: m,
          usable: m - META,
          state: inUse ? 'used' : 'free-slot',
          class: -1,
          pool: 'none',
          slab: b,
        },
        false,
      );
    t.slabs++;
    t.usedSlots += slab.usedSlots;
    t.usedBlocks += slab.usedSlots;
    t.usedBytes += slab.usedSlots * (m - META);
    t.freeSlots += slab.freeSlots;
    t.freeSlotBytes += slab.freeSlots * (m - META);
    t.metadataBytes += SLOT0 + slots.length * META;
    t.paddingBytes += slab.size - SLOT0 - slots.length * m;
  }

  // ---- free lists: lists[c] (frames of small-pool pages below 64 KiB, and
  // every frame of 64 KiB or more), then mid_lists[c] (mid-pool pages' frames)
  const onList = new Map(); // frame -> the name of the list it is on
  const listName = (mid, c) => `${mid ? 'mid_lists' : 'lists'}[${c}] (${MIN << c} B)`;
  for (let c = 0; c < CLASSES; c++) walkFreeList(false, c, st.lists[c], snap.freeLists[c]);
  for (let c = 0; c < POOL_CLASSES; c++) walkFreeList(true, c, st.midLists[c], snap.midLists[c]);
  if (walkedAll)
    for (const rec of records)
      if (rec.state === 'free' && !onList.has(rec.address))
        report(
          'ZEE_C_LIST_COUNT',
          rec.address,
          `free frame ${hex(rec.address)} of ${rec.size} B is on no free list (it belongs on ${listName(rec.pool === 'mid', rec.class)})`,
        );

  // The free list of class c (lists[c], or mid_lists[c] if `mid`) from
  // `head`, as zee_check() walks it: each member a free frame of that size,
  // inside the heap, aligned, on the list of its page's pool, linked back.
  // A member that is no free frame ends the walk of the list: its words are
  // not links.
  function walkFreeList(mid, c, head, list) {
    const size = list.size,
      name = listName(mid, c);
    const seen = new Set();
    for (let f = head, prev = 0; f; prev = f, f = rd(f)) {
      const from = prev ? `from ${hex(prev)}` : 'the head';
      if (f < heapStart || f >= heapEnd || f % size) {
        report(
          'ZEE_C_LIST',
          f,
          `${name}: link ${hex(f)} (${from}) is not an address inside the heap aligned to ${size} B`,
        );
        return;
      }
      if (seen.has(f)) {
        report('ZEE_C_LIST', f, `${name} loops back to ${hex(f)} (${from})`);
        return;
      }
      seen.add(f);
      list.members.push(f);
      const rec = recAt.get(f);
      if (!sound(f, LAYOUT.TAG_FREE) || sizeAt(f) !== size || (rec && rec.state !== 'free')) {
        report(
          'ZEE_C_LIST',
          f,
          `${name}: ${hex(f)} (${from}) is ${rec ? `${kindOf(rec)} of ${rec.size} B` : sound(f, LAYOUT.TAG_FREE) ? `a free frame of ${sizeAt(f)} B` : 'no free frame'}`,
        );
        return;
      }
      // A sound header the walk did not meet: only damage (a forged or a
      // copied header) leaves one; where the walk could not read, it may
      // be a frame.
      if (!rec && walkedAll) {
        report('ZEE_C_LIST', f, `${name}: ${hex(f)} has a free frame's header but is not a block of the heap`);
        return;
      }
      const wantMid = size < PAGE && midPage(f);
      if (wantMid !== mid)
        report(
          'ZEE_C_LIST',
          f,
          `${name}: ${hex(f)} is a free frame of a ${poolName(f)}-pool page, whose frames go on ${listName(wantMid, c)}`,
        );
      else if (onList.has(f)) report('ZEE_C_LIST', f, `${hex(f)} is on ${onList.get(f)} and on ${name}`);
      else onList.set(f, name);
      const back = rd(f + 4);
      if (back !== prev)
        report('ZEE_C_LIST', f, `${name}: ${hex(f)} links back to ${hex(back)}, expected ${prev ? hex(prev) : 0}`);
    }
  }

  // ---- slab lists: exactly the slabs with a free slot, each on the list of its slot size
  for (const list of snap.slabLists) walkSlabList(list);
  if (walkedAll)
    for (const slab of snap.slabs)
      if (slab.freeSlots && !slab.listed)
        report(
          'ZEE_C_SLAB',
          slab.address,
          `slab ${hex(slab.address)} of ${slab.slotSize} B slots has ${slab.freeSlots} free slots but is on no slab list`,
        );

  // The list of slabs with a free slot of list.slotSize bytes, as
  // zee_check() walks it: each member a slab of that slot size inside the
  // heap, with a free slot, linked back.
  function walkSlabList(list) {
    const name = `slab list ${list.index} (${list.slotSize} B slots)`;
    const seen = new Set();
    for (let b = st.slabs[list.index], prev = 0; b; prev = b, b = rd(b)) {
      const from = prev ? `from ${hex(prev)}` : 'the head';
      if (b < heapStart || b >= heapEnd || b % 16) {
        report('ZEE_C_SLAB', b, `${name}: link ${hex(b)} (${from}) is not a 16-aligned address inside the heap`);
        return;
      }
      if (seen.has(b)) {
        report('ZEE_C_SLAB', b, `${name} loops back to ${hex(b)} (${from})`);
        return;
      }
      seen.add(b);
      list.members.push(b);
      const slab = slabAt.get(b);
      const isSlab =
        list.slabSize &&
        sound(b, LAYOUT.TAG_SLAB) &&
        sizeAt(b) === list.slabSize &&
        sizeAt(b + SLOT0) === list.slotSize;
      if (!isSlab || (!slab && walkedAll)) {
        const rec = recAt.get(b);
        report(
          'ZEE_C_SLAB',
          b,
          `${name}: ${hex(b)} (${from}) is ${!list.slabSize ? `on a list that holds no slabs (${list.slotSize} B is no slot size)` : rec ? `${kindOf(rec)} of ${rec.size} B${slab ? ` of ${slab.slotSize} B slots` : ''}` : 'not a slab'}`,
        );
        return;
      }
      const back = rd(b + 4);
      if (back !== prev)
        report('ZEE_C_SLAB', b, `${name}: ${hex(b)} links back to ${hex(back)}, expected ${prev ? hex(prev) : 0}`);
      if (!rd(b + 12)) report('ZEE_C_SLAB', b, `${name}: ${hex(b)} is full (no free slot)`);
      else if (slab) slab.listed = true;
    }
  }

  // ---- pages: a summary of every 64 KiB page the heap touches ------------
  // A block's header counts with it, so the block at b covers [b - 8,
  // b - 8 + size) (js/render.mjs draws the same); those ranges tile
  // [heapStart - 8, heapEnd - 8).  The 8 unused bytes below the first header
  // and the heap's last 8 bytes (no header there) are metadata.  Bytes below
  // heapStart's page (with heapStart on a page boundary) are in no page.
  const firstPage = heapStart - (heapStart % PAGE);
  for (let a = firstPage; a < heapEnd; a += PAGE)
    snap.pages.push({
      address: a,
      index: (a - firstPage) / PAGE,
      pool: poolName(a),
      kind: 'used',
      usedBytes: 0,
      freeBytes: 0,
      slabBytes: 0,
      foreignBytes: 0,
      corruptBytes: 0,
      metadataBytes: 0,
      blocks: [],
    });
  const pageOf = (a) => snap.pages[Math.floor((a - firstPage) / PAGE)];
  // Adds [from, to) to `field` of the pages it lies in.
  const spread = (from, to, field) => {
    for (let a = Math.max(from, firstPage); a < to;) {
      const next = Math.min(to, a - (a % PAGE) + PAGE);
      pageOf(a)[field] += next - a;
      a = next;
    }
  };
  spread(heapStart - 2 * META, heapStart - META, 'metadataBytes');
  spread(heapEnd - META, heapEnd, 'metadataBytes');
  const FIELD = { used: 'usedBytes', free: 'freeBytes', foreign: 'foreignBytes', corrupt: 'corruptBytes' };
  for (const rec of snap.blocks) pageOf(rec.address).blocks.push(rec.address);
  for (const rec of records) {
    if (rec.state !== 'slab') {
      spread(rec.address - META, rec.address - META + rec.size, FIELD[rec.state]);
      continue;
    }
    // A slab: its header and words, then its slots (each with its header),
    // then its unused tail.
    const sl = slabAt.get(rec.address),
      b = sl.address,
      m = sl.slotSize,
      last = b + SLOT0 - META + sl.slots * m;
    spread(b - META, b + SLOT0 - META, 'slabBytes');
    for (let s = b + SLOT0; s + m <= b + sl.size; s += m)
      spread(s - META, s - META + m, recAt.get(s).state === 'used' ? 'usedBytes' : 'freeBytes');
    spread(last, b + sl.size - META, 'slabBytes');
  }
  for (const p of snap.pages) {
    const inUse = p.usedBytes + p.slabBytes > 0,
      free = p.freeBytes > 0;
    p.kind = p.corruptBytes ? 'corrupt' : inUse && free ? 'mixed' : inUse ? 'used' : free ? 'free' : 'foreign';
    t.pagesByKind[p.kind]++;
  }
  t.pages = snap.pages.length;

  // ---- runs of free frames -------------------------------------------------
  let run = null;
  for (const rec of records) {
    if (rec.state !== 'free') {
      run = null;
      continue;
    }
    if (!run) snap.freeRuns.push((run = { address: rec.address, bytes: 0, frames: 0 }));
    run.bytes += rec.size;
    run.frames++;
  }
  const last = snap.freeRuns[snap.freeRuns.length - 1];
  if (last && last.address + last.bytes === heapEnd) t.topFreeBytes = last.bytes;

  // ---- totals: the walk's sums, then the state's running counters --------
  t.freeBytes = t.freeFrameBytes + t.freeSlotBytes;
  for (const r of snap.freeRuns) t.largestFreeBlock = Math.max(t.largestFreeBlock, r.bytes);
  for (const s of snap.slabs) if (s.freeSlots) t.largestFreeBlock = Math.max(t.largestFreeBlock, s.slotSize - META);
  t.fragmentation = t.freeBytes ? 1 - t.largestFreeBlock / t.freeBytes : 0;
  for (const l of [...snap.freeLists, ...snap.midLists]) {
    t.freeListMembers += l.members.length;
    t.freeListBytes += l.members.length * l.size;
  }
  if (walkedAll)
    for (const name of ['usedBytes', 'usedBlocks'])
      if (counters[name] !== t[name])
        report('ZEE_C_TOTALS', stateAt(name), `the state's ${name} is ${counters[name]}, the walk finds ${t[name]}`);
  if (counters.peakBytes < counters.usedBytes)
    report(
      'ZEE_C_TOTALS',
      stateAt('peakBytes'),
      `the state's peakBytes ${counters.peakBytes} is below its usedBytes ${counters.usedBytes}`,
    );
  return snap;
}

/**
 * A plain-data (JSON-safe) picture of the heap: every block in address
 * order (a slab followed by its slots), every page's summary, the runs of
 * free frames, every slab, free list and slab list, the state's running
 * counters, and totals.  Works on a corrupted heap too: what can't be walked
 * is a `corrupt` block, and `violations` lists what validate() reports.
 */
export function snapshot(source) {
  return walk(source);
}

/**
 * Checks every layout rule independently of zee_check(); returns
 * `{ ok, violations: [{ rule, address, message }] }` in zee_check()'s order
 * (the state, the blocks in address order, the free lists, the slab lists,
 * the running totals), so for a single damage the first violation names the
 * rule zee_check() returns.
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
