#!/usr/bin/env node
// Writes the hand-made seeds of the fuzz corpus (test/native/corpus/seed-*),
// one of each kind per build of the core (test/native/configs.h), and removes
// seed-* files it no longer writes.  `node test/native/seeds.mjs`
// Input format (harness.c): 4 header bytes [config, cap, base/initial, flags],
// then per call: opcode, slot, arguments.
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dir = join(here, 'corpus');
const CONFIGS = readFileSync(join(here, 'configs.h'), 'utf8').match(/^\s*X\(/gm).length;
const PAGE = 65536;

// Size encodings of harness.c take_size(): [a, b].
const pow2 = (k, delta = 0) => [k & 15, delta + 9]; // 2^k + delta, |delta| <= 9
const small = (n) => [64 | (n >> 8), n & 255]; // 0 .. 16383
const pages = (p, delta = 0) => [128 | (p - 1), delta >= 0 ? delta : 127 - delta]; // p pages + delta, |delta| <= 128
const special = (i) => [192, i]; // SPECIAL_SIZES[i]
const steps = (n) => {
  // the multiple of 13 nearest n, up to 104 KiB: blocks of any remainder
  const v = Math.round(n / 13);
  if (v >= 8192) throw new Error(`steps(${n}): too large`);
  return [224 | (v >> 8), v & 255];
};

// Opcodes: op % 12 selects the call, op >> 4 its variant.
const opcode = (call, variant = 0) => {
  for (let op = call; op < 256; op += 12) if (op >> 4 === variant) return op;
  throw new Error(`no opcode for call ${call}, variant ${variant}`);
};
const malloc = (slot, size) => [0, slot, ...size];
const calloc = (slot, shape, size) => [2, slot, shape, ...size];
const realloc = (slot, size) => [3, slot, ...size];
const memalign = (slot, align, size) => [5, slot, align, ...size]; // align byte: 1 << (a % 24) below 208
const free = (slot) => [6, slot];
const probe = (slot, call, at) => [opcode(7, call), slot, at]; // call 0 free, 1 realloc, 2 usable size
// The pick-th address in the heap that is no live block (free frame, free
// slot, slab, foreign block; the last two: just below and at the heap's end).
const structure = (call, pick) => [opcode(8, call), 0, pick & 255, pick >> 8];
const foreign = (n) => [9, 0, n - 1];
const failNext = (n) => [10, 0, n - 1];
const freeMany = (phase) => [opcode(11, phase), 0]; // slots phase, phase + 5, ...

// Every class, both sides of each boundary, blocks of pages, aligned requests.
function classes() {
  const ops = [];
  let slot = 0;
  for (let k = 0; k <= 15; k++) for (const d of [-9, -8, 0, 1]) ops.push(malloc(slot++ % 48, pow2(k, d)));
  // 32759 .. 32768, 16376 .. 32745, 65519 .. 65521; around ZEE_SLAB_MAX,
  // ZEE_ROUND_MAX, ZEE_POOL_MIN, the smallest slab, a page and two pages
  for (const i of [6, 7, 8, 9, 25, 26, 27, 28, 29, 30, 31, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46])
    ops.push(malloc(slot++ % 48, special(i)));
  for (const p of [1, 2, 3, 16, 17]) for (const d of [-1, 0, 1]) ops.push(malloc(slot++ % 48, pages(p, d)));
  for (let i = 0; i < 48; i += 2) ops.push(free(i));
  for (let a = 0; a < 24; a += 3) ops.push(memalign(slot++ % 48, a, small(100)));
  ops.push(memalign(1, 16, pages(2)), memalign(2, 220, small(10)), memalign(3, 208, small(10)));
  return ops;
}

// realloc up and down across classes, into and out of slots and blocks of pages.
function reallocs() {
  const ops = [malloc(0, small(10)), malloc(1, small(10))];
  for (let k = 4; k <= 15; k++) ops.push(realloc(0, pow2(k, -8)), realloc(1, pow2(k, 0)));
  ops.push(realloc(0, pages(3)), realloc(0, pages(1)), realloc(0, pages(5, 3)), realloc(0, small(40)));
  ops.push(realloc(2, small(0)), realloc(1, special(0)), realloc(1, special(21)));
  ops.push(calloc(5, 3, small(3000)), calloc(6, 250, small(10)), calloc(7, 0, pages(2)));
  return ops;
}

// Memory pressure: refused growth, foreign pages in between, big requests.
function pressure() {
  const ops = [];
  for (let i = 0; i < 12; i++) ops.push(malloc(i, pages(1 + (i % 4))));
  ops.push(foreign(2), malloc(20, pages(2)), failNext(2), malloc(21, pages(1)), malloc(22, small(100)));
  ops.push(freeMany(0), foreign(1), malloc(23, pages(6)), malloc(24, special(18)), malloc(24, special(24)));
  for (let i = 0; i < 12; i++) ops.push(realloc(i, pages(2 + (i % 3))));
  ops.push(freeMany(1), freeMany(2));
  return ops;
}

// Exact blocks (above ZEE_ROUND_MAX): runs packed after the cursor, holes
// reused, the bottoms of frames, the top of the heap; in-place growth and
// shrinking; alignments up to 64 KiB; slots and frames around them.
function exact() {
  const ops = [malloc(0, small(100))];
  let slot = 1;
  for (const r of [4089, 5000, 8184, 12000, 32768, 40000, 49152, 65520, 33000, 45000])
    ops.push(malloc(slot++, steps(r)), malloc(slot++, small(200)));
  for (const n of [PAGE + 16, PAGE + 40000, 106000]) ops.push(malloc(slot++, steps(n)));
  ops.push(malloc(slot++, pages(2, -16)));
  ops.push(free(2), free(4), free(6), malloc(slot++, steps(9000)), malloc(slot++, steps(36000)));
  for (const n of [80000, 100000, 3 * PAGE, 50000, 70000]) ops.push(realloc(1, steps(Math.min(n, 106000))));
  ops.push(realloc(3, pages(4, 100)), realloc(3, pages(2, -100)), realloc(3, pages(7)), realloc(3, small(2000)));
  ops.push(
    memalign(34, 16, small(100)),
    memalign(35, 17, steps(50000)),
    memalign(36, 20, pages(2)),
    memalign(37, 15, steps(70000)),
    memalign(38, 12, small(5000)),
  );
  ops.push(freeMany(0), freeMany(3), malloc(40, steps(20000)), malloc(41, steps(20000)), freeMany(1));
  return ops;
}

// Slots: every slab size, slabs filled and emptied (an empty slab is freed),
// realloc within a slot size (in place) and to others (moves), blocks
// resized to slot sizes, aligned requests of slot sizes (no slot).
function slabs() {
  const ops = [];
  let slot = 0;
  for (const n of [24, 40, 88, 120, 136, 248, 504, 520, 1000, 1032]) ops.push(malloc(slot++, small(n)));
  for (let i = 0; i < 12; i++) ops.push(malloc(slot++, small(40)));
  for (let i = 10; i < 22; i += 2) ops.push(free(i));
  ops.push(realloc(1, small(36)), realloc(1, small(60)), realloc(2, small(1032)), realloc(9, small(1033)));
  ops.push(malloc(30, small(2000)), realloc(30, small(500)), malloc(31, pages(1)), realloc(31, small(1000)));
  ops.push(memalign(32, 5, small(40)), memalign(33, 6, small(100)), memalign(34, 3, small(1000)));
  for (let i = 11; i < 22; i += 2) ops.push(free(i));
  ops.push(structure(0, 0), structure(1, 3), structure(2, 7), freeMany(0), freeMany(2));
  return ops;
}

// Someone else grows the memory between the heap's growths: blocks grown in
// place up to and past the heap's end, the top of the heap taken past the
// foreign pages, and the foreign blocks probed.
function foreignGrowth() {
  const ops = [malloc(0, steps(40000)), foreign(1), realloc(0, steps(70000)), malloc(1, pages(2))];
  ops.push(foreign(2), malloc(2, pages(1, 100)), realloc(1, pages(5)), realloc(2, pages(3)), foreign(1));
  ops.push(memalign(3, 17, pages(1)), malloc(4, small(3000)));
  for (let pick = 0; pick < 40; pick += 3) ops.push(structure(pick % 3, pick));
  ops.push(freeMany(0), freeMany(1), freeMany(2), freeMany(3), freeMany(4));
  return ops;
}

// Holes: many blocks of one size, every other one freed, then a size just
// above it (reuses a hole) and the rest.
function holes() {
  const ops = [];
  for (let i = 0; i < 40; i++) ops.push(malloc(i, small(40)));
  for (let i = 0; i < 40; i += 2) ops.push(free(i));
  for (let i = 0; i < 40; i += 4) ops.push(malloc(i, small(80)));
  for (let i = 1; i < 40; i += 4) ops.push(realloc(i, small(100)));
  for (let i = 0; i < 40; i++) ops.push(free(i));
  return ops;
}

// Interior pointers of slots, blocks in frames and blocks of pages, through
// each checked call; the addresses of everything else in the heap; and a
// foreign growth before the first allocation.
function probes() {
  const ops = [
    foreign(1),
    malloc(0, small(100)),
    malloc(1, steps(40000)),
    malloc(2, pages(2, 50)),
    malloc(3, pages(3)),
  ];
  for (const slot of [0, 1, 2, 3])
    for (const call of [0, 1, 2]) for (const at of [0, 100, 128, 250, 192, 193]) ops.push(probe(slot, call, at));
  ops.push(free(1), probe(0, 2, 5), malloc(1, small(24)), probe(1, 2, 0));
  for (let pick = 0; pick < 30; pick++) ops.push(structure(pick % 3, pick * 7));
  ops.push(freeMany(0));
  return ops;
}

const kinds = { classes, realloc: reallocs, pressure, exact, slabs, foreign: foreignGrowth, holes, probes };
const headers = (c) => ({
  classes: [c, 40, 0x04 | ((c << 3) & 0x18), 0x80], // odd base offset, paranoid
  realloc: [c, 40, 0x21, 0x41], // one page to start, junk, whole usable sizes
  pressure: [c, 8, 0x42, 0x02 | 0x10], // small cap, overcommit, refusals
  exact: [c, 60, 0x20, 0x40], // one page to start, whole usable sizes
  slabs: [c, 20, 0x05, 0xc1], // base 8 past a page, paranoid, whole usable sizes, junk
  foreign: [c, 40, 0x20, 0x00], // one page to start
  holes: [c, 20, 0x01, 0x80], // no page to start, paranoid
  probes: [c, 30, 0x00, 0x01], // no page to start, junk
});

const seeds = [];
for (let c = 0; c < CONFIGS; c++)
  for (const [kind, make] of Object.entries(kinds)) seeds.push([`seed-${kind}-${c}`, headers(c)[kind], make()]);
mkdirSync(dir, { recursive: true });
const written = new Set(seeds.map(([name]) => name));
let removed = 0;
for (const f of readdirSync(dir)) if (f.startsWith('seed-') && !written.has(f)) (unlinkSync(join(dir, f)), removed++);
for (const [name, header, ops] of seeds) writeFileSync(join(dir, name), Buffer.from([...header, ...ops.flat()]));
console.log(`wrote ${seeds.length} seeds to ${dir}, removed ${removed} stale ones`);
