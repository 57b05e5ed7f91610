// Stress: validate() after every operation of the seeded random workload, on
// every build variant, with the running totals of the state compared to the
// walk each time; the walks must meet MID pages (their frames on mid_lists,
// one anchoring a large block) as well as SMALL ones.  ZEE_SEED=<n> replays a run; ZEE_INSPECT_OPS=<n> scales the
// default build's operation count (the others get a quarter of it).
import { fresh, VARIANT_NAMES } from './helpers/instance.mjs';
import { seedFromEnv } from './helpers/shadow.mjs';
import { runRandom } from './helpers/workload.mjs';
import { validate, snapshot, renderText, renderSVG } from '../js/inspect.mjs';

const OPS = Number(process.env.ZEE_INSPECT_OPS || 80000);

test.each(VARIANT_NAMES)(
  '%s build: validate() passes after every operation of the random stress',
  async (variant) => {
    const seed = seedFromEnv();
    const ops = Math.round(OPS * (variant === 'default' ? 1 : 1 / 4));
    console.log(`inspect stress ${variant}: seed ${seed}, ${ops} ops (replay with ZEE_SEED=${seed})`);
    const z = await fresh(variant);
    let checked = 0,
      maxBlocks = 0,
      sawLarge = false,
      sawSpan = false,
      sawSpare = false,
      sawInAnchor = false,
      sawMid = false,
      sawMidAnchor = false,
      slabsSeen = 0,
      slotSizes = new Set();
    const t0 = Date.now();
    const res = runRandom(z, {
      seed,
      ops,
      maxSize: 1 << 19,
      maxLive: 300,
      onOp(i) {
        const s = snapshot(z);
        if (s.violations.length) {
          const v = s.violations[0];
          throw new Error(
            `${variant}: op ${i} (seed ${seed}) broke ${v.rule} at 0x${v.address.toString(16)}: ${v.message}`,
          );
        }
        checked++;
        if (s.blocks.length > maxBlocks) maxBlocks = s.blocks.length;
        if (s.large.length) sawLarge = true;
        if (s.large.some((l) => l.inPage > 0)) sawInAnchor = true;
        if (s.spans.length) sawSpan = true;
        if (s.spare) sawSpare = true;
        if (s.midLists.some((l) => l.members.length)) sawMid = true;
        if (s.pages.some((p) => p.pool === 'mid' && p.large)) sawMidAnchor = true;
        slabsSeen = Math.max(slabsSeen, s.totals.slabs);
        for (const b of s.slabs) slotSizes.add(b.slotSize);
        // the walk's totals agree with its own lists (the state's totals are a rule: ZEE_C_TOTALS)
        if (s.totals.freeListBytes !== s.totals.freeFrameBytes || s.totals.freeListMembers !== s.totals.freeFrames)
          throw new Error(`op ${i}: free lists and pages disagree`);
        // every byte of the heap is counted once (a block in use: usable, header, padding to its
        // extent; a slab: its words, slot headers, slots and unused tail)
        const t = s.totals;
        if (
          t.usedBytes +
            t.freeBytes +
            t.metadataBytes +
            t.reservedBytes +
            t.paddingBytes +
            t.foreignBytes +
            t.corruptBytes !==
          t.heapBytes
        )
          throw new Error(`op ${i}: the byte totals do not add up to the heap's ${t.heapBytes} B`);
      },
    });
    expect(checked).toBe(ops);
    expect(res.counts.free).toBeGreaterThan(ops / 4);
    expect({ sawLarge, sawInAnchor, sawSpan, sawSpare, sawMid, sawMidAnchor }).toEqual({
      sawLarge: true,
      sawInAnchor: true,
      sawSpan: true,
      sawSpare: true,
      sawMid: true,
      sawMidAnchor: true,
    });
    expect(maxBlocks).toBeGreaterThan(50);
    // the walks met slabs, of many slot sizes, and counted their bytes too
    expect(slabsSeen).toBeGreaterThan(5);
    expect(slotSizes.size).toBeGreaterThan(20);
    // everything was freed: no block in use, the heap still valid and drawable
    const end = snapshot(z);
    expect(validate(z)).toEqual({ ok: true, violations: [] });
    expect(end.totals.usedBlocks).toBe(0);
    expect(end.counters).toMatchObject({ usedBlocks: 0, usedBytes: 0 });
    expect(renderText(end)).toMatch(/in use 0 B in 0 blocks/);
    expect(renderSVG(end)).toMatch(/<\/svg>\n$/);
    console.log(
      `inspect stress ${variant}: ${checked} validations in ${Date.now() - t0} ms, memory ${z.memoryBytes} B`,
    );
  },
  180000,
);
