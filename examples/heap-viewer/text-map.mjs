#!/usr/bin/env node
// Prints a text heap map of a small scripted heap (the example in docs/inspector.md):
//   node examples/heap-viewer/text-map.mjs [columns]      (needs `npm run build`)
// Small blocks of several sizes, some freed, a block of 100,000 B (it spans
// pages: the heap is one buddy space), 60 blocks of 1000 B (slots of 1,008 B,
// four to a 4 KiB slab) with every third freed, then validate(); and the
// blocks of the first page, listed one per line (renderText's `page` option).
import { ZeeAlloc } from '../../js/zee_alloc.mjs';
import { snapshot, validate, renderText } from '../../js/inspect.mjs';

const columns = Number(process.argv[2] ?? 80);
if (!Number.isInteger(columns) || columns < 60) {
  console.error(`text-map.mjs: columns must be a whole number >= 60, got "${process.argv[2]}"`);
  process.exit(2);
}
const z = await ZeeAlloc.create({ initialPages: 8 });
const small = [24, 100, 1000, 5000, 5, 200].map((n) => z.malloc(n));
const large = z.malloc(100000);
z.free(small[1]);
z.free(small[3]);
const big = z.malloc(20000);
const row = Array.from({ length: 60 }, () => z.malloc(1000));
row.forEach((p, i) => {
  if (i % 3 === 0) z.free(p);
});

const snap = snapshot(z);
process.stdout.write(renderText(snap, { columns }));
const { ok, violations } = validate(z);
console.log(`validate(): ${ok ? 'ok' : `${violations.length} violations`}; zee_check(): ${z.check()}`);
console.log(`blocks: ${[...small, large, big].map((p) => '0x' + p.toString(16)).join(' ')}`);
console.log();
process.stdout.write(renderText(snap, { columns, page: snap.heapStart }).split('\n').slice(3).join('\n')); // without the totals again
