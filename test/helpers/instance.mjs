// Fresh ZeeAlloc instances for tests, compiling each build variant once.
import { readFile } from 'node:fs/promises';
import { ZeeAlloc } from '../../js/zee_alloc.mjs';

const root = new URL('../../', import.meta.url);
const files = { default: 'dist/zee_alloc.wasm', dev: 'dist/zee_alloc.dev.wasm', unsafe: 'dist/zee_alloc.unsafe.wasm' };
const modules = new Map();

/** A new heap built from `variant` (see scripts/build.mjs). */
export async function fresh(variant = 'default', options = {}) {
  if (!modules.has(variant)) modules.set(variant, WebAssembly.compile(await readFile(new URL(files[variant], root))));
  return ZeeAlloc.create({ ...options, wasm: await modules.get(variant) });
}

export const VARIANT_NAMES = Object.keys(files);
