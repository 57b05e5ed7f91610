// The npm package from a consumer's side: `npm pack` the project,
// install the tarball into a fresh project under test-output/npm/, and run the
// README's "Install" and "Quick start" code exactly as written: a Node ESM
// script, a Node CommonJS script, a TypeScript check (`tsc --noEmit`) and a
// browser page that imports the package through an import map, in headless
// Chromium.  Each `// →` comment in a README block is a line the program must
// print.  Needs dist/*.wasm (`npm run build`); makes dist/cjs itself.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdtempSync,
  createReadStream,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interfaceFields as fieldsOf } from './helpers/declarations.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = join(root, 'test-output', 'npm');
const consumer = join(work, 'consumer');
const installed = join(consumer, 'node_modules', 'zee-alloc');
const require = createRequire(import.meta.url);
const tscBin = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

// Why: `npm test` passes npm_config_* variables to its scripts; a nested npm
// would take them as its own configuration (prefix, cache, ...).
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE_OPTIONS'),
);
cleanEnv.NODE_PATH ??= '/usr/share/nodejs'; // emcc 3.1.6 needs acorn from here

// Runs a command; returns stdout, or throws with everything it printed.
function run(cmd, args, cwd, timeout = 60000) {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv, encoding: 'utf8', timeout });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}) exited with ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`,
    );
  }
  return r.stdout;
}

// The async form of run(), for checks that can run side by side.
function runAsync(cmd, args, cwd) {
  return new Promise((ok) => {
    const child = spawn(cmd, args, { cwd, env: cleanEnv });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stdout += d;
    });
    child.on('close', (status) => ok({ status, stdout }));
  });
}

// ---- the README's code, read from between the npm markers ----------------
function readmeSection() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /<!-- BEGIN npm[^>]*-->([\s\S]*?)<!-- END npm -->/.exec(readme);
  if (!m) throw new Error('README.md has no npm section (<!-- BEGIN npm ... --> ... <!-- END npm -->)');
  return m[1];
}

// The first fenced block after `heading` (a whole line), with its language.
function blockAfter(section, heading) {
  const at = section.split('\n').findIndex((line) => line.trim() === heading);
  if (at < 0) throw new Error(`README npm section has no heading "${heading}"`);
  const rest = section
    .split('\n')
    .slice(at + 1)
    .join('\n');
  const m = /^```(\w+)\n([\s\S]*?)^```$/m.exec(rest);
  if (!m) throw new Error(`no code block after "${heading}"`);
  return { lang: m[1], code: m[2] };
}

// Why: the README states each result as `// → text`; the test holds it to that.
function expectedLines(code) {
  return code
    .split('\n')
    .map((l) => /\/\/ → (.*)$/.exec(l))
    .filter(Boolean)
    .map((m) => m[1].trimEnd());
}

const section = readmeSection();
const snippets = {
  install: blockAfter(section, '## Install'),
  esm: blockAfter(section, '### Node (ESM) and bundlers'),
  cjs: blockAfter(section, '### Node (CommonJS)'),
  ts: blockAfter(section, '### TypeScript'),
  browser: blockAfter(section, '### Browser, no bundler'),
};

let packed; // npm pack --json result for the tarball
let tarball;

beforeAll(() => {
  for (const f of ['zee_alloc.wasm', 'zee_alloc.dev.wasm', 'zee_alloc.unsafe.wasm']) {
    if (!existsSync(join(root, 'dist', f))) throw new Error(`dist/${f} is missing: run \`npm run build\` first`);
  }
  // What prepack does after the Emscripten build; the build itself is not
  // re-run here, since other test files read dist/*.wasm in parallel.
  run(process.execPath, [join(root, 'scripts', 'build-commonjs.mjs')], root);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'pack'), { recursive: true });
  packed = JSON.parse(
    run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', join(work, 'pack')], root),
  )[0];
  tarball = join(work, 'pack', packed.filename);

  mkdirSync(consumer, { recursive: true });
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'zee-alloc-consumer', version: '1.0.0', private: true }, null, 2),
  );
  // The README's install commands: `npm pack` in the checkout, then
  // `npm install <path>/<the tarball npm pack names>` in the consumer.
  const commands = snippets.install.code
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
  expect(commands[0].split(/\s*&&\s*/)).toEqual(['npm ci', 'npm pack']);
  const install = /^npm install (\S+)$/.exec(commands[1]);
  expect(install).not.toBeNull();
  expect(install[1].split('/').pop()).toBe(packed.filename);
  expect(commands).toHaveLength(2);
  run('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], consumer);
}, 90000);

describe('the tarball and the installed package', () => {
  test('the tarball holds what users need and nothing else', () => {
    const files = packed.files.map((f) => f.path).sort();
    const required = [
      'package.json',
      'README.md',
      'LICENSE',
      'dist/zee_alloc.wasm',
      'dist/zee_alloc.dev.wasm',
      'dist/zee_alloc.unsafe.wasm',
      'dist/cjs/zee_alloc.cjs',
      'dist/cjs/inspect.cjs',
      'dist/cjs/zee_alloc.d.cts',
      'dist/cjs/inspect.d.cts',
      'js/zee_alloc.mjs',
      'js/inspect.mjs',
      'types/zee_alloc.d.mts',
      'types/inspect.d.mts',
      'src/zee_alloc.c',
      'src/zee_alloc.h',
    ];
    if (existsSync(join(root, 'emscripten.cmake'))) required.push('emscripten.cmake');
    for (const f of required) expect(files).toContain(f);
    const allowed =
      /^(package\.json|README\.md|LICENSE|emscripten\.cmake|docs\/[\w.-]+\.(md|png|svg)|dist\/[\w.-]+\.wasm|dist\/cjs\/[\w.-]+\.(cjs|d\.cts)|js\/[\w.-]+\.mjs|types\/[\w.-]+\.d\.mts|src\/[\w./-]+\.(c|h))$/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    expect(packed.entryCount).toBe(files.length);
  });

  test('the installed package.json: exports with types first, ESM and CJS entries, subpaths, sideEffects, engines', () => {
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('zee-alloc');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.engines.node).toMatch(/^>=\s*18/);
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.scripts.prepack).toMatch(/scripts\/build\.mjs/);
    expect(pkg.scripts.prepack).toMatch(/scripts\/build-commonjs\.mjs/);
    expect(Object.keys(pkg.exports).sort()).toEqual([
      '.',
      './inspect',
      './package.json',
      './zee_alloc.dev.wasm',
      './zee_alloc.unsafe.wasm',
      './zee_alloc.wasm',
    ]);
    // Every condition object lists `types` first, and every target exists.
    const targets = [];
    const walk = (node, where) => {
      if (typeof node === 'string') {
        targets.push(node);
        return;
      }
      const keys = Object.keys(node);
      if (keys.includes('types')) expect([where, keys[0]]).toEqual([where, 'types']);
      for (const k of keys) walk(node[k], `${where}.${k}`);
    };
    walk(pkg.exports, 'exports');
    for (const sub of ['.', './inspect']) {
      expect(Object.keys(pkg.exports[sub])).toEqual(['import', 'require']);
      expect(Object.keys(pkg.exports[sub].import)[0]).toBe('types');
      expect(Object.keys(pkg.exports[sub].require)[0]).toBe('types');
    }
    for (const t of [...targets, pkg.main, pkg.module, pkg.types])
      expect([t, existsSync(join(installed, t))]).toEqual([t, true]);
    // The shipped .wasm are the ones built in dist/.
    for (const f of ['zee_alloc.wasm', 'zee_alloc.dev.wasm', 'zee_alloc.unsafe.wasm']) {
      expect(readFileSync(join(installed, 'dist', f)).equals(readFileSync(join(root, 'dist', f)))).toBe(true);
    }
  });

  test('a consumer resolves the entries, subpaths, .wasm and package.json, and nothing unexported', () => {
    const script = `
      import { createRequire } from 'node:module';
      import * as esm from 'zee-alloc';
      import * as inspect from 'zee-alloc/inspect';
      const require = createRequire(import.meta.url);
      const cjs = require('zee-alloc');
      const out = {
        esm: import.meta.resolve('zee-alloc'),
        esmInspect: import.meta.resolve('zee-alloc/inspect'),
        cjs: require.resolve('zee-alloc'),
        cjsInspect: require.resolve('zee-alloc/inspect'),
        wasm: require.resolve('zee-alloc/zee_alloc.wasm'),
        devWasm: import.meta.resolve('zee-alloc/zee_alloc.dev.wasm'),
        pkg: require('zee-alloc/package.json').name,
        esmKeys: Object.keys(esm).sort(),
        cjsKeys: Object.keys(cjs).sort(),
        inspectKeys: Object.keys(inspect).sort(),
        cjsInspectKeys: Object.keys(require('zee-alloc/inspect')).sort(),
        defaultIsClass: esm.default === esm.ZeeAlloc && cjs.default === cjs.ZeeAlloc,
      };
      try { require.resolve('zee-alloc/dist/cjs/zee_alloc.cjs'); out.unexported = 'resolved'; } catch (e) { out.unexported = e.code; }
      console.log(JSON.stringify(out));`;
    writeFileSync(join(consumer, 'resolve.mjs'), script);
    const out = JSON.parse(run(process.execPath, ['resolve.mjs'], consumer));
    const at = (p) => resolve(installed, p);
    expect(fileURLToPath(out.esm)).toBe(at('js/zee_alloc.mjs'));
    expect(fileURLToPath(out.esmInspect)).toBe(at('js/inspect.mjs'));
    expect(out.cjs).toBe(at('dist/cjs/zee_alloc.cjs'));
    expect(out.cjsInspect).toBe(at('dist/cjs/inspect.cjs'));
    expect(out.wasm).toBe(at('dist/zee_alloc.wasm'));
    expect(fileURLToPath(out.devWasm)).toBe(at('dist/zee_alloc.dev.wasm'));
    expect(out.pkg).toBe('zee-alloc');
    expect(out.unexported).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    // CommonJS and ESM offer the same names (CJS adds __esModule-style default).
    expect(out.cjsKeys).toEqual(out.esmKeys);
    expect(out.cjsInspectKeys).toEqual(out.inspectKeys);
    expect(out.esmKeys).toEqual(
      expect.arrayContaining([
        'ZeeAlloc',
        'ZeeAllocError',
        'ZeeFaultError',
        'ZeeOutOfMemoryError',
        'default',
        'wasmURL',
      ]),
    );
    expect(out.inspectKeys).toEqual(expect.arrayContaining(['snapshot', 'validate', 'renderText', 'renderSVG']));
    expect(out.defaultIsClass).toBe(true);
  });

  test('the type declarations declare every runtime export', () => {
    const declared = (file) =>
      new Set(
        [
          ...readFileSync(join(installed, file), 'utf8').matchAll(
            /^export (?:declare )?(?:const|function|class|default) (\w+)/gm,
          ),
        ].map((m) => (m[0].includes('default') ? 'default' : m[1])),
      );
    const esm = spawnSync(
      process.execPath,
      [
        '-e',
        `import('zee-alloc').then(async (m) => console.log(JSON.stringify([Object.keys(m), Object.keys(await import('zee-alloc/inspect'))])))`,
      ],
      { cwd: consumer, env: cleanEnv, encoding: 'utf8' },
    );
    const [mainKeys, inspectKeys] = JSON.parse(esm.stdout);
    for (const [file, keys] of [
      ['types/zee_alloc.d.mts', mainKeys],
      ['dist/cjs/zee_alloc.d.cts', mainKeys],
      ['types/inspect.d.mts', inspectKeys],
      ['dist/cjs/inspect.d.cts', inspectKeys],
    ]) {
      const names = declared(file);
      expect([file, keys.filter((k) => !names.has(k))]).toEqual([file, []]);
      expect([file, [...names].filter((k) => !keys.includes(k))]).toEqual([file, []]);
    }
  });
});

// A declaration file of the installed package, as text.
const declarations = (file) => readFileSync(join(installed, file), 'utf8');

// The fields of `export interface name { ... }`: { all, required }, sorted.
const interfaceFields = (file, name) => fieldsOf(declarations(file), name, file);

// The type named by field `field` of interface `name` (`Foo[]` -> Foo).
function fieldType(file, name, field) {
  const m = new RegExp(`^export interface ${name}\\b[^{]*\\{([\\s\\S]*?)^\\}`, 'm').exec(declarations(file));
  const f = m && new RegExp(`^  (?:readonly )?${field}\\??: (?:readonly )?(\\w+)(?:\\[\\])?;`, 'm').exec(m[1]);
  if (!f) throw new Error(`${file}: interface ${name} has no field ${field} of a named type`);
  return f[1];
}

// The members of `export type name = A | B | ...` (or [name] if it is an interface).
function unionMembers(file, name) {
  const m = new RegExp(`^export type ${name} =([^;]*);`, 'm').exec(declarations(file));
  return m
    ? m[1]
        .split('|')
        .map((s) => s.trim())
        .filter(Boolean)
    : [name];
}

// Runtime keys match a declared interface: every key declared, every required field there.
function matches(keys, fields) {
  return keys.every((k) => fields.all.includes(k)) && fields.required.every((k) => keys.includes(k));
}

test('the declared snapshot, its parts and the stats match what the runtime returns', () => {
  // Slots in a slab, a block of each pool, a large block, free frames, and
  // a foreign block (memory grown behind the allocator's back).
  const script = `
    import { ZeeAlloc } from 'zee-alloc';
    const z = await ZeeAlloc.create();
    const p = z.malloc(100), q = z.malloc(5000), j = z.malloc(200000);
    z.free(z.malloc(300000));
    z.memory.grow(1);
    z.malloc(8 * 65536); // more than the free run at the top: the heap grows past that page
    const snap = z.snapshot();
    const keys = (o) => Object.keys(o).sort();
    console.log(JSON.stringify({
      snapshot: keys(snap), totals: keys(snap.totals), config: keys(snap.config), counters: keys(snap.counters),
      pages: [...new Set(snap.pages.map((pg) => JSON.stringify(keys(pg))))].map((k) => JSON.parse(k)),
      pageKinds: [...new Set(snap.pages.map((pg) => pg.kind))].sort(),
      blocks: [...new Set(snap.blocks.map((b) => JSON.stringify(keys(b))))].map((k) => JSON.parse(k)),
      states: [...new Set(snap.blocks.map((b) => b.state))].sort(),
      run: keys(snap.freeRuns[0]), list: keys(snap.freeLists[0]), midList: keys(snap.midLists[0]),
      slab: keys(snap.slabs[0]), slabList: keys(snap.slabLists[7]),
      stats: keys(z.stats()), validate: keys(z.validate()),
    }));`;
  writeFileSync(join(consumer, 'fields.mjs'), script);
  const got = JSON.parse(run(process.execPath, ['fields.mjs'], consumer));
  const t = 'types/inspect.d.mts';
  expect(got.snapshot).toEqual(interfaceFields(t, 'Snapshot').all);
  for (const [key, field] of [
    ['totals', 'totals'],
    ['config', 'config'],
    ['counters', 'counters'],
    ['run', 'freeRuns'],
    ['list', 'freeLists'],
    ['midList', 'midLists'],
    ['slab', 'slabs'],
    ['slabList', 'slabLists'],
  ]) {
    const type = fieldType(t, 'Snapshot', field);
    expect([field, type, matches(got[key], interfaceFields(t, type))]).toEqual([field, type, true]);
  }
  // Every page and every block, whatever it holds, has the declared fields.
  for (const [key, field] of [
    ['pages', 'pages'],
    ['blocks', 'blocks'],
  ]) {
    const types = unionMembers(t, fieldType(t, 'Snapshot', field));
    for (const keys of got[key]) {
      expect([field, keys, types.some((type) => matches(keys, interfaceFields(t, type)))]).toEqual([field, keys, true]);
    }
  }
  // The premise: the heap held every kind of block, and pages of several kinds.
  expect(got.states).toEqual(['foreign', 'free', 'free-slot', 'slab', 'used']);
  expect(got.pageKinds).toEqual(expect.arrayContaining(['foreign', 'free', 'used']));
  expect(got.validate).toEqual(interfaceFields(t, 'ValidationResult').all);
  expect(got.stats).toEqual(interfaceFields('types/zee_alloc.d.mts', 'ZeeStats').all);
});

describe('the README Quick start, run by a consumer', () => {
  // The ESM and CommonJS blocks, each run as the consumer would: file name,
  // the minimum number of checked lines, and what the block must contain.
  test.each([
    ['esm', 'Node ESM', 'quickstart.mjs', 6, /import \{ ZeeAlloc \} from 'zee-alloc'/],
    ['cjs', 'Node CommonJS', 'quickstart.cjs', 4, /require\('zee-alloc'\)/],
  ])('%s (%s): the README block prints what its comments say', (key, _name, file, minLines, shape) => {
    const snippet = snippets[key];
    expect(snippet.lang).toBe('js');
    expect(snippet.code).toMatch(shape);
    writeFileSync(join(consumer, file), snippet.code);
    const out = run(process.execPath, [file], consumer);
    const expected = expectedLines(snippet.code);
    expect(expected.length).toBeGreaterThanOrEqual(minLines);
    expect(out.trimEnd().split('\n')).toEqual(expected);
  });

  test('Node: two instances of the installed package never share a heap, in ESM and CommonJS', () => {
    const script = `
      const { ZeeAlloc } = require('zee-alloc');
      (async () => {
        const esm = await import('zee-alloc');
        const [a, b] = [await ZeeAlloc.create(), await esm.ZeeAlloc.create()];
        const pa = a.allocString('first heap'), pb = b.allocString('second heap');
        a.free(pa);
        console.log(JSON.stringify({
          distinct: a.memory !== b.memory, sameAddress: pa === pb,
          b: b.readString(pb), aUsed: a.stats().usedBlocks, bUsed: b.stats().usedBlocks,
        }));
      })();`;
    writeFileSync(join(consumer, 'two.cjs'), script);
    expect(JSON.parse(run(process.execPath, ['two.cjs'], consumer))).toEqual({
      distinct: true,
      sameAddress: true,
      b: 'second heap',
      aUsed: 0,
      bUsed: 1,
    });
  });

  test('TypeScript: tsc --noEmit accepts the README block and a CommonJS consumer (DOM and Node-only projects), and rejects misuse', async () => {
    expect(snippets.ts.lang).toBe('ts');
    const dir = join(consumer, 'ts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'quickstart.mts'), snippets.ts.code);
    writeFileSync(
      join(dir, 'consumer.cts'),
      [
        "import { ZeeAlloc, ZeeFaultError, type CreateOptions } from 'zee-alloc';",
        "import { validate, type ValidationResult } from 'zee-alloc/inspect';",
        "const options: CreateOptions = { variant: 'dev', maximumPages: 64 };",
        'export async function main(): Promise<string> {',
        '  const z = await ZeeAlloc.create(options);',
        '  const p = z.allocBytes(new Uint8Array([1, 2, 3]));',
        '  const bytes: Uint8Array = z.readBytes(p, 3);',
        '  const r: ValidationResult = validate(z);',
        '  try { z.free(p + 1); } catch (e) { if (e instanceof ZeeFaultError) return e.code; }',
        '  return `${bytes.join()} ${r.ok} ${z.stats().peakBytes}`;',
        '}',
      ].join('\n'),
    );
    // Each line below must be a type error: `@ts-expect-error` fails the
    // build if it is not, so loose (`any`) or missing types are caught.
    writeFileSync(
      join(dir, 'misuse.mts'),
      [
        "import { ZeeAlloc, ZeeAllocError } from 'zee-alloc';",
        "import { snapshot } from 'zee-alloc/inspect';",
        '// @ts-expect-error: not a variant',
        "await ZeeAlloc.create({ variant: 'fast' });",
        '// @ts-expect-error: pages are numbers',
        "await ZeeAlloc.create({ initialPages: '4' });",
        'const z = await ZeeAlloc.create();',
        '// @ts-expect-error: malloc takes a size',
        "z.malloc('8');",
        '// @ts-expect-error: readString returns a string',
        'const n: number = z.readString(0);',
        '// @ts-expect-error: HEAPU8 is read-only',
        'z.HEAPU8 = new Uint8Array(4);',
        '// @ts-expect-error: totals have no such field',
        'snapshot(z).totals.bytesUsed;',
        '// @ts-expect-error: not an error code',
        "const c: ZeeAllocError['code'] = 'EFAULT';",
        'export { n, c };',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            lib: ['es2022', 'dom'],
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: [],
          },
          include: ['*.mts', '*.cts'],
        },
        null,
        2,
      ),
    );
    // The same consumer in a Node-only project: lib es2022 + @types/node, no DOM.
    const nodeTypes = join(root, 'node_modules', '@types');
    if (!existsSync(join(nodeTypes, 'node')))
      throw new Error('@types/node is missing from node_modules (it comes with jest)');
    writeFileSync(
      join(dir, 'tsconfig.node.json'),
      JSON.stringify(
        {
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            lib: ['es2022'],
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ['node'],
            typeRoots: [nodeTypes],
          },
          include: ['quickstart.mts', 'consumer.cts'],
        },
        null,
        2,
      ),
    );
    // A control, run alongside: the same check must fail on a real type error.
    const brokenDir = join(consumer, 'ts-broken');
    mkdirSync(brokenDir, { recursive: true });
    writeFileSync(join(brokenDir, 'tsconfig.json'), readFileSync(join(dir, 'tsconfig.json')));
    writeFileSync(
      join(brokenDir, 'broken.mts'),
      "import { ZeeAlloc } from 'zee-alloc';\nconst z = await ZeeAlloc.create();\nz.free('p');\n",
    );
    const tsc = (config, cwd) => runAsync(process.execPath, [tscBin, '--noEmit', '-p', config], cwd);
    const [dom, node, broken] = await Promise.all([
      tsc('tsconfig.json', dir),
      tsc('tsconfig.node.json', dir),
      tsc('tsconfig.json', brokenDir),
    ]);
    expect([dom.status, dom.stdout]).toEqual([0, '']);
    expect([node.status, node.stdout]).toEqual([0, '']);
    expect(broken.status).not.toBe(0);
    expect(broken.stdout).toMatch(/broken\.mts\(3,8\): error TS2345/);
  });

  test('TypeScript: the README block, compiled, prints what its comments say', () => {
    const ts = require('typescript');
    const js = ts.transpileModule(snippets.ts.code, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(consumer, 'quickstart-ts.mjs'), js);
    const out = run(process.execPath, ['quickstart-ts.mjs'], consumer);
    const expected = expectedLines(snippets.ts.code);
    expect(expected.length).toBeGreaterThanOrEqual(2);
    expect(out.trimEnd().split('\n')).toEqual(expected);
  });
});

test('Emscripten users: the shipped src/ builds into an app with plain emcc -sMALLOC=none', () => {
  const dir = join(consumer, 'emcc');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'app.c'),
    [
      '#include <stdio.h>',
      '#include <stdlib.h>',
      '#include <string.h>',
      '#include <malloc.h>',
      '#include "zee_alloc.h"',
      'int main(void) {',
      '  char *s = strdup("from the tarball");',
      '  void *big = malloc(200000);',
      '  memset(big, 7, 200000);',
      '  printf("%s %d %zu %d\\n", s, ((unsigned char *)big)[199999], malloc_usable_size(s), zee_check());',
      '  free(big);',
      '  free(s);',
      '  printf("%d\\n", zee_check());',
      '  return 0;',
      '}',
    ].join('\n'),
  );
  const src = join(installed, 'src');
  const sources = readdirSync(src)
    .filter((f) => f.endsWith('.c'))
    .map((f) => join(src, f));
  run('emcc', ['-O2', ...sources, 'app.c', `-I${src}`, '-sMALLOC=none', '-o', 'app.js'], dir, 120000);
  // Emscripten 3.1.6's glue needs fetch off under Node 20 (ENVIRONMENT.md).
  expect(run(process.execPath, ['--no-experimental-fetch', 'app.js'], dir)).toBe('from the tarball 7 24 0\n0\n');
});

// ---- the browser ---------------------------------------------------------
const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

// Serves the consumer folder; /octet/... serves the same files as
// application/octet-stream, to exercise the non-streaming fallback.
function serve(dir) {
  const log = [];
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let type;
    if (path.startsWith('/octet/')) {
      path = path.slice(6);
      type = 'application/octet-stream';
    }
    const file = resolve(dir, '.' + path);
    log.push(`${req.method} ${req.url}`);
    if (path === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': type ?? MIME[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () => ok({ server, log, origin: `http://127.0.0.1:${server.address().port}` })),
  );
}

describe('the browser (headless Chromium, import map, no bundler)', () => {
  let http, context, userDataDir;
  beforeAll(async () => {
    const { chromium } = require('playwright-core');
    http = await serve(consumer);
    userDataDir = mkdtempSync(join(work, 'chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60000);
  afterAll(async () => {
    await context?.close();
    await new Promise((ok) => (http ? http.server.close(ok) : ok()));
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  // Opens a page and collects its console lines until `count` or an error.
  async function consoleOf(path, count) {
    const page = await context.newPage();
    const lines = [],
      errors = [],
      thrown = [];
    page.on('console', (m) => (m.type() === 'log' ? lines : errors).push(m.text()));
    page.on('pageerror', (e) => thrown.push(e.message));
    await page.goto(http.origin + path);
    for (let waited = 0; lines.length < count && !thrown.length && waited < 20000; waited += 50)
      await page.waitForTimeout(50);
    const html = await page.content();
    await page.close();
    return { lines, errors: [...thrown, ...errors], html };
  }

  test('the README page runs and prints what its comments say', async () => {
    expect(snippets.browser.lang).toBe('html');
    writeFileSync(join(consumer, 'index.html'), snippets.browser.code);
    const expected = expectedLines(snippets.browser.code);
    expect(expected.length).toBeGreaterThanOrEqual(3);
    const { lines, errors, html } = await consoleOf('/index.html', expected.length);
    expect(errors).toEqual([]);
    expect(lines).toEqual(expected);
    expect(html).toMatch(/<svg[\s>]/);
    // The module came from the installed package, streamed as application/wasm.
    expect(http.log).toContain('GET /node_modules/zee-alloc/js/zee_alloc.mjs');
    expect(http.log).toContain('GET /node_modules/zee-alloc/dist/zee_alloc.wasm');
  });

  test('a wrong MIME type, a fetch() promise, a 404, bytes, a shared Module, two independent heaps, a worker, growth', async () => {
    const importMap = /<script type="importmap">[\s\S]*?<\/script>/.exec(snippets.browser.code)[0];
    writeFileSync(
      join(consumer, 'more.html'),
      `<!doctype html><meta charset="utf-8">${importMap}
<script type="module">
  import { ZeeAlloc, ZeeFaultError } from 'zee-alloc';
  const out = {};
  // served as application/octet-stream: instantiateStreaming fails, the fallback compiles the bytes
  const wrongMime = await ZeeAlloc.create({ wasm: new URL('/octet/node_modules/zee-alloc/dist/zee_alloc.dev.wasm', location.href) });
  out.wrongMime = wrongMime.config.validation;
  out.response = (await ZeeAlloc.create({ wasm: fetch('/node_modules/zee-alloc/dist/zee_alloc.unsafe.wasm') })).config.validation;
  try { await ZeeAlloc.create({ wasm: new URL('/missing.wasm', location.href) }); } catch (e) { out.missing = e.code; }
  const bytes = await (await fetch('/node_modules/zee-alloc/dist/zee_alloc.unsafe.wasm')).arrayBuffer();
  out.bytes = (await ZeeAlloc.create({ wasm: bytes })).config.validation;
  const module = await ZeeAlloc.compile('default');
  const [a, b] = [await ZeeAlloc.create({ wasm: module }), await ZeeAlloc.create({ wasm: module })];
  const pa = a.allocString('heap a'), pb = b.allocString('heap b');
  out.sameAddress = pa === pb;
  out.strings = [a.readString(pa), b.readString(pb)];
  a.free(pa);
  out.used = [a.stats().usedBlocks, b.stats().usedBlocks];
  try { a.free(pa); } catch (e) { out.fault = [e instanceof ZeeFaultError, e.code]; }
  // a module worker gets the compiled Module by postMessage and runs its own heap
  const worker = new Worker('/worker.mjs', { type: 'module' });
  out.worker = await new Promise((ok, fail) => {
    worker.onmessage = (e) => ok(e.data);
    worker.onerror = (e) => fail(new Error('worker: ' + e.message));
    worker.postMessage(module);
  });
  worker.terminate();
  const g = await ZeeAlloc.create({ initialPages: 4 });
  const big = g.malloc(4 << 20);
  g.HEAPU8[big + (4 << 20) - 1] = 7;
  out.grown = [g.memoryBytes > (4 << 20), g.HEAPU8.length === g.memoryBytes, g.HEAPU8[big + (4 << 20) - 1]];
  console.log(JSON.stringify(out));
</script>`,
    );
    writeFileSync(
      join(consumer, 'worker.mjs'),
      `
      import { ZeeAlloc } from '/node_modules/zee-alloc/js/zee_alloc.mjs';
      onmessage = async (e) => {
        const z = await ZeeAlloc.create({ wasm: e.data });
        const p = z.allocString('in a worker');
        postMessage({ text: z.readString(p), variant: z.variant, used: z.stats().usedBlocks });
      };`,
    );
    const { lines, errors } = await consoleOf('/more.html', 1);
    // The only console error is the 404 of /missing.wasm, asked for on purpose.
    expect(errors).toEqual(['Failed to load resource: the server responded with a status of 404 (Not Found)']);
    expect(http.log).toContain('GET /missing.wasm');
    expect(lines.length).toBe(1);
    expect(JSON.parse(lines[0])).toEqual({
      wrongMime: 'dev',
      response: 'unsafe',
      missing: 'ZEE_LOAD_FAILED',
      bytes: 'unsafe',
      sameAddress: true,
      strings: ['heap a', 'heap b'],
      used: [0, 1],
      fault: [true, 'ZEE_E_DOUBLE_FREE'],
      grown: [true, true, 7],
      worker: { text: 'in a worker', variant: 'custom', used: 1 },
    });
    expect(http.log).toContain('GET /octet/node_modules/zee-alloc/dist/zee_alloc.dev.wasm');
  });
});
