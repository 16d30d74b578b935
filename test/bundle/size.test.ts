import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { REPO_ROOT } from '../browser/harness.js';

const budget = JSON.parse(readFileSync(`${REPO_ROOT}/scripts/size-budget.json`, 'utf8')) as Record<
  string,
  number | string
>;

test('each built entry stays within its gzipped size budget', {
  skip: !existsSync(`${REPO_ROOT}/dist/runtime.js`) && 'dist/ missing: npm run build',
}, () => {
  const rows: string[] = [];
  for (const [file, limit] of Object.entries(budget)) {
    if (typeof limit !== 'number' || !existsSync(`${REPO_ROOT}/${file}`)) continue;
    // Count the entry plus every file of ours it imports, statically or dynamically (runtimes are external).
    const seen = new Set<string>();
    const visit = (path: string): void => {
      if (seen.has(path)) return;
      seen.add(path);
      const code = readFileSync(path, 'utf8');
      for (const m of code.matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g))
        visit(resolve(dirname(path), m[1]!));
    };
    visit(`${REPO_ROOT}/${file}`);
    const size = gzipSync(Buffer.concat([...seen].map((p) => readFileSync(p)))).byteLength;
    rows.push(`${file}: ${size} B gzip (budget ${limit})`);
    assert.ok(size <= limit, `${file} is ${size} B gzipped, over its ${limit} B budget`);
  }
  assert.ok(rows.length > 0);
  console.log(rows.join('\n'));
});
