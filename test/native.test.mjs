// The native regression: the fuzz harness (test/native/harness.c) built with
// clang, AddressSanitizer and UBSan but without libFuzzer, run over the
// committed corpus under every build of the core (test/native/configs.h), and
// the bad-input table run natively.  Any finding aborts the program with a
// report, which fails these tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const corpus = fileURLToPath(new URL('native/corpus', import.meta.url));
// The builds of the core: the X(name, validation, threads) lines of configs.h.
const configs = [
  ...readFileSync(new URL('native/configs.h', import.meta.url), 'utf8').matchAll(/^\s*X\((\w+), *(\d), *(\d)\)/gm),
];
const builds = configs.length;
const checked = configs.filter((m) => Number(m[2]) > 0).length;
const env = { ...process.env, UBSAN_OPTIONS: 'print_stacktrace=1' };
let bin;

// Why: a sanitizer report is long; the test failure should show all of it.
function run(args, program = bin) {
  const r = spawnSync(program, args, { cwd: root, encoding: 'utf8', env });
  if (r.status !== 0)
    throw new Error(`${program} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// A mutant core is built into `out`, a folder of this run's own.
function build(kind, core, out) {
  const r = execFileSync('bash', ['test/native/build.sh', kind], {
    cwd: root,
    encoding: 'utf8',
    env: core ? { ...process.env, ZEE_CORE: core, ZEE_NATIVE_OUT: out } : process.env,
  });
  return r.trim().split('\n').pop();
}

beforeAll(() => {
  bin = build('regress');
}, 120000);

test('configs.h lists every value of both options', () => {
  expect(builds).toBeGreaterThanOrEqual(4);
  expect(new Set(configs.map((m) => m[2]))).toEqual(new Set(['0', '1', '2']));
  expect(new Set(configs.map((m) => m[3]))).toEqual(new Set(['0', '1']));
});

test('every corpus input passes under every build of the core (ASan + UBSan)', () => {
  const files = readdirSync(corpus).filter((f) => !f.startsWith('.'));
  expect(files.length).toBeGreaterThanOrEqual(30);
  const out = run(['--all-configs', corpus]);
  const m = out.match(
    /regress: (\d+) inputs, (\d+) runs, (\d+) calls, (\d+) NULLs accounted, (\d+) growths refused, (\d+) bad pointers rejected, no finding/,
  );
  expect(m).not.toBeNull();
  expect(Number(m[1])).toBe(files.length);
  expect(Number(m[2])).toBe(files.length * builds);
  expect(Number(m[3])).toBeGreaterThan(10000);
  expect(Number(m[6])).toBeGreaterThan(1000); // freed and interior pointers probed in checked builds
}, 90000);

const SEED = Number(process.env.ZEE_SEED ?? 20261125) >>> 0;
test(`fault injection natively: 200 random inputs, growth refused at random points, every build (seed ${SEED})`, () => {
  const out = run(['--random', '200', String(SEED)]);
  const m = out.match(
    /regress: 200 inputs, (\d+) runs, (\d+) calls, (\d+) NULLs accounted, (\d+) growths refused, (\d+) bad pointers rejected, no finding/,
  );
  expect(m).not.toBeNull();
  expect(Number(m[1])).toBe(200 * builds);
  const [calls, nulls, refused] = [m[2], m[3], m[4]].map(Number);
  expect(refused).toBeGreaterThan(1000);
  expect(nulls).toBeGreaterThan(1000);
  expect(calls - nulls).toBeGreaterThan(nulls); // the heap keeps serving after failures
}, 60000);

test('the bad-input table natively: faults before any change, sizes and alignments (ASan + UBSan)', () => {
  const out = run(['--bad-input']);
  const m = out.match(/bad-input: (\d+) cases passed over (\d+) builds \((\d+) with pointer checks\)/);
  expect(m).not.toBeNull();
  expect(Number(m[2])).toBe(builds);
  expect(Number(m[3])).toBe(checked);
  // Every build: sizes near SIZE_MAX and bad alignments; checked builds also
  // every bad pointer through free, realloc and malloc_usable_size.
  expect(Number(m[1])).toBeGreaterThanOrEqual(25 * builds + 60 * checked);
});

test('the runner rejects a missing corpus path instead of passing vacuously', () => {
  const r = spawnSync(bin, ['no/such/dir'], { cwd: root, encoding: 'utf8' });
  expect(r.status).not.toBe(0);
  const usage = spawnSync(bin, [], { cwd: root, encoding: 'utf8' });
  expect(usage.status).toBe(2);
});

// Broken copies of the core that zee_check() alone accepts (each keeps the
// heap consistent with itself): the harness's own checks must catch them.
describe('the harness catches a broken core', () => {
  const core = readFileSync(join(root, 'src/zee_alloc.c'), 'utf8');
  let dir;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zee-native-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // [name, site, replacement, corpus input that meets it, what the harness reports]
  const cases = [
    [
      'the peak follows the bytes in use',
      'if (H.used_bytes > H.peak_bytes)\n    H.peak_bytes = H.used_bytes;',
      'H.peak_bytes = H.used_bytes;',
      'seed-classes-0',
      /running totals: peak \d+ bytes, want \d+/,
    ],
    [
      'zee_heap_info() initialises the heap',
      'const zee_heap_info_t *zee_heap_info(void) { return &H; }',
      'const zee_heap_info_t *zee_heap_info(void) {\n  if (!H.heap_start) init();\n  return &H;\n}',
      'seed-classes-0',
      /the heap was initialised .* before its first allocation/,
    ],
    [
      'every block is a granule larger than its request needs',
      'uint32_t m = ((uint32_t)n + META_SIZE + MIN_FRAME - 1) & ~(MIN_FRAME - 1);',
      'uint32_t m = ((uint32_t)n + META_SIZE + 2 * MIN_FRAME - 1) & ~(MIN_FRAME - 1);',
      'seed-classes-0',
      /usable size \d+, want \d+ \(a block of roundup\(n \+ 8, 16\)/,
    ],
    [
      'realloc moves a block that it could shrink in place',
      'done = info & 8 ? want == size : !slab_sized(want) && resize(p, size, want);',
      'done = info & 8 ? want == size : want > size && !slab_sized(want) && resize(p, size, want);',
      'seed-realloc-0',
      /moved to 0x[0-9a-f]+ instead of being resized in place/,
    ],
    [
      'slabs hold eight slots instead of four',
      '(m * ZEE_SLAB_SLOTS - 1)',
      '(m * 8 - 1)',
      'seed-classes-0',
      /a slot of \d+ bytes, but not one of a slab of \d+ bytes/,
    ],
    [
      'out of memory in its own pool, a block never takes the free frames of the other',
      'if (pass++)\n      return 0;',
      'if (++pass)\n      return 0;',
      'seed-classes-0',
      /the free run \[0x[0-9a-f]+, 0x[0-9a-f]+\) at the top of the heap, gave NULL with growth refused/,
    ],
    [
      "memory someone else grew is taken as the heap's own",
      '  if (from != x) {',
      '  if (0) {',
      'seed-probes-0',
      /outside the heap or on foreign pages|foreign blocks cover \d+ bytes|foreign pages were written/,
    ],
  ];
  test.each(cases)(
    '%s',
    (_, from, to, input, finding) => {
      expect(core.split(from)).toHaveLength(2); // the site is in the core exactly once
      const path = join(dir, 'zee_alloc.c');
      writeFileSync(path, core.replace(from, to));
      const mutant = build('regress', path, join(dir, 'build'));
      const r = spawnSync(mutant, ['--all-configs', join(corpus, input)], {
        cwd: root,
        encoding: 'utf8',
        env,
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(finding);
    },
    120000,
  );
});
