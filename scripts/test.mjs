// The whole test suite: typecheck, bundle, then every test/**/*.test.ts through Node's test runner (Node and real-browser layers).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const step = (name, cmd, args) => {
  process.stdout.write(`\n[test] ${name}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stdout.write(`[test] ${name} failed (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
};

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const only = process.argv.slice(2);
const files = only.length ? only : find(join(root, 'test')).sort();
const bin = (name) => join(root, 'node_modules', '.bin', name);

if (!only.length) {
  step('typecheck', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']);
  step('bundle (rollup)', bin('rollup'), ['-c', '--silent']);
}
step(`node --test (${files.length} files)`, process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', ...files]);
