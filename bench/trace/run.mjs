#!/usr/bin/env node
// Replays the real programs of bench/run.mjs (SQLite, Lua) allocation by
// allocation through a native build of zee_alloc, in seconds instead of a
// bench run, to compare layouts by the heap they need:
//
//   node bench/trace/run.mjs [--scale N]     (default 50, as npm run bench)
//
// Each program is linked with trace.c (every malloc, free and realloc
// logged) over zee_alloc and run once under Node; replay.c then replays the
// trace natively and prints zee_alloc's peak heap beside the peaks of cost
// models of the same calls (dlmalloc's chunks, power-of-two frames, exact
// blocks).  The programs' objects come from build/bench/obj/programs/
// (`node bench/run.mjs --quick` builds them when they are missing).
// Needs emcc and clang.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMCC_ENV } from '../../scripts/build.mjs';
import { PROGRAMS } from '../run.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const here = join(root, 'bench', 'trace');
const objRoot = join(root, 'build', 'bench', 'obj', 'programs');
const work = join(root, 'build', 'bench', 'trace');

const args = process.argv.slice(2);
const scaleAt = args.indexOf('--scale');
const scale = scaleAt >= 0 ? Number(args[scaleAt + 1]) : 50;
if (!(scale > 0) || args.length !== (scaleAt >= 0 ? 2 : 0)) {
  console.error('usage: node bench/trace/run.mjs [--scale N]');
  process.exit(2);
}

const run = (cmd, argv, opts = {}) => execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });

// The newest compiled library of a program (its objects' folder name ends in a key).
function objectsOf(name) {
  if (!existsSync(objRoot)) return null;
  const dirs = readdirSync(objRoot)
    .filter((d) => d.startsWith(`${name}-`) && existsSync(join(objRoot, d, 'objects')))
    .map((d) => join(objRoot, d, 'objects'))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const driver = join(objRoot, `${name}-driver.o`);
  return dirs.length && existsSync(driver) ? { dir: dirs[0], driver } : null;
}

if (PROGRAMS.some((p) => !objectsOf(p.name))) {
  console.error('building the programs first: node bench/run.mjs --quick');
  execFileSync(process.execPath, [join(root, 'bench', 'run.mjs'), '--quick'], { stdio: 'inherit' });
}

mkdirSync(work, { recursive: true });
// Emscripten's glue is CommonJS; the repository's package.json says "module".
writeFileSync(join(work, 'package.json'), '{ "type": "commonjs" }\n');
const replay = join(work, 'zee_replay');
run('clang', [
  '-O2',
  `-I${join(root, 'src')}`,
  `-I${join(root, 'test', 'native')}`,
  join(here, 'replay.c'),
  join(root, 'src', 'zee_alloc.c'),
  join(root, 'test', 'native', 'page_source.c'),
  '-o',
  replay,
]);

const mib = (b) => `${(b / 1048576).toFixed(2)} MiB`;
console.log(
  `| Program (scale ${scale}) | calls | zee_alloc heap | dlmalloc model | zee/dl model | power-of-two model | exact model |`,
);
console.log('|---|--:|--:|--:|--:|--:|--:|');
for (const p of PROGRAMS) {
  const { dir, driver } = objectsOf(p.name);
  const out = join(work, p.name);
  mkdirSync(out, { recursive: true });
  const js = join(out, `${p.name}.js`);
  run(
    'emcc',
    [
      '-O2',
      `-I${join(root, 'src')}`,
      '-DZEE_BUILTIN_ONLY=1',
      join(here, 'trace.c'),
      join(root, 'src', 'zee_alloc.c'),
      driver,
      ...readdirSync(dir)
        .filter((f) => f.endsWith('.o'))
        .map((f) => join(dir, f)),
      '-sMALLOC=none',
      '-sALLOW_MEMORY_GROWTH=1',
      '-sMAXIMUM_MEMORY=1073741824',
      '-sINITIAL_MEMORY=1048576',
      '-sTOTAL_STACK=65536',
      '-sNODERAWFS=1',
      '-sEXIT_RUNTIME=1',
      '-sENVIRONMENT=node',
      '-sWASM_ASYNC_COMPILATION=0',
      '-o',
      js,
    ],
    { env: EMCC_ENV },
  );
  run(process.execPath, [js, String(scale)], { cwd: out });
  const r = JSON.parse(run(replay, [join(out, 'trace.bin')]).toString());
  const x = (m) => `${mib(m)} (${(m / r.dl_model).toFixed(2)}x)`;
  console.log(
    `| ${p.name} | ${r.records.toLocaleString('en-US')} | ${mib(r.heap)} | ${mib(r.dl_model)} | ` +
      `**${r.heap_vs_dl_model.toFixed(2)}x** | ${x(r.pow2_model)} | ${x(r.exact_model)} |`,
  );
  if (r.check) throw new Error(`${p.name}: zee_check() = ${r.check} after the replay`);
}
