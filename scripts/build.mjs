#!/usr/bin/env node
// Builds the standalone wasm modules: `node scripts/build.mjs [--tests]`.
//   dist/zee_alloc.wasm         default options (validation = external)
//   dist/zee_alloc.dev.wasm     validation = dev (internal asserts)
//   dist/zee_alloc.unsafe.wasm  validation = unsafe (no checks)
// Each is `emcc src/*.c -sMALLOC=none -sSTANDALONE_WASM` followed by
// binaryen's wasm-opt.  Emscripten 3.1.6 needs NODE_PATH for acorn (-O1+).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

export const EXPORTS = [
  'malloc',
  'free',
  'calloc',
  'realloc',
  'aligned_alloc',
  'posix_memalign',
  'memalign',
  'malloc_usable_size',
  'zee_check',
  'zee_heap_info',
  '__errno_location',
];

// The environment emcc runs in.  Emscripten 3.1.6 needs acorn from NODE_PATH
// (-O1 and up).  emcc runs the wasm-opt it finds on PATH, and `npm run` puts
// node_modules/.bin (a newer binaryen) first: drop it, so that builds through
// npm and through node are the same bytes.
export const EMCC_ENV = {
  ...process.env,
  NODE_PATH: process.env.NODE_PATH || '/usr/share/nodejs',
  PATH: (process.env.PATH || '')
    .split(':')
    .filter((d) => !d.endsWith('node_modules/.bin'))
    .join(':'),
};

// What the JS wrapper provides (the unsafe build needs no zee_fault); any
// other import is an unresolved symbol.
const IMPORTS = ['env.emscripten_notify_memory_growth', 'env.memory', 'env.zee_fault'];

export const VARIANTS = {
  default: { dir: 'dist', defines: [] },
  dev: { dir: 'dist', defines: ['ZEE_VALIDATION=2'] },
  unsafe: { dir: 'dist', defines: ['ZEE_VALIDATION=0'] },
};

export function wasmPath(name) {
  const v = VARIANTS[name];
  return join(root, v.dir, name === 'default' ? 'zee_alloc.wasm' : `zee_alloc.${name}.wasm`);
}

function wasmOpt() {
  const bin = join(dirname(require.resolve('binaryen/package.json')), 'bin', 'wasm-opt');
  return bin;
}

export function build(name) {
  const v = VARIANTS[name];
  const out = wasmPath(name);
  mkdirSync(dirname(out), { recursive: true });
  const sources = readdirSync(join(root, 'src'))
    .filter((f) => f.endsWith('.c'))
    .map((f) => join(root, 'src', f));
  execFileSync(
    'emcc',
    [
      ...sources,
      '-O2',
      '-fno-builtin',
      '-sSTANDALONE_WASM',
      '--no-entry',
      '-sMALLOC=none',
      '-DZEE_FAULT_IMPORT',
      ...v.defines.map((d) => `-D${d}`),
      // zee_fault is imported from JS on purpose; the imports are checked below.
      '-sERROR_ON_UNDEFINED_SYMBOLS=0',
      '-sWARN_ON_UNDEFINED_SYMBOLS=0',
      '-sALLOW_MEMORY_GROWTH=1',
      '-sIMPORTED_MEMORY=1',
      '-sTOTAL_STACK=65536',
      '-sINITIAL_MEMORY=196608',
      '-sMAXIMUM_MEMORY=4GB',
      `-sEXPORTED_FUNCTIONS=${EXPORTS.map((e) => '_' + e).join(',')}`,
      '-o',
      out,
    ],
    { stdio: 'inherit', env: EMCC_ENV },
  );
  execFileSync(process.execPath, [wasmOpt(), '-O2', out, '-o', out], { stdio: 'inherit' });
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(out))).map(
    (i) => `${i.module}.${i.name}`,
  );
  const unknown = imports.filter((i) => !IMPORTS.includes(i));
  if (unknown.length)
    throw new Error(`${out} imports ${unknown.join(', ')}: unresolved (the wrapper provides ${IMPORTS.join(', ')})`);
  return { name, out, bytes: statSync(out).size };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const all = process.argv.includes('--tests');
  for (const name of Object.keys(VARIANTS)) {
    if (!all && VARIANTS[name].dir !== 'dist') continue;
    const r = build(name);
    console.log(`${r.out.slice(root.length + 1)}: ${r.bytes} bytes`);
  }
}
