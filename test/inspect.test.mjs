// The heap inspector (js/inspect.mjs) against known heaps, corrupted heaps,
// every kind of source, and the two renderers.
import { fresh } from './helpers/instance.mjs';
import { CHECKS } from '../js/zee_alloc.mjs';
import {
  snapshot, validate, assertValid, renderText, renderSVG, resolveSource, RULES, CHECK_CODES, LAYOUT, InspectError,
} from '../js/inspect.mjs';

const PAGE = 65536;
const rules = (v) => v.violations.map((x) => x.rule);

// A heap of 8 memory pages: the heap starts above data and stack (never hard-coded).
async function scripted() {
  const z = await fresh('default', { initialPages: 8 });
  const a = z.malloc(1); // 16 B frame
  const b = z.malloc(100); // 128 B frame
  const c = z.malloc(24); // 32 B frame
  const d = z.malloc(70000); // jumbo block of 2 pages
  z.free(b);
  return { z, a, b, c, d };
}

describe('snapshot of a scripted heap', () => {
  test('after malloc(1), malloc(100), malloc(24), malloc(70000), free(b): exact frames, lists, jumbo, span and totals', async () => {
    const { z, a, c, d } = await scripted();
    const s = snapshot(z);
    const P = s.heapStart;
    const heapPages = (z.memoryBytes - P) / PAGE;
    expect(s.heapEnd).toBe(z.memoryBytes);
    expect(s.violations).toEqual([]);
    expect(a).toBe(P + 16);
    expect(c).toBe(P + 32);
    expect(d).toBe(P + PAGE);
    expect(s.config).toMatchObject({ validation: 'external', jumboMatch: 'closest', buddy: 'coalesce', shrink: 'defer' });

    // pages: the anchor, the jumbo block's two pages, one free span for the rest
    expect(s.pages.map((p) => p.kind)).toEqual(['anchor', 'jumbo-start', 'jumbo-body', ...Array(heapPages - 3).fill('free-span')]);
    expect(s.pages.map((p) => p.address)).toEqual(Array.from({ length: heapPages }, (_, i) => P + i * PAGE));
    expect(s.pages[0]).toMatchObject({ inUseCount: 3, usedFrames: 2, freeFrames: 10, jumbo: d, spare: false, corrupt: false });

    // frames: 16@16 and 32@32 in use, 64@64 .. 32K@32K free (128@128 was freed, its buddy is the page head)
    const frames = s.frames.map((f) => [f.address - P, f.size, f.payload, f.state]);
    const want = [[16, 16, 8, 'used'], [32, 32, 24, 'used']];
    for (let size = 64; size <= 32768; size *= 2) want.push([size, size, size - 8, 'free']);
    expect(frames).toEqual(want);

    // free lists: classes 16 and 32 empty, every other class holds the one frame of its size
    expect(s.freeLists.map((l) => l.size)).toEqual(Array.from({ length: 12 }, (_, c) => 16 << c));
    expect(s.freeLists.map((l) => l.members)).toEqual(s.freeLists.map((l) => (l.size >= 64 ? [P + l.size] : [])));

    expect(s.jumbos).toEqual([{ address: d, anchor: P, pages: 2, bytes: 2 * PAGE, overlaps: false }]);
    expect(s.spans).toEqual([{ address: P + 3 * PAGE, pages: heapPages - 3, bytes: (heapPages - 3) * PAGE, anchored: false }]);

    const freeFrameBytes = 65536 - 64 - 8 * 10;
    const spanBytes = (heapPages - 3) * PAGE;
    expect(s.totals).toMatchObject({
      heapBytes: heapPages * PAGE,
      pages: heapPages,
      pagesByKind: { small: 0, anchor: 1, 'jumbo-start': 1, 'jumbo-body': 1, 'free-span': heapPages - 3, foreign: 0 },
      usedBytes: 8 + 24 + 2 * PAGE,
      usedBlocks: 3, usedFrames: 2, usedJumbos: 1,
      freeFrameBytes, freeFrames: 10, freeSpanBytes: spanBytes, freeSpans: 1,
      freeBytes: freeFrameBytes + spanBytes,
      metadataBytes: 8 + 12 * 8 + 8, // header, 12 frame slots, the jumbo's slot
      reservedBytes: 0, foreignBytes: 0, corruptBytes: 0,
      largestFreeBlock: spanBytes,
    });
    expect(s.totals.fragmentation).toBeCloseTo(1 - spanBytes / (freeFrameBytes + spanBytes), 12);
    // the categories cover the heap exactly
    const t = s.totals;
    expect(t.usedBytes + t.freeBytes + t.metadataBytes + t.reservedBytes).toBe(t.heapBytes);
    expect(validate(z)).toEqual({ ok: true, violations: [] });
    expect(z.check()).toBe(0);
  });

  test('freeing the jumbo block merges its pages into the span; the anchor becomes a plain small page', async () => {
    const { z, d } = await scripted();
    z.free(d);
    const s = snapshot(z);
    const P = s.heapStart, heapPages = s.totals.pages;
    expect(s.pages.map((p) => p.kind)).toEqual(['small', ...Array(heapPages - 1).fill('free-span')]);
    expect(s.spans).toEqual([{ address: P + PAGE, pages: heapPages - 1, bytes: (heapPages - 1) * PAGE, anchored: true }]);
    expect(s.jumbos).toEqual([]);
    expect(s.pages[0]).toMatchObject({ inUseCount: 2, jumbo: 0 });
    expect(s.totals).toMatchObject({ usedBytes: 32, usedBlocks: 2, reservedBytes: 8, metadataBytes: 8 + 12 * 8 });
    expect(validate(z).ok).toBe(true);
  });

  test('an emptied page is kept as the spare until trim(), then the heap is one free span with zero fragmentation', async () => {
    const { z, a, c, d } = await scripted();
    z.free(d);
    z.free(a);
    z.free(c);
    let s = snapshot(z);
    expect(s.spare).toBe(s.heapStart);
    expect(s.pages[0]).toMatchObject({ kind: 'small', spare: true, usedFrames: 0, freeFrames: 12, inUseCount: 0 });
    expect(s.freeLists.every((l) => l.members.length === 1)).toBe(true);
    expect(validate(z).ok).toBe(true);
    z.trim();
    s = snapshot(z);
    expect(s.pages.every((p) => p.kind === 'free-span')).toBe(true);
    expect(s.spans).toEqual([{ address: s.heapStart, pages: s.totals.pages, bytes: s.totals.heapBytes, anchored: false }]);
    expect(s.totals).toMatchObject({ usedBytes: 0, usedBlocks: 0, freeBytes: s.totals.heapBytes, metadataBytes: 0, largestFreeBlock: s.totals.heapBytes, fragmentation: 0 });
    expect(s.freeLists.every((l) => l.members.length === 0)).toBe(true);
    expect(validate(z).ok).toBe(true);
  });

  test('fragmentation = 1 - largest free block / free bytes: two equal free frames and no span give 1/2', async () => {
    const z = await fresh('default', { initialPages: 4 });
    const s0 = snapshot(z);
    // fill the heap's pages so no span is left, then free two 32 KiB frames on two pages
    const big = [];
    for (let i = 0; i < s0.totals.pages; i++) big.push(z.malloc(32760));
    const rest = [];
    let s = snapshot(z);
    for (const p of s.pages) if (p.kind === 'small') for (const f of p.frames) if (f.state === 'free') rest.push(z.malloc(f.payload));
    s = snapshot(z);
    expect(s.totals.freeBytes).toBe(0);
    expect(s.totals.fragmentation).toBe(0);
    z.free(big[0]);
    z.free(big[1]);
    s = snapshot(z);
    expect(s.totals.freeBytes).toBe(2 * 32760);
    expect(s.totals.largestFreeBlock).toBe(32760);
    expect(s.totals.fragmentation).toBe(0.5);
    expect(validate(z).ok).toBe(true);
  });

  test('memory grown by someone else inside the heap shows as foreign pages and is not a violation', async () => {
    const z = await fresh('default', { initialPages: 4 });
    z.malloc(1);
    const before = snapshot(z);
    z.memory.grow(2); // someone else takes two pages at the current top
    const j = z.malloc(3 * PAGE); // zee_alloc grows past them
    const s = snapshot(z);
    expect(j).toBeGreaterThan(before.heapEnd + PAGE);
    const foreign = s.pages.filter((p) => p.kind === 'foreign').map((p) => p.address);
    expect(foreign).toEqual([before.heapEnd, before.heapEnd + PAGE]);
    expect(s.totals.foreignBytes).toBe(2 * PAGE);
    expect(validate(z)).toEqual({ ok: true, violations: [] });
    expect(renderText(s)).toMatch(/other\s+\|~+\|/);
  });
});

describe('every configuration walks cleanly', () => {
  test.each(['fast', 'chunkify', 'exact', 'first', 'dev', 'unsafe'])('%s build: config decoded, heap valid after a mixed sequence', async (variant) => {
    const z = await fresh(variant);
    const ps = [1, 17, 300, 5000, 40000, 131072, 9, 70000].map((n) => z.malloc(n));
    z.free(ps[1]); z.free(ps[4]);
    ps[3] = z.realloc(ps[3], 100);
    ps[5] = z.realloc(ps[5], 65536);
    const s = snapshot(z);
    const names = { fast: ['buddy', 'fast'], chunkify: ['shrink', 'chunkify'], exact: ['jumboMatch', 'exact'], first: ['jumboMatch', 'first'], dev: ['validation', 'dev'], unsafe: ['validation', 'unsafe'] };
    expect(s.config[names[variant][0]]).toBe(names[variant][1]);
    expect(s.violations).toEqual([]);
    expect(z.check()).toBe(0);
    const live = s.frames.filter((f) => f.state === 'used').length + s.jumbos.length;
    expect(live).toBe(6);
  });
});

describe('corruption: validate() and zee_check() name the same broken rule', () => {
  // Both must flag the heap, and validate's first violation is zee_check's rule.
  function expectRule(z, rule) {
    const v = validate(z);
    expect(v.ok).toBe(false);
    expect(v.violations[0].rule).toBe(rule);
    expect(CHECKS[z.check()]).toBe(rule);
    for (const x of v.violations) {
      expect(RULES[x.rule]).toBeDefined();
      expect(typeof x.message).toBe('string');
    }
    return v.violations;
  }

  test('an overwritten frame header: ZEE_C_FRAME at that frame', async () => {
    const z = await fresh();
    z.malloc(8);
    const b = z.malloc(8);
    z.HEAPU32[(b - 8) >>> 2] = 0xdeadbeef;
    const v = expectRule(z, 'ZEE_C_FRAME');
    expect(v[0].address).toBe(b);
    const s = snapshot(z);
    expect(s.pages[0].corrupt).toBe(true);
    expect(s.frames.find((f) => f.address === b).state).toBe('corrupt');
    expect(renderText(s)).toMatch(/INVALID: \d+ violation\(s\); first ZEE_C_FRAME/);
    expect(renderSVG(s)).toContain('class="zee-invalid"');
  });

  // A check word that no longer matches its payload address, on a frame and on a jumbo block.
  test.each([['a frame', 'ZEE_C_FRAME', 100, 0x100], ['a jumbo block', 'ZEE_C_JUMBO', 200000, 1]])(
    'a check word flipped on %s: %s at the block', async (_, rule, size, bit) => {
      const z = await fresh();
      const p = z.malloc(size);
      z.HEAPU32[(p - 4) >>> 2] ^= bit;
      expect(expectRule(z, rule)[0].address).toBe(p);
    });

  test('a broken free-list link (next points at an in-use frame): ZEE_C_LIST', async () => {
    const z = await fresh();
    const used = z.malloc(1000); // 1 KiB frame
    const f = snapshot(z).freeLists[2].members[0]; // the 64 B frame
    z.HEAPU32[f >>> 2] = used;
    const v = expectRule(z, 'ZEE_C_LIST');
    expect(v.some((x) => x.address === used && /is a used frame of 1024 B/.test(x.message))).toBe(true);
  });

  test('a broken back link: ZEE_C_LIST at the member', async () => {
    const z = await fresh();
    const a = z.malloc(8);
    const f = snapshot(z).freeLists[5].members[0];
    z.HEAPU32[(f + 4) >>> 2] = a;
    const v = expectRule(z, 'ZEE_C_LIST');
    expect(v[0].address).toBe(f);
    expect(v[0].message).toMatch(/links back/);
  });

  test('a free list that loops: ZEE_C_LIST, and the walk terminates', async () => {
    const z = await fresh();
    z.malloc(8);
    z.free(z.malloc(2000)); // nothing to merge on the page head's side
    const s = snapshot(z);
    const f = s.freeLists[4].members[0];
    z.HEAPU32[f >>> 2] = f; // next = itself
    const v = expectRule(z, 'ZEE_C_LIST');
    expect(v.some((x) => /loops back/.test(x.message))).toBe(true);
  });

  test('double free with validation off (unsafe build): ZEE_C_COUNT, and the frame is listed twice', async () => {
    const z = await fresh('unsafe');
    z.malloc(8);
    const b = z.malloc(8);
    z.malloc(100);
    z.free(b);
    z.free(b); // not detected by the unsafe build
    const v = expectRule(z, 'ZEE_C_COUNT');
    expect(v.some((x) => x.rule === 'ZEE_C_LIST' && x.address === b)).toBe(true);
  });

  test('double free of a jumbo block with validation off: ZEE_C_OVERLAP (its pages are in two spans)', async () => {
    const z = await fresh('unsafe');
    z.malloc(8);
    const j = z.malloc(200000);
    z.free(j);
    z.free(j);
    const v = expectRule(z, 'ZEE_C_OVERLAP');
    expect(v.some((x) => x.rule === 'ZEE_C_TOTALS')).toBe(true);
  });

  test("a page's in-use count off by one: ZEE_C_COUNT", async () => {
    const z = await fresh();
    const a = z.malloc(8);
    z.HEAPU32[(a - 16) >>> 2] += 1;
    expect(expectRule(z, 'ZEE_C_COUNT')[0].address).toBe(a - 16);
  });

  test('a free span with an overwritten tag: ZEE_C_SPAN', async () => {
    const z = await fresh();
    z.malloc(8);
    const span = snapshot(z).spans[0].address;
    z.HEAPU32[span >>> 2] = 0;
    expect(expectRule(z, 'ZEE_C_SPAN')[0].address).toBe(span);
  });

  test('a free span split in two touching spans: ZEE_C_SPAN_MERGE at the second', async () => {
    const z = await fresh('default', { initialPages: 8 });
    z.malloc(8);
    const { address: s, pages: k } = snapshot(z).spans[0];
    expect(k).toBeGreaterThanOrEqual(2);
    const u32 = z.HEAPU32, t = s + PAGE;
    u32[(s + 4) >>> 2] = 1; // first span: one page, next = t
    u32[(s + 8) >>> 2] = t;
    u32[t >>> 2] = LAYOUT.SPAN_TAG; // second span: the rest, back link = s
    u32[(t + 4) >>> 2] = k - 1;
    u32[(t + 8) >>> 2] = 0;
    u32[(t + 12) >>> 2] = s;
    expect(expectRule(z, 'ZEE_C_SPAN_MERGE')[0].address).toBe(t);
  });

  test('a small page whose tag is gone: ZEE_C_PAGE', async () => {
    const z = await fresh();
    const a = z.malloc(8);
    const page = a - 16;
    z.HEAPU32[page >>> 2] = 1;
    expect(expectRule(z, 'ZEE_C_PAGE')[0].address).toBe(page);
  });

  test('two free buddies that were not merged: ZEE_C_BUDDY', async () => {
    const z = await fresh();
    z.malloc(8);
    const x = z.malloc(40); // 64 B frame at page offset 64; splitting 128@128 later gives buddies
    const y = z.malloc(50), w = z.malloc(50); // 64@128 and 64@192 (split of 128@128)
    z.free(y);
    // forge: mark w free (valid metadata) and put it on the 64 B list, without merging
    const u32 = z.HEAPU32;
    u32[(w - 8) >>> 2] = 64 | LAYOUT.TAG_FREE;
    u32[(w - 4) >>> 2] = ((64 | LAYOUT.TAG_FREE) ^ w ^ LAYOUT.SALT) >>> 0;
    const info = z.stateAddress + 4 * (9 + 2);
    const head = u32[info >>> 2];
    u32[w >>> 2] = head; u32[(w + 4) >>> 2] = 0; u32[(head + 4) >>> 2] = w; u32[info >>> 2] = w;
    u32[(x - (x % PAGE)) >>> 2] -= 1; // and keep the page's count right
    const v = expectRule(z, 'ZEE_C_BUDDY');
    expect([y, w]).toContain(v[0].address);
  });

  test('a free frame on no list: ZEE_C_LIST_COUNT at the frame', async () => {
    const z = await fresh();
    const a = z.malloc(8);
    const b = z.malloc(3000); // 4 KiB frame
    const u32 = z.HEAPU32;
    u32[(b - 8) >>> 2] = 4096 | LAYOUT.TAG_FREE; // marked free behind the allocator's back
    u32[(b - 4) >>> 2] = ((4096 | LAYOUT.TAG_FREE) ^ b ^ LAYOUT.SALT) >>> 0;
    u32[(a - 16) >>> 2] -= 1;
    expect(expectRule(z, 'ZEE_C_LIST_COUNT')[0].address).toBe(b);
  });

  test('assertValid throws an error listing the violations; a smashed state block is ZEE_C_STATE', async () => {
    const z = await fresh();
    z.malloc(8);
    expect(() => assertValid(z)).not.toThrow();
    z.HEAPU32[z.stateAddress >>> 2] = 0;
    expect(() => assertValid(z)).toThrow(/ZEE_C_STATE at 0x[0-9a-f]{8}: no zee_heap_info_t/);
    expect(snapshot(z).pages).toEqual([]);
  });

  test('a span link past the heap end, then outside memory: ZEE_C_SPAN from both (zee_check() must not trap)', async () => {
    const z = await fresh();
    z.malloc(8);
    const st = z.stateAddress >>> 2;
    const end = z.HEAPU32[st + 4];
    z.memory.grow(2); // pages above the heap that are not zee_alloc's
    const u32 = z.HEAPU32, s = end + PAGE;
    u32.set([LAYOUT.SPAN_TAG, 1, 0, 0], s >>> 2); // a well-formed span, in the wrong place
    u32[st + 5] = s;
    expect(expectRule(z, 'ZEE_C_SPAN')[0].address).toBe(s);
    u32[st + 5] = 0x7fff0000;
    expect(expectRule(z, 'ZEE_C_SPAN')[0].address).toBe(0x7fff0000);
  });

  test('links pointing outside memory never throw or hang', async () => {
    const z = await fresh();
    const a = z.malloc(8);
    const info = z.stateAddress >>> 2;
    const u32 = z.HEAPU32;
    u32[info + 5] = 0xfff00000; // spans
    u32[info + 9 + 3] = 0xfffffff0; // list of 128
    u32[(a - 12) >>> 2] = 0xffff; // page list: next page far away
    const v = validate(z);
    expect(rules(v)).toEqual(expect.arrayContaining(['ZEE_C_SPAN', 'ZEE_C_PAGE', 'ZEE_C_LIST']));
  });
});

describe('sources', () => {
  test('a ZeeAlloc, { memory, stateAddress }, { buffer, stateAddress } and a Module-like object give the same snapshot', async () => {
    const { z } = await scripted();
    const ref = snapshot(z);
    const stateAddress = z.stateAddress;
    expect(snapshot({ memory: z.memory, stateAddress })).toEqual(ref);
    expect(snapshot({ buffer: z.memory.buffer, stateAddress })).toEqual(ref);
    expect(snapshot({ HEAPU8: new Uint8Array(z.memory.buffer), _zee_heap_info: () => stateAddress })).toEqual(ref);
    expect(snapshot({ wasmMemory: z.memory, _zee_heap_info: () => stateAddress })).toEqual(ref);
  });

  test('a copy of the memory (a frozen heap) can be inspected after the live heap moved on', async () => {
    const { z, d } = await scripted();
    const frozen = z.memory.buffer.slice(0);
    const stateAddress = z.stateAddress;
    z.free(d);
    expect(snapshot({ buffer: frozen, stateAddress }).jumbos.map((j) => j.address)).toEqual([d]);
    expect(snapshot(z).jumbos).toEqual([]);
  });

  test('snapshots follow memory growth (views are re-taken)', async () => {
    const z = await fresh('default', { initialPages: 4 });
    const src = { memory: z.memory, stateAddress: z.stateAddress };
    const before = snapshot(src).totals.heapBytes;
    const j = z.malloc(20 * PAGE);
    const s = snapshot(src);
    expect(s.totals.heapBytes).toBeGreaterThan(before);
    expect(s.heapEnd).toBe(z.memoryBytes);
    expect(s.jumbos.map((x) => x.address)).toContain(j);
  });

  test('bad sources get clear errors', async () => {
    const z = await fresh();
    expect(() => snapshot()).toThrow(InspectError);
    expect(() => snapshot(42)).toThrow(/expected a ZeeAlloc instance/);
    expect(() => snapshot({ stateAddress: 4 })).toThrow(/has no memory/);
    expect(() => snapshot({ memory: z.memory })).toThrow(/no state address.*EXPORTED_FUNCTIONS/);
    expect(() => snapshot({ memory: z.memory, stateAddress: z.memoryBytes })).toThrow(/not a word inside/);
    const stale = new Uint8Array(z.memory.buffer);
    z.memory.grow(1);
    expect(() => validate({ HEAPU8: stale, stateAddress: z.stateAddress })).toThrow(/detached/);
    expect(resolveSource(z).stateAddress).toBe(z.stateAddress);
  });

  test('RULES cover every zee_check() code', () => {
    for (const [code, name] of Object.entries(CHECK_CODES)) if (code !== '0') expect(RULES[name]).toBeDefined();
    expect(Object.values(CHECKS).filter((n) => n !== 'ZEE_C_OK').sort()).toEqual(Object.values(CHECK_CODES).filter((n) => n !== 'ZEE_C_OK').sort());
  });
});

describe('renderText', () => {
  test('one row per page within 80 columns, with totals and a legend', async () => {
    const { z } = await scripted();
    const s = snapshot(z);
    const text = renderText(s, { collapse: false });
    const lines = text.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    const rows = lines.filter((l) => /^0x[0-9a-f]{8} /.test(l));
    expect(rows.length).toBe(s.totals.pages);
    expect(rows[0]).toMatch(/^0x[0-9a-f]{8} anchor \|[#%:.]+\| 2u 10f$/);
    expect(rows[1]).toMatch(/ jumbo  \|=+\| 2p 128 KiB$/);
    expect(rows[2]).toMatch(/ jumbo\+ \|=+\|$/);
    expect(rows[3]).toMatch(new RegExp(` span   \\|-+\\| ${s.totals.pages - 3}p free$`));
    expect(text).toMatch(/in use 128 KiB in 3 blocks/);
    expect(text).toMatch(/legend: # in use/);
    // the first cells of the anchor: 16 B and 32 B in use next to free frames
    expect(rows[0].slice(19, 20)).toMatch(/[%:]/);
  });

  test('long runs of span or jumbo pages fold into one row; columns are respected', async () => {
    const z = await fresh('default', { initialPages: 4 });
    z.malloc(1);
    z.malloc(10 * PAGE);
    const s = snapshot(z);
    const text = renderText(s, { columns: 100 });
    const lines = text.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(text).toMatch(/jumbo\+ \|\s+\.\.\. 8 pages to 0x[0-9a-f]{8}\s*\|/);
    expect(lines.filter((l) => / jumbo\+ /.test(l)).length).toBe(2);
    expect(() => renderText(s, { columns: 20 })).toThrow(RangeError);
    expect(() => renderText({})).toThrow(/expected a snapshot/);
  });
});

describe('renderSVG', () => {
  test('a self-contained SVG: a row per page, a box per frame with address/size tooltips and state classes', async () => {
    const { z, a, c, d } = await scripted();
    const s = snapshot(z);
    const svg = renderSVG(s, { collapse: false });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/href="http|<script|@import|url\((?!#zee-hatch)/);
    expect((svg.match(/<g class="zee-page /g) || []).length).toBe(s.totals.pages);
    const used = [...svg.matchAll(/class="zee-frame zee-used" data-addr="(\d+)"/g)].map((m) => Number(m[1]));
    const free = [...svg.matchAll(/class="zee-frame zee-free" data-addr="(\d+)"/g)].map((m) => Number(m[1]));
    expect(used).toEqual([a, c]);
    expect(free.length).toBe(10);
    expect(svg).toContain(`data-addr="${d}" data-state="used" data-size="${2 * PAGE}"`);
    expect(svg).toContain(`<title>0x${a.toString(16).padStart(8, '0')}: in use, frame 16 B, payload 8 B`);
    // distinct colors for in use, free and metadata
    expect(svg).toMatch(/fill="#e4572e"[^>]*class="zee-frame zee-used"/);
    expect(svg).toMatch(/fill="#76b041"[^>]*class="zee-frame zee-free"/);
    expect(svg).toMatch(/fill="#3d3d3d"[^>]*><title>page header/);
    // boxes are sized by their bytes: the 32 KiB frame is half the 1024 px bar
    expect(svg).toMatch(new RegExp(`width="511\\.875" height="16" fill="#76b041"[^>]*data-addr="${s.heapStart + 32768}"`));
  });
});
