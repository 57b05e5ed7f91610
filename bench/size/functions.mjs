#!/usr/bin/env node
// Where zee_alloc's code bytes go: the size of each function body in the
// full-API module of `npm run bench` (-Oz, then wasm-opt -Oz), read from the
// name section that --profiling-funcs keeps.
//
//   node bench/size/functions.mjs [--set full|malloc-free] [--check] [core.c]
//
// core.c defaults to src/zee_alloc.c, so a variant of the core can be
// compared before it replaces it.  Bodies exclude their size prefix, and
// the sum is less than the bench's figure, which also counts the exports,
// the function table and the data the core adds.  --check fails (exit 1)
// unless each export of the set points to the core's function of that name
// (so that names and bodies were read in step) and the bodies fit in the
// module.  Needs emcc (CI runs it in npm run test:bench).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMCC_ENV } from '../../scripts/build.mjs';
import { API_SETS } from '../run.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = join(root, 'build', 'bench', 'functions');
const wasmOpt = join(root, 'node_modules', 'binaryen', 'bin', 'wasm-opt');

// The bench's export sets, by a name for the command line.
const SETS = { full: API_SETS['full API'], 'malloc-free': API_SETS['malloc+free'] };
// The C function each export aliases (src/zee_alloc.c, ZEE_ALIAS).
const CORE_NAME = { aligned_alloc: 'zee_memalign', malloc_usable_size: 'zee_usable_size' };

const args = process.argv.slice(2);
const setAt = args.indexOf('--set');
const set = setAt >= 0 ? args[setAt + 1] : 'full';
const check = args.includes('--check');
const files = args.filter((a, i) => !a.startsWith('--') && (setAt < 0 || i !== setAt + 1));
if (!SETS[set] || files.length > 1) {
  console.error(`usage: node bench/size/functions.mjs [--set ${Object.keys(SETS).join('|')}] [--check] [core.c]`);
  process.exit(2);
}
const core = resolve(files[0] || join(root, 'src', 'zee_alloc.c'));

// Reads an unsigned LEB128 at bytes[at.i], advancing at.i.
function leb(bytes, at) {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    const b = bytes[at.i++];
    value += (b & 127) * 2 ** shift;
    if (!(b & 128)) return value;
  }
}

// Reads a name (its length, then UTF-8) at bytes[at.i], advancing at.i.
function name(bytes, at) {
  const len = leb(bytes, at);
  at.i += len;
  return Buffer.from(bytes.subarray(at.i - len, at.i)).toString();
}

// Skips resizable limits (a flag, the minimum, and the maximum if flagged).
function limits(bytes, at) {
  if (leb(bytes, at) & 1) leb(bytes, at);
  leb(bytes, at);
}

// A wasm module's function bodies, largest first ([{ name, bytes }]), and
// the name of the function each function export points to.
function functionSizes(bytes) {
  const at = { i: 8 };
  let imported = 0;
  const sizes = [];
  const names = new Map();
  const exportIndex = new Map();
  while (at.i < bytes.length) {
    const id = bytes[at.i++];
    const end = leb(bytes, at) + at.i;
    if (id === 2) {
      // imports: only functions take a function index
      for (let n = leb(bytes, at); n--;) {
        name(bytes, at); // module
        name(bytes, at); // field
        const kind = bytes[at.i++];
        if (kind === 0) (imported++, leb(bytes, at));
        else if (kind === 1)
          (at.i++, limits(bytes, at)); // a table: its element type, then limits
        else if (kind === 2) limits(bytes, at);
        else at.i += 2; // a global: its type and mutability
      }
    } else if (id === 7) {
      for (let n = leb(bytes, at); n--;) {
        const field = name(bytes, at);
        const kind = bytes[at.i++];
        const index = leb(bytes, at);
        if (kind === 0) exportIndex.set(field, index);
      }
    } else if (id === 10) {
      for (let n = leb(bytes, at); n--;) {
        const size = leb(bytes, at);
        sizes.push(size);
        at.i += size;
      }
    } else if (id === 0 && name(bytes, at) === 'name') {
      while (at.i < end) {
        const sub = bytes[at.i++];
        const subEnd = leb(bytes, at) + at.i;
        if (sub === 1) for (let n = leb(bytes, at); n--;) names.set(leb(bytes, at), name(bytes, at));
        at.i = subEnd;
      }
    }
    at.i = end;
  }
  const functions = sizes
    .map((size, k) => ({ name: names.get(k + imported) || `function ${k + imported}`, bytes: size }))
    .sort((a, b) => b.bytes - a.bytes);
  const exported = new Map([...exportIndex].map(([field, index]) => [field, names.get(index)]));
  return { functions, exported };
}

mkdirSync(work, { recursive: true });
const emcc = (argv) => execFileSync('emcc', argv, { env: EMCC_ENV, stdio: ['ignore', 'ignore', 'inherit'] });
const exported = ['main', ...SETS[set]];
emcc(['-Oz', '-c', join(root, 'bench', 'size', 'main.c'), '-o', join(work, 'main.o')]);
emcc(['-Oz', '-fno-builtin', `-I${join(root, 'src')}`, '-c', core, '-o', join(work, 'core.o')]);
emcc([
  '-Oz',
  join(work, 'main.o'),
  join(work, 'core.o'),
  '-sMALLOC=none',
  '--profiling-funcs',
  `-sEXPORTED_FUNCTIONS=${exported.map((f) => '_' + f).join(',')}`,
  '-o',
  join(work, `${set}.js`),
]);
const opt = join(work, `${set}.opt.wasm`);
execFileSync(process.execPath, [wasmOpt, '-Oz', '--debuginfo', join(work, `${set}.wasm`), '-o', opt]);
const module = readFileSync(opt);
const { functions: rows, exported: targets } = functionSizes(module);
const total = rows.reduce((s, r) => s + r.bytes, 0);
console.log(`| function (${set}, ${core.startsWith(root) ? core.slice(root.length + 1) : core}) | bytes |`);
console.log('|---|--:|');
for (const r of rows) console.log(`| ${r.name} | ${r.bytes.toLocaleString('en-US')} |`);
console.log(`| **all bodies** | **${total.toLocaleString('en-US')}** |`);

if (check) {
  // Each export must point to the core's function of that name: then the
  // names and the bodies were read in step.
  // -Oz minifies export names; the JS glue maps them: Module["_malloc"] =
  // Module["asm"]["g"] (Emscripten 3.1.x).
  const glue = readFileSync(join(work, `${set}.js`), 'utf8');
  const minified = new Map(
    [...glue.matchAll(/Module\["_(\w+)"\]=Module\["asm"\]\["(\w+)"\]/g)].map((m) => [m[1], m[2]]),
  );
  const target = (f) => targets.get(minified.get(f) ?? f);
  const wrong = SETS[set].filter((f) => target(f) !== (CORE_NAME[f] || `zee_${f}`));
  if (wrong.length || total > module.length) {
    const got = wrong.map((f) => `${f} -> ${target(f)}`).join(', ');
    console.error(`functions.mjs: exports ${got || 'as expected'}; bodies ${total} B, module ${module.length} B`);
    process.exit(1);
  }
}
