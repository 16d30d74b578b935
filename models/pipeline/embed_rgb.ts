// Embeds raw RGB images (N×S×S×3 bytes) with an ONNX encoder through the SDK's own preprocessing, for goldens and checks.
import { readFileSync, writeFileSync } from 'node:fs';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import type { InputSpec } from '../../src/runtime/manifest.js';
import { preprocessBatch, type RawPixels } from '../../src/runtime/preprocess.js';

async function main(): Promise<void> {
  const [model, manifestPath, images, out, runtime = 'node'] = process.argv.slice(2);
  if (!model || !manifestPath || !images || !out) throw new Error('usage: embed_rgb.ts MODEL.onnx MANIFEST.json IMAGES.u8 OUT.f32 [node|web]');
  const spec = (JSON.parse(readFileSync(manifestPath, 'utf8')) as { input: InputSpec }).input;
  const px = new Uint8Array(readFileSync(images));
  const s = spec.width * spec.height * 3;
  const n = px.length / s;
  const inputs: RawPixels[] = Array.from({ length: n }, (_, i) => ({ data: px.subarray(i * s, (i + 1) * s), width: spec.width, height: spec.height, channels: 3 }));
  const ort = runtime === 'web' ? ortWeb : ortNode;
  const session = await ort.InferenceSession.create(readFileSync(model), runtime === 'node' ? { intraOpNumThreads: 1 } : {});
  const x = preprocessBatch(inputs, spec);
  const o = await session.run({ [spec.name]: new ort.Tensor('float32', x, [n, spec.channels, spec.height, spec.width]) });
  const e = o['embedding']!.data as Float32Array;
  writeFileSync(out, e);
  console.log(JSON.stringify({ model, rows: n, dim: e.length / n, runtime }));
}

// models/ is its own package (models/package.json, no "type": "module"), so tsx loads this file as CommonJS: no top-level await.
main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
