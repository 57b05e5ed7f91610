#!/usr/bin/env node
// Builds the CommonJS entries of the npm package from the ESM sources, so the
// two never drift apart: `node scripts/build-cjs.mjs [--check]`.
//   js/zee_alloc.mjs, js/inspect.mjs (and the relative modules they import)
//       -> dist/cjs/<name>.cjs
//   types/<name>.d.mts -> dist/cjs/<name>.d.cts (the same declarations, typed
//       as CommonJS for TypeScript's node16/nodenext resolution)
// The conversion handles the module syntax the sources use (static imports,
// `export` declarations and lists, re-exports, `import.meta.url`) and fails
// loudly on anything else.  Dynamic `import()` stays: CommonJS supports it.
// --check exits 1 if the files on disk differ from what would be written.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = 'dist/cjs';
const ENTRIES = ['js/zee_alloc.mjs', 'js/inspect.mjs'];
const TYPES = ['types/zee_alloc.d.mts', 'types/inspect.d.mts', 'types/wasm.d.mts'];

class ConvertError extends Error {}

// Why: relative specifiers must still point at the same files from dist/cjs.
function fromOut(sourceFile, specifier) {
  const target = posix.normalize(posix.join(posix.dirname(sourceFile), specifier));
  let rel = posix.relative(OUT, target);
  return rel.startsWith('.') ? rel : './' + rel;
}

// `a, b as c` -> [['a', 'a'], ['b', 'c']] (local name, exported name).
function parseList(list, file) {
  return list.split(',').map((s) => s.trim()).filter(Boolean).map((item) => {
    const m = /^([A-Za-z_$][\w$]*)(?:\s+as\s+([A-Za-z_$][\w$]*))?$/.exec(item);
    if (!m) throw new ConvertError(`${file}: cannot convert export/import item "${item}"`);
    return [m[1], m[2] ?? m[1]];
  });
}

/** Converts one ESM file; returns { code, deps } (deps: relative .mjs files it requires). */
export function convert(file, source) {
  const deps = [];
  const exported = []; // [exported name, expression]
  let counter = 0;
  const requireOf = (spec) => {
    if (spec.startsWith('.')) {
      if (!spec.endsWith('.mjs')) throw new ConvertError(`${file}: relative import "${spec}" must name a .mjs file`);
      deps.push(posix.normalize(posix.join(posix.dirname(file), spec)));
      return `require(${JSON.stringify(spec.replace(/\.mjs$/, '.cjs'))})`;
    }
    return `require(${JSON.stringify(spec)})`;
  };

  let code = source;
  // export { a, b as c } from './x.mjs';
  code = code.replace(/^export\s*\{([^}]*)\}\s*from\s*(['"])([^'"]+)\2\s*;?/gm, (_, list, __, spec) => {
    const tmp = `__reexport${counter++}`;
    for (const [local, name] of parseList(list, file)) exported.push([name, `${tmp}.${local}`]);
    return `const ${tmp} = ${requireOf(spec)};`;
  });
  // export * from './x.mjs';
  code = code.replace(/^export\s*\*\s*from\s*(['"])([^'"]+)\1\s*;?/gm, (_, __, spec) => {
    const tmp = `__reexport${counter++}`;
    exported.push([null, tmp]);
    return `const ${tmp} = ${requireOf(spec)};`;
  });
  // import ... from '...';
  code = code.replace(/^import\s+([\s\S]*?)\s+from\s+(['"])([^'"]+)\2\s*;?/gm, (_, clause, __, spec) => {
    const req = requireOf(spec);
    const ns = /^\*\s+as\s+([A-Za-z_$][\w$]*)$/.exec(clause.trim());
    if (ns) return `const ${ns[1]} = ${req};`;
    const m = /^(?:([A-Za-z_$][\w$]*)\s*,?\s*)?(?:\{([^}]*)\})?$/.exec(clause.trim());
    if (!m) throw new ConvertError(`${file}: cannot convert import clause "${clause}"`);
    const tmp = `__import${counter++}`;
    const lines = [`const ${tmp} = ${req};`];
    if (m[1]) lines.push(`const ${m[1]} = ${tmp}.default;`);
    if (m[2] !== undefined) {
      const names = parseList(m[2], file).map(([imported, local]) => (imported === local ? local : `${imported}: ${local}`));
      lines.push(`const { ${names.join(', ')} } = ${tmp};`);
    }
    return lines.join('\n');
  });
  // import './side-effect.mjs';
  code = code.replace(/^import\s*(['"])([^'"]+)\1\s*;?/gm, (_, __, spec) => `${requireOf(spec)};`);
  // export { a, b as c };
  code = code.replace(/^export\s*\{([^}]*)\}\s*;?/gm, (_, list) => {
    for (const [local, name] of parseList(list, file)) exported.push([name, local]);
    return '';
  });
  // export default Name;   export default class|function Name
  code = code.replace(/^export\s+default\s+((?:async\s+)?function\*?|class)\s+([A-Za-z_$][\w$]*)/gm, (_, kind, name) => {
    exported.push(['default', name]);
    return `${kind} ${name}`;
  });
  code = code.replace(/^export\s+default\s+([A-Za-z_$][\w$]*)\s*;/gm, (_, name) => {
    exported.push(['default', name]);
    return '';
  });
  // export const|let|var|function|class Name
  code = code.replace(/^export\s+((?:async\s+)?function\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)/gm, (_, kind, name) => {
    exported.push([name, name]);
    return `${kind} ${name}`;
  });

  const leftover = /^(export|import)\b(?!\s*\().*$/m.exec(code);
  if (leftover) throw new ConvertError(`${file}: cannot convert "${leftover[0].slice(0, 60)}"`);
  const meta = code.match(/import\.meta(?!\.url\b)/);
  if (meta) throw new ConvertError(`${file}: only import.meta.url is supported`);
  // Relative dynamic imports resolve from the output file's folder.
  code = code.replace(/\bimport\((['"])(\.[^'"]+)\1\)/g, (_, q, spec) => `import(${q}${fromOut(file, spec)}${q})`);

  const head = [
    `// Generated from ${file} by scripts/build-cjs.mjs: do not edit.`,
    `'use strict';`,
    `Object.defineProperty(exports, '__esModule', { value: true });`,
  ];
  if (code.includes('import.meta.url')) {
    // Relative URLs (the .wasm files) resolve as they do from the ESM source.
    head.push(`const __importMetaUrl = require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(relative(OUT, file).split('\\').join('/'))})).href;`);
    code = code.replaceAll('import.meta.url', '__importMetaUrl');
  }
  const tail = exported.map(([name, expr]) => (name === null
    ? `for (const k of Object.keys(${expr})) if (k !== 'default' && !(k in exports)) exports[k] = ${expr}[k];`
    : `exports.${name} = ${expr};`));
  return { code: `${head.join('\n')}\n${code.trimEnd()}\n\n${tail.join('\n')}\n`, deps };
}

// Why: a .d.cts must import its siblings as .cjs for TypeScript's resolution.
export function convertTypes(file, source) {
  return `// Generated from ${file} by scripts/build-cjs.mjs: do not edit.\n`
    + source.replace(/(from\s+['"]\.\/[^'"]+)\.mjs(['"])/g, '$1.cjs$2');
}

export function outputs() {
  const files = new Map();
  const queue = [...ENTRIES];
  while (queue.length) {
    const file = queue.shift();
    const out = `${OUT}/${posix.basename(file).replace(/\.mjs$/, '.cjs')}`;
    if (files.has(out)) continue;
    if (!existsSync(join(root, file))) throw new ConvertError(`${file} is missing`);
    const { code, deps } = convert(file, readFileSync(join(root, file), 'utf8'));
    files.set(out, code);
    queue.push(...deps);
  }
  for (const file of TYPES) {
    if (!existsSync(join(root, file))) throw new ConvertError(`${file} is missing`);
    files.set(`${OUT}/${posix.basename(file).replace(/\.d\.mts$/, '.d.cts')}`, convertTypes(file, readFileSync(join(root, file), 'utf8')));
  }
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  try {
    for (const [out, code] of outputs()) {
      const path = join(root, out);
      const same = existsSync(path) && readFileSync(path, 'utf8') === code;
      if (check) {
        if (!same) { console.error(`stale: ${out} (run node scripts/build-cjs.mjs)`); stale++; }
      } else {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, code);
        console.log(`${out}: ${code.length} bytes`);
      }
    }
  } catch (e) {
    if (!(e instanceof ConvertError)) throw e;
    console.error(`build-cjs: ${e.message}`);
    process.exit(2);
  }
  process.exit(stale ? 1 : 0);
}
