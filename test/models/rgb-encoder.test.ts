// The shipped RGB camera encoder runs in onnxruntime-web (WASM) through the SDK's preprocessing: manifest, checksum, goldens, int8 vs fp32.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-web';
import { validateManifest, type ModelManifest } from '../../src/runtime/manifest.js';
import { preprocessBatch, type RawPixels } from '../../src/runtime/preprocess.js';
import { cosine } from '../../src/runtime/selfcheck.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');
const ID = 'rgb-cam-vicreg';
const skip = existsSync(join(MODELS, `${ID}-int8.json`)) ? false : `no ${ID}-int8 shipped in models/`;

interface Golden {
  sha256: string;
  images: string;
  onnxruntimeNode: number[][];
  pytorchFp32: number[][];
}

const json = async <T>(f: string): Promise<T> => JSON.parse(await readFile(join(MODELS, f), 'utf8')) as T;

async function embed(m: ModelManifest, inputs: RawPixels[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(await readFile(join(MODELS, m.file)), {
    executionProviders: ['wasm'],
  });
  try {
    const x = preprocessBatch(inputs, m.input);
    const out = await session.run({
      [m.input.name]: new ort.Tensor('float32', x, [inputs.length, 3, m.input.height, m.input.width]),
    });
    const data = out[m.output.name]!.data as Float32Array;
    assert.equal(data.length, inputs.length * m.output.dim);
    return inputs.map((_, i) => data.slice(i * m.output.dim, (i + 1) * m.output.dim));
  } finally {
    await session.release();
  }
}

async function load(dtype: 'int8' | 'fp32'): Promise<{ m: ModelManifest; g: Golden; inputs: RawPixels[] }> {
  const m = validateManifest(await json(`${ID}-${dtype}.json`));
  const g = await json<Golden>(join('golden', `${ID}-${dtype}.json`));
  const px = new Uint8Array(await readFile(join(MODELS, 'golden', g.images)));
  const s = m.input.width * m.input.height * 3;
  assert.equal(px.length % s, 0, `${g.images} is not a whole number of ${m.input.width}² RGB images`);
  const inputs = Array.from(
    { length: px.length / s },
    (_, i): RawPixels => ({
      data: px.subarray(i * s, (i + 1) * s),
      width: m.input.width,
      height: m.input.height,
      channels: 3,
    }),
  );
  return { m, g, inputs };
}

test('RGB camera manifests: 3-channel input, dim 256, bytes and sha256 of the file, measured camera metrics', {
  skip,
}, async () => {
  for (const dtype of ['int8', 'fp32'] as const) {
    const { m, g } = await load(dtype);
    assert.equal(m.input.channels, 3);
    assert.deepEqual(m.input.shape, [null, 3, m.input.height, m.input.width]);
    assert.equal(m.input.mean.length, 3);
    assert.equal(m.output.dim, 256);
    assert.equal(m.dtype, dtype);
    const bytes = await readFile(join(MODELS, m.file));
    assert.equal(bytes.length, m.bytes);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), m.sha256);
    assert.equal(g.sha256, m.sha256, `golden of ${m.id} was made from another file; rerun models/pipeline/ship_rgb.py`);
    if (dtype === 'int8') assert.ok(m.bytes <= 5 * 1024 * 1024, `${m.file} is ${m.bytes} bytes (> 5 MB)`);
  }
});

test('RGB camera encoder reproduces its goldens on WASM (onnxruntime-node and PyTorch), int8 ≈ fp32', {
  skip,
}, async () => {
  const got: Record<string, Float32Array[]> = {};
  for (const dtype of ['int8', 'fp32'] as const) {
    const { m, g, inputs } = await load(dtype);
    const e = await embed(m, inputs);
    got[dtype] = e;
    e.forEach((v, i) => {
      const native = g.onnxruntimeNode[i]!;
      const maxDiff = Math.max(...native.map((x, j) => Math.abs(x - v[j]!)));
      const scale = Math.max(...native.map(Math.abs));
      assert.ok(maxDiff <= 1e-3 * scale + 1e-5, `${m.id} image ${i}: max |wasm - native| ${maxDiff} (scale ${scale})`);
      const c = cosine(v, g.pytorchFp32[i]!);
      assert.ok(c >= (dtype === 'int8' ? 0.99 : 0.99999), `${m.id} image ${i}: cosine to PyTorch ${c}`);
    });
  }
  const [a, b] = [got['int8']!, got['fp32']!];
  a.forEach((v, i) => assert.ok(cosine(v, b[i]!) >= 0.99, `image ${i}: int8/fp32 cosine ${cosine(v, b[i]!)}`));
  // A collapsed encoder would pass the agreement checks: different images must embed differently.
  assert.ok(cosine(b[0]!, b[1]!) < 0.999, 'two different images embed identically');
});
