// The heap viewer in Debian's chromium (playwright-core): load the page from
// the localhost server, allocate and free with the buttons and by clicking
// the map, run the random workload, and check that the map and the stats
// change as they should.  Saves test-output/issue3/heap-viewer.png.
import { mkdirSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startServer } from '../examples/heap-viewer/serve.mjs';
import { launch } from '../examples/heap-viewer/browser.mjs';

const out = fileURLToPath(new URL('../test-output/issue3/', import.meta.url));
let srv, browser, page;
const errors = [];

// Status and content type of one request to the viewer's server.
const head = (url) => new Promise((resolve, reject) => {
  get(url, (res) => { res.resume(); resolve({ status: res.statusCode, type: res.headers['content-type'] }); }).on('error', reject);
});

// The stats panel's raw values, by name.
async function stats() {
  return page.$$eval('[data-stat]', (els) => Object.fromEntries(els.map((e) => [e.dataset.stat, Number(e.dataset.value)])));
}
const ops = async () => Number(await page.getAttribute('body', 'data-ops'));
// Clicks a button and waits until the page has redrawn after `n` more operations.
async function act(selector, n = 1) {
  const before = await ops();
  await page.click(selector);
  await page.waitForFunction((want) => Number(document.body.dataset.ops) >= want, before + n);
}

beforeAll(async () => {
  srv = await startServer({ port: 0 });
  browser = await launch({ width: 1400, height: 900 });
  page = browser.page;
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon|404/.test(m.text())) errors.push(m.text()); });
}, 60000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

test('the server serves the page, js/ and dist/ (.wasm as application/wasm) and nothing else', async () => {
  expect(await head(srv.url)).toEqual({ status: 200, type: 'text/html; charset=utf-8' });
  expect(await head(`${srv.url}dist/zee_alloc.wasm`)).toEqual({ status: 200, type: 'application/wasm' });
  expect(await head(`${srv.url}js/inspect.mjs`)).toEqual({ status: 200, type: 'text/javascript; charset=utf-8' });
  expect((await head(`${srv.url}js/../package.json`)).status).toBe(404);
  expect((await head(`${srv.url}%2e%2e/%2e%2e/package.json`)).status).toBe(404);
  expect((await head(`${srv.url}dist/..%2fsrc/zee_alloc.c`)).status).toBe(404);
});

test('allocate, select in the map, free, random workload: the map and the stats follow', async () => {
  await page.goto(`${srv.url}?seed=5`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 });
  let s = await stats();
  expect(s['used-blocks']).toBe(0);
  expect(s['used-bytes']).toBe(0);
  expect(await page.locator('#map svg .zee-frame.zee-used').count()).toBe(0);
  expect(await page.textContent('#validity')).toContain('valid');

  // malloc(3000): one 4 KiB frame in use, drawn in the map with its address
  await page.fill('#size', '3000');
  await act('#alloc');
  const p = Number(await page.getAttribute('#blocks div', 'data-ptr'));
  expect(await page.textContent('#message')).toContain(`= 0x${p.toString(16).padStart(8, '0')}`);
  s = await stats();
  expect(s['used-blocks']).toBe(1);
  expect(s['used-bytes']).toBe(4096 - 8);
  const rect = page.locator(`#map svg .zee-frame[data-addr="${p}"]`);
  expect(await rect.getAttribute('data-state')).toBe('used');
  expect(await rect.getAttribute('data-size')).toBe('4096');
  expect(await rect.locator('title').textContent()).toMatch(/in use, frame 4 KiB, payload 4088 B/);

  // malloc(100000): a jumbo block of 2 pages appears
  await page.fill('#size', '100000');
  await act('#alloc');
  s = await stats();
  expect(s['used-blocks']).toBe(2);
  expect(s['used-bytes']).toBe(4088 + 2 * 65536);
  expect(await page.locator('#map svg .zee-jumbo[data-size="131072"]').count()).toBe(1);
  expect(await page.locator('#map svg .zee-jumbo-start, #map svg g.zee-jumbo-start').count()).toBe(1);

  // select the 4 KiB frame by clicking it in the map, then Free: it turns free
  await page.click(`#map svg .zee-frame[data-addr="${p}"]`);
  expect(await page.textContent('#message')).toContain(`selected 0x${p.toString(16).padStart(8, '0')}`);
  await act('#free');
  s = await stats();
  expect(s['used-blocks']).toBe(1);
  expect(s['used-bytes']).toBe(2 * 65536);
  expect(await page.locator(`#map svg .zee-frame[data-addr="${p}"]`).getAttribute('data-state')).toBe('free');
  expect(await page.locator('#blocks div').count()).toBe(1);

  // bad input is refused with a message, and changes nothing
  await page.fill('#size', '-5');
  await page.click('#alloc');
  expect(await page.getAttribute('#message', 'class')).toBe('error');
  expect(await page.textContent('#message')).toMatch(/size must be a whole number/);
  expect((await stats())['used-blocks']).toBe(1);

  // the random workload: many operations, the heap still valid in JS and C
  await page.fill('#ops', '300');
  await act('#random', 300);
  s = await stats();
  expect(s.ops).toBeGreaterThanOrEqual(303);
  expect(s['used-blocks']).toBe(await page.locator('#blocks div').count() + 0);
  expect(s['used-blocks']).toBeGreaterThan(20);
  expect(await page.locator('#map svg .zee-frame.zee-used').count() + await page.locator('#map svg .zee-jumbo').count()).toBe(s['used-blocks']);
  expect(s['zee-check']).toBe(0);
  expect(await page.getAttribute('#validity', 'data-ok')).toBe('1');
  expect(s.pages).toBeGreaterThan(2);
  expect(await page.textContent('#message')).toMatch(/random workload \(seed 5\): \d+ allocations, \d+ frees/);

  // zoom widens the map's page bar (16 x 1024 px) so small frames get room
  const fitWidth = Number(await page.getAttribute('#map svg', 'width'));
  await page.selectOption('#zoom', '16');
  expect(Number(await page.getAttribute('#map svg', 'width'))).toBe(fitWidth + 15 * 1024);
  await page.selectOption('#zoom', '1');
  expect(Number(await page.getAttribute('#map svg', 'width'))).toBe(fitWidth);

  mkdirSync(out, { recursive: true });
  await page.screenshot({ path: `${out}heap-viewer.png` });
  expect(statSync(`${out}heap-viewer.png`).size).toBeGreaterThan(20000);

  // Free all: nothing in use, no used box left in the map
  await act('#free-all', s['used-blocks']);
  s = await stats();
  expect(s['used-blocks']).toBe(0);
  expect(await page.locator('#map svg .zee-frame.zee-used').count()).toBe(0);

  // a new heap from the dev build: fresh stats, the build's options in the label
  await page.selectOption('#variant', 'dev');
  await page.click('#reset');
  await page.waitForFunction(() => document.getElementById('variant-label').textContent === '(dev build)');
  await page.waitForFunction(() => document.body.dataset.ops === '0');
  s = await stats();
  expect(s.ops).toBe(0);
  expect(s['used-blocks']).toBe(0);
  await page.fill('#size', '40');
  await act('#alloc');
  expect((await stats())['used-bytes']).toBe(64 - 8);
  expect(errors).toEqual([]);
}, 90000);
