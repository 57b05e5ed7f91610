#!/usr/bin/env node
// Formats the project's own files: `node scripts/format.mjs [--check]`
// (npm run format / npm run format:check).
//   JS, TypeScript declarations, JSON, Markdown, HTML: Prettier (.prettierrc.json)
//   C and C++: clang-format (.clang-format)
// The files are the ones git knows (tracked, or new and not ignored), so
// build output, node_modules and downloaded sources are never touched.  With
// --check nothing is written; the exit status is 1 if any file would change.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const unknown = process.argv.slice(2).filter((a) => a !== '--check');
if (unknown.length) {
  console.error(`format: unknown argument ${unknown.join(' ')} (usage: node scripts/format.mjs [--check])`);
  process.exit(2);
}

const PRETTIER = /\.(mjs|cjs|js|mts|cts|ts|json|md|html|css|ya?ml)$/;
const CLANG = /\.(c|h|cc|cpp|hpp)$/;
// Inputs and records, not source: byte-exact on purpose.
const KEEP = [/^test\/native\/corpus\//, /^bench\/results\//, /^package-lock\.json$/];

function git(args) {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed (is this a git checkout?)\n${r.stderr}`);
  return r.stdout.split('\0').filter(Boolean);
}

// Deleted-but-tracked files are listed by ls-files too: skip them.
const deleted = new Set(git(['ls-files', '-z', '--deleted']));
const files = git(['ls-files', '-z', '--cached', '--others', '--exclude-standard']).filter(
  (f) => !deleted.has(f) && !KEEP.some((k) => k.test(f)),
);
const jsFiles = files.filter((f) => PRETTIER.test(f));
const cFiles = files.filter((f) => CLANG.test(f));

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error?.code === 'ENOENT') {
    console.error(`format: ${cmd} is missing (${what})`);
    process.exit(2);
  }
  return r.status;
}

const require = createRequire(import.meta.url);
let prettierBin;
try {
  prettierBin = join(dirname(require.resolve('prettier/package.json')), 'bin', 'prettier.cjs');
} catch {
  console.error('format: prettier is missing: run `npm ci`');
  process.exit(2);
}

let failed = 0;
// Batches keep each command line well below the system's limit.
for (let i = 0; i < jsFiles.length; i += 200) {
  const batch = jsFiles.slice(i, i + 200);
  if (
    run(
      process.execPath,
      [prettierBin, check ? '--check' : '--write', '--log-level', 'warn', ...batch],
      'npm ci installs it',
    ) !== 0
  )
    failed++;
}
for (let i = 0; i < cFiles.length; i += 200) {
  const batch = cFiles.slice(i, i + 200);
  const args = check ? ['--dry-run', '-Werror', ...batch] : ['-i', ...batch];
  if (run('clang-format', args, 'apt-get install clang-format') !== 0) failed++;
}
if (failed) {
  console.error(check ? 'format: some files are not formatted; run `npm run format`' : 'format: a formatter failed');
  process.exit(1);
}
console.log(
  `format: ${jsFiles.length} files checked by prettier, ${cFiles.length} by clang-format${check ? ': all formatted' : ''}`,
);
