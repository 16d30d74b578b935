// The CLI's TFLite writer in Node: the shipped int8 QDQ and fp32 encoders convert op for op like the Python-made twins, the file reads back through the runtime's bounds-checked reader, and ops outside the set are refused with a list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgetuneError } from '../../src/core/errors.js';
import { readOnnx } from '../../src/cli/onnx-proto.js';
import { convertToTflite } from '../../src/cli/tflite-convert.js';
import { inspectTflite } from '../../src/runtime/backends/tflite.js';

const MODELS = join(fileURLToPath(new URL('.', import.meta.url)), '../../models');
const read = (f: string): Uint8Array => new Uint8Array(readFileSync(join(MODELS, f)));

for (const id of ['fmnist-cnn-vicreg', 'rgb-cam-vicreg']) {
  test(`${id}-int8: the CLI's .tflite has the ops, tensors and constant sizes of the Python-made twin`, () => {
    const r = convertToTflite(readOnnx(read(`${id}-int8.onnx`)));
    assert.equal(r.dtype, 'int8');
    const ours = inspectTflite(r.bytes);
    const twin = inspectTflite(read(`${id}-int8.tflite`));
    // The twin quantizes its MEAN (v2); ours averages in float (v1) as the QDQ ONNX does, one DEQUANTIZE earlier.
    const opsOf = (m: typeof ours): string[] =>
      m.operators.filter((o) => o.op !== 'DEQUANTIZE').map((o) => (o.op === 'MEAN' ? 'MEAN' : `${o.op}/${o.version}`));
    assert.deepEqual(opsOf(ours), opsOf(twin));
    assert.deepEqual(
      ours.inputs.map((t) => [t.shape, t.type]),
      twin.inputs.map((t) => [t.shape, t.type]),
    );
    assert.deepEqual(
      ours.outputs.map((t) => [t.shape, t.type]),
      twin.outputs.map((t) => [t.shape, t.type]),
    );
    const consts = (m: typeof ours): string[] =>
      m.tensors
        .filter((t) => t.constantBytes > 0)
        .map((t) => `${t.type}[${t.shape.join(',')}]`)
        .sort();
    assert.deepEqual(consts(ours), consts(twin));
  });
}

test('fp32 ONNX converts to an fp32 .tflite (float weights, no QUANTIZE)', () => {
  const r = convertToTflite(readOnnx(read('fmnist-cnn-vicreg-fp32.onnx')));
  assert.equal(r.dtype, 'fp32');
  const m = inspectTflite(r.bytes);
  assert.ok(!m.operators.some((o) => o.op === 'QUANTIZE' || o.op === 'DEQUANTIZE'));
  assert.ok(m.tensors.every((t) => t.type === 'float32' || t.type === 'int32'));
  assert.deepEqual(m.inputs[0]!.shape, [1, 28, 28, 1]);
  assert.equal(r.outputDim, 256);
});

test('ops outside the convertible set are refused with UNSUPPORTED_OP, listing each with its reason', () => {
  const model = readOnnx(read('fmnist-cnn-vicreg-int8.onnx'));
  const edited = { ...model, nodes: model.nodes.map((n) => (n.op === 'MaxPool' ? { ...n, op: 'HardSwish' } : n)) };
  assert.throws(
    () => convertToTflite(edited),
    (e: unknown) =>
      e instanceof EdgetuneError &&
      e.code === 'UNSUPPORTED_OP' &&
      /HardSwish×2 \(unverified: HARD_SWISH\)/.test(e.message),
  );
});
