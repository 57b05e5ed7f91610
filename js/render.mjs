// Heap maps drawn from a snapshot (js/inspect.mjs): a text map for terminals
// and a self-contained SVG.  Both take plain snapshot data, so a snapshot can
// be taken in one place (a test, a worker) and drawn in another.

const PAGE = 65536;

const hex = (a) => '0x' + (a >>> 0).toString(16).padStart(8, '0');

/** Bytes as a short human figure: 512 B, 1.5 KiB, 3 MiB. */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v >= 100 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;

// Why: both maps show long runs of identical pages (a big span, a jumbo body)
// as one row; `collapse: false` keeps strictly one row per page.
function rows(snap, collapse) {
  const out = [];
  const pages = snap.pages;
  for (let i = 0; i < pages.length; i++) {
    const p = pages[i];
    const runnable = p.kind === 'jumbo-body' || p.kind === 'free-span' || p.kind === 'foreign';
    let n = 1;
    if (collapse && runnable) {
      const owner = p.jumbo ?? p.span ?? 0;
      while (i + n < pages.length && pages[i + n].kind === p.kind && (pages[i + n].jumbo ?? pages[i + n].span ?? 0) === owner) n++;
    }
    if (n > 2) {
      out.push({ page: p, run: 1 });
      out.push({ page: pages[i + 1], run: n - 1 });
      i += n - 1;
    } else out.push({ page: p, run: 1 });
  }
  return out;
}

function checkSnapshot(snap, who) {
  if (!snap || !Array.isArray(snap.pages) || !snap.totals)
    throw new TypeError(`zee_alloc ${who}: expected a snapshot from snapshot(source), got ${snap === null ? 'null' : typeof snap}`);
}

// Why: one cell of a page row summarises its bytes by the state of the frames
// that cover them.
function cellChars(page, cells) {
  const used = new Float64Array(cells), free = new Float64Array(cells), bad = new Uint8Array(cells);
  const w = PAGE / cells;
  for (const f of page.frames) {
    const a = f.address - page.address, b = a + f.size;
    for (let c = Math.floor(a / w); c < cells && c * w < b; c++) {
      const lo = Math.max(a, c * w), hi = Math.min(b, (c + 1) * w);
      if (hi <= lo) continue;
      if (f.state === 'used') used[c] += hi - lo;
      else if (f.state === 'free' || f.state === 'cached') free[c] += hi - lo;
      else bad[c] = 1;
    }
  }
  let s = '';
  for (let c = 0; c < cells; c++) {
    if (bad[c]) s += '!';
    else if (used[c] && !free[c]) s += '#';
    else if (free[c] && !used[c]) s += '.';
    else if (used[c] || free[c]) s += used[c] >= free[c] ? '%' : ':';
    else s += ' ';
  }
  return s;
}

const KIND_LABEL = {
  small: 'small', anchor: 'anchor', 'jumbo-start': 'jumbo', 'jumbo-body': 'jumbo+', 'free-span': 'span', foreign: 'other',
};

function pageNote(snap, p) {
  if (p.kind === 'small' || p.kind === 'anchor') {
    const n = `${p.usedFrames}u ${p.freeFrames}f${p.cachedFrames ? ` ${p.cachedFrames}c` : ''}${p.spare ? ' spare' : ''}`;
    return p.corrupt ? `${n} CORRUPT` : n;
  }
  if (p.kind === 'jumbo-start') {
    const j = snap.jumbos.find((x) => x.address === p.address);
    return j ? `${j.pages}p ${formatBytes(j.bytes)}` : '';
  }
  if (p.kind === 'free-span') {
    const s = snap.spans.find((x) => x.address === p.span);
    return s && s.address === p.address ? `${s.pages}p free` : '';
  }
  return '';
}

/**
 * A terminal heap map: one row per page (runs of 3+ identical body/span/
 * foreign pages folded unless `collapse: false`), a header with the totals
 * and a legend.  Fits `columns` (default 80, at least 60).
 */
export function renderText(snap, { columns = 80, collapse = true } = {}) {
  checkSnapshot(snap, 'renderText');
  if (!Number.isInteger(columns) || columns < 60) throw new RangeError(`renderText: columns must be an integer >= 60, got ${columns}`);
  const t = snap.totals;
  const cells = columns - 33; // "0x00000000 jumbo+ |" + bar + "| " + note(12)
  const fit = (line) => (line.length > columns ? line.slice(0, columns - 3) + '...' : line);
  const out = [];
  out.push(fit(`zee_alloc heap ${hex(snap.heapStart)}..${hex(snap.heapEnd)}: ${t.pages} pages (${formatBytes(t.heapBytes)}) of ${formatBytes(snap.memoryBytes)} memory`));
  out.push(fit(`in use ${formatBytes(t.usedBytes)} in ${t.usedBlocks} blocks | free ${formatBytes(t.freeBytes)} (largest ${formatBytes(t.largestFreeBlock)}) | frag ${pct(t.fragmentation)}`));
  out.push(fit(`metadata ${formatBytes(t.metadataBytes)} | reserved ${formatBytes(t.reservedBytes)} | foreign ${formatBytes(t.foreignBytes)} | ${snap.config.buddy}, ${snap.config.validation}`));
  if (snap.violations.length) {
    const v = snap.violations[0];
    out.push(fit(`INVALID: ${snap.violations.length} violation(s); first ${v.rule} at ${hex(v.address)}: ${v.message}`));
  }
  for (const { page: p, run } of rows(snap, collapse)) {
    const label = (KIND_LABEL[p.kind] ?? p.kind).padEnd(6);
    if (run > 1) {
      const end = p.address + run * PAGE - 1;
      out.push(fit(`${' '.repeat(10)} ${label} |${`  ... ${run} pages to ${hex(end)}`.padEnd(cells)}|`));
      continue;
    }
    let bar;
    if (p.kind === 'small' || p.kind === 'anchor') bar = cellChars(p, cells);
    else if (p.kind === 'jumbo-start' || p.kind === 'jumbo-body') bar = '='.repeat(cells);
    else if (p.kind === 'free-span') bar = '-'.repeat(cells);
    else bar = '~'.repeat(cells);
    out.push(fit(`${hex(p.address)} ${label} |${bar}| ${pageNote(snap, p)}`.trimEnd()));
  }
  const legend = [
    `legend: # in use  . free/cached frame  % mostly in use  : mostly free  ! corrupt`,
    `        = jumbo block  - free span  ~ not zee_alloc's; a cell = ${formatBytes(Math.round(PAGE / cells))}`,
    `        anchor: holds a jumbo block's metadata; u/f/c: frames used/free/cached`,
  ];
  for (const l of legend) out.push(fit(l));
  return out.join('\n') + '\n';
}

const COLORS = {
  used: '#e4572e', free: '#76b041', cached: '#b5d99c', jumbo: '#b8336a', span: '#c5e8b0', meta: '#3d3d3d',
  reserved: '#9e9e9e', foreign: '#e0e0e0', corrupt: '#ff00ff', text: '#222', grid: '#ffffff',
};

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/**
 * A self-contained SVG heap map: pages as rows, frames as boxes sized by
 * their bytes (in use, free, metadata and reserved bytes in distinct colors),
 * each with a <title> tooltip giving its address and sizes.  Frame boxes
 * carry `data-addr`, `data-state` and `data-size` for scripts.
 * Options: `width` of the page bar in px (default 1024: 1 px = 64 B),
 * `collapse` (default true), `title`.
 */
export function renderSVG(snap, { width = 1024, collapse = true, title = 'zee_alloc heap map' } = {}) {
  checkSnapshot(snap, 'renderSVG');
  if (!(width >= 64)) throw new RangeError(`renderSVG: width must be >= 64 px, got ${width}`);
  const t = snap.totals;
  const labelW = 190, noteW = 150, rowH = 16, gap = 3, top = 78;
  const scale = width / PAGE;
  const list = rows(snap, collapse);
  const W = labelW + width + noteW, H = top + list.length * (rowH + gap) + 10;
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11" role="img" aria-label="${esc(title)}">`);
  o.push(`<title>${esc(title)}</title>`);
  o.push(`<defs><pattern id="zee-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="${COLORS.foreign}"/><line x1="0" y1="0" x2="0" y2="6" stroke="#bdbdbd" stroke-width="2"/></pattern></defs>`);
  o.push(`<rect width="${W}" height="${H}" fill="#fafafa"/>`);
  o.push(`<text x="8" y="16" font-size="13" font-weight="bold" fill="${COLORS.text}">${esc(title)}: ${t.pages} pages (${formatBytes(t.heapBytes)}) at ${hex(snap.heapStart)}</text>`);
  o.push(`<text x="8" y="33" fill="${COLORS.text}" class="zee-totals">in use ${esc(formatBytes(t.usedBytes))} in ${t.usedBlocks} blocks · free ${esc(formatBytes(t.freeBytes))} (largest ${esc(formatBytes(t.largestFreeBlock))}) · metadata ${esc(formatBytes(t.metadataBytes))} · reserved ${esc(formatBytes(t.reservedBytes))} · fragmentation ${pct(t.fragmentation)}</text>`);
  if (snap.violations.length) {
    const v = snap.violations[0];
    o.push(`<text x="8" y="49" fill="#c00" font-weight="bold" class="zee-invalid">INVALID: ${snap.violations.length} violation(s); first ${esc(v.rule)} at ${hex(v.address)}: ${esc(v.message)}</text>`);
  }
  const legend = [['used', 'in use'], ['free', 'free frame'], ['cached', 'cached frame'], ['jumbo', 'jumbo block'], ['span', 'free span'], ['meta', 'metadata'], ['reserved', 'reserved'], ['foreign', 'not zee_alloc\'s'], ['corrupt', 'corrupt']];
  let lx = 8;
  for (const [k, label] of legend) {
    o.push(`<rect x="${lx}" y="58" width="11" height="11" fill="${k === 'foreign' ? 'url(#zee-hatch)' : COLORS[k]}" stroke="#888" stroke-width="0.5"/><text x="${lx + 15}" y="67" fill="${COLORS.text}">${esc(label)}</text>`);
    lx += 30 + label.length * 7;
  }
  const box = (x0, bytes, y, fill, tip, attrs = '') => {
    const x = labelW + x0 * scale, w = Math.max(bytes * scale, 0.01);
    const stroke = w >= 3 ? ` stroke="${COLORS.grid}" stroke-width="0.5"` : '';
    return `<rect x="${x.toFixed(3)}" y="${y}" width="${w.toFixed(3)}" height="${rowH}" fill="${fill}"${stroke}${attrs}><title>${esc(tip)}</title></rect>`;
  };
  list.forEach(({ page: p, run }, r) => {
    const y = top + r * (rowH + gap);
    const label = run > 1 ? `   … ×${run} ${KIND_LABEL[p.kind]}` : `${hex(p.address)} ${KIND_LABEL[p.kind] ?? p.kind}`;
    o.push(`<g class="zee-page zee-${p.kind}" data-page="${p.address}"${run > 1 ? ` data-run="${run}"` : ''}>`);
    o.push(`<text x="8" y="${y + 12}" fill="${COLORS.text}">${esc(label)}</text>`);
    if (p.kind === 'small' || p.kind === 'anchor') {
      o.push(box(0, 8, y, COLORS.meta, `page header ${hex(p.address)}: tag and ${p.inUseCount} in use`));
      for (const f of p.frames) {
        const off = f.address - p.address;
        o.push(box(off - 8, 8, y, COLORS.meta, `metadata of ${hex(f.address)} at ${hex(f.address - 8)}`));
        if (f.state === 'corrupt') {
          o.push(box(off, f.size - 8, y, COLORS.corrupt, `unreadable from ${hex(f.address)}: broken frame metadata`, ' class="zee-corrupt"'));
          continue;
        }
        const last = off + f.size === PAGE;
        const tip = `${hex(f.address)}: ${f.state === 'used' ? 'in use' : f.state === 'cached' ? 'cached (freed, held for the next malloc of its class)' : 'free'}, frame ${formatBytes(f.size)}, payload ${f.payload} B (page ${hex(p.address)})`;
        o.push(box(off, f.size - 8, y, COLORS[f.state], tip, ` class="zee-frame zee-${f.state}" data-addr="${f.address}" data-state="${f.state}" data-size="${f.size}"`));
        if (last) {
          const tail = p.jumbo
            ? box(PAGE - 8, 8, y, COLORS.meta, `jumbo metadata of ${hex(p.jumbo)} at ${hex(p.address + PAGE - 8)}`)
            : box(PAGE - 8, 8, y, COLORS.reserved, `vacant tail slot ${hex(p.address + PAGE - 8)} (reserved for a jumbo block's metadata)`);
          o.push(tail);
        }
      }
    } else if (p.kind === 'jumbo-start' || p.kind === 'jumbo-body') {
      const j = snap.jumbos.find((x) => x.address === p.jumbo) ?? { pages: 0, bytes: 0, anchor: 0 };
      const k = (p.address - p.jumbo) / PAGE + 1;
      const tip = `jumbo block ${hex(p.jumbo)}: in use, ${j.pages} pages, payload ${j.bytes} B, anchor ${hex(j.anchor)}; page${run > 1 ? 's' : ''} ${k}${run > 1 ? `..${k + run - 1}` : ''} of ${j.pages}`;
      const attrs = p.kind === 'jumbo-start' ? ` class="zee-jumbo" data-addr="${p.jumbo}" data-state="used" data-size="${j.bytes}"` : ' class="zee-jumbo-body"';
      o.push(box(0, PAGE, y, COLORS.jumbo, tip, attrs));
    } else if (p.kind === 'free-span') {
      const s = snap.spans.find((x) => x.address === p.span) ?? { pages: 0, bytes: 0 };
      const k = (p.address - p.span) / PAGE + 1;
      o.push(box(0, PAGE, y, COLORS.span, `free span ${hex(p.span)}: ${s.pages} pages (${s.bytes} B)${s.anchored ? ', anchored' : ''}; page${run > 1 ? 's' : ''} ${k}${run > 1 ? `..${k + run - 1}` : ''}`, ' class="zee-span"'));
    } else {
      o.push(box(0, PAGE, y, 'url(#zee-hatch)', `${hex(p.address)}${run > 1 ? ` (+${run - 1} pages)` : ''}: not zee_alloc's (memory grown by someone else)`, ' class="zee-foreign"'));
    }
    const note = run > 1 ? '' : pageNote(snap, p);
    if (note) o.push(`<text x="${labelW + width + 8}" y="${y + 12}" fill="${COLORS.text}">${esc(note)}</text>`);
    o.push('</g>');
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}
