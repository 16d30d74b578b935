import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { copyAssets } from '../../scripts/copy-assets.mjs';
import { hasChromium, launchChromium, pageResult, serve, REPO_ROOT } from '../browser/harness.js';
import { tinyCnn } from '../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../fixtures/models.js';

const dist = (p: string): string => `${REPO_ROOT}/${p.replace(/^\.\//, '')}`;
const built = existsSync(dist('dist/runtime.js'));
const skipUnbuilt = !built && 'dist/ is missing: run `npm run build` (npm test builds first)';

test('every exports-map entry points at built files, types first', { skip: skipUnbuilt }, () => {
  const pkg = JSON.parse(readFileSync(dist('package.json'), 'utf8')) as {
    exports: Record<string, string | { types: string; default: string }>;
  };
  for (const [key, entry] of Object.entries(pkg.exports)) {
    if (typeof entry === 'string') continue;
    assert.equal(Object.keys(entry)[0], 'types', `${key}: types must come first`);
    if (!existsSync(dist(`src/${key === '.' ? 'index' : key.slice(2)}${key.includes('/') ? '/index.ts' : '.ts'}`)))
      continue; // area not written yet
    assert.ok(existsSync(dist(entry.types)), `${key}: ${entry.types} missing`);
    assert.ok(existsSync(dist(entry.default)), `${key}: ${entry.default} missing`);
  }
  // The runtimes ship their own WASM; a copy in dist/ would only double the package.
  const wasm = readdirSync(dist('dist'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.wasm$/.test(f));
  assert.deepEqual(wasm, [], 'dist/ must not carry WASM files');
});

test('the built runtime embeds in Node', { skip: skipUnbuilt }, async () => {
  const { Encoder } = (await import(dist('dist/runtime.js'))) as typeof import('../../src/runtime/index.js');
  const bytes = tinyCnn();
  await using enc = await Encoder.open({ manifest: await manifestFor(bytes), bytes });
  const [e] = await enc.embed(testImages(1));
  assert.equal(e!.length, 16);
});

async function runDistPage(query: string): Promise<{ result: { backend: string; dim: number }; requests: string[] }> {
  const server = await serve();
  const chrome = await launchChromium();
  const requests: string[] = [];
  try {
    const page = await chrome.context.newPage();
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    await page.goto(`${server.origin}/test/bundle/dist-page.html${query}`);
    return { result: await pageResult<{ backend: string; dim: number }>(page, 60_000), requests };
  } finally {
    await chrome.close();
    await server.close();
  }
}

const ortWasm = (requests: string[]): string[] => requests.filter((p) => /\/ort-wasm[^/]*\.(wasm|mjs)$/.test(p));

test('the built runtime with no wasmPaths set: ORT loads its WASM from its own package, never from elsewhere', {
  skip: skipUnbuilt || (!hasChromium && 'no chromium'),
}, async () => {
  const { result, requests } = await runDistPage('');
  assert.deepEqual(result, { backend: 'wasm', dim: 16 });
  const wasm = ortWasm(requests);
  assert.ok(wasm.includes('/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm'), requests.join('\n'));
  assert.ok(
    wasm.every((p) => p.startsWith('/node_modules/onnxruntime-web/dist/')),
    wasm.join('\n'),
  );
});

test('edgetune-copy-assets output served as env.wasmPaths: the built runtime loads its WASM from there only', {
  skip: skipUnbuilt || (!hasChromium && 'no chromium'),
}, async () => {
  const dir = `${REPO_ROOT}/build/copy-assets-test`;
  rmSync(dir, { recursive: true, force: true });
  try {
    const files = copyAssets(dir, { from: REPO_ROOT });
    assert.deepEqual(files.map((f) => f.file).sort(), [
      'ort/ort-wasm-simd-threaded.mjs',
      'ort/ort-wasm-simd-threaded.wasm',
    ]);
    const { result, requests } = await runDistPage('?wasmPaths=/build/copy-assets-test/ort/');
    assert.deepEqual(result, { backend: 'wasm', dim: 16 });
    const wasm = ortWasm(requests);
    assert.ok(wasm.includes('/build/copy-assets-test/ort/ort-wasm-simd-threaded.wasm'), requests.join('\n'));
    assert.ok(
      wasm.every((p) => p.startsWith('/build/copy-assets-test/ort/')),
      wasm.join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the built runtime opening a TFLite model with no env.tfliteWasmPath: BACKEND_UNAVAILABLE naming the setting and the copy-assets fix', {
  skip: skipUnbuilt || (!hasChromium && 'no chromium'),
}, async () => {
  const server = await serve();
  const chrome = await launchChromium();
  const requests: string[] = [];
  try {
    const page = await chrome.context.newPage();
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    await page.goto(`${server.origin}/test/bundle/tflite-unset.html`);
    const r = await pageResult<{ opened: boolean; code?: string; message: string; details: string }>(page, 60_000);
    assert.equal(r.opened, false);
    assert.equal(r.code, 'BACKEND_UNAVAILABLE');
    assert.match(`${r.message} ${r.details}`, /env\.tfliteWasmPath is not set.*edgetune-copy-assets .* --tflite/);
    // It fails before anything of tfjs is fetched, and never guesses a path.
    assert.ok(
      requests.every((p) => !/tflite_web_api/.test(p)),
      requests.join('\n'),
    );
  } finally {
    await chrome.close();
    await server.close();
  }
});
