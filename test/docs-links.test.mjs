// The documentation points at things that exist: every relative link and
// image in README.md and docs/*.md resolves to a file (and a heading, for a
// #fragment), every repository path they name in backquotes exists, and,
// since the README and the docs ship in the npm package and are read there,
// every relative link resolves inside the packed tarball too.  Every value
// the docs quote for a constant or code of src/zee_alloc.h is the header's,
// and every ZEE_C_/ZEE_E_/ZEE_TAG_/ZEE_MAP_ name they use exists.  Also: the
// README stays short, no two documents repeat a paragraph, and the Jest files
// listed in docs/contributing.md are exactly the ones in test/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const DOCS = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (file) => readFileSync(join(root, file), 'utf8');

/** The text outside fenced code blocks, with line numbers kept. */
export function prose(markdown) {
  let fenced = false;
  return markdown.split('\n').map((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** Relative link and image targets: [{ line, target }]. */
export function links(markdown) {
  const out = [];
  prose(markdown).forEach((text, i) => {
    const line = text.replace(/`[^`]*`/g, (m) => (/^`[^`]*`$/.test(m) && /\]\(/.test(m) ? m : '``'));
    for (const m of line.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push({ line: i + 1, target: m[1] });
    for (const m of line.matchAll(/<(?:img|a)\b[^>]*\s(?:src|href)="([^"]+)"/g))
      out.push({ line: i + 1, target: m[1] });
  });
  return out.filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l.target));
}

/** GitHub's anchors for the headings of a markdown file. */
export function anchors(markdown) {
  const seen = new Map();
  const out = new Set();
  for (const line of prose(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

// Repository paths named in backquotes; generated folders and placeholders
// (NAME, <x>, *, …) are not checked.
const PATH =
  /^(?:src|js|types|test|bench|examples|scripts|docs|\.ci)\/[\w./-]*$|^(?:emscripten\.cmake|package\.json|LICENSE|README\.md|run)$/;
export function namedPaths(markdown) {
  const out = [];
  prose(markdown).forEach((line, i) => {
    for (const m of line.matchAll(/`([^`\s]+)`/g)) {
      const p = m[1];
      if (PATH.test(p) && !/[A-Z]{3,}|\*|…/.test(p.replace(/^(README\.md|LICENSE)$/, '')))
        out.push({ line: i + 1, path: p });
    }
  });
  return out;
}

function resolveLink(file, target) {
  const [path, fragment] = target.split('#');
  const resolved = path ? posix.normalize(posix.join(posix.dirname(file), decodeURI(path))) : file;
  return { resolved, fragment };
}

let packed; // the files `npm pack` would put in the tarball
beforeAll(() => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed:\n${r.stderr}`);
  packed = new Set(JSON.parse(r.stdout)[0].files.map((f) => f.path));
}, 60000);

describe('links and paths in README.md and docs/', () => {
  test('the parsers find links, anchors and paths (controls)', () => {
    const md = [
      '# Top `x`',
      'See [a](docs/a.md#top-x) and ![p](docs/p.png), <img src="i.png">, [web](https://e.org).',
      '## Top x',
      '`test/api.test.mjs`, `test/NAME.test.mjs`, `src/*.c`, `dist/x.wasm`.',
      '```sh',
      '[not](a/link.md) `src/not-a-path.c`',
      '```',
    ].join('\n');
    expect(links(md).map((l) => l.target)).toEqual(['docs/a.md#top-x', 'docs/p.png', 'i.png']);
    expect([...anchors(md)]).toEqual(['top-x', 'top-x-1']);
    expect(namedPaths(md).map((p) => p.path)).toEqual(['test/api.test.mjs']);
  });

  test.each(DOCS)('%s: every relative link resolves to a file, and every #fragment to a heading', (file) => {
    const broken = [];
    for (const { line, target } of links(read(file))) {
      const { resolved, fragment } = resolveLink(file, target);
      if (!existsSync(join(root, resolved))) broken.push(`${file}:${line}: ${target} (no ${resolved})`);
      else if (fragment && resolved.endsWith('.md') && !anchors(read(resolved)).has(fragment)) {
        broken.push(`${file}:${line}: ${target} (no heading #${fragment} in ${resolved})`);
      }
    }
    expect(broken).toEqual([]);
  });

  test.each(DOCS)('%s: every repository path it names exists', (file) => {
    const missing = namedPaths(read(file)).filter(({ path }) => !existsSync(join(root, path)));
    expect(missing.map(({ line, path }) => `${file}:${line}: ${path}`)).toEqual([]);
  });

  test.each(DOCS)('%s ships in the tarball, and every relative link in it resolves inside the tarball', (file) => {
    expect(packed.has(file)).toBe(true);
    const outside = [];
    for (const { line, target } of links(read(file))) {
      const { resolved } = resolveLink(file, target);
      if (resolved.startsWith('..')) outside.push(`${file}:${line}: ${target} leaves the package`);
      else if (
        !packed.has(resolved) &&
        !(
          existsSync(join(root, resolved)) &&
          statSync(join(root, resolved)).isDirectory() &&
          [...packed].some((p) => p.startsWith(`${resolved.replace(/\/$/, '')}/`))
        )
      ) {
        outside.push(`${file}:${line}: ${target} (${resolved} is not in the tarball)`);
      }
    }
    expect(outside).toEqual([]);
  });

  test('the tarball holds the LICENSE and the README', () => {
    expect(packed.has('LICENSE')).toBe(true);
    expect(read('LICENSE')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 zee_alloc contributors\n/);
    expect(packed.has('README.md')).toBe(true);
  });
});

// The header's numbers: #define ZEE_X value, and NAME = value in its enums.
function headerValues() {
  const code = read('src/zee_alloc.h').replace(/\/\*[\s\S]*?\*\//g, ' ');
  const values = new Map();
  for (const m of code.matchAll(/#define\s+(ZEE_\w+)\s+(0x[0-9a-f]+|\d+)u?\b/gi)) values.set(m[1], Number(m[2]));
  for (const m of code.matchAll(/\b(ZEE_[CE]_\w+)\s*=\s*(\d+)/g)) values.set(m[1], Number(m[2]));
  return values;
}

/** Values the docs quote for the header's names: [{ line, name, value }]. */
export function quotedValues(markdown) {
  const out = [];
  prose(markdown).forEach((line, i) => {
    // A table row `| 65,536 | `ZEE_PAGE_SIZE` |`, or `ZEE_SALT` = `0x5eea110c` / (`0x…`
    for (const m of line.matchAll(/\|\s*([\d,]+)\s*\|\s*`(ZEE_\w+)`\s*\|/g))
      out.push({ line: i + 1, name: m[2], value: Number(m[1].replace(/,/g, '')) });
    for (const m of line.matchAll(/`(ZEE_\w+)`\s*(?:=|\()\s*`(0x[0-9a-f]+)`/gi))
      out.push({ line: i + 1, name: m[1], value: Number(m[2]) });
  });
  return out;
}

describe('what the docs say about src/zee_alloc.h', () => {
  const values = headerValues();

  test('the parsers read the header and the docs (controls)', () => {
    expect(values.get('ZEE_PAGE_SIZE')).toBe(65536);
    expect(values.size).toBeGreaterThanOrEqual(30);
    const md = '| page | 65,536 | `ZEE_PAGE_SIZE` |\n| 3 | `ZEE_E_DOUBLE_FREE` | double |\n(`ZEE_SALT` = `0x1234`)';
    expect(quotedValues(md).map((q) => [q.name, q.value])).toEqual([
      ['ZEE_PAGE_SIZE', 65536],
      ['ZEE_E_DOUBLE_FREE', 3],
      ['ZEE_SALT', 0x1234],
    ]);
  });

  test.each(DOCS)("%s: every value it quotes for a header constant or code is the header's", (file) => {
    const wrong = quotedValues(read(file))
      .filter((q) => values.get(q.name) !== q.value)
      .map((q) => `${file}:${q.line}: ${q.name} is ${values.get(q.name)} in the header, ${q.value} here`);
    expect(wrong).toEqual([]);
  });

  // The JS side adds codes of its own (a zee_check() result it doesn't know).
  const jsCodes = new Set(
    readdirSync(join(root, 'js'))
      .filter((f) => f.endsWith('.mjs'))
      .flatMap((f) => [...read(`js/${f}`).matchAll(/['"](ZEE_[A-Z_]+)['"]/g)].map((m) => m[1])),
  );

  test.each(DOCS)('%s: every check code, fault, tag and map mark it names exists in the header or the JS', (file) => {
    const unknown = [];
    prose(read(file)).forEach((line, i) => {
      for (const m of line.matchAll(/\b(ZEE_(?:C|E|TAG|MAP)_[A-Z_]+)\b/g)) {
        if (!values.has(m[1]) && !jsCodes.has(m[1])) unknown.push(`${file}:${i + 1}: ${m[1]}`);
      }
    });
    expect(unknown).toEqual([]);
  });
});

describe('the documents themselves', () => {
  test('the README is at most 300 lines', () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(300);
  });

  test('no paragraph of prose appears in two documents', () => {
    const where = new Map();
    for (const file of DOCS) {
      for (const para of prose(read(file))
        .join('\n')
        .split(/\n\s*\n/)) {
        const text = para.replace(/\s+/g, ' ').trim();
        if (text.length < 120 || /^\|/.test(text)) continue; // short lines and tables may recur
        if (!where.has(text)) where.set(text, new Set());
        where.get(text).add(file);
      }
    }
    const repeated = [...where]
      .filter(([, files]) => files.size > 1)
      .map(([text, files]) => `${[...files].join(', ')}: ${text.slice(0, 80)}…`);
    expect(repeated).toEqual([]);
  });

  test('docs/contributing.md lists exactly the Jest files in test/', () => {
    const doc = read('docs/contributing.md');
    const section = /^The Jest files, by subject:\n([\s\S]*?)\n(?:[^-\s]|$)/m.exec(doc);
    expect(section).not.toBeNull();
    // Backquoted single words are file names; ZEE_* are environment variables.
    const named = [...section[1].matchAll(/`([\w-]+)`/g)].map((m) => m[1]).filter((n) => !/^ZEE_/.test(n));
    const files = readdirSync(join(root, 'test'))
      .filter((f) => f.endsWith('.test.mjs'))
      .map((f) => f.replace(/\.test\.mjs$/, ''));
    expect([...new Set(named)].sort()).toEqual(files.sort());
  });
});
