// Sparse TFLite constants through the real tfjs-tflite in headless Chromium: a FULLY_CONNECTED whose weight is stored sparse (CSR, and 1×4 blocks) and densified by DENSIFY embeds exactly like the same weight stored dense — the runtime reads the sparsity the CLI's writer and inspectTflite agree on.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  leBytes,
  serializeTflite,
  TFL_TYPE,
  type TflOperator,
  type TflSparsity,
  type TflTensor,
} from '../../src/cli/tflite-write.js';
import { inspectTflite } from '../../src/runtime/index.js';
import { hasChromium, launchChromium, pageResult, REPO_ROOT, serve, type TestServer } from './harness.js';

const OUT = join(REPO_ROOT, 'build/tflite-sparse-test');
const IN = 4 * 4 * 3;
const DIM = 8;
const skip = (!hasChromium && 'no /usr/bin/chromium (npm test installs it)') || false;

/** A seeded [DIM, IN] weight with about two thirds of its 1×4 blocks zero (so CSR and block storage both skip). */
function weight(): Float32Array {
  let s = 12345;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const w = new Float32Array(DIM * IN);
  for (let o = 0; o < DIM; o++)
    for (let b = 0; b < IN / 4; b++) if (r() > 0.35) for (let k = 0; k < 4; k++) w[o * IN + b * 4 + k] = r();
  return w;
}

/** CSR over columns: per row, the non-zero columns; values in row order. */
function csr(w: Float32Array): { sparsity: TflSparsity; values: Float32Array } {
  const segments = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (let o = 0; o < DIM; o++) {
    for (let i = 0; i < IN; i++) if (w[o * IN + i] !== 0) indices.push(i), values.push(w[o * IN + i]!);
    segments.push(indices.length);
  }
  return {
    sparsity: {
      traversalOrder: [0, 1],
      levels: [
        { format: 'DENSE', size: DIM },
        { format: 'SPARSE_CSR', segments, indices },
      ],
    },
    values: Float32Array.from(values),
  };
}

/** 1×4 blocks over columns (block map [1]), uint8 block indices, each kept block dense. */
function blocks(w: Float32Array): { sparsity: TflSparsity; values: Float32Array } {
  const segments = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (let o = 0; o < DIM; o++) {
    for (let b = 0; b < IN / 4; b++) {
      const blk = w.subarray(o * IN + b * 4, o * IN + b * 4 + 4);
      if (blk.some((x) => x !== 0)) indices.push(b), values.push(...blk);
    }
    segments.push(indices.length);
  }
  return {
    sparsity: {
      traversalOrder: [0, 1, 2],
      blockMap: [1],
      levels: [
        { format: 'DENSE', size: DIM },
        { format: 'SPARSE_CSR', segments, indices, indexType: 'uint8' },
        { format: 'DENSE', size: 4 },
      ],
    },
    values: Float32Array.from(values),
  };
}

/** input [1,4,4,3] → FULLY_CONNECTED(weight, bias) → [1, DIM]; a sparse weight goes through DENSIFY first. */
function model(w: Float32Array, sparse?: { sparsity: TflSparsity; values: Float32Array }): Uint8Array {
  const bias = Float32Array.from({ length: DIM }, (_, k) => 0.01 * k);
  const tensors: TflTensor[] = [
    { name: 'input', shape: [1, 4, 4, 3], type: TFL_TYPE.FLOAT32 },
    sparse
      ? {
          name: 'w_sparse',
          shape: [DIM, IN],
          type: TFL_TYPE.FLOAT32,
          data: leBytes(sparse.values),
          sparsity: sparse.sparsity,
        }
      : { name: 'w', shape: [DIM, IN], type: TFL_TYPE.FLOAT32, data: leBytes(w) },
    { name: 'bias', shape: [DIM], type: TFL_TYPE.FLOAT32, data: leBytes(bias) },
    { name: 'embedding', shape: [1, DIM], type: TFL_TYPE.FLOAT32 },
  ];
  const operators: TflOperator[] = [];
  let wIndex = 1;
  if (sparse) {
    tensors.push({ name: 'w', shape: [DIM, IN], type: TFL_TYPE.FLOAT32 });
    wIndex = tensors.length - 1;
    operators.push({ op: 'DENSIFY', version: 1, inputs: [1], outputs: [wIndex] });
  }
  operators.push({ op: 'FULLY_CONNECTED', version: 1, inputs: [0, wIndex, 2], outputs: [3] });
  return serializeTflite({ tensors, operators, inputs: [0], outputs: [3] }, 'sparse test');
}

function writeModel(id: string, bytes: Uint8Array): string {
  const manifest = {
    schema: 'edgetune.manifest/1',
    id,
    format: 'tflite',
    file: `${id}.tflite`,
    bytes: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    input: {
      name: 'input',
      shape: [1, 4, 4, 3],
      layout: 'NHWC',
      channels: 3,
      height: 4,
      width: 4,
      range: [0, 1],
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
    },
    output: { name: 'embedding', dim: DIM, normalized: false },
    dtype: 'fp32',
    quantization: 'none',
    license: 'MIT',
  };
  writeFileSync(join(OUT, `${id}.tflite`), bytes);
  writeFileSync(join(OUT, `${id}.json`), `${JSON.stringify(manifest, null, 2)}\n`);
  return `/${relative(REPO_ROOT, join(OUT, `${id}.json`))}`;
}

describe('sparse TFLite constants in real Chromium (tfjs-tflite)', { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await serve({ port: 0 });
  });
  after(async () => {
    await server?.close();
  });

  test('a DENSIFY-ed sparse weight (CSR; 1×4 blocks) embeds exactly like the dense weight', {
    timeout: 300_000,
  }, async () => {
    mkdirSync(OUT, { recursive: true });
    const w = weight();
    const c = csr(w);
    const b = blocks(w);
    assert.ok(c.values.length < w.length / 2 && b.values.length < w.length / 2, 'the weight is mostly zeros');
    const files = { dense: model(w), csr: model(w, c), blocks: model(w, b) };
    assert.equal(inspectTflite(files.csr).tensors[1]!.sparsity!.values, c.values.length);
    assert.equal(inspectTflite(files.blocks).tensors[1]!.sparsity!.values, b.values.length);
    const urls = Object.entries(files).map(([id, bytes]) => writeModel(`sparse-${id}`, bytes));
    const chrome = await launchChromium();
    let out: {
      results: { url: string; backend?: string; embeddings?: number[][]; error?: { code: string; message: string } }[];
    };
    try {
      const page = await chrome.open(
        server.pageUrl('test/browser/pages/tflite.ts', { models: urls.join(','), frames: '3' }),
      );
      out = await pageResult(page, 180_000);
    } finally {
      await chrome.close();
    }
    const [dense, ...sparse] = out.results;
    for (const r of out.results) {
      assert.equal(r.error, undefined, `${r.url}: ${JSON.stringify(r.error)}`);
      assert.equal(r.backend, 'tfjs-tflite/wasm');
    }
    const flat = (r: (typeof out.results)[number]) => r.embeddings!.flat();
    assert.equal(flat(dense!).length, 3 * DIM);
    assert.ok(
      flat(dense!).some((x) => Math.abs(x) > 0.1),
      'the dense model computes something',
    );
    for (const r of sparse) {
      const diff = Math.max(...flat(r).map((x, k) => Math.abs(x - flat(dense!)[k]!)));
      assert.ok(diff < 1e-5, `${r.url}: max difference to the dense weight ${diff}`);
    }
  });
});
