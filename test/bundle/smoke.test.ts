import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { hasChromium, launchChromium, pageResult, serve, REPO_ROOT } from '../browser/harness.js';
import { tinyCnn } from '../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../fixtures/models.js';

const dist = (p: string): string => `${REPO_ROOT}/${p.replace(/^\.\//, '')}`;
const built = existsSync(dist('dist/runtime.js'));
const skipUnbuilt = !built && 'dist/ is missing: run `npm run build` (npm test builds first)';

test('every exports-map entry points at built files, types first', { skip: skipUnbuilt }, () => {
  const pkg = JSON.parse(readFileSync(dist('package.json'), 'utf8')) as { exports: Record<string, string | { types: string; default: string }> };
  for (const [key, entry] of Object.entries(pkg.exports)) {
    if (typeof entry === 'string') continue;
    assert.equal(Object.keys(entry)[0], 'types', `${key}: types must come first`);
    if (!existsSync(dist(`src/${key === '.' ? 'index' : key.slice(2)}${key.includes('/') ? '/index.ts' : '.ts'}`))) continue; // area not written yet
    assert.ok(existsSync(dist(entry.types)), `${key}: ${entry.types} missing`);
    assert.ok(existsSync(dist(entry.default)), `${key}: ${entry.default} missing`);
  }
  assert.ok(existsSync(dist('dist/ort/ort-wasm-simd-threaded.wasm')), 'ORT wasm is copied next to the bundle');
});

test('the built runtime embeds in Node', { skip: skipUnbuilt }, async () => {
  const { Encoder } = (await import(dist('dist/runtime.js'))) as typeof import('../../src/runtime/index.js');
  const bytes = tinyCnn();
  await using enc = await Encoder.open({ manifest: await manifestFor(bytes), bytes });
  const [e] = await enc.embed(testImages(1));
  assert.equal(e!.length, 16);
});

test('the built runtime loads its self-hosted WASM from dist/ort/ in a browser with no wasmPaths set', { skip: skipUnbuilt || (!hasChromium && 'no chromium') }, async () => {
  const server = await serve();
  const chrome = await launchChromium();
  const requests: string[] = [];
  try {
    const page = await chrome.context.newPage();
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    await page.goto(`${server.origin}/test/bundle/dist-page.html`);
    const r = await pageResult<{ backend: string; dim: number }>(page, 60_000);
    assert.deepEqual(r, { backend: 'wasm', dim: 16 });
    assert.ok(requests.some((p) => p === '/dist/ort/ort-wasm-simd-threaded.wasm'), requests.join('\n'));
    assert.ok(requests.every((p) => !p.startsWith('/node_modules/onnxruntime-web/dist/ort-wasm')), 'wasm must come from dist/ort/');
  } finally {
    await chrome.close();
    await server.close();
  }
});
