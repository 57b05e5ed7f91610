// The heap maps (js/render.mjs) against heaps written by hand, byte by byte,
// from the layout 8 spec (docs/layout.md, js/layout.mjs): one buddy heap
// tiled by blocks in use, free frames, slabs and foreign blocks.  The heaps
// don't come from the allocator, so every row, cell, colour and block box
// expected below follows from where the test put each block, not from a run.
import { LAYOUT, STATE } from '../js/layout.mjs';
import { snapshot, validate, renderText, renderSVG, formatBytes, InspectError } from '../js/inspect.mjs';

const PAGE = LAYOUT.PAGE_SIZE;
const HEAP_PAGE = 2; // the heap's first page; the state and pool map sit in page 0
const STATE_AT = 1024;
const POOL_MAP_AT = 8192;
const P = (i) => (HEAP_PAGE + i) * PAGE; // page i of the heap
// The bytes a block in use of header size m occupies (zee_alloc.c extent()).
const extent = (m) => (m <= LAYOUT.ROUND_MAX ? 2 ** Math.ceil(Math.log2(m)) : m);
const hex = (a) => '0x' + a.toString(16).padStart(8, '0');

// Colours the SVG maps use (js/render.mjs): the share in use from green to
// dark red, slabs in blues, the part of a page below the heap light grey.
const ALL_USED = '#b10026',
  ALL_FREE = '#66bd63',
  OUTSIDE = '#d9d9d9',
  HATCH = 'url(#zee-hatch)',
  SLAB_BLUES = ['#c6dbef', '#9ecae1', '#6baed6', '#3182bd', '#08519c'];

/**
 * A hand-written heap of `pages` pages from page HEAP_PAGE, its first block
 * at `heapStart`.  Blocks are laid one after the other with used(), free(),
 * slab() and foreign(); finish() checks that they tile the heap to its end,
 * links the free lists (address order, each frame on its pool's list) and
 * the slab lists, and writes the state block with the running totals.
 */
function heapOf({ pages, heapStart = P(0) + 16 }) {
  const buffer = new ArrayBuffer((HEAP_PAGE + pages) * PAGE);
  const u32 = new Uint32Array(buffer),
    u8 = new Uint8Array(buffer);
  const wr = (a, v) => {
    u32[a >>> 2] = v >>> 0;
  };
  const header = (p, size, tag) => {
    wr(p - 8, size | tag);
    wr(p - 4, (size | tag) ^ p ^ LAYOUT.SALT);
  };
  const frames = []; // free frames: [address, size]
  const openSlabs = []; // slabs with a free slot: [address, slot size]
  const c = { usedBytes: 0, usedBlocks: 0 };
  const aligned = (size, what) => {
    if (h.at % size) throw new Error(`test heap: ${what} of ${size} B at ${hex(h.at)} is not aligned to its size`);
  };
  const h = {
    buffer,
    u32,
    u8,
    wr,
    header,
    heapStart,
    heapEnd: P(pages),
    at: heapStart,
    src: { buffer, stateAddress: STATE_AT },
    /** A block in use of header size m; it occupies extent(m). */
    used(m) {
      if (m <= LAYOUT.ROUND_MAX) aligned(extent(m), 'a block');
      const p = h.at;
      header(p, m, LAYOUT.TAG_USED);
      c.usedBytes += m - 8;
      c.usedBlocks++;
      h.at += extent(m);
      return p;
    },
    free(size) {
      aligned(size, 'a free frame');
      const p = h.at;
      header(p, size, LAYOUT.TAG_FREE);
      frames.push([p, size]);
      h.at += size;
      return p;
    },
    /** Free frames from here up to `to`: the largest aligned frame each time. */
    freeTo(to) {
      const out = [];
      while (h.at < to) {
        let size = LAYOUT.MIN_FRAME;
        while (h.at % (size * 2) === 0 && h.at + size * 2 <= to) size *= 2;
        out.push(h.free(size));
      }
      return out;
    },
    /**
     * A slab of `size` bytes with slots of m bytes, those of the indexes in
     * `used` in use, the others free and on its list in address order.
     * Returns the slots' payload addresses.
     */
    slab(size, m, used) {
      aligned(size, 'a slab');
      const b = h.at;
      header(b, size, LAYOUT.TAG_SLAB);
      const slots = [];
      for (let s = b + 32; s + m <= b + size; s += m) {
        header(s, m, used.includes(slots.length) ? LAYOUT.TAG_SLOT : LAYOUT.TAG_SLOT_FREE);
        slots.push(s);
      }
      const freeSlots = slots.filter((_, k) => !used.includes(k));
      freeSlots.forEach((s, k) => wr(s, freeSlots[k + 1] ?? 0));
      wr(b + 8, used.length);
      wr(b + 12, freeSlots[0] ?? 0);
      c.usedBytes += used.length * (m - 8);
      c.usedBlocks += used.length;
      if (freeSlots.length) openSlabs.push([b, m]);
      h.at += size;
      return { address: b, slots };
    },
    /** Memory someone else grew: a foreign block (a page boundary to 16 B past one). */
    foreign(size) {
      const p = h.at;
      header(p, size, LAYOUT.TAG_FOREIGN);
      h.at += size;
      return p;
    },
    /** Marks page i as a page of the mid pool. */
    mid(i) {
      u8[POOL_MAP_AT + (P(i) >>> 19)] |= LAYOUT.POOL_MID << ((P(i) >>> 16) & 7); // page i: a bit
    },
    finish({ cursor = 0 } = {}) {
      if (h.at !== h.heapEnd) throw new Error(`test heap: the blocks end at ${hex(h.at)}, not at ${hex(h.heapEnd)}`);
      const st = (field, v, i = 0) => wr(STATE_AT + 4 * (STATE[field] + i), v);
      st('magic', LAYOUT.INFO_MAGIC);
      st('layout', LAYOUT.VERSION);
      st('config', 1);
      st('heapStart', heapStart);
      st('heapEnd', h.heapEnd);
      st('poolMap', POOL_MAP_AT);
      st('cursor', cursor);
      const poolOf = (f, size) =>
        size >= PAGE
          ? 'lists'
          : ((u8[POOL_MAP_AT + (f >>> 19)] >>> ((f >>> 16) & 7)) & 1) === LAYOUT.POOL_MID
            ? 'midLists'
            : 'lists';
      for (const field of ['lists', 'midLists'])
        for (let k = 0; k < (field === 'lists' ? LAYOUT.CLASSES : LAYOUT.POOL_CLASSES); k++) {
          const members = frames
            .filter(([f, s]) => s === LAYOUT.MIN_FRAME << k && poolOf(f, s) === field)
            .map(([f]) => f)
            .sort((a, b) => a - b);
          members.forEach((f, n) => {
            wr(f, members[n + 1] ?? 0);
            wr(f + 4, members[n - 1] ?? 0);
          });
          st(field, members[0] ?? 0, k);
        }
      for (let i = 0; i < LAYOUT.SLAB_LISTS; i++) {
        const members = openSlabs
          .filter(([, m]) => m === i * 16)
          .map(([b]) => b)
          .sort((a, b) => a - b);
        members.forEach((b, n) => {
          wr(b, members[n + 1] ?? 0);
          wr(b + 4, members[n - 1] ?? 0);
        });
        st('slabs', members[0] ?? 0, i);
      }
      st('usedBytes', c.usedBytes);
      st('usedBlocks', c.usedBlocks);
      st('peakBytes', c.usedBytes + 4096);
      return h;
    },
  };
  return h;
}

// The reference heap, 12 pages from 0x00020000; the heap starts at
// 0x00021000, so the first page's 4,080 bytes below heap_start - 16 are not
// the heap's (data and stack):
//   page 0   small pool: 16 B in use @0x21000, free 16 and 32, 64 B in use,
//            free 128, 256, 512 and 1 KiB, a 2 KiB slab of 42 slots of 48 B
//            (0 and 3 in use) @0x21800, 4 KiB in use @0x22000,
//            free 4 KiB and 16 KiB, then a block of 237,568 B in use from
//            0x28000 that runs through pages 1-3 into page 4
//   page 4   mid pool: the big block's last 8 KiB, a 5,008 B block in use
//            @0x62000 (the cursor after it), then free frames to the page end
//   pages 5-7 foreign (192 KiB + 16 B from 0x70000)
//   page 8   free frames 16 B .. 32 KiB after the foreign block's 16 B
//   pages 9-11 free: 64 KiB and 128 KiB frames (the free run at the top)
function reference() {
  const h = heapOf({ pages: 12, heapStart: P(0) + 0x1000 });
  const r = { h };
  r.small16 = h.used(16);
  h.free(16);
  h.free(32);
  r.small64 = h.used(64);
  h.free(128);
  h.free(256);
  h.free(512);
  h.free(1024);
  r.slab = h.slab(2048, 48, [0, 3]);
  r.block4k = h.used(4096);
  r.free4k = h.free(4096);
  r.free16k = h.free(16384);
  r.big = h.used(P(4) + 0x2000 - (P(0) + 0x8000));
  h.mid(4);
  r.mid = h.used(5008);
  r.midFrames = h.freeTo(P(5));
  r.foreign = h.foreign(3 * PAGE + 16);
  r.page8 = h.freeTo(P(9));
  r.top = h.freeTo(P(12));
  h.finish({ cursor: r.mid + 5008 });
  return r;
}

// The rows of a text map (lines that start with an address or a run of pages).
const textRows = (text) => text.split('\n').filter((l) => /^(0x[0-9a-f]{8}| {11}\S)/.test(l));
// The cells between the bars of a text row.
const cellsOf = (row) => row.slice(row.indexOf('|') + 1, row.lastIndexOf('|'));
// One SVG row (<g class="zee-page" ...>) by page address.
const svgRow = (svg, page) => svg.split('\n').find((l) => l.includes(`data-page="${page}"`));
/** The colour of every slice of an overview row (null: the background shows), from its paths. */
function sliceColors(row, slices, width = 1024) {
  const out = new Array(slices).fill(null);
  for (const [, fill, d] of row.matchAll(/<path fill="([^"]+)" d="([^"]+)"\/>/g))
    for (const [, x, w] of d.matchAll(/M([\d.]+) 0h([\d.]+)v16h-[\d.]+z/g)) {
      const from = Math.round(((Number(x) - 150) * slices) / width);
      const n = Math.round((Number(w) * slices) / width);
      for (let k = from; k < from + n; k++) out[k] = fill;
    }
  return out;
}

describe('the reference heap', () => {
  let r, s;
  beforeAll(() => {
    r = reference();
    s = snapshot(r.h.src);
  });

  test('is sound, and the snapshot has the blocks the test wrote', () => {
    expect(validate(r.h.src)).toEqual({ ok: true, violations: [] });
    expect(s.pages.map((p) => p.address)).toEqual(Array.from({ length: 12 }, (_, i) => P(i)));
    expect(s.blocks.find((b) => b.address === r.big)).toMatchObject({ state: 'used', size: 237568 });
    expect(s.totals.usedBlocks).toBe(7); // 16, 64, two slots, 4 KiB, the big block, 5,008
  });

  test('renderText: one row per page, labelled by pool or by what fills it, with cells and notes', () => {
    const text = renderText(s, { collapse: false });
    const lines = text.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(lines[0]).toBe(
      `zee_alloc heap 0x00021000..0x000e0000: 12 pages (${formatBytes(0xe0000 - 0x21000)}) of 896 KiB memory`,
    );
    expect(lines[1]).toMatch(/^in use 241 KiB in 7 blocks \| free /); // 8+56+80+4088+237560+5000 B
    const rows = textRows(text);
    expect(rows.map((row) => row.slice(0, 17).trimEnd())).toEqual([
      '0x00020000 small',
      '0x00030000 block',
      '0x00040000 block',
      '0x00050000 block',
      '0x00060000 mid',
      '0x00070000 other',
      '0x00080000 other',
      '0x00090000 other',
      '0x000a0000 free',
      '0x000b0000 free',
      '0x000c0000 free',
      '0x000d0000 free',
    ]);
    // 42 cells of 1,560 B.  Page 0: the first 4,080 B are below the heap
    // (blank, 3 cells), the 16 KiB free frame at 16 KiB (cells 11-20: 16..32 KiB,
    // all but the last free), the big block from 32 KiB to the end (cells 21-41)
    const p0 = cellsOf(rows[0]);
    expect(p0).toHaveLength(42);
    expect(p0.slice(0, 3)).toBe('   ');
    expect(p0.slice(11, 20)).toBe('.........');
    expect(p0[20]).toBe(':'); // free to 0x27ff8, then the big block's header
    expect(p0.slice(21)).toBe('#'.repeat(21));
    // the slab, 0x217f8..0x21ff8 (6,136..8,184 B), 2 of its 42 slots in use:
    // all of cell 4, mostly free slots
    expect(p0[4]).toBe('s');
    // the 4 KiB block in use, 0x21ff8..0x22ff8 (8,184..12,280 B): all of cell
    // 6, most of cell 5 (the rest the slab's free slots: the block's bytes
    // win), most of cell 7 (the rest free)
    expect(p0.slice(5, 8)).toBe('##%');
    // the blocks that start in page 0: six in use (two of them slots), eight
    // free frames, one slab; the big block runs on past the page
    expect(rows[0]).toMatch(/\| 6u 8f 1s >$/);
    for (const row of rows.slice(1, 4)) expect(row).toMatch(/\|#{42}\| in 232 KiB block$/);
    // page 4: the big block's end, the 5,008 B block, then seven free frames (16 B .. 32 KiB)
    expect(rows[4]).toMatch(/\|#{4}.*\.{20}\| < 1u 7f$/);
    for (const row of rows.slice(5, 8)) expect(row).toMatch(/\|~{42}\| 192 KiB foreign$/);
    // page 8 (free frames after the foreign block's last 16 bytes) to the
    // heap end: all free, in one free run of 65,520 B + 192 KiB
    for (const row of rows.slice(8)) expect(row).toMatch(/\|\.{42}\| in 256 KiB free$/);
    expect(text).toMatch(/^legend: # in use {2}\. free {2}% mostly in use {2}: mostly free$/m);
  });

  test('collapse folds runs of 3+ alike pages: inside one block, foreign, free; never pages with blocks of their own', () => {
    const rows = textRows(renderText(s));
    expect(rows.map((row) => row.slice(0, 17).trimEnd())).toEqual([
      '0x00020000 small',
      '0x00030000 block',
      '           block',
      '0x00060000 mid',
      '0x00070000 other',
      '           other',
      '0x000a0000 free',
      '           free',
    ]);
    expect(rows[2]).toMatch(/\| {2}\.\.\. 2 pages to 0x0005ffff +\|$/);
    expect(rows[5]).toMatch(/\| {2}\.\.\. 2 pages to 0x0009ffff +\|$/);
    expect(rows[7]).toMatch(/\| {2}\.\.\. 3 pages to 0x000dffff +\|$/);
    // narrower: fewer cells, every line still fits
    const narrow = renderText(s, { columns: 60 });
    expect(Math.max(...narrow.split('\n').map((l) => l.length))).toBeLessThanOrEqual(60);
    expect(cellsOf(textRows(narrow)[1])).toBe('#'.repeat(22));
  });

  test('renderText `page`: the blocks that overlap the page, one per line, clipped ones saying so', () => {
    const list = renderText(s, { page: P(0) + 100, columns: 120 });
    const lines = list.trimEnd().split('\n');
    const blocks = lines.filter((l) => /^ {2}0x/.test(l));
    // the part below the heap, 13 blocks and the slab's 42 slots
    expect(blocks).toHaveLength(1 + 13 + 42);
    expect(blocks[0]).toBe('  0x00020000 not heap     4080 B below heap_start (data and stack)');
    expect(blocks[1]).toBe('  0x00021000 in use         16 B, usable 8 B');
    expect(blocks[2]).toBe('  0x00021010 free frame     16 B (list 16)');
    expect(blocks[7]).toBe('  0x00021200 free frame    512 B (list 512)');
    expect(blocks[8]).toBe('  0x00021400 free frame   1024 B (list 1024)');
    expect(blocks[9]).toBe('  0x00021800 slab         2048 B: 42 slots of 48 B, 2 in use');
    expect(blocks[10]).toBe('  0x00021820 slot           48 B, usable 40 B, in slab 0x00021800');
    expect(blocks[11]).toBe('  0x00021850 free slot      48 B, in slab 0x00021800');
    expect(blocks[51]).toBe('  0x00021fd0 free slot      48 B, in slab 0x00021800'); // slot 41, the last
    // the big block ends at 0x61ff8: 200 KiB past the page
    expect(blocks.at(-1)).toBe('  0x00028000 in use     237568 B, usable 237560 B; 200 KiB past the page');
    expect(lines.slice(3, 6)).toEqual([
      'page 0x00020000, small pool: 6 in use, 8 free frames, 1 slab start here',
      byteWords(s.pages[0]),
      'a block runs on past the page end',
    ]);

    // page 4, of the mid pool: the big block comes in from below; the cursor is here
    const mid = renderText(s, { page: P(4) });
    const midBlocks = mid.split('\n').filter((l) => /^ {2}0x/.test(l));
    expect(midBlocks[0]).toBe('  0x00028000 in use     237568 B, usable 237560 B; from 224 KiB before the page');
    expect(midBlocks[1]).toBe('  0x00062000 in use       5008 B, usable 5000 B');
    expect(midBlocks[2]).toBe('  0x00063390 free frame     16 B (mid list 16)');
    expect(midBlocks).toHaveLength(9);
    expect(mid).toMatch(/^the cursor \(where the next exact block goes first\) is at 0x00063390$/m);
    // a page inside the big block: one line for the whole page
    const inner = renderText(s, { page: P(2) });
    expect(inner).toMatch(/^page 0x00040000: inside block 0x00028000 \(in use, 237568 B\), page 3 of its 5$/m);
    // one line, cut to the 80 columns
    expect(inner.split('\n').filter((l) => /^ {2}0x/.test(l))).toEqual([
      '  0x00028000 in use     237568 B, usable 237560 B; from 96 KiB before, to 72....',
    ]);
    expect(renderText(s, { page: P(2), columns: 100 })).toMatch(/; from 96 KiB before, to 72\.0 KiB past the page$/m);
    // a foreign page
    expect(renderText(s, { page: P(6) })).toMatch(
      /^page 0x00080000: inside foreign block 0x00070000 \(192 KiB\): not zee_alloc's$/m,
    );
    // a free page: its free run
    expect(renderText(s, { page: P(10) })).toMatch(/^in the free run of 256 KiB from 0x000a0010$/m);
    expect(() => renderText(s, { page: P(12) })).toThrow(/is not a page of this heap/);
  });

  test('renderSVG overview: a row per page, its slices coloured by what their bytes hold', () => {
    const svg = renderSVG(s, { collapse: false });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/href="http|<script|@import|url\((?!#zee-hatch)/);
    expect(svg).toContain('data-slices="64" data-rows="12" data-rows-shown="12"');
    const rowsDrawn = [...svg.matchAll(/<g class="zee-page zee-([a-z]+)" data-page="(\d+)" data-pool="(\w+)"/g)];
    expect(rowsDrawn.map((m) => [Number(m[2]), m[1], m[3]])).toEqual(
      s.pages.map((p) => [p.address, p.kind, p.address === P(4) ? 'mid' : 'small']),
    );
    // page 0, 64 slices of 1 KiB: 4 below the heap (4,080 B and 8 of metadata),
    // the 4 KiB block at 8..12 KiB, the free 4 KiB and 16 KiB frames at
    // 12..32 KiB, the big block from 32 KiB; the slab (0x21800..0x22000) in slices 6-7
    const p0 = sliceColors(svgRow(svg, P(0)), 64);
    expect(p0.slice(0, 4)).toEqual(Array(4).fill(OUTSIDE));
    expect(p0.slice(8, 11)).toEqual(Array(3).fill(ALL_USED));
    expect(p0.slice(12, 32)).toEqual(Array(20).fill(ALL_FREE));
    expect(p0.slice(32)).toEqual(Array(32).fill(ALL_USED));
    // at 128 slices of 512 B, slice 12 (0x21800..0x21a00) is the slab's
    // first: its 24 B of words and 2 of its slots (0 and 3, 96 B) in use,
    // near a quarter of the bytes; slices 13-15 hold only its free slots
    // (and the 4 KiB block's 8 B header)
    const fine = sliceColors(svgRow(renderSVG(s, { collapse: false, slices: 128 }), P(0)), 128);
    expect(fine[12]).toBe(SLAB_BLUES[1]);
    expect(fine.slice(13, 16)).toEqual(Array(3).fill(SLAB_BLUES[0]));
    expect(cellsOf(textRows(renderText(s, { columns: 166, collapse: false }))[0])[12]).toBe('s');
    // a thin line where each block of 1 KiB or more starts: 1 KiB free, the
    // 2 KiB slab, 4 KiB in use, 4 KiB and 16 KiB free, the big block
    const ticks = /<path class="zee-starts"[^>]* d="([^"]+)"/.exec(svgRow(svg, P(0)))[1];
    expect(ticks.match(/M/g)).toHaveLength(6);
    expect(ticks).toContain('M245.88 0v16'); // the slab's header at 0x217f8: 150 + 6136 / 64 px
    expect(ticks).toContain('M661.88 0v16'); // the big block's header at 0x27ff8: 150 + 32760 / 64 px
    // a page inside the big block: all in use, and it names the block
    const inner = svgRow(svg, P(2));
    expect(sliceColors(inner, 64)).toEqual(Array(64).fill(ALL_USED));
    expect(inner).toContain(`data-block="${r.big}"`);
    expect(inner).toMatch(
      /<title>page 0x00040000: inside block 0x00028000 \(in use, 237568 B\), page 3 of its 5<\/title>/,
    );
    // the mid page is outlined; foreign pages hatched; free pages green
    expect(svgRow(svg, P(4))).toMatch(/<rect x="151" y="1" width="1022" height="14" fill="none" stroke="#2166ac"/);
    expect(svgRow(svg, P(0))).not.toContain('fill="none"');
    expect(sliceColors(svgRow(svg, P(6)), 64)).toEqual(Array(64).fill(HATCH));
    expect(sliceColors(svgRow(svg, P(10)), 64)).toEqual(Array(64).fill(ALL_FREE));
    expect(svgRow(svg, P(0))).toMatch(/<text x="1182" y="12" fill="#222222">6u 8f 1s &gt;<\/text><\/g>$/);
    // folded: the same pages in 8 rows, the runs counted
    const folded = renderSVG(s);
    expect([...folded.matchAll(/data-run="(\d+)"/g)].map((m) => Number(m[1]))).toEqual([2, 2, 3]);
    expect(folded).toContain('data-rows="8"');
    expect(() => renderSVG(s, { slices: 3 })).toThrow(InspectError);
  });

  test('renderSVG zoom: the blocks that overlap one page, each a box with its address, state and tooltip', () => {
    const svg = renderSVG(s, { page: r.slab.slots[3] });
    expect(svg).toContain(`class="zee-zoom" data-page="${P(0)}" data-kind="${s.pages[0].kind}" data-pool="small"`);
    const boxes = new Map();
    for (const m of svg.matchAll(
      /class="zee-block zee-([\w-]+)" data-addr="(\d+)" data-state="[\w-]+" data-size="(\d+)"/g,
    ))
      boxes.set(Number(m[2]), [m[1], Number(m[3])]);
    expect([...boxes.keys()]).toEqual(
      s.blocks.filter((b) => b.address >= r.small16 && b.address <= r.big).map((b) => b.address),
    );
    expect(boxes.get(r.small16)).toEqual(['used', 16]);
    expect(boxes.get(r.slab.address)).toEqual(['slab', 2048]);
    expect(boxes.get(r.slab.slots[0])).toEqual(['used', 48]);
    expect(boxes.get(r.slab.slots[1])).toEqual(['free-slot', 48]);
    expect(boxes.get(r.big)).toEqual(['used', 237568]);
    expect(svg).toContain(`<title>0x00021000: in use, block 16 B, usable 8 B (header at 0x00020ff8)</title>`);
    expect(svg).toContain(`data-slab="${r.slab.address}"`);
    // the big block fills lines 8-15 (4 KiB each) and runs past the page
    const bigBoxes = [...svg.matchAll(new RegExp(`<rect [^>]*data-addr="${r.big}"[^>]*>`, 'g'))];
    expect(bigBoxes).toHaveLength(8);
    expect(bigBoxes[0][0]).toContain('data-clipped="end"');
    expect(svg).toContain('usable 237560 B (header at 0x00027ff8); 200 KiB past the page</title>');
    // the 16 KiB free frame at 16 KiB: lines 4-7
    expect(svg.match(new RegExp(`data-addr="${r.free16k}"`, 'g'))).toHaveLength(4);
    // below the heap: line 0, from x=90 for 4,080 B of 4 KiB (1020 px)
    expect(svg).toContain('<rect x="90" y="0" width="1020" height="18" fill="#d9d9d9" class="zee-outside">');
    // page 1: the big block alone, clipped both ways, one box per line
    const inner = renderSVG(s, { page: P(1) });
    const innerBoxes = [...inner.matchAll(/class="zee-block zee-used" data-addr="(\d+)"[^>]*data-clipped="both"/g)];
    expect(innerBoxes.map((m) => Number(m[1]))).toEqual(Array(16).fill(r.big));
    expect(inner).toContain(`data-block="${r.big}"`);
    // one line of 64 KiB: the big block is one box from 0x8000 to the page end (clipped there)
    expect(renderSVG(s, { page: P(0), lines: 1 })).toContain(
      `<rect x="602" y="0" width="512" height="18" fill="#d7301f" class="zee-block zee-used" data-addr="${r.big}"`,
    );
    // foreign pages: a hatched box with its own state
    expect(renderSVG(s, { page: P(6) })).toMatch(
      new RegExp(`fill="url\\(#zee-hatch\\)" class="zee-block zee-foreign" data-addr="${r.foreign}"`),
    );
    // the mid page: its frames on the mid lists
    const mid = renderSVG(s, { page: P(4) });
    expect(mid).toContain('data-pool="mid"');
    expect(mid).toContain(`<title>${hex(r.midFrames.at(-1))}: free frame of 32 KiB (on mid list 32768)</title>`);
  });

  test('bad renderer arguments throw InspectError with code ZEE_BAD_ARGUMENT', () => {
    const bad = [
      () => renderSVG({}),
      () => renderText(null),
      () => renderSVG(s, { maxbytes: 10 }),
      () => renderSVG(s, { width: 10 }),
      () => renderSVG(s, { slices: 0 }),
      () => renderSVG(s, { maxBytes: -1 }),
      () => renderSVG(s, { maxBytes: 100 }),
      () => renderSVG(s, { page: 'x' }),
      () => renderSVG(s, { page: 0 }),
      () => renderSVG(s, { lines: 3 }),
      () => renderSVG(s, { collapse: 1 }),
      () => renderSVG(s, { title: 5 }),
      () => renderText(s, { columns: 20 }),
      () => renderText(s, { collapse: 'no' }),
      () => renderText(s, 5),
      () => renderText({ ...s, layoutVersion: 6 }),
    ];
    for (const f of bad) {
      let err;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InspectError);
      expect(err).toMatchObject({ name: 'InspectError', code: 'ZEE_BAD_ARGUMENT' });
      expect(err.message).toMatch(/^zee_alloc inspect: (renderSVG|renderText): /);
    }
    expect(() => formatBytes(-1)).toThrow(InspectError);
    expect([0, 512, 1536, 65536, 237568, 1153434].map(formatBytes)).toEqual([
      '0 B',
      '512 B',
      '1.5 KiB',
      '64 KiB',
      '232 KiB',
      '1.1 MiB',
    ]);
  });
});

// A page's byte breakdown as the text map's zoom prints it.
function byteWords(p) {
  const parts = [`used ${formatBytes(p.usedBytes)}`, `free ${formatBytes(p.freeBytes)}`];
  if (p.slabBytes) parts.push(`slab ${formatBytes(p.slabBytes)}`);
  if (p.foreignBytes) parts.push(`foreign ${formatBytes(p.foreignBytes)}`);
  if (p.metadataBytes) parts.push(`metadata ${formatBytes(p.metadataBytes)}`);
  return parts.join(', ');
}

describe('slabs: S where they are mostly in use, s where mostly free slots', () => {
  // One page; the heap starts at 8 KiB.  Three 8 KiB slabs of seven 1,040 B
  // slots, all in use, then one with only slot 0 in use (its 880 B tail
  // unused), then free 8 KiB and 16 KiB frames.
  function slabHeap() {
    const h = heapOf({ pages: 1, heapStart: P(0) + 0x2000 });
    const full = [0, 1, 2].map(() => h.slab(8192, 1040, [0, 1, 2, 3, 4, 5, 6]));
    const open = h.slab(8192, 1040, [0]);
    h.free(8192);
    h.free(16384);
    return { h: h.finish(), full, open };
  }

  test('the text map and the SVG tell full slabs from emptier ones; the zoom lists their slots', () => {
    const { h, full, open } = slabHeap();
    const s = snapshot(h.src);
    expect(s.violations).toEqual([]);
    expect(s.totals.slabs).toBe(4);
    // 42 cells of 1,560 B: 8,176 B below the heap (cells 0-4), the full
    // slabs to 0x27ff8 and slot 0 of the open one (cells 5-21), its free
    // slots and tail (22-25), the free frames (26-41)
    const [row] = textRows(renderText(s));
    expect(cellsOf(row)).toBe(' '.repeat(5) + 'S'.repeat(17) + 's'.repeat(4) + '.'.repeat(16));
    expect(row).toMatch(/\| 22u 2f 4s$/); // 3 x 7 + 1 slots in use
    const colors = sliceColors(svgRow(renderSVG(s), P(0)), 64);
    expect(colors.slice(8, 32)).toEqual(Array(24).fill(SLAB_BLUES[4]));
    expect(colors.slice(34, 39)).toEqual(Array(5).fill(SLAB_BLUES[0])); // free slots 1-6
    expect(colors.slice(40)).toEqual(Array(24).fill(ALL_FREE));
    const lines = renderText(s, { page: P(0) }).split('\n');
    expect(lines.filter((l) => / slab +8192 B: 7 slots of 1040 B, 7 in use$/.test(l))).toHaveLength(3);
    expect(lines).toContain(`  ${hex(open.address)} slab         8192 B: 7 slots of 1040 B, 1 in use`);
    expect(lines).toContain(
      `  ${hex(full[2].slots[6])} slot         1040 B, usable 1032 B, in slab ${hex(full[2].address)}`,
    );
    // the zoom draws the open slab's words and its unused tail (0x29c88..0x29ff8) as the slab's own
    const zoom = renderSVG(s, { page: P(0) });
    const own = [
      ...zoom.matchAll(
        new RegExp(`<rect x="([\\d.]+)" y="(\\d+)" width="([\\d.]+)"[^>]*data-addr="${open.address}"`, 'g'),
      ),
    ];
    expect(own.map((m) => [Number(m[2]) / 22, Number(m[1]), Number(m[3])])).toEqual([
      [8, 90, 6], // 24 B of words at the start of line 8 (4 KiB a line, 1024 px)
      [9, 90 + ((0x9c88 - 0x9000) * 1024) / 4096, (880 * 1024) / 4096], // the tail, from 0xc88 into line 9
    ]);
  });
});

describe('damaged and empty heaps', () => {
  test('a broken header: the map says INVALID, the unreadable rest is drawn as such', () => {
    const r = reference();
    // smash the header of the free 4 KiB frame at 0x23000: the walk stops there
    r.h.wr(r.free4k - 8, 0xdeadbeef);
    const s = snapshot(r.h.src);
    expect(s.violations.length).toBeGreaterThan(0);
    const text = renderText(s, { collapse: false });
    expect(text).toMatch(new RegExp(`^INVALID: \\d+ violation\\(s\\); first ${s.violations[0].rule} at 0x`, 'm'));
    const row0 = textRows(text)[0];
    // 12 KiB on (from cell 8, 12,480 B) page 0 is unreadable
    expect(cellsOf(row0).slice(8)).toBe('!'.repeat(34));
    expect(row0.slice(11, 17)).toBe('BAD   ');
    // the walk reads nothing after it: pages 1-11 are unreadable, folded into two rows
    const folded = textRows(renderText(s));
    expect(folded).toEqual([
      row0,
      `0x00030000 BAD    |${'!'.repeat(42)}| unreadable`,
      `           BAD    |${'  ... 10 pages to 0x000dffff'.padEnd(42)}|`,
    ]);
    const svg = renderSVG(s);
    expect(svg).toContain('class="zee-invalid"');
    expect(sliceColors(svgRow(svg, P(0)), 64).slice(12)).toEqual(Array(52).fill('#ff00ff'));
    const zoom = renderSVG(s, { page: P(0) });
    expect(zoom).toMatch(/class="zee-block zee-corrupt" data-addr="\d+" data-state="corrupt"/);
  });

  test('heap_start 0 (nothing allocated yet): the totals, no rows', () => {
    const buffer = new ArrayBuffer(PAGE);
    const u32 = new Uint32Array(buffer);
    u32[(STATE_AT >>> 2) + STATE.magic] = LAYOUT.INFO_MAGIC;
    u32[(STATE_AT >>> 2) + STATE.layout] = LAYOUT.VERSION;
    u32[(STATE_AT >>> 2) + STATE.config] = 1;
    u32[(STATE_AT >>> 2) + STATE.poolMap] = POOL_MAP_AT;
    const s = snapshot({ buffer, stateAddress: STATE_AT });
    expect(s.pages).toEqual([]);
    const text = renderText(s);
    expect(text).toMatch(/^in use 0 B in 0 blocks/m);
    expect(textRows(text)).toEqual([]);
    const svg = renderSVG(s);
    expect(svg).toContain('data-rows="0" data-rows-shown="0"');
    expect(svg.endsWith('</svg>\n')).toBe(true);
    expect(() => renderText(s, { page: 0 })).toThrow(/is not a page of this heap/);
  });
});

describe('a map that scales: aggregated cells and maxBytes', () => {
  // `pages` pages of 64 B frames, all in use but a fifth of those at odd
  // multiples of 64 (chosen by a seeded generator, so slices differ); the
  // buddy of a free one, below it, is in use.  The heap starts at 64 B (the
  // first frame), so 128 pages hold over 100,000 blocks in use.
  function crowded(pages) {
    const h = heapOf({ pages, heapStart: P(0) + 64 });
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) / 65536;
    while (h.at < h.heapEnd) {
      if ((h.at / 64) % 2 && rnd() < 0.4) h.free(64);
      else h.used(64);
    }
    return h.finish();
  }

  test('100,000+ blocks: the SVG size depends on the pages, not the blocks', () => {
    const h = crowded(128);
    const s = snapshot(h.src);
    expect(s.violations).toEqual([]);
    expect(s.totals.usedBlocks).toBeGreaterThan(100_000);
    const svg = renderSVG(s);
    expect(svg.length).toBeLessThan(400_000);
    expect(svg.length / 128).toBeLessThan(2500);
    // twice the pages, about twice the bytes
    const svg2 = renderSVG(snapshot(crowded(256).src));
    expect(svg2.length / svg.length).toBeGreaterThan(1.8);
    expect(svg2.length / svg.length).toBeLessThan(2.2);
  });

  test('maxBytes: fewer slices first, then fewer rows, and the SVG says what was cut', () => {
    const s = snapshot(crowded(128).src);
    const full = renderSVG(s);
    expect(full).not.toContain('zee-cut');
    const size = Buffer.byteLength(full);
    for (const maxBytes of [size - 1, Math.round(size / 2), Math.round(size / 8), 20_000, 8_000]) {
      const svg = renderSVG(s, { maxBytes });
      expect(Buffer.byteLength(svg)).toBeLessThanOrEqual(maxBytes);
      expect(svg).toMatch(/class="zee-cut">cut to fit maxBytes \d+: /);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      const slices = Number(/data-slices="(\d+)"/.exec(svg)[1]);
      const shown = Number(/data-rows-shown="(\d+)"/.exec(svg)[1]);
      expect((svg.match(/<g class="zee-page /g) || []).length).toBe(shown);
      if (shown < 128) expect([slices, svg.includes('data-tooltips="0"')]).toEqual([1, true]);
      if (slices < 64) expect(svg).toContain(`${slices} slice${slices > 1 ? 's' : ''} of`);
    }
    // just below the full size: one halving of the slices is enough, every row stays
    const near = renderSVG(s, { maxBytes: size - 1 });
    expect(/data-slices="(\d+)"/.exec(near)[1]).toBe('32');
    expect(/data-rows-shown="(\d+)"/.exec(near)[1]).toBe('128');
    expect(Number(/data-rows-shown="(\d+)"/.exec(renderSVG(s, { maxBytes: 8_000 }))[1])).toBeLessThan(128);
    // a zoom into a page of 1,024 blocks drops its tooltips, then its boxes
    const page = s.pages[1].address;
    const zoom = renderSVG(s, { page });
    expect((zoom.match(/<title>/g) || []).length).toBeGreaterThan(1024);
    const slim = renderSVG(s, { page, maxBytes: zoom.length - 1 });
    expect(Buffer.byteLength(slim)).toBeLessThan(zoom.length);
    expect(slim).toContain('no tooltips');
    const tiny = renderSVG(s, { page, maxBytes: 20_000 });
    expect(Buffer.byteLength(tiny)).toBeLessThanOrEqual(20_000);
    expect(tiny).toContain('blocks not drawn one by one');
  });
});
