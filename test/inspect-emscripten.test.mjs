// The inspector on the heap of an Emscripten app linked with zee_alloc
// (-sMALLOC=none + src/zee_alloc.c), given its Module, or its memory plus the
// state address.  The app is built here with emcc into build/inspect-emscripten-app/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { snapshot, validate, renderText, CHECK_CODES } from '../js/inspect.mjs';
import { EMCC_ENV } from '../scripts/build.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const dir = `${root}build/inspect-emscripten-app`;

// The app keeps up to 256 blocks the test allocates and frees through it.
const APP_C = `#include <stdlib.h>
#include <string.h>
#include <emscripten/emscripten.h>
static void *held[256];
EMSCRIPTEN_KEEPALIVE unsigned app_alloc(int i, unsigned n) {
  held[i] = malloc(n);
  if (held[i]) memset(held[i], i, n);
  return (unsigned)(size_t)held[i];
}
EMSCRIPTEN_KEEPALIVE void app_free(int i) { free(held[i]); held[i] = 0; }
int main(void) { return 0; }
`;

// Builds the app unless an up-to-date build exists (sources unchanged).
function buildApp() {
  mkdirSync(dir, { recursive: true });
  const src = `${dir}/app.c`,
    out = `${dir}/app.js`;
  const core = `${root}src/zee_alloc.c`;
  const stale =
    !existsSync(out) ||
    !existsSync(src) ||
    readFileSync(src, 'utf8') !== APP_C ||
    statSync(core).mtimeMs > statSync(out).mtimeMs ||
    statSync(`${root}src/zee_alloc.h`).mtimeMs > statSync(out).mtimeMs;
  if (!stale) return out;
  writeFileSync(src, APP_C);
  writeFileSync(`${dir}/package.json`, '{ "type": "commonjs" }\n'); // the glue is CommonJS
  execFileSync(
    'emcc',
    [
      src,
      core,
      `-I${root}src`,
      '-O1',
      '-sMALLOC=none',
      '-sALLOW_MEMORY_GROWTH=1',
      '-sMODULARIZE=1',
      '-sEXPORT_NAME=createApp',
      '-sEXPORTED_FUNCTIONS=_main,_app_alloc,_app_free,_zee_heap_info,_zee_check',
      '-sEXPORTED_RUNTIME_METHODS=HEAPU8',
      '-o',
      out,
    ],
    { env: EMCC_ENV, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return out;
}

let Module;
beforeAll(async () => {
  const glue = buildApp();
  const createApp = createRequire(import.meta.url)(glue);
  // wasmBinary: the 3.1.6 glue would fetch() a file path under Node 20.
  Module = await createApp({ wasmBinary: readFileSync(glue.replace(/\.js$/, '.wasm')), print() {}, printErr() {} });
}, 60000);

test("an Emscripten app's Module: the snapshot lists the app's blocks and validate() agrees with zee_check()", () => {
  const ptrs = [10, 100, 1000, 5000, 20000, 100000].map((n, i) => ({ n, p: Module._app_alloc(i, n) >>> 0 }));
  Module._app_free(1);
  const s = snapshot(Module);
  expect(s.violations).toEqual([]);
  expect(Module._zee_check()).toBe(0);
  const used = new Map(s.blocks.filter((f) => f.state === 'used').map((f) => [f.address, f]));
  for (const { n, p } of ptrs) {
    if (n === 100) {
      expect(used.has(p)).toBe(false);
      continue;
    }
    // a block of m = roundup(n + 8, 16) bytes: n <= usable <= n + 15
    const m = Math.ceil((n + 8) / 16) * 16;
    expect(used.get(p)).toMatchObject({ headerSize: m, usable: m - 8 });
    expect(m - 8 - n).toBeLessThanOrEqual(15);
  }
  // 1,000 B is a slot (1,008 B, in a 4 KiB slab); 100,000 B exactly its 100,016 B
  expect(used.get(ptrs[2].p).slab).toBe(ptrs[2].p - (ptrs[2].p % 4096));
  expect(used.get(ptrs[5].p).size).toBe(100016);
  // the app's own allocations (stdio, its startup) are in the heap too: at least ours
  expect(s.totals.usedBlocks).toBeGreaterThanOrEqual(5);
  expect(s.counters.usedBlocks).toBe(s.totals.usedBlocks);
  expect(s.heapStart).toBeGreaterThan(0);
  expect(s.heapEnd).toBeLessThanOrEqual(Module.HEAPU8.length);
  expect(typeof renderText(s)).toBe('string');
});

test('its memory plus the state address give the same snapshot as the Module', () => {
  const stateAddress = Module._zee_heap_info() >>> 0;
  expect(snapshot({ buffer: Module.HEAPU8.buffer, stateAddress })).toEqual(snapshot(Module));
  expect(snapshot({ HEAPU8: Module.HEAPU8, stateAddress })).toEqual(snapshot(Module));
});

test('the app grows its memory: the inspector follows the new buffer', () => {
  const before = Module.HEAPU8.length;
  const p = Module._app_alloc(50, 24 << 20) >>> 0;
  expect(p).not.toBe(0);
  expect(Module.HEAPU8.length).toBeGreaterThan(before);
  const s = snapshot(Module);
  // exactly its 24 MiB and the 16 bytes of its header and rounding
  expect(s.blocks).toContainEqual(
    expect.objectContaining({ address: p, state: 'used', headerSize: (24 << 20) + 16, size: (24 << 20) + 16 }),
  );
  expect(s.memoryBytes).toBe(Module.HEAPU8.length);
  expect(validate(Module).ok).toBe(true);
  expect(Module._zee_check()).toBe(0);
});

// An overflow from the block before smashes a header: a frame's (256 B) or a slot's (208 B).
test.each([
  [248, 'ZEE_C_FRAME'],
  [200, 'ZEE_C_SLAB'],
])("a smashed header in the app's heap (malloc(%d)): validate() and the app's zee_check() name %s", (n, rule) => {
  const p = Module._app_alloc(60, n) >>> 0;
  const u32 = new Uint32Array(Module.HEAPU8.buffer);
  const saved = u32[(p - 8) >>> 2];
  u32[(p - 8) >>> 2] = 0x41414141;
  const v = validate(Module);
  expect(v.ok).toBe(false);
  expect(v.violations[0]).toMatchObject({ rule, address: p });
  expect(CHECK_CODES[Module._zee_check()]).toBe(rule);
  u32[(p - 8) >>> 2] = saved;
  expect(validate(Module).ok).toBe(true);
  expect(Module._zee_check()).toBe(0);
  Module._app_free(60);
});
