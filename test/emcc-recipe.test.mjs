// The README's plain-emcc recipe, run exactly as written: the test takes the
// C block and the shell block that follow the `emcc-recipe` marker, writes
// app.c, makes `node_modules/zee-alloc` point at this checkout (what the
// recipe's ZEE names), and runs the shell lines with bash in an empty folder,
// with the environment a user's shell has: no NODE_PATH (the recipe sets
// it) and no node_modules/.bin on PATH.  The `# →` comment is what the
// program must print.  Controls: with Debian's emcc 3.1.6, leaving out the
// NODE_PATH line or -sWASM_ASYNC_COMPILATION=0 must fail, so the recipe
// carries nothing it does not need.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = join(root, 'test-output', 'emcc-recipe');

/** The C block and the sh block after the marker, and the expected output. */
export function recipe(readme) {
  const at = readme.indexOf('<!-- emcc-recipe');
  if (at < 0) throw new Error('README.md has no <!-- emcc-recipe ... --> marker');
  const blocks = [...readme.slice(at).matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].slice(0, 2);
  if (blocks.length < 2 || blocks[0][1] !== 'c' || blocks[1][1] !== 'sh') {
    throw new Error('the emcc-recipe marker must be followed by a ```c block and a ```sh block');
  }
  const shell = blocks[1][2];
  const expected = [...shell.matchAll(/# → (.*)$/gm)].map((m) => m[1].trimEnd());
  return { app: blocks[0][2], shell, expected };
}

// A user's shell: Debian's Node and emcc on PATH, but neither npm's
// node_modules/.bin (a newer wasm-opt that 3.1.6 can't read) nor NODE_PATH.
function userEnv() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  env.PATH = (env.PATH ?? '')
    .split(':')
    .filter((d) => d && !d.endsWith('node_modules/.bin'))
    .join(':');
  return env;
}

/** Runs `shell` with bash in a fresh folder holding app.c; returns { status, out }. */
function runRecipe(name, app, shell) {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'zee-alloc'), 'dir');
  writeFileSync(join(dir, 'app.c'), app);
  writeFileSync(join(dir, 'recipe.sh'), `set -e\n${shell}`);
  const r = spawnSync('bash', ['recipe.sh'], { cwd: dir, env: userEnv(), encoding: 'utf8', timeout: 180000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const { app, shell, expected } = recipe(readFileSync(join(root, 'README.md'), 'utf8'));
const emccVersion =
  spawnSync('emcc', ['--version'], { encoding: 'utf8', env: { ...userEnv(), NODE_PATH: '/usr/share/nodejs' } })
    .stdout ?? '';
const debian316 = /\b3\.1\.6\b/.test(emccVersion);

describe('README: the plain-emcc recipe', () => {
  test('the recipe links zee_alloc as the malloc, and says what it prints', () => {
    expect(shell).toMatch(/-sMALLOC=none/);
    expect(shell).toMatch(/\$ZEE\/src\/zee_alloc\.c/);
    expect(app).toMatch(/zee_check\(\)/); // links only if zee_alloc is in
    expect(expected.length).toBeGreaterThanOrEqual(1);
  });

  test('builds and runs as written', () => {
    const r = runRecipe('as-written', app, shell);
    expect([r.status, r.err]).toEqual([0, r.err]);
    expect(r.out.trimEnd().split('\n')).toEqual(expected);
  });

  // Each line of the recipe that is there for Debian's 3.1.6 must be needed there.
  (debian316 ? test : test.skip).each([
    ['the NODE_PATH line', (s) => s.replace(/^export NODE_PATH=.*$/m, ''), /acorn/],
    ['-sWASM_ASYNC_COMPILATION=0', (s) => s.replace(' -sWASM_ASYNC_COMPILATION=0', ''), /Failed to parse URL/],
  ])('emcc 3.1.6 control: without %s the recipe fails', (_name, cut, message) => {
    const changed = cut(shell);
    expect(changed).not.toBe(shell);
    const r = runRecipe('control', app, changed);
    expect(r.status).not.toBe(0);
    expect(r.out + r.err).toMatch(message);
  });
});
