// One source of truth for the layout: src/zee_alloc.h defines it for C, and
// js/layout.mjs is its only copy for JS.  This test parses the header (the
// numeric #defines, the two enums and the field order of zee_heap_info_t)
// and compares every value of js/layout.mjs with it, both ways, so a change
// on either side without the other fails.  It also checks that no other JS
// file keeps a copy of its own: the wrapper, the inspector and the test
// helpers import js/layout.mjs, and none of the tree's JS spells out the
// header's magic numbers or code tables.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as layout from '../js/layout.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const HEADER = readFileSync(join(root, 'src', 'zee_alloc.h'), 'utf8');

const stripComments = (c) => c.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/.*$/gm, '');
const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const cNumber = (s) => {
  const m = /^(0x[0-9a-f]+|\d+)u?l?$/i.exec(s.trim());
  return m ? Number(m[1]) : undefined;
};

/**
 * The value of a #define's body: a number literal, or unsigned integer
 * arithmetic (+ - * / << >> | & and parentheses) on literals and the
 * #defines before it, as C computes it; undefined for anything else.
 */
export function cExpression(text, defines) {
  const tokens = text.match(/0x[0-9a-f]+u?l?|\d+u?l?|\w+|<<|>>|\S/gi) ?? [];
  let i = 0;
  const LEVELS = [['|'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/']];
  const OPS = {
    '|': (a, b) => a | b,
    '&': (a, b) => a & b,
    '<<': (a, b) => a << b,
    '>>': (a, b) => a >>> b,
    '+': (a, b) => a + b,
    '-': (a, b) => a - b,
    '*': (a, b) => Math.imul(a, b),
    '/': (a, b) => (b ? Math.floor(a / b) : NaN),
  };
  // Why NaN: it survives every later step, so a bad part spoils the whole.
  const apply = (op, a, b) => {
    const v = OPS[op](a, b);
    return Number.isNaN(a + b + v) ? NaN : v >>> 0;
  };
  const operand = () => {
    const t = tokens[i++];
    if (t === '(') {
      const v = level(0);
      return tokens[i++] === ')' ? v : NaN;
    }
    if (t !== undefined && Object.hasOwn(defines, t)) return defines[t];
    return cNumber(t ?? '') ?? NaN;
  };
  const level = (n) => {
    if (n === LEVELS.length) return operand();
    let v = level(n + 1);
    while (LEVELS[n].includes(tokens[i])) v = apply(tokens[i++], v, level(n + 1));
    return v;
  };
  const value = level(0);
  return i === tokens.length && Number.isInteger(value) ? value : undefined;
}

/** The header as data: { defines, enums, fields, configShift }. */
export function parseHeader(text) {
  const code = stripComments(text);
  const defines = {};
  for (const m of code.matchAll(/^\s*#\s*define\s+(ZEE_\w+)[ \t]+(.+?)\s*$/gm)) {
    const value = cExpression(m[2], defines);
    if (value === undefined)
      throw new Error(`zee_alloc.h: #define ${m[1]} ${m[2]} is neither a number literal nor arithmetic on them`);
    defines[m[1]] = value;
  }
  const enums = {};
  for (const m of code.matchAll(/enum\s+(\w+)\s*\{([^}]*)\}/g)) {
    let next = 0;
    enums[m[1]] = {};
    for (const item of m[2]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const e = /^(\w+)(?:\s*=\s*(\S+))?$/.exec(item);
      if (!e) throw new Error(`zee_alloc.h: enum ${m[1]}: cannot read "${item}"`);
      const value = e[2] === undefined ? next : cNumber(e[2]);
      if (value === undefined) throw new Error(`zee_alloc.h: enum ${m[1]}: ${e[1]} = ${e[2]} is not a number literal`);
      enums[m[1]][e[1]] = value;
      next = value + 1;
    }
  }
  const struct = /typedef\s+struct\s+zee_heap_info\s*\{([^}]*)\}\s*zee_heap_info_t\s*;/.exec(code);
  if (!struct) throw new Error('zee_alloc.h: no typedef struct zee_heap_info { ... } zee_heap_info_t;');
  const fields = [];
  let word = 0;
  for (const decl of struct[1]
    .split(';')
    .map((s) => s.trim().replace(/\s+/g, ' '))
    .filter(Boolean)) {
    const f = /^(\w+) (\w+)(?: ?\[ ?(\w+) ?\])?$/.exec(decl);
    if (!f) throw new Error(`zee_heap_info_t: cannot read field "${decl}"`);
    // Why: STATE counts 32-bit words; any other type would shift the offsets.
    if (f[1] !== 'uint32_t')
      throw new Error(`zee_heap_info_t.${f[2]} is ${f[1]}, not uint32_t: word offsets no longer hold`);
    const count = f[3] === undefined ? 1 : (cNumber(f[3]) ?? defines[f[3]]);
    if (!Number.isInteger(count)) throw new Error(`zee_heap_info_t.${f[2]}: unknown array length ${f[3]}`);
    fields.push({ name: f[2], offset: word, words: count });
    word += count;
  }
  const config = /\bconfig\s*;\s*\/\*\s*ZEE_VALIDATION\s*\|\s*ZEE_THREADS\s*<<\s*(\d+)\s*\*\//.exec(text);
  return { defines, enums, fields, words: word, configShift: config ? Number(config[1]) : undefined };
}

// LAYOUT's names are the #defines without ZEE_ (and VERSION is ZEE_LAYOUT_VERSION).
const defineName = (key) => (key === 'VERSION' ? 'ZEE_LAYOUT_VERSION' : `ZEE_${key}`);

/** Every difference between the parsed header and a js/layout.mjs module, as text. */
export function drift(h, js) {
  const out = [];
  const same = (what, a, b) => {
    if (a !== b) out.push(`${what}: header ${a}, js/layout.mjs ${b}`);
  };

  const layoutNames = new Set(Object.keys(js.LAYOUT).map(defineName));
  for (const [key, value] of Object.entries(js.LAYOUT)) {
    if (!(defineName(key) in h.defines)) out.push(`LAYOUT.${key}: no #define ${defineName(key)} in the header`);
    else same(`LAYOUT.${key}`, h.defines[defineName(key)], value);
  }
  for (const name of Object.keys(h.defines)) {
    if (!layoutNames.has(name)) out.push(`#define ${name}: missing from LAYOUT`);
  }

  const structNames = h.fields.map((f) => camel(f.name));
  for (const f of h.fields) {
    const key = camel(f.name);
    if (!(key in js.STATE)) out.push(`zee_heap_info_t.${f.name}: missing from STATE (as ${key})`);
    else same(`STATE.${key}`, f.offset, js.STATE[key]);
  }
  for (const key of Object.keys(js.STATE)) {
    if (!structNames.includes(key)) out.push(`STATE.${key}: no such field in zee_heap_info_t`);
  }
  same('STATE_WORDS', h.words, js.STATE_WORDS);

  const faults = h.enums.zee_fault_code ?? {};
  const jsFaults = Object.fromEntries(Object.entries(js.FAULTS).map(([code, [name]]) => [name, Number(code)]));
  for (const [name, code] of Object.entries(faults)) {
    if (!(name in jsFaults)) out.push(`${name}: missing from FAULTS`);
    else same(`FAULTS ${name}`, code, jsFaults[name]);
  }
  for (const [name] of Object.entries(jsFaults))
    if (!(name in faults)) out.push(`FAULTS ${name}: not in enum zee_fault_code`);
  for (const [code, entry] of Object.entries(js.FAULTS)) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[1] !== 'string' || !entry[1]) {
      out.push(`FAULTS ${code}: not a [name, message] pair`);
    }
  }

  const checks = h.enums.zee_check_code ?? {};
  const jsChecks = Object.fromEntries(Object.entries(js.CHECK_CODES).map(([code, name]) => [name, Number(code)]));
  for (const [name, code] of Object.entries(checks)) {
    if (!(name in jsChecks)) out.push(`${name}: missing from CHECK_CODES`);
    else same(`CHECK_CODES ${name}`, code, jsChecks[name]);
  }
  for (const name of Object.keys(jsChecks))
    if (!(name in checks)) out.push(`CHECK_CODES ${name}: not in enum zee_check_code`);

  if (h.configShift === undefined)
    out.push('zee_heap_info_t.config: its comment no longer says "ZEE_VALIDATION | ZEE_THREADS << N"');
  else {
    js.VALIDATION.forEach((name, level) => {
      for (const threads of [false, true]) {
        const got = js.decodeConfig(level | (Number(threads) << h.configShift));
        if (got.validation !== name || got.threads !== threads) {
          out.push(`decodeConfig(${level} | ${Number(threads)} << ${h.configShift}) = ${JSON.stringify(got)}`);
        }
      }
    });
  }
  return out;
}

const header = parseHeader(HEADER);

describe('js/layout.mjs matches src/zee_alloc.h', () => {
  test('the parser reads the whole header', () => {
    // Enough to know it did not silently read nothing.
    expect(Object.keys(header.defines).length).toBeGreaterThanOrEqual(20);
    expect(header.defines.ZEE_LAYOUT_VERSION).toBe(layout.LAYOUT.VERSION);
    expect(Object.keys(header.enums).sort()).toEqual(['zee_check_code', 'zee_fault_code']);
    expect(header.fields[0]).toEqual({ name: 'magic', offset: 0, words: 1 });
    // layout 7: the free-list heads of both pools and the slab lists, arrays
    // sized by #defines, are the last fields
    expect(header.fields.slice(-3)).toEqual([
      { name: 'lists', offset: layout.STATE.lists, words: header.defines.ZEE_CLASSES },
      { name: 'mid_lists', offset: layout.STATE.midLists, words: header.defines.ZEE_POOL_CLASSES },
      { name: 'slabs', offset: layout.STATE.slabs, words: header.defines.ZEE_SLAB_LISTS },
    ]);
    expect(header.words).toBe(layout.STATE_WORDS);
    // the pool map's two values, and the computed #define read as C computes it
    expect([header.defines.ZEE_POOL_SMALL, header.defines.ZEE_POOL_MID]).toEqual([0, 1]);
    expect(header.defines.ZEE_SLAB_LISTS).toBe(header.defines.ZEE_SLAB_MAX / header.defines.ZEE_GRANULE + 1);
    expect(header.configShift).toBeGreaterThan(0);
  });

  test('every constant, state offset, fault and check code agrees, both ways', () => {
    expect(drift(header, layout)).toEqual([]);
  });

  test('the tables are frozen, so no importer can change them', () => {
    for (const name of ['LAYOUT', 'STATE', 'FAULTS', 'CHECK_CODES', 'VALIDATION'])
      expect(Object.isFrozen(layout[name])).toBe(true);
    for (const entry of Object.values(layout.FAULTS)) expect(Object.isFrozen(entry)).toBe(true);
  });

  // Controls: the comparison must see each kind of drift.  The edits are
  // made to the header as it is (its fields and codes, read by the parser).
  const seventh = header.fields[6];
  const afterLists = header.fields[header.fields.findIndex((f) => f.name === 'lists') + 1];
  const fault = Object.entries(header.enums.zee_fault_code ?? {})[2] ?? ['none', 0];
  const lastCheck = Object.entries(header.enums.zee_check_code ?? {}).at(-1) ?? ['none', 0];
  const mutate = (from, to) => {
    expect(HEADER).toContain(from);
    return parseHeader(HEADER.replace(from, to));
  };
  test.each([
    [
      'a changed #define',
      () => mutate(/#define ZEE_SALT 0x[0-9a-f]+u/i.exec(HEADER)[0], '#define ZEE_SALT 0x1234u'),
      /LAYOUT\.SALT: header 4660/,
    ],
    [
      'a #define computed from another one',
      () => mutate('#define ZEE_SLAB_MAX 1040u', '#define ZEE_SLAB_MAX 1056u'),
      /LAYOUT\.SLAB_LISTS: header 67, js\/layout\.mjs 66/,
    ],
    [
      'a new #define',
      () => mutate('#define ZEE_GRANULE', '#define ZEE_NEW_THING 3u\n#define ZEE_GRANULE'),
      /ZEE_NEW_THING: missing from LAYOUT/,
    ],
    [
      'a field inserted into the state block',
      () => mutate(`uint32_t ${seventh.name};`, `uint32_t extra;\n  uint32_t ${seventh.name};`),
      new RegExp(
        `zee_heap_info_t\\.extra: missing from STATE[\\s\\S]*STATE\\.${camel(seventh.name)}: header ${seventh.offset + 1}`,
      ),
    ],
    [
      'a wider array',
      () => mutate('lists[ZEE_CLASSES]', `lists[${header.defines.ZEE_CLASSES + 1}]`),
      new RegExp(`STATE\\.${camel(afterLists.name)}: header ${afterLists.offset + 1}`),
    ],
    [
      'a renumbered fault',
      () => mutate(`${fault[0]} = ${fault[1]}`, `${fault[0]} = ${fault[1] + 10}`),
      new RegExp(`FAULTS ${fault[0]}: header ${fault[1] + 10}, js/layout\\.mjs ${fault[1]}`),
    ],
    [
      'a new check code',
      () =>
        mutate(
          `${lastCheck[0]} = ${lastCheck[1]}`,
          `${lastCheck[0]} = ${lastCheck[1]},\n  ZEE_C_NEW = ${lastCheck[1] + 1}`,
        ),
      /ZEE_C_NEW: missing from CHECK_CODES/,
    ],
    ['a moved config field', () => mutate('ZEE_THREADS << 4', 'ZEE_THREADS << 8'), /decodeConfig\(0 \| 1 << 8\)/],
  ])('%s is reported', (_name, make, message) => {
    expect(drift(make(), layout).join('\n')).toMatch(message);
  });

  test('a #define body is read as C reads it, or refused', () => {
    const d = { ZEE_A: 1040, ZEE_B: 16 };
    expect(cExpression('(ZEE_A / ZEE_B + 1u)', d)).toBe(66);
    expect(cExpression('0x10u << 2 | 1', d)).toBe(65);
    expect(cExpression('ZEE_A - ZEE_B * 2', d)).toBe(1008);
    for (const bad of ['ZEE_C + 1', '(ZEE_A', 'ZEE_A +', '"text"', 'ZEE_A / 0'])
      expect([bad, cExpression(bad, d)]).toEqual([bad, undefined]);
    expect(() => parseHeader('#define ZEE_X sizeof(int)\n')).toThrow(/ZEE_X sizeof\(int\) is neither/);
  });

  test('a field that is not uint32_t stops the parse with a clear error', () => {
    const f = header.fields[7].name;
    expect(() => parseHeader(HEADER.replace(`uint32_t ${f};`, `uint64_t ${f};`))).toThrow(
      new RegExp(`${f} is uint64_t, not uint32_t`),
    );
  });
});

// ---- no second copy --------------------------------------------------------
const SKIP_DIRS = new Set(['node_modules', 'build', 'dist', 'test-output', 'corpus', 'results', '.git']);
function jsFiles(dir) {
  const out = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) out.push(...jsFiles(path));
    } else if (/\.(mjs|cjs|js|mts|cts|ts|html)$/.test(e.name)) out.push(path);
  }
  return out;
}

// The header's magic numbers, written as JS could write them.
function literals() {
  const d = header.defines;
  const out = [];
  for (const name of ['ZEE_SALT', 'ZEE_INFO_MAGIC']) {
    const v = d[name];
    out.push(new RegExp(`\\b0x0*${v.toString(16)}\\b`, 'i'), new RegExp(`\\b${v}\\b`));
  }
  return out;
}
// JS with its comments blanked out, line numbers kept.
const jsCode = (text) =>
  text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"\\])\/\/.*$/gm, '$1');
const TABLES = [
  /\b\d+\s*:\s*(?:Object\.freeze\(\s*)?\[?\s*['"]ZEE_[CE]_\w+['"]/, // 20: 'ZEE_C_FRAME', 3: ['ZEE_E_DOUBLE_FREE', ...]
  /['"]?\bZEE_[CE]_\w+['"]?\s*:\s*\d/, //                                 ZEE_C_FRAME: 20
];

describe('no other JS file keeps its own copy of the layout', () => {
  const self = relative(root, fileURLToPath(import.meta.url));
  const files = [
    ...jsFiles('js'),
    ...jsFiles('test'),
    ...jsFiles('examples'),
    ...jsFiles('bench'),
    ...jsFiles('types'),
  ].filter((f) => f !== join('js', 'layout.mjs') && f !== self);

  test('the scan covers the wrapper, the inspector and the test helpers', () => {
    for (const f of ['js/zee_alloc.mjs', 'js/inspect.mjs', 'test/helpers/layout.mjs']) expect(files).toContain(f);
  });

  test.each(['js/zee_alloc.mjs', 'js/inspect.mjs', 'test/helpers/layout.mjs'])('%s imports js/layout.mjs', (file) => {
    const code = readFileSync(join(root, file), 'utf8');
    expect(code).toMatch(/^\s*(?:import|export)\b[^;]*?from\s+['"](?:\.\/|\.\.\/(?:\.\.\/)?js\/)layout\.mjs['"]/m);
  });

  test('no magic number of the header and no fault or check-code table outside js/layout.mjs', () => {
    const found = [];
    const patterns = [...literals(), ...TABLES];
    for (const file of files) {
      // Comments may mention a value; code may not hold one.
      const lines = jsCode(readFileSync(join(root, file), 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (patterns.some((p) => p.test(line))) found.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });

  test('the scan finds a copy when there is one', () => {
    const patterns = [...literals(), ...TABLES];
    const copy = [
      `const SALT = 0x${layout.LAYOUT.SALT.toString(16).toUpperCase()};`,
      `if (magic === 0x${layout.LAYOUT.INFO_MAGIC.toString(16)}) {}`,
      `const magic = ${layout.LAYOUT.INFO_MAGIC};`,
      "const CODES = { 20: 'ZEE_C_FRAME' };",
      "const FAULTS = { 3: ['ZEE_E_DOUBLE_FREE', 'double free'] };",
      'const RULE = { ZEE_C_FRAME: 20 };',
    ];
    for (const line of copy) expect([line, patterns.some((p) => p.test(line))]).toEqual([line, true]);
    expect(patterns.some((p) => p.test("const RULES = { ZEE_C_FRAME: 'a header is broken' };"))).toBe(false);
    // A comment may name a code; the same text as code is a copy.
    const commented =
      "/** zee_check() result -> rule name (20: 'ZEE_C_FRAME'). */\n// 20: 'ZEE_C_FRAME'\nconst x = { 20: 'ZEE_C_FRAME' };";
    const hits = jsCode(commented)
      .split('\n')
      .map((line) => patterns.some((p) => p.test(line)));
    expect(hits).toEqual([false, false, true]);
  });
});
