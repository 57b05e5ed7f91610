// The heap viewer in Debian's chromium (playwright-core): load the page from
// the localhost server, allocate and free with the buttons, zoom into a page
// (by clicking its row in the map, and with the "page" control), select a
// block in the page view, run the random workload, and check that the map,
// the page view and the stats change as they should.  Saves
// test-output/heap-viewer/heap-viewer.png.
import { mkdirSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startServer } from '../examples/heap-viewer/serve.mjs';
import { launch } from '../examples/heap-viewer/browser.mjs';

const out = fileURLToPath(new URL('../test-output/heap-viewer/', import.meta.url));
const PAGE = 65536;
let srv, browser, page;
const errors = [];

// Status and content type of one request to the viewer's server.
const head = (url) =>
  new Promise((resolve, reject) => {
    get(url, (res) => {
      res.resume();
      resolve({ status: res.statusCode, type: res.headers['content-type'] });
    }).on('error', reject);
  });

// The stats panel's raw values, by name.
async function stats() {
  return page.$$eval('[data-stat]', (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.stat, Number(e.dataset.value)])),
  );
}
const ops = async () => Number(await page.getAttribute('body', 'data-ops'));
const zoomed = async () => Number(await page.getAttribute('body', 'data-zoom'));
// Clicks a button and waits until the page has redrawn after `n` more operations.
async function act(selector, n = 1) {
  const before = await ops();
  await page.click(selector);
  await page.waitForFunction((want) => Number(document.body.dataset.ops) >= want, before + n);
}
// The addresses of the blocks drawn in the page view, by state (a block
// that wraps to the next line is drawn as several boxes of one address).
async function zoomBlocks() {
  return page.$$eval('#zoom svg .zee-block', (els) => {
    const by = {};
    for (const e of els) (by[e.dataset.state] ??= new Set()).add(Number(e.dataset.addr));
    return Object.fromEntries(Object.entries(by).map(([k, v]) => [k, [...v].sort((a, b) => a - b)]));
  });
}
// The page holding a block's payload (where the viewer shows it).
const pageOf = (p) => p - (p % PAGE);
const hex = (a) => '0x' + a.toString(16).padStart(8, '0');

beforeAll(async () => {
  srv = await startServer({ port: 0 });
  browser = await launch({ width: 1400, height: 900 });
  page = browser.page;
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon|404/.test(m.text())) errors.push(m.text());
  });
}, 60000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

test('the server serves the page, js/ and dist/ (.wasm as application/wasm) and nothing else', async () => {
  expect(await head(srv.url)).toEqual({ status: 200, type: 'text/html; charset=utf-8' });
  expect(await head(`${srv.url}dist/zee_alloc.wasm`)).toEqual({ status: 200, type: 'application/wasm' });
  expect(await head(`${srv.url}js/inspect.mjs`)).toEqual({ status: 200, type: 'text/javascript; charset=utf-8' });
  expect(await head(`${srv.url}js/layout.mjs`)).toEqual({ status: 200, type: 'text/javascript; charset=utf-8' });
  expect((await head(`${srv.url}js/../package.json`)).status).toBe(404);
  expect((await head(`${srv.url}%2e%2e/%2e%2e/package.json`)).status).toBe(404);
  expect((await head(`${srv.url}dist/..%2fsrc/zee_alloc.c`)).status).toBe(404);
});

test('allocate, zoom into a page, select a block there, free, random workload: the map, the page view and the stats follow', async () => {
  await page.goto(`${srv.url}?seed=5`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 });
  let s = await stats();
  expect(s['used-blocks']).toBe(0);
  expect(s['used-bytes']).toBe(0);
  expect(await page.textContent('#validity')).toContain('valid');
  expect(await page.isHidden('#zoom-panel')).toBe(true);

  // malloc(2000): a block of 2,016 B (usable 2,008) in a 2 KiB frame of the
  // small pool (at most POOL_MIN); its page is a row of the map
  await page.fill('#size', '2000');
  await act('#alloc');
  const p = Number(await page.getAttribute('#blocks div', 'data-ptr'));
  expect(await page.textContent('#message')).toContain(`= 0x${p.toString(16).padStart(8, '0')}, usable 2008 B`);
  s = await stats();
  expect([s['used-blocks'], s['used-bytes'], s['peak-bytes'], s.padding]).toEqual([1, 2008, 2008, 32]);
  const P = pageOf(p);
  const row = page.locator(`#map svg g.zee-page[data-page="${P}"]`);
  expect(await row.getAttribute('data-pool')).toBe('small');
  expect(await row.locator('title').textContent()).toMatch(
    new RegExp(`^page ${hex(P)}, small pool: 1 in use, \\d+ free frames start here; used `),
  );
  // the map aggregates: no block of its own in it
  expect(await page.locator('#map svg [data-addr]').count()).toBe(0);

  // click the page's row: the page view draws its blocks, the 2,016 B block (its 2 KiB frame) among them
  await row.click();
  await page.waitForFunction((want) => document.body.dataset.zoom === String(want), P);
  expect(await page.isVisible('#zoom-panel')).toBe(true);
  expect(await page.getAttribute('#zoom svg', 'data-page')).toBe(String(P));
  expect(await page.inputValue('#page')).toBe(String(P));
  expect((await zoomBlocks()).used).toEqual([p]);
  const box = page.locator(`#zoom svg .zee-block[data-addr="${p}"]`).first();
  // 2,016 B with the header: it fills the 2 KiB frame that holds it
  expect(await box.getAttribute('data-size')).toBe('2048');
  expect(await box.locator('title').textContent()).toMatch(/in use, block 2048 B, usable 2008 B, padding 32 B/);
  expect(await page.getAttribute(`#map svg g.zee-page[data-page="${P}"]`, 'class')).toMatch(/ zoomed$/);

  // malloc(40): a 48 B slot, slot 0 of a 2 KiB slab (42 slots) in the same
  // page; the page view draws the slab's words, the slot in use and its 41
  // free slots
  await page.fill('#size', '40');
  await act('#alloc');
  const q = Number(await page.getAttribute('#blocks div', 'data-ptr'));
  s = await stats();
  expect([s['used-blocks'], s['used-bytes'], s.slabs, s['free-slots']]).toEqual([2, 2048, 1, 41]);
  let drawn = await zoomBlocks();
  expect(drawn.used).toEqual([q, p].sort((a, b) => a - b));
  expect(drawn.slab).toEqual([q - 32]);
  expect(drawn['free-slot']).toEqual(Array.from({ length: 41 }, (_, i) => q + 48 * (i + 1)));
  const slot = page.locator(`#zoom svg .zee-block[data-addr="${q}"]`).first();
  expect([await slot.getAttribute('data-slab'), await slot.getAttribute('data-size')]).toEqual([String(q - 32), '48']);
  expect(await slot.locator('title').textContent()).toMatch(/slot in use in slab 0x[0-9a-f]{8}, 48 B, usable 40 B/);
  // a free slot is drawn in its own colour, the one the legend names
  const legend = await page.$$eval('#zoom svg .zee-legend text', (els) => els.map((e) => e.textContent));
  expect(legend).toEqual(expect.arrayContaining(['slab words', 'free slot']));
  const fills = await page.$$eval('#zoom svg .zee-block', (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.state, e.getAttribute('fill')])),
  );
  expect(new Set([fills.used, fills['free-slot'], fills.slab, fills.free]).size).toBe(4);
  expect(await page.textContent('#zoom-title')).toMatch(/: 2 in use, \d+ free frames, 1 slabs with 41 free slots;/);
  // select the slot in the page view and free it: its slab goes with it
  await page.click(`#zoom svg .zee-block[data-addr="${q}"]`);
  await act('#free');
  s = await stats();
  expect([s['used-blocks'], s['used-bytes'], s.slabs, s['free-slots']]).toEqual([1, 2008, 0, 0]);
  drawn = await zoomBlocks();
  expect([drawn.used, drawn.slab, drawn['free-slot']]).toEqual([[p], undefined, undefined]);

  // malloc(200000): one block of 200,016 B (usable 200,008: 200,008 rounded
  // up to 16, less the 8 of the next header); it spans pages, at least two of
  // them whole (their rows name it)
  await page.fill('#size', '200000');
  await act('#alloc');
  const j = Number(await page.getAttribute('#blocks div', 'data-ptr'));
  s = await stats();
  expect([s['used-blocks'], s['used-bytes']]).toEqual([2, 2008 + 200008]);
  const inside = await page.$$eval(`#map svg g.zee-page[data-block="${j}"]`, (els) =>
    els.map((e) => Number(e.dataset.page)),
  );
  expect(inside.length).toBeGreaterThanOrEqual(2);
  for (const pg of inside) expect(pg >= j - 8 && pg + PAGE <= j + 200008).toBe(true);

  // select the 2,016 B block in the page view, then Free: its bytes are a free frame again
  await page.click(`#zoom svg .zee-block[data-addr="${p}"]`);
  expect(await page.textContent('#message')).toContain(`selected 0x${p.toString(16).padStart(8, '0')}`);
  expect(await page.locator(`#zoom svg .zee-block.selected[data-addr="${p}"]`).count()).toBeGreaterThanOrEqual(1);
  await act('#free');
  s = await stats();
  expect([s['used-blocks'], s['used-bytes'], s['peak-bytes']]).toEqual([1, 200008, 202016]);
  expect(await page.locator(`#zoom svg .zee-block[data-addr="${p}"]`).first().getAttribute('data-state')).toBe('free');
  expect(await page.locator('#blocks div').count()).toBe(1);

  // selecting the big block in the list shows the page where it starts,
  // where it is clipped at the page end
  await page.click(`#blocks div[data-ptr="${j}"]`);
  expect(await zoomed()).toBe(pageOf(j));
  expect((await zoomBlocks()).used).toEqual([j]);
  expect(await page.getAttribute(`#zoom svg .zee-block[data-addr="${j}"]`, 'data-clipped')).toBe('end');
  // a page inside it, with the block running on below and above it: the
  // page view draws it alone, clipped at both ends
  const within = inside.find((pg) => pg > j && pg + PAGE < j + 200008);
  expect(within).toBeDefined();
  await page.selectOption('#page', String(within));
  await page.waitForFunction((want) => document.body.dataset.zoom === String(want), within);
  expect(await page.getAttribute('#zoom svg', 'data-block')).toBe(String(j));
  expect(await page.locator(`#zoom svg .zee-block[data-addr="${j}"][data-clipped="both"]`).count()).toBe(16);

  // bad input is refused with a message, and changes nothing
  await page.fill('#size', '-5');
  await page.click('#alloc');
  expect(await page.getAttribute('#message', 'class')).toBe('error');
  expect(await page.textContent('#message')).toMatch(/size must be a whole number/);
  expect((await stats())['used-blocks']).toBe(1);

  // malloc(5000): 5,008 B with the header, above POOL_MIN (4 KiB): a block of
  // the mid pool; the page where it ends is a mid page, which its row, its
  // tooltip and the page control say
  await page.fill('#size', '5000');
  await act('#alloc');
  const m = Number(await page.getAttribute('#blocks div', 'data-ptr'));
  const M = pageOf(m + 4999);
  const midRow = page.locator(`#map svg g.zee-page[data-page="${M}"]`);
  expect(await midRow.getAttribute('data-pool')).toBe('mid');
  expect(await midRow.locator('title').textContent()).toMatch(new RegExp(`^page ${hex(M)}, mid pool: `));
  expect(await page.textContent(`#page option[value="${M}"]`)).toMatch(/ mid$/);
  expect(await page.getAttribute(`#map svg g.zee-page[data-page="${P}"]`, 'data-pool')).toBe('small');

  // the random workload: many operations, the heap still valid in JS and C
  await page.fill('#ops', '300');
  await act('#random', 300);
  s = await stats();
  expect(s.ops).toBeGreaterThanOrEqual(303);
  const ptrs = await page.$$eval('#blocks div', (els) => els.map((e) => Number(e.dataset.ptr)));
  expect(s['used-blocks']).toBe(ptrs.length);
  expect(s['used-blocks']).toBeGreaterThan(20);
  expect(s['zee-check']).toBe(0);
  expect(await page.getAttribute('#validity', 'data-ok')).toBe('1');
  expect(s.pages).toBeGreaterThan(2);
  expect(await page.textContent('#message')).toMatch(/random workload \(seed 5\): \d+ allocations, \d+ frees/);
  // the map: one row per page (runs of free pages and of pages inside one block folded into one row)
  const runs = await page.$$eval('#map svg g.zee-page', (els) => els.map((e) => Number(e.dataset.run ?? 1)));
  expect(runs.reduce((a, b) => a + b, 0)).toBe(s.pages);

  // the "page" control zooms too: every page where blocks start shows
  // exactly the live blocks that start there (the viewer's own list of
  // pointers), and those that run in from below, clipped
  const withBlocks = await page.$$eval('#map svg g.zee-page:not([data-block]):not(.zee-free)', (els) =>
    els.map((e) => Number(e.dataset.page)),
  );
  expect(withBlocks.length).toBeGreaterThan(1);
  for (const pg of withBlocks.slice(0, 4)) {
    await page.selectOption('#page', String(pg));
    await page.waitForFunction((want) => document.body.dataset.zoom === String(want), pg);
    const boxes = await page.$$eval('#zoom svg .zee-block[data-state="used"]', (els) =>
      els.map((e) => [Number(e.dataset.addr), e.dataset.clipped ?? '']),
    );
    const here = [...new Set(boxes.filter(([, c]) => c !== 'start' && c !== 'both').map(([a]) => a))];
    expect(here.sort((a, b) => a - b)).toEqual(ptrs.filter((q) => pageOf(q) === pg).sort((a, b) => a - b));
    for (const [a, c] of boxes.filter(([, c]) => c === 'start' || c === 'both')) {
      expect(ptrs).toContain(a);
      expect(a).toBeLessThan(pg);
    }
  }

  mkdirSync(out, { recursive: true });
  await page.screenshot({ path: `${out}heap-viewer.png` });
  expect(statSync(`${out}heap-viewer.png`).size).toBeGreaterThan(20000);

  // Close and Escape leave the page view
  await page.click('#unzoom');
  expect(await zoomed()).toBe(0);
  expect(await page.isHidden('#zoom-panel')).toBe(true);
  await page.selectOption('#page', String(withBlocks[0]));
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.body.dataset.zoom === '0');

  // Free all: nothing in use, the page view of the first page shows no block in use
  await act('#free-all', s['used-blocks']);
  s = await stats();
  expect(s['used-blocks']).toBe(0);
  expect(s['used-bytes']).toBe(0);
  const first = Number(await page.getAttribute('#map svg g.zee-page', 'data-page'));
  await page.selectOption('#page', String(first));
  await page.waitForFunction((want) => document.body.dataset.zoom === String(want), first);
  expect((await zoomBlocks()).used).toBeUndefined();

  // a new heap from the dev build: fresh stats, the build in the label
  await page.selectOption('#variant', 'dev');
  await page.click('#reset');
  await page.waitForFunction(() => document.getElementById('variant-label').textContent === '(dev build)');
  await page.waitForFunction(() => document.body.dataset.ops === '0');
  s = await stats();
  expect([s.ops, s['used-blocks'], await zoomed()]).toEqual([0, 0, 0]);
  await page.fill('#size', '40');
  await act('#alloc');
  expect((await stats())['used-bytes']).toBe(40);
  expect(errors).toEqual([]);
}, 120000);
