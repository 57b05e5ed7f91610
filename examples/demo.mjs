// The allocator at work: `./run demo` (or `npm run demo` after `npm run build`).
// Allocates a mix of sizes, frees some, reallocs, and prints where each
// block landed: its exact size (n + 8 rounded to 16 for a small block or a
// slot, n rounded to 16 for a large one), its page, and how the heap's pages
// are used.
import { ZeeAlloc } from '../js/zee_alloc.mjs';

const PAGE = 65536;
const hex = (n) => '0x' + n.toString(16).padStart(6, '0');
const kib = (n) => (n >= 1024 ? `${+(n / 1024).toFixed(1)} KiB` : `${n} B`);

const z = await ZeeAlloc.create();
const describe = (p) => {
  const info = z.HEAPU32[(p - 8) >>> 2]; // the header at p - 8: size | tag
  const size = (info & ~15) >>> 0,
    page = hex((p - 8) & ~(PAGE - 1));
  if ((info & 15) === 5)
    return `large ${kib(size)}: ${kib(PAGE - (p % PAGE || PAGE))} in the top of page ${page} + ${Math.floor(size / PAGE)} page(s)`;
  if ((info & 15) === 15) {
    // a slot: its slab is the power of two >= 4 x its size (at least 512 B), aligned to it
    const slab = Math.max(512, 2 ** Math.ceil(Math.log2(4 * size)));
    return `slot ${kib(size)} in the ${kib(slab)} slab at ${hex(p & -slab)}, page ${page}`;
  }
  return `small ${kib(size)} in page ${page}`;
};

/** Pages the allocator owns, by kind: the running totals (O(1)). */
function pages() {
  const t = z.stats();
  return (
    `small pages ${t.smallPages}, pages inside large blocks ${t.largePages}, free pages ${t.freePages}, ` +
    `in use ${kib(t.usedBytes)} in ${t.usedBlocks} blocks, memory ${kib(t.memoryBytes)}`
  );
}

console.log('zee_alloc demo: every block costs its size rounded to 16 B (plus an 8 B header for small ones)\n');
const live = [];
const step = (label, p, n) => {
  console.log(
    `${label.padEnd(33)} -> ${hex(p)}  ${describe(p)}${n !== undefined ? `, usable ${kib(z.usableSize(p))}` : ''}`,
  );
};
for (const n of [0, 8, 9, 24, 100, 1000, 4000, 32760, 32761, 65536, 200000, 1 << 20]) {
  const p = z.malloc(n);
  z.HEAPU8.fill(0x5a, p, p + n);
  live.push(p);
  step(`malloc(${n})`, p, n);
}
console.log(`\nheap starts at ${hex(z.stats().heapStart)}; ${pages()}\n`);
console.log(z.renderText());

const a = z.alignedAlloc(4096, 100);
step('aligned_alloc(4096, 100)', a, 100);
const b = z.alignedAlloc(1 << 18, 100);
step('aligned_alloc(256 KiB, 100)', b, 100);
const c = z.calloc(100, 40);
step('calloc(100, 40)', c, 4000);

const r = z.malloc(120); // 128 B: a frame of its own (a slot would move)
step('malloc(120)', r, 120);
const r2 = z.realloc(r, 1000);
step('realloc(.., 1000)', r2, 1000);
console.log(`  ${r2 === r ? 'grew in place over the free frames after it' : 'moved: the frames after it are in use'}`);
const b2 = z.realloc(b, 500000);
step('realloc(256 KiB-aligned, 500000)', b2, 500000);
console.log(`  ${b2 === b ? 'grew in place: it ends at the top of memory, which grew under it' : 'moved'}`);

console.log('\nfree everything');
for (const p of [...live, a, b2, c, r2]) z.free(p);
console.log(`${pages()}`);
z.trim();
console.log(`after zee_trim(): ${pages()}`);
console.log(`zee_check() = ${z.check()} (0: every layout rule holds)`);

try {
  z.free(live[3]);
} catch (e) {
  console.log(`\nfree() of a freed pointer throws: ${e.name} ${e.code}: ${e.message}`);
}
