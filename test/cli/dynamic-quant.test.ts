// The CLI on a dynamically quantized encoder (DynamicQuantizeLinear + MatMulInteger, as hub exporters ship them): import, quantize and verify keep it on the dynamic path and say what it costs.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DynamicQuantReport } from '../../src/cli/dynamic.js';
import { syntheticImages } from '../../src/cli/images.js';
import { main } from '../../src/cli/main.js';
import { hasNativeRuntime } from '../../src/cli/ort.js';
import { embedAll } from '../../src/cli/quantize.js';
import { validateManifest } from '../../src/runtime/index.js';
import { forRuntime } from '../../src/runtime/pooling.js';
import { preprocessBatch } from '../../src/runtime/preprocess.js';
import { batchCosines } from '../../src/runtime/selfcheck.js';
import { dynamicQuantize } from '../fixtures/dynamic-quant.js';
import { photosUnavailable, referenceUnavailable, scratch } from './reference.js';

const skip = referenceUnavailable() ?? photosUnavailable();

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

test('ViT-Ti/16 dynamically quantized hub-style: import, quantize and verify keep the dynamic path; the report gives its WASM cost and batch dependence; verify matches onnxruntime-node', {
  skip,
  timeout: 600_000,
}, async () => {
  const { dir, photos } = scratch(['vit-ti16']);
  const fp32Bytes = new Uint8Array(readFileSync(join(dir, 'vit-ti16.onnx')));
  const dyn = dynamicQuantize(fp32Bytes);
  // 12 blocks × (qkv, proj, fc1, fc2) and the pooler: the attention MatMuls between two activations stay float.
  assert.ok(dyn.matmuls >= 48, `${dyn.matmuls} MatMuls rewritten`);
  const model = join(dir, 'vit-ti16-dyn.onnx');
  writeFileSync(model, dyn.bytes);

  const imp = await cli(
    'import',
    model,
    '--preset',
    'imagenet',
    '--output',
    'pooler_output',
    '--license',
    'Apache-2.0',
  );
  assert.equal(imp.code, 0, imp.err);
  const manifest = validateManifest(JSON.parse(readFileSync(join(dir, 'vit-ti16-dyn.json'), 'utf8')));
  assert.equal(manifest.dtype, 'int8');
  assert.equal(manifest.quantization, 'dynamic-u8');
  assert.equal(manifest.output.dim, 192);
  assert.ok(manifest.bytes < fp32Bytes.byteLength * 0.4, `${manifest.bytes} of ${fp32Bytes.byteLength} bytes`);
  assert.match(imp.out, /\(dynamic-u8\)/);
  assert.match(imp.out, /note: the model is dynamically quantized .*depends on the other images in its batch/);
  assert.match(imp.out, /WASM speed-up over fp32 depends on the model/);

  // The dynamic model is an honest dynamic quantization of the fp32 one (the issue saw 0.979–0.999 on hub-style models).
  const frames = syntheticImages(8, 320, 240, 5);
  const rt = forRuntime(manifest);
  const x = preprocessBatch(frames, rt.input);
  const [a, b] = [await embedAll(fp32Bytes, rt, x, 8), await embedAll(dyn.bytes, rt, x, 8)];
  const vsFp32 = Math.min(...batchCosines(b.out, a.out, 192));
  assert.ok(vsFp32 >= 0.97 && vsFp32 < 0.99999, `dynamic vs fp32 min cosine ${vsFp32}`);

  const before = readdirSync(dir).sort();
  const q = await cli(
    'quantize',
    join(dir, 'vit-ti16-dyn.json'),
    '--calibrate',
    photos,
    '--limit',
    '8',
    '--speed-runs',
    '2',
  );
  assert.equal(q.code, 0, q.err);
  process.stdout.write(`dynamic vs fp32 min cosine ${vsFp32.toFixed(5)}\n${q.out}`);
  assert.match(q.out, /already dynamically quantized \(DynamicQuantizeLinear×\d+ MatMulInteger×\d+\)/);
  assert.match(q.out, /batch dependence: cosine alone vs in a batch of 8: min 0\.\d+/);
  assert.match(q.out, /onnxruntime-web WASM, 1 thread, batch 1 \(median of 2\): [\d.]+ ms/);
  assert.match(q.out, /kept on the dynamic path: no file written/);
  assert.match(
    q.out,
    /cost on onnxruntime-web WASM \(this model: [\d.]+ ms at batch 1, 1 thread\): the dynamic path's speed-up over fp32 depends on the model/,
  );
  assert.match(q.out, /static QDQ .*do not depend on the batch.*faster than fp32 on WASM/);
  assert.deepEqual(readdirSync(dir).sort(), before, 'quantize wrote nothing for a dynamic model');
  assert.ok(!existsSync(join(dir, 'vit-ti16-dyn-int8.onnx')));

  const j = await cli(
    'quantize',
    join(dir, 'vit-ti16-dyn.json'),
    '--calibrate',
    photos,
    '--limit',
    '8',
    '--speed-runs',
    '0',
    '--json',
  );
  assert.equal(j.code, 0, j.err);
  const report = JSON.parse(j.out) as DynamicQuantReport;
  assert.equal(report.quantization, 'dynamic-u8');
  assert.equal(report.images, 8);
  // One activation scale per batch: an image's embedding alone is not the one it gets among 7 others.
  assert.ok(report.batchCosine.min < 0.99999, `alone vs in batch: ${report.batchCosine.min}`);
  assert.ok(report.batchCosine.min > 0.9, `alone vs in batch: ${report.batchCosine.min}`);
  assert.ok((report.ops['MatMulInteger'] ?? 0) === dyn.matmuls);
  assert.equal(report.wasmMs, undefined);

  const v = await cli('verify', join(dir, 'vit-ti16-dyn.json'), '--json');
  assert.equal(v.code, 0, v.out + v.err);
  const vr = JSON.parse(v.out) as { ok: boolean; checks: { check: string; detail: string }[]; cosines: number[] };
  const ref = vr.checks.find((c) => c.check.startsWith('embedding vs'))!;
  assert.equal(
    ref.check,
    (await hasNativeRuntime()) ? 'embedding vs onnxruntime-node' : 'embedding vs onnxruntime-web',
  );
  assert.ok(Math.min(...vr.cosines) >= 0.999, `SDK vs ${ref.check}: ${vr.cosines.join(', ')}`);
});
