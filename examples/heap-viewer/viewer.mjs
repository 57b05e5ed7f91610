// The heap viewer's page logic: a zee_alloc heap in the browser, driven by
// buttons, drawn after every operation with the inspector: the whole heap as
// an aggregated map (a row per 64 KiB page), and the blocks of one page one
// by one when a page is picked (click its row, or choose it in the "page"
// control).  The heap is one buddy space, so a block may span pages: the
// page view clips it to the page.
// URL options: ?variant=default|dev|unsafe  &seed=<n> (random workload)
//              &pages=<n> (initial memory pages).
import { ZeeAlloc } from '/js/zee_alloc.mjs';
import { snapshot, renderSVG, renderText, formatBytes } from '/js/inspect.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MAX_PAGES = 2048; // 128 MiB: a runaway workload gets NULL, not a frozen tab
const PAGE = 65536;
// Why: the map is redrawn after every operation; a budget keeps a big heap's
// map cheap to insert (the SVG says what it cut).
const MAP_BYTES = 2_000_000;

let z = null;
let live = new Map(); // ptr -> requested size
let order = []; // allocation order, newest last
let selected = 0;
let zoomed = 0; // the page drawn block by block, or 0
let ops = 0;
let seed = Number(params.get('seed') ?? 1) >>> 0;

// mulberry32, so a workload can be replayed from its seed.
function rng(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function say(text, error = false) {
  $('message').textContent = text;
  $('message').className = error ? 'error' : '';
}

const hex = (a) => '0x' + (a >>> 0).toString(16).padStart(8, '0');
// The page holding a block's first byte (where its page view starts).
const pageOf = (p) => p - (p % PAGE);
// What a page holds, for the page control: the pool of a page with blocks,
// else what fills it.
const pageLabel = (p) =>
  ({ free: 'free', foreign: 'foreign', corrupt: 'unreadable' })[p.kind] ?? (p.pool === 'mid' ? 'mid' : 'small');

async function newHeap() {
  const variant = $('variant').value;
  const initialPages = Number(params.get('pages') ?? 4);
  z = await ZeeAlloc.create({ variant, initialPages, maximumPages: MAX_PAGES });
  live = new Map();
  order = [];
  selected = 0;
  zoomed = 0;
  $('variant-label').textContent = `(${variant} build)`;
  draw();
}

function allocate(n) {
  const p = z.malloc(n);
  ops++;
  if (!p) return 0;
  live.set(p, n);
  order.push(p);
  return p;
}

function release(p) {
  z.free(p);
  ops++;
  live.delete(p);
  order = order.filter((q) => q !== p);
  if (selected === p) selected = 0;
}

// Mostly small requests, some medium, a few blocks that span pages (as real programs do).
function randomSize(r) {
  const x = r();
  if (x < 0.7) return 1 + Math.floor(r() * 256);
  if (x < 0.95) return 257 + Math.floor(r() * 16000);
  return 32768 + Math.floor(r() * 200000);
}

function stat(name, label, value, title = '') {
  return `<dt${title ? ` title="${title}"` : ''}>${label}</dt><dd data-stat="${name}" data-value="${value.raw}">${value.text}</dd>`;
}

// The "page" control lists every page of the heap with what it holds (a
// page with blocks: its pool, small or mid); it is rebuilt when a label changes.
function drawPageControl(s) {
  const sel = $('page');
  const want = [
    ['0', '— whole heap —'],
    ...s.pages.map((p) => [String(p.address), `${hex(p.address)} ${pageLabel(p)}`]),
  ];
  const have = [...sel.options].map((o) => [o.value, o.textContent]);
  if (want.join('\n') !== have.join('\n'))
    sel.innerHTML = want.map(([value, label]) => `<option value="${value}">${label}</option>`).join('');
  sel.value = String(zoomed);
}

// Redraws the map, the page view, the stats and the block list from a fresh snapshot.
function draw() {
  const s = snapshot(z);
  const t = s.totals;
  if (zoomed && !s.pages.some((p) => p.address === zoomed)) zoomed = 0;
  $('map').innerHTML = renderSVG(s, { title: 'zee_alloc heap', maxBytes: MAP_BYTES });
  $('map').querySelector(`g.zee-page[data-page="${zoomed}"]`)?.classList.add('zoomed');
  $('zoom-panel').hidden = !zoomed;
  if (zoomed) {
    const page = s.pages.find((p) => p.address === zoomed);
    // The blocks whose payload starts in the page, by state, and its slabs.
    const n = { used: 0, free: 0 };
    for (const b of s.blocks) if (b.page === zoomed) n[b.state] = (n[b.state] ?? 0) + 1;
    const slabs = s.slabs.filter((sl) => sl.page === zoomed);
    const freeSlots = slabs.reduce((k, sl) => k + sl.freeSlots, 0);
    $('zoom-title').textContent =
      `Page ${hex(zoomed)} (${pageLabel(page)}: ${n.used} in use, ${n.free} free frames${slabs.length ? `, ${slabs.length} slabs with ${freeSlots} free slots` : ''}; ${formatBytes(page.usedBytes)} used, ${formatBytes(page.freeBytes)} free)`;
    $('zoom').innerHTML = renderSVG(s, { title: 'zee_alloc heap', page: zoomed, maxBytes: MAP_BYTES });
    if (selected) for (const r of $('zoom').querySelectorAll(`[data-addr="${selected}"]`)) r.classList.add('selected');
  } else $('zoom').innerHTML = '';
  drawPageControl(s);
  const v = (raw, text = String(raw)) => ({ raw, text });
  const b = (n) => v(n, formatBytes(n));
  $('stats').innerHTML = [
    stat('pages', 'heap pages', v(t.pages)),
    stat('memory', 'memory', b(s.memoryBytes)),
    stat('used-blocks', 'blocks in use', v(t.usedBlocks)),
    stat('used-bytes', 'bytes in use', b(t.usedBytes), 'the sum of malloc_usable_size() over live blocks'),
    stat('peak-bytes', 'peak bytes in use', b(s.counters.peakBytes), "the allocator's running peak of bytes in use"),
    stat('free-bytes', 'bytes free', b(t.freeBytes)),
    stat('free-frames', 'free frames', v(t.freeFrames)),
    stat('slabs', 'slabs', v(t.slabs), 'frames of slots of one size (up to 1,040 B, not a power of two)'),
    stat('free-slots', 'free slots', v(t.freeSlots), 'free slots in the slabs: only a block of their size can use one'),
    stat('top-free', 'free at the top', b(t.topFreeBytes), 'the free run at the top of the heap: where growth starts'),
    stat('largest-free', 'largest free block', b(t.largestFreeBlock)),
    stat('metadata', 'headers and slab words', b(t.metadataBytes)),
    stat(
      'padding',
      'padding',
      b(t.paddingBytes),
      'the rest of the power-of-two frames of blocks up to 4 KiB, and slab tails',
    ),
    stat(
      'fragmentation',
      'fragmentation',
      v(t.fragmentation, `${(100 * t.fragmentation).toFixed(1)}%`),
      '1 - largest free block / bytes free',
    ),
    stat('zee-check', 'zee_check()', v(z.check())),
    stat('ops', 'operations', v(ops)),
  ].join('');
  const validity = $('validity');
  validity.textContent = s.violations.length
    ? `✗ ${s.violations.length} violation(s): ${s.violations[0].rule}`
    : '✓ valid';
  validity.className = s.violations.length ? 'bad' : 'ok';
  validity.dataset.ok = s.violations.length ? '0' : '1';
  $('live-count').textContent = live.size;
  $('blocks').innerHTML = order
    .slice()
    .reverse()
    .slice(0, 500)
    .map((p) => `<div data-ptr="${p}"${p === selected ? ' class="selected"' : ''}>${hex(p)}  ${live.get(p)} B</div>`)
    .join('');
  $('text-map').textContent = renderText(s, { columns: 100 });
  document.body.dataset.ops = String(ops);
  document.body.dataset.zoom = String(zoomed);
}

function zoom(page) {
  zoomed = page;
  draw();
  if (page) say(`page ${hex(page)}: click a block in use to select it`);
}

// Selects a live block and shows its page.
function select(p) {
  selected = live.has(p) ? p : 0;
  if (selected) zoomed = pageOf(p);
  draw();
  if (selected) say(`selected ${hex(p)} (${live.get(p)} B); Free releases it`);
}

// Runs an action; a fault (checked builds) or bad input becomes a message.
function run(action) {
  try {
    action();
  } catch (e) {
    say(`${e.code ? e.code + ': ' : ''}${e.message}`, true);
  }
  draw();
}

$('alloc').onclick = () =>
  run(() => {
    const raw = $('size').value.trim();
    const n = Number(raw);
    if (raw === '' || !Number.isInteger(n) || n < 0 || n > 0x7fffffff)
      throw new RangeError(`size must be a whole number of bytes (0 .. 2147483647), got "${raw}"`);
    const p = allocate(n);
    if (!p) say(`malloc(${n}) returned NULL (errno ${z.errno}: out of memory)`, true);
    else say(`malloc(${n}) = ${hex(p)}, usable ${z.usableSize(p)} B`);
  });

$('free').onclick = () =>
  run(() => {
    const p = selected || order[order.length - 1];
    if (!p) {
      say('nothing to free');
      return;
    }
    release(p);
    say(`free(${hex(p)})`);
  });

$('free-all').onclick = () =>
  run(() => {
    const n = order.length;
    for (const p of order.slice()) release(p);
    say(`freed ${n} blocks`);
  });

$('random').onclick = () =>
  run(() => {
    const count = Number($('ops').value);
    if (!Number.isInteger(count) || count < 1 || count > 100000)
      throw new RangeError(`ops must be 1 .. 100000, got "${$('ops').value}"`);
    const used = seed;
    const r = rng(seed++);
    let allocs = 0,
      frees = 0,
      nulls = 0;
    for (let i = 0; i < count; i++) {
      if (order.length && (r() < 0.35 || order.length > 400)) {
        release(order[Math.floor(r() * order.length)]);
        frees++;
      } else if (allocate(randomSize(r))) allocs++;
      else nulls++;
    }
    say(`random workload (seed ${used}): ${allocs} allocations, ${frees} frees${nulls ? `, ${nulls} NULL` : ''}`);
  });

$('reset').onclick = async () => {
  await newHeap();
  ops = 0;
  draw();
  say('new heap');
};

$('map').addEventListener('click', (e) => {
  const row = e.target.closest('g.zee-page[data-page]');
  if (row) zoom(Number(row.dataset.page));
});
$('zoom').addEventListener('click', (e) => {
  const box = e.target.closest('[data-addr]');
  if (box && box.dataset.state === 'used') select(Number(box.dataset.addr));
});
$('blocks').addEventListener('click', (e) => {
  const row = e.target.closest('[data-ptr]');
  if (row) select(Number(row.dataset.ptr));
});
$('page').addEventListener('change', () => zoom(Number($('page').value)));
$('unzoom').onclick = () => zoom(0);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && zoomed) zoom(0);
});
$('size').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') $('alloc').click();
});

if (params.get('variant')) $('variant').value = params.get('variant');
try {
  await newHeap();
  for (const id of ['alloc', 'free', 'free-all', 'random', 'reset']) $(id).disabled = false;
  say('ready: allocate, free, or run a random workload; click a page in the map to see its blocks');
  document.body.dataset.ready = '1';
} catch (e) {
  say(`could not load zee_alloc: ${e.message}`, true);
  document.body.dataset.ready = 'error';
}
