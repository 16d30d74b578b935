// Embeds Fashion-MNIST (train 60k then test 10k, or the checked-in sample) with an ONNX encoder and writes raw float32 rows for eval.py.
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { loadFmnistSample } from '../../scripts/lib/fmnist.js';

const MEAN = 0.286;
const STD = 0.353;

function idxImages(path: string): Uint8Array {
  const raw = gunzipSync(readFileSync(path));
  return new Uint8Array(raw.buffer, raw.byteOffset + 16, raw.length - 16);
}

async function main(): Promise<void> {
  const [model, out, runtime = 'node', sampleCount] = process.argv.slice(2);
  if (!model || !out) throw new Error('usage: embed_onnx.ts MODEL.onnx OUT.f32 [node|web] [N: first N images of the checked-in sample instead]');
  const dir = '/usr/share/datasets/fashion-mnist';
  const pix = sampleCount
    ? [(await loadFmnistSample()).images.subarray(0, Number(sampleCount) * 784)]
    : [idxImages(`${dir}/train-images-idx3-ubyte.gz`), idxImages(`${dir}/t10k-images-idx3-ubyte.gz`)];
  const total = pix.reduce((a, p) => a + p.length / 784, 0);
  const ort = runtime === 'web' ? ortWeb : ortNode;
  const session = await ort.InferenceSession.create(readFileSync(model), runtime === 'node' ? { intraOpNumThreads: 1 } : {});
  let dim = 0;
  let result = new Float32Array(0);
  let row = 0;
  const batch = 500;
  for (const p of pix) {
    for (let s = 0; s < p.length / 784; s += batch) {
      const n = Math.min(batch, p.length / 784 - s);
      const x = new Float32Array(n * 784);
      for (let i = 0; i < x.length; i++) x[i] = (p[s * 784 + i]! / 255 - MEAN) / STD;
      const o = await session.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
      const e = o['embedding']!.data as Float32Array;
      if (!dim) {
        dim = e.length / n;
        result = new Float32Array(total * dim);
      }
      result.set(e, row * dim);
      row += n;
    }
  }
  writeFileSync(out, result);
  console.log(JSON.stringify({ model, out, rows: row, dim, runtime }));
}

// models/ is its own package (models/package.json, no "type": "module"), so tsx loads this file as CommonJS: no top-level await.
main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
