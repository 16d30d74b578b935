// The shipped ONNX encoders run in onnxruntime-web (WASM) in Node: int8 agrees with fp32, and both reproduce the checked-in goldens.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as ort from 'onnxruntime-web';
import { cosine } from '../../src/runtime/selfcheck.js';
import { loadFmnistSample, type FmnistSample } from '../../scripts/lib/fmnist.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');

interface Manifest {
  id: string;
  file: string;
  dtype: string;
  sha256: string;
  input: { mean: number[]; std: number[]; range: [number, number] };
  output: { dim: number };
}
interface Golden {
  sha256: string;
  onnxruntimeNode: number[][];
  pytorchFp32: number[][];
}

const json = async <T>(file: string): Promise<T> => JSON.parse(await readFile(join(MODELS, file), 'utf8')) as T;

async function embed(m: Manifest, sample: FmnistSample, n: number): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(await readFile(join(MODELS, m.file)), {
    executionProviders: ['wasm'],
  });
  try {
    const [lo, hi] = m.input.range;
    const x = new Float32Array(n * 784);
    for (let i = 0; i < x.length; i++)
      x[i] = ((sample.images[i]! / 255) * (hi - lo) + lo - m.input.mean[0]!) / m.input.std[0]!;
    const out = await session.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
    const data = out['embedding']!.data as Float32Array;
    assert.equal(data.length, n * m.output.dim);
    return Array.from({ length: n }, (_, i) => data.slice(i * m.output.dim, (i + 1) * m.output.dim));
  } finally {
    await session.release();
  }
}

let sample: FmnistSample;
let manifests: Manifest[];
let defaultId: string;

before(async () => {
  sample = await loadFmnistSample();
  const index = await json<{ default: string; models: string[] }>('index.json');
  defaultId = index.default;
  manifests = [];
  for (const f of index.models) {
    const m = await json<Manifest & { format: string; input: { channels: number } }>(f);
    // The RGB camera encoders have their own goldens and test (rgb-encoder.test.ts); this one feeds 28×28 grey.
    if (m.format === 'onnx' && m.input.channels === 1) manifests.push(m);
  }
});

test('default encoder: int8 vs fp32 on 64 sample images, mean cosine >= 0.99', async () => {
  const int8 = manifests.find((m) => m.id === defaultId)!;
  const fp32 = manifests.find((m) => m.id === defaultId.replace(/-int8$/, '-fp32'));
  assert.ok(fp32, `no fp32 twin of ${defaultId} in index.json`);
  const [a, b] = [await embed(int8, sample, 64), await embed(fp32, sample, 64)];
  const cos = a.map((e, i) => cosine(e, b[i]!));
  const mean = cos.reduce((s, c) => s + c, 0) / cos.length;
  assert.ok(mean >= 0.99, `mean int8/fp32 cosine ${mean}`);
  assert.ok(Math.min(...cos) >= 0.95, `worst int8/fp32 cosine ${Math.min(...cos)}`);
  // Different images must give different embeddings (a collapsed encoder would pass the cosine check).
  assert.ok(cosine(b[0]!, b[1]!) < 0.999, 'embeddings of two different images are identical');
});

test('every shipped ONNX reproduces its golden embeddings (onnxruntime-node and PyTorch)', async () => {
  for (const m of manifests) {
    const golden = await json<Golden>(join('golden', `${m.id}.json`));
    assert.equal(
      golden.sha256,
      m.sha256,
      `golden of ${m.id} was made from another file; rerun models/pipeline/ship.py`,
    );
    const got = await embed(m, sample, golden.onnxruntimeNode.length);
    got.forEach((e, i) => {
      const native = golden.onnxruntimeNode[i]!;
      // Same file, same kernels on WASM and native: agreement to float rounding.
      const maxDiff = Math.max(...native.map((v, j) => Math.abs(v - e[j]!)));
      const scale = Math.max(...native.map(Math.abs));
      assert.ok(maxDiff <= 1e-3 * scale + 1e-5, `${m.id} image ${i}: max |wasm - native| ${maxDiff} (scale ${scale})`);
      const torchCos = cosine(e, golden.pytorchFp32[i]!);
      assert.ok(torchCos >= (m.dtype === 'int8' ? 0.99 : 0.99999), `${m.id} image ${i}: cosine to PyTorch ${torchCos}`);
    });
  }
});
