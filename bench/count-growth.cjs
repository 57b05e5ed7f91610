// Preloaded (node --require) into every benchmark run by bench/run.mjs:
// counts the calls that grow a WebAssembly memory, before the Emscripten glue
// loads the module.  Emscripten's emscripten_resize_heap (which sbrk and
// zee_alloc both use) grows through WebAssembly.Memory.prototype.grow, so
// every growth of the heap passes here.  At exit it prints one JSON line,
//   {"grow_calls":N,"grow_failures":N,"grown_bytes":N}
// after the program's own output; run.mjs reads it.
'use strict';
const { writeSync } = require('node:fs');

const grow = WebAssembly.Memory.prototype.grow;
let calls = 0;
let failures = 0;
let pages = 0;
WebAssembly.Memory.prototype.grow = function countedGrow(delta) {
  try {
    const old = grow.call(this, delta);
    calls++;
    pages += Number(delta);
    return old;
  } catch (e) {
    failures++; // a refused growth (over the maximum): the caller sees the same error
    throw e;
  }
};

process.on('exit', () => {
  writeSync(1, `${JSON.stringify({ grow_calls: calls, grow_failures: failures, grown_bytes: pages * 65536 })}\n`);
});
