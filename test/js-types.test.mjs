// The declarations in types/ and the runtime of js/zee_alloc.mjs agree: what
// the types accept runs, what they mark readonly is frozen, the code unions
// list the codes the runtime uses, and misuse is a type error.  The
// TypeScript part compiles a consumer file with `tsc --noEmit`, in a DOM
// project and in a project with neither DOM nor Node types.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZeeAlloc, VARIANTS, FAULTS, CHECKS, ZeeFaultError } from '../js/zee_alloc.mjs';
import { FAULTS as LAYOUT_FAULTS, CHECK_CODES, VALIDATION, LAYOUT } from '../js/layout.mjs';
import { snapshot } from '../js/inspect.mjs';
import { interfaceFields as fieldsOf } from './helpers/declarations.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const declarations = readFileSync(join(root, 'types/zee_alloc.d.mts'), 'utf8');
const inspectDeclarations = readFileSync(join(root, 'types/inspect.d.mts'), 'utf8');

// The fields of `export interface Name { ... }` in the inspector's declarations: { all, required }.
const interfaceFields = (name) => fieldsOf(inspectDeclarations, name, 'types/inspect.d.mts');

// The string literals of `export type Name = 'a' | 'b' ...;` in the declarations.
function unionMembers(name) {
  const m = new RegExp(`^export type ${name} =([^;]*);`, 'm').exec(declarations);
  if (!m) throw new Error(`types/zee_alloc.d.mts has no type ${name}`);
  return [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]).sort();
}

describe('runtime values are what the declarations say', () => {
  test('VARIANTS, FAULTS and CHECKS are frozen, down to the FAULTS entries', () => {
    expect(VARIANTS).toEqual(['default', 'dev', 'unsafe']);
    for (const value of [VARIANTS, FAULTS, CHECKS, ...Object.values(FAULTS)]) expect(Object.isFrozen(value)).toBe(true);
    expect(() => {
      'use strict';
      VARIANTS.push('fast');
    }).toThrow(TypeError);
    expect(FAULTS).toBe(LAYOUT_FAULTS); // one table, in js/layout.mjs
    expect(CHECKS).toBe(CHECK_CODES);
  });

  test('the code unions list exactly the codes of js/layout.mjs', () => {
    expect(unionMembers('ZeeCheckCode')).toEqual(Object.values(CHECK_CODES).sort());
    expect(unionMembers('ZeeFaultCode')).toEqual(
      [...Object.values(FAULTS).map(([code]) => code), 'ZEE_E_UNKNOWN'].sort(),
    );
    const declaredVariants = /export declare const VARIANTS: readonly \[([^\]]*)\]/.exec(declarations)[1];
    expect([...declaredVariants.matchAll(/'([^']+)'/g)].map((x) => x[1])).toEqual([...VARIANTS]);
  });

  test('config is { validation, threads }, as ZeeConfig declares', async () => {
    const m = /^export interface ZeeConfig \{([\s\S]*?)^\}/m.exec(declarations);
    const fields = [...m[1].matchAll(/^ {2}(\w+):/gm)].map((f) => f[1]).sort();
    const validation = /validation: ([^;]*);/.exec(m[1])[1];
    for (const variant of VARIANTS) {
      const z = await ZeeAlloc.create({ variant });
      expect(Object.keys(z.config).sort()).toEqual(fields);
      expect(VALIDATION).toContain(z.config.validation);
      expect(validation).toContain(`'${z.config.validation}'`);
      expect(z.config.threads).toBe(false);
    }
  });

  test('an unknown fault number still makes a ZeeFaultError with the ZEE_E_UNKNOWN code', () => {
    const e = new ZeeFaultError(99, 0x1230);
    expect(e.code).toBe('ZEE_E_UNKNOWN');
    expect(e.message).toBe('zee_alloc: fault 99 at 0x1230');
  });
});

describe("the inspector's declarations name what a snapshot holds", () => {
  test('every field of a snapshot with slabs, blocks of both pools, free frames and a foreign block, and no other', async () => {
    const z = await ZeeAlloc.create();
    for (let i = 0; i < 12; i++) z.malloc(40); // a full slab of 48 B slots, and one with free slots
    z.malloc(5000); // 5,008 B, above POOL_MIN (4 KiB): it splits frames of the mid pool
    z.malloc(100000);
    z.memory.grow(1); // a page the allocator does not own...
    z.malloc(3 * 65536); // ...becomes a foreign block when the heap grows past it
    const s = snapshot(z);
    expect(s.violations).toEqual([]);
    const keys = (x) => Object.keys(x).sort();
    expect(keys(s)).toEqual(interfaceFields('Snapshot').all);
    expect(keys(s.config)).toEqual(interfaceFields('SnapshotConfig').all);
    expect(keys(s.totals)).toEqual(interfaceFields('SnapshotTotals').all);
    expect(keys(s.counters)).toEqual(interfaceFields('HeapCounters').all);
    expect(keys(s.slabs[0])).toEqual(interfaceFields('SlabInfo').all);
    expect(keys(s.slabLists[3])).toEqual(interfaceFields('SlabListInfo').all);
    expect(keys(s.freeLists[0])).toEqual(interfaceFields('FreeListInfo').all);
    expect(keys(s.midLists[0])).toEqual(interfaceFields('FreeListInfo').all);
    expect(keys(s.freeRuns[0])).toEqual(interfaceFields('FreeRunInfo').all);
    for (const page of s.pages) expect(keys(page)).toEqual(interfaceFields('PageInfo').all);
    // The pages of both pools, and the kinds PageKind declares.
    expect([...new Set(s.pages.map((p) => p.pool))].sort()).toEqual(['mid', 'small']);
    const pageKind = /^export type PageKind = ([^;]*);/m.exec(inspectDeclarations)[1];
    for (const page of s.pages) expect(pageKind).toContain(`'${page.kind}'`);
    expect(s.pages.map((p) => p.kind)).toContain('foreign');
    const block = interfaceFields('BlockInfo');
    const states = new Set();
    for (const b of s.blocks) {
      states.add(b.state);
      expect(block.all).toEqual(expect.arrayContaining(keys(b)));
      expect(keys(b)).toEqual(expect.arrayContaining(block.required));
    }
    expect([...states].sort()).toEqual(['foreign', 'free', 'free-slot', 'slab', 'used']);
    const declared = /state: ([^;]*);/.exec(
      /^export interface BlockInfo \{([\s\S]*?)^\}/m.exec(inspectDeclarations)[1],
    )[1];
    for (const state of states) expect(declared).toContain(`'${state}'`);
  });

  test('LAYOUT declares exactly the constants of js/layout.mjs', () => {
    const m = /^export declare const LAYOUT: Readonly<\{([\s\S]*?)\}>;/m.exec(inspectDeclarations);
    expect([...m[1].matchAll(/^ {2}(\w+): number;/gm)].map((f) => f[1]).sort()).toEqual(Object.keys(LAYOUT).sort());
  });
});

describe('TypeScript: the declarations compile against real use, and reject misuse', () => {
  const dir = join(root, 'test-output', 'js-types');
  const tscBin = join(createRequire(import.meta.url).resolve('typescript/package.json'), '..', 'bin', 'tsc');
  const consumer = `
import {
  ZeeAlloc, ZeeAllocError, ZeeFaultError, VARIANTS, FAULTS, CHECKS,
  type ZeeStats, type ZeeConfig, type ByteSource, type Variant,
} from '../../types/zee_alloc.mjs';

export async function main(): Promise<number> {
  const z = await ZeeAlloc.create({ variant: 'dev', initialPages: 4 });
  const { malloc, free, writeBytes, stats } = z; // bound methods
  const p = malloc(16);
  const arrayLike: ByteSource = { length: 2, 0: 1, 1: 2 };
  writeBytes(p, arrayLike);
  writeBytes(p, [1, 2, 3]);
  writeBytes(p, new Uint16Array([1]));
  writeBytes(p, new DataView(new ArrayBuffer(4)));
  writeBytes(p, 'text');
  const s: ZeeStats = stats();
  const pages: number = s.pages + s.memoryPages + s.heapBytes + s.memoryBytes;
  const used: number = s.usedBytes + s.usedBlocks + s.peakBytes + s.heapStart + s.heapEnd;
  const config: ZeeConfig = z.config;
  const threads: boolean = config.threads;
  const level: 'unsafe' | 'external' | 'dev' | \`unknown(\${number})\` = config.validation;
  const variant: Variant = VARIANTS[0];
  const fault: string | undefined = FAULTS[1]?.[0];
  const check: string | undefined = CHECKS[26];
  try { free(p + 1); } catch (e) { if (e instanceof ZeeFaultError) return e.fault; if (e instanceof ZeeAllocError) return 0; }
  free(p);
  return pages + used + (threads ? 1 : 0) + level.length + variant.length + (fault ?? '').length + (check ?? '').length;
}
`;
  // Each line must be a type error: an unused @ts-expect-error fails the build.
  const misuse = `
import { ZeeAlloc, VARIANTS, FAULTS, CHECKS } from '../../types/zee_alloc.mjs';
const z = await ZeeAlloc.create();
// @ts-expect-error VARIANTS is readonly
VARIANTS.push('fast');
// @ts-expect-error FAULTS is readonly
FAULTS[1] = ['ZEE_E_POINTER', 'x'];
// @ts-expect-error CHECKS is readonly
CHECKS[0] = 'ZEE_C_OK';
// @ts-expect-error the layout 2 config fields are gone
z.config.jumbo;
// @ts-expect-error stats() are the running totals, not a snapshot's
z.stats().fragmentation;
// @ts-expect-error layout 7 has no page counts: the heap is one buddy space
z.stats().freePages;
// @ts-expect-error zee_trim() is gone with the spare page it gave back
z.trim();
// @ts-expect-error only the packaged variants
await ZeeAlloc.create({ variant: 'fast' });
// @ts-expect-error not a byte source
z.writeBytes(0, { size: 2 });
// @ts-expect-error not a byte source
z.allocBytes(42);
// @ts-expect-error a capacity is required
z.writeString(0, 'x');
`;
  const tsconfig = (lib) =>
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib,
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: [],
      },
      include: ['*.mts'],
    });

  beforeAll(() => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(dir, 'consumer.mts'), consumer);
    writeFileSync(join(dir, 'misuse.mts'), misuse);
  });

  test.each([
    ['a browser project (lib dom)', ['es2022', 'dom']],
    ['a project with neither DOM nor Node types', ['es2022']],
  ])('%s', (_name, lib) => {
    const config = join(dir, `tsconfig.${lib.join('-')}.json`);
    writeFileSync(config, tsconfig(lib));
    const r = spawnSync(process.execPath, [tscBin, '--noEmit', '-p', config], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120000,
    });
    expect([r.status, r.stdout + r.stderr]).toEqual([0, '']);
  });

  test('the check is real: a wrong call fails it', () => {
    const broken = join(dir, 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(
      join(broken, 'broken.mts'),
      "import { ZeeAlloc } from '../../../types/zee_alloc.mjs';\nconst z = await ZeeAlloc.create();\nz.writeBytes(0, { size: 2 });\n",
    );
    writeFileSync(join(broken, 'tsconfig.json'), tsconfig(['es2022', 'dom']));
    const r = spawnSync(process.execPath, [tscBin, '--noEmit', '-p', join(broken, 'tsconfig.json')], {
      cwd: broken,
      encoding: 'utf8',
      timeout: 120000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/broken\.mts\(3,19\): error TS2/);
  });
});
