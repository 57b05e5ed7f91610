// Heap maps drawn from a snapshot (js/inspect.mjs): a text map for terminals
// and a self-contained SVG.  Both take plain snapshot data, so a snapshot can
// be taken in one place (a test, a worker) and drawn in another.
//
// The overview maps aggregate: a small page is drawn as a fixed number of
// slices (cells), each coloured by the share of its bytes in use, so a map's
// size depends on the number of pages, never on the number of blocks.  The
// `page` option zooms into one page and draws its blocks one by one.

import { LAYOUT } from './layout.mjs';

const PAGE = LAYOUT.PAGE_SIZE;
const META = LAYOUT.META_SIZE;

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

// The page of the snapshot at `address` (a zoom target).
function pageOption(snap, who, address) {
  if (typeof address !== 'number' || !Number.isInteger(address) || address < 0)
    throw new InspectError(`${who}: page must be a page address (an integer), got ${describe(address)}`);
  const base = address - (address % PAGE);
  const i = snap.pages.findIndex((p) => p.address === base);
  if (i < 0)
    throw new InspectError(
      `${who}: page ${hex(address)} is not a page of this heap [${hex(snap.heapStart)}, ${hex(snap.heapEnd)})`,
    );
  return snap.pages[i];
}

/**
 * Byte accounting of one small page in `slices` equal slices: per slice the
 * bytes of small blocks and slots in use (header and payload), of the large
 * block it anchors, of free frames and free slots, and of corrupt
 * (unreadable) parts.  The page header, a slab's words and unused tail and a
 * vacant slot at the page end count as none of these.
 */
function sliceBytes(page, slices) {
  const w = PAGE / slices;
  const used = new Float64Array(slices),
    large = new Float64Array(slices),
    free = new Float64Array(slices),
    bad = new Float64Array(slices);
  const add = (arr, a, b) => {
    for (let c = Math.floor(a / w); c < slices && c * w < b; c++) {
      const lo = Math.max(a, c * w),
        hi = Math.min(b, (c + 1) * w);
      if (hi > lo) arr[c] += hi - lo;
    }
  };
  for (const b of page.blocks) {
    const off = b.address - page.address;
    if (b.state === 'used') add(used, off - META, off + b.size - META);
    else if (b.state === 'free' || b.state === 'free-slot') add(free, off - META, off + b.size - META);
    else if (b.state === 'slab')
      continue; // its slots follow it
    else if (b.state === 'large') add(large, off - META, off + b.size);
    else add(bad, off, off + b.size);
  }
  // A large block that starts at the page end: only its header is here.
  if (page.large && page.large === page.address + PAGE) add(large, PAGE - META, PAGE);
  return { used, large, free, bad };
}

// ---- text ------------------------------------------------------------------

const KIND_LABEL = { small: 'small', large: 'large', 'free-span': 'free', foreign: 'other', corrupt: 'BAD' };
// A small page of the mid pool (map mark MID) is labelled 'mid'.
const isMid = (p) => p.kind === 'small' && p.pool === 'mid';
const kindLabel = (p) => (isMid(p) ? 'mid' : (KIND_LABEL[p.kind] ?? p.kind));
// The list a free frame of page p is on: lists[c] ('free list') or mid_lists[c] ('mid list').
const listName = (p, size) => `${isMid(p) ? 'mid list' : 'free list'} ${size}`;

// Why: long runs of alike pages (free pages, the pages of one large block,
// foreign pages) read best as one row; `collapse: false` keeps one row per
// page.  Small pages are never folded: each has its own map.
function rows(snap, collapse) {
  const out = [];
  const pages = snap.pages;
  for (let i = 0; i < pages.length; i++) {
    const p = pages[i];
    let n = 1;
    if (collapse && (p.kind === 'large' || p.kind === 'free-span' || p.kind === 'foreign')) {
      const owner = p.large ?? p.span ?? 0;
      while (
        i + n < pages.length &&
        pages[i + n].kind === p.kind &&
        (pages[i + n].large ?? pages[i + n].span ?? 0) === owner
      )
        n++;
    }
    if (n > 2) {
      out.push({ page: p, run: 1 });
      out.push({ page: pages[i + 1], run: n - 1 });
      i += n - 1;
    } else out.push({ page: p, run: 1 });
  }
  return out;
}

function cellChars(page, cells) {
  const { used, large, free, bad } = sliceBytes(page, cells);
  let s = '';
  for (let c = 0; c < cells; c++) {
    const inUse = used[c] + large[c];
    if (bad[c]) s += '!';
    else if (inUse && !free[c]) s += large[c] > used[c] ? '=' : '#';
    else if (free[c] && !inUse) s += '.';
    else if (inUse || free[c]) s += inUse >= free[c] ? '%' : ':';
    else s += ' ';
  }
  return s;
}

// Why an index: rows look up their run of free pages or large block, and a
// linear search per row would make big heaps quadratic.
const indexes = new WeakMap();
function indexOf(snap) {
  let ix = indexes.get(snap);
  if (!ix) {
    ix = {
      large: new Map(snap.large.map((l) => [l.address, l])),
      spans: new Map(snap.spans.map((s) => [s.address, s])),
    };
    indexes.set(snap, ix);
  }
  return ix;
}
const largeOf = (snap, address) => indexOf(snap).large.get(address);
const spanOf = (snap, address) => indexOf(snap).spans.get(address);

// A small page's blocks in words: in use, free frames, slabs and free slots.
function smallSummary(p) {
  const slabs = p.slabs ? ` and ${p.freeSlots} free slots in ${p.slabs} slab${p.slabs > 1 ? 's' : ''}` : '';
  return `${p.usedBlocks} blocks in use (${formatBytes(p.usedBytes)}), ${p.freeFrames} free frames${slabs} (${formatBytes(p.freeBytes)})`;
}

function pageNote(snap, p) {
  if (p.kind === 'small') {
    let n = `${p.usedBlocks}u ${p.freeFrames}f`;
    if (p.slabs) n += ` ${p.slabs}s`;
    if (p.large) n += ' +L';
    if (p.spare) n += ' spare';
    return p.corrupt ? `${n} CORRUPT` : n;
  }
  if (p.kind === 'large') {
    const l = largeOf(snap, p.large);
    return l && p.address === l.anchor + PAGE ? `${formatBytes(l.size)} block` : '';
  }
  if (p.kind === 'free-span') {
    const s = spanOf(snap, p.span);
    return s && s.address === p.address ? `${s.pages}p free` : '';
  }
  if (p.kind === 'corrupt') return 'unreadable';
  return '';
}

// A block in use fills its extent: beyond its header size is padding.
const padNote = (b) => (b.size - b.usable - META > 0 ? `, padding ${b.size - b.usable - META} B` : '');

// The slots of a slab of `size` bytes with slots of m bytes (zee_alloc.c walk_slab()).
const slotCount = (size, m) => (m > 0 ? Math.floor((size - LAYOUT.SLAB_META - META) / m) : 0);

function blockLine(snap, b, p) {
  if (b.state === 'used' && b.slab)
    return `${hex(b.address)} slot        ${String(b.size).padStart(5)} B, usable ${b.usable} B, in slab ${hex(b.slab)}`;
  if (b.state === 'used')
    return `${hex(b.address)} in use      ${String(b.size).padStart(5)} B, usable ${b.usable} B${padNote(b)}`;
  if (b.state === 'free-slot')
    return `${hex(b.address)} free slot   ${String(b.size).padStart(5)} B, in slab ${hex(b.slab)}`;
  if (b.state === 'slab')
    return `${hex(b.address)} slab        ${String(b.size).padStart(5)} B: ${slotCount(b.size, b.slotSize)} slots of ${b.slotSize} B`;
  if (b.state === 'free')
    return `${hex(b.address)} free frame  ${String(b.size).padStart(5)} B (${isMid(p) ? 'mid list' : 'list'} ${b.size})`;
  if (b.state === 'large') {
    const l = largeOf(snap, b.address);
    return `${hex(b.address)} large block ${l ? `${l.size} B, ${b.size} B here + ${l.pages} pages` : `${b.size} B here`}`;
  }
  return `${hex(b.address)} UNREADABLE  ${b.size} B${b.why ? `: ${b.why}` : ''}`;
}

/**
 * A terminal heap map: one row per page (runs of 3+ large pages of one
 * block, free or foreign pages folded unless `collapse: false`), a header
 * with the totals and a legend.  Fits `columns` (default 80, at least 60).  With
 * `page: address`, lists that page's blocks one per line instead.
 */
export function renderText(snap, options = {}) {
  checkSnapshot(snap, 'renderText');
  checkOptions(options, ['columns', 'collapse', 'page'], 'renderText');
  const { columns = 80, collapse = true, page } = options;
  intOption('renderText', 'columns', columns, 60, 10000);
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
      `metadata ${formatBytes(t.metadataBytes)} | reserved ${formatBytes(t.reservedBytes)} | foreign ${formatBytes(t.foreignBytes)} | peak ${formatBytes(snap.counters?.peakBytes ?? 0)} | ${snap.config?.validation ?? '?'}`,
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
    out.push(
      fit(
        `page ${hex(p.address)}: ${kindLabel(p)}${p.kind === 'small' ? `, ${smallSummary(p)}, count ${p.count}${p.spare ? ', the spare' : ''}` : ''}`,
      ),
    );
    if (p.kind === 'small') for (const b of p.blocks) out.push(fit(`  ${blockLine(snap, b, p)}`));
    else if (p.kind === 'large') {
      const l = largeOf(snap, p.large);
      out.push(
        fit(
          `  page ${(p.address - l.anchor) / PAGE} of ${l.pages} whole pages of large block ${hex(l.address)} (${l.size} B, anchored by ${hex(l.anchor)})`,
        ),
      );
    } else if (p.kind === 'free-span') {
      const s = spanOf(snap, p.span);
      out.push(
        fit(
          `  free: page ${(p.address - p.span) / PAGE + 1} of the ${s ? s.pages : '?'} free pages from ${hex(p.span)}`,
        ),
      );
    } else
      out.push(
        fit(
          p.kind === 'foreign'
            ? "  not zee_alloc's: memory grown by someone else"
            : `  unreadable: map mark ${p.mark ?? '?'}`,
        ),
      );
    return out.join('\n') + '\n';
  }
  const cells = columns - 38; // "0x00000000 small  |" + cells + "| " + note (17)
  for (const { page: p, run } of rows(snap, collapse)) {
    const label = kindLabel(p).padEnd(6);
    if (run > 1) {
      out.push(
        fit(`${' '.repeat(10)} ${label} |${`  ... ${run} pages to ${hex(p.address + run * PAGE - 1)}`.padEnd(cells)}|`),
      );
      continue;
    }
    let bar;
    if (p.kind === 'small') bar = cellChars(p, cells);
    else if (p.kind === 'large') bar = '='.repeat(cells);
    else if (p.kind === 'free-span') bar = '-'.repeat(cells);
    else if (p.kind === 'corrupt') bar = '!'.repeat(cells);
    else bar = '~'.repeat(cells);
    out.push(fit(`${hex(p.address)} ${label} |${bar}| ${pageNote(snap, p)}`.trimEnd()));
  }
  const legend = [
    `legend: # in use  . free frame or slot  % mostly in use  : mostly free`,
    `        = large block  - free page  ~ foreign  ! unreadable; a cell = ${formatBytes(Math.round(PAGE / cells))}`,
    `        u/f/s: blocks in use / free frames / slabs; +L: anchors a large block`,
  ];
  if (snap.pages.some(isMid))
    legend.push(`        mid: a small page of the mid pool (its free frames on the mid lists)`);
  for (const l of legend) out.push(fit(l));
  return out.join('\n') + '\n';
}

// ---- SVG -------------------------------------------------------------------

const COLORS = {
  large: '#7b3294',
  span: '#dff2d8',
  meta: '#555555',
  reserved: '#b0b0b0',
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
    `<text x="8" y="33" fill="${COLORS.text}" class="zee-totals">in use ${esc(formatBytes(t.usedBytes))} in ${t.usedBlocks} blocks · free ${esc(formatBytes(t.freeBytes))} (largest ${esc(formatBytes(t.largestFreeBlock))}) · metadata ${esc(formatBytes(t.metadataBytes))} · fragmentation ${pct(t.fragmentation)} · peak ${esc(formatBytes(c.peakBytes ?? 0))}</text>`,
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

// The colour of one slice, or null for a slice of metadata only.
function sliceColor(s, c) {
  const inUse = s.used[c] + s.large[c];
  if (s.bad[c]) return COLORS.corrupt;
  if (!inUse && !s.free[c]) return null;
  if (s.large[c] > s.used[c] + s.free[c]) return COLORS.large;
  return RAMP[Math.round((8 * inUse) / (inUse + s.free[c]))];
}

// One overview row (a page, or a folded run of pages) at y; `tips`: its
// tooltip and the note on its right.
function overviewRow(snap, { page: p, run }, y, width, slices, tips = true) {
  const o = [];
  const label = run > 1 ? `  … ×${run} ${KIND_LABEL[p.kind]}` : `${hex(p.address)} ${kindLabel(p)}`;
  let tip;
  const bar = (fill) => `<rect x="${LABEL_W}" width="${width}" height="${ROW_H}" fill="${fill}"/>`;
  if (p.kind === 'small') {
    tip = `${hex(p.address)} ${kindLabel(p)} page: ${smallSummary(p)}${p.large ? `, anchors large block ${hex(p.large)}` : ''}${p.spare ? ', the spare' : ''}${p.corrupt ? ', partly unreadable' : ''}`;
    const s = sliceBytes(p, slices);
    const cw = width / slices;
    const paths = new Map(); // colour -> path data
    o.push(`<rect x="${LABEL_W}" width="${width}" height="${ROW_H}" fill="${COLORS.meta}"/>`);
    for (let c = 0; c < slices;) {
      const fill = sliceColor(s, c);
      let n = 1;
      while (c + n < slices && sliceColor(s, c + n) === fill) n++;
      if (fill)
        paths.set(
          fill,
          (paths.get(fill) ?? '') + `M${num(LABEL_W + c * cw)} 0h${num(n * cw)}v${ROW_H}h-${num(n * cw)}z`,
        );
      c += n;
    }
    for (const [fill, d] of paths) o.push(`<path fill="${fill}" d="${d}"/>`);
    // A mid page: the same slices, outlined.
    if (isMid(p))
      o.push(
        `<rect x="${LABEL_W + 1}" y="1" width="${width - 2}" height="${ROW_H - 2}" fill="none" stroke="${COLORS.mid}" stroke-width="2"/>`,
      );
  } else if (p.kind === 'large') {
    const l = largeOf(snap, p.large);
    const k = l ? (p.address - l.anchor) / PAGE : 0;
    tip = l
      ? `large block ${hex(l.address)}: ${l.size} B in use, anchored by ${hex(l.anchor)}; page${run > 1 ? 's' : ''} ${k}${run > 1 ? `..${k + run - 1}` : ''} of its ${l.pages} whole pages`
      : `a page of large block ${hex(p.large)}`;
    o.push(bar(COLORS.large));
  } else if (p.kind === 'free-span') {
    const sp = spanOf(snap, p.span);
    const k = (p.address - p.span) / PAGE + 1;
    tip = `free page${run > 1 ? 's' : ''} ${k}${run > 1 ? `..${k + run - 1}` : ''} of the ${sp ? sp.pages : '?'} free pages from ${hex(p.span)}`;
    o.push(bar(COLORS.span));
  } else if (p.kind === 'corrupt') {
    tip = `${hex(p.address)}: unreadable (map mark ${p.mark})`;
    o.push(bar(COLORS.corrupt));
  } else {
    tip = `${hex(p.address)}${run > 1 ? ` (+${run - 1} pages)` : ''}: not zee_alloc's (memory grown by someone else)`;
    o.push(bar('url(#zee-hatch)'));
  }
  const note = run > 1 || !tips ? '' : pageNote(snap, p);
  return `<g class="zee-page zee-${p.kind}" data-page="${p.address}"${isMid(p) ? ' data-pool="mid"' : ''}${run > 1 ? ` data-run="${run}"` : ''} transform="translate(0,${y})">${tips ? `<title>${esc(tip)}</title>` : ''}<text x="8" y="12" fill="${COLORS.text}">${esc(label)}</text>${o.join('')}${note ? `<text x="${LABEL_W + width + 8}" y="12" fill="${COLORS.text}">${esc(note)}</text>` : ''}</g>`;
}

const OVERVIEW_OPTIONS = ['width', 'slices', 'collapse', 'title', 'maxBytes', 'page', 'lines'];

/**
 * A self-contained SVG heap map.
 *
 * Overview (default): a row per page (runs of 3+ large pages of one block,
 * free or foreign pages folded unless `collapse: false`).  A small page is drawn as
 * `slices` cells (default 64, 1 KiB each), each coloured by the share of its
 * bytes in use, so the SVG grows with the pages, never with the blocks.
 * Every row is a `<g class="zee-page zee-KIND" data-page="ADDRESS">` with a
 * `<title>` tooltip.  `maxBytes` caps the size: fewer slices per page first
 * (down to 1), then no tooltips and notes, then fewer rows; the SVG says
 * what was cut (`zee-cut`).
 *
 * Zoom (`page: address`): that page's blocks one by one, in `lines` rows
 * (default 16, 4 KiB each); every block is a `.zee-block` with `data-addr`,
 * `data-state` ('used', 'free', 'slab', 'free-slot', 'large', 'corrupt'),
 * `data-size`, `data-slab` for a slot, and a tooltip.  Under `maxBytes` the tooltips go first, then the blocks (the
 * page is drawn as slices).
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
  if (typeof collapse !== 'boolean')
    throw new InspectError(`renderSVG: collapse must be true or false, got ${describe(collapse)}`);
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
    [RAMP[0], 'free frames'],
    [COLORS.large, 'large block'],
    [COLORS.span, 'free pages'],
    [COLORS.meta, 'metadata'],
    ['url(#zee-hatch)', "not zee_alloc's"],
    [COLORS.corrupt, 'unreadable'],
  ];
  if (snap.pages.some(isMid)) legend.push(['none', 'mid page', COLORS.mid]);
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

// The blocks of one page, in `lines` rows.
function zoomSVG(snap, p, { width, title, budget, lines, slices }) {
  const bytesPerLine = PAGE / lines;
  const scale = width / bytesPerLine;
  const lineH = 18,
    lineStep = 22,
    labelW = 90;
  const W = labelW + width + 20;
  const ttl = `${title}: page ${hex(p.address)}`;
  const { lines: head, y } = headerLines(snap, title);
  let summary;
  if (p.kind === 'small')
    summary = `page ${hex(p.address)} (${kindLabel(p)}): ${smallSummary(p)}, count ${p.count}${p.large ? `, anchors large block ${hex(p.large)}` : ''}${p.spare ? ', the spare' : ''}${p.corrupt ? ', partly unreadable' : ''}`;
  else if (p.kind === 'large') {
    const l = largeOf(snap, p.large);
    summary = l
      ? `page ${hex(p.address)}: page ${(p.address - l.anchor) / PAGE} of the ${l.pages} whole pages of large block ${hex(l.address)} (${l.size} B, anchored by ${hex(l.anchor)})`
      : `page ${hex(p.address)}: large`;
  } else if (p.kind === 'free-span')
    summary = `page ${hex(p.address)}: free, page ${(p.address - p.span) / PAGE + 1} of the run of free pages from ${hex(p.span)}`;
  else if (p.kind === 'corrupt') summary = `page ${hex(p.address)}: unreadable (map mark ${p.mark ?? '?'})`;
  else summary = `page ${hex(p.address)}: not zee_alloc's (memory grown by someone else)`;
  const legend = [
    [COLORS.used, 'in use'],
    [COLORS.free, 'free frame'],
    [COLORS.slab, 'slab words'],
    [COLORS.freeSlot, 'free slot'],
    [COLORS.large, 'large block'],
    [COLORS.meta, 'header'],
    [COLORS.reserved, 'reserved'],
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
        ` class="zee-zoom" data-page="${p.address}" data-kind="${p.kind}"${isMid(p) ? ' data-pool="mid"' : ''}`,
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

  // Background per line: headers show through between the blocks.
  const base = [];
  for (let i = 0; i < lines; i++)
    base.push(
      `<text x="8" y="${i * lineStep + 13}" fill="${COLORS.text}">${hex(p.address + i * bytesPerLine)}</text><rect x="${labelW}" y="${i * lineStep}" width="${width}" height="${lineH}" fill="${p.kind === 'small' ? COLORS.meta : p.kind === 'large' ? COLORS.large : p.kind === 'free-span' ? COLORS.span : p.kind === 'corrupt' ? COLORS.corrupt : 'url(#zee-hatch)'}"/>`,
    );
  // One box per block, split where it wraps to the next line.
  const box = (from, to, fill, attrs, tip) => {
    const o = [];
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
  // A slab's own bytes: its words before slot 0's header, and its unused
  // tail after the last slot (the slots and their headers are drawn apart).
  const slabBoxes = (b, off, attrs, tips) => {
    const k = slotCount(b.size, b.slotSize);
    const tip = tips
      ? `${hex(b.address)}: slab of ${b.size} B, ${k} slots of ${b.slotSize} B (its words and unused tail)`
      : null;
    const tail = off + LAYOUT.SLAB_META + k * b.slotSize;
    return (
      box(off, off + LAYOUT.SLAB_META, COLORS.slab, attrs, tip) +
      (tail < off + b.size - META ? box(tail, off + b.size - META, COLORS.slab, attrs, tip) : '')
    );
  };
  const draw = (tips) => {
    const o = [...base];
    if (p.kind === 'large') {
      // The whole page belongs to one block: one box, selectable like the others.
      const l = largeOf(snap, p.large);
      const attrs = ` class="zee-block zee-large" data-addr="${p.large}" data-state="large" data-size="${l ? l.size : 0}"`;
      o.push(
        box(
          0,
          PAGE,
          COLORS.large,
          attrs,
          tips ? `large block ${hex(p.large)} in use${l ? `, ${l.size} B` : ''}` : null,
        ),
      );
    }
    if (p.kind !== 'small') return o.join('\n');
    const P = p.address;
    for (const b of p.blocks) {
      const off = b.address - P;
      const attrs = ` class="zee-block zee-${b.state}" data-addr="${b.address}" data-state="${b.state}" data-size="${b.size}"${b.slab ? ` data-slab="${b.slab}"` : ''}`;
      if (b.state === 'slab') {
        o.push(slabBoxes(b, off, attrs, tips));
        continue;
      }
      let tip = null;
      if (tips) {
        if (b.state === 'used' && b.slab)
          tip = `${hex(b.address)}: slot in use in slab ${hex(b.slab)}, ${b.size} B, usable ${b.usable} B (header at ${hex(b.address - META)})`;
        else if (b.state === 'free-slot')
          tip = `${hex(b.address)}: free slot of ${b.size} B in slab ${hex(b.slab)} (on its free list)`;
        else if (b.state === 'used')
          tip = `${hex(b.address)}: in use, block ${b.size} B, usable ${b.usable} B${padNote(b)} (header at ${hex(b.address - META)})`;
        else if (b.state === 'free')
          tip = `${hex(b.address)}: free frame of ${formatBytes(b.size)} (on ${listName(p, b.size)})`;
        else if (b.state === 'large') {
          const l = largeOf(snap, b.address);
          tip = `${hex(b.address)}: large block in use, ${l ? `${l.size} B: ${b.size} B here and ${l.pages} whole pages after` : `${b.size} B here`}`;
        } else tip = `${hex(b.address)}: unreadable from here, ${b.size} B (${b.why ?? 'broken header'})`;
      }
      if (b.state === 'corrupt') o.push(box(off, off + b.size, COLORS.corrupt, attrs, tip));
      else if (b.state === 'large') o.push(box(off, off + b.size, COLORS.large, attrs, tip));
      else {
        const fill = { used: COLORS.used, 'free-slot': COLORS.freeSlot }[b.state] ?? COLORS.free;
        o.push(box(off, off + b.size - META, fill, attrs, tip));
      }
    }
    if (!p.large && !p.corrupt)
      o.push(
        box(
          PAGE - META,
          PAGE,
          COLORS.reserved,
          '',
          tips
            ? `${hex(P + PAGE - META)}: the slot at the page end (reserved: a large block's header could go here)`
            : null,
        ),
      );
    return o.join('\n');
  };
  let svg = frame(draw(true), '');
  if (utf8Length(svg) <= budget) return svg;
  svg = frame(draw(false), `cut to fit maxBytes ${budget}: no tooltips`);
  if (utf8Length(svg) <= budget) return svg;
  // The page as slices, like one row of the overview.
  const row = overviewRow(snap, { page: p, run: 1 }, 0, width, slices);
  svg = frame(
    row,
    `cut to fit maxBytes ${budget}: blocks not drawn one by one, ${slices} slices of ${formatBytes(PAGE / slices)}`,
  );
  if (utf8Length(svg) <= budget) return svg;
  throw new InspectError(
    `renderSVG: maxBytes ${budget} is too small to draw page ${hex(p.address)} (${utf8Length(svg)} bytes needed at least)`,
  );
}
