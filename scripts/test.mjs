// The test suite: static checks (lint, typecheck, bundle, API report, publint, attw), then test/**/*.test.ts through Node's test runner; under CI a skipped test fails the run.
//   node scripts/test.mjs              everything (what `npm test` and .ci/run run after set-up)
//   node scripts/test.mjs --unit       Node-only tests: no build, no browser, no PyTorch pipeline run (the fast inner loop)
//   node scripts/test.mjs --browser    bundle, then the real-Chromium and built-bundle tests
//   node scripts/test.mjs FILE...      just these test files
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// CI=true (what CI sets): nothing may be skipped, so a missing browser or package cannot pass as green.
const ci = /^(1|true|yes)$/i.test(process.env['CI'] ?? '');
const started = Date.now();
const secs = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;

const step = (name, cmd, args) => {
  process.stdout.write(`\n[test] ${name}\n`);
  const t = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stdout.write(`[test] ${name} failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
  process.stdout.write(`[test] ${name}: ok (${secs(t)})\n`);
};

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const args = process.argv.slice(2);
const mode = args.includes('--unit') ? 'unit' : args.includes('--browser') ? 'browser' : 'all';
const only = args.filter((a) => !a.startsWith('--'));
// The browser layer: real Chromium (test/browser) and the built bundle (test/bundle needs dist/ and Chromium).
const isBrowserLayer = (f) => f.startsWith(`test${sep}browser${sep}`) || f.startsWith(`test${sep}bundle${sep}`);
// Trains and exports a model with PyTorch (~20 s): part of the full run, not of the inner loop.
const isPipeline = (f) => f === join('test', 'models', 'pipeline-smoke.test.ts');
const all = find(join(root, 'test')).sort();
const pick = { unit: (f) => !isBrowserLayer(f) && !isPipeline(f), browser: isBrowserLayer, all: () => true }[mode];
const files = only.length ? only : all.filter(pick);
const bin = (name) => join(root, 'node_modules', '.bin', name);

if (!only.length && mode === 'all') {
  step('lint (biome check)', bin('biome'), ['check', '.']);
  step('typecheck', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']);
}
if (!only.length && mode !== 'unit') {
  step('bundle (rollup)', bin('rollup'), ['-c', '--silent']);
  // The CLI (`bin.edgetune`) is built apart: Node-only, never reached from the browser entries; publint checks it exists.
  step('CLI (dist/cli.js)', process.execPath, [join(root, 'scripts', 'build-cli.mjs')]);
}
if (!only.length && mode === 'all') {
  step('API report (etc/*.api.md)', process.execPath, [join(root, 'scripts', 'api.mjs'), '--check']);
  step('publint', bin('publint'), ['--strict']);
  step('attw (types of every export)', bin('attw'), ['--pack', '.', '--profile', 'esm-only']);
}

// TAP to a file beside the spec output: the skip check below reads it.
mkdirSync(join(root, 'build'), { recursive: true });
const tap = join(root, 'build', 'test-results.tap');
step(`node --test (${files.length} files${ci ? ', CI: skips fail' : ''})`, process.execPath, [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-reporter=tap',
  `--test-reporter-destination=${tap}`,
  ...files,
]);

const skipped = readFileSync(tap, 'utf8')
  .split('\n')
  .filter((l) => /^\s*ok \d+ - .*# (SKIP|TODO)\b/i.test(l))
  .map((l) => l.trim().replace(/^ok \d+ - /, ''));
if (skipped.length) {
  process.stdout.write(
    `\n[test] ${skipped.length} test(s) skipped or todo:\n${skipped.map((s) => `  - ${s}`).join('\n')}\n`,
  );
  if (ci) {
    process.stdout.write(
      '[test] CI is set: a skipped test fails the run (install what it names: npm test runs scripts/setup.mjs)\n',
    );
    process.exit(1);
  }
}
process.stdout.write(`[test] all done in ${secs(started)}\n`);
