// Differential: the inspector's validate() against the wasm's zee_check() on
// the same damaged heap.  Two parts:
//   - every rule, deliberately: on several random heaps, each damage of a
//     table is written into a fresh heap and must be reported as its rule,
//     first, by both;
//   - random damage, many times over: one random write into a live heap's
//     metadata (block, slab and slot headers, free-list and free-slot links,
//     list heads of either pool, slab words and slab-list heads, pool-map
//     bytes, block sizes, the running totals, the cursor, the heap bounds and
//     the word at heap_end - 8); validate()'s first rule must be the one
//     zee_check() returns (ZEE_C_OK when neither sees a problem), zee_check()
//     must not trap, and the inspector and both renderers must not throw.
// The random heaps hold blocks of every kind: slots of many sizes, blocks
// of both pools, blocks above 64 KiB, and foreign blocks (memory grown
// behind the allocator's back between calls).
// ZEE_SEED=<n> replays a run; ZEE_INSPECT_DAMAGES=<n> sets how many heaps.
import { fresh } from './helpers/instance.mjs';
import { seedFromEnv } from './helpers/shadow.mjs';
import { setMeta, stateWord, listFor } from './helpers/layout.mjs';
import { LAYOUT, STATE, CHECK_CODES } from '../js/layout.mjs';
import { snapshot, renderText, renderSVG } from '../js/inspect.mjs';

const ROUNDS = Number(process.env.ZEE_INSPECT_DAMAGES || 250);
const RULE_HEAPS = 12; // random heaps each deliberate damage is tried on
const PAGE = LAYOUT.PAGE_SIZE;
const hex = (a) => '0x' + (a >>> 0).toString(16);

// A seeded generator of floats in [0, 1) (a 32-bit LCG's high bits).
function lcg(seed) {
  let s = seed >>> 0;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;
  r.int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  r.pick = (xs) => xs[Math.floor(r() * xs.length)];
  return r;
}

// A heap after 200 random calls: most sizes up to 1,032 B are slots (slabs
// of many slot sizes), some blocks are above POOL_MIN (the mid pool) or
// 64 KiB, some aligned; now and then the memory is grown behind the
// allocator's back, so the next growth steps over it (a foreign block).
// Then four more calls make sure of a full slab.
async function randomHeap(r) {
  const z = await fresh('default', { initialPages: 8 });
  const live = [];
  for (let i = 0; i < 200; i++) {
    if (live.length && r() < 0.4) z.free(live.splice(Math.floor(r() * live.length), 1)[0]);
    else {
      if (r() < 0.01) z.memory.grow(r.int(1, 2));
      const x = r();
      const n =
        x < 0.55 ? r.int(1, 300) : x < 0.8 ? r.int(301, 1032) : x < 0.95 ? r.int(1033, 40000) : r.int(65513, 200000);
      const p = r() < 0.9 ? z.malloc(n) : z.memalign(2 ** r.int(4, 12), n);
      if (p) live.push(p);
    }
  }
  // A full slab whatever the seed: four 480-byte blocks fill a 2 KiB slab of
  // 496-byte slots, or first the one with a free slot.
  for (let i = 0; i < 4; i++) expect(z.malloc(480)).not.toBe(0);
  return z;
}

// zee_check()'s verdict by name, and validate()'s first rule.
function verdicts(z) {
  const c = CHECK_CODES[z.check()];
  const s = snapshot(z);
  return { c, first: s.violations[0]?.rule ?? 'ZEE_C_OK', s };
}

// ---- every rule, deliberately ----------------------------------------------
// Each entry finds its target in the heap's snapshot `s` and writes the
// damage; it returns a description, or null when this heap has no target
// (the test then requires that enough heaps had one).
const word = (z, a, v) => {
  if (v !== undefined) z.HEAPU32[a >>> 2] = v >>> 0;
  return z.HEAPU32[a >>> 2];
};
const pick = (r, xs) => (xs.length ? r.pick(xs) : null);
const DELIBERATE = [
  // the state block
  [
    'ZEE_C_STATE',
    'a header at heap_end - 8',
    (z, s) => (word(z, s.heapEnd - 8, 16 | LAYOUT.TAG_USED), 'word at heap_end - 8 set'),
  ],
  ['ZEE_C_STATE', 'the cursor off a granule', (z, s) => (word(z, stateWord(z, 'cursor'), s.heapStart + 8), 'cursor')],
  ['ZEE_C_STATE', 'the cursor past heap_end', (z, s) => (word(z, stateWord(z, 'cursor'), s.heapEnd + 16), 'cursor')],
  [
    'ZEE_C_STATE',
    'heap_end off a page boundary',
    (z, s) => (word(z, stateWord(z, 'heapEnd'), s.heapEnd - 16), 'heap_end'),
  ],
  ['ZEE_C_STATE', 'heap_end at heap_start', (z, s) => (word(z, stateWord(z, 'heapEnd'), s.heapStart), 'heap_end')],
  [
    'ZEE_C_STATE',
    'heap_start off a granule',
    (z, s) => (word(z, stateWord(z, 'heapStart'), s.heapStart + 8), 'heap_start'),
  ],
  // headers met by the walk
  [
    'ZEE_C_FRAME',
    "a block in use's check word",
    (z, s, r) => {
      const b = pick(
        r,
        s.blocks.filter((x) => x.state === 'used' && !x.slab),
      );
      return b && (word(z, b.address - 4, word(z, b.address - 4) ^ 0x100), `check word of ${hex(b.address)}`);
    },
  ],
  [
    'ZEE_C_FRAME',
    "a free frame's tag turned MERGED",
    (z, s, r) => {
      const b = pick(
        r,
        s.blocks.filter((x) => x.state === 'free'),
      );
      return b && (setMeta(z, b.address, b.size, LAYOUT.TAG_MERGED), `${hex(b.address)} merged`);
    },
  ],
  [
    'ZEE_C_FRAME',
    'a free frame of a size that is no power of two',
    (z, s, r) => {
      const b = pick(
        r,
        s.blocks.filter((x) => x.state === 'free' && x.size >= 64),
      );
      return b && (setMeta(z, b.address, b.size + 16, LAYOUT.TAG_FREE), `${hex(b.address)} sized ${b.size + 16}`);
    },
  ],
  [
    'ZEE_C_FRAME',
    'a free frame not aligned to its size',
    (z, s, r) => {
      const b = pick(
        r,
        s.blocks.filter((x) => x.state === 'free' && x.address % (2 * x.size)),
      );
      return b && (setMeta(z, b.address, 2 * b.size, LAYOUT.TAG_FREE), `${hex(b.address)} sized ${2 * b.size}`);
    },
  ],
  [
    'ZEE_C_FRAME',
    'a block in use whose extent runs past heap_end',
    (z, s, r) => {
      const b = pick(
        r,
        s.blocks.filter((x) => x.state === 'used' && !x.slab && x.headerSize > LAYOUT.ROUND_MAX),
      );
      const size = s.heapEnd - b?.address + 16;
      return b && (setMeta(z, b.address, size, LAYOUT.TAG_USED), `${hex(b.address)} sized ${size}`);
    },
  ],
  // two free buddies: a free frame split into two free halves (the upper one listed)
  [
    'ZEE_C_BUDDY',
    'a free frame split into two free halves',
    (z, s, r) => {
      const b = pick(
        r,
        s.blocks.filter((x) => x.state === 'free' && x.size >= 32 && x.size <= 32768),
      );
      if (!b) return null;
      const half = b.size / 2,
        up = b.address + half;
      setMeta(z, b.address, half, LAYOUT.TAG_FREE);
      setMeta(z, up, half, LAYOUT.TAG_FREE);
      return `${hex(b.address)} split`;
    },
  ],
  // foreign blocks
  [
    'ZEE_C_FOREIGN',
    'a foreign header on a free frame inside a page',
    (z, s, r) => {
      const b = pick(
        r,
        s.blocks.filter((x) => x.state === 'free' && x.address % PAGE),
      );
      return b && (setMeta(z, b.address, b.size, LAYOUT.TAG_FOREIGN), `${hex(b.address)} foreign`);
    },
  ],
  [
    'ZEE_C_FOREIGN',
    'a foreign block 16 B longer',
    (z, s, r) => {
      const b = pick(
        r,
        s.blocks.filter((x) => x.state === 'foreign'),
      );
      return b && (setMeta(z, b.address, b.size + 16, LAYOUT.TAG_FOREIGN), `foreign ${hex(b.address)} longer`);
    },
  ],
  // free lists
  [
    'ZEE_C_LIST',
    'a next link to a block in use',
    (z, s, r) => {
      const f = pick(
        r,
        s.blocks.filter((x) => x.state === 'free'),
      );
      const u = pick(
        r,
        s.blocks.filter((x) => x.state === 'used'),
      );
      return f && u && (word(z, f.address, u.address), `${hex(f.address)} -> ${hex(u.address)}`);
    },
  ],
  [
    'ZEE_C_LIST',
    'a broken back link',
    (z, s, r) => {
      const f = pick(
        r,
        s.blocks.filter((x) => x.state === 'free'),
      );
      return f && (word(z, f.address + 4, word(z, f.address + 4) ^ 16), `back link of ${hex(f.address)}`);
    },
  ],
  [
    'ZEE_C_LIST',
    "a list's last member linked to its first (a loop)",
    (z, s, r) => {
      const l = pick(
        r,
        [...s.freeLists, ...s.midLists].filter((x) => x.members.length >= 2),
      );
      return l && (word(z, l.members.at(-1), l.members[0]), `list of ${l.size} B (${l.pool}) loops`);
    },
  ],
  [
    'ZEE_C_LIST',
    "a page's pool bit flipped under its listed frames",
    (z, s, r) => {
      const f = pick(
        r,
        s.blocks.filter((x) => x.state === 'free' && x.size < PAGE),
      );
      if (!f) return null;
      z.HEAPU8[s.poolMap + (f.page >>> 19)] ^= 1 << ((f.page >>> 16) & 7);
      return `pool of page ${hex(f.page)} flipped`;
    },
  ],
  [
    'ZEE_C_LIST',
    "a list's head on the other pool's list of its class",
    (z, s, r) => {
      const l = pick(
        r,
        s.freeLists.filter((x) => x.class < LAYOUT.POOL_CLASSES && x.members.length),
      );
      if (!l) return null;
      word(z, stateWord(z, 'midLists', l.class), l.members[0]);
      return `mid_lists[${l.class}] = lists[${l.class}]'s head`;
    },
  ],
  // a free frame on no list: unlinked properly, so that only the count is wrong
  [
    'ZEE_C_LIST_COUNT',
    'a free frame unlinked from its list',
    (z, s, r) => {
      const f = pick(
        r,
        s.blocks.filter((x) => x.state === 'free'),
      );
      if (!f) return null;
      const next = word(z, f.address),
        prev = word(z, f.address + 4);
      const { mid, c } = listFor(z, f.address, f.size);
      if (prev) word(z, prev, next);
      else word(z, stateWord(z, mid ? 'midLists' : 'lists', c), next);
      if (next) word(z, next + 4, prev);
      return `${hex(f.address)} unlinked`;
    },
  ],
  // the running totals
  [
    'ZEE_C_TOTALS',
    'used_bytes + 16',
    (z) => (word(z, stateWord(z, 'usedBytes'), word(z, stateWord(z, 'usedBytes')) + 16), 'used_bytes'),
  ],
  [
    'ZEE_C_TOTALS',
    'used_blocks - 1',
    (z) => (word(z, stateWord(z, 'usedBlocks'), word(z, stateWord(z, 'usedBlocks')) - 1), 'used_blocks'),
  ],
  [
    'ZEE_C_TOTALS',
    'the peak below the bytes in use',
    (z) => {
      const used = word(z, stateWord(z, 'usedBytes'));
      return used ? (word(z, stateWord(z, 'peakBytes'), used - 1), 'peak_bytes') : null;
    },
  ],
  // slabs and their lists
  [
    'ZEE_C_SLAB',
    "a slot's check word",
    (z, s, r) => {
      const b = pick(
        r,
        s.blocks.filter((x) => x.slab),
      );
      return b && (word(z, b.address - 4, word(z, b.address - 4) ^ 0x200), `slot ${hex(b.address)}`);
    },
  ],
  [
    'ZEE_C_SLAB',
    "a slab's count of slots in use + 1",
    (z, s, r) => {
      const b = pick(r, s.slabs);
      return b && (word(z, b.address + 8, b.usedSlots + 1), `count of ${hex(b.address)}`);
    },
  ],
  [
    'ZEE_C_SLAB',
    "an open slab's free list emptied",
    (z, s, r) => {
      const b = pick(
        r,
        s.slabs.filter((x) => x.freeSlots),
      );
      return b && (word(z, b.address + 12, 0), `free list of ${hex(b.address)}`);
    },
  ],
  [
    'ZEE_C_SLAB',
    'a slab list emptied (its open slabs on no list)',
    (z, s, r) => {
      const l = pick(
        r,
        s.slabLists.filter((x) => x.members.length),
      );
      return l && (word(z, stateWord(z, 'slabs', l.index), 0), `slab list ${l.index}`);
    },
  ],
  [
    'ZEE_C_SLAB',
    'a full slab pushed on its list',
    (z, s, r) => {
      const b = pick(
        r,
        s.slabs.filter((x) => !x.freeSlots),
      );
      if (!b) return null;
      const at = stateWord(z, 'slabs', b.slotSize / 16),
        head = word(z, at);
      word(z, b.address, head);
      word(z, b.address + 4, 0);
      if (head) word(z, head + 4, b.address);
      word(z, at, b.address);
      return `full slab ${hex(b.address)} listed`;
    },
  ],
  [
    'ZEE_C_SLAB',
    "a slab's size doubled",
    (z, s, r) => {
      const b = pick(
        r,
        s.slabs.filter((x) => x.size < 32768),
      );
      return b && (setMeta(z, b.address, 2 * b.size, LAYOUT.TAG_SLAB), `slab ${hex(b.address)} doubled`);
    },
  ],
];

describe('every rule, deliberately: validate() and zee_check() name it first', () => {
  const seed = seedFromEnv();
  beforeAll(() => console.log(`inspect differential (deliberate): seed ${seed} (replay with ZEE_SEED=${seed})`));
  test.each(DELIBERATE.map(([rule, name, fn], i) => [rule, name, fn, i]))(
    '%s: %s',
    async (rule, name, fn, i) => {
      const r = lcg(seed + i);
      let hits = 0;
      for (let h = 0; h < RULE_HEAPS; h++) {
        const z = await randomHeap(r);
        const s0 = snapshot(z);
        expect([s0.violations, z.check()]).toEqual([[], 0]);
        const what = fn(z, s0, r);
        if (what === null) continue;
        hits++;
        const { c, first, s } = verdicts(z);
        if (c !== rule || first !== rule)
          throw new Error(
            `heap ${h} (seed ${seed}): after ${what}, zee_check() says ${c}, validate() ${first} (${s.violations[0]?.message}); expected ${rule}`,
          );
      }
      // The heaps have targets for every damage (foreign blocks and full slabs are the rarest).
      expect(hits).toBeGreaterThanOrEqual(/foreign block|full slab/.test(name) ? 1 : RULE_HEAPS / 2);
    },
    60000,
  );
});

// ---- random damage --------------------------------------------------------

// Writes one damage; returns a description for failure messages.
function damage(z, s, r) {
  const u8 = z.HEAPU8;
  const change = (a) => {
    const old = word(z, a),
      how = r();
    word(
      z,
      a,
      how < 0.3 ? 0 : how < 0.6 ? old ^ (1 << r.int(0, 31)) : how < 0.8 ? old + 16 : Math.floor(r() * 2 ** 32),
    );
    return `word ${hex(a)}: ${hex(old)} -> ${hex(word(z, a))}`;
  };
  const blocks = s.blocks.filter((b) => b.state !== 'corrupt');
  const free = blocks.filter((b) => b.state === 'free' || b.state === 'free-slot');
  const kind = r.pick([
    'header',
    'header',
    'link',
    'pool',
    'size',
    'counter',
    'head',
    'cursor',
    'bounds',
    'top word',
    'slab',
    'slab head',
    'other set',
  ]);
  if (kind === 'header') {
    const b = r.pick(blocks);
    return `header of ${b.state} ${hex(b.address)}, ${change(b.address - 8 + 4 * r.int(0, 1))}`;
  }
  if (kind === 'link' && free.length) {
    const b = r.pick(free);
    return `link of ${b.state} ${hex(b.address)}, ${change(b.address + 4 * r.int(0, 1))}`;
  }
  if (kind === 'pool') {
    // a byte of the pool map: the page's bit and the 7 pages beside it
    const a = s.pages[r.int(0, s.pages.length - 1)].address,
      at = s.poolMap + (a >>> 19),
      old = u8[at];
    u8[at] = r.pick([0, 1 << ((a >>> 16) & 7), 0x55, 255]);
    return `pool map byte of ${hex(a)}: ${old} -> ${u8[at]}`;
  }
  if (kind === 'size') {
    // a size changed by a granule or doubled, with a matching check word: only the size is wrong
    const b = r.pick(blocks),
      info = word(z, b.address - 8),
      size = (info & ~15) >>> 0,
      next = r() < 0.7 ? info + (r() < 0.5 ? 16 : -16) : info + size;
    word(z, b.address - 8, next);
    word(z, b.address - 4, next ^ b.address ^ LAYOUT.SALT);
    return `size of ${b.state} ${hex(b.address)}: ${hex(info)} -> ${hex(word(z, b.address - 8))}`;
  }
  // a slab's words: next, prev (links of its list), used, free (its first free slot)
  if (kind === 'slab' && s.slabs.length) {
    const b = r.pick(s.slabs);
    return `word of slab ${hex(b.address)}, ${change(b.address + 4 * r.int(0, 3))}`;
  }
  if (kind === 'slab head' && s.slabs.length) {
    const i = r() < 0.8 ? r.pick(s.slabs).slotSize / 16 : r.int(0, LAYOUT.SLAB_LISTS - 1);
    return `head of slab list ${i}, ${change(stateWord(z, 'slabs', i))}`;
  }
  if (kind === 'cursor') return `cursor, ${change(stateWord(z, 'cursor'))}`;
  if (kind === 'counter') return `counter, ${change(stateWord(z, r.pick(['usedBytes', 'usedBlocks', 'peakBytes'])))}`;
  if (kind === 'top word') return `word at heap_end - 8, ${change(s.heapEnd - 8)}`;
  // Why not any value: zee_check() reads the word at heap_end - 8 once
  // heap_end passes its other bounds, so a heap_end past the memory would
  // trap it (the inspector checks it against the memory's size).
  if (kind === 'bounds') {
    const [field, v] = r.pick([
      ['heapEnd', s.heapEnd - PAGE],
      ['heapEnd', s.heapEnd ^ (16 << r.int(0, 11))],
      ['heapStart', s.heapStart + 16 * r.int(1, 4)],
      ['heapStart', s.heapStart - 16],
      ['heapStart', s.heapStart + 8],
    ]);
    const old = word(z, stateWord(z, field));
    word(z, stateWord(z, field), v);
    return `${field}: ${hex(old)} -> ${hex(v)}`;
  }
  // a frame of one pool listed on the other pool's list of its class (lists <-> mid_lists)
  if (kind === 'other set') {
    const [from, to] = r() < 0.5 ? ['lists', 'midLists'] : ['midLists', 'lists'];
    const c = r.int(0, LAYOUT.POOL_CLASSES - 1),
      old = word(z, stateWord(z, to, c));
    word(z, stateWord(z, to, c), word(z, stateWord(z, from, c)));
    return `head of ${to}[${c}]: ${hex(old)} -> ${from}[${c}]'s head ${hex(word(z, stateWord(z, to, c)))}`;
  }
  const [set, n] = r() < 0.7 ? ['lists', LAYOUT.CLASSES] : ['midLists', LAYOUT.POOL_CLASSES];
  const c = r.int(0, n - 1);
  return `head of ${set}[${c}] (${16 << c} B), ${change(stateWord(z, set, c))}`;
}

test(`${ROUNDS} heaps, one random damage each: validate() and zee_check() name the same rule; nothing throws or traps`, async () => {
  const seed = seedFromEnv();
  console.log(`inspect differential (random): seed ${seed}, ${ROUNDS} heaps (replay with ZEE_SEED=${seed})`);
  const r = lcg(seed);
  const tally = {};
  const slotSizes = new Set();
  let withMid = 0,
    withForeign = 0,
    withBig = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const z = await randomHeap(r);
    const s0 = snapshot(z);
    expect(s0.violations).toEqual([]);
    if (s0.midLists.some((l) => l.members.length)) withMid++;
    if (s0.blocks.some((b) => b.state === 'foreign')) withForeign++;
    if (s0.freeLists.some((l) => l.class >= LAYOUT.POOL_CLASSES && l.members.length)) withBig++;
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
    `inspect differential: ${JSON.stringify(tally)}; ${slotSizes.size} slot sizes; ${withMid} heaps with mid-pool frames listed, ${withForeign} with foreign blocks, ${withBig} with free frames of 64 KiB or more`,
  );
  // most damage is seen, and by several rules (a damage can also be a no-op: a link set to itself...)
  expect(ROUNDS - (tally.ZEE_C_OK ?? 0)).toBeGreaterThan(ROUNDS / 2);
  expect(Object.keys(tally).length).toBeGreaterThanOrEqual(7);
  // slabs of most of the 58 slot sizes (48 .. 1,040 B), and their damage seen by both
  expect(slotSizes.size).toBeGreaterThan(40);
  expect(tally.ZEE_C_SLAB).toBeGreaterThan(ROUNDS / 20);
  // the heaps hold frames of both pools and of 64 KiB and more, so damage reaches every list
  expect(withMid).toBeGreaterThan(ROUNDS / 2);
  expect(withBig).toBeGreaterThan(ROUNDS / 2);
  expect(withForeign).toBeGreaterThan(0);
}, 300000);
