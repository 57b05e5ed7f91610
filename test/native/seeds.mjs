#!/usr/bin/env node
// Writes the hand-made seeds of the fuzz corpus (test/native/corpus/seed-*).
// Input format (harness.c): 4 header bytes [config, cap, base/initial, flags],
// then per call: opcode, slot, arguments.  `node test/native/seeds.mjs`
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'corpus');
const CONFIGS = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'configs.h'), 'utf8').match(/^\s*X\(/gm).length;

// Size encodings of harness.c take_size(): [a, b].
const pow2 = (k, delta = 0) => [k & 15, delta + 9];           // 2^k + delta, |delta| <= 9
const small = (n) => [64 | (n >> 8), n & 255];                  // 0 .. 16383
const jumbo = (pages, delta = 0) => [128 | (pages - 1), delta >= 0 ? delta : 127 - delta];
const special = (i) => [192, i];                                // SPECIAL_SIZES[i]

const malloc = (slot, size) => [0, slot, ...size];
const calloc = (slot, shape, size) => [2, slot, shape, ...size];
const realloc = (slot, size) => [3, slot, ...size];
const memalign = (slot, align, size) => [5, slot, align, ...size];
const free = (slot) => [6, slot];
const trim = () => [8, 0];
const foreign = (pages) => [9, 0, pages - 1];
const failNext = (n) => [10, 0, n - 1];
const freeMany = (phase) => [11 | (phase << 4), 0];

// Every class, both sides of each boundary, jumbo sizes, aligned requests.
function classes() {
  const ops = [];
  let slot = 0;
  for (let k = 0; k <= 15; k++) for (const d of [-9, -8, 0, 1]) ops.push(malloc(slot++ % 48, pow2(k, d)));
  for (const p of [1, 2, 3, 16, 17]) for (const d of [-1, 0, 1]) ops.push(malloc(slot++ % 48, jumbo(p, d)));
  for (let i = 0; i < 48; i += 2) ops.push(free(i));
  for (let a = 0; a < 24; a += 3) ops.push(memalign(slot++ % 48, a, small(100)));
  ops.push(memalign(1, 16, jumbo(2)), memalign(2, 220, small(10)), memalign(3, 208, small(10)));
  return ops;
}

// realloc up and down across classes and into and out of jumbo blocks.
function reallocs() {
  const ops = [malloc(0, small(10)), malloc(1, small(10))];
  for (let k = 4; k <= 15; k++) ops.push(realloc(0, pow2(k, -8)), realloc(1, pow2(k, 0)));
  ops.push(realloc(0, jumbo(3)), realloc(0, jumbo(1)), realloc(0, jumbo(5, 3)), realloc(0, small(40)));
  ops.push(realloc(2, small(0)), realloc(1, special(0)), realloc(1, special(21)));
  ops.push(calloc(5, 3, small(3000)), calloc(6, 250, small(10)), calloc(7, 0, jumbo(2)));
  return ops;
}

// Memory pressure: refused growth, foreign pages in between, big requests.
function pressure() {
  const ops = [];
  for (let i = 0; i < 12; i++) ops.push(malloc(i, jumbo(1 + (i % 4))));
  ops.push(foreign(2), malloc(20, jumbo(2)), failNext(2), malloc(21, jumbo(1)), malloc(22, small(100)));
  ops.push(freeMany(0), trim(), foreign(1), malloc(23, jumbo(6)), special(18), malloc(24, special(24)));
  for (let i = 0; i < 12; i++) ops.push(realloc(i, jumbo(2 + (i % 3))));
  ops.push(freeMany(1), freeMany(2), trim());
  return ops;
}

const seeds = [];
for (let c = 0; c < CONFIGS; c++) {
  seeds.push([`seed-classes-${c}`, [c, 40, 0x04 | (c << 3 & 0x18), 0x80], classes()]);
  seeds.push([`seed-realloc-${c}`, [c, 40, 0x21, 0x41], reallocs()]);
  seeds.push([`seed-pressure-${c}`, [c, 8, 0x42, 0x02 | 0x10], pressure()]);
}
mkdirSync(dir, { recursive: true });
for (const [name, header, ops] of seeds) writeFileSync(join(dir, name), Buffer.from([...header, ...ops.flat()]));
console.log(`wrote ${seeds.length} seeds to ${dir}`);
