// Stress: a snapshot after every operation of the seeded random workload, on
// every build variant: no violation, the state's running totals equal to the
// walk's (a rule: ZEE_C_TOTALS), the walk's own sums consistent (every byte
// of the heap counted once, every page's bytes adding up, the lists holding
// the frames the walk met), and zee_check() agreeing now and then.  The
// walks must meet every kind of block: slots of many sizes, frames of both
// pools, blocks and free frames of 64 KiB and more, and blocks that span
// pages.  ZEE_SEED=<n> replays a run; ZEE_INSPECT_OPS=<n> scales the default
// build's operation count (the others get a quarter of it).
import { fresh, VARIANT_NAMES } from './helpers/instance.mjs';
import { seedFromEnv } from './helpers/shadow.mjs';
import { runRandom } from './helpers/workload.mjs';
import { LAYOUT } from '../js/layout.mjs';
import { validate, snapshot, renderText, renderSVG } from '../js/inspect.mjs';

const OPS = Number(process.env.ZEE_INSPECT_OPS || 80000);
const PAGE = LAYOUT.PAGE_SIZE;

// The sums a sound snapshot keeps; a description of the first one broken, or null.
function broken(s) {
  const t = s.totals;
  if (t.usedBytes + t.freeBytes + t.metadataBytes + t.paddingBytes + t.foreignBytes + t.corruptBytes !== t.heapBytes)
    return `the byte totals do not add up to the heap's ${t.heapBytes} B`;
  if (t.freeListBytes !== t.freeFrameBytes || t.freeListMembers !== t.freeFrames)
    return 'the free lists and the free frames walked disagree';
  if (t.fragmentation < 0 || t.fragmentation >= 1) return `fragmentation ${t.fragmentation}`;
  for (const p of s.pages) {
    const owned = Math.min(p.address + PAGE, s.heapEnd) - Math.max(p.address, s.heapStart - 16);
    if (p.usedBytes + p.freeBytes + p.slabBytes + p.foreignBytes + p.corruptBytes + p.metadataBytes !== owned)
      return `page 0x${p.address.toString(16)}: its bytes do not add up to ${owned}`;
  }
  let at = s.heapStart;
  for (const b of s.blocks) {
    if (b.slab !== undefined) continue;
    if (b.address !== at) return `a block at 0x${b.address.toString(16)}, expected one at 0x${at.toString(16)}`;
    at += b.size;
  }
  return at === s.heapEnd ? null : `the blocks end at 0x${at.toString(16)}, not at heap_end`;
}

test.each(VARIANT_NAMES)(
  '%s build: a snapshot after every operation of the random stress, always sound',
  async (variant) => {
    const seed = seedFromEnv();
    const ops = Math.round(OPS * (variant === 'default' ? 1 : 1 / 4));
    console.log(`inspect stress ${variant}: seed ${seed}, ${ops} ops (replay with ZEE_SEED=${seed})`);
    const z = await fresh(variant);
    const saw = {
      midFrames: false,
      bigFrames: false,
      bigBlock: false,
      acrossPages: false,
      openSlab: false,
      fullSlab: false,
    };
    let checked = 0,
      maxBlocks = 0,
      slabsSeen = 0;
    const slotSizes = new Set();
    // A full slab whatever the seed (the random stress holds one only now
    // and then): four blocks of 480 B fill a 2 KiB slab of 496 B slots.
    const four = Array.from({ length: 4 }, () => z.malloc(480));
    const first = snapshot(z);
    expect([first.violations, broken(first)]).toEqual([[], null]);
    expect(first.slabs.map((b) => [b.slotSize, b.freeSlots])).toEqual([[496, 0]]);
    saw.fullSlab = true;
    for (const p of four) z.free(p);
    const t0 = Date.now();
    const res = runRandom(z, {
      seed,
      ops,
      maxSize: 1 << 19,
      maxLive: 300,
      onOp(i) {
        const s = snapshot(z);
        const fail = s.violations.length
          ? `broke ${s.violations[0].rule} at 0x${s.violations[0].address.toString(16)}: ${s.violations[0].message}`
          : broken(s);
        if (fail) throw new Error(`${variant}: op ${i} (seed ${seed}): ${fail}`);
        // zee_check() walks the same heap: now and then, both must agree it is sound
        if (i % 997 === 0 && z.check() !== 0)
          throw new Error(`${variant}: op ${i} (seed ${seed}): zee_check() ${z.check()}`);
        checked++;
        maxBlocks = Math.max(maxBlocks, s.blocks.length);
        slabsSeen = Math.max(slabsSeen, s.totals.slabs);
        for (const b of s.slabs) {
          slotSizes.add(b.slotSize);
          if (b.freeSlots) saw.openSlab = true;
          else saw.fullSlab = true;
        }
        if (s.midLists.some((l) => l.members.length)) saw.midFrames = true;
        if (s.freeLists.some((l) => l.class >= LAYOUT.POOL_CLASSES && l.members.length)) saw.bigFrames = true;
        for (const b of s.blocks)
          if (b.state === 'used') {
            if (b.size > PAGE) saw.bigBlock = true;
            if (b.page !== b.address + b.size - 1 - ((b.address + b.size - 1) % PAGE)) saw.acrossPages = true;
          }
      },
    });
    expect(checked).toBe(ops);
    expect(res.counts.free).toBeGreaterThan(ops / 4);
    expect(saw).toEqual({
      midFrames: true,
      bigFrames: true,
      bigBlock: true,
      acrossPages: true,
      openSlab: true,
      fullSlab: true,
    });
    expect(maxBlocks).toBeGreaterThan(50);
    expect(slabsSeen).toBeGreaterThan(5);
    expect(slotSizes.size).toBeGreaterThan(20);
    // everything was freed: no block in use, the heap one run of free frames, valid and drawable
    const end = snapshot(z);
    expect(validate(z)).toEqual({ ok: true, violations: [] });
    expect(z.check()).toBe(0);
    expect(end.totals).toMatchObject({ usedBlocks: 0, usedBytes: 0, fragmentation: 0 });
    expect(end.freeRuns).toEqual([{ address: end.heapStart, bytes: end.totals.heapBytes, frames: expect.any(Number) }]);
    expect(end.counters).toMatchObject({ usedBlocks: 0, usedBytes: 0 });
    expect(typeof renderText(end)).toBe('string');
    expect(renderSVG(end)).toMatch(/<\/svg>\n?$/);
    console.log(`inspect stress ${variant}: ${checked} snapshots in ${Date.now() - t0} ms, memory ${z.memoryBytes} B`);
  },
  300000,
);
