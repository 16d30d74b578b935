// The CLI's TFLite writer in Node: the shipped int8 QDQ and fp32 encoders convert op for op like the Python-made twins, the file reads back through the runtime's bounds-checked reader; HardSigmoid honours ONNX's α/β; the reference MobileNetV3-small converts (fp32 and mixed int8/float); ops outside the set (the ViTs') are refused with a list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgetuneError } from '../../src/core/errors.js';
import { readOnnx } from '../../src/cli/onnx-proto.js';
import { convertToTflite } from '../../src/cli/tflite-convert.js';
import { inspectTflite } from '../../src/runtime/backends/tflite.js';
import { referenceDir, referenceUnavailable } from './reference.js';

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
  const edited = { ...model, nodes: model.nodes.map((n) => (n.op === 'MaxPool' ? { ...n, op: 'Erf' } : n)) };
  assert.throws(
    () => convertToTflite(edited),
    (e: unknown) =>
      e instanceof EdgetuneError && e.code === 'UNSUPPORTED_OP' && /Erf×2 \(none: no ERF builtin/.test(e.message),
  );
});

/** The fp32 fmnist encoder with its ReLUs replaced by `op` (with `attrs`). */
function withActivation(op: string, attrs: { name: string; f: number }[]): ReturnType<typeof readOnnx> {
  const model = readOnnx(read('fmnist-cnn-vicreg-fp32.onnx'));
  const a = attrs.map((x) => ({ ...x, raw: new Uint8Array() }));
  return { ...model, nodes: model.nodes.map((n) => (n.op === 'Relu' ? { ...n, op, attrs: a } : n)) };
}

/** Whether the file holds the float32 constant `x` (the lowering's scalars are one-value buffers). */
const holdsFloat = (bytes: Uint8Array, x: number): boolean =>
  Buffer.from(bytes).includes(Buffer.from(new Uint8Array(Float32Array.of(x).buffer)));

test('HardSigmoid lowers to RELU6-fused ADD and MUL, honouring α and β (ONNX defaults 0.2 and 0.5; PyTorch α = 1/6)', () => {
  const relus = readOnnx(read('fmnist-cnn-vicreg-fp32.onnx')).nodes.filter((n) => n.op === 'Relu').length;
  const ops = (b: Uint8Array): string[] => inspectTflite(b).operators.map((o) => o.op);
  const count = (xs: string[], x: string): number => xs.filter((y) => y === x).length;
  // ONNX defaults: 6α = 1.2 needs its own MUL, then ADD 6β = 3 (RELU6), MUL 1/6.
  const dflt = convertToTflite(withActivation('HardSigmoid', [])).bytes;
  assert.equal(count(ops(dflt), 'MUL'), 2 * relus);
  assert.equal(count(ops(dflt), 'ADD'), relus);
  assert.ok(holdsFloat(dflt, 1.2) && holdsFloat(dflt, 3) && holdsFloat(dflt, 1 / 6));
  // PyTorch's export: α = 1/6 (6α = 1: no scaling MUL), β left at its default.
  const torch = convertToTflite(withActivation('HardSigmoid', [{ name: 'alpha', f: Math.fround(1 / 6) }])).bytes;
  assert.equal(count(ops(torch), 'MUL'), relus);
  assert.ok(holdsFloat(torch, 3) && !holdsFloat(torch, 1.2));
  // Explicit α, β.
  const custom = convertToTflite(
    withActivation('HardSigmoid', [
      { name: 'alpha', f: 0.25 },
      { name: 'beta', f: 0.4 },
    ]),
  ).bytes;
  assert.ok(holdsFloat(custom, 1.5) && holdsFloat(custom, Math.fround(6 * Math.fround(0.4))));
  const hs = convertToTflite(withActivation('HardSwish', [])).bytes;
  assert.equal(count(ops(hs), 'HARD_SWISH'), relus);
});

const refSkip = referenceUnavailable();

test('MobileNetV3-small (fp32): HARD_SWISH, depthwise convs and squeeze-excitation MUL with broadcasting; output and size from the manifest', {
  skip: refSkip,
}, () => {
  const model = readOnnx(new Uint8Array(readFileSync(join(referenceDir(), 'mobilenetv3-small.onnx'))));
  // Two outputs and a dynamic H×W: both must be chosen.
  assert.throws(() => convertToTflite(model), /2 outputs \(last_hidden_state, pooler_output\); pick one/);
  assert.throws(
    () => convertToTflite(model, { output: 'pooler_output' }),
    /not NCHW with fixed C \(and H, W fixed or given\)/,
  );
  for (const [output, pooling] of [
    ['pooler_output', 'none'],
    ['last_hidden_state', 'mean'],
  ] as const) {
    const r = convertToTflite(model, { output, pooling, height: 224, width: 224 });
    assert.equal(r.dtype, 'fp32');
    assert.deepEqual(r.input, [1, 224, 224, 3]);
    assert.equal(r.outputDim, 576);
    const m = inspectTflite(r.bytes);
    const n = (op: string): number => m.operators.filter((o) => o.op === op).length;
    assert.equal(n('HARD_SWISH'), 18);
    assert.equal(n('DEPTHWISE_CONV_2D'), 11);
    // 9 squeeze-excitation MULs and 9 HardSigmoids (one MUL each: PyTorch's α = 1/6).
    assert.equal(n('MUL'), 18);
    // Squeeze-excitation: the [1, 1, 1, C] gate times the [1, H, W, C] map, broadcast by MUL itself.
    const se = m.operators.filter((o) => o.op === 'MUL' && o.inputs.every((i) => m.tensors[i]!.constantBytes === 0));
    assert.equal(se.length, 9);
    for (const o of se) {
      const [gate, map] = o.inputs.map((i) => m.tensors[i]!.shape);
      assert.deepEqual(gate!.slice(0, 3), [1, 1, 1]);
      assert.equal(gate![3], map![3]);
      assert.ok(map![1]! > 1, `map ${map}`);
    }
    assert.deepEqual(m.outputs[0]!.shape, [1, 576]);
    assert.equal(m.outputs[0]!.name, output);
  }
});

test('the ViTs are refused, the list naming LayerNormalization, Erf and MatMul', { skip: refSkip }, () => {
  const model = readOnnx(new Uint8Array(readFileSync(join(referenceDir(), 'vit-ti16.onnx'))));
  assert.throws(
    () => convertToTflite(model, { output: 'pooler_output' }),
    (e: unknown) =>
      e instanceof EdgetuneError &&
      e.code === 'UNSUPPORTED_OP' &&
      /LayerNormalization×\d+ \(none/.test(e.message) &&
      /Erf×12 \(none/.test(e.message) &&
      /MatMul×\d+ \(/.test(e.message),
  );
});
