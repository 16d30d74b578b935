// The CLI's own TFLite writer (src/cli/tflite-convert.ts) on the shipped int8 QDQ encoders, run through Encoder + the real tfjs-tflite in headless Chromium: embeddings agree with the int8 ONNX run in Node (cosine ≥ 0.999) and with the Python-made .tflite twins; the fp32 encoder like its fp32 ONNX; the reference MobileNetV3-small (HardSwish, HardSigmoid, squeeze-excitation Mul), fp32 and the CLI's int8, like their ONNX in onnxruntime-node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { hasChromium, launchChromium, pageResult, REPO_ROOT, serve, type TestServer } from './harness.js';
import { Encoder, cosine, type ModelManifest } from '../../src/runtime/index.js';
import { loadFmnistSample } from '../../scripts/lib/fmnist.js';
import { writeTflite } from '../../src/cli/tflite-ship.js';
import { ELEM, encodeNode, encodeTensor, readOnnx, tensorFloats, writeOnnx } from '../../src/cli/onnx-proto.js';
import { numbers } from '../../src/cli/tflite-graph.js';
import { sha256Hex } from '../../src/core/hash.js';
import { batchCosines } from '../../src/runtime/selfcheck.js';
import { nodeEmbeddings, photosUnavailable, preparedManifests, referenceUnavailable } from '../cli/reference.js';

const OUT = join(REPO_ROOT, 'build/tflite-writer-test');
const MODELS = ['fmnist-cnn-vicreg-int8', 'rgb-cam-vicreg-int8'] as const;
const FP32 = 'fmnist-cnn-vicreg-fp32';
/**
 * The fmnist int8 encoder with its first pooled map squared (x · x, quantized on both sides): TFLite's
 * int8 MUL kernel, and a following int8 Conv whose int32 bias the converter must requantize (its input
 * scale is no longer the one the bias was stored at).
 */
const SQUARED = 'fmnist-int8-squared';

/** Inserts Mul(x, x) with its own QuantizeLinear/DequantizeLinear after the first MaxPool's DequantizeLinear. */
function squaredVariant(bytes: Uint8Array): Uint8Array {
  const model = readOnnx(bytes);
  const pool = model.nodes.find((n) => n.op === 'MaxPool')!;
  const dq = model.nodes.find((n) => n.op === 'DequantizeLinear' && n.inputs[0] === `${pool.outputs[0]}_q`)!;
  const x = dq.outputs[0]!;
  const inits = new Map(model.initializers.map((t) => [t.name, t]));
  const s = tensorFloats(inits.get(dq.inputs[1]!)!)[0]!;
  const zt = inits.get(dq.inputs[2]!)!;
  const z = numbers(zt)[0]!;
  const [lo, hi] = zt.elemType === ELEM.INT8 ? [-128, 127] : [0, 255];
  // The squares of x's range, on a uint8 grid from 0.
  const top = (s * Math.max(Math.abs(lo - z), Math.abs(hi - z))) ** 2;
  const nodes: Uint8Array[] = [];
  for (const n of model.nodes) {
    const reads = n.op !== 'QuantizeLinear' && n.op !== 'DequantizeLinear' && n.inputs.includes(x);
    nodes.push(
      reads
        ? encodeNode({
            name: n.name,
            op: n.op,
            domain: n.domain,
            inputs: n.inputs.map((i) => (i === x ? 'sq_dq' : i)),
            outputs: n.outputs,
            attrs: n.attrs.map((a) => a.raw),
          })
        : n.raw!,
    );
    if (n === dq)
      nodes.push(
        encodeNode({ name: 'sq', op: 'Mul', inputs: [x, x], outputs: ['sq'] }),
        encodeNode({ name: 'sq_Q', op: 'QuantizeLinear', inputs: ['sq', 'sq_s', 'sq_z'], outputs: ['sq_q'] }),
        encodeNode({ name: 'sq_DQ', op: 'DequantizeLinear', inputs: ['sq_q', 'sq_s', 'sq_z'], outputs: ['sq_dq'] }),
      );
  }
  return writeOnnx(model, {
    nodes,
    initializers: [
      ...model.initializers.map((t) => t.raw!),
      encodeTensor('sq_s', [], ELEM.FLOAT, Float32Array.of(top / 255)),
      encodeTensor('sq_z', [], ELEM.UINT8, Uint8Array.of(0)),
    ],
  });
}
const N = 16;
const skip = hasChromium ? false : 'no /usr/bin/chromium (npm test installs it)';

interface Outcome {
  url: string;
  backend?: string;
  embeddings?: number[][];
  error?: { code: string; message: string };
}

describe('TFLite written by the CLI, in real Chromium (tfjs-tflite)', { skip }, () => {
  let server: TestServer;
  let results: Outcome[] = [];
  let images: { data: Uint8Array; width: number; height: number; channels: 1 }[] = [];

  before(async () => {
    mkdirSync(OUT, { recursive: true });
    const sample = await loadFmnistSample();
    const raw = new Uint8Array(N * 784);
    const step = Math.floor(sample.count / N);
    for (let k = 0; k < N; k++) raw.set(sample.images.subarray(k * step * 784, (k * step + 1) * 784), k * 784);
    writeFileSync(join(OUT, 'images.u8'), raw);
    images = Array.from({ length: N }, (_, k) => ({
      data: raw.subarray(k * 784, (k + 1) * 784),
      width: 28,
      height: 28,
      channels: 1 as const,
    }));
    for (const id of [...MODELS, FP32]) {
      for (const ext of ['json', 'onnx'])
        writeFileSync(join(OUT, `${id}.${ext}`), readFileSync(join(REPO_ROOT, 'models', `${id}.${ext}`)));
      await writeTflite(join(OUT, `${id}.json`));
    }
    const sq = squaredVariant(new Uint8Array(readFileSync(join(OUT, `${MODELS[0]}.onnx`))));
    const base = JSON.parse(readFileSync(join(OUT, `${MODELS[0]}.json`), 'utf8')) as ModelManifest;
    writeFileSync(join(OUT, `${SQUARED}.onnx`), sq);
    writeFileSync(
      join(OUT, `${SQUARED}.json`),
      JSON.stringify({
        ...base,
        id: SQUARED,
        file: `${SQUARED}.onnx`,
        bytes: sq.byteLength,
        sha256: await sha256Hex(sq),
      }),
    );
    const w = await writeTflite(join(OUT, `${SQUARED}.json`));
    assert.ok(w.ops.includes('MUL/v2') || w.ops.includes('MUL/v3'), w.ops.join());
    server = await serve();
    const chrome = await launchChromium();
    try {
      const models = [
        ...[...MODELS, FP32, SQUARED].map((id) => `/build/tflite-writer-test/${id}-tflite.json`),
        ...MODELS.map((id) => `/models/${id}-tflite.json`),
      ].join(',');
      const page = await chrome.open(
        server.pageUrl('test/browser/pages/tflite.ts', { images: '/build/tflite-writer-test/images.u8', models }),
      );
      results = (await pageResult<{ results: Outcome[] }>(page, 180_000)).results;
    } finally {
      await chrome.close();
    }
  });
  after(async () => {
    await server?.close();
  });

  for (const id of MODELS) {
    test(`${id}: the CLI's .tflite embeds like the int8 ONNX (cosine ≥ 0.999) and like the Python-made twin`, async (t) => {
      const ours = results.find((r) => r.url.endsWith(`/tflite-writer-test/${id}-tflite.json`))!;
      const twin = results.find((r) => r.url.endsWith(`/models/${id}-tflite.json`));
      assert.equal(ours.error, undefined, JSON.stringify(ours.error));
      assert.equal(ours.backend, 'tfjs-tflite/wasm');
      const manifest = JSON.parse(readFileSync(join(OUT, `${id}.json`), 'utf8')) as ModelManifest;
      await using enc = await Encoder.open(
        { manifest, bytes: new Uint8Array(readFileSync(join(OUT, `${id}.onnx`))) },
        { device: 'wasm', normalize: false },
      );
      const onnx = await enc.embed(images);
      const cs = ours.embeddings!.map((e, k) => cosine(e, onnx[k]!));
      const min = Math.min(...cs);
      assert.equal(twin?.error, undefined, JSON.stringify(twin?.error));
      const vsTwin = Math.min(...ours.embeddings!.map((e, k) => cosine(e, twin!.embeddings![k]!)));
      t.diagnostic(
        `${id}: CLI .tflite (Chromium) vs int8 ONNX (Node) over ${N} images: min ${min.toFixed(6)}; vs the Python twin: min ${vsTwin.toFixed(6)}`,
      );
      assert.ok(min >= 0.999, `min cosine ${min}`);
      assert.ok(vsTwin >= 0.99, `vs the Python twin: min cosine ${vsTwin}`);
    });
  }

  test(`${SQUARED}: int8 MUL (both inputs and the output quantized) embeds like the edited int8 ONNX (cosine ≥ 0.999)`, async (t) => {
    const ours = results.find((r) => r.url.endsWith(`/tflite-writer-test/${SQUARED}-tflite.json`))!;
    assert.equal(ours.error, undefined, JSON.stringify(ours.error));
    const manifest = JSON.parse(readFileSync(join(OUT, `${SQUARED}.json`), 'utf8')) as ModelManifest;
    await using enc = await Encoder.open(
      { manifest, bytes: new Uint8Array(readFileSync(join(OUT, `${SQUARED}.onnx`))) },
      { device: 'wasm', normalize: false },
    );
    const onnx = await enc.embed(images);
    const min = Math.min(...ours.embeddings!.map((e, k) => cosine(e, onnx[k]!)));
    t.diagnostic(
      `${SQUARED}: CLI .tflite with int8 MUL (Chromium) vs its int8 ONNX (Node) over ${N} images: min ${min.toFixed(6)}`,
    );
    assert.ok(min >= 0.999, `min cosine ${min}`);
  });

  test(`${FP32}: the CLI's fp32 .tflite embeds like the fp32 ONNX (cosine ≥ 0.999)`, async (t) => {
    const ours = results.find((r) => r.url.endsWith(`/tflite-writer-test/${FP32}-tflite.json`))!;
    assert.equal(ours.error, undefined, JSON.stringify(ours.error));
    const manifest = JSON.parse(readFileSync(join(OUT, `${FP32}.json`), 'utf8')) as ModelManifest;
    await using enc = await Encoder.open(
      { manifest, bytes: new Uint8Array(readFileSync(join(OUT, `${FP32}.onnx`))) },
      { device: 'wasm', normalize: false },
    );
    const onnx = await enc.embed(images);
    const min = Math.min(...ours.embeddings!.map((e, k) => cosine(e, onnx[k]!)));
    t.diagnostic(`${FP32}: CLI fp32 .tflite (Chromium) vs fp32 ONNX (Node) over ${N} images: min ${min.toFixed(6)}`);
    assert.ok(min >= 0.999, `min cosine ${min}`);
  });
});

const mnSkip = skip || referenceUnavailable() || photosUnavailable() || false;
/** Frames per model: MobileNetV3-small is ~50 ms a frame in tfjs-tflite, the comparison needs only a few. */
const FRAMES = 4;

describe('MobileNetV3-small converted by the CLI, in real Chromium (tfjs-tflite)', { skip: mnSkip }, () => {
  let server: TestServer;
  const got = new Map<string, Outcome>();
  const manifests = { fp32: '', int8: '' };

  before(async () => {
    const m = await preparedManifests('mobilenetv3-small', 'tflite-writer');
    manifests.fp32 = m.fp32;
    manifests.int8 = m.int8;
    const written = [await writeTflite(m.fp32), await writeTflite(m.int8)];
    server = await serve();
    const chrome = await launchChromium();
    try {
      const page = await chrome.open(
        server.pageUrl('test/browser/pages/tflite.ts', {
          frames: String(FRAMES),
          models: written.map((w) => `/${relative(REPO_ROOT, w.manifest)}`).join(','),
        }),
      );
      for (const r of (await pageResult<{ results: Outcome[] }>(page, 180_000)).results) got.set(r.url, r);
    } finally {
      await chrome.close();
    }
  });
  after(async () => {
    await server?.close();
  });

  const embeddingsOf = (manifest: string): Float32Array => {
    const r = got.get(`/${relative(REPO_ROOT, manifest.replace(/\.json$/, '-tflite.json'))}`);
    assert.ok(r, `no result for ${manifest}: ${[...got.keys()].join(', ')}`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.backend, 'tfjs-tflite/wasm');
    return Float32Array.from(r.embeddings!.flat());
  };

  test('fp32: the .tflite embeds like the fp32 ONNX in onnxruntime-node (cosine ≥ 0.9999)', async (t) => {
    const tfl = embeddingsOf(manifests.fp32);
    const min = Math.min(...batchCosines(tfl, await nodeEmbeddings(manifests.fp32, FRAMES), 576));
    t.diagnostic(
      `mobilenetv3-small fp32 .tflite (Chromium) vs fp32 ONNX (onnxruntime-node), ${FRAMES} frames: min ${min.toFixed(6)}`,
    );
    assert.ok(min >= 0.9999, `min cosine ${min}`);
  });

  test("int8: the CLI's int8 .tflite embeds like the int8 ONNX (≥ 0.99) and like fp32 (≥ 0.99)", async (t) => {
    const tfl = embeddingsOf(manifests.int8);
    const vsInt8 = Math.min(...batchCosines(tfl, await nodeEmbeddings(manifests.int8, FRAMES), 576));
    const vsFp32 = Math.min(...batchCosines(tfl, await nodeEmbeddings(manifests.fp32, FRAMES), 576));
    t.diagnostic(
      `mobilenetv3-small int8 .tflite (Chromium) over ${FRAMES} frames: vs int8 ONNX min ${vsInt8.toFixed(6)}, vs fp32 ONNX min ${vsFp32.toFixed(6)}`,
    );
    assert.ok(vsInt8 >= 0.99, `vs int8 ONNX: min cosine ${vsInt8}`);
    assert.ok(vsFp32 >= 0.99, `vs fp32 ONNX: min cosine ${vsFp32}`);
  });
});
