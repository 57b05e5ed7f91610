// White-box tests of the documented encoding (README "Layout"): they read
// the metadata at p - 8, page headers, free lists and spans through views.
import { fresh } from './helpers/instance.mjs';
import {
  PAGE, SALT, PAGE_TAG, SPAN_TAG, INFO_MAGIC, TAG_FREE, TAG_USED,
  meta, state, listMembers, spans, smallPages, frames, pageOf, inUseCount,
} from './helpers/layout.mjs';

describe('state block', () => {
  test('zee_heap_info has the magic, layout version and a page-aligned heap', async () => {
    const z = await fresh();
    const s = state(z);
    expect(s.magic).toBe(INFO_MAGIC);
    expect(s.layout).toBe(2);
    expect(s.config).toBe(0x101); // external validation, closest, coalesce, defer, no cache
    expect([...s.cache, ...s.cached].every((w) => w === 0)).toBe(true);
    expect(s.heapStart % PAGE).toBe(0);
    expect(s.heapEnd).toBe(z.memoryBytes);
  });
});

describe('small pages', () => {
  test('every size class: payload 2^n - 8, aligned to 2^n, metadata size|used with a check word', async () => {
    const z = await fresh();
    for (let n = 4; n <= 15; n++) {
      const size = 2 ** n;
      const p = z.malloc(size - 8);
      expect(p % size).toBe(0);
      expect(p % PAGE).not.toBe(0);
      expect(z.usableSize(p)).toBe(size - 8);
      const m = meta(z, p);
      expect(m.info).toBe(size | TAG_USED);
      expect(m.check).toBe((m.info ^ p ^ SALT) >>> 0);
    }
    expect(z.check()).toBe(0);
  });

  test('a fresh page: reserved 16-byte head, one free frame of each size 16@16 .. 32K@32K', async () => {
    const z = await fresh();
    const p = z.malloc(1);
    const page = pageOf(p);
    expect(p).toBe(page + 16); // first frame of the page, never at offset 0
    expect(z.HEAPU32[page >>> 2]).toBe((PAGE_TAG | 1) >>> 0); // tag | frames in use
    const fs = frames(z, page);
    expect(fs.map((f) => f.addr - page)).toEqual([16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]);
    expect(fs.map((f) => f.size)).toEqual(fs.map((f) => f.addr - page));
    expect(fs[0].used).toBe(true);
    expect(fs.slice(1).every((f) => f.free && f.checkOk)).toBe(true);
    for (let c = 1; c < 12; c++) expect(listMembers(z, c)).toContain(page + (16 << c));
    // the page's tail slot holds no jumbo metadata
    expect(z.HEAPU32[(page + PAGE - 8) >>> 2]).toBe(0);
  });

  test('buddy split: a 16 B request splits 32@32 into 16@32 and 16@48', async () => {
    const z = await fresh();
    const a = z.malloc(8);
    const page = pageOf(a);
    const b = z.malloc(8), c = z.malloc(8);
    expect([a, b, c].map((p) => p - page)).toEqual([16, 32, 48]);
    expect(meta(z, b).size).toBe(16);
    expect(listMembers(z, 1)).not.toContain(page + 32);
  });

  test('buddy merge: freeing both halves restores the 32-byte frame on its list', async () => {
    const z = await fresh();
    const a = z.malloc(8), b = z.malloc(8), c = z.malloc(8);
    const page = pageOf(a);
    z.free(b);
    expect(listMembers(z, 0)).toContain(page + 32);
    z.free(c);
    expect(listMembers(z, 0)).not.toContain(page + 32);
    expect(listMembers(z, 0)).not.toContain(page + 48);
    expect(listMembers(z, 1)).toContain(page + 32);
    expect(meta(z, page + 32)).toMatchObject({ size: 32, free: true, checkOk: true });
    expect(inUseCount(z, page)).toBe(1);
    expect(z.check()).toBe(0);
  });

  test('an emptied page is kept as the spare, then goes back to the free spans', async () => {
    const z = await fresh();
    const p = z.malloc(100);
    const page = pageOf(p);
    z.free(p);
    expect(state(z).spare).toBe(page);
    expect(smallPages(z)).toContain(page);
    z.trim();
    expect(smallPages(z)).not.toContain(page);
    const sp = spans(z).find((s) => s.start <= page && page < s.start + s.pages * PAGE);
    expect(sp).toBeDefined();
    expect(sp.tag).toBe(SPAN_TAG);
    for (let c = 0; c < 12; c++) expect(listMembers(z, c)).toEqual([]);
    expect(z.check()).toBe(0);
  });

  test('when a second page empties, the first spare is released without trim', async () => {
    const z = await fresh();
    const a = z.malloc(20000); // 32K@32K of page A
    const b = z.malloc(20000); // needs page B
    expect(pageOf(a)).not.toBe(pageOf(b));
    z.free(a);
    expect(state(z).spare).toBe(pageOf(a));
    z.free(b);
    expect(state(z).spare).toBe(pageOf(b));
    expect(smallPages(z)).toEqual([pageOf(b)]);
    expect(z.check()).toBe(0);
  });
});

describe('jumbo blocks', () => {
  test('payload exactly n * 64 KiB, 64 KiB-aligned, metadata in the anchor page tail', async () => {
    const z = await fresh();
    for (const n of [1, 2, 3, 7]) {
      const p = z.malloc(n * PAGE);
      expect(p % PAGE).toBe(0);
      expect(z.usableSize(p)).toBe(n * PAGE);
      expect(meta(z, p)).toMatchObject({ info: (n * PAGE) | TAG_USED, checkOk: true });
      const anchor = p - PAGE;
      expect(smallPages(z)).toContain(anchor);
      expect(z.HEAPU32[anchor >>> 2] & 0xffff0000).toBe(PAGE_TAG);
    }
    expect(z.check()).toBe(0);
  });

  test('sizes above 32 KiB - 8 are jumbo; 32 KiB - 8 is the largest frame', async () => {
    const z = await fresh();
    const a = z.malloc(32768 - 8), b = z.malloc(32768 - 7);
    expect(meta(z, a).size).toBe(32768);
    expect(a % PAGE).not.toBe(0);
    expect(meta(z, b).size).toBe(PAGE);
    expect(b % PAGE).toBe(0);
  });

  test('the anchor page serves small frames, and reuses its vacant tail for the next jumbo', async () => {
    const z = await fresh();
    const small = z.malloc(16);
    const page = pageOf(small);
    // the top span follows this page, so the page itself anchors the jumbo block
    const j = z.malloc(PAGE);
    expect(j).toBe(page + PAGE);
    expect(inUseCount(z, page)).toBe(2); // one frame + the jumbo block
    const other = z.malloc(1000);
    expect(pageOf(other)).toBe(page);
  });

  test('exact 2^n jumbo sizes cost exactly 2^n / 64 KiB pages (+1 only for a new anchor)', async () => {
    const z = await fresh();
    const freePages = () => spans(z).reduce((t, s) => t + s.pages, 0);
    for (let n = 16; n <= 22; n++) {
      const before = freePages(), mem = z.memoryBytes, pagesBefore = smallPages(z);
      const p = z.malloc(2 ** n);
      expect(meta(z, p).size).toBe(2 ** n);
      const taken = before + (z.memoryBytes - mem) / PAGE - freePages();
      const newAnchor = !pagesBefore.includes(p - PAGE);
      expect(taken).toBe(2 ** n / PAGE + (newAnchor ? 1 : 0));
    }
    expect(z.check()).toBe(0);
  });

  test('a freed jumbo block is reused by a jumbo request before memory grows', async () => {
    const z = await fresh();
    const keep = z.malloc(16);
    const j = z.malloc(4 * PAGE);
    const guard = z.malloc(2 * PAGE); // keeps j's pages from touching the top
    const mem = z.memoryBytes;
    z.free(j);
    expect(spans(z).some((s) => s.start === j && s.pages === 4 && s.anchored)).toBe(true);
    const again = z.malloc(4 * PAGE);
    expect(again).toBe(j);
    expect(z.memoryBytes).toBe(mem);
    expect([keep, guard].every(Boolean)).toBe(true);
    expect(z.check()).toBe(0);
  });

  test('a freed jumbo block is reused for small frames', async () => {
    const z = await fresh();
    const j = z.malloc(8 * PAGE);
    const guard = z.malloc(PAGE);
    z.free(j);
    const range = [j - PAGE, j + 8 * PAGE];
    // fill small pages until one is carved from the freed pages
    let hit = false;
    const mem = z.memoryBytes;
    for (let i = 0; i < 64 && !hit; i++) {
      const p = z.malloc(20000);
      hit = p >= range[0] && p < range[1];
    }
    expect(hit).toBe(true);
    expect(z.memoryBytes).toBe(mem);
    expect(guard).toBeGreaterThan(0);
    expect(z.check()).toBe(0);
  });

  test('freeing a jumbo block whose anchor is otherwise empty releases anchor and block as one span', async () => {
    const z = await fresh();
    const j = z.malloc(3 * PAGE); // first allocation: its anchor is a new, otherwise empty page
    const anchor = j - PAGE;
    expect(inUseCount(z, anchor)).toBe(1);
    const guard = z.malloc(3 * PAGE); // anchored by a page carved right after j
    expect(guard).toBe(j + 4 * PAGE);
    z.free(j);
    expect(smallPages(z)).not.toContain(anchor);
    expect(spans(z)).toContainEqual({ start: anchor, pages: 4, anchored: false, tag: SPAN_TAG });
    expect(z.check()).toBe(0);
  });
});
