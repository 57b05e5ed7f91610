#!/usr/bin/env node
// zee_alloc against Emscripten's dlmalloc and emmalloc: code size, speed and
// peak memory on synthetic workloads, and peak heap, time and memory growth
// calls on real C programs (SQLite, Lua), all built from the same sources in
// one run.
//
//   node bench/run.mjs            full run (npm run bench): writes
//                                 bench/results/latest.json and docs/bench.svg
//   node bench/run.mjs --quick    CI mode (npm run test:bench): builds
//                                 everything, runs each workload and program
//                                 once at a small scale, writes
//                                 build/bench/quick.json and quick.svg
//   --runs N  --scale N  --out FILE.json  --svg FILE.svg   override defaults
//
// The real programs' C sources come from npm tarballs, fetched with
// `npm pack` into build/bench/npm/ (pinned versions, checked against their
// registry integrity hashes) and compiled once into build/bench/obj/programs/
// (reused while the package, flags and emcc stay the same).
//
// Fails (exit 1) when a fetch or build fails, a workload's or program's
// self-check fails, or the allocators disagree on a checksum.  Timings are
// never asserted.
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { renderSvg } from './svg.mjs';
import { EMCC_ENV } from '../scripts/build.mjs';

const execFile = promisify(execFileCb);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, 'build', 'bench');
// emcc's environment is the one the wasm build uses (see scripts/build.mjs).
const env = EMCC_ENV;
const wasmOpt = join(root, 'node_modules', 'binaryen', 'bin', 'wasm-opt');
// Preloaded into every run: counts WebAssembly memory growth calls.
const countGrowth = join(root, 'bench', 'count-growth.cjs');

// ---- Options -----------------------------------------------------------------
function parseArgs(argv) {
  const o = { quick: false, runs: 0, scale: 0, out: '', svg: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--runs') o.runs = positive(a, value());
    else if (a === '--scale') o.scale = positive(a, value());
    else if (a === '--out') o.out = value();
    else if (a === '--svg') o.svg = value();
    else usage(`unknown argument ${a}`);
  }
  o.runs ||= o.quick ? 1 : 7;
  o.scale ||= o.quick ? 1 : 50;
  o.out ||= o.quick ? join(work, 'quick.json') : join(root, 'bench', 'results', 'latest.json');
  o.svg ||= o.quick ? join(work, 'quick.svg') : join(root, 'docs', 'bench.svg');
  return o;
}

function positive(name, s) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) usage(`${name} must be a positive integer, got ${s}`);
  return n;
}

function usage(msg) {
  console.error(
    `bench/run.mjs: ${msg}\nusage: node bench/run.mjs [--quick] [--runs N] [--scale N] [--out FILE] [--svg FILE]`,
  );
  process.exit(2);
}

// ---- What is measured ------------------------------------------------------------
export const ALLOCATORS = ['zee_alloc', 'dlmalloc', 'emmalloc'];

// zee_alloc configurations for the size table: the default, then each other
// validation level.  ZEE_THREADS needs -pthread, so it is measured against a
// stub and a default built with -pthread too (the "(-pthread)" rows).
export const CONFIGS = {
  default: { defines: [] },
  'validation=0 (unsafe)': { defines: ['ZEE_VALIDATION=0'] },
  'validation=2 (dev)': { defines: ['ZEE_VALIDATION=2'] },
  'default (-pthread)': { defines: [], flags: ['-pthread'] },
  'threads=1 (-pthread)': { defines: ['ZEE_THREADS=1'], flags: ['-pthread'] },
};

export const API_SETS = {
  'malloc+free': ['malloc', 'free'],
  'full API': ['malloc', 'free', 'calloc', 'realloc', 'aligned_alloc', 'posix_memalign', 'malloc_usable_size'],
};

// Workload programs (bench/workloads/<prog>.c) and their extra arguments.
export const WORKLOADS = [
  { name: 'fixed-16', prog: 'fixed', args: ['16'] },
  { name: 'fixed-64', prog: 'fixed', args: ['64'] },
  { name: 'fixed-1024', prog: 'fixed', args: ['1024'] },
  { name: 'small-random', prog: 'small', args: [] },
  { name: 'small-random-8k', prog: 'small', args: ['8192'] },
  { name: 'realloc-growth', prog: 'realloc', args: [] },
  { name: 'mixed-large', prog: 'mixed', args: [] },
  { name: 'zig-batch', prog: 'batch', args: [] },
  { name: 'queue', prog: 'queue', args: [] },
  { name: 'same-size-4300', prog: 'same_size', args: ['2000', '4300'] },
  { name: 'same-size-16384', prog: 'same_size', args: ['1000', '16384'] },
];

// Real C programs.  Each one's library sources come from a pinned npm
// tarball; its driver (bench/programs/<driver>) runs it at a given scale and
// prints one JSON line (bench/programs/program.h).
//   extract   the tarball members to unpack (files or directories)
//   sources   the library's .c files, relative to the tarball's package/
//   patches   exact, one-time text replacements in a source before compiling
//   embed     generated headers: a committed file as a byte array
export const PROGRAMS = [
  {
    name: 'sqlite',
    what: 'SQLite in-memory database: 1,200 x scale rows inserted, indexed, joined, aggregated, sorted, updated, deleted, VACUUMed',
    package: {
      name: 'better-sqlite3',
      version: '12.11.1',
      integrity: 'sha512-dq9AtApgg5PGFtBzPFSBl3HZQjHok5gaQCM6zh2Yk0aSmDCs1CbnVI8/HgASQkNKsWFpseIO9beg5xxpYhbIfA==',
    },
    extract: ['package/deps/sqlite3/sqlite3.c', 'package/deps/sqlite3/sqlite3.h'],
    sources: () => ['deps/sqlite3/sqlite3.c'],
    include: ['deps/sqlite3'],
    // No threads, no dlopen; temporary tables, sorts and VACUUM in memory
    // (the wasm heap), never in Emscripten's JS file system.
    defines: ['SQLITE_THREADSAFE=0', 'SQLITE_OMIT_LOAD_EXTENSION', 'SQLITE_TEMP_STORE=3'],
    version: (dir) =>
      `SQLite ${(readFileSync(join(dir, 'deps/sqlite3/sqlite3.h'), 'latin1').match(/#define SQLITE_VERSION\s+"([^"]+)"/) || [])[1]}`,
    driver: 'sqlite.c',
  },
  {
    name: 'lua',
    what: 'Lua interpreter: binary-trees (depth 8 + log2(scale)), then 4,000 x scale words counted, sorted and joined',
    package: {
      name: 'lua.vm.js',
      version: '0.0.1',
      integrity: 'sha512-KtMczj7kTPK4JmqWXKQKF8RczOo0aVLDyNWMEiLhK+0bxWMr7uY3w1tlEJ07aEUMg4Ek/3ArgWLlJNa7/07BoQ==',
    },
    extract: ['package/lua/src'],
    // The interpreter's library: every .c but the two programs (lua.c,
    // luac.c).  The tarball's prebuilt liblua.a is never used.
    sources: (dir) =>
      readdirSync(join(dir, 'lua/src'))
        .filter((f) => f.endsWith('.c') && f !== 'lua.c' && f !== 'luac.c')
        .sort()
        .map((f) => `lua/src/${f}`),
    include: ['lua/src'],
    // Lua seeds its string hash from the clock and the lua_State's address,
    // and the hash decides when a table's node part fills up and is resized.
    // A fixed seed makes the allocation sequence the same on every allocator.
    patches: { 'lua/src/lstate.c': [['g->seed = makeseed(L);', 'g->seed = luai_makeseed(); (void)makeseed;']] },
    defines: ['luai_makeseed()=0x2545F491u'],
    version: (dir) => {
      const h = readFileSync(join(dir, 'lua/src/lua.h'), 'latin1');
      const part = (k) => (h.match(new RegExp(`#define LUA_VERSION_${k}\\s+"(\\d+)"`)) || [])[1];
      return `Lua ${part('MAJOR')}.${part('MINOR')}.${part('RELEASE')}`;
    },
    driver: 'lua.c',
    embed: { 'lua_workload.h': { symbol: 'lua_workload', file: 'lua_workload.lua' } },
  },
];

const SPEED_FLAGS = ['-O2'];
// Memory grows exactly as asked (GEOMETRIC_STEP=0), from a small start, so the
// final memory size is the peak footprint (to within one 64 KiB page).
const INITIAL_MEMORY = 262144;
const LINK_FLAGS = [
  '-sALLOW_MEMORY_GROWTH=1',
  '-sMEMORY_GROWTH_GEOMETRIC_STEP=0',
  '-sTOTAL_STACK=65536',
  `-sINITIAL_MEMORY=${INITIAL_MEMORY}`,
  '-sWASM_ASYNC_COMPILATION=0',
  '-sENVIRONMENT=node',
];
// The real programs link the same way, plus a 1 GiB ceiling and a check of
// the stack's end at exit (a 64 KiB stack is enough: both programs pass at
// scale 50 under -sSTACK_OVERFLOW_CHECK=2, which checks every call).
const PROGRAM_LINK_FLAGS = [...LINK_FLAGS, '-sMAXIMUM_MEMORY=1073741824', '-sSTACK_OVERFLOW_CHECK=1'];

// ---- Building -----------------------------------------------------------------------
const zeeSources = () =>
  readdirSync(join(root, 'src'))
    .filter((f) => f.endsWith('.c'))
    .map((f) => join(root, 'src', f));

// At most two compilers or linkers at a time (the machine has 2 cores), across
// everything that builds concurrently (sizes, workloads, programs).
const SLOTS = 2;
let busy = 0;
const waiting = [];
async function slot(fn) {
  if (busy >= SLOTS) await new Promise((resolve) => waiting.push(resolve));
  else busy++;
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next)
      next(); // the slot passes straight to the next job
    else busy--;
  }
}

// Runs emcc (in cwd, if given), failing with its output (not just a status)
// so CI logs say why.
function emcc(args, cwd = root) {
  return slot(async () => {
    try {
      await execFile('emcc', args, { env, cwd, maxBuffer: 64 << 20 });
    } catch (e) {
      throw new Error(`emcc ${args.join(' ')}\n${e.stderr || e.message}`);
    }
  });
}

// Runs async jobs `width` at a time (emcc itself also takes a slot).
async function pool(jobs, width = SLOTS) {
  const results = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

// Compiles zee_alloc's sources to one object per source, with the given flags.
async function zeeObjects(tag, flags, defines) {
  const dir = join(work, 'obj', tag);
  mkdirSync(dir, { recursive: true });
  return pool(
    zeeSources().map((src) => async () => {
      const out = join(dir, src.split('/').pop().replace(/\.c$/, '.o'));
      await emcc([...flags, '-fno-builtin', ...defines.map((d) => `-D${d}`), '-c', src, '-o', out]);
      return out;
    }),
    1,
  );
}

// The allocator part of an emcc link command (zee: zee_alloc's objects).
function allocatorLink(alloc, zee) {
  return alloc === 'zee_alloc' ? [...zee, '-sMALLOC=none'] : [`-sMALLOC=${alloc}`];
}

// Size of a module after `wasm-opt -Oz`: raw and gzipped bytes.
function optimizedSize(wasm, flags) {
  const opt = wasm.replace(/\.wasm$/, '.opt.wasm');
  const features = flags.includes('-pthread') ? ['--enable-threads', '--enable-bulk-memory'] : [];
  return slot(async () => {
    try {
      await execFile(process.execPath, [wasmOpt, '-Oz', ...features, wasm, '-o', opt], { maxBuffer: 16 << 20 });
    } catch (e) {
      throw new Error(`wasm-opt -Oz ${wasm}\n${e.stderr || e.message}`);
    }
    const bytes = readFileSync(opt);
    return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
}

async function measureSizes(sets) {
  const dir = join(work, 'size');
  mkdirSync(dir, { recursive: true });
  // One stub and one main object per flag set (plain, -pthread).
  const flagSets = [...new Set(Object.values(CONFIGS).map((c) => (c.flags || []).join(' ')))];
  const base = {};
  await pool(
    flagSets.map((fs) => async () => {
      const flags = fs ? fs.split(' ') : [];
      const tag = slug(fs || 'plain');
      base[fs] = {
        flags,
        main: join(work, 'obj', `size-main-${tag}.o`),
        stub: join(work, 'obj', `size-stub-${tag}.o`),
      };
      await emcc(['-Oz', ...flags, '-c', join(root, 'bench', 'size', 'main.c'), '-o', base[fs].main]);
      await emcc(['-Oz', ...flags, '-fno-builtin', '-c', join(root, 'bench', 'size', 'stub.c'), '-o', base[fs].stub]);
    }),
  );
  const objs = {};
  await pool(
    Object.entries(CONFIGS).map(([cfg, c]) => async () => {
      objs[cfg] = await zeeObjects(`size-${slug(cfg)}`, ['-Oz', ...(c.flags || [])], c.defines);
    }),
  );
  const builds = [];
  for (const set of sets) {
    const fns = API_SETS[set];
    const exportsFlag = `-sEXPORTED_FUNCTIONS=${['main', ...fns].map((f) => '_' + f).join(',')}`;
    const targets = [
      ...flagSets.map((fs) => ({ label: `stub ${fs}`.trim(), fs, link: [base[fs].stub, '-sMALLOC=none'] })),
      { label: 'dlmalloc', fs: '', link: ['-sMALLOC=dlmalloc'] },
      { label: 'emmalloc', fs: '', link: ['-sMALLOC=emmalloc'] },
      ...Object.entries(CONFIGS).map(([cfg, c]) => ({
        label: `zee_alloc ${cfg}`,
        fs: (c.flags || []).join(' '),
        link: [...objs[cfg], '-sMALLOC=none'],
      })),
    ];
    for (const t of targets) {
      const out = join(dir, `${slug(set)}-${slug(t.label)}.js`);
      builds.push({
        set,
        ...t,
        out,
        job: () => emcc(['-Oz', ...base[t.fs].flags, base[t.fs].main, ...t.link, exportsFlag, '-o', out]),
      });
    }
  }
  // Each module is measured as soon as it is linked.
  await pool(
    builds.map((b) => async () => {
      await b.job();
      b.size = await optimizedSize(b.out.replace(/\.js$/, '.wasm'), base[b.fs].flags);
    }),
  );
  // Allocator bytes = module - stub module (same exports, same flags).
  const result = {};
  for (const b of builds) {
    if (b.label.startsWith('stub')) continue;
    const stub = builds.find((x) => x.set === b.set && x.label === `stub ${b.fs}`.trim()).size;
    (result[b.set] ||= {})[b.label] = {
      bytes: b.size.raw - stub.raw,
      gzip: b.size.gzip - stub.gzip,
      module: b.size.raw,
      stub_module: stub.raw,
    };
  }
  return result;
}

const slug = (s) =>
  s
    .replace(/[^a-z0-9]+/gi, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();

// Emscripten's glue is CommonJS; the repository's package.json says "module".
function commonjsDir(dir) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
}

async function buildWorkloads(zee) {
  commonjsDir(join(work, 'speed'));
  const progs = [...new Set(WORKLOADS.map((w) => w.prog))];
  await pool(
    progs.map(
      (p) => () =>
        emcc([...SPEED_FLAGS, '-c', join(root, 'bench', 'workloads', `${p}.c`), '-o', join(work, 'obj', `w-${p}.o`)]),
    ),
  );
  const jobs = [];
  for (const p of progs)
    for (const alloc of ALLOCATORS)
      jobs.push(() =>
        emcc([
          ...SPEED_FLAGS,
          join(work, 'obj', `w-${p}.o`),
          ...allocatorLink(alloc, zee),
          ...LINK_FLAGS,
          '-o',
          progPath(p, alloc),
        ]),
      );
  jobs.push(() =>
    emcc([
      ...SPEED_FLAGS,
      '-fno-builtin',
      join(work, 'obj', 'w-fixed.o'),
      join(root, 'bench', 'control', 'overlap.c'),
      '-sMALLOC=none',
      ...LINK_FLAGS,
      '-o',
      progPath('fixed', 'overlap'),
    ]),
  );
  await pool(jobs);
}

const progPath = (prog, alloc) => join(work, 'speed', `${prog}.${alloc}.js`);

// ---- Real programs: fetching and building -------------------------------------------
const sha512 = (bytes) => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;

// The package's tarball, from build/bench/npm/ or fetched with `npm pack`;
// either way its bytes must match the pinned integrity hash.
async function fetchTarball(pkg) {
  const dir = join(work, 'npm');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${pkg.name.replace(/^@/, '').replace(/\//g, '-')}-${pkg.version}.tgz`);
  if (!existsSync(file) || sha512(readFileSync(file)) !== pkg.integrity) {
    rmSync(file, { force: true });
    try {
      await execFile('npm', ['pack', `${pkg.name}@${pkg.version}`, '--pack-destination', dir, '--ignore-scripts'], {
        cwd: dir,
        maxBuffer: 16 << 20,
      });
    } catch (e) {
      throw new Error(
        `cannot fetch ${pkg.name}@${pkg.version} with npm pack (the npm registry must be reachable):\n${(e.stderr || e.message).trim().split('\n').slice(0, 6).join('\n')}`,
      );
    }
    if (!existsSync(file)) throw new Error(`npm pack ${pkg.name}@${pkg.version} did not write ${relative(root, file)}`);
    const got = sha512(readFileSync(file));
    if (got !== pkg.integrity) {
      rmSync(file, { force: true });
      throw new Error(`${pkg.name}@${pkg.version}: tarball integrity ${got} is not the pinned ${pkg.integrity}`);
    }
  }
  return file;
}

// Unpacks the program's members once; returns the unpacked package/ folder.
async function unpack(p, tarball) {
  const dest = join(work, 'src', `${p.package.name.replace(/^@/, '').replace(/\//g, '-')}-${p.package.version}`);
  const marker = join(dest, '.unpacked');
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== `${p.package.integrity}\n`) {
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    try {
      await execFile('tar', ['-xzf', tarball, '-C', dest, ...p.extract]);
    } catch (e) {
      throw new Error(
        `cannot unpack ${p.extract.join(', ')} from ${relative(root, tarball)}: ${(e.stderr || e.message).trim()}`,
      );
    }
    writeFileSync(marker, `${p.package.integrity}\n`);
  }
  return join(dest, 'package');
}

let emccVersionLine;
const emccVersion = () =>
  (emccVersionLine ||= execFileSync('emcc', ['--version'], { env, encoding: 'utf8' }).split('\n')[0].trim());

// Patches and compiles one program's library (unpacked in pkgDir) into
// objects under build/bench/obj/programs/, reused while the package, the
// flags and emcc are the same.  Returns what the link needs.
async function prepareProgram(p, pkgDir) {
  const flags = [...SPEED_FLAGS, ...p.defines.map((d) => `-D${d}`), ...p.include.map((d) => `-I${join(pkgDir, d)}`)];
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        integrity: p.package.integrity,
        flags: [...SPEED_FLAGS, ...p.defines],
        patches: p.patches || {},
        emcc: emccVersion(),
      }),
    )
    .digest('hex')
    .slice(0, 16);
  const objDir = join(work, 'obj', 'programs', `${p.name}-${key}`);
  const done = join(objDir, 'objects');
  const sources = p.sources(pkgDir).map((rel) => {
    const patches = (p.patches || {})[rel];
    if (!patches) return join(pkgDir, rel);
    // A patched copy, beside the objects; its name keeps the object's unique.
    let text = readFileSync(join(pkgDir, rel), 'latin1');
    for (const [from, to] of patches) {
      if (text.split(from).length !== 2)
        throw new Error(`${p.name}: the patch for ${rel} expects exactly one "${from}" in it`);
      text = text.replace(from, to);
    }
    const copy = join(objDir, 'patched', rel);
    mkdirSync(dirname(copy), { recursive: true });
    writeFileSync(copy, text, 'latin1');
    return copy;
  });
  const objectName = (src) => src.split('/').pop().replace(/\.c$/, '.o');
  if (new Set(sources.map(objectName)).size !== sources.length)
    throw new Error(`${p.name}: two sources share a file name`);
  if (!existsSync(done)) {
    // emcc compiles several sources in one process (less start-up time) into
    // its working directory; two batches use both slots.  The objects are
    // moved into place only when all are built, so an interrupted run leaves
    // nothing to reuse.
    const partial = join(objDir, 'partial');
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    const half = Math.ceil(sources.length / 2);
    const batches = [sources.slice(0, half), sources.slice(half)].filter((b) => b.length);
    await Promise.all(batches.map((batch) => emcc([...flags, '-c', ...batch], partial)));
    renameSync(partial, done);
  }
  return { pkgDir, key, objects: sources.map((src) => join(done, objectName(src))), flags, version: p.version(pkgDir) };
}

// Writes a committed file as a C byte array header (for embed).
function embedHeader(dir, name, { symbol, file }) {
  const bytes = readFileSync(join(root, 'bench', 'programs', file));
  const rows = [];
  for (let i = 0; i < bytes.length; i += 20) rows.push(`  ${Array.from(bytes.subarray(i, i + 20)).join(',')},`);
  writeFileSync(
    join(dir, name),
    `/* Generated by bench/run.mjs from bench/programs/${file}; do not edit. */\n` +
      `static const unsigned char ${symbol}[${bytes.length}] = {\n${rows.join('\n')}\n};\n`,
  );
}

// Compiles the driver and links it three ways (one per allocator).  The
// dlmalloc and emmalloc links do not depend on zee_alloc: they are reused
// while the driver object, the library objects, the flags and emcc are the same.
async function linkProgram(p, prep, zee) {
  commonjsDir(join(work, 'programs'));
  const gen = join(work, 'gen', p.name);
  mkdirSync(gen, { recursive: true });
  for (const [name, spec] of Object.entries(p.embed || {})) embedHeader(gen, name, spec);
  const driver = join(work, 'obj', 'programs', `${p.name}-driver.o`);
  await emcc([
    ...prep.flags,
    `-I${gen}`,
    `-I${join(root, 'bench', 'programs')}`,
    '-c',
    join(root, 'bench', 'programs', p.driver),
    '-o',
    driver,
  ]);
  await pool(
    ALLOCATORS.map((alloc) => async () => {
      const out = programPath(p.name, alloc);
      const args = [
        ...SPEED_FLAGS,
        driver,
        ...prep.objects,
        ...allocatorLink(alloc, zee),
        ...PROGRAM_LINK_FLAGS,
        '-o',
        out,
      ];
      const stamp = out.replace(/\.js$/, '.inputs');
      const inputs =
        alloc === 'zee_alloc'
          ? ''
          : createHash('sha256')
              .update(JSON.stringify({ args, emcc: emccVersion() }))
              .update(readFileSync(driver))
              .update(prep.key)
              .digest('hex');
      if (
        inputs &&
        existsSync(out) &&
        existsSync(out.replace(/\.js$/, '.wasm')) &&
        existsSync(stamp) &&
        readFileSync(stamp, 'utf8') === inputs
      )
        return;
      rmSync(stamp, { force: true });
      await emcc(args);
      if (inputs) writeFileSync(stamp, inputs);
    }),
  );
}

const programPath = (name, alloc) => join(work, 'programs', `${name}.${alloc}.js`);

// ---- Running ---------------------------------------------------------------------------
// One run of a built module: its result line merged with the growth count
// (bench/count-growth.cjs).  Throws with the module's own error line, if any.
async function runModule(what, file, args, initialMemory) {
  let stdout = '';
  let failure = '';
  try {
    ({ stdout } = await execFile(process.execPath, ['--require', countGrowth, file, ...args], { maxBuffer: 1 << 20 }));
  } catch (e) {
    stdout = e.stdout || '';
    failure = `exit status ${e.code}: ${(e.stderr || '').trim().split('\n').slice(-3).join(' | ')}`;
  }
  const parsed = stdout
    .trim()
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return null;
      }
    });
  const growth = parsed.find((x) => x && 'grow_calls' in x);
  const r = parsed.find((x) => x && ('error' in x || 'checksum' in x));
  if (r?.error || failure || !r)
    throw new Error(`${what} failed: ${r?.error || failure || `unreadable output: ${stdout.slice(0, 200)}`}`);
  if (!growth) throw new Error(`${what}: no line from bench/count-growth.cjs`);
  // The counter must have seen every growth: the memory is its initial size
  // plus what the counted calls added.
  if (r.mem !== initialMemory + growth.grown_bytes)
    throw new Error(
      `${what}: memory is ${r.mem} B but the counted growth explains ${initialMemory + growth.grown_bytes} B`,
    );
  return { ...r, grow_calls: growth.grow_calls };
}

const runOnce = (w, alloc, scale) =>
  runModule(`${w.name} under ${alloc}`, progPath(w.prog, alloc), [String(scale), ...w.args], INITIAL_MEMORY);

// The negative control: a workload must fail its self-check when the
// allocator hands out overlapping blocks (bench/control/overlap.c).
async function checkControl() {
  try {
    await runOnce({ name: 'fixed-64', prog: 'fixed', args: ['64'] }, 'overlap', 1);
  } catch (e) {
    if (/block contents changed/.test(e.message)) return;
    throw new Error(`negative control failed for the wrong reason: ${e.message}`);
  }
  throw new Error('negative control: a workload passed its self-check on an allocator that overlaps blocks');
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function measureSpeed(runs, scale) {
  const samples = {};
  for (let r = 0; r < runs; r++) {
    for (const w of WORKLOADS) {
      // Interleave: every allocator runs once per round, in a rotating order.
      for (let k = 0; k < ALLOCATORS.length; k++) {
        const alloc = ALLOCATORS[(k + r) % ALLOCATORS.length];
        const res = await runOnce(w, alloc, scale);
        ((samples[w.name] ||= {})[alloc] ||= []).push(res);
      }
    }
    process.stderr.write(`  workloads: round ${r + 1}/${runs} done\n`);
  }
  const out = {};
  for (const w of WORKLOADS) {
    const by = samples[w.name];
    const ref = by.dlmalloc[0];
    out[w.name] = {};
    for (const alloc of ALLOCATORS) {
      for (const s of by[alloc]) {
        if (s.checksum !== ref.checksum || s.ops !== ref.ops || s.peak_live !== ref.peak_live)
          throw new Error(
            `${w.name}: ${alloc} disagrees with dlmalloc (checksum ${s.checksum} vs ${ref.checksum}, ops ${s.ops} vs ${ref.ops})`,
          );
      }
      const ms = median(by[alloc].map((s) => s.ms));
      out[w.name][alloc] = {
        ops: ref.ops,
        ms_median: round(ms, 3),
        ms_all: by[alloc].map((s) => s.ms),
        ops_per_sec: Math.round(ref.ops / (ms / 1000)),
        // The fastest run: less sensitive than the median to other load on the machine.
        ops_per_sec_best: Math.round(ref.ops / (Math.min(...by[alloc].map((s) => s.ms)) / 1000)),
        memory: Math.max(...by[alloc].map((s) => s.mem)),
        peak_live: ref.peak_live,
        grow_calls: Math.max(...by[alloc].map((s) => s.grow_calls)),
      };
    }
    for (const alloc of ALLOCATORS) {
      const a = out[w.name][alloc],
        d = out[w.name].dlmalloc;
      a.speed_vs_dlmalloc = round(a.ops_per_sec / d.ops_per_sec, 3);
      a.speed_vs_dlmalloc_best = round(a.ops_per_sec_best / d.ops_per_sec_best, 3);
      a.memory_vs_dlmalloc = round(a.memory / d.memory, 3);
    }
  }
  return out;
}

// Runs every program `runs` times per allocator, interleaved; checks that the
// allocators agree on every output; reports heap, time and growth calls.
async function measurePrograms(prepared, runs, scale) {
  const samples = {};
  for (let r = 0; r < runs; r++) {
    for (const p of PROGRAMS) {
      for (let k = 0; k < ALLOCATORS.length; k++) {
        const alloc = ALLOCATORS[(k + r) % ALLOCATORS.length];
        const res = await runModule(
          `program ${p.name} under ${alloc}`,
          programPath(p.name, alloc),
          [String(scale)],
          INITIAL_MEMORY,
        );
        ((samples[p.name] ||= {})[alloc] ||= []).push(res);
      }
    }
    process.stderr.write(`  programs: round ${r + 1}/${runs} done\n`);
  }
  const out = {};
  for (const p of PROGRAMS) {
    const by = samples[p.name];
    const ref = by.dlmalloc[0];
    for (const alloc of ALLOCATORS) {
      for (const s of by[alloc]) {
        if (s.checksum !== ref.checksum || s.work !== ref.work || s.peak_live !== ref.peak_live)
          throw new Error(
            `program ${p.name}: ${alloc} disagrees with dlmalloc (checksum ${s.checksum} vs ${ref.checksum}, ` +
              `work ${s.work} vs ${ref.work}, peak live ${s.peak_live} vs ${ref.peak_live})`,
          );
      }
    }
    const prep = prepared[p.name];
    // The program's static part (data and its stack, below __heap_base) is
    // the smallest __heap_base of the three builds: an allocator's own
    // static state (zee_alloc's page map, dlmalloc's malloc_state) above
    // that counts as heap, like its headers and free space.
    const staticPart = Math.min(...ALLOCATORS.map((a) => by[a][0].heap_base));
    const entry = {
      what: p.what,
      source: `${prep.version}, from npm ${p.package.name}@${p.package.version}`,
      checksum: ref.checksum,
      work: ref.work,
      peak_live: ref.peak_live,
      static_part: staticPart,
    };
    for (const alloc of ALLOCATORS) {
      const ss = by[alloc];
      const mem = Math.max(...ss.map((s) => s.mem));
      const growCalls = Math.max(...ss.map((s) => s.grow_calls));
      entry[alloc] = {
        ms_median: round(median(ss.map((s) => s.ms)), 3),
        ms_all: ss.map((s) => s.ms),
        // Peak heap: the final memory size minus the static part; memory only
        // grows, and grows exactly as asked, so this is the peak footprint.
        // An allocator that never grew used at most its initial memory: then
        // the figure is an upper bound (heap_is_upper_bound).
        heap: mem - staticPart,
        heap_is_upper_bound: growCalls === 0,
        memory: mem,
        heap_base: ss[0].heap_base,
        grow_calls: growCalls,
      };
    }
    for (const alloc of ALLOCATORS) {
      const a = entry[alloc];
      for (const other of ['dlmalloc', 'emmalloc']) {
        a[`heap_vs_${other}`] = round(a.heap / entry[other].heap, 3);
        a[`time_vs_${other}`] = round(a.ms_median / entry[other].ms_median, 3);
      }
    }
    out[p.name] = entry;
  }
  return out;
}

const round = (x, d) => Math.round(x * 10 ** d) / 10 ** d;
const geomean = (xs) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

// ---- Reporting ---------------------------------------------------------------------------
function machine() {
  const first = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { env, encoding: 'utf8' }).split('\n')[0].trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    cpu: cpus()[0]?.model || 'unknown',
    cores: cpus().length,
    memory_gib: round(totalmem() / 2 ** 30, 1),
    os: release(),
    node: process.version,
    emcc: first('emcc', ['--version']),
    wasm_opt: first(process.execPath, [wasmOpt, '--version']),
  };
}

// Which zee_alloc was measured: the commit, whether src/ had uncommitted
// changes, and a hash of the sources the build read.
function zeeProvenance() {
  const git = (args) => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const h = createHash('sha256');
  for (const f of readdirSync(join(root, 'src'))
    .filter((f) => /\.[ch]$/.test(f))
    .sort())
    h.update(f).update(readFileSync(join(root, 'src', f)));
  const status = git(['status', '--porcelain', '--', 'src']);
  return {
    commit: git(['rev-parse', 'HEAD']) || 'unknown',
    src_modified: status === null ? 'unknown' : status !== '',
    src_sha256: h.digest('hex'),
  };
}

const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : n);
const x = (v) => `${v.toFixed(2)}×`;
const mib = (b) => (b < 2 ** 20 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 2 ** 20).toFixed(2)} MiB`);
const secs = (ms) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`);

// Markdown tables (docs/performance.md quotes them as printed; the README sums them up).
export function tables(res) {
  const lines = [];
  const sizes = res.size;
  lines.push(
    '| Code size (bytes, -Oz + wasm-opt -Oz) | malloc+free | gzip | full API | gzip |',
    '|---|--:|--:|--:|--:|',
  );
  for (const l of Object.keys(sizes['full API'])) {
    const a = sizes['malloc+free']?.[l] || { bytes: '-', gzip: '-' },
      b = sizes['full API'][l];
    lines.push(`| ${l} | ${fmt(a.bytes)} | ${fmt(a.gzip)} | ${fmt(b.bytes)} | ${fmt(b.gzip)} |`);
  }
  lines.push('');
  lines.push(
    '| Workload | zee_alloc ops/s | dlmalloc ops/s | emmalloc ops/s | zee/dl speed | em/dl speed | zee/dl memory | em/dl memory | zee memory | dl memory | em memory | peak live |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const [name, r] of Object.entries(res.speed)) {
    const z = r.zee_alloc,
      d = r.dlmalloc,
      e = r.emmalloc;
    lines.push(
      `| ${name} | ${fmt(z.ops_per_sec)} | ${fmt(d.ops_per_sec)} | ${fmt(e.ops_per_sec)} | ${x(z.speed_vs_dlmalloc)} | ${x(e.speed_vs_dlmalloc)} | ` +
        `${x(z.memory_vs_dlmalloc)} | ${x(e.memory_vs_dlmalloc)} | ${mib(z.memory)} | ${mib(d.memory)} | ${mib(e.memory)} | ${mib(z.peak_live)} |`,
    );
  }
  const s = res.summary,
    g = s.speed_geomean,
    m = s.memory_geomean;
  lines.push(
    `| **geometric mean** | | | | **${x(g.zee_alloc)}** | ${x(g.emmalloc)} | ${x(m.zee_alloc)} | ${x(m.emmalloc)} | | | | |`,
  );
  lines.push(
    '',
    `Speed is the median of ${res.runs} interleaved runs at scale ${res.scale}; memory is the final wasm memory size. ` +
      `From the fastest run of each instead, the speed geometric means are zee_alloc ${x(s.speed_geomean_best.zee_alloc)}, ` +
      `emmalloc ${x(s.speed_geomean_best.emmalloc)} dlmalloc.`,
  );
  lines.push('');
  lines.push(
    '| Program | zee heap | dl heap | em heap | heap zee/dl | heap zee/em | time zee/dl | time zee/em | zee time | dl time | em time | growth calls zee / dl / em |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const [name, r] of Object.entries(res.programs)) {
    const z = r.zee_alloc,
      d = r.dlmalloc,
      e = r.emmalloc;
    const heap = (a) => `${a.heap_is_upper_bound ? '≤ ' : ''}${mib(a.heap)}`;
    lines.push(
      `| ${name} | ${heap(z)} | ${heap(d)} | ${heap(e)} | ${x(z.heap_vs_dlmalloc)} | ${x(z.heap_vs_emmalloc)} | ` +
        `${x(z.time_vs_dlmalloc)} | ${x(z.time_vs_emmalloc)} | ${secs(z.ms_median)} | ${secs(d.ms_median)} | ${secs(e.ms_median)} | ` +
        `${z.grow_calls} / ${d.grow_calls} / ${e.grow_calls} |`,
    );
  }
  lines.push(
    '',
    "Heap is the final wasm memory size minus the program's static part (data and stack: the smallest __heap_base of the " +
      'three builds, so an allocator\'s own static state counts as heap), i.e. the heap\'s peak footprint; "≤" marks an allocator that never ' +
      `grew its initial ${mib(INITIAL_MEMORY)} (an upper bound); time is the median of ${res.runs} interleaved runs at scale ${res.scale} (smaller is better); growth calls count ` +
      'WebAssembly.Memory.prototype.grow calls. Programs:',
  );
  for (const [name, r] of Object.entries(res.programs))
    lines.push(`- ${name}: ${r.source}; ${r.what}; peak live ${mib(r.peak_live)} as the program counts it.`);
  return lines.join('\n');
}

function summarize(size, speed, programs) {
  const names = Object.keys(speed);
  const gm = (alloc, key) => round(geomean(names.map((n) => speed[n][alloc][key])), 3);
  const z = 'zee_alloc default';
  const progs = Object.keys(programs);
  const targets = {
    'full API <= 2048 B': { value: size['full API'][z].bytes, met: size['full API'][z].bytes <= 2048 },
    'malloc+free <= 1280 B': size['malloc+free']
      ? { value: size['malloc+free'][z].bytes, met: size['malloc+free'][z].bytes <= 1280 }
      : { value: 'not measured in quick mode', met: false },
    'real programs: heap <= 1.10x dlmalloc': {
      value: progs.filter((n) => programs[n].zee_alloc.heap_vs_dlmalloc > 1.1),
      met: progs.every((n) => programs[n].zee_alloc.heap_vs_dlmalloc <= 1.1),
    },
    'real programs: time <= 1.0x dlmalloc': {
      value: progs.filter((n) => programs[n].zee_alloc.time_vs_dlmalloc > 1),
      met: progs.every((n) => programs[n].zee_alloc.time_vs_dlmalloc <= 1),
    },
    'memory <= 1.25x dlmalloc on each workload': {
      value: names.filter((n) => speed[n].zee_alloc.memory_vs_dlmalloc > 1.25),
      met: names.every((n) => speed[n].zee_alloc.memory_vs_dlmalloc <= 1.25),
    },
    'growth calls <= dlmalloc on each program': {
      value: progs.filter((n) => programs[n].zee_alloc.grow_calls > programs[n].dlmalloc.grow_calls),
      met: progs.every((n) => programs[n].zee_alloc.grow_calls <= programs[n].dlmalloc.grow_calls),
    },
  };
  const each = (key) => Object.fromEntries(['zee_alloc', 'emmalloc'].map((a) => [a, gm(a, key)]));
  const progGm = (alloc, key) => round(geomean(progs.map((n) => programs[n][alloc][key])), 3);
  return {
    speed_geomean: each('speed_vs_dlmalloc'),
    speed_geomean_best: each('speed_vs_dlmalloc_best'),
    memory_geomean: each('memory_vs_dlmalloc'),
    programs_heap_vs_dlmalloc_geomean: {
      zee_alloc: progGm('zee_alloc', 'heap_vs_dlmalloc'),
      emmalloc: progGm('emmalloc', 'heap_vs_dlmalloc'),
    },
    programs_time_vs_dlmalloc_geomean: {
      zee_alloc: progGm('zee_alloc', 'time_vs_dlmalloc'),
      emmalloc: progGm('emmalloc', 'time_vs_dlmalloc'),
    },
    targets,
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const zeeSource = zeeProvenance(); // before anything is built from it
  const since = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  mkdirSync(join(work, 'obj'), { recursive: true });
  process.stderr.write(
    `bench: ${o.quick ? 'quick' : 'full'} run, ${o.runs} run(s) per workload and program, scale ${o.scale}\n`,
  );
  // The programs' sources first: a registry that can't be reached fails the
  // run at once.  Their compiles and links then start ahead of the rest and
  // share the build slots with it (SQLite's amalgamation is the longest job);
  // each program links as soon as its objects and zee_alloc's are built.
  const unpacked = await Promise.all(PROGRAMS.map(async (p) => unpack(p, await fetchTarball(p.package))));
  process.stderr.write(
    `  program sources ready: ${PROGRAMS.map((p) => `${p.package.name}@${p.package.version}`).join(', ')} (${since()})\n`,
  );
  const zeeSpeed = zeeObjects('speed', SPEED_FLAGS, []);
  zeeSpeed.catch(() => {}); // awaited below
  const programsBuilt = Promise.all(
    PROGRAMS.map(async (p, i) => {
      const prep = await prepareProgram(p, unpacked[i]);
      await linkProgram(p, prep, await zeeSpeed);
      return [p.name, prep];
    }),
  );
  programsBuilt.catch(() => {}); // awaited below
  // Quick mode links only the full-API modules: they contain malloc and free
  // too, so every configuration is still compiled, linked and measured.
  const size = await measureSizes(o.quick ? ['full API'] : Object.keys(API_SETS));
  process.stderr.write(
    `  code size: ${Object.keys(size['full API']).length} modules per API set measured (${since()})\n`,
  );
  await buildWorkloads(await zeeSpeed);
  process.stderr.write(`  workloads built (${since()})\n`);
  const prepared = Object.fromEntries(await programsBuilt);
  process.stderr.write(
    `  programs built: ${PROGRAMS.map((p) => `${p.name} (${prepared[p.name].version})`).join(', ')} (${since()})\n`,
  );
  await checkControl();
  process.stderr.write('  negative control: the self-check catches overlapping blocks\n');
  const speed = await measureSpeed(o.runs, o.scale);
  const programs = await measurePrograms(prepared, o.runs, o.scale);
  const res = {
    generated: new Date().toISOString(),
    mode: o.quick ? 'quick' : 'full',
    runs: o.runs,
    scale: o.scale,
    command: o.quick ? 'npm run test:bench' : 'npm run bench',
    machine: machine(),
    zee_alloc_source: zeeSource,
    flags: {
      size: '-Oz, then wasm-opt -Oz',
      speed: [...SPEED_FLAGS, ...LINK_FLAGS].join(' '),
      programs: [...SPEED_FLAGS, ...PROGRAM_LINK_FLAGS].join(' '),
      zee_alloc: '-fno-builtin, linked with -sMALLOC=none',
    },
    size,
    speed,
    programs,
    summary: summarize(size, speed, programs),
    seconds: Math.round((Date.now() - t0) / 1000),
  };
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(res, null, 2) + '\n');
  mkdirSync(dirname(o.svg), { recursive: true });
  writeFileSync(o.svg, renderSvg(res));
  console.log(tables(res));
  console.log('\nTargets:');
  for (const [k, t] of Object.entries(res.summary.targets))
    console.log(
      `  ${t.met ? 'met    ' : 'NOT met'}  ${k}: ${Array.isArray(t.value) ? t.value.join(', ') || 'none' : t.value}`,
    );
  console.log(`\n${res.machine.cpu} (${res.machine.cores} cores), node ${res.machine.node}, ${res.machine.emcc}`);
  console.log(
    `zee_alloc from commit ${zeeSource.commit.slice(0, 12)}${zeeSource.src_modified === true ? ' with uncommitted changes in src/' : ''}`,
  );
  console.log(`wrote ${relative(root, o.out)} and ${relative(root, o.svg)} in ${res.seconds} s`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`bench failed: ${e.message}`);
    process.exit(1);
  });
}
