// The native regression: the fuzz harness (test/native/harness.c) built with
// clang, AddressSanitizer and UBSan but without libFuzzer, run over the
// committed corpus under every build of the core (test/native/configs.h), and
// the bad-input table run natively.  Any finding aborts the program with a
// report, which fails these tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const corpus = fileURLToPath(new URL('native/corpus', import.meta.url));
// The builds of the core: the X(...) lines of configs.h.
const builds = readFileSync(new URL('native/configs.h', import.meta.url), 'utf8').match(/^\s*X\(/gm).length;
let bin;

// Why: a sanitizer report is long; the test failure should show all of it.
function run(args) {
  const r = spawnSync(bin, args, { cwd: root, encoding: 'utf8', env: { ...process.env, UBSAN_OPTIONS: 'print_stacktrace=1' } });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  bin = execFileSync('bash', ['test/native/build.sh', 'regress'], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop();
}, 120000);

test('every corpus input passes under every build of the core (ASan + UBSan)', () => {
  const files = readdirSync(corpus).filter((f) => !f.startsWith('.'));
  expect(files.length).toBeGreaterThanOrEqual(30);
  const out = run(['--all-configs', corpus]);
  const m = out.match(/regress: (\d+) inputs, (\d+) runs, (\d+) calls, .*no finding/);
  expect(m).not.toBeNull();
  expect(Number(m[1])).toBe(files.length);
  expect(Number(m[2])).toBe(files.length * builds);
  expect(Number(m[3])).toBeGreaterThan(10000);
}, 90000);

const SEED = Number(process.env.ZEE_SEED ?? 20261125) >>> 0;
test(`fault injection natively: 200 random inputs, growth refused at random points, every build (seed ${SEED})`, () => {
  const out = run(['--random', '200', String(SEED)]);
  const m = out.match(/regress: 200 inputs, (\d+) runs, (\d+) calls, (\d+) NULLs accounted, (\d+) growths refused, no finding/);
  expect(m).not.toBeNull();
  expect(Number(m[1])).toBe(200 * builds);
  const [calls, nulls, refused] = [m[2], m[3], m[4]].map(Number);
  expect(refused).toBeGreaterThan(1000);
  expect(nulls).toBeGreaterThan(1000);
  expect(calls - nulls).toBeGreaterThan(nulls); // the heap keeps serving after failures
}, 60000);

test('the bad-input table natively: faults before any change, sizes and alignments (ASan + UBSan)', () => {
  const out = run(['--bad-input']);
  const m = out.match(/bad-input: (\d+) cases passed over (\d+) builds/);
  expect(m).not.toBeNull();
  expect(Number(m[2])).toBe(builds);
  expect(Number(m[1])).toBeGreaterThan(500);
});

test('the runner rejects a missing corpus path instead of passing vacuously', () => {
  const r = spawnSync(bin, ['no/such/dir'], { cwd: root, encoding: 'utf8' });
  expect(r.status).not.toBe(0);
  const usage = spawnSync(bin, [], { cwd: root, encoding: 'utf8' });
  expect(usage.status).toBe(2);
});
