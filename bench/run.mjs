#!/usr/bin/env node
// zee_alloc against Emscripten's dlmalloc and emmalloc: code size, speed and
// peak memory, all built from the same sources in one run.
//
//   node bench/run.mjs            full run (npm run bench): writes
//                                 bench/results/latest.json and docs/bench.svg
//   node bench/run.mjs --quick    CI mode (npm run test:bench): builds
//                                 everything, runs each workload once at a
//                                 small scale, writes build/issue5/quick.*
//   --runs N  --scale N  --out FILE.json  --svg FILE.svg   override defaults
//
// Fails (exit 1) when a build fails, a workload's self-check fails, or the
// allocators disagree on a workload's checksum.  Timings are never asserted.
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { renderSvg } from './svg.mjs';
import { EMCC_ENV } from '../scripts/build.mjs';

const execFile = promisify(execFileCb);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, 'build', 'issue5');
// emcc's environment is the one the wasm build uses (see scripts/build.mjs).
const env = EMCC_ENV;
const wasmOpt = join(root, 'node_modules', 'binaryen', 'bin', 'wasm-opt');

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
  console.error(`bench/run.mjs: ${msg}\nusage: node bench/run.mjs [--quick] [--runs N] [--scale N] [--out FILE] [--svg FILE]`);
  process.exit(2);
}

// ---- What is measured ------------------------------------------------------------
// zee_cache is zee_alloc built with ZEE_CACHE=32 (an option, not the default).
export const ALLOCATORS = ['zee_alloc', 'zee_cache', 'dlmalloc', 'emmalloc'];
const CACHE_DEFINES = ['ZEE_CACHE=32'];

// zee_alloc configurations for the size table: the default, then each other
// value of each option on its own, then the smallest combination.  ZEE_THREADS
// needs -pthread, so it is measured against a stub and a default built with
// -pthread too (the "(-pthread)" rows).
export const CONFIGS = {
  default: { defines: [] },
  'validation=0 (unsafe)': { defines: ['ZEE_VALIDATION=0'] },
  'validation=2 (dev)': { defines: ['ZEE_VALIDATION=2'] },
  'jumbo=1 (exact)': { defines: ['ZEE_JUMBO_MATCH=1'] },
  'jumbo=2 (first)': { defines: ['ZEE_JUMBO_MATCH=2'] },
  'buddy=0 (fast)': { defines: ['ZEE_BUDDY=0'] },
  'shrink=1 (chunkify)': { defines: ['ZEE_SHRINK=1'] },
  'unsafe + fast': { defines: ['ZEE_VALIDATION=0', 'ZEE_BUDDY=0'] },
  'cache=32': { defines: CACHE_DEFINES },
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
  { name: 'realloc-growth', prog: 'realloc', args: [] },
  { name: 'mixed-large', prog: 'mixed', args: [] },
  { name: 'zig-batch', prog: 'batch', args: [] },
  { name: 'queue', prog: 'queue', args: [] },
];

const SPEED_FLAGS = ['-O2'];
// Memory grows exactly as asked (GEOMETRIC_STEP=0), from a small start, so the
// final memory size is the peak footprint (to within one 64 KiB page).
const LINK_FLAGS = [
  '-sALLOW_MEMORY_GROWTH=1', '-sMEMORY_GROWTH_GEOMETRIC_STEP=0', '-sTOTAL_STACK=65536',
  '-sINITIAL_MEMORY=262144', '-sWASM_ASYNC_COMPILATION=0', '-sENVIRONMENT=node',
];

// ---- Building -----------------------------------------------------------------------
const zeeSources = () => readdirSync(join(root, 'src')).filter((f) => f.endsWith('.c')).map((f) => join(root, 'src', f));

// Runs emcc, failing with its output (not just a status) so CI logs say why.
async function emcc(args) {
  try {
    await execFile('emcc', args, { env, maxBuffer: 64 << 20 });
  } catch (e) {
    throw new Error(`emcc ${args.join(' ')}\n${e.stderr || e.message}`);
  }
}

// Runs async jobs two at a time (the machine has 2 cores).
async function pool(jobs, width = 2) {
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
  return pool(zeeSources().map((src) => async () => {
    const out = join(dir, src.split('/').pop().replace(/\.c$/, '.o'));
    await emcc([...flags, '-fno-builtin', ...defines.map((d) => `-D${d}`), '-c', src, '-o', out]);
    return out;
  }), 1);
}

// The allocator part of an emcc link command (zee: { zee_alloc: objects, zee_cache: objects }).
function allocatorLink(alloc, zee) {
  return zee[alloc] ? [...zee[alloc], '-sMALLOC=none'] : [`-sMALLOC=${alloc}`];
}

// Size of a module after `wasm-opt -Oz`: raw and gzipped bytes.
function optimizedSize(wasm, flags) {
  const opt = wasm.replace(/\.wasm$/, '.opt.wasm');
  const features = flags.includes('-pthread') ? ['--enable-threads', '--enable-bulk-memory'] : [];
  execFileSync(process.execPath, [wasmOpt, '-Oz', ...features, wasm, '-o', opt]);
  const bytes = readFileSync(opt);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

async function measureSizes(sets) {
  const dir = join(work, 'size');
  mkdirSync(dir, { recursive: true });
  // One stub and one main object per flag set (plain, -pthread).
  const flagSets = [...new Set(Object.values(CONFIGS).map((c) => (c.flags || []).join(' ')))];
  const base = {};
  await pool(flagSets.map((fs) => async () => {
    const flags = fs ? fs.split(' ') : [];
    const tag = slug(fs || 'plain');
    base[fs] = { flags, main: join(work, 'obj', `size-main-${tag}.o`), stub: join(work, 'obj', `size-stub-${tag}.o`) };
    await emcc(['-Oz', ...flags, '-c', join(root, 'bench', 'size', 'main.c'), '-o', base[fs].main]);
    await emcc(['-Oz', ...flags, '-fno-builtin', '-c', join(root, 'bench', 'size', 'stub.c'), '-o', base[fs].stub]);
  }));
  const objs = {};
  await pool(Object.entries(CONFIGS).map(([cfg, c]) => async () => {
    objs[cfg] = await zeeObjects(`size-${slug(cfg)}`, ['-Oz', ...(c.flags || [])], c.defines);
  }));
  const builds = [];
  for (const set of sets) {
    const fns = API_SETS[set];
    const exportsFlag = `-sEXPORTED_FUNCTIONS=${['main', ...fns].map((f) => '_' + f).join(',')}`;
    const targets = [
      ...flagSets.map((fs) => ({ label: `stub ${fs}`.trim(), fs, link: [base[fs].stub, '-sMALLOC=none'] })),
      { label: 'dlmalloc', fs: '', link: ['-sMALLOC=dlmalloc'] },
      { label: 'emmalloc', fs: '', link: ['-sMALLOC=emmalloc'] },
      ...Object.entries(CONFIGS).map(([cfg, c]) => ({ label: `zee_alloc ${cfg}`, fs: (c.flags || []).join(' '), link: [...objs[cfg], '-sMALLOC=none'] })),
    ];
    for (const t of targets) {
      const out = join(dir, `${slug(set)}-${slug(t.label)}.js`);
      builds.push({ set, ...t, out, job: () => emcc(['-Oz', ...base[t.fs].flags, base[t.fs].main, ...t.link, exportsFlag, '-o', out]) });
    }
  }
  await pool(builds.map((b) => b.job));
  // Allocator bytes = module - stub module (same exports, same flags).
  const result = {};
  for (const b of builds) b.size = optimizedSize(b.out.replace(/\.js$/, '.wasm'), base[b.fs].flags);
  for (const b of builds) {
    if (b.label.startsWith('stub')) continue;
    const stub = builds.find((x) => x.set === b.set && x.label === `stub ${b.fs}`.trim()).size;
    (result[b.set] ||= {})[b.label] = { bytes: b.size.raw - stub.raw, gzip: b.size.gzip - stub.gzip, module: b.size.raw, stub_module: stub.raw };
  }
  return result;
}

const slug = (s) => s.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();

async function buildWorkloads() {
  const dir = join(work, 'speed');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n'); // Emscripten's glue is CommonJS
  const zo = { zee_alloc: await zeeObjects('speed', SPEED_FLAGS, []), zee_cache: await zeeObjects('speed-cache', SPEED_FLAGS, CACHE_DEFINES) };
  const progs = [...new Set(WORKLOADS.map((w) => w.prog))];
  await pool(progs.map((p) => () => emcc([...SPEED_FLAGS, '-c', join(root, 'bench', 'workloads', `${p}.c`), '-o', join(work, 'obj', `w-${p}.o`)])));
  const jobs = [];
  for (const p of progs)
    for (const alloc of ALLOCATORS)
      jobs.push(() => emcc([...SPEED_FLAGS, join(work, 'obj', `w-${p}.o`), ...allocatorLink(alloc, zo), ...LINK_FLAGS, '-o', progPath(p, alloc)]));
  jobs.push(() => emcc([...SPEED_FLAGS, '-fno-builtin', join(work, 'obj', 'w-fixed.o'), join(root, 'bench', 'control', 'overlap.c'),
    '-sMALLOC=none', ...LINK_FLAGS, '-o', progPath('fixed', 'overlap')]));
  await pool(jobs);
}

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

const progPath = (prog, alloc) => join(work, 'speed', `${prog}.${alloc}.js`);

// ---- Running ---------------------------------------------------------------------------
// One run of one workload under one allocator: its JSON result line.
async function runOnce(w, alloc, scale) {
  let stdout = '';
  let failure = '';
  try {
    ({ stdout } = await execFile(process.execPath, [progPath(w.prog, alloc), String(scale), ...w.args], { maxBuffer: 1 << 20 }));
  } catch (e) {
    stdout = e.stdout || '';
    failure = `exit status ${e.code}: ${(e.stderr || '').trim().split('\n').slice(-3).join(' | ')}`;
  }
  const line = stdout.trim().split('\n').pop() || '';
  let r;
  try {
    r = JSON.parse(line);
  } catch {
    r = { error: failure || `unreadable output: ${line.slice(0, 200)}` };
  }
  if (r.error || failure) throw new Error(`${w.name} under ${alloc} failed its self-check: ${r.error || failure}`);
  return r;
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
    process.stderr.write(`  speed round ${r + 1}/${runs} done\n`);
  }
  const out = {};
  for (const w of WORKLOADS) {
    const by = samples[w.name];
    const ref = by.dlmalloc[0];
    out[w.name] = {};
    for (const alloc of ALLOCATORS) {
      for (const s of by[alloc]) {
        if (s.checksum !== ref.checksum || s.ops !== ref.ops || s.peak_live !== ref.peak_live)
          throw new Error(`${w.name}: ${alloc} disagrees with dlmalloc (checksum ${s.checksum} vs ${ref.checksum}, ops ${s.ops} vs ${ref.ops})`);
      }
      const ms = median(by[alloc].map((s) => s.ms));
      out[w.name][alloc] = {
        ops: ref.ops, ms_median: round(ms, 3), ms_all: by[alloc].map((s) => s.ms),
        ops_per_sec: Math.round(ref.ops / (ms / 1000)),
        // The fastest run: less sensitive than the median to other load on the machine.
        ops_per_sec_best: Math.round(ref.ops / (Math.min(...by[alloc].map((s) => s.ms)) / 1000)),
        memory: Math.max(...by[alloc].map((s) => s.mem)), peak_live: ref.peak_live,
      };
    }
    for (const alloc of ALLOCATORS) {
      const a = out[w.name][alloc], d = out[w.name].dlmalloc;
      a.speed_vs_dlmalloc = round(a.ops_per_sec / d.ops_per_sec, 3);
      a.speed_vs_dlmalloc_best = round(a.ops_per_sec_best / d.ops_per_sec_best, 3);
      a.memory_vs_dlmalloc = round(a.memory / d.memory, 3);
    }
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
    cpu: cpus()[0]?.model || 'unknown', cores: cpus().length, memory_gib: round(totalmem() / 2 ** 30, 1),
    os: release(), node: process.version, emcc: first('emcc', ['--version']),
    wasm_opt: first(process.execPath, [wasmOpt, '--version']),
  };
}

const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : n);
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

// Markdown tables (the README quotes them as printed).
export function tables(res) {
  const lines = [];
  const sizes = res.size;
  lines.push('| Code size (bytes, -Oz + wasm-opt -Oz) | malloc+free | gzip | full API | gzip |', '|---|--:|--:|--:|--:|');
  const labels = Object.keys(sizes['full API']);
  for (const l of labels) {
    const a = sizes['malloc+free']?.[l] || { bytes: '-', gzip: '-' }, b = sizes['full API'][l];
    lines.push(`| ${l} | ${fmt(a.bytes)} | ${fmt(a.gzip)} | ${fmt(b.bytes)} | ${fmt(b.gzip)} |`);
  }
  lines.push('');
  lines.push('| Workload | zee_alloc ops/s | dlmalloc ops/s | emmalloc ops/s | zee/dl speed | zee cache=32/dl speed | em/dl speed | zee/dl memory | zee cache=32/dl memory | em/dl memory | zee memory | dl memory | peak live |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  const x = (v) => `${v.toFixed(2)}×`;
  for (const [name, r] of Object.entries(res.speed)) {
    const z = r.zee_alloc, c = r.zee_cache, d = r.dlmalloc, e = r.emmalloc;
    lines.push(`| ${name} | ${fmt(z.ops_per_sec)} | ${fmt(d.ops_per_sec)} | ${fmt(e.ops_per_sec)} | ${x(z.speed_vs_dlmalloc)} | ${x(c.speed_vs_dlmalloc)} | ${x(e.speed_vs_dlmalloc)} | ${x(z.memory_vs_dlmalloc)} | ${x(c.memory_vs_dlmalloc)} | ${x(e.memory_vs_dlmalloc)} | ${mib(z.memory)} | ${mib(d.memory)} | ${mib(z.peak_live)} |`);
  }
  const s = res.summary, g = s.speed_geomean, m = s.memory_geomean;
  lines.push(`| **geometric mean** | | | | **${x(g.zee_alloc)}** | ${x(g.zee_cache)} | ${x(g.emmalloc)} | ${x(m.zee_alloc)} | ${x(m.zee_cache)} | ${x(m.emmalloc)} | | | |`);
  lines.push('', `Speed is the median of ${res.runs} interleaved runs at scale ${res.scale}; from the fastest run of each instead, ` +
    `the geometric means are zee_alloc ${x(s.speed_geomean_best.zee_alloc)}, zee cache=32 ${x(s.speed_geomean_best.zee_cache)}, emmalloc ${x(s.speed_geomean_best.emmalloc)} dlmalloc.`);
  return lines.join('\n');
}

const mib = (b) => (b < 2 ** 20 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 2 ** 20).toFixed(2)} MiB`);

function summarize(size, speed) {
  const names = Object.keys(speed);
  const gm = (alloc, key) => round(geomean(names.map((n) => speed[n][alloc][key])), 3);
  const z = 'zee_alloc default';
  const targets = {
    'full API <= 2048 B': { value: size['full API'][z].bytes, met: size['full API'][z].bytes <= 2048 },
    'malloc+free <= 1024 B': size['malloc+free']
      ? { value: size['malloc+free'][z].bytes, met: size['malloc+free'][z].bytes <= 1024 }
      : { value: 'not measured in quick mode', met: false },
    'speed geomean >= 1.5x dlmalloc': { value: gm('zee_alloc', 'speed_vs_dlmalloc'), met: gm('zee_alloc', 'speed_vs_dlmalloc') >= 1.5 },
    'no workload slower than dlmalloc': {
      value: names.filter((n) => speed[n].zee_alloc.speed_vs_dlmalloc < 1),
      met: names.every((n) => speed[n].zee_alloc.speed_vs_dlmalloc >= 1),
    },
    'memory <= 1.25x dlmalloc on each workload': {
      value: names.filter((n) => speed[n].zee_alloc.memory_vs_dlmalloc > 1.25),
      met: names.every((n) => speed[n].zee_alloc.memory_vs_dlmalloc <= 1.25),
    },
  };
  const each = (key) => Object.fromEntries(['zee_alloc', 'zee_cache', 'emmalloc'].map((a) => [a, gm(a, key)]));
  return {
    speed_geomean: each('speed_vs_dlmalloc'),
    speed_geomean_best: each('speed_vs_dlmalloc_best'),
    memory_geomean: each('memory_vs_dlmalloc'),
    targets,
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  mkdirSync(join(work, 'obj'), { recursive: true });
  process.stderr.write(`bench: ${o.quick ? 'quick' : 'full'} run, ${o.runs} run(s) per workload, scale ${o.scale}\n`);
  // Quick mode links only the full-API modules: they contain malloc and free
  // too, so every configuration is still compiled, linked and measured.
  const size = await measureSizes(o.quick ? ['full API'] : Object.keys(API_SETS));
  process.stderr.write(`  code size: ${Object.keys(size['full API']).length} modules per API set measured (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  await buildWorkloads();
  process.stderr.write(`  workloads built (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  await checkControl();
  process.stderr.write('  negative control: the self-check catches overlapping blocks\n');
  const speed = await measureSpeed(o.runs, o.scale);
  const res = {
    generated: new Date().toISOString(), mode: o.quick ? 'quick' : 'full', runs: o.runs, scale: o.scale,
    command: o.quick ? 'npm run test:bench' : 'npm run bench',
    machine: machine(), flags: { size: '-Oz, then wasm-opt -Oz', speed: [...SPEED_FLAGS, ...LINK_FLAGS].join(' ') },
    size, speed, summary: summarize(size, speed), seconds: Math.round((Date.now() - t0) / 1000),
  };
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(res, null, 2) + '\n');
  mkdirSync(dirname(o.svg), { recursive: true });
  writeFileSync(o.svg, renderSvg(res));
  console.log(tables(res));
  console.log('\nTargets:');
  for (const [k, t] of Object.entries(res.summary.targets))
    console.log(`  ${t.met ? 'met    ' : 'NOT met'}  ${k}: ${Array.isArray(t.value) ? t.value.join(', ') || 'none' : t.value}`);
  console.log(`\n${res.machine.cpu} (${res.machine.cores} cores), node ${res.machine.node}, ${res.machine.emcc}`);
  console.log(`wrote ${relative(root, o.out)} and ${relative(root, o.svg)} in ${res.seconds} s`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`bench failed: ${e.message}`);
    process.exit(1);
  });
}
