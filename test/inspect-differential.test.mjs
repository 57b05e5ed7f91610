// Differential: one random damage to a live heap's metadata, many times over;
// validate()'s first rule must be the one zee_check() returns (ZEE_C_OK when
// neither sees a problem), zee_check() must not trap, and the inspector and
// both renderers must not throw.  Damage goes only where both look: block,
// slab and slot headers, free-list links and heads (of lists and
// mid_lists, and a head of one set set to the other's), slab words,
// free-slot links, slab-list heads, page words, page-map bytes (every mark,
// MID and unknown ones included), block sizes, the
// running totals and the cursor (a hint, no rule for either; the state words
// only the inspector checks are covered by test/inspect-layout.test.mjs).
// ZEE_SEED=<n> replays a run; ZEE_INSPECT_DAMAGES=<n> sets how many heaps.
import { fresh } from './helpers/instance.mjs';
import { seedFromEnv } from './helpers/shadow.mjs';
import { LAYOUT, STATE, CHECK_CODES } from '../js/layout.mjs';
import { snapshot, renderText, renderSVG } from '../js/inspect.mjs';

const ROUNDS = Number(process.env.ZEE_INSPECT_DAMAGES || 250);
const PAGE = LAYOUT.PAGE_SIZE;

// A seeded generator of floats in [0, 1) (a 32-bit LCG's high bits).
function lcg(seed) {
  let s = seed >>> 0;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;
  r.int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  r.pick = (xs) => xs[Math.floor(r() * xs.length)];
  return r;
}

// A heap after 200 random calls: small and large blocks, some freed.  Most
// sizes up to 1,032 B are slots, so slabs of many slot sizes are made.
async function randomHeap(r) {
  const z = await fresh('default', { initialPages: 8 });
  const live = [];
  for (let i = 0; i < 200; i++) {
    if (live.length && r() < 0.4) z.free(live.splice(Math.floor(r() * live.length), 1)[0]);
    else {
      const x = r();
      const n =
        x < 0.55 ? r.int(1, 300) : x < 0.8 ? r.int(301, 1032) : x < 0.95 ? r.int(1033, 40000) : r.int(65513, 200000);
      const p = r() < 0.9 ? z.malloc(n) : z.memalign(2 ** r.int(4, 12), n);
      if (p) live.push(p);
    }
  }
  return z;
}

// Writes one damage; returns a description for failure messages.
function damage(z, s, r) {
  const u32 = z.HEAPU32,
    u8 = z.HEAPU8;
  const word = (a, how) => {
    const old = u32[a >>> 2];
    u32[a >>> 2] =
      how < 0.3
        ? 0
        : how < 0.6
          ? (old ^ (1 << r.int(0, 31))) >>> 0
          : how < 0.8
            ? (old + 16) >>> 0
            : Math.floor(r() * 2 ** 32);
    return `word ${a.toString(16)}: ${old.toString(16)} -> ${u32[a >>> 2].toString(16)}`;
  };
  const blocks = s.blocks.filter((b) => b.state !== 'large' && b.state !== 'corrupt');
  const free = blocks.filter((b) => b.state === 'free' || b.state === 'free-slot');
  const small = s.pages.filter((p) => p.kind === 'small');
  const kind = r.pick([
    'header',
    'header',
    'link',
    'page',
    'map',
    'size',
    'counter',
    'head',
    'large',
    'cursor',
    'slab',
    'slab head',
    'other set',
  ]);
  if (kind === 'header') {
    const b = r.pick(blocks);
    return `header of ${b.state} ${b.address.toString(16)}, ${word(b.address - 8 + 4 * r.int(0, 1), r())}`;
  }
  if (kind === 'link' && free.length) {
    const b = r.pick(free);
    return `link of free ${b.address.toString(16)}, ${word(b.address + 4 * r.int(0, 1), r())}`;
  }
  if (kind === 'page') {
    const p = r.pick(small);
    return `page word of ${p.address.toString(16)}, ${word(p.address + 4 * r.int(0, 1), r())}`;
  }
  if (kind === 'map') {
    const a = s.heapStart + PAGE * r.int(0, s.totals.pages - 1),
      at = s.pageMap + a / PAGE,
      old = u8[at];
    u8[at] = r.pick([0, 1, 2, 3, 4, 5, 6, 7, 10]); // MID (6) and marks of no page (4, 5, 7; 10 & 3 is SMALL)
    return `map byte of ${a.toString(16)}: ${old} -> ${u8[at]}`;
  }
  if (kind === 'size') {
    // a size changed by a granule with a matching check word: only the size is wrong
    const b = r.pick(blocks),
      info = u32[(b.address - 8) >>> 2],
      next = (info + (r() < 0.5 ? 16 : -16)) >>> 0;
    u32[(b.address - 8) >>> 2] = next;
    u32[(b.address - 4) >>> 2] = (next ^ b.address ^ LAYOUT.SALT) >>> 0;
    return `size of ${b.state} ${b.address.toString(16)}: ${info.toString(16)} -> ${next.toString(16)}`;
  }
  if (kind === 'large' && s.large.length) {
    const l = r.pick(s.large),
      info = u32[(l.address - 8) >>> 2],
      next = (info + 16 * r.int(-4, 4) * (r() < 0.5 ? 1 : 4096)) >>> 0;
    u32[(l.address - 8) >>> 2] = next;
    u32[(l.address - 4) >>> 2] = (next ^ l.address ^ LAYOUT.SALT) >>> 0;
    return `size of large ${l.address.toString(16)}: ${info.toString(16)} -> ${next.toString(16)}`;
  }
  // a slab's words: next, prev (links of its list), used, free (its first free slot)
  if (kind === 'slab' && s.slabs.length) {
    const b = r.pick(s.slabs);
    return `word of slab ${b.address.toString(16)}, ${word(b.address + 4 * r.int(0, 3), r())}`;
  }
  if (kind === 'slab head' && s.slabs.length) {
    const i = r() < 0.8 ? r.pick(s.slabs).slotSize / 16 : r.int(0, LAYOUT.SLAB_LISTS - 1);
    return `head of slab list ${i}, ${word(z.stateAddress + 4 * (STATE.slabs + i), r())}`;
  }
  // the cursor is a hint the allocator checks before use: no rule, for either
  if (kind === 'cursor') return `cursor, ${word(z.stateAddress + 4 * STATE.cursor, r())}`;
  if (kind === 'counter') {
    const f = r.pick(['usedBytes', 'usedBlocks', 'peakBytes', 'smallPages', 'largePages', 'freePages']);
    return `counter ${f}, ${word(z.stateAddress + 4 * STATE[f], r())}`;
  }
  // a frame of one pool listed on the other pool's list of its class (lists <-> mid_lists)
  if (kind === 'other set') {
    const [from, to] = r() < 0.5 ? ['lists', 'midLists'] : ['midLists', 'lists'];
    const c = r.int(0, LAYOUT.CLASSES - 1),
      at = z.stateAddress + 4 * (STATE[to] + c),
      old = u32[at >>> 2];
    u32[at >>> 2] = u32[(z.stateAddress + 4 * (STATE[from] + c)) >>> 2];
    return `head of ${to}[${c}]: ${old.toString(16)} -> ${from}[${c}]'s head ${u32[at >>> 2].toString(16)}`;
  }
  const c = r.int(0, LAYOUT.CLASSES - 1),
    set = r() < 0.5 ? 'lists' : 'midLists';
  return `head of ${set}[${c}] (${16 << c} B), ${word(z.stateAddress + 4 * (STATE[set] + c), r())}`;
}

test(`${ROUNDS} heaps, one damage each: validate() and zee_check() name the same rule; nothing throws or traps`, async () => {
  const seed = seedFromEnv();
  console.log(`inspect differential: seed ${seed}, ${ROUNDS} heaps (replay with ZEE_SEED=${seed})`);
  const r = lcg(seed);
  const tally = {};
  const slotSizes = new Set();
  let withMid = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const z = await randomHeap(r);
    const s0 = snapshot(z);
    expect(s0.violations).toEqual([]);
    if (s0.pages.some((p) => p.pool === 'mid') && s0.midLists.some((l) => l.members.length)) withMid++;
    for (const b of s0.slabs) slotSizes.add(b.slotSize);
    const what = damage(z, s0, r);
    let c;
    try {
      c = CHECK_CODES[z.check()];
    } catch (e) {
      throw new Error(`round ${i} (seed ${seed}): zee_check() trapped after ${what}: ${e.message}`);
    }
    const s = snapshot(z);
    const first = s.violations[0]?.rule ?? 'ZEE_C_OK';
    if (first !== c)
      throw new Error(
        `round ${i} (seed ${seed}): after ${what}, zee_check() says ${c}, validate() ${first}: ${s.violations[0]?.message}`,
      );
    tally[c] = (tally[c] ?? 0) + 1;
    renderText(s);
    renderSVG(s, { maxBytes: 200_000 });
    for (const p of [s.pages[0], s.pages[s.pages.length - 1]]) if (p) renderSVG(s, { page: p.address });
  }
  console.log(
    `inspect differential: ${JSON.stringify(tally)}; ${slotSizes.size} slot sizes; ${withMid} heaps with mid pages`,
  );
  // most damage is seen, and by several rules (a damage can also be a no-op: a link set to itself...)
  expect(ROUNDS - (tally.ZEE_C_OK ?? 0)).toBeGreaterThan(ROUNDS / 2);
  expect(Object.keys(tally).length).toBeGreaterThanOrEqual(6);
  // slabs of most of the 58 slot sizes (48 .. 1,040 B), and their damage seen by both
  expect(slotSizes.size).toBeGreaterThan(40);
  expect(tally.ZEE_C_SLAB).toBeGreaterThan(ROUNDS / 20);
  // most heaps hold MID pages with listed frames, so damage reaches both pools
  expect(withMid).toBeGreaterThan(ROUNDS / 2);
}, 300000);
