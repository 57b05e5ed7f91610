// Heap maps drawn from a snapshot (js/inspect.mjs, layout 8): a text map for
// terminals and a self-contained SVG.  Both take plain snapshot data, so a
// snapshot can be taken in one place (a test, a worker) and drawn in another.
//
// The heap is one buddy space tiled by blocks in use, free frames, slabs (with
// their slots) and foreign blocks; a block may span many 64 KiB pages.  The
// overview maps aggregate: a page is drawn as a fixed number of cells, each
// showing what its bytes hold (blocks in use, free frames, slabs, foreign
// memory), so a map's size depends on the number of pages, never on the
// number of blocks.  The `page` option zooms into one page and draws the
// blocks that overlap it one by one, clipped to the page.
//
// Byte accounting: a block's header (the 8 bytes before its payload) counts
// with the block, so block b covers [b.address - 8, b.address - 8 + b.size);
// a slab covers its header and words [b - 8, b + 24) and its unused tail, its
// slots (which follow it in snapshot.blocks) the rest.

import { LAYOUT } from './layout.mjs';

const PAGE = LAYOUT.PAGE_SIZE;
const META = LAYOUT.META_SIZE;
const SLAB_META = LAYOUT.SLAB_META;

/** An argument the inspector or a renderer can't use (`code` names the failure). */
export class InspectError extends TypeError {
  constructor(message, code = 'ZEE_BAD_ARGUMENT') {
    super(`zee_alloc inspect: ${message}`);
    this.name = 'InspectError';
    this.code = code;
  }
}

const hex = (a) => '0x' + (a >>> 0).toString(16).padStart(8, '0');

/** Bytes as a short human figure: 512 B, 1.5 KiB, 3 MiB. */
export function formatBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0)
    throw new InspectError(`formatBytes: expected a byte count (a finite number >= 0), got ${describe(n)}`);
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024,
    u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;

function describe(value) {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function checkSnapshot(snap, who) {
  if (!snap || typeof snap !== 'object' || !Array.isArray(snap.pages) || !snap.totals || !Array.isArray(snap.blocks))
    throw new InspectError(
      `${who}: expected a snapshot from snapshot(source), got ${snap === null ? 'null' : describe(snap)}`,
    );
  if (snap.layoutVersion !== LAYOUT.VERSION && snap.violations?.[0]?.rule !== 'ZEE_C_STATE')
    throw new InspectError(
      `${who}: the snapshot is of layout ${snap.layoutVersion}, this renderer draws layout ${LAYOUT.VERSION}`,
    );
}

// Why: a misspelt option (maxbytes) must not be silently ignored.
function checkOptions(options, allowed, who) {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new InspectError(`${who}: options must be an object, got ${describe(options)}`);
  const unknown = Object.keys(options).filter((k) => !allowed.includes(k));
  if (unknown.length)
    throw new InspectError(
      `${who}: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected ${allowed.join(', ')})`,
    );
}

function intOption(who, name, value, min, max, extra = '') {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new InspectError(`${who}: ${name} must be an integer in [${min}, ${max}]${extra}, got ${describe(value)}`);
  return value;
}

const isPow2 = (x) => x > 0 && (x & (x - 1)) === 0;

function slicesOption(who, value) {
  intOption(who, 'slices', value, 1, 1024, ' and a power of two');
  if (!isPow2(value)) throw new InspectError(`${who}: slices must be a power of two in [1, 1024], got ${value}`);
  return value;
}

function collapseOption(who, value) {
  if (typeof value !== 'boolean')
    throw new InspectError(`${who}: collapse must be true or false, got ${describe(value)}`);
  return value;
}

// The page of the snapshot at `address` (a zoom target).
function pageOption(snap, who, address) {
  if (typeof address !== 'number' || !Number.isInteger(address) || address < 0)
    throw new InspectError(`${who}: page must be a page address (an integer), got ${describe(address)}`);
  const base = address - (address % PAGE);
  const p = indexOf(snap).pageAt.get(base);
  if (!p)
    throw new InspectError(
      `${who}: page ${hex(address)} is not a page of this heap [${hex(snap.heapStart)}, ${hex(snap.heapEnd)})`,
    );
  return p;
}

// ---- the blocks of a page ---------------------------------------------------

// Where a block's bytes lie: its header on, up to the next block's header.
const startOf = (b) => b.address - META;
const endOf = (b) => b.address - META + b.size;
const isSlot = (b) => b.slab !== undefined && b.slab !== null && b.state !== 'slab';
// What a block's bytes count as in a slice (sliceBytes()).
const K_USED = 0,
  K_SLOT = 1,
  K_FREE = 2,
  K_FREE_SLOT = 3,
  K_SLAB = 4,
  K_FOREIGN = 5,
  K_BAD = 6;
const K_OF = { used: K_USED, free: K_FREE, 'free-slot': K_FREE_SLOT, slab: K_SLAB, foreign: K_FOREIGN };

// The slots a slab of `size` bytes holds with slots of m bytes (zee_alloc.c walk_slab()).
const slotCount = (size, m) => (m > 0 ? Math.max(0, Math.floor((size - SLAB_META - META) / m)) : 0);

/**
 * Lookups a map needs, built once per snapshot (a WeakMap keeps them): the
 * slabs and pages by address, each page's shape once computed, and for a
 * binary search the blocks' starts, ends and the running maximum of their
 * ends (a slot ends inside its slab, so the ends alone are not sorted).
 * Why: rows and zooms look up the blocks of one page, and a linear search
 * per page would make big heaps quadratic; the numbers sit in typed arrays
 * because reading them off 100,000 block objects is what a map costs most.
 */
const indexes = new WeakMap();
function indexOf(snap) {
  let ix = indexes.get(snap);
  if (ix) return ix;
  const blocks = snap.blocks;
  const n = blocks.length;
  const starts = new Float64Array(n),
    ends = new Float64Array(n),
    reach = new Float64Array(n),
    kinds = new Uint8Array(n);
  let far = -Infinity;
  for (let i = 0; i < n; i++) {
    const b = blocks[i];
    starts[i] = startOf(b);
    ends[i] = endOf(b);
    far = Math.max(far, ends[i]);
    reach[i] = far;
    kinds[i] = b.state === 'used' && isSlot(b) ? K_SLOT : (K_OF[b.state] ?? K_BAD);
  }
  ix = {
    starts,
    ends,
    reach,
    kinds,
    slabs: new Map((snap.slabs ?? []).map((s) => [s.address, s])),
    pageAt: new Map(snap.pages.map((p) => [p.address, p])),
    shapes: new Map(),
    runs: snap.freeRuns ?? [],
  };
  indexes.set(snap, ix);
  return ix;
}

// First index in [0, n) where pred holds (pred false then true).
function bisect(n, pred) {
  let lo = 0,
    hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The indexes in snap.blocks of the blocks whose bytes overlap [from, to), in address order (a slab before its slots). */
function indexesIn(snap, from, to) {
  const { starts, ends, reach } = indexOf(snap);
  const lo = bisect(starts.length, (i) => reach[i] > from);
  const hi = bisect(starts.length, (i) => starts[i] >= to);
  const out = [];
  for (let i = lo; i < hi; i++) if (ends[i] > from && starts[i] < to) out.push(i);
  return out;
}
const blocksIn = (snap, from, to) => indexesIn(snap, from, to).map((i) => snap.blocks[i]);

/**
 * What page p is, for the maps (computed once per page): `list` the blocks
 * with bytes in it, in address order; `inner` the block in use, foreign
 * block or unreadable part that covers all of it; `before` / `after` whether a block runs in
 * from the page below (its payload starts there) / on past the page end;
 * `u`, `f`, `s` the blocks in use (slots too), free frames and slabs whose
 * payload starts in it.
 */
function pageShape(snap, p) {
  const ix = indexOf(snap);
  let shape = ix.shapes.get(p.address);
  if (shape) return shape;
  const P = p.address;
  // A block whose payload starts at the page end has only its header here:
  // it belongs to the next page (as in PageInfo.blocks).
  const list = blocksIn(snap, P, P + PAGE).filter((b) => b.address < P + PAGE);
  let end = -Infinity,
    u = 0,
    f = 0,
    s = 0;
  for (const b of list) {
    end = Math.max(end, endOf(b));
    if (b.address < P) continue;
    if (b.state === 'used') u++;
    else if (b.state === 'free') f++;
    else if (b.state === 'slab') s++;
  }
  const first = list[0];
  const inner =
    list.length === 1 &&
    startOf(first) <= P &&
    endOf(first) >= Math.min(P + PAGE, snap.heapEnd - META) && // the heap's last 8 bytes are no block's
    (first.state === 'used' || first.state === 'foreign' || first.state === 'corrupt')
      ? first
      : null;
  shape = { list, before: !!first && first.address < P, after: end > P + PAGE, inner, u, f, s };
  ix.shapes.set(P, shape);
  return shape;
}

// The first free run with bytes in [from, to), or undefined.
function runIn(snap, from, to) {
  const runs = indexOf(snap).runs;
  const r = runs[bisect(runs.length, (k) => runs[k].address - META + runs[k].bytes > from)];
  return r && r.address - META < to ? r : undefined;
}

/**
 * Byte accounting of page p in `slices` equal slices: per slice the bytes of
 * blocks in use, free frames, slabs' own bytes (header, words, unused tail),
 * slots in use, free slots, foreign blocks and unreadable parts, and of the
 * part of the page outside the heap (below heap_start - 16: data and stack).
 * The 16 bytes below heap_start and the heap's last 8 bytes count as none.
 */
function sliceBytes(snap, p, slices) {
  const w = PAGE / slices;
  const make = () => new Float64Array(slices);
  const s = {
    used: make(),
    free: make(),
    slab: make(),
    slotUsed: make(),
    slotFree: make(),
    foreign: make(),
    bad: make(),
    out: make(),
  };
  const P = p.address;
  const add = (arr, a, b) => {
    a = Math.max(a - P, 0);
    b = Math.min(b - P, PAGE);
    for (let c = Math.floor(a / w); c < slices && c * w < b; c++) {
      const lo = Math.max(a, c * w),
        hi = Math.min(b, (c + 1) * w);
      if (hi > lo) arr[c] += hi - lo;
    }
  };
  if (snap.heapStart) add(s.out, P, snap.heapStart - 2 * META);
  const { starts, ends, kinds } = indexOf(snap);
  const into = [s.used, s.slotUsed, s.free, s.slotFree, null, s.foreign, s.bad];
  for (const i of indexesIn(snap, P, P + PAGE)) {
    if (kinds[i] === K_SLAB) {
      const b = snap.blocks[i];
      const k = slotCount(b.size, b.slotSize);
      add(s.slab, starts[i], b.address + SLAB_META);
      add(s.slab, b.address + SLAB_META + k * b.slotSize, ends[i]);
    } else add(into[kinds[i]], starts[i], ends[i]);
  }
  return s;
}

/**
 * What one slice shows, by what most of its bytes hold: 'bad' (anything
 * unreadable), 'foreign', 'out' (outside the heap), 'slab' (slabs and their
 * slots) or 'plain' (blocks in use and free frames), with `share` the part in
 * use (for a slab: its own bytes and slots in use); 'none' for metadata only.
 * On a tie, blocks and frames win over slabs.
 */
function sliceKind(s, c) {
  if (s.bad[c]) return { kind: 'bad' };
  const slab = s.slab[c] + s.slotUsed[c] + s.slotFree[c];
  const plain = s.used[c] + s.free[c];
  const most = Math.max(slab, plain, s.foreign[c], s.out[c]);
  if (!most) return { kind: 'none' };
  if (s.foreign[c] === most) return { kind: 'foreign' };
  if (plain === most) return { kind: 'plain', share: s.used[c] / plain, used: s.used[c], free: s.free[c] };
  if (slab === most) return { kind: 'slab', share: (slab - s.slotFree[c]) / slab };
  return { kind: 'out' };
}

// ---- words shared by both maps ------------------------------------------------

// The list a free frame is on: lists[c] below 64 KiB in the small pool and
// from 64 KiB up ('list'), mid_lists[c] in the mid pool ('mid list').
const listName = (b) => `${b.pool === 'mid' ? 'mid list' : 'list'} ${b.size}`;

// What a block in use occupies beyond its header size (the rest of its power-of-two frame).
const padding = (b) => (b.headerSize ? b.size - b.headerSize : 0);

function slabWords(snap, b) {
  const info = indexOf(snap).slabs.get(b.address);
  const k = info?.slots ?? slotCount(b.size, b.slotSize);
  return `${k} slots of ${b.slotSize ?? '?'} B${info ? `, ${info.usedSlots} in use` : ''}`;
}

// How block b reaches past page p, or ''.
function clipWords(b, p) {
  const before = b.address < p.address ? formatBytes(p.address - b.address) : '';
  const after = endOf(b) > p.address + PAGE ? formatBytes(endOf(b) - p.address - PAGE) : '';
  if (before && after) return `from ${before} before, to ${after} past the page`;
  if (before) return `from ${before} before the page`;
  return after ? `${after} past the page` : '';
}
const clipAttr = (b, p) => {
  const start = b.address < p.address,
    end = endOf(b) > p.address + PAGE;
  return start || end ? ` data-clipped="${start && end ? 'both' : start ? 'start' : 'end'}"` : '';
};

// Page label: the pool of a page with blocks of its own, else what fills it.
function pageLabel(p, shape) {
  if (p.kind === 'corrupt') return 'BAD';
  if (p.kind === 'foreign') return 'other';
  if (p.kind === 'free') return 'free';
  if (shape.inner) return 'block';
  return p.pool === 'mid' ? 'mid' : 'small';
}

// The short note right of a page's row.
function pageNote(snap, p, shape) {
  if (shape.inner)
    return shape.inner.state === 'foreign'
      ? `${formatBytes(shape.inner.size)} foreign`
      : shape.inner.state === 'corrupt'
        ? 'unreadable'
        : `in ${formatBytes(shape.inner.size)} block`;
  if (p.kind === 'free') {
    const r = runIn(snap, p.address, p.address + PAGE);
    return r ? `in ${formatBytes(r.bytes)} free` : '';
  }
  const { u, f, s } = shape;
  const n = `${shape.before ? '< ' : ''}${u}u ${f}f${s ? ` ${s}s` : ''}${shape.after ? ' >' : ''}`;
  return p.corruptBytes || p.kind === 'corrupt' ? `${n} BAD` : n;
}

// A page's bytes in words: what its bytes hold.
function byteWords(p) {
  const parts = [`used ${formatBytes(p.usedBytes)}`, `free ${formatBytes(p.freeBytes)}`];
  if (p.slabBytes) parts.push(`slab ${formatBytes(p.slabBytes)}`);
  if (p.foreignBytes) parts.push(`foreign ${formatBytes(p.foreignBytes)}`);
  if (p.corruptBytes) parts.push(`unreadable ${formatBytes(p.corruptBytes)}`);
  if (p.metadataBytes) parts.push(`metadata ${formatBytes(p.metadataBytes)}`);
  return parts.join(', ');
}

// Page p in words, as lines (the text zoom prints them, the SVG joins them
// with '; ' for the zoom's summary and the overview's tooltip).
function pageSummary(snap, p, shape) {
  const head = `page ${hex(p.address)}`;
  if (shape.inner) {
    const b = shape.inner;
    if (b.state === 'corrupt')
      return [`${head}: unreadable, the walk stopped at ${hex(b.address)}${b.why ? ` (${b.why})` : ''}`];
    if (b.state === 'foreign')
      return [`${head}: inside foreign block ${hex(b.address)} (${formatBytes(b.size)}): not zee_alloc's`];
    // Counted over the pages its bytes touch, its header's page first.
    const first = startOf(b) - (startOf(b) % PAGE);
    const k = (p.address - first) / PAGE + 1;
    const of = Math.floor((endOf(b) - 1 - first) / PAGE) + 1;
    return [`${head}: inside block ${hex(b.address)} (in use, ${b.size} B), page ${k} of its ${of}`];
  }
  const { u, f, s } = shape;
  const what =
    p.kind === 'free'
      ? 'free'
      : p.kind === 'foreign'
        ? "not zee_alloc's"
        : `${p.pool === 'mid' ? 'mid' : 'small'} pool${p.kind === 'corrupt' ? ', partly unreadable' : ''}`;
  const starts = `${u} in use, ${f} free frame${f === 1 ? '' : 's'}${s ? `, ${s} slab${s === 1 ? '' : 's'}` : ''} start here`;
  const lines = [`${head}, ${what}: ${starts}`, byteWords(p)];
  if (shape.before || shape.after)
    lines.push(
      shape.before && shape.after
        ? 'blocks run in from the page below and on past the page end'
        : shape.before
          ? 'a block runs in from the page below'
          : 'a block runs on past the page end',
    );
  const r = p.kind === 'free' ? runIn(snap, p.address, p.address + PAGE) : undefined;
  if (r) lines.push(`in the free run of ${formatBytes(r.bytes)} from ${hex(r.address)}`);
  if (snap.cursor && snap.cursor >= p.address && snap.cursor < p.address + PAGE)
    lines.push(`the cursor (where the next exact block goes first) is at ${hex(snap.cursor)}`);
  return lines;
}

// Why: long runs of alike pages (free pages, the pages inside one block,
// foreign or unreadable pages) read best folded: the first page's row, then
// one row for the rest.  `collapse: false` keeps one row per page.  A page
// where a block in use or a slab starts is never folded: its cells are the
// point of the map.
function rows(snap, collapse) {
  const out = [];
  const pages = snap.pages;
  const shapes = pages.map((p) => pageShape(snap, p));
  const key = (i) => {
    const p = pages[i],
      sh = shapes[i];
    if (p.kind === 'free') return 'free';
    if (sh.inner) return `${sh.inner.state} ${sh.inner.address}`;
    return null;
  };
  for (let i = 0; i < pages.length; i++) {
    let n = 1;
    const k = collapse ? key(i) : null;
    if (k !== null) while (i + n < pages.length && key(i + n) === k) n++;
    if (n > 2) {
      out.push({ page: pages[i], shape: shapes[i], run: 1 });
      out.push({ page: pages[i + 1], shape: shapes[i + 1], run: n - 1 });
      i += n - 1;
    } else out.push({ page: pages[i], shape: shapes[i], run: 1 });
  }
  return out;
}

// ---- text ------------------------------------------------------------------

function cellChars(snap, p, cells) {
  const s = sliceBytes(snap, p, cells);
  let out = '';
  for (let c = 0; c < cells; c++) {
    const k = sliceKind(s, c);
    if (k.kind === 'bad') out += '!';
    else if (k.kind === 'foreign') out += '~';
    else if (k.kind === 'slab') out += k.share >= 0.5 ? 'S' : 's';
    else if (k.kind === 'plain') out += !k.free ? '#' : !k.used ? '.' : k.share >= 0.5 ? '%' : ':';
    else out += ' ';
  }
  return out;
}

function blockLine(snap, b, p) {
  const size = String(b.size).padStart(6);
  let line;
  if (b.state === 'used' && isSlot(b)) line = `slot       ${size} B, usable ${b.usable} B, in slab ${hex(b.slab)}`;
  else if (b.state === 'used')
    line = `in use     ${size} B, usable ${b.usable} B${padding(b) > 0 ? `, padding ${padding(b)} B` : ''}`;
  else if (b.state === 'free-slot') line = `free slot  ${size} B, in slab ${hex(b.slab)}`;
  else if (b.state === 'slab') line = `slab       ${size} B: ${slabWords(snap, b)}`;
  else if (b.state === 'free') line = `free frame ${size} B (${listName(b)})`;
  else if (b.state === 'foreign') line = `foreign    ${size} B: not zee_alloc's`;
  else line = `UNREADABLE ${size} B${b.why ? `: ${b.why}` : ''}`;
  const clip = clipWords(b, p);
  return `${hex(b.address)} ${line}${clip ? `; ${clip}` : ''}`;
}

/**
 * A terminal heap map: a header with the totals, one row per page (runs of
 * 3+ free pages, pages inside one block or foreign pages folded unless
 * `collapse: false`), and a legend.  Fits `columns` (default 80, at least
 * 60).  With `page: address`, lists the blocks of that page one per line
 * instead (those that start before it or run past it say so).
 */
export function renderText(snap, options = {}) {
  checkSnapshot(snap, 'renderText');
  checkOptions(options, ['columns', 'collapse', 'page'], 'renderText');
  const { columns = 80, collapse = true, page } = options;
  intOption('renderText', 'columns', columns, 60, 10000);
  collapseOption('renderText', collapse);
  const fit = (line) => (line.length > columns ? line.slice(0, columns - 3) + '...' : line);
  const t = snap.totals;
  const out = [];
  out.push(
    fit(
      `zee_alloc heap ${hex(snap.heapStart)}..${hex(snap.heapEnd)}: ${t.pages} pages (${formatBytes(t.heapBytes)}) of ${formatBytes(snap.memoryBytes)} memory`,
    ),
  );
  out.push(
    fit(
      `in use ${formatBytes(t.usedBytes)} in ${t.usedBlocks} blocks | free ${formatBytes(t.freeBytes)} (largest ${formatBytes(t.largestFreeBlock)}) | frag ${pct(t.fragmentation)}`,
    ),
  );
  out.push(
    fit(
      `${t.slabs} slabs | metadata ${formatBytes(t.metadataBytes)} | padding ${formatBytes(t.paddingBytes ?? 0)}${t.foreignBytes ? ` | foreign ${formatBytes(t.foreignBytes)}` : ''} | peak ${formatBytes(snap.counters?.peakBytes ?? 0)} | ${snap.config?.validation ?? '?'}`,
    ),
  );
  if (snap.violations.length) {
    const v = snap.violations[0];
    out.push(
      fit(`INVALID: ${snap.violations.length} violation(s); first ${v.rule} at ${hex(v.address)}: ${v.message}`),
    );
  }
  if (page !== undefined) {
    const p = pageOption(snap, 'renderText', page);
    const shape = pageShape(snap, p);
    for (const line of pageSummary(snap, p, shape)) out.push(fit(line));
    if (snap.heapStart > p.address + 2 * META)
      out.push(
        fit(
          `  ${hex(p.address)} not heap   ${String(Math.min(snap.heapStart - 2 * META - p.address, PAGE)).padStart(6)} B below heap_start (data and stack)`,
        ),
      );
    for (const b of shape.list) out.push(fit(`  ${blockLine(snap, b, p)}`));
    return out.join('\n') + '\n';
  }
  const cells = columns - 38; // "0x00000000 small  |" + cells + "| " + note (17)
  for (const { page: p, shape, run } of rows(snap, collapse)) {
    const label = pageLabel(p, shape).padEnd(6);
    if (run > 1) {
      out.push(
        fit(`${' '.repeat(10)} ${label} |${`  ... ${run} pages to ${hex(p.address + run * PAGE - 1)}`.padEnd(cells)}|`),
      );
      continue;
    }
    out.push(fit(`${hex(p.address)} ${label} |${cellChars(snap, p, cells)}| ${pageNote(snap, p, shape)}`.trimEnd()));
  }
  // Each line at most 60 characters, the narrowest map.
  const legend = [
    `legend: # in use  . free  % mostly in use  : mostly free`,
    `        S/s slab mostly in use/free  ~ foreign  ! unreadable`,
    `        blank: metadata or below the heap; a cell = ${formatBytes(Math.round(PAGE / cells))}`,
    `        u/f/s: blocks in use, free frames, slabs that start`,
    `        here; < >: a block runs in from below / on past it`,
    `        small/mid: the page's pool; block: inside one block`,
  ];
  for (const l of legend) out.push(fit(l));
  return out.join('\n') + '\n';
}

// ---- SVG -------------------------------------------------------------------

const COLORS = {
  meta: '#555555',
  out: '#d9d9d9',
  foreign: '#e0e0e0',
  corrupt: '#ff00ff',
  text: '#222222',
  bg: '#fafafa',
  used: '#d7301f',
  free: '#66bd63',
  slab: '#2166ac',
  freeSlot: '#92c5de',
  mid: '#2166ac',
};
// The share of a slice in use, in 9 steps: 0 (all free) .. 8 (all in use).
const RAMP = ['#66bd63', '#c2e699', '#ffffb2', '#fed976', '#feb24c', '#fd8d3c', '#fc4e2a', '#e31a1c', '#b10026'];
// Slices mostly of slabs, by the share of their bytes in use (slabs' own
// bytes and slots in use), in 5 steps: 0 (all free slots) .. 4.
const SLAB_RAMP = ['#c6dbef', '#9ecae1', '#6baed6', '#3182bd', '#08519c'];

const esc = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
// Coordinates with at most 2 decimals, no trailing zeros.
const num = (x) => String(Math.round(x * 100) / 100);

// UTF-8 length of a string (the SVG's size in bytes).
function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const FONT = 'font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11"';
const ROW_H = 16,
  GAP = 3,
  LABEL_W = 150,
  NOTE_W = 150;
const HATCH = `<defs><pattern id="zee-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="${COLORS.foreign}"/><line x1="0" y1="0" x2="0" y2="6" stroke="#bdbdbd" stroke-width="2"/></pattern></defs>`;

// Header lines shared by both SVG views; returns { lines, y } (y: first free baseline).
function headerLines(snap, title) {
  const t = snap.totals;
  const c = snap.counters ?? {};
  const lines = [];
  lines.push(
    `<text x="8" y="16" font-size="13" font-weight="bold" fill="${COLORS.text}">${esc(title)}: ${t.pages} pages (${esc(formatBytes(t.heapBytes))}) at ${hex(snap.heapStart)}</text>`,
  );
  lines.push(
    `<text x="8" y="33" fill="${COLORS.text}" class="zee-totals">in use ${esc(formatBytes(t.usedBytes))} in ${t.usedBlocks} blocks · free ${esc(formatBytes(t.freeBytes))} (largest ${esc(formatBytes(t.largestFreeBlock))}) · ${t.slabs} slabs · metadata ${esc(formatBytes(t.metadataBytes))} · fragmentation ${pct(t.fragmentation)} · peak ${esc(formatBytes(c.peakBytes ?? 0))}</text>`,
  );
  let y = 49;
  if (snap.violations.length) {
    const v = snap.violations[0];
    lines.push(
      `<text x="8" y="${y}" fill="#c00" font-weight="bold" class="zee-invalid">INVALID: ${snap.violations.length} violation(s); first ${esc(v.rule)} at ${hex(v.address)}: ${esc(v.message)}</text>`,
    );
    y += 16;
  }
  return { lines, y };
}

// Items: [fill, label] or [fill, label, stroke] (an outlined box).
function legendLine(y, items) {
  const o = [];
  let x = 8;
  for (const [fill, label, stroke] of items) {
    o.push(
      `<rect x="${x}" y="${y - 9}" width="11" height="11" fill="${fill}" stroke="${stroke ?? '#888'}" stroke-width="${stroke ? 2 : 0.5}"/><text x="${x + 15}" y="${y}" fill="${COLORS.text}">${esc(label)}</text>`,
    );
    x += 26 + label.length * 7;
  }
  return `<g class="zee-legend">${o.join('')}</g>`;
}

function svgOpen(W, H, title, attrs) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} role="img" aria-label="${esc(title)}"${attrs}>\n<title>${esc(title)}</title>\n${HATCH}\n<rect width="${W}" height="${H}" fill="${COLORS.bg}"/>`;
}

// The colour of one slice, or null for a slice of metadata only (the row's
// background shows).
function sliceColor(s, c) {
  const k = sliceKind(s, c);
  if (k.kind === 'bad') return COLORS.corrupt;
  if (k.kind === 'foreign') return 'url(#zee-hatch)';
  if (k.kind === 'out') return COLORS.out;
  if (k.kind === 'slab') return SLAB_RAMP[Math.round(4 * k.share)];
  if (k.kind === 'plain') return RAMP[Math.round(8 * k.share)];
  return null;
}

// One overview row (a page, or a folded run of pages) at y; `tips`: its
// tooltip and the note on its right.
function overviewRow(snap, { page: p, shape, run }, y, width, slices, tips = true) {
  const o = [];
  const kindLabel = pageLabel(p, shape);
  const label = run > 1 ? `  … ×${run} ${kindLabel}` : `${hex(p.address)} ${kindLabel}`;
  let tip = pageSummary(snap, p, shape).join('; ');
  if (run > 1) tip = `${tip}; and the ${run - 1} pages after it to ${hex(p.address + run * PAGE - 1)}`;
  const s = sliceBytes(snap, p, slices);
  const cw = width / slices;
  const paths = new Map(); // colour -> path data
  o.push(`<rect x="${LABEL_W}" width="${width}" height="${ROW_H}" fill="${COLORS.meta}"/>`);
  for (let c = 0; c < slices;) {
    const fill = sliceColor(s, c);
    let n = 1;
    while (c + n < slices && sliceColor(s, c + n) === fill) n++;
    if (fill)
      paths.set(fill, (paths.get(fill) ?? '') + `M${num(LABEL_W + c * cw)} 0h${num(n * cw)}v${ROW_H}h-${num(n * cw)}z`);
    c += n;
  }
  for (const [fill, d] of paths) o.push(`<path fill="${fill}" d="${d}"/>`);
  // Why: slices alone draw a page of one big block like a page of many
  // small ones.  A thin line where each block of at least a slice starts
  // (a slab counts as one) tells them apart; there are at most `slices` of
  // them, so the row's size still does not grow with the blocks.
  let ticks = '';
  for (const b of shape.list) {
    const at = startOf(b) - p.address;
    if (at > 0 && b.size >= PAGE / slices && !isSlot(b)) ticks += `M${num(LABEL_W + (at * width) / PAGE)} 0v${ROW_H}`;
  }
  if (ticks) o.push(`<path class="zee-starts" stroke="${COLORS.bg}" stroke-width="1" d="${ticks}"/>`);
  // A page of the mid pool with blocks of its own: the same slices, outlined.
  const mid = kindLabel === 'mid';
  if (mid)
    o.push(
      `<rect x="${LABEL_W + 1}" y="1" width="${width - 2}" height="${ROW_H - 2}" fill="none" stroke="${COLORS.mid}" stroke-width="2"/>`,
    );
  const note = run > 1 || !tips ? '' : pageNote(snap, p, shape);
  const inner = shape.inner ? ` data-block="${shape.inner.address}"` : '';
  return `<g class="zee-page zee-${p.kind}" data-page="${p.address}" data-pool="${p.pool}"${inner}${run > 1 ? ` data-run="${run}"` : ''} transform="translate(0,${y})">${tips ? `<title>${esc(tip)}</title>` : ''}<text x="8" y="12" fill="${COLORS.text}">${esc(label)}</text>${o.join('')}${note ? `<text x="${LABEL_W + width + 8}" y="12" fill="${COLORS.text}">${esc(note)}</text>` : ''}</g>`;
}

const OVERVIEW_OPTIONS = ['width', 'slices', 'collapse', 'title', 'maxBytes', 'page', 'lines'];

/**
 * A self-contained SVG heap map.
 *
 * Overview (default): a row per page (runs of 3+ free pages, pages inside
 * one block or foreign pages folded unless `collapse: false`), drawn as
 * `slices` cells (default 64, 1 KiB each): by the share of their bytes in
 * use from green to dark red, slabs in blues, foreign memory hatched, the
 * part below the heap light grey; a page of the mid pool is outlined.  The
 * SVG grows with the pages, never with the blocks.  Every row is a
 * `<g class="zee-page zee-KIND" data-page="ADDRESS" data-pool="POOL">`
 * (`data-block` for a page inside one block, `data-run` for a folded run)
 * with a `<title>` tooltip.  `maxBytes` caps the size: fewer slices per page
 * first (down to 1), then no tooltips and notes, then fewer rows; the SVG
 * says what was cut (`zee-cut`).
 *
 * Zoom (`page: address`): the blocks that overlap that page, one by one, in
 * `lines` rows (default 16, 4 KiB each); every block is a `.zee-block` with
 * `data-addr`, `data-state` ('used', 'free', 'slab', 'free-slot', 'foreign',
 * 'corrupt'), `data-size`, `data-slab` for a slot, `data-clipped` ('start',
 * 'end' or 'both') for one that reaches past the page, and a tooltip.
 * Under `maxBytes` the tooltips go first, then the blocks (the page is drawn
 * as slices).
 *
 * Options: `width` of the page bar in px (default 1024), `title`.
 */
export function renderSVG(snap, options = {}) {
  checkSnapshot(snap, 'renderSVG');
  checkOptions(options, OVERVIEW_OPTIONS, 'renderSVG');
  const {
    width = 1024,
    slices = 64,
    collapse = true,
    title = 'zee_alloc heap map',
    maxBytes,
    page,
    lines = 16,
  } = options;
  intOption('renderSVG', 'width', width, 64, 1 << 20);
  slicesOption('renderSVG', slices);
  collapseOption('renderSVG', collapse);
  if (typeof title !== 'string') throw new InspectError(`renderSVG: title must be a string, got ${describe(title)}`);
  if (maxBytes !== undefined) intOption('renderSVG', 'maxBytes', maxBytes, 1, Number.MAX_SAFE_INTEGER);
  intOption('renderSVG', 'lines', lines, 1, 256, ' and a power of two');
  if (!isPow2(lines)) throw new InspectError(`renderSVG: lines must be a power of two in [1, 256], got ${lines}`);
  const budget = maxBytes ?? Infinity;
  if (page !== undefined)
    return zoomSVG(snap, pageOption(snap, 'renderSVG', page), { width, title, budget, lines, slices });

  const list = rows(snap, collapse);
  const rowStep = ROW_H + GAP;
  const W = LABEL_W + width + NOTE_W;
  const legend = [
    [RAMP[8], '100% in use'],
    [RAMP[4], '50%'],
    [RAMP[0], 'free'],
    [SLAB_RAMP[4], 'slab'],
    [SLAB_RAMP[0], 'free slots'],
    [COLORS.meta, 'metadata'],
    [COLORS.out, 'below the heap'],
    ['url(#zee-hatch)', "not zee_alloc's"],
    [COLORS.corrupt, 'unreadable'],
    ['none', 'mid pool', COLORS.mid],
  ];
  // The whole SVG for `rowsShown` rows drawn from `body`, with a cut note.
  const assemble = (body, rowsShown, sl, tips) => {
    const { lines: head, y } = headerLines(snap, title);
    let cut = '';
    if (sl !== slices || rowsShown < list.length || !tips) {
      const parts = [];
      if (sl !== slices)
        parts.push(`${sl} slice${sl > 1 ? 's' : ''} of ${formatBytes(PAGE / sl)} per page instead of ${slices}`);
      if (!tips) parts.push('no tooltips or notes');
      if (rowsShown < list.length)
        parts.push(`${rowsShown} of ${list.length} rows shown, from ${hex(list[0].page.address)}`);
      cut = `<text x="8" y="${y}" fill="#a15c00" font-weight="bold" class="zee-cut">cut to fit maxBytes ${maxBytes}: ${esc(parts.join('; '))}</text>`;
    }
    const top = y + (cut ? 16 : 0) + 14;
    const H = top + rowsShown * rowStep + 10;
    const attrs = ` class="zee-map" data-slices="${sl}" data-rows="${list.length}" data-rows-shown="${rowsShown}" data-tooltips="${tips ? 1 : 0}"`;
    return [
      svgOpen(W, H, title, attrs),
      ...head,
      cut,
      legendLine(top - 5, legend),
      `<g transform="translate(0,${top + 4})">`,
      body,
      '</g>',
      '</svg>\n',
    ]
      .filter((s) => s !== '')
      .join('\n');
  };
  const drawRows = (sl, tips, limit) => {
    const out = [];
    let bytes = 0;
    for (let r = 0; r < list.length; r++) {
      const s = overviewRow(snap, list[r], r * rowStep, width, sl, tips);
      bytes += utf8Length(s) + 1;
      if (bytes > limit) break;
      out.push(s);
    }
    return out;
  };
  const fixed = utf8Length(assemble('', list.length, slices, true)) + 200; // room for a cut note
  // Fewer slices, then no tooltips; the first way that draws every row wins.
  const ways = [];
  for (let sl = slices; sl >= 1; sl /= 2) ways.push([sl, true]);
  ways.push([1, false]);
  for (const [sl, tips] of ways) {
    const drawn = drawRows(sl, tips, budget - fixed);
    if (drawn.length < list.length) continue;
    const svg = assemble(drawn.join('\n'), drawn.length, sl, tips);
    if (utf8Length(svg) <= budget) return svg;
  }
  // Even that is too big: the rows that fit.
  const drawn = drawRows(1, false, budget - fixed);
  for (let n = drawn.length; n >= 0; n--) {
    const svg = assemble(drawn.slice(0, n).join('\n'), n, 1, false);
    if (utf8Length(svg) <= budget) return svg;
  }
  throw new InspectError(
    `renderSVG: maxBytes ${maxBytes} is too small: the map's header alone takes ${utf8Length(assemble('', 0, 1, false))} bytes`,
  );
}

// A block's tooltip in the zoom of page p.
function blockTip(snap, b, p) {
  const at = hex(b.address);
  let tip;
  if (b.state === 'used' && isSlot(b))
    tip = `${at}: slot in use in slab ${hex(b.slab)}, ${b.size} B, usable ${b.usable} B (header at ${hex(startOf(b))})`;
  else if (b.state === 'used')
    tip = `${at}: in use, block ${b.size} B, usable ${b.usable} B${padding(b) > 0 ? `, padding ${padding(b)} B` : ''} (header at ${hex(startOf(b))})`;
  else if (b.state === 'free-slot') tip = `${at}: free slot of ${b.size} B in slab ${hex(b.slab)} (on its free list)`;
  else if (b.state === 'free') tip = `${at}: free frame of ${formatBytes(b.size)} (on ${listName(b)})`;
  else if (b.state === 'slab') tip = `${at}: slab of ${b.size} B, ${slabWords(snap, b)} (its words and unused tail)`;
  else if (b.state === 'foreign')
    tip = `${at}: foreign block of ${formatBytes(b.size)}: not zee_alloc's (memory grown by someone else)`;
  else tip = `${at}: unreadable from here, ${b.size} B (${b.why ?? 'broken header'})`;
  const clip = clipWords(b, p);
  return clip ? `${tip}; ${clip}` : tip;
}

// The blocks that overlap one page, in `lines` rows.
function zoomSVG(snap, p, { width, title, budget, lines, slices }) {
  const bytesPerLine = PAGE / lines;
  const scale = width / bytesPerLine;
  const lineH = 18,
    lineStep = 22,
    labelW = 90;
  const W = labelW + width + 20;
  const ttl = `${title}: page ${hex(p.address)}`;
  const { lines: head, y } = headerLines(snap, title);
  const shape = pageShape(snap, p);
  const summary = pageSummary(snap, p, shape).join('; ');
  const legend = [
    [COLORS.used, 'in use'],
    [COLORS.free, 'free frame'],
    [COLORS.slab, 'slab words'],
    [COLORS.freeSlot, 'free slot'],
    [COLORS.meta, 'header'],
    [COLORS.out, 'below the heap'],
    ['url(#zee-hatch)', "not zee_alloc's"],
    [COLORS.corrupt, 'unreadable'],
  ];
  // Lines: the summary at y, a cut note under it if any, the legend, the page.
  const frame = (body, note) => {
    const top = y + (note ? 16 : 0) + 30;
    const H = top + lines * lineStep + 10;
    return [
      svgOpen(
        W,
        H,
        ttl,
        ` class="zee-zoom" data-page="${p.address}" data-kind="${p.kind}" data-pool="${p.pool}"${shape.inner ? ` data-block="${shape.inner.address}"` : ''}`,
      ),
      ...head,
      `<text x="8" y="${y}" fill="${COLORS.text}" class="zee-summary">${esc(summary)}</text>`,
      note ? `<text x="8" y="${y + 16}" fill="#a15c00" font-weight="bold" class="zee-cut">${esc(note)}</text>` : '',
      legendLine(top - 8, legend),
      `<g transform="translate(0,${top})">`,
      body,
      '</g>',
      '</svg>\n',
    ]
      .filter((s) => s !== '')
      .join('\n');
  };

  const P = p.address;
  // One box per block, clipped to the page and split where it wraps to the
  // next line; from, to: offsets in the page.
  const box = (from, to, fill, attrs, tip) => {
    const o = [];
    from = Math.max(from, 0);
    to = Math.min(to, PAGE);
    for (let a = from; a < to;) {
      const line = Math.floor(a / bytesPerLine),
        end = Math.min(to, (line + 1) * bytesPerLine);
      o.push(
        `<rect x="${num(labelW + (a - line * bytesPerLine) * scale)}" y="${line * lineStep}" width="${num(Math.max((end - a) * scale, 0.5))}" height="${lineH}" fill="${fill}"${attrs}>${tip ? `<title>${esc(tip)}</title>` : ''}</rect>`,
      );
      a = end;
    }
    return o.join('');
  };
  // Background per line: headers show through between the blocks.
  const base = [];
  for (let i = 0; i < lines; i++)
    base.push(
      `<text x="8" y="${i * lineStep + 13}" fill="${COLORS.text}">${hex(P + i * bytesPerLine)}</text><rect x="${labelW}" y="${i * lineStep}" width="${width}" height="${lineH}" fill="${COLORS.meta}"/>`,
    );
  const below = snap.heapStart ? snap.heapStart - 2 * META - P : 0;
  const draw = (tips) => {
    const o = [...base];
    if (below > 0)
      o.push(
        box(
          0,
          below,
          COLORS.out,
          ' class="zee-outside"',
          tips ? `${hex(P)}..${hex(P + Math.min(below, PAGE))}: below the heap (data and stack)` : null,
        ),
      );
    for (const b of shape.list) {
      const off = b.address - P;
      const attrs = ` class="zee-block zee-${b.state}" data-addr="${b.address}" data-state="${b.state}" data-size="${b.size}"${isSlot(b) ? ` data-slab="${b.slab}"` : ''}${clipAttr(b, p)}`;
      const tip = tips ? blockTip(snap, b, p) : null;
      if (b.state === 'slab') {
        // A slab's own bytes: its words before slot 0's header, and its
        // unused tail after the last slot (its slots are boxes of their own).
        const k = slotCount(b.size, b.slotSize);
        const tail = off + SLAB_META + k * b.slotSize;
        o.push(box(off, off + SLAB_META, COLORS.slab, attrs, tip));
        if (tail < off + b.size - META) o.push(box(tail, off + b.size - META, COLORS.slab, attrs, tip));
        continue;
      }
      const fill =
        {
          used: COLORS.used,
          free: COLORS.free,
          'free-slot': COLORS.freeSlot,
          foreign: 'url(#zee-hatch)',
        }[b.state] ?? COLORS.corrupt;
      // A block's payload up to the next header; an unreadable part is drawn whole.
      o.push(box(b.state === 'corrupt' ? off - META : off, off + b.size - META, fill, attrs, tip));
    }
    return o.join('\n');
  };
  let svg = frame(draw(true), '');
  if (utf8Length(svg) <= budget) return svg;
  svg = frame(draw(false), `cut to fit maxBytes ${budget}: no tooltips`);
  if (utf8Length(svg) <= budget) return svg;
  // The page as slices, like one row of the overview.
  const row = overviewRow(snap, { page: p, shape, run: 1 }, 0, width, slices);
  svg = frame(
    row,
    `cut to fit maxBytes ${budget}: blocks not drawn one by one, ${slices} slices of ${formatBytes(PAGE / slices)}`,
  );
  if (utf8Length(svg) <= budget) return svg;
  throw new InspectError(
    `renderSVG: maxBytes ${budget} is too small to draw page ${hex(p.address)} (${utf8Length(svg)} bytes needed at least)`,
  );
}
