// edgetune-copy-assets: copies the runtimes' WASM byte for byte from the installed packages, and says what is wrong when it cannot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyAssets, ORT_FILES } from '../../scripts/copy-assets.mjs';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const require = createRequire(join(REPO_ROOT, 'package.json'));
const CLI = join(REPO_ROOT, 'scripts', 'copy-assets.mjs');

test('copies the ORT WASM build files and every tfjs-tflite variant, byte-identical to the installed packages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-assets-'));
  try {
    const files = copyAssets(dir, { tflite: true, from: REPO_ROOT });
    const ort = files.filter((f) => f.file.startsWith('ort/')).map((f) => f.file.slice(4));
    assert.deepEqual(ort, ORT_FILES.wasm);
    const tflite = files.filter((f) => f.file.startsWith('tflite/')).map((f) => f.file.slice(7));
    for (const v of ['', '_simd', '_threaded', '_simd_threaded'])
      assert.ok(tflite.includes(`tflite_web_api_cc${v}.wasm`), v);
    const ortDir = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
    const tfliteDir = join(dirname(require.resolve('@tensorflow/tfjs-tflite/package.json')), 'wasm');
    for (const f of files) {
      const src = f.file.startsWith('ort/') ? join(ortDir, f.file.slice(4)) : join(tfliteDir, f.file.slice(7));
      assert.ok(readFileSync(join(dir, f.file)).equals(readFileSync(src)), f.file);
      assert.equal(f.bytes, readFileSync(src).byteLength);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a project without the runtime installed gets an error naming the package and the fix; a bad --ort is refused', () => {
  const empty = mkdtempSync(join(tmpdir(), 'edgetune-noproject-'));
  try {
    assert.throws(
      () => copyAssets(join(empty, 'out'), { from: empty }),
      /onnxruntime-web is not installed.*npm install onnxruntime-web/,
    );
    assert.throws(
      () => copyAssets(join(empty, 'out'), { ort: 'gpu' as 'all', from: REPO_ROOT }),
      /--ort=gpu is not one of wasm, all, none/,
    );
    const r = spawnSync(process.execPath, [CLI, join(empty, 'out'), `--from=${empty}`], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /onnxruntime-web is not installed/);
    const usage = spawnSync(process.execPath, [CLI], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: edgetune-copy-assets DIR/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
