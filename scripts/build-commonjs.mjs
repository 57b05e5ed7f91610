#!/usr/bin/env node
// Builds the CommonJS side of the npm package from the ESM sources with
// esbuild, so the two never drift apart: `node scripts/build-commonjs.mjs`.
//   js/<name>.mjs     -> dist/cjs/<name>.cjs    one output per source file
//   types/<name>.d.mts -> dist/cjs/<name>.d.cts the same declarations, typed as
//                                              CommonJS for TypeScript's node16/
//                                              nodenext resolution
// A relative import of `./x.mjs` becomes a require of `./x.cjs` (never inlined:
// `zee-alloc` and `zee-alloc/inspect` then share one copy of each module, so
// `instanceof` and the frozen tables are the same objects through both).
// `import.meta.url` is the URL of the ESM source the output came from, so
// `new URL('../dist/zee_alloc.wasm', import.meta.url)` finds the same file.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(root, 'dist', 'cjs');

class BuildError extends Error {}

// Why: a relative import must stay a separate module, under its .cjs name.
const relativeImportsAsCjs = (sourceDir) => ({
  name: 'relative-imports-as-cjs',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      if (!args.path.endsWith('.mjs')) {
        return { errors: [{ text: `relative import "${args.path}" must name a .mjs file` }] };
      }
      const target = join(args.resolveDir, args.path);
      if (dirname(target) !== sourceDir) {
        return { errors: [{ text: `relative import "${args.path}" leaves ${relative(root, sourceDir)}/` }] };
      }
      if (!existsSync(target))
        return { errors: [{ text: `relative import "${args.path}": ${relative(root, target)} is missing` }] };
      return { path: args.path.replace(/\.mjs$/, '.cjs'), external: true };
    });
  },
});

/** Builds js/*.mjs into dist/cjs/*.cjs; returns the files written. */
export async function buildModules() {
  const sourceDir = join(root, 'js');
  const sources = readdirSync(sourceDir)
    .filter((f) => f.endsWith('.mjs'))
    .sort();
  if (!sources.includes('zee_alloc.mjs') || !sources.includes('inspect.mjs')) {
    throw new BuildError('js/zee_alloc.mjs and js/inspect.mjs must exist');
  }
  const written = [];
  for (const file of sources) {
    const entry = join(sourceDir, file);
    const outfile = join(OUT, file.replace(/\.mjs$/, '.cjs'));
    const code = readFileSync(entry, 'utf8');
    const banner = [`// Generated from js/${file} by scripts/build-commonjs.mjs (esbuild): do not edit.`];
    const define = {};
    if (code.includes('import.meta')) {
      // The file URL of the ESM source, from the output's own folder.
      const fromOut = relative(OUT, entry).split('\\').join('/');
      banner.push(
        `const __importMetaUrl = require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(fromOut)})).href;`,
      );
      define['import.meta.url'] = '__importMetaUrl';
    }
    const result = await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      packages: 'external',
      format: 'cjs',
      platform: 'node',
      target: 'node18',
      // import('./inspect.mjs') becomes a require in a promise: CommonJS hosts
      // without ESM support (Jest without --experimental-vm-modules) load it too.
      supported: { 'dynamic-import': false },
      define,
      banner: { js: banner.join('\n') },
      plugins: [relativeImportsAsCjs(sourceDir)],
      logLevel: 'silent',
      legalComments: 'inline',
    });
    // Any other use of import.meta would be {} in CommonJS: refuse it.
    const meta = result.warnings.find((w) => /import\.meta/.test(w.text));
    if (meta) throw new BuildError(`js/${file}: ${meta.text} (only import.meta.url is supported)`);
    written.push(outfile);
  }
  return written;
}

/** Copies types/*.d.mts to dist/cjs/*.d.cts with their relative imports renamed. */
export function buildTypes() {
  const typesDir = join(root, 'types');
  const written = [];
  for (const file of readdirSync(typesDir)
    .filter((f) => f.endsWith('.d.mts'))
    .sort()) {
    const source = readFileSync(join(typesDir, file), 'utf8');
    const code =
      `// Generated from types/${file} by scripts/build-commonjs.mjs: do not edit.\n` +
      source.replace(/((?:from\s+|import\(\s*)['"]\.\/[^'"]+)\.mjs(['"])/g, '$1.cjs$2');
    const outfile = join(OUT, basename(file).replace(/\.d\.mts$/, '.d.cts'));
    writeFileSync(outfile, code);
    written.push(outfile);
  }
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    rmSync(OUT, { recursive: true, force: true }); // no output of a removed source survives
    mkdirSync(OUT, { recursive: true });
    for (const f of [...(await buildModules()), ...buildTypes()]) {
      console.log(`${relative(root, f)}: ${readFileSync(f).length} bytes`);
    }
  } catch (e) {
    // esbuild's own errors carry their messages in e.errors.
    const lines = e.errors?.length ? e.errors.map((x) => `${x.location?.file ?? ''}: ${x.text}`) : [e.message];
    console.error(`build-commonjs: ${lines.join('\n')}`);
    process.exit(2);
  }
}
