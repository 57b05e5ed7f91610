#!/usr/bin/env node
// Runs the heap-map app and prints its heap map after every step.
//   node examples/heap-map-app/run.mjs [build dir]   (default build/emscripten/heap-map-app)
// The map comes from js/inspect.mjs, which reads the allocator's structures
// straight from the app's memory (Module.HEAPU8 + the exported _zee_heap_info);
// each step is cross-checked against the allocator's own numbers.  Exits 1 if
// a check fails.
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const buildDir = resolve(process.argv[2] ?? join(here, '../../build/emscripten/heap-map-app'));
const glue = join(buildDir, 'heap-map-app.js');
if (!existsSync(glue)) {
  console.error(
    `run.mjs: ${glue} not found; build it first:\n` +
      '  emcmake cmake -S examples/heap-map-app -B build/emscripten/heap-map-app && cmake --build build/emscripten/heap-map-app',
  );
  process.exit(2);
}

// The inspector is optional at run time: without it, fall back to zee_check().
let inspect = null;
try {
  inspect = await import('../../js/inspect.mjs');
} catch (e) {
  if (e.code !== 'ERR_MODULE_NOT_FOUND') throw e;
  console.log('(js/inspect.mjs not found: printing zee_check() only)');
}

const createHeapMapApp = createRequire(import.meta.url)(glue);
// wasmBinary: Emscripten 3.1.6's glue would try fetch() on a file path under Node >= 18.
const Module = await createHeapMapApp({ wasmBinary: readFileSync(join(buildDir, 'heap-map-app.wasm')) });

let failures = 0;
// Prints one result line; a failed check sets the exit status.
function check(name, ok, detail) {
  if (!ok) failures++;
  console.log(`${name}: ${ok ? 'ok' : 'FAIL'} ${detail}`);
}

for (let step = 1; Module._app_step(step); step++) {
  const code = Module._zee_check();
  if (!inspect) {
    check(`step ${step} zee_check`, code === 0, `${code}`);
    continue;
  }
  const snap = inspect.snapshot(Module);
  process.stdout.write(inspect.renderText(snap, { columns: 96 }));
  const { ok, violations } = inspect.validate(Module);
  const t = snap.totals;
  check(`step ${step} validate`, ok && code === 0, `${violations.length} violations, zee_check ${code}`);
  check(
    `step ${step} in-use`,
    t.usedBytes === Module._app_in_use(),
    `inspector ${t.usedBytes} bytes, mallinfo ${Module._app_in_use()} bytes`,
  );
  check(
    `step ${step} blocks`,
    t.usedBlocks >= Module._app_live_blocks(),
    `inspector ${t.usedBlocks} blocks in use, app holds ${Module._app_live_blocks()}`,
  );
  check(
    `step ${step} foreign`,
    t.pagesByKind.foreign === Module._app_foreign_pages(),
    `inspector ${t.pagesByKind.foreign} foreign pages, app took ${Module._app_foreign_pages()}`,
  );
}
console.log(`heap-map-app: ${failures} failures`);
process.exitCode = failures ? 1 : 0;
