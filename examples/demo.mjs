// The allocator at work: `./run demo` (or `npm run demo` after `npm run build`).
// Allocates a mix of sizes, frees some, reallocs, and prints where each
// block landed: its block (n + 8 rounded to 16, so n <= usable <= n + 15),
// what it occupies (a slot in a slab, a power-of-two frame, or exactly its
// size), the pool of its page, and the heap's running totals.
import { ZeeAlloc } from '../js/zee_alloc.mjs';
import { LAYOUT } from '../js/layout.mjs';

const hex = (n) => '0x' + n.toString(16).padStart(6, '0');
const kib = (n) => (n >= 1024 ? `${+(n / 1024).toFixed(1)} KiB` : `${n} B`);

const z = await ZeeAlloc.create();
// The pool of the page holding address a: one bit per page in the pool map,
// page i at bit i % 32 of word i / 32 (docs/layout.md "Free frames and the
// two pools").  A block cut from whole pages gives its pool to the page where
// it ends, so that is the page asked.
const pool = (a) => {
  const map = z.HEAPU32[(z.stateAddress >>> 2) + 5]; // zee_heap_info_t.pool_map
  const page = a >>> 16;
  return ((z.HEAPU32[(map >>> 2) + (page >>> 5)] >>> (page & 31)) & 1) === LAYOUT.POOL_MID ? 'mid' : 'small';
};
const describe = (p) => {
  const info = z.HEAPU32[(p - 8) >>> 2]; // the header at p - 8: size | tag
  const size = (info & ~LAYOUT.TAG_MASK) >>> 0;
  if ((info & LAYOUT.TAG_MASK) === LAYOUT.TAG_SLOT) {
    // a slot: its slab is the power of two >= 4 x its size (at least 512 B), aligned to it
    const slab = Math.max(LAYOUT.SLAB_MIN, 2 ** Math.ceil(Math.log2(LAYOUT.SLAB_SLOTS * size)));
    return `a ${kib(size)} slot in the ${kib(slab)} slab at ${hex(p & -slab)}`;
  }
  if (size <= LAYOUT.ROUND_MAX)
    return `a ${kib(size)} block in a ${kib(2 ** Math.ceil(Math.log2(size)))} frame (${pool(p)} pool)`;
  return `a ${kib(size)} block, exactly (${pool(p + size - 8)} pool)`;
};

/** The running totals (O(1): read from the allocator's state, never a walk). */
function totals() {
  const t = z.stats();
  return (
    `heap ${kib(t.heapBytes)} (${t.pages} pages), in use ${kib(t.usedBytes)} in ${t.usedBlocks} blocks, ` +
    `peak ${kib(t.peakBytes)}, memory ${kib(t.memoryBytes)}`
  );
}

console.log('zee_alloc demo: a request of n bytes is a block of n + 8 rounded to 16 (its 8 B header included)\n');
const live = [];
const step = (label, p, n) => {
  console.log(
    `${label.padEnd(33)} -> ${hex(p)}  ${describe(p)}${n !== undefined ? `, usable ${kib(z.usableSize(p))}` : ''}`,
  );
};
for (const n of [0, 8, 9, 24, 100, 1000, 4000, 5000, 32760, 65536, 200000, 1 << 20]) {
  const p = z.malloc(n);
  z.HEAPU8.fill(0x5a, p, p + n);
  live.push(p);
  step(`malloc(${n})`, p, n);
}
console.log(`\nheap starts at ${hex(z.stats().heapStart)}; ${totals()}\n`);
console.log(z.renderText());

const a = z.alignedAlloc(4096, 100);
step('aligned_alloc(4096, 100)', a, 100);
const b = z.alignedAlloc(1 << 18, 100);
step('aligned_alloc(256 KiB, 100)', b, 100);
const b2 = z.realloc(b, 500000);
step('realloc(256 KiB-aligned, 500000)', b2, 500000);
console.log(
  `  ${b2 === b ? 'grew in place over the free frames after it' : 'moved: the free frames after it were too few (a block never grows over new memory, which holes below might have spared)'}`,
);
const c = z.calloc(100, 40);
step('calloc(100, 40)', c, 4000);

const hole = live[7]; // the 5,000 B block
z.free(hole);
const d = z.malloc(4800);
step('free(5000 B), then malloc(4800)', d, 4800);
console.log(`  ${d === hole ? 'took the hole the freed block left' : 'went elsewhere'}`);

const d2 = z.realloc(d, 4990);
step('realloc(.., 4990)', d2, 4990);
console.log(`  ${d2 === d ? 'grew in place over the free frames after it: the rest of the hole' : 'moved'}`);

console.log('\nfree everything: the frames merge back with their free buddies');
for (const p of [...live.filter((p) => p !== hole), a, b2, c, d2]) z.free(p);
console.log(totals());
console.log(`zee_check() = ${z.check()} (0: every layout rule holds)`);

try {
  z.free(live[3]);
} catch (e) {
  console.log(`\nfree() of a freed pointer throws: ${e.name} ${e.code}: ${e.message}`);
}
